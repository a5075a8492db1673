// RobotSeg's robot prompt generator (RPG): hierarchical farthest-point sampling + one-step cosine
// k-means over the memory features of each memory frame inside its foreground, as stages.
//
// Terms. A "set" s is one support mask over the gh x gw token grid (hw = gh*gw cells, raster order):
// at the macro level one set per memory frame (the foreground), at the region level R sets per
// frame (macro cluster r, or the whole foreground when that cluster is empty). Set s belongs to
// frame f = s / g (g sets per frame). A cell is in the set when support[s, cell] >= thresh.
// Features: feats [F*hw(+pointer rows), C] token-major (row f*hw + cell), f32.
//
// Variants (one define per dispatch):
//   FPS       greedy farthest-point sampling of k centres per set on the integer (row, col)
//             coordinates. First centre: the cell nearest the support's centroid, exactly in integers:
//             argmin of M(r^2+c^2) - 2(r*Sr + c*Sc) (= ((M r - Sr)^2 + (M c - Sc)^2 - const) / M), first
//             cell in raster order on ties. Then k' = min(k, M) - 1 steps, each the argmax over support
//             cells of the squared distance to the nearest chosen centre (first cell on ties).
//             support [S, hw] f32 -> centres [S, k] i32 (cell indices; entries >= k' repeat centre 0,
//             as the fork pads; -1 for an empty set), count [S] i32 (M = support cells).
//             FPS_WG = 0: one invocation per set, sequential loops (software adapters: no barriers).
//             FPS_WG = 1: one workgroup of 256 per set, strided loops + shared-memory tree reductions
//             (real GPUs). Both give identical integers.
//   CNORM     one invocation per (set, centre slot j < kp): the L2-normalised centre feature
//             c/max(|c|,1e-12) -> cnorm [S, C, kp] f32, kp = k rounded up to 4 (channel-major, zeros
//             for padded / missing centres j >= k').
//   ASSIGN    one invocation per (set, cell): argmin over the set's k' real centres of
//             1 - <x/max(|x|,1e-12), cnorm_j> (first centre on ties) -> assign [S, hw] i32, -1 outside
//             the support. Padded centres never win (they equal centre 0), so they are skipped.
//   PROTO     one invocation per (set, 4 channels): prototype j = mean of the raw features of the cells
//             assigned to j; an empty cluster takes its (possibly padded) centre's raw feature.
//             -> protos [S, k, C] f32, counts [S, k] i32 (cells per cluster, written by the channel-0 group).
//             k <= 8 everywhere (fixed per-invocation arrays); ASSIGN with K8 = 1 for k in 5..8.
//   SUPPORT   one invocation per (frame, region, cell): region support = fg && (macro assign == r, or
//             macro cluster r is empty) -> support [F*R, hw] f32 0/1.
//   TOKENS    one invocation per (frame, region, micro cluster j): writes channels [j*C, (j+1)*C) of
//             token f*R + r: the L2-normalised (eps 1e-12) micro prototype, or the placeholder row
//             when the frame has no foreground cell. -> tokens [F*R, k*C] f32.
//
// Backward (training: the token gradient flows into the memory features and the placeholder; the
// FPS picks, assignments and the foreground are discrete and get none):
//   TOKENS_BWD       one invocation per (frame, region, micro cluster j): d prototype from the d token
//                    slice j through y = x / max(|x|, 1e-12) (F.normalize: the norm's gradient only
//                    where |x| >= eps): dx = dy/d - [|x| >= eps] <dy, x> x / (d^2 |x|), d = max(|x|, eps);
//                    zeros for frames without foreground (their tokens are the placeholder).
//                    dtokens [F*R, k*C], protos [F*R, k, C], fcount [F] -> dprotos [F*R, k, C].
//   PROTO_BWD        one invocation per (feature row, 4 channels): gathers over the g sets of the row's
//                    frame (a cell can be in several region sets) d proto_a / count_a of its cluster a,
//                    plus d proto_j of every empty cluster j whose centre is this cell (an empty
//                    cluster's prototype is its centre's raw feature; centre -1: prototype 0, nothing).
//                    Rows past the sets' frames (object pointers) get 0. No atomics.
//                    assign [S, hw], centres [S, k], counts [S, k] i32, dprotos [S, k, C] -> dfeats [rows, C].
//   PLACEHOLDER_BWD  one invocation per placeholder entry e < k*C: the sum of d token[., e] over every
//                    token of every frame whose foreground count is 0. -> dplaceholder [k*C].
#include "common/index.wgsl"

override WG: u32 = 64;

#if FPS
struct Params { sets: u32, hw: u32, gw: u32, k: u32, thresh: f32, support_off: u32, centres_off: u32, count_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> support: array<f32>;
@group(0) @binding(2) var<storage, read_write> centres: array<i32>;
@group(0) @binding(3) var<storage, read_write> count: array<i32>;

fn sqdist(a: u32, b: u32) -> i32 {
  let dr = i32(a / params.gw) - i32(b / params.gw);
  let dc = i32(a % params.gw) - i32(b % params.gw);
  return dr * dr + dc * dc;
}

fn write_result(s: u32, m: u32, picks: array<u32, 8>) {
  let kreal = min(params.k, m);
  for (var j = 0u; j < params.k; j++) {
    var v = -1;
    if (m > 0u) { v = i32(picks[select(0u, j, j < kreal)]); }
    centres[params.centres_off + s * params.k + j] = v;
  }
  count[params.count_off + s] = i32(m);
}

#if FPS_WG
// ------------------------------------------------------------------ one workgroup per set
const WGF: u32 = 256u;
var<workgroup> red_v: array<i32, 256>;
var<workgroup> red_i: array<u32, 256>;
var<workgroup> red_u: array<vec3<u32>, 256>;
var<workgroup> out_i: u32;
var<workgroup> out_m: vec3<u32>;

// Tree argmin (want_max = false) or argmax over red_v with the smaller index winning ties.
fn reduce_arg(lid: u32, want_max: bool) -> u32 {
  workgroupBarrier();
  for (var st = WGF / 2u; st > 0u; st = st >> 1u) {
    if (lid < st) {
      let va = red_v[lid];
      let vb = red_v[lid + st];
      let ia = red_i[lid];
      let ib = red_i[lid + st];
      var take_b = select((vb < va), (vb > va), want_max);
      take_b = take_b || (vb == va && ib < ia);
      if (take_b) { red_v[lid] = vb; red_i[lid] = ib; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { out_i = red_i[0]; }
  return workgroupUniformLoad(&out_i);
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = wid.x + wid.y * nwg.x; // uniform per workgroup
  let in_range = s < params.sets;
  let sb = params.support_off + min(s, max(params.sets, 1u) - 1u) * params.hw;
  // count and coordinate sums
  var acc = vec3<u32>(0u, 0u, 0u);
  for (var cell = lid; cell < params.hw; cell += WGF) {
    if (in_range && support[sb + cell] >= params.thresh) { acc += vec3<u32>(1u, cell / params.gw, cell % params.gw); }
  }
  red_u[lid] = acc;
  workgroupBarrier();
  for (var st = WGF / 2u; st > 0u; st = st >> 1u) {
    if (lid < st) { red_u[lid] = red_u[lid] + red_u[lid + st]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out_m = red_u[0]; }
  let tot = workgroupUniformLoad(&out_m);
  let m = tot.x;
  var picks: array<u32, 8>;
  if (m > 0u) {
    // first centre: nearest the centroid (exact integer key), first cell on ties
    var bv = 2147483647;
    var bi = 0xffffffffu;
    for (var cell = lid; cell < params.hw; cell += WGF) {
      if (support[sb + cell] >= params.thresh) {
        let r = i32(cell / params.gw);
        let c = i32(cell % params.gw);
        let key = i32(m) * (r * r + c * c) - 2 * (r * i32(tot.y) + c * i32(tot.z));
        if (key < bv) { bv = key; bi = cell; }
      }
    }
    red_v[lid] = bv;
    red_i[lid] = bi;
    picks[0] = reduce_arg(lid, false);
    let kreal = min(params.k, m);
    for (var j = 1u; j < kreal; j++) {
      var dv = -1;
      var di = 0xffffffffu;
      for (var cell = lid; cell < params.hw; cell += WGF) {
        if (support[sb + cell] >= params.thresh) {
          var d = sqdist(cell, picks[0]);
          for (var q = 1u; q < j; q++) { d = min(d, sqdist(cell, picks[q])); }
          if (d > dv) { dv = d; di = cell; }
        }
      }
      red_v[lid] = dv;
      red_i[lid] = di;
      picks[j] = reduce_arg(lid, true);
    }
  }
  if (lid == 0u && in_range) { write_result(s, m, picks); }
}
#else
// ------------------------------------------------------------------ one invocation per set
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = linear_id(gid, nwg, WG);
  if (s >= params.sets) { return; }
  let sb = params.support_off + s * params.hw;
  var m = 0u;
  var sr = 0u;
  var sc = 0u;
  for (var cell = 0u; cell < params.hw; cell++) {
    if (support[sb + cell] >= params.thresh) { m++; sr += cell / params.gw; sc += cell % params.gw; }
  }
  var picks: array<u32, 8>;
  if (m > 0u) {
    var bv = 2147483647;
    for (var cell = 0u; cell < params.hw; cell++) {
      if (support[sb + cell] >= params.thresh) {
        let r = i32(cell / params.gw);
        let c = i32(cell % params.gw);
        let key = i32(m) * (r * r + c * c) - 2 * (r * i32(sr) + c * i32(sc));
        if (key < bv) { bv = key; picks[0] = cell; }
      }
    }
    let kreal = min(params.k, m);
    for (var j = 1u; j < kreal; j++) {
      var dv = -1;
      for (var cell = 0u; cell < params.hw; cell++) {
        if (support[sb + cell] >= params.thresh) {
          var d = sqdist(cell, picks[0]);
          for (var q = 1u; q < j; q++) { d = min(d, sqdist(cell, picks[q])); }
          if (d > dv) { dv = d; picks[j] = cell; }
        }
      }
    }
  }
  write_result(s, m, picks);
}
#endif

#elif CNORM
// cnorm layout [S, C, kp] (kp = k rounded up to 4: channel-major so ASSIGN loads 4 centres per vec4).
struct Params { sets: u32, hw: u32, k: u32, kp: u32, g: u32, c: u32, feats_off: u32, centres_off: u32, count_off: u32, cnorm_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> feats: array<f32>;
@group(0) @binding(2) var<storage, read> centres: array<i32>;
@group(0) @binding(3) var<storage, read> count: array<i32>;
@group(0) @binding(4) var<storage, read_write> cnorm: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.sets * params.kp) { return; }
  let s = i / params.kp;
  let j = i % params.kp;
  let ob = params.cnorm_off + s * params.c * params.kp + j;
  let kreal = min(params.k, u32(max(count[params.count_off + s], 0)));
  if (j >= kreal) {
    for (var ch = 0u; ch < params.c; ch++) { cnorm[ob + ch * params.kp] = 0.0; }
    return;
  }
  let cr = params.feats_off + ((s / params.g) * params.hw + u32(centres[params.centres_off + s * params.k + j])) * params.c;
  var ss = 0.0;
  for (var ch = 0u; ch < params.c; ch++) {
    let v = feats[cr + ch];
    ss = fma(v, v, ss);
  }
  let nrm = max(sqrt(ss), 1e-12);
  for (var ch = 0u; ch < params.c; ch++) { cnorm[ob + ch * params.kp] = feats[cr + ch] / nrm; }
}

#elif ASSIGN
// K8: k in 5..8 (two vec4 accumulators), else k <= 4.
struct Params { sets: u32, hw: u32, k: u32, g: u32, c: u32, thresh: f32, feats_off: u32, support_off: u32, count_off: u32, assign_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> feats: array<f32>;
@group(0) @binding(2) var<storage, read> support: array<f32>;
@group(0) @binding(3) var<storage, read> cnorm: array<vec4<f32>>; // [S, C, kp/4] (whole tensor, offset 0)
@group(0) @binding(4) var<storage, read> count: array<i32>;
@group(0) @binding(5) var<storage, read_write> assign: array<i32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.sets * params.hw) { return; }
  let s = i / params.hw;
  let cell = i % params.hw;
  if (support[params.support_off + i] < params.thresh) {
    assign[params.assign_off + i] = -1;
    return;
  }
  let xr = params.feats_off + ((s / params.g) * params.hw + cell) * params.c;
  var ss = 0.0;
  for (var ch = 0u; ch < params.c; ch++) {
    let v = feats[xr + ch];
    ss = fma(v, v, ss);
  }
  let xn = max(sqrt(ss), 1e-12);
  // channel-outer: one division per channel, 4 (8) running dot products in vec4 accumulators;
  // padded centres have zero rows in cnorm and are skipped below.
#if K8
  let cb = s * params.c * 2u;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  for (var ch = 0u; ch < params.c; ch++) {
    let xv = vec4<f32>(feats[xr + ch] / xn);
    acc0 = fma(xv, cnorm[cb + 2u * ch], acc0);
    acc1 = fma(xv, cnorm[cb + 2u * ch + 1u], acc1);
  }
  let dots = array<f32, 8>(acc0.x, acc0.y, acc0.z, acc0.w, acc1.x, acc1.y, acc1.z, acc1.w);
#else
  let cb = s * params.c;
  var acc0 = vec4<f32>(0.0);
  for (var ch = 0u; ch < params.c; ch++) { acc0 = fma(vec4<f32>(feats[xr + ch] / xn), cnorm[cb + ch], acc0); }
  let dots = array<f32, 4>(acc0.x, acc0.y, acc0.z, acc0.w);
#endif
  let kreal = min(params.k, u32(max(count[params.count_off + s], 0)));
  var best = 3.402823466e38;
  var bj = 0;
  for (var j = 0u; j < kreal; j++) {
    let d = 1.0 - dots[j];
    if (d < best) { best = d; bj = i32(j); }
  }
  assign[params.assign_off + i] = bj;
}

#elif PROTO
// One invocation per (set, group of 4 channels): one pass over the set's cells.
struct Params { sets: u32, hw: u32, k: u32, g: u32, c: u32, c4: u32, feats_off: u32, assign_off: u32, centres_off: u32, protos_off: u32, counts_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> feats: array<f32>;
@group(0) @binding(2) var<storage, read> assign: array<i32>;
@group(0) @binding(3) var<storage, read> centres: array<i32>;
@group(0) @binding(4) var<storage, read_write> protos: array<f32>;
@group(0) @binding(5) var<storage, read_write> counts: array<i32>;

fn feat4(row: u32, ch0: u32) -> vec4<f32> {
  let b = params.feats_off + row * params.c + ch0;
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (ch0 + q < params.c) { v[q] = feats[b + q]; } }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.sets * params.c4) { return; }
  let s = i / params.c4;
  let ch0 = (i % params.c4) * 4u;
  let fb = (s / params.g) * params.hw;
  var sum: array<vec4<f32>, 8>;
  var n: array<u32, 8>;
  let ab = params.assign_off + s * params.hw;
  for (var cell = 0u; cell < params.hw; cell++) {
    let a = assign[ab + cell];
    if (a >= 0) {
      sum[a] += feat4(fb + cell, ch0);
      n[a] += 1u;
    }
  }
  for (var j = 0u; j < params.k; j++) {
    var v = vec4<f32>(0.0);
    if (n[j] > 0u) {
      v = sum[j] / f32(n[j]);
    } else {
      let cj = centres[params.centres_off + s * params.k + j];
      if (cj >= 0) { v = feat4(fb + u32(cj), ch0); }
    }
    let ob = params.protos_off + (s * params.k + j) * params.c + ch0;
    for (var q = 0u; q < 4u; q++) { if (ch0 + q < params.c) { protos[ob + q] = v[q]; } }
    if (ch0 == 0u) { counts[params.counts_off + s * params.k + j] = i32(n[j]); }
  }
}

#elif SUPPORT
struct Params { frames: u32, regions: u32, hw: u32, thresh: f32, fg_off: u32, massign_off: u32, mcounts_off: u32, support_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> fg: array<f32>;
@group(0) @binding(2) var<storage, read> massign: array<i32>;
@group(0) @binding(3) var<storage, read> mcounts: array<i32>;
@group(0) @binding(4) var<storage, read_write> support: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.frames * params.regions * params.hw) { return; }
  let cell = i % params.hw;
  let fr = i / params.hw; // f * R + r
  let f = fr / params.regions;
  let r = fr % params.regions;
  let inside = fg[params.fg_off + f * params.hw + cell] >= params.thresh;
  let mine = massign[params.massign_off + f * params.hw + cell] == i32(r);
  let empty = mcounts[params.mcounts_off + fr] == 0;
  support[params.support_off + i] = select(0.0, 1.0, inside && (mine || empty));
}

#elif TOKENS
struct Params { frames: u32, regions: u32, k: u32, c: u32, protos_off: u32, fcount_off: u32, placeholder_off: u32, tokens_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> protos: array<f32>;
@group(0) @binding(2) var<storage, read> fcount: array<i32>;
@group(0) @binding(3) var<storage, read> placeholder: array<f32>;
@group(0) @binding(4) var<storage, read_write> tokens: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.frames * params.regions * params.k) { return; }
  let j = i % params.k;
  let fr = i / params.k;
  let f = fr / params.regions;
  let ob = params.tokens_off + fr * params.k * params.c + j * params.c;
  if (fcount[params.fcount_off + f] == 0) {
    for (var ch = 0u; ch < params.c; ch++) { tokens[ob + ch] = placeholder[params.placeholder_off + j * params.c + ch]; }
    return;
  }
  let pb = params.protos_off + i * params.c;
  var ss = 0.0;
  for (var ch = 0u; ch < params.c; ch++) {
    let v = protos[pb + ch];
    ss = fma(v, v, ss);
  }
  let nrm = max(sqrt(ss), 1e-12);
  for (var ch = 0u; ch < params.c; ch++) { tokens[ob + ch] = protos[pb + ch] / nrm; }
}

#elif TOKENS_BWD
struct Params { frames: u32, regions: u32, k: u32, c: u32, eps: f32, dtokens_off: u32, protos_off: u32, fcount_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dtokens: array<f32>;
@group(0) @binding(2) var<storage, read> protos: array<f32>;
@group(0) @binding(3) var<storage, read> fcount: array<i32>;
@group(0) @binding(4) var<storage, read_write> dprotos: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG); // (f*R + r)*k + j: the same flat index in dtokens (row-major [F*R, k*C]) and protos
  if (i >= params.frames * params.regions * params.k) { return; }
  let f = i / (params.regions * params.k);
  let ob = i * params.c;
  if (fcount[params.fcount_off + f] == 0) {
    for (var ch = 0u; ch < params.c; ch++) { dprotos[ob + ch] = 0.0; }
    return;
  }
  let pb = params.protos_off + i * params.c;
  let gb = params.dtokens_off + i * params.c;
  var ss = 0.0;
  var dot = 0.0;
  for (var ch = 0u; ch < params.c; ch++) {
    let x = protos[pb + ch];
    ss = fma(x, x, ss);
    dot = fma(dtokens[gb + ch], x, dot);
  }
  let nrm = sqrt(ss);
  let d = max(nrm, params.eps);
  var coef = 0.0;
  if (nrm >= params.eps && nrm > 0.0) { coef = dot / (d * d * nrm); }
  for (var ch = 0u; ch < params.c; ch++) { dprotos[ob + ch] = dtokens[gb + ch] / d - coef * protos[pb + ch]; }
}

#elif PROTO_BWD
struct Params { rows: u32, frames: u32, hw: u32, k: u32, g: u32, c: u32, c4: u32, assign_off: u32, centres_off: u32, counts_off: u32, dprotos_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> assign: array<i32>;
@group(0) @binding(2) var<storage, read> centres: array<i32>;
@group(0) @binding(3) var<storage, read> counts: array<i32>;
@group(0) @binding(4) var<storage, read> dprotos: array<f32>;
@group(0) @binding(5) var<storage, read_write> dfeats: array<f32>;

// 4 channels of d prototype sj (= s*k + j), zeros past C.
fn dproto4(sj: u32, ch0: u32) -> vec4<f32> {
  let b = params.dprotos_off + sj * params.c + ch0;
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (ch0 + q < params.c) { v[q] = dprotos[b + q]; } }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.rows * params.c4) { return; }
  let row = i / params.c4;
  let ch0 = (i % params.c4) * 4u;
  let f = row / params.hw;
  var acc = vec4<f32>(0.0);
  if (f < params.frames) { // a spatial row (pointer rows after the frames stay 0)
    let cell = row % params.hw;
    for (var q = 0u; q < params.g; q++) {
      let s = f * params.g + q;
      let a = assign[params.assign_off + s * params.hw + cell];
      if (a >= 0) {
        let sa = s * params.k + u32(a);
        acc += dproto4(sa, ch0) / f32(counts[params.counts_off + sa]);
      }
      for (var j = 0u; j < params.k; j++) {
        let sj = s * params.k + j;
        if (counts[params.counts_off + sj] == 0 && centres[params.centres_off + sj] == i32(cell)) { acc += dproto4(sj, ch0); }
      }
    }
  }
  let ob = row * params.c + ch0;
  for (var q = 0u; q < 4u; q++) { if (ch0 + q < params.c) { dfeats[ob + q] = acc[q]; } }
}

#elif PLACEHOLDER_BWD
struct Params { frames: u32, regions: u32, d: u32, dtokens_off: u32, fcount_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dtokens: array<f32>;
@group(0) @binding(2) var<storage, read> fcount: array<i32>;
@group(0) @binding(3) var<storage, read_write> dplaceholder: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = linear_id(gid, nwg, WG);
  if (e >= params.d) { return; }
  var acc = 0.0;
  for (var f = 0u; f < params.frames; f++) {
    if (fcount[params.fcount_off + f] != 0) { continue; }
    for (var r = 0u; r < params.regions; r++) { acc += dtokens[params.dtokens_off + (f * params.regions + r) * params.d + e]; }
  }
  dplaceholder[e] = acc;
}
#endif
