// Benchmark of the fill_holes family: sam2's hole filling on the video predictor's low-res logits
// (4 objects x 256x256 at 1024 px; max area 8, value 0.1), one invocation per pixel with a private
// visited list. Checked against test/ref/fill_holes.ts first. GB/s = input + output bytes.
import type { Runtime } from '../src/graph/runtime.js';
import { fillHoles } from '../src/kernels/fill_holes.js';
import { fillHolesRef } from '../test/ref/fill_holes.js';
import { allClose, type BenchRunWithOutput } from './harness.js';
import { benchData, lastOutput } from './elementwise.js';
import type { BenchCase } from './types.js';

const fillCase: BenchCase = {
  kernel: 'fill_holes',
  setup(rt: Runtime, { full }): BenchRunWithOutput {
    const [b, h, w] = full ? [4, 256, 256] : [4, 64, 64];
    const xs = benchData(b * h * w, 1); // uniform [-1, 1): many small components of both signs
    const x = rt.upload(xs, [b, 1, h, w], 'f32', 'logits');
    const out = lastOutput();
    return {
      shape: `[${b}, 1, ${h}, ${w}] max area 8`,
      run: () => out.set(fillHoles(rt, x, 8, { value: 0.1 })),
      async check() {
        const want = fillHolesRef(xs, b, h, w, 8, 0.1);
        const res = allClose(await rt.read(out.get()), want, { atol: 0, rtol: 0 });
        if (!res.ok) console.error(`fill_holes: ${res.msg}`);
        return res.ok;
      },
      output: () => rt.read(out.get()),
      bytes: 2 * b * h * w * 4,
      downscaled: !full,
      dispose() {
        out.dispose();
        x.dispose();
      },
    };
  },
};

export const cases: BenchCase[] = [fillCase];
