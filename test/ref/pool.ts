// CPU references for shaders/pool.wgsl: max / average pooling as F.max_pool2d (with return_indices)
// and F.avg_pool2d, following PyTorch's CPU kernels (window clipping, ceil mode, first-max ties), on
// NCHW [B, C, H, W] or NHWC [B, H, W, C] data, plus their gradients. Float64 throughout.
import { type Pair, pair } from './conv2d.js';

export interface PoolGeom {
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  layout?: 'NCHW' | 'NHWC';
}

export function poolOutSize(n: number, k: number, p: number, s: number, d: number, ceil: boolean): number {
  let o = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

interface Dims {
  B: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  nhwc: boolean;
}

function dims(xs: readonly number[], o: PoolGeom): Dims {
  const nhwc = o.layout === 'NHWC';
  const [B, C, H, W] = nhwc ? [xs[0], xs[3], xs[1], xs[2]] : xs;
  const [kh, kw] = pair(o.kernel, 1);
  const [sh, sw] = pair(o.stride ?? o.kernel, 1);
  const [ph, pw] = pair(o.padding, 0);
  const [dh, dw] = pair(o.dilation, 1);
  const ceil = o.ceilMode ?? false;
  return {
    B,
    C,
    H,
    W,
    OH: poolOutSize(H, kh, ph, sh, dh, ceil),
    OW: poolOutSize(W, kw, pw, sw, dw, ceil),
    kh,
    kw,
    sh,
    sw,
    ph,
    pw,
    dh,
    dw,
    nhwc,
  };
}

/** Flat index of (b, c, h, w) in a [B, C, H, W] (or [B, H, W, C]) tensor with spatial size hh x ww. */
function at(d: Dims, b: number, c: number, h: number, w: number, hh: number, ww: number): number {
  return d.nhwc ? ((b * hh + h) * ww + w) * d.C + c : ((b * d.C + c) * hh + h) * ww + w;
}

function outShape(d: Dims): number[] {
  return d.nhwc ? [d.B, d.OH, d.OW, d.C] : [d.B, d.C, d.OH, d.OW];
}

/** Max pooling; idx holds the argmax as ih * W + iw inside the plane (PyTorch's return_indices). */
export function maxPool2dRef(
  x: ArrayLike<number>,
  xs: readonly number[],
  o: PoolGeom,
): { y: Float64Array; idx: Int32Array; shape: number[] } {
  const d = dims(xs, o);
  const n = d.B * d.C * d.OH * d.OW;
  const y = new Float64Array(n);
  const idx = new Int32Array(n);
  for (let b = 0; b < d.B; b++)
    for (let c = 0; c < d.C; c++)
      for (let oh = 0; oh < d.OH; oh++)
        for (let ow = 0; ow < d.OW; ow++) {
          let best = -Infinity;
          let bi = -1;
          for (let i = 0; i < d.kh; i++) {
            const ih = oh * d.sh - d.ph + i * d.dh;
            if (ih < 0 || ih >= d.H) continue;
            for (let j = 0; j < d.kw; j++) {
              const iw = ow * d.sw - d.pw + j * d.dw;
              if (iw < 0 || iw >= d.W) continue;
              const v = x[at(d, b, c, ih, iw, d.H, d.W)];
              if (bi < 0) bi = ih * d.W + iw; // PyTorch starts from the first in-image tap
              if (v > best || Number.isNaN(v)) {
                best = v;
                bi = ih * d.W + iw;
              }
            }
          }
          const k = at(d, b, c, oh, ow, d.OH, d.OW);
          y[k] = best;
          idx[k] = bi;
        }
  return { y, idx, shape: outShape(d) };
}

/** dx of max pooling: each dy goes to its window's argmax (summed where windows overlap). */
export function maxPool2dBackwardRef(
  xs: readonly number[],
  idx: Int32Array,
  dy: ArrayLike<number>,
  o: PoolGeom,
): Float64Array {
  const d = dims(xs, o);
  const dx = new Float64Array(d.B * d.C * d.H * d.W);
  for (let b = 0; b < d.B; b++)
    for (let c = 0; c < d.C; c++)
      for (let oh = 0; oh < d.OH; oh++)
        for (let ow = 0; ow < d.OW; ow++) {
          const k = at(d, b, c, oh, ow, d.OH, d.OW);
          const p = idx[k];
          dx[at(d, b, c, Math.floor(p / d.W), p % d.W, d.H, d.W)] += dy[k];
        }
  return dx;
}

function avgWindow(d: Dims, oh: number, ow: number, includePad: boolean) {
  let h0 = oh * d.sh - d.ph;
  let w0 = ow * d.sw - d.pw;
  let h1 = Math.min(h0 + d.kh, d.H + d.ph);
  let w1 = Math.min(w0 + d.kw, d.W + d.pw);
  const poolSize = (h1 - h0) * (w1 - w0);
  h0 = Math.max(h0, 0);
  w0 = Math.max(w0, 0);
  h1 = Math.min(h1, d.H);
  w1 = Math.min(w1, d.W);
  return { h0, h1, w0, w1, div: includePad ? poolSize : (h1 - h0) * (w1 - w0) };
}

/** Average pooling as F.avg_pool2d (count_include_pad default true, no divisor_override). */
export function avgPool2dRef(
  x: ArrayLike<number>,
  xs: readonly number[],
  o: PoolGeom,
): { y: Float64Array; shape: number[] } {
  const d = dims(xs, { ...o, dilation: 1 });
  const y = new Float64Array(d.B * d.C * d.OH * d.OW);
  for (let b = 0; b < d.B; b++)
    for (let c = 0; c < d.C; c++)
      for (let oh = 0; oh < d.OH; oh++)
        for (let ow = 0; ow < d.OW; ow++) {
          const win = avgWindow(d, oh, ow, o.countIncludePad ?? true);
          let s = 0;
          for (let ih = win.h0; ih < win.h1; ih++)
            for (let iw = win.w0; iw < win.w1; iw++) s += x[at(d, b, c, ih, iw, d.H, d.W)];
          y[at(d, b, c, oh, ow, d.OH, d.OW)] = win.h0 < win.h1 && win.w0 < win.w1 ? s / win.div : 0;
        }
  return { y, shape: outShape(d) };
}

export function avgPool2dBackwardRef(xs: readonly number[], dy: ArrayLike<number>, o: PoolGeom): Float64Array {
  const d = dims(xs, { ...o, dilation: 1 });
  const dx = new Float64Array(d.B * d.C * d.H * d.W);
  for (let b = 0; b < d.B; b++)
    for (let c = 0; c < d.C; c++)
      for (let oh = 0; oh < d.OH; oh++)
        for (let ow = 0; ow < d.OW; ow++) {
          const win = avgWindow(d, oh, ow, o.countIncludePad ?? true);
          const g = dy[at(d, b, c, oh, ow, d.OH, d.OW)] / win.div;
          for (let ih = win.h0; ih < win.h1; ih++)
            for (let iw = win.w0; iw < win.w1; iw++) dx[at(d, b, c, ih, iw, d.H, d.W)] += g;
        }
  return dx;
}
