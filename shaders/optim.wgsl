// Optimizer kernels (one invocation per element unless noted; every binding has an element offset
// *_off, so parameters can be views into a weight arena):
//   ADAMW         torch.optim.AdamW, single-tensor path, non-amsgrad (torch 1.13 _single_tensor_adamw):
//                   g = grad (* scale[0] with GRAD_SCALE: the clip coefficient, fused)
//                   p = p * decay                                   decay = 1 - lr * weight_decay
//                   m = m * beta1 + (1 - beta1) g
//                   v = v * beta2 + (1 - beta2) g g
//                   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
//                                      step_size = lr / (1 - beta1^step), bc2_sqrt = sqrt(1 - beta2^step)
//                 (the host computes decay, step_size, bc2_sqrt in float64, as torch does in Python)
//   SUMSQ         partial sums of squares of one tensor: invocation j < parts sums x[k]^2 over
//                 k = j, j + parts, ... into partial[base + j] (several tensors share one partial buffer)
//   SUM           one invocation: total[0] = sum of partial[0 .. count)
//   CLIP_COEF     one invocation: norm = sqrt(norm_sq[0]), coef = min(1, max_norm / (norm + 1e-6))
//                 (torch.nn.utils.clip_grad_norm_)
//   ACCUMULATE    dst += alpha * src (in place)
// ADAMW and ACCUMULATE have a VEC4 variant (4 elements per invocation) when n and every offset are
// multiples of 4: 2.4x faster on lavapipe for AdamW. Their unit VT is f32 or vec4<f32> (common/vec4.wgsl).
//   SCALE         t *= s (a number); with SCALE_TENSOR, t *= s[0]
#include "common/index.wgsl"
#include "common/vec4.wgsl"

override WG: u32 = 64;

#if ADAMW
struct Params {
  n: u32, decay: f32, beta1: f32, one_m_beta1: f32, beta2: f32, one_m_beta2: f32, step_size: f32, bc2_sqrt: f32, eps: f32,
  param_off: u32, grad_off: u32, exp_avg_off: u32, exp_avg_sq_off: u32,
#if GRAD_SCALE
  scale_off: u32,
#endif
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<VT>;
@group(0) @binding(2) var<storage, read> grad: array<VT>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<VT>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<VT>;
#if GRAD_SCALE
@group(0) @binding(5) var<storage, read> scale: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n / VW) { return; }
  var g = grad[params.grad_off / VW + i];
#if GRAD_SCALE
  g = g * scale[params.scale_off];
#endif
  let pi = params.param_off / VW + i;
  let mi = params.exp_avg_off / VW + i;
  let vi = params.exp_avg_sq_off / VW + i;
  let p = param[pi] * params.decay;
  let m = exp_avg[mi] * params.beta1 + params.one_m_beta1 * g;
  let v = exp_avg_sq[vi] * params.beta2 + params.one_m_beta2 * g * g;
  exp_avg[mi] = m;
  exp_avg_sq[vi] = v;
  let denom = sqrt(v) / params.bc2_sqrt + params.eps;
  param[pi] = p - params.step_size * (m / denom);
}
#endif

#if SUMSQ
struct Params { n: u32, parts: u32, base: u32, x_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = linear_id(gid, nwg, WG);
  if (j >= params.parts) { return; }
  var s = 0.0;
  for (var k = j; k < params.n; k += params.parts) { let v = x[params.x_off + k]; s += v * v; }
  partial[params.base + j] = s;
}
#endif

#if SUM
struct Params { count: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;

@compute @workgroup_size(1)
fn main() {
  var s = 0.0;
  for (var j = 0u; j < params.count; j++) { s += partial[j]; }
  total[0] = s;
}
#endif

#if CLIP_COEF
struct Params { max_norm: f32, norm_sq_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> norm_sq: array<f32>;
@group(0) @binding(2) var<storage, read_write> coef: array<f32>;
@group(0) @binding(3) var<storage, read_write> norm: array<f32>;

@compute @workgroup_size(1)
fn main() {
  let nrm = sqrt(norm_sq[params.norm_sq_off]);
  norm[0] = nrm;
  coef[0] = min(params.max_norm / (nrm + 1e-6), 1.0);
}
#endif

#if ACCUMULATE
struct Params { n: u32, alpha: f32, dst_off: u32, src_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<VT>;
@group(0) @binding(2) var<storage, read> src: array<VT>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n / VW) { return; }
  dst[params.dst_off / VW + i] += params.alpha * src[params.src_off / VW + i];
}
#endif

#if SCALE
#if SCALE_TENSOR
struct Params { n: u32, t_off: u32, s_off: u32 };
#else
struct Params { n: u32, s: f32, t_off: u32 };
#endif
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> t: array<f32>;
#if SCALE_TENSOR
@group(0) @binding(2) var<storage, read> s: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
#if SCALE_TENSOR
  t[params.t_off + i] *= s[params.s_off];
#else
  t[params.t_off + i] *= params.s;
#endif
}
#endif
