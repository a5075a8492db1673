// Weights on the GPU: tensors streamed one at a time from a WeightsFile into a few arena buffers
// (llm.c: one allocation plus pointers), and the strict key/shape check the model modules run.
//
// Packing: tensors go, in file order, into arenas of at most the storage binding limit (so any
// arena can be bound whole); each tensor starts 256-byte aligned. A tensor larger than one binding
// is split along dim 0 into row chunks, each placed like a tensor of its own; its entry then has
// `chunked: true` and `chunks` instead of `tensor` (kernels consuming such weights loop over them).

import { type DType, numel, shapeStr } from './dtype.js';
import type { Runtime } from './runtime.js';
import type { Tensor } from './tensor.js';
import { FLOAT_DTYPES, type WeightsFile, rawToF16Bits, rawToF32 } from './weights_io.js';

const ALIGN = 256;
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** One uploaded weight. */
export interface WeightEntry {
  key: string;
  shape: number[];
  dtype: DType;
  /** The whole tensor (null when chunked). */
  tensor: Tensor | null;
  /** True when the tensor exceeded one binding and lives in row chunks. */
  chunked: boolean;
  /** Row chunks along dim 0, each [rows_i, ...shape.slice(1)] (null when not chunked). */
  chunks: Tensor[] | null;
  /** Rows per chunk (all chunks but the last); shape[0] when not chunked. */
  rowsPerChunk: number;
}

export interface UploadOptions {
  /**
   * GPU storage type, for all tensors or per key (mixed precision: f16 tensors then get arenas of
   * their own, so an arena holds one dtype); f16 needs the adapter feature shader-f16. Default f32.
   */
  dtype?: 'f32' | 'f16' | ((key: string) => 'f32' | 'f16');
  /** Keys to load: a prefix, several prefixes or a predicate. Default: all. */
  prefixFilter?: string | readonly string[] | ((key: string) => boolean);
  /** Lower the per-arena limit below the adapter's binding limit (tests, memory-tight browsers). */
  maxBindingBytes?: number;
  /** Called after each tensor: (tensors done, total, key). */
  onProgress?: (done: number, total: number, key: string) => void;
}

/** Weights resident on the GPU, by checkpoint key. */
export class WeightStore {
  constructor(
    readonly entries: ReadonlyMap<string, WeightEntry>,
    /** The arena buffers (each <= the binding limit). */
    readonly arenas: readonly GPUBuffer[],
  ) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Total arena bytes. */
  get bytes(): number {
    return this.arenas.reduce((a, b) => a + b.size, 0);
  }

  entry(key: string): WeightEntry {
    const e = this.entries.get(key);
    if (!e) throw new Error(`weights: no tensor '${key}' was loaded`);
    return e;
  }

  /** The tensor for `key`; throws for chunked weights (use entry(key).chunks). */
  get(key: string): Tensor {
    const e = this.entry(key);
    if (!e.tensor)
      throw new Error(
        `weights: '${key}' ${shapeStr(e.shape)} is split into ${e.chunks!.length} row chunks (larger than one binding); use entry('${key}').chunks`,
      );
    return e.tensor;
  }

  /** Shapes by key, for strictCheck. */
  shapes(): Map<string, number[]> {
    return new Map([...this.entries].map(([k, e]) => [k, e.shape]));
  }

  destroy(): void {
    for (const b of this.arenas) b.destroy();
  }
}

interface Piece {
  key: string;
  rowStart: number;
  rows: number;
  bytes: number;
  arena: number;
  offset: number;
}

function selectKeys(st: WeightsFile, filter: UploadOptions['prefixFilter']): string[] {
  const keys = [...st.header.keys()];
  if (filter === undefined) return keys;
  if (typeof filter === 'function') return keys.filter(filter);
  const prefixes = typeof filter === 'string' ? [filter] : filter;
  return keys.filter((k) => prefixes.some((p) => k.startsWith(p)));
}

/**
 * Split tensors into pieces that fit `limit` and assign arenas greedily (256-byte aligned), the f32
 * tensors first, then the f16 ones from a fresh arena (each arena holds one dtype: the NaN / Inf scan
 * reads an arena as one dtype).
 */
function planPieces(
  st: WeightsFile,
  keys: string[],
  dtypeOf: (key: string) => 'f32' | 'f16',
  limit: number,
): { pieces: Piece[]; arenaBytes: number[] } {
  const pieces: Piece[] = [];
  const arenaBytes: number[] = [0];
  const place = (key: string, rowStart: number, rows: number, bytes: number) => {
    const slot = alignUp(bytes, 4); // writeBuffer sizes are multiples of 4
    let a = arenaBytes.length - 1;
    let off = alignUp(arenaBytes[a], ALIGN);
    if (off + slot > limit && arenaBytes[a] > 0) {
      arenaBytes.push(0);
      a++;
      off = 0;
    }
    arenaBytes[a] = off + slot;
    pieces.push({ key, rowStart, rows, bytes, arena: a, offset: off });
  };
  const f32Keys = keys.filter((k) => dtypeOf(k) === 'f32');
  const f16Keys = keys.filter((k) => dtypeOf(k) === 'f16');
  for (const key of [...f32Keys, ...f16Keys]) {
    if (key === f16Keys[0] && f32Keys.length > 0) {
      arenaBytes.push(0); // f16 tensors start an arena of their own
    }
    const shape = st.header.get(key)!.shape;
    const bytes = numel(shape) * (dtypeOf(key) === 'f32' ? 4 : 2);
    if (alignUp(bytes, 4) <= limit) {
      place(key, 0, shape[0] ?? 1, bytes);
      continue;
    }
    const rowBytes = bytes / shape[0];
    const per = Math.floor(limit / rowBytes);
    if (per < 1)
      throw new Error(
        `weights: one row of '${key}' ${shapeStr(shape)} (${rowBytes} bytes) exceeds the ${limit}-byte binding limit`,
      );
    for (let r = 0; r < shape[0]; r += per)
      place(key, r, Math.min(per, shape[0] - r), Math.min(per, shape[0] - r) * rowBytes);
  }
  return { pieces, arenaBytes };
}

/** Bytes of one tensor in the GPU dtype (a fresh host array). */
async function hostBytes(st: WeightsFile, key: string, dtype: 'f32' | 'f16'): Promise<Uint8Array> {
  const raw = await st.readRaw(key);
  const src = st.header.get(key)!.dtype;
  if (!FLOAT_DTYPES.has(src))
    throw new Error(`weights: tensor '${key}' has dtype ${src}; weights must be F32, F16 or BF16`);
  const host = dtype === 'f32' ? rawToF32(raw, src) : rawToF16Bits(raw, src);
  return new Uint8Array(host.buffer, host.byteOffset, host.byteLength);
}

function writePiece(rt: Runtime, buf: GPUBuffer, offset: number, data: Uint8Array): void {
  if (data.byteLength === 0) return;
  let bytes = data;
  if (bytes.byteLength % 4) {
    bytes = new Uint8Array(alignUp(data.byteLength, 4));
    bytes.set(data);
  }
  rt.device.queue.writeBuffer(buf, offset, bytes as Uint8Array<ArrayBuffer>, 0, bytes.byteLength);
}

/**
 * Upload the (filtered) tensors of `st` to GPU arenas, reading one tensor at a time in file order.
 * Source dtypes F32/F16/BF16 are converted on the host to `opts.dtype`.
 */
export async function uploadWeights(rt: Runtime, st: WeightsFile, opts: UploadOptions = {}): Promise<WeightStore> {
  const d = opts.dtype ?? 'f32';
  const dtypeOf = typeof d === 'function' ? d : () => d;
  const keys = selectKeys(st, opts.prefixFilter);
  if (keys.some((k) => dtypeOf(k) === 'f16') && !rt.hasF16)
    throw new Error("weights: dtype f16 needs the 'shader-f16' feature, which this adapter lacks");
  const hw = Math.min(rt.maxBinding, Number(rt.limits.maxBufferSize));
  const limit = Math.floor(Math.min(hw, opts.maxBindingBytes ?? Infinity) / ALIGN) * ALIGN;
  if (limit < ALIGN) throw new Error(`weights: binding limit ${opts.maxBindingBytes} is below ${ALIGN} bytes`);
  const { pieces, arenaBytes } = planPieces(st, keys, dtypeOf, limit);
  rt.flush();
  const arenas = arenaBytes.map((b, i) => rt.createBuffer(b, `weights arena ${i}`));
  try {
    const entries = await streamPieces(rt, st, keys, pieces, arenas, dtypeOf, opts.onProgress);
    return new WeightStore(entries, arenas);
  } catch (e) {
    for (const a of arenas) a.destroy();
    throw e;
  }
}

async function streamPieces(
  rt: Runtime,
  st: WeightsFile,
  keys: string[],
  pieces: Piece[],
  arenas: GPUBuffer[],
  dtypeOf: (key: string) => 'f32' | 'f16',
  onProgress?: UploadOptions['onProgress'],
): Promise<Map<string, WeightEntry>> {
  const byKey = new Map<string, Piece[]>();
  for (const p of pieces) (byKey.get(p.key) ?? byKey.set(p.key, []).get(p.key)!).push(p);
  const entries = new Map<string, WeightEntry>();
  let done = 0;
  for (const key of keys) {
    const shape = st.header.get(key)!.shape;
    const parts = byKey.get(key)!;
    const dtype = dtypeOf(key);
    const data = await hostBytes(st, key, dtype);
    const tensors = parts.map((p, i) => {
      const start = p.rowStart * (p.bytes / Math.max(p.rows, 1));
      writePiece(rt, arenas[p.arena], p.offset, data.subarray(start, start + p.bytes));
      const pshape = parts.length === 1 ? shape : [p.rows, ...shape.slice(1)];
      return rt.wrap(arenas[p.arena], pshape, dtype, p.offset, parts.length === 1 ? key : `${key}[chunk ${i}]`);
    });
    const chunked = parts.length > 1;
    entries.set(key, {
      key,
      shape: [...shape],
      dtype,
      tensor: chunked ? null : tensors[0],
      chunked,
      chunks: chunked ? tensors : null,
      rowsPerChunk: chunked ? parts[0].rows : (shape[0] ?? 1),
    });
    onProgress?.(++done, keys.length, key);
  }
  return entries;
}

// ------------------------------------------------------------------------------ strict loading

/**
 * Compare the keys/shapes a model expects with what a checkpoint holds (ggml's SAM loader,
 * tinygrad's load_state_dict). Returns every problem, one line each; empty when they match:
 * unknown key, missing key, shape mismatch (both shapes), duplicate expectation, count mismatch.
 */
export function strictCheck(
  expected: ReadonlyArray<{ key: string; shape: readonly number[] }>,
  available: ReadonlyMap<string, readonly number[]>,
): string[] {
  const errors: string[] = [];
  const want = new Map<string, readonly number[]>();
  for (const { key, shape } of expected) {
    if (want.has(key)) errors.push(`key '${key}' is expected twice`);
    want.set(key, shape);
  }
  for (const [key, shape] of want) {
    const got = available.get(key);
    if (!got) errors.push(`missing key '${key}' (model expects ${shapeStr(shape)})`);
    else if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      errors.push(`shape mismatch for '${key}': checkpoint has ${shapeStr(got)}, model expects ${shapeStr(shape)}`);
    }
  }
  for (const [key, shape] of available) {
    if (!want.has(key)) errors.push(`unknown key '${key}' ${shapeStr(shape)} (not used by the model)`);
  }
  if (available.size !== expected.length)
    errors.push(`tensor count: checkpoint has ${available.size}, model expects ${expected.length}`);
  return errors;
}

/** strictCheck that throws one Error listing the first problems. */
export function assertStrict(
  expected: ReadonlyArray<{ key: string; shape: readonly number[] }>,
  available: ReadonlyMap<string, readonly number[]>,
  what = 'weights',
): void {
  const errors = strictCheck(expected, available);
  if (errors.length === 0) return;
  const shown = errors
    .slice(0, 12)
    .map((e) => `  ${e}`)
    .join('\n');
  const more = errors.length > 12 ? `\n  … and ${errors.length - 12} more` : '';
  throw new Error(`${what}: checkpoint does not match the model (${errors.length} problems):\n${shown}${more}`);
}

/** Shapes of a weights file's tensors (optionally filtered by key prefix), for strictCheck. */
export function fileShapes(st: WeightsFile, prefix = ''): Map<string, number[]> {
  return new Map([...st.header].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k, t.shape]));
}
