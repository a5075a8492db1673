// pool family: 2-D max / average pooling as F.max_pool2d (return_indices) and F.avg_pool2d, and their
// input gradients, on NCHW [B, C, H, W] or (with NHWC) token-grid [B, H, W, C] tensors.
//   x   [B, C, H, W] | [B, H, W, C]         f32 at x_off
//   y   [B, C, OH, OW] | [B, OH, OW, C]     f32 at y_off
//   idx same shape as y, i32 at idx_off: argmax as ih * W + iw inside the (b, c) plane (PyTorch's indices)
// Window of output (oh, ow): rows oh*sh - ph + i*dh (i < kh), columns likewise; taps outside the image
// are skipped (max) or count as zeros (avg with include_pad, whose divisor follows PyTorch: the window
// clipped to the padded image; ceil-mode windows are clipped to the image plus the right/bottom pad).
// Variants:
//   MAX            y = max over the window; ties keep the first tap in row-major window order, NaN wins.
//                  With ARGMAX also writes idx. With VEC4 (NHWC only, C and the views' element offsets
//                  multiples of 4) one invocation handles 4 channels with vec4 loads; params.C is C / 4.
//   MAX_BACKWARD   dx[b, c, ih, iw] = sum of dy over the outputs whose idx points at (ih, iw): a gather over
//                  the windows that can contain the pixel (no atomics, deterministic). Bindings idx, dy, dx.
//   AVG            y = window sum / divisor (no dilation).
//   AVG_BACKWARD   dx = sum over the windows containing the pixel of dy / divisor. Bindings dy, dx.
// One invocation per output (forward) or per input element (backward), in memory order; 1-D dispatch
// folded to 2-D above 65535 workgroups.
#include "common/index.wgsl"

override WG: u32 = 128;

struct Params {
  B: u32, C: u32, H: u32, W: u32, OH: u32, OW: u32,
  kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32,
  include_pad: u32, // AVG: count padded taps in the divisor
  n: u32,           // invocations
#if MAX
  x_off: u32, y_off: u32,
#if ARGMAX
  idx_off: u32,
#endif
#elif MAX_BACKWARD
  idx_off: u32, dy_off: u32, dx_off: u32,
#elif AVG
  x_off: u32, y_off: u32,
#else
  dy_off: u32, dx_off: u32,
#endif
};

@group(0) @binding(0) var<uniform> params: Params;
#if MAX
// VEC4 (NHWC, C and offsets multiples of 4): one invocation pools 4 channels; params.C is then C / 4
#if VEC4
alias V = vec4<f32>;
alias VI = vec4<i32>;
const VW: u32 = 4u;
#else
alias V = f32;
alias VI = i32;
const VW: u32 = 1u;
#endif
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read_write> y: array<V>;
#if ARGMAX
@group(0) @binding(3) var<storage, read_write> idx: array<VI>;
#endif
#elif MAX_BACKWARD
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
#elif AVG
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
#endif

// (b, c, h, w) of linear index i of a tensor with spatial size hh x ww, in the tensor's layout
fn coords(i: u32, hh: u32, ww: u32) -> vec4<u32> {
#if NHWC
  let c = i % params.C;
  let r = i / params.C;
  return vec4<u32>(r / (ww * hh), c, (r / ww) % hh, r % ww);
#else
  let w = i % ww;
  let r = i / ww;
  return vec4<u32>(r / (hh * params.C), (r / hh) % params.C, r % hh, w);
#endif
}

fn index_of(b: u32, c: u32, h: u32, w: u32, hh: u32, ww: u32) -> u32 {
#if NHWC
  return ((b * hh + h) * ww + w) * params.C + c;
#else
  return ((b * params.C + c) * hh + h) * ww + w;
#endif
}

// Outputs o whose window (o*s - p + i*d, i < k) can contain input position v: [lo, hi) clamped to [0, O).
fn out_range(v: u32, k: u32, s: u32, p: u32, d: u32, O: u32) -> vec2<u32> {
  let num = i32(v + p) - i32((k - 1u) * d);
  let lo = select(0u, u32((num + i32(s) - 1) / i32(s)), num > 0);
  let hi = min(O, (v + p) / s + 1u);
  return vec2<u32>(lo, max(lo, hi));
}

// Average-pool window of (oh, ow): clipped row/col bounds and the divisor.
fn avg_window(oh: u32, ow: u32) -> array<i32, 5> {
  var h0 = i32(oh * params.sh) - i32(params.ph);
  var w0 = i32(ow * params.sw) - i32(params.pw);
  var h1 = min(h0 + i32(params.kh), i32(params.H + params.ph));
  var w1 = min(w0 + i32(params.kw), i32(params.W + params.pw));
  let pool = (h1 - h0) * (w1 - w0);
  h0 = max(h0, 0);
  w0 = max(w0, 0);
  h1 = min(h1, i32(params.H));
  w1 = min(w1, i32(params.W));
  let div = select((h1 - h0) * (w1 - w0), pool, params.include_pad != 0u);
  return array<i32, 5>(h0, h1, w0, w1, div);
}

#if MAX
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let o = coords(i, params.OH, params.OW);
  let h0 = i32(o.z * params.sh) - i32(params.ph);
  let w0 = i32(o.w * params.sw) - i32(params.pw);
  var ninf = 0xff800000u; // -inf bits (a var: a constant -inf is a WGSL compile error)
  var best = V(bitcast<f32>(ninf));
  var bi = VI(-1);
  var first = true;
  for (var a = 0u; a < params.kh; a++) {
    let ih = h0 + i32(a * params.dh);
    if (ih < 0 || ih >= i32(params.H)) { continue; }
    for (var b = 0u; b < params.kw; b++) {
      let iw = w0 + i32(b * params.dw);
      if (iw < 0 || iw >= i32(params.W)) { continue; }
      let v = x[params.x_off / VW + index_of(o.x, o.y, u32(ih), u32(iw), params.H, params.W)];
      let here = VI(ih * i32(params.W) + iw);
      if (first) { bi = here; first = false; }
      let take = (v > best) | (v != v); // strictly greater keeps the first of ties; NaN wins
      best = select(best, v, take);
      bi = select(bi, here, take);
    }
  }
  y[params.y_off / VW + i] = best;
#if ARGMAX
  idx[params.idx_off / VW + i] = bi;
#endif
}
#endif

#if MAX_BACKWARD
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let p = coords(i, params.H, params.W);
  let here = i32(p.z * params.W + p.w);
  let rh = out_range(p.z, params.kh, params.sh, params.ph, params.dh, params.OH);
  let rw = out_range(p.w, params.kw, params.sw, params.pw, params.dw, params.OW);
  var s = 0.0;
  for (var oh = rh.x; oh < rh.y; oh++) {
    for (var ow = rw.x; ow < rw.y; ow++) {
      let o = index_of(p.x, p.y, oh, ow, params.OH, params.OW);
      if (idx[params.idx_off + o] == here) { s += dy[params.dy_off + o]; }
    }
  }
  dx[params.dx_off + i] = s;
}
#endif

#if AVG
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let o = coords(i, params.OH, params.OW);
  let win = avg_window(o.z, o.w);
  var s = 0.0;
  for (var ih = win[0]; ih < win[1]; ih++) {
    for (var iw = win[2]; iw < win[3]; iw++) {
      s += x[params.x_off + index_of(o.x, o.y, u32(ih), u32(iw), params.H, params.W)];
    }
  }
  y[params.y_off + i] = select(0.0, s / f32(win[4]), win[0] < win[1] && win[2] < win[3]);
}
#endif

#if AVG_BACKWARD
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let p = coords(i, params.H, params.W);
  let rh = out_range(p.z, params.kh, params.sh, params.ph, 1u, params.OH);
  let rw = out_range(p.w, params.kw, params.sw, params.pw, 1u, params.OW);
  var s = 0.0;
  for (var oh = rh.x; oh < rh.y; oh++) {
    for (var ow = rw.x; ow < rw.y; ow++) {
      let win = avg_window(oh, ow);
      s += dy[params.dy_off + index_of(p.x, p.y, oh, ow, params.OH, params.OW)] / f32(win[4]);
    }
  }
  dx[params.dx_off + i] = s;
}
#endif
