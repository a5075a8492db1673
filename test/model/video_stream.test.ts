// Streaming: frames pushed one at a time each return their masks; GPU memory stays bounded once the
// memory bank (7 frames) and the pointer list (16) are full.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { RgbImage } from '../../src/image/rgb.js';
import { VideoPredictor } from '../../src/model/video_predictor.js';
import { readImage } from '../../src/node/image_io.js';
import { GOLDEN, goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
const N = Number(process.env.STREAM_FRAMES ?? 100);

describe.skipIf(!rt)('streaming video predictor', () => {
  it(`streams ${N} frames with flat GPU memory after the bank is full`, { timeout: 900_000 }, async () => {
    const model = await goldenModel(rt!);
    const imgs: RgbImage[] = Array.from({ length: 9 }, (_, i) => readImage(join(GOLDEN, `video_frame${i}.png`)));
    const pred = new VideoPredictor(rt!, model, {
      numFrames: null,
      width: imgs[0].width,
      height: imgs[0].height,
      frame: async (i) => {
        throw new Error(`frame ${i} is no longer available in a stream`);
      },
    });
    const first = await pred.push(imgs[0]);
    expect(first.results).toEqual([]); // no prompts yet
    const r0 = await pred.addPoints(0, 1, { points: [{ x: 90, y: 82.5, label: 1 }] });
    expect(r0.mask.some((v) => v === 1)).toBe(true);
    const live: number[] = [];
    const held: number[] = [];
    const t0 = performance.now();
    for (let i = 1; i < N; i++) {
      // ping-pong through the 9 golden frames so the content keeps changing
      const k = Math.floor(i / 8) % 2 === 0 ? i % 8 : 8 - (i % 8);
      const { frame, results } = await pred.push(imgs[k]);
      expect(frame).toBe(i);
      expect(results).toHaveLength(1);
      expect(results[0].mask.length).toBe(imgs[0].width * imgs[0].height);
      await rt!.sync();
      live.push(rt!.pool.liveBytes);
      held.push(rt!.pool.liveBytes + rt!.pool.cachedBytes);
    }
    // after 20 frames (bank and pointers full) live bytes must not grow any more
    const after = live.slice(20);
    expect(Math.max(...after)).toBeLessThanOrEqual(after[0]);
    const heldAfter = held.slice(20);
    expect(Math.max(...heldAfter)).toBeLessThanOrEqual(heldAfter[0] * 1.05);
    console.log(
      `stream: ${((performance.now() - t0) / (N - 1)).toFixed(0)} ms/frame; live bytes frame 20 ${after[0]}, max after ${Math.max(...after)}; pool held ${heldAfter[0]} -> ${heldAfter[heldAfter.length - 1]}`,
    );
    pred.reset();
  });
});
