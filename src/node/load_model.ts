// Node: weights file (.safetensors or .pt, recognised by content) + optional config argument ->
// a loaded SAM2 on the GPU. Shared by `segment` and later `track` / `eval`.
// Order: open the file (headers only), resolve the config (src/model/resolve_config.ts: --config >
// embedded metadata > inferred from shapes), check the layout, then stream the tensors to the GPU and
// bind them strictly. Everything before the upload is cheap, so user mistakes fail fast.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Runtime } from '../graph/runtime.js';
import { type WeightStore, uploadWeights } from '../graph/weights.js';
import { firstNonFiniteWeight } from '../model/weights_check.js';
import type { WeightsFile } from '../graph/weights_io.js';
import { BUILTIN_CONFIGS, parseConfig, type Sam2Config } from '../model/config.js';
import { ConfigError, type ResolvedConfig, resolveConfig } from '../model/resolve_config.js';
import { RobotSeg } from '../model/robotseg.js';
import { isRobotSegConfig } from '../model/robotseg_config.js';
import { SAM2 } from '../model/sam2.js';
import { type Precision, weightDtypes } from '../model/module.js';
import { openWeights } from './weights_file.js';

/** `--config` value: a built-in name, a JSON file, or JSON text. Throws ConfigError. */
export function readConfigArg(arg: string): Sam2Config {
  if (arg in BUILTIN_CONFIGS) return BUILTIN_CONFIGS[arg];
  let text = arg;
  if (!arg.trimStart().startsWith('{')) {
    if (!existsSync(arg))
      throw new ConfigError(
        `--config ${arg}: neither a built-in config (${Object.keys(BUILTIN_CONFIGS).join(', ')}) nor an existing file`,
      );
    if (!statSync(arg).isFile()) throw new ConfigError(`--config ${arg}: not a file`);
    text = readFileSync(arg, 'utf8');
  }
  try {
    return parseConfig(text);
  } catch (e) {
    throw new ConfigError(`--config ${arg}: ${(e as Error).message.replace(/\s*\n\s*/g, ' ')}`);
  }
}

export interface LoadModelOptions {
  /** Called after each tensor upload: (done, total, key). */
  onProgress?: (done: number, total: number, key: string) => void;
  /** Called once the config is resolved, before the upload. */
  onConfig?: (r: ResolvedConfig) => void;
  /** Scan the uploaded weights for NaN / Inf on the GPU (default true). */
  checkFinite?: boolean;
  /**
   * 'f16' stores the heavy layers' weights (linear / conv / transposed conv) as f16, read by the
   * kernels with f32 accumulation; needs the adapter feature shader-f16. Default 'f32'.
   */
  precision?: Precision;
}

/** precision 'f16' on an adapter without shader-f16: a user error (exit code 2). */
export class PrecisionError extends Error {
  readonly exitCode = 2;
}

/** The adapter's name as `robotseg info` shows it. */
export function adapterName(rt: Runtime): string {
  const a = rt.adapter;
  return a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'this adapter';
}

/** Weights holding NaN or Inf: a user error (exit code 2) naming the first such tensor. */
export class NonFiniteWeightsError extends Error {
  readonly exitCode = 2;
}

export interface LoadedModel extends ResolvedConfig {
  model: SAM2;
  /** The GPU arenas holding the weights (destroy when done with the model). */
  store: WeightStore;
  format: WeightsFile['format'];
}

/** Open the weights and resolve the config without touching the GPU. Caller closes the file. */
export async function openModelWeights(
  weightsPath: string,
  configArg?: string | Sam2Config,
): Promise<{ file: WeightsFile } & ResolvedConfig> {
  const explicit = typeof configArg === 'string' ? readConfigArg(configArg) : configArg;
  const file = await openWeights(weightsPath);
  try {
    const shapes = new Map([...file.header].map(([k, t]) => [k, t.shape]));
    try {
      return { file, ...resolveConfig(shapes, file.metadata, explicit) };
    } catch (e) {
      // Last resort when nothing else identifies the layout: a config.json beside the weights file
      // (as the golden and Hugging Face layouts ship it). Never overrides --config or metadata.
      const side = join(dirname(weightsPath), 'config.json');
      if (explicit || !(e instanceof ConfigError) || !existsSync(side)) throw e;
      const r = resolveConfig(shapes, file.metadata, readConfigArg(side));
      return { file, config: r.config, source: 'sidecar' };
    }
  } catch (e) {
    await file.close();
    throw e;
  }
}

/** Load a SAM 2.1 or RobotSeg checkpoint onto `rt` (a RobotSeg config gives a RobotSeg), returning the model with its weights and config source. */
export async function loadModelWithStore(
  rt: Runtime,
  weightsPath: string,
  configArg?: string | Sam2Config,
  opts: LoadModelOptions = {},
): Promise<LoadedModel> {
  return loadOpenedModel(rt, weightsPath, await openModelWeights(weightsPath, configArg), opts);
}

/**
 * The GPU half of loadModelWithStore, for a file already opened by openModelWeights (a front end
 * that checked the config before creating the runtime opens the checkpoint once). Closes the file.
 */
export async function loadOpenedModel(
  rt: Runtime,
  weightsPath: string,
  opened: { file: WeightsFile } & ResolvedConfig,
  opts: LoadModelOptions = {},
): Promise<LoadedModel> {
  const { file, config, source } = opened;
  const precision = opts.precision ?? 'f32';
  if (precision === 'f16' && !rt.hasF16) {
    await file.close();
    throw new PrecisionError(`precision f16 needs the adapter feature shader-f16, which ${adapterName(rt)} lacks`);
  }
  opts.onConfig?.({ config, source });
  const model = isRobotSegConfig(config) ? new RobotSeg(config) : new SAM2(config); // RobotSeg: SAM2 subclass
  let store: WeightStore;
  try {
    store = await uploadWeights(rt, file, { onProgress: opts.onProgress, dtype: weightDtypes(model, precision) });
  } finally {
    await file.close();
  }
  try {
    if (opts.checkFinite !== false) {
      const bad = await firstNonFiniteWeight(rt, store);
      if (bad) {
        const half = store.entry(bad.key).dtype === 'f16';
        throw new NonFiniteWeightsError(
          `weights ${weightsPath}: tensor '${bad.key}' holds ${bad.count} NaN or Inf value${bad.count === 1 ? '' : 's'} (of ${bad.total})${half ? ' when stored as f16 (a value beyond ±65504 overflows: use --precision f32)' : '; the checkpoint is damaged'}`,
        );
      }
    }
    await model.load(rt, store);
    return { model, store, config, source, format: file.format };
  } catch (e) {
    store.destroy();
    throw e;
  }
}

/** loadModel(rt, weightsPath, configArg?) -> SAM2 (the weights stay alive with the runtime). */
export async function loadModel(
  rt: Runtime,
  weightsPath: string,
  configArg?: string | Sam2Config,
  opts: LoadModelOptions = {},
): Promise<SAM2> {
  return (await loadModelWithStore(rt, weightsPath, configArg, opts)).model;
}
