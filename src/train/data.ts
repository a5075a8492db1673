// Training data, host-agnostic: a video with ONE annotated frame (the first annotated frame of the
// target category; label-efficient training reads no other mask), optional pseudo labels, and the
// sampling of cycle clips and first-frame prompts as RobotSeg's training does (docs/reference/robotseg-architecture.md
// sec. 5): palindromic clips [0, s, 2s, 3s, 2s, s, 0] anchored at the annotated frame with a random
// step s in [1, (L - 1) // 3] (clamped to the video); prompts category-only / points / GT mask.
import { boxPrompt } from '../eval/clicks.js';
import { randInt } from '../util/rng.js';

export interface TrainVideo {
  name: string;
  /** Frame identifiers in video order (file paths in Node, URLs or names elsewhere). */
  frames: string[];
  /** Index in `frames` of the annotated frame (the clip anchor); later frames are the clip's range. */
  anchor: number;
  /** The annotated frame's mask (same identifier scheme). */
  mask: string;
  /** Optional user-provided pseudo labels by frame index (binary masks). */
  pseudo?: Map<number, string>;
}

/**
 * Source-frame offsets (relative to the anchor) of a palindromic cycle clip of `clipLen` steps
 * (odd) over a video range of `available` frames from the anchor: [0, s, ..., ks, ..., s, 0] with
 * k = (clipLen - 1) / 2, s drawn uniformly from [1, max(1, (available - 1) // k)], indices clamped.
 * A single frame (or clipLen 1) gives [0].
 */
export function sampleCycleOffsets(next: () => number, available: number, clipLen: number): number[] {
  if (!Number.isInteger(clipLen) || clipLen < 1 || clipLen % 2 === 0)
    throw new Error(`clip length ${clipLen} must be an odd number >= 1 (a palindrome [0, s, 2s, ..., s, 0])`);
  if (available < 1) throw new Error('cycle clip: the video range is empty');
  if (available === 1 || clipLen === 1) return [0];
  const k = (clipLen - 1) / 2;
  const s = randInt(next, 1, Math.max(1, Math.floor((available - 1) / k)));
  const out = Array.from({ length: k + 1 }, (_, i) => Math.min(i * s, available - 1));
  for (let i = k - 1; i >= 0; i--) out.push(out[i]);
  return out;
}

/** The first-frame prompt of a clip. */
export type PromptKind = 'auto' | 'click' | 'box' | 'mask';
export type PromptMode = PromptKind | 'mixed';

/**
 * RobotSeg's prompt mix (fixed-seed RNG per sample): category only with p 0.4, points with p 0.4
 * (a box with p 0.5, else one click), the GT mask with p 0.2 (videos only; single images fall back
 * to points). Without a category ('auto' impossible: SAM 2.1 weights) the category share goes to points.
 */
export function samplePrompt(next: () => number, mode: PromptMode, isVideo: boolean, hasCategory: boolean): PromptKind {
  if (mode !== 'mixed') return mode;
  const u = next();
  const points = (): PromptKind => (next() < 0.5 ? 'box' : 'click');
  if (u < 0.4) return hasCategory ? 'auto' : points();
  if (u < 0.8 || !isVideo) return points();
  return 'mask';
}

/**
 * sample_random_points_from_errors ('uniform'): a pixel drawn uniformly from the false-negative and
 * false-positive regions of `pred` against `gt` (both [H*W] 0/1, row length `width`; pred null = all
 * background), positive in a miss; when pred equals gt, a negative click uniformly in the background.
 */
export function errorClick(
  next: () => number,
  gt: Uint8Array,
  pred: Uint8Array | null,
  width: number,
): { x: number; y: number; label: number } {
  const cells: number[] = [];
  let correct = true;
  for (let i = 0; i < gt.length; i++)
    if ((pred ? pred[i] : 0) !== gt[i]) {
      correct = false;
      break;
    }
  for (let i = 0; i < gt.length; i++) {
    const p = pred ? pred[i] : 0;
    if (p !== gt[i] || (correct && !gt[i])) cells.push(i);
  }
  if (cells.length === 0)
    throw new Error('correction click: the ground truth covers the whole image and the prediction matches it');
  const i = cells[Math.min(cells.length - 1, Math.floor(next() * cells.length))];
  const label = gt[i] && !(pred ? pred[i] : 0) ? 1 : 0;
  return { x: i % width, y: Math.floor(i / width), label };
}

/** One uniformly drawn foreground pixel of a 0/1 mask [H*W] (x = column, y = row): the error click of an empty prediction. */
export function randomForegroundClick(next: () => number, mask: Uint8Array, width: number): { x: number; y: number } {
  if (!mask.some((v) => v)) throw new Error('cannot click on an empty mask');
  const { x, y } = errorClick(next, mask, null, width);
  return { x, y };
}

/** Bounding box [x0, y0, x1, y1] of a 0/1 mask, right/bottom one past the last pixel (RobotSeg's BB prompt). */
export function maskBox(mask: Uint8Array, width: number, height: number): [number, number, number, number] {
  return boxPrompt({ width, height, data: mask });
}
