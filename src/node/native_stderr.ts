// Filtering what native code (Dawn) prints on file descriptor 2 during one call. Node only, Linux only.
//
// Why: Dawn's Vulkan backend prints two lines while it enumerates adapters
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 …
// when the driver reports more dynamic buffers than Dawn supports (lavapipe reports 1000000). It comes
// from the driver's limits as Dawn reads them inside requestAdapter(), before any device or limit is
// requested, so no choice of requested limits avoids it, and Dawn writes it with fprintf(stderr) (no
// log callback, no toggle). The only way to keep it off the user's terminal is to point fd 2 at a
// temporary file during requestAdapter() and copy back every line that is not one of those warnings.
//
// How, without dup(2) (Node has none): open /proc/self/fd/2 (a second descriptor on the same terminal
// or pipe), close fd 2 and open the temporary file (POSIX gives the lowest free number: 2), run the call,
// then close fd 2 and reopen the saved descriptor's target as 2. This is done only when fd 2 is a
// terminal or a pipe: a regular file may share its offset with stdout (`>log 2>&1`), which a reopened
// descriptor would not, so files and sockets are left alone (the warnings then reach the file).
// ROBOTSEG_DEBUG=1 turns the filter off.
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isatty } from 'node:tty';

/** Dawn's adapter-enumeration warnings on software Vulkan drivers (see the header). */
export const DAWN_LIMIT_WARNINGS = [
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\s*$/,
];

function filterable(): boolean {
  if (process.platform !== 'linux' || process.env.ROBOTSEG_DEBUG === '1') return false;
  try {
    fstatSync(0);
    fstatSync(1); // fd 0 and 1 open: the next descriptor opened after closing 2 is 2
    return isatty(2) || fstatSync(2).isFIFO();
  } catch {
    return false;
  }
}

/** Runs `fn` with native writes to fd 2 captured; lines matching `drop` are discarded, the rest re-emitted. */
export async function filterNativeStderr<T>(fn: () => Promise<T>, drop: RegExp[] = DAWN_LIMIT_WARNINGS): Promise<T> {
  if (!filterable()) return fn();
  let saved: number;
  try {
    saved = openSync('/proc/self/fd/2', 'a');
  } catch {
    return fn();
  }
  const tmp = join(tmpdir(), `robotseg-stderr-${process.pid}-${randomBytes(4).toString('hex')}`);
  let redirected = false;
  try {
    closeSync(2);
    const fd = openSync(tmp, 'w+');
    redirected = fd === 2;
    if (!redirected) {
      closeSync(fd);
      restore(saved);
    }
  } catch {
    restore(saved);
  }
  try {
    return await fn();
  } finally {
    if (redirected) {
      closeSync(2);
      restore(saved);
    }
    closeSync(saved);
    let text = '';
    try {
      text = readFileSync(tmp, 'utf8');
    } catch {}
    rmSync(tmp, { force: true });
    const kept = text.split('\n').filter((l) => l !== '' && !drop.some((r) => r.test(l)));
    if (kept.length) process.stderr.write(`${kept.join('\n')}\n`);
  }
}

/** Make fd 2 refer to `saved`'s target again (fd 2 must be closed). */
function restore(saved: number): void {
  try {
    fstatSync(2);
    return; // still open
  } catch {}
  const fd = openSync(`/proc/self/fd/${saved}`, 'a');
  if (fd !== 2) closeSync(fd); // cannot happen when fd 0 and 1 are open
}
