// Wrapper for shaders/softmax.wgsl: numerically stable softmax over the last dim with an optional
// input scale, and its backward. Variants: 'row' (one row per invocation, no barriers; software
// adapters and short rows) and 'workgroup' (one workgroup per row; hardware, long rows).

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';

export type SoftmaxVariant = 'row' | 'workgroup';

export interface SoftmaxOptions {
  /** y = softmax(scale * x). */
  scale?: number;
  /**
   * Additive mask [B or 1, n] over the last dim, B = x.shape[0] (rows of x[b] use mask row b):
   * y = softmax(scale * x + mask[b]). A row whose every entry is -inf gives zeros, not NaN. Constant:
   * the backward treats it as data (no gradient).
   */
  mask?: Tensor | null;
  /** Force a variant (default: 'row' on software adapters and for rows under 512, else 'workgroup'). */
  variant?: SoftmaxVariant;
}

const WG_ROW = 64;
const WG_ROWGROUP = 128;

function pickVariant(rt: Runtime, n: number, v?: SoftmaxVariant): SoftmaxVariant {
  if (v) return v;
  return rt.adapter.software || n < 512 ? 'row' : 'workgroup';
}

function dispatch(
  rt: Runtime,
  variant: SoftmaxVariant,
  backward: boolean,
  rows: number,
  n: number,
  scale: number,
  bindings: Record<string, Tensor>,
  maskParams: { mask_rows: number; mask_bs: number } | null = null,
): void {
  const vec4 = n % 4 === 0 && Object.values(bindings).every((t) => t.byteOffset % 16 === 0);
  const defines: Record<string, number> = {};
  if (variant === 'workgroup') defines.WORKGROUP = 1;
  if (backward) defines.BACKWARD = 1;
  if (maskParams) defines.MASK = 1;
  if (vec4) defines.VEC4 = 1;
  const wg = variant === 'workgroup' ? WG_ROWGROUP : WG_ROW;
  rt.kernel('softmax').run({
    defines,
    constants: { WG: wg },
    bindings,
    params: { rows, n, scale, ...(maskParams ?? {}) },
    groups: variant === 'workgroup' ? rt.groups1d(rows, 1) : rt.groups1d(rows, wg),
    label: `softmax${backward ? '_backward' : ''}.${variant}${vec4 ? '.vec4' : ''}`,
  });
}

/** softmax(scale * x [+ mask]) over the last dim of x (any rank >= 1). */
export function softmax(rt: Runtime, x: Tensor, opts: SoftmaxOptions = {}): Tensor {
  if (x.dtype !== 'f32') throw new Error(`softmax: expects f32, got ${x.dtype} for ${shapeStr(x.shape)}`);
  if (x.rank < 1) throw new Error(`softmax: x ${shapeStr(x.shape)} needs rank >= 1`);
  const scale = opts.scale ?? 1;
  const n = x.shape[x.rank - 1];
  const rows = n === 0 ? 0 : x.size / n;
  const variant = pickVariant(rt, n, opts.variant);
  const mask = opts.mask ?? null;
  let maskParams: { mask_rows: number; mask_bs: number } | null = null;
  if (mask) {
    const b = x.rank > 1 ? x.shape[0] : 1;
    if (mask.dtype !== 'f32' || mask.rank !== 2 || (mask.shape[0] !== b && mask.shape[0] !== 1) || mask.shape[1] !== n)
      throw new Error(
        `softmax: mask ${mask.dtype} ${shapeStr(mask.shape)} must be f32 [${b} or 1, ${n}] for x ${shapeStr(x.shape)}`,
      );
    maskParams = { mask_rows: Math.max(1, rows / b), mask_bs: mask.shape[0] === 1 ? 0 : n };
  }
  const y = rt.empty(x.shape, 'f32', 'softmax');
  if (y.size > 0) dispatch(rt, variant, false, rows, n, scale, mask ? { x, y, mask } : { x, y }, maskParams);
  if (rt.tape?.wants([x])) {
    rt.tape.record({
      op: 'softmax',
      inputs: [x],
      outputs: [y],
      saved: [y],
      backward: ([dy]) => [dy ? softmaxBackward(rt, y, dy, scale, variant) : null],
    });
  }
  return y;
}

/** dx = scale * y * (dy - sum(dy * y)) over the last dim. */
export function softmaxBackward(rt: Runtime, y: Tensor, dy: Tensor, scale = 1, variant?: SoftmaxVariant): Tensor {
  if (y.dtype !== 'f32' || dy.dtype !== 'f32')
    throw new Error(`softmax_backward: expects f32, got y ${y.dtype} and dy ${dy.dtype}`);
  if (y.size !== dy.size || y.shape[y.rank - 1] !== dy.shape[dy.rank - 1])
    throw new Error(`softmax_backward: y ${shapeStr(y.shape)} vs dy ${shapeStr(dy.shape)}`);
  const n = y.shape[y.rank - 1];
  const rows = n === 0 ? 0 : y.size / n;
  const dx = rt.empty(y.shape, 'f32', 'softmax_backward');
  if (dx.size > 0) dispatch(rt, pickVariant(rt, n, variant), true, rows, n, scale, { y, dy, dx });
  return dx;
}
