// Fused multi-head scaled-dot-product attention with online (flash-style) softmax; the score
// matrix is never stored:
//   out[b, i, h*Dh + d] = sum_j p_ij v[b, j, h*Dh + d],  p_i = softmax_j(scale * q_i . k_j + mask[b, j])
// Layouts (token-major, heads interleaved as PyTorch's x.reshape(B, N, H, Dh)), all f32 bound as vec4:
//   q: element (b, i, h, d) at q_off + q_start + b * q_bs + i * q_ts + h * Dh + d   (likewise k, v over j)
//      (contiguous [B, N, H*Dh]: q_bs = N*H*Dh, q_ts = H*Dh; a packed qkv [B, N, 3*H*Dh] is read
//      in place with q_ts = 3*H*Dh and q_start = 0, H*Dh, 2*H*Dh; a batch stride of 0 broadcasts)
//   mask (MASK): additive f32 [B or 1, Nk], element mask_off + b * mask_bs + j (0 keeps, -inf drops)
//   out: contiguous [B, Nq, H*Dh]
//   stats (LSE / backward): [B, H, Nq, 2] = (logsumexp of the scaled, masked scores, D = dO . O)
// Every offset, stride and Dh is a multiple of 4 (the wrapper checks). D4 = Dh / 4 is compile-time.
// A_F16 (forward only): k and v stored f16 (the memory path under --precision f16), widened to f32 on
//   load; scores, softmax and accumulators stay f32.
// A query whose keys are all masked (-inf) gets out = 0 and lse = -FLT_MAX (PyTorch gives NaN).
// Entry points / variants:
//   main (default, software adapters): QB query rows per invocation (each K / V vec4 loaded once
//     serves QB queries), q and the output accumulators in registers, keys in blocks of BK: scores of
//     a block, then one rescale per block. No workgroup memory. Grid (ceil(Nq / (WG*QB)), B*H folded
//     into y, z): a workgroup stays inside one (b, h), so its invocations read the same keys.
//   main with TILED (hardware): workgroup of WQ query rows of one (b, h); K/V tiles of BK keys
//     staged in workgroup memory. Grid (ceil(Nq/WQ), B*H folded into y, z).
//   D4, BK, QB are substituted at compile time.
//   BWD_Q: one invocation per query row: D = dO . O (stored in stats), dq = scale * sum_j p_ij (dO.v_j - D) k_j.
//   BWD_KV: one invocation per key row: dv_j = sum_i p_ij dO_i, dk_j = scale * sum_i p_ij (dO_i.v_j - D_i) q_i.
#include "common/index.wgsl"
#include "common/half.wgsl"

override WG: u32 = 64;
const D4: u32 = {{D4}}u;
const BK: u32 = {{BK}}u;
const NEG: f32 = -3.402823466e38; // -FLT_MAX: start of the running max (keeps exp() of masked keys at 0, never NaN)

struct Params {
  B: u32,
  H: u32,
  Nq: u32,
  Nk: u32,
  scale: f32,
  q_off: u32, q_start: u32, q_bs: u32, q_ts: u32,
  k_off: u32, k_start: u32, k_bs: u32, k_ts: u32,
  v_off: u32, v_start: u32, v_bs: u32, v_ts: u32,
#if MASK
  mask_off: u32, mask_bs: u32,
#endif
#if BWD_Q
  dout_off: u32, out_off: u32, stats_off: u32, dq_off: u32,
#elif BWD_KV
  dout_off: u32, stats_off: u32, dk_off: u32, dv_off: u32,
#else
  out_off: u32,
#if LSE
  stats_off: u32,
#endif
#endif
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<AT>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<AT>>;
// k / v rows widened to f32 (the identity unless A_F16 stores them f16)
fn lk(i: u32) -> vec4<f32> { return vec4<f32>(k[i]); }
fn lv(i: u32) -> vec4<f32> { return vec4<f32>(v[i]); }
#if MASK
@group(0) @binding(4) var<storage, read> mask: array<f32>;
#endif
#if BWD_Q
@group(0) @binding(5) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> out: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> stats: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read_write> dq: array<vec4<f32>>;
#elif BWD_KV
@group(0) @binding(5) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dv: array<vec4<f32>>;
#else
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
#if LSE
@group(0) @binding(6) var<storage, read_write> stats: array<vec2<f32>>;
#endif
#endif

// vec4 index of (b, token, head) rows
fn q_row(b: u32, i: u32, h: u32) -> u32 { return (params.q_off + params.q_start + b * params.q_bs + i * params.q_ts + h * D4 * 4u) / 4u; }
fn k_row(b: u32, j: u32, h: u32) -> u32 { return (params.k_off + params.k_start + b * params.k_bs + j * params.k_ts + h * D4 * 4u) / 4u; }
fn v_row(b: u32, j: u32, h: u32) -> u32 { return (params.v_off + params.v_start + b * params.v_bs + j * params.v_ts + h * D4 * 4u) / 4u; }
// contiguous [B, N, H*Dh] row
fn o_row(b: u32, i: u32, h: u32, n: u32) -> u32 { return ((b * n + i) * params.H + h) * D4; }

fn mask_at(b: u32, j: u32) -> f32 {
#if MASK
  return mask[params.mask_off + b * params.mask_bs + j];
#else
  return 0.0;
#endif
}

#if BWD_Q
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.B * params.H * params.Nq) { return; }
  let i = id % params.Nq;
  let bh = id / params.Nq;
  let h = bh % params.H;
  let b = bh / params.H;
  let qb = q_row(b, i, h);
  let ob = o_row(b, i, h, params.Nq);
  var qr: array<vec4<f32>, D4>;
  var dor: array<vec4<f32>, D4>;
  var acc: array<vec4<f32>, D4>;
  var dd = 0.0;
  for (var d = 0u; d < D4; d++) {
    qr[d] = q[qb + d] * params.scale;
    let g = dout[params.dout_off / 4u + ob + d];
    dor[d] = g;
    dd += dot(g, out[params.out_off / 4u + ob + d]);
    acc[d] = vec4<f32>(0.0);
  }
  let si = params.stats_off / 2u + id;
  let lse = stats[si].x;
  stats[si] = vec2<f32>(lse, dd);
  for (var j = 0u; j < params.Nk; j++) {
    let kb = k_row(b, j, h);
    let vb = v_row(b, j, h);
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < D4; d++) {
      s += dot(qr[d], lk(kb + d));
      dp += dot(dor[d], lv(vb + d));
    }
    let p = exp(s + mask_at(b, j) - lse);
    let ds = p * (dp - dd);
    for (var d = 0u; d < D4; d++) { acc[d] = fma(vec4<f32>(ds), lk(kb + d), acc[d]); }
  }
  for (var d = 0u; d < D4; d++) { dq[params.dq_off / 4u + ob + d] = acc[d] * params.scale; }
}
#elif BWD_KV
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.B * params.H * params.Nk) { return; }
  let j = id % params.Nk;
  let bh = id / params.Nk;
  let h = bh % params.H;
  let b = bh / params.H;
  let kb = k_row(b, j, h);
  let vb = v_row(b, j, h);
  var kr: array<vec4<f32>, D4>;
  var vr: array<vec4<f32>, D4>;
  var gk: array<vec4<f32>, D4>;
  var gv: array<vec4<f32>, D4>;
  for (var d = 0u; d < D4; d++) {
    kr[d] = lk(kb + d) * params.scale;
    vr[d] = lv(vb + d);
    gk[d] = vec4<f32>(0.0);
    gv[d] = vec4<f32>(0.0);
  }
  let mj = mask_at(b, j);
  for (var i = 0u; i < params.Nq; i++) {
    let qb = q_row(b, i, h);
    let ob = params.dout_off / 4u + o_row(b, i, h, params.Nq);
    let st = stats[params.stats_off / 2u + bh * params.Nq + i];
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < D4; d++) {
      s += dot(kr[d], q[qb + d]);
      dp += dot(vr[d], dout[ob + d]);
    }
    let p = exp(s + mj - st.x);
    let ds = p * (dp - st.y);
    for (var d = 0u; d < D4; d++) {
      gv[d] = fma(vec4<f32>(p), dout[ob + d], gv[d]);
      gk[d] = fma(vec4<f32>(ds), q[qb + d], gk[d]);
    }
  }
  let ok = o_row(b, j, h, params.Nk);
  for (var d = 0u; d < D4; d++) {
    dk[params.dk_off / 4u + ok + d] = gk[d] * params.scale;
    dv[params.dv_off / 4u + ok + d] = gv[d];
  }
}
#elif TILED
const WQ: u32 = 64u;
var<workgroup> ks: array<vec4<f32>, BK * D4>;
var<workgroup> vs: array<vec4<f32>, BK * D4>;
var<workgroup> ms: array<f32, BK>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let lid = lidv.x;
  let bh = wid.y + wid.z * nwg.y;
  if (bh >= params.B * params.H) { return; } // uniform per workgroup
  let h = bh % params.H;
  let b = bh / params.H;
  let i_raw = wid.x * WQ + lid;
  let live = i_raw < params.Nq;
  let i = min(i_raw, params.Nq - 1u); // rows past the end compute a duplicate and skip the store
  let qb = q_row(b, i, h);
  var qr: array<vec4<f32>, D4>;
  var acc: array<vec4<f32>, D4>;
  for (var d = 0u; d < D4; d++) {
    qr[d] = q[qb + d] * params.scale;
    acc[d] = vec4<f32>(0.0);
  }
  var m = NEG;
  var l = 0.0;
  var s: array<f32, BK>;
  for (var j0 = 0u; j0 < params.Nk; j0 += BK) {
    let cnt = min(BK, params.Nk - j0);
    for (var e = lid; e < BK * D4; e += WQ) {
      let jj = e / D4;
      let d = e % D4;
      var kv = vec4<f32>(0.0);
      var vv = vec4<f32>(0.0);
      if (jj < cnt) {
        kv = lk(k_row(b, j0 + jj, h) + d);
        vv = lv(v_row(b, j0 + jj, h) + d);
      }
      ks[e] = kv;
      vs[e] = vv;
    }
    if (lid < BK) { ms[lid] = select(0.0, mask_at(b, min(j0 + lid, params.Nk - 1u)), j0 + lid < params.Nk); }
    workgroupBarrier();
    var bm = NEG;
    for (var jj = 0u; jj < cnt; jj++) {
      var t = 0.0;
      for (var d = 0u; d < D4; d++) { t += dot(qr[d], ks[jj * D4 + d]); }
      t += ms[jj];
      s[jj] = t;
      bm = max(bm, t);
    }
    let mn = max(m, bm);
    let corr = exp(m - mn);
    l *= corr;
    for (var d = 0u; d < D4; d++) { acc[d] *= corr; }
    for (var jj = 0u; jj < cnt; jj++) {
      let p = exp(s[jj] - mn);
      l += p;
      for (var d = 0u; d < D4; d++) { acc[d] = fma(vec4<f32>(p), vs[jj * D4 + d], acc[d]); }
    }
    m = mn;
    workgroupBarrier();
  }
  if (live) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    let ob = params.out_off / 4u + o_row(b, i, h, params.Nq);
    for (var d = 0u; d < D4; d++) { out[ob + d] = acc[d] * inv; }
#if LSE
    stats[params.stats_off / 2u + bh * params.Nq + i] = vec2<f32>(select(NEG, m + log(l), l > 0.0), 0.0);
#endif
  }
}
#else
const QB: u32 = {{QB}}u;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let bh = wid.y + wid.z * nwg.y;
  if (bh >= params.B * params.H) { return; }
  let h = bh % params.H;
  let b = bh / params.H;
  let i0 = (wid.x * WG + lidv.x) * QB;
  if (i0 >= params.Nq) { return; }
  var qr: array<vec4<f32>, QB * D4>;
  var acc: array<vec4<f32>, QB * D4>;
  var m: array<f32, QB>;
  var l: array<f32, QB>;
  for (var r = 0u; r < QB; r++) {
    let qb = q_row(b, min(i0 + r, params.Nq - 1u), h);
    for (var d = 0u; d < D4; d++) {
      qr[r * D4 + d] = q[qb + d] * params.scale;
      acc[r * D4 + d] = vec4<f32>(0.0);
    }
    m[r] = NEG;
    l[r] = 0.0;
  }
  var s: array<f32, QB * BK>;
  for (var j0 = 0u; j0 < params.Nk; j0 += BK) {
    let cnt = min(BK, params.Nk - j0);
    var bm: array<f32, QB>;
    for (var r = 0u; r < QB; r++) { bm[r] = NEG; }
    for (var jj = 0u; jj < cnt; jj++) {
      let kb = k_row(b, j0 + jj, h);
      var t: array<f32, QB>;
      for (var r = 0u; r < QB; r++) { t[r] = 0.0; } // explicit: lavapipe does not re-zero a loop-local var
      for (var d = 0u; d < D4; d++) {
        let kv = lk(kb + d);
        for (var r = 0u; r < QB; r++) { t[r] += dot(qr[r * D4 + d], kv); }
      }
      let mk = mask_at(b, j0 + jj);
      for (var r = 0u; r < QB; r++) {
        let x = t[r] + mk;
        s[r * BK + jj] = x;
        bm[r] = max(bm[r], x);
      }
    }
    for (var r = 0u; r < QB; r++) {
      let mn = max(m[r], bm[r]);
      let corr = exp(m[r] - mn);
      l[r] *= corr;
      m[r] = mn;
      for (var d = 0u; d < D4; d++) { acc[r * D4 + d] *= corr; }
    }
    for (var jj = 0u; jj < cnt; jj++) {
      let vb = v_row(b, j0 + jj, h);
      var p: array<f32, QB>;
      for (var r = 0u; r < QB; r++) {
        p[r] = exp(s[r * BK + jj] - m[r]);
        l[r] += p[r];
      }
      for (var d = 0u; d < D4; d++) {
        let vv = lv(vb + d);
        for (var r = 0u; r < QB; r++) { acc[r * D4 + d] = fma(vec4<f32>(p[r]), vv, acc[r * D4 + d]); }
      }
    }
  }
  for (var r = 0u; r < QB; r++) {
    let i = i0 + r;
    if (i < params.Nq) {
      let inv = select(0.0, 1.0 / l[r], l[r] > 0.0);
      let ob = params.out_off / 4u + o_row(b, i, h, params.Nq);
      for (var d = 0u; d < D4; d++) { out[ob + d] = acc[r * D4 + d] * inv; }
#if LSE
      stats[params.stats_off / 2u + bh * params.Nq + i] = vec2<f32>(select(NEG, m[r] + log(l[r]), l[r] > 0.0), 0.0);
#endif
    }
  }
}
#endif
