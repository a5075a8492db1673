// CPU reference of the guided_filter family: RobotSeg's guided-filter mask refinement
// (guided_refine_mask, RobotSeg fork test/utils.py) with OpenCV's arithmetic, written for clarity.
// Every float32 intermediate OpenCV stores is rounded with Math.fround at the same place; box sums
// are accumulated in float64 as cv::boxFilter does for CV_32F (sum type CV_64F), then scaled.
// One deliberate difference from Debian's OpenCV 4.6 build: its ximgproc SSE path computes
// 1 / (var + eps) with _mm_rcp_ps (a 12-bit hardware approximation, CPU-model dependent) on columns in
// groups of 4; here it is the exact float32 reciprocal (the kernel does the same).
//   gray    cv2.cvtColor(BGR2GRAY) on uint8: (9798 R + 19235 G + 3735 B + 2^14) >> 15
//   box     cv2.boxFilter(normalize, BORDER_REFLECT), window (2r+1)^2
//   gf      cv2.ximgproc.guidedFilter, one guide channel (guided_filter.cpp GuidedFilterImpl)
//   dist    cv2.distanceTransform(DIST_L2, 5): OpenCV's two-pass 5x5 chamfer (1, 1.4, 2.1969) in
//           16.16 fixed point, pixels outside the image never 0, output clamped to (INT_MAX >> 2) / 2^16
//           (distransform.cpp, 4.x)
//   morph   cv2.dilate / cv2.erode with a square kernel, pixels outside the image ignored
//   refine  guided_refine_mask: band = dilate7 - erode7 of the mask, soft = (1 - a) gf3 + a gf7 with
//           a = clip((dilate15(dist) - 2) / 4, 0, 1), band pixels <- soft > 0.5, area check 3 %
const f = Math.fround;

/** OpenCV borderInterpolate for BORDER_REFLECT (fedcba|abcdefgh|hgfedcb), any distance. */
export function reflect(p: number, n: number): number {
  if (n === 1) return 0;
  while (p < 0 || p >= n) p = p < 0 ? -p - 1 : 2 * n - p - 1;
  return p;
}

/** uint8 gray of an RGB image [H*W*3] (OpenCV's 15-bit fixed point for 8-bit RGB -> gray). */
export function grayRef(rgb: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++)
    out[i] = (9798 * rgb[3 * i] + 19235 * rgb[3 * i + 1] + 3735 * rgb[3 * i + 2] + (1 << 14)) >> 15;
  return out;
}

/** Normalised box filter, BORDER_REFLECT: float64 row sums, float64 column sums, * 1/(2r+1)^2, to float32. */
export function boxMeanRef(src: Float32Array, h: number, w: number, r: number): Float32Array {
  const rows = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) s += src[y * w + reflect(x + d, w)];
      rows[y * w + x] = s;
    }
  }
  const scale = 1 / ((2 * r + 1) * (2 * r + 1));
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) s += rows[reflect(y + d, h) * w + x];
      out[y * w + x] = s * scale;
    }
  }
  return out;
}

/** Guided filter of p with the one-channel guide I (both float32 [H*W]), radius r, eps. */
export function guidedFilterRef(
  I: Float32Array,
  p: Float32Array,
  h: number,
  w: number,
  r: number,
  eps: number,
): Float32Array {
  const n = h * w;
  const e = f(eps);
  const meanI = boxMeanRef(I, h, w, r);
  const meanII = boxMeanRef(
    I.map((v) => f(v * v)),
    h,
    w,
    r,
  );
  const meanP = boxMeanRef(p, h, w, r);
  const meanIP = boxMeanRef(
    p.map((v, i) => f(v * I[i])),
    h,
    w,
    r,
  );
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const varI = f(f(meanII[i] + e) - f(meanI[i] * meanI[i])); // sub_mad(cov, mI, mI, -eps): (mII + eps) - mI*mI
    const inv = f(1 / varI);
    const cov = f(meanIP[i] - f(meanP[i] * meanI[i]));
    a[i] = f(inv * cov);
    b[i] = f(meanP[i] - f(a[i] * meanI[i]));
  }
  const meanA = boxMeanRef(a, h, w, r);
  const meanB = boxMeanRef(b, h, w, r);
  return meanB.map((v, i) => f(v + f(meanA[i] * I[i])));
}

export const DT_HV = 65536; // cvRound(1.0f * 65536)
export const DT_DIAG = 91750; // cvRound(1.4f * 65536)
export const DT_LONG = 143976; // cvRound(2.1969f * 65536)
const INIT = 0x7fffffff; // INIT_DIST0 = INT_MAX (sums are unsigned in OpenCV 4.x: no overflow)
const DIST_MAX = 0x7fffffff >> 2; // the output is clamped to this: 8192 where no pixel is 0

/** cv2.distanceTransform(mask, DIST_L2, 5) of a 0/1 mask, literally (two raster passes, border 2). */
export function chamferDistRef(mask: Uint8Array, h: number, w: number): Float32Array {
  const B = 2;
  const W = w + 2 * B;
  const t = new Float64Array((h + 2 * B) * W).fill(INIT); // exact integers, no int32 wrap-around
  const at = (y: number, x: number) => t[(y + B) * W + x + B];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) {
        t[(y + B) * W + x + B] = 0;
        continue;
      }
      t[(y + B) * W + x + B] = Math.min(
        at(y - 2, x - 1) + DT_LONG,
        at(y - 2, x + 1) + DT_LONG,
        at(y - 1, x - 2) + DT_LONG,
        at(y - 1, x - 1) + DT_DIAG,
        at(y - 1, x) + DT_HV,
        at(y - 1, x + 1) + DT_DIAG,
        at(y - 1, x + 2) + DT_LONG,
        at(y, x - 1) + DT_HV,
      );
    }
  }
  const out = new Float32Array(h * w);
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      let t0 = at(y, x);
      if (t0 > DT_HV) {
        t0 = Math.min(
          t0,
          at(y + 2, x + 1) + DT_LONG,
          at(y + 2, x - 1) + DT_LONG,
          at(y + 1, x + 2) + DT_LONG,
          at(y + 1, x + 1) + DT_DIAG,
          at(y + 1, x) + DT_HV,
          at(y + 1, x - 1) + DT_DIAG,
          at(y + 1, x - 2) + DT_LONG,
          at(y, x + 1) + DT_HV,
        );
        t[(y + B) * W + x + B] = t0;
      }
      out[y * w + x] = f(f(Math.min(t0, DIST_MAX)) * f(1 / 65536));
    }
  }
  return out;
}

/** Square max (dilate) or min (erode) filter of radius r; pixels outside the image are ignored. */
export function morphRef<T extends Float32Array | Uint8Array>(
  src: T,
  h: number,
  w: number,
  r: number,
  op: 'max' | 'min',
): T {
  const out = src.slice() as T;
  const pick = op === 'max' ? Math.max : Math.min;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = src[y * w + x];
      for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
        for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) v = pick(v, src[yy * w + xx]);
      }
      out[y * w + x] = v;
    }
  }
  return out;
}

export interface RefineRef {
  gray: Uint8Array;
  gf3: Float32Array;
  gf7: Float32Array;
  dist: Float32Array;
  thick: Float32Array;
  band: Uint8Array;
  soft: Float32Array;
  /** The refined mask before the area check, 0/1. */
  refined: Uint8Array;
  /** The returned mask, 0/1 (the input when the area changed by more than 3 %). */
  out: Uint8Array;
  relChange: number;
}

/** guided_refine_mask(mask, image) for an RGB image [H*W*3] and a 0/1 mask [H*W]. */
export function guidedRefineRef(rgb: Uint8Array, mask: Uint8Array, h: number, w: number): RefineRef {
  const n = h * w;
  const gray = grayRef(rgb, n);
  const I = Float32Array.from(gray, (g) => f(g / 255));
  const p = Float32Array.from(mask, (m) => (m ? 1 : 0));
  const gf3 = guidedFilterRef(I, p, h, w, 3, 1e-3);
  const gf7 = guidedFilterRef(I, p, h, w, 7, 1e-3);
  const m01 = Uint8Array.from(mask, (m) => (m ? 1 : 0));
  const dil = morphRef(m01, h, w, 3, 'max');
  const ero = morphRef(m01, h, w, 3, 'min');
  const band = Uint8Array.from(dil, (d, i) => (d - ero[i] > 0 ? 1 : 0));
  const dist = chamferDistRef(m01, h, w);
  const thick = morphRef(dist, h, w, 7, 'max');
  const soft = new Float32Array(n);
  const refined = m01.slice();
  for (let i = 0; i < n; i++) {
    const alpha = Math.min(1, Math.max(0, f(f(thick[i] - 2) / 4)));
    soft[i] = f(f(f(1 - alpha) * gf3[i]) + f(alpha * gf7[i]));
    if (band[i]) refined[i] = soft[i] > 0.5 ? 1 : 0;
  }
  let a0 = 0,
    a1 = 0;
  for (let i = 0; i < n; i++) {
    a0 += m01[i];
    a1 += refined[i];
  }
  const relChange = a0 > 0 ? Math.abs(a1 - a0) / a0 : 0;
  const out = a0 === 0 || relChange > 0.03 ? m01.slice() : refined;
  return { gray, gf3, gf7, dist, thick, band, soft, refined, out, relChange };
}
