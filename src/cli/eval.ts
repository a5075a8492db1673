// `robotseg eval --pred DIR --gt DIR [--json FILE]`: J&F of saved masks against ground truth.
// (Model-driven evaluation, `robotseg eval DATASET --weights … --setting AU|1C|3C|BB|OI`, will add
// a mode here: the DATASET positional is reserved for it.)
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CountBackend, cpuBackend } from '../eval/backend.js';
import { type EvalResult, type Protocol, evaluate } from '../eval/evaluate.js';
import { GpuCountBackend } from '../eval/gpu_backend.js';
import { EvalInputError, type Layout } from '../eval/layout.js';
import { formatTable, resultJson } from '../eval/report.js';
import { openEvalFolders } from '../node/eval_io.js';
import { createNodeRuntime } from '../node/runtime.js';
import { UserError } from './errors.js';

interface EvalOpts {
  pred?: string;
  gt?: string;
  json?: string;
  protocol: string;
  keepFirstLast?: boolean;
  category?: string;
  layout: string;
  boundTh: string;
  cpu?: boolean;
  quiet?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('J&F (DAVIS 2017 region similarity J, boundary F) of predicted masks against ground truth')
    .argument('[dataset]', 'model-driven evaluation of a dataset (not available yet: use --pred/--gt)')
    .option('--pred <dir>', 'predicted masks: one sequence folder or a dataset root of sequence folders')
    .option('--gt <dir>', 'ground-truth masks, same layout (a root with Annotations/ or mask/ is read from there)')
    .option('--json <file>', 'write per-frame and per-object results as JSON (0-1 scale)')
    .option('--protocol <p>', 'davis (DAVIS 2017 toolkit) or sav (SA-V evaluator used by SAM 2 and RobotSeg)', 'davis')
    .option('--keep-first-last', 'score the first and last frames too (RobotSeg\'s published numbers do)')
    .option('--category <c>', 'per-object layouts: score only this object (arm, gripper, robot or a 3-digit folder)')
    .option('--layout <l>', 'auto, davis (label PNG per frame) or objects (000/001/002 folders)', 'auto')
    .option('--bound-th <x>', 'boundary tolerance: fraction of the image diagonal (< 1) or pixels (>= 1)', '0.008')
    .option('--cpu', 'compute on the CPU even when a GPU adapter exists (same numbers)')
    .option('--quiet', 'no progress on stderr')
    .action(async (dataset: string | undefined, opts: EvalOpts) => {
      if (!opts.pred || !opts.gt) {
        if (dataset) throw new UserError(`model-driven evaluation of '${dataset}' (--weights, --setting) is not available yet; score saved masks with --pred DIR --gt DIR`);
        throw new UserError('give --pred DIR and --gt DIR');
      }
      if (!['davis', 'sav'].includes(opts.protocol)) throw new UserError(`--protocol ${opts.protocol}: use davis or sav`);
      if (!['auto', 'davis', 'objects'].includes(opts.layout)) throw new UserError(`--layout ${opts.layout}: use auto, davis or objects`);
      const boundTh = Number(opts.boundTh);
      if (!(boundTh > 0)) throw new UserError(`--bound-th ${opts.boundTh}: must be a positive number`);
      try {
        const result = await runEval(opts.pred, opts.gt, {
          protocol: opts.protocol as Protocol, keepFirstLast: !!opts.keepFirstLast, category: opts.category,
          layout: opts.layout === 'auto' ? undefined : (opts.layout as Layout), boundTh, cpu: !!opts.cpu, quiet: !!opts.quiet,
        });
        process.stdout.write(formatTable(result.result));
        if (opts.json) {
          writeFileSync(opts.json, JSON.stringify(resultJson(result.result, result.dataset), null, 1) + '\n');
          if (!opts.quiet) process.stderr.write(`wrote ${opts.json}\n`);
        }
      } catch (e) {
        if (e instanceof EvalInputError) throw new UserError(e.message);
        throw e;
      }
    });
}

export interface RunEvalOptions {
  protocol: Protocol;
  keepFirstLast: boolean;
  category?: string;
  layout?: Layout;
  boundTh: number;
  cpu: boolean;
  quiet: boolean;
}

export async function runEval(pred: string, gt: string, o: RunEvalOptions): Promise<{ result: EvalResult; dataset: boolean }> {
  const folders = openEvalFolders(pred, gt, { layout: o.layout, category: o.category });
  const log = (s: string) => { if (!o.quiet) process.stderr.write(s); };
  for (const n of folders.notes) log(`note: ${n}\n`);
  let backend: CountBackend = cpuBackend;
  let destroy = () => {};
  if (!o.cpu) {
    try {
      const rt = await createNodeRuntime();
      backend = new GpuCountBackend(rt);
      destroy = () => rt.destroy();
    } catch (e) {
      log(`note: no WebGPU adapter (${(e as Error).message.split('\n')[0]}); computing on the CPU (same numbers)\n`);
    }
  }
  try {
    const result = await evaluate(folders.sequences, backend, {
      protocol: o.protocol, keepFirstLast: o.keepFirstLast, boundTh: o.boundTh,
      onWarning: (m) => log(`warning: ${m}\n`),
      onProgress: process.stderr.isTTY && !o.quiet ? (s, d, t) => log(`\r${s}: ${d}/${t} frames`.padEnd(60) + (d === t ? '\n' : '')) : undefined,
    });
    return { result, dataset: folders.dataset };
  } finally {
    destroy();
  }
}
