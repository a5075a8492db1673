// Tolerance checks in the llm.c / tinygrad style: |a - b| <= atol + rtol * |b|; on failure report
// the max difference and the first few mismatching pairs.
import { expect } from 'vitest';

export interface Tol {
  atol: number;
  rtol: number;
}

export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol) {
  let maxAbs = 0;
  let maxRel = 0;
  let bad = 0;
  const firsts: string[] = [];
  if (actual.length !== expected.length)
    return { ok: false, msg: `length ${actual.length} != ${expected.length}`, maxAbs: Infinity, maxRel: Infinity };
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    const d = Math.abs(a - b);
    const bothNaN = Number.isNaN(a) && Number.isNaN(b);
    const same = a === b; // covers equal infinities
    if (!bothNaN && !same) {
      if (!(d <= tol.atol + tol.rtol * Math.abs(b))) {
        bad++;
        if (firsts.length < 6) firsts.push(`[${i}] got ${a} want ${b}`);
      }
      if (Number.isFinite(d)) {
        maxAbs = Math.max(maxAbs, d);
        if (b !== 0) maxRel = Math.max(maxRel, d / Math.abs(b));
      }
    }
  }
  return {
    ok: bad === 0,
    msg: `${bad}/${actual.length} outside atol ${tol.atol} rtol ${tol.rtol}; max abs ${maxAbs.toExponential(2)}; ${firsts.join(', ')}`,
    maxAbs,
    maxRel,
  };
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, what = 'tensor') {
  const r = compare(actual, expected, tol);
  if (!r.ok) expect.fail(`${what}: ${r.msg}`);
  return r;
}

/**
 * A tensor against its golden: |got - want| <= atol + 1e-3 |want| with atol = `opts.atol` or 1e-4 of
 * the golden's max |value| (at least 1e-6). With `bf16` (memory compared after bfloat16 rounding), a
 * value within float error of a rounding boundary may land one bf16 ulp away: allowed for at most
 * 0.5% of the elements. Fails the test with `name` otherwise.
 */
export function expectGolden(
  name: string,
  got: ArrayLike<number>,
  want: Float32Array,
  opts: { atol?: number; bf16?: boolean } = {},
) {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  const atol = opts.atol ?? Math.max(1e-4 * scale, 1e-6);
  const r = compare(got, want, { atol, rtol: 1e-3 });
  if (r.ok) return r;
  if (opts.bf16) {
    let off = 0;
    for (let i = 0; i < want.length; i++)
      if (Math.abs(got[i] - want[i]) > atol + 1e-3 * Math.abs(want[i])) {
        if (Math.abs(got[i] - want[i]) > Math.abs(want[i]) * 2 ** -7 + 1e-6)
          expect.fail(`${name}: [${i}] ${got[i]} vs ${want[i]} is more than one bf16 ulp`);
        off++;
      }
    if (off <= want.length * 0.005) return r;
  }
  expect.fail(`${name}: ${r.msg}`);
}

/** Deterministic PRNG (mulberry32) + normal samples via Box-Muller. */
export { rng } from './rng.js';
