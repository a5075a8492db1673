// CPU references for shaders/loss.wgsl (float64, written for clarity; the definitions, not the
// kernel's arithmetic). Row losses: x has m rows of n values; the target t has n values (shared) or
// m * n. Backward references take dL [m] (the gradient of the objective w.r.t. each row loss).

const sig = (v: number) => 1 / (1 + Math.exp(-v));
const tAt = (t: ArrayLike<number>, n: number, row: number, k: number) => (t.length === n ? t[k] : t[row * n + k]);

/** BCE with logits, exactly: max(x, 0) - x t + log(1 + exp(-|x|)). */
export function bceWithLogitsRef(x: number, t: number): number {
  return Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
}

/** One focal term, SAM 2's formula literally (alpha < 0: no alpha weighting). */
export function focalTermRef(x: number, t: number, alpha: number, gamma: number): number {
  const p = sig(x);
  const pt = p * t + (1 - p) * (1 - t);
  let l = bceWithLogitsRef(x, t) * (1 - pt) ** gamma;
  if (alpha >= 0) l *= alpha * t + (1 - alpha) * (1 - t);
  return l;
}

export function focalRef(
  x: ArrayLike<number>,
  t: ArrayLike<number>,
  m: number,
  n: number,
  alpha = 0.25,
  gamma = 2,
): Float64Array {
  const out = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += focalTermRef(x[r * n + k], tAt(t, n, r, k), alpha, gamma);
    out[r] = s / n;
  }
  return out;
}

/** d focal / dx, analytic (the chain rule of focalTermRef). */
export function focalBackwardRef(
  x: ArrayLike<number>,
  t: ArrayLike<number>,
  m: number,
  n: number,
  dl: ArrayLike<number>,
  alpha = 0.25,
  gamma = 2,
): Float64Array {
  const dx = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let k = 0; k < n; k++) {
      const xv = x[r * n + k],
        tv = tAt(t, n, r, k);
      const p = sig(xv);
      const omp = 1 - (p * tv + (1 - p) * (1 - tv)); // 1 - p_t
      const ce = bceWithLogitsRef(xv, tv);
      const at = alpha >= 0 ? alpha * tv + (1 - alpha) * (1 - tv) : 1;
      const dOmp = -(2 * tv - 1) * p * (1 - p);
      const dPow = gamma === 0 ? 0 : gamma * omp ** (gamma - 1);
      dx[r * n + k] = (dl[r] * at * ((p - tv) * omp ** gamma + ce * dPow * dOmp)) / n;
    }
  }
  return dx;
}

/** Row r's sums for dice: sum p*t, sum p, sum t with p = sigmoid(x). */
function diceSums(x: ArrayLike<number>, t: ArrayLike<number>, n: number, r: number): [number, number, number] {
  let spt = 0,
    sp = 0,
    st = 0;
  for (let k = 0; k < n; k++) {
    const p = sig(x[r * n + k]),
      tv = tAt(t, n, r, k);
    spt += p * tv;
    sp += p;
    st += tv;
  }
  return [spt, sp, st];
}

export function diceRef(x: ArrayLike<number>, t: ArrayLike<number>, m: number, n: number, smooth = 1): Float64Array {
  const out = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    const [spt, sp, st] = diceSums(x, t, n, r);
    out[r] = 1 - (2 * spt + smooth) / (sp + st + smooth);
  }
  return out;
}

export function diceBackwardRef(
  x: ArrayLike<number>,
  t: ArrayLike<number>,
  m: number,
  n: number,
  dl: ArrayLike<number>,
  smooth = 1,
): Float64Array {
  const dx = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    const [spt, sp, st] = diceSums(x, t, n, r);
    const num = 2 * spt + smooth,
      den = sp + st + smooth;
    for (let k = 0; k < n; k++) {
      const p = sig(x[r * n + k]),
        tv = tAt(t, n, r, k);
      dx[r * n + k] = -dl[r] * ((2 * tv * den - num) / (den * den)) * p * (1 - p);
    }
  }
  return dx;
}

export function maskIoURef(x: ArrayLike<number>, t: ArrayLike<number>, m: number, n: number): Float64Array {
  const out = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    let inter = 0,
      union = 0;
    for (let k = 0; k < n; k++) {
      const a = x[r * n + k] > 0,
        b = tAt(t, n, r, k) > 0;
      if (a && b) inter++;
      if (a || b) union++;
    }
    out[r] = inter / Math.max(union, 1);
  }
  return out;
}

/** Row r's soft intersection sum p*t and union sum p + t - p*t. */
function softIoUSums(p: ArrayLike<number>, t: ArrayLike<number>, n: number, r: number): [number, number] {
  let i = 0,
    u = 0;
  for (let k = 0; k < n; k++) {
    const pv = p[r * n + k],
      tv = tAt(t, n, r, k);
    i += pv * tv;
    u += pv + tv - pv * tv;
  }
  return [i, u];
}

export function softIoURef(p: ArrayLike<number>, t: ArrayLike<number>, m: number, n: number, eps = 1e-6): Float64Array {
  const out = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    const [i, u] = softIoUSums(p, t, n, r);
    out[r] = 1 - (i + eps) / (u + eps);
  }
  return out;
}

export function softIoUBackwardRef(
  p: ArrayLike<number>,
  t: ArrayLike<number>,
  m: number,
  n: number,
  dl: ArrayLike<number>,
  eps = 1e-6,
): Float64Array {
  const dp = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    const [i, u] = softIoUSums(p, t, n, r);
    for (let k = 0; k < n; k++) {
      const tv = tAt(t, n, r, k);
      dp[r * n + k] = (-dl[r] * (tv * (u + eps) - (i + eps) * (1 - tv))) / ((u + eps) * (u + eps));
    }
  }
  return dp;
}

export function l1Ref(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

export function mseRef(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}

/** [da, db] of l1 (sign convention of torch: 0 at a = b) or mse, scaled by dl. */
export function l1mseBackwardRef(
  kind: 'l1' | 'mse',
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dl: number,
): [Float64Array, Float64Array] {
  const n = a.length;
  const da = new Float64Array(n),
    db = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    da[i] = (dl * (kind === 'l1' ? Math.sign(d) : 2 * d)) / n;
    db[i] = -da[i];
  }
  return [da, db];
}

// ------------------------------------------------------------------------------ feature ops

/** F.normalize over rows of length c: x / max(||x||, eps). */
export function l2NormalizeRef(x: ArrayLike<number>, c: number, eps = 1e-12): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r * c < x.length; r++) {
    let ss = 0;
    for (let k = 0; k < c; k++) ss += x[r * c + k] ** 2;
    const d = Math.max(Math.sqrt(ss), eps);
    for (let k = 0; k < c; k++) y[r * c + k] = x[r * c + k] / d;
  }
  return y;
}

/** Backward of F.normalize: clamp_min passes the gradient through the norm where ||x|| >= eps. */
export function l2NormalizeBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  c: number,
  eps = 1e-12,
): Float64Array {
  const dx = new Float64Array(x.length);
  for (let r = 0; r * c < x.length; r++) {
    let ss = 0,
      dot = 0;
    for (let k = 0; k < c; k++) {
      ss += x[r * c + k] ** 2;
      dot += dy[r * c + k] * x[r * c + k];
    }
    const nrm = Math.sqrt(ss);
    const d = Math.max(nrm, eps);
    const coef = nrm >= eps && nrm > 0 ? dot / (d * d * nrm) : 0;
    for (let k = 0; k < c; k++) dx[r * c + k] = dy[r * c + k] / d - coef * x[r * c + k];
  }
  return dx;
}

/** torch 1.13 F.cosine_similarity over rows of length c: sum (a/na)(b/nb), na = sqrt(max(sum a^2, eps^2)). */
export function cosineRef(a: ArrayLike<number>, b: ArrayLike<number>, c: number, eps = 1e-8): Float64Array {
  const rows = a.length / c;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sa = 0,
      sb = 0;
    for (let k = 0; k < c; k++) {
      sa += a[r * c + k] ** 2;
      sb += b[r * c + k] ** 2;
    }
    const na = Math.sqrt(Math.max(sa, eps * eps)),
      nb = Math.sqrt(Math.max(sb, eps * eps));
    let s = 0;
    for (let k = 0; k < c; k++) s += (a[r * c + k] / na) * (b[r * c + k] / nb);
    y[r] = s;
  }
  return y;
}

export function cosineBackwardRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dy: ArrayLike<number>,
  c: number,
  eps = 1e-8,
): [Float64Array, Float64Array] {
  const da = new Float64Array(a.length),
    db = new Float64Array(b.length);
  const cs = cosineRef(a, b, c, eps);
  for (let r = 0; r < cs.length; r++) {
    let sa = 0,
      sb = 0;
    for (let k = 0; k < c; k++) {
      sa += a[r * c + k] ** 2;
      sb += b[r * c + k] ** 2;
    }
    const na = Math.sqrt(Math.max(sa, eps * eps)),
      nb = Math.sqrt(Math.max(sb, eps * eps));
    for (let k = 0; k < c; k++) {
      const u = a[r * c + k],
        v = b[r * c + k];
      da[r * c + k] = dy[r] * (v / (na * nb) - (cs[r] * u) / (na * na));
      db[r * c + k] = dy[r] * (u / (na * nb) - (cs[r] * v) / (nb * nb));
    }
  }
  return [da, db];
}

// ------------------------------------------------------------------------------ masked mean

/** x [B, C, N], m [B, N] -> [B, C]: sum x m / max(sum m, eps). */
export function maskedMeanRef(
  x: ArrayLike<number>,
  m: ArrayLike<number>,
  b: number,
  c: number,
  n: number,
  eps = 1e-6,
): Float64Array {
  const y = new Float64Array(b * c);
  for (let bi = 0; bi < b; bi++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += m[bi * n + k];
    const d = Math.max(s, eps);
    for (let ci = 0; ci < c; ci++) {
      let num = 0;
      for (let k = 0; k < n; k++) num += x[(bi * c + ci) * n + k] * m[bi * n + k];
      y[bi * c + ci] = num / d;
    }
  }
  return y;
}

/** dx and dm of maskedMean; the clamp passes the gradient through sum m only where sum m >= eps. */
export function maskedMeanBackwardRef(
  x: ArrayLike<number>,
  m: ArrayLike<number>,
  dy: ArrayLike<number>,
  b: number,
  c: number,
  n: number,
  eps = 1e-6,
): { dx: Float64Array; dm: Float64Array } {
  const y = maskedMeanRef(x, m, b, c, n, eps);
  const dx = new Float64Array(b * c * n),
    dm = new Float64Array(b * n);
  for (let bi = 0; bi < b; bi++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += m[bi * n + k];
    const d = Math.max(s, eps);
    let gy = 0;
    if (s >= eps) for (let ci = 0; ci < c; ci++) gy += dy[bi * c + ci] * y[bi * c + ci];
    for (let k = 0; k < n; k++) {
      let acc = 0;
      for (let ci = 0; ci < c; ci++) {
        dx[(bi * c + ci) * n + k] = (dy[bi * c + ci] * m[bi * n + k]) / d;
        acc += dy[bi * c + ci] * x[(bi * c + ci) * n + k];
      }
      dm[bi * n + k] = (acc - gy) / d;
    }
  }
  return { dx, dm };
}

// ------------------------------------------------------------------------------ structure target

/** kornia laplacian(kernel_size=3, reflect, normalized) per H x W plane, |.|, / (plane max + 1e-6). */
export function structureTargetRef(mask: ArrayLike<number>, planes: number, h: number, w: number): Float64Array {
  const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  const y = new Float64Array(planes * h * w);
  for (let p = 0; p < planes; p++) {
    let mx = 0;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let acc = 0;
        for (let di = -1; di <= 1; di++) {
          for (let dj = -1; dj <= 1; dj++) {
            const wt = di === 0 && dj === 0 ? -8 / 16 : 1 / 16;
            acc += wt * mask[p * h * w + refl(i + di, h) * w + refl(j + dj, w)];
          }
        }
        y[p * h * w + i * w + j] = Math.abs(acc);
        mx = Math.max(mx, Math.abs(acc));
      }
    }
    for (let k = 0; k < h * w; k++) y[p * h * w + k] /= mx + 1e-6;
  }
  return y;
}

// ------------------------------------------------------------------------------ finite differences

/**
 * Central finite differences of sum_i w_i f(x)_i at the chosen entries, float64:
 * (f(x + h e_k) - f(x - h e_k)) / 2h.
 */
export function centralDiff(
  f: (x: Float64Array) => ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  entries: number[],
  h = 1e-6,
): Map<number, number> {
  const xs = Float64Array.from(x);
  const obj = () => {
    const y = f(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * w[i];
    return s;
  };
  const out = new Map<number, number>();
  for (const k of entries) {
    const v = xs[k];
    xs[k] = v + h;
    const lp = obj();
    xs[k] = v - h;
    const lm = obj();
    xs[k] = v;
    out.set(k, (lp - lm) / (2 * h));
  }
  return out;
}
