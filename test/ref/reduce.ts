// CPU references for shaders/reduce.wgsl (float64): reductions of x viewed as [outer, r, inner]
// over r, and EXPAND (their backward): dy [outer, 1, inner] broadcast to [outer, r, inner] times scale.
export type ReduceRefOp = 'sum' | 'mean' | 'max' | 'min';

export function reduceRef(
  x: ArrayLike<number>,
  outer: number,
  r: number,
  inner: number,
  op: ReduceRefOp,
): Float64Array {
  const y = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let acc = op === 'max' ? -Infinity : op === 'min' ? Infinity : 0;
      for (let k = 0; k < r; k++) {
        const v = x[(o * r + k) * inner + i];
        acc = op === 'max' ? Math.max(acc, v) : op === 'min' ? Math.min(acc, v) : acc + v;
      }
      y[o * inner + i] = op === 'mean' ? acc / Math.max(r, 1) : acc;
    }
  return y;
}

export function expandRef(dy: ArrayLike<number>, outer: number, r: number, inner: number, scale: number): Float64Array {
  const y = new Float64Array(outer * r * inner);
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < r; k++) for (let i = 0; i < inner; i++) y[(o * r + k) * inner + i] = scale * dy[o * inner + i];
  return y;
}

/** One-hot argmax of x [outer, r, inner] over r from index lo: 1 at the first maximum, 0 elsewhere. */
export function argmaxOneHotRef(
  x: ArrayLike<number>,
  outer: number,
  r: number,
  inner: number,
  lo: number,
): Float64Array {
  const y = new Float64Array(outer * r * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let best = lo;
      for (let k = lo + 1; k < r; k++) if (x[(o * r + k) * inner + i] > x[(o * r + best) * inner + i]) best = k;
      y[(o * r + best) * inner + i] = 1;
    }
  return y;
}
