// Wrapper for shaders/elementwise.wgsl: unary activations (with a fused affine alpha*x+beta),
// broadcasting binary ops, and the activation backward used by autograd.

import type { Node } from '../graph/autograd.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { shapeStr } from '../graph/dtype.js';
import { reduceToShape } from './reduce.js';

export type UnaryOp = 'relu' | 'gelu' | 'sigmoid' | 'identity' | 'exp' | 'tanh' | 'abs' | 'sqrt' | 'neg' | 'round_bf16' | 'step';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';
const DIFFERENTIABLE_UNARY = new Set<UnaryOp>(['relu', 'gelu', 'sigmoid', 'identity']);
const WG = 128;
export const MAX_RANK = 8;

function checkF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new Error(`${op}: expects f32 tensors, got ${t.dtype} for ${t}`);
}

/** y = op(alpha * x + beta). */
export function unary(rt: Runtime, x: Tensor, op: UnaryOp, opts: { alpha?: number; beta?: number } = {}): Tensor {
  checkF32(op, x);
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 0;
  const y = rt.empty(x.shape, 'f32', op);
  if (x.size > 0) {
    rt.kernel('elementwise').run({
      defines: { UNARY: 1, [op.toUpperCase()]: 1 },
      constants: { WG },
      bindings: { x, y },
      params: { n: x.size, alpha, beta },
      groups: rt.groups1d(x.size, WG),
      label: `elementwise.${op}`,
    });
  }
  if (rt.tape?.wants([x])) {
    if (!DIFFERENTIABLE_UNARY.has(op)) throw new Error(`autograd: '${op}' has no backward kernel`);
    const node: Node = {
      op, inputs: [x], outputs: [y], saved: [x],
      backward: ([dy]) => [dy ? unaryBackward(rt, x, dy, op, alpha, beta) : null],
    };
    rt.tape.record(node);
  }
  return y;
}

/** dx = dy * d op(alpha*x+beta)/dx. */
export function unaryBackward(rt: Runtime, x: Tensor, dy: Tensor, op: UnaryOp, alpha = 1, beta = 0): Tensor {
  checkF32(`${op}_backward`, x, dy);
  if (x.size !== dy.size) throw new Error(`${op}_backward: x ${shapeStr(x.shape)} vs dy ${shapeStr(dy.shape)}`);
  const dx = rt.empty(x.shape, 'f32', `${op}_backward`);
  if (x.size > 0) {
    rt.kernel('elementwise').run({
      defines: { UNARY_BACKWARD: 1, [op.toUpperCase()]: 1 },
      constants: { WG },
      bindings: { x, dy, y: dx },
      params: { n: x.size, alpha, beta },
      groups: rt.groups1d(x.size, WG),
      label: `elementwise.${op}_backward`,
    });
  }
  return dx;
}

export const relu = (rt: Runtime, x: Tensor) => unary(rt, x, 'relu');
export const gelu = (rt: Runtime, x: Tensor) => unary(rt, x, 'gelu');
export const sigmoid = (rt: Runtime, x: Tensor) => unary(rt, x, 'sigmoid');
/** alpha * x + beta */
export const affine = (rt: Runtime, x: Tensor, alpha: number, beta = 0) => unary(rt, x, 'identity', { alpha, beta });

/** numpy broadcast of two shapes; throws naming both shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op = 'broadcast'): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Element strides of `shape` when broadcast to `out` (0 on broadcast dims). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const r = out.length;
  const strides = new Array(r).fill(0);
  let s = 1;
  for (let i = r - 1; i >= 0; i--) {
    const d = shape[shape.length - r + i] ?? 1;
    strides[i] = d === 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

function pack8(v: number[], fill: number): number[] {
  const out = new Array(MAX_RANK).fill(fill);
  v.forEach((x, i) => (out[i] = x));
  return out;
}

/** y = alpha * op(a, b) + beta, broadcasting. */
export function binary(rt: Runtime, a: Tensor, b: Tensor, op: BinaryOp, opts: { alpha?: number; beta?: number } = {}): Tensor {
  checkF32(op, a, b);
  const shape = broadcastShapes(a.shape, b.shape, op);
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} > ${MAX_RANK}`);
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 0;
  const y = rt.empty(shape, 'f32', op);
  const n = y.size;
  if (n > 0) {
    const rank = Math.max(shape.length, 1);
    const s = shape.length ? shape : [1];
    rt.kernel('elementwise').run({
      defines: { BINARY: 1, [op.toUpperCase()]: 1 },
      constants: { WG },
      bindings: { a, b, y },
      params: {
        n, rank, alpha, beta,
        shape: pack8(s, 1),
        a_strides: pack8(broadcastStrides(a.shape, s), 0),
        b_strides: pack8(broadcastStrides(b.shape, s), 0),
      },
      groups: rt.groups1d(n, WG),
      label: `elementwise.${op}`,
    });
  }
  if (rt.tape?.wants([a, b])) {
    if (op !== 'add' && op !== 'sub' && op !== 'mul') throw new Error(`autograd: '${op}' has no backward`);
    const saved = op === 'mul' ? [a, b] : [];
    rt.tape.record({
      op, inputs: [a, b], outputs: [y], saved,
      backward: ([dy]) => {
        if (!dy) return [null, null];
        let ga: Tensor, gb: Tensor;
        if (op === 'mul') {
          ga = binary(rt, dy, b, 'mul', { alpha });
          gb = binary(rt, dy, a, 'mul', { alpha });
        } else {
          ga = affine(rt, dy, alpha);
          gb = affine(rt, dy, op === 'sub' ? -alpha : alpha);
        }
        return [sumTo(rt, ga, a.shape), sumTo(rt, gb, b.shape)];
      },
    });
  }
  return y;
}

/** Reduce a broadcast gradient back to `shape` (no-op when equal). */
function sumTo(rt: Runtime, g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const r = reduceToShape(rt, g, shape);
  g.dispose();
  return r;
}

export const add = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, a, b, 'add');
export const sub = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, a, b, 'sub');
export const mul = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, a, b, 'mul');
export const div = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, a, b, 'div');

import { registerBinary } from './reduce.js';
registerBinary((rt, a, b, op, o) => binary(rt, a, b, op, o));
