// Wrapper for shaders/optim.wgsl: AdamW as PyTorch's torch.optim.AdamW (non-amsgrad, non-fused,
// torch 1.13 _single_tensor_adamw), the global gradient norm and clip coefficient of
// torch.nn.utils.clip_grad_norm_ computed on the GPU (the coefficient feeds AdamW's gradScale, so
// clipping needs no host round trip), in-place accumulate / scale, and fvcore's cosine schedule.
// Every op works in place on f32 tensors, which may be views into larger buffers (weight arenas).
// Nothing here records on the autograd tape: these run after the backward pass.

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';

const WG = 64;
/** Elements per partial sum of squares before the cap on partials per tensor. */
const ELEMS_PER_PART = 4096;
const MAX_PARTS = 256;

function checkF32(what: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== 'f32') throw new Error(`${what}: expects f32 tensors, got ${t.dtype} for ${t}`);
    if (t.isDisposed) throw new Error(`${what}: ${t} is disposed`);
  }
}

/**
 * WebGPU rejects a dispatch whose writable storage binding overlaps another binding of the same
 * buffer; bindings start at offsets rounded down to minStorageBufferOffsetAlignment, so two views
 * closer than that in one buffer also collide. Name the pair instead of failing at submit time.
 */
function checkNoAlias(rt: Runtime, what: string, writable: Record<string, Tensor>, all: Record<string, Tensor>): void {
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const range = (t: Tensor) => [Math.floor(t.byteOffset / align) * align, t.byteOffset + Math.max(4, t.byteLength)];
  for (const [wn, w] of Object.entries(writable)) {
    for (const [on, o] of Object.entries(all)) {
      if (on === wn || o.buffer !== w.buffer) continue;
      const [a0, a1] = range(w);
      const [b0, b1] = range(o);
      if (a0 < b1 && b0 < a1) {
        throw new Error(
          `${what}: '${wn}' (bytes ${w.byteOffset}..${w.byteOffset + w.byteLength}) and '${on}' (bytes ${o.byteOffset}..${o.byteOffset + o.byteLength}) share buffer '${w.buffer.label}' within ${align}-byte binding alignment; WebGPU forbids a writable binding overlapping another`,
        );
      }
    }
  }
}

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay: number;
  /** 1-based step count after this update (torch's state['step'] after `step_t += 1`). */
  step: number;
  /** Optional 1-element GPU tensor multiplying the gradient first (the clip coefficient). */
  gradScale?: Tensor;
}

/**
 * One AdamW update of `param` in place (expAvg, expAvgSq updated in place too), in PyTorch's order:
 * p *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps).
 * All four tensors need the same number of elements (any shapes).
 */
export function adamw(
  rt: Runtime,
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  opts: AdamWOptions,
): void {
  checkF32('adamw', param, grad, expAvg, expAvgSq);
  const n = param.size;
  for (const [name, t] of [
    ['grad', grad],
    ['expAvg', expAvg],
    ['expAvgSq', expAvgSq],
  ] as const) {
    if (t.size !== n)
      throw new Error(
        `adamw: ${name} ${shapeStr(t.shape)} has ${t.size} elements, param ${shapeStr(param.shape)} has ${n}`,
      );
  }
  const { lr, weightDecay: wd, step } = opts;
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  if (!(lr >= 0)) throw new Error(`adamw: invalid learning rate ${lr}`);
  if (!(eps >= 0)) throw new Error(`adamw: invalid epsilon ${eps}`);
  if (!(beta1 >= 0 && beta1 < 1)) throw new Error(`adamw: invalid beta1 ${beta1} (need 0 <= beta1 < 1)`);
  if (!(beta2 >= 0 && beta2 < 1)) throw new Error(`adamw: invalid beta2 ${beta2} (need 0 <= beta2 < 1)`);
  if (!(wd >= 0)) throw new Error(`adamw: invalid weight decay ${wd}`);
  if (!Number.isInteger(step) || step < 1)
    throw new Error(`adamw: step must be an integer >= 1 (1-based, after the increment), got ${step}`);
  if (opts.gradScale) {
    checkF32('adamw gradScale', opts.gradScale);
    if (opts.gradScale.size !== 1)
      throw new Error(`adamw: gradScale must have 1 element, got ${shapeStr(opts.gradScale.shape)}`);
  }
  const bound = { param, grad, expAvg, expAvgSq, ...(opts.gradScale ? { gradScale: opts.gradScale } : {}) };
  checkNoAlias(rt, 'adamw', { param, expAvg, expAvgSq }, bound);
  if (n === 0) return;
  // Host scalars in float64, as torch computes them in Python before the f32 kernels.
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const scale = opts.gradScale;
  const vec4 = n % 4 === 0 && [param, grad, expAvg, expAvgSq].every((t) => t.byteOffset % 16 === 0);
  rt.kernel('optim').run({
    defines: { ADAMW: 1, ...(scale ? { GRAD_SCALE: 1 } : {}), ...(vec4 ? { VEC4: 1 } : {}) },
    constants: { WG },
    bindings: { param, grad, exp_avg: expAvg, exp_avg_sq: expAvgSq, ...(scale ? { scale } : {}) },
    params: {
      n,
      decay: 1 - lr * wd,
      beta1,
      one_m_beta1: 1 - beta1,
      beta2,
      one_m_beta2: 1 - beta2,
      step_size: lr / bc1,
      bc2_sqrt: Math.sqrt(bc2),
      eps,
    },
    groups: rt.groups1d(vec4 ? n / 4 : n, WG),
    label: `optim.adamw${scale ? '.scaled' : ''}${vec4 ? '.vec4' : ''}`,
  });
}

/** Sum of squares of every element of every tensor -> [1] (f32 partial sums, then one final sum). */
export function gradNormSq(rt: Runtime, grads: readonly Tensor[]): Tensor {
  checkF32('gradNormSq', ...grads);
  const parts = grads.map((g) => Math.max(1, Math.min(MAX_PARTS, Math.ceil(g.size / ELEMS_PER_PART))));
  const count = parts.reduce((a, b) => a + b, 0);
  const total = rt.empty([1], 'f32', 'grad_norm_sq');
  if (count === 0) {
    rt.write(total, [0]);
    return total;
  }
  const partial = rt.empty([count], 'f32', 'grad_norm_sq.partial');
  let base = 0;
  grads.forEach((x, i) => {
    rt.kernel('optim').run({
      defines: { SUMSQ: 1 },
      constants: { WG },
      bindings: { x, partial },
      params: { n: x.size, parts: parts[i], base },
      groups: rt.groups1d(parts[i], WG),
      label: 'optim.sumsq',
    });
    base += parts[i];
  });
  rt.kernel('optim').run({
    defines: { SUM: 1 },
    bindings: { partial, total },
    params: { count },
    groups: [1],
    label: 'optim.sum',
  });
  partial.dispose();
  return total;
}

/**
 * clip_grad_norm_'s coefficient from the squared norm [1]: coef = min(1, maxNorm / (norm + 1e-6)),
 * both as [1] GPU tensors (norm for logging).
 */
export function clipCoef(rt: Runtime, normSq: Tensor, maxNorm: number): { coef: Tensor; norm: Tensor } {
  checkF32('clipCoef', normSq);
  if (normSq.size !== 1) throw new Error(`clipCoef: normSq must have 1 element, got ${shapeStr(normSq.shape)}`);
  if (!(maxNorm > 0)) throw new Error(`clipCoef: maxNorm must be > 0, got ${maxNorm}`);
  const coef = rt.empty([1], 'f32', 'clip_coef');
  const norm = rt.empty([1], 'f32', 'grad_norm');
  rt.kernel('optim').run({
    defines: { CLIP_COEF: 1 },
    bindings: { norm_sq: normSq, coef, norm },
    params: { max_norm: maxNorm },
    groups: [1],
    label: 'optim.clip_coef',
  });
  return { coef, norm };
}

/** gradNormSq + clipCoef: the clip coefficient for AdamW's gradScale and the total norm. */
export function clipGradNorm(rt: Runtime, grads: readonly Tensor[], maxNorm: number): { coef: Tensor; norm: Tensor } {
  const sq = gradNormSq(rt, grads);
  const out = clipCoef(rt, sq, maxNorm);
  sq.dispose();
  return out;
}

/** dst += alpha * src in place (gradient accumulation). Same element count, any shapes. */
export function accumulate(rt: Runtime, dst: Tensor, src: Tensor, alpha = 1): void {
  checkF32('accumulate', dst, src);
  if (dst.size !== src.size)
    throw new Error(`accumulate: dst ${shapeStr(dst.shape)} and src ${shapeStr(src.shape)} differ in size`);
  checkNoAlias(rt, 'accumulate', { dst }, { dst, src });
  const n = dst.size;
  if (n === 0) return;
  const vec4 = n % 4 === 0 && dst.byteOffset % 16 === 0 && src.byteOffset % 16 === 0;
  rt.kernel('optim').run({
    defines: { ACCUMULATE: 1, ...(vec4 ? { VEC4: 1 } : {}) },
    constants: { WG },
    bindings: { dst, src },
    params: { n, alpha },
    groups: rt.groups1d(vec4 ? n / 4 : n, WG),
    label: `optim.accumulate${vec4 ? '.vec4' : ''}`,
  });
}

/** t *= s in place; s is a number or a 1-element GPU tensor. */
export function scaleInPlace(rt: Runtime, t: Tensor, s: number | Tensor): void {
  checkF32('scaleInPlace', t);
  if (typeof s !== 'number') {
    checkF32('scaleInPlace', s);
    if (s.size !== 1) throw new Error(`scaleInPlace: the scale tensor must have 1 element, got ${shapeStr(s.shape)}`);
    checkNoAlias(rt, 'scaleInPlace', { t }, { t, s });
  }
  if (t.size === 0) return;
  const tensor = typeof s !== 'number';
  rt.kernel('optim').run({
    defines: { SCALE: 1, ...(tensor ? { SCALE_TENSOR: 1 } : {}) },
    constants: { WG },
    bindings: tensor ? { t, s } : { t },
    params: tensor ? { n: t.size } : { n: t.size, s },
    groups: rt.groups1d(t.size, WG),
    label: 'optim.scale',
  });
}

/**
 * fvcore CosineParamScheduler (SAM 2 training's lr / wd schedules):
 * end + 0.5 (start - end) (1 + cos(pi * where)), where = step / totalSteps in [0, 1].
 */
export function cosineSchedule(step: number, totalSteps: number, start: number, end: number): number {
  if (!(totalSteps > 0)) throw new Error(`cosineSchedule: totalSteps must be > 0, got ${totalSteps}`);
  const where = step / totalSteps;
  if (!(where >= 0 && where <= 1)) throw new Error(`cosineSchedule: step ${step} outside [0, ${totalSteps}]`);
  return end + 0.5 * (start - end) * (1 + Math.cos(Math.PI * where));
}
