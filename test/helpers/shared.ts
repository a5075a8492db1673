// Reference files too large for test/fixtures/ (the shared golden weights.pt, the full RobotSeg edge
// goldens) live next to the repository in ../shared. A test that needs one skips on a user's machine
// without it (the reason printed) but FAILS under CI=true, so a CI run never shrinks silently.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** ../shared relative to the repository root (ROBOTSEG_SHARED_DIR overrides). */
export const SHARED_DIR = process.env.ROBOTSEG_SHARED_DIR ?? resolve(import.meta.dirname, '../../../shared');

/** Absolute path of `rel` under SHARED_DIR if it exists; null (skip) otherwise, an error under CI=true. */
export function sharedFile(rel: string): string | null {
  const p = join(SHARED_DIR, rel);
  if (existsSync(p)) return p;
  if (process.env.CI === 'true') throw new Error(`CI=true but the shared reference file ${p} is missing`);
  console.warn(`[skipped: shared reference file ${p} is missing]`);
  return null;
}
