// Training-step benchmarks (rows carry `stage: 'train_step'`): one optimiser step = sample a cycle clip
// of the fixture video (test/fixtures/train_clip), track it in training mode with the tape on,
// RobotSeg's losses, backward through time, global-norm clip, AdamW — everything on the GPU, with the
// host reading back the few scalars training decides on (best mask, supervised candidate).
//   * frozen_encoder: image encoder frozen, its FPN levels cached per frame (what small GPUs use);
//   * full: every parameter trains (3-4 image-encoder passes forward and backward per clip).
// Reduced golden config at 256 px (downscaled); --full: SAM 2.1 tiny at 1024 px with random weights in
// the official layout (a real GPU). `ms` is GPU time when the adapter has timestamps; `wallMs` is
// the step as a user waits for it. `peakBytes`: the buffer pool's high-water mark during the step
// (activations kept for backward + gradients + AdamW moments; the weight arenas are extra).
// Correctness before timing: the training-mode forward and loss of the golden cycle clip
// (golden/grad case 2) must reproduce PyTorch's total loss within 1e-5 relative.
import { readFileSync } from 'node:fs';
import type { Runtime } from '../src/graph/runtime.js';
import { uploadWeights } from '../src/graph/weights.js';
import { parseConfig, SAM21_HIERA_T } from '../src/model/config.js';
import { SAM2 } from '../src/model/sam2.js';
import { readImage, readMask } from '../src/node/image_io.js';
import { readTrainDataset } from '../src/node/train_data.js';
import { openWeights } from '../src/node/weights_file.js';
import { cycleLoss } from '../src/train/cycle_loss.js';
import { Trainer } from '../src/train/trainer.js';
import { runGoldenCycle } from '../test/helpers/grad.js';
import { randomWeightsFile } from '../test/helpers/random_weights.js';
import { fixture } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

async function goldenModel(rt: Runtime): Promise<SAM2> {
  const file = await openWeights(fixture('golden', 'weights.safetensors'));
  const store = await uploadWeights(rt, file);
  await file.close();
  const model = new SAM2(parseConfig(readFileSync(fixture('golden', 'config.json'), 'utf8')));
  await model.load(rt, store);
  return model;
}

/** The golden cycle clip's total loss (forward only) vs PyTorch: 1e-5 relative. */
async function goldenLossOk(rt: Runtime, model: SAM2): Promise<boolean> {
  const g = await openWeights(fixture('grad', 'cycle_loss.safetensors'));
  const v = await openWeights(fixture('golden', 'video.safetensors'));
  try {
    return await rt.scopeAsync(async () => {
      const { frames, steps } = await runGoldenCycle(rt, model, g, v);
      const g0 = rt.upload(await g.readTensor('target.G0'), [1, 1, 256, 256]);
      const pseudo = new Map<number, ReturnType<typeof rt.upload>>();
      for (const t of [1, 2, 3])
        pseudo.set(t, rt.upload(await g.readTensor(`step${t}/target.pseudo_label`), [1, 1, 256, 256]));
      const loss = await cycleLoss(rt, steps, frames, g0, (t) => pseudo.get(t)!);
      const got = (await rt.read(loss.total))[0];
      const want = (await g.readTensor('loss.total'))[0];
      const ok = Math.abs(got - want) <= 1e-5 * Math.abs(want);
      if (!ok) process.stderr.write(`bench: train golden cycle loss ${got} vs PyTorch ${want}\n`);
      return ok;
    });
  } finally {
    await g.close();
    await v.close();
  }
}

function trainStep(impl: string, freeze: string[]): BenchCase {
  return {
    kernel: 'train',
    impl,
    async setup(rt, { full }): Promise<BenchRun> {
      let model: SAM2;
      if (full) {
        model = new SAM2(SAM21_HIERA_T);
        await model.load(rt, await uploadWeights(rt, randomWeightsFile(SAM21_HIERA_T, 7)));
      } else model = await goldenModel(rt);
      const ok = full ? true : await goldenLossOk(rt, model);
      const data = readTrainDataset(fixture('train_clip'), 'robot');
      const trainer = new Trainer(
        rt,
        model,
        data.videos,
        { image: async (p) => readImage(p), mask: async (p) => readMask(p) },
        {
          steps: 1000,
          clipLength: 7,
          freeze,
          promptMode: 'box',
          seed: 1,
        },
      );
      const nParams = trainer.params.reduce((a, p) => a + p.tensor.size, 0);
      let last: Awaited<ReturnType<Trainer['trainStep']>> | null = null;
      let peak = 0;
      return {
        shape: `${model.cfg.name} ${model.cfg.image_size} px, 7-step cycle clip, ${(nParams / 1e6).toFixed(2)}M trained values${freeze.length ? ` (frozen: ${freeze.join(', ')})` : ''}`,
        stage: 'train_step',
        downscaled: !full,
        async run() {
          last = await trainer.trainStep();
          peak = Math.max(peak, last.peakBytes);
        },
        async check() {
          return ok && last !== null && Number.isFinite(last.loss.total) && Number.isFinite(last.gradNorm);
        },
        extra: () => ({
          peakBytes: peak,
          loss: last?.loss.total,
          note: `peak pool ${(peak / 2 ** 20).toFixed(1)} MiB per step`,
        }),
        dispose() {
          trainer.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [trainStep('frozen_encoder', ['image_encoder']), trainStep('full', [])];
