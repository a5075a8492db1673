// The one way the tests run `node bin/robotseg.js …` (and a few other child processes): spawned WITHOUT
// blocking the test worker's event loop (spawnSync would stall vitest's worker RPC, which times out after a
// minute on a loaded 2-core machine), stdout and stderr collected as text, killed (SIGKILL) past a bound.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
/** The CLI entry point. */
export const BIN = join(ROOT, 'bin', 'robotseg.js');

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

export interface RunOptions {
  /** Killed (SIGKILL) after this many ms (default 300 s); the result then has code null. */
  timeout?: number;
  /** Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Default: the repository root. */
  cwd?: string;
}

/** Any command; resolves with its exit code, output and wall time; rejects only if it cannot start. */
export function runProcess(cmd: string, args: string[], opts: RunOptions = {}): Promise<CliResult & { ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: performance.now() - t0 });
    });
  });
}

/** `robotseg ARGS…` as a user runs it. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult & { ms: number }> {
  return runProcess(process.execPath, [BIN, ...args], opts);
}

/**
 * `robotseg` under a bash script (limits, pipes): the script runs with $0 = node, $1 = bin/robotseg.js and
 * ARGS as $2…, e.g. `ulimit -f 0; exec "$0" "$@"` or `"$0" "$1" segment "$2" 2>&1 | cat`.
 */
export function runCliInShell(
  script: string,
  args: string[],
  opts: RunOptions = {},
): Promise<CliResult & { ms: number }> {
  return runProcess('bash', ['-c', script, process.execPath, BIN, ...args], opts);
}
