import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/graph/tensor.js';
import {
  accumulate,
  adamw,
  clipCoef,
  clipGradNorm,
  cosineSchedule,
  gradNormSq,
  scaleInPlace,
} from '../../src/kernels/optim.js';
import { expectClose, rng, type Tol } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { adamwRef, type AdamWState, clipGradNormRef } from '../ref/optim.js';

const rt = await testRuntime();
const r = rng(23);
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('optim CPU reference', () => {
  it('cosineSchedule is fvcore CosineParamScheduler (start at 0, midpoint, end at total)', () => {
    expect(cosineSchedule(0, 100, 3e-4, 3e-5)).toBeCloseTo(3e-4, 15);
    expect(cosineSchedule(50, 100, 3e-4, 3e-5)).toBeCloseTo(1.65e-4, 15);
    expect(cosineSchedule(100, 100, 3e-4, 3e-5)).toBeCloseTo(3e-5, 15);
    expect(cosineSchedule(25, 100, 1, 0)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(() => cosineSchedule(101, 100, 1, 0)).toThrow(/outside/);
    expect(() => cosineSchedule(0, 0, 1, 0)).toThrow(/totalSteps/);
  });

  it('adamwRef: the first step moves each parameter by lr * sign(g) (bias corrections cancel), after decay', () => {
    const s: AdamWState = { p: Float64Array.of(1, -2, 0.5), m: new Float64Array(3), v: new Float64Array(3) };
    adamwRef(s, [0.3, -4, 1e-3], { lr: 0.01, weightDecay: 0.1, step: 1, eps: 0 });
    const d = 1 - 0.01 * 0.1;
    expect(Array.from(s.p)).toEqual(
      [1 * d - 0.01, -2 * d + 0.01, 0.5 * d - 0.01].map((v, i) => expect.closeTo(v, 14) as unknown as number),
    );
    expect(clipGradNormRef([[3], [4]], 1)).toEqual({ norm: 5, coef: 1 / (5 + 1e-6) });
  });
});

/** A tensor at element offset `off` inside a buffer filled with a sentinel (weights live in arenas). */
function arenaView(n: number, off: number, data: Float32Array, sentinel = 12345): { t: Tensor; whole: Tensor } {
  const total = off + n + 9;
  const buf = rt!.createBuffer(total * 4, 'arena');
  const whole = rt!.wrap(buf, [total], 'f32', 0);
  rt!.write(whole, new Float32Array(total).fill(sentinel));
  const t = rt!.wrap(buf, [n], 'f32', off * 4);
  rt!.write(t, data);
  return { t, whole };
}

describe.skipIf(!rt)('optimizer kernels vs float64 references', () => {
  // Six AdamW steps in f32 vs float64: each step rounds p, m, v (~6e-8 relative) and |p| <= ~1.
  // Measured <= 3.5e-7 abs over all cases; 1e-6 abs is 3x that and still catches a 0.1 % error in
  // the smallest total update here (6 steps x lr 3e-4).
  const TOL = (p: ArrayLike<number>): Tol => ({ atol: 1e-6 * Math.max(1, maxAbs(p)), rtol: 0 });
  const configs = [
    {
      name: 'lr 0.1, no weight decay',
      lr: 0.1,
      weightDecay: 0,
      eps: 1e-8,
      gscale: 1,
      scale: undefined as number | undefined,
    },
    {
      name: 'lr 0.05, wd 0.1, eps 1e-3 against gradients ~1e-3, gradScale 0.37',
      lr: 0.05,
      weightDecay: 0.1,
      eps: 1e-3,
      gscale: 1e-3,
      scale: 0.37,
    },
    {
      name: 'RobotSeg: lr 3e-4, wd 0.1, beta2 0.99',
      lr: 3e-4,
      weightDecay: 0.1,
      eps: 1e-8,
      gscale: 1,
      scale: undefined,
      beta2: 0.99,
    },
  ];
  for (const c of configs) {
    // scalar path: n = 1, 7, 65537 or an offset not a multiple of 4; vec4 path: 1024 at 0, 4096 at 68
    for (const [n, off] of [
      [1, 0],
      [7, 13],
      [1000, 3],
      [1024, 0],
      [4096, 68],
      [65537, 64],
    ]) {
      it(`adamw ${c.name}: n=${n}, param at element offset ${off} of an arena, 6 steps`, async () => {
        const p0 = r.array(n, 1);
        const { t: param, whole } = arenaView(n, off, p0);
        const m = rt!.zeros([n]);
        const v = rt!.zeros([n]);
        const s: AdamWState = { p: Float64Array.from(p0), m: new Float64Array(n), v: new Float64Array(n) };
        const scaleT = c.scale !== undefined ? rt!.upload([c.scale], [1]) : undefined;
        for (let step = 1; step <= 6; step++) {
          const g = r.array(n, c.gscale);
          if (n > 1) g[1] = 0; // a zero gradient: the update comes from the moments only
          const grad = rt!.upload(g, [n]);
          adamw(rt!, param, grad, m, v, {
            lr: c.lr,
            weightDecay: c.weightDecay,
            eps: c.eps,
            beta2: c.beta2,
            step,
            gradScale: scaleT,
          });
          adamwRef(s, g, { lr: c.lr, weightDecay: c.weightDecay, eps: c.eps, beta2: c.beta2, step, scale: c.scale });
          grad.dispose();
        }
        expectClose(await rt!.read(param), s.p, TOL(s.p), 'param');
        expectClose(await rt!.read(m), s.m, { atol: 1e-7 * Math.max(maxAbs(s.m), 1e-30), rtol: 1e-5 }, 'exp_avg');
        expectClose(await rt!.read(v), s.v, { atol: 1e-7 * Math.max(maxAbs(s.v), 1e-30), rtol: 1e-5 }, 'exp_avg_sq');
        const all = await rt!.read(whole);
        for (const i of [...Array(off).keys(), ...Array.from({ length: 9 }, (_, k) => off + n + k)]) {
          if (all[i] !== 12345) expect.fail(`arena element ${i} outside the parameter changed to ${all[i]}`);
        }
      });
    }
  }

  it('gradNormSq over many tensors (empty, 1 element, views, > 256 * 4096 elements) and clipCoef', async () => {
    const sizes = [0, 1, 5000, 3, (1 << 20) | 77];
    const hosts = sizes.map((n) => r.array(n, 0.1));
    const ts = hosts.map((h, i) => (i === 3 ? arenaView(h.length, 5, h).t : rt!.upload(h, [h.length])));
    const sq = gradNormSq(rt!, ts);
    const ref = clipGradNormRef(hosts, 0.1);
    expectClose(await rt!.read(sq), [ref.norm ** 2], { atol: 0, rtol: 2e-6 }, 'norm^2');
    for (const maxNorm of [0.1, 1e6]) {
      const { coef, norm } = clipCoef(rt!, sq, maxNorm);
      const want = clipGradNormRef(hosts, maxNorm);
      expectClose(await rt!.read(norm), [want.norm], { atol: 0, rtol: 2e-6 }, 'norm');
      expectClose(await rt!.read(coef), [want.coef], { atol: 0, rtol: 2e-6 }, 'coef');
      if (maxNorm === 1e6) expect((await rt!.read(coef))[0]).toBe(1);
    }
    expect(Array.from(await rt!.read(gradNormSq(rt!, [])))).toEqual([0]);
  });

  it('clipGradNorm feeds adamw gradScale: same as torch clip_grad_norm_ followed by AdamW', async () => {
    const hosts = [r.array(300, 2), r.array(17, 2)];
    const ps = hosts.map((h) => r.array(h.length, 1));
    const params = ps.map((p) => rt!.upload(p, [p.length]));
    const grads = hosts.map((h) => rt!.upload(h, [h.length]));
    const moments = hosts.map((h) => [rt!.zeros([h.length]), rt!.zeros([h.length])]);
    const { coef, norm } = clipGradNorm(rt!, grads, 0.1);
    params.forEach((p, i) =>
      adamw(rt!, p, grads[i], moments[i][0], moments[i][1], { lr: 0.01, weightDecay: 0.1, step: 1, gradScale: coef }),
    );
    const ref = clipGradNormRef(hosts, 0.1);
    expect(ref.coef).toBeLessThan(0.1);
    expectClose(await rt!.read(norm), [ref.norm], { atol: 0, rtol: 2e-6 }, 'norm');
    for (let i = 0; i < 2; i++) {
      const s: AdamWState = {
        p: Float64Array.from(ps[i]),
        m: new Float64Array(ps[i].length),
        v: new Float64Array(ps[i].length),
      };
      adamwRef(s, hosts[i], { lr: 0.01, weightDecay: 0.1, step: 1, scale: ref.coef });
      expectClose(await rt!.read(params[i]), s.p, TOL(s.p), `param ${i}`);
      expectClose(await rt!.read(moments[i][0]), s.m, { atol: 1e-9, rtol: 1e-5 }, `exp_avg ${i}`);
    }
  });

  it('accumulate and scaleInPlace (views at offsets, number and tensor scales)', async () => {
    const v4 = rt!.zeros([1024]);
    const h4 = r.array(1024, 1);
    accumulate(rt!, v4, arenaView(1024, 4, h4).t, 2); // vec4 path (16-byte aligned views)
    expectClose(
      await rt!.read(v4),
      Array.from(h4, (v) => 2 * v),
      { atol: 0, rtol: 0 },
      'accumulate vec4',
    );
    const n = 1001;
    const a = r.array(n, 1),
      b = r.array(n, 1);
    const { t: dst, whole } = arenaView(n, 7, a);
    const src = arenaView(n, 3, b).t;
    accumulate(rt!, dst, src);
    accumulate(rt!, dst, src, -0.5);
    expectClose(
      await rt!.read(dst),
      Array.from(a, (v, i) => v + 0.5 * b[i]),
      { atol: 1e-6, rtol: 1e-6 },
      'accumulate',
    );
    scaleInPlace(rt!, dst, 0.25);
    scaleInPlace(rt!, dst, arenaView(1, 11, Float32Array.of(-2)).t);
    expectClose(
      await rt!.read(dst),
      Array.from(a, (v, i) => -0.5 * (v + 0.5 * b[i])),
      { atol: 1e-6, rtol: 1e-6 },
      'scale',
    );
    const all = await rt!.read(whole);
    expect([...all.slice(0, 7), ...all.slice(7 + n)].every((v) => v === 12345)).toBe(true);
  });

  it('rejects bad arguments with clear errors', () => {
    const t = rt!.zeros([4]);
    const z = rt!.zeros([4]);
    expect(() => adamw(rt!, t, rt!.zeros([5]), z, z, { lr: 0.1, weightDecay: 0, step: 1 })).toThrow(
      /grad \[5\] has 5 elements, param \[4\] has 4/,
    );
    expect(() => adamw(rt!, t, z, z, z, { lr: 0.1, weightDecay: 0, step: 0 })).toThrow(/step must be an integer >= 1/);
    expect(() => adamw(rt!, t, z, z, z, { lr: 0.1, weightDecay: 0, step: 1, beta1: 1 })).toThrow(/beta1/);
    expect(() => adamw(rt!, t, z, z, z, { lr: 0.1, weightDecay: 0, step: 1, gradScale: rt!.zeros([2]) })).toThrow(
      /gradScale must have 1 element/,
    );
    expect(() => clipCoef(rt!, rt!.zeros([2]), 1)).toThrow(/1 element/);
    expect(() => accumulate(rt!, t, rt!.zeros([3]))).toThrow(/differ in size/);
    expect(() => scaleInPlace(rt!, t, rt!.zeros([2]))).toThrow(/1 element/);
    // two disjoint views 16 bytes apart in one buffer: both bindings start at offset 0 (alignment >= 32)
    const arena = rt!.wrap(rt!.createBuffer(1024, 'arena'), [256], 'f32');
    const [u, w] = [arena.narrow0(0, 4), arena.narrow0(4, 4)];
    expect(() => accumulate(rt!, u, w)).toThrow(
      /'dst' .* and 'src' .* share buffer 'arena' within \d+-byte binding alignment/,
    );
    expect(() => adamw(rt!, u, rt!.zeros([4]), w, rt!.zeros([4]), { lr: 0.1, weightDecay: 0, step: 1 })).toThrow(
      /'param' .* and 'expAvg'/,
    );
    expect(() => accumulate(rt!, u, u)).toThrow(/share buffer/);
  });
});
