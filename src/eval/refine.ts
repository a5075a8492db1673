// RobotSeg's post-processing of saved masks (guided_refine_mask, RobotSeg fork test/utils.py; rule
// book robotseg-architecture.md sec. 7.2 "Post-processing"): guided filters of radius 3 and 7 (eps
// 1e-3) on the frame's gray image, blended by local thickness, replace the mask inside a 7x7 band
// around its edge; the refinement is dropped when the foreground area changes by more than 3 %, and
// an empty mask is returned as is. The filter runs on the GPU (src/kernels/guided_filter.ts); the
// area check here on the read-back mask. RobotSeg applies it to every saved mask except the first
// one in processing order. Host-agnostic: no Node APIs.
import type { RgbImage } from '../graph/image.js';
import type { Runtime } from '../graph/runtime.js';
import { guidedRefineMask } from '../kernels/guided_filter.js';

/** Largest relative change of the foreground area that is accepted. */
export const AREA_CHANGE_MAX = 0.03;

/** What the refinement did to one mask. */
export type RefineStatus = 'changed' | 'unchanged' | 'rejected' | 'empty';

/** Refine a 0/1 mask [H*W] of `img`; returns a new 0/1 mask (the input's copy when rejected or empty). */
export async function guidedRefine(rt: Runtime, img: RgbImage, mask: Uint8Array): Promise<Uint8Array> {
  return (await guidedRefineDetailed(rt, img, mask)).mask;
}

/** guidedRefine with what happened: the relative area change of the refined mask and the outcome. */
export async function guidedRefineDetailed(
  rt: Runtime,
  img: RgbImage,
  mask: Uint8Array,
): Promise<{ mask: Uint8Array; status: RefineStatus; areaChange: number }> {
  const { width: W, height: H } = img;
  if (mask.length !== W * H) throw new Error(`guidedRefine: mask has ${mask.length} pixels, the image is ${W}x${H}`);
  let area = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) area++;
  const m01 = Uint8Array.from(mask, (v) => (v ? 1 : 0));
  if (area === 0) return { mask: m01, status: 'empty', areaChange: 0 };
  const rgb = new Uint32Array(W * H);
  for (let i = 0; i < rgb.length; i++)
    rgb[i] = img.data[3 * i] | (img.data[3 * i + 1] << 8) | (img.data[3 * i + 2] << 16);
  const out = await rt.scopeAsync(async () => {
    const r = guidedRefineMask(
      rt,
      rt.upload(rgb, [H, W], 'u32', 'refine.rgb'),
      rt.upload(Uint32Array.from(m01), [H, W], 'u32', 'refine.mask'),
    );
    return (await rt.read(r.mask, 'raw')) as Uint32Array;
  });
  let area2 = 0;
  let diff = 0;
  for (let i = 0; i < out.length; i++) {
    area2 += out[i];
    if (out[i] !== m01[i]) diff++;
  }
  const areaChange = Math.abs(area2 - area) / area;
  if (areaChange > AREA_CHANGE_MAX) return { mask: m01, status: 'rejected', areaChange };
  return { mask: Uint8Array.from(out), status: diff ? 'changed' : 'unchanged', areaChange };
}

/** Counts of refinement outcomes, for logs and JSON. */
export class RefineStats {
  readonly counts: Record<RefineStatus, number> = { changed: 0, unchanged: 0, rejected: 0, empty: 0 };

  add(s: RefineStatus): void {
    this.counts[s]++;
  }

  toString(): string {
    const c = this.counts;
    const n = c.changed + c.unchanged + c.rejected + c.empty;
    return (
      `guided-filter refinement of ${n} mask${n === 1 ? '' : 's'}: ${c.changed} changed, ${c.unchanged} unchanged, ` +
      `${c.rejected} kept as they were (area change > ${AREA_CHANGE_MAX * 100} %), ${c.empty} empty`
    );
  }
}
