// CPU references for shaders/optim.wgsl in float64: PyTorch's formulas written out.

export interface AdamWState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
}
export interface AdamWRefOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay: number;
  step: number;
  scale?: number;
}

/**
 * One step of torch.optim.AdamW (non-amsgrad), _single_tensor_adamw in torch 1.13:
 *   param.mul_(1 - lr * weight_decay)
 *   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   denom = (exp_avg_sq.sqrt() / sqrt(1 - beta2 ** step)).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-lr / (1 - beta1 ** step))
 * with grad multiplied by `scale` first (clip_grad_norm_ scales the gradients in place).
 */
export function adamwRef(s: AdamWState, grad: ArrayLike<number>, o: AdamWRefOptions): void {
  const b1 = o.beta1 ?? 0.9,
    b2 = o.beta2 ?? 0.999,
    eps = o.eps ?? 1e-8,
    scale = o.scale ?? 1;
  const bc1 = 1 - b1 ** o.step,
    bc2 = 1 - b2 ** o.step;
  for (let i = 0; i < s.p.length; i++) {
    const g = grad[i] * scale;
    s.p[i] *= 1 - o.lr * o.weightDecay;
    s.m[i] = s.m[i] * b1 + (1 - b1) * g;
    s.v[i] = s.v[i] * b2 + (1 - b2) * g * g;
    const denom = Math.sqrt(s.v[i]) / Math.sqrt(bc2) + eps;
    s.p[i] -= (o.lr / bc1) * (s.m[i] / denom);
  }
}

/** torch.nn.utils.clip_grad_norm_ (L2): total norm over all tensors and min(1, max / (norm + 1e-6)). */
export function clipGradNormRef(grads: ArrayLike<number>[], maxNorm: number): { norm: number; coef: number } {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  return { norm, coef: Math.min(1, maxNorm / (norm + 1e-6)) };
}
