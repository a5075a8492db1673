// Wrapper for shaders/pool.wgsl: max pooling (F.max_pool2d, with argmax indices) and average pooling
// (F.avg_pool2d) on NCHW images or NHWC token grids (Hiera q-pooling), with autograd.

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';
import { checkF32, type Pair, pairOpt } from './conv2d.js';

export type PoolLayout = 'NCHW' | 'NHWC';

export interface MaxPool2dOptions {
  kernel: Pair;
  /** Defaults to the kernel size. */
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
  /** 'NCHW' (default): x [B, C, H, W]; 'NHWC': x [B, H, W, C]. The output keeps the layout. */
  layout?: PoolLayout;
}

export interface AvgPool2dOptions {
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  /** Count padded zeros in the divisor (PyTorch's default: true). */
  countIncludePad?: boolean;
  layout?: PoolLayout;
}

interface PoolGeom {
  B: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  nhwc: boolean;
}

const WG = 128;

/** PyTorch's pooling_output_shape: floor or ceil, and a ceil-mode window must start inside the image or left pad. */
function outSize(n: number, k: number, p: number, s: number, d: number, ceil: boolean): number {
  let o = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

function poolGeometry(
  op: string,
  x: Tensor,
  o: MaxPool2dOptions | AvgPool2dOptions,
  dilation: Pair | undefined,
  maxPadOf: (k: number, d: number) => number,
): PoolGeom {
  checkF32(op, x);
  const layout = o.layout ?? 'NCHW';
  if (layout !== 'NCHW' && layout !== 'NHWC')
    throw new Error(`${op}: layout must be 'NCHW' or 'NHWC', got ${String(layout)}`);
  const nhwc = layout === 'NHWC';
  if (x.rank !== 4)
    throw new Error(`${op}: input must be ${nhwc ? '[B, H, W, C]' : '[B, C, H, W]'}, got ${shapeStr(x.shape)}`);
  const [B, C, H, W] = nhwc ? [x.shape[0], x.shape[3], x.shape[1], x.shape[2]] : x.shape;
  if (C < 1 || H < 1 || W < 1)
    throw new Error(`${op}: input ${shapeStr(x.shape)} (${layout}) has an empty channel or spatial dimension`);
  const [kh, kw] = pairOpt(op, 'kernel', o.kernel, 1, 1);
  const [sh, sw] = pairOpt(op, 'stride', o.stride ?? o.kernel, 1, 1);
  const [ph, pw] = pairOpt(op, 'padding', o.padding, 0, 0);
  const [dh, dw] = pairOpt(op, 'dilation', dilation, 1, 1);
  if (ph > maxPadOf(kh, dh) || pw > maxPadOf(kw, dw)) {
    throw new Error(`${op}: padding [${ph}, ${pw}] must be at most half of the kernel [${kh}, ${kw}]`);
  }
  const ceil = o.ceilMode ?? false;
  const OH = outSize(H, kh, ph, sh, dh, ceil);
  const OW = outSize(W, kw, pw, sw, dw, ceil);
  if (OH < 1 || OW < 1)
    throw new Error(`${op}: input ${shapeStr(x.shape)} (${layout}) is smaller than the kernel [${kh}, ${kw}]`);
  return { B, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, nhwc };
}

const outShape = (g: PoolGeom) => (g.nhwc ? [g.B, g.OH, g.OW, g.C] : [g.B, g.C, g.OH, g.OW]);
const inShape = (g: PoolGeom) => (g.nhwc ? [g.B, g.H, g.W, g.C] : [g.B, g.C, g.H, g.W]);

function geomParams(g: PoolGeom, n: number, includePad = false): Record<string, number> {
  const { B, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw } = g;
  return { B, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, include_pad: includePad ? 1 : 0, n };
}

function layoutDefines(g: PoolGeom, d: Record<string, number>): Record<string, number> {
  return g.nhwc ? { ...d, NHWC: 1 } : d;
}

/** Max pooling; y has x's layout. */
export function maxPool2d(rt: Runtime, x: Tensor, opts: MaxPool2dOptions): Tensor {
  const g = poolGeometry('max_pool2d', x, opts, opts.dilation, maxPadMax);
  if (!rt.tape?.wants([x])) return maxForward(rt, x, g, false).y;
  const { y, idx } = maxForward(rt, x, g, true);
  rt.tape.record({
    op: 'max_pool2d',
    inputs: [x],
    outputs: [y],
    saved: [idx!],
    backward: ([dy]) => [dy ? maxPool2dBackwardWith(rt, idx!, dy, g) : null],
  });
  untrack(idx!).storage.release(); // the tape now holds idx (released by Tape.dispose), no scope does
  return y;
}

/** Max pooling that also returns the argmax of each window (i32, ih * W + iw inside its plane). */
export function maxPool2dWithIndices(rt: Runtime, x: Tensor, opts: MaxPool2dOptions): { y: Tensor; indices: Tensor } {
  const g = poolGeometry('max_pool2d', x, opts, opts.dilation, maxPadMax);
  const { y, idx } = maxForward(rt, x, g, true);
  return { y, indices: idx! };
}

/** dx for max pooling from the forward's indices: dy is routed to each window's argmax. */
export function maxPool2dBackward(rt: Runtime, indices: Tensor, dy: Tensor, x: Tensor, opts: MaxPool2dOptions): Tensor {
  const g = poolGeometry('max_pool2d_backward', x, opts, opts.dilation, maxPadMax);
  return maxPool2dBackwardWith(rt, indices, dy, g);
}

// PyTorch: pad <= effective kernel / 2 for max pooling, kernel / 2 for average pooling.
function maxPadMax(k: number, d: number): number {
  return Math.floor(((k - 1) * d + 1) / 2);
}
function avgPadMax(k: number): number {
  return Math.floor(k / 2);
}

function maxForward(rt: Runtime, x: Tensor, g: PoolGeom, withIdx: boolean): { y: Tensor; idx: Tensor | null } {
  const shape = outShape(g);
  const y = rt.empty(shape, 'f32', 'max_pool2d');
  const idx = withIdx ? rt.empty(shape, 'i32', 'max_pool2d_indices') : null;
  if (y.size > 0) {
    // NHWC with 4-aligned channels: 4 channels per invocation (vec4 loads)
    const vec4 = g.nhwc && g.C % 4 === 0 && x.byteOffset % 16 === 0;
    const d: Record<string, number> = withIdx ? { MAX: 1, ARGMAX: 1 } : { MAX: 1 };
    if (vec4) d.VEC4 = 1;
    const n = vec4 ? y.size / 4 : y.size;
    rt.kernel('pool').run({
      defines: layoutDefines(g, d),
      constants: { WG },
      bindings: idx ? { x, y, idx } : { x, y },
      params: { ...geomParams(g, n), C: vec4 ? g.C / 4 : g.C },
      groups: rt.groups1d(n, WG),
      label: vec4 ? 'pool.max_vec4' : 'pool.max',
    });
  }
  return { y, idx };
}

function maxPool2dBackwardWith(rt: Runtime, idx: Tensor, dy: Tensor, g: PoolGeom): Tensor {
  checkF32('max_pool2d_backward', dy);
  const os = outShape(g);
  if (idx.dtype !== 'i32' || idx.size !== dy.size || dy.shape.join() !== os.join()) {
    throw new Error(
      `max_pool2d_backward: dy ${shapeStr(dy.shape)} and indices ${shapeStr(idx.shape)} ${idx.dtype} must be ${shapeStr(os)} (indices i32)`,
    );
  }
  const dx = rt.empty(inShape(g), 'f32', 'max_pool2d_backward');
  if (dx.size > 0) {
    rt.kernel('pool').run({
      defines: layoutDefines(g, { MAX_BACKWARD: 1 }),
      constants: { WG },
      bindings: { idx, dy, dx },
      params: geomParams(g, dx.size),
      groups: rt.groups1d(dx.size, WG),
      label: 'pool.max_backward',
    });
  }
  return dx;
}

/** Average pooling; y has x's layout. */
export function avgPool2d(rt: Runtime, x: Tensor, opts: AvgPool2dOptions): Tensor {
  const g = poolGeometry('avg_pool2d', x, opts, 1, (k) => avgPadMax(k));
  const includePad = opts.countIncludePad ?? true;
  const y = rt.empty(outShape(g), 'f32', 'avg_pool2d');
  if (y.size > 0) {
    rt.kernel('pool').run({
      defines: layoutDefines(g, { AVG: 1 }),
      constants: { WG },
      bindings: { x, y },
      params: geomParams(g, y.size, includePad),
      groups: rt.groups1d(y.size, WG),
      label: 'pool.avg',
    });
  }
  if (rt.tape?.wants([x])) {
    rt.tape.record({
      op: 'avg_pool2d',
      inputs: [x],
      outputs: [y],
      saved: [],
      backward: ([dy]) => [dy ? avgBackward(rt, dy, g, includePad) : null],
    });
  }
  return y;
}

function avgBackward(rt: Runtime, dy: Tensor, g: PoolGeom, includePad: boolean): Tensor {
  checkF32('avg_pool2d_backward', dy);
  if (dy.shape.join() !== outShape(g).join())
    throw new Error(`avg_pool2d_backward: dy ${shapeStr(dy.shape)} must be ${shapeStr(outShape(g))}`);
  const dx = rt.empty(inShape(g), 'f32', 'avg_pool2d_backward');
  if (dx.size > 0) {
    rt.kernel('pool').run({
      defines: layoutDefines(g, { AVG_BACKWARD: 1 }),
      constants: { WG },
      bindings: { dy, dx },
      params: geomParams(g, dx.size, includePad),
      groups: rt.groups1d(dx.size, WG),
      label: 'pool.avg_backward',
    });
  }
  return dx;
}
