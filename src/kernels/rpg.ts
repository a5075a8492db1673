// Wrapper for shaders/rpg.wgsl: RobotSeg's robot prompt generator on the GPU. Stage functions queue
// dispatches and never read back; `rpgObjectTokens` runs the whole hierarchy:
//
//   fg [F, hw] --FPS(k=R)--> macro centres --ASSIGN--> macro assign --PROTO--> macro prototypes/counts
//      --SUPPORT--> region supports [F*R, hw] --FPS(k=S)--> micro centres --ASSIGN--> --PROTO-->
//      micro prototypes [F*R, S, C] --TOKENS--> object tokens [1, F*R, S*C]
//
// Training: while a tape records and feats or the placeholder need gradients, rpgObjectTokens keeps
// the micro level (assignment, centres, counts, prototypes) and the frame foreground counts and
// records one node; its backward runs TOKENS_BWD -> PROTO_BWD (d feats) and PLACEHOLDER_BWD. The
// FPS picks and k-means assignments are discrete (constants of the backward) and fg gets no gradient,
// as in the fork, where only gather / mean / F.normalize / concat carry the gradient.
//
// The first FPS centre is deterministic (nearest the centroid, exact integers; see the shader), so the
// picks and assignments are exactly reproducible. Layouts: memory features token-major [M, C] or
// [1, M, C] with frame f's cell n at row f*hw + n (trailing object-pointer rows are ignored); masks
// [F, hw] f32 (probabilities or 0/1; a cell is foreground when >= thresh); integer outputs i32.

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';

export type RpgFpsVariant = 'serial' | 'workgroup';

const WG = 64;
/** eps of F.normalize on the micro prototypes. */
const NORM_EPS = 1e-12;
/** Largest k of FPS / k-means (the shader's fixed per-invocation arrays). */
export const RPG_MAX_K = 8;
/** Largest grid side: the centroid key M(r^2+c^2) - 2(r Sr + c Sc) must fit in i32. */
export const RPG_MAX_SIDE = 128;

function check(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function checkK(op: string, k: number): void {
  check(Number.isInteger(k) && k >= 1 && k <= RPG_MAX_K, `${op}: k must be an integer in 1..${RPG_MAX_K}, got ${k}`);
}

function checkGrid(op: string, grid: readonly [number, number]): void {
  check(
    grid.length === 2 && grid.every((s) => Number.isInteger(s) && s >= 1 && s <= RPG_MAX_SIDE),
    `${op}: grid must be two integers in 1..${RPG_MAX_SIDE}, got [${grid.join(', ')}]`,
  );
}

function checkDtype(op: string, t: Tensor, dtype: string, name: string): void {
  check(t.dtype === dtype, `${op}: ${name} must be ${dtype}, got ${t.dtype} ${shapeStr(t.shape)}`);
}

/** Rows x C view of the memory features: [M, C] or [1, M, C]. */
function featRows(op: string, feats: Tensor): { rows: number; c: number } {
  checkDtype(op, feats, 'f32', 'features');
  if (feats.rank === 2) return { rows: feats.shape[0], c: feats.shape[1] };
  check(
    feats.rank === 3 && feats.shape[0] === 1,
    `${op}: features must be [M, C] or [1, M, C], got ${shapeStr(feats.shape)}`,
  );
  return { rows: feats.shape[1], c: feats.shape[2] };
}

/**
 * Farthest-point sampling of k centres in each support set. support [S, hw] f32; a cell belongs to
 * set s when support >= thresh. Returns centres [S, k] i32 (padded with centre 0, -1 when empty) and
 * count [S] i32 (support cells). `variant` defaults to 'serial' on software adapters, else 'workgroup'.
 */
export function rpgFps(
  rt: Runtime,
  support: Tensor,
  grid: readonly [number, number],
  k: number,
  opts: { thresh?: number; variant?: RpgFpsVariant } = {},
): { centres: Tensor; count: Tensor } {
  const op = 'rpgFps';
  checkK(op, k);
  checkGrid(op, grid);
  checkDtype(op, support, 'f32', 'support');
  const hw = grid[0] * grid[1];
  check(
    support.rank === 2 && support.shape[1] === hw,
    `${op}: support must be [S, ${hw}] for grid ${grid[0]}x${grid[1]}, got ${shapeStr(support.shape)}`,
  );
  const sets = support.shape[0];
  const centres = rt.empty([sets, k], 'i32', 'rpg.centres');
  const count = rt.empty([sets], 'i32', 'rpg.count');
  if (sets === 0) return { centres, count };
  const variant = opts.variant ?? (rt.adapter.software ? 'serial' : 'workgroup');
  check(variant === 'serial' || variant === 'workgroup', `${op}: unknown variant '${variant}'`);
  const params = { sets, hw, gw: grid[1], k, thresh: opts.thresh ?? 0.5 };
  if (variant === 'workgroup') {
    const maxDim = rt.limits.maxComputeWorkgroupsPerDimension;
    const gy = Math.ceil(sets / maxDim);
    rt.kernel('rpg').run({
      defines: { FPS: 1, FPS_WG: 1 },
      bindings: { support, centres, count },
      params,
      groups: [Math.ceil(sets / gy), gy, 1],
      label: 'rpg.fps_wg',
    });
  } else {
    rt.kernel('rpg').run({
      defines: { FPS: 1, FPS_WG: 0 },
      constants: { WG },
      bindings: { support, centres, count },
      params,
      groups: rt.groups1d(sets, WG),
      label: 'rpg.fps',
    });
  }
  return { centres, count };
}

/**
 * One cosine k-means assignment per support set: assign [S, hw] i32 (-1 outside the support).
 * Two dispatches: normalised centres (CNORM), then the per-cell argmin (ASSIGN).
 * Set s uses frame s / setsPerFrame of feats; centres / count as rpgFps returns them.
 */
export function rpgAssign(
  rt: Runtime,
  feats: Tensor,
  support: Tensor,
  centres: Tensor,
  count: Tensor,
  setsPerFrame: number,
  opts: { thresh?: number } = {},
): Tensor {
  const op = 'rpgAssign';
  const { rows, c } = featRows(op, feats);
  checkDtype(op, support, 'f32', 'support');
  checkDtype(op, centres, 'i32', 'centres');
  checkDtype(op, count, 'i32', 'count');
  check(
    support.rank === 2 && centres.rank === 2 && count.rank === 1,
    `${op}: support [S, hw], centres [S, k], count [S] expected, got ${shapeStr(support.shape)}, ${shapeStr(centres.shape)}, ${shapeStr(count.shape)}`,
  );
  const [sets, hw] = support.shape;
  const k = centres.shape[1];
  checkK(op, k);
  check(
    centres.shape[0] === sets && count.shape[0] === sets,
    `${op}: centres ${shapeStr(centres.shape)} and count ${shapeStr(count.shape)} must have ${sets} sets like support ${shapeStr(support.shape)}`,
  );
  check(
    Number.isInteger(setsPerFrame) && setsPerFrame >= 1 && sets % setsPerFrame === 0,
    `${op}: ${sets} sets are not a whole number of frames of ${setsPerFrame}`,
  );
  check(
    (sets / setsPerFrame) * hw <= rows,
    `${op}: ${sets / setsPerFrame} frames of ${hw} cells need ${(sets / setsPerFrame) * hw} feature rows, features ${shapeStr(feats.shape)} have ${rows}`,
  );
  check(c >= 1, `${op}: features have no channels`);
  const assign = rt.empty([sets, hw], 'i32', 'rpg.assign');
  if (sets * hw === 0) return assign;
  const kp = k <= 4 ? 4 : 8;
  const cnorm = rt.empty([sets, c, kp], 'f32', 'rpg.cnorm');
  rt.kernel('rpg').run({
    defines: { CNORM: 1 },
    constants: { WG },
    bindings: { feats, centres, count, cnorm },
    params: { sets, hw, k, kp, g: setsPerFrame, c },
    groups: rt.groups1d(sets * kp, WG),
    label: 'rpg.cnorm',
  });
  rt.kernel('rpg').run({
    defines: { ASSIGN: 1, K8: kp === 8 ? 1 : 0 },
    constants: { WG },
    bindings: { feats, support, cnorm, count, assign },
    params: { sets, hw, k, g: setsPerFrame, c, thresh: opts.thresh ?? 0.5 },
    groups: rt.groups1d(sets * hw, WG),
    label: 'rpg.assign',
  });
  cnorm.dispose();
  return assign;
}

/** Cluster means of the raw features: protos [S, k, C] f32 (empty cluster: its centre's feature), counts [S, k] i32. */
export function rpgPrototypes(
  rt: Runtime,
  feats: Tensor,
  assign: Tensor,
  centres: Tensor,
  setsPerFrame: number,
): { protos: Tensor; counts: Tensor } {
  const op = 'rpgPrototypes';
  const { rows, c } = featRows(op, feats);
  checkDtype(op, assign, 'i32', 'assign');
  checkDtype(op, centres, 'i32', 'centres');
  check(
    assign.rank === 2 && centres.rank === 2 && centres.shape[0] === assign.shape[0],
    `${op}: assign [S, hw] and centres [S, k] expected, got ${shapeStr(assign.shape)}, ${shapeStr(centres.shape)}`,
  );
  const [sets, hw] = assign.shape;
  const k = centres.shape[1];
  checkK(op, k);
  check(
    Number.isInteger(setsPerFrame) && setsPerFrame >= 1 && sets % setsPerFrame === 0,
    `${op}: ${sets} sets are not a whole number of frames of ${setsPerFrame}`,
  );
  check(
    (sets / setsPerFrame) * hw <= rows,
    `${op}: features ${shapeStr(feats.shape)} have fewer than ${(sets / setsPerFrame) * hw} rows`,
  );
  const protos = rt.empty([sets, k, c], 'f32', 'rpg.protos');
  const counts = rt.empty([sets, k], 'i32', 'rpg.counts');
  if (sets * c === 0) return { protos, counts };
  const c4 = Math.ceil(c / 4);
  rt.kernel('rpg').run({
    defines: { PROTO: 1 },
    constants: { WG },
    bindings: { feats, assign, centres, protos, counts },
    params: { sets, hw, k, g: setsPerFrame, c, c4 },
    groups: rt.groups1d(sets * c4, WG),
    label: 'rpg.proto',
  });
  return { protos, counts };
}

/** Region supports [F*R, hw] f32 0/1 from the foreground, the macro assignment and macro cluster counts. */
export function rpgRegionSupport(
  rt: Runtime,
  fg: Tensor,
  macroAssign: Tensor,
  macroCounts: Tensor,
  opts: { thresh?: number } = {},
): Tensor {
  const op = 'rpgRegionSupport';
  checkDtype(op, fg, 'f32', 'fg');
  checkDtype(op, macroAssign, 'i32', 'macro assign');
  checkDtype(op, macroCounts, 'i32', 'macro counts');
  check(
    fg.rank === 2 && macroAssign.rank === 2 && macroCounts.rank === 2,
    `${op}: fg [F, hw], assign [F, hw], counts [F, R] expected, got ${shapeStr(fg.shape)}, ${shapeStr(macroAssign.shape)}, ${shapeStr(macroCounts.shape)}`,
  );
  const [frames, hw] = fg.shape;
  const regions = macroCounts.shape[1];
  check(
    macroAssign.shape[0] === frames && macroAssign.shape[1] === hw && macroCounts.shape[0] === frames,
    `${op}: assign ${shapeStr(macroAssign.shape)} / counts ${shapeStr(macroCounts.shape)} do not match fg ${shapeStr(fg.shape)}`,
  );
  const support = rt.empty([frames * regions, hw], 'f32', 'rpg.region_support');
  if (support.size === 0) return support;
  rt.kernel('rpg').run({
    defines: { SUPPORT: 1 },
    constants: { WG },
    bindings: { fg, massign: macroAssign, mcounts: macroCounts, support },
    params: { frames, regions, hw, thresh: opts.thresh ?? 0.5 },
    groups: rt.groups1d(support.size, WG),
    label: 'rpg.support',
  });
  return support;
}

/** rpgTokens and its backward: protos [F*R, k, C] of F frames x R regions, frameCount [F]. */
function tokenShape(op: string, protos: Tensor, frameCount: Tensor, regions: number) {
  check(
    protos.rank === 3 && frameCount.rank === 1,
    `${op}: protos [F*R, k, C] and frameCount [F] expected, got ${shapeStr(protos.shape)}, ${shapeStr(frameCount.shape)}`,
  );
  const [fr, k, c] = protos.shape;
  const frames = frameCount.shape[0];
  check(
    Number.isInteger(regions) && regions >= 1 && fr === frames * regions,
    `${op}: protos ${shapeStr(protos.shape)} must hold ${frames} frames x ${regions} regions`,
  );
  return { fr, k, c, frames };
}

/**
 * Object tokens [1, F*R, k*C]: token f*R + r = concat_j normalize(protos[f*R + r, j]), or the
 * placeholder [1, k*C] for every token of a frame whose frameCount (macro support size) is 0.
 */
export function rpgTokens(
  rt: Runtime,
  protos: Tensor,
  frameCount: Tensor,
  placeholder: Tensor,
  regions: number,
): Tensor {
  const op = 'rpgTokens';
  checkDtype(op, protos, 'f32', 'protos');
  checkDtype(op, frameCount, 'i32', 'frame count');
  checkDtype(op, placeholder, 'f32', 'placeholder');
  const { fr, k, c, frames } = tokenShape(op, protos, frameCount, regions);
  check(
    placeholder.size === k * c,
    `${op}: placeholder ${shapeStr(placeholder.shape)} must have ${k}x${c} = ${k * c} values`,
  );
  const tokens = rt.empty([1, fr, k * c], 'f32', 'rpg.tokens');
  if (fr * k === 0) return tokens;
  rt.kernel('rpg').run({
    defines: { TOKENS: 1 },
    constants: { WG },
    bindings: { protos, fcount: frameCount, placeholder, tokens },
    params: { frames, regions, k, c },
    groups: rt.groups1d(fr * k, WG),
    label: 'rpg.tokens',
  });
  return tokens;
}

export interface RpgOptions {
  /** Token grid [gh, gw] of one memory frame. */
  grid: readonly [number, number];
  /** Macro regions R (object tokens per frame). Default 3. */
  regions?: number;
  /** Micro clusters S per region. Default 4. */
  micro?: number;
  /** Foreground threshold on fg (>=). Default 0.5. */
  thresh?: number;
  /** FPS kernel variant (default by adapter). */
  fpsVariant?: RpgFpsVariant;
}

/** Every stage output of one RPG call (tests, debugging). Integer tensors are i32. */
export interface RpgIntermediates {
  macroCentres: Tensor; // [F, R]
  macroCount: Tensor; // [F]  foreground cells per frame
  macroAssign: Tensor; // [F, hw]
  macroProtos: Tensor; // [F, R, C]
  macroCounts: Tensor; // [F, R]
  regionSupport: Tensor; // [F*R, hw] 0/1
  microCentres: Tensor; // [F*R, S]
  microCount: Tensor; // [F*R]
  microAssign: Tensor; // [F*R, hw]
  microProtos: Tensor; // [F*R, S, C]
  microCounts: Tensor; // [F*R, S]  cells per micro cluster
}

// ------------------------------------------------------------------------------------- backward

/**
 * Backward of rpgTokens w.r.t. the prototypes: d protos [F*R, k, C] from d tokens (k*C values per
 * token, e.g. [1, F*R, k*C]) through F.normalize (eps 1e-12: the norm's gradient only where
 * |proto| >= eps); zeros for the prototypes of frames whose frameCount is 0 (placeholder tokens).
 */
export function rpgTokensBackward(
  rt: Runtime,
  protos: Tensor,
  frameCount: Tensor,
  dtokens: Tensor,
  regions: number,
): Tensor {
  const op = 'rpgTokensBackward';
  checkDtype(op, protos, 'f32', 'protos');
  checkDtype(op, frameCount, 'i32', 'frame count');
  checkDtype(op, dtokens, 'f32', 'token gradient');
  const { fr, k, c, frames } = tokenShape(op, protos, frameCount, regions);
  check(
    dtokens.size === protos.size,
    `${op}: token gradient ${shapeStr(dtokens.shape)} must have ${fr} x ${k * c} = ${protos.size} values like the tokens`,
  );
  const dprotos = rt.empty([fr, k, c], 'f32', 'rpg.dprotos');
  if (protos.size === 0) return dprotos;
  rt.kernel('rpg').run({
    defines: { TOKENS_BWD: 1 },
    constants: { WG },
    bindings: { dtokens, protos, fcount: frameCount, dprotos },
    params: { frames, regions, k, c, eps: NORM_EPS },
    groups: rt.groups1d(fr * k, WG),
    label: 'rpg.tokens_backward',
  });
  return dprotos;
}

/**
 * Backward of rpgPrototypes w.r.t. the features: d feats with shape `featShape` ([M, C] or [1, M, C])
 * from d protos [S, k, C], given that call's assign [S, hw], centres [S, k] and counts [S, k]. A
 * cluster mean passes d proto / count to each assigned cell; an empty cluster passes d proto to its
 * centre cell (none for centre -1). Rows past the sets' frames (object pointers) get 0.
 */
export function rpgPrototypesBackward(
  rt: Runtime,
  featShape: readonly number[],
  assign: Tensor,
  centres: Tensor,
  counts: Tensor,
  dprotos: Tensor,
  setsPerFrame: number,
): Tensor {
  const op = 'rpgPrototypesBackward';
  checkDtype(op, assign, 'i32', 'assign');
  checkDtype(op, centres, 'i32', 'centres');
  checkDtype(op, counts, 'i32', 'counts');
  checkDtype(op, dprotos, 'f32', 'prototype gradient');
  const rank = featShape.length;
  check(
    (rank === 2 || (rank === 3 && featShape[0] === 1)) && featShape.every((d) => Number.isInteger(d) && d >= 0),
    `${op}: features must be [M, C] or [1, M, C], got ${shapeStr(featShape)}`,
  );
  const rows = featShape[rank - 2];
  const c = featShape[rank - 1];
  check(
    assign.rank === 2 && centres.rank === 2 && counts.rank === 2 && dprotos.rank === 3,
    `${op}: assign [S, hw], centres [S, k], counts [S, k], d protos [S, k, C] expected, got ${shapeStr(assign.shape)}, ${shapeStr(centres.shape)}, ${shapeStr(counts.shape)}, ${shapeStr(dprotos.shape)}`,
  );
  const [sets, hw] = assign.shape;
  const k = centres.shape[1];
  checkK(op, k);
  check(
    centres.shape[0] === sets &&
      counts.shape.join() === centres.shape.join() &&
      dprotos.shape.join() === [sets, k, c].join(),
    `${op}: centres ${shapeStr(centres.shape)}, counts ${shapeStr(counts.shape)} and d protos ${shapeStr(dprotos.shape)} must be [${sets}, ${k}] / [${sets}, ${k}, ${c}] for assign ${shapeStr(assign.shape)} and ${c} channels`,
  );
  check(
    Number.isInteger(setsPerFrame) && setsPerFrame >= 1 && sets % setsPerFrame === 0,
    `${op}: ${sets} sets are not a whole number of frames of ${setsPerFrame}`,
  );
  const frames = sets / setsPerFrame;
  check(
    frames * hw <= rows,
    `${op}: ${frames} frames of ${hw} cells need ${frames * hw} feature rows, features ${shapeStr(featShape)} have ${rows}`,
  );
  if (sets === 0 || hw === 0) return rt.zeros(featShape, 'f32', 'rpg.dfeats');
  const dfeats = rt.empty(featShape, 'f32', 'rpg.dfeats');
  if (dfeats.size === 0) return dfeats;
  const c4 = Math.ceil(c / 4);
  rt.kernel('rpg').run({
    defines: { PROTO_BWD: 1 },
    constants: { WG },
    bindings: { assign, centres, counts, dprotos, dfeats },
    params: { rows, frames, hw, k, g: setsPerFrame, c, c4 },
    groups: rt.groups1d(rows * c4, WG),
    label: 'rpg.proto_backward',
  });
  return dfeats;
}

/**
 * d placeholder (shape `placeholderShape`, d = its size values) from d tokens [1, F*R, d]: the sum of
 * the gradients of every token of every frame whose frameCount is 0 (they all are the placeholder).
 */
export function rpgPlaceholderBackward(
  rt: Runtime,
  frameCount: Tensor,
  dtokens: Tensor,
  regions: number,
  placeholderShape: readonly number[],
): Tensor {
  const op = 'rpgPlaceholderBackward';
  checkDtype(op, frameCount, 'i32', 'frame count');
  checkDtype(op, dtokens, 'f32', 'token gradient');
  check(
    frameCount.rank === 1 && Number.isInteger(regions) && regions >= 1,
    `${op}: frameCount [F] and regions >= 1 expected, got ${shapeStr(frameCount.shape)}, ${regions}`,
  );
  const frames = frameCount.shape[0];
  const d = placeholderShape.reduce((a, b) => a * b, 1);
  check(
    dtokens.size === frames * regions * d,
    `${op}: token gradient ${shapeStr(dtokens.shape)} must have ${frames} x ${regions} x ${d} values`,
  );
  if (d === 0 || frames === 0) return rt.zeros(placeholderShape, 'f32', 'rpg.dplaceholder');
  const dplaceholder = rt.empty(placeholderShape, 'f32', 'rpg.dplaceholder');
  rt.kernel('rpg').run({
    defines: { PLACEHOLDER_BWD: 1 },
    constants: { WG },
    bindings: { dtokens, fcount: frameCount, dplaceholder },
    params: { frames, regions, d },
    groups: rt.groups1d(d, WG),
    label: 'rpg.placeholder_backward',
  });
  return dplaceholder;
}

const needsGrad = (t: Tensor) => t.requiresGrad || t.gradFn !== null;

/** What the backward of rpgObjectTokens needs (the micro level and the frame foreground counts). */
interface RpgSaved {
  microAssign: Tensor;
  microCentres: Tensor;
  microCounts: Tensor;
  microProtos: Tensor;
  macroCount: Tensor;
}

function recordObjectTokens(
  rt: Runtime,
  feats: Tensor,
  placeholder: Tensor,
  tokens: Tensor,
  sv: RpgSaved,
  R: number,
): void {
  rt.tape!.record({
    op: 'rpg_object_tokens',
    inputs: [feats, placeholder],
    outputs: [tokens],
    saved: Object.values(sv),
    backward: ([dt]) => {
      if (!dt) return [null, null];
      let dfeats: Tensor | null = null;
      if (needsGrad(feats)) {
        const dprotos = rpgTokensBackward(rt, sv.microProtos, sv.macroCount, dt, R);
        dfeats = rpgPrototypesBackward(rt, feats.shape, sv.microAssign, sv.microCentres, sv.microCounts, dprotos, R);
        dprotos.dispose();
      }
      const dplaceholder = needsGrad(placeholder)
        ? rpgPlaceholderBackward(rt, sv.macroCount, dt, R, placeholder.shape)
        : null;
      return [dfeats, dplaceholder];
    },
  });
}

/**
 * The RPG object tokens of `frames` memory frames: [1, frames*R, S*C]. feats: memory features
 * [M, C] / [1, M, C] (frames*hw spatial rows first); fg [frames, hw]; placeholder: the learned
 * no-memory token [1, S*C] (used for frames without foreground). With `keep`, the intermediates are
 * returned too (otherwise they are disposed).
 *
 * While `rt.tape` records and feats or placeholder need gradients, one node (inputs [feats,
 * placeholder], output tokens) is recorded; the tape keeps views of the micro level and the frame
 * counts until it is disposed (independent of the returned stages). fg gets no gradient.
 */
export function rpgObjectTokens(
  rt: Runtime,
  feats: Tensor,
  fg: Tensor,
  placeholder: Tensor,
  opts: RpgOptions & { keep?: boolean },
): { tokens: Tensor; stages: RpgIntermediates | null } {
  const op = 'rpgObjectTokens';
  const R = opts.regions ?? 3;
  const S = opts.micro ?? 4;
  const thresh = opts.thresh ?? 0.5;
  checkGrid(op, opts.grid);
  const hw = opts.grid[0] * opts.grid[1];
  checkDtype(op, fg, 'f32', 'fg');
  check(fg.rank === 2 && fg.shape[1] === hw, `${op}: fg must be [frames, ${hw}], got ${shapeStr(fg.shape)}`);
  const { rows, c } = featRows(op, feats);
  const frames = fg.shape[0];
  check(
    frames * hw <= rows,
    `${op}: ${frames} frames of ${hw} cells need ${frames * hw} feature rows, features ${shapeStr(feats.shape)} have ${rows}`,
  );
  check(
    placeholder.size === S * c,
    `${op}: placeholder ${shapeStr(placeholder.shape)} must have ${S} x ${c} = ${S * c} values`,
  );
  checkDtype(op, placeholder, 'f32', 'placeholder');
  const mac = rpgFps(rt, fg, opts.grid, R, { thresh, variant: opts.fpsVariant });
  const macroAssign = rpgAssign(rt, feats, fg, mac.centres, mac.count, 1, { thresh });
  const macP = rpgPrototypes(rt, feats, macroAssign, mac.centres, 1);
  const regionSupport = rpgRegionSupport(rt, fg, macroAssign, macP.counts, { thresh });
  const mic = rpgFps(rt, regionSupport, opts.grid, S, { thresh: 0.5, variant: opts.fpsVariant });
  const microAssign = rpgAssign(rt, feats, regionSupport, mic.centres, mic.count, R, { thresh: 0.5 });
  const micP = rpgPrototypes(rt, feats, microAssign, mic.centres, R);
  const tokens = rpgTokens(rt, micP.protos, mac.count, placeholder, R);
  const stages: RpgIntermediates = {
    macroCentres: mac.centres,
    macroCount: mac.count,
    macroAssign,
    macroProtos: macP.protos,
    macroCounts: macP.counts,
    regionSupport,
    microCentres: mic.centres,
    microCount: mic.count,
    microAssign,
    microProtos: micP.protos,
    microCounts: micP.counts,
  };
  if (rt.tape?.wants([feats, placeholder])) {
    // The tape holds views of its own (same buffers): the stages stay the caller's (keep) or are
    // disposed below either way. Each view's own reference is dropped after recording (the tape
    // retained the buffer), and views leave every scope so only Tape.dispose releases them.
    const view = (t: Tensor) => t.reshape(t.shape);
    const saved: RpgSaved = {
      microAssign: view(microAssign),
      microCentres: view(mic.centres),
      microCounts: view(micP.counts),
      microProtos: view(micP.protos),
      macroCount: view(mac.count),
    };
    recordObjectTokens(rt, feats, placeholder, tokens, saved, R);
    for (const t of Object.values(saved)) untrack(t).storage.release();
  }
  if (opts.keep) return { tokens, stages };
  for (const t of Object.values(stages)) t.dispose();
  return { tokens, stages: null };
}
