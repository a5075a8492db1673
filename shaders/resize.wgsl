// Resize family: separable 2-D resampling of NCHW planes with per-axis gather tables (PyTorch's
// F.interpolate nearest / bilinear / bicubic, with or without antialias, and their backward).
//
//   y[p, dh, dw] = sum_{a in H(dh)} wH[a] * ( sum_{b in W(dw)} wW[b] * x[p, iH[a], iW[b]] )
//
// The tables are built on the host with ATen's exact float arithmetic (src/kernels/resize.ts) and
// are CSR lists per destination index along each axis: for destination d, entries
// e in [ptr[d], ptr[d+1]) give a source index idx[e] and a weight w[e]. The inner (width) sum is
// finished before it is weighted by the row weight, in ATen's order (width pass, then height pass),
// so forward results match PyTorch to a few ulp. The same kernel runs the backward pass: there the
// tables are transposed (destination = input pixel, entries = the outputs that read it), so every
// input gradient is a gather and no atomics or scatter are needed.
//
// Bindings:
//   params  uniform Params
//   x       f32 [P, src_h, src_w]   (P = B*C planes; the gradient dy in backward) at element offset x_off
//   tab_i   u32 table: [ptrH (dst_h+1) | idxH | ptrW (dst_w+1) | idxW], offsets h_ptr, h_ent, w_ptr, w_ent
//   tab_w   f32 weights: [wH | wW], offsets h_wt, w_wt (entry e of H has weight tab_w[h_wt + e])
//   y       f32 [P, dst_h, dst_w]   written, at element offset y_off
// Variants: FIXED (override KH, KW <= 4) when every destination has the same number of taps per axis
// (nearest 1, bilinear 2, bicubic 4; also backward tables that happen to be regular, e.g. nearest x2):
// unrolled loops, no ptr reads; otherwise the generic CSR loops (antialias windows, most backward passes).
// Thread mapping: one invocation per output element, dw fastest (neighbouring invocations read
// neighbouring source pixels); 1-D dispatch folded to 2-D above 65535 workgroups. No workgroup memory.
#include "common/index.wgsl"

override WG: u32 = 128;

struct Params {
  n: u32,
  src_h: u32,
  src_w: u32,
  dst_h: u32,
  dst_w: u32,
  h_ptr: u32,
  h_ent: u32,
  w_ptr: u32,
  w_ent: u32,
  h_wt: u32,
  w_wt: u32,
  x_off: u32,
  y_off: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> tab_i: array<u32>;
@group(0) @binding(3) var<storage, read> tab_w: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

#if FIXED
// Every destination index has exactly KH (KW) taps: entries of dh are dh*KH .. dh*KH + KH - 1 (the ptr
// tables are not read). Loop bounds are pipeline constants, so the loops unroll, and the width taps
// are loaded once per output instead of once per row.
override KH: u32 = 2;
override KW: u32 = 2;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let dw = i % params.dst_w;
  let t = i / params.dst_w;
  let dh = t % params.dst_h;
  let plane = t / params.dst_h;
  let xb = params.x_off + plane * params.src_h * params.src_w;
  var wi: array<u32, 4>;
  var ww: array<f32, 4>;
  for (var b = 0u; b < KW; b++) {
    wi[b] = tab_i[params.w_ent + dw * KW + b];
    ww[b] = tab_w[params.w_wt + dw * KW + b];
  }
  var acc = 0.0;
  for (var a = 0u; a < KH; a++) {
    let e = dh * KH + a;
    let row = xb + tab_i[params.h_ent + e] * params.src_w;
    var r = 0.0;
    for (var b = 0u; b < KW; b++) {
      r = r + x[row + wi[b]] * ww[b];
    }
    acc = acc + r * tab_w[params.h_wt + e];
  }
  y[params.y_off + i] = acc;
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let dw = i % params.dst_w;
  let t = i / params.dst_w;
  let dh = t % params.dst_h;
  let plane = t / params.dst_h;
  let xb = params.x_off + plane * params.src_h * params.src_w;

  let a0 = tab_i[params.h_ptr + dh];
  let a1 = tab_i[params.h_ptr + dh + 1u];
  let b0 = tab_i[params.w_ptr + dw];
  let b1 = tab_i[params.w_ptr + dw + 1u];
  var acc = 0.0;
  for (var a = a0; a < a1; a++) {
    let row = xb + tab_i[params.h_ent + a] * params.src_w;
    var r = 0.0;
    for (var b = b0; b < b1; b++) {
      r = r + x[row + tab_i[params.w_ent + b]] * tab_w[params.w_wt + b];
    }
    acc = acc + r * tab_w[params.h_wt + a];
  }
  y[params.y_off + i] = acc;
}
#endif
