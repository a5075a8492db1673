// Backward of the whole image path (Hiera, FPN, prompt encoder, two-way decoder, heads) against
// PyTorch autograd: ../shared/golden/grad case 1 (copied to test/fixtures/grad). The forward runs
// with the tape on; the gradient of SAM 2's multimask loss w.r.t. the decoder outputs is formed on
// the CPU in float64 (this file, below) and seeded into the tape, so this test isolates the model's
// backward kernels from the loss kernels (tested on their own and end to end in image_loss.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import type { Tensor } from '../../src/graph/tensor.js';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import { add, mul } from '../../src/kernels/elementwise.js';
import { reduce } from '../../src/kernels/reduce.js';
import type { SAM2 } from '../../src/model/sam2.js';
import { imageForward } from '../../src/train/image_forward.js';
import { goldenFile, goldenModel } from '../helpers/golden.js';
import { checkGrads, openGradGolden, trainableParams } from '../helpers/grad.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();

/** d(total)/d(outputs) of SAM 2's multimask loss (golden README, case 1), float64. */
function multimaskLossSeed(masks: Float32Array, iou: Float32Array, obj: number, target: Float32Array, hw: number, wFocal: number) {
  const M = masks.length / hw;
  const focal: number[] = [];
  const dice: number[] = [];
  const actual: number[] = [];
  for (let k = 1; k < M; k++) {
    let f = 0, spt = 0, sp = 0, st = 0, inter = 0, uni = 0;
    for (let n = 0; n < hw; n++) {
      const x = masks[k * hw + n];
      const t = target[n];
      const p = 1 / (1 + Math.exp(-x));
      const ce = Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
      const pt = p * t + (1 - p) * (1 - t);
      f += (0.25 * t + 0.75 * (1 - t)) * ce * (1 - pt) ** 2;
      spt += p * t; sp += p; st += t;
      if (x > 0 && t > 0) inter++;
      if (x > 0 || t > 0) uni++;
    }
    focal.push(f / hw);
    dice.push(1 - (2 * spt + 1) / (sp + st + 1));
    actual.push(inter / Math.max(uni, 1));
  }
  const combo = focal.map((f, i) => wFocal * f + dice[i]);
  const ks = combo.indexOf(Math.min(...combo)); // among multimask outputs (token ks + 1)
  const dMasks = new Float32Array(masks.length);
  let spt = 0, sp = 0, st = 0;
  const k = ks + 1;
  for (let n = 0; n < hw; n++) {
    const p = 1 / (1 + Math.exp(-masks[k * hw + n]));
    spt += p * target[n]; sp += p; st += target[n];
  }
  const A = 2 * spt + 1, B = sp + st + 1;
  for (let n = 0; n < hw; n++) {
    const x = masks[k * hw + n];
    const t = target[n];
    const p = 1 / (1 + Math.exp(-x));
    const ce = Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
    const pt = p * t + (1 - p) * (1 - t);
    const at = 0.25 * t + 0.75 * (1 - t);
    const dpt = (2 * t - 1) * p * (1 - p);
    const dFocal = at * ((p - t) * (1 - pt) ** 2 + ce * -2 * (1 - pt) * dpt) / hw;
    const dDice = (-(2 * t * B - A) / (B * B)) * p * (1 - p);
    dMasks[k * hw + n] = wFocal * dFocal + dDice;
  }
  const dIou = new Float32Array(M);
  dIou[k] = 2 * (iou[k] - actual[ks]);
  const dObj = Float32Array.from([1 / (1 + Math.exp(-obj)) - 1]);
  const total = combo[ks] + (iou[k] - actual[ks]) ** 2 + (Math.max(obj, 0) - obj + Math.log1p(Math.exp(-Math.abs(obj))));
  return { dMasks, dIou, dObj, selected: ks, focal, dice, actual, total };
}

describe.skipIf(!rt)('image path backward vs PyTorch autograd (golden grad case 1)', () => {
  let model: SAM2;
  let golden: WeightsFile;
  let img: WeightsFile;
  beforeAll(async () => {
    model = await goldenModel(rt!);
    golden = await openGradGolden('image_loss.safetensors');
    img = await goldenFile('image.safetensors');
  });
  afterAll(async () => { await golden?.close(); await img?.close(); });

  it('every parameter gradient (234 tensors), the zero ones and the decoder-input gradients', async () => {
    const R = rt!;
    const params = trainableParams(model);
    for (const [, t] of params) t.requiresGrad = true;
    const x = R.upload(await img.readTensor('image/input_image'), [1, 3, 256, 256], 'f32', 'input_image');
    const coords = await golden.readTensor('input.point_coords'); // network pixels [1, 1, 2]
    const tape = new Tape(R);
    R.tape = tape;
    let out: ReturnType<typeof imageForward>;
    try {
      out = imageForward(R, model, x, { coords: Float32Array.from(coords), labels: Int32Array.from([1]) });
    } finally {
      R.tape = null;
    }
    const [masks, iou, obj] = await Promise.all([R.read(out.masks), R.read(out.iou), R.read(out.objectScore)]);
    // forward agrees with the golden before we look at gradients
    const wantAll = await golden.readTensor('out.all_mask_logits');
    let maxd = 0;
    for (let i = 0; i < masks.length; i++) maxd = Math.max(maxd, Math.abs(masks[i] - wantAll[i]));
    expect(maxd).toBeLessThan(1e-3);
    const target = await golden.readTensor('target.mask_lowres');
    const seed = multimaskLossSeed(masks, iou, obj[0], target, 64 * 64, 20);
    expect(seed.selected).toBe((await golden.readTensor('loss.selected_index'))[0]);
    expect(Math.abs(seed.total - (await golden.readTensor('loss.total'))[0])).toBeLessThan(1e-4);
    // scalar = Σ masks·dMasks + Σ iou·dIou + obj·dObj, so d(scalar)/d(outputs) = the seeds
    const dot = (t: Tensor, d: Float32Array) => reduce(R, mul(R, t.reshape([d.length]), R.upload(d, [d.length])), 'sum', 0, 1, true);
    R.tape = tape;
    const scalar = add(R, add(R, dot(out.masks, seed.dMasks), dot(out.iou, seed.dIou)), dot(out.objectScore, seed.dObj));
    R.tape = null;
    tape.backward(scalar, R.upload([1], [1]), add);
    const report = await checkGrads(R, params, golden, 'image', { encoderTol: 1e-3, headTol: 1e-4 });
    console.log(`worst relative gradient errors: ${report.worst.map(([k, e]) => `${k} ${e.toExponential(2)}`).join(", ")}`);
    expect(report.failures, report.failures.join('\n')).toEqual([]);
    expect(report.compared).toBe(231);
    tape.dispose();
    for (const [, t] of params) { t.grad?.dispose(); t.grad = null; t.requiresGrad = false; }
  });
});
