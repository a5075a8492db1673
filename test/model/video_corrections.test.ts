// SAM 2's interaction state machine in VideoPredictor (add_new_points_or_box with
// add_all_frames_to_correct_as_cond = False, as SAM 2.1 and RobotSeg ship it), which RobotSeg's 3C
// and OI evaluation settings rely on:
//   - clicks on a frame propagation has not visited are initial conditioning clicks: several rounds
//     on the same frame before propagating (3C) use no memory;
//   - clicks on a tracked frame correct it with memory and stay a NON-conditioning output, invisible
//     to the frames that follow until preflight() (a rejected OI correction is never flushed);
//   - after preflight() the corrected frame's memory is re-encoded from the corrected mask;
//   - a correction on a conditioning frame is dropped by preflight() (SAM 2 pops it).
// Equalities are exact: the same GPU computations on the same adapter give the same bits.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/image/rgb.js';
import type { SAM2 } from '../../src/model/sam2.js';
import { type FrameSource, VideoPredictor } from '../../src/model/video_predictor.js';
import { readImage } from '../../src/node/image_io.js';
import { GOLDEN, goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
const imgs: RgbImage[] = Array.from({ length: 3 }, (_, i) => readImage(join(GOLDEN, `video_frame${i}.png`)));
const source: FrameSource = { numFrames: 3, width: imgs[0].width, height: imgs[0].height, frame: async (i) => imgs[i] };
const CLICK = { x: 90, y: 82.5, label: 1 };

/** Propagate frames 0..2 after a click on frame 0; `onFrame` may interact while the pass is paused. */
async function run(
  model: SAM2,
  onFrame?: (p: VideoPredictor, frame: number) => Promise<void>,
): Promise<{ logits: Float32Array[]; pred: VideoPredictor }> {
  const pred = new VideoPredictor(rt!, model, source);
  await pred.addPoints(0, 1, { points: [CLICK] });
  const logits: Float32Array[] = [];
  for await (const { frame, results } of pred.propagate()) {
    logits.push(results[0].logits);
    await onFrame?.(pred, frame);
  }
  return { logits, pred };
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

describe.skipIf(!rt)('video predictor: clicks on prompted and tracked frames (SAM 2 semantics)', () => {
  it('three rounds of clicks on an untracked frame (3C) use no memory and stay pending conditioning', {
    timeout: 120_000,
  }, async () => {
    const model = await goldenModel(rt!);
    const p = new VideoPredictor(rt!, model, source);
    const r1 = await p.addPoints(0, 1, { points: [CLICK] });
    expect(p.frameState(1, 0)).toBe('pending-cond');
    // the former predictor treated round 2 as a tracked frame and failed on its own un-encoded memory
    const r2 = await p.addPoints(0, 1, { points: [CLICK, { x: 150, y: 40, label: 0 }], clearOld: true });
    const r3 = await p.addPoints(0, 1, { points: [CLICK], clearOld: true });
    expect(p.frameState(1, 0)).toBe('pending-cond');
    expect(same(r1.logits, r2.logits)).toBe(false);
    // round 3 repeats round 1's click with round 2's logits as the mask prompt: a different result
    expect(same(r1.logits, r3.logits)).toBe(false);
    p.reset();
  });

  it('a correction on a tracked frame stays non-conditioning and is seen only after preflight()', {
    timeout: 240_000,
  }, async () => {
    const model = await goldenModel(rt!);
    const ref = await run(model);
    ref.pred.reset();
    const fix = { points: [CLICK, { x: 60, y: 70, label: 0 }], clearOld: true };

    // correction on frame 1 without preflight (an OI correction that was rejected): frame 2 unchanged
    let corrected: Float32Array | null = null;
    const rejected = await run(model, async (p, f) => {
      if (f !== 1) return;
      corrected = (await p.addPoints(1, 1, fix)).logits;
      expect(p.frameState(1, 1)).toBe('pending-non-cond');
    });
    expect(corrected).not.toBeNull();
    expect(same(corrected!, ref.logits[1])).toBe(false);
    expect(same(rejected.logits[2], ref.logits[2])).toBe(true);
    rejected.pred.reset();

    // the same correction accepted (preflight re-encodes its memory): frame 2 changes, frame 1 stays non-cond
    const accepted = await run(model, async (p, f) => {
      if (f !== 1) return;
      const again = (await p.addPoints(1, 1, fix)).logits;
      expect(same(again, corrected!)).toBe(true);
      await p.preflight();
      expect(p.frameState(1, 1)).toBe('non-cond');
      expect(p.frameState(1, 0)).toBe('cond');
    });
    expect(same(accepted.logits[2], ref.logits[2])).toBe(false);
    accepted.pred.reset();

    // a correction on the conditioning frame 0 is dropped by preflight (SAM 2 pops the non-cond copy)
    const onCond = await run(model, async (p, f) => {
      if (f !== 0) return;
      const r = await p.addPoints(0, 1, fix);
      expect(same(r.logits, ref.logits[0])).toBe(false);
      expect(p.frameState(1, 0)).toBe('pending-non-cond');
      await p.preflight();
      expect(p.frameState(1, 0)).toBe('cond');
    });
    expect(same(onCond.logits[1], ref.logits[1])).toBe(true);
    expect(same(onCond.logits[2], ref.logits[2])).toBe(true);
    onCond.pred.reset();
  });

  it("streaming: a correction on the current frame becomes that frame's memory at the next push", {
    timeout: 120_000,
  }, async () => {
    const model = await goldenModel(rt!);
    const p = new VideoPredictor(rt!, model, {
      numFrames: null,
      width: source.width,
      height: source.height,
      frame: async () => {
        throw new Error('gone');
      },
    });
    await p.push(imgs[0]);
    await p.addPoints(0, 1, { points: [CLICK] });
    await p.push(imgs[1]);
    await p.addPoints(1, 1, { points: [{ x: 60, y: 70, label: 0 }] });
    expect(p.frameState(1, 1)).toBe('pending-non-cond');
    const { results } = await p.push(imgs[2]);
    expect(results).toHaveLength(1);
    expect(p.frameState(1, 1)).toBe('non-cond');
    p.reset();
  });
});
