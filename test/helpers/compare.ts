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

/** Deterministic PRNG (mulberry32) + normal samples via Box-Muller. */
export { rng } from './rng.js';
