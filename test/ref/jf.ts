// Plain reference of the DAVIS 2017 J&F counts, a line-by-line transcription of davis2017/metrics.py
// (db_eval_iou, f_measure, _seg2bmap) with skimage.morphology.disk and cv2.dilate written out as
// loops. Slow (O(H*W*r^2)) and written for clarity; the fast CPU path (src/eval/jf.ts) and the GPU
// kernel (shaders/jf.wgsl) are checked against it.

export interface RefCounts {
  inter: number;
  sumP: number;
  sumG: number;
  nP: number;
  nG: number;
  matchP: number;
  matchG: number;
}

/** skimage.morphology.disk(r): X, Y = meshgrid(arange(-r, r+1)); X**2 + Y**2 <= r**2. */
export function diskRef(r: number): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r) pts.push([dy, dx]);
  return pts;
}

/** _seg2bmap with e, s, se shifted copies exactly as numpy builds them. */
export function seg2bmapRef(seg: Uint8Array, h: number, w: number): Uint8Array {
  const at = (a: Uint8Array, y: number, x: number) => a[y * w + x];
  const e = new Uint8Array(h * w),
    s = new Uint8Array(h * w),
    se = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (x < w - 1) e[y * w + x] = at(seg, y, x + 1); // e[:, :-1] = seg[:, 1:]
      if (y < h - 1) s[y * w + x] = at(seg, y + 1, x); // s[:-1, :] = seg[1:, :]
      if (x < w - 1 && y < h - 1) se[y * w + x] = at(seg, y + 1, x + 1); // se[:-1, :-1] = seg[1:, 1:]
    }
  }
  const b = new Uint8Array(h * w);
  for (let i = 0; i < h * w; i++) b[i] = (seg[i] ^ e[i]) | (seg[i] ^ s[i]) | (seg[i] ^ se[i]);
  for (let x = 0; x < w; x++) b[(h - 1) * w + x] = seg[(h - 1) * w + x] ^ e[(h - 1) * w + x]; // b[-1, :]
  for (let y = 0; y < h; y++) b[y * w + w - 1] = seg[y * w + w - 1] ^ s[y * w + w - 1]; // b[:, -1]
  b[h * w - 1] = 0; // b[-1, -1]
  return b;
}

/** cv2.dilate(b, disk): max over the structuring element, pixels outside the image ignored. */
export function dilateRef(b: Uint8Array, h: number, w: number, r: number): Uint8Array {
  const out = new Uint8Array(h * w);
  const disk = diskRef(r);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (const [dy, dx] of disk) {
        const yy = y + dy,
          xx = x + dx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w && b[yy * w + xx]) {
          out[y * w + x] = 1;
          break;
        }
      }
    }
  }
  return out;
}

export function countsRef(p: Uint8Array, g: Uint8Array, h: number, w: number, r: number): RefCounts {
  let inter = 0,
    sumP = 0,
    sumG = 0;
  for (let i = 0; i < h * w; i++) {
    inter += p[i] && g[i] ? 1 : 0;
    sumP += p[i] ? 1 : 0;
    sumG += g[i] ? 1 : 0;
  }
  const fgB = seg2bmapRef(p, h, w);
  const gtB = seg2bmapRef(g, h, w);
  const fgDil = dilateRef(fgB, h, w, r);
  const gtDil = dilateRef(gtB, h, w, r);
  let nP = 0,
    nG = 0,
    matchP = 0,
    matchG = 0;
  for (let i = 0; i < h * w; i++) {
    nP += fgB[i];
    nG += gtB[i];
    matchP += fgB[i] & gtDil[i]; // fg_match = fg_boundary * gt_dil
    matchG += gtB[i] & fgDil[i]; // gt_match = gt_boundary * fg_dil
  }
  return { inter, sumP, sumG, nP, nG, matchP, matchG };
}

/** db_eval_iou and f_measure on the counts (float64, the toolkit's operation order). */
export function jfRef(c: RefCounts): { J: number; F: number } {
  const union = c.sumP + c.sumG - c.inter;
  const J = union === 0 ? 1 : c.inter / union;
  let precision: number, recall: number;
  if (c.nP === 0 && c.nG > 0) {
    precision = 1;
    recall = 0;
  } else if (c.nP > 0 && c.nG === 0) {
    precision = 0;
    recall = 1;
  } else if (c.nP === 0 && c.nG === 0) {
    precision = 1;
    recall = 1;
  } else {
    precision = c.matchP / c.nP;
    recall = c.matchG / c.nG;
  }
  const F = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { J, F };
}
