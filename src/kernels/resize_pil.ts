// Wrapper for shaders/resize_pil.wgsl: Pillow's Image.resize((w, h)) with its default BICUBIC filter
// on uint8 RGB, bit-exact (libImaging/Resample.c, Pillow 9.4 as in Debian 12, unchanged since 7.x),
// as the official SAM 2 video loader preprocesses frames; and the loader's uint8 -> (v/255 - mean)/std.
//
// Images travel as u32 tensors [H, W], one pixel per u32: r | g << 8 | b << 16 (packRgb / unpackRgb).
// Pillow's coefficients (a = -0.5 Keys cubic, support 2 widened by the downscale factor, normalised to
// sum 1 in double, then rounded to 22-bit fixed point) are computed here on the host with the same
// double arithmetic as Resample.c (JS numbers are doubles) and cached per runtime; the GPU passes only
// do the integer multiply-adds, so results are bit-exact on any adapter.

import { shapeStr } from '../graph/dtype.js';
import type { RgbImage } from '../image/rgb.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';

const WG = 128;
/** Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2. */
export const PIL_PRECISION_BITS = 22;

/** One axis of Pillow's resampling: window [xmin, xmin + xsize) and ksize fixed-point coefficients per output index. */
export interface PilAxis {
  ksize: number;
  /** [out][2] = xmin, xsize */
  bounds: Int32Array;
  /** [out][ksize]; entries past xsize are 0 */
  coef: Int32Array;
}

/** Keys cubic with a = -0.5, exactly as Resample.c's bicubic_filter (double). */
function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** precompute_coeffs (box = [0, inSize]) followed by normalize_coeffs_8bpc, for BICUBIC. */
export function pilBicubicAxis(inSize: number, outSize: number): PilAxis {
  const scale = inSize / outSize; // (double)(in1 - in0) / outSize with float box edges (exact for integers)
  const filterscale = Math.max(scale, 1);
  const support = 2.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1.0 / filterscale;
  const bounds = new Int32Array(outSize * 2);
  const coef = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = 0 + (xx + 0.5) * scale;
    let ww = 0.0;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0); // C (int) truncates toward zero
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicFilter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x] / ww : k[x];
      // (int)(+-0.5 + v * (1 << PRECISION_BITS)): round half away from zero via truncation
      coef[xx * ksize + x] =
        v < 0 ? Math.trunc(-0.5 + v * (1 << PIL_PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PIL_PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = Math.max(xmax, 0);
  }
  return { ksize, bounds, coef };
}

/** Interleaved RGB bytes -> one u32 per pixel (r | g << 8 | b << 16). */
export function packRgb(img: RgbImage): Uint32Array {
  const n = img.width * img.height;
  if (img.data.length !== 3 * n)
    throw new Error(`packRgb: ${img.data.length} bytes for a ${img.width}x${img.height} RGB image (expected ${3 * n})`);
  const out = new Uint32Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) out[i] = d[3 * i] | (d[3 * i + 1] << 8) | (d[3 * i + 2] << 16);
  return out;
}

/** Inverse of packRgb. */
export function unpackRgb(px: ArrayLike<number>, width: number, height: number): RgbImage {
  const n = width * height;
  if (px.length !== n) throw new Error(`unpackRgb: ${px.length} pixels for ${width}x${height}`);
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const p = px[i];
    data[3 * i] = p & 255;
    data[3 * i + 1] = (p >>> 8) & 255;
    data[3 * i + 2] = (p >>> 16) & 255;
  }
  return { width, height, data };
}

interface AxisGpu {
  tab: Tensor;
  ksize: number;
  bnd: number;
  coef: number;
}
const cache = new WeakMap<Runtime, Map<string, Tensor>>();
const MAX_CACHED = 32;

function cached(rt: Runtime, key: string, make: () => Tensor): Tensor {
  let m = cache.get(rt);
  if (!m) cache.set(rt, (m = new Map()));
  const hit = m.get(key);
  if (hit) return hit;
  if (m.size >= MAX_CACHED) {
    rt.flush(); // queued dispatches may still read the old tables
    for (const t of m.values()) t.dispose();
    m.clear();
  }
  const t = untrack(make()); // the cache outlives any rt.scope() of the first call
  m.set(key, t);
  return t;
}

function axisGpu(rt: Runtime, inSize: number, outSize: number): AxisGpu {
  const key = `axis ${inSize}->${outSize}`;
  const tab = cached(rt, key, () => {
    const a = pilBicubicAxis(inSize, outSize);
    const t = new Int32Array(a.bounds.length + a.coef.length);
    t.set(a.bounds, 0);
    t.set(a.coef, a.bounds.length);
    return rt.upload(t, [t.length], 'i32', `resize_pil ${key}`);
  });
  const ksize = Math.ceil(2 * Math.max(inSize / outSize, 1)) * 2 + 1; // as pilBicubicAxis
  return { tab, ksize, bnd: 0, coef: 2 * outSize };
}

function pass(rt: Runtime, x: Tensor, horizontal: boolean, outSize: number): Tensor {
  const [h, w] = x.shape;
  const a = axisGpu(rt, horizontal ? w : h, outSize);
  const shape = horizontal ? [h, outSize] : [outSize, w];
  const y = rt.empty(shape, 'u32', horizontal ? 'resize_pil.h' : 'resize_pil.v');
  const n = shape[0] * shape[1];
  if (n > 0) {
    rt.kernel('resize_pil').run({
      defines: horizontal ? { HORIZONTAL: 1 } : { VERTICAL: 1 },
      constants: { WG },
      bindings: { x, tab: a.tab, y },
      params: { n, w: shape[1], src_w: w, bnd: a.bnd, coef: a.coef, ksize: a.ksize },
      groups: rt.groups1d(n, WG),
      label: horizontal ? 'resize_pil.horizontal' : 'resize_pil.vertical',
    });
  }
  return y;
}

/**
 * Pillow's `img.resize((outW, outH))` (BICUBIC) of a packed RGB u32 tensor [H, W] -> u32 [outH, outW].
 * Horizontal pass first, then vertical; a pass is skipped when its size is unchanged (as Pillow).
 */
export function resizePil(rt: Runtime, x: Tensor, size: readonly [number, number]): Tensor {
  if (x.dtype !== 'u32') throw new Error(`resize_pil: expects a packed RGB u32 tensor, got ${x.dtype} for ${x}`);
  if (x.rank !== 2) throw new Error(`resize_pil: expects [H, W] packed RGB, got ${shapeStr(x.shape)}`);
  if (size.length !== 2 || size.some((s) => !Number.isInteger(s) || s <= 0)) {
    throw new Error(`resize_pil: output size must be two positive integers [outH, outW], got [${size.join(', ')}]`);
  }
  if (x.shape[0] === 0 || x.shape[1] === 0) throw new Error(`resize_pil: input ${shapeStr(x.shape)} is empty`);
  const [outH, outW] = size;
  let t = x;
  if (outW !== x.shape[1]) t = pass(rt, t, true, outW);
  if (outH !== x.shape[0]) {
    const v = pass(rt, t, false, outH);
    if (t !== x) t.dispose();
    t = v;
  }
  if (t === x) {
    t = rt.empty(x.shape, 'u32', 'resize_pil.copy');
    rt.copy(x, t, 'resize_pil.copy');
  }
  return t;
}

/**
 * The official loader's normalisation of packed RGB u32 [H, W] -> f32 [1, 3, H, W]:
 * float32(v / 255.0 in double) then (x - mean) / std in float32, through an exact host-built 768-entry
 * table (so the GPU's division accuracy does not matter).
 */
export function normalizePacked(rt: Runtime, x: Tensor, mean: ArrayLike<number>, std: ArrayLike<number>): Tensor {
  if (x.dtype !== 'u32' || x.rank !== 2)
    throw new Error(`normalizePacked: expects a packed RGB u32 tensor [H, W], got ${x.dtype} ${shapeStr(x.shape)}`);
  if (mean.length !== 3 || std.length !== 3)
    throw new Error(`normalizePacked: mean and std need 3 values, got ${mean.length} and ${std.length}`);
  const lut = cached(rt, `lut ${Array.from(mean).join(',')} / ${Array.from(std).join(',')}`, () =>
    rt.upload(normalizeLut(mean, std), [768], 'f32', 'resize_pil lut'),
  );
  const [h, w] = x.shape;
  const y = rt.empty([1, 3, h, w], 'f32', 'normalize_packed');
  const n = 3 * h * w;
  if (n > 0) {
    rt.kernel('resize_pil').run({
      defines: { NORMALIZE: 1 },
      constants: { WG },
      bindings: { x, lut, y },
      params: { n, w, src_w: w, bnd: 0, coef: 0, ksize: 0 },
      groups: rt.groups1d(n, WG),
      label: 'resize_pil.normalize',
    });
  }
  return y;
}

/**
 * lut[c * 256 + v] = f32(f32(f32(v / 255) - mean[c]) / std[c]) with mean/std as float32 (torch's
 * float32 tensors). f32(v / 255 in double) equals the correctly rounded float32 division: a double
 * quotient of two floats rounded to float has no double-rounding error (53 >= 2 * 24 + 2).
 */
export function normalizeLut(mean: ArrayLike<number>, std: ArrayLike<number>): Float32Array {
  const f = Math.fround;
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = f(f(f(v / 255) - f(mean[c])) / f(std[c]));
  }
  return lut;
}
