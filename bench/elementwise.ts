// Benchmarks for the elementwise family: GELU over the Hiera stage-3 MLP hidden activations
// (64x64 tokens x 4*384 channels), the Linear bias add (broadcast over rows), the residual add of
// stage-3 tokens, and a per-channel add over a 256x64x64 FPN map (broadcast over H, W).
// Without --full the two 4096x1536 cases use 1024 of the 4096 tokens (downscaled: the broadcasting
// add costs several hundred ms per run at full size on lavapipe); the others are the real 1024-px
// shapes. GB/s counts input + output bytes once (the minimum traffic).
// The CPU check covers up to 64Ki output elements at the start and at the end of the output.

import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import { binary, unary } from '../src/kernels/elementwise.js';
import { UNARY } from '../test/ref/elementwise.js';
import { allClose, type BenchRunWithOutput } from './harness.js';
import { seededArray } from '../test/helpers/rng.js';
import type { BenchCase } from './types.js';

/** Deterministic uniform data in [-scale, scale) (mulberry32). */
export const benchData = seededArray;

/** Holds the latest output; the previous one goes back to the pool (no growth across reps). */
export function lastOutput() {
  let last: Tensor | null = null;
  return {
    set(t: Tensor) {
      last?.dispose();
      last = t;
    },
    get(): Tensor {
      if (!last) throw new Error('no run yet');
      return last;
    },
    dispose() {
      last?.dispose();
      last = null;
    },
  };
}

/** Indices checked: the first and the last `k` elements (all of them when n <= 2k). */
export function checkIndices(n: number, k = 65536): number[] {
  if (n <= 2 * k) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: k }, (_, i) => i), ...Array.from({ length: k }, (_, i) => n - k + i)];
}

const shapeStr = (s: number[]) => s.join('x');

/** Full-size rows, or `small` rows when not --full. */
const pick = (full: boolean, rows: number, small: number) => (full ? rows : Math.min(rows, small));

function geluCase(fullRows: number, cols: number): BenchCase {
  return {
    kernel: 'elementwise',
    setup(rt: Runtime, { full }): BenchRunWithOutput {
      const rows = pick(full, fullRows, 1024);
      const n = rows * cols;
      const xs = benchData(n, 1, 4);
      const x = rt.upload(xs, [rows, cols], 'f32', 'x');
      const out = lastOutput();
      return {
        shape: `gelu ${rows}x${cols}`,
        run: () => out.set(unary(rt, x, 'gelu')),
        async check() {
          const y = await rt.read(out.get());
          const idx = checkIndices(n);
          // erf-based GELU in f32 vs the float64 erf form: within 2e-7 abs (test/kernels/elementwise.test.ts).
          const r = allClose(
            idx.map((i) => y[i]),
            idx.map((i) => UNARY.gelu(xs[i])),
            { atol: 1e-6, rtol: 1e-5 },
          );
          if (!r.ok) console.error(`elementwise gelu: ${r.msg}`);
          return r.ok;
        },
        output: () => rt.read(out.get()),
        bytes: 2 * n * 4,
        downscaled: rows !== fullRows,
        onnx: { op: 'Gelu', inputs: { X: { shape: [rows, cols], data: xs } }, outputShape: [rows, cols] },
        dispose() {
          out.dispose();
          x.dispose();
        },
      };
    },
  };
}

/** a + b with numpy broadcasting; `what` names the SAM use. */
function addCase(fullA: number[], bs: number[], what: string, smallRows = fullA[0]): BenchCase {
  return {
    kernel: 'elementwise',
    setup(rt: Runtime, { full }): BenchRunWithOutput {
      const as = [pick(full, fullA[0], smallRows), ...fullA.slice(1)];
      const na = as.reduce((p, q) => p * q, 1);
      const nb = bs.reduce((p, q) => p * q, 1);
      const av = benchData(na, 2);
      const bv = benchData(nb, 3);
      const a = rt.upload(av, as, 'f32', 'a');
      const b = rt.upload(bv, bs, 'f32', 'b');
      const out = lastOutput();
      // b index for output element i (b right-aligned, broadcast dims have stride 0).
      const r = as.length;
      const pb = [...new Array(r - bs.length).fill(1), ...bs];
      const bIndex = (i: number) => {
        let rem = i,
          ib = 0,
          sb = 1;
        for (let d = r - 1; d >= 0; d--) {
          const c = rem % as[d];
          rem = Math.floor(rem / as[d]);
          if (pb[d] !== 1) ib += c * sb;
          sb *= pb[d];
        }
        return ib;
      };
      return {
        shape: `add ${shapeStr(as)} + ${shapeStr(bs)} (${what})`,
        run: () => out.set(binary(rt, a, b, 'add')),
        async check() {
          const y = await rt.read(out.get());
          const idx = checkIndices(na);
          // One f32 rounding of an exact sum: within half an ulp of the float64 value.
          const res = allClose(
            idx.map((i) => y[i]),
            idx.map((i) => av[i] + bv[bIndex(i)]),
            { atol: 1e-7, rtol: 1e-6 },
          );
          if (!res.ok) console.error(`elementwise add: ${res.msg}`);
          return res.ok;
        },
        output: () => rt.read(out.get()),
        bytes: (2 * na + nb) * 4,
        downscaled: as[0] !== fullA[0],
        onnx: { op: 'Add', inputs: { a: { shape: as, data: av }, b: { shape: bs, data: bv } }, outputShape: as },
        dispose() {
          out.dispose();
          a.dispose();
          b.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [
  geluCase(4096, 1536),
  addCase([4096, 1536], [1536], 'Linear bias', 1024),
  addCase([4096, 384], [4096, 384], 'residual'),
  addCase([1, 256, 64, 64], [1, 256, 1, 1], 'per-channel'),
];
