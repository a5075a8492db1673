// shaders/reduce.wgsl SUM / MEAN / MAX / MIN over a block of axes against test/ref/reduce.ts, and the
// EXPAND backward of sum / mean through the tape, ARGMAX (one-hot, exact) (masked mean and NONFINITE have their own tests:
// robotseg_rpg / grad_fd and nonfinite.test.ts).
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { argmaxOneHot, reduce } from '../../src/kernels/reduce.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { argmaxOneHotRef, expandRef, type ReduceRefOp, reduceRef } from '../ref/reduce.js';

const rt = await testRuntime();
// Sequential f32 accumulation of up to 300 values in [-1, 1): a few 1e-6; max / min are exact.
const TOL = {
  sum: { atol: 2e-5, rtol: 1e-5 },
  mean: { atol: 1e-6, rtol: 1e-5 },
  max: { atol: 0, rtol: 0 },
  min: { atol: 0, rtol: 0 },
};

describe.skipIf(!rt)('reduce', () => {
  const r = rng(5);
  const cases: Array<[string, number[], number, number]> = [
    // name, shape, axis, count
    ['rows of a matrix', [7, 300], 1, 1],
    ['columns (inner stride)', [300, 5], 0, 1],
    ['middle axes of a 4-D map', [2, 3, 5, 129], 1, 2],
    ['size-1 reduced axis', [4, 1, 3], 1, 1],
    ['single element', [1], 0, 1],
    ['not a multiple of the workgroup (129 outputs)', [129, 3], 1, 1],
  ];
  for (const op of ['sum', 'mean', 'max', 'min'] as ReduceRefOp[]) {
    for (const [name, shape, axis, count] of cases) {
      it(`${op}: ${name} ${JSON.stringify(shape)} over [${axis}, ${axis + count})`, async () => {
        const R = rt!;
        const n = shape.reduce((a, b) => a * b, 1);
        const xs = r.array(n, 1);
        const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
        const red = shape.slice(axis, axis + count).reduce((a, b) => a * b, 1);
        const inner = shape.slice(axis + count).reduce((a, b) => a * b, 1);
        const x = R.upload(xs, shape);
        const y = reduce(R, x, op, axis, count);
        expect(y.shape).toEqual([...shape.slice(0, axis), ...shape.slice(axis + count)]);
        expectClose(await R.read(y), reduceRef(xs, outer, red, inner, op), TOL[op], `${op} ${name}`);
        const k = reduce(R, x, op, axis, count, true);
        expect(k.shape).toEqual([...shape.slice(0, axis), ...new Array(count).fill(1), ...shape.slice(axis + count)]);
        for (const t of [x, y, k]) t.dispose();
      });
    }
  }

  it('empty input: sum gives zeros of the output shape; max of an empty reduction throws', async () => {
    const R = rt!;
    const x = R.zeros([3, 0, 2]);
    const y = reduce(R, x, 'sum', 1);
    expect(y.shape).toEqual([3, 2]);
    expect(() => reduce(R, x, 'max', 1)).toThrow(/empty reduction/);
    for (const t of [x, y]) t.dispose();
  });

  for (const op of ['sum', 'mean'] as const) {
    it(`${op} backward (EXPAND): dy broadcast over the reduced axes${op === 'mean' ? ', divided by their size' : ''}`, async () => {
      const R = rt!;
      const [outer, red, inner] = [3, 37, 5];
      const x = R.upload(r.array(outer * red * inner, 1), [outer, red, inner], 'f32', 'x');
      x.requiresGrad = true;
      const tape = new Tape(R, TAPE_OPS);
      R.tape = tape;
      const y = reduce(R, x, op, 1);
      R.tape = null;
      const dys = r.array(outer * inner, 1);
      tape.backward(y, R.upload(dys, y.shape));
      const want = expandRef(dys, outer, red, inner, op === 'mean' ? 1 / red : 1);
      expectClose(await R.read(x.grad!), want, { atol: 1e-7, rtol: 1e-6 }, `${op} backward`);
      tape.dispose();
      for (const t of [x, y, x.grad!]) t.dispose();
    });
  }

  it('max / min have no backward', () => {
    const R = rt!;
    const x = R.upload(r.array(6, 1), [2, 3]);
    x.requiresGrad = true;
    const tape = new Tape(R, TAPE_OPS);
    R.tape = tape;
    try {
      expect(() => reduce(R, x, 'max', 1)).toThrow(/no backward/);
    } finally {
      R.tape = null;
      tape.dispose();
      x.dispose();
    }
  });

  // ARGMAX is data movement: exact. Ties pick the first maximum; entries below `lo` are never chosen.
  const argCases: Array<[string, number[], number, number]> = [
    ['multimask IoUs [B, 4] from 1', [4, 4], 1, 1],
    ['rows of a matrix', [7, 300], 1, 0],
    ['columns (inner stride) from 2', [9, 5], 0, 2],
    ['size-1 axis', [3, 1, 2], 1, 0],
    ['not a multiple of the workgroup (129 rows)', [129, 3], 1, 0],
  ];
  for (const [name, shape, axis, lo] of argCases) {
    it(`argmax one-hot: ${name} ${JSON.stringify(shape)} axis ${axis}`, async () => {
      const R = rt!;
      const n = shape.reduce((a, b) => a * b, 1);
      // quantised values: many ties
      const xs = Float32Array.from(r.array(n, 1), (v) => Math.round(v * 4) / 4);
      const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
      const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const x = R.upload(xs, shape);
      const y = argmaxOneHot(R, x, axis, lo);
      expect(y.shape).toEqual(shape);
      expectClose(await R.read(y), argmaxOneHotRef(xs, outer, shape[axis], inner, lo), { atol: 0, rtol: 0 }, name);
      for (const t of [x, y]) t.dispose();
    });
  }

  it('argmax one-hot: ties take the first index, a NaN never wins, empty input, bad start', async () => {
    const R = rt!;
    const x = R.upload([0.5, 0.5, 0.1, Number.NaN, 2, 2, -1, Number.NaN], [2, 4]);
    expect([...(await R.read(argmaxOneHot(R, x, 1)))]).toEqual([1, 0, 0, 0, 1, 0, 0, 0]);
    expect([...(await R.read(argmaxOneHot(R, x, 1, 2)))]).toEqual([0, 0, 1, 0, 0, 0, 1, 0]);
    const e = R.zeros([0, 4]);
    expect(argmaxOneHot(R, e, 1).shape).toEqual([0, 4]);
    expect(() => argmaxOneHot(R, x, 1, 4)).toThrow(/start 4 outside/);
    expect(() => argmaxOneHot(R, x, 2)).toThrow(/axis 2 outside/);
    for (const t of [x, e]) t.dispose();
  });
});
