// GPU J&F counts vs the CPU path and the literal toolkit transcription (test/ref/jf.ts).
// Tolerance: none. The kernel produces integer counts and J/F are computed from them on the host
// in float64, so GPU and CPU results must be bit-identical.
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/eval/backend.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { GpuCountBackend } from '../../src/eval/gpu_backend.js';
import { COUNT_STRIDE, type JfCounts, countsForIds, countsFromFlat } from '../../src/eval/jf.js';
import type { LabelMap } from '../../src/eval/labels.js';
import type { SequenceSpec } from '../../src/eval/layout.js';
import { jfCounts } from '../../src/kernels/jf.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { countsRef } from '../ref/jf.js';
import { labels } from '../eval/helpers.js';

const rt = await testRuntime();

/** Random label map with k objects: a few discs per id plus speckle, so boundaries touch edges. */
function randomLabels(h: number, w: number, k: number, seed: number): LabelMap {
  const r = rng(seed);
  const data = new Uint16Array(h * w);
  for (let id = 1; id <= k; id++) {
    for (let d = 0; d < 2; d++) {
      const cx = r.uniform() * w,
        cy = r.uniform() * h,
        rad = Math.max(1, r.uniform() * Math.max(h, w) * 0.35);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < rad * rad) data[y * w + x] = id;
    }
  }
  for (let i = 0; i < h * w; i++) if (r.uniform() < 0.03) data[i] = Math.floor(r.uniform() * (k + 1));
  return { width: w, height: h, data, fromPalette: true };
}

async function gpuCounts(
  pred: LabelMap,
  gt: LabelMap,
  ids: number[],
  r: number,
  variant?: 'software' | 'hardware',
): Promise<JfCounts[]> {
  const p = rt!.upload(Uint32Array.from(pred.data), [gt.height, gt.width], 'u32');
  const g = rt!.upload(Uint32Array.from(gt.data), [gt.height, gt.width], 'u32');
  const t = rt!.upload(Uint32Array.from(ids), [ids.length], 'u32');
  const out = jfCounts(rt!, p, g, t, r, { variant });
  expect(out.shape).toEqual([ids.length, COUNT_STRIDE]);
  const flat = (await rt!.read(out, 'raw')) as Uint32Array;
  for (const x of [p, g, t, out]) x.dispose();
  return ids.map((_, k) => countsFromFlat(flat, k));
}

describe.skipIf(!rt)('jf kernel', () => {
  // awkward sizes: 1x1, single row / column, not multiples of the workgroup (64), SAM-like aspect
  const shapes: Array<[number, number, number, number]> = [
    [1, 1, 1, 1],
    [1, 37, 2, 1],
    [29, 1, 1, 2],
    [6, 8, 3, 1],
    [33, 65, 3, 2],
    [68, 120, 4, 3],
    [17, 23, 2, 0],
  ];
  for (const [h, w, k, r] of shapes) {
    it(`${h}x${w}, ${k} objects, r=${r}: GPU counts (both variants) = CPU counts = reference`, async () => {
      const gt = randomLabels(h, w, k, h * 1000 + w);
      const pred = randomLabels(h, w, k, h * 1000 + w + 1);
      const ids = [...Array.from({ length: k }, (_, i) => i + 1), 99]; // id 99 is absent from both
      const cpu = countsForIds(pred, gt, ids, r);
      expect(await gpuCounts(pred, gt, ids, r, 'software')).toEqual(cpu);
      expect(await gpuCounts(pred, gt, ids, r, 'hardware')).toEqual(cpu);
      const bin = (m: LabelMap, id: number) => Uint8Array.from(m.data, (v) => (v === id ? 1 : 0));
      ids.forEach((id, i) => expect(cpu[i]).toEqual(countsRef(bin(pred, id), bin(gt, id), h, w, r)));
    });
  }

  it('hand case from test/eval/jf.test.ts (several objects, border)', async () => {
    const gt = labels(['11......', '11......', '........', '......22', '......22', '......22']);
    const pred = labels(['11......', '11......', '........', '........', '........', '......22']);
    const c = await gpuCounts(pred, gt, [1, 2, 3], 1);
    expect(await gpuCounts(pred, gt, [1, 2, 3], 1, rt!.adapter.software ? 'hardware' : 'software')).toEqual(c);
    expect(c[1]).toEqual({ inter: 2, sumP: 2, sumG: 6, nP: 4, nG: 6, matchP: 3, matchG: 3 });
    expect(c[2]).toEqual({ inter: 0, sumP: 0, sumG: 0, nP: 0, nG: 0, matchP: 0, matchG: 0 });
  });

  it('writes at out_base into a shared buffer; zero objects is a no-op', async () => {
    const gt = randomLabels(9, 14, 2, 5);
    const out = rt!.zeros([3 * COUNT_STRIDE + 4], 'u32');
    const g = rt!.upload(Uint32Array.from(gt.data), [9, 14], 'u32');
    const ids = rt!.upload(Uint32Array.from([2, 1]), [2], 'u32');
    jfCounts(rt!, g, g, ids, 1, { out, outBase: COUNT_STRIDE });
    const none = jfCounts(rt!, g, g, rt!.upload(new Uint32Array(0), [0], 'u32'), 1);
    expect(none.shape).toEqual([0, COUNT_STRIDE]);
    const flat = (await rt!.read(out, 'raw')) as Uint32Array;
    expect(Array.from(flat.slice(0, COUNT_STRIDE))).toEqual(new Array(COUNT_STRIDE).fill(0));
    expect([countsFromFlat(flat, 1), countsFromFlat(flat, 2)]).toEqual(countsForIds(gt, gt, [2, 1], 1));
    expect(Array.from(flat.slice(3 * COUNT_STRIDE))).toEqual([0, 0, 0, 0]); // canary after the last entry
  });

  it('rejects bad input with the shapes', () => {
    const a = rt!.zeros([4, 5], 'u32');
    const b = rt!.zeros([5, 4], 'u32');
    const ids = rt!.zeros([1], 'u32');
    expect(() => jfCounts(rt!, a, b, ids, 1)).toThrow(/pred \[4, 5\] and gt \[5, 4\]/);
    expect(() => jfCounts(rt!, rt!.zeros([4, 5]), a, ids, 1)).toThrow(/must be u32 \(got f32/);
    expect(() => jfCounts(rt!, a, a, ids, -1)).toThrow(/radius -1/);
    expect(() => jfCounts(rt!, a, a, ids, 1, { out: rt!.zeros([4], 'u32') })).toThrow(/cannot hold 1x8/);
  });

  it('evaluate(): GPU backend gives the same JSON numbers as the CPU backend', async () => {
    const frames = Array.from({ length: 6 }, (_, i) => [
      randomLabels(40, 56, 3, 100 + i),
      randomLabels(40, 56, 3, 200 + i),
    ]);
    const seq: SequenceSpec = {
      name: 's',
      layout: 'davis',
      frames: frames.map((_, i) => `${i}.png`),
      objects: [],
      readGt: (f) => frames[Number(f[0])][0],
      readPred: (f) => frames[Number(f[0])][1],
    };
    for (const protocol of ['davis', 'sav'] as const) {
      const a = await evaluate([seq], cpuBackend, { protocol, batchFrames: 4 });
      const b = await evaluate([seq], new GpuCountBackend(rt!), { protocol, batchFrames: 4 });
      expect({ ...b, backend: '' }).toEqual({ ...a, backend: '' });
    }
  });
});
