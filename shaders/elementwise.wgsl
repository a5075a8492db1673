// Elementwise family.
//   unary:  y[i] = f(alpha * x[i] + beta)            OP = relu | gelu | sigmoid | identity | exp | tanh | abs | sqrt | neg | round_bf16 | step
//   binary: y[i] = g(a[ia], b[ib])                    BOP = add | sub | mul | div | max | min
//           with numpy broadcasting: output shape `shape` (rank <= 8, row-major), a_strides /
//           b_strides give the element stride of each output dim in a / b (0 = broadcast);
//           BINARY_VEC4: operands of the output's size or repeated over its leading dims, by vec4.
//           BINARY_CHANNEL: one operand of the output's size, the other one value per channel of the
//           output viewed as [outer, C, inner] (inner % 4 == 0; a bias over NCHW maps), by vec4.
//   unary_backward: dx[i] = dy[i] * f'(x[i])          OP = relu | gelu | sigmoid
//   clamp:  y[i] = min(max(x[i], lo), hi); CLAMP_BACKWARD: dx[i] = dy[i] where lo <= x[i] <= hi, else 0
//           (torch.clamp's gradient convention: the boundaries pass the gradient)
// Bindings: x / a / b read-only f32 storage at element offset *_off; y (or dx) written.
// Half storage (UNARY, BINARY_VEC4, BINARY; common/half.wgsl): A_F16 reads x / a / b as f16, C_F16
// stores y as f16 (saturating at +-65504); the arithmetic stays f32.
// One invocation per output element, 1-D dispatch folded to 2-D above 65535 workgroups.
#include "common/index.wgsl"
#include "common/half.wgsl"

override WG: u32 = 128;

#if BINARY_VEC4
struct Params { n4: u32, alpha: f32, beta: f32, a_off: u32, b_off: u32, y_off: u32, a_n4: u32, b_n4: u32 };
#elif BINARY_CHANNEL
struct Params { n4: u32, alpha: f32, beta: f32, full_off: u32, ch_off: u32, y_off: u32, inner4: u32, channels: u32, ch_first: u32 };
#elif BINARY
struct Params {
  n: u32,
  rank: u32,
  alpha: f32,
  beta: f32,
  a_off: u32,
  b_off: u32,
  y_off: u32,
  shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
};
#elif UNARY_BACKWARD
struct Params { n: u32, alpha: f32, beta: f32, x_off: u32, dy_off: u32, y_off: u32 };
#elif CLAMP
struct Params { n: u32, lo: f32, hi: f32, x_off: u32 };
#elif CLAMP_BACKWARD
struct Params { n: u32, lo: f32, hi: f32, x_off: u32, dy_off: u32 };
#else
struct Params { n: u32, alpha: f32, beta: f32, x_off: u32, y_off: u32 };
#endif

@group(0) @binding(0) var<uniform> params: Params;

// The binary op on 4 lanes (the scalar path uses lane 0), one definition for both variants.
fn bop(u: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
#if ADD
  return u + v;
#elif SUB
  return u - v;
#elif MUL
  return u * v;
#elif DIV
  return u / v;
#elif MAX
  return max(u, v);
#elif MIN
  return min(u, v);
#else
  return u;
#endif
}

#if UNARY
@group(0) @binding(1) var<storage, read> x: array<AT>;
@group(0) @binding(2) var<storage, read_write> y: array<CT>;
fn lx(i: u32) -> f32 { return f32(x[params.x_off + i]); }
fn sy(i: u32, v: f32) { y[params.y_off + i] = CT(half_sat(v)); }

fn f(v: f32) -> f32 {
#if RELU
  return max(v, 0.0);
#elif GELU
  return gelu_erf(v);
#elif SIGMOID
  return sigmoid_f32(v);
#elif EXP
  return exp(v);
#elif TANH
  return tanh(v);
#elif ABS
  return abs(v);
#elif SQRT
  return sqrt(v);
#elif NEG
  return -v;
#elif ROUND_BF16
  // round to bfloat16 (nearest even) and back, as torch's .to(torch.bfloat16).float()
  let u = bitcast<u32>(v);
  if ((u & 0x7f800000u) == 0x7f800000u) { return v; }
  let lsb = (u >> 16u) & 1u;
  return bitcast<f32>(((u + 0x7fffu + lsb) >> 16u) << 16u);
#elif STEP
  // (v > 0) as 0/1 (binarised masks)
  return select(0.0, 1.0, v > 0.0);
#else
  return v;
#endif
}

#if VEC4
// UNARY with VEC4: 4 elements per invocation (n % 4 == 0, 16-byte aligned views); n counts vec4s.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let b = 4u * i;
  let v = vec4<f32>(lx(b), lx(b + 1u), lx(b + 2u), lx(b + 3u));
  let u = params.alpha * v + params.beta;
  sy(b, f(u.x));
  sy(b + 1u, f(u.y));
  sy(b + 2u, f(u.z));
  sy(b + 3u, f(u.w));
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  sy(i, f(params.alpha * lx(i) + params.beta));
}
#endif
#endif

#if UNARY_BACKWARD
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn df(v: f32) -> f32 {
#if RELU
  return select(0.0, 1.0, v > 0.0);
#elif GELU
  // d/dv [0.5 v (1 + erf(v/sqrt2))] = 0.5 (1 + erf(v/sqrt2)) + v * exp(-v^2/2) / sqrt(2 pi)
  return 0.5 * (1.0 + erf_f32(v * 0.7071067811865476)) + v * exp(-0.5 * v * v) * 0.3989422804014327;
#elif SIGMOID
  let s = sigmoid_f32(v);
  return s * (1.0 - s);
#else
  return 1.0;
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  // chain rule through the input affine alpha*x+beta as well
  y[params.y_off + i] = dy[params.dy_off + i] * params.alpha * df(params.alpha * x[params.x_off + i] + params.beta);
}
#endif

#if BINARY_VEC4
// 4 elements per invocation (offsets and sizes multiples of 4). Each operand is either the whole
// output (a_n4 = n4) or a block of a_n4 vec4s repeated over the leading output dims (broadcast over a
// batch): element i reads a[i mod a_n4].
@group(0) @binding(1) var<storage, read> a: array<vec4<AT>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<AT>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<CT>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n4) { return; }
  // A_REP / B_REP: the operand repeats over the leading dims (else it is the whole output: no modulo)
#if A_REP
  let ia = i % params.a_n4;
#else
  let ia = i;
#endif
#if B_REP
  let ib = i % params.b_n4;
#else
  let ib = i;
#endif
  let u = vec4<f32>(a[params.a_off / 4u + ia]);
  let v = vec4<f32>(b[params.b_off / 4u + ib]);
  y[params.y_off / 4u + i] = vec4<CT>(half_sat4(params.alpha * bop(u, v) + params.beta));
}
#endif

#if BINARY_CHANNEL
// Thread mapping: one invocation per output vec4; its 4 lanes share one channel value
// ch[(i / inner4) % channels]. ch_first = 1 puts the channel operand on the left (a - b, a / b order).
@group(0) @binding(1) var<storage, read> full: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> ch: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n4) { return; }
  let u = full[params.full_off / 4u + i];
  let v = vec4<f32>(ch[params.ch_off + (i / params.inner4) % params.channels]);
  let r = select(bop(u, v), bop(v, u), params.ch_first != 0u);
  y[params.y_off / 4u + i] = params.alpha * r + params.beta;
}
#endif

#if BINARY
@group(0) @binding(1) var<storage, read> a: array<AT>;
@group(0) @binding(2) var<storage, read> b: array<AT>;
@group(0) @binding(3) var<storage, read_write> y: array<CT>;

fn g(u: f32, v: f32) -> f32 { return bop(vec4<f32>(u), vec4<f32>(v)).x; }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let extent = params.shape[du / 4u][du % 4u];
    let c = rem % extent;
    rem = rem / extent;
    ia += c * params.a_strides[du / 4u][du % 4u];
    ib += c * params.b_strides[du / 4u][du % 4u];
  }
  y[params.y_off + i] = CT(half_sat(params.alpha * g(f32(a[params.a_off + ia]), f32(b[params.b_off + ib])) + params.beta));
}
#endif

#if CLAMP
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  y[i] = min(max(x[params.x_off + i], params.lo), params.hi);
}
#endif

#if CLAMP_BACKWARD
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let v = x[params.x_off + i];
  dx[i] = select(0.0, dy[params.dy_off + i], v >= params.lo && v <= params.hi);
}
#endif
