// SAM 2's image training step against PyTorch autograd (../shared/golden/grad case 1, copied to
// test/fixtures/grad): image path forward with the tape on (Hiera, FPN, prompt encoder, two-way
// decoder, heads), SAM 2.1's multimask loss on the GPU (focal x20 + dice + IoU MSE + object BCE, the
// candidate with the lowest 20 focal + dice supervised), backward through everything.
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { slice } from '../../src/kernels/layout.js';
import { imageForward } from '../../src/train/image_forward.js';
import { multimaskLoss } from '../../src/train/losses.js';
import { checkGrads, trainableParams } from '../helpers/grad.js';
import { gradGoldenFixture } from '../helpers/grad_fixture.js';
import { testRuntime } from '../helpers/gpu.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();

describe.skipIf(!rt)('image path backward vs PyTorch autograd (golden grad case 1)', () => {
  const fx = gradGoldenFixture(rt, 'image_loss.safetensors', 'image.safetensors');

  it('loss terms and every parameter gradient (231 tensors, and the exactly-zero ones)', async () => {
    const { model, golden, input: img } = fx;
    const R = rt!;
    const params = trainableParams(model);
    for (const [, t] of params) t.requiresGrad = true;
    const x = R.upload(await img.readTensor('image/input_image'), [1, 3, 256, 256], 'f32', 'input_image');
    const coords = await golden.readTensor('input.point_coords'); // network pixels [1, 1, 2]
    const tape = new Tape(R, TAPE_OPS);
    R.tape = tape;
    let out: ReturnType<typeof imageForward>;
    try {
      out = imageForward(R, model, x, { coords: Float32Array.from(coords), labels: Int32Array.from([1]) });
    } finally {
      R.tape = null;
    }
    const [masks, _iou, _obj] = await Promise.all([R.read(out.masks), R.read(out.iou), R.read(out.objectScore)]);
    // forward agrees with the golden before we look at gradients
    const wantAll = await golden.readTensor('out.all_mask_logits');
    let maxd = 0;
    for (let i = 0; i < masks.length; i++) maxd = Math.max(maxd, Math.abs(masks[i] - wantAll[i]));
    expect(maxd).toBeLessThan(1e-3);
    const target = R.upload(await golden.readTensor('target.mask_lowres'), [1, 1, 64, 64], 'f32', 'target');
    R.tape = tape;
    const multi = slice(R, out.masks, [0, 1, 0, 0], [1, 3, 64, 64]); // tokens 1..3
    const ious = slice(R, out.iou, [0, 1], [1, 3]);
    const loss = await multimaskLoss(R, multi, ious, out.objectScore, target, {
      weights: { focal: 20, dice: 1, iou: 1, class: 1 },
      iouLoss: 'mse',
    });
    R.tape = null;
    expect(loss.selected).toBe((await golden.readTensor('loss.selected_index'))[0]);
    // losses: 1e-5 relative (golden README)
    for (const [name, t] of [
      ['loss.mask_focal', loss.focal],
      ['loss.dice', loss.dice],
      ['loss.iou_mse', loss.iou],
      ['loss.class_bce', loss.cls],
      ['loss.total', loss.total],
    ] as const) {
      const want = (await golden.readTensor(name))[0];
      const got = (await R.read(t))[0];
      expect(Math.abs(got - want), `${name}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-5 * Math.abs(want));
    }
    const seed = R.upload([1], [1]);
    tape.backward(loss.total, seed);
    const report = await checkGrads(R, params, golden, 'image', { encoderTol: 1e-3, headTol: 1e-4 });
    console.log(
      `worst relative gradient errors: ${report.worst.map(([k, e]) => `${k} ${e.toExponential(2)}`).join(', ')}`,
    );
    expect(report.failures, report.failures.join('\n')).toEqual([]);
    expect(report.compared).toBe(231);
    tape.dispose();
    for (const [, t] of params) {
      t.grad?.dispose();
      t.grad = null;
      t.requiresGrad = false;
    }
  });
});
