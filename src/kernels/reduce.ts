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
  if (a < 0 || count < 0 || a + count > r0)
    throw new Error(`reduce ${op}: axes [${axis}, ${axis}+${count}) outside rank ${r0} of ${shapeStr(x.shape)}`);
  const outer = numel(x.shape.slice(0, a));
  const r = numel(x.shape.slice(a, a + count));
  const inner = numel(x.shape.slice(a + count));
  if ((op === 'max' || op === 'min') && r === 0 && outer * inner > 0)
    throw new Error(`reduce ${op}: empty reduction over ${shapeStr(x.shape)}`);
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
      op: `reduce_${op}`,
      inputs: [x],
      outputs: [y],
      saved: [],
      backward: ([dy]) => [
        dy
          ? expandAlong(rt, dy, [outer, 1, inner], [outer, r, inner], x.shape, op === 'mean' ? 1 / Math.max(r, 1) : 1)
          : null,
      ],
    });
  }
  return y;
}

/**
 * Backward of sum / mean: dy [outer, 1, inner] broadcast to [outer, r, inner] times scale, reshaped
 * to `shape` (reduce.wgsl EXPAND).
 */
function expandAlong(
  rt: Runtime,
  dy: Tensor,
  from: number[],
  to: number[],
  shape: readonly number[],
  scale: number,
): Tensor {
  const [outer, r, inner] = to;
  if (dy.size !== from[0] * from[2])
    throw new Error(`reduce backward: dy ${shapeStr(dy.shape)} is not ${shapeStr(from)}`);
  const y = rt.empty(shape, 'f32', 'reduce_backward');
  if (y.size > 0) {
    rt.kernel('reduce').run({
      defines: { EXPAND: 1 },
      constants: { WG },
      bindings: { x: dy, y },
      params: { outer, r, inner, scale },
      groups: rt.groups1d(y.size, WG),
      label: 'reduce.expand',
    });
  }
  return y;
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

/**
 * Masked average: x [B, C, N], m [B, N] -> [B, C] = sum_n x*m / max(sum_n m, eps) (RobotSeg's
 * masked_avg_feat). Records its backward for both x (features) and m (the soft mask).
 */
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
  if (rt.tape?.wants([x, m])) {
    rt.tape.record({
      op: 'masked_mean',
      inputs: [x, m],
      outputs: [y],
      saved: [x, m, y],
      backward: ([dy]) => {
        if (!dy) return [null, null];
        const g = maskedMeanBackward(rt, x, m, y, dy, eps);
        return [g.dx, g.dm];
      },
    });
  }
  return y;
}

/**
 * Gradients of maskedMean given its output y and dy [B, C]:
 *   dx[b,c,n] = dy[b,c] m[b,n] / D_b,   dm[b,n] = (sum_c dy[b,c] x[b,c,n] - [S_b >= eps] sum_c dy[b,c] y[b,c]) / D_b
 * with S_b = sum_n m[b,n], D_b = max(S_b, eps) (torch's clamp_min passes the gradient where S_b >= eps).
 */
export function maskedMeanBackward(
  rt: Runtime,
  x: Tensor,
  m: Tensor,
  y: Tensor,
  dy: Tensor,
  eps = 1e-6,
): { dx: Tensor; dm: Tensor } {
  const [b, c, n] = x.shape;
  if (x.rank !== 3 || m.size !== b * n || y.size !== b * c || dy.size !== b * c) {
    throw new Error(
      `maskedMeanBackward: x ${shapeStr(x.shape)} [B, C, N], m ${shapeStr(m.shape)} [B, N], y ${shapeStr(y.shape)} and dy ${shapeStr(dy.shape)} [B, C] do not agree`,
    );
  }
  for (const t of [x, m, y, dy])
    if (t.dtype !== 'f32') throw new Error(`maskedMeanBackward: expects f32, got ${t.dtype} for ${t}`);
  const dx = rt.empty(x.shape, 'f32', 'masked_mean_backward.dx');
  const dm = rt.empty(m.shape, 'f32', 'masked_mean_backward.dm');
  if (b === 0) return { dx, dm };
  const stats = rt.empty([b, 2], 'f32', 'masked_mean_backward.stats');
  const run = (stage: string, bindings: Record<string, Tensor>, params: Record<string, number>, count: number) =>
    rt.kernel('reduce').run({
      defines: { MASKED_MEAN_GRAD: 1, [stage]: 1 },
      constants: { WG },
      bindings,
      params,
      groups: rt.groups1d(count, WG),
      label: `reduce.masked_mean_backward.${stage.toLowerCase()}`,
    });
  run('STATS', { m, y, dy, stats }, { b, c, n, eps }, b);
  if (b * c * n > 0) run('DX', { m, dy, stats, dx }, { b, c, n }, b * c * n);
  if (b * n > 0) run('DM', { x, dy, stats, dm }, { b, c, n }, b * n);
  stats.dispose();
  return { dx, dm };
}

/**
 * One-hot argmax along `axis` (reduce.wgsl ARGMAX): y has x's shape, 1 at the first maximum of
 * x[..., lo:, ...] along the axis and 0 elsewhere (indices below `lo` included). Host decisions such as
 * "best IoU of the multimask outputs" stay on the GPU: the one-hot row is a matmul weight.
 */
export function argmaxOneHot(rt: Runtime, x: Tensor, axis: number, lo = 0): Tensor {
  if (x.dtype !== 'f32') throw new Error(`argmaxOneHot: expects f32, got ${x.dtype}`);
  const a = axis < 0 ? axis + x.rank : axis;
  if (a < 0 || a >= x.rank)
    throw new Error(`argmaxOneHot: axis ${axis} outside rank ${x.rank} of ${shapeStr(x.shape)}`);
  const outer = numel(x.shape.slice(0, a));
  const r = x.shape[a];
  const inner = numel(x.shape.slice(a + 1));
  if (!(Number.isInteger(lo) && lo >= 0 && (lo < r || outer * inner === 0)))
    throw new Error(`argmaxOneHot: start ${lo} outside the ${r} entries of axis ${axis} of ${shapeStr(x.shape)}`);
  const y = rt.empty(x.shape, 'f32', 'reduce_argmax');
  if (outer * inner > 0) {
    rt.kernel('reduce').run({
      defines: { ARGMAX: 1 },
      constants: { WG },
      bindings: { x, y },
      params: { outer, r, inner, lo },
      groups: rt.groups1d(outer * inner, WG),
      label: 'reduce.argmax',
    });
  }
  return y;
}

/**
 * NaN/Inf count of raw words: x is a u32 view [outer * r] of f32 values (or, with `half`, of f16
 * pairs); returns y [outer] (u32), y[o] = non-finite values among words [o*r, (o+1)*r).
 */
export function countNonFinite(rt: Runtime, x: Tensor, r: number, half = false): Tensor {
  if (x.dtype !== 'u32') throw new Error(`countNonFinite: expects a u32 view of the raw words, got ${x.dtype}`);
  if (!(Number.isInteger(r) && r >= 1) || x.size % r !== 0)
    throw new Error(`countNonFinite: ${x.size} words are not rows of ${r}`);
  const outer = x.size / r;
  const y = rt.empty([outer], 'u32', 'reduce_nonfinite');
  if (outer > 0) {
    rt.kernel('reduce').run({
      defines: { NONFINITE: 1, ...(half ? { HALF: 1 } : {}) },
      constants: { WG },
      bindings: { x, y },
      params: { outer, r },
      groups: rt.groups1d(outer, WG),
      label: `reduce.nonfinite${half ? '_f16' : ''}`,
    });
  }
  return y;
}
