// Activations stored f16 under precision 'f16' (the memory path, MLP hidden layers, Hiera's normalised
// rows): matmul / linear with an f16 A and / or f16 C, attention with f16 k / v, elementwise unary /
// binary on f16 storage, LayerNorm with an f16 output and an MLP with f16 hidden layers, against the
// float64 references run on the f16-rounded inputs. Arithmetic stays f32, so the only extra error is
// the f16 store of an output (and of an MLP's hidden layers): at most half an f16 ulp (2^-11
// relative) plus the f32 error, hence rtol 1e-3 for f16 outputs; f32 outputs (attention) keep the f32
// tolerances. Every f16 output is checked to be an f16 value (it really is stored f16), and stores
// beyond the range to saturate at +-65504.
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';
import { roundBf16, roundF16Array } from '../../src/graph/dtype.js';
import { attention, type AttentionVariant } from '../../src/kernels/attention.js';
import { binary, unary } from '../../src/kernels/elementwise.js';
import { linear, matmul, type MatmulVariant } from '../../src/kernels/matmul.js';
import { ropeLinear, ropeTable } from '../../src/kernels/rope.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { attentionRef } from '../ref/attention.js';
import { binaryRef } from '../ref/elementwise.js';
import { linearRef, matmulRef } from '../ref/matmul.js';
import { ropeRef } from '../ref/rope.js';
import { layerNormRef } from '../ref/norm.js';
import { layerNorm } from '../../src/kernels/norm.js';
import { MLP } from '../../src/model/layers.js';
import type { Tensor } from '../../src/graph/tensor.js';

const rt = await testRuntime();
const HALF_TOL = { atol: 1e-6, rtol: 1e-3 };
const F32_TOL = { atol: 2e-6, rtol: 1e-5 };
const prod = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
const half = roundF16Array;

function expectHalf(got: Float32Array, what: string) {
  const h = half(got);
  const i = got.findIndex((x, j) => !Object.is(x, h[j]));
  if (i >= 0) expect.fail(`${what}: element ${i} = ${got[i]} is not an f16 value`);
}

describe.skipIf(!rt?.hasF16)('f16 activations, f32 arithmetic', () => {
  const r = rng(61);

  for (const variant of ['software', 'rows', 'tiled'] as MatmulVariant[]) {
    // [M, K, N]: scalar path (K % 4 != 0), vec4 path, tile / row-block edges
    for (const [M, K, N] of [
      [5, 7, 9],
      [8, 12, 16],
      [67, 64, 66],
    ]) {
      for (const [transA, bHalf] of [
        [false, false],
        [true, false],
        [false, true],
      ]) {
        it(`matmul ${variant} ${M}x${K}x${N} f16 A${transA ? '^T' : ''}, ${bHalf ? 'f16' : 'f32'} B`, async () => {
          const aShape = transA ? [K, M] : [M, K];
          const a = half(r.array(prod(aShape)));
          const b = r.array(K * N);
          const bias = r.array(N);
          const o = { variant, transA, act: 'gelu' as const, alpha: 0.75 };
          const y = matmul(rt!, rt!.upload(a, aShape, 'f16'), rt!.upload(b, [K, N], bHalf ? 'f16' : 'f32'), {
            ...o,
            bias: rt!.upload(bias, [N]),
          });
          expect(y.dtype).toBe('f16');
          const got = await rt!.read(y);
          expectHalf(got, variant);
          expectClose(got, matmulRef(a, aShape, bHalf ? half(b) : b, [K, N], { ...o, bias }).y, HALF_TOL, variant);
        });
      }
    }
    it(`linear ${variant}: batched f16 x at an offset, RoPE epilogue, saturation`, async () => {
      // rows 1.. of [2*5+1, 16] f16 x: element offset 16 (vec4-aligned)
      const xAll = half(r.array(11 * 16));
      const x = rt!.upload(xAll, [11, 16], 'f16').narrow0(1, 10).reshape([2, 5, 16]);
      const w = r.array(8 * 16);
      const bias = r.array(8);
      const y = linear(rt!, x, rt!.upload(w, [8, 16]), rt!.upload(bias, [8]), 'relu', { variant });
      const got = await rt!.read(y);
      expectHalf(got, 'linear');
      expectClose(got, linearRef(xAll.slice(16), [10, 16], w, [8, 16], bias, 'relu').y, HALF_TOL, 'linear f16');
      // RoPE epilogue on an f16 input (the memory keys' projection): 2 heads of 4, two 2x2 memory
      // frames (8 rotated tokens, the table repeated per frame) and 3 object-pointer tokens not rotated
      const cs = ropeTable(4, 2, 2, 10000);
      const xk = half(r.array(11 * 16));
      const yk = ropeLinear(
        rt!,
        rt!.upload(xk, [1, 11, 16], 'f16'),
        rt!.upload(w, [8, 16]),
        null,
        rt!.upload(cs, [4, 2, 2]),
        2,
        8,
        variant,
      );
      const lin = Float32Array.from(linearRef(xk, [11, 16], w, [8, 16]).y);
      const gotK = await rt!.read(yk);
      expectHalf(gotK, 'ropeLinear');
      expectClose(gotK, ropeRef(lin, 1, 11, 2, 4, cs, 4, 8), HALF_TOL, 'ropeLinear f16');
      // a product beyond the f16 range saturates at +-65504 instead of becoming Inf
      const big = linear(
        rt!,
        rt!.upload([300, -300, 300, 300], [1, 4], 'f16'),
        rt!.upload([300, 300, 300, 300, -300, 0, 0, 0], [2, 4]),
        null,
        'none',
        { variant },
      );
      expect(Array.from(await rt!.read(big))).toEqual([65504, -65504]);
    });
  }

  const attnCases: Array<[AttentionVariant, number, number, number, number, number]> = [
    // variant, B, Nq, Nk, heads, Dh
    ['software', 2, 70, 37, 2, 8],
    ['tiled', 2, 70, 37, 2, 8],
    ['split', 2, 9, 40, 1, 64],
    ['software', 1, 64, 21, 2, 16],
  ];
  for (const [variant, B, Nq, Nk, H, Dh] of attnCases) {
    it(`attention ${variant} B=${B} Nq=${Nq} Nk=${Nk} H=${H} Dh=${Dh}: f16 k / v, key mask`, async () => {
      const C = H * Dh;
      const q = r.array(B * Nq * C);
      const k = half(r.array(B * Nk * C));
      const v = half(r.array(B * Nk * C));
      const mask = new Float32Array(B * Nk);
      mask.fill(-Infinity, Nk - 3, Nk); // padding of batch row 0
      const masked = variant !== 'split';
      const o = attention(
        rt!,
        rt!.upload(q, [B, Nq, C]),
        rt!.upload(k, [B, Nk, C], 'f16'),
        rt!.upload(v, [B, Nk, C], 'f16'),
        {
          heads: H,
          variant,
          mask: masked ? rt!.upload(mask, [B, Nk]) : null,
        },
      );
      expect(o.dtype).toBe('f32');
      const ref = attentionRef(q, k, v, { B, Nq, Nk, H, Dh, mask: masked ? mask : null });
      expectClose(await rt!.read(o), ref, F32_TOL, `attention ${variant} f16 kv`);
    });
  }

  it('elementwise: round_bf16 stored f16, f16 unary, f16 binary (vec4, repeated, strided)', async () => {
    // memory features: bf16 rounding, then the f16 store is exact within f16's normal range
    const x = r.array(4 * 37, 8);
    x[0] = 1e6; // saturates
    x[1] = -1e6;
    x[2] = 3e-6; // subnormal in f16
    const y = unary(rt!, rt!.upload(x, [4, 37]), 'round_bf16', { dtype: 'f16' });
    expect(y.dtype).toBe('f16');
    const want = half(Float32Array.from(x, roundBf16)).map((v) => Math.max(-65504, Math.min(65504, v)));
    want[0] = 65504;
    want[1] = -65504;
    expect(Array.from(await rt!.read(y))).toEqual(Array.from(want));
    // f16 in, f16 out (affine through identity) and f16 in, f32 out
    const h = half(r.array(10));
    const yh = unary(rt!, rt!.upload(h, [10], 'f16'), 'identity', { alpha: 2, beta: 0.5 });
    expect(yh.dtype).toBe('f16');
    expectClose(
      await rt!.read(yh),
      Float64Array.from(h, (t) => 2 * t + 0.5),
      HALF_TOL,
      'affine f16',
    );
    const yf = unary(rt!, rt!.upload(h, [10], 'f16'), 'sigmoid', { dtype: 'f32' });
    expect(yf.dtype).toBe('f32');
    expectClose(
      await rt!.read(yf),
      Float64Array.from(h, (t) => 1 / (1 + Math.exp(-t))),
      F32_TOL,
      'sigmoid f16 in',
    );
    // memory + positions: same shape (vec4), positions of batch 1 repeated over B (vec4), and a
    // broadcast the vec4 path cannot take (strided)
    for (const [as, bs] of [
      [
        [2, 12, 8],
        [2, 12, 8],
      ],
      [
        [3, 12, 8],
        [1, 12, 8],
      ],
      [
        [3, 5, 7],
        [3, 1, 7],
      ],
    ]) {
      const a = half(r.array(prod(as)));
      const b = half(r.array(prod(bs)));
      const s = binary(rt!, rt!.upload(a, as, 'f16'), rt!.upload(b, bs, 'f16'), 'add');
      expect(s.dtype).toBe('f16');
      const got = await rt!.read(s);
      expectHalf(got, 'add');
      expectClose(got, binaryRef(a, as, b, bs, 'add').y, HALF_TOL, `add f16 ${as} + ${bs}`);
    }
  });

  for (const variant of ['row', 'workgroup'] as const) {
    for (const [rows, c] of [
      [5, 12],
      [3, 7],
    ]) {
      it(`layerNorm ${variant} ${rows}x${c}: f16 output (Hiera's norm1 / norm2 under precision f16)`, async () => {
        const x = r.array(rows * c, 3, 1);
        const w = r.array(c);
        const b = r.array(c);
        const y = layerNorm(rt!, rt!.upload(x, [rows, c]), rt!.upload(w, [c]), rt!.upload(b, [c]), 1e-6, {
          variant,
          outDtype: 'f16',
        });
        expect(y.dtype).toBe('f16');
        const got = await rt!.read(y);
        expectHalf(got, 'layerNorm');
        expectClose(got, layerNormRef(x, rows, c, w, b, 1e-6).y, HALF_TOL, `layerNorm ${variant} f16 out`);
      });
    }
  }

  it('MLP under f16 weights: hidden layers stored f16, output f32 (f32 A -> f16 C, f16 A -> f32 C)', async () => {
    const dims = [6, 12, 12, 5];
    const mlp = new MLP(6, 12, 5, 3, 'gelu');
    const ws = mlp.layers.map((_, i) => half(r.array(dims[i + 1] * dims[i])));
    const bs = mlp.layers.map((_, i) => r.array(dims[i + 1]));
    mlp.layers.forEach((l, i) => {
      l.weight.tensor = rt!.upload(ws[i], [dims[i + 1], dims[i]], 'f16');
      l.bias!.tensor = rt!.upload(bs[i], [dims[i + 1]]);
    });
    const x = r.array(7 * 6);
    const made: string[] = [];
    const empty = rt!.empty.bind(rt!);
    rt!.empty = (shape, dtype, label) => {
      made.push(`${label} ${dtype}`);
      return empty(shape, dtype, label);
    };
    let y: Tensor;
    try {
      y = mlp.forward(rt!, rt!.upload(x, [7, 6]));
    } finally {
      rt!.empty = empty;
    }
    expect(made.filter((m) => m.startsWith('linear'))).toEqual(['linear f16', 'linear f16', 'linear f32']);
    expect(y.dtype).toBe('f32');
    // reference: float64 layers on the f16 weights, each hidden activation rounded to f16
    let h: ArrayLike<number> = x;
    mlp.layers.forEach((_, i) => {
      const last = i === mlp.layers.length - 1;
      const o = linearRef(h, [7, dims[i]], ws[i], [dims[i + 1], dims[i]], bs[i], last ? 'none' : 'gelu').y;
      h = last ? o : half(o);
    });
    expectClose(await rt!.read(y), h, HALF_TOL, 'MLP f16 hidden');
  });

  it('refuses mixed storage and autograd through f16 activations', () => {
    const a16 = rt!.upload(new Float32Array(8), [2, 4], 'f16');
    const a32 = rt!.upload(new Float32Array(8), [2, 4]);
    expect(() => binary(rt!, a16, a32, 'add')).toThrow(/one dtype/);
    const q = rt!.upload(new Float32Array(16), [1, 4, 4]);
    const k16 = rt!.upload(new Float32Array(16), [1, 4, 4], 'f16');
    const v32 = rt!.upload(new Float32Array(16), [1, 4, 4]);
    expect(() => attention(rt!, q, k16, v32, { heads: 1 })).toThrow(/k and v are stored alike/);
    expect(() => attention(rt!, k16, k16, k16, { heads: 1 })).toThrow(/q must be f32/);
    const w = rt!.upload(new Float32Array(16), [4, 4]);
    w.requiresGrad = true;
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    try {
      expect(() => linear(rt!, a16, w)).toThrow(/inference only/);
      const qg = rt!.upload(new Float32Array(16), [1, 4, 4]);
      qg.requiresGrad = true;
      expect(() => attention(rt!, qg, k16, k16, { heads: 1, variant: 'software' })).toThrow(/inference only/);
      expect(() => binary(rt!, a16, a16, 'add')).not.toThrow(); // nothing on the tape wants these
    } finally {
      rt!.tape = null;
      tape.dispose();
    }
  });
});
