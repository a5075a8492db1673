// Training losses (SAM 2 training/loss_fns.py, RobotSeg train/loss_fns_let.py) with their backward,
// plus the two feature-space ops of the semantic loss and RobotSeg's structure-map target.
//
// ---- Row losses (define ROWLOSS + a stage + an op): x [M, N] (M masks of N pixels), t [N] (shared,
// t_stride = 0) or [M, N] (t_stride = N). Barrier-free two-pass reduction (workgroup barriers are
// 3-60x slower on software adapters):
//   PARTIAL   invocation (row, j), j < parts: sums the per-pixel terms of pixels j, j + parts, ... of
//             its row into partial[row * parts + j] (vec4: up to 4 sums). Neighbouring invocations read
//             neighbouring pixels: coalesced on GPUs, contiguous SIMD lanes on lavapipe.
//   FINISH    one invocation per row: sums its `parts` partials -> stats[row] (vec4, kept for the
//             backward) and loss[row].
//   BACKWARD  one invocation per pixel: dx = dloss[row] * d loss[row] / d x[row, k], from stats[row];
//             with TWO_GRADS (l1, mse) also dt = -dx.
// Op and its per-pixel sums s (= stats) and row loss:
//   FOCAL     s.x = sum a_t * BCEwithlogits(x, t) * (1 - p_t)^gamma      loss = s.x / N
//             p = sigmoid(x), p_t = p t + (1-p)(1-t), a_t = alpha t + (1-alpha)(1-t) (alpha < 0: a_t = 1)
//   DICE      s = (sum p t, sum p, sum t)                                  loss = 1 - (2 s.x + sm) / (s.y + s.z + sm)
//   MASK_IOU  s = (#(x>0 & t>0), #(x>0 | t>0))                              loss = s.x / max(s.y, 1)   (no backward)
//   SOFT_IOU  x is a probability p: s = (sum p t, sum p + t - p t)         loss = 1 - (s.x + sm) / (s.y + sm)
//   L1, MSE   t is the second operand b: s.x = sum |x - b| or (x - b)^2    loss = s.x / N
//   (sm = params.smoothing: dice's +1, soft IoU's eps)
//
// ---- Per-row feature ops (one invocation per row of C channels, sequential loops; GRAD = backward):
//   NORMALIZE   y = x / max(||x||, eps)                                        (F.normalize)
//   COSINE      y = sum (a / na) (b / nb), na = sqrt(max(sum a^2, eps^2))      (F.cosine_similarity of
//               torch 1.12-2.0; see src/kernels/loss.ts)
//
// ---- STRUCT: RobotSeg's structure target on planes of H x W: L = |3x3 Laplacian| (kornia:
// [[1,1,1],[1,-8,1],[1,1,1]] / 16, reflect padding), y = L / (max over the plane of L + 1e-6).
// Stages PARTIAL (per-chunk max), FINISH (per-plane max), APPLY (one invocation per pixel).
//
// Every input binding has an element offset *_off (views into larger buffers); outputs are fresh.
#include "common/index.wgsl"

override WG: u32 = 64;

// log(1 + v) for v >= 0 without the cancellation of log(1 + v) at small v (and without relying on
// the (u - 1) trick, which fast-math compilers may fold): a 5-term series below 1e-2.
fn log1p_small(v: f32) -> f32 {
  if (v < 1e-2) { return v * (1.0 - v * (0.5 - v * (0.33333334 - v * (0.25 - v * 0.2)))); }
  return log(1.0 + v);
}

// b^g for b >= 0 with exact small integer exponents (torch's pow(x, 2) is x * x) and 0^g = 0 (g > 0).
fn pow_nn(b: f32, g: f32) -> f32 {
  if (g == 0.0) { return 1.0; }
  if (g == 1.0) { return b; }
  if (g == 2.0) { return b * b; }
  if (b <= 0.0) { return 0.0; }
  return exp2(g * log2(b));
}

// d/db b^g (0 at b = 0 for g > 1; g in (0, 1) has an infinite slope there, returned as 0).
fn dpow_nn(b: f32, g: f32) -> f32 {
  if (g == 0.0) { return 0.0; }
  if (g == 1.0) { return 1.0; }
  if (g == 2.0) { return 2.0 * b; }
  if (b <= 0.0) { return 0.0; }
  return g * exp2((g - 1.0) * log2(b));
}

// ------------------------------------------------------------------------------------ row losses
// Focal term and its derivative w.r.t. x: vec2(loss, dloss/dx).
// Uses 1 - p_t = t q + (1-t) p and p - t = (1-t) p - t q with q = sigmoid(-x) (no cancellation).
fn focal(xv: f32, tv: f32, alpha: f32, gamma: f32) -> vec2<f32> {
  let p = sigmoid_f32(xv);
  let q = sigmoid_f32(-xv);
  let ce = max(xv, 0.0) - xv * tv + log1p_small(exp(-abs(xv)));
  let omp = tv * q + (1.0 - tv) * p;
  let w = pow_nn(omp, gamma);
  var at = 1.0;
  if (alpha >= 0.0) { at = alpha * tv + (1.0 - alpha) * (1.0 - tv); }
  let dce = (1.0 - tv) * p - tv * q;
  let domp = (1.0 - 2.0 * tv) * p * q;
  return vec2<f32>(at * ce * w, at * (dce * w + ce * dpow_nn(omp, gamma) * domp));
}

#if ROWLOSS

#if PARTIAL
struct Params { m: u32, n: u32, parts: u32, t_stride: u32, alpha: f32, gamma: f32, x_off: u32, t_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<vec4<f32>>;

fn term(xv: f32, tv: f32) -> vec4<f32> {
#if FOCAL
  return vec4<f32>(focal(xv, tv, params.alpha, params.gamma).x, 0.0, 0.0, 0.0);
#elif DICE
  let p = sigmoid_f32(xv);
  return vec4<f32>(p * tv, p, tv, 0.0);
#elif MASK_IOU
  let a = xv > 0.0;
  let b = tv > 0.0;
  return vec4<f32>(select(0.0, 1.0, a && b), select(0.0, 1.0, a || b), 0.0, 0.0);
#elif SOFT_IOU
  let pt = xv * tv;
  return vec4<f32>(pt, xv + tv - pt, 0.0, 0.0);
#elif L1
  return vec4<f32>(abs(xv - tv), 0.0, 0.0, 0.0);
#elif MSE
  let d = xv - tv;
  return vec4<f32>(d * d, 0.0, 0.0, 0.0);
#else
  return vec4<f32>(0.0);
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.m * params.parts) { return; }
  let row = i / params.parts;
  let xb = params.x_off + row * params.n;
  let tb = params.t_off + row * params.t_stride;
  var acc = vec4<f32>(0.0);
  for (var k = i % params.parts; k < params.n; k += params.parts) {
    acc += term(x[xb + k], t[tb + k]);
  }
  partial[i] = acc;
}
#endif

#if FINISH
struct Params { m: u32, n: u32, parts: u32, smoothing: f32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = linear_id(gid, nwg, WG);
  if (row >= params.m) { return; }
  var s = vec4<f32>(0.0);
  for (var j = 0u; j < params.parts; j++) { s += partial[row * params.parts + j]; }
  stats[row] = s;
#if DICE
  loss[row] = 1.0 - (2.0 * s.x + params.smoothing) / (s.y + s.z + params.smoothing);
#elif MASK_IOU
  loss[row] = s.x / max(s.y, 1.0);
#elif SOFT_IOU
  loss[row] = 1.0 - (s.x + params.smoothing) / (s.y + params.smoothing);
#else
  loss[row] = s.x / f32(params.n);
#endif
}
#endif

#if BACKWARD
struct Params {
  m: u32, n: u32, t_stride: u32, alpha: f32, gamma: f32, smoothing: f32,
  x_off: u32, t_off: u32, dloss_off: u32,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
#if TWO_GRADS
@group(0) @binding(6) var<storage, read_write> dt: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.m * params.n) { return; }
  let row = i / params.n;
  let k = i % params.n;
  let xv = x[params.x_off + i];
  let tv = t[params.t_off + row * params.t_stride + k];
  let g = dloss[params.dloss_off + row];
  let s = stats[row];
#if FOCAL
  dx[i] = g * focal(xv, tv, params.alpha, params.gamma).y / f32(params.n);
#elif DICE
  // L = 1 - num / den: dL/dp = -(2 t den - num) / den^2, dp/dx = p (1 - p)
  let num = 2.0 * s.x + params.smoothing;
  let den = s.y + s.z + params.smoothing;
  let pq = sigmoid_f32(xv) * sigmoid_f32(-xv);
  dx[i] = -g * (2.0 * tv * den - num) / (den * den) * pq;
#elif SOFT_IOU
  // L = 1 - (I + e) / (U + e): dL/dp = -(t (U + e) - (I + e)(1 - t)) / (U + e)^2
  let ie = s.x + params.smoothing;
  let ue = s.y + params.smoothing;
  dx[i] = -g * (tv * ue - ie * (1.0 - tv)) / (ue * ue);
#elif L1
  // torch: sign(a - b) (0 at a = b)
  let d = g * sign(xv - tv) / f32(params.n);
  dx[i] = d;
  dt[i] = -d;
#elif MSE
  let d = g * 2.0 * (xv - tv) / f32(params.n);
  dx[i] = d;
  dt[i] = -d;
#endif
}
#endif

#endif

// ------------------------------------------------------------------------------- per-row features
#if NORMALIZE
#if !GRAD
struct Params { rows: u32, c: u32, eps: f32, x_off: u32 };
#else
struct Params { rows: u32, c: u32, eps: f32, x_off: u32, dy_off: u32 };
#endif
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if !GRAD
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = linear_id(gid, nwg, WG);
  if (r >= params.rows) { return; }
  let xb = params.x_off + r * params.c;
  var ss = 0.0;
  for (var k = 0u; k < params.c; k++) { let v = x[xb + k]; ss += v * v; }
  let nrm = sqrt(ss);
  let d = max(nrm, params.eps);
#if !GRAD
  for (var k = 0u; k < params.c; k++) { y[r * params.c + k] = x[xb + k] / d; }
#else
  // dx = dy / d - [nrm >= eps] (dy . x) / d^2 * x / nrm   (clamp_min passes the gradient where nrm >= eps)
  let gb = params.dy_off + r * params.c;
  var dot = 0.0;
  for (var k = 0u; k < params.c; k++) { dot += dy[gb + k] * x[xb + k]; }
  var coef = 0.0;
  if (nrm >= params.eps && nrm > 0.0) { coef = dot / (d * d * nrm); }
  for (var k = 0u; k < params.c; k++) { dx[r * params.c + k] = dy[gb + k] / d - coef * x[xb + k]; }
#endif
}
#endif

#if COSINE
#if !GRAD
struct Params { rows: u32, c: u32, eps2: f32, a_off: u32, b_off: u32 };
#else
struct Params { rows: u32, c: u32, eps2: f32, a_off: u32, b_off: u32, dy_off: u32 };
#endif
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
#if !GRAD
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> da: array<f32>;
@group(0) @binding(5) var<storage, read_write> db: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = linear_id(gid, nwg, WG);
  if (r >= params.rows) { return; }
  let ab = params.a_off + r * params.c;
  let bb = params.b_off + r * params.c;
  var sa = 0.0;
  var sb = 0.0;
  for (var k = 0u; k < params.c; k++) { let u = a[ab + k]; let v = b[bb + k]; sa += u * u; sb += v * v; }
  let na = sqrt(max(sa, params.eps2));
  let nb = sqrt(max(sb, params.eps2));
  var cs = 0.0;
  for (var k = 0u; k < params.c; k++) { cs += (a[ab + k] / na) * (b[bb + k] / nb); }
#if !GRAD
  y[r] = cs;
#else
  // d cos / da = b / (na nb) - cos a / na^2 (torch 1.13 differentiates through the clamped norm)
  let g = dy[params.dy_off + r];
  let nab = na * nb;
  for (var k = 0u; k < params.c; k++) {
    let u = a[ab + k];
    let v = b[bb + k];
    da[r * params.c + k] = g * (v / nab - cs * u / (na * na));
    db[r * params.c + k] = g * (u / nab - cs * v / (nb * nb));
  }
#endif
}
#endif

// ------------------------------------------------------------------------------ structure target
#if STRUCT
#if !FINISH
fn reflect_idx(i: i32, n: i32) -> i32 {
  if (i < 0) { return -i; }
  if (i >= n) { return 2 * (n - 1) - i; }
  return i;
}

// |Laplacian| at pixel k of a plane starting at base (kornia.filters.laplacian, kernel_size 3,
// normalized: weights 1/16 around, -8/16 in the centre; border 'reflect').
fn lap_abs(base: u32, h: u32, w: u32, k: u32) -> f32 {
  let i = i32(k / w);
  let j = i32(k % w);
  var acc = 0.0;
  for (var di = -1; di <= 1; di++) {
    let r = u32(reflect_idx(i + di, i32(h)));
    for (var dj = -1; dj <= 1; dj++) {
      let c = u32(reflect_idx(j + dj, i32(w)));
      let wt = select(0.0625, -0.5, di == 0 && dj == 0);
      acc += wt * x[base + r * w + c];
    }
  }
  return abs(acc);
}
#endif

#if PARTIAL
struct Params { planes: u32, h: u32, w: u32, parts: u32, x_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.planes * params.parts) { return; }
  let plane = i / params.parts;
  let hw = params.h * params.w;
  let base = params.x_off + plane * hw;
  var mx = 0.0;
  for (var k = i % params.parts; k < hw; k += params.parts) { mx = max(mx, lap_abs(base, params.h, params.w, k)); }
  partial[i] = mx;
}
#endif

#if FINISH
struct Params { planes: u32, parts: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> mx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = linear_id(gid, nwg, WG);
  if (plane >= params.planes) { return; }
  var m = 0.0;
  for (var j = 0u; j < params.parts; j++) { m = max(m, partial[plane * params.parts + j]); }
  mx[plane] = m;
}
#endif

#if APPLY
struct Params { planes: u32, h: u32, w: u32, x_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mx: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  let hw = params.h * params.w;
  if (i >= params.planes * hw) { return; }
  let plane = i / hw;
  y[i] = lap_abs(params.x_off + plane * hw, params.h, params.w, i % hw) / (mx[plane] + 1e-6);
}
#endif
#endif
