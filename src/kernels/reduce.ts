// Wrapper for shaders/reduce.wgsl: sum / mean / max / min over a contiguous block of axes,
// masked mean (masked average pooling), and reduceToShape (gradients of broadcasts).

import { numel, shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';
const WG = 128;

/**
 * Reduce axes [axis, axis+count) of x. keepDims keeps them as size 1.
 * Shape: [...pre, ...reduced, ...post] -> [...pre, ...post].
 */
export function reduce(rt: Runtime, x: Tensor, op: ReduceOp, axis: number, count = 1, keepDims = false): Tensor {
  if (x.dtype !== 'f32') throw new Error(`reduce ${op}: expects f32, got ${x.dtype}`);
  const r0 = x.rank;
  const a = axis < 0 ? axis + r0 : axis;
  if (a < 0 || count < 0 || a + count > r0) throw new Error(`reduce ${op}: axes [${axis}, ${axis}+${count}) outside rank ${r0} of ${shapeStr(x.shape)}`);
  const outer = numel(x.shape.slice(0, a));
  const r = numel(x.shape.slice(a, a + count));
  const inner = numel(x.shape.slice(a + count));
  if ((op === 'max' || op === 'min') && r === 0 && outer * inner > 0) throw new Error(`reduce ${op}: empty reduction over ${shapeStr(x.shape)}`);
  const outShape = keepDims
    ? [...x.shape.slice(0, a), ...new Array(count).fill(1), ...x.shape.slice(a + count)]
    : [...x.shape.slice(0, a), ...x.shape.slice(a + count)];
  const y = rt.empty(outShape, 'f32', `reduce_${op}`);
  if (outer * inner > 0) {
    rt.kernel('reduce').run({
      defines: { [op.toUpperCase()]: 1 },
      constants: { WG },
      bindings: { x, y },
      params: { outer, r, inner },
      groups: rt.groups1d(outer * inner, WG),
      label: `reduce.${op}`,
    });
  }
  if (rt.tape?.wants([x])) {
    if (op !== 'sum' && op !== 'mean') throw new Error(`autograd: reduce '${op}' has no backward`);
    rt.tape.record({
      op: `reduce_${op}`, inputs: [x], outputs: [y], saved: [],
      backward: ([dy]) => [dy ? expandAlong(rt, dy, [outer, 1, inner], [outer, r, inner], x.shape, op === 'mean' ? 1 / Math.max(r, 1) : 1) : null],
    });
  }
  return y;
}

// Broadcast dy [outer,1,inner] to [outer,r,inner] times scale, via the elementwise kernel.
function expandAlong(rt: Runtime, dy: Tensor, from: number[], to: number[], shape: readonly number[], scale: number): Tensor {
  const zeros = rt.zeros(to, 'f32', 'expand');
  const d = dy.reshape(from);
  // imported lazily to avoid a module cycle with elementwise.ts
  const y = binaryLazy(rt, zeros, d, scale);
  zeros.dispose();
  d.dispose();
  const out = y.reshape(shape);
  y.dispose();
  return out;
}

let binaryFn: ((rt: Runtime, a: Tensor, b: Tensor, op: 'add', o: { alpha: number }) => Tensor) | null = null;
export function registerBinary(f: typeof binaryFn): void { binaryFn = f; }
function binaryLazy(rt: Runtime, a: Tensor, b: Tensor, scale: number): Tensor {
  if (!binaryFn) throw new Error('reduce backward: elementwise kernels not registered (import src/kernels/elementwise.ts)');
  return binaryFn(rt, a, b, 'add', { alpha: scale });
}

/** Sum a broadcast result g back to `shape` (numpy broadcasting rules, right-aligned). */
export function reduceToShape(rt: Runtime, g: Tensor, shape: readonly number[]): Tensor {
  const r = g.rank;
  const target = [...new Array(r - shape.length).fill(1), ...shape];
  if (target.length !== r) throw new Error(`reduceToShape: ${shapeStr(g.shape)} cannot reduce to ${shapeStr(shape)}`);
  let cur = g.reshape(g.shape);
  const curShape = [...g.shape];
  for (let i = 0; i < r; i++) {
    if (target[i] === curShape[i]) continue;
    if (target[i] !== 1) throw new Error(`reduceToShape: ${shapeStr(g.shape)} cannot reduce to ${shapeStr(shape)}`);
    const next = reduce(rt, cur, 'sum', i, 1, true);
    cur.dispose();
    cur = next;
    curShape[i] = 1;
  }
  const out = cur.reshape(shape);
  cur.dispose();
  return out;
}

/** Masked average: x [B, C, N], m [B, N] -> [B, C] = sum_n x*m / max(sum_n m, eps). */
export function maskedMean(rt: Runtime, x: Tensor, m: Tensor, eps = 1e-6): Tensor {
  if (x.rank !== 3 || m.rank !== 2 || m.shape[0] !== x.shape[0] || m.shape[1] !== x.shape[2]) {
    throw new Error(`maskedMean: x ${shapeStr(x.shape)} must be [B, C, N] and m ${shapeStr(m.shape)} [B, N]`);
  }
  const [b, c, n] = x.shape;
  const y = rt.empty([b, c], 'f32', 'masked_mean');
  if (b * c > 0) {
    rt.kernel('reduce').run({
      defines: { MASKED_MEAN: 1 },
      constants: { WG },
      bindings: { x, m, y },
      params: { b, c, n, eps },
      groups: rt.groups1d(b * c, WG),
      label: 'reduce.masked_mean',
    });
  }
  return y;
}
