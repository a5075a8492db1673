// `robotseg bench [--json FILE] [--filter NAME] [--full] [--reps N] [--no-peers] [--precision f32|f16]`: kernel benchmarks
// from bench/<family>.ts (discovered at run time, see bench/harness.ts), checked against their CPU
// references before timing, with onnxruntime peers side by side (bench/peers.ts). Prints a table on
// stdout (notes and progress on stderr); --precision f16 adds f16-weight rows (`"precision": "f16"`)
// after the f32 rows of each model stage; exits non-zero after printing everything if any row failed.
import { writeFileAtomic } from '../node/atomic_write.js';
import { checkOutputFile } from '../node/paths.js';
import type { Command } from 'commander';
import { cliRuntime, parsePrecision, UserError } from './errors.js';

interface BenchOptions {
  json?: string;
  filter?: string;
  full?: boolean;
  reps?: string;
  peers: boolean;
  precision?: string;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('benchmark the kernels (checked against CPU references first), with onnxruntime peers')
    .option('--json <file>', 'also write the rows as a JSON array to FILE')
    .option('--filter <name>', 'only cases whose family, kernel or variant contains NAME (comma-separated list)')
    .option('--full', 'use the full 1024-px SAM 2.1 tiny shapes (meant for a real GPU)')
    .option('--reps <n>', 'timed repetitions per case (default: adaptive, ~1 s or 10 reps)')
    .option('--no-peers', 'skip the onnxruntime-web / onnxruntime-node peers')
    .option(
      '--precision <p>',
      'f32 (default) or f16: also run each model stage with linear / conv weights and the activations that allow it stored as f16 (rows with "precision": "f16"; needs shader-f16)',
    )
    .action(async (opts: BenchOptions) => {
      const precision = parsePrecision(opts.precision);
      let reps: number | undefined;
      if (opts.reps !== undefined) {
        reps = Number(opts.reps);
        if (!Number.isInteger(reps) || reps < 1)
          throw new UserError(`--reps must be a positive integer, got '${opts.reps}'`);
      }
      if (opts.json !== undefined) checkOutputFile('--json', opts.json);
      const { runBench, formatTable } = await import('../../bench/harness.js');
      const rt = await cliRuntime({ precision });
      try {
        const rows = await runBench(rt, {
          filter: opts.filter,
          full: Boolean(opts.full),
          reps,
          peers: opts.peers,
          precision,
        });
        process.stdout.write(formatTable(rows, rt, { full: opts.full }));
        if (opts.json) writeFileAtomic(opts.json, JSON.stringify(rows, null, 2) + '\n');
        const failed = rows.filter((r) => !r.ok);
        if (failed.length) {
          process.stderr.write(
            `bench: ${failed.length} row(s) failed: ${failed.map((r) => `${r.kernel} ${r.impl} ${r.shape}`).join('; ')}\n`,
          );
          process.exitCode = 1;
        } else if (rows.length === 0) {
          process.exitCode = 1;
        }
      } finally {
        rt.destroy();
      }
    });
}
