// The loss kernels against PyTorch's training goldens (../shared/golden/grad, README there): the
// subset in test/fixtures/grad/loss_golden.safetensors (scripts/make_loss_fixtures.ts) plus the raw
// level-2 FPN features of frames 0..2 from test/fixtures/golden/video.safetensors.
// Tolerances from the golden README: losses 1e-5 relative, per-mask loss vectors 1e-5 absolute,
// discrete decisions (selected index, best-IoU index, actual IoUs) exact.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/graph/runtime.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { rawToF32, type WeightsFile } from '../../src/graph/weights_io.js';
import { clamp, sigmoid } from '../../src/kernels/elementwise.js';
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
} from '../../src/kernels/loss.js';
import { maskedMean } from '../../src/kernels/reduce.js';
import { resize } from '../../src/kernels/resize.js';
import { openWeights } from '../../src/node/weights_file.js';
import { expectClose } from '../helpers/compare.js';
import { GOLDEN, goldenFile } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
const LOSS = { atol: 0, rtol: 1e-5 };
const PER_MASK = { atol: 1e-5, rtol: 0 };
// Intermediate maps and features (values <= 1): f32 resizes, sigmoid and 256-term sums.
const MAP = { atol: 2e-6, rtol: 0 };
const FEAT = { atol: 1e-5, rtol: 0 };

async function load(f: WeightsFile, key: string): Promise<{ data: Float32Array; shape: number[] }> {
  const info = f.header.get(key);
  if (!info) throw new Error(`fixture has no '${key}'`);
  return { data: rawToF32(await f.readRaw(key), info.dtype), shape: [...info.shape] };
}

const argmin = (a: ArrayLike<number>) => Array.from(a).reduce((best, v, i, arr) => (v < arr[best] ? i : best), 0);
const argmax = (a: ArrayLike<number>) => Array.from(a).reduce((best, v, i, arr) => (v > arr[best] ? i : best), 0);
/** Element k of a 1-D view (a tensor at a 4k-byte offset: exercises the kernels' *_off). */
const pick = (t: Tensor, k: number) => t.reshape([t.size]).narrow0(k, 1);

describe.skipIf(!rt)('losses vs the PyTorch training goldens', async () => {
  const fx = await openWeights(join(GOLDEN, '..', 'grad', 'loss_golden.safetensors'));
  afterAll(() => fx.close());
  const g = async (k: string) => load(fx, k);
  const up = async (k: string, r: Runtime = rt!) => {
    const v = await g(k);
    return r.upload(v.data, v.shape, 'f32', k);
  };
  const scalar = async (k: string) => (await g(k)).data[0];

  it('image case (64x64 low-res masks): focal, dice, actual IoU, selection, IoU MSE, object BCE, total', async () => {
    const logits = await up('image/out.multimask_logits'); // [1, 3, 64, 64]
    const target = await up('image/target.mask_lowres'); // [1, 1, 64, 64]
    const focal = await rt!.read(sigmoidFocalLoss(rt!, logits, target));
    const dice = await rt!.read(diceLoss(rt!, logits, target));
    const iouT = maskIoU(rt!, logits, target);
    const iou = await rt!.read(iouT);
    expectClose(focal, (await g('image/loss.focal_per_mask')).data, PER_MASK, 'focal_per_mask');
    expectClose(dice, (await g('image/loss.dice_per_mask')).data, PER_MASK, 'dice_per_mask');
    expect(Array.from(iou)).toEqual(Array.from((await g('image/loss.actual_iou_per_mask')).data));
    const combo = Array.from(focal, (f, k) => 20 * f + dice[k]);
    expectClose(combo, (await g('image/loss.combo_per_mask')).data, { atol: 2e-4, rtol: 0 }, 'combo');
    const k = argmin(combo);
    expect(k).toBe(await scalar('image/loss.selected_index'));
    const iouPred = await up('image/out.iou_pred');
    const mse = (await rt!.read(mseLoss(rt!, pick(iouPred, k), pick(iouT, k))))[0];
    expectClose([mse], [await scalar('image/loss.iou_mse')], LOSS, 'iou_mse');
    const cls = (
      await rt!.read(bceWithLogits(rt!, await up('image/out.object_score_logits'), rt!.upload([1], [1])))
    )[0];
    expectClose([cls], [await scalar('image/loss.class_bce')], LOSS, 'class_bce');
    expectClose(
      [focal[k], dice[k]],
      [await scalar('image/loss.mask_focal'), await scalar('image/loss.dice')],
      LOSS,
      'selected terms',
    );
    expectClose([20 * focal[k] + dice[k] + mse + cls], [await scalar('image/loss.total')], LOSS, 'total');
  });

  it('cycle steps 0 and 4 (bilinear 64 -> 256 candidates vs G0): per-mask terms, selection, IoU L1, class BCE, L_cyc', async () => {
    const g0 = await up('cycle/target.G0'); // uint8 0/1 -> f32 [1, 1, 256, 256]
    let lcyc = 0;
    for (const t of [0, 4]) {
      const hi = resize(rt!, await up(`cycle/step${t}/low_res_multimasks`), [256, 256], { mode: 'bilinear' });
      const focal = await rt!.read(sigmoidFocalLoss(rt!, hi, g0));
      const dice = await rt!.read(diceLoss(rt!, hi, g0));
      const iouT = maskIoU(rt!, hi, g0);
      expectClose(focal, (await g(`cycle/step${t}/loss.focal_per_mask`)).data, PER_MASK, `step${t} focal`);
      expectClose(dice, (await g(`cycle/step${t}/loss.dice_per_mask`)).data, PER_MASK, `step${t} dice`);
      expect(Array.from(await rt!.read(iouT))).toEqual(
        Array.from((await g(`cycle/step${t}/loss.actual_iou_per_mask`)).data),
      );
      const k = argmin(Array.from(focal, (f, i) => 5 * f + dice[i]));
      expect(k).toBe(await scalar(`cycle/step${t}/loss.selected_index`));
      const l1 = (await rt!.read(l1Loss(rt!, pick(await up(`cycle/step${t}/iou_pred`), k), pick(iouT, k))))[0];
      const cls = (
        await rt!.read(bceWithLogits(rt!, await up(`cycle/step${t}/object_score_logits`), rt!.upload([1], [1])))
      )[0];
      expectClose(
        [focal[k], dice[k], l1, cls],
        [
          await scalar(`cycle/step${t}/loss.mask_focal`),
          await scalar(`cycle/step${t}/loss.dice`),
          await scalar(`cycle/step${t}/loss.iou_l1`),
          await scalar(`cycle/step${t}/loss.class_bce`),
        ],
        LOSS,
        `step${t} selected terms`,
      );
      lcyc += 5 * focal[k] + dice[k] + l1 + cls;
    }
    expectClose([lcyc], [await scalar('cycle/loss.L_cyc')], LOSS, 'L_cyc');
  });

  it('cycle steps 1..3: patch probabilities, soft IoU vs pseudo labels; masked-average features, anchor, cosine; L_sem, L_patch', async () => {
    const video = await goldenFile('video.safetensors');
    const l2 = async (frame: number) => {
      // raw level-2 FPN [1, 64, 16, 16] -> [1, 64, 256]
      const v = await load(video, `video/frame${frame}/backbone_fpn2_after_conv_s`);
      return rt!.upload(v.data, [1, 64, 256], 'f32', `L2 frame ${frame}`);
    };
    const sources = (await g('cycle/input.clip_source_frames')).data;
    const g16 = resize(rt!, await up('cycle/target.G0'), [16, 16], { mode: 'bilinear' });
    expectClose(await rt!.read(g16), (await g('cycle/target.G0_16x16_bilinear')).data, MAP, 'G0 16x16');
    const anchor = l2Normalize(rt!, maskedMean(rt!, await l2(sources[0]), g16.reshape([1, 256])));
    expectClose(await rt!.read(anchor), (await g('cycle/sem.anchor_feat')).data, FEAT, 'anchor');
    let lsem = 0,
      lpatch = 0;
    for (const t of [1, 2, 3]) {
      const iouPred = (await g(`cycle/step${t}/iou_pred`)).data;
      const k = argmax(iouPred);
      expect(k).toBe(await scalar(`cycle/step${t}/best_iou_index`));
      expect(k).toBe(await scalar(`cycle/step${t}/loss.selected_index`));
      const logits = (await up(`cycle/step${t}/low_res_multimasks`)).reshape([3, 1, 64, 64]).narrow0(k, 1);
      const prob = sigmoid(rt!, resize(rt!, logits, [256, 256], { mode: 'bilinear' })); // [1, 1, 256, 256]
      const p16 = resize(rt!, clamp(rt!, prob, 0, 1), [16, 16], { mode: 'bilinear' });
      const m16 = resize(rt!, prob, [16, 16], { mode: 'bilinear' });
      expectClose(await rt!.read(p16), (await g(`cycle/step${t}/patch.prob_16x16`)).data, MAP, `step${t} p16`);
      expectClose(await rt!.read(m16), (await g(`cycle/step${t}/sem.mask_16x16_bilinear`)).data, MAP, `step${t} m16`);
      // step 3 shows frame 1 again; its label equals step 1's (checked by the fixture script)
      const label = await up(`cycle/step${t === 3 ? 1 : t}/target.pseudo_label`);
      const t16 = resize(rt!, label, [16, 16], { mode: 'bilinear' });
      const patch = (await rt!.read(softIoULoss(rt!, p16.reshape([1, 256]), t16)))[0];
      expectClose([patch], [await scalar(`cycle/step${t}/loss.patch_iou`)], LOSS, `step${t} patch`);
      const feat = l2Normalize(rt!, maskedMean(rt!, await l2(sources[t]), m16.reshape([1, 256])));
      expectClose(await rt!.read(feat), (await g(`cycle/step${t}/sem.feat`)).data, FEAT, `step${t} feat`);
      const cos = (await rt!.read(cosineSimilarity(rt!, feat, anchor)))[0];
      expectClose(
        [cos, 1 - cos],
        [await scalar(`cycle/step${t}/loss.cosine`), await scalar(`cycle/step${t}/loss.semantic`)],
        LOSS,
        `step${t} cosine`,
      );
      lsem += 1 - cos;
      lpatch += patch;
    }
    expectClose(
      [lsem, lpatch],
      [await scalar('cycle/loss.L_sem'), await scalar('cycle/loss.L_patch')],
      LOSS,
      'L_sem, L_patch',
    );
    await video.close();
  });
});
