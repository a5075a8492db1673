// RobotSeg's guided-filter mask refinement (guided_refine_mask in the RobotSeg fork's test/utils.py,
// OpenCV operations; CPU reference test/ref/guided_filter.ts). One frame [H, W]; float32 planes
// [K, H, W] (plane k at k*H*W). Passes (defines), run in this order by src/kernels/guided_filter.ts:
//   GRAY       one invocation per pixel: rgb u32 [HW] (r | g<<8 | b<<16), mask u32 [HW] (nonzero = 1)
//              -> planes [4]: I = lut[gray], I*I, p (0/1), p*I; gray = cv2.cvtColor(BGR2GRAY) on uint8:
//              (9798 r + 19235 g + 3735 b + 2^14) >> 15; lut[g] = float32(g / 255) from the host
//              (WGSL division is not correctly rounded).
//   LINES      one invocation per line of K planes, a row or (COLS) a column; dst[dst_base + k] from
//              src[src_base + k]. Box filter (rows, then COLS): window sums over x-r..x+r with OpenCV's
//              BORDER_REFLECT (fedcba|abcd|dcba, repeated for windows wider than the image) times scale
//              (1 on rows; 1/(2r+1)^2 on columns: cv2.boxFilter(normalize=True, BORDER_REFLECT)). float32
//              sums (OpenCV sums in float64): a few ulps of difference, see the tolerances in the tests.
//   COEF       one invocation per pixel: from the box means [mean I, mean II, mean p, mean pI] of one
//              radius, OpenCV's guided-filter coefficients (guided_filter.cpp, one guide channel):
//              var = (mII + eps) - mI*mI; a = (1 / var) * (mpI - mp*mI); b = mp - a*mI -> ab planes
//              [dst_base, dst_base + 1].
//   CHAMFER    one invocation per pixel: cv2.distanceTransform(mask, DIST_L2, 5), the 5x5 chamfer
//              distance with OpenCV's weights (1, 1.4, 2.1969 as 16.16 fixed point 65536, 91750,
//              143976), capped at 7: the minimum over 0-pixels q within 6 pixels (Chebyshev) of
//              D(p - q) = (a - b - k) HV + (b - k) DIAG + k LONG, a = max(|dx|, |dy|), b = min, k =
//              min(b, a - b) (pixels outside the image are never 0, as in OpenCV). Only values below 6
//              matter downstream (the blend weight saturates), so a cap of 7 changes nothing.
//   LINES with MORPH (MIN for erosion, else dilation): square max / min filter of radius r, pixels
//              outside the image ignored (cv2.dilate / cv2.erode defaults); row pass then COLS pass.
//   FINAL      one invocation per pixel: q_r = mean b_r + mean a_r * I (r = 3, 7); alpha =
//              clamp((thick - 2) / 4, 0, 1); soft = (1 - alpha) q3 + alpha q7; in the band
//              (dilate7(mask) != erode7(mask)) out = soft > 0.5, else out = mask; soft planes
//              [soft, q3, q7]. The 3 % area check is done by the host on the read-back mask.
// Bindings per pass are listed with it. Row / column invocations avoid workgroup barriers (slow on
// software adapters); each output is a direct window sum (no running sum, so no drift).
#include "common/index.wgsl"

override WG: u32 = 64;

fn border_reflect(p: i32, n: i32) -> i32 {
  // BORDER_REFLECT (not 101): -1 -> 0, n -> n - 1; loops for windows wider than the image
  if (n == 1) { return 0; }
  var q = p;
  loop {
    if (q >= 0 && q < n) { break; }
    if (q < 0) { q = -q - 1; } else { q = 2 * n - q - 1; }
  }
  return q;
}

#if GRAY
struct Params { hw: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rgb: array<u32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read> lut: array<f32>;
@group(0) @binding(4) var<storage, read_write> planes: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  let hw = params.hw;
  if (i >= hw) { return; }
  let c = rgb[i];
  let g = (9798u * (c & 255u) + 19235u * ((c >> 8u) & 255u) + 3735u * ((c >> 16u) & 255u) + 16384u) >> 15u;
  let v = lut[g];
  let p = select(0.0, 1.0, mask[i] != 0u);
  planes[i] = v;
  planes[hw + i] = v * v;
  planes[2u * hw + i] = p;
  planes[3u * hw + i] = p * v;
}
#endif

#if LINES
// BOX and MORPH (header): one invocation per line of K planes [H, W], a row (n = W values, step 1) or,
// with COLS, a column (n = H values, step W). MORPH ignores scale.
struct Params { h: u32, w: u32, k: u32, r: u32, src_base: u32, dst_base: u32, scale: f32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn pick(a: f32, b: f32) -> f32 {
#if MIN
  return min(a, b);
#else
  return max(a, b);
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
#if COLS
  let lines = params.w; // lines per plane
  let n = i32(params.h); // values per line
  let step = params.w;   // between neighbours on a line
  let across = 1u;       // between neighbouring lines
#else
  let lines = params.h;
  let n = i32(params.w);
  let step = 1u;
  let across = params.w;
#endif
  if (id >= params.k * lines) { return; }
  let plane = id / lines;
  let j = id - plane * lines;
  let hw = params.h * params.w;
  let s0 = (params.src_base + plane) * hw + j * across;
  let d0 = (params.dst_base + plane) * hw + j * across;
  let r = i32(params.r);
  for (var x = 0; x < n; x++) {
#if MORPH
    var v = src[s0 + u32(x) * step];
    for (var xx = max(0, x - r); xx <= min(n - 1, x + r); xx++) { v = pick(v, src[s0 + u32(xx) * step]); }
    dst[d0 + u32(x) * step] = v;
#else
    var s = 0.0;
    for (var d = -r; d <= r; d++) { s += src[s0 + u32(border_reflect(x + d, n)) * step]; }
    dst[d0 + u32(x) * step] = s * params.scale;
#endif
  }
}
#endif

#if COEF
struct Params { hw: u32, eps: f32, dst_base: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> means: array<f32>;
@group(0) @binding(2) var<storage, read_write> ab: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  let hw = params.hw;
  if (i >= hw) { return; }
  let mi = means[i];
  let mii = means[hw + i];
  let mp = means[2u * hw + i];
  let mpi = means[3u * hw + i];
  let v = (mii + params.eps) - mi * mi;
  let a = (1.0 / v) * (mpi - mp * mi);
  ab[params.dst_base * hw + i] = a;
  ab[(params.dst_base + 1u) * hw + i] = mp - a * mi;
}
#endif

#if CHAMFER
struct Params { h: u32, w: u32, p_plane: u32, dst_plane: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> planes: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const HV = 65536u;
const DIAG = 91750u;
const LONG = 143976u;
const CAP = 458752u; // 7 * 65536

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  let hw = params.h * params.w;
  if (i >= hw) { return; }
  let base = params.p_plane * hw;
  var best = CAP;
  if (planes[base + i] != 0.0) {
    let y = i32(i / params.w);
    let x = i32(i % params.w);
    let h = i32(params.h);
    let w = i32(params.w);
    for (var dy = -6; dy <= 6; dy++) {
      let yy = y + dy;
      if (yy < 0 || yy >= h) { continue; }
      for (var dx = -6; dx <= 6; dx++) {
        let xx = x + dx;
        if (xx < 0 || xx >= w) { continue; }
        if (planes[base + u32(yy * w + xx)] != 0.0) { continue; }
        let a = u32(max(abs(dx), abs(dy)));
        let b = u32(min(abs(dx), abs(dy)));
        let k = min(b, a - b);
        best = min(best, (a - b - k) * HV + (b - k) * DIAG + k * LONG);
      }
    }
  } else {
    best = 0u;
  }
  dst[params.dst_plane * hw + i] = f32(best) * (1.0 / 65536.0);
}
#endif

#if FINAL
struct Params { hw: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> planes: array<f32>;   // [I, II, p, pI]
@group(0) @binding(2) var<storage, read> abm: array<f32>;      // box means [a3, b3, a7, b7]
@group(0) @binding(3) var<storage, read> aux: array<f32>;      // [dist, thick, dilate7, erode7]
@group(0) @binding(4) var<storage, read_write> out: array<u32>;
@group(0) @binding(5) var<storage, read_write> soft: array<f32>;    // [soft, q3, q7]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  let hw = params.hw;
  if (i >= hw) { return; }
  let g = planes[i];
  let q3 = abm[hw + i] + abm[i] * g;
  let q7 = abm[3u * hw + i] + abm[2u * hw + i] * g;
  let alpha = clamp((aux[hw + i] - 2.0) * 0.25, 0.0, 1.0); // / 4, exact
  let s = (1.0 - alpha) * q3 + alpha * q7;
  soft[i] = s;
  soft[hw + i] = q3;
  soft[2u * hw + i] = q7;
  let band = aux[2u * hw + i] != aux[3u * hw + i];
  let m = planes[2u * hw + i] != 0.0;
  out[i] = select(select(0u, 1u, m), select(0u, 1u, s > 0.5), band);
}
#endif
