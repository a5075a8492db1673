// Layout family: data movement on the GPU (no CPU round trips). Elements are moved as raw 32-bit
// words (f32 / u32 / i32 tensors) or, with HALF, as f16 (needs shader-f16); nothing is converted
// except by the CAST entries.
//
// GATHER (permute, slice, pad, tile / repeat, one input of concat):
//   for every index c of the iteration domain `shape` (rank <= 8, row-major, innermost last):
//     s_d = c_d - lo[d]                 source coordinate along domain dim d
//     valid = all_d 0 <= s_d < ext[d]   (only with CHECK: padding; else every s_d is in range,
//                                        negative lo crops)
//     s_d = s_d % modv[d]               (only with TILE: wrap-around for tiling)
//     y[y_off + y_base + sum_d c_d * ys[d]] = valid ? x[x_off + sum_d s_d * xs[d]] : fill
//   xs / ys are element strides of the source / destination per domain dim (a permutation permutes
//   xs; concat writes an input into its slab of the output through ys and y_base). The host merges
//   dims that are contiguous in both tensors and drops size-1 dims first, so the loop is short.
//   Thread mapping: one invocation per run of RUN consecutive elements along the innermost domain dim
//   (the outer index math is done once per run); 1-D dispatch folded to 2-D. BLOCK (transposes, where
//   x's contiguous dim is not y's): each invocation also covers RUN coordinates of the plain domain
//   dim `bdim` that is contiguous in x, i.e. a RUN x RUN tile read and written in cache-line runs.
// WINDOW + PARTITION (SAM 2 hiera_utils.window_partition, zero padding at bottom / right):
//   x [B, H, W, C] -> y [B * nh * nw, ws, ws, C], nh = ceil(H / ws), nw = ceil(W / ws);
//   y[((b*nh + i)*nw + j), u, v, c] = x[b, i*ws + u, j*ws + v, c] or 0 outside H x W.
// WINDOW without PARTITION (inverse, cropping the padding): windows [B*nh*nw, ws, ws, C] -> y [B, H, W, C].
//   Both: one invocation per pixel and run of WRUN consecutive channels (contiguous in x and y).
// TILE_SUM (backward of tile, f32): x = dy of the tiled shape, y [shape] = sum over all tile copies;
//   one invocation per y element, loops over the reps_total copies (gather, no atomics).
// CAST_F32_F16: x f32 (read as bits) -> y f16 packed two per u32 word (y is a fresh tensor at offset 0);
//   round to nearest even, overflow to inf, NaN kept (as torch .half()); one invocation per word.
// CAST_F16_F32: x f16 (read as halves of u32 words, any element offset) -> y f32 bits; exact.
#include "common/index.wgsl"

override WG: u32 = 128;

#if HALF
enable f16;
alias T = f16;
#else
alias T = u32;
#endif

#if GATHER
const RUN: u32 = 4u;
struct Params {
  n: u32,
  rank: u32,
  inner: u32,
  chunks: u32,
  bdim: u32,
  bchunks: u32,
  y_base: u32,
  fill: u32,
  x_off: u32,
  y_off: u32,
  shape: array<vec4<u32>, 2>,
  xs: array<vec4<u32>, 2>,
  ys: array<vec4<u32>, 2>,
  lo: array<vec4<i32>, 2>,
  ext: array<vec4<u32>, 2>,
  modv: array<vec4<u32>, 2>,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;

fn fill_value() -> T {
#if HALF
  return f16(bitcast<f32>(params.fill));
#else
  return params.fill;
#endif
}

// Source coordinate along domain dim d = 4q + r of domain coordinate c: c - lo[d], wrapped by modv[d]
// (TILE); inside is false only under CHECK, for a coordinate outside [0, ext[d]) (padding).
struct Src { s: u32, inside: bool };
fn source(c: u32, q: u32, r: u32) -> Src {
  let s = i32(c) - params.lo[q][r];
  var su = u32(s);
#if CHECK
  let inside = s >= 0 && su < params.ext[q][r];
#else
  let inside = true;
#endif
#if TILE
  su = su % params.modv[q][r];
#endif
  return Src(su, inside);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.n) { return; }
  let chunk = id % params.chunks;
  var rem = id / params.chunks;
#if BLOCK
  let bchunk = rem % params.bchunks;
  rem = rem / params.bchunks;
#endif
  var sx = 0u;
  var dy = params.y_base;
  var ok = true;
  let last = params.rank - 1u;
  for (var d = i32(last) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let r = u32(d) % 4u;
    let e = params.shape[q][r];
#if BLOCK
    var c = bchunk * RUN; // block dim: first of its RUN coordinates (a plain dim)
    if (u32(d) != params.bdim) {
      c = rem % e;
      rem = rem / e;
    }
#else
    let c = rem % e;
    rem = rem / e;
#endif
    let src = source(c, q, r);
    ok = ok && src.inside;
    sx += src.s * params.xs[q][r];
    dy += c * params.ys[q][r];
  }
  let q = last / 4u;
  let r = last % 4u;
  let xs0 = params.xs[q][r];
  let ys0 = params.ys[q][r];
  let c0 = chunk * RUN;
  let c1 = min(c0 + RUN, params.inner);
#if BLOCK
  // RUN x RUN block: RUN elements along the block dim (contiguous in x) for each of RUN elements along
  // the innermost dim (contiguous in y), so both reads and writes stay within RUN cache lines.
  let bq = params.bdim / 4u;
  let br = params.bdim % 4u;
  let nb = min(RUN, params.shape[bq][br] - bchunk * RUN);
  let xsb = params.xs[bq][br];
  let ysb = params.ys[bq][br];
#else
  let nb = 1u;
  let xsb = 0u;
  let ysb = 0u;
#endif
  for (var c = c0; c < c1; c++) {
    let src = source(c, q, r);
    let valid = ok && src.inside;
    for (var k = 0u; k < nb; k++) {
      var v = fill_value();
      if (valid) { v = x[params.x_off + sx + k * xsb + src.s * xs0]; }
      y[params.y_off + dy + k * ysb + c * ys0] = v;
    }
  }
}
#endif

#if WINDOW
const WRUN: u32 = 4u;
struct Params { n: u32, hgt: u32, wid: u32, ch: u32, cchunks: u32, ws: u32, nh: u32, nw: u32, x_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;

#if PARTITION
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  // invocation -> (b, wi, wj, u, v, channel chunk) over [B, nh, nw, ws, ws, cchunks]
  let c0 = (i % params.cchunks) * WRUN;
  var t = i / params.cchunks;
  let v = t % params.ws;
  t = t / params.ws;
  let u = t % params.ws;
  t = t / params.ws;
  let wj = t % params.nw;
  t = t / params.nw;
  let wi = t % params.nh;
  let b = t / params.nh;
  let h = wi * params.ws + u;
  let w = wj * params.ws + v;
  let inside = h < params.hgt && w < params.wid;
  let yb = params.y_off + ((((b * params.nh + wi) * params.nw + wj) * params.ws + u) * params.ws + v) * params.ch;
  let xb = params.x_off + ((b * params.hgt + h) * params.wid + w) * params.ch;
  let c1 = min(c0 + WRUN, params.ch);
  for (var c = c0; c < c1; c++) {
    var val = T(0);
    if (inside) { val = x[xb + c]; }
    y[yb + c] = val;
  }
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  // invocation -> (b, h, w, channel chunk) over [B, H, W, cchunks]
  let c0 = (i % params.cchunks) * WRUN;
  var t = i / params.cchunks;
  let w = t % params.wid;
  t = t / params.wid;
  let h = t % params.hgt;
  let b = t / params.hgt;
  let win = (b * params.nh + h / params.ws) * params.nw + w / params.ws;
  let xb = params.x_off + ((win * params.ws + h % params.ws) * params.ws + w % params.ws) * params.ch;
  let yb = params.y_off + ((b * params.hgt + h) * params.wid + w) * params.ch;
  let c1 = min(c0 + WRUN, params.ch);
  for (var c = c0; c < c1; c++) {
    y[yb + c] = x[xb + c];
  }
}
#endif
#endif

#if TILE_SUM
struct Params {
  n: u32,
  rank: u32,
  reps_total: u32,
  x_off: u32,
  y_off: u32,
  shape: array<vec4<u32>, 2>,
  reps: array<vec4<u32>, 2>,
  xs: array<vec4<u32>, 2>,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  var rem = i;
  var base = params.x_off;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let r = u32(d) % 4u;
    let e = params.shape[q][r];
    base += (rem % e) * params.xs[q][r];
    rem = rem / e;
  }
  var acc = 0.0;
  for (var j = 0u; j < params.reps_total; j++) {
    var rj = j;
    var off = base;
    for (var d = i32(params.rank) - 1; d >= 0; d--) {
      let q = u32(d) / 4u;
      let r = u32(d) % 4u;
      let k = params.reps[q][r];
      off += (rj % k) * params.shape[q][r] * params.xs[q][r];
      rj = rj / k;
    }
    acc += x[off];
  }
  y[params.y_off + i] = acc;
}
#endif

#if CAST_F32_F16
struct Params { n: u32, words: u32, x_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

// float32 bits -> IEEE half bits, round to nearest even (same algorithm as dtype.ts f32ToF16Bits).
fn f32_to_f16_bits(bits: u32) -> u32 {
  let sign = (bits >> 16u) & 0x8000u;
  let ex = (bits >> 23u) & 0xffu;
  var mant = bits & 0x7fffffu;
  if (ex == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  var e = i32(ex) - 127 + 15;
  if (e >= 0x1f) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    let half = 1u << (shift - 1u);
    var m = mant >> shift;
    let rest = mant & ((1u << shift) - 1u);
    if (rest > half || (rest == half && (m & 1u) == 1u)) { m += 1u; }
    return sign | m;
  }
  var m = mant >> 13u;
  let rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (m & 1u) == 1u)) {
    m += 1u;
    if (m == 0x400u) {
      m = 0u;
      e += 1;
      if (e >= 0x1f) { return sign | 0x7c00u; }
    }
  }
  return sign | (u32(e) << 10u) | m;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = linear_id(gid, nwg, WG);
  if (k >= params.words) { return; }
  let i = 2u * k;
  let lo = f32_to_f16_bits(x[params.x_off + i]);
  var hi = 0u;
  if (i + 1u < params.n) { hi = f32_to_f16_bits(x[params.x_off + i + 1u]); }
  y[k] = lo | (hi << 16u);
}
#endif

#if CAST_F16_F32
struct Params { n: u32, x_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

// IEEE half bits -> float32 bits (exact; subnormal halves become normal floats).
fn f16_to_f32_bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  var m = h & 0x3ffu;
  if (e == 0u) {
    if (m == 0u) { return sign; }
    var ee = 113u;
    while ((m & 0x400u) == 0u) {
      m = m << 1u;
      ee -= 1u;
    }
    return sign | (ee << 23u) | ((m & 0x3ffu) << 13u);
  }
  if (e == 0x1fu) { return sign | 0x7f800000u | (m << 13u); }
  return sign | ((e + 112u) << 23u) | (m << 13u);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let hidx = params.x_off + i;
  let h = (x[hidx / 2u] >> (16u * (hidx % 2u))) & 0xffffu;
  y[params.y_off + i] = f16_to_f32_bits(h);
}
#endif
