// Runtime: one GPUDevice, its buffer pool, the command queue that batches many dispatches per
// submit, uniform slots, explicit readback, error scopes that name the kernel, device-loss
// reporting, optional timestamp profiling and the autograd tape. Host-agnostic: it receives a
// GPUDevice and the shader sources; adapter discovery lives in src/node and src/browser.

import { BYTES, type DType, type HostArray, f16ToF32Array, f32ToF16Array, numel, shapeStr } from './dtype.js';
import { KernelFamily, type Variant } from './kernel.js';
import { BufferPool, sizeClass } from './pool.js';
import { Storage, Tensor, TensorScopes, tensorsIn, untrack } from './tensor.js';
import type { Tape } from './autograd.js';

/** What we know about the adapter (printed by `robotseg info`). */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Vulkan / Metal / D3D12 / browser … as far as the host can tell. */
  backend: string;
  isFallbackAdapter: boolean;
  /** A CPU implementation (lavapipe, SwiftShader, WARP): selects software-friendly kernel variants. */
  software: boolean;
  /** Driver ICD file or other origin note (Node only). */
  source?: string;
  /** Set when the host forced the kernel variants (Node: ROBOTSEG_KERNELS); `software` then follows it. */
  kernelsForced?: 'hardware' | 'software';
}

interface DispatchCmd {
  kind: 'dispatch';
  variant: Variant;
  label: string;
  entries: Array<{ binding: number; tensor: Tensor; offset: number; size: number }>;
  uniform: Uint8Array | null;
  uniformBinding: number;
  groups: [number, number, number];
}
interface CopyCmd {
  kind: 'copy';
  src: Tensor;
  dst: Tensor;
  bytes: number;
  srcOffset: number;
  dstOffset: number;
  label: string;
}
interface ClearCmd {
  kind: 'clear';
  dst: Tensor;
  label: string;
}
type Cmd = DispatchCmd | CopyCmd | ClearCmd;

/** Work counters of a Runtime (see Runtime.counters). */
export interface RuntimeCounters {
  dispatches: number;
  submits: number;
  uploads: number;
  readbacks: number;
}

export interface RuntimeOptions {
  device: GPUDevice;
  adapter: AdapterDescription;
  /** Shader sources keyed by path under shaders/ without extension ('matmul', 'common/index'). */
  shaders: Record<string, string>;
  /** Submit after this many queued commands (onnxruntime flushes at 16, ggml at 64). */
  flushEvery?: number;
  /**
   * Largest storage binding the engine may use, at most the device's maxStorageBufferBindingSize
   * (tests lower it to run the tiled kernel paths on small images).
   */
  maxBindingBytes?: number;
  /**
   * Compile pipelines with createComputePipelineAsync (default true): dispatches are queued at once
   * and a batch is encoded when its pipelines are ready, so the host keeps building the graph while
   * the variants it needs compile (in parallel where the implementation does so). false: the
   * blocking createComputePipeline.
   */
  asyncCompile?: boolean;
}

/** Progress of pipeline compilation: `done` of `total` variants requested so far are ready. */
export type CompileProgress = (done: number, total: number) => void;

/** Bind groups kept for reuse (a tracked video frame binds a few hundred distinct ranges). */
const BIND_GROUP_CACHE = 4096;
/** Readback staging buffers kept for reuse, and the largest size kept. */
const STAGING_KEEP = 8;
const STAGING_KEEP_BYTES = 16 * 2 ** 20;
const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x8; /* COPY_DST */
const MAP_READ_USAGE = 0x1 /* MAP_READ */ | 0x8; /* COPY_DST */
const QUERY_USAGE = 0x200 /* QUERY_RESOLVE */ | 0x4; /* COPY_SRC */

export class Runtime {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly shaders: Record<string, string>;
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  readonly pool: BufferPool;
  /**
   * Largest storage binding in bytes: the device's maxStorageBufferBindingSize or the lower
   * RuntimeOptions.maxBindingBytes. Every binding is checked against it; tiled kernels (resize bands,
   * Canny, guided filter) size their tiles by it.
   */
  maxBinding: number;
  /** Defines every shader sees: F16, SUBGROUPS, SOFTWARE (1/0). */
  readonly builtinDefines: Record<string, number>;
  private tape_: Tape | null = null;
  /** Scopes, tape pins and deferred disposals of this runtime's tensors (see tensor.ts). */
  readonly tensors = new TensorScopes();

  private queue: Cmd[] = [];
  private families = new Map<string, KernelFamily>();
  private flushEvery: number;
  private uniformArena: GPUBuffer | null = null;
  private pendingErrors: Promise<string | null>[] = [];
  private lostInfo: string | null = null;
  private compileDepth = 0;
  /** Timestamp profiling state (bench): GPU nanoseconds of compute passes since `profileStart`. */
  private profiling: { querySet: GPUQuerySet; resolve: GPUBuffer; reads: Promise<number>[] } | null = null;
  /** Pipelines are compiled asynchronously (RuntimeOptions.asyncCompile). */
  readonly asyncCompile: boolean;
  /** Called whenever a pipeline compilation finishes (the CLI prints "compiling kernels n/N"). */
  onCompileProgress: CompileProgress | null = null;
  /** Pipeline variants requested / compiled so far. */
  compileTotal = 0;
  compileDone = 0;
  /** Batches (and writes) waiting for their pipelines, in program order. */
  private deferred = 0;
  private chain: Promise<void> = Promise.resolve();
  private deferredError: Error | null = null;
  /** Bind groups by layout and bound ranges (a steady stream binds the same pool buffers every frame). */
  private bindGroups = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  /** MAP_READ staging buffers kept for the next readbacks (size-rounded). */
  private staging: GPUBuffer[] = [];
  /** Number of submits so far (tests check batching; Runtime.write and read each flush the queue). */
  submits = 0;
  /** Number of compute dispatches queued so far. */
  dispatches = 0;
  /** Number of host-to-tensor writes (upload / write) so far; uniform arenas are not counted. */
  uploads = 0;
  /** Number of tensor readbacks (read) so far. */
  readbacks = 0;
  /** Tensors built once per runtime (rt.constant), by key. */
  private constants = new Map<string, Tensor>();

  constructor(opts: RuntimeOptions) {
    this.device = opts.device;
    this.adapter = opts.adapter;
    this.shaders = opts.shaders;
    this.limits = opts.device.limits;
    this.features = new Set([...opts.device.features] as string[]);
    this.flushEvery = opts.flushEvery ?? 64;
    this.asyncCompile = opts.asyncCompile ?? true;
    this.maxBinding = Math.min(Number(this.limits.maxStorageBufferBindingSize), opts.maxBindingBytes ?? Infinity);
    this.pool = new BufferPool(this.device, Number(this.limits.maxBufferSize));
    this.builtinDefines = {
      F16: this.features.has('shader-f16') ? 1 : 0,
      SUBGROUPS: this.features.has('subgroups') ? 1 : 0,
      SOFTWARE: opts.adapter.software ? 1 : 0,
    };
    this.device.lost.then((info) => {
      this.lostInfo = `GPU device lost (${info.reason}): ${info.message || 'no message'}`;
    });
  }

  /** Autograd tape; ops (and tensor views) record onto it while it is set (see autograd.ts). */
  get tape(): Tape | null {
    return this.tape_;
  }
  set tape(t: Tape | null) {
    this.tensors.viewTape = t;
    this.tape_ = t;
  }

  get hasF16(): boolean {
    return this.builtinDefines.F16 === 1;
  }
  get hasSubgroups(): boolean {
    return this.builtinDefines.SUBGROUPS === 1;
  }
  get hasTimestamps(): boolean {
    return this.features.has('timestamp-query');
  }
  get isLost(): boolean {
    return this.lostInfo !== null;
  }

  private checkAlive(): void {
    if (this.lostInfo) throw new Error(this.lostInfo);
  }

  /** The four counters (dispatches, submits, uploads, readbacks) at this moment: bench rows report their differences. */
  counters(): RuntimeCounters {
    return { dispatches: this.dispatches, submits: this.submits, uploads: this.uploads, readbacks: this.readbacks };
  }

  /**
   * A tensor built once per runtime and kept for its lifetime (position encodings, mean / std, RoPE
   * and disk tables): `build` runs in its own scope the first time `key` is asked for; the result
   * belongs to no scope and callers never dispose it. The key must name everything the value depends on.
   */
  constant(key: string, build: () => Tensor): Tensor {
    let t = this.constants.get(key);
    if (!t || t.isDisposed) {
      t = untrack(this.scope(build));
      this.constants.set(key, t);
    }
    return t;
  }

  kernel(name: string): KernelFamily {
    let k = this.families.get(name);
    if (!k) this.families.set(name, (k = new KernelFamily(this, name)));
    return k;
  }

  // ---------------------------------------------------------------- scopes
  /** Run fn; dispose every tensor it created except those in its result (see tensor.ts). */
  scope<T>(fn: () => T): T {
    this.tensors.push();
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.tensors.pop([]);
      throw e;
    }
    this.tensors.pop(tensorsIn(result));
    return result;
  }

  async scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
    this.tensors.push();
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      this.tensors.pop([]);
      throw e;
    }
    this.tensors.pop(tensorsIn(result));
    return result;
  }

  // ---------------------------------------------------------------- tensors
  /** Uninitialised tensor from the pool. */
  empty(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    this.checkAlive();
    if (dtype === 'f16' && !this.hasF16)
      throw new Error(`${label}: f16 tensors need the 'shader-f16' feature, which this adapter lacks`);
    const bytes = numel(shape) * BYTES[dtype];
    const buf = this.pool.acquire(bytes, label);
    return new Tensor(new Storage(buf, buf.size, this.pool, this.tensors), shape, dtype, 0, label);
  }

  /** Zero-filled tensor (clearBuffer, queued in order with dispatches). */
  zeros(shape: readonly number[], dtype: DType = 'f32', label = 'zeros'): Tensor {
    const t = this.empty(shape, dtype, label);
    this.enqueue({ kind: 'clear', dst: t, label });
    return t;
  }

  /** Upload host data. f32 data for an f16 tensor is converted on the host. */
  upload(
    data: ArrayLike<number> | HostArray,
    shape: readonly number[],
    dtype: DType = 'f32',
    label = 'upload',
  ): Tensor {
    const n = numel(shape);
    if (data.length !== n)
      throw new Error(`${label}: ${data.length} values for shape ${shapeStr(shape)} (${n} elements)`);
    const t = this.empty(shape, dtype, label);
    this.write(t, data);
    return t;
  }

  /** Overwrite a tensor's contents from the host (ordered after all queued work). */
  write(t: Tensor, data: ArrayLike<number> | HostArray): void {
    if (data.length !== t.size) throw new Error(`${t.label}: write of ${data.length} values into ${t.size} elements`);
    let host: HostArray;
    switch (t.dtype) {
      case 'f32':
        host = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
        break;
      case 'f16':
        host = data instanceof Uint16Array ? data : f32ToF16Array(data as ArrayLike<number>);
        break;
      case 'u32':
        host = data instanceof Uint32Array ? data : Uint32Array.from(data as ArrayLike<number>);
        break;
      case 'i32':
        host = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
        break;
    }
    if (host.byteLength === 0) return;
    this.uploads++;
    // writeBuffer is ordered on the queue timeline: submit what is queued first so it runs before.
    this.flush();
    let bytes = new Uint8Array(host.buffer, host.byteOffset, host.byteLength);
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      // keep the bytes after the tensor's end: only possible for odd-length f16; read-modify not needed
      // because pool buffers are padded to 256 B and the pad belongs to nobody.
      bytes = padded;
    }
    // Dawn rejects SAB views; SharedArrayBuffer is undefined in browser pages without cross-origin isolation
    if (typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer)
      bytes = new Uint8Array(bytes);
    if (this.deferred > 0) {
      // batches before this write still wait for their pipelines: keep the order on the queue
      const copy = bytes.slice();
      const { buffer, byteOffset } = t;
      this.defer(null, () => this.device.queue.writeBuffer(buffer, byteOffset, copy as Uint8Array<ArrayBuffer>));
      return;
    }
    this.device.queue.writeBuffer(t.buffer, t.byteOffset, bytes as Uint8Array<ArrayBuffer>);
  }

  /** Queue a tensor-to-tensor copy (same byte length). */
  copy(src: Tensor, dst: Tensor, label = 'copy'): void {
    if (src.byteLength !== dst.byteLength)
      throw new Error(`${label}: copy of ${src.byteLength} bytes into ${dst.byteLength}`);
    if (src.byteOffset % 4 || dst.byteOffset % 4 || src.byteLength % 4)
      throw new Error(`${label}: copies need 4-byte aligned offsets and sizes`);
    this.enqueue({
      kind: 'copy',
      src,
      dst,
      bytes: src.byteLength,
      srcOffset: src.byteOffset,
      dstOffset: dst.byteOffset,
      label,
    });
  }

  /** Wrap an external GPUBuffer (weights arena) without pool ownership. */
  wrap(buffer: GPUBuffer, shape: readonly number[], dtype: DType, byteOffset = 0, label = buffer.label): Tensor {
    return new Tensor(new Storage(buffer, buffer.size, null, this.tensors), shape, dtype, byteOffset, label);
  }

  /** Create a device buffer outside the pool (weights). */
  createBuffer(bytes: number, label: string): GPUBuffer {
    this.checkAlive();
    const size = Math.max(16, Math.ceil(bytes / 256) * 256);
    return this.device.createBuffer({ size, usage: 0x80 | 0x4 | 0x8, label });
  }

  /** Read a tensor back to the host: Float32Array for f32/f16, Uint32Array / Int32Array otherwise. */
  async read(t: Tensor): Promise<Float32Array>;
  async read(t: Tensor, raw: 'raw'): Promise<HostArray>;
  async read(t: Tensor, raw?: 'raw'): Promise<HostArray> {
    return (await this.transfer([t], raw === 'raw'))[0];
  }

  /**
   * Read several tensors back in ONE transfer (one staging buffer, one mapAsync; counted as one
   * readback): a tracked frame's masks, logits and scores come back together. Values as `read`.
   */
  async readMany(ts: readonly Tensor[]): Promise<HostArray[]> {
    return this.transfer(ts, false);
  }

  /** `read` / `readMany`: one staging buffer, one mapAsync, one counted readback; `raw` keeps f16 bits. */
  private async transfer(ts: readonly Tensor[], raw: boolean): Promise<HostArray[]> {
    for (const t of ts) if (t.isDisposed) throw new Error(`read of disposed tensor ${t}`);
    const sizes = ts.map((t) => Math.ceil(t.byteLength / 4) * 4);
    const offs: number[] = [];
    let total = 0;
    for (const b of sizes) {
      offs.push(total);
      total += b;
    }
    if (total === 0) return ts.map((t) => hostArray(t.dtype, new ArrayBuffer(0), 0, 0, false));
    this.readbacks++;
    this.flush();
    await this.drain();
    const staging = this.takeStaging(total);
    let keep = false;
    try {
      const enc = this.device.createCommandEncoder({ label: `readback ${ts.map((t) => t.label).join(', ')}` });
      ts.forEach((t, i) => {
        if (sizes[i] > 0) enc.copyBufferToBuffer(t.buffer, t.byteOffset, staging, offs[i], sizes[i]);
      });
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(1 /* READ */);
      await this.checkErrors();
      const copy = staging.getMappedRange(0, total).slice(0);
      staging.unmap();
      keep = true;
      return ts.map((t, i) => hostArray(t.dtype, copy, offs[i], t.size, raw));
    } catch (e) {
      this.checkAlive();
      throw e;
    } finally {
      if (keep) this.giveStaging(staging);
      else staging.destroy();
    }
  }

  /**
   * A MAP_READ buffer of at least `bytes` (size class of the pool): readbacks reuse a few of them
   * instead of creating and destroying one per read (host memory of a long stream stays flat).
   */
  private takeStaging(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const i = this.staging.findIndex((b) => b.size === size);
    if (i >= 0) return this.staging.splice(i, 1)[0];
    return this.device.createBuffer({ size, usage: MAP_READ_USAGE, label: 'readback' });
  }

  private giveStaging(buf: GPUBuffer): void {
    if (buf.size > STAGING_KEEP_BYTES) {
      buf.destroy();
      return;
    }
    this.staging.push(buf);
    if (this.staging.length > STAGING_KEEP) this.staging.shift()!.destroy();
  }

  // ---------------------------------------------------------------- command queue
  enqueue(cmd: Cmd): void {
    this.checkAlive();
    this.queue.push(cmd);
    if (cmd.kind === 'dispatch') this.dispatches++;
    if (this.queue.length >= this.flushEvery) this.flush();
  }

  /**
   * Encode and submit everything queued: many dispatches per compute pass, one submit. A batch whose
   * pipelines are still compiling (or that follows one) is encoded when they are ready; everything
   * that reaches the GPU queue keeps program order.
   */
  flush(): void {
    if (this.queue.length === 0) return;
    this.checkAlive();
    const cmds = this.queue;
    this.queue = [];
    // released buffers may be reused by later commands: those reach the queue after this batch
    this.pool.recycle();
    const waits = new Set<Promise<void>>();
    for (const c of cmds) if (c.kind === 'dispatch' && !c.variant.pipeline) waits.add(c.variant.ready!);
    if (waits.size === 0 && this.deferred === 0) this.submitBatch(cmds);
    else this.defer(waits.size ? Promise.all(waits) : null, () => this.submitBatch(cmds));
  }

  /** Run `fn` after everything deferred before it and after `wait`; errors surface at the next sync/read. */
  private defer(wait: Promise<unknown> | null, fn: () => void): void {
    this.deferred++;
    this.chain = this.chain
      .then(() => wait)
      .then(() => {
        if (!this.deferredError && !this.lostInfo) fn();
      })
      .catch((e: Error) => {
        this.deferredError ??= e;
      })
      .finally(() => {
        this.deferred--;
      });
  }

  /** Wait until every deferred batch has been submitted (errors are thrown by checkErrors). */
  async drain(): Promise<void> {
    if (this.deferred > 0) await this.chain;
  }

  /** Called by KernelFamily for each new variant whose pipeline compiles asynchronously. */
  trackCompile(ready: Promise<unknown>): void {
    this.compileTotal++;
    this.onCompileProgress?.(this.compileDone, this.compileTotal);
    ready.then(
      () => {
        this.compileDone++;
        this.onCompileProgress?.(this.compileDone, this.compileTotal);
      },
      () => {},
    );
  }

  /** Bind group of a dispatch, cached by layout and bound ranges (bounded; dropped entries are GC'd). */
  private bindGroup(c: DispatchCmd, uniformOffset: number): GPUBindGroup {
    const id = (b: GPUBuffer) => {
      let v = this.bufferIds.get(b);
      if (v === undefined) this.bufferIds.set(b, (v = this.nextBufferId++));
      return v;
    };
    let key = `${c.variant.key}|`;
    for (const e of c.entries) key += `${e.binding}:${id(e.tensor.buffer)}:${e.offset}:${e.size};`;
    if (c.uniform) key += `u${id(this.uniformArena!)}:${uniformOffset}:${c.uniform.byteLength}`;
    const hit = this.bindGroups.get(key);
    if (hit) {
      // move to the back: least recently used first in iteration order
      this.bindGroups.delete(key);
      this.bindGroups.set(key, hit);
      return hit;
    }
    const entries: GPUBindGroupEntry[] = c.entries.map((e) => ({
      binding: e.binding,
      resource: { buffer: e.tensor.buffer, offset: e.offset, size: e.size },
    }));
    if (c.uniform)
      entries.push({
        binding: c.uniformBinding,
        resource: { buffer: this.uniformArena!, offset: uniformOffset, size: c.uniform.byteLength },
      });
    const bg = this.device.createBindGroup({ label: c.label, layout: c.variant.layout, entries });
    this.bindGroups.set(key, bg);
    if (this.bindGroups.size > BIND_GROUP_CACHE) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    return bg;
  }

  private submitBatch(cmds: Cmd[]): void {
    const ualign = this.limits.minUniformBufferOffsetAlignment;
    let ubytes = 0;
    const uoffs: number[] = [];
    for (const c of cmds) {
      if (c.kind === 'dispatch' && c.uniform) {
        uoffs.push(ubytes);
        ubytes += Math.ceil(c.uniform.byteLength / ualign) * ualign;
      } else uoffs.push(-1);
    }
    if (ubytes > 0) {
      if (!this.uniformArena || this.uniformArena.size < ubytes) {
        this.uniformArena?.destroy();
        this.uniformArena = this.device.createBuffer({
          size: Math.max(ubytes, 64 * 1024),
          usage: UNIFORM_USAGE,
          label: 'uniform arena',
        });
      }
      const host = new Uint8Array(ubytes);
      cmds.forEach((c, i) => {
        if (c.kind === 'dispatch' && c.uniform) host.set(c.uniform, uoffs[i]);
      });
      this.device.queue.writeBuffer(this.uniformArena, 0, host);
    }
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const enc = this.device.createCommandEncoder({ label: 'batch' });
    let pass: GPUComputePassEncoder | null = null;
    const prof = this.profiling;
    let passIndex = 0;
    const openPass = (): GPUComputePassEncoder => {
      if (pass) return pass;
      const desc: GPUComputePassDescriptor = { label: 'batch' };
      if (prof && passIndex < 2048) {
        desc.timestampWrites = {
          querySet: prof.querySet,
          beginningOfPassWriteIndex: 2 * passIndex,
          endOfPassWriteIndex: 2 * passIndex + 1,
        };
        passIndex++;
      }
      return (pass = enc.beginComputePass(desc));
    };
    const closePass = () => {
      pass?.end();
      pass = null;
    };
    const labels: string[] = [];
    cmds.forEach((c, i) => {
      labels.push(c.label);
      if (c.kind === 'dispatch') {
        const bg = this.bindGroup(c, uoffs[i]);
        const p = openPass();
        p.setPipeline(c.variant.pipeline!);
        p.setBindGroup(0, bg);
        p.dispatchWorkgroups(c.groups[0], c.groups[1], c.groups[2]);
      } else if (c.kind === 'copy') {
        closePass();
        enc.copyBufferToBuffer(c.src.buffer, c.srcOffset, c.dst.buffer, c.dstOffset, c.bytes);
      } else {
        closePass();
        const bytes = Math.ceil(c.dst.byteLength / 4) * 4;
        if (bytes > 0) enc.clearBuffer(c.dst.buffer, c.dst.byteOffset, bytes);
      }
    });
    closePass();
    if (prof && passIndex > 0) {
      enc.resolveQuerySet(prof.querySet, 0, 2 * passIndex, prof.resolve, 0);
      const read = this.device.createBuffer({ size: 16 * passIndex, usage: MAP_READ_USAGE, label: 'timestamps' });
      enc.copyBufferToBuffer(prof.resolve, 0, read, 0, 16 * passIndex);
      const n = passIndex;
      prof.reads.push(
        (async () => {
          await null; // map only after the submit below: a buffer pending map cannot be used in a submit
          await read.mapAsync(1);
          const ts = new BigUint64Array(read.getMappedRange().slice(0));
          read.destroy();
          let ns = 0;
          for (let k = 0; k < n; k++) ns += Number(ts[2 * k + 1] - ts[2 * k]);
          return ns;
        })(),
      );
    }
    this.device.queue.submit([enc.finish()]);
    this.submits++;
    const summary = summarize(labels);
    const v = this.device.popErrorScope();
    const o = this.device.popErrorScope();
    this.pendingErrors.push(
      Promise.all([v, o]).then(([ve, oe]) => {
        const e = ve ?? oe;
        return e ? `GPU error in batch [${summary}]: ${e.message}` : null;
      }),
    );
  }

  /** Submit queued work and wait until the GPU has finished it; throws GPU errors with kernel labels. */
  async sync(): Promise<void> {
    this.flush();
    await this.drain();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
    this.checkAlive();
  }

  /** Await pending error scopes; throw the first error (named by the kernels of its batch). */
  async checkErrors(): Promise<void> {
    await this.drain();
    const pending = this.pendingErrors;
    this.pendingErrors = [];
    const msgs = (await Promise.all(pending)).filter((m): m is string => m !== null);
    // a deferred batch's failure (e.g. its pipeline did not compile) first: it names the kernel
    const deferred = this.deferredError;
    this.deferredError = null;
    if (deferred) throw deferred;
    if (msgs.length) throw new Error(msgs[0]);
  }

  beginCompileCheck(): void {
    if (this.compileDepth++ === 0) this.device.pushErrorScope('validation');
  }

  endCompileCheck(label: string, module: GPUShaderModule, code: string): void {
    if (--this.compileDepth !== 0) return;
    const scope = this.device.popErrorScope();
    this.pendingErrors.push(
      Promise.all([scope, module.getCompilationInfo()]).then(([err, info]) => {
        const errs = info.messages.filter((m) => m.type === 'error');
        if (!err && errs.length === 0) return null;
        const lines = code.split('\n');
        const detail = errs
          .map((m) => `  line ${m.lineNum}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`)
          .join('\n');
        return `kernel ${label} failed to compile: ${err?.message ?? ''}\n${detail}`;
      }),
    );
  }

  /** Workgroup counts for n invocations of size wg, folded into 2-D above 65535 groups. */
  groups1d(n: number, wg: number): [number, number, number] {
    const total = Math.ceil(n / wg);
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (total <= max) return [Math.max(total, 1), 1, 1];
    const y = Math.ceil(total / max);
    return [Math.ceil(total / y), y, 1];
  }

  // ---------------------------------------------------------------- profiling
  /** Start collecting GPU time of compute passes (needs timestamp-query). */
  profileStart(): boolean {
    if (!this.hasTimestamps) return false;
    this.flush();
    if (!this.profiling) {
      this.profiling = {
        querySet: this.device.createQuerySet({ type: 'timestamp', count: 4096 }),
        resolve: this.device.createBuffer({ size: 4096 * 8, usage: QUERY_USAGE, label: 'timestamp resolve' }),
        reads: [],
      };
    }
    this.profiling.reads = [];
    return true;
  }

  /** Stop profiling; returns GPU milliseconds spent in compute passes since profileStart. */
  async profileStop(): Promise<number> {
    if (!this.profiling) return NaN;
    this.flush();
    await this.drain(); // batches still waiting for pipelines record their timestamps when encoded
    const p = this.profiling;
    if (!p) return NaN;
    const ns = (await Promise.all(p.reads)).reduce((a, b) => a + b, 0);
    p.reads = [];
    this.profiling = null;
    p.querySet.destroy();
    p.resolve.destroy();
    return ns / 1e6;
  }

  destroy(): void {
    this.queue = [];
    this.bindGroups.clear();
    for (const b of this.staging) b.destroy();
    this.staging = [];
    for (const t of this.constants.values()) t.dispose();
    this.constants.clear();
    this.uniformArena?.destroy();
    this.pool.trim();
    this.device.destroy();
  }
}

/** Host values of `n` elements of a tensor of `dtype` at byte `off` of `buf` (f16 widened to f32). */
/** A read's host view of `n` elements at `off`; f16 as Float32Array, or its raw bits with `raw`. */
function hostArray(dtype: DType, buf: ArrayBuffer, off: number, n: number, raw: boolean): HostArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buf, off, n);
    case 'f16': {
      const h = new Uint16Array(buf, off, n);
      return raw ? h : f16ToF32Array(h);
    }
    case 'u32':
      return new Uint32Array(buf, off, n);
    case 'i32':
      return new Int32Array(buf, off, n);
    default:
      throw new Error(`read: unknown dtype ${dtype as string}`);
  }
}

function summarize(labels: string[]): string {
  const uniq = [...new Set(labels)];
  return uniq.length > 8 ? `${uniq.slice(0, 8).join(', ')}, … (${uniq.length} kernels)` : uniq.join(', ');
}
