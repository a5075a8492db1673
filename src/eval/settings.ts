// The five RobotSeg evaluation settings on one video and one target (RobotSeg fork
// test/inference_auto_semi_vrs.py and test/inference_interactive_vrs.py; rule book:
// docs/reference/robotseg-architecture.md sec. 7.2). The predictor is anything with SAM 2's video API (VideoPredictor,
// or a fake in tests); prompts come from the ground truth through src/eval/clicks.ts.
//   start  the first frame (in frame order) whose GT is non-empty, even in AU; propagation runs
//          forward from there, so earlier frames get no prediction (saved as empty masks).
//   AU     addTarget(start, category): RobotSeg's automatic mode (add_new_robot).
//   1C     one positive click at the centroid click.
//   BB     the GT bounding box.
//   3C     the 1C click, then 2 RITM clicks, each from the error of the latest prediction; every round
//          re-submits all clicks so far (clear_old_points); then the prefix (1, 2 or 3 clicks) with the
//          best GT IoU (first maximum) is submitted once more, the last round's logits being its mask
//          prompt as in SAM 2 (an oracle choice, as in the original).
//   OI     3C on the start frame; then during propagation, on a frame with non-empty GT whose IoU is
//          below `iou` while fewer than `frames` frames have been corrected: up to `clicks` RITM clicks
//          (each round from the latest prediction, all clicks re-submitted), the best prefix by IoU
//          re-submitted; if its IoU >= the tracked mask's IoU the correction is kept: the frame's mask
//          is replaced, preflight() re-encodes memory (the frame stays non-conditioning) and it counts
//          toward the budget; otherwise the tracked mask is kept for scoring and the predictor's
//          temporary output stays as it is (a later preflight flushes it, as in the original).
// The prediction scored and saved is the video-resolution logits > 0 (FrameResult.mask).
// Host-agnostic: no Node APIs.
import { type BinMask, type Click, argmaxFirst, boxPrompt, centroidClick, maskIoU, ritmClick } from './clicks.js';

export const SETTINGS = ['AU', '1C', '3C', 'BB', 'OI'] as const;
export type Setting = (typeof SETTINGS)[number];

/** The part of VideoPredictor the settings use. */
export interface PromptablePredictor {
  addPoints(
    frame: number,
    objId: number,
    prompt: { points?: Click[]; box?: [number, number, number, number]; clearOld?: boolean; category?: string | null },
  ): Promise<{ mask: Uint8Array }>;
  addTarget(frame: number, objId: number, category: string): Promise<{ mask: Uint8Array }>;
  propagate(): AsyncGenerator<{ frame: number; results: Array<{ objId: number; mask: Uint8Array }> }>;
  preflight(): Promise<void>;
}

export interface OiOptions {
  /** Clicks per corrected frame (eval_interactive.sh num_click = 3). */
  clicks: number;
  /** Most frames corrected (max_frame = 3). */
  frames: number;
  /** A frame is corrected when its IoU is below this (iou = 0.9). */
  iou: number;
}

export const OI_DEFAULTS: OiOptions = { clicks: 3, frames: 3, iou: 0.9 };
/** Clicks of the 3C setting (and of OI's start). */
export const CLICKS_3C = 3;

export interface SettingOptions {
  setting: Setting;
  numFrames: number;
  width: number;
  height: number;
  /** GT of the target on frame t ([H*W] 0/1), or null where that frame has no GT (treated as empty). */
  gt: (frame: number) => Uint8Array | null;
  /** RobotSeg category passed with every prompt ('arm' | 'gripper' | 'robot'); null for SAM 2.1. AU needs it. */
  category: string | null;
  objId?: number;
  oi?: OiOptions;
  /** Called after each propagated frame (progress). */
  onFrame?: (frame: number) => void;
}

export interface PromptRecord {
  frame: number;
  kind: 'target' | 'clicks' | 'box';
  clicks?: Click[];
  box?: [number, number, number, number];
  /** 3C / OI rounds: GT IoU after each round, and the prefix length re-submitted. */
  ious?: number[];
  kept?: number;
}

export interface CorrectionRecord {
  frame: number;
  /** IoU of the tracked mask and of the re-submitted best prefix. */
  before: number;
  after: number;
  clicks: Click[];
  ious: number[];
  kept: number;
  accepted: boolean;
}

export interface SettingRun {
  start: number;
  /** Predicted 0/1 masks of the propagated frames, in processing order (start first). */
  frames: Array<{ frame: number; mask: Uint8Array }>;
  prompts: PromptRecord[];
  corrections: CorrectionRecord[];
}

/** First frame whose GT is non-empty, or -1. */
export function startFrame(numFrames: number, gt: (frame: number) => Uint8Array | null): number {
  for (let t = 0; t < numFrames; t++) {
    const g = gt(t);
    if (g?.some((v) => v !== 0)) return t;
  }
  return -1;
}

/** Run one setting on one video; throws if the GT is empty on every frame (callers skip such videos first). */
export async function runSetting(pred: PromptablePredictor, o: SettingOptions): Promise<SettingRun> {
  const obj = o.objId ?? 0;
  const bin = (data: Uint8Array): BinMask => ({ width: o.width, height: o.height, data });
  const gtAt = (t: number) => bin(o.gt(t) ?? new Uint8Array(o.width * o.height));
  const start = startFrame(o.numFrames, o.gt);
  if (start < 0) throw new Error('runSetting: the ground truth is empty on every frame');
  if (o.setting === 'AU' && !o.category) throw new Error('setting AU (automatic mode) needs a RobotSeg category');
  const cat = o.category ? { category: o.category } : {};
  const prompts: PromptRecord[] = [];
  const gs = gtAt(start);

  if (o.setting === 'AU') {
    await pred.addTarget(start, obj, o.category!);
    prompts.push({ frame: start, kind: 'target' });
  } else if (o.setting === 'BB') {
    const box = boxPrompt(gs);
    await pred.addPoints(start, obj, { box, ...cat });
    prompts.push({ frame: start, kind: 'box', box });
  } else if (o.setting === '1C') {
    const c = centroidClick(gs);
    await pred.addPoints(start, obj, { points: [c], clearOld: true, ...cat });
    prompts.push({ frame: start, kind: 'clicks', clicks: [c] });
  } else {
    const first = centroidClick(gs);
    const first1 = await pred.addPoints(start, obj, { points: [first], clearOld: true, ...cat });
    const r = await clickRounds(pred, obj, start, gs, [first], first1.mask, CLICKS_3C - 1, cat, bin);
    prompts.push({ frame: start, kind: 'clicks', clicks: r.clicks, ious: r.ious, kept: r.kept });
  }

  const oi = o.oi ?? OI_DEFAULTS;
  const frames: SettingRun['frames'] = [];
  const corrections: CorrectionRecord[] = [];
  let accepted = 0;
  for await (const { frame, results } of pred.propagate()) {
    const res = results.find((x) => x.objId === obj);
    if (!res) throw new Error(`propagation gave no result for object ${obj} on frame ${frame}`);
    let mask = res.mask;
    const g = o.setting === 'OI' ? o.gt(frame) : null;
    if (g?.some((v) => v !== 0)) {
      const gm = bin(g);
      const before = maskIoU(bin(mask), gm);
      if (before < oi.iou && accepted < oi.frames) {
        const r = await clickRounds(pred, obj, frame, gm, [], mask, oi.clicks, cat, bin);
        const ok = r.iou >= before;
        corrections.push({ frame, before, after: r.iou, clicks: r.clicks, ious: r.ious, kept: r.kept, accepted: ok });
        if (ok) {
          mask = r.mask;
          await pred.preflight();
          accepted++;
        }
      }
    }
    frames.push({ frame, mask });
    o.onFrame?.(frame);
  }
  return { start, frames, prompts, corrections };
}

/**
 * `rounds` more RITM clicks on `frame` after `clicks` (whose latest prediction is `mask`), each round
 * re-submitting every click; then the best prefix of ALL clicks (by GT IoU; the rounds' IoUs are
 * those of the given clicks' prediction, if any, followed by each new round) is submitted again.
 */
async function clickRounds(
  pred: PromptablePredictor,
  obj: number,
  frame: number,
  gt: BinMask,
  clicks: Click[],
  mask: Uint8Array,
  rounds: number,
  cat: { category?: string },
  bin: (d: Uint8Array) => BinMask,
): Promise<{ clicks: Click[]; ious: number[]; kept: number; mask: Uint8Array; iou: number }> {
  const all = [...clicks];
  const ious = clicks.length ? [maskIoU(bin(mask), gt)] : [];
  let cur = mask;
  for (let i = 0; i < rounds; i++) {
    all.push(ritmClick(gt, bin(cur)));
    cur = (await pred.addPoints(frame, obj, { points: [...all], clearOld: true, ...cat })).mask;
    ious.push(maskIoU(bin(cur), gt));
  }
  // ious[k] belongs to the first max(clicks.length, 1) + k clicks
  const kept = argmaxFirst(ious) + Math.max(clicks.length, 1);
  const final = (await pred.addPoints(frame, obj, { points: all.slice(0, kept), clearOld: true, ...cat })).mask;
  return { clicks: all, ious, kept, mask: final, iou: maskIoU(bin(final), gt) };
}

/** The frame order SAM 2's loader uses: by integer value of the stems when all are integers, else as given. */
export function frameOrder<T extends { name: string }>(frames: readonly T[]): T[] {
  if (frames.every((f) => /^\d+$/.test(f.name)))
    return [...frames].sort((a, b) => Number(a.name) - Number(b.name) || (a.name < b.name ? -1 : 1));
  return [...frames];
}
