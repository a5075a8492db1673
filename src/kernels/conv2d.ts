// Wrapper for shaders/conv2d.wgsl: conv2d as torch.nn.functional.conv2d (NCHW, zero padding,
// stride / padding / dilation / groups), with a direct register-blocked kernel, a 'rows' kernel (a
// workgroup per block of 32 output channels: uniform weight loads on CPU drivers), a depthwise kernel,
// a 1x1 GEMM kernel (software adapters) and a workgroup-tiled implicit GEMM (real GPUs); autograd
// records dx (a transposed convolution), dweight and dbias.

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { convTranspose2dForward } from './conv_transpose2d.js';

export type Pair = number | readonly [number, number];

export type Conv2dImpl = 'auto' | 'direct' | 'rows' | 'depthwise' | 'pointwise' | 'tiled';

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** Force a kernel variant (tests, bench); 'auto' picks by shape and adapter. */
  impl?: Conv2dImpl;
}

/** Everything the kernels need about one convolution; shared with conv_transpose2d. */
export interface ConvGeom {
  B: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  G: number;
  cin_g: number;
  cout_g: number;
}

/**
 * The same layer seen from the other side: a conv2d's geometry as the conv_transpose2d that maps its
 * output grid back onto its input (and the reverse): channels and sizes swap, the kernel, stride,
 * padding, dilation and groups stay.
 */
export function transposedGeom(g: ConvGeom): ConvGeom {
  return {
    B: g.B,
    Cin: g.Cout,
    H: g.OH,
    W: g.OW,
    Cout: g.Cin,
    OH: g.H,
    OW: g.W,
    KH: g.KH,
    KW: g.KW,
    sh: g.sh,
    sw: g.sw,
    ph: g.ph,
    pw: g.pw,
    dh: g.dh,
    dw: g.dw,
    G: g.G,
    cin_g: g.cout_g,
    cout_g: g.cin_g,
  };
}

const WG = 64;
/**
 * Register blocking, picked by measurement on lavapipe (CPU time per run, see bench/conv2d.ts):
 * DIRECT 8 channels x 4 columns (4 x 4 when a group has <= 4 channels), POINTWISE 8 channels x 8 pixels,
 * DEPTHWISE 8 columns with the kernel width compiled in (stride 1, dilation 1, up to DW_MAX_K), else 4.
 */
const DIRECT_CO = 8;
/** 'rows': output channels per workgroup (uniform weight loads), and the group size it is chosen from. */
const ROWS_CO = 32;
const ROWS_MIN_CO = 16;
const PW_CO = 8;
const PW_PV = 2;
const DW_PX_FIXED = 8;
const DW_PX = 4;
const DW_MAX_K = 15;

/** Expand an int-or-pair option, checking it is an integer >= min. */
export function pairOpt(op: string, name: string, v: Pair | undefined, dflt: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min))
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

export function checkF32(op: string, ...ts: Array<Tensor | null | undefined>): void {
  for (const t of ts)
    if (t && t.dtype !== 'f32') throw new Error(`${op}: expects f32 tensors, got ${t.dtype} for ${t}`);
}

/**
 * A convolution weight may be stored f16 (weights loaded with precision 'f16'): the kernels widen
 * each weight to f32 on load (define W_F16). Returns the define to add; throws on other dtypes.
 */
export function weightDefines(rt: Runtime, op: string, weight: Tensor): Record<string, number> {
  if (weight.dtype === 'f32') return {};
  if (weight.dtype !== 'f16') throw new Error(`${op}: weight must be f32 or f16, got ${weight.dtype} for ${weight}`);
  if (!rt.hasF16) throw new Error(`${op}: an f16 weight needs the 'shader-f16' feature, which this adapter lacks`);
  return { W_F16: 1 };
}

/** Validate shapes and options; returns the geometry (throws naming the shapes). */
export function conv2dGeometry(
  xs: readonly number[],
  ws: readonly number[],
  bs: readonly number[] | null,
  o: Conv2dOptions = {},
): ConvGeom {
  const op = 'conv2d';
  if (xs.length !== 4) throw new Error(`${op}: input must be [B, Cin, H, W], got ${shapeStr(xs)}`);
  if (ws.length !== 4) throw new Error(`${op}: weight must be [Cout, Cin/groups, KH, KW], got ${shapeStr(ws)}`);
  const G = o.groups ?? 1;
  if (!Number.isInteger(G) || G < 1) throw new Error(`${op}: groups must be a positive integer, got ${G}`);
  const [B, Cin, H, W] = xs;
  const [Cout, cinG, KH, KW] = ws;
  if (Cin < 1 || H < 1 || W < 1)
    throw new Error(`${op}: input ${shapeStr(xs)} has an empty channel or spatial dimension`);
  if (Cout < 1 || KH < 1 || KW < 1) throw new Error(`${op}: weight ${shapeStr(ws)} has an empty dimension`);
  if (Cin % G !== 0) throw new Error(`${op}: groups ${G} does not divide the ${Cin} input channels of ${shapeStr(xs)}`);
  if (Cout % G !== 0)
    throw new Error(`${op}: groups ${G} does not divide the ${Cout} output channels of weight ${shapeStr(ws)}`);
  if (cinG * G !== Cin)
    throw new Error(
      `${op}: input ${shapeStr(xs)} has ${Cin} channels but weight ${shapeStr(ws)} with groups ${G} expects ${cinG * G}`,
    );
  if (bs && (bs.length !== 1 || bs[0] !== Cout))
    throw new Error(`${op}: bias must be [${Cout}] for weight ${shapeStr(ws)}, got ${shapeStr(bs)}`);
  const [sh, sw] = pairOpt(op, 'stride', o.stride, 1, 1);
  const [ph, pw] = pairOpt(op, 'padding', o.padding, 0, 0);
  const [dh, dw] = pairOpt(op, 'dilation', o.dilation, 1, 1);
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  if (OH < 1 || OW < 1) {
    throw new Error(
      `${op}: input ${shapeStr(xs)} with padding [${ph}, ${pw}] is smaller than weight ${shapeStr(ws)} dilated by [${dh}, ${dw}]`,
    );
  }
  return { B, Cin, H, W, Cout, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, G, cin_g: cinG, cout_g: Cout / G };
}

export function geomParams(g: ConvGeom): Record<string, number> {
  const { B, Cin, H, W, Cout, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, G, cin_g, cout_g } = g;
  return { B, Cin, H, W, Cout, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, G, cin_g, cout_g };
}

const isDepthwise = (g: ConvGeom) => g.cin_g === 1 && g.cout_g === 1;
const isPointwise = (g: ConvGeom) =>
  g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0 && g.G === 1;

/**
 * The variant 'auto' picks: depthwise for 1-in-1-out groups; on real GPUs the workgroup-tiled GEMM when a
 * group fills a good part of its 32-channel tile; otherwise pointwise (1x1), else rows from 16 channels per
 * group up, direct below (both without workgroup memory, which software adapters prefer; rows is 15-35 %
 * faster on lavapipe for the mask downsampler and patch-embedding shapes, with bit-identical output).
 */
export function conv2dImplFor(rt: Runtime, g: ConvGeom): Exclude<Conv2dImpl, 'auto'> {
  if (isDepthwise(g)) return 'depthwise';
  if (!rt.adapter.software && g.cout_g >= 16) return 'tiled';
  if (isPointwise(g)) return 'pointwise';
  return g.cout_g >= ROWS_MIN_CO ? 'rows' : 'direct';
}

/** y = conv2d(x, weight) + bias. x [B, Cin, H, W], weight [Cout, Cin/groups, KH, KW], bias [Cout]. */
export function conv2d(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: Conv2dOptions = {},
): Tensor {
  checkF32('conv2d', x, bias);
  weightDefines(rt, 'conv2d', weight);
  const g = conv2dGeometry(x.shape, weight.shape, bias?.shape ?? null, opts);
  const y = conv2dForward(rt, x, weight, bias, g, opts.impl ?? 'auto');
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (rt.tape?.wants(inputs)) {
    rt.tape.record({
      op: 'conv2d',
      inputs,
      outputs: [y],
      saved: [x, weight],
      backward: ([dy]) => {
        if (!dy) return inputs.map(() => null);
        const dx = needsGrad(x) ? conv2dInputGrad(rt, dy, weight, g) : null;
        const dw = needsGrad(weight) ? conv2dWeightGrad(rt, dy, x, g) : null;
        const db = bias && needsGrad(bias) ? biasGrad(rt, dy, g.Cout) : null;
        return bias ? [dx, dw, db] : [dx, dw];
      },
    });
  }
  return y;
}

export const needsGrad = (t: Tensor) => t.requiresGrad || t.gradFn !== null;

/** conv2d without autograd, on a validated geometry. */
export function conv2dForward(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  g: ConvGeom,
  impl: Conv2dImpl = 'auto',
): Tensor {
  const y = rt.empty([g.B, g.Cout, g.OH, g.OW], 'f32', 'conv2d');
  if (y.size === 0) return y;
  const which = impl === 'auto' ? conv2dImplFor(rt, g) : impl;
  if (which === 'depthwise' && !isDepthwise(g))
    throw new Error(
      `conv2d: impl 'depthwise' needs Cin/groups = Cout/groups = 1, got weight [${g.Cout}, ${g.cin_g}, ${g.KH}, ${g.KW}] with groups ${g.G}`,
    );
  if (which === 'pointwise' && !isPointwise(g))
    throw new Error(`conv2d: impl 'pointwise' needs a 1x1 kernel, stride 1, no padding and groups 1`);
  const defines: Record<string, number> = { [which.toUpperCase()]: 1, ...weightDefines(rt, 'conv2d', weight) };
  const bindings: Record<string, Tensor> = { x, w: weight, y };
  const params: Record<string, number> = { ...geomParams(g), n: 0 };
  if (bias) {
    defines.HAS_BIAS = 1;
    bindings.bias = bias;
  } else params.bias_off = 0;
  let groups: [number, number, number];
  const constants: Record<string, number> = which === 'tiled' ? {} : { WG };
  switch (which) {
    case 'direct': {
      const co = g.cout_g <= 4 ? 4 : DIRECT_CO;
      Object.assign(defines, { DCO: co, DPV: 1 });
      params.n = g.B * g.G * Math.ceil(g.cout_g / co) * g.OH * Math.ceil(g.OW / 4);
      groups = rt.groups1d(params.n, WG);
      break;
    }
    case 'rows': {
      const rc = Math.min(ROWS_CO, g.cout_g);
      const wg = Math.min(WG, Math.max(8, Math.ceil((g.OH * g.OW) / 32) * 8));
      defines.RC = rc;
      params.n = g.B * g.G * Math.ceil(g.cout_g / rc) * Math.ceil((g.OH * g.OW) / (4 * wg));
      groups = rt.groups1d(params.n, 1);
      constants.WG = wg;
      break;
    }
    case 'depthwise': {
      const fixed = g.sw === 1 && g.dw === 1 && g.KW <= DW_MAX_K;
      if (fixed) Object.assign(defines, { DW_FIXED: 1, DW_K: g.KW, DW_PX: DW_PX_FIXED });
      params.n = g.B * g.Cout * g.OH * Math.ceil(g.OW / (fixed ? DW_PX_FIXED : DW_PX));
      groups = rt.groups1d(params.n, WG);
      break;
    }
    case 'pointwise': {
      const P = g.H * g.W;
      if (P % 4 === 0 && x.byteOffset % 16 === 0) defines.VEC4 = 1;
      const co = g.Cout <= 4 ? 4 : PW_CO;
      Object.assign(defines, { PCO: co, PPV: PW_PV });
      params.n = g.B * Math.ceil(g.Cout / co) * Math.ceil(P / (4 * PW_PV));
      groups = rt.groups1d(params.n, WG);
      break;
    }
    case 'tiled':
      params.n = g.B * g.G * Math.ceil(g.cout_g / 32) * Math.ceil((g.OH * g.OW) / 64);
      groups = rt.groups1d(params.n, 1);
      break;
  }
  rt.kernel('conv2d').run({
    defines,
    constants,
    bindings,
    params,
    groups,
    label: `conv2d.${which}`,
  });
  return y;
}

/** dx [B, Cin, H, W] = conv_transpose2d(dy, w) with the output padding that restores H, W. */
export function conv2dInputGrad(rt: Runtime, dy: Tensor, weight: Tensor, g: ConvGeom): Tensor {
  return convTranspose2dForward(rt, dy, weight, null, transposedGeom(g));
}

/** dweight [Cout, Cin/G, KH, KW] = sum over batch and output pixels of dy * x at each tap. */
export function conv2dWeightGrad(rt: Runtime, dy: Tensor, x: Tensor, g: ConvGeom): Tensor {
  checkF32('conv2d_dweight', dy, x);
  if (dy.size !== g.B * g.Cout * g.OH * g.OW || x.size !== g.B * g.Cin * g.H * g.W) {
    throw new Error(`conv2d_dweight: dy ${shapeStr(dy.shape)} / x ${shapeStr(x.shape)} do not match the convolution`);
  }
  const dw = rt.empty([g.Cout, g.cin_g, g.KH, g.KW], 'f32', 'conv2d_dweight');
  const co1 = g.cout_g === 1;
  const n = g.G * Math.ceil(g.cout_g / (co1 ? 1 : 4)) * g.cin_g * g.KH * g.KW;
  rt.kernel('conv2d').run({
    defines: co1 ? { DWEIGHT: 1, CO1: 1 } : { DWEIGHT: 1 },
    constants: { WG },
    bindings: { dy, x, dw },
    params: { ...geomParams(g), n },
    groups: rt.groups1d(n, WG),
    label: 'conv2d.dweight',
  });
  return dw;
}

/** dbias [C] = sum over batch and pixels of dy [B, C, ...]. */
export function biasGrad(rt: Runtime, dy: Tensor, C: number): Tensor {
  checkF32('conv_dbias', dy);
  const B = dy.shape[0];
  if (dy.rank < 2 || dy.shape[1] !== C) throw new Error(`conv_dbias: dy ${shapeStr(dy.shape)} must be [B, ${C}, ...]`);
  const db = rt.empty([C], 'f32', 'conv_dbias');
  rt.kernel('conv2d').run({
    defines: { DBIAS: 1 },
    constants: { WG },
    bindings: { dy, db },
    params: { B, Cout: C, P: B === 0 ? 0 : dy.size / (B * C) },
    groups: rt.groups1d(C, WG),
    label: 'conv2d.dbias',
  });
  return db;
}
