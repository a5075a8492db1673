// RobotSeg targets on the command line (`--target robot|arm|gripper[,…]` of `segment` and `track`);
// the single-image path itself is src/model/robot_image.ts (public API).
import type { RgbImage } from '../graph/image.js';
import type { Runtime } from '../graph/runtime.js';
import type { Point } from '../model/image_predictor.js';
import { ROBOT_TARGETS, type RobotImageResult, robotSegmentImage as segmentImage } from '../model/robot_image.js';
import type { RobotSeg } from '../model/robotseg.js';
import { UserError } from './errors.js';

export { ROBOT_TARGETS, type RobotImageResult };
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

/** robotSegmentImage with the CLI's wording: a prompt with several targets is a usage error (exit 2). */
export async function robotSegmentImage(
  rt: Runtime,
  model: RobotSeg,
  img: RgbImage,
  targets: string[],
  prompt: { points?: Point[]; box?: [number, number, number, number] },
): Promise<RobotImageResult[]> {
  if ((prompt.points?.length || prompt.box) && targets.length > 1)
    throw new UserError(
      `clicks or a box with ${targets.length} targets: give one --target with a prompt (or no prompt for the automatic mode)`,
    );
  return segmentImage(rt, model, img, targets, prompt);
}
