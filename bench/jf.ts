// Benchmark for the jf family (J&F counts of one frame) on the RoboEngine clip fixture
// (test/fixtures/eval/clip: 544x960 palette annotation vs a perturbed prediction). Objects: the
// robot plus two more ids made by splitting it at the middle column, i.e. 3 objects per frame.
// Full = 544x960 (the clip's resolution, radius 9); downscaled = every 4th pixel, 136x240 (radius 3).
// Bytes: per object and pixel ~32 B (labels + neighbours 8, scratch written 4, row-distance pass
// read+write 8, count pass ~12 with the disk rows mostly in cache). No ONNX peer (no such operator).
import { readFileSync } from 'node:fs';
import type { Runtime } from '../src/graph/runtime.js';
import { boundPix, countsForIds, countsFromFlat } from '../src/eval/jf.js';
import { type LabelMap, decodeLabelPng } from '../src/eval/labels.js';
import { jfCounts } from '../src/kernels/jf.js';
import { fixture } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

function load(which: 'gt' | 'pred', step: number): LabelMap {
  const m = decodeLabelPng(readFileSync(fixture('eval', 'clip', which, '00001.png')));
  const h = Math.floor(m.height / step),
    w = Math.floor(m.width / step);
  const data = new Uint16Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = m.data[y * step * m.width + x * step] ? 1 : 0;
      data[y * w + x] = v && x >= w / 2 ? 2 : v; // split the robot: left half id 1, right half id 2
    }
  }
  return { width: w, height: h, data, fromPalette: true };
}

const jfCase = (variant: 'software' | 'hardware'): BenchCase => ({
  kernel: 'jf',
  impl: variant,
  setup(rt: Runtime, { full }): BenchRun {
    const gt = load('gt', full ? 1 : 4);
    const pred = load('pred', full ? 1 : 4);
    const { height: h, width: w } = gt;
    const ids = [1, 2, 3];
    const r = boundPix(h, w);
    const p = rt.upload(Uint32Array.from(pred.data), [h, w], 'u32', 'pred');
    const g = rt.upload(Uint32Array.from(gt.data), [h, w], 'u32', 'gt');
    const t = rt.upload(Uint32Array.from(ids), [ids.length], 'u32', 'ids');
    let out: ReturnType<typeof jfCounts> | null = null;
    return {
      shape: `${ids.length} objects x ${h}x${w}, r=${r}`,
      run: () => {
        out?.dispose();
        out = jfCounts(rt, p, g, t, r, { variant });
      },
      check: async () => {
        const flat = (await rt.read(out!, 'raw')) as Uint32Array;
        const ref = countsForIds(pred, gt, ids, r);
        return ids.every((_, k) => JSON.stringify(countsFromFlat(flat, k)) === JSON.stringify(ref[k]));
      },
      bytes: 32 * ids.length * h * w,
      downscaled: !full,
      dispose() {
        out?.dispose();
        p.dispose();
        g.dispose();
        t.dispose();
      },
    };
  },
});

/** software: boundary fused into the row pass (lavapipe, SwiftShader); hardware: one invocation per pixel. */
export const cases: BenchCase[] = [jfCase('software'), jfCase('hardware')];
