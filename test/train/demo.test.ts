// The label-efficient training demonstration (docs/train.md): fine-tune the reduced SAM 2.1 model (golden
// random weights) on the RoboEngine clip (test/fixtures/train_clip: the first 16 frames of
// ../shared/data/roboengine/video_clip at 240x136) from its FIRST-frame robot mask only, 20 steps of
// 5-step cycle clips with the image encoder frozen and its features cached. Training lowers the loss
// of a fixed evaluation clip and raises J&F of video object segmentation on the 10 following frames
// (first-frame mask prompt, as in semi-supervised VOS), scored against masks training never read.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/graph/runtime.js';
import { boundPix, boundaryF, countsFromBinary, jaccard } from '../../src/eval/jf.js';
import type { SAM2 } from '../../src/model/sam2.js';
import { VideoPredictor } from '../../src/model/video_predictor.js';
import { readImage, readMask } from '../../src/node/image_io.js';
import { readTrainDataset } from '../../src/node/train_data.js';
import { Trainer } from '../../src/train/trainer.js';
import { ROOT } from '../helpers/cli.js';
import { goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
const CLIP = join(ROOT, 'test', 'fixtures', 'train_clip');
const name = (i: number) => String(i).padStart(5, '0');
const EVAL_FRAMES = 11; // frame 0 (prompt) + 10 scored frames

/** Track frames 0..10 from the frame-0 mask; mean J, F and J&F over frames 1..10. */
async function vosScore(r: Runtime, model: SAM2): Promise<{ J: number; F: number; JF: number }> {
  const imgs = Array.from({ length: EVAL_FRAMES }, (_, i) =>
    readImage(join(CLIP, 'JPEGImages', 'clip', `${name(i)}.jpg`)),
  );
  const gts = Array.from({ length: EVAL_FRAMES }, (_, i) =>
    readMask(join(CLIP, 'Annotations', 'clip', '002', `${name(i)}.png`)),
  );
  const { width, height } = imgs[0];
  const pred = new VideoPredictor(r, model, { numFrames: EVAL_FRAMES, width, height, frame: async (i) => imgs[i] });
  await pred.addMask(0, 1, gts[0].data);
  let J = 0,
    F = 0,
    n = 0;
  for await (const { frame, results } of pred.propagate()) {
    if (frame === 0) continue;
    const c = countsFromBinary(results[0].mask, gts[frame].data, height, width, boundPix(height, width));
    J += jaccard(c);
    F += boundaryF(c);
    n++;
  }
  pred.reset();
  expect(n).toBe(EVAL_FRAMES - 1);
  return { J: J / n, F: F / n, JF: (J + F) / (2 * n) };
}

describe.skipIf(!rt)('label-efficient training demonstration (first-frame mask only)', () => {
  it('20 steps lower the loss and raise J&F on the next 10 frames', async () => {
    const model = await goldenModel(rt!);
    const data = readTrainDataset(CLIP, 'robot');
    expect(data.videos[0].anchor).toBe(0); // the only mask training reads: frame 0
    const trainer = new Trainer(
      rt!,
      model,
      data.videos,
      { image: async (p) => readImage(p), mask: async (p) => readMask(p) },
      {
        steps: 20,
        clipLength: 5,
        freeze: ['image_encoder'],
        promptMode: 'mask',
        seed: 2026,
        // random-initialised heads learn fast enough at 1e-2 in 20 steps; RobotSeg's 3e-4 fine-tunes a pretrained model
        optim: { lr: 1e-2, lrEncoder: 6e-5, weightDecay: 0.1, layerDecay: 0.9 },
      },
    );
    const evalClip = [0, 3, 6, 3, 0];
    const lossBefore = (await trainer.clipLoss(data.videos[0], evalClip, 'mask')).loss.total;
    const before = await vosScore(rt!, model);
    const losses: number[] = [];
    for (let s = 0; s < 20; s++) {
      const log = await trainer.trainStep();
      expect(Number.isFinite(log.loss.total) && Number.isFinite(log.gradNorm)).toBe(true);
      losses.push(log.loss.total);
    }
    const lossAfter = (await trainer.clipLoss(data.videos[0], evalClip, 'mask')).loss.total;
    const after = await vosScore(rt!, model);
    console.log(
      `fixed-clip loss ${lossBefore.toFixed(4)} -> ${lossAfter.toFixed(4)}; training losses ${losses.map((l) => l.toFixed(2)).join(' ')}; ` +
        `J ${before.J.toFixed(3)} -> ${after.J.toFixed(3)}, F ${before.F.toFixed(3)} -> ${after.F.toFixed(3)}, J&F ${before.JF.toFixed(3)} -> ${after.JF.toFixed(3)}`,
    );
    // measured on lavapipe: loss 5.01 -> 2.23, J&F 0.203 -> 0.254 (J 0.092 -> 0.232)
    expect(lossAfter).toBeLessThan(0.8 * lossBefore);
    expect(after.JF).toBeGreaterThan(before.JF + 0.02);
    expect(after.J).toBeGreaterThan(before.J);
    trainer.dispose();
  }, 600_000);
});
