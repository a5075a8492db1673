// Private temporary folders for the MCAP spools (frames read back by offset, masks kept until the
// output is written). Removed by their owner when done, and by an exit hook otherwise: the CLI leaves
// through process.exit() on errors and Ctrl-C, where no finally block runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<string>();
let hooked = false;

/** A new empty folder under the system's temporary folder. */
export function makeSpoolDir(prefix: string): string {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const d of live) rmSync(d, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  live.add(dir);
  return dir;
}

export function removeSpoolDir(dir: string): void {
  live.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}
