// Benchmarks for the fused attention family on SAM 2.1 tiny shapes (1024-px input):
//   Hiera global attention (stage 3: 4 heads x Dh 96 over 64x64 = 4096 tokens; 512 tokens without `full`),
//   memory-attention cross-attention (1 head, Dh 256, 4096 queries x 28736 keys = 7 memory frames x
//   4096 + 64 object-pointer tokens; 1024 x 2048 without `full`),
//   mask-decoder token->image and image->token cross-attention (8 heads x Dh 16, 7 tokens x 4096
//   image tokens; real size in both modes).
// Both variants: 'software' (one query per invocation) and 'tiled' (K/V tiles in workgroup memory).
// FLOPs = 4 * B * Nq * Nk * H * Dh (QK^T and PV; the softmax is not counted).
// check(): the first 8 query rows against the float64 reference.
// ONNX peer: op 'Attention' (a composite of bench/onnx_builder.ts: Transpose(k), MatMul, Mul(scale),
// Softmax, MatMul, the unfused subgraph peers run) with inputs q [B, H, Nq, Dh], k [B, H, Nk, Dh],
// v [B, H, Nk, Dh] in the heads-first layout (our token-major inputs transposed on the host) and
// attribute `scale` = 1/sqrt(Dh); output [B, H, Nq, Dh]. output() transposes ours the same way.

import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import { attention, type AttentionVariant } from '../src/kernels/attention.js';
import { attentionRef } from '../test/ref/attention.js';
import type { BenchRunWithOutput } from './harness.js';
import { seededArray } from '../test/helpers/rng.js';
import type { BenchCase } from './types.js';

const data = seededArray;

function close(a: ArrayLike<number>, b: ArrayLike<number>, atol = 1e-5, rtol = 1e-4): boolean {
  for (let i = 0; i < b.length; i++) if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) return false;
  return true;
}

/** [B, N, H*Dh] (token-major) -> [B, H, N, Dh] (heads first). */
function headsFirst(x: Float32Array, B: number, N: number, H: number, Dh: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < Dh; d++) {
          y[((b * H + h) * N + n) * Dh + d] = x[((b * N + n) * H + h) * Dh + d];
        }
  return y;
}

const CHECK_QUERIES = 8;

interface Shape {
  name: string;
  B: number;
  Nq: number;
  Nk: number;
  H: number;
  Dh: number;
}

function attentionCase(full: Shape, small: Shape, variant: AttentionVariant): BenchCase {
  return {
    kernel: 'attention',
    impl: variant,
    setup(rt: Runtime, opts: { full: boolean }): BenchRunWithOutput {
      const s = opts.full ? full : small;
      const { B, Nq, Nk, H, Dh } = s;
      const C = H * Dh;
      const qs = data(B * Nq * C, 1, 2);
      const ks = data(B * Nk * C, 2, 2);
      const vs = data(B * Nk * C, 3);
      const q = rt.upload(qs, [B, Nq, C], 'f32', 'q');
      const k = rt.upload(ks, [B, Nk, C], 'f32', 'k');
      const v = rt.upload(vs, [B, Nk, C], 'f32', 'v');
      let out: Tensor | null = null;
      return {
        shape: `${s.name}: B${B} Nq${Nq} Nk${Nk} H${H} Dh${Dh}`,
        run() {
          out?.dispose();
          out = attention(rt, q, k, v, { heads: H, variant });
        },
        async check() {
          const nq = Math.min(Nq, CHECK_QUERIES);
          const got = await rt.read(out!);
          const ref = attentionRef(qs.subarray(0, nq * C), ks.subarray(0, Nk * C), vs.subarray(0, Nk * C), {
            B: 1,
            Nq: nq,
            Nk,
            H,
            Dh,
          });
          return close(got.subarray(0, nq * C), ref);
        },
        async output() {
          return headsFirst(await rt.read(out!), B, Nq, H, Dh);
        },
        flops: 4 * B * Nq * Nk * C,
        bytes: (2 * B * Nq * C + 2 * B * Nk * C) * 4,
        downscaled: s !== full,
        onnx: {
          op: 'Attention',
          inputs: {
            q: { shape: [B, H, Nq, Dh], data: headsFirst(qs, B, Nq, H, Dh) },
            k: { shape: [B, H, Nk, Dh], data: headsFirst(ks, B, Nk, H, Dh) },
            v: { shape: [B, H, Nk, Dh], data: headsFirst(vs, B, Nk, H, Dh) },
          },
          attributes: { scale: 1 / Math.sqrt(Dh) },
          outputShape: [B, H, Nq, Dh],
        },
        dispose() {
          out?.dispose();
          q.dispose();
          k.dispose();
          v.dispose();
        },
      };
    },
  };
}

const HIERA: Shape = { name: 'Hiera global attention', B: 1, Nq: 4096, Nk: 4096, H: 4, Dh: 96 };
const HIERA_SMALL: Shape = { ...HIERA, Nq: 512, Nk: 512 };
const MEMORY: Shape = { name: 'memory cross-attention', B: 1, Nq: 4096, Nk: 7 * 4096 + 64, H: 1, Dh: 256 };
const MEMORY_SMALL: Shape = { ...MEMORY, Nq: 1024, Nk: 2048 };
const TOKEN_TO_IMAGE: Shape = { name: 'decoder token->image', B: 1, Nq: 7, Nk: 4096, H: 8, Dh: 16 };
const IMAGE_TO_TOKEN: Shape = { name: 'decoder image->token', B: 1, Nq: 4096, Nk: 7, H: 8, Dh: 16 };

export const cases: BenchCase[] = (['software', 'tiled'] as AttentionVariant[]).flatMap((v) => [
  attentionCase(HIERA, HIERA_SMALL, v),
  attentionCase(MEMORY, MEMORY_SMALL, v),
  attentionCase(TOKEN_TO_IMAGE, TOKEN_TO_IMAGE, v),
  attentionCase(IMAGE_TO_TOKEN, IMAGE_TO_TOKEN, v),
]);
