import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { avgPool2d, maxPool2d, maxPool2dBackward, maxPool2dWithIndices } from '../../src/kernels/pool.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { finiteDiff } from '../ref/conv2d.js';
import { avgPool2dBackwardRef, avgPool2dRef, maxPool2dBackwardRef, maxPool2dRef, type PoolGeom } from '../ref/pool.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();

// Max pooling copies values and its gradient adds at most a few dy values: exact in f32.
const EXACT = { atol: 0, rtol: 0 };
// Averages: one f32 sum of <= 9 values and a division, ~1 ulp of the result.
const AVG_TOL = { atol: 1e-6, rtol: 1e-6 };

const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

interface Case {
  name: string;
  xs: number[];
  o: PoolGeom;
}
const MAX_CASES: Case[] = [
  { name: 'Hiera q-pool 2x2 s2 NHWC, odd grid (floor)', xs: [2, 7, 9, 5], o: { kernel: 2, layout: 'NHWC' } },
  { name: '2x2 s2 NCHW', xs: [1, 3, 8, 6], o: { kernel: 2 } },
  { name: '3x3 s2 p1 (overlapping)', xs: [2, 3, 9, 10], o: { kernel: 3, stride: 2, padding: 1 } },
  { name: '3x3 s2 p1 NHWC', xs: [1, 9, 10, 4], o: { kernel: 3, stride: 2, padding: 1, layout: 'NHWC' } },
  { name: 'ceil mode 3x3 s2', xs: [1, 2, 8, 7], o: { kernel: 3, stride: 2, ceilMode: true } },
  { name: 'ceil mode 2x2 s2 p1', xs: [1, 2, 5, 6], o: { kernel: 2, stride: 2, padding: 1, ceilMode: true } },
  { name: 'dilation 2, stride 1', xs: [1, 2, 7, 6], o: { kernel: 3, stride: 1, dilation: 2, padding: 2 } },
  {
    name: 'asymmetric kernel [1,3] stride [1,2]',
    xs: [1, 3, 5, 9],
    o: { kernel: [1, 3], stride: [1, 2], padding: [0, 1] },
  },
  {
    name: 'NHWC C=8 (vec4 path) 3x3 s2 p1 ceil',
    xs: [1, 7, 6, 8],
    o: { kernel: 3, stride: 2, padding: 1, ceilMode: true, layout: 'NHWC' },
  },
  { name: 'NHWC C=12 (vec4 path) 2x2 batch 2', xs: [2, 4, 6, 12], o: { kernel: 2, layout: 'NHWC' } },
  { name: '1x1 image', xs: [1, 1, 1, 1], o: { kernel: 1 } },
  { name: 'empty batch', xs: [0, 3, 4, 4], o: { kernel: 2 } },
];

describe.skipIf(!rt)('max_pool2d', () => {
  const r = rng(21);
  for (const c of MAX_CASES) {
    it(`${c.name}: values, indices, backward`, async () => {
      const xv = r.array(n(c.xs));
      const x = rt!.upload(xv, c.xs);
      const ref = maxPool2dRef(xv, c.xs, c.o);
      const { y, indices } = maxPool2dWithIndices(rt!, x, c.o);
      expect(y.shape).toEqual(ref.shape);
      expectClose(await rt!.read(y), ref.y, EXACT, 'y');
      expect(Array.from(await rt!.read(indices, 'raw'))).toEqual(Array.from(ref.idx));
      expectClose(await rt!.read(maxPool2d(rt!, x, c.o)), ref.y, EXACT, 'y (no indices)');
      const dyv = r.array(n(ref.shape));
      const dx = maxPool2dBackward(rt!, indices, rt!.upload(dyv, ref.shape), x, c.o);
      // overlapping windows add up to 4 dy values in a different order than the reference: 1 ulp
      expectClose(await rt!.read(dx), maxPool2dBackwardRef(c.xs, ref.idx, dyv, c.o), { atol: 1e-7, rtol: 1e-6 }, 'dx');
    });
  }

  it('ties go to the first tap in window order; all -inf windows point at the first in-image tap', async () => {
    const xs = [1, 1, 4, 4];
    const xv = new Float32Array([1, 1, 2, 0, 1, 1, 2, 2, -Infinity, -Infinity, 5, 5, -Infinity, -Infinity, 5, 5]);
    const o: PoolGeom = { kernel: 2 };
    const { y, indices } = maxPool2dWithIndices(rt!, rt!.upload(xv, xs), o);
    expect(Array.from(await rt!.read(y))).toEqual([1, 2, -Infinity, 5]);
    expect(Array.from(await rt!.read(indices, 'raw'))).toEqual([0, 2, 8, 10]);
    expect(Array.from(maxPool2dRef(xv, xs, o).idx)).toEqual([0, 2, 8, 10]);
    // padded window: first in-image tap is (0, 0) for window (0, 0)
    const p = maxPool2dWithIndices(rt!, rt!.upload(new Float32Array(4).fill(-Infinity), [1, 1, 2, 2]), {
      kernel: 2,
      padding: 1,
    });
    expect(Array.from(await rt!.read(p.indices, 'raw'))).toEqual([0, 1, 2, 3]);
  });

  it('ties on the NHWC vec4 path keep the first tap of each channel', async () => {
    // 2x2 grid, 4 channels: channel c has its max (value 1) at taps >= c; ties -> the first of them
    const xv = new Float32Array(16);
    for (let p = 0; p < 4; p++) for (let c = 0; c < 4; c++) xv[p * 4 + c] = p >= c ? 1 : 0;
    const { indices } = maxPool2dWithIndices(rt!, rt!.upload(xv, [1, 2, 2, 4]), { kernel: 2, layout: 'NHWC' });
    expect(Array.from(await rt!.read(indices, 'raw'))).toEqual([0, 1, 2, 3]);
  });

  it('unaligned NHWC view (scalar path)', async () => {
    const xs = [1, 4, 4, 8];
    const big = r.array(n(xs) + 1);
    const x = rt!
      .upload(big, [n(xs) + 1])
      .narrow0(1, n(xs))
      .reshape(xs);
    const o: PoolGeom = { kernel: 2, layout: 'NHWC' };
    expectClose(await rt!.read(maxPool2d(rt!, x, o)), maxPool2dRef(big.slice(1), xs, o).y, EXACT, 'view');
  });

  it('records on the tape (gradient to the argmax, overlapping windows summed)', async () => {
    const c = MAX_CASES[2];
    const xv = r.array(n(c.xs));
    const x = rt!.upload(xv, c.xs);
    x.requiresGrad = true;
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    const y = maxPool2d(rt!, x, c.o);
    rt!.tape = null;
    const dyv = r.array(y.size);
    tape.backward(y, rt!.upload(dyv, y.shape));
    const ref = maxPool2dRef(xv, c.xs, c.o);
    expectClose(
      await rt!.read(x.grad!),
      maxPool2dBackwardRef(c.xs, ref.idx, dyv, c.o),
      { atol: 1e-7, rtol: 1e-6 },
      'x.grad',
    );
    tape.dispose();
  });

  it('rejects bad inputs, naming the shapes', () => {
    const z = (s: number[]) => rt!.zeros(s);
    expect(() => maxPool2d(rt!, z([3, 4, 4]), { kernel: 2 })).toThrow(/\[B, C, H, W\], got \[3, 4, 4\]/);
    expect(() => maxPool2d(rt!, z([1, 3, 4, 4]), { kernel: 2, padding: 2 })).toThrow(
      /padding \[2, 2\] must be at most half of the kernel \[2, 2\]/,
    );
    expect(() => maxPool2d(rt!, z([1, 3, 1, 4]), { kernel: 2 })).toThrow(
      /input \[1, 3, 1, 4\] \(NCHW\) is smaller than the kernel/,
    );
    expect(() => maxPool2d(rt!, z([1, 3, 4, 4]), { kernel: 0 })).toThrow(/kernel must be an integer >= 1/);
  });
});

const AVG_CASES: Case[] = [
  { name: '2x2 s2', xs: [1, 3, 8, 6], o: { kernel: 2 } },
  { name: '3x3 s2 p1 include pad', xs: [2, 2, 7, 9], o: { kernel: 3, stride: 2, padding: 1 } },
  { name: '3x3 s2 p1 exclude pad', xs: [2, 2, 7, 9], o: { kernel: 3, stride: 2, padding: 1, countIncludePad: false } },
  { name: 'ceil mode 3x3 s2 p1', xs: [1, 2, 6, 8], o: { kernel: 3, stride: 2, padding: 1, ceilMode: true } },
  {
    name: 'ceil mode exclude pad NHWC',
    xs: [1, 6, 8, 3],
    o: { kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false, layout: 'NHWC' },
  },
  { name: 'empty batch', xs: [0, 2, 4, 4], o: { kernel: 2 } },
];

describe.skipIf(!rt)('avg_pool2d', () => {
  const r = rng(22);
  for (const c of AVG_CASES) {
    it(`${c.name}: forward and tape backward`, async () => {
      const xv = r.array(n(c.xs));
      const x = rt!.upload(xv, c.xs);
      x.requiresGrad = true;
      const tape = new Tape(rt!, TAPE_OPS);
      rt!.tape = tape;
      const y = avgPool2d(rt!, x, c.o);
      rt!.tape = null;
      const ref = avgPool2dRef(xv, c.xs, c.o);
      expect(y.shape).toEqual(ref.shape);
      expectClose(await rt!.read(y), ref.y, AVG_TOL, 'y');
      const dyv = r.array(y.size);
      tape.backward(y, rt!.upload(dyv, y.shape));
      expectClose(await rt!.read(x.grad!), avgPool2dBackwardRef(c.xs, dyv, c.o), AVG_TOL, 'x.grad');
      tape.dispose();
    });
  }
});

describe('pool reference gradients (finite differences, float64)', () => {
  const r = rng(23);
  // central differences: exact for the linear average, and for max away from ties (random data)
  const fd = { atol: 1e-7, rtol: 1e-6 };
  it('max pool 3x3 s2 p1 NHWC', () => {
    const xs = [1, 5, 6, 2];
    const o: PoolGeom = { kernel: 3, stride: 2, padding: 1, layout: 'NHWC' };
    const x = Float64Array.from(r.array(n(xs)));
    const ref = maxPool2dRef(x, xs, o);
    const dy = Float64Array.from(r.array(ref.y.length));
    expectClose(
      maxPool2dBackwardRef(xs, ref.idx, dy, o),
      finiteDiff((v) => maxPool2dRef(v, xs, o).y, x, dy, 1e-7),
      fd,
      'max dx',
    );
  });
  it('avg pool ceil mode exclude pad', () => {
    const xs = [1, 2, 6, 5];
    const o: PoolGeom = { kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false };
    const x = Float64Array.from(r.array(n(xs)));
    const dy = Float64Array.from(r.array(avgPool2dRef(x, xs, o).y.length));
    expectClose(
      avgPool2dBackwardRef(xs, dy, o),
      finiteDiff((v) => avgPool2dRef(v, xs, o).y, x, dy),
      fd,
      'avg dx',
    );
  });
});
