// RobotSeg's label-efficient step on the golden cycle clip [0, 1, 2, 1, 0] (../shared/golden/grad
// case 2): every loss term and the gradient of the total w.r.t. all 340 parameters against PyTorch
// autograd, back-propagated through time across the memory bank (nothing detached), plus the engine's
// pseudo-label rule against the stored labels.
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { cycleLoss, ROBOTSEG_CYCLE_WEIGHTS } from '../../src/train/cycle_loss.js';
import { featurePseudoLabel, objectPrototype } from '../../src/train/pseudo_labels.js';
import { compare } from '../helpers/compare.js';
import { checkGrads, runGoldenCycle, trainableParams } from '../helpers/grad.js';
import { gradGoldenFixture } from '../helpers/grad_fixture.js';
import { testRuntime } from '../helpers/gpu.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();

// README tolerances: losses 1e-5 relative; per-mask loss vectors 1e-5 absolute; features 1e-4 of
// their scale; gradients per tensor max|g - ref| <= tol max|ref| + 1e-8 with 1e-4 for the heads,
// memory modules and pointers and 1e-3 for the image encoder (long float32 chains).
const LOSS_REL = 1e-5;
function close(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol = 0) {
  const r = compare(got, want, { atol, rtol });
  if (!r.ok) expect.fail(`${name}: ${r.msg}`);
}
const scalar = (name: string, got: number, want: number) => close(name, [got], [want], LOSS_REL * Math.abs(want));

describe.skipIf(!rt)('cycle-clip losses and gradients vs PyTorch autograd (golden grad case 2)', () => {
  const fx = gradGoldenFixture(rt, 'cycle_loss.safetensors', 'video.safetensors');

  it('loss terms, all 340 parameter gradients, and the pseudo-label rule', async () => {
    const { model, golden, input: video } = fx;
    const R = rt!;
    const g = (k: string) => golden.readTensor(k);
    const params = trainableParams(model);
    for (const [, t] of params) t.requiresGrad = true;
    const tape = new Tape(R, TAPE_OPS);
    R.tape = tape;
    const { feats, frames, steps } = await runGoldenCycle(R, model, golden, video);
    const g0 = R.upload(await g('target.G0'), [1, 1, 256, 256], 'f32', 'G0');
    const pseudo = new Map<number, Tensor>();
    for (const t of [1, 2, 3])
      pseudo.set(t, R.upload(await g(`step${t}/target.pseudo_label`), [1, 1, 256, 256], 'f32', 'pseudo'));
    const loss = await cycleLoss(R, steps, frames, g0, (t) => pseudo.get(t)!, ROBOTSEG_CYCLE_WEIGHTS);
    R.tape = null;

    // ---- forward: every loss term
    for (const m of loss.mask) {
      const p = `step${m.step}/loss.`;
      close(`${p}focal_per_mask`, m.perMask.focal, await g(`${p}focal_per_mask`), 1e-5);
      close(`${p}dice_per_mask`, m.perMask.dice, await g(`${p}dice_per_mask`), 1e-5);
      close(`${p}actual_iou_per_mask`, m.perMask.actualIou, await g(`${p}actual_iou_per_mask`), 0);
      expect(m.selected, `${p}selected_index`).toBe((await g(`${p}selected_index`))[0]);
      scalar(`${p}mask_focal`, (await R.read(m.focal))[0], (await g(`${p}mask_focal`))[0]);
      scalar(`${p}dice`, (await R.read(m.dice))[0], (await g(`${p}dice`))[0]);
      scalar(`${p}iou_l1`, (await R.read(m.iou))[0], (await g(`${p}iou_l1`))[0]);
      scalar(`${p}class_bce`, (await R.read(m.cls))[0], (await g(`${p}class_bce`))[0]);
    }
    close('sem.anchor_feat', await R.read(loss.anchor), await g('sem.anchor_feat'), 1e-5);
    for (const s of loss.semantic) {
      const p = `step${s.step}/`;
      expect(steps[s.step].best, `${p}loss.selected_index`).toBe((await g(`${p}loss.selected_index`))[0]);
      close(`${p}sem.mask_16x16_bilinear`, await R.read(s.mask16), await g(`${p}sem.mask_16x16_bilinear`), 1e-5);
      close(`${p}sem.feat`, await R.read(s.feat), await g(`${p}sem.feat`), 1e-5);
      scalar(`${p}loss.cosine`, (await R.read(s.cosine))[0], (await g(`${p}loss.cosine`))[0]);
      scalar(`${p}loss.semantic`, (await R.read(s.loss))[0], (await g(`${p}loss.semantic`))[0]);
    }
    for (const pl of loss.patches) {
      const p = `step${pl.step}/`;
      close(`${p}patch.prob_16x16`, await R.read(pl.prob16), await g(`${p}patch.prob_16x16`), 1e-5);
      scalar(`${p}loss.patch_iou`, (await R.read(pl.loss))[0], (await g(`${p}loss.patch_iou`))[0]);
    }
    scalar('loss.L_cyc', (await R.read(loss.cyc))[0], (await g('loss.L_cyc'))[0]);
    scalar('loss.L_sem', (await R.read(loss.sem))[0], (await g('loss.L_sem'))[0]);
    scalar('loss.L_patch', (await R.read(loss.patch))[0], (await g('loss.L_patch'))[0]);
    scalar('loss.total', (await R.read(loss.total))[0], (await g('loss.total'))[0]);

    // ---- the engine's pseudo-label rule reproduces the stored labels
    const proto = objectPrototype(R, feats.get(0)!.visionFeats, g0);
    for (const t of [1, 2, 3]) {
      const pl = await featurePseudoLabel(R, frames[t].visionFeats, proto);
      close(`step${t}/target.pseudo_sim_16x16`, pl.sim, await g(`step${t}/target.pseudo_sim_16x16`), 1e-5);
      scalar(`step${t}/target.pseudo_tau`, pl.tau, (await g(`step${t}/target.pseudo_tau`))[0]);
      const want16 = await g(`step${t}/target.pseudo_label`); // 256 x 256, nearest x16 of the 16 x 16 label
      const got = await R.read(pl.label);
      const up = new Float32Array(256 * 256).map(
        (_, i) => got[Math.floor(Math.floor(i / 256) / 16) * 16 + Math.floor((i % 256) / 16)],
      );
      close(`step${t}/target.pseudo_label`, up, want16, 0);
    }

    // ---- backward through time
    tape.backward(loss.total, R.upload([1], [1]));
    const report = await checkGrads(R, params, golden, 'cycle', { encoderTol: 1e-3, headTol: 1e-4 });
    console.log(
      `worst relative gradient errors: ${report.worst.map(([k, e]) => `${k} ${e.toExponential(2)}`).join(', ')}`,
    );
    expect(report.failures, report.failures.join('\n')).toEqual([]);
    expect(report.compared).toBe(340);
    tape.dispose();
    for (const [, t] of params) {
      t.grad?.dispose();
      t.grad = null;
      t.requiresGrad = false;
    }
  });
});
