// The training-mode tracking of a clip (SAM2Train.forward_tracking / track_step order), differentiable
// end to end: every step's decoder, object pointer and memory stay on the autograd tape, so the loss
// back-propagates through time across the memory bank (nothing detached). Training mode differs from
// the video predictor (golden/grad README, case 2): a prompted frame's memory mask is σ(logits) (not
// binarised), memories stay float32 (no bf16 rounding), no hole filling, no dynamic-stability fallback,
// all conditioning-frame pointers are used, dropout is 0 here (the engine has none).
// A cycle clip is a palindrome of source frames, e.g. [0, s, 2s, 3s, 2s, s, 0] (RobotSeg) or the
// golden's [0, 1, 2, 1, 0]: tracked forward as one ordinary video with one memory bank.
import type { Runtime } from '../graph/runtime.js';
import { adopt, type Tensor, untrack } from '../graph/tensor.js';
import { add, affine, unary } from '../kernels/elementwise.js';
import { slice } from '../kernels/layout.js';
import { resize } from '../kernels/resize.js';
import type { PointPrompt } from '../model/prompt_encoder.js';
import { RobotSeg } from '../model/robotseg.js';
import { RobotSegTracker } from '../model/robotseg_tracker.js';
import type { ImageFeatures, SAM2 } from '../model/sam2.js';
import { NO_OBJ_SCORE, type StoredFrame, type Tap, Tracker } from '../model/tracker.js';
import { errorClick } from './data.js';
import { decodeMasks } from './image_forward.js';

/** The prompt of the clip's first step: clicks / a box (as points) or a 0/1 mask [1, 1, S, S]. */
export type CyclePrompt = { kind: 'points'; points: PointPrompt } | { kind: 'mask'; mask: Tensor };

export interface CycleStep {
  /** Clip step and the source frame it shows. */
  step: number;
  source: number;
  /** Candidate logits [1, K, 4h, 4w] (K = 3 multimask outputs, 1 for a mask prompt), NO_OBJ applied. */
  lowRes: Tensor;
  /** The candidates bilinearly upsampled to the input size [1, K, S, S] (the losses' masks). */
  highRes: Tensor;
  /** Predicted IoU of the candidates [1, K] (ones for a mask prompt). */
  iou: Tensor;
  /** Object-score logit [1, 1]. */
  objectScore: Tensor;
  /** Host copies of the data-dependent choices. */
  iouHost: Float32Array;
  objectScoreHost: number;
  /** Index of the candidate with the highest predicted IoU (the tracker's choice). */
  best: number;
  /** Memory-conditioned features that entered the decoder [1, C, h, w]. */
  pixFeatWithMem: Tensor;
  /** Object pointer [1, C] and memory features [1, memDim, h, w] (float32) stored in the bank. */
  objPtr: Tensor;
  maskmem: Tensor;
  /** Number of memory tokens (spatial + pointer) the memory attention saw (0 on the first step). */
  memoryTokens: number;
  /** RobotSeg: the SEMA structure logits of every memory-attention layer, upsampled to [1, 1, S, S]. */
  structureLogits: Tensor[];
  /** The predictions before the final one (first step with correction clicks), all supervised. */
  earlier: StepPrediction[];
  /** The first step's clicks in network pixels after the corrections (x, y, label). */
  clicks?: PointPrompt;
}

export interface CycleOptions {
  /**
   * RobotSeg: the target category ('arm' | 'gripper' | 'robot') whose class token (and the RPG object
   * tokens) enter the decoder on every step (on the first too, except with a mask prompt). The RPG's
   * FPS / k-means choices are discrete and its object tokens carry no gradient back into the memory
   * features here (the learnable placeholder and class tokens do get gradients).
   */
  category?: string | null;
  /**
   * Correction clicks on a point-prompted first step (SAM2Train's iterative point sampling, RobotSeg
   * point mode: 3): each adds one click drawn uniformly from the error of the current mask against
   * `gt` (positive in a miss, negative in a false alarm; a background click when there is no error),
   * or, with probability `gtClickProb`, from the ground truth itself, then calls the decoder again with
   * all clicks and the previous low-res logits as mask prompt and no class / object tokens. Every
   * prediction is supervised; the last one goes to memory. Default 0.
   */
  corrections?: number;
  /** The first step's ground truth at the input size [S*S] (0/1), for the correction clicks. */
  gt?: Uint8Array;
  /** Probability of drawing a correction click from the ground truth instead of the error (RobotSeg 0.1). */
  gtClickProb?: number;
  /** Uniform generator for the correction clicks. */
  random?: () => number;
}

/** One supervised prediction of a step (its decoder call), for the multistep loss. */
export interface StepPrediction {
  lowRes: Tensor;
  highRes: Tensor;
  iou: Tensor;
  objectScore: Tensor;
}

/** _encode_new_memory in training mode: σ(high-res logits)·scale + bias (never binarised), float32. */
export function encodeMemoryTrain(
  rt: Runtime,
  model: SAM2,
  f: ImageFeatures,
  highRes: Tensor,
  objectPresent: boolean,
): Tensor {
  const base = model.cfg.base;
  const scaled = unary(rt, highRes, 'sigmoid');
  const mask = affine(rt, scaled, base.sigmoid_scale_for_mem_enc, base.sigmoid_bias_for_mem_enc);
  const feats = model.memory_encoder.forward(rt, f.visionFeats, mask); // [1, memDim, h, w]
  if (objectPresent) return feats;
  const d = feats.shape[1];
  return add(rt, feats, model.no_obj_embed_spatial.t.reshape([1, d, 1, 1])); // (1 - is_obj) * embed
}

/**
 * Track the clip. `frames[step]` are the features of the source frame shown at each step (the same
 * ImageFeatures object for repeated frames, so their gradients add up); `sources[step]` its index.
 * Step 0 is the initial conditioning frame with the prompt; the others have none (multimask, memory).
 */
export async function runCycle(
  rt: Runtime,
  model: SAM2,
  frames: ImageFeatures[],
  sources: number[],
  prompt: CyclePrompt,
  opts: CycleOptions = {},
): Promise<CycleStep[]> {
  if (frames.length !== sources.length || frames.length === 0)
    throw new Error(`runCycle: ${frames.length} frame features for ${sources.length} clip steps`);
  const category = opts.category ?? null;
  if (category !== null && !(model instanceof RobotSeg))
    throw new Error(`a robot target ('${category}') needs RobotSeg weights; this model is SAM 2.1 (${model.cfg.name})`);
  const tracker = model instanceof RobotSeg ? new RobotSegTracker(rt, model) : new Tracker(rt, model);
  const cond = new Map<number, StoredFrame>();
  const nonCond = new Map<number, StoredFrame>();
  const S = model.cfg.image_size;
  const out: CycleStep[] = [];
  const numFrames = frames.length;
  for (let t = 0; t < numFrames; t++) {
    const f = frames[t];
    const init = t === 0;
    let memoryTokens = 0;
    const structureLogits: Tensor[] = [];
    // the tap reports the assembled memory [1, M, memDim] (M = spatial + pointer tokens) and, for
    // RobotSeg, each layer's structure logits at the input size
    const tap: Tap = (name, x) => {
      if (name === 'memattn.memory_NxBxC') memoryTokens = x.shape[1];
      else if (/^memattn\.L\d+\.structure_map_up_logits$/.test(name)) structureLogits.push(untrack(x)); // outlives the inner scope
    };
    const maskPrompt = init && prompt.kind === 'mask';
    let pix: Tensor;
    let tokens: Tensor | undefined;
    if (category !== null && !maskPrompt && tracker instanceof RobotSegTracker) {
      const r = tracker.conditionRobot(t, init, f, { cond, nonCond }, numFrames, false, category, tap);
      pix = r.pix;
      tokens = r.tokens;
    } else if (init) pix = model.imageEmbedWithNoMem(rt, f);
    else pix = tracker.memoryConditioned(t, false, f, { cond, nonCond }, numFrames, false, tap);
    for (const l of structureLogits) adopt(l); // owned by the caller's scope from here
    const points = init && prompt.kind === 'points' && prompt.points.labels.length ? prompt.points : null;
    const multimask = useMultimask(model, init, points);
    let step = maskPrompt
      ? await maskAsOutput(rt, model, tracker, f, pix, (prompt as { mask: Tensor }).mask)
      : await samHeads(rt, model, tracker, f, pix, points, S, multimask, null, tokens);
    const earlier: StepPrediction[] = [];
    let clicks = points ?? undefined;
    if (init && points && (opts.corrections ?? 0) > 0) {
      if (!opts.gt || !opts.random)
        throw new Error('runCycle: correction clicks need the ground truth (gt) and a random generator');
      for (let k = 0; k < opts.corrections!; k++) {
        earlier.push({ lowRes: step.lowRes, highRes: step.highRes, iou: step.iou, objectScore: step.objectScore });
        const fromGt = opts.random() < (opts.gtClickProb ?? 0);
        const pred = fromGt ? null : Uint8Array.from(await rt.read(step.bestHigh), (v) => (v > 0 ? 1 : 0));
        const c = errorClick(opts.random, opts.gt, pred, S);
        clicks = {
          coords: Float32Array.from([...clicks!.coords, c.x, c.y]),
          labels: Int32Array.from([...clicks!.labels, c.label]),
        };
        // the previous low-res logits are the mask prompt (not detached); no class / object tokens
        step = await samHeads(rt, model, tracker, f, pix, clicks, S, useMultimask(model, true, clicks), step.bestLow);
      }
    }
    const maskmem = encodeMemoryTrain(rt, model, f, step.bestHigh, step.objectScoreHost > 0);
    const stored: StoredFrame = {
      maskmem,
      objPtr: step.objPtr,
      objectScore: step.objectScoreHost,
      predMasks: step.bestLow,
    };
    (init ? cond : nonCond).set(t, stored);
    out.push({
      step: t,
      source: sources[t],
      lowRes: step.lowRes,
      highRes: step.highRes,
      iou: step.iou,
      objectScore: step.objectScore,
      iouHost: step.iouHost,
      objectScoreHost: step.objectScoreHost,
      best: step.best,
      pixFeatWithMem: pix,
      objPtr: step.objPtr,
      maskmem,
      memoryTokens,
      structureLogits,
      earlier,
      clicks,
    });
  }
  return out;
}

/** One step's heads: the CycleStep fields they fill, and the chosen candidate's low / high-res logits. */
interface HeadsResult
  extends Pick<
    CycleStep,
    'lowRes' | 'highRes' | 'iou' | 'objectScore' | 'iouHost' | 'objectScoreHost' | 'best' | 'objPtr'
  > {
  bestLow: Tensor;
  bestHigh: Tensor;
}

/** SAM2Base._use_multimask: multimask on an initial conditioning frame (or when tracking) with 0..1 clicks. */
function useMultimask(model: SAM2, init: boolean, points: PointPrompt | null): boolean {
  const b = model.cfg.base;
  const n = points ? points.labels.length : 0;
  return (
    Boolean(b.multimask_output_in_sam) &&
    (init || Boolean(b.multimask_output_for_tracking)) &&
    Number(b.multimask_min_pt_num) <= n &&
    n <= Number(b.multimask_max_pt_num)
  );
}

/**
 * _forward_sam_heads in training mode: candidates (the 3 multimask outputs, or the single-mask output),
 * best by predicted IoU, NO_OBJ rule, pointer from the chosen mask token.
 */
async function samHeads(
  rt: Runtime,
  model: SAM2,
  tracker: Tracker,
  f: ImageFeatures,
  pix: Tensor,
  points: PointPrompt | null,
  S: number,
  multimask: boolean,
  maskInput: Tensor | null = null,
  tokens?: Tensor,
): Promise<HeadsResult> {
  const d = decodeMasks(rt, tracker, pix, f, points, maskInput, tokens);
  const [, M, h4, w4] = d.masks.shape;
  const c = d.maskTokens.shape[2];
  const first = multimask ? 1 : 0; // multimask outputs: tokens 1..M-1; else token 0
  const K = multimask ? M - 1 : 1;
  let lowRes = slice(rt, d.masks, [0, first, 0, 0], [1, K, h4, w4]); // [1, K, 4h, 4w]
  const iou = slice(rt, d.iou, [0, first], [1, K]); // [1, K]
  const [iouHost, objHost] = await Promise.all([rt.read(iou), rt.read(d.objectScore)]);
  const objectScoreHost = objHost[0];
  const present = objectScoreHost > 0;
  if (!present) lowRes = affine(rt, lowRes, 0, NO_OBJ_SCORE); // torch.where(is_obj, masks, NO_OBJ_SCORE)
  const highRes = resize(rt, lowRes, [S, S], { mode: 'bilinear' }); // [1, K, S, S]
  let best = 0;
  for (let k = 1; k < K; k++) if (iouHost[k] > iouHost[best]) best = k; // torch.argmax: first maximum
  const bestLow = slice(rt, lowRes, [0, best, 0, 0], [1, 1, h4, w4]);
  const bestHigh = slice(rt, highRes, [0, best, 0, 0], [1, 1, S, S]);
  const token = slice(rt, d.maskTokens, [0, first + best, 0], [1, 1, c]).reshape([1, c]); // use_multimask_token_for_obj_ptr
  let objPtr = model.obj_ptr_proj.forward(rt, token);
  if (!present) objPtr = add(rt, affine(rt, objPtr, 0), model.no_obj_ptr.t); // fixed_no_obj_ptr
  return {
    lowRes,
    highRes,
    iou,
    objectScore: d.objectScore,
    iouHost,
    objectScoreHost,
    best,
    bestLow,
    bestHigh,
    objPtr,
  };
}

/** _use_mask_as_output: the 0/1 mask [1, 1, S, S] is the output; the pointer comes from the decoder. */
async function maskAsOutput(
  rt: Runtime,
  model: SAM2,
  tracker: Tracker,
  f: ImageFeatures,
  pix: Tensor,
  mask01: Tensor,
): Promise<HeadsResult> {
  const S = model.cfg.image_size;
  const highRes = affine(rt, mask01, 20, -10);
  const lowRes = resize(rt, highRes, [S / 4, S / 4], { mode: 'bilinear', antialias: true });
  const small = model.mask_downsample.forward(rt, mask01);
  const d = decodeMasks(rt, tracker, pix, f, null, small);
  const c = d.maskTokens.shape[2];
  const token = slice(rt, d.maskTokens, [0, 0, 0], [1, 1, c]).reshape([1, c]); // single-mask token
  const any = (await rt.read(mask01)).some((v) => v > 0);
  let objPtr = model.obj_ptr_proj.forward(rt, token);
  if (!any) objPtr = add(rt, affine(rt, objPtr, 0), model.no_obj_ptr.t);
  const objectScoreHost = any ? 10 : -10; // 20 * is_obj - 10
  const objectScore = rt.upload([objectScoreHost], [1, 1], 'f32', 'object_score');
  const iou = rt.upload([1], [1, 1], 'f32', 'iou');
  return {
    lowRes,
    highRes,
    iou,
    objectScore,
    iouHost: Float32Array.from([1]),
    objectScoreHost,
    best: 0,
    bestLow: lowRes,
    bestHigh: highRes,
    objPtr,
  };
}
