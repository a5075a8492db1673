// Canny family: the stages of the Canny edge detector on planes of P = B images, row-major [P, H, W].
// Two semantics share the stages (the wrapper src/kernels/canny.ts chains them):
//   opencv: cv2.Canny(gray uint8, low, high, apertureSize=3, L2gradient=False) on
//           cv2.cvtColor(RGB2GRAY) (optionally cv2.GaussianBlur first); every value is an integer
//           held exactly in f32, so the result is bit-exact.
//   kornia: kornia.filters.canny (0.8.1) as the RobotSeg fork calls it: `_safe_to_gray`, 5x5 Gaussian
//           sigma 1 (reflect), Sobel (replicate), L2 magnitude sqrt(gx^2+gy^2+eps), NMS along the
//           angle rounded to 45 degrees (zero padding), double threshold, hysteresis.
//
// Stages (one #if define each; every stage: one invocation per item, 1-D dispatch of WG folded to
// 2-D by linear_id, no workgroup memory, no barriers):
//   GRAY_CV      x f32 [P, C, H, W] (C = 3: RGB, C = 1: gray; values 0..255, rounded and clamped)
//                -> gray f32 [P, H, W] = (R*9798 + G*19235 + B*3735 + 16384) >> 15 (OpenCV 4.x RGB2GRAY
//                on 8-bit: 15 fractional bits). One invocation per pixel.
//   ANY_GT       x f32 [n] -> flag u32 [1] (atomicOr 1 if some x > thresh). One invocation per chunk of
//                `chunk` consecutive elements. Used for the fork's global "max > 1.5" test.
//   GRAY_KORNIA  x f32 [P, 3, H, W] (ImageNet-normalised), flag u32 [1] -> gray f32 [P, H, W]
//                = clamp(0.299 r + 0.587 g + 0.114 b, 0, 1) with r,g,b = x / 255 when flag != 0.
//   BLUR         x f32 [P, H, W], wts f32 [ksize] -> y f32 [P, H, W]: 1-D correlation along W (axis 0)
//                or H (axis 1), reflect-101 border ("dcb|abcd|cba", torch 'reflect', OpenCV
//                BORDER_REFLECT_101). round_u8 = 1 finishes OpenCV's fixed-point uint8 blur:
//                y = floor((acc + 2^15) / 2^16) (weights are integers with 8 fractional bits; all sums
//                stay below 2^24, so f32 is exact).
//   SOBEL        x f32 [P, H, W] -> gx, gy, mag f32 [P, H, W]; 3x3 Sobel (d/dx = right - left), replicate
//                border; mag = |gx| + |gy| (l1 = 1) or sqrt(gx*gx + gy*gy + eps) (l1 = 0).
//   NMS          gx, gy, mag -> state u32 [P, H, W] (0 none, 1 weak, 2 strong); magnitude outside the
//                image is 0.
//                  OPENCV: integer sector test with TG22 = 13573 (tan 22.5 deg in Q15); horizontal
//                  keeps m > left && m >= right, vertical m > up && m >= down, diagonal strict on
//                  both; state = 0 unless m > low; strong when m > high.
//                  KORNIA: direction index k = round(atan2(gy, gx) / 45deg) mod 8, written to dir
//                  u32; kept when mag is strictly larger than both neighbours along it;
//                  mag_nms f32 = kept ? mag : 0 (min(., 1) when clamp01 = 1: the fork's clamp);
//                  state = (mag_nms > low) + (mag_nms > high).
//   HYST         state (atomic u32, in place), flags (atomic u32 [passes + 1]). One pass of hysteresis:
//                pass `pass_idx` (>= 1) returns at once if flags[pass_idx - 1] == 0 (the previous pass
//                changed nothing, so the map is final). Each invocation scans a chunk of `chunk`
//                pixels of one row; every strong pixel (2) it claims (compare-exchange 2 -> 3) is
//                expanded: weak 8-neighbours (1) are claimed 1 -> 3 and pushed on a private stack of
//                STACK entries; when the stack is full a neighbour is only promoted (1 -> 2) and left
//                for the next pass. Any change sets flags[pass_idx]. Races between invocations are
//                benign: values only grow and every promotion is justified by a strong neighbour, so
//                the fixed point is the 8-connected hysteresis of OpenCV and of kornia's loop.
//   FINAL        state u32 -> edges f32 [P, H, W] = state >= 2 ? scale : 0.
// Params members *_off are element offsets of tensor views (filled by the runtime); the stages
// without one take whole, aligned tensors (the wrapper's own outputs).
#include "common/index.wgsl"

override WG: u32 = 128;

// Element i of planes [P, H, W]: the first element of its plane (p * H * W), its row and column.
struct Pixel { plane: u32, row: u32, col: u32 };
fn pixel_of(i: u32, h: u32, w: u32) -> Pixel {
  let hw = h * w;
  let p = i / hw;
  let q = i - p * hw;
  let row = q / w;
  return Pixel(p * hw, row, q - row * w);
}

// Element offset of channel 0 of pixel i (of P images [H*W]) in planes [P, C, H*W].
fn channel0(i: u32, hw: u32, c: u32) -> u32 {
  let p = i / hw;
  return p * c * hw + (i - p * hw);
}

// ------------------------------------------------------------------------------------------------
#if GRAY_CV
struct Params { n: u32, hw: u32, channels: u32, x_off: u32, gray_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gray: array<f32>;

fn u8_of(v: f32) -> u32 { return u32(clamp(round(v), 0.0, 255.0)); }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let base = params.x_off + channel0(i, params.hw, params.channels);
  var g: u32;
  if (params.channels == 1u) {
    g = u8_of(x[base]);
  } else {
    let r = u8_of(x[base]);
    let gg = u8_of(x[base + params.hw]);
    let b = u8_of(x[base + 2u * params.hw]);
    g = (r * 9798u + gg * 19235u + b * 3735u + 16384u) >> 15u;
  }
  gray[params.gray_off + i] = f32(g);
}
#endif

// ------------------------------------------------------------------------------------------------
#if ANY_GT
struct Params { n: u32, chunk: u32, thresh: f32, x_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> flag: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = linear_id(gid, nwg, WG);
  let start = c * params.chunk;
  if (start >= params.n) { return; }
  let end = min(start + params.chunk, params.n);
  var hit = false;
  for (var i = start; i < end; i++) {
    hit = hit || (x[params.x_off + i] > params.thresh);
  }
  if (hit) { atomicOr(&flag[0], 1u); }
}
#endif

// ------------------------------------------------------------------------------------------------
#if GRAY_KORNIA
struct Params { n: u32, hw: u32, x_off: u32, gray_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> flag: array<u32>;
@group(0) @binding(3) var<storage, read_write> gray: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let base = params.x_off + channel0(i, params.hw, 3u);
  var r = x[base];
  var g = x[base + params.hw];
  var b = x[base + 2u * params.hw];
  if (flag[0] != 0u) {
    r = r / 255.0;
    g = g / 255.0;
    b = b / 255.0;
  }
  // torch order: (0.299 r + 0.587 g) + 0.114 b, then clamp
  let y = (0.299 * r + 0.587 * g) + 0.114 * b;
  gray[params.gray_off + i] = clamp(y, 0.0, 1.0);
}
#endif

// ------------------------------------------------------------------------------------------------
#if BLUR
struct Params { n: u32, h: u32, w: u32, ksize: u32, axis: u32, round_u8: u32, x_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wts: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// reflect-101 index into [0, n) (repeats the reflection for kernels wider than the image)
fn reflect101(i: i32, n: i32) -> i32 {
  if (n == 1) { return 0; }
  var j = i;
  loop {
    if (j < 0) { j = -j; } else if (j >= n) { j = 2 * n - 2 - j; } else { break; }
  }
  return j;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let px = pixel_of(i, params.h, params.w);
  let row = px.row;
  let col = px.col;
  let r = i32(params.ksize / 2u);
  let plane = params.x_off + px.plane;
  var acc = 0.0;
  // taps along the axis: position pos + k - r, stride `step` in x; the border needs reflection
  let along_w = params.axis == 0u;
  let pos = i32(select(row, col, along_w));
  let len = i32(select(params.h, params.w, along_w));
  let step = select(params.w, 1u, along_w);
  let base = plane + select(col, row * params.w, along_w);
  let ks = i32(params.ksize);
  if (pos >= r && pos + r < len) {
    var at = base + u32(pos - r) * step;
    for (var k = 0; k < ks; k++) {
      acc += wts[k] * x[at];
      at += step;
    }
  } else {
    for (var k = 0; k < ks; k++) {
      acc += wts[k] * x[base + u32(reflect101(pos + k - r, len)) * step];
    }
  }
  if (params.round_u8 != 0u) {
    acc = min(floor((acc + 32768.0) / 65536.0), 255.0);
  }
  y[params.y_off + i] = acc;
}
#endif

// ------------------------------------------------------------------------------------------------
#if SOBEL
struct Params { n: u32, h: u32, w: u32, l1: u32, eps: f32, x_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;
@group(0) @binding(3) var<storage, read_write> gy: array<f32>;
@group(0) @binding(4) var<storage, read_write> mag: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let px = pixel_of(i, params.h, params.w);
  let row = px.row;
  let col = px.col;
  let plane = params.x_off + px.plane;
  // replicate border: clamp the neighbour coordinates
  let r0 = plane + select(row - 1u, 0u, row == 0u) * params.w;
  let r1 = plane + row * params.w;
  let r2 = plane + min(row + 1u, params.h - 1u) * params.w;
  let c0 = select(col - 1u, 0u, col == 0u);
  let c2 = min(col + 1u, params.w - 1u);
  let a00 = x[r0 + c0]; let a01 = x[r0 + col]; let a02 = x[r0 + c2];
  let a10 = x[r1 + c0];                        let a12 = x[r1 + c2];
  let a20 = x[r2 + c0]; let a21 = x[r2 + col]; let a22 = x[r2 + c2];
  let dx = ((a02 - a00) + 2.0 * (a12 - a10)) + (a22 - a20);
  let dy = ((a20 - a00) + 2.0 * (a21 - a01)) + (a22 - a02);
  gx[i] = dx;
  gy[i] = dy;
  if (params.l1 != 0u) {
    mag[i] = abs(dx) + abs(dy);
  } else {
    let sx = dx * dx;
    let sy = dy * dy;
    mag[i] = sqrt((sx + sy) + params.eps);
  }
}
#endif

// ------------------------------------------------------------------------------------------------
#if NMS
struct Params { n: u32, h: u32, w: u32, low: f32, high: f32, clamp01: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gx: array<f32>;
@group(0) @binding(2) var<storage, read> gy: array<f32>;
@group(0) @binding(3) var<storage, read> mag: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<u32>;
#if KORNIA
@group(0) @binding(5) var<storage, read_write> mag_nms: array<f32>;
@group(0) @binding(6) var<storage, read_write> dir: array<u32>;
#endif

// magnitude at (row + dr, col + dc) of px's plane, 0 outside the image
fn mag_at(px: Pixel, dr: i32, dc: i32) -> f32 {
  let r = i32(px.row) + dr;
  let c = i32(px.col) + dc;
  if (r < 0 || c < 0 || r >= i32(params.h) || c >= i32(params.w)) { return 0.0; }
  return mag[px.plane + u32(r) * params.w + u32(c)];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let px = pixel_of(i, params.h, params.w);
  let m = mag[i];
  let dx = gx[i];
  let dy = gy[i];
#if OPENCV
  var s = 0u;
  if (m > params.low) {
    let xs = i32(dx);
    let ys = i32(dy);
    let ax = u32(abs(xs));
    let ay = u32(abs(ys)) << 15u;
    let tg22x = ax * 13573u;
    var keep = false;
    if (ay < tg22x) {
      keep = m > mag_at(px, 0, -1) && m >= mag_at(px, 0, 1);
    } else {
      let tg67x = tg22x + (ax << 16u);
      if (ay > tg67x) {
        keep = m > mag_at(px, -1, 0) && m >= mag_at(px, 1, 0);
      } else {
        let sgn = select(1, -1, (xs ^ ys) < 0);
        keep = m > mag_at(px, -1, -sgn) && m > mag_at(px, 1, sgn);
      }
    }
    if (keep) { s = select(1u, 2u, m > params.high); }
  }
  state[i] = s;
#else
  // Direction index of kornia: k = round(atan2(dy, dx) * 4 / pi) mod 8, decided by comparisons with
  // tan(22.5 deg) instead of an f32 atan2 (WGSL allows atan2 an error of thousands of ulp); ties
  // (exactly 22.5 deg) go to the axis, as torch.round's half-to-even does for 0.5 and 1.5.
  let T = 0.41421356237309503;
  let ax = abs(dx);
  let ay = abs(dy);
  let neg_x = (bitcast<u32>(dx) >> 31u) == 1u;
  var k: u32;
  var dr: i32;
  var dc: i32;
  if (ay <= T * ax) {
    k = select(0u, 4u, neg_x); dr = 0; dc = 1;
  } else if (ax <= T * ay) {
    k = select(2u, 6u, dy < 0.0); dr = 1; dc = 0;
  } else if ((dx > 0.0) == (dy > 0.0)) {
    k = select(1u, 5u, dx < 0.0); dr = 1; dc = 1;
  } else {
    k = select(7u, 3u, dx < 0.0); dr = 1; dc = -1;
  }
  let keep = m > mag_at(px, dr, dc) && m > mag_at(px, -dr, -dc);
  var v = select(0.0, m, keep);
  if (params.clamp01 != 0u) { v = clamp(v, 0.0, 1.0); }
  mag_nms[i] = v;
  dir[i] = k;
  state[i] = select(0u, 1u, v > params.low) + select(0u, 1u, v > params.high);
#endif
}
#endif

// ------------------------------------------------------------------------------------------------
#if HYST
const STACK: u32 = 64u;
struct Params { n: u32, h: u32, w: u32, chunk: u32, chunks_per_row: u32, pass_idx: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> flags: array<atomic<u32>>;

// compare-exchange that retries the spurious failures the weak form allows
fn claim(idx: u32, old: u32, new_value: u32) -> bool {
  loop {
    let r = atomicCompareExchangeWeak(&state[idx], old, new_value);
    if (r.exchanged) { return true; }
    if (r.old_value != old) { return false; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear_id(gid, nwg, WG);
  if (t >= params.n) { return; }
  if (atomicLoad(&flags[params.pass_idx - 1u]) == 0u) { return; }
  let hw = params.h * params.w;
  let line = t / params.chunks_per_row;            // p * h + row
  let c0 = (t - line * params.chunks_per_row) * params.chunk;
  let c1 = min(c0 + params.chunk, params.w);
  let p = line / params.h;
  let plane = p * hw;
  let row0 = line - p * params.h;
  var stack: array<u32, STACK>;
  var changed = false;
  for (var c = c0; c < c1; c++) {
    let seed = plane + row0 * params.w + c;
    if (atomicLoad(&state[seed]) != 2u) { continue; }
    if (!claim(seed, 2u, 3u)) { continue; }
    changed = true;
    var top = 1u;
    stack[0] = seed - plane;
    while (top > 0u) {
      top -= 1u;
      let q = stack[top];
      let r = q / params.w;
      let cc = q - r * params.w;
      for (var dr = -1; dr <= 1; dr++) {
        let rr = i32(r) + dr;
        if (rr < 0 || rr >= i32(params.h)) { continue; }
        for (var dc = -1; dc <= 1; dc++) {
          let c2 = i32(cc) + dc;
          if (c2 < 0 || c2 >= i32(params.w)) { continue; }
          let nq = u32(rr) * params.w + u32(c2);
          if (atomicLoad(&state[plane + nq]) != 1u) { continue; }
          if (top < STACK) {
            if (claim(plane + nq, 1u, 3u)) { stack[top] = nq; top += 1u; }
          } else {
            // no room: promote only; a later pass expands it from its own row
            _ = claim(plane + nq, 1u, 2u);
          }
        }
      }
    }
  }
  if (changed) { atomicOr(&flags[params.pass_idx], 1u); }
}
#endif

// ------------------------------------------------------------------------------------------------
#if FINAL
struct Params { n: u32, scale: f32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> state: array<u32>;
@group(0) @binding(2) var<storage, read_write> edges: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  edges[i] = select(0.0, params.scale, state[i] >= 2u);
}
#endif
