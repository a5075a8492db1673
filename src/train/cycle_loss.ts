// RobotSeg's label-efficient losses on a tracked cycle clip (MultiStepMultiMasksAndIous_LET;
// docs/reference/robotseg-architecture.md sec. 5, golden/grad README case 2):
//   L_cyc   = sum over the first and last step of the multimask loss against the ONE ground truth G0
//             (the clip starts and ends on the annotated frame); with correction clicks on the first
//             step every decoder call of it is supervised (SAM 2's multistep sum);
//   L_sem   = sum over the intermediate steps of 1 - cos(f_t, f_0): f_0 from the first step's raw
//             level-2 features under G0, f_t under σ(the candidate with the highest predicted IoU);
//   L_patch = sum over the intermediate steps of the soft IoU of that candidate against the step's
//             pseudo label, on the feature grid;
//   total   = w_cyc L_cyc + w_sem L_sem + w_patch L_patch (+ w_struct L_struct for RobotSeg, added by
//             the caller from the SEMA structure maps).
// Sums, not means, over the intermediate steps, as RobotSeg's code does (the paper writes a mean).
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { sigmoid } from '../kernels/elementwise.js';
import { slice } from '../kernels/layout.js';
import type { ImageFeatures } from '../model/sam2.js';
import type { CycleStep } from './cycle.js';
import {
  type MaskLossWeights,
  type MultimaskLoss,
  multimaskLoss,
  patchLoss,
  ROBOTSEG_MASK_WEIGHTS,
  semanticFeature,
  semanticLoss,
  weightedSum,
} from './losses.js';

export interface CycleLossWeights {
  cyc: number;
  sem: number;
  patch: number;
  mask: MaskLossWeights;
  iouLoss: 'l1' | 'mse';
  superviseAllIou: boolean;
}

export const ROBOTSEG_CYCLE_WEIGHTS: CycleLossWeights = {
  cyc: 1,
  sem: 1,
  patch: 1,
  mask: ROBOTSEG_MASK_WEIGHTS,
  iouLoss: 'l1',
  superviseAllIou: false,
};

export interface CycleLoss {
  total: Tensor;
  cyc: Tensor;
  sem: Tensor;
  patch: Tensor;
  /** Multimask losses of the supervised (first, last) steps: one per decoder call (correction clicks add calls). */
  mask: Array<{ step: number } & MultimaskLoss>;
  /** Per intermediate step: cosine and patch loss tensors [1]. */
  semantic: Array<{ step: number; cosine: Tensor; loss: Tensor; feat: Tensor; mask16: Tensor }>;
  patches: Array<{ step: number; loss: Tensor; prob16: Tensor }>;
  anchor: Tensor;
}

/**
 * steps: the tracked clip; frames[t]: the features of step t's source frame; g0: the annotated mask
 * [1, 1, S, S] (0/1 f32, S = the model input size); pseudo(t): step t's pseudo label [1, 1, h, w] or
 * [1, 1, S, S] (0/1), for the intermediate steps.
 */
export async function cycleLoss(
  rt: Runtime,
  steps: CycleStep[],
  frames: ImageFeatures[],
  g0: Tensor,
  pseudo: (step: number) => Tensor,
  w: CycleLossWeights = ROBOTSEG_CYCLE_WEIGHTS,
): Promise<CycleLoss> {
  const T = steps.length;
  const supervised = T === 1 ? [0] : [0, T - 1];
  const mask: CycleLoss['mask'] = [];
  for (const t of supervised) {
    const s = steps[t];
    // every decoder call of the step is supervised (correction clicks: SAM 2's multistep loss sums them)
    for (const p of [...s.earlier, s]) {
      const l = await multimaskLoss(rt, p.highRes, p.iou, p.objectScore, g0, {
        weights: w.mask,
        iouLoss: w.iouLoss,
        superviseAllIou: w.superviseAllIou,
      });
      mask.push({ step: t, ...l });
    }
  }
  const cyc = weightedSum(
    rt,
    mask.map((m) => [1, m.total] as [number, Tensor]),
  );
  const anchor = semanticFeature(rt, frames[0].visionFeats, g0).feat; // not detached
  const semantic: CycleLoss['semantic'] = [];
  const patches: CycleLoss['patches'] = [];
  for (let t = 1; t < T - 1; t++) {
    const s = steps[t];
    const [, , H, W] = s.highRes.shape;
    const best = slice(rt, s.highRes, [0, s.best, 0, 0], [1, 1, H, W]); // highest predicted IoU
    const sf = semanticFeature(rt, frames[t].visionFeats, sigmoid(rt, best));
    const sl = semanticLoss(rt, sf.feat, anchor);
    semantic.push({ step: t, cosine: sl.cosine, loss: sl.loss, feat: sf.feat, mask16: sf.mask16 });
    const [, , h, ww] = frames[t].visionFeats.shape;
    const pl = patchLoss(rt, best, pseudo(t), [h, ww]);
    patches.push({ step: t, loss: pl.loss, prob16: pl.prob16 });
  }
  const sem = weightedSum(
    rt,
    semantic.map((s) => [1, s.loss] as [number, Tensor]),
  );
  const patch = weightedSum(
    rt,
    patches.map((p) => [1, p.loss] as [number, Tensor]),
  );
  const total = weightedSum(rt, [
    [w.cyc, cyc],
    [w.sem, sem],
    [w.patch, patch],
  ]);
  return { total, cyc, sem, patch, mask, semantic, patches, anchor };
}
