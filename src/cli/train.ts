// `robotseg train DATASET --weights INIT --out OUT.safetensors [--config …] [--steps N] [--lr X]
//   [--lr-encoder X] [--freeze PREFIX]... [--target robot|arm|gripper] [--log FILE.jsonl]
//   [--resume CKPT] [--save-every N] [--clip-length N] [--accumulate N] [--prompt MODE] [--corrections N] [--pseudo DIR]
//   [--seed N] [--max-grad-norm X] [--weight-decay X] [--layer-decay X] [--quiet]`
//
// Label-efficient fine-tuning (RobotSeg sec. 4.3) from the first annotated frame of each video of a
// VRS-layout DATASET (src/train/trainer.ts). Everything about the dataset is checked before any GPU
// work. OUT gets the trained weights (model keys only, config embedded: `robotseg track --weights
// OUT` loads it); every --save-every steps and at the end, OUT's checkpoint `<OUT stem>.ckpt.safetensors`
// also holds the AdamW moments and the step, which --resume continues from. --log writes one JSON line
// per step: every loss term, the learning rates, the gradient norm, time and peak pool memory.
import { appendFileSync, statSync, truncateSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeFileAtomic } from '../node/atomic_write.js';
import { canonicalPath, checkDistinct, checkInputDir, checkInputFile, checkOutputFile } from '../node/paths.js';
import { loadModelWithStore, openModelWeights } from '../node/load_model.js';
import { isRobotSegConfig } from '../model/robotseg_config.js';
import { underPrefix } from '../train/params.js';
import { configFile } from './segment.js';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { WeightsFormatError, formatBytes } from '../graph/weights_io.js';
import type { Runtime } from '../graph/runtime.js';
import { ConfigError } from '../model/resolve_config.js';
import { RobotSeg } from '../model/robotseg.js';
import { SAM2 } from '../model/sam2.js';
import { readImage, readMask } from '../node/image_io.js';
import { writeSafetensorsFile } from '../node/safetensors_file.js';
import { TrainDataError, readTrainDataset } from '../node/train_data.js';
import { openWeights } from '../node/weights_file.js';
import type { PromptMode } from '../train/data.js';
import { ROBOTSEG_OPTIM } from '../train/params.js';
import { DEFAULT_TRAIN_OPTIONS, type StepLog, Trainer, type TrainOptions } from '../train/trainer.js';
import { cliRuntime, oneLine, UserError } from './errors.js';
import { ROBOT_TARGETS } from './robot_targets.js';

interface TrainOpts {
  weights?: string;
  out?: string;
  config?: string;
  steps: string;
  lr?: string;
  lrEncoder?: string;
  freeze: string[];
  target: string;
  log?: string;
  resume?: string;
  saveEvery?: string;
  clipLength: string;
  accumulate: string;
  prompt: string;
  pseudo?: string;
  corrections: string;
  seed: string;
  maxGradNorm?: string;
  weightDecay?: string;
  layerDecay?: string;
  quiet?: boolean;
}

const PROMPTS = ['mixed', 'click', 'box', 'mask', 'auto'];

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description(
      'fine-tune SAM 2.1 / RobotSeg on a VRS-layout dataset from one annotated frame per video (cycle, semantic and patch losses)',
    )
    .argument(
      '<dataset>',
      'VRS layout: JPEGImages/<video>/*.jpg and Annotations/<video>/<000|001|002>/*.png (only the first annotated frame is read)',
    )
    .option('--weights <file>', 'initial checkpoint: .safetensors or official .pt (required)')
    .option(
      '--out <file.safetensors>',
      'trained weights (required); the resumable checkpoint goes beside it as <stem>.ckpt.safetensors',
    )
    .option('--config <name|file>', 'model config (default: embedded in the weights, else inferred)')
    .option('--steps <n>', 'optimiser steps (the cosine schedule spans them)', '100')
    .option('--lr <x>', `start learning rate outside the image encoder (default ${ROBOTSEG_OPTIM.lr})`)
    .option('--lr-encoder <x>', `start learning rate of image_encoder.* (default ${ROBOTSEG_OPTIM.lrEncoder})`)
    .option(
      '--freeze <prefix>',
      'key prefix that gets no gradient, e.g. image_encoder (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--target <t>',
      `which annotation folder trains (${ROBOT_TARGETS.join(', ')}); RobotSeg weights also use its class token`,
      'robot',
    )
    .option('--log <file.jsonl>', 'one JSON line per step: losses, learning rates, gradient norm, time, peak memory')
    .option('--resume <ckpt>', 'continue from a checkpoint written by an earlier run (<stem>.ckpt.safetensors)')
    .option('--save-every <n>', 'write the checkpoint every N steps (default: only at the end)')
    .option(
      '--clip-length <n>',
      'cycle clip length, odd (RobotSeg: 7 = [0, s, 2s, 3s, 2s, s, 0])',
      String(DEFAULT_TRAIN_OPTIONS.clipLength),
    )
    .option('--accumulate <n>', 'clips per optimiser step (gradient accumulation)', '1')
    .option(
      '--prompt <mode>',
      `first-frame prompt: ${PROMPTS.join(', ')} (mixed = RobotSeg's 40% category / 40% points / 20% mask)`,
      'mixed',
    )
    .option(
      '--corrections <n>',
      'correction clicks after a click / box prompt, each supervised (RobotSeg: 3)',
      String(DEFAULT_TRAIN_OPTIONS.correctionClicks),
    )
    .option(
      '--pseudo <dir>',
      "pseudo labels <dir>/<video>/<frame stem>.png (default: derived from the image encoder's features)",
    )
    .option('--seed <n>', 'seed of clip, prompt and click sampling', String(DEFAULT_TRAIN_OPTIONS.seed))
    .option('--max-grad-norm <x>', `global gradient-norm clip, 0 = off (default ${DEFAULT_TRAIN_OPTIONS.maxGradNorm})`)
    .option(
      '--weight-decay <x>',
      `AdamW weight decay (default ${ROBOTSEG_OPTIM.weightDecay}; 0 for biases and LayerNorm)`,
    )
    .option('--layer-decay <x>', `layer-wise lr decay on the Hiera trunk (default ${ROBOTSEG_OPTIM.layerDecay})`)
    .option('--quiet', 'print nothing on success (no progress, no summary line)')
    .action(async (dataset: string, opts: TrainOpts) => {
      const summary = await runTrain(dataset, opts);
      if (!opts.quiet) process.stdout.write(`${summary}\n`); // --quiet: nothing at all on success
    });
}

function num(flag: string, v: string | undefined, check: (x: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || !check(x)) throw new UserError(`${flag} '${v}': expected ${what}`);
  return x;
}

const ckptPath = (out: string) => out.replace(/(\.safetensors)?$/i, '.ckpt.safetensors');

/** Parse and check every option; no GPU work. */
export function trainOptions(opts: TrainOpts, isRobotSeg: boolean): Partial<TrainOptions> {
  const steps = num('--steps', opts.steps, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1')!;
  const clipLength = num(
    '--clip-length',
    opts.clipLength,
    (x) => Number.isInteger(x) && x >= 1 && x % 2 === 1,
    'an odd integer >= 1',
  )!;
  const accumulate = num('--accumulate', opts.accumulate, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1')!;
  const seed = num('--seed', opts.seed, (x) => Number.isInteger(x), 'an integer')!;
  const correctionClicks = num(
    '--corrections',
    opts.corrections,
    (x) => Number.isInteger(x) && x >= 0,
    'an integer >= 0',
  )!;
  if (!PROMPTS.includes(opts.prompt))
    throw new UserError(`--prompt '${opts.prompt}': expected one of ${PROMPTS.join(', ')}`);
  if (!(ROBOT_TARGETS as readonly string[]).includes(opts.target))
    throw new UserError(`--target '${opts.target}': expected one of ${ROBOT_TARGETS.join(', ')}`);
  if (opts.prompt === 'auto' && !isRobotSeg)
    throw new UserError(
      '--prompt auto (category only) needs RobotSeg weights; SAM 2.1 trains with click, box, mask or mixed',
    );
  const pos = (x: number) => x >= 0;
  const optim = {
    lr: num('--lr', opts.lr, (x) => x > 0, 'a positive number') ?? ROBOTSEG_OPTIM.lr,
    lrEncoder: num('--lr-encoder', opts.lrEncoder, (x) => x > 0, 'a positive number') ?? ROBOTSEG_OPTIM.lrEncoder,
    weightDecay: num('--weight-decay', opts.weightDecay, pos, 'a number >= 0') ?? ROBOTSEG_OPTIM.weightDecay,
    layerDecay:
      num('--layer-decay', opts.layerDecay, (x) => x > 0 && x <= 1, 'a number in (0, 1]') ?? ROBOTSEG_OPTIM.layerDecay,
  };
  return {
    steps,
    clipLength,
    accumulate,
    seed,
    optim,
    freeze: opts.freeze,
    correctionClicks,
    maxGradNorm: num('--max-grad-norm', opts.maxGradNorm, pos, 'a number >= 0') ?? DEFAULT_TRAIN_OPTIONS.maxGradNorm,
    promptMode: opts.prompt as PromptMode,
    category: isRobotSeg ? opts.target : null,
  };
}

export async function runTrain(dataset: string, opts: TrainOpts): Promise<string> {
  if (!opts.weights) throw new UserError('give --weights FILE (the initial checkpoint)');
  if (!opts.out) throw new UserError('give --out FILE.safetensors');
  const out = resolve(opts.out);
  checkInputDir('dataset', dataset);
  checkInputFile('weights', opts.weights);
  if (opts.resume) checkInputFile('--resume', opts.resume);
  if (opts.pseudo) checkInputDir('--pseudo', opts.pseudo);
  checkOutputFile('--out', opts.out);
  checkOutputFile('the checkpoint (beside --out)', ckptPath(opts.out));
  if (opts.log !== undefined) checkOutputFile('--log', opts.log);
  checkDistinct(
    [
      { what: '--weights', path: opts.weights },
      { what: '--resume', path: opts.resume },
      { what: '--config', path: configFile(opts.config) },
      { what: 'the dataset', path: dataset },
      { what: '--pseudo', path: opts.pseudo },
    ].filter((x) => !(opts.resume && x.what === '--resume')), // resuming may write its checkpoint again
    [
      { what: '--out', path: opts.out },
      { what: 'the checkpoint (beside --out)', path: ckptPath(opts.out) },
      { what: '--log', path: opts.log },
    ],
  );
  if (opts.resume && canonicalPath(opts.resume) === canonicalPath(opts.out))
    throw new UserError(`--resume '${opts.resume}' is --out; give the <stem>.ckpt.safetensors checkpoint`);
  const saveEvery = num('--save-every', opts.saveEvery, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
  // dataset first: a bad dataset fails before the GPU is touched
  let data: ReturnType<typeof readTrainDataset>;
  try {
    data = readTrainDataset(dataset, opts.target, opts.pseudo);
  } catch (e) {
    if (e instanceof TrainDataError) throw new UserError(e.message.replace(/\n\s*/g, '; '));
    throw e;
  }
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(s);
  };
  for (const s of data.skipped) log(`note: skipping ${s}\n`);
  // weights header, config, --freeze prefixes and the --resume header: cheap, before the GPU
  let resolved: Awaited<ReturnType<typeof openModelWeights>>;
  try {
    resolved = await openModelWeights(opts.weights, opts.config);
    await resolved.file.close();
  } catch (e) {
    if (e instanceof WeightsFormatError || e instanceof ConfigError)
      throw new UserError(`weights ${opts.weights}: ${oneLine(e.message)}`);
    throw e;
  }
  const keys = (isRobotSegConfig(resolved.config) ? new RobotSeg(resolved.config) : new SAM2(resolved.config))
    .namedParams()
    .map(([k]) => k);
  for (const prefix of opts.freeze)
    if (!keys.some((k) => underPrefix(k, [prefix])))
      throw new UserError(
        `--freeze '${prefix}' matches no parameter of ${resolved.config.name} (top-level prefixes: ${[...new Set(keys.map((k) => k.split('.')[0]))].join(', ')})`,
      );
  trainOptions(opts, isRobotSegConfig(resolved.config)); // every option checked before the GPU
  if (opts.resume) await checkResumeHeader(opts.resume);
  const rt = await cliRuntime();
  try {
    let loaded: Awaited<ReturnType<typeof loadModelWithStore>>;
    try {
      loaded = await loadModelWithStore(rt, opts.weights, opts.config);
    } catch (e) {
      if (e instanceof WeightsFormatError || e instanceof ConfigError) throw new UserError(e.message);
      throw e;
    }
    const model = loaded.model;
    const options = trainOptions(opts, model instanceof RobotSeg);
    let trainer: Trainer;
    try {
      trainer = new Trainer(
        rt,
        model,
        data.videos,
        { image: async (p) => readImage(p), mask: async (p) => readMask(p) },
        options,
      );
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    if (opts.resume) {
      try {
        await resume(rt, model, trainer, opts.resume);
      } catch (e) {
        if (e instanceof WeightsFormatError) throw new UserError(`--resume ${opts.resume}: ${oneLine(e.message)}`);
        throw e;
      }
    }
    const nParams = trainer.params.reduce((a, p) => a + p.tensor.size, 0);
    log(
      `training ${trainer.params.length} tensors (${(nParams / 1e6).toFixed(2)}M values${options.freeze?.length ? `; frozen: ${options.freeze.join(', ')}` : ''}) of ${loaded.config.name} on ${data.videos.length} video(s), target ${opts.target}, ${rt.adapter.description || rt.adapter.device || 'WebGPU'}\n`,
    );
    if (opts.log && !opts.resume) writeFileAtomic(opts.log, '');
    const total = options.steps!;
    const bar =
      !opts.quiet && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              stream: process.stderr,
              hideCursor: false,
              etaBuffer: 10,
              format:
                'training |{bar}| {value}/{total} steps | loss {loss} (cyc {cyc} sem {sem} patch {patch}) | {sps} s/step | ETA {eta_formatted}',
            },
            cliProgress.Presets.shades_classic,
          )
        : null;
    const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(4));
    bar?.start(total, trainer.step, { loss: '-', cyc: '-', sem: '-', patch: '-', sps: '-' });
    let last: StepLog | null = null;
    const first = trainer.step;
    const t0 = performance.now();
    try {
      while (trainer.step < total) {
        last = await trainer.trainStep();
        if (opts.log) appendLine(opts.log, JSON.stringify(last));
        bar?.update(trainer.step, {
          loss: f(last.loss.total),
          cyc: f(last.loss.cycle),
          sem: f(last.loss.semantic),
          patch: f(last.loss.patch),
          sps: (last.ms / 1000).toFixed(1),
        });
        if (!bar && !opts.quiet)
          log(
            `step ${last.step}/${total}: loss ${f(last.loss.total)} (cycle ${f(last.loss.cycle)}, semantic ${f(last.loss.semantic)}, patch ${f(last.loss.patch)}) grad-norm ${last.gradNorm.toExponential(2)} ${(last.ms / 1000).toFixed(1)} s\n`,
          );
        if (saveEvery && trainer.step % saveEvery === 0 && trainer.step < total)
          await saveCheckpoint(trainer, loaded.config, out);
      }
    } finally {
      bar?.stop();
    }
    await saveCheckpoint(trainer, loaded.config, out);
    const bytes = await saveWeights(trainer, loaded.config, out);
    const secs = (performance.now() - t0) / 1000;
    const ran = trainer.step - first;
    trainer.dispose();
    loaded.store.destroy();
    return `trained ${ran} step(s) in ${secs.toFixed(1)} s${last ? `, final loss ${f(last.loss.total)}` : ''}; wrote ${opts.out} (${formatBytes(bytes)}) and ${ckptPath(opts.out)}`;
  } finally {
    rt.destroy();
  }
}

/** Append one line; on failure (disk full) the file is cut back, so it never ends in a partial line. */
function appendLine(path: string, line: string): void {
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {}
  try {
    appendFileSync(path, `${line}\n`);
  } catch (e) {
    try {
      truncateSync(path, size);
    } catch {}
    throw e;
  }
}

/** --resume must be a robotseg train checkpoint: checked from its header before any GPU work. */
async function checkResumeHeader(path: string): Promise<void> {
  let file: Awaited<ReturnType<typeof openWeights>>;
  try {
    file = await openWeights(path);
  } catch (e) {
    if (e instanceof WeightsFormatError || e instanceof RangeError)
      throw new UserError(`--resume ${path}: not a robotseg train checkpoint (${oneLine(e.message)})`);
    throw e;
  }
  try {
    if (file.metadata?.format !== 'robotseg-train-checkpoint')
      throw new UserError(
        `--resume ${path}: not a robotseg train checkpoint (metadata format '${file.metadata?.format ?? 'none'}'); give the <stem>.ckpt.safetensors written by robotseg train`,
      );
  } finally {
    await file.close();
  }
}

const modelEntries = async (trainer: Trainer) =>
  [...(await trainer.stateDict())].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));

async function saveWeights(trainer: Trainer, config: SAM2['cfg'], out: string): Promise<number> {
  const entries = await modelEntries(trainer);
  const meta = { format: 'robotseg-train', config: JSON.stringify(config), step: String(trainer.step) };
  const byName = new Map(entries.map((e) => [e.name, e.data]));
  const { bytes } = await writeSafetensorsFile(
    out,
    entries.map((e) => ({ name: e.name, dtype: 'F32' as const, shape: e.shape })),
    async (e) => byName.get(e.name)!,
    { metadata: meta },
  );
  return bytes;
}

async function saveCheckpoint(trainer: Trainer, config: SAM2['cfg'], out: string): Promise<void> {
  const model = await modelEntries(trainer);
  const optim = await trainer.optimizerState();
  const all = [...model, ...[...optim.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }))];
  const byName = new Map(all.map((e) => [e.name, e.data]));
  const meta = {
    format: 'robotseg-train-checkpoint',
    config: JSON.stringify(config),
    step: String(optim.step),
    options: JSON.stringify({ ...trainer.opts, weights: undefined }),
  };
  await writeSafetensorsFile(
    ckptPath(out),
    all.map((e) => ({ name: e.name, dtype: 'F32' as const, shape: e.shape })),
    async (e) => byName.get(e.name)!,
    { metadata: meta },
  );
}

/** Model weights, AdamW moments and the step from a checkpoint written by saveCheckpoint. */
async function resume(rt: Runtime, model: SAM2, trainer: Trainer, path: string): Promise<void> {
  const file = await openWeights(path);
  try {
    if (file.metadata?.format !== 'robotseg-train-checkpoint')
      throw new UserError(
        `--resume ${path}: not a robotseg train checkpoint (metadata format '${file.metadata?.format ?? 'none'}'); give the <stem>.ckpt.safetensors written by robotseg train`,
      );
    const step = Number(file.metadata.step);
    if (!Number.isInteger(step) || step < 0)
      throw new UserError(`--resume ${path}: bad step '${file.metadata.step}' in the metadata`);
    for (const [key, p] of model.namedParams()) {
      const h = file.header.get(key);
      if (!h) throw new UserError(`--resume ${path}: no tensor '${key}' (a checkpoint of another model?)`);
      if (h.shape.join() !== p.shape.join())
        throw new UserError(
          `--resume ${path}: '${key}' is [${h.shape.join(', ')}], the model's is [${p.shape.join(', ')}]`,
        );
      rt.write(p.t, await file.readTensor(key));
    }
    const optim = new Map<string, Float32Array>();
    for (const k of file.header.keys()) if (k.startsWith('adam.')) optim.set(k, await file.readTensor(k));
    try {
      trainer.loadOptimizerState(step, (k) => optim.get(k));
    } catch (e) {
      throw new UserError(`--resume ${path}: ${(e as Error).message}`);
    }
  } finally {
    await file.close();
  }
}
