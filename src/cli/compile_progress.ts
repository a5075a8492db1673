// "compiling kernels n/N" on stderr while pipelines compile (first runs: a cold shader cache makes
// the software adapter spend seconds per kernel). Shown only once compilation has been pending for
// SHOW_AFTER_MS, so warm runs print nothing; never with --quiet. On a terminal one line updates in
// place; otherwise a line at most every 2 s and a last one when the kernels are ready.
import type { Runtime } from '../graph/runtime.js';

const SHOW_AFTER_MS = 1000;

export function showCompileProgress(rt: Runtime, stream: NodeJS.WriteStream = process.stderr): void {
  const tty = stream.isTTY;
  let pendingSince = 0;
  let shown = false;
  let lastLine = 0;
  let timer: NodeJS.Timeout | null = null;
  const print = (done: number, total: number, final: boolean) => {
    const secs = ((performance.now() - pendingSince) / 1000).toFixed(1);
    const text = `compiling kernels ${done}/${total}${final ? ` (${secs} s)` : ''}`;
    if (tty) stream.write(`\r${text}${final ? '\n' : ''}`);
    else stream.write(`${text}\n`);
    lastLine = performance.now();
    shown = !final;
  };
  rt.onCompileProgress = (done, total) => {
    const now = performance.now();
    if (done < total) {
      if (pendingSince === 0) {
        pendingSince = now;
        timer = setTimeout(() => print(rt.compileDone, rt.compileTotal, false), SHOW_AFTER_MS);
        timer.unref();
      } else if (shown && (tty ? now - lastLine > 100 : now - lastLine > 2000)) print(done, total, false);
      return;
    }
    // caught up: every requested kernel is ready
    if (timer) clearTimeout(timer);
    timer = null;
    if (shown) print(done, total, true);
    pendingSince = 0;
  };
}
