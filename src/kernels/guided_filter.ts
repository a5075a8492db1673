// Wrapper for shaders/guided_filter.wgsl: RobotSeg's guided-filter refinement of one mask (see the
// shader header for the passes; CPU reference test/ref/guided_filter.ts). The area check (keep the
// input when the foreground changes by more than 3 %) needs two counts and is done by the caller on
// the read-back mask (src/model/refine.ts).
import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';

const WG = 64;
/** Radii of the two guided filters, their eps, the band half-width and the thickness window (utils.py defaults). */
export const GF_SMALL = 3;
export const GF_LARGE = 7;
export const GF_EPS = 1e-3;
const BAND = 3;

const lutCache = new WeakMap<Runtime, Tensor>();
/** float32(g / 255) for g = 0..255, as numpy computes gray.astype(float32) / 255. */
function grayLut(rt: Runtime): Tensor {
  let t = lutCache.get(rt);
  if (!t) {
    // untracked: a scope around the first call must not dispose the cached table
    t = untrack(
      rt.upload(
        Float32Array.from({ length: 256 }, (_, g) => Math.fround(g / 255)),
        [256],
        'f32',
        'guided_filter.lut',
      ),
    );
    lutCache.set(rt, t);
  }
  return t;
}

export interface GuidedRefineOutputs {
  /** u32 [H, W]: the refined mask (0/1) before the area check. */
  mask: Tensor;
  /** f32 [3, H, W]: the blended filter output, then the radius-3 and radius-7 guided filter outputs. */
  soft: Tensor;
  /** f32 [4, H, W]: chamfer distance (capped at 7), its 15x15 max (capped), 7x7 dilation and erosion of the mask. */
  aux: Tensor;
}

/**
 * Refine a mask: rgb u32 [H, W] (r | g<<8 | b<<16), mask u32 [H, W] (nonzero = foreground). Returns
 * new tensors (caller disposes).
 */
export function guidedRefineMask(rt: Runtime, rgb: Tensor, mask: Tensor): GuidedRefineOutputs {
  if (rgb.dtype !== 'u32' || mask.dtype !== 'u32')
    throw new Error(`guidedRefineMask: rgb and mask must be u32 (got ${rgb.dtype}, ${mask.dtype})`);
  if (rgb.rank !== 2 || mask.rank !== 2 || rgb.shape[0] !== mask.shape[0] || rgb.shape[1] !== mask.shape[1]) {
    throw new Error(
      `guidedRefineMask: rgb ${shapeStr(rgb.shape)} and mask ${shapeStr(mask.shape)} must be equal [H, W]`,
    );
  }
  const [h, w] = mask.shape;
  const hw = h * w;
  const k = rt.kernel('guided_filter');
  const out = rt.empty([h, w], 'u32', 'guided_filter.mask');
  const soft = rt.empty([3, h, w], 'f32', 'guided_filter.soft');
  const aux = rt.empty([4, h, w], 'f32', 'guided_filter.aux');
  if (hw === 0) return { mask: out, soft, aux };
  const planes = rt.empty([4, h, w], 'f32', 'guided_filter.planes');
  const tmp = rt.empty([4, h, w], 'f32', 'guided_filter.tmp');
  const means = rt.empty([4, h, w], 'f32', 'guided_filter.means');
  const ab = rt.empty([4, h, w], 'f32', 'guided_filter.ab');
  const abm = rt.empty([4, h, w], 'f32', 'guided_filter.ab_means');
  const px = rt.groups1d(hw, WG);
  k.run({
    defines: { GRAY: 1 },
    constants: { WG },
    bindings: { rgb, mask, lut: grayLut(rt), planes },
    params: { hw },
    groups: px,
    label: 'guided_filter.gray',
  });

  /** Box means of planes [sb, sb + n) of src into [db, db + n) of dst, radius r (tmp holds the row sums). */
  const box = (src: Tensor, sb: number, dst: Tensor, db: number, n: number, r: number) => {
    k.run({
      defines: { LINES: 1 },
      constants: { WG },
      bindings: { src, dst: tmp },
      params: { h, w, k: n, r, src_base: sb, dst_base: 0, scale: 1 },
      groups: rt.groups1d(n * h, WG),
      label: `guided_filter.box_rows r=${r}`,
    });
    const scale = Math.fround(1 / ((2 * r + 1) * (2 * r + 1)));
    k.run({
      defines: { LINES: 1, COLS: 1 },
      constants: { WG },
      bindings: { src: tmp, dst },
      params: { h, w, k: n, r, src_base: 0, dst_base: db, scale },
      groups: rt.groups1d(n * w, WG),
      label: `guided_filter.box_cols r=${r}`,
    });
  };
  for (const [r, dstBase] of [
    [GF_SMALL, 0],
    [GF_LARGE, 2],
  ] as const) {
    box(planes, 0, means, 0, 4, r);
    k.run({
      defines: { COEF: 1 },
      constants: { WG },
      bindings: { means, ab },
      params: { hw, eps: GF_EPS, dst_base: dstBase },
      groups: px,
      label: `guided_filter.coef r=${r}`,
    });
    box(ab, dstBase, abm, dstBase, 2, r);
  }
  // local thickness: chamfer distance, then its (2 * 7 + 1)^2 max; band: 7x7 dilation and erosion of the mask
  k.run({
    defines: { CHAMFER: 1 },
    constants: { WG },
    bindings: { planes, dst: aux },
    params: { h, w, p_plane: 2, dst_plane: 0 },
    groups: px,
    label: 'guided_filter.chamfer',
  });
  const morph = (op: 'max' | 'min', src: Tensor, sb: number, db: number, r: number) => {
    const defines: Record<string, number> = { LINES: 1, MORPH: 1, ...(op === 'min' ? { MIN: 1 } : {}) };
    k.run({
      defines,
      constants: { WG },
      bindings: { src, dst: tmp },
      params: { h, w, k: 1, r, src_base: sb, dst_base: 0, scale: 1 },
      groups: rt.groups1d(h, WG),
      label: `guided_filter.${op}_rows r=${r}`,
    });
    k.run({
      defines: { ...defines, COLS: 1 },
      constants: { WG },
      bindings: { src: tmp, dst: aux },
      params: { h, w, k: 1, r, src_base: 0, dst_base: db, scale: 1 },
      groups: rt.groups1d(w, WG),
      label: `guided_filter.${op}_cols r=${r}`,
    });
  };
  morph('max', aux, 0, 1, GF_LARGE);
  morph('max', planes, 2, 2, BAND);
  morph('min', planes, 2, 3, BAND);
  k.run({
    defines: { FINAL: 1 },
    constants: { WG },
    bindings: { planes, abm, aux, out, soft },
    params: { hw },
    groups: px,
    label: 'guided_filter.final',
  });
  for (const t of [planes, tmp, means, ab, abm]) t.dispose();
  return { mask: out, soft, aux };
}
