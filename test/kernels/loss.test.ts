import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { clamp, sigmoid } from '../../src/kernels/elementwise.js';
import {
  bceWithLogits,
  cosineSimilarity,
  diceLoss,
  l1Loss,
  l2Normalize,
  maskIoU,
  mseLoss,
  sigmoidFocalLoss,
  softIoULoss,
  structureTarget,
} from '../../src/kernels/loss.js';
import { maskedMean } from '../../src/kernels/reduce.js';
import { expectClose, rng, type Tol } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import {
  bceWithLogitsRef,
  centralDiff,
  cosineBackwardRef,
  cosineRef,
  diceBackwardRef,
  diceRef,
  focalBackwardRef,
  focalRef,
  focalTermRef,
  l1mseBackwardRef,
  l1Ref,
  l2NormalizeBackwardRef,
  l2NormalizeRef,
  maskedMeanBackwardRef,
  maskedMeanRef,
  maskIoURef,
  mseRef,
  softIoUBackwardRef,
  softIoURef,
  structureTargetRef,
} from '../ref/loss.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();
const r = rng(11);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const binary = (n: number, pOn = 0.4) => Float32Array.from({ length: n }, () => (r.uniform() < pOn ? 1 : 0));
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

// float64 central differences, h = 1e-6: truncation ~h^2 |f'''| ~ 1e-12 and rounding ~1e-16 |f| / h
// ~ 1e-10, against gradients of 1e-3..1: atol 1e-8 + rtol 1e-6 has >= 100x margin.
const FD: Tol = { atol: 1e-8, rtol: 1e-6 };
// Row losses in f32 against float64: per-pixel terms carry ~1e-7 relative error, sums of up to 65536
// terms are split into partials of <= 128 terms and <= 1024 partials. Measured: <= 1e-7 relative at
// N = 4096, <= 3.4e-7 at N = 65536 (1.5e-6 at N = 4M). Losses are O(0.01..1): 10x margin.
const FWD: Tol = { atol: 2e-6, rtol: 2e-5 };
/** Gradients: f32 per-element formulas, relative to the largest gradient entry (entries span decades). */
const gradTol = (ref: ArrayLike<number>): Tol => ({ atol: 2e-5 * maxAbs(ref) + 1e-12, rtol: 1e-4 });

// ---------------------------------------------------------------------------- CPU references only
describe('loss CPU references: analytic backward vs central finite differences (float64, h = 1e-6)', () => {
  const m = 2,
    n = 9; // every one of the 18 entries is checked
  const x = Float64Array.from(r.array(m * n, 4));
  const w = Float64Array.from(r.array(m, 1)); // d objective / d loss[row]
  const check = (
    analytic: ArrayLike<number>,
    f: (x: Float64Array) => ArrayLike<number>,
    at: ArrayLike<number>,
    what: string,
  ) => {
    const fd = centralDiff(f, at, w, range(at.length));
    expectClose(
      range(at.length).map((i) => analytic[i]),
      range(at.length).map((i) => fd.get(i)!),
      FD,
      what,
    );
  };

  for (const [alpha, gamma, soft] of [
    [0.25, 2, false],
    [-1, 0, false],
    [0.6, 1.5, true],
    [0.25, 2, true],
  ] as const) {
    it(`focal alpha=${alpha} gamma=${gamma} ${soft ? 'soft' : 'binary'} targets, shared and per-row`, () => {
      for (const tn of [n, m * n]) {
        const t = soft ? Float64Array.from({ length: tn }, () => r.uniform()) : Float64Array.from(binary(tn));
        check(focalBackwardRef(x, t, m, n, w, alpha, gamma), (xx) => focalRef(xx, t, m, n, alpha, gamma), x, 'focal');
      }
    });
  }

  it('dice (smooth 1 and 0.5)', () => {
    const t = binary(m * n);
    for (const s of [1, 0.5]) check(diceBackwardRef(x, t, m, n, w, s), (xx) => diceRef(xx, t, m, n, s), x, 'dice');
  });

  it('soft IoU w.r.t. p (p in (0, 1), binary and soft targets)', () => {
    const p = Float64Array.from({ length: m * n }, () => 0.05 + 0.9 * r.uniform());
    for (const t of [binary(n), Float64Array.from({ length: m * n }, () => r.uniform())]) {
      check(softIoUBackwardRef(p, t, m, n, w), (pp) => softIoURef(pp, t, m, n), p, 'soft IoU');
    }
  });

  it('l1 (away from the kink) and mse, both operands', () => {
    const a = Float64Array.from(r.array(12, 2));
    const b = Float64Array.from(a, (v, i) => v + (i % 2 ? 0.3 : -0.2) + 0.01 * r.uniform());
    for (const kind of ['l1', 'mse'] as const) {
      const f = kind === 'l1' ? l1Ref : mseRef;
      const [da, db] = l1mseBackwardRef(kind, a, b, 0.7);
      const wa = [0.7];
      const fa = centralDiff((aa) => [f(aa, b)], a, wa, range(12));
      const fb = centralDiff((bb) => [f(a, bb)], b, wa, range(12));
      expectClose(
        Array.from(da),
        range(12).map((i) => fa.get(i)!),
        FD,
        `${kind} da`,
      );
      expectClose(
        Array.from(db),
        range(12).map((i) => fb.get(i)!),
        FD,
        `${kind} db`,
      );
    }
  });

  it('l2Normalize (norm above eps) and cosine similarity, both inputs', () => {
    const c = 6,
      rows = 3; // 18 entries per input
    const a = Float64Array.from(r.array(rows * c, 1.5));
    const b = Float64Array.from(r.array(rows * c, 1.5));
    const dyN = Float64Array.from(r.array(rows * c, 1));
    const fdN = centralDiff((xx) => l2NormalizeRef(xx, c), a, dyN, range(rows * c));
    expectClose(
      Array.from(l2NormalizeBackwardRef(a, dyN, c)),
      range(rows * c).map((i) => fdN.get(i)!),
      FD,
      'l2Normalize',
    );
    const dyC = Float64Array.from(r.array(rows, 1));
    const [da, db] = cosineBackwardRef(a, b, dyC, c);
    const fa = centralDiff((aa) => cosineRef(aa, b, c), a, dyC, range(rows * c));
    const fb = centralDiff((bb) => cosineRef(a, bb, c), b, dyC, range(rows * c));
    expectClose(
      Array.from(da),
      range(rows * c).map((i) => fa.get(i)!),
      FD,
      'cosine da',
    );
    expectClose(
      Array.from(db),
      range(rows * c).map((i) => fb.get(i)!),
      FD,
      'cosine db',
    );
  });

  it('l2Normalize below eps: the gradient is dy / eps (the clamp is active)', () => {
    const x1 = Float64Array.of(1e-7, -2e-7, 0);
    const dy = Float64Array.of(0.3, -0.2, 0.5);
    const fd = centralDiff((xx) => l2NormalizeRef(xx, 3, 1e-3), x1, dy, range(3), 1e-9);
    expectClose(
      Array.from(l2NormalizeBackwardRef(x1, dy, 3, 1e-3)),
      range(3).map((i) => fd.get(i)!),
      { atol: 1e-6, rtol: 1e-6 },
      'clamped',
    );
  });

  it('maskedMean dx and dm (sum m above eps, and a zero mask where the clamp is active)', () => {
    const [b, c, nn] = [2, 3, 5]; // 30 x entries, 10 m entries
    const xs = Float64Array.from(r.array(b * c * nn, 2));
    const ms = Float64Array.from({ length: b * nn }, (_, i) => (i < nn ? r.uniform() : 0));
    const dy = Float64Array.from(r.array(b * c, 1));
    const g = maskedMeanBackwardRef(xs, ms, dy, b, c, nn);
    const fx = centralDiff((xx) => maskedMeanRef(xx, ms, b, c, nn), xs, dy, range(b * c * nn));
    // around m = 0 the perturbed sum stays below eps = 1e-6 with h = 1e-8
    const fm = centralDiff((mm) => maskedMeanRef(xs, mm, b, c, nn), ms, dy, range(b * nn), 1e-8);
    expectClose(
      Array.from(g.dx),
      range(b * c * nn).map((i) => fx.get(i)!),
      FD,
      'dx',
    );
    expectClose(
      Array.from(g.dm),
      range(b * nn).map((i) => fm.get(i)!),
      { atol: 1e-6, rtol: 1e-5 },
      'dm',
    );
  });

  it('matches hand-computed values', () => {
    expect(bceWithLogitsRef(0, 1)).toBeCloseTo(Math.LN2, 14);
    expect(focalTermRef(0, 1, 0.25, 2)).toBeCloseTo(0.25 * Math.LN2 * 0.25, 14); // p_t = 1/2
    expect(focalTermRef(2, 0, -1, 0)).toBeCloseTo(bceWithLogitsRef(2, 0), 14);
    expect(Number.isFinite(focalTermRef(80, 0, 0.25, 2)) && Number.isFinite(focalTermRef(-80, 1, 0.25, 2))).toBe(true);
    // x >> 0 everywhere a t = 1: dice = 1 - (2k + 1) / (k + k + 1) = 0
    expect(diceRef([50, 50, -50], [1, 1, 0], 1, 3)[0]).toBeCloseTo(0, 12);
    expect(Array.from(maskIoURef([1, 1, -1, -1, -1, -1], [1, 0, 1, 0, 0, 0], 2, 3))).toEqual([1 / 3, 0]);
    expect(softIoURef([1, 0], [1, 0], 1, 2)[0]).toBeCloseTo(0, 12);
    // one pixel in the middle of a 3x3 mask: centre |-8/16|; with reflect padding the corners see it
    // 4 times (4/16) and the edges twice (2/16), zero padding would give 1/16; all / (0.5 + 1e-6)
    const st = structureTargetRef([0, 0, 0, 0, 1, 0, 0, 0, 0], 1, 3, 3);
    expect(st[4]).toBeCloseTo(0.5 / (0.5 + 1e-6), 14);
    expect(st[0]).toBeCloseTo(0.25 / (0.5 + 1e-6), 14);
    expect(st[1]).toBeCloseTo(0.125 / (0.5 + 1e-6), 14);
    expect(Array.from(structureTargetRef(new Float64Array(12), 1, 3, 4))).toEqual(new Array(12).fill(0));
  });
});

// ---------------------------------------------------------------------------------------- GPU
/** Forward on the tape, backward with `seed` as d objective / d output; returns y and input grads. */
async function throughTape(
  f: (ins: Tensor[]) => Tensor,
  ins: Array<{ data: Float32Array; shape: number[]; grad?: boolean }>,
  seed: Float32Array,
) {
  const tape = new Tape(rt!, TAPE_OPS);
  const ts = ins.map((i) => {
    const t = rt!.upload(i.data, i.shape);
    t.requiresGrad = i.grad ?? true;
    return t;
  });
  rt!.tape = tape;
  let y: Tensor;
  try {
    y = f(ts);
  } finally {
    rt!.tape = null;
  }
  tape.backward(y, rt!.upload(seed, y.shape, 'f32', 'seed'));
  const out = {
    y: await rt!.read(y),
    grads: await Promise.all(ts.map((t) => (t.grad ? rt!.read(t.grad) : Promise.resolve(null)))),
  };
  tape.dispose();
  for (const t of ts) {
    t.grad?.dispose();
    t.dispose();
  }
  y.dispose();
  return out;
}

describe.skipIf(!rt)('row losses on the GPU vs the float64 reference', () => {
  // N: 1, below / not a multiple of the workgroup (64) and of the partial length (128), several
  // partials with a remainder, 65536 = a 256x256 mask; M = 1 and M = 3; shared and per-row targets.
  const cases: Array<[number, number]> = [
    [1, 1],
    [3, 1],
    [1, 100],
    [3, 300],
    [2, 4097],
    [3, 65536],
    [1, 65536],
  ];
  for (const [m, n] of cases) {
    for (const perRow of n <= 4097 ? [false, true] : [false]) {
      it(`focal / dice / mask IoU forward M=${m} N=${n} ${perRow ? 'per-row' : 'shared'} target`, async () => {
        const xs = r.array(m * n, 6);
        const ts = binary(perRow ? m * n : n);
        const x = rt!.upload(xs, [m, n]);
        const t = rt!.upload(ts, [ts.length]);
        expectClose(await rt!.read(sigmoidFocalLoss(rt!, x, t)), focalRef(xs, ts, m, n), FWD, 'focal');
        expectClose(await rt!.read(diceLoss(rt!, x, t)), diceRef(xs, ts, m, n), FWD, 'dice');
        expectClose(await rt!.read(maskIoU(rt!, x, t)), maskIoURef(xs, ts, m, n), { atol: 0, rtol: 1e-7 }, 'mask IoU');
      });
    }
  }

  it('focal with soft targets, other alpha / gamma, BCE alias on a [1, 1] object score', async () => {
    const [m, n] = [2, 777];
    const xs = r.array(m * n, 5);
    const ts = Float32Array.from({ length: m * n }, () => r.uniform());
    const x = rt!.upload(xs, [m, n]);
    const t = rt!.upload(ts, [m, n]);
    for (const [alpha, gamma] of [
      [0.6, 1.5],
      [-1, 3],
      [0.25, 0],
    ]) {
      expectClose(
        await rt!.read(sigmoidFocalLoss(rt!, x, t, { alpha, gamma })),
        focalRef(xs, ts, m, n, alpha, gamma),
        FWD,
        `focal ${alpha} ${gamma}`,
      );
    }
    const score = rt!.upload([0.4154], [1, 1]);
    const bce = await rt!.read(bceWithLogits(rt!, score, rt!.upload([1], [1])));
    expect(bce.length).toBe(1);
    expectClose(bce, [bceWithLogitsRef(Math.fround(0.4154), 1)], { atol: 1e-7, rtol: 1e-6 }, 'bce');
  });

  it('is stable for saturated logits (|x| up to 100): finite losses and gradients', async () => {
    const xs = Float32Array.of(100, -100, 30, -30, 17, -17, 0, 1e-4);
    const ts = Float32Array.of(1, 0, 0, 1, 1, 0, 1, 0);
    const seed = Float32Array.of(1);
    for (const [name, f] of [
      ['focal', sigmoidFocalLoss],
      ['dice', diceLoss],
    ] as const) {
      const { y, grads } = await throughTape(
        ([x, t]) => f(rt!, x, t),
        [
          { data: xs, shape: [1, 8] },
          { data: ts, shape: [8], grad: false },
        ],
        seed,
      );
      const ref = name === 'focal' ? focalRef(xs, ts, 1, 8) : diceRef(xs, ts, 1, 8);
      const g = name === 'focal' ? focalBackwardRef(xs, ts, 1, 8, [1]) : diceBackwardRef(xs, ts, 1, 8, [1]);
      expectClose(y, ref, FWD, `${name} saturated`);
      expect(grads[0]!.every(Number.isFinite)).toBe(true);
      expectClose(grads[0]!, g, gradTol(g), `${name} saturated grad`);
    }
  });

  for (const [m, n, perRow] of [
    [1, 1, false],
    [3, 1000, false],
    [2, 333, true],
    [1, 65536, false],
  ] as const) {
    it(`backward through the tape M=${m} N=${n} ${perRow ? 'per-row' : 'shared'} target: focal, dice, soft IoU`, async () => {
      const xs = r.array(m * n, 4);
      const ts = binary(perRow ? m * n : n);
      const seed = r.array(m, 1);
      const ins = [
        { data: xs, shape: [m, n] },
        { data: ts, shape: [ts.length], grad: false },
      ];
      let out = await throughTape(([x, t]) => sigmoidFocalLoss(rt!, x, t), ins, seed);
      let g: Float64Array = focalBackwardRef(xs, ts, m, n, seed);
      expectClose(out.grads[0]!, g, gradTol(g), 'focal dx');
      expect(out.grads[1]).toBeNull();
      out = await throughTape(([x, t]) => diceLoss(rt!, x, t), ins, seed);
      g = diceBackwardRef(xs, ts, m, n, seed);
      expectClose(out.grads[0]!, g, gradTol(g), 'dice dx');
      const ps = Float32Array.from(xs, (v) => 1 / (1 + Math.exp(-v)));
      out = await throughTape(([p, t]) => softIoULoss(rt!, p, t), [{ data: ps, shape: [m, n] }, ins[1]], seed);
      expectClose(out.y, softIoURef(ps, ts, m, n), FWD, 'soft IoU');
      g = softIoUBackwardRef(ps, ts, m, n, seed);
      expectClose(out.grads[0]!, g, gradTol(g), 'soft IoU dp');
    });
  }

  for (const n of [1, 3, 1000, 3 * 256 * 256]) {
    it(`l1 / mse N=${n}: forward and both gradients`, async () => {
      const as = r.array(n, 1);
      const bs = r.array(n, 1);
      for (const kind of ['l1', 'mse'] as const) {
        const { y, grads } = await throughTape(
          ([a, b]) => (kind === 'l1' ? l1Loss : mseLoss)(rt!, a, b),
          [
            { data: as, shape: [n] },
            { data: bs, shape: [n] },
          ],
          Float32Array.of(0.5),
        );
        expect(y.length).toBe(1);
        expectClose(y, [(kind === 'l1' ? l1Ref : mseRef)(as, bs)], FWD, kind);
        const [da, db] = l1mseBackwardRef(kind, as, bs, 0.5);
        expectClose(grads[0]!, da, gradTol(da), `${kind} da`);
        expectClose(grads[1]!, db, gradTol(db), `${kind} db`);
      }
    });
  }

  it('mask shapes: [B, K, H, W] logits give [B, K] losses; a view at an unaligned offset; M = 0', async () => {
    const [b, k, h, w] = [2, 3, 5, 7];
    const xs = r.array(b * k * h * w, 3);
    const ts = binary(h * w);
    const t = rt!.upload(ts, [1, 1, h, w]);
    const y = sigmoidFocalLoss(rt!, rt!.upload(xs, [b, k, h, w]), t);
    expect(y.shape).toEqual([b, k]);
    expectClose(await rt!.read(y), focalRef(xs, ts, b * k, h * w), FWD, '4-D');
    // rows 1..4 of a [6, 35] buffer: byte offset 140 (not 256-aligned) goes through x_off
    const view = rt!.upload(xs, [6, h * w]).narrow0(1, 4);
    expectClose(await rt!.read(diceLoss(rt!, view, t)), diceRef(xs.slice(h * w, 5 * h * w), ts, 4, h * w), FWD, 'view');
    expect(maskIoU(rt!, rt!.zeros([0, 4]), rt!.zeros([4])).shape).toEqual([0]);
  });

  it('inside rt.scope with a tape: the saved row sums are released exactly once (no leak, no double release)', async () => {
    const x = rt!.upload(r.array(2 * 50, 3), [2, 50]);
    x.requiresGrad = true;
    const t = rt!.upload(binary(50), [50]);
    const base = rt!.pool.liveBytes;
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    let y: Tensor;
    try {
      y = rt!.scope(() => diceLoss(rt!, sigmoid(rt!, x), t)); // temporaries of the scope are pinned by the tape
    } finally {
      rt!.tape = null;
    }
    const seed = rt!.upload([1, 1], [2]);
    tape.backward(y, seed);
    await rt!.read(x.grad!);
    tape.dispose();
    for (const v of [y, seed, x.grad!]) v.dispose();
    x.grad = null;
    expect(rt!.pool.liveBytes).toBe(base);
  });

  it('rejects bad inputs with clear errors', () => {
    const x = rt!.zeros([3, 10]);
    expect(() => sigmoidFocalLoss(rt!, x, rt!.zeros([7]))).toThrow(
      /target \[7\] has 7 elements; input \[3, 10\] needs 10 .* or 30/,
    );
    expect(() => diceLoss(rt!, rt!.zeros([3, 0]), rt!.zeros([0]))).toThrow(/no elements per row/);
    expect(() => l1Loss(rt!, x, rt!.zeros([29]))).toThrow(/differ in size/);
    expect(() => sigmoidFocalLoss(rt!, x, rt!.zeros([10]), { gamma: -1 })).toThrow(/gamma/);
    expect(() => cosineSimilarity(rt!, rt!.zeros([2, 4]), rt!.zeros([2, 5]))).toThrow(/same shape/);
    expect(() => structureTarget(rt!, rt!.zeros([1, 1, 1, 8]))).toThrow(/H, W >= 2/);
  });
});

describe.skipIf(!rt)('feature ops, masked mean and clamp on the GPU', () => {
  it('l2Normalize forward and backward (C = 1, 64, 256; a zero row; a row below eps)', async () => {
    for (const c of [1, 64, 256]) {
      const rows = 5;
      const xs = r.array(rows * c, 2);
      xs.fill(0, 0, c); // zero row: y = 0, dx = dy / eps
      xs[c] = 1e-13; // below eps = 1e-12 when c = 1; otherwise a tiny entry of a normal row
      const dys = r.array(rows * c, 1);
      const { y, grads } = await throughTape(([x]) => l2Normalize(rt!, x), [{ data: xs, shape: [rows, c] }], dys);
      expectClose(y, l2NormalizeRef(xs, c), { atol: 1e-6, rtol: 1e-5 }, `y c=${c}`);
      const g = l2NormalizeBackwardRef(xs, dys, c);
      expectClose(grads[0]!, g, { atol: 1e-6 * maxAbs(g), rtol: 1e-4 }, `dx c=${c}`);
    }
  });

  it('cosineSimilarity forward and backward ([4, 64], [1, 256], rank 1, a zero vector)', async () => {
    for (const shape of [[4, 64], [1, 256], [64]]) {
      const size = shape.reduce((a, d) => a * d, 1);
      const c = shape[shape.length - 1];
      const as = r.array(size, 1);
      const bs = Float32Array.from(as, (v) => v + 0.5 * (r.uniform() - 0.5));
      if (shape[0] === 4) bs.fill(0, 0, c); // a zero vector: cos = 0, da = 0, db = a / (na * eps)
      const rows = size / c;
      const dys = r.array(rows, 1);
      const { y, grads } = await throughTape(
        ([a, b]) => cosineSimilarity(rt!, a, b),
        [
          { data: as, shape },
          { data: bs, shape },
        ],
        dys,
      );
      expect(y.length).toBe(rows);
      expectClose(y, cosineRef(as, bs, c), { atol: 1e-6, rtol: 1e-5 }, 'cos');
      const [da, db] = cosineBackwardRef(as, bs, dys, c);
      expectClose(grads[0]!, da, gradTol(da), 'da');
      expectClose(grads[1]!, db, gradTol(db), 'db');
    }
  });

  it('maskedMean backward for x and m through the tape (soft mask; an empty mask in batch 1)', async () => {
    const [b, c, n] = [2, 64, 256];
    const xs = r.array(b * c * n, 2);
    const ms = Float32Array.from({ length: b * n }, (_, i) => (i < n ? r.uniform() : 0));
    const dys = r.array(b * c, 1);
    const { y, grads } = await throughTape(
      ([x, m]) => maskedMean(rt!, x, m),
      [
        { data: xs, shape: [b, c, n] },
        { data: ms, shape: [b, n] },
      ],
      dys,
    );
    expectClose(y, maskedMeanRef(xs, ms, b, c, n), { atol: 1e-5, rtol: 1e-5 }, 'y');
    const g = maskedMeanBackwardRef(xs, ms, dys, b, c, n);
    expectClose(grads[0]!, g.dx, gradTol(g.dx), 'dx');
    expectClose(grads[1]!, g.dm, gradTol(g.dm), 'dm');
  });

  it('clamp forward and backward: the gradient passes at lo <= x <= hi, boundaries included', async () => {
    const xs = Float32Array.of(-1, 0, 0.25, 1, 1.5, -0.0001, 0.9999, 2);
    const dys = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const { y, grads } = await throughTape(([x]) => clamp(rt!, x, 0, 1), [{ data: xs, shape: [8] }], dys);
    expect(Array.from(y)).toEqual(Array.from(xs, (v) => Math.fround(Math.min(Math.max(v, 0), 1))));
    expect(Array.from(grads[0]!)).toEqual([0, 2, 3, 4, 0, 0, 7, 0]);
    const big = r.array(1000, 3);
    const half = await rt!.read(clamp(rt!, rt!.upload(big, [1000]), -Infinity, 0.5));
    expect(Array.from(half)).toEqual(Array.from(big, (v) => Math.min(v, 0.5)));
    expect(() => clamp(rt!, rt!.zeros([2]), 1, 0)).toThrow(/lo <= hi/);
  });

  it('structureTarget: random masks, an empty mask, 256x256, H = 2', async () => {
    for (const [planes, h, w] of [
      [2, 37, 45],
      [1, 256, 256],
      [1, 2, 3],
    ]) {
      const ms = binary(planes * h * w, 0.3);
      const y = structureTarget(rt!, rt!.upload(ms, [planes, 1, h, w]));
      expect(y.shape).toEqual([planes, 1, h, w]);
      expectClose(await rt!.read(y), structureTargetRef(ms, planes, h, w), { atol: 1e-7, rtol: 1e-6 }, `${h}x${w}`);
    }
    const soft = r.array(2 * 16 * 16, 0.5, 0.5);
    soft.fill(0, 256); // plane 1 empty: all zeros, no NaN
    expectClose(
      await rt!.read(structureTarget(rt!, rt!.upload(soft, [2, 1, 16, 16]))),
      structureTargetRef(soft, 2, 16, 16),
      { atol: 1e-7, rtol: 1e-5 },
      'soft + empty',
    );
  });

  it('loss chains through the tape match float64 finite differences end to end', async () => {
    // patch loss: softIoU(clamp(sigmoid(x), 0, 1), t); semantic: 1 - cos(normalize(maskedMean(F, sigmoid(x))), a)
    const n = 24,
      c = 5;
    const xs = r.array(n, 3);
    const ts = binary(n);
    const fs = r.array(c * n, 1);
    const anchor = r.array(c, 1);
    const seed = Float32Array.of(1);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const patch = (x: ArrayLike<number>) =>
      softIoURef(
        Array.from(x, (v) => Math.min(Math.max(sig(v), 0), 1)),
        ts,
        1,
        n,
      );
    const sem = (x: ArrayLike<number>) =>
      cosineRef(l2NormalizeRef(maskedMeanRef(fs, Array.from(x, sig), 1, c, n), c), anchor, c);
    const p = await throughTape(
      ([x, t]) => softIoULoss(rt!, clamp(rt!, sigmoid(rt!, x), 0, 1), t),
      [
        { data: xs, shape: [1, n] },
        { data: ts, shape: [n], grad: false },
      ],
      seed,
    );
    const s = await throughTape(
      ([x, f, a]) => cosineSimilarity(rt!, l2Normalize(rt!, maskedMean(rt!, f, sigmoid(rt!, x))), a),
      [
        { data: xs, shape: [1, n] },
        { data: fs, shape: [1, c, n] },
        { data: anchor, shape: [1, c], grad: false },
      ],
      seed,
    );
    const fdP = centralDiff(patch, xs, [1], range(n));
    const fdS = centralDiff(sem, xs, [1], range(n));
    const fdF = centralDiff(
      (ff) => cosineRef(l2NormalizeRef(maskedMeanRef(ff, Array.from(xs, sig), 1, c, n), c), anchor, c),
      fs,
      [1],
      range(c * n),
    );
    const tol = (g: number[]): Tol => ({ atol: 1e-4 * maxAbs(g), rtol: 1e-3 });
    const gp = range(n).map((i) => fdP.get(i)!),
      gs = range(n).map((i) => fdS.get(i)!),
      gf = range(c * n).map((i) => fdF.get(i)!);
    expectClose(p.grads[0]!, gp, tol(gp), 'patch chain dx');
    expectClose(s.grads[0]!, gs, tol(gs), 'semantic chain dx');
    expectClose(s.grads[1]!, gf, tol(gf), 'semantic chain dF');
  });
});
