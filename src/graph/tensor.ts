// Tensor = a typed, shaped view into a GPU buffer (gpu.cpp TensorView, ggml view_src/view_offs).
// Storage is shared between views and reference counted; the last dispose returns the buffer to
// the pool (pool-owned) or leaves it alone (external, e.g. a weight arena). No module-level state:
// scopes, pins and the view recorder belong to the Runtime (TensorScopes), reached via the storage.

import { BYTES, type DType, numel, shapeStr } from './dtype.js';
import type { BufferPool } from './pool.js';

export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
    private pool: BufferPool | null,
    /** Scopes, pins and the view recorder of the runtime that made it (null: a bare tensor). */
    readonly scopes: TensorScopes | null = null,
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

/** Records views (reshape / narrow0) onto an autograd tape: views need no kernel, but a gradient must flow through them. */
export interface ViewRecorder {
  recordView(src: Tensor, view: Tensor, rows?: { start: number; total: number }): void;
}

// ---------------------------------------------------------------- scopes
/**
 * The tensor bookkeeping of one Runtime (`rt.tensors`). Model code runs inside rt.scope(fn): every
 * pool-backed tensor created there is disposed when the scope ends, except what fn returns (moved
 * to the enclosing scope). Tensors an autograd tape still needs are pinned by that tape: their
 * disposal is deferred until every tape pinning them is disposed.
 */
export class TensorScopes {
  private stack: Tensor[][] = [];
  /** Pin count per tensor (one per live tape that references it). */
  private pins = new Map<Tensor, number>();
  /** Scope-dropped tensors still pinned; disposed when their last pin goes. */
  private deferred = new Set<Tensor>();
  /** The tape that records views while one is active (set by Runtime when its `tape` changes). */
  viewTape: ViewRecorder | null = null;

  /** Number of open scopes. */
  get depth(): number {
    return this.stack.length;
  }

  push(): void {
    this.stack.push([]);
  }

  pop(keep: Iterable<Tensor>): void {
    const s = this.stack.pop();
    if (!s) throw new Error('popScope without pushScope');
    const k = new Set(keep);
    const parent = this.stack[this.stack.length - 1];
    for (const t of s) {
      if (k.has(t)) parent?.push(t);
      else if (this.pins.has(t)) this.deferred.add(t);
      else t.dispose();
    }
  }

  /** A new pool-backed tensor joins the innermost open scope. */
  track(t: Tensor): void {
    if (this.stack.length) this.stack[this.stack.length - 1].push(t);
  }

  /** Move a tensor out of all scopes (it will not be auto-disposed). */
  untrack(t: Tensor): void {
    for (const s of this.stack) {
      const i = s.indexOf(t);
      if (i >= 0) s.splice(i, 1);
    }
  }

  pin(t: Tensor): void {
    this.pins.set(t, (this.pins.get(t) ?? 0) + 1);
  }

  /** Drop one pin; a tensor a scope already dropped is disposed with its last pin. */
  unpin(t: Tensor): void {
    const n = this.pins.get(t);
    if (n === undefined) return;
    if (n > 1) {
      this.pins.set(t, n - 1);
      return;
    }
    this.pins.delete(t);
    if (this.deferred.delete(t)) t.dispose();
  }

  isPinned(t: Tensor): boolean {
    return this.pins.has(t);
  }
}

const wantsGrad = (t: Tensor) => t.requiresGrad || t.gradFn !== null;

/** Move a tensor out of all scopes of its runtime (it will not be auto-disposed). */
export function untrack(t: Tensor): Tensor {
  t.storage.scopes?.untrack(t);
  return t;
}

/** Put an untracked tensor into the innermost open scope (e.g. one taken out of an inner scope by a tap). */
export function adopt(t: Tensor): Tensor {
  if (t.storage.pooled) t.storage.scopes?.track(t);
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
    if (storage.pooled) storage.scopes?.track(this);
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
    const tape = this.storage.scopes?.viewTape;
    if (tape && wantsGrad(this)) tape.recordView(this, v);
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
    const tape = this.storage.scopes?.viewTape;
    if (tape && wantsGrad(this)) tape.recordView(this, v, { start, total: rows });
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
