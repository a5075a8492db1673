import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import type { Tensor } from '../../src/graph/tensor.js';
import {
  biasGrad,
  conv2d,
  conv2dGeometry,
  conv2dInputGrad,
  conv2dWeightGrad,
  type Conv2dImpl,
  type Conv2dOptions,
} from '../../src/kernels/conv2d.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { conv2dBackwardRef, conv2dRef } from '../ref/conv2d.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';
import { expectGradsMatchFiniteDiff } from '../helpers/bilinear_grads.js';

const rt = await testRuntime();

// f32 sums of at most a few hundred products of O(1) values against float64: rounding error
// ~ K * 6e-8 * |terms| stays below 1e-5 absolute; rtol covers the few large outputs.
const TOL = { atol: 1e-5, rtol: 1e-4 };
// Gradients reduce over batch x pixels (up to ~1000 terms for dweight): a little looser.
const GTOL = { atol: 3e-5, rtol: 1e-4 };

interface Case {
  name: string;
  xs: number[];
  ws: number[];
  bias?: boolean;
  o: Conv2dOptions;
}
const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const CASES: Case[] = [
  { name: '3x3 p1, Cout 5, odd H/W', xs: [2, 3, 9, 11], ws: [5, 3, 3, 3], bias: true, o: { padding: 1 } },
  {
    name: 'patch embed k7 s4 p3 (3->8)',
    xs: [1, 3, 30, 33],
    ws: [8, 3, 7, 7],
    bias: true,
    o: { stride: 4, padding: 3 },
  },
  {
    name: 'mask downsampler 1->4 k3 s2 p1',
    xs: [1, 1, 17, 17],
    ws: [4, 1, 3, 3],
    bias: true,
    o: { stride: 2, padding: 1 },
  },
  {
    name: 'mask downsampler 4->16 k3 s2 p1',
    xs: [1, 4, 9, 10],
    ws: [16, 4, 3, 3],
    bias: true,
    o: { stride: 2, padding: 1 },
  },
  { name: '1x1 P=35 (scalar path)', xs: [2, 6, 5, 7], ws: [7, 6, 1, 1], bias: true, o: {} },
  { name: '1x1 P=64 (vec4 path)', xs: [2, 8, 8, 8], ws: [12, 8, 1, 1], bias: true, o: {} },
  { name: '1x1 stride 2', xs: [1, 5, 9, 9], ws: [6, 5, 1, 1], o: { stride: 2 } },
  {
    name: 'depthwise 7x7 p3 (CXBlock)',
    xs: [1, 6, 10, 13],
    ws: [6, 1, 7, 7],
    bias: true,
    o: { padding: 3, groups: 6 },
  },
  { name: 'depthwise 5x5 p2', xs: [2, 5, 8, 8], ws: [5, 1, 5, 5], o: { padding: 2, groups: 5 } },
  {
    name: 'depthwise 3x3 s2 p1',
    xs: [1, 4, 11, 11],
    ws: [4, 1, 3, 3],
    bias: true,
    o: { stride: 2, padding: 1, groups: 4 },
  },
  { name: 'depthwise 3x3 dilation 2', xs: [1, 3, 9, 9], ws: [3, 1, 3, 3], o: { padding: 2, dilation: 2, groups: 3 } },
  { name: '2x2 s2 (prompt mask encoder)', xs: [1, 1, 8, 8], ws: [4, 1, 2, 2], bias: true, o: { stride: 2 } },
  { name: 'groups 2, Cout/G 3', xs: [1, 4, 6, 7], ws: [6, 2, 3, 3], bias: true, o: { padding: 1, groups: 2 } },
  { name: 'depthwise multiplier 2', xs: [1, 3, 6, 6], ws: [6, 1, 3, 3], o: { padding: 1, groups: 3 } },
  { name: 'dilation 2', xs: [1, 3, 12, 10], ws: [5, 3, 3, 3], o: { padding: 2, dilation: 2 } },
  {
    name: 'asymmetric stride/pad/dilation',
    xs: [2, 2, 11, 13],
    ws: [3, 2, 3, 2],
    o: { stride: [1, 2], padding: [2, 0], dilation: [1, 3] },
  },
  { name: '1x1 image', xs: [1, 1, 1, 1], ws: [1, 1, 1, 1], bias: true, o: {} },
  { name: '1x1 image, 3x3 p1', xs: [1, 2, 1, 1], ws: [3, 2, 3, 3], o: { padding: 1 } },
  { name: 'kernel larger than image', xs: [1, 2, 3, 3], ws: [2, 2, 5, 5], o: { padding: 2 } },
  { name: 'RobotSeg head 3x3 ->1', xs: [1, 16, 8, 8], ws: [1, 16, 3, 3], bias: true, o: { padding: 1 } },
  { name: 'unused last rows (H=8 k3 s2)', xs: [1, 3, 8, 9], ws: [4, 3, 3, 3], o: { stride: 2 } },
  { name: 'empty batch', xs: [0, 3, 8, 8], ws: [4, 3, 3, 3], bias: true, o: { padding: 1 } },
  // 'rows' blocks: 2 channel blocks of 32 + 8 per workgroup, 5 pixel blocks of 256 (the last partial)
  { name: 'channel and pixel blocks', xs: [1, 3, 40, 30], ws: [40, 3, 3, 3], bias: true, o: { padding: 1 } },
  { name: 'groups 2, Cout/G 36, stride 2', xs: [2, 6, 9, 11], ws: [72, 3, 3, 3], o: { stride: 2, groups: 2 } },
];

function implsFor(c: Case): Conv2dImpl[] {
  const g = conv2dGeometry(c.xs, c.ws, null, c.o);
  const out: Conv2dImpl[] = ['auto', 'direct', 'rows', 'tiled'];
  if (g.cin_g === 1 && g.cout_g === 1) out.push('depthwise');
  if (g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0 && g.G === 1)
    out.push('pointwise');
  return out;
}

describe.skipIf(!rt)('conv2d', () => {
  const r = rng(7);
  for (const c of CASES) {
    for (const impl of implsFor(c)) {
      it(`${c.name} [${impl}]`, async () => {
        const xv = r.array(n(c.xs));
        const wv = r.array(n(c.ws));
        const bv = c.bias ? r.array(c.ws[0]) : null;
        const y = conv2d(rt!, rt!.upload(xv, c.xs), rt!.upload(wv, c.ws), bv ? rt!.upload(bv, [c.ws[0]]) : null, {
          ...c.o,
          impl,
        });
        const ref = conv2dRef(xv, c.xs, wv, c.ws, bv, c.o);
        expect(y.shape).toEqual(ref.shape);
        expectClose(await rt!.read(y), ref.y, TOL, `${c.name} ${impl}`);
      });
    }
  }

  for (const impl of ['direct', 'rows', 'pointwise', 'tiled', 'depthwise'] as Conv2dImpl[]) {
    it(`views at unaligned offsets [${impl}]`, async () => {
      const dw = impl === 'depthwise';
      const xs = [1, 4, 6, 8];
      const ws = dw ? [4, 1, 3, 3] : impl === 'pointwise' ? [5, 4, 1, 1] : [5, 4, 3, 3];
      const o: Conv2dOptions = dw ? { padding: 1, groups: 4 } : impl === 'pointwise' ? {} : { padding: 1 };
      const big = r.array(3 * n(xs));
      const wbig = r.array(n(ws) + 3);
      const bbig = r.array(ws[0] + 1);
      const x = rt!.upload(big, [3, ...xs.slice(1)]).narrow0(1, 1); // byte offset 768 + 0: aligned; shift below
      const xu = rt!
        .upload(big, [3 * n(xs)])
        .narrow0(1, n(xs))
        .reshape(xs); // element offset 1: unaligned, not vec4
      const w = rt!
        .upload(wbig, [n(ws) + 3])
        .narrow0(3, n(ws))
        .reshape(ws);
      const b = rt!.upload(bbig, [ws[0] + 1]).narrow0(1, ws[0]);
      for (const [xt, off] of [
        [x, n(xs)],
        [xu, 1],
      ] as Array<[Tensor, number]>) {
        const y = conv2d(rt!, xt, w, b, { ...o, impl });
        const ref = conv2dRef(big.slice(off, off + n(xs)), xs, wbig.slice(3), ws, bbig.slice(1), o);
        expectClose(await rt!.read(y), ref.y, TOL, `view ${impl} off ${off}`);
      }
    });
  }

  it('rejects bad inputs, naming the shapes', () => {
    const z = (s: number[]) => rt!.zeros(s);
    expect(() => conv2d(rt!, z([1, 3, 8, 8]), z([4, 2, 3, 3]))).toThrow(
      /input \[1, 3, 8, 8\] has 3 channels but weight \[4, 2, 3, 3\] with groups 1 expects 2/,
    );
    expect(() => conv2d(rt!, z([1, 4, 8, 8]), z([6, 2, 3, 3]), null, { groups: 3 })).toThrow(
      /groups 3 does not divide the 4 input channels of \[1, 4, 8, 8\]/,
    );
    expect(() => conv2d(rt!, z([1, 4, 8, 8]), z([6, 1, 3, 3]), null, { groups: 4 })).toThrow(
      /groups 4 does not divide the 6 output channels of weight \[6, 1, 3, 3\]/,
    );
    expect(() => conv2d(rt!, z([1, 3, 8, 8]), z([4, 3, 3, 3]), z([5]))).toThrow(/bias must be \[4\].*got \[5\]/);
    expect(() => conv2d(rt!, z([3, 8, 8]), z([4, 3, 3, 3]))).toThrow(/input must be \[B, Cin, H, W\], got \[3, 8, 8\]/);
    expect(() => conv2d(rt!, z([1, 3, 2, 2]), z([4, 3, 3, 3]))).toThrow(
      /input \[1, 3, 2, 2\].*smaller than weight \[4, 3, 3, 3\]/,
    );
    expect(() => conv2d(rt!, z([1, 3, 8, 8]), z([4, 3, 3, 3]), null, { stride: 0 })).toThrow(
      /stride must be an integer >= 1/,
    );
    expect(() => conv2d(rt!, z([1, 3, 8, 8]), z([4, 3, 3, 3]), null, { impl: 'pointwise' })).toThrow(/pointwise/);
    expect(() => conv2d(rt!, z([1, 3, 8, 8]), z([4, 3, 3, 3]), null, { impl: 'depthwise' })).toThrow(/depthwise/);
  });
});

// Backward: the float64 reference is itself checked against central finite differences, then the
// GPU gradients against the reference.
const GRAD_CASES: Case[] = [
  { name: '3x3 s2 p1', xs: [2, 3, 7, 8], ws: [5, 3, 3, 3], bias: true, o: { stride: 2, padding: 1 } },
  { name: 'depthwise 7x7 p3', xs: [1, 4, 9, 9], ws: [4, 1, 7, 7], bias: true, o: { padding: 3, groups: 4 } },
  { name: 'groups 2 dilation 2', xs: [1, 4, 8, 7], ws: [6, 2, 3, 3], o: { padding: 2, dilation: 2, groups: 2 } },
  { name: '1x1 256->256 (scaled)', xs: [2, 8, 4, 4], ws: [6, 8, 1, 1], bias: true, o: {} },
  { name: '2x2 s2', xs: [1, 2, 6, 6], ws: [5, 2, 2, 2], bias: true, o: { stride: 2 } },
  { name: 'unused rows (H=8 k3 s2), stride [2,3]', xs: [1, 3, 8, 10], ws: [4, 3, 3, 3], o: { stride: [2, 3] } },
  { name: 'k7 s4 p3', xs: [1, 3, 13, 11], ws: [4, 3, 7, 7], bias: true, o: { stride: 4, padding: 3 } },
  { name: 'empty batch', xs: [0, 3, 5, 5], ws: [4, 3, 3, 3], bias: true, o: { padding: 1 } },
];

describe('conv2d reference gradients (finite differences, float64)', () => {
  const r = rng(11);
  const tiny: Case[] = [
    { name: '3x3 s2 p1 g1', xs: [1, 2, 5, 4], ws: [3, 2, 3, 3], o: { stride: 2, padding: 1 } },
    { name: 'depthwise dilation', xs: [2, 2, 5, 5], ws: [2, 1, 3, 3], o: { padding: 2, dilation: 2, groups: 2 } },
  ];
  for (const c of tiny) {
    it(c.name, () => {
      const x = Float64Array.from(r.array(n(c.xs)));
      const w = Float64Array.from(r.array(n(c.ws)));
      const b = Float64Array.from(r.array(c.ws[0]));
      const dy = Float64Array.from(r.array(n(conv2dRef(x, c.xs, w, c.ws, b, c.o).shape)));
      const g = conv2dBackwardRef(x, c.xs, w, c.ws, dy, c.o);
      expectGradsMatchFiniteDiff(g, (xv, wv, bv) => conv2dRef(xv, c.xs, wv, c.ws, bv, c.o).y, x, w, b, dy);
    });
  }
});

describe.skipIf(!rt)('conv2d backward', () => {
  const r = rng(5);
  for (const c of GRAD_CASES) {
    it(`${c.name}: dx, dweight, dbias kernels`, async () => {
      const xv = r.array(n(c.xs));
      const wv = r.array(n(c.ws));
      const g = conv2dGeometry(c.xs, c.ws, null, c.o);
      const ys = [g.B, g.Cout, g.OH, g.OW];
      const dyv = r.array(n(ys));
      const x = rt!.upload(xv, c.xs);
      const w = rt!.upload(wv, c.ws);
      const dy = rt!.upload(dyv, ys);
      const ref = conv2dBackwardRef(xv, c.xs, wv, c.ws, dyv, c.o);
      expectClose(await rt!.read(conv2dInputGrad(rt!, dy, w, g)), ref.dx, GTOL, 'dx');
      expectClose(await rt!.read(conv2dWeightGrad(rt!, dy, x, g)), ref.dw, GTOL, 'dweight');
      expectClose(await rt!.read(biasGrad(rt!, dy, g.Cout)), ref.db, GTOL, 'dbias');
    });
  }

  it('records on the tape: gradients of x, weight and bias through conv2d', async () => {
    const c = GRAD_CASES[0];
    const xv = r.array(n(c.xs));
    const wv = r.array(n(c.ws));
    const bv = r.array(c.ws[0]);
    const x = rt!.upload(xv, c.xs);
    const w = rt!.upload(wv, c.ws);
    const b = rt!.upload(bv, [c.ws[0]]);
    x.requiresGrad = w.requiresGrad = b.requiresGrad = true;
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    const y = conv2d(rt!, x, w, b, c.o);
    rt!.tape = null;
    const dyv = r.array(y.size);
    tape.backward(y, rt!.upload(dyv, y.shape));
    const ref = conv2dBackwardRef(xv, c.xs, wv, c.ws, dyv, c.o);
    expectClose(await rt!.read(x.grad!), ref.dx, GTOL, 'x.grad');
    expectClose(await rt!.read(w.grad!), ref.dw, GTOL, 'w.grad');
    expectClose(await rt!.read(b.grad!), ref.db, GTOL, 'b.grad');
    tape.dispose();
  });

  it('depthwise conv on the tape with only the weight trainable', async () => {
    const c = GRAD_CASES[1];
    const xv = r.array(n(c.xs));
    const wv = r.array(n(c.ws));
    const x = rt!.upload(xv, c.xs);
    const w = rt!.upload(wv, c.ws);
    w.requiresGrad = true;
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    const y = conv2d(rt!, x, w, null, c.o);
    rt!.tape = null;
    const dyv = r.array(y.size);
    tape.backward(y, rt!.upload(dyv, y.shape));
    expect(x.grad).toBeNull();
    expectClose(await rt!.read(w.grad!), conv2dBackwardRef(xv, c.xs, wv, c.ws, dyv, c.o).dw, GTOL, 'w.grad');
    tape.dispose();
  });
});
