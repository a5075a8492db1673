import { roundBf16 } from '../../src/graph/dtype.js';
// CPU references for shaders/elementwise.wgsl (float64 math, written for clarity).
export function erf(x: number): number {
  // Taylor series for |x| < 3, continued fraction for erfc beyond: ~1e-15 accurate.
  if (Math.abs(x) < 3) {
    let s = 0,
      t = x,
      n = 0;
    while (n < 200) {
      const term = t / (2 * n + 1);
      s += term;
      if (Math.abs(term) < 1e-17 * Math.abs(s)) break;
      n++;
      t *= (-x * x) / n;
    }
    return (2 / Math.sqrt(Math.PI)) * s;
  }
  const ax = Math.abs(x);
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f));
}

export const UNARY: Record<string, (v: number) => number> = {
  relu: (v) => Math.max(v, 0),
  gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  identity: (v) => v,
  exp: Math.exp,
  tanh: Math.tanh,
  abs: Math.abs,
  sqrt: Math.sqrt,
  neg: (v) => -v,
  round_bf16: (v) => roundBf16(v),
  step: (v) => (v > 0 ? 1 : 0),
};

export const UNARY_GRAD: Record<string, (v: number) => number> = {
  relu: (v) => (v > 0 ? 1 : 0),
  gelu: (v) => 0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI),
  sigmoid: (v) => {
    const s = 1 / (1 + Math.exp(-v));
    return s * (1 - s);
  },
  identity: () => 1,
};

export const BINARY: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: Math.max,
  min: Math.min,
};

export function unaryRef(x: ArrayLike<number>, op: string, alpha = 1, beta = 0): Float64Array {
  return Float64Array.from(x, (v) => UNARY[op](alpha * v + beta));
}

/** numpy-broadcast binary op. */
export function binaryRef(
  a: ArrayLike<number>,
  as: number[],
  b: ArrayLike<number>,
  bs: number[],
  op: string,
  alpha = 1,
  beta = 0,
) {
  const r = Math.max(as.length, bs.length);
  const pa = [...new Array(r - as.length).fill(1), ...as];
  const pb = [...new Array(r - bs.length).fill(1), ...bs];
  const out = pa.map((d, i) => (d === 1 ? pb[i] : d));
  const n = out.reduce((x, y) => x * y, 1);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rem = i,
      ia = 0,
      ib = 0,
      sa = 1,
      sb = 1;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % out[d];
      rem = Math.floor(rem / out[d]);
      if (pa[d] !== 1) ia += c * sa;
      if (pb[d] !== 1) ib += c * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    y[i] = alpha * BINARY[op](a[ia], b[ib]) + beta;
  }
  return { y, shape: out };
}
