// RobotSeg on a single image. RobotSeg has no image predictor, so an image goes through its video path
// as a one-frame video (resize to the video size, no-object substitution, hole filling), as the fork
// does. Several targets are several objects of one predictor: the image encoder runs once, each target
// then runs its own memory attention / RPG / decoder. Host-agnostic (the CLI's `segment` uses it too).
import type { RgbImage } from '../graph/image.js';
import type { Runtime } from '../graph/runtime.js';
import type { Point } from './image_predictor.js';
import type { RobotSeg } from './robotseg.js';
import { type FrameResult, VideoPredictor } from './video_predictor.js';

/** The parts of a robot RobotSeg segments without a prompt (its class tokens). */
export const ROBOT_TARGETS = ['arm', 'gripper', 'robot'] as const;

/** One target's mask of `robotSegmentImage`. */
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
  prompt: { points?: Point[]; box?: [number, number, number, number] } = {},
): Promise<RobotImageResult[]> {
  const hasPrompt = Boolean(prompt.points?.length || prompt.box);
  if (hasPrompt && targets.length > 1)
    throw new Error(
      `clicks or a box with ${targets.length} targets: prompt one target (or none for the automatic mode)`,
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
