// Wrapper for shaders/norm.wgsl: LayerNorm over the last dim, SAM's LayerNorm2d (normalise the
// channels of each pixel, NCHW) and torch.nn.GroupNorm (NCHW), with autograd (dx, dweight, dbias).
//
// Variants: LayerNorm runs one row per invocation on software adapters (no barriers: 3-60x cheaper
// there) and one workgroup per row on hardware; `opts.variant` forces either (tests cover both).
// vec4 loads are used whenever the normalised extent allows it and the views are 16-byte aligned.
// GroupNorm reduces in two stages (P interleaved partials per group, then a Welford merge) so large
// groups (C/G * H * W = 32768) need neither barriers nor one long serial loop.

import type { Node } from '../graph/autograd.js';
import { numel, shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';

const WG = 128;

export type LayerNormVariant = 'row' | 'workgroup';
export interface LayerNormOptions {
  /** 'row': one row per invocation (software default); 'workgroup': one workgroup per row (hardware default). */
  variant?: LayerNormVariant;
  /** Allow vec4 loads when possible (default true; false forces the scalar path, for tests). */
  vec4?: boolean;
  /** Storage of y (default f32); f16 (precision f16, inference only) saturates at +-65504. */
  outDtype?: 'f32' | 'f16';
}
export interface GroupNormOptions {
  /** Partials per group in the two-stage reduction (default: about 128 units each; clamped to [1, units]). */
  partials?: number;
  vec4?: boolean;
}
export interface LayerNorm2dOptions {
  vec4?: boolean;
}

/** Gradients of a normalisation op (null where not requested). */
export interface NormGrads {
  dx: Tensor | null;
  dweight: Tensor | null;
  dbias: Tensor | null;
}
export interface WantGrads {
  x?: boolean;
  weight?: boolean;
  bias?: boolean;
}

// ---------------------------------------------------------------------------------------- validation

function checkF32(op: string, ts: Record<string, Tensor>): void {
  for (const [name, t] of Object.entries(ts)) {
    if (t.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${t.dtype} (${t})`);
  }
}

function checkAffine(op: string, x: Tensor, c: number, weight: Tensor, bias: Tensor | null): void {
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== c)) {
      throw new Error(`${op}: ${name} ${shapeStr(t.shape)} does not match x ${shapeStr(x.shape)} (expected [${c}])`);
    }
  }
}

function checkEps(op: string, eps: number): void {
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`${op}: eps must be a finite number >= 0, got ${eps}`);
}

/** A backward's weight [C] and the forward's stats [2, n]. */
function checkBackwardStats(op: string, x: Tensor, c: number, weight: Tensor, stats: Tensor, n: number): void {
  checkAffine(op, x, c, weight, null);
  if (stats.size !== 2 * n) throw new Error(`${op}: stats ${shapeStr(stats.shape)} must be [2, ${n}]`);
}

/** A backward's tensors are f32 and dy has x's shape. */
function checkBackwardInputs(op: string, x: Tensor, weight: Tensor, stats: Tensor, dy: Tensor): void {
  checkF32(op, { x, weight, stats });
  if (dy.dtype !== 'f32') throw new Error(`${op}: dy must be f32, got ${dy.dtype}`);
  if (dy.shape.join() !== x.shape.join())
    throw new Error(`${op}: dy ${shapeStr(dy.shape)} does not match x ${shapeStr(x.shape)}`);
}

const aligned16 = (...ts: Tensor[]) => ts.every((t) => t.byteOffset % 16 === 0);
const needsGrad = (t: Tensor) => t.requiresGrad || t.gradFn !== null;
const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/**
 * A norm op: its forward, and where a tape wants x / weight / bias, the forward keeps its stats and the
 * backward node is recorded (the tape becomes the only owner of the stats tensor).
 */
function normOnTape(
  rt: Runtime,
  op: string,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  forward: (withStats: boolean) => { y: Tensor; stats: Tensor | null },
  backward: (stats: Tensor, dy: Tensor, want: WantGrads) => NormGrads,
): Tensor {
  if (!rt.tape?.wants([x, weight, bias])) return forward(false).y;
  const { y, stats } = forward(true);
  const saved = stats!;
  const node: Node = {
    op,
    inputs: [x, weight, bias],
    outputs: [y],
    saved: [x, weight, saved],
    backward: ([dy]) => {
      if (!dy) return [null, null, null];
      const g = backward(saved, dy, { x: needsGrad(x), weight: needsGrad(weight), bias: needsGrad(bias) });
      return [g.dx, g.dweight, g.dbias];
    },
  };
  rt.tape!.record(node);
  // the tape becomes the only owner: drop the wrapper's reference without marking the Tensor (used by
  // backward) disposed, and take it out of any scope (a scope would dispose it a second time)
  untrack(saved).storage.release();
  return y;
}

// ---------------------------------------------------------------------------------------- LayerNorm

/** Resolved LayerNorm launch facts. */
function lnPlan(rt: Runtime, op: string, x: Tensor, opts: LayerNormOptions) {
  if (x.rank < 1) throw new Error(`${op}: x must have rank >= 1, got ${shapeStr(x.shape)}`);
  const c = x.shape[x.rank - 1];
  const rows = numel(x.shape.slice(0, -1));
  const variant = opts.variant ?? (rt.adapter.software ? 'row' : 'workgroup');
  const vec4 = opts.vec4 !== false && c % 4 === 0;
  const units = vec4 ? c / 4 : c;
  // workgroup per row: enough lanes to cover a row's units once, 32..128
  const wg = variant === 'workgroup' ? Math.min(128, Math.max(32, nextPow2(units))) : WG;
  return { c, rows, variant, vec4, wg };
}

function lnRun(
  rt: Runtime,
  section: string,
  plan: ReturnType<typeof lnPlan>,
  vec4: boolean,
  bindings: Record<string, Tensor>,
  params: Record<string, number>,
  stats: boolean,
  label: string,
  halfOut = false,
): void {
  const wgrow = plan.variant === 'workgroup';
  rt.kernel('norm').run({
    defines: { [section]: 1, VEC4: vec4 ? 1 : 0, WGROW: wgrow ? 1 : 0, STATS: stats ? 1 : 0, C_F16: halfOut ? 1 : 0 },
    constants: { WG: plan.wg },
    bindings,
    params,
    groups: wgrow ? rt.groups1d(plan.rows * plan.wg, plan.wg) : rt.groups1d(plan.rows, plan.wg),
    label,
  });
}

/** LayerNorm forward; `withStats` also returns stats [2, rows] (mean, rstd) for backward. */
export function layerNormForward(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  withStats: boolean,
  opts: LayerNormOptions = {},
): { y: Tensor; stats: Tensor | null } {
  const op = 'layerNorm';
  checkF32(op, { x, weight, bias });
  checkEps(op, eps);
  const plan = lnPlan(rt, op, x, opts);
  checkAffine(op, x, plan.c, weight, bias);
  const half = opts.outDtype === 'f16';
  if (half && withStats) throw new Error(`${op}: an f16 output is inference only (no autograd)`);
  if (half && !rt.hasF16)
    throw new Error(`${op}: an f16 output needs the 'shader-f16' feature, which this adapter lacks`);
  const y = rt.empty(x.shape, half ? 'f16' : 'f32', 'layer_norm');
  const stats = withStats ? rt.empty([2, plan.rows], 'f32', 'layer_norm.stats') : null;
  if (x.size > 0) {
    const vec4 = plan.vec4 && aligned16(x, weight, bias, y);
    lnRun(
      rt,
      'LN_FWD',
      plan,
      vec4,
      stats ? { x, w: weight, b: bias, y, stats } : { x, w: weight, b: bias, y },
      { rows: plan.rows, c: plan.c, eps },
      !!stats,
      `norm.layer_norm.${plan.variant}${half ? '.f16out' : ''}`,
      half,
    );
  }
  return { y, stats };
}

/**
 * torch.nn.functional.layer_norm over the last dim: x [..., C], weight [C], bias [C].
 * eps: 1e-6 in Hiera, 1e-5 in torch / transformers defaults.
 */
export function layerNorm(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps = 1e-5,
  opts: LayerNormOptions = {},
): Tensor {
  return normOnTape(
    rt,
    'layer_norm',
    x,
    weight,
    bias,
    (withStats) => layerNormForward(rt, x, weight, bias, eps, withStats, opts),
    (stats, dy, want) => layerNormBackward(rt, x, weight, stats, dy, want, opts),
  );
}

/** LayerNorm backward from the forward's stats [2, rows]. */
export function layerNormBackward(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  stats: Tensor,
  dy: Tensor,
  want: WantGrads = { x: true, weight: true, bias: true },
  opts: LayerNormOptions = {},
): NormGrads {
  const op = 'layerNormBackward';
  checkBackwardInputs(op, x, weight, stats, dy);
  const plan = lnPlan(rt, op, x, opts);
  checkBackwardStats(op, x, plan.c, weight, stats, plan.rows);
  let dx: Tensor | null = null;
  if (want.x !== false) {
    dx = rt.empty(x.shape, 'f32', 'layer_norm.dx');
    if (x.size > 0) {
      const vec4 = plan.vec4 && aligned16(x, weight, dy, dx);
      lnRun(
        rt,
        'LN_BWD',
        plan,
        vec4,
        { x, w: weight, dy, stats, dx },
        { rows: plan.rows, c: plan.c },
        false,
        `norm.layer_norm_backward.${plan.variant}`,
      );
    }
  }
  const { dweight, dbias } = affineGrads(
    rt,
    x,
    dy,
    stats,
    { kind: 'rows', rows: plan.rows, c: plan.c },
    want,
    'layer_norm',
    false,
  );
  return { dx, dweight, dbias };
}

// ---------------------------------------------------------------------------------------- LayerNorm2d

function ln2dShape(op: string, x: Tensor) {
  if (x.rank !== 4) throw new Error(`${op}: x must be [B, C, H, W], got ${shapeStr(x.shape)}`);
  const [b, c, h, w] = x.shape;
  return { b, c, hw: h * w, npix: b * h * w };
}

/** LayerNorm2d forward; `withStats` also returns stats [2, B*H*W] (mean, rstd per pixel). */
export function layerNorm2dForward(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  withStats: boolean,
  opts: LayerNorm2dOptions = {},
): { y: Tensor; stats: Tensor | null } {
  const op = 'layerNorm2d';
  checkF32(op, { x, weight, bias });
  checkEps(op, eps);
  const s = ln2dShape(op, x);
  checkAffine(op, x, s.c, weight, bias);
  const y = rt.empty(x.shape, 'f32', 'layer_norm2d');
  const stats = withStats ? rt.empty([2, s.npix], 'f32', 'layer_norm2d.stats') : null;
  if (x.size > 0) {
    const vec4 = opts.vec4 !== false && s.hw % 4 === 0 && aligned16(x, y);
    rt.kernel('norm').run({
      defines: { LN2D_FWD: 1, VEC4: vec4 ? 1 : 0, STATS: stats ? 1 : 0 },
      constants: { WG },
      bindings: stats ? { x, w: weight, b: bias, y, stats } : { x, w: weight, b: bias, y },
      params: { npix: s.npix, c: s.c, hw: s.hw, eps },
      groups: rt.groups1d(s.npix / (vec4 ? 4 : 1), WG),
      label: 'norm.layer_norm2d',
    });
  }
  return { y, stats };
}

/**
 * SAM's LayerNorm2d: x [B, C, H, W]; mean and biased variance over C at each (b, h, w), then
 * y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]. SAM uses eps 1e-6.
 */
export function layerNorm2d(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps = 1e-6,
  opts: LayerNorm2dOptions = {},
): Tensor {
  return normOnTape(
    rt,
    'layer_norm2d',
    x,
    weight,
    bias,
    (withStats) => layerNorm2dForward(rt, x, weight, bias, eps, withStats, opts),
    (stats, dy, want) => layerNorm2dBackward(rt, x, weight, stats, dy, want, opts),
  );
}

/** LayerNorm2d backward from the forward's stats [2, B*H*W]. */
export function layerNorm2dBackward(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  stats: Tensor,
  dy: Tensor,
  want: WantGrads = { x: true, weight: true, bias: true },
  opts: LayerNorm2dOptions = {},
): NormGrads {
  const op = 'layerNorm2dBackward';
  checkBackwardInputs(op, x, weight, stats, dy);
  const s = ln2dShape(op, x);
  checkBackwardStats(op, x, s.c, weight, stats, s.npix);
  let dx: Tensor | null = null;
  if (want.x !== false) {
    dx = rt.empty(x.shape, 'f32', 'layer_norm2d.dx');
    if (x.size > 0) {
      const vec4 = opts.vec4 !== false && s.hw % 4 === 0 && aligned16(x, dy, dx, stats);
      rt.kernel('norm').run({
        defines: { LN2D_BWD: 1, VEC4: vec4 ? 1 : 0 },
        constants: { WG },
        bindings: { x, w: weight, dy, stats, dx },
        params: { npix: s.npix, c: s.c, hw: s.hw },
        groups: rt.groups1d(s.npix / (vec4 ? 4 : 1), WG),
        label: 'norm.layer_norm2d_backward',
      });
    }
  }
  const { dweight, dbias } = affineGrads(
    rt,
    x,
    dy,
    stats,
    { kind: 'nchw', nb: s.b, c: s.c, hw: s.hw, sb: s.hw, sg: 0, sp: 1, cpg: 1, ns: s.npix },
    want,
    'layer_norm2d',
    opts.vec4 !== false,
  );
  return { dx, dweight, dbias };
}

// ---------------------------------------------------------------------------------------- GroupNorm

function gnPlan(op: string, x: Tensor, groups: number, opts: GroupNormOptions) {
  if (x.rank < 2) throw new Error(`${op}: x must be [B, C, ...], got ${shapeStr(x.shape)}`);
  const [b, c] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new Error(
      `${op}: ${groups} groups must be a positive divisor of the ${c} channels of x ${shapeStr(x.shape)}`,
    );
  }
  const hw = numel(x.shape.slice(2));
  const cpg = c / groups;
  const m = cpg * hw;
  const ng = b * groups;
  const vec4 = opts.vec4 !== false && hw % 4 === 0;
  /** Partials per group for the chosen unit width. */
  const partials = (v4: boolean) => {
    const units = v4 ? m / 4 : m;
    return Math.max(1, Math.min(units, Math.round(opts.partials ?? Math.ceil(units / 128))));
  };
  return { b, c, hw, cpg, m, ng, g: groups, vec4, partials };
}

/** GN_APPLY launch: rows [B*C] of HW, about 16 units per invocation. */
function applyParams(pl: ReturnType<typeof gnPlan>, vec4: boolean) {
  const units = vec4 ? pl.hw / 4 : pl.hw;
  const nchunk = Math.max(1, Math.ceil(units / 16));
  return { nrows: pl.b * pl.c, hw: pl.hw, c: pl.c, cpg: pl.cpg, ng: pl.ng, nchunk };
}

/** GroupNorm forward; `withStats` also returns stats [2, B*G] (mean, rstd per group). */
export function groupNormForward(
  rt: Runtime,
  x: Tensor,
  groups: number,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  withStats: boolean,
  opts: GroupNormOptions = {},
): { y: Tensor; stats: Tensor | null } {
  const op = 'groupNorm';
  checkF32(op, { x, weight, bias });
  checkEps(op, eps);
  const pl = gnPlan(op, x, groups, opts);
  checkAffine(op, x, pl.c, weight, bias);
  const y = rt.empty(x.shape, 'f32', 'group_norm');
  const stats = rt.empty([2, pl.ng], 'f32', 'group_norm.stats');
  if (x.size > 0) {
    const vec4 = pl.vec4 && aligned16(x, y);
    const p = pl.partials(vec4);
    const part = rt.empty([p * pl.ng, 2], 'f32', 'group_norm.partials');
    rt.kernel('norm').run({
      defines: { GN_PARTIAL: 1, VEC4: vec4 ? 1 : 0 },
      constants: { WG },
      bindings: { x, part },
      params: { ng: pl.ng, m: pl.m, p },
      groups: rt.groups1d(pl.ng * p, WG),
      label: 'norm.group_norm.partial',
    });
    rt.kernel('norm').run({
      defines: { GN_FINAL: 1, VEC4: vec4 ? 1 : 0 },
      constants: { WG },
      bindings: { part, stats },
      params: { ng: pl.ng, m: pl.m, p, eps },
      groups: rt.groups1d(pl.ng, WG),
      label: 'norm.group_norm.final',
    });
    part.dispose();
    const ap = applyParams(pl, vec4);
    rt.kernel('norm').run({
      defines: { GN_APPLY: 1, VEC4: vec4 ? 1 : 0 },
      constants: { WG },
      bindings: { x, w: weight, b: bias, stats, y },
      params: ap,
      groups: rt.groups1d(ap.nrows * ap.nchunk, WG),
      label: 'norm.group_norm.apply',
    });
  }
  if (withStats) return { y, stats };
  stats.dispose();
  return { y, stats: null };
}

/** torch.nn.GroupNorm(groups, C, eps): x [B, C, *], statistics over (C/groups, *) per sample and group. */
export function groupNorm(
  rt: Runtime,
  x: Tensor,
  groups: number,
  weight: Tensor,
  bias: Tensor,
  eps = 1e-5,
  opts: GroupNormOptions = {},
): Tensor {
  return normOnTape(
    rt,
    'group_norm',
    x,
    weight,
    bias,
    (withStats) => groupNormForward(rt, x, groups, weight, bias, eps, withStats, opts),
    (stats, dy, want) => groupNormBackward(rt, x, groups, weight, stats, dy, want, opts),
  );
}

/** GroupNorm backward from the forward's stats [2, B*G]. */
export function groupNormBackward(
  rt: Runtime,
  x: Tensor,
  groups: number,
  weight: Tensor,
  stats: Tensor,
  dy: Tensor,
  want: WantGrads = { x: true, weight: true, bias: true },
  opts: GroupNormOptions = {},
): NormGrads {
  const op = 'groupNormBackward';
  checkBackwardInputs(op, x, weight, stats, dy);
  const pl = gnPlan(op, x, groups, opts);
  checkBackwardStats(op, x, pl.c, weight, stats, pl.ng);
  let dx: Tensor | null = null;
  if (want.x !== false) {
    dx = rt.empty(x.shape, 'f32', 'group_norm.dx');
    if (x.size > 0) {
      const vec4 = pl.vec4 && aligned16(x, dy, dx);
      const p = pl.partials(vec4);
      const part = rt.empty([p * pl.ng, 2], 'f32', 'group_norm.bwd_partials');
      rt.kernel('norm').run({
        defines: { GN_PARTIAL: 1, BWD: 1, VEC4: vec4 ? 1 : 0 },
        constants: { WG },
        bindings: { x, part, dy, w: weight, stats },
        params: { ng: pl.ng, m: pl.m, p, hw: pl.hw, cpg: pl.cpg, g: pl.g },
        groups: rt.groups1d(pl.ng * p, WG),
        label: 'norm.group_norm_backward.partial',
      });
      const sumG = rt.empty([pl.ng], 'f32', 'group_norm.sum_g');
      const sumGx = rt.empty([pl.ng], 'f32', 'group_norm.sum_gx');
      colsum(rt, part, pl.ng, p, sumG, sumGx, 'norm.group_norm_backward.sums');
      part.dispose();
      const ap = applyParams(pl, vec4);
      rt.kernel('norm').run({
        defines: { GN_APPLY: 1, BWD: 1, VEC4: vec4 ? 1 : 0 },
        constants: { WG },
        bindings: { x, w: weight, stats, dy, sum_g: sumG, sum_gx: sumGx, y: dx },
        params: ap,
        groups: rt.groups1d(ap.nrows * ap.nchunk, WG),
        label: 'norm.group_norm_backward.apply',
      });
      sumG.dispose();
      sumGx.dispose();
    }
  }
  const { dweight, dbias } = affineGrads(
    rt,
    x,
    dy,
    stats,
    { kind: 'nchw', nb: pl.b, c: pl.c, hw: pl.hw, sb: pl.g, sg: 1, sp: 0, cpg: pl.cpg, ns: pl.ng },
    want,
    'group_norm',
    opts.vec4 !== false,
  );
  return { dx, dweight, dbias };
}

// ---------------------------------------------------------------------------------------- dweight / dbias

/** Where dweight/dbias reduce: LayerNorm rows [rows, C], or NCHW [nb, c, hw] with the statistic of
 * (b, c, p) at s = b*sb + (c / cpg)*sg + p*sp in stats [2, ns]. */
type DwbLayout =
  | { kind: 'rows'; rows: number; c: number }
  | { kind: 'nchw'; nb: number; c: number; hw: number; sb: number; sg: number; sp: number; cpg: number; ns: number };

/**
 * dweight[c] = sum dy * xhat, dbias[c] = sum dy over everything but c. Two stages: partial sums
 * (chunks of rows for LayerNorm, ~32 units of one NCHW row per invocation), then a column sum.
 */
function affineGrads(
  rt: Runtime,
  x: Tensor,
  dy: Tensor,
  stats: Tensor,
  lay: DwbLayout,
  want: WantGrads,
  name: string,
  allowVec4: boolean,
): { dweight: Tensor | null; dbias: Tensor | null } {
  if (want.weight === false && want.bias === false) return { dweight: null, dbias: null };
  const c = lay.c;
  let dweight: Tensor;
  let dbias: Tensor;
  if (x.size === 0) {
    dweight = rt.zeros([c], 'f32', `${name}.dweight`);
    dbias = rt.zeros([c], 'f32', `${name}.dbias`);
  } else {
    let part: Tensor;
    let nk: number;
    if (lay.kind === 'rows') {
      // about 64+ elements per invocation, at most ~16k invocations
      const inv = Math.min(16384, Math.max(c, Math.floor((lay.rows * c) / 64)));
      const chunk = Math.ceil(lay.rows / Math.max(1, Math.floor(inv / c)));
      nk = Math.ceil(lay.rows / chunk);
      part = rt.empty([nk * c, 2], 'f32', `${name}.dwb_partials`);
      rt.kernel('norm').run({
        defines: { DWB_PARTIAL: 1 },
        constants: { WG },
        bindings: { x, dy, stats, part },
        params: { rows: lay.rows, c, chunk, nchunk: nk },
        groups: rt.groups1d(nk * c, WG),
        label: `norm.${name}_backward.dwb_partial`,
      });
    } else {
      const vec4 = allowVec4 && lay.hw % 4 === 0 && aligned16(x, dy);
      const units = vec4 ? lay.hw / 4 : lay.hw;
      const nchunk = Math.max(1, Math.ceil(units / 32));
      nk = lay.nb * nchunk;
      part = rt.empty([nk * c, 2], 'f32', `${name}.dwb_partials`);
      const { kind: _, ...params } = lay;
      rt.kernel('norm').run({
        defines: { DWB_PARTIAL: 1, NCHW: 1, VEC4: vec4 ? 1 : 0 },
        constants: { WG },
        bindings: { x, dy, stats, part },
        params: { ...params, nchunk },
        groups: rt.groups1d(lay.nb * c * nchunk, WG),
        label: `norm.${name}_backward.dwb_partial`,
      });
    }
    dweight = rt.empty([c], 'f32', `${name}.dweight`);
    dbias = rt.empty([c], 'f32', `${name}.dbias`);
    colsum(rt, part, c, nk, dweight, dbias, `norm.${name}_backward.dwb_sum`);
    part.dispose();
  }
  if (want.weight === false) {
    dweight.dispose();
    return { dweight: null, dbias };
  }
  if (want.bias === false) {
    dbias.dispose();
    return { dweight, dbias: null };
  }
  return { dweight, dbias };
}

/** out0[j] = sum_k part[k, j].x, out1[j] = sum_k part[k, j].y for part [nk, n, 2]. */
function colsum(rt: Runtime, part: Tensor, n: number, nk: number, out0: Tensor, out1: Tensor, label: string): void {
  rt.kernel('norm').run({
    defines: { COLSUM: 1 },
    constants: { WG },
    bindings: { part, out0, out1 },
    params: { n, nk },
    groups: rt.groups1d(n, WG),
    label,
  });
}
