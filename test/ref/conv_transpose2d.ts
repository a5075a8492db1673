// CPU references for shaders/conv_transpose2d.wgsl: float64 transposed convolution
// (torch.nn.functional.conv_transpose2d, NCHW) written as the scatter it is defined by, and its gradients.
import { type Conv2dGeom, type Pair, pair } from './conv2d.js';

export interface ConvTranspose2dGeom extends Conv2dGeom {
  outputPadding?: Pair;
}

export function convTranspose2dOutShape(
  xs: readonly number[],
  ws: readonly number[],
  o: ConvTranspose2dGeom,
): number[] {
  const [B, , H, W] = xs;
  const [, coutG, KH, KW] = ws;
  const [sh, sw] = pair(o.stride, 1);
  const [ph, pw] = pair(o.padding, 0);
  const [dh, dw] = pair(o.dilation, 1);
  const [oph, opw] = pair(o.outputPadding, 0);
  const G = o.groups ?? 1;
  return [
    B,
    coutG * G,
    (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1,
    (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1,
  ];
}

/**
 * y [B, Cout, OH, OW]: every input pixel x[b, ci, ih, iw] adds x * w[ci, c, kh, kw] to
 * y[b, g*Cout/G + c, ih*sh - ph + kh*dh, iw*sw - pw + kw*dw] (when inside the output); w is [Cin, Cout/G, KH, KW].
 */
export function convTranspose2dRef(
  x: ArrayLike<number>,
  xs: readonly number[],
  w: ArrayLike<number>,
  ws: readonly number[],
  bias: ArrayLike<number> | null,
  o: ConvTranspose2dGeom = {},
): { y: Float64Array; shape: number[] } {
  const [B, Cin, H, W] = xs;
  const [, coutG, KH, KW] = ws;
  const [sh, sw] = pair(o.stride, 1);
  const [ph, pw] = pair(o.padding, 0);
  const [dh, dw] = pair(o.dilation, 1);
  const G = o.groups ?? 1;
  const cinG = Cin / G;
  const shape = convTranspose2dOutShape(xs, ws, o);
  const [, Cout, OH, OW] = shape;
  const y = new Float64Array(B * Cout * OH * OW);
  for (let b = 0; b < B; b++)
    for (let co = 0; co < Cout; co++)
      for (let p = 0; p < OH * OW; p++) y[(b * Cout + co) * OH * OW + p] = bias ? bias[co] : 0;
  for (let b = 0; b < B; b++)
    for (let ci = 0; ci < Cin; ci++) {
      const g = Math.floor(ci / cinG);
      for (let ih = 0; ih < H; ih++)
        for (let iw = 0; iw < W; iw++) {
          const v = x[((b * Cin + ci) * H + ih) * W + iw];
          for (let c = 0; c < coutG; c++)
            for (let kh = 0; kh < KH; kh++) {
              const oh = ih * sh - ph + kh * dh;
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ow = iw * sw - pw + kw * dw;
                if (ow < 0 || ow >= OW) continue;
                y[((b * Cout + g * coutG + c) * OH + oh) * OW + ow] += v * w[((ci * coutG + c) * KH + kh) * KW + kw];
              }
            }
        }
    }
  return { y, shape };
}

/** Adjoint of convTranspose2dRef's scatter given dy [B, Cout, OH, OW]. */
export function convTranspose2dBackwardRef(
  x: ArrayLike<number>,
  xs: readonly number[],
  w: ArrayLike<number>,
  ws: readonly number[],
  dy: ArrayLike<number>,
  o: ConvTranspose2dGeom = {},
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const [B, Cin, H, W] = xs;
  const [, coutG, KH, KW] = ws;
  const [sh, sw] = pair(o.stride, 1);
  const [ph, pw] = pair(o.padding, 0);
  const [dh, dwl] = pair(o.dilation, 1);
  const G = o.groups ?? 1;
  const cinG = Cin / G;
  const [, Cout, OH, OW] = convTranspose2dOutShape(xs, ws, o);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(Cout);
  for (let b = 0; b < B; b++)
    for (let co = 0; co < Cout; co++) for (let p = 0; p < OH * OW; p++) db[co] += dy[(b * Cout + co) * OH * OW + p];
  for (let b = 0; b < B; b++)
    for (let ci = 0; ci < Cin; ci++) {
      const g = Math.floor(ci / cinG);
      for (let ih = 0; ih < H; ih++)
        for (let iw = 0; iw < W; iw++) {
          const xi = ((b * Cin + ci) * H + ih) * W + iw;
          for (let c = 0; c < coutG; c++)
            for (let kh = 0; kh < KH; kh++) {
              const oh = ih * sh - ph + kh * dh;
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ow = iw * sw - pw + kw * dwl;
                if (ow < 0 || ow >= OW) continue;
                const d = dy[((b * Cout + g * coutG + c) * OH + oh) * OW + ow];
                const wi = ((ci * coutG + c) * KH + kh) * KW + kw;
                dx[xi] += d * w[wi];
                dw[wi] += d * x[xi];
              }
            }
        }
    }
  return { dx, dw, db };
}
