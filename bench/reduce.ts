// Benchmarks for the reduce family (one invocation per output, sequential loop, no barriers):
//   * sum over the channels of the Hiera stage-3 MLP hidden activations, 4096x1536 -> 4096 (row sums),
//   * sum over the tokens of 4096x384 -> 384 (column sums: the bias gradient of a stage-3 Linear),
//   * mean over H*W of a 256x64x64 FPN map -> 256 (global average pooling),
//   * masked mean of a 1x256x64x64 map under a 64x64 mask -> 1x256 (masked average pooling),
//   * one-hot argmax of 4096 rows of 4 (the tracker's best-IoU pick is [B, 4] from 1; rows scaled up so
//     that the time is measurable), checked exactly on every row.
// Real 1024-px shapes (<= 25 MB read, a few ms per run on lavapipe), nothing is downscaled.
// GB/s = input + output bytes; GFLOP/s counts one add per input element (two for the masked mean).
// The CPU check is float64 over up to 512 outputs.

import type { Runtime } from '../src/graph/runtime.js';
import { argmaxOneHot, maskedMean, reduce } from '../src/kernels/reduce.js';
import { allClose, type BenchRunWithOutput } from './harness.js';
import { benchData, lastOutput } from './elementwise.js';
import type { BenchCase } from './types.js';

const CHECK = 512;
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Reduce axis `axis` of a rank-2 or rank-3 [outer, r, inner] view with sum or mean. */
function reduceCase(
  fullShape: number[],
  axis: number,
  op: 'sum' | 'mean',
  what: string,
  smallRows = fullShape[0],
): BenchCase {
  return {
    kernel: 'reduce',
    setup(rt: Runtime, { full }): BenchRunWithOutput {
      const shape = [full ? fullShape[0] : Math.min(fullShape[0], smallRows), ...fullShape.slice(1)];
      const outer = prod(shape.slice(0, axis));
      const r = shape[axis];
      const inner = prod(shape.slice(axis + 1));
      const xs = benchData(prod(shape), 4);
      const x = rt.upload(xs, shape, 'f32', 'x');
      const out = lastOutput();
      const outShape = shape.filter((_, i) => i !== axis);
      return {
        shape: `${op} ${shape.join('x')} over axis ${axis} -> ${outShape.join('x')} (${what})`,
        run: () => out.set(reduce(rt, x, op, axis)),
        async check() {
          const y = await rt.read(out.get());
          const n = Math.min(outer * inner, CHECK);
          const want = new Float64Array(n);
          for (let j = 0; j < n; j++) {
            const o = Math.floor(j / inner),
              i = j % inner;
            let s = 0;
            for (let k = 0; k < r; k++) s += xs[(o * r + k) * inner + i];
            want[j] = op === 'mean' ? s / r : s;
          }
          // Sequential f32 accumulation of r values in [-1, 1): expected error ~ sqrt(r) * 6e-8 * sqrt(r/3)
          // (about 5e-5 for r = 1536 .. 4096); allow 10x that, divided by r for the mean.
          const atol = op === 'sum' ? 5e-4 : 5e-4 / r;
          const res = allClose(y.subarray(0, n), want, { atol, rtol: 1e-5 });
          if (!res.ok) console.error(`reduce ${op}: ${res.msg}`);
          return res.ok;
        },
        output: () => rt.read(out.get()),
        bytes: (prod(shape) + outer * inner) * 4,
        flops: prod(shape),
        downscaled: shape[0] !== fullShape[0],
        onnx:
          op === 'sum'
            ? {
                op: 'ReduceSum',
                inputs: { X: { shape, data: xs }, axes: { shape: [1], data: Float32Array.of(axis) } },
                attributes: { keepdims: 0 },
                outputShape: outShape,
              }
            : {
                op: 'ReduceMean',
                inputs: { X: { shape, data: xs } },
                attributes: { axes: [axis], keepdims: 0 },
                outputShape: outShape,
              },
        dispose() {
          out.dispose();
          x.dispose();
        },
      };
    },
  };
}

function maskedMeanCase(b: number, c: number, n: number): BenchCase {
  return {
    kernel: 'reduce',
    setup(rt: Runtime): BenchRunWithOutput {
      const xs = benchData(b * c * n, 5, 2);
      // A blob-like soft mask in [0, 1]: about half of the pixels are on.
      const ms = Float32Array.from(benchData(b * n, 6), (v) => (v > 0 ? Math.min(1, 2 * v) : 0));
      const x = rt.upload(xs, [b, c, n], 'f32', 'x');
      const m = rt.upload(ms, [b, n], 'f32', 'm');
      const out = lastOutput();
      const eps = 1e-6;
      return {
        shape: `masked_mean ${b}x${c}x${n} * ${b}x${n} -> ${b}x${c}`,
        run: () => out.set(maskedMean(rt, x, m, eps)),
        async check() {
          const y = await rt.read(out.get());
          const k = Math.min(b * c, CHECK);
          const want = new Float64Array(k);
          for (let i = 0; i < k; i++) {
            const bi = Math.floor(i / c);
            let num = 0,
              den = 0;
            for (let j = 0; j < n; j++) {
              num += xs[i * n + j] * ms[bi * n + j];
              den += ms[bi * n + j];
            }
            want[i] = num / Math.max(den, eps);
          }
          // f32 accumulation of n = 4096 products (numerator error ~2e-4) over a denominator of ~n/4:
          // ~2e-7 absolute; allow 25x.
          const res = allClose(y.subarray(0, k), want, { atol: 5e-6, rtol: 1e-4 });
          if (!res.ok) console.error(`reduce masked_mean: ${res.msg}`);
          return res.ok;
        },
        output: () => rt.read(out.get()),
        bytes: (b * c * n + b * n + b * c) * 4,
        flops: 2 * b * c * n,
        downscaled: false,
        onnx: {
          op: 'MaskedMean',
          inputs: { x: { shape: [b, c, n], data: xs }, m: { shape: [b, n], data: ms } },
          attributes: { eps },
          outputShape: [b, c],
        },
        dispose() {
          out.dispose();
          x.dispose();
          m.dispose();
        },
      };
    },
  };
}

/** One-hot argmax over rows of 4 from index 1 (multimask best-IoU selection, many objects). */
function argmaxCase(rows: number): BenchCase {
  return {
    kernel: 'reduce',
    impl: 'argmax',
    setup(rt: Runtime): BenchRunWithOutput {
      const r = 4;
      const xs = benchData(rows * r, 7);
      const x = rt.upload(xs, [rows, r], 'f32', 'x');
      const out = lastOutput();
      return {
        shape: `argmax one-hot ${rows}x${r} over axis 1 from 1 (best IoU of the multimask outputs)`,
        run: () => out.set(argmaxOneHot(rt, x, 1, 1)),
        async check() {
          const y = await rt.read(out.get());
          const want = new Float64Array(rows * r);
          for (let o = 0; o < rows; o++) {
            let best = 1;
            for (let k = 2; k < r; k++) if (xs[o * r + k] > xs[o * r + best]) best = k;
            want[o * r + best] = 1;
          }
          const res = allClose(y, want, { atol: 0, rtol: 0 });
          if (!res.ok) console.error(`reduce argmax: ${res.msg}`);
          return res.ok;
        },
        output: () => rt.read(out.get()),
        bytes: rows * r * 8,
        flops: rows * r,
        downscaled: false,
        dispose() {
          out.dispose();
          x.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [
  reduceCase([4096, 1536], 1, 'sum', 'row sums'),
  reduceCase([4096, 384], 0, 'sum', 'bias gradient'),
  reduceCase([256, 64 * 64], 1, 'mean', 'global average pool'),
  maskedMeanCase(1, 256, 64 * 64),
  argmaxCase(4096),
];
