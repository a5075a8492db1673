// Benchmarks for the softmax family: rows of 4096 (one head of Hiera's global attention scores,
// 4096 x 4096 at 1024 px; cut to 1024 rows without `full`), forward and backward, both variants
// ('row': one row per invocation; 'workgroup': one workgroup per row).
// GB/s counts input + output bytes once. check(): the first 64 rows against the float64 reference.
// ONNX peer: Softmax(axis = -1) for the forward.

import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import { softmax, softmaxBackward, type SoftmaxVariant } from '../src/kernels/softmax.js';
import { softmaxBackwardRef, softmaxRef } from '../test/ref/softmax.js';
import { seededArray } from '../test/helpers/rng.js';
import type { BenchCase, BenchRun } from './types.js';

const data = seededArray;

function close(a: ArrayLike<number>, b: ArrayLike<number>, atol = 1e-6, rtol = 1e-4): boolean {
  for (let i = 0; i < b.length; i++) if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) return false;
  return true;
}

const CHECK_ROWS = 64;

function softmaxCase(fullRows: number, n: number, variant: SoftmaxVariant, backward: boolean): BenchCase {
  return {
    kernel: 'softmax',
    impl: `${backward ? 'backward.' : ''}${variant}`,
    setup(rt: Runtime, opts: { full: boolean }): BenchRun {
      const rows = opts.full ? fullRows : Math.min(fullRows, 1024);
      const scale = 1 / Math.sqrt(96);
      const xs = data(rows * n, 1, 8);
      const x = rt.upload(xs, [rows, n], 'f32', 'x');
      const ys = backward ? Float32Array.from(softmaxRef(xs, n)) : null;
      const dys = backward ? data(rows * n, 2) : null;
      const y = ys ? rt.upload(ys, [rows, n], 'f32', 'y') : null;
      const dy = dys ? rt.upload(dys, [rows, n], 'f32', 'dy') : null;
      let out: Tensor | null = null;
      return {
        shape: `${backward ? 'backward ' : ''}${rows} rows x ${n}`,
        run() {
          out?.dispose();
          out = backward ? softmaxBackward(rt, y!, dy!, scale, variant) : softmax(rt, x, { scale, variant });
        },
        async check() {
          const got = (await rt.read(out!)).subarray(0, CHECK_ROWS * n);
          const ref = backward
            ? softmaxBackwardRef(ys!.subarray(0, CHECK_ROWS * n), dys!.subarray(0, CHECK_ROWS * n), n, scale)
            : softmaxRef(xs.subarray(0, CHECK_ROWS * n), n, scale);
          return close(got, ref);
        },
        bytes: (backward ? 3 : 2) * rows * n * 4,
        downscaled: rows !== fullRows,
        onnx: backward
          ? undefined
          : {
              // ONNX Softmax has no scale: the peer gets the pre-scaled logits
              op: 'Softmax',
              inputs: { X: { shape: [rows, n], data: xs.map((v) => v * scale) } },
              attributes: { axis: -1 },
              outputShape: [rows, n],
            },
        dispose() {
          out?.dispose();
          x.dispose();
          y?.dispose();
          dy?.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = (['row', 'workgroup'] as SoftmaxVariant[]).flatMap((v) => [
  softmaxCase(4096, 4096, v, false),
  softmaxCase(4096, 4096, v, true),
]);
