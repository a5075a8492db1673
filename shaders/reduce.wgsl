// Reductions over one contiguous block of axes. The input is viewed as [outer, r, inner]
// (row-major) and reduced over r:  y[o, i] = OP_{k<r} x[o, k, i]       OP = SUM | MEAN | MAX | MIN
// MASKED_MEAN: x [outer, r, inner] and weights m [outer / groups?]: here x is [B, C, N] and
// m is [B, N]; y[b, c] = sum_n x[b,c,n] m[b,n] / max(sum_n m[b,n], eps)   (masked average pooling).
// MASKED_MEAN_GRAD (backward of MASKED_MEAN, D_b = max(S_b, eps), S_b = sum_n m[b,n]), three stages:
//   STATS  one invocation per b: stats[b] = (D_b, [S_b >= eps] * sum_c dy[b,c] y[b,c])
//   DX     one invocation per (b, c, n): dx = dy[b,c] m[b,n] / D_b
//   DM     one invocation per (b, n):    dm = (sum_c dy[b,c] x[b,c,n] - stats[b].y) / D_b
//   (torch's clamp_min(S, eps) passes the gradient through S only where S >= eps.)
// EXPAND (backward of SUM / MEAN): y [outer, r, inner] = scale * x [outer, 1, inner], one
// invocation per output element.
// NONFINITE: x is raw 32-bit words viewed as [outer, r] (no inner axis); y[o] (u32) = how many of
//   the words x[o, 0..r) hold a NaN or an Inf: f32 bits, or with HALF two f16 halves per word (the
//   weight check at load, src/kernels/reduce.ts countNonFinite). Bit tests, so no float compare can
//   be optimised away: exponent all ones = Inf or NaN.
// ARGMAX (one-hot argmax): y has x's shape [outer, r, inner]; y[o, k, i] = 1 where k is the first
//   maximum of x[o, lo..r, i] (the first index on ties and NaNs never win, as torch.argmax on finite
//   values and select.ts argmax), 0 elsewhere (k < lo included). One invocation per (o, i). The
//   video heads multiply it into a matmul to pick a mask / token without a readback.
// One invocation per output element, sequential loop over the reduced axis: no workgroup memory
// or barriers (those are 3-60x slower on software adapters); inner-contiguous outputs make
// neighbouring invocations read neighbouring addresses.
#include "common/index.wgsl"

override WG: u32 = 128;

#if MASKED_MEAN
struct Params { b: u32, c: u32, n: u32, eps: f32, x_off: u32, m_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.b * params.c) { return; }
  let bi = i / params.c;
  var num = 0.0;
  var den = 0.0;
  let xb = params.x_off + i * params.n;
  let mb = params.m_off + bi * params.n;
  for (var k = 0u; k < params.n; k++) {
    let w = m[mb + k];
    num += x[xb + k] * w;
    den += w;
  }
  y[params.y_off + i] = num / max(den, params.eps);
}
#elif MASKED_MEAN_GRAD
#if STATS
struct Params { b: u32, c: u32, n: u32, eps: f32, m_off: u32, y_off: u32, dy_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let bi = linear_id(gid, nwg, WG);
  if (bi >= params.b) { return; }
  var s = 0.0;
  for (var k = 0u; k < params.n; k++) { s += m[params.m_off + bi * params.n + k]; }
  var gy = 0.0;
  if (s >= params.eps) {
    for (var ci = 0u; ci < params.c; ci++) { gy += dy[params.dy_off + bi * params.c + ci] * y[params.y_off + bi * params.c + ci]; }
  }
  stats[bi] = vec2<f32>(max(s, params.eps), gy);
}
#elif DX
struct Params { b: u32, c: u32, n: u32, m_off: u32, dy_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.b * params.c * params.n) { return; }
  let bc = i / params.n;
  let bi = bc / params.c;
  dx[i] = dy[params.dy_off + bc] * m[params.m_off + bi * params.n + i % params.n] / stats[bi].x;
}
#elif DM
struct Params { b: u32, c: u32, n: u32, x_off: u32, dy_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> dm: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.b * params.n) { return; }
  let bi = i / params.n;
  let k = i % params.n;
  var acc = 0.0;
  for (var ci = 0u; ci < params.c; ci++) { acc += dy[params.dy_off + bi * params.c + ci] * x[params.x_off + (bi * params.c + ci) * params.n + k]; }
  let st = stats[bi];
  dm[i] = (acc - st.y) / st.x;
}
#endif
#elif EXPAND
struct Params { outer: u32, r: u32, inner: u32, scale: f32, x_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.outer * params.r * params.inner) { return; }
  let o = i / (params.r * params.inner);
  let j = i % params.inner;
  y[params.y_off + i] = params.scale * x[params.x_off + o * params.inner + j];
}
#elif ARGMAX
struct Params { outer: u32, r: u32, inner: u32, lo: u32, x_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.outer * params.inner) { return; }
  let o = i / params.inner;
  let j = i % params.inner;
  let base = o * params.r * params.inner + j;
  var best = params.lo;
  for (var k = params.lo + 1u; k < params.r; k++) {
    if (x[params.x_off + base + k * params.inner] > x[params.x_off + base + best * params.inner]) { best = k; }
  }
  for (var k = 0u; k < params.r; k++) {
    y[params.y_off + base + k * params.inner] = select(0.0, 1.0, k == best);
  }
}
#elif NONFINITE
struct Params { outer: u32, r: u32, x_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = linear_id(gid, nwg, WG);
  if (o >= params.outer) { return; }
  let base = params.x_off + o * params.r;
  var n = 0u;
  for (var k = 0u; k < params.r; k++) {
    let w = x[base + k];
#if HALF
    n += select(0u, 1u, (w & 0x7c00u) == 0x7c00u) + select(0u, 1u, (w & 0x7c000000u) == 0x7c000000u);
#else
    n += select(0u, 1u, (w & 0x7f800000u) == 0x7f800000u);
#endif
  }
  y[params.y_off + o] = n;
}
#else
struct Params { outer: u32, r: u32, inner: u32, x_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.outer * params.inner) { return; }
  let o = i / params.inner;
  let j = i % params.inner;
  let base = params.x_off + o * params.r * params.inner + j;
#if MAX
  var acc = -3.402823466e38;
  for (var k = 0u; k < params.r; k++) { acc = max(acc, x[base + k * params.inner]); }
#elif MIN
  var acc = 3.402823466e38;
  for (var k = 0u; k < params.r; k++) { acc = min(acc, x[base + k * params.inner]); }
#else
  var acc = 0.0;
  for (var k = 0u; k < params.r; k++) { acc += x[base + k * params.inner]; }
#endif
#if MEAN
  acc = acc / f32(max(params.r, 1u));
#endif
  y[params.y_off + i] = acc;
}
#endif
