// Batched matmul with fused epilogue:
//   C[b, m, n] = act(alpha * sum_k opA[b, m, k] * opB[b, k, n] + bias[n])
// where opA / opB are A / B or their transposes, described by element strides:
//   opA[b, m, k] = a[a_off + aB(b) + m * a_rs + k * a_cs]   (A [M, K]: a_rs = K, a_cs = 1; A^T stored [K, M]: a_rs = 1, a_cs = M)
//   opB[b, k, n] = b[b_off + bB(b) + k * b_rs + n * b_cs]   (B [K, N]: b_rs = N, b_cs = 1; B^T stored [N, K]: b_rs = 1, b_cs = K)
// Batch: the output batch index is decomposed over up to 4 dims `bshape` (row-major, leading
// dims padded with 1); aB(b) / bB(b) = dot(coords, a_bs / b_bs) with stride 0 on broadcast dims.
// Bindings: a, b read-only f32; bias [N] read-only (BIAS); c [batch, M, N] written;
//   pre [batch, M, N] written with the pre-activation alpha*acc+bias (SAVE_PRE, for autograd).
// Variants:
//   default (software adapters): each invocation computes a 4x4 block of C with an outer-product
//     k loop (8 loads, 16 vec4 fma per k), no workgroup memory, no barriers. Out-of-range rows and
//     columns are clamped on load (valid addresses, results discarded), so the k loop has no branches.
//     1-D dispatch over batch * ceil(M/4) * ceil(N/4) invocations (n fastest: neighbours share A rows).
//   ROWS (software adapters, from 32 rows up): a workgroup owns RB rows of C and each invocation 4
//     columns of them; A's addresses then depend on the workgroup alone, which a CPU driver loads once
//     and broadcasts to its SIMD lanes. Per k: RB uniform loads, 4 per-lane loads of B, 4 * RB fma.
//   TILED (hardware): workgroup 16x16 computes a 64x64 tile; each step stages a 64x16 slice of opA and
//     a 16x64 slice of opB in workgroup memory (zero-filled outside the matrix), each invocation
//     accumulates a 4x4 register block. Grid (ceil(N/64), ceil(M/64), batch).
// Activation: RELU | GELU (exact erf) | none.
// ROPE: sam2's axial rotary encoding applied to the result (cs [P, Dh/2, 2] bound at binding 6; see
//   rope_pairs and shaders/rope.wgsl): linear + rope in one dispatch at inference (no activation).
// W_F16: b is stored f16 (weights under --precision f16; needs shader-f16), widened to f32 on load
//   (common/half.wgsl): products, sums and the epilogue stay f32. VEC4 then reads vec4<f16> (8-byte
//   aligned views). A_F16 / C_F16: a is read from / c is stored to f16 (activations of the memory
//   path under --precision f16); the epilogue runs in f32 and the store saturates at +-65504.
#include "common/index.wgsl"
#include "common/half.wgsl"

override WG: u32 = 64;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  alpha: f32,
  a_rs: u32,
  a_cs: u32,
  b_rs: u32,
  b_cs: u32,
  a_off: u32,
  b_off: u32,
  c_off: u32,
#if BIAS
  bias_off: u32,
#endif
#if SAVE_PRE
  pre_off: u32,
#endif
#if ROPE
  rope_n: u32,
  rope_p: u32,
  rope_nrope: u32,
  rope_half: u32,
  cs_off: u32,
#endif
  bshape: vec4<u32>,
  a_bs: vec4<u32>,
  b_bs: vec4<u32>,
};

@group(0) @binding(0) var<uniform> params: Params;
#if VEC4
@group(0) @binding(1) var<storage, read> a: array<vec4<AT>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<WT>>;
fn la(i: u32) -> vec4<f32> { return vec4<f32>(a[i]); }
fn lb(i: u32) -> vec4<f32> { return vec4<f32>(b[i]); }
#else
@group(0) @binding(1) var<storage, read> a: array<AT>;
@group(0) @binding(2) var<storage, read> b: array<WT>;
fn la(i: u32) -> f32 { return f32(a[i]); }
fn lb(i: u32) -> f32 { return f32(b[i]); }
#endif
@group(0) @binding(3) var<storage, read_write> c: array<CT>;
#if BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#if SAVE_PRE
@group(0) @binding(5) var<storage, read_write> pre: array<f32>;
#endif
#if ROPE
@group(0) @binding(6) var<storage, read> cs: array<f32>;
#endif

fn act(v: f32) -> f32 {
#if RELU
  return max(v, 0.0);
#elif GELU
  return gelu_erf(v);
#else
  return v;
#endif
}

// Element offsets of batch `bi` in a and b.
fn batch_offsets(bi: u32) -> vec2<u32> {
  let s = params.bshape;
  let i3 = bi % s.w;
  let r2 = bi / s.w;
  let i2 = r2 % s.z;
  let r1 = r2 / s.z;
  let i1 = r1 % s.y;
  let i0 = r1 / s.y;
  let co = vec4<u32>(i0, i1, i2, i3);
  let ao = dot(co, params.a_bs);
  let bo = dot(co, params.b_bs);
  return vec2<u32>(ao, bo);
}

#if ROPE
// RoPE epilogue (shaders/rope.wgsl's rotation, fused): output row r = bi * M + m is token r mod rope_n;
// tokens below rope_nrope rotate the column pairs (n0, n0+1), (n0+2, n0+3) with table row (token mod
// rope_p); the others keep their values. n0 is even, so the pairs never straddle a head.
fn rope_pairs(r: u32, n0: u32, u: vec4<f32>) -> vec4<f32> {
  let tok = r % params.rope_n;
  if (tok >= params.rope_nrope) { return u; }
  let row = params.cs_off + (tok % params.rope_p) * params.rope_half * 2u;
  let c0 = row + ((n0 / 2u) % params.rope_half) * 2u;
  let c1 = row + ((n0 / 2u + 1u) % params.rope_half) * 2u;
  let ca = cs[c0];
  let sa = cs[c0 + 1u];
  let cb = cs[c1];
  let sb = cs[c1 + 1u];
  return vec4<f32>(u.x * ca - u.y * sa, u.x * sa + u.y * ca, u.z * cb - u.w * sb, u.z * sb + u.w * cb);
}
#endif

// Store one output row segment (4 columns from n0) with the epilogue; bounds-checked.
fn store_row(bi: u32, m: u32, n0: u32, v: vec4<f32>) {
  if (m >= params.M) { return; }
  let base = params.c_off + (bi * params.M + m) * params.N;
  var u = params.alpha * v;
#if BIAS
  for (var j = 0u; j < 4u; j++) { u[j] += bias[params.bias_off + min(n0 + j, params.N - 1u)]; }
#endif
#if ROPE
  u = rope_pairs(bi * params.M + m, n0, u);
#endif
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < params.N) {
      let x = u[j];
#if SAVE_PRE
      pre[params.pre_off + (bi * params.M + m) * params.N + n] = x;
#endif
      c[base + n] = CT(half_sat(act(x)));
    }
  }
}

// Software variants: the 4x4 block of C (batch bi, rows m0.., columns n0..) that invocation `id`
// computes; column blocks fastest (neighbours share A rows). bi = params.batch past the last block.
struct Block { bi: u32, m0: u32, n0: u32 };
fn block_of(id: u32) -> Block {
  let tn = (params.N + 3u) / 4u;
  let per = ((params.M + 3u) / 4u) * tn;
  if (id >= per * params.batch) { return Block(params.batch, 0u, 0u); }
  let r = id % per;
  return Block(id / per, (r / tn) * 4u, (r % tn) * 4u);
}

// Store a software block: acc[i] holds row m0 + i.
fn store_block(blk: Block, acc: mat4x4<f32>) {
  store_row(blk.bi, blk.m0, blk.n0, acc[0]);
  store_row(blk.bi, blk.m0 + 1u, blk.n0, acc[1]);
  store_row(blk.bi, blk.m0 + 2u, blk.n0, acc[2]);
  store_row(blk.bi, blk.m0 + 3u, blk.n0, acc[3]);
}

#if TILED
const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
// [k][m] and [k][n], vec4 over 4 consecutive m (n): a thread reads its 4 rows (cols) in one load.
var<workgroup> As: array<vec4<f32>, 256>; // TK * TM / 4
var<workgroup> Bs: array<vec4<f32>, 256>; // TK * TN / 4

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tid = lid.y * 16u + lid.x;
  let bi = wid.z;
  let offs = batch_offsets(bi);
  let abase = params.a_off + offs.x;
  let bbase = params.b_off + offs.y;
  let mt = wid.y * TM;
  let nt = wid.x * TN;
  let M = params.M;
  let N = params.N;
  let K = params.K;
  // Coalesce global loads along whichever index is contiguous in memory.
  let a_kfast = params.a_cs == 1u;
  let b_nfast = params.b_cs == 1u;
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var k0 = 0u; k0 < K; k0 += TK) {
    for (var r = 0u; r < 4u; r++) {
      let e = tid + 256u * r;
      var m: u32; var ka: u32;
      if (a_kfast) { m = e / TK; ka = e % TK; } else { ka = e / TM; m = e % TM; }
      let gm = mt + m;
      let gk = k0 + ka;
      var va = 0.0;
      if (gm < M && gk < K) { va = la(abase + gm * params.a_rs + gk * params.a_cs); }
      As[ka * (TM / 4u) + m / 4u][m % 4u] = va;
      var n: u32; var kb: u32;
      if (b_nfast) { kb = e / TN; n = e % TN; } else { n = e / TK; kb = e % TK; }
      let gn = nt + n;
      let gkb = k0 + kb;
      var vb = 0.0;
      if (gn < N && gkb < K) { vb = lb(bbase + gkb * params.b_rs + gn * params.b_cs); }
      Bs[kb * (TN / 4u) + n / 4u][n % 4u] = vb;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let av = As[kk * (TM / 4u) + lid.y];
      let bv = Bs[kk * (TN / 4u) + lid.x];
      acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
      acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
      acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
      acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
    }
    workgroupBarrier();
  }
  let m0 = mt + lid.y * 4u;
  let n0 = nt + lid.x * 4u;
  for (var i = 0u; i < 4u; i++) { store_row(bi, m0 + i, n0, acc[i]); }
}
#elif VEC4
// Software variant with vec4 loads. Needs K % 4 == 0, 16-byte aligned views, and M % 4 == 0 when
// A is transposed (A_VM: vec4 along m) / N % 4 == 0 when B is not (B_VN: vec4 along n); otherwise
// A and B are read as vec4 along k (A_VK / B_VK) with clamped rows / columns.
// Each k-step of 4 builds a 4x4 tile of opA (columns = rows i of opA over kk) and of opB (columns
// = kk rows of opB over j) and accumulates acc += tb * ta (64 fma).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let blk = block_of(linear_id(gid, nwg, WG));
  if (blk.bi >= params.batch) { return; }
  let offs = batch_offsets(blk.bi);
  let abase = (params.a_off + offs.x) / 4u;
  let bbase = (params.b_off + offs.y) / 4u;
  let lane = vec4<u32>(0u, 1u, 2u, 3u);
#if A_VM
  // A stored [K, M]: row k of A^T... vec4 at A[k, m0..m0+3]; step of one k = M / 4 vec4s.
  var pa = abase + blk.m0 / 4u;
  let sa = params.a_cs / 4u;
#else
  // A stored [M, K]: vec4 at A[m, k..k+3]
  var pa = (min(vec4<u32>(blk.m0) + lane, vec4<u32>(params.M - 1u)) * params.a_rs) / 4u + vec4<u32>(abase);
#endif
#if B_VN
  var pb = bbase + blk.n0 / 4u;
  let sb = params.b_rs / 4u;
#else
  var pb = (min(vec4<u32>(blk.n0) + lane, vec4<u32>(params.N - 1u)) * params.b_cs) / 4u + vec4<u32>(bbase);
#endif
  var acc = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var k = 0u; k < params.K; k += 4u) {
#if A_VM
    let ta = transpose(mat4x4<f32>(la(pa), la(pa + sa), la(pa + 2u * sa), la(pa + 3u * sa)));
    pa += 4u * sa;
#else
    let ta = mat4x4<f32>(la(pa.x), la(pa.y), la(pa.z), la(pa.w));
    pa += vec4<u32>(1u);
#endif
#if B_VN
    let tb = mat4x4<f32>(lb(pb), lb(pb + sb), lb(pb + 2u * sb), lb(pb + 3u * sb));
    pb += 4u * sb;
#else
    let tb = transpose(mat4x4<f32>(lb(pb.x), lb(pb.y), lb(pb.z), lb(pb.w)));
    pb += vec4<u32>(1u);
#endif
    acc += tb * ta;
  }
  store_block(blk, acc);
}
#elif ROWS
// Software variant with uniform A loads: a workgroup owns RB rows of C (their A addresses depend on
// the workgroup only, so a CPU driver loads each once and broadcasts it to all lanes) and each
// invocation owns 4 columns of those rows (its B loads are per lane). Per k: RB uniform loads,
// 4 per-lane loads, 4 * RB fma. Rows / columns past the edge are clamped on load, dropped on store.
// 1-D dispatch (folded to 2-D past 65535) over batch * ceil(M / RB) * ceil(N / (4 * WG)) workgroups.
const RB: u32 = {{RB}}u;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let w = wid.x + wid.y * nwg.x;
  let M = params.M;
  let N = params.N;
  let rb = (M + RB - 1u) / RB;
  let cb = (N + 4u * WG - 1u) / (4u * WG);
  if (w >= rb * cb * params.batch) { return; }
  let bi = w / (rb * cb);
  let r = w % (rb * cb);
  let m0 = (r / cb) * RB;
  let n0 = (r % cb) * 4u * WG + 4u * li;
  let offs = batch_offsets(bi);
  let abase = params.a_off + offs.x;
  var pb = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(N - 1u)) * params.b_cs + vec4<u32>(params.b_off + offs.y);
  let sb = params.b_rs;
  var arow: array<u32, RB>;
  var acc: array<vec4<f32>, RB>;
  for (var i = 0u; i < RB; i++) {
    arow[i] = abase + min(m0 + i, M - 1u) * params.a_rs;
    acc[i] = vec4<f32>(0.0);
  }
  var ka = 0u;
  for (var k = 0u; k < params.K; k++) {
    let bv = vec4<f32>(lb(pb.x), lb(pb.y), lb(pb.z), lb(pb.w));
    for (var i = 0u; i < RB; i++) { acc[i] = fma(vec4<f32>(la(arow[i] + ka)), bv, acc[i]); }
    ka += params.a_cs;
    pb += vec4<u32>(sb);
  }
  for (var i = 0u; i < RB; i++) { store_row(bi, m0 + i, n0, acc[i]); }
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let blk = block_of(linear_id(gid, nwg, WG));
  if (blk.bi >= params.batch) { return; }
  let offs = batch_offsets(blk.bi);
  // Clamp rows / columns past the edge onto the last valid one: loads stay in bounds, the
  // duplicated results are dropped by store_row.
  var pa = vec4<u32>(min(vec4<u32>(blk.m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.M - 1u))) * params.a_rs + vec4<u32>(params.a_off + offs.x);
  var pb = vec4<u32>(min(vec4<u32>(blk.n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.N - 1u))) * params.b_cs + vec4<u32>(params.b_off + offs.y);
  let sa = params.a_cs;
  let sb = params.b_rs;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < params.K; k++) {
    let bv = vec4<f32>(lb(pb.x), lb(pb.y), lb(pb.z), lb(pb.w));
    acc0 = fma(vec4<f32>(la(pa.x)), bv, acc0);
    acc1 = fma(vec4<f32>(la(pa.y)), bv, acc1);
    acc2 = fma(vec4<f32>(la(pa.z)), bv, acc2);
    acc3 = fma(vec4<f32>(la(pa.w)), bv, acc3);
    pa += vec4<u32>(sa);
    pb += vec4<u32>(sb);
  }
  store_block(blk, mat4x4<f32>(acc0, acc1, acc2, acc3));
}
#endif
