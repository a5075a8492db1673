// RobotSeg's post-processing of saved masks (guided_refine_mask, RobotSeg fork test/utils.py; rule
// book docs/reference/robotseg-architecture.md sec. 7.2 "Post-processing"): guided filters of radius 3 and 7 (eps
// 1e-3) on the frame's gray image, blended by local thickness, replace the mask inside a 7x7 band
// around its edge; the refinement is dropped when the foreground area changes by more than 3 %, and
// an empty mask is returned as is. The filter runs on the GPU (src/kernels/guided_filter.ts); the
// area check here on the read-back mask. RobotSeg applies it to every saved mask except the first
// one in processing order. Host-agnostic: no Node APIs.
import type { RgbImage } from '../image/rgb.js';
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
  const out = await refineBands(rt, img, m01);
  let area2 = 0;
  let diff = 0;
  for (let i = 0; i < out.length; i++) {
    area2 += out[i];
    if (out[i] !== m01[i]) diff++;
  }
  const areaChange = Math.abs(area2 - area) / area;
  if (areaChange > AREA_CHANGE_MAX) return { mask: m01, status: 'rejected', areaChange };
  return { mask: out, status: diff ? 'changed' : 'unchanged', areaChange };
}

/**
 * Rows of context above and below a band: the deepest dependency of an output pixel is the box mean
 * (radius 7) of the coefficients, themselves box means (radius 7) of the planes: 14 rows; the local
 * thickness reads the chamfer distance (6) through a 15x15 max (7): 13; the band 3. Outputs farther
 * than that from a band's cut see exactly the rows they would see in the whole image.
 */
export const REFINE_HALO = 16;
/** Host- and GPU-side cap of one band's largest tensor (4 f32 planes of the band's rows). */
const REFINE_BAND_BYTES = 32 * 2 ** 20;

/**
 * The refined mask before the area check, in bands of rows (with REFINE_HALO rows of context) sized so
 * that no tensor exceeds rt.maxBinding: frames of any size, equal to the one-band result.
 */
export async function refineBands(rt: Runtime, img: RgbImage, m01: Uint8Array): Promise<Uint8Array> {
  const { width: W, height: H } = img;
  const rowBytes = 16 * W; // the [4, rows, W] f32 plane stacks
  const rows = Math.floor(Math.min(rt.maxBinding, REFINE_BAND_BYTES) / rowBytes);
  const core = H <= rows ? H : rows - 2 * REFINE_HALO;
  if (core < 1)
    throw new Error(
      `guidedRefine: a ${W}-pixel-wide frame needs ${(2 * REFINE_HALO + 1) * rowBytes} bytes per band, over the binding limit ${rt.maxBinding}`,
    );
  const out = new Uint8Array(W * H);
  for (let a = 0; a < H; a += core) {
    const b = Math.min(H, a + core);
    const a0 = Math.max(0, a - REFINE_HALO);
    const b0 = Math.min(H, b + REFINE_HALO);
    const n = (b0 - a0) * W;
    const rgb = new Uint32Array(n);
    const d = img.data;
    for (let i = 0, j = 3 * a0 * W; i < n; i++, j += 3) rgb[i] = d[j] | (d[j + 1] << 8) | (d[j + 2] << 16);
    const band = await rt.scopeAsync(async () => {
      const r = guidedRefineMask(
        rt,
        rt.upload(rgb, [b0 - a0, W], 'u32', 'refine.rgb'),
        rt.upload(Uint32Array.from(m01.subarray(a0 * W, b0 * W)), [b0 - a0, W], 'u32', 'refine.mask'),
      );
      return (await rt.read(r.mask, 'raw')) as Uint32Array;
    });
    out.set(band.subarray((a - a0) * W, (b - a0) * W), a * W);
  }
  return out;
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
