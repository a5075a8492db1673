// CPU references for shaders/norm.wgsl (float64, written for clarity).
// All three ops are "normalise each statistic set, then a per-channel affine":
//   LayerNorm    sets = rows of x [rows, C]              channel of element e = e % C
//   LayerNorm2d  sets = the C values of one pixel (NCHW)  channel = floor(e / HW) % C
//   GroupNorm    sets = C/G channels x HW of one sample   channel = floor(e / HW) % C
// mean = sum / n, var = sum (x - mean)^2 / n (biased), rstd = 1 / sqrt(var + eps),
// y = (x - mean) * rstd * w[c] + b[c].

export interface NormForward {
  y: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
}
export interface NormBackward {
  dx: Float64Array;
  dweight: Float64Array;
  dbias: Float64Array;
}

interface Layout {
  /** Element indices of each statistic set. */
  sets: number[][];
  /** Channel of element e. */
  chan: (e: number) => number;
  c: number;
}

function lnLayout(rows: number, c: number): Layout {
  const sets = Array.from({ length: rows }, (_, r) => Array.from({ length: c }, (_, k) => r * c + k));
  return { sets, chan: (e) => e % c, c };
}

function ln2dLayout([b, c, h, w]: number[]): Layout {
  const hw = h * w;
  const sets: number[][] = [];
  for (let bi = 0; bi < b; bi++) {
    for (let p = 0; p < hw; p++) sets.push(Array.from({ length: c }, (_, k) => (bi * c + k) * hw + p));
  }
  return { sets, chan: (e) => Math.floor(e / hw) % c, c };
}

function gnLayout(shape: number[], groups: number): Layout {
  const [b, c] = shape;
  const hw = shape.slice(2).reduce((a, d) => a * d, 1);
  const m = (c / groups) * hw; // a group is contiguous in NCHW
  const sets = Array.from({ length: b * groups }, (_, s) => Array.from({ length: m }, (_, k) => s * m + k));
  return { sets, chan: (e) => Math.floor(e / hw) % c, c };
}

function forward(
  x: ArrayLike<number>,
  lay: Layout,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  eps: number,
): NormForward {
  const y = new Float64Array(x.length);
  const mean = new Float64Array(lay.sets.length);
  const rstd = new Float64Array(lay.sets.length);
  lay.sets.forEach((set, s) => {
    let sum = 0;
    for (const e of set) sum += x[e];
    const mu = sum / set.length;
    let sq = 0;
    for (const e of set) sq += (x[e] - mu) ** 2;
    const r = 1 / Math.sqrt(sq / set.length + eps);
    for (const e of set) y[e] = (x[e] - mu) * r * w[lay.chan(e)] + b[lay.chan(e)];
    mean[s] = mu;
    rstd[s] = r;
  });
  return { y, mean, rstd };
}

// With xhat = (x - mean) * rstd and g = dy * w[c], per set of n elements:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat));  dw[c] = sum dy * xhat;  db[c] = sum dy.
function backward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  lay: Layout,
  w: ArrayLike<number>,
  eps: number,
): NormBackward {
  const { mean, rstd } = forward(x, lay, w, new Float64Array(lay.c), eps);
  const dx = new Float64Array(x.length);
  const dweight = new Float64Array(lay.c);
  const dbias = new Float64Array(lay.c);
  lay.sets.forEach((set, s) => {
    const n = set.length;
    let sg = 0;
    let sgx = 0;
    for (const e of set) {
      const xh = (x[e] - mean[s]) * rstd[s];
      const g = dy[e] * w[lay.chan(e)];
      sg += g;
      sgx += g * xh;
      dweight[lay.chan(e)] += dy[e] * xh;
      dbias[lay.chan(e)] += dy[e];
    }
    for (const e of set) {
      const xh = (x[e] - mean[s]) * rstd[s];
      dx[e] = rstd[s] * (dy[e] * w[lay.chan(e)] - sg / n - xh * (sgx / n));
    }
  });
  return { dx, dweight, dbias };
}

/** LayerNorm over the last dim of x [rows, C]. */
export const layerNormRef = (
  x: ArrayLike<number>,
  rows: number,
  c: number,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  eps: number,
) => forward(x, lnLayout(rows, c), w, b, eps);
export const layerNormBackwardRef = (
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  c: number,
  w: ArrayLike<number>,
  eps: number,
) => backward(x, dy, lnLayout(rows, c), w, eps);

/** SAM LayerNorm2d of x [B, C, H, W]: statistics over C per pixel. */
export const layerNorm2dRef = (
  x: ArrayLike<number>,
  shape: number[],
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  eps: number,
) => forward(x, ln2dLayout(shape), w, b, eps);
export const layerNorm2dBackwardRef = (
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: number[],
  w: ArrayLike<number>,
  eps: number,
) => backward(x, dy, ln2dLayout(shape), w, eps);

/** torch.nn.GroupNorm of x [B, C, *]: statistics over (C/groups, *) per sample and group. */
export const groupNormRef = (
  x: ArrayLike<number>,
  shape: number[],
  groups: number,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  eps: number,
) => forward(x, gnLayout(shape, groups), w, b, eps);
export const groupNormBackwardRef = (
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: number[],
  groups: number,
  w: ArrayLike<number>,
  eps: number,
) => backward(x, dy, gnLayout(shape, groups), w, eps);

/**
 * Central finite differences of L = sum(y * dy) with respect to x, w and b, at `idx` positions of
 * each (float64; validates the analytic backward above).
 */
export function finiteDiffGrads(
  f: (x: Float64Array, w: Float64Array, b: Float64Array) => Float64Array,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  dy: ArrayLike<number>,
  pick: (n: number) => number[],
  h = 1e-5,
): { x: Map<number, number>; w: Map<number, number>; b: Map<number, number> } {
  const xs = Float64Array.from(x);
  const ws = Float64Array.from(w);
  const bs = Float64Array.from(b);
  const loss = () => f(xs, ws, bs).reduce((a, v, i) => a + v * dy[i], 0);
  const fd = (arr: Float64Array) => {
    const out = new Map<number, number>();
    for (const i of pick(arr.length)) {
      const v = arr[i];
      arr[i] = v + h;
      const lp = loss();
      arr[i] = v - h;
      const lm = loss();
      arr[i] = v;
      out.set(i, (lp - lm) / (2 * h));
    }
    return out;
  };
  return { x: fd(xs), w: fd(ws), b: fd(bs) };
}
