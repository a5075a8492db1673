// Model-level training losses built from the loss kernels (src/kernels/loss.ts), all on the tape:
//   multimaskLoss  SAM 2's MultiStepMultiMasksAndIous for one step and one object: per-candidate focal
//                  and dice, the candidate with the lowest w_focal·focal + w_dice·dice is supervised
//                  (SAM 2's rule, not the predicted IoU), IoU-head L1 (RobotSeg / SAM 2.1 configs) or MSE
//                  (the class default) on that candidate (or the mean over all with superviseAllIou),
//                  object-score BCE against "the target is not empty"; mask terms x target_obj.
//   semanticLoss   RobotSeg: 1 - cos(f_t, f_0), f = normalize(masked_avg(L2 features, soft mask)),
//                  the mask bilinearly resized (no antialias) to the feature grid.
//   patchLoss      RobotSeg: soft IoU on the feature grid of σ(logits) against a pseudo label.
// golden/grad/README.md states the exact forms; test/train/*_grad.test.ts check them against PyTorch.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { add, affine, sigmoid } from '../kernels/elementwise.js';
import { slice } from '../kernels/layout.js';
import {
  bceWithLogits,
  cosineSimilarity,
  diceLoss,
  l1Loss,
  l2Normalize,
  maskIoU,
  mseLoss,
  sigmoidFocalLoss,
  softIoULoss,
} from '../kernels/loss.js';
import { maskedMean } from '../kernels/reduce.js';
import { resize } from '../kernels/resize.js';

export interface MaskLossWeights {
  focal: number;
  dice: number;
  iou: number;
  class: number;
}
/** RobotSeg's cycle weights (focal 5, dice 1, IoU L1 1, object BCE 1); SAM 2.1's image training uses focal 20. */
export const ROBOTSEG_MASK_WEIGHTS: MaskLossWeights = { focal: 5, dice: 1, iou: 1, class: 1 };

export interface MultimaskLossOptions {
  weights: MaskLossWeights;
  /** 'l1' (RobotSeg, SAM 2.1 training configs) or 'mse' (SAM 2 loss-class default). */
  iouLoss: 'l1' | 'mse';
  /** Supervise the IoU of every candidate (mean), not only the selected one. */
  superviseAllIou?: boolean;
}

export interface MultimaskLoss {
  /** Weighted sum [1]. */
  total: Tensor;
  /** Unweighted terms [1] (mask terms already x target_obj). */
  focal: Tensor;
  dice: Tensor;
  iou: Tensor;
  cls: Tensor;
  /** Candidate index supervised (argmin of the combo, first minimum). */
  selected: number;
  perMask: { focal: Float32Array; dice: Float32Array; actualIou: Float32Array };
}

/** a·x + b·y + … for [1] tensors (skipping zero weights). */
export function weightedSum(rt: Runtime, terms: Array<[number, Tensor]>): Tensor {
  let out: Tensor | null = null;
  for (const [w, t] of terms) {
    if (w === 0) continue;
    const s = w === 1 ? t : affine(rt, t, w);
    out = out ? add(rt, out, s) : s;
  }
  return out ?? rt.zeros([1], 'f32', 'zero_loss');
}

/**
 * candidates [1, K, H, W] logits, iouPred [1, K] (after sigmoid), objScore [1, 1] logit,
 * target [1, 1, H, W] 0/1 (f32). One object (num_objects = 1). Reads back the per-mask losses once.
 */
export async function multimaskLoss(
  rt: Runtime,
  candidates: Tensor,
  iouPred: Tensor,
  objScore: Tensor,
  target: Tensor,
  opts: MultimaskLossOptions,
): Promise<MultimaskLoss> {
  const [, K, H, W] = candidates.shape;
  if (target.size !== H * W)
    throw new Error(`multimaskLoss: target [${target.shape.join(', ')}] is not one ${H}x${W} mask`);
  if (iouPred.size !== K) throw new Error(`multimaskLoss: ${iouPred.size} IoU predictions for ${K} candidates`);
  const x = candidates.reshape([K, H * W]);
  const t = target.reshape([H * W]);
  const focal = sigmoidFocalLoss(rt, x, t, { alpha: 0.25, gamma: 2 }); // [K]
  const dice = diceLoss(rt, x, t); // [K]
  const actual = maskIoU(rt, x, t); // [K], no gradient
  const [fh, dh, ah, th] = await Promise.all([rt.read(focal), rt.read(dice), rt.read(actual), rt.read(t)]);
  const targetObj = th.some((v) => v > 0) ? 1 : 0;
  const w = opts.weights;
  let k = 0;
  for (let i = 1; i < K; i++) if (w.focal * fh[i] + w.dice * dh[i] < w.focal * fh[k] + w.dice * dh[k]) k = i;
  const pick = (v: Tensor) => (K === 1 ? v : slice(rt, v, [k], [1]));
  const lossFocal = affine(rt, pick(focal), targetObj);
  const lossDice = affine(rt, pick(dice), targetObj);
  const ious = iouPred.reshape([K]);
  const iouFn = opts.iouLoss === 'l1' ? l1Loss : mseLoss;
  const lossIou = affine(
    rt,
    opts.superviseAllIou ? iouFn(rt, ious, actual) : iouFn(rt, pick(ious), pick(actual)),
    targetObj,
  );
  const cls = bceWithLogits(rt, objScore.reshape([1, 1]), rt.upload([targetObj], [1], 'f32', 'target_obj')); // [1]
  const total = weightedSum(rt, [
    [w.focal, lossFocal],
    [w.dice, lossDice],
    [w.iou, lossIou],
    [w.class, cls],
  ]);
  return {
    total,
    focal: lossFocal,
    dice: lossDice,
    iou: lossIou,
    cls,
    selected: k,
    perMask: { focal: fh, dice: dh, actualIou: ah },
  };
}

/** normalize(masked_avg(feats [1, C, h, w], mask [1, 1, H, W] resized bilinearly to h x w)) -> [1, C]. */
export function semanticFeature(rt: Runtime, feats: Tensor, mask: Tensor): { feat: Tensor; mask16: Tensor } {
  const [B, C, h, w] = feats.shape;
  const m = resize(rt, mask, [h, w], { mode: 'bilinear' }); // [B, 1, h, w], align_corners False, no antialias
  const avg = maskedMean(rt, feats.reshape([B, C, h * w]), m.reshape([B, h * w]), 1e-6); // [B, C]
  return { feat: l2Normalize(rt, avg), mask16: m };
}

/** 1 - cos(f_t, f_0) -> [1]. */
export function semanticLoss(rt: Runtime, ft: Tensor, f0: Tensor): { loss: Tensor; cosine: Tensor } {
  const cosine = cosineSimilarity(rt, ft, f0); // [B]
  return { loss: affine(rt, cosine, -1, 1), cosine };
}

/**
 * Soft IoU of σ(logits [1, 1, H, W]) against a pseudo label [1, 1, H', W'] (0/1), both bilinearly
 * resized to the grid [h, w]. σ lies in [0, 1], so RobotSeg's clamp(p, 0, 1) is the identity here,
 * for values and (torch.clamp passes gradients at the bounds) gradients alike.
 */
export function patchLoss(
  rt: Runtime,
  logits: Tensor,
  pseudo: Tensor,
  grid: [number, number],
): { loss: Tensor; prob16: Tensor } {
  const p = resize(rt, sigmoid(rt, logits), grid, { mode: 'bilinear' });
  const t =
    pseudo.shape[2] === grid[0] && pseudo.shape[3] === grid[1]
      ? pseudo
      : resize(rt, pseudo, grid, { mode: 'bilinear' });
  const n = grid[0] * grid[1];
  return { loss: softIoULoss(rt, p.reshape([1, n]), t.reshape([1, n])), prob16: p };
}
