// Parity of the SAM 2.1 image path with the official PyTorch image predictor on the reduced golden
// config (test/fixtures/golden, from ../shared/golden): every recorded intermediate and output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Tensor } from '../../src/graph/tensor.js';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import { ImagePredictor, type ImagePrediction } from '../../src/model/image_predictor.js';
import type { SAM2 } from '../../src/model/sam2.js';
import { readImage } from '../../src/node/image_io.js';
import { compare } from '../helpers/compare.js';
import { GOLDEN, GOLDEN_PROMPTS, goldenFile, goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();

// Tolerances (PyTorch CPU float32 is the reference): activations through the 8 Hiera blocks
// accumulate float32 reassociation differences; 1e-4 relative of the tensor's scale (atol scaled by
// max |ref|) plus rtol 1e-3 per element. Mask logits: 1e-3 absolute as the golden README suggests.
const ACT = { rel: 1e-4 };
const LOGIT_ATOL = 1e-3;

function check(name: string, got: ArrayLike<number>, want: Float32Array, atolAbs?: number) {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  const atol = atolAbs ?? Math.max(ACT.rel * scale, 1e-6);
  const r = compare(got, want, { atol, rtol: 1e-3 });
  if (!r.ok) expect.fail(`${name}: ${r.msg} (scale ${scale.toExponential(2)})`);
  return r;
}

describe.skipIf(!rt)('SAM 2.1 image path vs official PyTorch (reduced golden)', () => {
  let model: SAM2;
  let golden: WeightsFile;
  let pred: ImagePredictor;
  const taps = new Map<string, Promise<Float32Array>>();
  const tap = (prefix: string) => (name: string, t: Tensor) => taps.set(prefix + name, rt!.read(t));

  beforeAll(async () => {
    model = await goldenModel(rt!);
    golden = await goldenFile('image.safetensors');
    pred = new ImagePredictor(rt!, model);
    pred.setImage(readImage(join(GOLDEN, 'image_200x150.png')), tap('image/'));
  });
  afterAll(async () => {
    await golden?.close();
  });

  it('preprocessing, every Hiera block, the FPN and the decoder features', async () => {
    const keys = [...golden.header.keys()].filter((k) => !/^image\/(click|box|noprompt)/.test(k));
    const checked: string[] = [];
    for (const k of keys) {
      const mine = taps.get(k);
      if (!mine) continue;
      check(k, await mine, await golden.readTensor(k));
      checked.push(k);
    }
    // every image-level golden tensor has a tap and was compared
    expect(checked.sort()).toEqual(keys.sort());
  });

  const results = new Map<string, ImagePrediction>();
  for (const [name, prompt] of Object.entries(GOLDEN_PROMPTS)) {
    it(`${name}: prompt encoder, decoder intermediates, outputs`, async () => {
      const caseTaps = new Map<string, Promise<Float32Array>>();
      const res = await pred.predict(prompt, (n, t) => caseTaps.set(n, rt!.read(t)));
      results.set(name, res);
      for (const [n, p] of caseTaps) {
        const key = `image/${name}/${n}`;
        if (!golden.header.has(key)) continue;
        const want = await golden.readTensor(key);
        check(key, await p, want, n.includes('mask_logits') ? LOGIT_ATOL : undefined);
      }
      check(`image/${name}/out.iou`, res.iou, await golden.readTensor(`image/${name}/out.iou`));
      const low = await golden.readTensor(`image/${name}/out.low_res_logits_clamped`);
      const flat = new Float32Array(res.lowRes.length * res.lowRes[0].length);
      res.lowRes.forEach((r, i) => flat.set(r, i * r.length));
      check(`image/${name}/out.low_res_logits_clamped`, flat, low, LOGIT_ATOL);
      const big = await golden.readTensor(`image/${name}/out.mask_logits_orig_res`);
      const flatBig = new Float32Array(res.logits.length * res.logits[0].length);
      res.logits.forEach((r, i) => flatBig.set(r, i * r.length));
      check(`image/${name}/out.mask_logits_orig_res`, flatBig, big, LOGIT_ATOL);
    });
  }

  it('click1_maskin: the best low-res logits of click1 as mask prompt', async () => {
    const c1 = results.get('click1') ?? (await pred.predict(GOLDEN_PROMPTS.click1));
    const caseTaps = new Map<string, Promise<Float32Array>>();
    const res = await pred.predict(
      { points: [{ x: 90, y: 82.5, label: 1 }], maskInput: c1.lowRes[c1.best], multimask: false },
      (n, t) => caseTaps.set(n, rt!.read(t)),
    );
    for (const [n, p] of caseTaps) {
      const key = `image/click1_maskin/${n}`;
      if (golden.header.has(key))
        check(key, await p, await golden.readTensor(key), n.includes('mask_logits') ? LOGIT_ATOL : undefined);
    }
    check('click1_maskin/out.iou', res.iou, await golden.readTensor('image/click1_maskin/out.iou'));
    check(
      'click1_maskin/out.low_res',
      res.lowRes[0],
      await golden.readTensor('image/click1_maskin/out.low_res_logits_clamped'),
      LOGIT_ATOL,
    );
  });
});
