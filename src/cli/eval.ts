// `robotseg eval --pred DIR --gt DIR [--json FILE]`: J&F of saved masks against ground truth.
// `robotseg eval DATASET --weights FILE --setting AU|1C|3C|BB|OI …`: runs the model on a dataset under
// RobotSeg's evaluation settings and scores it (src/cli/eval_dataset.ts).
import type { Command } from 'commander';
import { type CountBackend, cpuBackend } from '../eval/backend.js';
import { type EvalResult, type Protocol, evaluate } from '../eval/evaluate.js';
import { GpuCountBackend } from '../eval/gpu_backend.js';
import { EvalInputError, type Layout } from '../eval/layout.js';
import { formatTable, resultJson } from '../eval/report.js';
import { openEvalFolders } from '../node/eval_io.js';
import { createNodeRuntime } from '../node/runtime.js';
import { UserError } from './errors.js';
import { writeFileAtomic } from '../node/atomic_write.js';
import { checkInputDir, checkOutputFile } from '../node/paths.js';
import { type DatasetEvalOpts, runDatasetEval } from './eval_dataset.js';

interface EvalOpts extends Omit<DatasetEvalOpts, 'boundTh'> {
  pred?: string;
  gt?: string;
  json?: string;
  protocol?: string;
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
    .description(
      "J&F (DAVIS 2017 region similarity J, boundary F) of saved masks against ground truth (--pred, --gt), or of a model run on a dataset under RobotSeg's settings (DATASET --weights --setting)",
    )
    .argument(
      '[dataset]',
      'run the model on a VRS (JPEGImages/, Annotations/) or RoboEngine test (image/, mask/) dataset and score it (needs --weights, --setting)',
    )
    .option('--pred <dir>', 'predicted masks: one sequence folder or a dataset root of sequence folders')
    .option('--gt <dir>', 'ground-truth masks, same layout (a root with Annotations/ or mask/ is read from there)')
    .option('--json <file>', 'write per-frame and per-object results as JSON (0-1 scale)')
    .option(
      '--protocol <p>',
      'davis (DAVIS 2017 toolkit; default with --pred) or sav (SA-V evaluator used by SAM 2 and RobotSeg; default with DATASET)',
    )
    .option('--weights <file>', 'DATASET: checkpoint (.safetensors or .pt), SAM 2.1 or RobotSeg')
    .option('--config <name|file>', 'DATASET: model config (default: embedded in the weights, else inferred)')
    .option(
      '--setting <s>',
      'DATASET: AU (automatic, RobotSeg only), 1C, 3C, BB or OI; comma-separated or repeated',
      collect,
    )
    .option(
      '--target <t>',
      'DATASET: robot (002, default), arm (000) or gripper (001); comma-separated or repeated',
      collect,
    )
    .option('--out <dir>', 'DATASET: save the predicted 0/255 masks as <dir>[/<setting>]/<video>/<obj>/<frame>.png')
    .option(
      '--resize <mode>',
      'DATASET: frame preprocessing, official-video (PIL bicubic as the official loader; default) or image',
    )
    .option(
      '--refine',
      "DATASET: RobotSeg's guided-filter boundary refinement of every mask but the start frame's, before scoring (RobotSeg's scripts do it by default)",
    )
    .option('--keep-first-last', "score the first and last frames too (RobotSeg's published numbers do)")
    .option('--category <c>', 'per-object layouts: score only this object (arm, gripper, robot or a 3-digit folder)')
    .option('--layout <l>', 'auto, davis (label PNG per frame) or objects (000/001/002 folders)', 'auto')
    .option('--bound-th <x>', 'boundary tolerance: fraction of the image diagonal (< 1) or pixels (>= 1)', '0.008')
    .option('--cpu', 'compute on the CPU even when a GPU adapter exists (same numbers)')
    .option('--quiet', 'no progress on stderr')
    .action(async (dataset: string | undefined, opts: EvalOpts) => {
      if (dataset !== undefined) {
        if (opts.pred || opts.gt)
          throw new UserError(
            `give either DATASET ('${dataset}', run the model) or --pred DIR --gt DIR (score saved masks), not both`,
          );
        if (opts.category)
          throw new UserError('--category is for --pred/--gt; with a DATASET choose the object with --target');
        if (opts.layout !== 'auto')
          throw new UserError('--layout is for --pred/--gt; a DATASET is read as VRS or RoboEngine');
        const boundTh = Number(opts.boundTh);
        if (!(boundTh > 0)) throw new UserError(`--bound-th ${opts.boundTh}: must be a positive number`);
        process.stdout.write(await runDatasetEval(dataset, { ...opts, boundTh }));
        return;
      }
      const datasetOnly = (['weights', 'config', 'setting', 'target', 'out', 'resize', 'refine'] as const).filter(
        (k) => opts[k] !== undefined,
      );
      if (datasetOnly.length)
        throw new UserError(
          `--${datasetOnly[0]} is for model-driven evaluation: give the DATASET folder (robotseg eval DATASET --weights FILE --setting …)`,
        );
      if (!opts.pred || !opts.gt)
        throw new UserError('give --pred DIR and --gt DIR (or a DATASET folder with --weights and --setting)');
      checkInputDir('--pred', opts.pred);
      checkInputDir('--gt', opts.gt);
      if (opts.json !== undefined) checkOutputFile('--json', opts.json);
      opts.protocol ??= 'davis';
      if (!['davis', 'sav'].includes(opts.protocol))
        throw new UserError(`--protocol ${opts.protocol}: use davis or sav`);
      if (!['auto', 'davis', 'objects'].includes(opts.layout))
        throw new UserError(`--layout ${opts.layout}: use auto, davis or objects`);
      const boundTh = Number(opts.boundTh);
      if (!(boundTh > 0)) throw new UserError(`--bound-th ${opts.boundTh}: must be a positive number`);
      try {
        const result = await runEval(opts.pred, opts.gt, {
          protocol: opts.protocol as Protocol,
          keepFirstLast: !!opts.keepFirstLast,
          category: opts.category,
          layout: opts.layout === 'auto' ? undefined : (opts.layout as Layout),
          boundTh,
          cpu: !!opts.cpu,
          quiet: !!opts.quiet,
        });
        process.stdout.write(formatTable(result.result));
        if (opts.json) {
          writeFileAtomic(opts.json, JSON.stringify(resultJson(result.result, result.dataset), null, 1) + '\n');
          if (!opts.quiet) process.stderr.write(`wrote ${opts.json}\n`);
        }
      } catch (e) {
        if (e instanceof EvalInputError) throw new UserError(e.message);
        throw e;
      }
    });
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
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

export async function runEval(
  pred: string,
  gt: string,
  o: RunEvalOptions,
): Promise<{ result: EvalResult; dataset: boolean }> {
  const folders = openEvalFolders(pred, gt, { layout: o.layout, category: o.category });
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(s);
  };
  for (const n of folders.notes) log(`note: ${n}\n`);
  let backend: CountBackend = cpuBackend;
  let destroy = () => {};
  if (!o.cpu) {
    try {
      const rt = await createNodeRuntime();
      backend = new GpuCountBackend(rt);
      destroy = () => rt.destroy();
    } catch (e) {
      if ((e as { exitCode?: number }).exitCode === 2) throw e; // ROBOTSEG_ADAPTER names no adapter kind
      log(`note: no WebGPU adapter (${(e as Error).message.split('\n')[0]}); computing on the CPU (same numbers)\n`);
    }
  }
  try {
    const result = await evaluate(folders.sequences, backend, {
      protocol: o.protocol,
      keepFirstLast: o.keepFirstLast,
      boundTh: o.boundTh,
      onWarning: (m) => log(`warning: ${m}\n`),
      onProgress:
        process.stderr.isTTY && !o.quiet
          ? (s, d, t) => log(`\r${s}: ${d}/${t} frames`.padEnd(60) + (d === t ? '\n' : ''))
          : undefined,
    });
    return { result, dataset: folders.dataset };
  } finally {
    destroy();
  }
}
