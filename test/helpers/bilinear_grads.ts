// A CPU reference's analytic gradients against central finite differences, for ops bilinear in
// (x, w) plus a bias (conv2d, conv_transpose2d): the differences are exact up to float64 rounding.
import { finiteDiff } from '../ref/conv2d.js';
import { expectClose } from './compare.js';

/** g.dx, g.dw, g.db against finite differences of L = sum(f(x, w, b) * dy) in x, w and b. */
export function expectGradsMatchFiniteDiff(
  g: { dx: ArrayLike<number>; dw: ArrayLike<number>; db: ArrayLike<number> },
  f: (x: Float64Array, w: Float64Array, b: Float64Array) => Float64Array,
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  dy: ArrayLike<number>,
): void {
  // central differences of a bilinear function are exact up to float64 rounding (~1e-9 here)
  const fd = { atol: 1e-7, rtol: 1e-6 };
  expectClose(
    g.dx,
    finiteDiff((v) => f(v, w, b), x, dy),
    fd,
    'dx',
  );
  expectClose(
    g.dw,
    finiteDiff((v) => f(x, v, b), w, dy),
    fd,
    'dw',
  );
  expectClose(
    g.db,
    finiteDiff((v) => f(x, w, v), b, dy),
    fd,
    'db',
  );
}
