// J&F counts (DAVIS 2017 region similarity J and boundary F-measure), integer part only: the host
// turns the counts into J and F in float64, so GPU and CPU results are bit-identical.
// For K objects (ids[k]) of one frame, P = (pred == ids[k]), G = (gt == ids[k]), B = seg2bmap:
//   counts[out_base + 8k + 0..6] = |P∩G|, |P|, |G|, |B_P|, |B_G|, |B_P ∧ dil(B_G)|, |B_G ∧ dil(B_P)|
//   (slot 7 = 0), dil = binary dilation with the disk {dx^2 + dy^2 <= r^2}, outside pixels = 0.
// Passes (defines), run in this order by src/kernels/jf.ts:
//   BOUNDARY  one invocation per (k, pixel), K*H*W: scratch[k,y,x] = P | G<<1 | B_P<<2 | B_G<<3.
//             seg2bmap: boundary = pixel differs from its E, S or SE neighbour; last row compares E
//             only, last column S only, bottom-right pixel never (DAVIS metrics._seg2bmap).
//   ROWDIST   one invocation per (k, row), K*H: in place, adds the horizontal distance to the nearest
//             B_P pixel of the same row (bits 4..17) and to the nearest B_G pixel (bits 18..31),
//             both capped at r + 1 (r <= 16382). Two sweeps (left to right, right to left).
//   ROWDIST with FUSED: BOUNDARY + ROWDIST in one row-per-invocation pass (the left-to-right sweep computes the
//             boundary bits with the E / S / SE labels in sliding registers). Software adapters:
//             one invocation per pixel costs ~5x more there (measured on lavapipe, 544x960 x 3
//             objects: BOUNDARY 120 ms + ROWDIST 25 ms); real GPUs keep the per-pixel pass.
//   ROWCOUNT  one invocation per (k, row): the 7 counts of that row into partial[(k*H + y)*8 + f].
//             B_P pixel (x, y) is matched iff some row y+dy, |dy| <= r, has a B_G pixel within
//             hw[dy + r] columns (hw = disk half widths, from the host): exactly dil(B_G)[y, x].
//   REDUCE    one invocation per (k, f), K*8: counts[out_base + 8k + f] = sum over rows of partial.
// Bindings: pred, gt u32 [H*W] labels; ids u32 [K]; scratch u32 [K*H*W]; hw u32 [2r+1];
// partial u32 [K*H*8]; counts u32 [>= out_base + 8K]. All u32 sums: at most H*W per count.
// Row-per-invocation passes avoid atomics and workgroup barriers (slow on software adapters) and
// are deterministic; the per-pixel pass gives real GPUs their parallelism.
#include "common/index.wgsl"

override WG: u32 = 64;

#if BOUNDARY
struct Params { h: u32, w: u32, k: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pred: array<u32>;
@group(0) @binding(2) var<storage, read> gt: array<u32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> scratch: array<u32>;

// seg2bmap bit of a pixel from itself and its E / S / SE neighbours (already compared with the id).
fn bmap(c: u32, e: u32, s: u32, se: u32, last_row: bool, last_col: bool) -> u32 {
  if (last_row && last_col) { return 0u; }
  if (last_col) { return c ^ s; }
  if (last_row) { return c ^ e; }
  return (c ^ e) | (c ^ s) | (c ^ se);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  let hw = params.h * params.w;
  if (i >= params.k * hw) { return; }
  let obj = i / hw;
  let p = i - obj * hw;
  let y = p / params.w;
  let x = p - y * params.w;
  let id = ids[obj];
  let last_row = y + 1u == params.h;
  let last_col = x + 1u == params.w;
  let cp = select(0u, 1u, pred[p] == id);
  let cg = select(0u, 1u, gt[p] == id);
  var ep = 0u; var eg = 0u; var sp = 0u; var sg = 0u; var dp = 0u; var dg = 0u;
  if (!last_col) {
    ep = select(0u, 1u, pred[p + 1u] == id);
    eg = select(0u, 1u, gt[p + 1u] == id);
  }
  if (!last_row) {
    sp = select(0u, 1u, pred[p + params.w] == id);
    sg = select(0u, 1u, gt[p + params.w] == id);
  }
  if (!last_row && !last_col) {
    dp = select(0u, 1u, pred[p + params.w + 1u] == id);
    dg = select(0u, 1u, gt[p + params.w + 1u] == id);
  }
  let bp = bmap(cp, ep, sp, dp, last_row, last_col);
  let bg = bmap(cg, eg, sg, dg, last_row, last_col);
  scratch[i] = cp | (cg << 1u) | (bp << 2u) | (bg << 3u);
}
#endif

#if ROWDIST
struct Params { h: u32, w: u32, k: u32, r: u32 };
@group(0) @binding(0) var<uniform> params: Params;
#if FUSED
@group(0) @binding(1) var<storage, read> pred: array<u32>;
@group(0) @binding(2) var<storage, read> gt: array<u32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> scratch: array<u32>;
#else
@group(0) @binding(1) var<storage, read_write> scratch: array<u32>;
#endif

fn bmap(c: u32, e: u32, s: u32, se: u32, last_row: bool, last_col: bool) -> u32 {
  if (last_row && last_col) { return 0u; }
  if (last_col) { return c ^ s; }
  if (last_row) { return c ^ e; }
  return (c ^ e) | (c ^ s) | (c ^ se);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = linear_id(gid, nwg, WG);
  if (row >= params.k * params.h) { return; }
  let base = row * params.w;
  let cap = params.r + 1u;
  var last_p = -1;
  var last_g = -1;
#if FUSED
  let obj = row / params.h;
  let y = row - obj * params.h;
  let id = ids[obj];
  let last_row = y + 1u == params.h;
  let lrow = y * params.w;           // this row in the label maps
  let lnext = lrow + params.w;       // the row below (read only when !last_row)
  var cp = select(0u, 1u, pred[lrow] == id);
  var cg = select(0u, 1u, gt[lrow] == id);
  var sp = 0u; var sg = 0u;
  if (!last_row) {
    sp = select(0u, 1u, pred[lnext] == id);
    sg = select(0u, 1u, gt[lnext] == id);
  }
#endif
  for (var x = 0u; x < params.w; x++) {
#if FUSED
    let last_col = x + 1u == params.w;
    var ep = 0u; var eg = 0u; var dp = 0u; var dg = 0u;
    if (!last_col) {
      ep = select(0u, 1u, pred[lrow + x + 1u] == id);
      eg = select(0u, 1u, gt[lrow + x + 1u] == id);
      if (!last_row) {
        dp = select(0u, 1u, pred[lnext + x + 1u] == id);
        dg = select(0u, 1u, gt[lnext + x + 1u] == id);
      }
    }
    let f = cp | (cg << 1u) | (bmap(cp, ep, sp, dp, last_row, last_col) << 2u) | (bmap(cg, eg, sg, dg, last_row, last_col) << 3u);
    cp = ep; cg = eg; sp = dp; sg = dg;
#else
    let f = scratch[base + x] & 15u;
#endif
    if ((f & 4u) != 0u) { last_p = i32(x); }
    if ((f & 8u) != 0u) { last_g = i32(x); }
    var np = cap;
    var ng = cap;
    if (last_p >= 0) { np = min(cap, x - u32(last_p)); }
    if (last_g >= 0) { ng = min(cap, x - u32(last_g)); }
    scratch[base + x] = f | (np << 4u) | (ng << 18u);
  }
  last_p = -1;
  last_g = -1;
  for (var j = 0u; j < params.w; j++) {
    let x = params.w - 1u - j;
    let v = scratch[base + x];
    let f = v & 15u;
    var dp = (v >> 4u) & 0x3fffu;
    var dg = (v >> 18u) & 0x3fffu;
    if ((f & 4u) != 0u) { last_p = i32(x); }
    if ((f & 8u) != 0u) { last_g = i32(x); }
    if (last_p >= 0) { dp = min(dp, u32(last_p) - x); }
    if (last_g >= 0) { dg = min(dg, u32(last_g) - x); }
    scratch[base + x] = f | (dp << 4u) | (dg << 18u);
  }
}
#endif

#if ROWCOUNT
struct Params { h: u32, w: u32, k: u32, r: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scratch: array<u32>;
@group(0) @binding(2) var<storage, read> hw: array<u32>;
@group(0) @binding(3) var<storage, read_write> partial: array<u32>;

// 1 when a boundary pixel of the other mask lies within the disk around (x, y) of object plane
// `plane` (= k*H); `shift` selects the distance field (4: B_P, 18: B_G).
fn matched(plane: u32, y: u32, x: u32, shift: u32) -> u32 {
  let r = i32(params.r);
  for (var dy = -r; dy <= r; dy++) {
    let yy = i32(y) + dy;
    if (yy < 0 || yy >= i32(params.h)) { continue; }
    let d = (scratch[(plane + u32(yy)) * params.w + x] >> shift) & 0x3fffu;
    if (d <= hw[u32(dy + r)]) { return 1u; }
  }
  return 0u;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = linear_id(gid, nwg, WG);
  if (row >= params.k * params.h) { return; }
  let obj = row / params.h;
  let y = row - obj * params.h;
  let plane = obj * params.h;
  let base = row * params.w;
  var inter = 0u; var sum_p = 0u; var sum_g = 0u; var n_p = 0u; var n_g = 0u; var m_p = 0u; var m_g = 0u;
  for (var x = 0u; x < params.w; x++) {
    let f = scratch[base + x] & 15u;
    let p = f & 1u;
    let g = (f >> 1u) & 1u;
    inter += p & g;
    sum_p += p;
    sum_g += g;
    if ((f & 4u) != 0u) { n_p += 1u; m_p += matched(plane, y, x, 18u); }
    if ((f & 8u) != 0u) { n_g += 1u; m_g += matched(plane, y, x, 4u); }
  }
  let o = row * 8u;
  partial[o] = inter;
  partial[o + 1u] = sum_p;
  partial[o + 2u] = sum_g;
  partial[o + 3u] = n_p;
  partial[o + 4u] = n_g;
  partial[o + 5u] = m_p;
  partial[o + 6u] = m_g;
  partial[o + 7u] = 0u;
}
#endif

#if REDUCE
struct Params { h: u32, k: u32, out_base: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.k * 8u) { return; }
  let obj = i / 8u;
  let f = i - obj * 8u;
  var s = 0u;
  for (var y = 0u; y < params.h; y++) { s += partial[(obj * params.h + y) * 8u + f]; }
  counts[params.out_base + i] = s;
}
#endif
