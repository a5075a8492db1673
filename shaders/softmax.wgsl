// Softmax over the last dim, numerically stable (row max subtracted):
//   forward:   y[r, i] = exp(scale * x[r, i] - max_r) / sum_j exp(scale * x[r, j] - max_r)
//   BACKWARD:  dx[r, i] = scale * y[r, i] * (dy[r, i] - sum_j dy[r, j] * y[r, j])
// Bindings (row-major [rows, n], f32): forward x -> y; backward y, dy -> dx. A row of all -inf gives
// NaN, as in PyTorch.
// MASK (forward): an additive key mask [Bm, n] joins the exponent, y = softmax(scale * x + mask[b]),
// b = row / mask_rows (mask_bs = 0 broadcasts one mask row); a row whose every key is -inf gives
// zeros (the fused attention kernel's convention for fully masked queries).
// Variants:
//   default (software adapters): one row per invocation, three sequential passes (max; exp written
//     to y and summed; y scaled), no workgroup memory or barriers. VEC4 reads rows as vec4 (n % 4 == 0,
//     16-byte aligned views; VT, VW and the lane folds from common/vec4.wgsl, lanes summed in pairs).
//     1-D dispatch over rows folded into 2-D.
//   WORKGROUP (hardware, long rows): one workgroup of WG invocations per row, strided loops and tree
//     reductions in workgroup memory. Workgroups folded into 2-D (row = wid.x + wid.y * nwg.x).
#include "common/index.wgsl"
#include "common/vec4.wgsl"

override WG: u32 = 64;

#if BACKWARD
struct Params { rows: u32, n: u32, scale: f32, y_off: u32, dy_off: u32, dx_off: u32 };
#elif MASK
struct Params { rows: u32, n: u32, scale: f32, x_off: u32, y_off: u32, mask_off: u32, mask_rows: u32, mask_bs: u32 };
#else
struct Params { rows: u32, n: u32, scale: f32, x_off: u32, y_off: u32 };
#endif
@group(0) @binding(0) var<uniform> params: Params;

#if BACKWARD
@group(0) @binding(1) var<storage, read> y: array<VT>;
@group(0) @binding(2) var<storage, read> dy: array<VT>;
@group(0) @binding(3) var<storage, read_write> dx: array<VT>;
#else
@group(0) @binding(1) var<storage, read> x: array<VT>;
@group(0) @binding(2) var<storage, read_write> y: array<VT>;
#endif
#if MASK
@group(0) @binding(3) var<storage, read> mask: array<VT>;
#endif

// The exponent of element i of a row: scale * x (+ the mask row's element).
fn logit(xb: u32, mb: u32, i: u32) -> VT {
#if MASK
  return params.scale * x[xb + i] + mask[mb + i];
#elif BACKWARD
  return VT(0.0);
#else
  return params.scale * x[xb + i];
#endif
}
fn mask_base(row: u32) -> u32 {
#if MASK
  return params.mask_off / VW + (row / params.mask_rows) * params.mask_bs / VW;
#else
  return 0u;
#endif
}
// 1 / (sum of exponentials); 0 for a fully masked row under MASK.
fn inv_sum(s: f32) -> f32 {
#if MASK
  return select(0.0, 1.0 / s, s > 0.0);
#else
  return 1.0 / s;
#endif
}

#if WORKGROUP
var<workgroup> red: array<f32, WG>;

// Tree reduction of red[] (max when is_max, else sum); every invocation returns the result.
fn reduce_wg(lid: u32, v: f32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      let o = red[lid + s];
      red[lid] = select(red[lid] + o, max(red[lid], o), is_max);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let lid = lidv.x;
  let n = params.n / VW;
#if BACKWARD
  let yb = params.y_off / VW + row * n;
  let db = params.dy_off / VW + row * n;
  let xb = params.dx_off / VW + row * n;
  var acc = 0.0;
  for (var i = lid; i < n; i += WG) { acc += hsum_pairs(dy[db + i] * y[yb + i]); }
  let dot = reduce_wg(lid, acc, false);
  for (var i = lid; i < n; i += WG) { dx[xb + i] = params.scale * y[yb + i] * (dy[db + i] - dot); }
#else
  let xb = params.x_off / VW + row * n;
  let yb = params.y_off / VW + row * n;
  let mb = mask_base(row);
  var m = -3.402823466e38; // -FLT_MAX
  for (var i = lid; i < n; i += WG) { m = max(m, hmax(logit(xb, mb, i))); }
  m = reduce_wg(lid, m, true);
  var s = 0.0;
  for (var i = lid; i < n; i += WG) { s += hsum_pairs(exp(logit(xb, mb, i) - m)); }
  s = reduce_wg(lid, s, false);
  let inv = inv_sum(s);
  for (var i = lid; i < n; i += WG) { y[yb + i] = exp(logit(xb, mb, i) - m) * inv; }
#endif
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = linear_id(gid, nwg, WG);
  if (row >= params.rows) { return; }
  let n = params.n / VW;
#if BACKWARD
  let yb = params.y_off / VW + row * n;
  let db = params.dy_off / VW + row * n;
  let xb = params.dx_off / VW + row * n;
  var acc = VT(0.0);
  for (var i = 0u; i < n; i++) { acc = fma(dy[db + i], y[yb + i], acc); }
  let dot = hsum_pairs(acc);
  for (var i = 0u; i < n; i++) { dx[xb + i] = params.scale * y[yb + i] * (dy[db + i] - dot); }
#else
  let xb = params.x_off / VW + row * n;
  let yb = params.y_off / VW + row * n;
  let mb = mask_base(row);
  var mv = VT(-3.402823466e38); // -FLT_MAX
  for (var i = 0u; i < n; i++) { mv = max(mv, logit(xb, mb, i)); }
  let m = hmax(mv);
  var sv = VT(0.0);
  for (var i = 0u; i < n; i++) {
    let e = exp(logit(xb, mb, i) - m);
    y[yb + i] = e;
    sv += e;
  }
  let inv = inv_sum(hsum_pairs(sv));
  for (var i = 0u; i < n; i++) { y[yb + i] = y[yb + i] * inv; }
#endif
}
#endif
