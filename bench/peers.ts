// Side-by-side peers for `robotseg bench`: the case's `onnx` description (BenchRun.onnx, see
// bench/onnx_builder.ts for the conventions: input order, initializers, composite ops) is turned into
// a one-op (or small subgraph) ONNX model in memory and run with
//   * ort-web      onnxruntime-web's WebGPU EP on OUR GPUDevice (passed through the EP options, so the
//                  adapter/ICD is the one src/node/adapter.ts chose), CPU tensors in and out (e2e);
//   * ort-web:gpu  the same with GPU-resident inputs (Tensor.fromGpuBuffer) and outputs
//                  (preferredOutputLocation 'gpu-buffer'), each run followed by onSubmittedWorkDone;
//   * ort-node     onnxruntime-node's CPU EP, 1 intra-op thread, CPU tensors in and out.
// Each distinct description (op, shapes, attributes, constant inputs) runs once per process: variants
// of one family share it and its peer rows appear once, next to the first of them. Its sessions are
// created once (per peer and mode), reused for warm-up and every timed rep, and released after the
// case; creation and the first run (shader compilation) are excluded from timing and reported on
// stderr. An unavailable peer is left out with a note on stderr.
//
// Peer correctness (row `ok`, `ref` says against what): our own output when the case implements
// `output()` (BenchRunWithOutput in harness.ts; ours is itself checked against the CPU reference);
// otherwise ort-web is compared with ort-node, and ort-node (checked against PyTorch in
// shared/notes) is taken as is (ref 'none'). Tolerance: |peer - ref| <= 1e-4 max|ref| + 1e-3 |ref|.
// Known trap (shared/notes/webgpu-backends.md): ORT-web on lavapipe silently returns wrong results when
// one tensor exceeds maxStorageBufferBindingSize (128 MiB there); such rows get a note.
//
// Node gotchas handled here: navigator.gpu is defined with defineProperty (Node 21+ has a getter);
// Dawn's queue.writeBuffer rejects SharedArrayBuffer views (ORT's threaded wasm memory), so it is
// shimmed to copy them; model bytes are passed (a path fails to parse as a URL); after one failed
// WebGPU session ORT-web refuses further ones, so the peer is switched off.

import type { Runtime } from '../src/graph/runtime.js';
import { allClose, timeReps, type BenchRow, type BenchRunWithOutput } from './harness.js';
import { buildOnnxModel, type BuiltModel, type OnnxOpDesc } from './onnx_builder.js';

/** A row without the fields the harness fills in (adapter, downscaled). */
export type PeerRow = Pick<BenchRow, 'kernel' | 'impl' | 'shape' | 'ms' | 'ok'> & Partial<BenchRow>;

export interface PeerSet {
  /** Names of the peers that loaded ('ort-web', 'ort-node'). */
  names: string[];
  /**
   * Peer rows for one case (empty when its ONNX description was already run). `oursOk`: whether our
   * output passed its CPU check (only then is it used as the reference for the peers).
   */
  runCase(kernel: string, run: BenchRunWithOutput, reps?: number, oursOk?: boolean): Promise<PeerRow[]>;
  dispose(): Promise<void>;
}

// Minimal structural view of the onnxruntime JS API (common to -web and -node).
interface OrtTensor {
  data: unknown;
  dims: readonly number[];
  dispose(): void;
  getData?(releaseData?: boolean): Promise<unknown>;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(bytes: Uint8Array, opts?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: {
    new (type: 'float32', data: Float32Array, dims: readonly number[]): OrtTensor;
    fromGpuBuffer?(buffer: GPUBuffer, opts: { dataType: 'float32'; dims: readonly number[] }): OrtTensor;
  };
  env: { logLevel?: string; wasm: { numThreads?: number }; webgpu?: unknown };
}

const errText = (e: unknown) =>
  (e instanceof Error ? e.message : typeof e === 'number' ? `wasm exception ${e}` : String(e)).split('\n')[0];

/** Import a module whose name is not visible to the type checker (optional dependency). */
async function importOptional(name: string): Promise<unknown> {
  return import(/* @vite-ignore */ name);
}

// ---------------------------------------------------------------- loading
let writeBufferShimmed = false;
function shimWriteBuffer(): void {
  if (writeBufferShimmed) return;
  const Q = (globalThis as { GPUQueue?: { prototype: GPUQueue } }).GPUQueue;
  if (!Q) return;
  const orig = Q.prototype.writeBuffer;
  Q.prototype.writeBuffer = function (
    this: GPUQueue,
    buffer: GPUBuffer,
    offset: number,
    data: BufferSource | SharedArrayBuffer,
    dataOffset?: number,
    size?: number,
  ) {
    const view = data as ArrayBufferView;
    if (view && view.buffer instanceof SharedArrayBuffer) {
      const el = (view as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      const start = view.byteOffset + (dataOffset ?? 0) * el;
      const len = size !== undefined ? size * el : view.byteLength - (dataOffset ?? 0) * el;
      return orig.call(this, buffer, offset, new Uint8Array(new Uint8Array(view.buffer, start, len)));
    }
    return orig.call(this, buffer, offset, data as BufferSource, dataOffset, size);
  } as GPUQueue['writeBuffer'];
  writeBufferShimmed = true;
}

/** navigator.gpu for ORT-web's environment check; any adapter it asks for hands out our device. */
function shimNavigator(device: GPUDevice): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  const adapterLike = {
    features: device.features,
    limits: device.limits,
    info: (device as unknown as { adapterInfo?: unknown }).adapterInfo,
    requestDevice: async () => device,
  };
  const gpu = {
    requestAdapter: async () => adapterLike,
    getPreferredCanvasFormat: () => 'rgba8unorm',
    wgslLanguageFeatures: new Set<string>(),
  };
  const nav = Object.assign(Object.create(g.navigator ?? null) as object, { gpu });
  Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
}

async function loadOrtWeb(rt: Runtime): Promise<Ort> {
  if (typeof (globalThis as { GPUDevice?: unknown }).GPUDevice === 'undefined')
    throw new Error('no GPUDevice global (Dawn globals not installed)');
  shimWriteBuffer();
  shimNavigator(rt.device);
  const ort = (await import('onnxruntime-web/webgpu')) as unknown as Ort;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  return ort;
}

async function loadOrtNode(): Promise<Ort> {
  const m = (await importOptional('onnxruntime-node')) as Ort & { default?: Ort };
  return m.InferenceSession ? m : (m.default as Ort);
}

// ---------------------------------------------------------------- helpers
function fnv(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 16777619) >>> 0;
  return h;
}

/** Session key: op, input shapes, attributes, output shape and the contents of constant inputs. */
function descKey(desc: OnnxOpDesc, built: BuiltModel): string {
  const shapes = Object.entries(desc.inputs).map(([k, v]) => `${k}:${v.shape.join('x')}`);
  let h = 2166136261;
  for (const [k, v] of Object.entries(desc.inputs))
    if (!(k in built.feeds)) h = fnv(h, new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
  return `${desc.op}(${shapes.join(',')})${JSON.stringify(desc.attributes ?? {})}->${desc.outputShape.join('x')}#${h.toString(16)}`;
}

/** Largest single tensor (bytes) the peer graph holds, including attention scores. */
function largestTensorBytes(desc: OnnxOpDesc): number {
  let m = desc.outputShape.reduce((a, b) => a * b, 1) * 4;
  for (const v of Object.values(desc.inputs)) m = Math.max(m, v.data.length * 4);
  if (desc.op === 'Attention') {
    const [q, k] = Object.values(desc.inputs);
    if (q && k) m = Math.max(m, q.shape.slice(0, -1).reduce((a, b) => a * b, 1) * k.shape[k.shape.length - 2] * 4);
  }
  return m;
}

const asF32 = (d: unknown): Float32Array => (d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>));

interface Result {
  name: string;
  rows: PeerRow[];
  out: Float32Array | null;
}

// ---------------------------------------------------------------- the peer set
export async function loadPeers(
  rt: Runtime,
  log: (s: string) => void = (s) => process.stderr.write(s + '\n'),
  which: string[] = ['ort-web', 'ort-node'],
): Promise<PeerSet> {
  let web: Ort | null = null;
  let node: Ort | null = null;
  if (which.includes('ort-web')) {
    try {
      web = await loadOrtWeb(rt);
    } catch (e) {
      log(
        `bench: peer ort-web unavailable (${errText(e)}); it is an optional peer dependency, never installed by a plain install: npm install onnxruntime-web`,
      );
    }
  }
  if (which.includes('ort-node')) {
    try {
      node = await loadOrtNode();
    } catch (e) {
      log(
        `bench: peer ort-node unavailable (${errText(e)}); it is an optional peer dependency, never installed by a plain install: npm install onnxruntime-node`,
      );
    }
  }
  const sessions = new Map<string, OrtSession>();
  const gpuBuffers: GPUBuffer[] = [];
  const seen = new Set<string>();
  let webDisabled = '';

  async function session(
    ort: Ort,
    key: string,
    bytes: Uint8Array,
    opts: Record<string, unknown>,
    what: string,
  ): Promise<OrtSession> {
    let s = sessions.get(key);
    if (s) return s;
    const t0 = performance.now();
    s = await ort.InferenceSession.create(bytes, opts);
    log(`bench:   ${what}: session created in ${(performance.now() - t0).toFixed(0)} ms (not timed)`);
    sessions.set(key, s);
    return s;
  }

  async function releaseAll(): Promise<void> {
    for (const s of sessions.values()) {
      try {
        await s.release();
      } catch {
        /* ignore */
      }
    }
    sessions.clear();
    for (const b of gpuBuffers) b.destroy();
    gpuBuffers.length = 0;
  }

  const cpuFeeds = (ort: Ort, built: BuiltModel) =>
    Object.fromEntries(Object.entries(built.feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.shape)]));

  /** e2e: CPU tensors in, CPU tensor out. */
  async function runE2e(
    name: string,
    ort: Ort,
    key: string,
    built: BuiltModel,
    sessOpts: Record<string, unknown>,
    reps?: number,
  ): Promise<{ ms: number; reps: number; out: Float32Array }> {
    const s = await session(ort, `${name}|${key}`, built.bytes, sessOpts, name);
    const feeds = cpuFeeds(ort, built);
    const t0 = performance.now();
    const first = await s.run(feeds);
    log(`bench:   ${name}: first run ${(performance.now() - t0).toFixed(0)} ms (not timed)`);
    const out = asF32(first[built.outputName].data).slice();
    const t = await timeReps(async () => {
      const a = performance.now();
      await s.run(feeds);
      const ms = performance.now() - a;
      return { ms, wallMs: ms };
    }, reps);
    return { ms: t.ms, reps: t.reps, out };
  }

  /** GPU-resident ORT-web: inputs uploaded once, outputs kept on the GPU. */
  async function runWebGpu(
    ort: Ort,
    key: string,
    built: BuiltModel,
    reps?: number,
  ): Promise<{ ms: number; reps: number; out: Float32Array }> {
    if (!ort.Tensor.fromGpuBuffer) throw new Error('Tensor.fromGpuBuffer missing');
    const device = rt.device;
    const s = await session(
      ort,
      `ort-web:gpu|${key}`,
      built.bytes,
      {
        executionProviders: [{ name: 'webgpu', device }],
        graphOptimizationLevel: 'all',
        preferredOutputLocation: 'gpu-buffer',
      },
      'ort-web:gpu',
    );
    const feeds: Record<string, OrtTensor> = {};
    for (const [k, v] of Object.entries(built.feeds)) {
      const buf = device.createBuffer({
        size: Math.max(16, Math.ceil(v.data.byteLength / 16) * 16),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label: `ort feed ${k}`,
      });
      device.queue.writeBuffer(buf, 0, v.data as Float32Array<ArrayBuffer>);
      gpuBuffers.push(buf);
      feeds[k] = ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: v.shape });
    }
    const t0 = performance.now();
    const first = await s.run(feeds);
    await device.queue.onSubmittedWorkDone();
    log(`bench:   ort-web:gpu: first run ${(performance.now() - t0).toFixed(0)} ms (not timed)`);
    const y = first[built.outputName];
    const out = asF32(await y.getData!(true)).slice();
    y.dispose();
    const t = await timeReps(async () => {
      const a = performance.now();
      const r = await s.run(feeds);
      await device.queue.onSubmittedWorkDone();
      const ms = performance.now() - a;
      for (const v of Object.values(r)) v.dispose();
      return { ms, wallMs: ms };
    }, reps);
    return { ms: t.ms, reps: t.reps, out };
  }

  return {
    names: [web ? 'ort-web' : '', node ? 'ort-node' : ''].filter(Boolean),

    async runCase(kernel, run, reps, oursOk = true) {
      const desc = run.onnx;
      if (!desc || (!web && !node)) return [];
      let built: BuiltModel;
      try {
        built = desc.model
          ? { bytes: desc.model, feeds: desc.inputs, outputName: desc.outputName ?? 'output', ops: [desc.op] }
          : buildOnnxModel(desc);
      } catch (e) {
        log(`bench:   peers: cannot build ONNX model for ${desc.op}: ${errText(e)}`);
        return [];
      }
      const key = descKey(desc, built);
      if (seen.has(key)) return [];
      seen.add(key);
      const shape = run.shape;
      const label = `${desc.op}${built.ops.length > 1 ? ` (${built.ops.join('>')})` : ''}`;
      const results: Result[] = [];
      const big = largestTensorBytes(desc) > Number(rt.limits.maxStorageBufferBindingSize);
      const bigNote = big
        ? `a tensor exceeds maxStorageBufferBindingSize (${Math.round(Number(rt.limits.maxStorageBufferBindingSize) / 2 ** 20)} MiB): ORT-web may be silently wrong`
        : '';

      const attempt = async (
        name: string,
        f: () => Promise<{ ms: number; reps: number; out: Float32Array }>,
        timing: string,
      ): Promise<void> => {
        try {
          const r = await f();
          results.push({
            name,
            out: r.out,
            rows: [
              {
                kernel,
                impl: name,
                shape,
                ms: r.ms,
                reps: r.reps,
                ok: true,
                timing,
                note:
                  [
                    built.ops.length > 1 ? `graph ${built.ops.join('>')}` : '',
                    name.startsWith('ort-web') ? bigNote : '',
                  ]
                    .filter(Boolean)
                    .join('; ') || undefined,
              },
            ],
          });
        } catch (e) {
          const msg = errText(e);
          log(`bench:   ${name} failed on ${label} ${shape}: ${msg}`);
          if (name.startsWith('ort-web')) {
            webDisabled = msg;
            log(
              'bench:   ort-web switched off for the remaining cases (ORT-web refuses new WebGPU sessions after a failed one)',
            );
          }
          results.push({
            name,
            out: null,
            rows: [{ kernel, impl: name, shape, ms: NaN, ok: false, timing, note: `${label}: ${msg}` }],
          });
        }
      };

      if (web && !webDisabled) {
        log(`bench:   ort-web ${label} ${shape}`);
        await attempt(
          'ort-web',
          () =>
            runE2e(
              'ort-web',
              web!,
              key,
              built,
              { executionProviders: [{ name: 'webgpu', device: rt.device }], graphOptimizationLevel: 'all' },
              reps,
            ),
          'wall-e2e',
        );
        if (!webDisabled) await attempt('ort-web:gpu', () => runWebGpu(web!, key, built, reps), 'wall-gpu');
      }
      if (node) {
        log(`bench:   ort-node ${label} ${shape}`);
        await attempt(
          'ort-node',
          () =>
            runE2e(
              'ort-node',
              node!,
              key,
              built,
              {
                executionProviders: ['cpu'],
                intraOpNumThreads: 1,
                interOpNumThreads: 1,
                executionMode: 'sequential',
                graphOptimizationLevel: 'all',
              },
              reps,
            ),
          'wall-e2e',
        );
      }

      // Correctness of the peers (see header).
      let ours: Float32Array | null = null;
      if (typeof run.output === 'function' && oursOk) {
        try {
          ours = await run.output();
        } catch (e) {
          log(`bench:   cannot read our output for the peer check: ${errText(e)}`);
        }
      }
      const nodeOut = results.find((r) => r.name === 'ort-node')?.out ?? null;
      for (const r of results) {
        const row = r.rows[0];
        if (!r.out) continue;
        const [ref, refName] = ours
          ? [ours, 'ours']
          : r.name !== 'ort-node' && nodeOut
            ? [nodeOut, 'ort-node']
            : [null, 'none'];
        row.ref = refName;
        if (!ref) continue;
        const c = allClose(r.out, ref, { atol: 1e-4 * maxAbs(ref) + 1e-6, rtol: 1e-3 });
        row.ok = c.ok;
        if (!c.ok) {
          row.note = [row.note, `differs from ${refName}: ${c.msg}`].filter(Boolean).join('; ');
          log(`bench:   ${r.name} ${label} ${shape}: differs from ${refName}: ${c.msg}`);
        }
      }
      await releaseAll(); // every description runs once (see `seen`): free the GPU memory now
      return results.flatMap((r) => r.rows);
    },

    dispose: releaseAll,
  };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
