import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { softmax, softmaxBackward, type SoftmaxVariant } from '../../src/kernels/softmax.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { softmaxBackwardRef, softmaxMaskedRef, softmaxRef } from '../ref/softmax.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();

// f32 exp and a sum over <= 1000 terms against float64: relative error ~1e-6 of each output
// (outputs are <= 1, so an absolute 1e-6 floor covers the tiny ones).
const TOL = { atol: 1e-6, rtol: 1e-5 };
const VARIANTS: SoftmaxVariant[] = ['row', 'workgroup'];

describe.skipIf(!rt)('softmax', () => {
  const r = rng(3);
  for (const variant of VARIANTS) {
    // n: 1, not a multiple of 4 (scalar path), multiples of 4 (vec4 path), longer than the workgroup
    for (const n of [1, 3, 4, 7, 64, 129, 300, 1000]) {
      for (const rows of [1, 5]) {
        it(`${variant} rows=${rows} n=${n}`, async () => {
          const xs = r.array(rows * n, 4);
          const y = softmax(rt!, rt!.upload(xs, [rows, n]), { variant, scale: 0.7 });
          expectClose(await rt!.read(y), softmaxRef(xs, n, 0.7), TOL, 'softmax');
        });
      }
    }
    it(`${variant} is stable for large logits and -inf entries`, async () => {
      const xs = Float32Array.from([1000, 999, -1000, 0, -Infinity, 50, -Infinity, 51]);
      const y = softmax(rt!, rt!.upload(xs, [2, 4]), { variant });
      expectClose(await rt!.read(y), softmaxRef(xs, 4), TOL, 'stable');
    });
    for (const [B, R, n, Bm] of [
      [2, 3, 8, 2],
      [3, 2, 5, 1],
      [2, 4, 300, 2],
    ]) {
      it(`${variant} additive mask [${Bm}, ${n}] over x [${B}, ${R}, ${n}], a fully masked row gives zeros`, async () => {
        const xs = r.array(B * R * n, 3);
        const mask = Float32Array.from({ length: Bm * n }, (_, e) => (e % 3 === 1 ? -Infinity : 0.3 * (e % 5)));
        if (Bm > 1) mask.fill(-Infinity, n, 2 * n); // batch entry 1: every key dropped
        const y = softmax(rt!, rt!.upload(xs, [B, R, n]), { variant, scale: 0.6, mask: rt!.upload(mask, [Bm, n]) });
        const want = softmaxMaskedRef(xs, n, R, mask, 0.6);
        expectClose(await rt!.read(y), want, TOL, 'masked');
      });
    }
    it(`${variant} 4-D input, views at unaligned offsets, empty`, async () => {
      const xs = r.array(2 * 3 * 2 * 8, 3);
      const y = softmax(rt!, rt!.upload(xs, [2, 3, 2, 8]), { variant });
      expect(y.shape).toEqual([2, 3, 2, 8]);
      expectClose(await rt!.read(y), softmaxRef(xs, 8), TOL, '4-D');
      const v = rt!.upload(xs, [12, 8]).narrow0(1, 5); // 32-byte offset: scalar path
      expectClose(await rt!.read(softmax(rt!, v, { variant })), softmaxRef(xs.slice(8, 48), 8), TOL, 'view');
      expect(softmax(rt!, rt!.zeros([0, 5]), { variant }).shape).toEqual([0, 5]);
      expect(softmax(rt!, rt!.zeros([3, 0]), { variant }).shape).toEqual([3, 0]);
    });
    for (const n of [1, 6, 200]) {
      it(`${variant} backward n=${n} vs float64 reference`, async () => {
        const rows = 3;
        const ys = Float32Array.from(softmaxRef(r.array(rows * n, 3), n));
        const dys = r.array(rows * n);
        const dx = softmaxBackward(rt!, rt!.upload(ys, [rows, n]), rt!.upload(dys, [rows, n]), 1.3, variant);
        expectClose(await rt!.read(dx), softmaxBackwardRef(ys, dys, n, 1.3), TOL, 'backward');
      });
    }
  }

  it('records backward on the tape (checked by central finite differences)', async () => {
    const n = 5,
      rows = 2,
      scale = 0.5;
    const xs = r.array(rows * n, 2);
    const dys = r.array(rows * n);
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    const x = rt!.upload(xs, [rows, n]);
    x.requiresGrad = true;
    const y = softmax(rt!, x, { scale });
    tape.backward(y, rt!.upload(dys, [rows, n]));
    rt!.tape = null;
    const g = await rt!.read(x.grad!);
    tape.dispose();
    const loss = (v: Float64Array) => softmaxRef(v, n, scale).reduce((s, yv, i) => s + yv * dys[i], 0);
    const v = Float64Array.from(xs);
    const eps = 1e-6;
    const fd = Float64Array.from(xs, (_, i) => {
      const o = v[i];
      v[i] = o + eps;
      const lp = loss(v);
      v[i] = o - eps;
      const lm = loss(v);
      v[i] = o;
      return (lp - lm) / (2 * eps);
    });
    // f32 gradient vs float64 finite differences (truncation ~1e-12)
    expectClose(g, fd, { atol: 2e-6, rtol: 1e-5 }, 'dx');
  });

  it('rejects bad input', () => {
    expect(() => softmax(rt!, rt!.zeros([]))).toThrow(/rank >= 1/);
    expect(() => softmaxBackward(rt!, rt!.zeros([2, 3]), rt!.zeros([3, 2]))).toThrow(/\[2, 3\] vs dy \[3, 2\]/);
  });
});
