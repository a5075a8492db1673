// RobotSeg targets on the command line (`--target robot|arm|gripper[,…]` of `segment` and `track`).
// The single-image path itself is src/model/robotseg_image_predictor.ts.
import { DEFAULT_TARGET, ROBOT_TARGETS } from '../model/robotseg_image_predictor.js';
import { UserError } from './errors.js';

export { DEFAULT_TARGET, ROBOT_TARGETS };

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

/**
 * `clicks or a box with several targets` is the user's to fix: checked here, before any GPU work, so
 * that it exits with code 2 (RobotSegImagePredictor.predict throws a plain Error for the same case).
 */
export function checkTargetPrompt(targets: readonly string[], hasPrompt: boolean): void {
  if (hasPrompt && targets.length > 1)
    throw new UserError(
      `clicks or a box with ${targets.length} targets: give one --target with a prompt (or no prompt for the automatic mode)`,
    );
}
