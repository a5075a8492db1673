// CPU references for shaders/resize.wgsl: PyTorch's F.interpolate on NCHW tensors, align_corners=False.
// Written per output pixel straight from ATen's formulas (UpSample.h, cpu/UpSampleKernel.cpp of torch
// 1.13, which made the golden tensors). Source indices and weights use ATen's precision (Math.fround at
// every float op; the bilinear source index is double, ATen's acc_type) so that the chosen taps match
// PyTorch exactly; the weighted sums are float64.

const f = Math.fround;

export type RefMode = 'nearest' | 'bilinear' | 'bicubic';

/** ATen area_pixel_compute_scale for align_corners=False and no scale_factor: float(in) / out. */
function scaleOf(inSize: number, outSize: number): number {
  return f(inSize / outSize);
}

/** ATen area_pixel_compute_source_index (align_corners=False) in float: scale * (dst + 0.5) - 0.5 (cubic: no clamp at 0). */
function sourceIndexCubic(scale: number, dst: number): number {
  return f(f(scale * f(dst + 0.5)) - 0.5);
}

/** Taps (index, weight) along one axis for output index o. */
function taps(mode: RefMode, inSize: number, outSize: number, o: number): Array<[number, number]> {
  const scale = scaleOf(inSize, outSize);
  if (mode === 'nearest') {
    // legacy 'nearest': floor(dst * scale), clamped to the last pixel
    return [[Math.min(Math.floor(f(scale * o)), inSize - 1), 1]];
  }
  if (mode === 'bilinear') {
    if (inSize === outSize)
      return [
        [o, 1],
        [o, 0],
      ];
    // ATen computes this source index in acc_type<float> = double (from the float scale); lambdas are float
    const real = Math.max(scale * (o + 0.5) - 0.5, 0);
    const i0 = Math.floor(real);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = f(real - i0);
    return [
      [i0, f(1 - l1)],
      [i1, l1],
    ];
  }
  // bicubic, A = -0.75, border pixels repeated
  const real = sourceIndexCubic(scale, o);
  const i = Math.floor(real);
  const t = f(real - i);
  const A = -0.75;
  const cc1 = (x: number) => f(f(f(f(f(f(A + 2) * x) - f(A + 3)) * x) * x) + 1);
  const cc2 = (x: number) => f(f(f(f(f(f(A * x) - f(5 * A)) * x) + f(8 * A)) * x) - f(4 * A));
  const w = [cc2(f(t + 1)), cc1(t), cc1(f(1 - t)), cc2(f(f(1 - t) + 1))];
  const clamp = (k: number) => Math.max(0, Math.min(k, inSize - 1));
  return w.map((wj, j) => [clamp(i + j - 1), wj] as [number, number]);
}

/**
 * Antialiased taps (ATen _compute_indices_min_size_weights_aa): triangle (bilinear) or Keys cubic a=-0.5
 * (bicubic) filter stretched by the downscale factor, window [xmin, xmin + xsize), weights normalised.
 */
function tapsAA(mode: 'bilinear' | 'bicubic', inSize: number, outSize: number, o: number): Array<[number, number]> {
  const interp = mode === 'bilinear' ? 2 : 4;
  const scale = scaleOf(inSize, outSize);
  const support = scale >= 1 ? f(interp * 0.5 * scale) : interp * 0.5;
  const maxSize = Math.ceil(support) * 2 + 1;
  const center = f(scale * (o + 0.5));
  const invscale = scale >= 1 ? f(1 / scale) : 1;
  const xmin = Math.max(Math.trunc(f(center - support) + 0.5), 0);
  const xsize = Math.max(0, Math.min(Math.min(Math.trunc(f(center + support) + 0.5), inSize) - xmin, maxSize));
  const filter = (x: number): number => {
    x = Math.abs(x);
    if (mode === 'bilinear') return x < 1 ? f(1 - x) : 0;
    const a = -0.5;
    if (x < 1) return f(f(f(f(f(f(a + 2) * x) - f(a + 3)) * x) * x) + 1);
    if (x < 2) return f(f(f(f(f(f(a * x) - f(5 * a)) * x) + f(8 * a)) * x) - f(4 * a));
    return 0;
  };
  const ws: number[] = [];
  let total = 0;
  for (let j = 0; j < xsize; j++) {
    const w = filter(f((f(j + xmin - center) + 0.5) * invscale));
    ws.push(w);
    total = f(total + w);
  }
  return ws.map((w, j) => [xmin + j, total !== 0 ? f(w / total) : w] as [number, number]);
}

/** Taps of every output index along one axis (an unchanged axis is skipped by antialias: identity). */
function axisTaps(mode: RefMode, antialias: boolean, inSize: number, outSize: number): Array<Array<[number, number]>> {
  return Array.from({ length: outSize }, (_, o) => {
    if (!antialias || mode === 'nearest') return taps(mode, inSize, outSize, o);
    return inSize === outSize ? [[o, 1] as [number, number]] : tapsAA(mode, inSize, outSize, o);
  });
}

/**
 * F.interpolate(x, size=[outH, outW], mode, align_corners=False, antialias) for x [B, C, H, W]:
 * y[p, oh, ow] = sum_h wH * (sum_w wW * x[p, h, w]). (PyTorch's antialias path runs this as a width
 * pass then a height pass, which is the same sum.) `at` restricts the work to the listed output indices.
 */
export function resizeRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  size: readonly [number, number],
  mode: RefMode,
  antialias = false,
  at?: readonly number[],
): Float64Array {
  const [B, C, H, W] = shape;
  const [OH, OW] = size;
  const th = axisTaps(mode, antialias, H, OH);
  const tw = axisTaps(mode, antialias, W, OW);
  const value = (i: number) => {
    const ow = i % OW;
    const oh = Math.floor(i / OW) % OH;
    const p = Math.floor(i / (OW * OH));
    let s = 0;
    for (const [ih, wh] of th[oh]) {
      let row = 0;
      for (const [iw, ww] of tw[ow]) row += ww * x[(p * H + ih) * W + iw];
      s += wh * row;
    }
    return s;
  };
  if (at) return Float64Array.from(at, value);
  return Float64Array.from({ length: B * C * OH * OW }, (_, i) => value(i));
}

/**
 * Central finite differences of L(x) = sum(resize(x) * g) in float64: the gradient the backward kernel
 * must produce. The op is linear, so the difference quotient is exact up to rounding.
 */
export function resizeGradFD(
  x: ArrayLike<number>,
  shape: readonly number[],
  size: readonly [number, number],
  mode: RefMode,
  antialias: boolean,
  g: ArrayLike<number>,
  eps = 1e-3,
): Float64Array {
  const xs = Float64Array.from(x);
  const loss = () => {
    const y = resizeRef(xs, shape, size, mode, antialias);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * g[i];
    return s;
  };
  const dx = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    xs[i] = v + eps;
    const lp = loss();
    xs[i] = v - eps;
    const lm = loss();
    xs[i] = v;
    dx[i] = (lp - lm) / (2 * eps);
  }
  return dx;
}
