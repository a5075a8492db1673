// `robotseg init-robotseg --from SAM21.safetensors|.pt --out RS.safetensors [--seed N] [--config NAME|FILE]`
//
// A RobotSeg starting checkpoint (the starting point for training): every SAM 2.1 tensor copied
// unchanged (same dtype, same bits), plus the tensors RobotSeg adds (robotsegAddedKeys) initialised
// as the fork initialises them (PyTorch module defaults, docs/reference/robotseg-architecture.md sec. 5 / 6):
//   - Linear and Conv2d weights: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in));
//     biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (fan_in = in_channels / groups * kh * kw);
//   - GroupNorm: weight 1, bias 0;
//   - Embedding (class-token bank, no-memory placeholder): N(0, 1);
//   - structure_strength: the config's structure_strength_default_init (1.0).
// Random values come from a seeded generator of this project (--seed, default 0): the same seed
// gives the same file, but PyTorch's RNG stream is NOT reproduced (the values differ from a torch
// run with the same seed; only the distributions match). The RobotSeg config goes into the
// `__metadata__` ('config', compact JSON), so the file loads without --config.
// Config: --config (a RobotSeg config: built-in robotseg_hiera_t or a JSON file with a 'robotseg'
// block); by default robotseg_hiera_t when the source is the official SAM 2.1 tiny layout.
import { basename } from 'node:path';
import { checkDistinct, checkInputFile, checkOutputFile } from '../node/paths.js';
import { configFile } from './segment.js';
import type { Command } from 'commander';
import { shapeStr } from '../graph/dtype.js';
import { WeightsFormatError, formatBytes } from '../graph/weights_io.js';
import type { Sam2Config } from '../model/config.js';
import { ConfigError } from '../model/resolve_config.js';
import { ROBOTSEG_HIERA_T, isRobotSegConfig, robotsegAddedKeys, robotsegSpec } from '../model/robotseg_config.js';
import { RobotSeg } from '../model/robotseg.js';
import { readConfigArg } from '../node/load_model.js';
import { writeSafetensorsFile } from '../node/safetensors_file.js';
import { openWeights } from '../node/weights_file.js';
import { oneLine, UserError } from './errors.js';
import { mulberry32 } from '../util/rng.js';

interface InitOpts {
  from?: string;
  out?: string;
  seed?: string;
  config?: string;
  quiet?: boolean;
}

export function registerInitRobotseg(program: Command): void {
  program
    .command('init-robotseg')
    .description('make a RobotSeg starting checkpoint from SAM 2.1 weights (new modules initialised as RobotSeg does)')
    .requiredOption('--from <file>', 'SAM 2.1 checkpoint: .safetensors or official .pt')
    .requiredOption(
      '--out <file>',
      'output .safetensors (SAM 2.1 tensors unchanged + the RobotSeg additions, config embedded)',
    )
    .option('--seed <n>', 'seed of the initialisation (integer >= 0)', '0')
    .option(
      '--config <name|file>',
      'RobotSeg config: robotseg_hiera_t or a JSON file with a robotseg block (default: robotseg_hiera_t for the SAM 2.1 tiny layout)',
    )
    .action(async (opts: InitOpts) => {
      process.stdout.write(`${await runInitRobotseg(opts)}\n`);
    });
}

/** Deterministic generator (mulberry32; Box-Muller normals). Not PyTorch's Mersenne-Twister/Philox stream. */
export function initRng(seed: number) {
  const next = mulberry32((seed >>> 0) ^ 0x9e3779b9);
  return {
    uniform: (lo: number, hi: number) => lo + (hi - lo) * next(),
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}

/**
 * Values of one added tensor (name, shape) under RobotSeg's initialisation. `fanIn` of a weight is
 * shape[1] * prod(shape[2..]) (Linear [out, in], Conv2d [out, in/groups, kh, kw]); a bias uses its
 * weight's fan_in (given by the caller).
 */
export function initAddedTensor(
  name: string,
  shape: readonly number[],
  rng: ReturnType<typeof initRng>,
  fanInOfBias: (name: string) => number,
  alphaInit: number,
): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const uniform = (bound: number) => {
    for (let i = 0; i < n; i++) out[i] = rng.uniform(-bound, bound);
  };
  if (name.endsWith('structure_strength')) out.fill(alphaInit);
  else if (name.endsWith('.norm.weight'))
    out.fill(1); // GroupNorm
  else if (name.endsWith('.norm.bias')) out.fill(0);
  else if (name.endsWith('robot_token_embedding.weight') || name.endsWith('no_memory_prompt_embeddings_fg.weight')) {
    for (let i = 0; i < n; i++) out[i] = rng.normal(); // nn.Embedding: N(0, 1)
  } else if (name.endsWith('.weight')) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    uniform(1 / Math.sqrt(fanIn)); // kaiming_uniform(a=sqrt(5)): gain sqrt(2/6) * sqrt(3/fan_in)
  } else if (name.endsWith('.bias')) uniform(1 / Math.sqrt(fanInOfBias(name)));
  else throw new Error(`init-robotseg: no initialisation rule for '${name}'`);
  return out;
}

export async function runInitRobotseg(opts: InitOpts): Promise<string> {
  if (!opts.from) throw new UserError('--from FILE is required (a SAM 2.1 checkpoint)');
  if (!opts.out) throw new UserError('--out FILE is required');
  const seedStr = opts.seed ?? '0';
  if (!/^\d+$/.test(seedStr.trim()) || !Number.isSafeInteger(Number(seedStr)))
    throw new UserError(`--seed '${seedStr}': expected an integer >= 0`);
  const seed = Number(seedStr);
  checkInputFile('--from', opts.from);
  checkOutputFile('--out', opts.out);
  checkDistinct(
    [
      { what: '--from', path: opts.from },
      { what: '--config', path: configFile(opts.config) },
    ],
    [{ what: '--out', path: opts.out }],
  );

  let cfg: Sam2Config;
  try {
    cfg = opts.config === undefined ? ROBOTSEG_HIERA_T : readConfigArg(opts.config);
  } catch (e) {
    throw new UserError(oneLine((e as Error).message));
  }
  if (!isRobotSegConfig(cfg))
    throw new UserError(
      `--config ${opts.config}: '${cfg.name}' is a SAM 2.1 config; init-robotseg needs a RobotSeg config (robotseg_hiera_t or a JSON file with a 'robotseg' block)`,
    );
  let spec: ReturnType<typeof robotsegSpec>;
  try {
    spec = robotsegSpec(cfg);
  } catch (e) {
    throw new UserError(oneLine((e as Error).message));
  }

  let file: Awaited<ReturnType<typeof openWeights>>;
  try {
    file = await openWeights(opts.from);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err instanceof WeightsFormatError || typeof err.code === 'string')
      throw new UserError(`--from ${opts.from}: ${oneLine(err.message)}`);
    throw e;
  }
  try {
    const shapes = new Map([...file.header].map(([k, t]) => [k, t.shape]));
    const added = robotsegAddedKeys(cfg);
    const addedNames = new Set(added.map((a) => a.name));
    const already = [...shapes.keys()].filter((k) => addedNames.has(k));
    if (already.length)
      throw new UserError(`--from ${opts.from} is already a RobotSeg checkpoint (has '${already[0]}')`);
    // the SAM part must fit the RobotSeg config's SAM part exactly
    const want = new RobotSeg(cfg).namedParams().map(([k, p]) => [k, p.shape] as const);
    const samWant = new Map(want.filter(([k]) => !addedNames.has(k)));
    for (const [k, s] of shapes) {
      const w = samWant.get(k);
      if (!w)
        throw new UserError(
          `--from ${opts.from}: unexpected key '${k}' ${shapeStr(s)} for config '${cfg.name}'${opts.config === undefined ? ' (pass --config for a non-tiny layout)' : ''}`,
        );
      if (w.length !== s.length || w.some((d, i) => d !== s[i]))
        throw new UserError(
          `--from ${opts.from}: '${k}' has shape ${shapeStr(s)}, config '${cfg.name}' expects ${shapeStr(w)}`,
        );
    }
    for (const [k, w] of samWant)
      if (!shapes.has(k))
        throw new UserError(`--from ${opts.from}: missing key '${k}' (config '${cfg.name}' expects ${shapeStr(w)})`);

    // initialise the added tensors in module order (one seeded stream, walked in robotsegAddedKeys order)
    const rng = initRng(seed);
    const shapeOf = new Map(added.map((a) => [a.name, a.shape]));
    const fanInOfBias = (bias: string) => {
      const w = shapeOf.get(bias.replace(/\.bias$/, '.weight'))!;
      return w.slice(1).reduce((a, b) => a * b, 1);
    };
    const values = new Map(
      added.map((a) => [a.name, initAddedTensor(a.name, a.shape, rng, fanInOfBias, spec.sema.alphaInit)]),
    );
    const entries = want.map(([k, s]) => ({
      name: k,
      dtype: addedNames.has(k) ? ('F32' as const) : file.header.get(k)!.dtype,
      shape: [...s],
    }));
    const metadata: Record<string, string> = {
      format: 'robotseg-init',
      config: JSON.stringify(cfg),
      source: basename(opts.from),
      seed: String(seed),
      init: "RobotSeg defaults: Linear/Conv2d kaiming_uniform(a=sqrt(5)) + U(+-1/sqrt(fan_in)) bias, GroupNorm 1/0, Embedding N(0,1), structure_strength default; project RNG (not torch's stream)",
    };
    const { bytes } = await writeSafetensorsFile(
      opts.out,
      entries,
      async (e) => values.get(e.name) ?? file.readRaw(e.name),
      { metadata },
    );
    const nAdded = added.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    return `init-robotseg ${opts.from} -> ${opts.out}: ${shapes.size} SAM 2.1 tensors copied + ${added.length} RobotSeg tensors (${nAdded.toLocaleString('en-US')} values, seed ${seed}), config ${cfg.name} embedded, ${formatBytes(bytes)}`;
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError(oneLine(e.message));
    throw e;
  } finally {
    await file.close();
  }
}
