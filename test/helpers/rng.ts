// Seeded test data without any vitest import, so benchmarks can share it with the tests.
// mulberry32 uniform in [0, 1) (src/util/rng.ts), Box-Muller normals.
import { mulberry32 } from '../../src/util/rng.js';

export function rng(seed: number) {
  const next = mulberry32(seed);
  return {
    uniform: next,
    normal: () => Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next()),
    array(n: number, scale = 1, offset = 0): Float32Array {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = (next() * 2 - 1) * scale + offset;
      return a;
    },
  };
}

/** n values uniform in [offset - scale, offset + scale) from `seed`. */
export function seededArray(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  return rng(seed).array(n, scale, offset);
}

/** |got - want| <= atol + rtol |want| everywhere (and equal lengths). */
export function within(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): boolean {
  if (got.length !== want.length) return false;
  for (let i = 0; i < got.length; i++)
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) return false;
  return true;
}
