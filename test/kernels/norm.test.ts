import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import type { Tensor } from '../../src/graph/tensor.js';
import {
  groupNorm,
  groupNormBackward,
  groupNormForward,
  layerNorm,
  layerNorm2d,
  layerNorm2dBackward,
  layerNorm2dForward,
  layerNormBackward,
  layerNormForward,
  type LayerNormVariant,
} from '../../src/kernels/norm.js';
import { expectClose, rng, type Tol } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import {
  finiteDiffGrads,
  groupNormBackwardRef,
  groupNormRef,
  layerNorm2dBackwardRef,
  layerNorm2dRef,
  layerNormBackwardRef,
  layerNormRef,
  type NormBackward,
} from '../ref/norm.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();
const r = rng(7);
const numel = (s: number[]) => s.reduce((a, d) => a * d, 1);

// f32 statistics over <= 8192 values vs float64: normalised outputs (|y| <~ 5) measured within 4e-6
// abs; 2e-5 leaves 5x margin.
const FWD: Tol = { atol: 2e-5, rtol: 1e-5 };
// x = 1000 + N(0,1): x itself only has 6e-5 resolution and the f32 mean is off by up to ~3e-5, which
// the normalisation scales by rstd ~ 1 (measured <= 7e-5); a naive E[x^2] - E[x]^2 is off by O(1).
const OFFSET: Tol = { atol: 3e-4, rtol: 1e-4 };
// dx = rstd * (g - mean(g) - xhat * mean(g xhat)) cancels terms of size |g| ~ 1: ~1e-6; dw/db sum
// up to ~1000 f32 products (measured <= 4e-6 abs); 3e-5 leaves ~7x margin.
const BWD: Tol = { atol: 3e-5, rtol: 3e-5 };

function affineParams(c: number) {
  return { w: Float32Array.from(r.array(c, 0.5), (v) => 1 + v), b: r.array(c, 0.5) };
}

function offsetNoise(n: number, offset: number): Float32Array {
  return Float32Array.from({ length: n }, () => offset + r.normal());
}

/** Forward + backward through the autograd tape; returns y and the three gradients. */
async function throughTape(
  f: (x: Tensor, w: Tensor, b: Tensor) => Tensor,
  xs: Float32Array,
  shape: number[],
  w: Float32Array,
  b: Float32Array,
  dys: Float32Array,
) {
  const tape = new Tape(rt!, TAPE_OPS);
  const x = rt!.upload(xs, shape, 'f32', 'x');
  const wt = rt!.upload(w, [w.length], 'f32', 'w');
  const bt = rt!.upload(b, [b.length], 'f32', 'b');
  x.requiresGrad = wt.requiresGrad = bt.requiresGrad = true;
  rt!.tape = tape;
  let y: Tensor;
  try {
    y = f(x, wt, bt);
  } finally {
    rt!.tape = null;
  }
  const dy = rt!.upload(dys, shape, 'f32', 'dy');
  tape.backward(y, dy);
  const out = {
    y: await rt!.read(y),
    dx: await rt!.read(x.grad!),
    dw: await rt!.read(wt.grad!),
    db: await rt!.read(bt.grad!),
  };
  tape.dispose();
  for (const t of [x, wt, bt, y, dy, x.grad!, wt.grad!, bt.grad!]) t.dispose();
  return out;
}

function expectGrads(
  got: { dx: Float32Array; dw: Float32Array; db: Float32Array },
  ref: NormBackward,
  tol: Tol,
  what: string,
) {
  expectClose(got.dx, ref.dx, tol, `${what} dx`);
  expectClose(got.dw, ref.dweight, tol, `${what} dweight`);
  expectClose(got.db, ref.dbias, tol, `${what} dbias`);
}

// ------------------------------------------------------------------------------ CPU reference (no GPU)
describe('norm CPU reference backward vs central finite differences', () => {
  // float64 central differences with h = 1e-5: truncation ~h^2 * |f'''| and rounding ~1e-16/h: ~1e-9.
  const FD: Tol = { atol: 1e-7, rtol: 1e-6 };
  const pickAll = (n: number) => Array.from({ length: n }, (_, i) => i);
  const check = (fd: ReturnType<typeof finiteDiffGrads>, ref: NormBackward) => {
    for (const [name, m, arr] of [
      ['dx', fd.x, ref.dx],
      ['dw', fd.w, ref.dweight],
      ['db', fd.b, ref.dbias],
    ] as const) {
      const idx = [...m.keys()];
      expectClose(
        idx.map((i) => arr[i]),
        idx.map((i) => m.get(i)!),
        FD,
        name,
      );
    }
  };

  it('layerNorm', () => {
    const [rows, c, eps] = [3, 5, 1e-5];
    const x = r.array(rows * c, 2);
    const { w, b } = affineParams(c);
    const dy = r.array(rows * c, 1);
    const fd = finiteDiffGrads((xx, ww, bb) => layerNormRef(xx, rows, c, ww, bb, eps).y, x, w, b, dy, pickAll);
    check(fd, layerNormBackwardRef(x, dy, rows, c, w, eps));
  });

  it('layerNorm2d', () => {
    const shape = [2, 3, 2, 2];
    const x = r.array(numel(shape), 2);
    const { w, b } = affineParams(3);
    const dy = r.array(numel(shape), 1);
    const fd = finiteDiffGrads((xx, ww, bb) => layerNorm2dRef(xx, shape, ww, bb, 1e-6).y, x, w, b, dy, pickAll);
    check(fd, layerNorm2dBackwardRef(x, dy, shape, w, 1e-6));
  });

  it('groupNorm (with a large offset)', () => {
    const shape = [2, 4, 3, 2];
    const x = Float32Array.from(r.array(numel(shape), 2), (v) => v + 50);
    const { w, b } = affineParams(4);
    const dy = r.array(numel(shape), 1);
    const fd = finiteDiffGrads((xx, ww, bb) => groupNormRef(xx, shape, 2, ww, bb, 1e-5).y, x, w, b, dy, pickAll);
    check(fd, groupNormBackwardRef(x, dy, shape, 2, w, 1e-5));
  });

  it('matches hand-computed values', () => {
    // row [1, 2, 3]: mean 2, var 2/3; eps 0 -> xhat = [-1.2247, 0, 1.2247]
    const { y, mean, rstd } = layerNormRef([1, 2, 3], 1, 3, [1, 1, 2], [0, 0, 1], 0);
    expect(mean[0]).toBe(2);
    expect(rstd[0]).toBeCloseTo(Math.sqrt(1.5), 12);
    expect(Array.from(y)).toEqual([expect.closeTo(-Math.sqrt(1.5), 12), 0, expect.closeTo(1 + 2 * Math.sqrt(1.5), 12)]);
  });
});

// ------------------------------------------------------------------------------------------ LayerNorm
describe.skipIf(!rt)('layerNorm', () => {
  // [rows, C]: C = 1, C not a multiple of 4, rows not a multiple of the workgroup (128), Hiera-like
  // channel counts scaled down, an empty batch, and a leading batch dim.
  const shapes = [
    [3, 1],
    [5, 7],
    [130, 12],
    [9, 96],
    [4, 384],
    [0, 8],
    [2, 3, 20],
    [1, 130],
  ];
  for (const variant of ['row', 'workgroup'] as LayerNormVariant[]) {
    for (const vec4 of [true, false]) {
      for (const shape of shapes) {
        for (const eps of [1e-6, 1e-5]) {
          it(`${variant} vec4=${vec4} ${JSON.stringify(shape)} eps=${eps}`, async () => {
            const c = shape[shape.length - 1];
            const rows = numel(shape) / Math.max(c, 1);
            const xs = r.array(numel(shape), 3);
            const { w, b } = affineParams(c);
            const y = layerNorm(rt!, rt!.upload(xs, shape), rt!.upload(w, [c]), rt!.upload(b, [c]), eps, {
              variant,
              vec4,
            });
            expect(y.shape).toEqual(shape);
            expectClose(await rt!.read(y), layerNormRef(xs, rows, c, w, b, eps).y, FWD, 'layerNorm');
          });
        }
      }
    }
    it(`${variant}: large common offset (x = 1000 + noise) stays accurate`, async () => {
      const [rows, c] = [33, 96];
      const xs = offsetNoise(rows * c, 1000);
      const { w, b } = affineParams(c);
      const y = layerNorm(rt!, rt!.upload(xs, [rows, c]), rt!.upload(w, [c]), rt!.upload(b, [c]), 1e-6, { variant });
      expectClose(await rt!.read(y), layerNormRef(xs, rows, c, w, b, 1e-6).y, OFFSET, 'offset');
    });

    it(`${variant}: an outlier as the row's first element (the shift) stays accurate`, async () => {
      const [rows, c] = [4, 96];
      const xs = r.array(rows * c, 1);
      for (let i = 0; i < rows; i++) xs[i * c] = i % 2 ? 1000 : -300;
      const { w, b } = affineParams(c);
      const y = layerNorm(rt!, rt!.upload(xs, [rows, c]), rt!.upload(w, [c]), rt!.upload(b, [c]), 1e-5, { variant });
      expectClose(await rt!.read(y), layerNormRef(xs, rows, c, w, b, 1e-5).y, FWD, 'outlier');
    });

    it(`${variant}: constant rows give y = bias (variance 0)`, async () => {
      const xs = new Float32Array(4 * 8).fill(3.25);
      const { w, b } = affineParams(8);
      const y = layerNorm(rt!, rt!.upload(xs, [4, 8]), rt!.upload(w, [8]), rt!.upload(b, [8]), 1e-5, { variant });
      expectClose(
        await rt!.read(y),
        Float64Array.from({ length: 32 }, (_, i) => b[i % 8]),
        { atol: 0, rtol: 0 },
        'constant',
      );
    });

    for (const shape of [
      [7, 12],
      [3, 5],
      [130, 8],
      [5, 200],
    ]) {
      it(`${variant}: backward through the tape ${JSON.stringify(shape)} vs reference`, async () => {
        const [rows, c] = shape;
        const xs = r.array(rows * c, 2);
        const dys = r.array(rows * c, 1);
        const { w, b } = affineParams(c);
        const got = await throughTape(
          (x, wt, bt) => layerNorm(rt!, x, wt, bt, 1e-5, { variant }),
          xs,
          shape,
          w,
          b,
          dys,
        );
        expectClose(got.y, layerNormRef(xs, rows, c, w, b, 1e-5).y, FWD, 'y');
        expectGrads(got, layerNormBackwardRef(xs, dys, rows, c, w, 1e-5), BWD, `layerNorm ${variant}`);
      });
    }

    it(`${variant}: backward with a large offset`, async () => {
      const [rows, c] = [6, 64];
      const xs = offsetNoise(rows * c, 1000);
      const dys = r.array(rows * c, 1);
      const { w, b } = affineParams(c);
      const got = await throughTape(
        (x, wt, bt) => layerNorm(rt!, x, wt, bt, 1e-6, { variant }),
        xs,
        [rows, c],
        w,
        b,
        dys,
      );
      // xhat carries the ~3e-5 mean error (see OFFSET); dw sums 6 of them
      expectGrads(got, layerNormBackwardRef(xs, dys, rows, c, w, 1e-6), { atol: 5e-4, rtol: 1e-4 }, 'offset backward');
    });
  }

  it('workgroup variant folds more than 65535 rows into a 2-D dispatch (forward and backward)', async () => {
    const [rows, c] = [66000, 4];
    const xs = r.array(rows * c, 2);
    const dys = r.array(rows * c, 1);
    const { w, b } = affineParams(c);
    const got = await throughTape(
      (x, wt, bt) => layerNorm(rt!, x, wt, bt, 1e-5, { variant: 'workgroup' }),
      xs,
      [rows, c],
      w,
      b,
      dys,
    );
    expectClose(got.y, layerNormRef(xs, rows, c, w, b, 1e-5).y, FWD, 'y');
    // dw/db sum 66000 terms in f32 partials of ~64: ~1e-5 relative to sums of size ~100
    expectGrads(got, layerNormBackwardRef(xs, dys, rows, c, w, 1e-5), { atol: 2e-4, rtol: 3e-5 }, 'folded');
  });

  it('scalar fallback for views at unaligned offsets, vec4 for 16-byte aligned views', async () => {
    const c = 8;
    const xs = r.array(10 * c, 2);
    const { w, b } = affineParams(c);
    const x = rt!.upload(xs, [10, c]);
    for (const [start, count] of [
      [1, 4],
      [2, 5],
      [3, 7],
    ]) {
      // rows of 32 B: start 1 -> offset 32 (vec4), 3 -> 96 (vec4); both views get x_off from the runtime
      const v = x.narrow0(start, count);
      const y = layerNorm(rt!, v, rt!.upload(w, [c]), rt!.upload(b, [c]), 1e-5);
      expectClose(
        await rt!.read(y),
        layerNormRef(xs.slice(start * c, (start + count) * c), count, c, w, b, 1e-5).y,
        FWD,
        'view',
      );
    }
    const x7 = rt!.upload(r.array(5 * 7, 2), [5, 7]);
    const v7 = x7.narrow0(1, 3); // byte offset 28: not 16-aligned, C = 7 -> scalar
    const { w: w7, b: b7 } = affineParams(7);
    const y7 = layerNorm(rt!, v7, rt!.upload(w7, [7]), rt!.upload(b7, [7]), 1e-5);
    const xs7 = await rt!.read(x7);
    expectClose(await rt!.read(y7), layerNormRef(xs7.slice(7, 28), 3, 7, w7, b7, 1e-5).y, FWD, 'view c=7');
  });

  it('backward only for the parameters (x is a constant) and only for x', async () => {
    const [rows, c] = [5, 12];
    const xs = r.array(rows * c, 2);
    const dys = r.array(rows * c, 1);
    const { w, b } = affineParams(c);
    const ref = layerNormBackwardRef(xs, dys, rows, c, w, 1e-5);
    const x = rt!.upload(xs, [rows, c]);
    const wt = rt!.upload(w, [c]);
    const bt = rt!.upload(b, [c]);
    const { stats } = layerNormForward(rt!, x, wt, bt, 1e-5, true);
    const dy = rt!.upload(dys, [rows, c]);
    const p = layerNormBackward(rt!, x, wt, stats!, dy, { x: false });
    expect(p.dx).toBeNull();
    expectClose(await rt!.read(p.dweight!), ref.dweight, BWD, 'dweight');
    expectClose(await rt!.read(p.dbias!), ref.dbias, BWD, 'dbias');
    const q = layerNormBackward(rt!, x, wt, stats!, dy, { weight: false, bias: false });
    expect(q.dweight).toBeNull();
    expect(q.dbias).toBeNull();
    expectClose(await rt!.read(q.dx!), ref.dx, BWD, 'dx');

    // through the tape: x without requiresGrad gets no gradient, the parameters do
    const tape = new Tape(rt!, TAPE_OPS);
    wt.requiresGrad = bt.requiresGrad = true;
    rt!.tape = tape;
    const y = layerNorm(rt!, x, wt, bt, 1e-5);
    rt!.tape = null;
    tape.backward(y, dy);
    expect(x.grad).toBeNull();
    expectClose(await rt!.read(wt.grad!), ref.dweight, BWD, 'tape dweight');
    tape.dispose();
  });

  it('backward of an empty batch gives empty dx and zero parameter gradients', async () => {
    const got = await throughTape(
      (x, wt, bt) => layerNorm(rt!, x, wt, bt),
      new Float32Array(0),
      [0, 6],
      new Float32Array(6).fill(1),
      new Float32Array(6),
      new Float32Array(0),
    );
    expect(got.dx.length).toBe(0);
    expect(Array.from(got.dw)).toEqual(new Array(6).fill(0));
    expect(Array.from(got.db)).toEqual(new Array(6).fill(0));
  });

  it('does not leak pool memory through the tape', async () => {
    const before = rt!.pool.liveBytes;
    const got = await throughTape(
      (x, wt, bt) => layerNorm(rt!, x, wt, bt),
      r.array(40, 1),
      [5, 8],
      affineParams(8).w,
      affineParams(8).b,
      r.array(40, 1),
    );
    expect(got.dx.length).toBe(40);
    expect(rt!.pool.liveBytes).toBe(before);
  });

  it('rejects bad inputs with the shapes in the message', () => {
    const x = rt!.zeros([2, 4]);
    expect(() => layerNorm(rt!, x, rt!.zeros([5]), rt!.zeros([4]))).toThrow(/weight \[5\] does not match x \[2, 4\]/);
    expect(() => layerNorm(rt!, x, rt!.zeros([4]), rt!.zeros([2, 2]))).toThrow(
      /bias \[2, 2\] does not match x \[2, 4\]/,
    );
    expect(() => layerNorm(rt!, x, rt!.zeros([4]), rt!.zeros([4]), -1)).toThrow(/eps/);
    expect(() => layerNorm(rt!, rt!.zeros([2, 4], 'i32'), rt!.zeros([4]), rt!.zeros([4]))).toThrow(
      /x must be f32, got i32/,
    );
    expect(() => layerNormBackward(rt!, x, rt!.zeros([4]), rt!.zeros([2, 2]), rt!.zeros([4, 2]))).toThrow(
      /dy \[4, 2\] does not match x \[2, 4\]/,
    );
  });
});

// ---------------------------------------------------------------------------------------- LayerNorm2d
describe.skipIf(!rt)('layerNorm2d', () => {
  // [B, C, H, W]: C = 1, H*W not a multiple of 4 (scalar path), vec4 path, SAM neck-like 256 channels
  // over a small map, an empty batch, and H*W = 1.
  const shapes = [
    [1, 1, 3, 3],
    [2, 5, 3, 7],
    [2, 8, 4, 4],
    [1, 256, 4, 6],
    [0, 4, 2, 2],
    [3, 6, 1, 1],
    [1, 3, 13, 11],
  ];
  for (const vec4 of [true, false]) {
    for (const shape of shapes) {
      it(`vec4=${vec4} ${JSON.stringify(shape)}`, async () => {
        const xs = r.array(numel(shape), 3);
        const { w, b } = affineParams(shape[1]);
        const y = layerNorm2d(rt!, rt!.upload(xs, shape), rt!.upload(w, [shape[1]]), rt!.upload(b, [shape[1]]), 1e-6, {
          vec4,
        });
        expectClose(await rt!.read(y), layerNorm2dRef(xs, shape, w, b, 1e-6).y, FWD, 'layerNorm2d');
      });
    }
    it(`vec4=${vec4}: eps 1e-5 and a large offset`, async () => {
      const shape = [2, 32, 4, 4];
      const xs = offsetNoise(numel(shape), 1000);
      const { w, b } = affineParams(32);
      const y = layerNorm2d(rt!, rt!.upload(xs, shape), rt!.upload(w, [32]), rt!.upload(b, [32]), 1e-5, { vec4 });
      expectClose(await rt!.read(y), layerNorm2dRef(xs, shape, w, b, 1e-5).y, OFFSET, 'offset');
    });
    it(`vec4=${vec4}: an outlier in channel 0 (the per-pixel shift) stays accurate`, async () => {
      const shape = [1, 48, 4, 4];
      const xs = r.array(numel(shape), 1);
      for (let p = 0; p < 16; p++) xs[p] = p % 3 ? 500 : -200;
      const { w, b } = affineParams(48);
      const y = layerNorm2d(rt!, rt!.upload(xs, shape), rt!.upload(w, [48]), rt!.upload(b, [48]), 1e-6, { vec4 });
      expectClose(await rt!.read(y), layerNorm2dRef(xs, shape, w, b, 1e-6).y, FWD, 'outlier');
    });
    for (const shape of [
      [2, 5, 3, 3],
      [1, 16, 4, 8],
      [2, 64, 2, 2],
    ]) {
      it(`vec4=${vec4}: backward through the tape ${JSON.stringify(shape)}`, async () => {
        const xs = r.array(numel(shape), 2);
        const dys = r.array(numel(shape), 1);
        const { w, b } = affineParams(shape[1]);
        const got = await throughTape((x, wt, bt) => layerNorm2d(rt!, x, wt, bt, 1e-6, { vec4 }), xs, shape, w, b, dys);
        expectClose(got.y, layerNorm2dRef(xs, shape, w, b, 1e-6).y, FWD, 'y');
        expectGrads(got, layerNorm2dBackwardRef(xs, dys, shape, w, 1e-6), BWD, 'layerNorm2d');
      });
    }
  }

  it('direct backward matches, including the empty case', async () => {
    const shape = [1, 6, 2, 2];
    const xs = r.array(24, 2);
    const dys = r.array(24, 1);
    const { w, b } = affineParams(6);
    const x = rt!.upload(xs, shape);
    const wt = rt!.upload(w, [6]);
    const { stats } = layerNorm2dForward(rt!, x, wt, rt!.upload(b, [6]), 1e-6, true);
    const g = layerNorm2dBackward(rt!, x, wt, stats!, rt!.upload(dys, shape));
    expectGrads(
      { dx: await rt!.read(g.dx!), dw: await rt!.read(g.dweight!), db: await rt!.read(g.dbias!) },
      layerNorm2dBackwardRef(xs, dys, shape, w, 1e-6),
      BWD,
      'direct',
    );
    const e = await throughTape(
      (xx, wt2, bt) => layerNorm2d(rt!, xx, wt2, bt),
      new Float32Array(0),
      [0, 3, 2, 2],
      new Float32Array(3).fill(1),
      new Float32Array(3),
      new Float32Array(0),
    );
    expect(Array.from(e.dw)).toEqual([0, 0, 0]);
  });

  it('rejects bad inputs with the shapes in the message', () => {
    expect(() => layerNorm2d(rt!, rt!.zeros([2, 4, 3]), rt!.zeros([4]), rt!.zeros([4]))).toThrow(
      /\[B, C, H, W\], got \[2, 4, 3\]/,
    );
    expect(() => layerNorm2d(rt!, rt!.zeros([1, 4, 2, 2]), rt!.zeros([3]), rt!.zeros([4]))).toThrow(
      /weight \[3\] does not match x \[1, 4, 2, 2\]/,
    );
  });
});

// ------------------------------------------------------------------------------------------ GroupNorm
describe.skipIf(!rt)('groupNorm', () => {
  // [shape, groups, partials]: groups of 1 channel (instance norm) and of all channels, spatial size
  // not a multiple of 4 (scalar path), rank 3 and rank 2 inputs, forced partial counts (1, odd, one
  // unit each), an empty batch, and the SEMA-like 32 groups scaled down.
  const cases: Array<[number[], number, number | undefined]> = [
    [[2, 6, 5, 3], 3, undefined],
    [[1, 8, 4, 4], 1, undefined],
    [[1, 8, 4, 4], 8, undefined],
    [[2, 4, 10], 2, undefined],
    [[3, 6], 2, undefined],
    [[1, 8, 4, 4], 2, 1],
    [[1, 8, 4, 4], 2, 3],
    [[1, 8, 4, 4], 2, 1000],
    [[0, 4, 2, 2], 2, undefined],
    [[1, 64, 8, 8], 32, undefined],
    [[1, 32, 32, 32], 4, undefined],
    [[2, 1, 7, 1], 1, 2],
  ];
  for (const vec4 of [true, false]) {
    for (const [shape, groups, partials] of cases) {
      it(`vec4=${vec4} ${JSON.stringify(shape)} groups=${groups} partials=${partials ?? 'auto'}`, async () => {
        const xs = r.array(numel(shape), 3);
        const { w, b } = affineParams(shape[1]);
        const y = groupNorm(
          rt!,
          rt!.upload(xs, shape),
          groups,
          rt!.upload(w, [shape[1]]),
          rt!.upload(b, [shape[1]]),
          1e-5,
          { vec4, partials },
        );
        // groups of up to 8192 elements: the f32 mean and variance are still ~1e-7 relative
        expectClose(await rt!.read(y), groupNormRef(xs, shape, groups, w, b, 1e-5).y, FWD, 'groupNorm');
      });
    }
    it(`vec4=${vec4}: large offset (x = 1000 + noise) over 8192-element groups`, async () => {
      const shape = [1, 32, 16, 16];
      const xs = offsetNoise(numel(shape), 1000);
      const { w, b } = affineParams(32);
      for (const partials of [undefined, 1]) {
        const y = groupNorm(rt!, rt!.upload(xs, shape), 1, rt!.upload(w, [32]), rt!.upload(b, [32]), 1e-6, {
          vec4,
          partials,
        });
        expectClose(await rt!.read(y), groupNormRef(xs, shape, 1, w, b, 1e-6).y, OFFSET, `offset partials=${partials}`);
      }
    });
    it(`vec4=${vec4}: outliers at the start of partials stay accurate`, async () => {
      const shape = [2, 8, 8, 8];
      const xs = r.array(numel(shape), 1);
      for (let i = 0; i < xs.length; i += 64) xs[i] = 800; // first value of every partial when P = 1
      const { w, b } = affineParams(8);
      for (const partials of [1, 7]) {
        const y = groupNorm(rt!, rt!.upload(xs, shape), 2, rt!.upload(w, [8]), rt!.upload(b, [8]), 1e-5, {
          vec4,
          partials,
        });
        expectClose(await rt!.read(y), groupNormRef(xs, shape, 2, w, b, 1e-5).y, FWD, `outlier partials=${partials}`);
      }
    });
    for (const [shape, groups] of [
      [[2, 6, 3, 3], 3],
      [[1, 8, 4, 4], 2],
      [[2, 32, 8, 8], 8],
    ] as Array<[number[], number]>) {
      it(`vec4=${vec4}: backward through the tape ${JSON.stringify(shape)} groups=${groups}`, async () => {
        const xs = r.array(numel(shape), 2);
        const dys = r.array(numel(shape), 1);
        const { w, b } = affineParams(shape[1]);
        const got = await throughTape(
          (x, wt, bt) => groupNorm(rt!, x, groups, wt, bt, 1e-5, { vec4 }),
          xs,
          shape,
          w,
          b,
          dys,
        );
        expectClose(got.y, groupNormRef(xs, shape, groups, w, b, 1e-5).y, FWD, 'y');
        expectGrads(got, groupNormBackwardRef(xs, dys, shape, groups, w, 1e-5), BWD, 'groupNorm');
      });
    }
  }

  it('backward with a large offset and forced partials', async () => {
    const shape = [1, 8, 8, 8];
    const xs = offsetNoise(numel(shape), 1000);
    const dys = r.array(numel(shape), 1);
    const { w, b } = affineParams(8);
    const ref = groupNormBackwardRef(xs, dys, shape, 2, w, 1e-5);
    const x = rt!.upload(xs, shape);
    const wt = rt!.upload(w, [8]);
    const { stats } = groupNormForward(rt!, x, 2, wt, rt!.upload(b, [8]), 1e-5, true, { partials: 5 });
    const g = groupNormBackward(rt!, x, 2, wt, stats!, rt!.upload(dys, shape), undefined, { partials: 3 });
    // xhat carries the f32 mean error (see OFFSET); dw sums 64 such terms per channel
    expectGrads(
      { dx: await rt!.read(g.dx!), dw: await rt!.read(g.dweight!), db: await rt!.read(g.dbias!) },
      ref,
      { atol: 1e-3, rtol: 1e-4 },
      'offset',
    );
  });

  it('rejects bad inputs with the shapes in the message', () => {
    const x = rt!.zeros([1, 6, 2, 2]);
    expect(() => groupNorm(rt!, x, 4, rt!.zeros([6]), rt!.zeros([6]))).toThrow(
      /4 groups must be a positive divisor of the 6 channels of x \[1, 6, 2, 2\]/,
    );
    expect(() => groupNorm(rt!, x, 0, rt!.zeros([6]), rt!.zeros([6]))).toThrow(/groups/);
    expect(() => groupNorm(rt!, x, 3, rt!.zeros([6]), rt!.zeros([3]))).toThrow(
      /bias \[3\] does not match x \[1, 6, 2, 2\] \(expected \[6\]\)/,
    );
    expect(() => groupNorm(rt!, rt!.zeros([6]), 3, rt!.zeros([6]), rt!.zeros([6]))).toThrow(
      /\[B, C, \.\.\.\], got \[6\]/,
    );
  });
});
