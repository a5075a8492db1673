// Normalisation family: LayerNorm (last dim), SAM's LayerNorm2d (channels per pixel, NCHW) and
// GroupNorm (NCHW), forward and backward. All use the biased variance, as PyTorch does:
//   y = (x - mean) * rstd * w[c] + b[c],   rstd = 1 / sqrt(var + eps)
// and for backward, with xhat = (x - mean) * rstd, g = dy * w[c] and n elements per statistic set:
//   dx = rstd * (g - sum(g) / n - xhat * sum(g * xhat) / n)
//   dw[c] = sum dy * xhat,  db[c] = sum dy     (over everything but c)
//
// Sections (exactly one define per dispatch); VT is f32, or vec4<f32> under VEC4 (common/vec4.wgsl;
// lanes summed in order, hsum_seq):
//  LN_FWD        x, y [rows, C] (VT), w, b [C] (VT). One row per invocation (software: shifted sums,
//                see RECENTRE) or, with WGROW, one workgroup of WG (power of 2) per row with an exact
//                two-pass mean/variance through workgroup-memory trees (hardware).
//                STATS: also write stats [2, rows] (f32): mean, then rstd. C_F16: y stored f16
//                (precision f16 at inference: a normalised row's range is bounded by its affine).
//  LN_BWD        x, dy, dx [rows, C] (VT), w [C] (VT), stats [2, rows] from LN_FWD. Same mapping
//                (row per invocation, or WGROW workgroup per row).
//  LN2D_FWD      x, y [B, C, HW] (VT over pixels: 4 neighbouring pixels per invocation under VEC4),
//                w, b [C] f32. One pixel (unit) per invocation, looping over C at stride HW: neighbouring
//                invocations read neighbouring addresses; shifted sums per pixel (RECENTRE).
//                STATS: stats [2, B*HW] (VT units).
//  LN2D_BWD      x, dy, dx [B, C, HW] (VT), w [C], stats [2, B*HW] (VT). Same mapping.
//  GN_PARTIAL    x [B*G, M] (VT; M = C/G*HW contiguous per group). P partials per group; partial p
//                reads units p, p+P, p+2P, ... (neighbouring invocations read neighbouring units) and
//                writes part[p * NG + grp] = (mean, M2) from sums shifted by its first value (RECENTRE).
//                With BWD it reads dy as well and writes (sum g, sum g*xhat) using stats [2, NG].
//  GN_FINAL      one invocation per group: Chan/Welford merge of the P (mean, M2) partials ->
//                stats [2, NG]: mean, rstd.
//  GN_APPLY      x, y [B*C, HW] (VT; VEC4 needs HW % 4 == 0), ~16 units of one row per invocation:
//                y = (x - mean) * rstd * w[c] + b[c]. With BWD: dx from dy, stats and sum_g, sum_gx [NG]
//                (sum g, sum g*xhat per group, from COLSUM over the BWD partials); y holds dx then.
//  DWB_PARTIAL   dw/db partial sums of dy*xhat and dy. LayerNorm [rows, C] (scalar): invocation
//                (chunk of rows, c) -> part[chunk*C + c]. NCHW (LayerNorm2d, GroupNorm; VT over HW):
//                invocation (b*C + c, k) sums units k, k+nchunk, ... of its row -> part[(b*nchunk+k)*C + c],
//                with the statistic of (b, c, p) at s = b*sb + (c / cpg)*sg + p*sp.
//  COLSUM        out0[j] = sum_k part[k*n + j].x, out1[j] = sum_k part[k*n + j].y, k < nk. One invocation per j.
// 1-D dispatches are folded into 2-D above 65535 workgroups (linear_id / workgroup index).
#include "common/index.wgsl"
#include "common/vec4.wgsl"
#include "common/half.wgsl"

override WG: u32 = 128;

// Shifted sums: s1 = sum(x - k), s2 = sum((x - k)^2) with k one of the values, var = s2/n - (s1/n)^2.
// Since k is a data point, |k - mean| <= sqrt(n) std; the cancellation costs a factor
// 1 + (k - mean)^2 / var. When that exceeds 5 (|k - mean| > 2 std, e.g. k is an outlier) the
// kernels recompute the variance as a centred sum in one more pass, so the result is always as
// accurate as a two-pass variance.
const RECENTRE: f32 = 4.0;

#if WGROW
var<workgroup> red: array<vec2<f32>, WG>;

// Workgroup-wide sum of v (power-of-2 tree in workgroup memory); every invocation gets the result.
// Call from uniform control flow only.
fn tree_sum(t: u32, v: vec2<f32>) -> vec2<f32> {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier(); // all have read red[0] before the next call overwrites it
  return r;
}
#endif

// ------------------------------------------------------------------------------------------ LayerNorm
#if LN_FWD
struct Params { rows: u32, c: u32, eps: f32, x_off: u32, w_off: u32, b_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<VT>;
@group(0) @binding(2) var<storage, read> w: array<VT>;
@group(0) @binding(3) var<storage, read> b: array<VT>;
// C_F16 (inference, common/half.wgsl): y stored f16, saturating at +-65504; statistics stay f32.
#if VEC4
alias YT = vec4<CT>;
#else
alias YT = CT;
#endif
@group(0) @binding(4) var<storage, read_write> y: array<YT>;
#if STATS
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
#endif

// Output pass over units j0, j0 + js, ... of one row (all of it: j0 = 0, js = 1; or invocation j0's
// share of a WGROW workgroup: js = WG); unit 0's invocation writes the statistics.
fn ln_write_row(row: u32, j0: u32, js: u32, mean: f32, rstd: f32) {
  let cv = params.c / VW;
  let xb = params.x_off / VW + row * cv;
  let yb = params.y_off / VW + row * cv;
  let wb = params.w_off / VW;
  let bb = params.b_off / VW;
  for (var j = j0; j < cv; j += js) {
    let v = (x[xb + j] - VT(mean)) * VT(rstd) * w[wb + j] + b[bb + j];
#if C_F16
    y[yb + j] = YT(clamp(v, VT(-65504.0), VT(65504.0)));
#else
    y[yb + j] = v;
#endif
  }
#if STATS
  if (j0 == 0u) {
    stats[row] = mean;
    stats[params.rows + row] = rstd;
  }
#endif
}

#if WGROW
// Hardware: exact two-pass statistics (mean, then centred sum of squares); the row stays in cache.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; } // uniform per workgroup: barriers below stay legal
  let t = lid.x;
  let cv = params.c / VW;
  let xb = params.x_off / VW + row * cv;
  let n = f32(params.c);
  var s1 = VT(0.0);
  for (var j = t; j < cv; j += WG) { s1 += x[xb + j]; }
  let mean = tree_sum(t, vec2<f32>(hsum_seq(s1), 0.0)).x / n;
  var s2 = VT(0.0);
  for (var j = t; j < cv; j += WG) {
    let d = x[xb + j] - VT(mean);
    s2 = fma(d, d, s2);
  }
  let rstd = inverseSqrt(tree_sum(t, vec2<f32>(hsum_seq(s2), 0.0)).x / n + params.eps);
  ln_write_row(row, t, WG, mean, rstd);
}
#else
// Software: one pass of shifted sums (shift = the row's first value), a centred re-pass only if
// the shift was far from the mean, then the output pass.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = linear_id(gid, nwg, WG);
  if (row >= params.rows) { return; }
  let cv = params.c / VW;
  let xb = params.x_off / VW + row * cv;
  let n = f32(params.c);
  let k = first(x[xb]);
  var s1 = VT(0.0);
  var s2 = VT(0.0);
  for (var j = 0u; j < cv; j++) {
    let d = x[xb + j] - VT(k);
    s1 += d;
    s2 = fma(d, d, s2);
  }
  let m1 = hsum_seq(s1) / n;
  let mean = k + m1;
  var v = max(hsum_seq(s2) / n - m1 * m1, 0.0);
  if (m1 * m1 > RECENTRE * v) {
    var s3 = VT(0.0);
    for (var j = 0u; j < cv; j++) {
      let d = x[xb + j] - VT(mean);
      s3 = fma(d, d, s3);
    }
    v = hsum_seq(s3) / n;
  }
  ln_write_row(row, 0u, 1u, mean, inverseSqrt(v + params.eps));
}
#endif
#endif

#if LN_BWD
struct Params { rows: u32, c: u32, x_off: u32, w_off: u32, dy_off: u32, dx_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<VT>;
@group(0) @binding(2) var<storage, read> w: array<VT>;
@group(0) @binding(3) var<storage, read> dy: array<VT>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<VT>;

// Units j0, j0 + js, ... of one row: all of it (j0 = 0, js = 1), or invocation j0's share of a WGROW
// workgroup (js = WG; the two sums then combined by tree_sum, so call from uniform control flow).
fn ln_bwd_row(row: u32, j0: u32, js: u32) {
  let cv = params.c / VW;
  let xb = params.x_off / VW + row * cv;
  let db = params.dy_off / VW + row * cv;
  let wb = params.w_off / VW;
  let mean = VT(stats[row]);
  let rstd = VT(stats[params.rows + row]);
  var sg = VT(0.0);
  var sgx = VT(0.0);
  for (var j = j0; j < cv; j += js) {
    let g = dy[db + j] * w[wb + j];
    sg += g;
    sgx = fma(g, (x[xb + j] - mean) * rstd, sgx);
  }
#if WGROW
  let tot = tree_sum(j0, vec2<f32>(hsum_seq(sg), hsum_seq(sgx)));
#else
  let tot = vec2<f32>(hsum_seq(sg), hsum_seq(sgx));
#endif
  let n = f32(params.c);
  let a = VT(tot.x / n);
  let bq = VT(tot.y / n);
  let ob = params.dx_off / VW + row * cv;
  for (var j = j0; j < cv; j += js) {
    let g = dy[db + j] * w[wb + j];
    let xh = (x[xb + j] - mean) * rstd;
    dx[ob + j] = rstd * (g - a - xh * bq);
  }
}

#if WGROW
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; } // uniform per workgroup
  ln_bwd_row(row, lid.x, WG);
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = linear_id(gid, nwg, WG);
  if (row >= params.rows) { return; }
  ln_bwd_row(row, 0u, 1u);
}
#endif
#endif

// ---------------------------------------------------------------------------------------- LayerNorm2d
#if LN2D_FWD
struct Params { npix: u32, c: u32, hw: u32, eps: f32, x_off: u32, w_off: u32, b_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<VT>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<VT>;
#if STATS
@group(0) @binding(5) var<storage, read_write> stats: array<VT>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let u = linear_id(gid, nwg, WG);
  let nu = params.npix / VW;
  if (u >= nu) { return; }
  let hwv = params.hw / VW;
  let bi = u / hwv;
  let pv = u - bi * hwv;
  let xb = params.x_off / VW + bi * params.c * hwv + pv;
  let k = x[xb]; // per-pixel shift (each vec4 lane is its own pixel)
  var s1 = VT(0.0);
  var s2 = VT(0.0);
  for (var ch = 0u; ch < params.c; ch++) {
    let d = x[xb + ch * hwv] - k;
    s1 += d;
    s2 = fma(d, d, s2);
  }
  let n = f32(params.c);
  let m1 = s1 / n;
  let mean = k + m1;
  var v = max(s2 / n - m1 * m1, VT(0.0));
  if (any(m1 * m1 > RECENTRE * v)) {
    var s3 = VT(0.0);
    for (var ch = 0u; ch < params.c; ch++) {
      let d = x[xb + ch * hwv] - mean;
      s3 = fma(d, d, s3);
    }
    v = s3 / n;
  }
  let rstd = inverseSqrt(v + VT(params.eps));
  let yb = params.y_off / VW + bi * params.c * hwv + pv;
  for (var ch = 0u; ch < params.c; ch++) {
    y[yb + ch * hwv] = (x[xb + ch * hwv] - mean) * rstd * w[params.w_off + ch] + b[params.b_off + ch];
  }
#if STATS
  stats[u] = mean;
  stats[nu + u] = rstd;
#endif
}
#endif

#if LN2D_BWD
struct Params { npix: u32, c: u32, hw: u32, x_off: u32, w_off: u32, dy_off: u32, dx_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<VT>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<VT>;
@group(0) @binding(4) var<storage, read> stats: array<VT>;
@group(0) @binding(5) var<storage, read_write> dx: array<VT>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let u = linear_id(gid, nwg, WG);
  let nu = params.npix / VW;
  if (u >= nu) { return; }
  let hwv = params.hw / VW;
  let bi = u / hwv;
  let pv = u - bi * hwv;
  let off = bi * params.c * hwv + pv;
  let xb = params.x_off / VW + off;
  let db = params.dy_off / VW + off;
  let mean = stats[u];
  let rstd = stats[nu + u];
  var sg = VT(0.0);
  var sgx = VT(0.0);
  for (var ch = 0u; ch < params.c; ch++) {
    let g = dy[db + ch * hwv] * w[params.w_off + ch];
    sg += g;
    sgx = fma(g, (x[xb + ch * hwv] - mean) * rstd, sgx);
  }
  let n = f32(params.c);
  let a = sg / n;
  let bq = sgx / n;
  let ob = params.dx_off / VW + off;
  for (var ch = 0u; ch < params.c; ch++) {
    let g = dy[db + ch * hwv] * w[params.w_off + ch];
    let xh = (x[xb + ch * hwv] - mean) * rstd;
    dx[ob + ch * hwv] = rstd * (g - a - xh * bq);
  }
}
#endif

// ------------------------------------------------------------------------------------------ GroupNorm
#if GN_PARTIAL
// ng groups of m elements (mv = m / VW units each); cpg channels per group, g groups per sample.
#if BWD
struct Params { ng: u32, m: u32, p: u32, hw: u32, cpg: u32, g: u32, x_off: u32, w_off: u32, dy_off: u32 };
#else
struct Params { ng: u32, m: u32, p: u32, x_off: u32 };
#endif
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<VT>;
@group(0) @binding(2) var<storage, read_write> part: array<vec2<f32>>;
#if BWD
@group(0) @binding(3) var<storage, read> dy: array<VT>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> stats: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.ng * params.p) { return; }
  let grp = i / params.p;
  let pi = i - grp * params.p;
  let mv = params.m / VW;
  let xb = params.x_off / VW + grp * mv;
#if BWD
  // sums of g = dy * w[c] and g * xhat over this partial's units
  let db = params.dy_off / VW + grp * mv;
  let mean = VT(stats[grp]);
  let rstd = VT(stats[params.ng + grp]);
  let c0 = (grp % params.g) * params.cpg; // first channel of the group
  var sg = VT(0.0);
  var sgx = VT(0.0);
  for (var j = pi; j < mv; j += params.p) {
    let ch = c0 + (j * VW) / params.hw; // VEC4 needs hw % 4 == 0: one channel per unit
    let gv = dy[db + j] * w[params.w_off + ch];
    sg += gv;
    sgx = fma(gv, (x[xb + j] - mean) * rstd, sgx);
  }
  part[pi * params.ng + grp] = vec2<f32>(hsum_seq(sg), hsum_seq(sgx));
#else
  // (mean, M2) of this partial from sums shifted by its first element
  let k = first(x[xb + pi]);
  var s1 = VT(0.0);
  var s2 = VT(0.0);
  var cnt = 0u;
  for (var j = pi; j < mv; j += params.p) {
    let d = x[xb + j] - VT(k);
    s1 += d;
    s2 = fma(d, d, s2);
    cnt++;
  }
  let n = f32(cnt * VW);
  let m1 = hsum_seq(s1) / n;
  let mean = k + m1;
  var m2 = max(hsum_seq(s2) - hsum_seq(s1) * m1, 0.0);
  if (m1 * m1 * n > RECENTRE * m2) {
    var s3 = VT(0.0);
    for (var j = pi; j < mv; j += params.p) {
      let d = x[xb + j] - VT(mean);
      s3 = fma(d, d, s3);
    }
    m2 = hsum_seq(s3);
  }
  part[pi * params.ng + grp] = vec2<f32>(mean, m2);
#endif
}
#endif

#if GN_FINAL
struct Params { ng: u32, m: u32, p: u32, eps: f32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let grp = linear_id(gid, nwg, WG);
  if (grp >= params.ng) { return; }
  let mv = params.m / VW;
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var pi = 0u; pi < params.p; pi++) {
    let nb = f32(((mv - pi + params.p - 1u) / params.p) * VW); // units pi, pi+p, ... < mv
    let q = part[pi * params.ng + grp];
    let nn = n + nb;
    let delta = q.x - mean;
    mean += delta * (nb / nn);
    m2 += q.y + delta * delta * (n * nb / nn);
    n = nn;
  }
  stats[grp] = mean;
  stats[params.ng + grp] = inverseSqrt(m2 / n + params.eps);
}
#endif

#if GN_APPLY
// Rows of x [B*C, HW] (VT units); a row has one channel and one group, so per-row constants replace
// per-element divisions. Invocation (row, k) handles units k, k + nchunk, ... of its row:
// neighbouring invocations touch neighbouring units, and each does ~16 of them (per-invocation cost
// dominates one-unit-per-invocation kernels on software adapters).
#if BWD
// y holds dx; sum_g, sum_gx [ng]: sum g, sum g*xhat per group (COLSUM of the GN_PARTIAL BWD partials)
struct Params { nrows: u32, hw: u32, c: u32, cpg: u32, ng: u32, nchunk: u32, x_off: u32, w_off: u32, dy_off: u32, y_off: u32 };
@group(0) @binding(4) var<storage, read> dy: array<VT>;
@group(0) @binding(5) var<storage, read> sum_g: array<f32>;
@group(0) @binding(7) var<storage, read> sum_gx: array<f32>;
#else
struct Params { nrows: u32, hw: u32, c: u32, cpg: u32, ng: u32, nchunk: u32, x_off: u32, w_off: u32, b_off: u32, y_off: u32 };
@group(0) @binding(4) var<storage, read> b: array<f32>;
#endif
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<VT>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<VT>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.nrows * params.nchunk) { return; }
  let r = i / params.nchunk;
  let k = i - r * params.nchunk;
  let ch = r % params.c;
  let grp = r / params.cpg; // r = b*C + c -> b*G + c/cpg
  let hwv = params.hw / VW;
  let xb = params.x_off / VW + r * hwv;
  let yb = params.y_off / VW + r * hwv;
  let mean = VT(stats[grp]);
  let rstd = stats[params.ng + grp];
#if BWD
  let nm = f32(params.cpg * params.hw);
  let a = VT(rstd * sum_g[grp] / nm);          // rstd * mean(g)
  let q = VT(rstd * rstd * sum_gx[grp] / nm);  // rstd * mean(g xhat) * rstd (for x - mean)
  let sw = VT(rstd * w[params.w_off + ch]);
  let db = params.dy_off / VW + r * hwv;
  for (var j = k; j < hwv; j += params.nchunk) {
    y[yb + j] = dy[db + j] * sw - a - (x[xb + j] - mean) * q;
  }
#else
  let sc = VT(rstd * w[params.w_off + ch]);
  let sh = VT(b[params.b_off + ch]);
  for (var j = k; j < hwv; j += params.nchunk) {
    y[yb + j] = fma(x[xb + j] - mean, sc, sh);
  }
#endif
}
#endif

// ------------------------------------------------------------------------------- dweight / dbias
#if DWB_PARTIAL
#if NCHW
// x, dy [B, C, HW] (VT units over HW). Invocation (row r = b*C + c, k) handles units k, k + nchunk, ...
// of its row -> part[(b*nchunk + k)*C + c]. Statistic of (b, c, p): s = b*sb + (c/cpg)*sg + p*sp,
// sp = 0 (GroupNorm: constant over the row) or 1 (LayerNorm2d: one per pixel).
struct Params { nb: u32, c: u32, hw: u32, sb: u32, sg: u32, sp: u32, cpg: u32, ns: u32, nchunk: u32, x_off: u32, dy_off: u32 };
#else
// LayerNorm: x, dy [rows, C]. Invocation (chunk, c) sums rows [chunk*rows_per, ...) of column c ->
// part[chunk*C + c]; neighbouring invocations read neighbouring columns. Statistic s = row.
struct Params { rows: u32, c: u32, chunk: u32, nchunk: u32, x_off: u32, dy_off: u32 };
#endif
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<VT>;
@group(0) @binding(2) var<storage, read> dy: array<VT>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> part: array<vec2<f32>>;

#if NCHW
// VW consecutive statistics starting at q
fn stat_run(q: u32) -> VT {
#if VEC4
  return VT(stats[q], stats[q + 1u], stats[q + 2u], stats[q + 3u]);
#else
  return stats[q];
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.nb * params.c * params.nchunk) { return; }
  let r = i / params.nchunk;
  let k = i - r * params.nchunk;
  let bi = r / params.c;
  let ch = r - bi * params.c;
  let hwv = params.hw / VW;
  let xb = params.x_off / VW + r * hwv;
  let db = params.dy_off / VW + r * hwv;
  let s0 = bi * params.sb + (ch / params.cpg) * params.sg;
  var sdw = VT(0.0);
  var sdb = VT(0.0);
  if (params.sp == 0u) {
    let mean = VT(stats[s0]);
    let rstd = VT(stats[params.ns + s0]);
    for (var j = k; j < hwv; j += params.nchunk) {
      let d = dy[db + j];
      sdw = fma(d, (x[xb + j] - mean) * rstd, sdw);
      sdb += d;
    }
  } else {
    for (var j = k; j < hwv; j += params.nchunk) {
      let q = s0 + j * VW * params.sp;
      let d = dy[db + j];
      sdw = fma(d, (x[xb + j] - stat_run(q)) * stat_run(params.ns + q), sdw);
      sdb += d;
    }
  }
  part[(bi * params.nchunk + k) * params.c + ch] = vec2<f32>(hsum_seq(sdw), hsum_seq(sdb));
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.nchunk * params.c) { return; }
  let ck = i / params.c;
  let ch = i - ck * params.c;
  let r0 = ck * params.chunk;
  let r1 = min(r0 + params.chunk, params.rows);
  var sdw = 0.0;
  var sdb = 0.0;
  for (var row = r0; row < r1; row++) {
    let e = row * params.c + ch;
    let d = dy[params.dy_off + e];
    sdw = fma(d, (x[params.x_off + e] - stats[row]) * stats[params.rows + row], sdw);
    sdb += d;
  }
  part[ck * params.c + ch] = vec2<f32>(sdw, sdb);
}
#endif
#endif

#if COLSUM
struct Params { n: u32, nk: u32, out0_off: u32, out1_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
@group(0) @binding(3) var<storage, read_write> out1: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = linear_id(gid, nwg, WG);
  if (j >= params.n) { return; }
  var acc = vec2<f32>(0.0);
  for (var k = 0u; k < params.nk; k++) { acc += part[k * params.n + j]; }
  out0[params.out0_off + j] = acc.x;
  out1[params.out1_off + j] = acc.y;
}
#endif
