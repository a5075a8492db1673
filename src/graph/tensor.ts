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
  retain(): void {
    if (this.refs <= 0) throw new Error(`use of released buffer '${this.buffer.label}'`);
    this.refs++;
  }
  release(): void {
    if (this.refs <= 0) throw new Error(`double release of buffer '${this.buffer.label}'`);
    if (--this.refs === 0 && this.pool) this.pool.release(this.buffer);
  }
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
      throw new Error(`tensor '${label}' ${shapeStr(shape)} ${dtype} at offset ${byteOffset} overruns its buffer (${storage.byteLength} bytes)`);
    }
    for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new Error(`tensor '${label}': bad shape ${shapeStr(shape)}`);
  }

  get buffer(): GPUBuffer { return this.storage.buffer; }
  get size(): number { return numel(this.shape); }
  get byteLength(): number { return this.size * BYTES[this.dtype]; }
  get rank(): number { return this.shape.length; }
  get isDisposed(): boolean { return this.disposed; }

  /** Same data, new shape (contiguous reshape: no copy). */
  reshape(shape: readonly number[]): Tensor {
    const s = inferShape(shape, this.size, this.label);
    this.storage.retain();
    return new Tensor(this.storage, s, this.dtype, this.byteOffset, this.label);
  }

  /** Contiguous sub-range along dim 0: rows [start, start+count). */
  narrow0(start: number, count: number): Tensor {
    const rows = this.shape[0];
    if (start < 0 || count < 0 || start + count > rows) throw new Error(`narrow0(${start}, ${count}) outside ${shapeStr(this.shape)} of '${this.label}'`);
    const rowBytes = (this.size / Math.max(rows, 1)) * BYTES[this.dtype];
    this.storage.retain();
    return new Tensor(this.storage, [count, ...this.shape.slice(1)], this.dtype, this.byteOffset + start * rowBytes, this.label);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
  }

  toString(): string { return `Tensor(${this.label} ${shapeStr(this.shape)} ${this.dtype})`; }
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
