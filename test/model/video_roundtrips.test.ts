// Host round trips of a tracked frame (issues 16.2 / 17.2): the choices (best IoU, object present)
// are made on the GPU, so a streamed frame has ONE readback (its results, with the scores), and the
// only uploads are the frame image and the pointer temporal encoding (sine of the distance to the
// conditioning frame, which changes every frame), plus the key mask while objects added later have
// banks of another structure. Counted with Runtime.counters and the labels of
// Runtime.write; one object, then three objects as one batch (video_parity's video_noobj case covers
// an absent object through the same GPU path, bit for bit against PyTorch's NO_OBJ_SCORE outputs).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/graph/tensor.js';
import { NO_OBJ_SCORE } from '../../src/model/tracker.js';
import { VideoPredictor } from '../../src/model/video_predictor.js';
import { readImage } from '../../src/node/image_io.js';
import { GOLDEN, goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();

describe.skipIf(!rt)('tracked frame round trips', () => {
  it('one readback and only the image / pointer-encoding uploads per tracked frame', { timeout: 600_000 }, async () => {
    const R = rt!;
    const model = await goldenModel(R);
    const imgs = Array.from({ length: 3 }, (_, i) => readImage(join(GOLDEN, `video_frame${i}.png`)));
    const pred = new VideoPredictor(R, model, {
      numFrames: null,
      width: imgs[0].width,
      height: imgs[0].height,
      frame: async (i) => {
        throw new Error(`frame ${i} is gone`);
      },
    });
    await pred.push(imgs[0]);
    await pred.addPoints(0, 1, { points: [{ x: 90, y: 82.5, label: 1 }] });
    const labels: string[] = [];
    const write = R.write.bind(R);
    R.write = (t: Tensor, data) => {
      labels.push(t.label);
      write(t, data);
    };
    try {
      let current = 0;
      for (const objects of [1, 3]) {
        if (objects === 3) {
          // two more objects clicked on the current frame of the stream
          await pred.addPoints(current, 2, { points: [{ x: 60, y: 40, label: 1 }] });
          await pred.addPoints(current, 3, { points: [{ x: 150, y: 60, label: 1 }] });
        }
        for (let k = 1; k <= 4; k++) {
          labels.length = 0;
          const c0 = R.counters();
          const { frame, results } = await pred.push(imgs[k % 3]);
          current = frame;
          const c1 = R.counters();
          expect(results).toHaveLength(objects);
          expect(c1.readbacks - c0.readbacks, `readbacks, ${objects} objects, frame ${k}`).toBe(1);
          // after the first tracked frame (runtime constants are built once: RoPE, memory PE, ...)
          // objects added later have banks of another structure for a while (tracker.ts): their padded
          // batch uploads its key mask, and each distinct memory layout its pointer encoding
          const padded = ['image', 'image_band', 'ptr_tpos', ...(objects > 1 ? ['memory_key_mask'] : [])];
          if (k > 1) {
            expect(labels.filter((l) => !padded.includes(l))).toEqual([]);
            expect(labels.filter((l) => l === 'ptr_tpos').length).toBeLessThanOrEqual(objects);
            expect(labels.filter((l) => l === 'memory_key_mask').length).toBeLessThanOrEqual(1);
          }
          for (const r of results) {
            expect(Number.isFinite(r.objectScore)).toBe(true);
            expect(r.iou).toBeGreaterThan(-1);
            // absent objects come back with the NO_OBJ_SCORE logits, present ones with some foreground
            if (r.objectScore <= 0) expect(r.lowRes.every((v) => v === NO_OBJ_SCORE)).toBe(true);
          }
        }
      }
    } finally {
      R.write = write;
      pred.reset();
    }
  });
});
