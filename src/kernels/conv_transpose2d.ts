// Wrapper for shaders/conv_transpose2d.wgsl: transposed convolution as
// torch.nn.functional.conv_transpose2d (NCHW; stride, padding, output padding, dilation, groups), with
// a fast path for SAM's 2x2 stride-2 upscaling and a general gather kernel. Autograd records dx (a
// conv2d of dy), dweight and dbias; the same kernel is conv2d's input gradient.

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import {
  biasGrad,
  checkF32,
  weightDefines,
  conv2dForward,
  conv2dWeightGrad,
  type ConvGeom,
  geomParams,
  needsGrad,
  type Pair,
  pairOpt,
  transposedGeom,
} from './conv2d.js';

export type ConvTranspose2dImpl = 'auto' | 'general' | 'k2s2';

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** Force a kernel variant (tests, bench). */
  impl?: ConvTranspose2dImpl;
}

/**
 * Geometry of a transposed convolution: input x [B, Cin, H, W], weight [Cin, cout_g, KH, KW],
 * output [B, Cout, OH, OW]; cin_g = Cin / G input channels per group.
 */
export type ConvTranspose2dGeom = ConvGeom;

const WG = 64;
/** K2S2 register blocking: 4 channels x 8 input columns x 2 taps (best of 2x8 / 4x4 / 4x8 / 8x4 on lavapipe). */
const K2S2_CO = 4;
const K2S2_PV = 2;

export function convTranspose2dGeometry(
  xs: readonly number[],
  ws: readonly number[],
  bs: readonly number[] | null,
  o: ConvTranspose2dOptions = {},
): ConvTranspose2dGeom {
  const op = 'conv_transpose2d';
  if (xs.length !== 4) throw new Error(`${op}: input must be [B, Cin, H, W], got ${shapeStr(xs)}`);
  if (ws.length !== 4) throw new Error(`${op}: weight must be [Cin, Cout/groups, KH, KW], got ${shapeStr(ws)}`);
  const G = o.groups ?? 1;
  if (!Number.isInteger(G) || G < 1) throw new Error(`${op}: groups must be a positive integer, got ${G}`);
  const [B, Cin, H, W] = xs;
  const [wCin, coutG, KH, KW] = ws;
  if (Cin < 1 || H < 1 || W < 1)
    throw new Error(`${op}: input ${shapeStr(xs)} has an empty channel or spatial dimension`);
  if (coutG < 1 || KH < 1 || KW < 1) throw new Error(`${op}: weight ${shapeStr(ws)} has an empty dimension`);
  if (wCin !== Cin)
    throw new Error(`${op}: input ${shapeStr(xs)} has ${Cin} channels but weight ${shapeStr(ws)} expects ${wCin}`);
  if (Cin % G !== 0) throw new Error(`${op}: groups ${G} does not divide the ${Cin} input channels of ${shapeStr(xs)}`);
  const Cout = coutG * G;
  if (bs && (bs.length !== 1 || bs[0] !== Cout))
    throw new Error(`${op}: bias must be [${Cout}] for weight ${shapeStr(ws)} with groups ${G}, got ${shapeStr(bs)}`);
  const [sh, sw] = pairOpt(op, 'stride', o.stride, 1, 1);
  const [ph, pw] = pairOpt(op, 'padding', o.padding, 0, 0);
  const [dh, dw] = pairOpt(op, 'dilation', o.dilation, 1, 1);
  const [oph, opw] = pairOpt(op, 'outputPadding', o.outputPadding, 0, 0);
  if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
    throw new Error(
      `${op}: outputPadding [${oph}, ${opw}] must be smaller than stride [${sh}, ${sw}] or dilation [${dh}, ${dw}]`,
    );
  }
  const OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1;
  const OW = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1;
  if (OH < 1 || OW < 1)
    throw new Error(
      `${op}: output of input ${shapeStr(xs)} and weight ${shapeStr(ws)} with padding [${ph}, ${pw}] would be ${OH}x${OW}`,
    );
  return { B, Cin, H, W, Cout, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, G, cin_g: Cin / G, cout_g: coutG };
}

const isK2S2 = (g: ConvTranspose2dGeom) =>
  g.KH === 2 &&
  g.KW === 2 &&
  g.sh === 2 &&
  g.sw === 2 &&
  g.ph === 0 &&
  g.pw === 0 &&
  g.dh === 1 &&
  g.dw === 1 &&
  g.OH === 2 * g.H &&
  g.OW === 2 * g.W;

/** y = conv_transpose2d(x, weight) + bias. x [B, Cin, H, W], weight [Cin, Cout/groups, KH, KW], bias [Cout]. */
export function convTranspose2d(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  checkF32('conv_transpose2d', x, bias);
  weightDefines(rt, 'conv_transpose2d', weight);
  const g = convTranspose2dGeometry(x.shape, weight.shape, bias?.shape ?? null, opts);
  const y = convTranspose2dForward(rt, x, weight, bias, g, opts.impl ?? 'auto');
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (rt.tape?.wants(inputs)) {
    // The matching conv2d maps y's grid back onto x's: input dy [B, Cout, OH, OW], output [B, Cin, H, W].
    const c = transposedGeom(g);
    rt.tape.record({
      op: 'conv_transpose2d',
      inputs,
      outputs: [y],
      saved: [x, weight],
      backward: ([dy]) => {
        if (!dy) return inputs.map(() => null);
        const dx = needsGrad(x) ? conv2dForward(rt, dy, weight, null, c) : null;
        // weight [Cin, Cout/G, KH, KW] is the conv2d weight of c: its gradient pairs x (as c's output grad) with dy (as c's input)
        const dw = needsGrad(weight) ? conv2dWeightGrad(rt, x, dy, c) : null;
        const db = bias && needsGrad(bias) ? biasGrad(rt, dy, g.Cout) : null;
        return bias ? [dx, dw, db] : [dx, dw];
      },
    });
  }
  return y;
}

/** conv_transpose2d without autograd, on a validated geometry. */
export function convTranspose2dForward(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  g: ConvTranspose2dGeom,
  impl: ConvTranspose2dImpl = 'auto',
): Tensor {
  const y = rt.empty([g.B, g.Cout, g.OH, g.OW], 'f32', 'conv_transpose2d');
  if (y.size === 0) return y;
  const which = impl === 'auto' ? (isK2S2(g) ? 'k2s2' : 'general') : impl;
  if (which === 'k2s2' && !isK2S2(g))
    throw new Error(
      `conv_transpose2d: impl 'k2s2' needs kernel 2, stride 2, no padding, dilation 1 and no output padding`,
    );
  const co1 = which === 'general' && g.cout_g === 1;
  const defines: Record<string, number> = {
    [which.toUpperCase()]: 1,
    ...weightDefines(rt, 'conv_transpose2d', weight),
  };
  if (co1) defines.CO1 = 1;
  const bindings: Record<string, Tensor> = { x, w: weight, y };
  const qb = Math.ceil(Math.ceil(g.OW / g.sw) / 4);
  const params: Record<string, number> = { ...geomParams(g), qb, n: 0 };
  if (bias) {
    defines.HAS_BIAS = 1;
    bindings.bias = bias;
  } else params.bias_off = 0;
  if (which === 'k2s2') {
    Object.assign(defines, { KCO: K2S2_CO, KPV: K2S2_PV });
    params.n = g.B * g.G * Math.ceil(g.cout_g / K2S2_CO) * g.OH * Math.ceil(g.W / (4 * K2S2_PV));
  } else params.n = g.B * g.G * Math.ceil(g.cout_g / (co1 ? 1 : 4)) * g.OH * g.sw * qb;
  rt.kernel('conv_transpose2d').run({
    defines,
    constants: { WG },
    bindings,
    params,
    groups: rt.groups1d(params.n, WG),
    label: `conv_transpose2d.${which}`,
  });
  return y;
}
