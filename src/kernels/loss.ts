// Wrapper for shaders/loss.wgsl: the training losses of SAM 2 (training/loss_fns.py) and RobotSeg
// (train/loss_fns_let.py) as GPU kernels, each recording its backward on the autograd tape.
//
// Row losses take "masks": x viewed as [M, N] rows of N pixels, by rank:
//   rank 1 [N] -> M = 1, output [1];   rank 2 [M, N] -> output [M];
//   rank >= 3 [..., H, W] -> N = H*W, M = the leading dims, output = the leading dims
//   (so [B, K, H, W] logits give [B, K] per-mask losses, like SAM's loss.flatten(2).mean(-1)).
// The target has N elements (shared by every row) or M*N (one per row), any shape, f32.
// Reductions over N are a barrier-free two-pass sum (see the shader header), accumulated in f32.
// Per-object normalisation (SAM's `/ num_objects`) is left to the caller.
//
// Sources of the exact semantics:
//   sigmoidFocalLoss  SAM 2 sigmoid_focal_loss(loss_on_multimask=True); BCE-with-logits in the stable
//                     form max(x,0) - x t + log1p(exp(-|x|)) (torch's binary_cross_entropy_with_logits).
//   diceLoss          SAM 2 dice_loss: 1 - (2 sum(s t) + 1) / (sum s + sum t + 1), s = sigmoid(x).
//   maskIoU           SAM 2 iou_loss's actual IoU: |x>0 & t>0| / max(|x>0 | t>0|, 1) (no gradient).
//   softIoULoss       RobotSeg patch_consistency_loss: 1 - (sum p t + eps) / (sum(p + t - p t) + eps).
//   l1Loss / mseLoss  F.l1_loss / F.mse_loss, reduction 'mean', gradient for both operands.
//   l2Normalize       F.normalize(x, dim=-1): x / max(||x||, eps); clamp_min passes the gradient
//                     through the norm where ||x|| >= eps.
//   cosineSimilarity  F.cosine_similarity(a, b, dim=-1) as in torch 1.12-2.0 (ATen Distance.cpp after
//                     pytorch#31378): each input is divided by sqrt(clamp_min(sum x^2, eps^2)), the clamp
//                     under no_grad, then the products are summed. So the forward is
//                     sum (a/na)(b/nb) with na = max(||a||, eps), and the gradient is
//                     b/(na nb) - cos a/na^2 even where the clamp is active. torch >= 2.1 (pytorch#104771)
//                     has the same forward; below eps its gradient uses a/||a|| instead.
//   structureTarget   RobotSeg loss_fns_let.py (zubair-irshad/RobotSeg @ 4a8b3a92):
//                       structure_true = torch.abs(KF.laplacian(target_masks, kernel_size=3))
//                       structure_true = structure_true / (structure_true.amax(dim=[2, 3], keepdim=True) + 1e-6)
//                     kornia.filters.laplacian(input, 3) defaults: border_type 'reflect', normalized=True,
//                     kernel get_laplacian_kernel2d(3) = [[1,1,1],[1,-8,1],[1,1,1]] divided by its L1
//                     norm 16. An empty mask gives 0 / (0 + 1e-6) = 0 everywhere.

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';

const WG = 64;
/** Pixels per partial sum in the first pass (before the cap on partials per row). */
const PIXELS_PER_PART = 128;
/** At most this many partials per row: the FINISH pass sums them sequentially. */
const MAX_PARTS = 1024;

type RowOp = 'focal' | 'dice' | 'mask_iou' | 'soft_iou' | 'l1' | 'mse';

interface RowParams {
  alpha: number;
  gamma: number;
  smooth: number;
}

/** Rows (M), row length (N) and the per-row output shape of a mask tensor. */
export function maskRows(x: Tensor, what: string): { m: number; n: number; outShape: number[] } {
  const s = x.shape;
  if (s.length === 0) throw new Error(`${what}: expects a tensor of rank >= 1, got a scalar`);
  if (s.length === 1) return { m: 1, n: s[0], outShape: [1] };
  if (s.length === 2) return { m: s[0], n: s[1], outShape: [s[0]] };
  const lead = s.slice(0, -2);
  return { m: lead.reduce((a, d) => a * d, 1), n: s[s.length - 2] * s[s.length - 1], outShape: lead };
}

function partsFor(n: number): number {
  return Math.max(1, Math.min(MAX_PARTS, Math.ceil(n / PIXELS_PER_PART)));
}

function checkF32(what: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new Error(`${what}: expects f32 tensors, got ${t.dtype} for ${t}`);
}

/** Target stride per row: 0 when one target is shared by all rows, N when there is one per row. */
function targetStride(what: string, x: Tensor, t: Tensor, m: number, n: number): number {
  if (t.size === n) return 0;
  if (t.size === m * n) return n;
  throw new Error(
    `${what}: target ${shapeStr(t.shape)} has ${t.size} elements; input ${shapeStr(x.shape)} needs ${n} (one mask for all ${m} rows) or ${m * n} (one per row)`,
  );
}

interface RowResult {
  loss: Tensor;
  stats: Tensor;
  m: number;
  n: number;
  tStride: number;
}

/** Forward of a row loss: PARTIAL + FINISH. Returns the loss and the per-row sums (stats, [M, 4]). */
function rowForward(rt: Runtime, op: RowOp, x: Tensor, t: Tensor, p: RowParams): RowResult {
  checkF32(op, x, t);
  const { m, n, outShape } = op === 'l1' || op === 'mse' ? { m: 1, n: x.size, outShape: [1] } : maskRows(x, op);
  if (n === 0) throw new Error(`${op}: input ${shapeStr(x.shape)} has no elements per row`);
  const tStride = targetStride(op, x, t, m, n);
  const loss = rt.empty(outShape, 'f32', op);
  const stats = rt.empty([m, 4], 'f32', `${op}.stats`);
  if (m === 0) return { loss, stats, m, n, tStride };
  const parts = partsFor(n);
  const partial = rt.empty([m * parts, 4], 'f32', `${op}.partial`);
  const defines = { ROWLOSS: 1, [op.toUpperCase()]: 1 };
  rt.kernel('loss').run({
    defines: { ...defines, PARTIAL: 1 },
    constants: { WG },
    bindings: { x, t, partial },
    params: { m, n, parts, t_stride: tStride, alpha: p.alpha, gamma: p.gamma },
    groups: rt.groups1d(m * parts, WG),
    label: `loss.${op}.partial`,
  });
  rt.kernel('loss').run({
    defines: { ...defines, FINISH: 1 },
    constants: { WG },
    bindings: { partial, stats, loss },
    params: { m, n, parts, smoothing: p.smooth },
    groups: rt.groups1d(m, WG),
    label: `loss.${op}.finish`,
  });
  partial.dispose();
  return { loss, stats, m, n, tStride };
}

/** d loss / d x (and d loss / d t for l1 / mse) given d(objective) / d loss [M]. */
function rowBackward(
  rt: Runtime,
  op: RowOp,
  x: Tensor,
  t: Tensor,
  r: Omit<RowResult, 'loss'>,
  dloss: Tensor,
  p: RowParams,
): [Tensor, Tensor | null] {
  if (dloss.size !== r.m) throw new Error(`${op} backward: gradient has ${dloss.size} elements, the loss has ${r.m}`);
  const two = op === 'l1' || op === 'mse';
  const dx = rt.empty(x.shape, 'f32', `${op}_backward.dx`);
  const dt = two ? rt.empty(t.shape, 'f32', `${op}_backward.dt`) : null;
  if (r.m * r.n > 0) {
    rt.kernel('loss').run({
      defines: { ROWLOSS: 1, BACKWARD: 1, [op.toUpperCase()]: 1, ...(two ? { TWO_GRADS: 1 } : {}) },
      constants: { WG },
      bindings: { x, t, stats: r.stats, dloss, dx, ...(dt ? { dt } : {}) },
      params: { m: r.m, n: r.n, t_stride: r.tStride, alpha: p.alpha, gamma: p.gamma, smoothing: p.smooth },
      groups: rt.groups1d(r.m * r.n, WG),
      label: `loss.${op}.backward`,
    });
  }
  return [dx, dt];
}

/** Forward + tape record (x and, for l1 / mse, t get gradients; targets of the mask losses are constants). */
function rowLoss(rt: Runtime, op: RowOp, x: Tensor, t: Tensor, p: RowParams): Tensor {
  const r = rowForward(rt, op, x, t, p);
  if (op !== 'mask_iou' && rt.tape?.wants([x, t])) {
    rt.tape.record({
      op: `loss_${op}`,
      inputs: [x, t],
      outputs: [r.loss],
      saved: [x, t, r.stats],
      backward: ([dl]) => (dl ? rowBackward(rt, op, x, t, r, dl, p) : [null, null]),
    });
    // Only the tape holds stats now (released by Tape.dispose); out of every scope so nothing
    // disposes it a second time.
    untrack(r.stats).storage.release();
  } else r.stats.dispose();
  return r.loss;
}

export interface FocalOptions {
  /** Weight of the positive class; negative = no alpha weighting (SAM 2: 0.25; object score: -1). */
  alpha?: number;
  /** Focusing exponent (SAM 2: 2; object score: 0). */
  gamma?: number;
}

/**
 * Per-mask sigmoid focal loss: mean over the N pixels of a_t * BCEwithlogits(x, t) * (1 - p_t)^gamma.
 * logits [M, N] (or see maskRows), target [N] or [M, N] -> [M]. Gradient w.r.t. logits.
 */
export function sigmoidFocalLoss(rt: Runtime, logits: Tensor, target: Tensor, opts: FocalOptions = {}): Tensor {
  const alpha = opts.alpha ?? 0.25;
  const gamma = opts.gamma ?? 2;
  if (!(gamma >= 0)) throw new Error(`sigmoidFocalLoss: gamma must be >= 0, got ${gamma}`);
  if (alpha > 1) throw new Error(`sigmoidFocalLoss: alpha must be <= 1 (or negative for none), got ${alpha}`);
  return rowLoss(rt, 'focal', logits, target, { alpha, gamma, smooth: 0 });
}

/** Mean binary cross-entropy with logits per row (= focal loss with gamma 0, no alpha): the object-score loss. */
export function bceWithLogits(rt: Runtime, logits: Tensor, target: Tensor): Tensor {
  return sigmoidFocalLoss(rt, logits, target, { alpha: -1, gamma: 0 });
}

/** Per-mask dice loss 1 - (2 sum(s t) + smooth) / (sum s + sum t + smooth), s = sigmoid(logits) -> [M]. */
export function diceLoss(rt: Runtime, logits: Tensor, target: Tensor, opts: { smooth?: number } = {}): Tensor {
  return rowLoss(rt, 'dice', logits, target, { alpha: 0, gamma: 0, smooth: opts.smooth ?? 1 });
}

/** Per-mask IoU of (logits > 0) with (target > 0), 0 for two empty masks -> [M]. No gradient. */
export function maskIoU(rt: Runtime, logits: Tensor, target: Tensor): Tensor {
  return rowLoss(rt, 'mask_iou', logits, target, { alpha: 0, gamma: 0, smooth: 0 });
}

/** Soft IoU loss 1 - (sum p t + eps) / (sum(p + t - p t) + eps) per row -> [M]; gradient w.r.t. p only. */
export function softIoULoss(rt: Runtime, p: Tensor, t: Tensor, eps = 1e-6): Tensor {
  return rowLoss(rt, 'soft_iou', p, t, { alpha: 0, gamma: 0, smooth: eps });
}

function checkPair(what: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size)
    throw new Error(`${what}: operands ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ in size`);
}

/** mean |a - b| -> [1], gradient w.r.t. both. */
export function l1Loss(rt: Runtime, a: Tensor, b: Tensor): Tensor {
  checkPair('l1Loss', a, b);
  return rowLoss(rt, 'l1', a, b, { alpha: 0, gamma: 0, smooth: 0 });
}

/** mean (a - b)^2 -> [1], gradient w.r.t. both. */
export function mseLoss(rt: Runtime, a: Tensor, b: Tensor): Tensor {
  checkPair('mseLoss', a, b);
  return rowLoss(rt, 'mse', a, b, { alpha: 0, gamma: 0, smooth: 0 });
}

// ------------------------------------------------------------------------------ feature ops

function lastDimRows(what: string, x: Tensor): { rows: number; c: number } {
  if (x.rank < 1) throw new Error(`${what}: expects rank >= 1, got a scalar`);
  const c = x.shape[x.rank - 1];
  if (c === 0) throw new Error(`${what}: last dim of ${shapeStr(x.shape)} is empty`);
  return { rows: x.size / c, c };
}

/** F.normalize(x, dim=-1, eps): x / max(||x||, eps) over the last dim. */
export function l2Normalize(rt: Runtime, x: Tensor, eps = 1e-12): Tensor {
  checkF32('l2Normalize', x);
  const { rows, c } = lastDimRows('l2Normalize', x);
  const y = rt.empty(x.shape, 'f32', 'l2_normalize');
  if (rows > 0) {
    rt.kernel('loss').run({
      defines: { NORMALIZE: 1 },
      constants: { WG },
      bindings: { x, y },
      params: { rows, c, eps },
      groups: rt.groups1d(rows, WG),
      label: 'loss.l2_normalize',
    });
  }
  if (rt.tape?.wants([x])) {
    rt.tape.record({
      op: 'l2_normalize',
      inputs: [x],
      outputs: [y],
      saved: [x],
      backward: ([dy]) => [dy ? l2NormalizeBackward(rt, x, dy, eps) : null],
    });
  }
  return y;
}

export function l2NormalizeBackward(rt: Runtime, x: Tensor, dy: Tensor, eps = 1e-12): Tensor {
  checkF32('l2NormalizeBackward', x, dy);
  if (dy.size !== x.size) throw new Error(`l2NormalizeBackward: dy ${shapeStr(dy.shape)} vs x ${shapeStr(x.shape)}`);
  const { rows, c } = lastDimRows('l2NormalizeBackward', x);
  const dx = rt.empty(x.shape, 'f32', 'l2_normalize_backward');
  if (rows > 0) {
    rt.kernel('loss').run({
      defines: { NORMALIZE: 1, GRAD: 1 },
      constants: { WG },
      bindings: { x, dy, dx },
      params: { rows, c, eps },
      groups: rt.groups1d(rows, WG),
      label: 'loss.l2_normalize.backward',
    });
  }
  return dx;
}

/** F.cosine_similarity(a, b, dim=-1, eps) (torch 1.13 semantics, see the header): [..., C] -> [...]. */
export function cosineSimilarity(rt: Runtime, a: Tensor, b: Tensor, eps = 1e-8): Tensor {
  checkF32('cosineSimilarity', a, b);
  if (a.shape.join() !== b.shape.join())
    throw new Error(`cosineSimilarity: a ${shapeStr(a.shape)} and b ${shapeStr(b.shape)} must have the same shape`);
  const { rows, c } = lastDimRows('cosineSimilarity', a);
  const outShape = a.rank === 1 ? [1] : a.shape.slice(0, -1);
  const y = rt.empty(outShape, 'f32', 'cosine_similarity');
  if (rows > 0) {
    rt.kernel('loss').run({
      defines: { COSINE: 1 },
      constants: { WG },
      bindings: { a, b, y },
      params: { rows, c, eps2: eps * eps },
      groups: rt.groups1d(rows, WG),
      label: 'loss.cosine',
    });
  }
  if (rt.tape?.wants([a, b])) {
    rt.tape.record({
      op: 'cosine_similarity',
      inputs: [a, b],
      outputs: [y],
      saved: [a, b],
      backward: ([dy]) => (dy ? cosineSimilarityBackward(rt, a, b, dy, eps) : [null, null]),
    });
  }
  return y;
}

export function cosineSimilarityBackward(rt: Runtime, a: Tensor, b: Tensor, dy: Tensor, eps = 1e-8): [Tensor, Tensor] {
  checkF32('cosineSimilarityBackward', a, b, dy);
  const { rows, c } = lastDimRows('cosineSimilarityBackward', a);
  if (dy.size !== rows) throw new Error(`cosineSimilarityBackward: dy has ${dy.size} elements, expected ${rows}`);
  const da = rt.empty(a.shape, 'f32', 'cosine_backward.da');
  const db = rt.empty(b.shape, 'f32', 'cosine_backward.db');
  if (rows > 0) {
    rt.kernel('loss').run({
      defines: { COSINE: 1, GRAD: 1 },
      constants: { WG },
      bindings: { a, b, dy, da, db },
      params: { rows, c, eps2: eps * eps },
      groups: rt.groups1d(rows, WG),
      label: 'loss.cosine.backward',
    });
  }
  return [da, db];
}

// ------------------------------------------------------------------------------ structure target

/**
 * RobotSeg's structure-map target: |3x3 Laplacian| of the mask (kornia, reflect border, kernel / 16)
 * divided by (its per-plane max + 1e-6). mask [..., H, W] (e.g. [B, 1, H, W]), H, W >= 2 -> same shape.
 * No gradient (the target is a constant).
 */
export function structureTarget(rt: Runtime, mask: Tensor): Tensor {
  checkF32('structureTarget', mask);
  if (mask.rank < 2) throw new Error(`structureTarget: mask ${shapeStr(mask.shape)} needs rank >= 2 ([..., H, W])`);
  const h = mask.shape[mask.rank - 2];
  const w = mask.shape[mask.rank - 1];
  if (h < 2 || w < 2) throw new Error(`structureTarget: mask ${shapeStr(mask.shape)}: reflect padding needs H, W >= 2`);
  const planes = mask.size / (h * w);
  const y = rt.empty(mask.shape, 'f32', 'structure_target');
  if (planes === 0) return y;
  const parts = partsFor(h * w);
  const partial = rt.empty([planes * parts], 'f32', 'structure_target.partial');
  const mx = rt.empty([planes], 'f32', 'structure_target.max');
  const run = (stage: string, bindings: Record<string, Tensor>, params: Record<string, number>, n: number) =>
    rt.kernel('loss').run({
      defines: { STRUCT: 1, [stage]: 1 },
      constants: { WG },
      bindings,
      params,
      groups: rt.groups1d(n, WG),
      label: `loss.structure_target.${stage.toLowerCase()}`,
    });
  run('PARTIAL', { x: mask, partial }, { planes, h, w, parts }, planes * parts);
  run('FINISH', { partial, mx }, { planes, parts }, planes);
  run('APPLY', { x: mask, mx, y }, { planes, h, w }, planes * h * w);
  partial.dispose();
  mx.dispose();
  return y;
}
