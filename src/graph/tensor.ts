// Tensor = a typed, shaped view into a GPU buffer (gpu.cpp TensorView, ggml view_src/view_offs).
// Storage is shared between views and reference counted; the last dispose returns the buffer to
// the pool (pool-owned) or leaves it alone (external, e.g. a weight arena).

import { BYTES, type DType, numel, shapeStr } from './dtype.js';
import type { BufferPool } from './pool.js';

export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
    private pool: BufferPool | null,
  ) {}
  /** Owned by the buffer pool (activations) rather than external (weight arenas). */
  get pooled(): boolean {
    return this.pool !== null;
  }
  retain(): void {
    if (this.refs <= 0) throw new Error(`use of released buffer '${this.buffer.label}'`);
    this.refs++;
  }
  release(): void {
    if (this.refs <= 0) throw new Error(`double release of buffer '${this.buffer.label}'`);
    if (--this.refs === 0 && this.pool) this.pool.release(this.buffer);
  }
}

// ---------------------------------------------------------------- scopes
// Model code runs inside rt.scope(fn): every pool-backed tensor created there is disposed when the
// scope ends, except what fn returns (moved to the enclosing scope). Tensors an autograd tape
// still needs are pinned: their disposal is deferred until the tape is disposed.
const scopes: Tensor[][] = [];
/** Tensors referenced by a live tape (inputs, outputs, saved). */
export const pinned = new Set<Tensor>();
/** Scope-dropped tensors that were pinned; the tape disposes them. */
export const deferred: Tensor[] = [];

/**
 * The tape that records views (reshape / narrow0) while one is active: views need no kernel, but a
 * gradient must flow through them. Set by Runtime when its `tape` changes (tensors know no runtime).
 */
export const viewRecorder: {
  tape: { recordView(src: Tensor, view: Tensor, rows?: { start: number; total: number }): void } | null;
} = { tape: null };

const wantsGrad = (t: Tensor) => t.requiresGrad || t.gradFn !== null;

export function pushScope(): void {
  scopes.push([]);
}

export function popScope(keep: Iterable<Tensor>): void {
  const s = scopes.pop();
  if (!s) throw new Error('popScope without pushScope');
  const k = new Set(keep);
  const parent = scopes[scopes.length - 1];
  for (const t of s) {
    if (k.has(t)) parent?.push(t);
    else if (pinned.has(t)) deferred.push(t);
    else t.dispose();
  }
}

/** Move a tensor out of all scopes (it will not be auto-disposed). */
export function untrack(t: Tensor): Tensor {
  for (const s of scopes) {
    const i = s.indexOf(t);
    if (i >= 0) s.splice(i, 1);
  }
  return t;
}

/** Put an untracked tensor into the innermost open scope (e.g. one taken out of an inner scope by a tap). */
export function adopt(t: Tensor): Tensor {
  if (scopes.length && t.storage.pooled) scopes[scopes.length - 1].push(t);
  return t;
}

/** Collect the tensors in a (nested) value: Tensor, arrays, plain objects, Maps. */
export function tensorsIn(v: unknown, out: Tensor[] = [], depth = 0): Tensor[] {
  if (depth > 6 || v === null || v === undefined) return out;
  if (v instanceof Tensor) out.push(v);
  else if (Array.isArray(v)) for (const x of v) tensorsIn(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) tensorsIn(x, out, depth + 1);
  else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    for (const x of Object.values(v)) tensorsIn(x, out, depth + 1);
  return out;
}

export class Tensor {
  /** Set on leaves whose gradient is wanted (parameters in training). */
  requiresGrad = false;
  /** Accumulated gradient after Tape.backward. */
  grad: Tensor | null = null;
  /** Autograd node that produced this tensor (null for leaves). */
  gradFn: import('./autograd.js').Node | null = null;
  private disposed = false;

  constructor(
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** Byte offset of element 0 inside storage.buffer. */
    readonly byteOffset = 0,
    readonly label = storage.buffer.label,
  ) {
    const end = byteOffset + this.byteLength;
    if (end > storage.byteLength) {
      throw new Error(
        `tensor '${label}' ${shapeStr(shape)} ${dtype} at offset ${byteOffset} overruns its buffer (${storage.byteLength} bytes)`,
      );
    }
    for (const d of shape)
      if (!Number.isInteger(d) || d < 0) throw new Error(`tensor '${label}': bad shape ${shapeStr(shape)}`);
    if (storage.pooled && scopes.length) scopes[scopes.length - 1].push(this);
  }

  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }
  get size(): number {
    return numel(this.shape);
  }
  get byteLength(): number {
    return this.size * BYTES[this.dtype];
  }
  get rank(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Same data, new shape (contiguous reshape: no copy). */
  reshape(shape: readonly number[]): Tensor {
    const s = inferShape(shape, this.size, this.label);
    this.storage.retain();
    const v = new Tensor(this.storage, s, this.dtype, this.byteOffset, this.label);
    if (viewRecorder.tape && wantsGrad(this)) viewRecorder.tape.recordView(this, v);
    return v;
  }

  /** Contiguous sub-range along dim 0: rows [start, start+count). */
  narrow0(start: number, count: number): Tensor {
    const rows = this.shape[0];
    if (start < 0 || count < 0 || start + count > rows)
      throw new Error(`narrow0(${start}, ${count}) outside ${shapeStr(this.shape)} of '${this.label}'`);
    const rowBytes = (this.size / Math.max(rows, 1)) * BYTES[this.dtype];
    this.storage.retain();
    const v = new Tensor(
      this.storage,
      [count, ...this.shape.slice(1)],
      this.dtype,
      this.byteOffset + start * rowBytes,
      this.label,
    );
    if (viewRecorder.tape && wantsGrad(this)) viewRecorder.tape.recordView(this, v, { start, total: rows });
    return v;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
  }

  toString(): string {
    return `Tensor(${this.label} ${shapeStr(this.shape)} ${this.dtype})`;
  }
}

/** Resolve a single -1 in a reshape target and check the element count. */
export function inferShape(shape: readonly number[], n: number, label = 'tensor'): number[] {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = s.reduce((a, d, i) => (i === neg ? a : a * d), 1);
    s[neg] = rest === 0 ? 0 : n / rest;
  }
  if (numel(s) !== n || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`cannot reshape '${label}' of ${n} elements to ${shapeStr(shape)}`);
  }
  return s;
}
