// Prompt simulation of RobotSeg's VRS evaluation (test/utils.py of the RobotSeg fork; rule book:
// docs/reference/robotseg-architecture.md sec. 7.2), on binary masks [H*W] (1 = foreground), row-major:
//   centroidClick  select_interact_point_center2: the GT foreground pixel nearest (Euclidean, float64
//                  as numpy computes it) to the GT centroid (mean row, mean col); ties -> first pixel in
//                  row-major order (np.argmin over np.where order). x = column, y = row.
//   ritmClick      sample_one_point_from_error_center (RITM): exact L2 distance transform of the false-
//                  negative and false-positive regions, each padded with a 1-pixel zero border (so the
//                  image edge counts as boundary); click at the argmax (first in row-major order) of the
//                  region with the larger maximum: positive iff max_FN > max_FP strictly (float32 sqrt
//                  values, as cv2.distanceTransform(DIST_L2, 0) returns them), else negative. A perfect
//                  prediction gives a negative click at (0, 0), as the original does.
//   boxPrompt      cv2.boundingRect of the external contours of the GT: [x, y, x + w, y + h], i.e. right
//                  and bottom are one past the last foreground pixel.
//   maskIoU        cal_maskIoU: |P∩G| / (|P∪G| + 1e-6), float64 (two empty masks give 0).
// Host-agnostic: no Node APIs.

export interface BinMask {
  width: number;
  height: number;
  /** 1 = foreground, 0 = background, row-major [H*W]. */
  data: Uint8Array;
}

export interface Click {
  x: number;
  y: number;
  /** 1 = positive (foreground), 0 = negative. */
  label: 0 | 1;
}

export function isEmpty(m: BinMask): boolean {
  return !m.data.some((v) => v !== 0);
}

function checkSize(a: BinMask, b: BinMask, what: string): void {
  if (
    a.width !== b.width ||
    a.height !== b.height ||
    a.data.length !== a.width * a.height ||
    b.data.length !== b.width * b.height
  ) {
    throw new Error(
      `${what}: masks of ${a.width}x${a.height} and ${b.width}x${b.height} (data ${a.data.length}, ${b.data.length})`,
    );
  }
}

/** The 1C click: the foreground pixel nearest to the centroid (throws on an empty mask). */
export function centroidClick(gt: BinMask): Click {
  const { width: W, data } = gt;
  // np.where order is row-major; the sums are exact integers (< 2^53), so sum / n is numpy's mean.
  let n = 0;
  let sr = 0;
  let sc = 0;
  for (let i = 0; i < data.length; i++) {
    if (!data[i]) continue;
    n++;
    sr += Math.floor(i / W);
    sc += i % W;
  }
  if (n === 0) throw new Error('centroidClick: the mask is empty');
  const mr = sr / n;
  const mc = sc / n;
  let best = Infinity;
  let bi = -1;
  for (let i = 0; i < data.length; i++) {
    if (!data[i]) continue;
    const dr = Math.floor(i / W) - mr;
    const dc = (i % W) - mc;
    const d = Math.sqrt(dr * dr + dc * dc); // np.sqrt((rows - mean_row) ** 2 + (cols - mean_col) ** 2)
    if (d < best) {
      best = d;
      bi = i;
    } // strict: the first minimum wins (np.argmin)
  }
  return { x: bi % W, y: Math.floor(bi / W), label: 1 };
}

/**
 * Exact squared Euclidean distance from every pixel to the nearest 0 pixel, pixels outside the image
 * counting as 0 (the RITM 1-pixel zero border). Felzenszwalb-Huttenlocher: a column pass, then the
 * lower envelope of parabolas along each row, with intersections compared as exact fractions.
 */
export function edtSquared(mask: BinMask): Float64Array {
  const { width: W, height: H, data } = mask;
  const g = new Float64Array(W * H);
  // column pass: distance to the nearest 0 in the column, the border rows -1 and H being 0
  for (let x = 0; x < W; x++) {
    let d = 0;
    for (let y = 0; y < H; y++) {
      d = data[y * W + x] ? d + 1 : 0;
      g[y * W + x] = d;
    }
    d = 0;
    for (let y = H - 1; y >= 0; y--) {
      d = data[y * W + x] ? d + 1 : 0;
      const i = y * W + x;
      if (d < g[i]) g[i] = d;
    }
  }
  // row pass on f(q) = g(q)^2 over q = -1 .. W (the border columns are 0)
  const n = W + 2;
  const f = new Float64Array(n);
  const v = new Int32Array(n);
  const zNum = new Float64Array(n + 1); // envelope boundaries z[k] = zNum / zDen (zDen > 0)
  const zDen = new Float64Array(n + 1);
  const out = new Float64Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let q = 0; q < n; q++) {
      const x = q - 1;
      f[q] = x < 0 || x >= W ? 0 : g[y * W + x] * g[y * W + x];
    }
    let k = 0;
    v[0] = 0;
    zNum[0] = -1;
    zDen[0] = 0; // -inf
    zNum[1] = 1;
    zDen[1] = 0; // +inf
    for (let q = 1; q < n; q++) {
      for (;;) {
        const p = v[k];
        // intersection s = ((f[q] + q^2) - (f[p] + p^2)) / (2 (q - p)); integers, exact in float64
        const sNum = f[q] + q * q - (f[p] + p * p);
        const sDen = 2 * (q - p);
        if (lessEq(sNum, sDen, zNum[k], zDen[k])) {
          k--;
          continue;
        }
        k++;
        v[k] = q;
        zNum[k] = sNum;
        zDen[k] = sDen;
        zNum[k + 1] = 1;
        zDen[k + 1] = 0;
        break;
      }
    }
    k = 0;
    for (let q = 0; q < n; q++) {
      while (less(zNum[k + 1], zDen[k + 1], q, 1)) k++; // z[k+1] < q
      const x = q - 1;
      if (x >= 0 && x < W) {
        const p = v[k];
        out[y * W + x] = (q - p) * (q - p) + f[p];
      }
    }
  }
  return out;
}

/** a/b <= c/d for b, d >= 0 where a denominator 0 means +-infinity by the sign of the numerator. */
function lessEq(a: number, b: number, c: number, d: number): boolean {
  return !less(c, d, a, b);
}

function less(a: number, b: number, c: number, d: number): boolean {
  if (b === 0 && d === 0) return a < 0 && c > 0;
  if (b === 0) return a < 0;
  if (d === 0) return c > 0;
  return a * d < c * b;
}

/** Float32 distances as cv2.distanceTransform(DIST_L2, DIST_MASK_PRECISE) gives them, and their first argmax. */
function maxDistance(region: BinMask): { max: number; index: number } {
  const d2 = edtSquared(region);
  let max = -1;
  let index = 0;
  for (let i = 0; i < d2.length; i++) {
    const d = Math.fround(Math.sqrt(d2[i]));
    if (d > max) {
      max = d;
      index = i;
    }
  }
  return { max, index };
}

/** The next RITM click from the current error of `pred` against `gt`. */
export function ritmClick(gt: BinMask, pred: BinMask): Click {
  checkSize(gt, pred, 'ritmClick');
  const n = gt.data.length;
  const fn = new Uint8Array(n);
  const fp = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const g = gt.data[i] !== 0;
    const p = pred.data[i] !== 0;
    fn[i] = g && !p ? 1 : 0;
    fp[i] = !g && p ? 1 : 0;
  }
  const a = maxDistance({ width: gt.width, height: gt.height, data: fn });
  const b = maxDistance({ width: gt.width, height: gt.height, data: fp });
  const positive = a.max > b.max;
  const i = positive ? a.index : b.index;
  return { x: i % gt.width, y: Math.floor(i / gt.width), label: positive ? 1 : 0 };
}

/** The BB prompt [x0, y0, x1, y1] with x1, y1 one past the last foreground pixel (throws on empty). */
export function boxPrompt(gt: BinMask): [number, number, number, number] {
  const { width: W, height: H, data } = gt;
  let x0 = W,
    y0 = H,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!data[y * W + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) throw new Error('boxPrompt: the mask is empty');
  return [x0, y0, x1 + 1, y1 + 1];
}

/** cal_maskIoU: intersection / (union + 1e-6) in float64. */
export function maskIoU(pred: BinMask, gt: BinMask): number {
  checkSize(pred, gt, 'maskIoU');
  let inter = 0;
  let union = 0;
  for (let i = 0; i < gt.data.length; i++) {
    const p = pred.data[i] !== 0;
    const g = gt.data[i] !== 0;
    if (p && g) inter++;
    if (p || g) union++;
  }
  return inter / (union + 1e-6);
}

/** np.argmax: index of the first maximum. */
export function argmaxFirst(values: readonly number[]): number {
  let bi = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[bi]) bi = i;
  return bi;
}
