// Region similarity J and boundary F-measure exactly as the DAVIS 2017 toolkit computes them
// (davis2017/metrics.py: db_eval_iou, f_measure, _seg2bmap), split in two halves so the GPU can
// do the first one bit-identically:
//   1. integer counts per (frame, object): |P∩G|, |P|, |G|, |B_P|, |B_G|, |B_P ∧ dil(B_G)|,
//      |B_G ∧ dil(B_P)| (B = seg2bmap boundary, dil = binary dilation with a disk of radius r);
//   2. float64 arithmetic on those counts (J, precision, recall, F), always on the host.
// Facts matched (see docs/eval.md): r = ceil(0.008 * sqrt(H^2 + W^2)); disk = {dx^2 + dy^2 <= r^2};
// pixels outside the image count as 0 for dilation; no thinning; empty-mask rules of f_measure.
//
// Fast CPU counting: instead of dilating whole images, for every row we store the horizontal
// distance to the nearest boundary pixel of that row (capped at r + 1). A boundary pixel (x, y) of
// P is matched iff some row y + dy (|dy| <= r) has a G boundary pixel within hw(dy) columns, where
// hw(dy) = floor(sqrt(r^2 - dy^2)) is the disk's half width on that row. That is exactly
// dilate(B_G, disk)[y, x] and costs O(H*W + |B|*(2r+1)).

import type { LabelMap } from './labels.js';

/** Integer counts for one object in one frame (P = prediction, G = ground truth). */
export interface JfCounts {
  /** |P ∩ G| */
  inter: number;
  /** |P| */
  sumP: number;
  /** |G| */
  sumG: number;
  /** |B_P|: boundary pixels of the prediction (n_fg in the toolkit). */
  nP: number;
  /** |B_G| (n_gt). */
  nG: number;
  /** |B_P ∧ dilate(B_G)| (sum of fg_match). */
  matchP: number;
  /** |B_G ∧ dilate(B_P)| (sum of gt_match). */
  matchG: number;
}

/** Order of the counts in flat arrays (GPU output rows are padded to COUNT_STRIDE). */
export const COUNT_FIELDS = ['inter', 'sumP', 'sumG', 'nP', 'nG', 'matchP', 'matchG'] as const;
export const COUNT_STRIDE = 8;

/** Default boundary tolerance of every evaluator: 0.8 % of the image diagonal. */
export const BOUND_TH = 0.008;

/**
 * Dilation radius in pixels: bound_th >= 1 is a pixel count (as the toolkit), otherwise
 * ceil(bound_th * ||(H, W)||) with numpy's norm = sqrt(H*H + W*W) (not hypot, to match bit for bit).
 */
export function boundPix(height: number, width: number, boundTh = BOUND_TH): number {
  if (boundTh >= 1) return Math.ceil(boundTh);
  return Math.ceil(boundTh * Math.sqrt(height * height + width * width));
}

/**
 * Half widths of skimage.morphology.disk(r): entry dy + r is the largest dx with dx^2 + dy^2 <= r^2
 * (integer arithmetic, so no float rounding at the rim).
 */
export function diskHalfWidths(r: number): Int32Array {
  const hw = new Int32Array(2 * r + 1);
  for (let dy = -r; dy <= r; dy++) {
    let dx = Math.floor(Math.sqrt(r * r - dy * dy));
    while (dx * dx + dy * dy > r * r) dx--;
    while ((dx + 1) * (dx + 1) + dy * dy <= r * r) dx++;
    hw[dy + r] = dx;
  }
  return hw;
}

/** Number of pixels of the disk of radius r (r=1 -> 5, r=2 -> 13, r=3 -> 29). */
export function diskArea(r: number): number {
  let n = 0;
  for (const h of diskHalfWidths(r)) n += 2 * h + 1;
  return n;
}

/**
 * seg2bmap (D. Martin, BSDS): a pixel is boundary when it differs from its east, south or
 * south-east neighbour; the last row only compares east, the last column only south, and the
 * bottom-right pixel is never boundary. `s` holds 0/1 per pixel, row-major H x W.
 */
export function seg2bmap(s: Uint8Array, h: number, w: number): Uint8Array {
  const b = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const v = s[row + x];
      let out: number;
      if (y === h - 1 && x === w - 1) out = 0;
      else if (x === w - 1) out = v ^ s[row + w + x];
      else if (y === h - 1) out = v ^ s[row + x + 1];
      else out = (v ^ s[row + x + 1]) | (v ^ s[row + w + x]) | (v ^ s[row + w + x + 1]);
      b[row + x] = out;
    }
  }
  return b;
}

/** Per row, horizontal distance to the nearest set pixel of `b` in the same row, capped at `cap`. */
export function rowDistances(b: Uint8Array, h: number, w: number, cap: number): Uint16Array {
  const d = new Uint16Array(h * w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let last = -1;
    for (let x = 0; x < w; x++) {
      if (b[row + x]) last = x;
      d[row + x] = last < 0 ? cap : Math.min(cap, x - last);
    }
    last = -1;
    for (let x = w - 1; x >= 0; x--) {
      if (b[row + x]) last = x;
      if (last >= 0) d[row + x] = Math.min(d[row + x], last - x);
    }
  }
  return d;
}

/** Counts for one binary prediction / ground-truth pair (0/1 bytes, H x W) at dilation radius r. */
export function countsFromBinary(p: Uint8Array, g: Uint8Array, h: number, w: number, r: number): JfCounts {
  let inter = 0,
    sumP = 0,
    sumG = 0;
  for (let i = 0; i < h * w; i++) {
    inter += p[i] & g[i];
    sumP += p[i];
    sumG += g[i];
  }
  const bp = seg2bmap(p, h, w);
  const bg = seg2bmap(g, h, w);
  const hw = diskHalfWidths(r);
  const dp = rowDistances(bp, h, w, r + 1);
  const dg = rowDistances(bg, h, w, r + 1);
  let nP = 0,
    nG = 0,
    matchP = 0,
    matchG = 0;
  const within = (dist: Uint16Array, x: number, y: number) => {
    for (let dy = -r; dy <= r; dy++) {
      const yy = y + dy;
      if (yy >= 0 && yy < h && dist[yy * w + x] <= hw[dy + r]) return 1;
    }
    return 0;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (bp[i]) {
        nP++;
        matchP += within(dg, x, y);
      }
      if (bg[i]) {
        nG++;
        matchG += within(dp, x, y);
      }
    }
  }
  return { inter, sumP, sumG, nP, nG, matchP, matchG };
}

/** Counts for each id of `ids` (object = pixels equal to the id) in one frame. */
export function countsForIds(pred: LabelMap, gt: LabelMap, ids: readonly number[], r: number): JfCounts[] {
  checkSameSize(pred, gt);
  const n = gt.width * gt.height;
  return ids.map((id) => {
    const p = new Uint8Array(n);
    const g = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      p[i] = pred.data[i] === id ? 1 : 0;
      g[i] = gt.data[i] === id ? 1 : 0;
    }
    return countsFromBinary(p, g, gt.height, gt.width, r);
  });
}

export function checkSameSize(pred: LabelMap, gt: LabelMap, what = 'prediction'): void {
  if (pred.width !== gt.width || pred.height !== gt.height) {
    throw new Error(
      `${what} is ${pred.width}x${pred.height} but the ground truth is ${gt.width}x${gt.height} (the evaluators never resize)`,
    );
  }
}

/** J = |P∩G| / |P∪G|; 1 when both masks are empty (db_eval_iou; SA-V's get_iou is the same number). */
export function jaccard(c: JfCounts): number {
  const union = c.sumP + c.sumG - c.inter;
  return union === 0 ? 1 : c.inter / union;
}

/** Boundary precision and recall with f_measure's empty-boundary rules. */
export function precisionRecall(c: JfCounts): { precision: number; recall: number } {
  if (c.nP === 0 && c.nG > 0) return { precision: 1, recall: 0 };
  if (c.nP > 0 && c.nG === 0) return { precision: 0, recall: 1 };
  if (c.nP === 0 && c.nG === 0) return { precision: 1, recall: 1 };
  return { precision: c.matchP / c.nP, recall: c.matchG / c.nG };
}

/** F = 2PR / (P + R), 0 when P + R = 0 (same float64 operation order as the toolkit). */
export function boundaryF(c: JfCounts): number {
  const { precision, recall } = precisionRecall(c);
  if (precision + recall === 0) return 0;
  return (2 * precision * recall) / (precision + recall);
}

/** Counts of entry k of a flat array with COUNT_STRIDE values per entry (the GPU output layout). */
export function countsFromFlat(flat: ArrayLike<number>, k: number): JfCounts {
  const o = k * COUNT_STRIDE;
  return {
    inter: flat[o],
    sumP: flat[o + 1],
    sumG: flat[o + 2],
    nP: flat[o + 3],
    nG: flat[o + 4],
    matchP: flat[o + 5],
    matchG: flat[o + 6],
  };
}
