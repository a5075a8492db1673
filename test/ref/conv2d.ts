// CPU references for shaders/conv2d.wgsl: float64 direct convolution (torch.nn.functional.conv2d,
// NCHW, zero padding) and its gradients, written as plain loops for clarity.

export type Pair = number | readonly [number, number];
export interface Conv2dGeom {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export const pair = (v: Pair | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]];

/** The convolution's sizes: x [B, Cin, H, W], w [Cout, Cin/G, KH, KW] -> y [B, Cout, OH, OW]. */
function refGeom(xs: readonly number[], ws: readonly number[], o: Conv2dGeom) {
  const [B, Cin, H, W] = xs;
  const [Cout, cinG, KH, KW] = ws;
  const [sh, sw] = pair(o.stride, 1);
  const [ph, pw] = pair(o.padding, 0);
  const [dh, dw] = pair(o.dilation, 1);
  const G = o.groups ?? 1;
  const coutG = Cout / G;
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  if (cinG * G !== Cin) throw new Error('conv2dRef: channel mismatch');
  return { B, Cin, H, W, Cout, cinG, KH, KW, sh, sw, ph, pw, dh, dw, G, coutG, OH, OW };
}

/** y [B, Cout, OH, OW] = conv2d(x [B, Cin, H, W], w [Cout, Cin/G, KH, KW]) + bias [Cout]. */
export function conv2dRef(
  x: ArrayLike<number>,
  xs: readonly number[],
  w: ArrayLike<number>,
  ws: readonly number[],
  bias: ArrayLike<number> | null,
  o: Conv2dGeom = {},
): { y: Float64Array; shape: number[] } {
  const { B, Cin, H, W, Cout, cinG, KH, KW, sh, sw, ph, pw, dh, dw, coutG, OH, OW } = refGeom(xs, ws, o);
  const y = new Float64Array(B * Cout * OH * OW);
  for (let b = 0; b < B; b++)
    for (let co = 0; co < Cout; co++) {
      const g = Math.floor(co / coutG);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = bias ? bias[co] : 0;
          for (let c = 0; c < cinG; c++) {
            const ci = g * cinG + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                s += x[((b * Cin + ci) * H + ih) * W + iw] * w[((co * cinG + c) * KH + kh) * KW + kw];
              }
            }
          }
          y[((b * Cout + co) * OH + oh) * OW + ow] = s;
        }
    }
  return { y, shape: [B, Cout, OH, OW] };
}

/**
 * Gradients of conv2dRef given dy [B, Cout, OH, OW]: each tap that fed y[b, co, oh, ow] from
 * x[b, ci, ih, iw] through w[co, c, kh, kw] sends dy back to both (the adjoint of the loop above).
 */
export function conv2dBackwardRef(
  x: ArrayLike<number>,
  xs: readonly number[],
  w: ArrayLike<number>,
  ws: readonly number[],
  dy: ArrayLike<number>,
  o: Conv2dGeom = {},
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const { B, Cin, H, W, Cout, cinG, KH, KW, sh, sw, ph, pw, dh, dw: dwl, coutG, OH, OW } = refGeom(xs, ws, o);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(Cout);
  for (let b = 0; b < B; b++)
    for (let co = 0; co < Cout; co++) {
      const g = Math.floor(co / coutG);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const d = dy[((b * Cout + co) * OH + oh) * OW + ow];
          db[co] += d;
          for (let c = 0; c < cinG; c++) {
            const ci = g * cinG + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pw + kw * dwl;
                if (iw < 0 || iw >= W) continue;
                const xi = ((b * Cin + ci) * H + ih) * W + iw;
                const wi = ((co * cinG + c) * KH + kh) * KW + kw;
                dx[xi] += d * w[wi];
                dw[wi] += d * x[xi];
              }
            }
          }
        }
    }
  return { dx, dw, db };
}

/**
 * Central finite differences of L = sum(f(v) * dy) with respect to v (float64), for checking the
 * analytic gradients: (L(v + eps e_i) - L(v - eps e_i)) / (2 eps) for each i.
 */
export function finiteDiff(
  f: (v: Float64Array) => Float64Array,
  v: ArrayLike<number>,
  dy: ArrayLike<number>,
  eps = 1e-6,
): Float64Array {
  const base = Float64Array.from(v);
  const g = new Float64Array(base.length);
  const dot = (y: Float64Array) => y.reduce((s, yi, i) => s + yi * dy[i], 0);
  for (let i = 0; i < base.length; i++) {
    const keep = base[i];
    base[i] = keep + eps;
    const up = dot(f(base));
    base[i] = keep - eps;
    const down = dot(f(base));
    base[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}
