// CPU references for shaders/softmax.wgsl (float64, written for clarity).

/** softmax(scale * x) over consecutive rows of length n. */
export function softmaxRef(x: ArrayLike<number>, n: number, scale = 1): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r * n < x.length; r++) {
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, scale * x[r * n + i]);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(scale * x[r * n + i] - m);
    for (let i = 0; i < n; i++) y[r * n + i] = Math.exp(scale * x[r * n + i] - m) / s;
  }
  return y;
}

/**
 * softmax(scale * x + mask[b]) over rows of length n; x is [B, R, n] (R rows per batch entry), mask
 * [B or 1, n]. A row with every entry -inf gives zeros (the attention kernels' convention).
 */
export function softmaxMaskedRef(
  x: ArrayLike<number>,
  n: number,
  rowsPerBatch: number,
  mask: ArrayLike<number>,
  scale = 1,
): Float64Array {
  const y = new Float64Array(x.length);
  const maskRows = mask.length / n;
  for (let r = 0; r * n < x.length; r++) {
    const mb = maskRows === 1 ? 0 : Math.floor(r / rowsPerBatch) * n;
    const z = Array.from({ length: n }, (_, i) => scale * x[r * n + i] + mask[mb + i]);
    const m = Math.max(...z);
    if (m === -Infinity) continue;
    const s = z.reduce((acc, v) => acc + Math.exp(v - m), 0);
    for (let i = 0; i < n; i++) y[r * n + i] = Math.exp(z[i] - m) / s;
  }
  return y;
}

/** dx = scale * y * (dy - sum(dy * y)) per row. */
export function softmaxBackwardRef(y: ArrayLike<number>, dy: ArrayLike<number>, n: number, scale = 1): Float64Array {
  const dx = new Float64Array(y.length);
  for (let r = 0; r * n < y.length; r++) {
    let dot = 0;
    for (let i = 0; i < n; i++) dot += dy[r * n + i] * y[r * n + i];
    for (let i = 0; i < n; i++) dx[r * n + i] = scale * y[r * n + i] * (dy[r * n + i] - dot);
  }
  return dx;
}
