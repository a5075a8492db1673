// Weights stored f16 (precision 'f16'): matmul / linear with an f16 B, conv2d and conv_transpose2d
// with an f16 weight, every variant, against the float64 references run on the f16-rounded weights.
// The kernels widen each weight to f32 on load and accumulate in f32, so the only difference from
// the f32 path is the weight rounding, which the reference sees too: the f32 tolerances apply.
import { describe, expect, it } from 'vitest';
import { roundF16Array } from '../../src/graph/dtype.js';
import { conv2d, type Conv2dImpl } from '../../src/kernels/conv2d.js';
import { convTranspose2d, type ConvTranspose2dImpl } from '../../src/kernels/conv_transpose2d.js';
import { linear, matmul, type MatmulVariant } from '../../src/kernels/matmul.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { conv2dRef } from '../ref/conv2d.js';
import { convTranspose2dRef } from '../ref/conv_transpose2d.js';
import { linearRef, matmulRef } from '../ref/matmul.js';

const rt = await testRuntime();
// f32 accumulation of up to 130 products against float64 (as matmul.test.ts / conv2d.test.ts)
const TOL = { atol: 1e-5, rtol: 1e-4 };
const prod = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
const half = roundF16Array;

describe.skipIf(!rt?.hasF16)('f16 weights, f32 accumulation', () => {
  const r = rng(16);

  for (const variant of ['software', 'rows', 'tiled'] as MatmulVariant[]) {
    // [M, K, N]: scalar path (K % 4 != 0), vec4 path (K % 4 == 0), tile edges
    for (const [M, K, N] of [
      [5, 7, 9],
      [4, 12, 8],
      [67, 130, 66],
    ]) {
      for (const transB of [false, true]) {
        it(`matmul ${variant} ${M}x${K}x${N} tB=${transB}`, async () => {
          const aShape = [M, K];
          const bShape = transB ? [N, K] : [K, N];
          const a = r.array(prod(aShape));
          const b = r.array(prod(bShape));
          const bias = r.array(N);
          const o = { variant, transB, act: 'gelu' as const, alpha: 0.75 };
          const y = matmul(rt!, rt!.upload(a, aShape), rt!.upload(b, bShape, 'f16'), {
            ...o,
            bias: rt!.upload(bias, [N]),
          });
          const ref = matmulRef(a, aShape, half(b), bShape, { ...o, bias });
          expectClose(await rt!.read(y), ref.y, TOL, `${variant} f16 B`);
          // and it is not the f32-weight result: the rounding is really there (weights in [-1, 1])
          const exact = matmulRef(a, aShape, b, bShape, { ...o, bias });
          const got = await rt!.read(y);
          let maxDiff = 0;
          for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - exact.y[i]));
          expect(maxDiff).toBeGreaterThan(0);
        });
      }
    }
    it(`linear ${variant}: batched x, f16 weight, weight view at an offset`, async () => {
      const x = r.array(2 * 3 * 20);
      const wAll = r.array(14 * 20);
      const bias = r.array(12);
      // rows 2.. of a [14, 20] f16 tensor: element offset 40 (80 bytes, vec4<f16>-aligned)
      const w = rt!.upload(wAll, [14, 20], 'f16').narrow0(2, 12);
      const y = linear(rt!, rt!.upload(x, [2, 3, 20]), w, rt!.upload(bias, [12]), 'relu', { variant });
      const ref = linearRef(x, [2, 3, 20], half(wAll.slice(40)), [12, 20], bias, 'relu');
      expectClose(await rt!.read(y), ref.y, TOL, 'linear f16');
      // odd element offset (not vec4-aligned): the scalar path
      const w1 = rt!.upload(r.array(13 * 8 + 1), [13 * 8 + 1], 'f16');
      const wv = w1.narrow0(1, 13 * 8).reshape([13, 8]);
      const w1h = half((await rt!.read(w1)).slice(1));
      const x1 = r.array(3 * 8);
      const y1 = linear(rt!, rt!.upload(x1, [3, 8]), wv, null, 'none', { variant });
      expectClose(await rt!.read(y1), linearRef(x1, [3, 8], w1h, [13, 8]).y, TOL, 'linear f16 odd offset');
    });
  }

  const convCases = [
    { name: '3x3 pad 1', xs: [2, 5, 9, 11], ws: [6, 5, 3, 3], o: { padding: 1 }, impls: ['direct', 'rows', 'tiled'] },
    {
      name: '4x4 stride 4 (mask_downsample)',
      xs: [1, 1, 16, 16],
      ws: [1, 1, 4, 4],
      o: { stride: 4 },
      impls: ['direct', 'rows', 'tiled'],
    },
    { name: '1x1', xs: [1, 8, 6, 6], ws: [12, 8, 1, 1], o: {}, impls: ['pointwise', 'direct', 'rows', 'tiled'] },
    { name: 'depthwise 7x7', xs: [1, 4, 10, 13], ws: [4, 1, 7, 7], o: { padding: 3, groups: 4 }, impls: ['depthwise'] },
    {
      name: 'depthwise stride 2',
      xs: [1, 3, 9, 9],
      ws: [3, 1, 3, 3],
      o: { stride: 2, groups: 3 },
      impls: ['depthwise'],
    },
  ] as const;
  for (const c of convCases) {
    for (const impl of c.impls as readonly Conv2dImpl[]) {
      it(`conv2d ${c.name} [${impl}]`, async () => {
        const xv = r.array(prod(c.xs));
        const wv = r.array(prod(c.ws));
        const bv = r.array(c.ws[0]);
        const y = conv2d(rt!, rt!.upload(xv, c.xs), rt!.upload(wv, c.ws, 'f16'), rt!.upload(bv, [c.ws[0]]), {
          ...c.o,
          impl,
        });
        expectClose(await rt!.read(y), conv2dRef(xv, c.xs, half(wv), c.ws, bv, c.o).y, TOL, `${c.name} ${impl}`);
      });
    }
  }

  const tCases = [
    {
      name: '2x2 stride 2 (upscaling)',
      xs: [1, 8, 5, 7],
      ws: [8, 4, 2, 2],
      o: { stride: 2 },
      impls: ['k2s2', 'general'],
    },
    {
      name: '3x3 stride 2 pad 1',
      xs: [2, 3, 4, 5],
      ws: [3, 2, 3, 3],
      o: { stride: 2, padding: 1 },
      impls: ['general'],
    },
    { name: 'one output channel', xs: [1, 4, 3, 3], ws: [4, 1, 2, 2], o: { stride: 2 }, impls: ['general'] },
  ] as const;
  for (const c of tCases) {
    for (const impl of c.impls as readonly ConvTranspose2dImpl[]) {
      it(`conv_transpose2d ${c.name} [${impl}]`, async () => {
        const xv = r.array(prod(c.xs));
        const wv = r.array(prod(c.ws));
        const cout = c.ws[1];
        const bv = r.array(cout);
        const y = convTranspose2d(rt!, rt!.upload(xv, c.xs), rt!.upload(wv, c.ws, 'f16'), rt!.upload(bv, [cout]), {
          ...c.o,
          impl,
        });
        const ref = convTranspose2dRef(xv, c.xs, half(wv), c.ws, bv, c.o);
        expectClose(await rt!.read(y), ref.y, TOL, `${c.name} ${impl}`);
      });
    }
  }

  it('refuses other dtypes, naming them (f16 activations: f16_activations.test.ts)', () => {
    const a32 = rt!.zeros([4, 4], 'u32');
    expect(() => matmul(rt!, a32, rt!.zeros([4, 4]))).toThrow(/f32 or f16 A and B, got A u32/);
    expect(() => conv2d(rt!, rt!.zeros([1, 1, 4, 4]), rt!.zeros([1, 1, 2, 2], 'u32'))).toThrow(
      /weight must be f32 or f16, got u32/,
    );
  });
});

describe.skipIf(!rt)('f16 weights need shader-f16', () => {
  it(`this adapter ${rt?.hasF16 ? 'has' : 'lacks'} it (lavapipe has it; CI runs the f16 tests)`, () => {
    // CI's lavapipe exposes shader-f16: without it the block above would skip, so fail there instead
    if (process.env.CI === 'true') expect(rt!.hasF16).toBe(true);
  });
});
