// Axial 2-D rotary position encoding (sam2 apply_rotary_enc), applied after the projections.
//   x   [B, N, H*Dh] token-major, heads interleaved; consecutive channel pairs (2m, 2m+1) of each
//       head form a complex number.
//   cs  [P, Dh/2, 2] (cos, sin) per grid position p and pair m (P = grid tokens; x-angles on the
//       first half of the pairs, y-angles on the second — built on the host by ropeTable).
//   y   same shape as x: token n < n_rope is rotated with row (n mod P) (keys repeat the rotation
//       for every memory frame); tokens n >= n_rope (object-pointer tokens) are copied unchanged.
//   sign = +1 rotates (forward), -1 rotates back (the backward of the rotation is its transpose).
// One invocation per complex pair of one token; 1-D dispatch folded to 2-D.
#include "common/index.wgsl"

override WG: u32 = 128;

struct Params { b: u32, n: u32, heads: u32, half_dh: u32, p: u32, n_rope: u32, sign: f32, x_off: u32, cs_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  let pairs = params.heads * params.half_dh;
  let total = params.b * params.n * pairs;
  if (i >= total) { return; }
  let pr = i % pairs;
  let tok = (i / pairs) % params.n;
  let m = pr % params.half_dh;
  let src = params.x_off + 2u * i;
  let a = x[src];
  let bb = x[src + 1u];
  let dst = params.y_off + 2u * i;
  if (tok >= params.n_rope) {
    y[dst] = a;
    y[dst + 1u] = bb;
    return;
  }
  let row = params.cs_off + ((tok % params.p) * params.half_dh + m) * 2u;
  let c = cs[row];
  let s = params.sign * cs[row + 1u];
  // (a + i b)(c + i s)
  y[dst] = a * c - bb * s;
  y[dst + 1u] = a * s + bb * c;
}
