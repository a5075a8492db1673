// resize_pil family: Pillow's Image.resize(..., BICUBIC) on uint8 RGB, bit-exact (libImaging/Resample.c
// ImagingResampleHorizontal_8bpc / ImagingResampleVertical_8bpc), plus the uint8 -> normalised f32
// conversion of the official SAM 2 video loader.
//
// Pixels are packed one per u32: r | g << 8 | b << 16 (byte 3 is 0). Pillow resamples separably: a
// horizontal pass into a uint8 image, then a vertical pass (each skipped when that size is unchanged;
// the wrapper decides). For destination index d along the pass axis, the host-built i32 table holds the
// window start and length tab[bnd + 2d] = xmin, tab[bnd + 2d + 1] = xsize and the fixed-point
// coefficients tab[coef + d * ksize + t], t < xsize (doubles * 2^22 rounded half away from zero).
// Per channel: ss = 2^21 + sum_t src[xmin + t] * k[t] (i32, as Pillow's int), out = clamp(ss >> 22, 0, 255)
// (Pillow's clip8 table on the arithmetic shift), so the intermediate image is uint8 like Pillow's.
//
// Bindings (PASS, define HORIZONTAL or VERTICAL):
//   params  uniform Params
//   x       u32 [rows, src_w] packed RGB (HORIZONTAL) or [src_h, cols] (VERTICAL), at element offset x_off
//   tab     i32 bounds + coefficients of the pass axis (offsets bnd, coef; ksize coefficients per index)
//   y       u32 [rows, dst_w] (HORIZONTAL) or [dst_h, cols] (VERTICAL) packed RGB, at element offset y_off
//   n = number of output pixels, w = row length of y (dst_w or cols), src_w = row length of x.
// Bindings (NORMALIZE): x u32 [P] packed RGB, lut f32 [3 * 256] (channel c, value v -> lut[c * 256 + v],
//   the exact f32 of ((v / 255) - mean[c]) / std[c] computed on the host), y f32 [3, P] planar; n = 3 * P.
// Thread mapping: one invocation per output pixel (all three channels; NORMALIZE: per output element),
// 1-D dispatch folded to 2-D by linear_id. No workgroup memory; integer math only in the passes.
#include "common/index.wgsl"

override WG: u32 = 128;

struct Params {
  n: u32,
  w: u32,
  src_w: u32,
  bnd: u32,
  coef: u32,
  ksize: u32,
  x_off: u32,
  y_off: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;

#if NORMALIZE
@group(0) @binding(2) var<storage, read> lut: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let P = params.n / 3u;
  let c = i / P;
  let p = i - c * P;
  let v = (x[params.x_off + p] >> (8u * c)) & 255u;
  y[params.y_off + i] = lut[c * 256u + v];
}
#else
@group(0) @binding(2) var<storage, read> tab: array<i32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

fn clip8(ss: i32) -> u32 {
  return u32(clamp(ss >> 22u, 0, 255));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let row = i / params.w;
  let col = i - row * params.w;
#if HORIZONTAL
  let d = col;
  let base = params.x_off + row * params.src_w;
  let stride = 1u;
#else
  let d = row;
  let base = params.x_off + col;
  let stride = params.src_w;
#endif
  let xmin = u32(tab[params.bnd + 2u * d]);
  let xsize = u32(tab[params.bnd + 2u * d + 1u]);
  let kb = params.coef + d * params.ksize;
  var s0: i32 = 1 << 21u;
  var s1: i32 = 1 << 21u;
  var s2: i32 = 1 << 21u;
  var src = base + xmin * stride;
  for (var t = 0u; t < xsize; t++) {
    let p = x[src];
    let k = tab[kb + t];
    s0 += i32(p & 255u) * k;
    s1 += i32((p >> 8u) & 255u) * k;
    s2 += i32((p >> 16u) & 255u) * k;
    src += stride;
  }
  y[params.y_off + i] = clip8(s0) | (clip8(s1) << 8u) | (clip8(s2) << 16u);
}
#endif
