import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import {
  convTranspose2d,
  type ConvTranspose2dImpl,
  type ConvTranspose2dOptions,
} from '../../src/kernels/conv_transpose2d.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { convTranspose2dBackwardRef, convTranspose2dOutShape, convTranspose2dRef } from '../ref/conv_transpose2d.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';
import { expectGradsMatchFiniteDiff } from '../helpers/bilinear_grads.js';

const rt = await testRuntime();

// f32 sums of at most ~100 products of O(1) values against float64: error well below 1e-5.
const TOL = { atol: 1e-5, rtol: 1e-4 };
// Gradients reduce over batch x pixels (a few hundred terms): a little looser.
const GTOL = { atol: 3e-5, rtol: 1e-4 };

interface Case {
  name: string;
  xs: number[];
  ws: number[];
  bias?: boolean;
  o: ConvTranspose2dOptions;
}
const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const isK2S2 = (c: Case) =>
  c.ws[2] === 2 && c.ws[3] === 2 && c.o.stride === 2 && !c.o.padding && !c.o.outputPadding && !c.o.dilation;

const CASES: Case[] = [
  { name: 'SAM upscale k2 s2 (8->4, scaled)', xs: [1, 8, 5, 6], ws: [8, 4, 2, 2], bias: true, o: { stride: 2 } },
  { name: 'k2 s2, Cout 5, odd W, batch 2', xs: [2, 6, 3, 5], ws: [6, 5, 2, 2], bias: true, o: { stride: 2 } },
  { name: 'k2 s2 groups 2', xs: [1, 4, 3, 3], ws: [4, 3, 2, 2], o: { stride: 2, groups: 2 } },
  { name: 'k2 s2 1x1 input', xs: [1, 3, 1, 1], ws: [3, 2, 2, 2], bias: true, o: { stride: 2 } },
  {
    name: 'k3 s2 p1 op1',
    xs: [1, 3, 5, 5],
    ws: [3, 4, 3, 3],
    bias: true,
    o: { stride: 2, padding: 1, outputPadding: 1 },
  },
  { name: 'k4 s2 p1', xs: [2, 2, 4, 3], ws: [2, 3, 4, 4], o: { stride: 2, padding: 1 } },
  { name: 'k3 s1 p1', xs: [1, 5, 6, 7], ws: [5, 6, 3, 3], bias: true, o: { padding: 1 } },
  { name: 'dilation 2, op 1 (stride 1)', xs: [1, 2, 5, 4], ws: [2, 3, 3, 3], o: { dilation: 2, outputPadding: 1 } },
  {
    name: 'asymmetric stride [2,3] pad [1,0]',
    xs: [1, 3, 4, 5],
    ws: [3, 2, 3, 4],
    bias: true,
    o: { stride: [2, 3], padding: [1, 0] },
  },
  { name: 'groups 3, Cout/G 1', xs: [1, 3, 4, 4], ws: [3, 1, 3, 3], bias: true, o: { stride: 2, groups: 3 } },
  {
    name: 'k2 s2 with output padding (general)',
    xs: [1, 2, 3, 3],
    ws: [2, 3, 2, 2],
    o: { stride: 2, outputPadding: 1 },
  },
  { name: '1x1 input 1x1 kernel', xs: [1, 1, 1, 1], ws: [1, 1, 1, 1], bias: true, o: {} },
  { name: 'empty batch', xs: [0, 4, 3, 3], ws: [4, 4, 2, 2], bias: true, o: { stride: 2 } },
];

describe.skipIf(!rt)('conv_transpose2d', () => {
  const r = rng(3);
  for (const c of CASES) {
    const impls: ConvTranspose2dImpl[] = isK2S2(c) ? ['auto', 'general', 'k2s2'] : ['auto', 'general'];
    for (const impl of impls) {
      it(`${c.name} [${impl}]`, async () => {
        const xv = r.array(n(c.xs));
        const wv = r.array(n(c.ws));
        const cout = c.ws[1] * (c.o.groups ?? 1);
        const bv = c.bias ? r.array(cout) : null;
        const y = convTranspose2d(rt!, rt!.upload(xv, c.xs), rt!.upload(wv, c.ws), bv ? rt!.upload(bv, [cout]) : null, {
          ...c.o,
          impl,
        });
        const ref = convTranspose2dRef(xv, c.xs, wv, c.ws, bv, c.o);
        expect(y.shape).toEqual(ref.shape);
        expectClose(await rt!.read(y), ref.y, TOL, `${c.name} ${impl}`);
      });
    }
  }

  it('works on unaligned views', async () => {
    const xs = [1, 4, 3, 3];
    const ws = [4, 2, 2, 2];
    const big = r.array(n(xs) + 1);
    const wv = r.array(n(ws));
    const x = rt!
      .upload(big, [n(xs) + 1])
      .narrow0(1, n(xs))
      .reshape(xs);
    const y = convTranspose2d(rt!, x, rt!.upload(wv, ws), null, { stride: 2 });
    expectClose(await rt!.read(y), convTranspose2dRef(big.slice(1), xs, wv, ws, null, { stride: 2 }).y, TOL, 'view');
  });

  it('rejects bad inputs, naming the shapes', () => {
    const z = (s: number[]) => rt!.zeros(s);
    expect(() => convTranspose2d(rt!, z([1, 3, 4, 4]), z([4, 2, 2, 2]))).toThrow(
      /input \[1, 3, 4, 4\] has 3 channels but weight \[4, 2, 2, 2\] expects 4/,
    );
    expect(() => convTranspose2d(rt!, z([1, 3, 4, 4]), z([3, 2, 2, 2]), null, { groups: 2 })).toThrow(
      /groups 2 does not divide the 3 input channels of \[1, 3, 4, 4\]/,
    );
    expect(() => convTranspose2d(rt!, z([1, 4, 4, 4]), z([4, 2, 2, 2]), z([2]), { groups: 2 })).toThrow(
      /bias must be \[4\]/,
    );
    expect(() => convTranspose2d(rt!, z([1, 4, 4, 4]), z([4, 2, 2, 2]), null, { stride: 2, outputPadding: 2 })).toThrow(
      /outputPadding \[2, 2\] must be smaller than stride/,
    );
    expect(() => convTranspose2d(rt!, z([4, 4, 4]), z([4, 2, 2, 2]))).toThrow(
      /input must be \[B, Cin, H, W\], got \[4, 4, 4\]/,
    );
    expect(() => convTranspose2d(rt!, z([1, 4, 1, 1]), z([4, 2, 1, 1]), null, { padding: 1 })).toThrow(
      /would be -1x-1/,
    );
    expect(() => convTranspose2d(rt!, z([1, 4, 4, 4]), z([4, 2, 3, 3]), null, { stride: 2, impl: 'k2s2' })).toThrow(
      /k2s2/,
    );
  });
});

const GRAD_CASES: Case[] = [
  { name: 'k2 s2', xs: [2, 4, 3, 4], ws: [4, 5, 2, 2], bias: true, o: { stride: 2 } },
  {
    name: 'k3 s2 p1 op1',
    xs: [1, 3, 4, 5],
    ws: [3, 4, 3, 3],
    bias: true,
    o: { stride: 2, padding: 1, outputPadding: 1 },
  },
  { name: 'groups 2, dilation 2', xs: [1, 4, 4, 4], ws: [4, 3, 3, 3], o: { groups: 2, dilation: 2, padding: 1 } },
  { name: 'depthwise-like groups 3', xs: [1, 3, 4, 4], ws: [3, 1, 3, 3], bias: true, o: { stride: 2, groups: 3 } },
];

describe('conv_transpose2d reference gradients (finite differences, float64)', () => {
  const r = rng(12);
  for (const c of GRAD_CASES.slice(1, 3)) {
    it(c.name, () => {
      const x = Float64Array.from(r.array(n(c.xs)));
      const w = Float64Array.from(r.array(n(c.ws)));
      const b = Float64Array.from(r.array(c.ws[1] * (c.o.groups ?? 1)));
      const dy = Float64Array.from(r.array(n(convTranspose2dOutShape(c.xs, c.ws, c.o))));
      const g = convTranspose2dBackwardRef(x, c.xs, w, c.ws, dy, c.o);
      expectGradsMatchFiniteDiff(g, (xv, wv, bv) => convTranspose2dRef(xv, c.xs, wv, c.ws, bv, c.o).y, x, w, b, dy);
    });
  }
});

describe.skipIf(!rt)('conv_transpose2d backward (tape)', () => {
  const r = rng(13);
  for (const c of GRAD_CASES) {
    it(c.name, async () => {
      const xv = r.array(n(c.xs));
      const wv = r.array(n(c.ws));
      const cout = c.ws[1] * (c.o.groups ?? 1);
      const bv = c.bias ? r.array(cout) : null;
      const x = rt!.upload(xv, c.xs);
      const w = rt!.upload(wv, c.ws);
      const b = bv ? rt!.upload(bv, [cout]) : null;
      x.requiresGrad = w.requiresGrad = true;
      if (b) b.requiresGrad = true;
      const tape = new Tape(rt!, TAPE_OPS);
      rt!.tape = tape;
      const y = convTranspose2d(rt!, x, w, b, c.o);
      rt!.tape = null;
      const dyv = r.array(y.size);
      tape.backward(y, rt!.upload(dyv, y.shape));
      const ref = convTranspose2dBackwardRef(xv, c.xs, wv, c.ws, dyv, c.o);
      expectClose(await rt!.read(x.grad!), ref.dx, GTOL, 'x.grad');
      expectClose(await rt!.read(w.grad!), ref.dw, GTOL, 'w.grad');
      if (b) expectClose(await rt!.read(b.grad!), ref.db, GTOL, 'b.grad');
      tape.dispose();
    });
  }
});
