// RobotSeg targets on the command line (`--target robot|arm|gripper[,…]` of `segment` and `track`)
// and RobotSeg's single-image path: RobotSeg has no image predictor, so an image goes through its
// video path as a one-frame video (resize to the video size, no-object substitution, hole filling),
// as the fork does. Several targets are several objects of one predictor: the image encoder runs
// once per frame, each target then runs its own memory attention / RPG / decoder.
import type { RgbImage } from '../graph/image.js';
import type { Runtime } from '../graph/runtime.js';
import type { Point } from '../model/image_predictor.js';
import type { RobotSeg } from '../model/robotseg.js';
import { type FrameResult, VideoPredictor } from '../model/video_predictor.js';
import { UserError } from './errors.js';

export const ROBOT_TARGETS = ['arm', 'gripper', 'robot'] as const;
export const DEFAULT_TARGET = 'robot';

/** `--target a,b,…` -> distinct target names in the given order (undefined: no --target). */
export function parseTargets(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const names = v.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(ROBOT_TARGETS as readonly string[]).includes(n))
      throw new UserError(
        `--target '${v}': '${n}' is not a robot target (expected ${ROBOT_TARGETS.join(', ')}, comma-separated)`,
      );
  }
  if (new Set(names).size !== names.length) throw new UserError(`--target '${v}': a target is repeated`);
  return names;
}

export interface RobotImageResult {
  target: string;
  result: FrameResult;
}

/**
 * Segment one image with RobotSeg: a one-frame video, one object per target. No prompt: automatic
 * mode (add_new_robot); with points / a box (one target only): the clicks combined with the class token.
 */
export async function robotSegmentImage(
  rt: Runtime,
  model: RobotSeg,
  img: RgbImage,
  targets: string[],
  prompt: { points?: Point[]; box?: [number, number, number, number] },
): Promise<RobotImageResult[]> {
  const hasPrompt = Boolean(prompt.points?.length || prompt.box);
  if (hasPrompt && targets.length > 1)
    throw new UserError(
      `clicks or a box with ${targets.length} targets: give one --target with a prompt (or no prompt for the automatic mode)`,
    );
  const pred = new VideoPredictor(rt, model, {
    numFrames: 1,
    width: img.width,
    height: img.height,
    frame: async () => img,
  });
  try {
    const out: RobotImageResult[] = [];
    for (const [k, target] of targets.entries()) {
      const result = hasPrompt
        ? await pred.addPoints(0, k + 1, { points: prompt.points, box: prompt.box, category: target })
        : await pred.addTarget(0, k + 1, target);
      out.push({ target, result });
    }
    return out;
  } finally {
    pred.reset();
  }
}
