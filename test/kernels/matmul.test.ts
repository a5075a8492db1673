import { describe, expect, it } from 'vitest';
import { linear, matmul, type Activation, type MatmulVariant } from '../../src/kernels/matmul.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { linearRef, matmulGradRef, matmulRef, type MatmulRefOptions } from '../ref/matmul.js';
import { tapeGrads } from '../helpers/tape.js';

const rt = await testRuntime();

// f32 accumulation over K <= 130 products of values in [-1, 1] against float64: errors stay
// around 1e-6; the exact-erf GELU adds < 2e-7.
const TOL = { atol: 1e-5, rtol: 1e-4 };
// Gradients sum over up to M*batch rows as well: a little looser.
const GRAD_TOL = { atol: 3e-5, rtol: 3e-4 };
const VARIANTS: MatmulVariant[] = ['software', 'rows', 'tiled'];
const prod = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);

describe.skipIf(!rt)('matmul', () => {
  const r = rng(7);

  async function check(
    aShape: number[],
    bShape: number[],
    o: MatmulRefOptions & { variant: MatmulVariant },
    what: string,
  ) {
    const a = r.array(prod(aShape));
    const b = r.array(prod(bShape));
    const ref0 = matmulRef(a, aShape, b, bShape, o);
    const N = ref0.shape[ref0.shape.length - 1];
    const bias = o.bias ? r.array(N) : null;
    const ref = matmulRef(a, aShape, b, bShape, { ...o, bias });
    const y = matmul(rt!, rt!.upload(a, aShape), rt!.upload(b, bShape), {
      ...o,
      bias: bias ? rt!.upload(bias, [N]) : null,
    });
    expect(y.shape).toEqual(ref.shape);
    expectClose(await rt!.read(y), ref.y, TOL, what);
  }

  // [M, K, N]: size 1, not multiples of 4 or of the 64 tile, tile multiples, K = 0
  const sizes: Array<[number, number, number]> = [
    [1, 1, 1],
    [5, 7, 9],
    [4, 12, 8],
    [33, 17, 70],
    [65, 20, 3],
    [64, 64, 64],
    [67, 130, 66],
    [3, 0, 5],
  ];
  for (const variant of VARIANTS) {
    for (const [M, K, N] of sizes) {
      for (const [transA, transB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const what = `${variant} ${M}x${K}x${N} tA=${transA} tB=${transB}`;
        it(what, async () => {
          const aShape = transA ? [K, M] : [M, K];
          const bShape = transB ? [N, K] : [K, N];
          await check(aShape, bShape, { variant, transA, transB, bias: [1], act: 'gelu', alpha: 0.75 }, what);
        });
      }
    }
    for (const act of ['none', 'relu', 'gelu'] as Activation[]) {
      it(`${variant} act=${act} without bias`, async () => {
        await check([9, 16], [16, 12], { variant, act }, `${variant} ${act}`);
      });
    }
    it(`${variant} batched A with shared B (folded)`, async () => {
      await check([2, 3, 5, 8], [8, 6], { variant, bias: [1], act: 'relu' }, 'fold');
    });
    it(`${variant} batch broadcast on both sides`, async () => {
      await check([2, 1, 5, 7], [3, 7, 6], { variant }, 'broadcast');
      await check([3, 4, 8], [1, 6, 4], { variant, transA: true, transB: true }, 'broadcast T');
    });
    it(`${variant} transposed A with shared B (not folded)`, async () => {
      await check([3, 8, 5], [8, 6], { variant, transA: true }, 'tA shared B');
    });
    it(`${variant} empty outputs and K = 0`, async () => {
      const y0 = matmul(rt!, rt!.zeros([0, 4]), rt!.zeros([4, 3]), { variant });
      expect(y0.shape).toEqual([0, 3]);
      const y1 = matmul(rt!, rt!.zeros([2, 4]), rt!.zeros([4, 0]), { variant });
      expect(y1.shape).toEqual([2, 0]);
      // K = 0: output = act(bias)
      const bias = Float32Array.from([-1, 0.5, 2]);
      const y2 = matmul(rt!, rt!.zeros([2, 0]), rt!.zeros([0, 3]), {
        variant,
        bias: rt!.upload(bias, [3]),
        act: 'relu',
      });
      expect(Array.from(await rt!.read(y2))).toEqual([0, 0.5, 2, 0, 0.5, 2]);
    });
    it(`${variant} linear over [..., in]`, async () => {
      const x = r.array(2 * 3 * 20),
        w = r.array(12 * 20),
        bias = r.array(12);
      const y = linear(rt!, rt!.upload(x, [2, 3, 20]), rt!.upload(w, [12, 20]), rt!.upload(bias, [12]), 'gelu', {
        variant,
      });
      const ref = linearRef(x, [2, 3, 20], w, [12, 20], bias, 'gelu');
      expect(y.shape).toEqual([2, 3, 12]);
      expectClose(await rt!.read(y), ref.y, TOL, 'linear');
      const x1 = r.array(20);
      const y1 = linear(rt!, rt!.upload(x1, [20]), rt!.upload(w, [12, 20]), null, 'none', { variant });
      expect(y1.shape).toEqual([12]);
      expectClose(await rt!.read(y1), linearRef(x1, [20], w, [12, 20]).y, TOL, 'linear rank 1');
    });
    it(`${variant} reads views at unaligned offsets`, async () => {
      const xs = r.array(10 * 8);
      const x = rt!.upload(xs, [10, 8]).narrow0(3, 5); // 96-byte offset: scalar path
      const w = r.array(6 * 8);
      const y = linear(rt!, x, rt!.upload(w, [6, 8]), null, 'none', { variant });
      expectClose(await rt!.read(y), linearRef(xs.slice(24, 64), [5, 8], w, [6, 8]).y, TOL, 'view');
    });
  }

  it('rejects bad shapes with the shapes in the message', () => {
    expect(() => matmul(rt!, rt!.zeros([3, 4]), rt!.zeros([5, 6]))).toThrow(/\[3, 4\].*K=4.*\[5, 6\].*K=5/);
    expect(() => matmul(rt!, rt!.zeros([4]), rt!.zeros([4, 6]))).toThrow(/rank >= 2/);
    expect(() => matmul(rt!, rt!.zeros([2, 3, 4]), rt!.zeros([3, 4, 5]))).toThrow(/do not broadcast/);
    expect(() => matmul(rt!, rt!.zeros([3, 4]), rt!.zeros([4, 5]), { bias: rt!.zeros([4]) })).toThrow(
      /bias \[4\] must be \[5\]/,
    );
    expect(() => linear(rt!, rt!.zeros([2, 7]), rt!.zeros([3, 8]))).toThrow(/7 input features.*\[3, 8\]/);
  });
});

describe.skipIf(!rt)('matmul backward', () => {
  const r = rng(11);

  const cases: Array<{ a: number[]; b: number[]; o: MatmulRefOptions }> = [
    { a: [5, 7], b: [7, 6], o: { bias: [1], act: 'gelu', alpha: 0.5 } },
    { a: [7, 5], b: [6, 7], o: { transA: true, transB: true, act: 'relu' } },
    { a: [2, 3, 4, 9], b: [9, 5], o: { bias: [1] } }, // shared B: folded dB
    { a: [2, 3, 9, 4], b: [9, 5], o: { transA: true } }, // shared B, A^T: reduced dB
    { a: [2, 1, 4, 6], b: [3, 5, 6], o: { transB: true, act: 'gelu' } }, // broadcast both
  ];
  for (const variant of VARIANTS) {
    for (const c of cases) {
      it(`${variant} ${JSON.stringify(c)} vs float64 reference`, async () => {
        const a = r.array(prod(c.a)),
          b = r.array(prod(c.b));
        const shape = matmulRef(a, c.a, b, c.b, c.o).shape;
        const N = shape[shape.length - 1];
        const bias = c.o.bias ? r.array(N) : null;
        const dy = r.array(prod(shape));
        const o = { ...c.o, bias };
        const ref = matmulGradRef(a, c.a, b, c.b, dy, o);
        const ta = rt!.upload(a, c.a),
          tb = rt!.upload(b, c.b),
          tbias = bias ? rt!.upload(bias, [N]) : null;
        const leaves = tbias ? [ta, tb, tbias] : [ta, tb];
        const [ga, gb, gbias] = await tapeGrads(
          rt!,
          leaves,
          () => matmul(rt!, ta, tb, { ...c.o, bias: tbias, act: c.o.act as Activation, variant }),
          dy,
        );
        expectClose(ga!, ref.da, GRAD_TOL, 'dA');
        expectClose(gb!, ref.db, GRAD_TOL, 'dB');
        if (bias) expectClose(gbias!, ref.dbias, GRAD_TOL, 'dbias');
      });
    }
  }

  it('linear backward matches central finite differences of the float64 forward', async () => {
    const xs = [2, 3, 5],
      ws = [4, 5];
    const x = r.array(prod(xs)),
      w = r.array(prod(ws)),
      bias = r.array(4);
    const dy = r.array(2 * 3 * 4);
    const loss = (xv: ArrayLike<number>, wv: ArrayLike<number>, bv: ArrayLike<number>) =>
      linearRef(xv, xs, wv, ws, bv, 'gelu').y.reduce((s, v, i) => s + v * dy[i], 0);
    const fd = (vals: Float32Array, f: (v: Float64Array) => number) => {
      const eps = 1e-5;
      const v = Float64Array.from(vals);
      return Float64Array.from(vals, (_, i) => {
        const o = v[i];
        v[i] = o + eps;
        const lp = f(v);
        v[i] = o - eps;
        const lm = f(v);
        v[i] = o;
        return (lp - lm) / (2 * eps);
      });
    };
    const tx = rt!.upload(x, xs),
      tw = rt!.upload(w, ws),
      tb = rt!.upload(bias, [4]);
    const [gx, gw, gb] = await tapeGrads(rt!, [tx, tw, tb], () => linear(rt!, tx, tw, tb, 'gelu'), dy);
    // f32 GPU gradients against float64 finite differences (truncation error ~1e-10)
    const FD_TOL = { atol: 2e-5, rtol: 2e-4 };
    expectClose(
      gx!,
      fd(x, (v) => loss(v, w, bias)),
      FD_TOL,
      'dx',
    );
    expectClose(
      gw!,
      fd(w, (v) => loss(x, v, bias)),
      FD_TOL,
      'dW',
    );
    expectClose(
      gb!,
      fd(bias, (v) => loss(x, w, v)),
      FD_TOL,
      'dbias',
    );
  });
});
