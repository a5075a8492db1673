// FULL=1 (opt-in, ~10 minutes on lavapipe): the video path at the real sam2.1_hiera_t size (1024 px,
// 64x64 tokens, C 256, memory dim 64) with seeded random weights in the official layout: a click on
// frame 0, then frame 1 tracked through memory attention, the decoder and the memory encoder.
// Checks shapes, finite values and the memory layout (1 conditioning memory + 1 pointer -> 4096 + 4
// memory tokens). Parity at this size is covered per block by test/model/full_size.test.ts and by
// the reduced-config goldens, which run the same code.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Tensor } from '../../src/graph/tensor.js';
import { uploadWeights } from '../../src/graph/weights.js';
import { SAM21_HIERA_T } from '../../src/model/config.js';
import { SAM2 } from '../../src/model/sam2.js';
import { VideoPredictor } from '../../src/model/video_predictor.js';
import { readImage } from '../../src/node/image_io.js';
import { testRuntime } from '../helpers/gpu.js';
import { randomWeightsFile } from '../helpers/random_weights.js';

const rt = await testRuntime();
const FIX = join(import.meta.dirname, '..', 'fixtures');

describe.skipIf(!rt || process.env.FULL !== '1')(
  'FULL=1: two video frames at 1024 px with random sam2.1_hiera_t weights',
  () => {
    it('tracks frame 1 from a click on frame 0', { timeout: 3_600_000 }, async () => {
      const file = randomWeightsFile(SAM21_HIERA_T, 0);
      const store = await uploadWeights(rt!, file);
      const model = new SAM2(SAM21_HIERA_T);
      await model.load(rt!, store);
      const frames = [0, 1].map((i) => readImage(join(FIX, 'video_clip', `0000${i}.jpg`)));
      const shapes = new Map<string, number[]>();
      const pred = new VideoPredictor(
        rt!,
        model,
        { numFrames: 2, width: frames[0].width, height: frames[0].height, frame: async (i) => frames[i] },
        {
          tap: (f: number, name: string, t: Tensor) => {
            shapes.set(`${f}/${name}`, [...t.shape]);
          },
        },
      );
      const t0 = performance.now();
      const r0 = await pred.addPoints(0, 1, {
        points: [{ x: frames[0].width / 2, y: frames[0].height / 2, label: 1 }],
      });
      expect(r0.logits.every(Number.isFinite)).toBe(true);
      const out: number[] = [];
      for await (const { frame, results } of pred.propagate()) {
        out.push(frame);
        expect(results[0].mask.length).toBe(frames[0].width * frames[0].height);
        expect(results[0].logits.every(Number.isFinite)).toBe(true);
        expect(Number.isFinite(results[0].objectScore)).toBe(true);
      }
      console.log(`full-size 2-frame track: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      expect(out).toEqual([0, 1]);
      expect(shapes.get('1/memattn.memory_NxBxC')).toEqual([1, 4096 + 4, 64]);
      expect(shapes.get('1/memattn.out_HWxBxC')).toEqual([1, 4096, 256]);
      expect(shapes.get('1/memenc.maskmem_features_bf16_as_f32')).toEqual([1, 64, 64, 64]);
      pred.reset();
      store.destroy();
    });
  },
);
