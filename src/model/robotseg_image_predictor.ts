// RobotSeg on a single image. RobotSeg has no image predictor of its own, so an image goes through
// its video path as a one-frame video (resize to the video size, no-object substitution, hole
// filling), as the fork does. Several targets are several objects of one predictor: the image
// encoder runs once, each target then runs its own memory attention / RPG / decoder. Used by the
// `segment` command and the demo page; nothing here knows about either.
import type { RgbImage } from '../image/rgb.js';
import type { Runtime } from '../graph/runtime.js';
import type { Point } from './image_predictor.js';
import type { RobotSeg } from './robotseg.js';
import { type FrameResult, VideoPredictor } from './video_predictor.js';

/** The robot targets of RobotSeg's class-token bank (`class_vocab` of the built-in configs). */
export const ROBOT_TARGETS = ['arm', 'gripper', 'robot'] as const;
/** The target of the automatic mode when none is named. */
export const DEFAULT_TARGET = 'robot';

/** Clicks and / or a box in original-image pixels. */
export interface RobotImagePrompt {
  points?: Point[];
  box?: [number, number, number, number];
}

export interface RobotImageResult {
  target: string;
  result: FrameResult;
}

export class RobotSegImagePredictor {
  constructor(
    readonly rt: Runtime,
    readonly model: RobotSeg,
  ) {}

  /**
   * Segment `img`, one object per target. No prompt: automatic mode (add_new_robot); with points /
   * a box (one target only): the clicks combined with the class token. Results in target order.
   */
  async predict(
    img: RgbImage,
    targets: readonly string[] = [DEFAULT_TARGET],
    prompt: RobotImagePrompt = {},
  ): Promise<RobotImageResult[]> {
    const hasPrompt = Boolean(prompt.points?.length || prompt.box);
    if (hasPrompt && targets.length > 1)
      throw new Error(`a click or box prompt applies to one target; got ${targets.length} (${targets.join(', ')})`);
    const pred = new VideoPredictor(this.rt, this.model, {
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
}
