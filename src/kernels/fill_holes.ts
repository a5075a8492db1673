// Wrapper for shaders/fill_holes.wgsl: sam2's hole filling (and sprinkle removal) on logits.
import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';

const WG = 64;
/** The per-invocation visited list is a private array; keep it small. */
export const MAX_FILL_AREA = 1024;

/**
 * Components (8-connected) of `logits <= 0` (or `> 0` with foreground) with area <= maxArea, per
 * [H, W] map (leading dims are maps), set to `value`. sam2 video: maxArea 8, value 0.1.
 */
export function fillHoles(
  rt: Runtime,
  x: Tensor,
  maxArea: number,
  opts: { value?: number; foreground?: boolean } = {},
): Tensor {
  if (x.rank < 2) throw new Error(`fillHoles: ${shapeStr(x.shape)} needs at least [H, W]`);
  if (!Number.isInteger(maxArea) || maxArea < 1 || maxArea > MAX_FILL_AREA)
    throw new Error(`fillHoles: max area ${maxArea} must be an integer in [1, ${MAX_FILL_AREA}]`);
  const h = x.shape[x.rank - 2];
  const w = x.shape[x.rank - 1];
  const b = x.size / Math.max(h * w, 1);
  const value = opts.value ?? (opts.foreground ? -10 : 0.1);
  const y = rt.empty(x.shape, 'f32', 'fill_holes');
  if (x.size > 0) {
    rt.kernel('fill_holes').run({
      defines: { MAXA1: maxArea + 1, FOREGROUND: opts.foreground ? 1 : 0 },
      constants: { WG },
      bindings: { x, y },
      params: { b, h, w, max_area: maxArea, value },
      groups: rt.groups1d(x.size, WG),
      label: 'fill_holes',
    });
  }
  return y;
}
