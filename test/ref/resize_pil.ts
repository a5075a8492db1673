// CPU reference for resize_pil: a line-by-line port of Pillow's libImaging/Resample.c (Pillow 9.4)
// for BICUBIC on 8-bit RGB: precompute_coeffs (double), normalize_coeffs_8bpc (22-bit fixed point),
// ImagingResampleHorizontal_8bpc then ImagingResampleVertical_8bpc with clip8 after each pass.
// Written independently of src/kernels/resize_pil.ts (it recomputes its own coefficients), on
// interleaved RGB bytes. Integer sums stay far below 2^31 (|sum k| < 1.3 * 2^22, pixels <= 255).

import type { RgbImage } from '../../src/image/rgb.js';

const PRECISION_BITS = 32 - 8 - 2;

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/** precompute_coeffs + normalize_coeffs_8bpc: per output index [xmin, xmax (count), int coefficients]. */
export function pilCoeffsRef(inSize: number, outSize: number): Array<{ xmin: number; xmax: number; k: number[] }> {
  const in0 = 0;
  const in1 = inSize;
  let filterscale = (in1 - in0) / outSize;
  const scale = filterscale;
  if (filterscale < 1.0) filterscale = 1.0;
  const support = 2.0 * filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0.0;
    const ss = 1.0 / filterscale;
    let xmin = Math.trunc(center - support + 0.5) | 0; // C (int) cast: toward zero
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5) | 0;
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const kd: number[] = [];
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      kd.push(w);
      ww += w;
    }
    const k = kd.map((w) => {
      const v = ww !== 0.0 ? w / ww : w;
      return (v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS))) | 0;
    });
    out.push({ xmin, xmax, k });
  }
  return out;
}

/** clip8: clip8_lookups[in >> PRECISION_BITS] (table saturates below 0 and above 255). */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : Math.min(v, 255);
}

/** Pillow's Image.resize((outW, outH), BICUBIC) of an RGB image. */
export function resizePilRef(img: RgbImage, outW: number, outH: number): RgbImage {
  let { width: w, height: h, data } = img;
  if (outW !== w) {
    const cs = pilCoeffsRef(w, outW);
    const o = new Uint8Array(outW * h * 3);
    for (let yy = 0; yy < h; yy++) {
      for (let xx = 0; xx < outW; xx++) {
        const { xmin, xmax, k } = cs[xx];
        for (let c = 0; c < 3; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xmax; x++) ss = (ss + data[(yy * w + x + xmin) * 3 + c] * k[x]) | 0;
          o[(yy * outW + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    data = o;
    w = outW;
  }
  if (outH !== h) {
    const cs = pilCoeffsRef(h, outH);
    const o = new Uint8Array(w * outH * 3);
    for (let yy = 0; yy < outH; yy++) {
      const { xmin: ymin, xmax: ymax, k } = cs[yy];
      for (let xx = 0; xx < w; xx++) {
        for (let c = 0; c < 3; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let y = 0; y < ymax; y++) ss = (ss + data[((y + ymin) * w + xx) * 3 + c] * k[y]) | 0;
          o[(yy * w + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    data = o;
    h = outH;
  }
  return { width: w, height: h, data: data === img.data ? data.slice() : data };
}
