// Several objects tracked as one batch (memory attention, decoder, memory encoder once per frame)
// give the same results as one object at a time (VideoPredictorOptions.batchObjects = false), also
// when their memory banks differ (an object added on a later frame, an object with two conditioning
// frames: padded memory with a key mask), and for RobotSeg objects (SEMA with the frame's edge grid
// shared, per-object RPG tokens, decoder groups by token count, a plain object among them).
//
// Tolerance: masks identical; logits (video size and low-res) and object scores within 1e-5 absolute.
// On the software attention variant (lavapipe, CI) batched results are bit-identical (max difference
// 0, printed); on the tiled GPU variant padding may move the key-block boundaries of the online
// softmax, which changes only the summation order. A mask pixel may then differ only where
// |logit| <= 1e-5, which the mask comparison allows.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { RgbImage } from '../../src/image/rgb.js';
import type { SAM2 } from '../../src/model/sam2.js';
import {
  type FrameResult,
  type FrameSource,
  type TrackStage,
  VideoPredictor,
} from '../../src/model/video_predictor.js';
import { readImage } from '../../src/node/image_io.js';
import { GOLDEN, goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { robotsegGoldenModel } from '../helpers/robotseg.js';

const rt = await testRuntime();
const TOL = 1e-5;
const live = (w: number, h: number): FrameSource => ({
  numFrames: null,
  width: w,
  height: h,
  frame: async (i) => {
    throw new Error(`frame ${i} is gone`);
  },
});

interface StageCount {
  frame: number;
  stage: TrackStage;
  batch: number;
  dispatches: number;
}
/** A memory-attention batch: its size, memory tokens per object and dropped (padding) tokens per object. */
interface Layout {
  frame: number;
  batch: number;
  tokens: number;
  dropped: Promise<number[]>;
}
/** Every call's results in call order (prompts, pushes, propagated frames), dispatches per stage, batches. */
interface Run {
  results: FrameResult[][];
  stages: StageCount[];
  layouts: Layout[];
}

/** Runs a script on a fresh predictor; records results and the dispatches of each tracked-frame stage. */
async function record(
  model: SAM2,
  source: FrameSource,
  batchObjects: boolean,
  script: (p: VideoPredictor, out: FrameResult[][]) => Promise<void>,
): Promise<Run> {
  const stages: StageCount[] = [];
  let last = rt!.dispatches;
  const pred = new VideoPredictor(rt!, model, source, {
    batchObjects,
    onStage: (frame, stage, ids) => {
      stages.push({ frame, stage, batch: ids.length, dispatches: rt!.dispatches - last });
      last = rt!.dispatches;
    },
  });
  // the memory layouts (the read is queued at once: it adds submits, not dispatches)
  const layouts: Layout[] = [];
  const assemble = pred.tracker.assembleBatch.bind(pred.tracker);
  pred.tracker.assembleBatch = (t, f, banks, numFrames, reverse, tap) => {
    const a = assemble(t, f, banks, numFrames, reverse, tap);
    const [B, M] = a.memory.shape;
    const dropped = a.keyMask
      ? rt!
          .read(a.keyMask)
          .then((m) =>
            Array.from({ length: B }, (_, b) => m.subarray(b * M, (b + 1) * M).filter((v) => v === -Infinity).length),
          )
      : Promise.resolve(new Array(B).fill(0));
    layouts.push({ frame: t, batch: B, tokens: M, dropped });
    return a;
  };
  const results: FrameResult[][] = [];
  await script(pred, results);
  pred.reset();
  return { results, stages, layouts };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Batched vs per-object: same objects per call, same masks, logits within TOL; returns the max difference. */
function compareRuns(batched: Run, single: Run): number {
  let worst = 0;
  expect(batched.results.length).toBe(single.results.length);
  batched.results.forEach((rb, call) => {
    const rs = single.results[call];
    expect(
      rb.map((r) => r.objId),
      `call ${call}: objects`,
    ).toEqual(rs.map((r) => r.objId));
    rb.forEach((b, i) => {
      const s = rs[i];
      const what = `call ${call} object ${b.objId}`;
      const dl = maxDiff(b.logits, s.logits);
      const dlow = maxDiff(b.lowRes, s.lowRes);
      worst = Math.max(worst, dl, dlow, Math.abs(b.objectScore - s.objectScore));
      expect(dl, `${what}: video-size logits`).toBeLessThanOrEqual(TOL);
      expect(dlow, `${what}: low-res logits`).toBeLessThanOrEqual(TOL);
      expect(Math.abs(b.objectScore - s.objectScore), `${what}: object score`).toBeLessThanOrEqual(TOL);
      let flips = 0;
      for (let k = 0; k < b.mask.length; k++) if (b.mask[k] !== s.mask[k] && Math.abs(s.logits[k]) > TOL) flips++;
      expect(flips, `${what}: mask pixels that differ`).toBe(0);
    });
  });
  return worst;
}

/** Dispatches of one stage on one frame (summed over the frame's batches) and the batch sizes seen. */
function perFrame(run: Run, stage: TrackStage): Map<number, { dispatches: number; batches: number[] }> {
  const m = new Map<number, { dispatches: number; batches: number[] }>();
  for (const s of run.stages) {
    if (s.stage !== stage) continue;
    const e = m.get(s.frame) ?? { dispatches: 0, batches: [] };
    e.dispatches += s.dispatches;
    e.batches.push(s.batch);
    m.set(s.frame, e);
  }
  return m;
}

describe.skipIf(!rt)('several objects tracked as one batch', () => {
  // Streaming over golden frames 0-6. Objects 1 (click) and 2 (box) start on frame 0; object 1 gets a
  // second conditioning frame (a mask on frame 2); on frame 3 object 2's tracked mask is corrected
  // with a click and object 3 starts. From frame 4 the batch has 3 objects whose banks differ:
  // objects 1 and 2 attend to 4 memories and 4 pointers (then 5, 6), object 3 to 1 (then 2, 3): its
  // memory row is padded by 3 frames and 3 pointers.
  const stream = async (p: VideoPredictor, out: FrameResult[][]) => {
    const imgs: RgbImage[] = Array.from({ length: 7 }, (_, i) => readImage(join(GOLDEN, `video_frame${i}.png`)));
    for (let f = 0; f < imgs.length; f++) {
      out.push((await p.push(imgs[f])).results);
      if (f === 0) {
        out.push([await p.addPoints(0, 1, { points: [{ x: 90, y: 82.5, label: 1 }] })]);
        out.push([await p.addPoints(0, 2, { box: [110, 20, 190, 120] })]);
      }
      if (f === 2) out.push([await p.addMask(2, 1, out[out.length - 1][0].mask)]);
      if (f === 3) {
        out.push([await p.addPoints(3, 2, { points: [{ x: 150, y: 60, label: 0 }] })]);
        out.push([await p.addPoints(3, 3, { points: [{ x: 30, y: 110, label: 1 }] })]);
      }
    }
  };

  it('SAM 2.1: batched == one object at a time (banks of different structure); one memory-attention / decoder / memory-encoder pass per frame', async () => {
    const model = await goldenModel(rt!);
    const batched = await record(model, live(200, 150), true, stream);
    const single = await record(model, live(200, 150), false, stream);
    const worst = compareRuns(batched, single);
    console.log(
      `batched vs per-object (SAM 2.1, 3 objects, 7 streamed frames): max |logit / score difference| ${worst}`,
    );

    // every tracked object of a frame in one batch
    const ma = perFrame(batched, 'memory_attention');
    expect([...ma].map(([f, e]) => [f, e.batches])).toEqual([
      [1, [2]],
      [2, [2]],
      [3, [2]],
      [4, [3]],
      [5, [3]],
      [6, [3]],
    ]);
    // padded rows: object 3 (last) has 3 memories of 256 tokens and 3 pointers of 4 tokens fewer
    const tracked = batched.layouts.filter((l) => l.batch === 3);
    expect(await Promise.all(tracked.map(async (l) => [l.frame, l.tokens, await l.dropped]))).toEqual(
      [4, 5, 6].map((f) => [f, f * (256 + 4), [0, 0, 3 * (256 + 4)]]),
    );
    const one = perFrame(single, 'memory_attention');
    expect(one.get(4)!.batches).toEqual([1, 1, 1]);
    // dispatches of these stages do not grow with the number of objects in the batch ...
    for (const stage of ['memory_attention', 'memory_encoder'] as const) {
      const b = perFrame(batched, stage);
      expect(
        new Set([...b.values()].map((e) => e.dispatches)).size,
        `${stage}: dispatches per frame for batches of 2 and 3 objects`,
      ).toBe(1);
      // ... while one object at a time costs one pass per object (the same pass)
      expect(perFrame(single, stage).get(4)!.dispatches, stage).toBe(3 * b.get(4)!.dispatches);
    }
    // the decoder (+ heads): the same for 2 and 3 objects; per object, one dispatch less (the shared
    // decoder tokens are not repeated over a batch of 1) but once per object
    const dec = perFrame(batched, 'decoder');
    expect(dec.get(4)!.dispatches).toBe(dec.get(1)!.dispatches);
    expect(perFrame(single, 'decoder').get(4)!.dispatches).toBe(3 * (dec.get(4)!.dispatches - 1));
    const total = (r: Run, f: number) =>
      r.stages.filter((s) => s.frame === f && s.stage !== 'image_encoder').reduce((a, s) => a + s.dispatches, 0);
    console.log(
      `dispatches on frame 6 (3 objects, image encoder excluded): batched ${total(batched, 6)}, one object at a time ${total(single, 6)}; ` +
        `memory attention ${ma.get(6)!.dispatches} vs ${one.get(6)!.dispatches}`,
    );
  }, 300_000);

  it('RobotSeg: robot / arm / gripper targets and a plain object, one added later (decoder groups by token count)', async () => {
    const model = await robotsegGoldenModel(rt!);
    const imgs: RgbImage[] = Array.from({ length: 5 }, (_, i) => readImage(join(GOLDEN, `video_frame${i}.png`)));
    const run = (batch: boolean) =>
      record(model, live(200, 150), batch, async (p, out) => {
        for (let f = 0; f < imgs.length; f++) {
          out.push((await p.push(imgs[f])).results);
          if (f === 0) {
            out.push([await p.addTarget(0, 1, 'robot')]);
            out.push([await p.addTarget(0, 2, 'arm')]);
            out.push([await p.addPoints(0, 3, { points: [{ x: 90, y: 82.5, label: 1 }] })]); // no category: plain SAM 2.1 decoder
          }
          if (f === 2) out.push([await p.addTarget(2, 4, 'gripper')]); // later: fewer memories and pointers (padded), fewer RPG tokens
        }
      });
    const batched = await run(true);
    const single = await run(false);
    const worst = compareRuns(batched, single);
    console.log(
      `batched vs per-object (RobotSeg, 4 objects, 5 streamed frames): max |logit / score difference| ${worst}`,
    );
    // one memory-attention pass per frame for all objects; the decoder then runs per token layout:
    // robot and arm (3 memory frames on frame 3: R*3 RPG tokens), the plain object, the later gripper
    // (1 memory frame; its memory row padded by 2 frames and 2 pointers)
    const ma = perFrame(batched, 'memory_attention');
    expect([...ma].map(([f, e]) => [f, e.batches])).toEqual([
      [1, [3]],
      [2, [3]],
      [3, [4]],
      [4, [4]],
    ]);
    const l3 = batched.layouts.find((l) => l.frame === 3)!;
    expect([l3.tokens, await l3.dropped]).toEqual([3 * (256 + 4), [0, 0, 0, 2 * (256 + 4)]]);
    expect(ma.get(3)!.dispatches).toBe(perFrame(single, 'memory_attention').get(3)!.dispatches / 4);
  }, 300_000);
});
