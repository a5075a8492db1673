// Run `node bin/robotseg.js …` WITHOUT blocking the test worker's event loop (spawnSync would stall
// vitest's worker RPC, which times out after a minute on a loaded 2-core machine).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

export function runCli(args: string[], opts: { timeout?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'robotseg.js'), ...args], {
      cwd: ROOT,
      env: opts.env ?? process.env,
    });
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
      resolve({ code, out, err });
    });
  });
}
