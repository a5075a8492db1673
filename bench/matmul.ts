// Benchmarks for the matmul family on SAM 2.1 tiny shapes (1024-px input):
//   Hiera stage-3 qkv Linear 4096 tokens x 384 -> 1152, Hiera stage-3 MLP fc1 384 -> 1536 (+GELU),
//   memory-attention FFN 256 -> 2048 (+ReLU), and a batched unfused attention-score product
//   (4 heads x 1024x96 @ 96x1024) that exercises the batch path and a plain (untransposed) B.
// Without `full` the token count is cut to 1024 (each run well under a second on lavapipe).
// Each case runs for every variant ('software': 4x4 register blocks; 'rows': 32 rows per workgroup, uniform A loads; 'tiled': workgroup memory).
// FLOPs = 2*M*N*K. check(): the first 32 output rows against the float64 reference.
// ONNX peers: Linear without activation as Gemm (A, B = weight [N, K] with transB = 1, bias),
// the batched product as MatMul; the fused-activation case has no ONNX description.
// `:f16w` rows: the same Linear with its weight stored f16 (--precision f16; W_F16 variant), checked
// against the reference on the f16-rounded weight; no peers (they hold f32 weights).

import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import { linear, matmul, type Activation, type MatmulVariant } from '../src/kernels/matmul.js';
import { matmulRef } from '../test/ref/matmul.js';
import { roundF16Array } from '../src/graph/dtype.js';
import { SkipCase } from './harness.js';
import { seededArray } from '../test/helpers/rng.js';
import type { BenchCase, BenchRun } from './types.js';

const data = seededArray;

function close(a: ArrayLike<number>, b: ArrayLike<number>, atol = 1e-4, rtol = 1e-4): boolean {
  for (let i = 0; i < b.length; i++) if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) return false;
  return true;
}

const CHECK_ROWS = 32;

function linearCase(
  name: string,
  fullRows: number,
  inF: number,
  outF: number,
  act: Activation,
  variant: MatmulVariant,
  weight: 'f32' | 'f16' = 'f32',
): BenchCase {
  const half = weight === 'f16';
  return {
    kernel: 'matmul',
    impl: half ? `${variant}:f16w` : variant,
    setup(rt: Runtime, opts: { full: boolean }): BenchRun {
      if (half && !rt.hasF16) throw new SkipCase('f16 weights need the shader-f16 feature');
      const rows = opts.full ? fullRows : Math.min(fullRows, 1024);
      const xs = data(rows * inF, 1);
      const w32 = data(outF * inF, 2, 1 / Math.sqrt(inF));
      // the weight as the kernel sees it (rounded to f16 when stored f16)
      const ws = half ? roundF16Array(w32) : w32;
      const bs = data(outF, 3, 0.1);
      const x = rt.upload(xs, [rows, inF], 'f32', 'x');
      const w = rt.upload(w32, [outF, inF], weight, 'weight');
      const b = rt.upload(bs, [outF], 'f32', 'bias');
      let y: Tensor | null = null;
      return {
        shape: `${name}: Linear ${rows}x${inF} -> ${outF}${act !== 'none' ? ` + ${act}` : ''}`,
        run() {
          y?.dispose();
          y = linear(rt, x, w, b, act, { variant });
        },
        async check() {
          const got = await rt.read(y!);
          const ref = matmulRef(xs.subarray(0, CHECK_ROWS * inF), [CHECK_ROWS, inF], ws, [outF, inF], {
            transB: true,
            bias: bs,
            act,
          });
          return close(got.subarray(0, CHECK_ROWS * outF), ref.y);
        },
        flops: 2 * rows * inF * outF,
        bytes: (rows * inF + outF + rows * outF) * 4 + outF * inF * (half ? 2 : 4),
        downscaled: rows !== fullRows,
        onnx:
          act === 'none' && !half
            ? {
                op: 'Gemm',
                inputs: {
                  A: { shape: [rows, inF], data: xs },
                  B: { shape: [outF, inF], data: ws },
                  bias: { shape: [outF], data: bs },
                },
                attributes: { transB: 1 },
                outputShape: [rows, outF],
              }
            : undefined,
        dispose() {
          y?.dispose();
          x.dispose();
          w.dispose();
          b.dispose();
        },
      };
    },
  };
}

/** Batched A [h, n, d] @ B [h, d, n] (unfused attention scores of Hiera's global blocks). */
function batchedCase(heads: number, fullN: number, d: number, variant: MatmulVariant): BenchCase {
  return {
    kernel: 'matmul',
    impl: variant,
    setup(rt: Runtime, opts: { full: boolean }): BenchRun {
      const n = opts.full ? fullN : Math.min(fullN, 512);
      const as = data(heads * n * d, 4);
      const bs = data(heads * d * n, 5);
      const a = rt.upload(as, [heads, n, d], 'f32', 'a');
      const b = rt.upload(bs, [heads, d, n], 'f32', 'b');
      let y: Tensor | null = null;
      return {
        shape: `scores: ${heads}x${n}x${d} @ ${heads}x${d}x${n}`,
        run() {
          y?.dispose();
          y = matmul(rt, a, b, { variant });
        },
        async check() {
          const got = await rt.read(y!);
          const ref = matmulRef(as.subarray(0, CHECK_ROWS * d), [CHECK_ROWS, d], bs.subarray(0, d * n), [d, n]);
          return close(got.subarray(0, CHECK_ROWS * n), ref.y);
        },
        flops: 2 * heads * n * n * d,
        bytes: (2 * heads * n * d + heads * n * n) * 4,
        downscaled: n !== fullN,
        onnx: {
          op: 'MatMul',
          inputs: { A: { shape: [heads, n, d], data: as }, X: { shape: [heads, d, n], data: bs } },
          outputShape: [heads, n, n],
        },
        dispose() {
          y?.dispose();
          a.dispose();
          b.dispose();
        },
      };
    },
  };
}

const VARIANTS: MatmulVariant[] = ['software', 'rows', 'tiled'];

export const cases: BenchCase[] = VARIANTS.flatMap((v) => [
  linearCase('Hiera stage-3 qkv', 4096, 384, 1152, 'none', v),
  linearCase('Hiera stage-3 MLP fc1', 4096, 384, 1536, 'gelu', v),
  linearCase('memory-attention FFN', 4096, 256, 2048, 'relu', v),
  batchedCase(4, 4096, 96, v),
  linearCase('Hiera stage-3 qkv', 4096, 384, 1152, 'none', v, 'f16'),
  linearCase('Hiera stage-3 MLP fc1', 4096, 384, 1536, 'gelu', v, 'f16'),
]);
