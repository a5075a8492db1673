import { describe, expect, it } from 'vitest';
import {
  affine,
  binary,
  channelBroadcast,
  gelu,
  unary,
  unaryBackward,
  type BinaryOp,
  type UnaryOp,
} from '../../src/kernels/elementwise.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { binaryRef, UNARY_GRAD, unaryRef } from '../ref/elementwise.js';
import { roundBf16 } from '../../src/graph/dtype.js';

const rt = await testRuntime();

// f32 kernels vs float64 references: erf-based GELU within 2e-7 abs of the exact value,
// exp/tanh/sigmoid within a few ulp.
const TOL = { atol: 1e-6, rtol: 1e-5 };

describe.skipIf(!rt)('elementwise', () => {
  const r = rng(1);
  // awkward sizes: 0, 1, not a multiple of the workgroup (128), multiple of it
  for (const n of [0, 1, 127, 129, 1000]) {
    for (const op of [
      'relu',
      'gelu',
      'sigmoid',
      'identity',
      'exp',
      'tanh',
      'abs',
      'neg',
      'round_bf16',
      'step',
    ] as UnaryOp[]) {
      it(`${op} n=${n}`, async () => {
        const xs = r.array(n, 6);
        const x = rt!.upload(xs, [n]);
        const y = unary(rt!, x, op, { alpha: 1.5, beta: -0.25 });
        expectClose(await rt!.read(y), unaryRef(xs, op, 1.5, -0.25), TOL, op);
      });
    }
  }

  it('gelu matches the exact erf form in the tails and near 0', async () => {
    const xs = Float32Array.from([-10, -5, -3.5, -1e-3, 0, 1e-8, 0.49, 0.5, 0.51, 3.9, 4.1, 8]);
    const y = gelu(rt!, rt!.upload(xs, [xs.length]));
    expectClose(await rt!.read(y), unaryRef(xs, 'gelu'), { atol: 2e-7, rtol: 2e-6 }, 'gelu');
  });

  it('round_bf16 is exact (nearest even, ties included)', async () => {
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: -3.1415927 is a bf16 rounding input, not pi
    const xs = Float32Array.from([1, 1.00390625, 1.01171875, -3.1415927, 65504.5, 1e-30, 0.5, 3.3895314e38]);
    const y = await rt!.read(unary(rt!, rt!.upload(xs, [xs.length]), 'round_bf16'));
    expect(Array.from(y)).toEqual(Array.from(xs, (v) => roundBf16(v)));
  });

  it('sigmoid is finite for huge inputs', async () => {
    const xs = Float32Array.from([-1e30, -100, 100, 1e30]);
    const y = await rt!.read(unary(rt!, rt!.upload(xs, [4]), 'sigmoid'));
    expect(Array.from(y)).toEqual([0, expect.closeTo(0, 30), 1, 1]);
  });

  const cases: Array<[number[], number[]]> = [
    [[7], [7]],
    [[3, 5], [5]],
    [
      [3, 2, 8],
      [1, 2, 8],
    ],
    [[4], [3, 1, 4]],
    [
      [2, 8],
      [2, 8],
    ],
    [
      [2, 3, 4],
      [3, 1],
    ],
    [[1], [4, 2]],
    [
      [2, 1, 3],
      [1, 4, 1],
    ],
    [[0, 3], [3]],
    // per-channel (BINARY_CHANNEL): bias over NCHW maps, either operand order; inner % 4 != 0 falls back
    [
      [2, 5, 3, 4],
      [5, 1, 1],
    ],
    [
      [1, 6, 2, 2],
      [1, 6, 1, 1],
    ],
    [
      [5, 1, 1],
      [2, 5, 2, 4],
    ],
    [
      [1, 3, 3, 3],
      [3, 1, 1],
    ],
    [
      [2, 1, 1, 1, 1, 1, 1, 5],
      [3, 1, 1, 1, 1, 1, 1],
    ],
  ];
  for (const op of ['add', 'sub', 'mul', 'div', 'max', 'min'] as BinaryOp[]) {
    for (const [as, bs] of cases) {
      it(`${op} ${JSON.stringify(as)} x ${JSON.stringify(bs)}`, async () => {
        const na = as.reduce((a, b) => a * b, 1);
        const nb = bs.reduce((a, b) => a * b, 1);
        const av = r.array(na, 3);
        const bv = r.array(nb, 3).map((v) => (op === 'div' ? v + Math.sign(v || 1) * 0.5 : v));
        const y = binary(rt!, rt!.upload(av, as), rt!.upload(bv, bs), op, { alpha: 0.5, beta: 2 });
        const ref = binaryRef(av, as, bv, bs, op, 0.5, 2);
        expect(y.shape).toEqual(ref.shape);
        expectClose(await rt!.read(y), ref.y, TOL, op);
      });
    }
  }

  it('recognises the per-channel broadcast after collapsing dims, and only that', () => {
    // [1, 256, 64, 64] + [1, 256, 1, 1] -> [256, 4096], strides a (4096, 1), b (1, 0)
    expect(channelBroadcast({ shape: [256, 4096], as: [4096, 1], bs: [1, 0] })).toEqual({
      channels: 256,
      inner: 4096,
      chFirst: false,
    });
    expect(channelBroadcast({ shape: [2, 5, 12], as: [0, 1, 0], bs: [60, 12, 1] })).toEqual({
      channels: 5,
      inner: 12,
      chFirst: true,
    });
    expect(channelBroadcast({ shape: [3, 9], as: [9, 1], bs: [1, 0] })).toBeNull(); // inner % 4
    expect(channelBroadcast({ shape: [2, 5, 12], as: [60, 12, 1], bs: [5, 1, 0] })).toBeNull(); // b per (n, c)
    expect(channelBroadcast({ shape: [8, 12], as: [12, 1], bs: [0, 1] })).toBeNull(); // row broadcast
  });

  it('rejects shapes that do not broadcast, naming both', () => {
    expect(() => binary(rt!, rt!.zeros([2, 3]), rt!.zeros([4]), 'add')).toThrow(/\[2, 3\] and \[4\]/);
  });

  for (const op of ['relu', 'gelu', 'sigmoid', 'identity'] as UnaryOp[]) {
    it(`${op} backward`, async () => {
      const n = 300;
      const xs = r.array(n, 4);
      const dys = r.array(n, 1);
      const dx = unaryBackward(rt!, rt!.upload(xs, [n]), rt!.upload(dys, [n]), op, 2, 0.1);
      const ref = Float64Array.from(xs, (v, i) => dys[i] * 2 * UNARY_GRAD[op](2 * v + 0.1));
      expectClose(await rt!.read(dx), ref, TOL, `${op}_backward`);
    });
  }

  it('works on views at unaligned offsets', async () => {
    const xs = r.array(50, 2);
    const x = rt!.upload(xs, [10, 5]);
    const v = x.narrow0(3, 4); // byte offset 60: not 256-aligned
    const y = affine(rt!, v, 2, 1);
    expectClose(await rt!.read(y), unaryRef(xs.slice(15, 35), 'identity', 2, 1), TOL, 'view');
  });

  it('batches many dispatches into few submits', async () => {
    const before = rt!.submits;
    let x = rt!.upload([1, 2, 3], [3]);
    for (let i = 0; i < 100; i++) x = affine(rt!, x, 1, 1);
    const y = await rt!.read(x);
    expect(Array.from(y)).toEqual([101, 102, 103]);
    expect(rt!.submits - before).toBeLessThanOrEqual(3);
  });
});
