// `robotseg convert IN.pt OUT.safetensors [--dtype f32|f16] [--config NAME|FILE]`: PyTorch
// checkpoint -> safetensors, tensor by tensor (neither file is ever held in memory whole).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError, resolveConfig } from '../model/resolve_config.js';
import { checkDistinct, checkInputFile, checkOutputFile } from '../node/paths.js';
import { configFile } from './segment.js';
import type { Command } from 'commander';
import { type WeightDType, type WeightsFile, formatBytes } from '../graph/weights_io.js';
import { parseConfig } from '../model/config.js';
import { writeSafetensorsFile } from '../node/safetensors_file.js';
import { readCheckpointFile } from '../node/weights_file.js';
import { oneLine, UserError, userErrors } from './errors.js';

/** Options of convertCheckpoint (the `robotseg convert` flags). */
export interface ConvertOptions {
  /** Output dtype: 'f32' (F32 sources copied bit for bit) or 'f16'. */
  dtype: string;
  /** Built-in config name or JSON file, embedded in the output's metadata. */
  config?: string;
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert a PyTorch checkpoint (.pt, torch.save zip format) to .safetensors')
    .argument('<in>', 'input checkpoint (.pt)')
    .argument('<out>', 'output file (.safetensors)')
    .option('--dtype <dtype>', 'output dtype: f32 or f16', 'f32')
    .option('--config <name|file>', 'model config to embed in the metadata: a built-in name or a JSON file')
    .action(async (input: string, output: string, opts: ConvertOptions) => {
      const summary = await convertCheckpoint(input, output, opts);
      process.stdout.write(`${summary}\n`);
    });
}

/** Convert and return a one-line summary; user-fixable problems throw UserError (exit code 2). */
export async function convertCheckpoint(input: string, output: string, opts: ConvertOptions): Promise<string> {
  const dtype = parseDtype(opts.dtype);
  const config = opts.config === undefined ? undefined : loadConfig(opts.config);
  checkPaths(input, output, opts.config);
  const ckpt = await userErrors(null, () => readCheckpointFile(input));
  try {
    if (config !== undefined) {
      // the config goes into the file's metadata: it must fit the tensors (keys and shapes)
      const shapes = new Map([...ckpt.header].map(([k, t]) => [k, t.shape]));
      try {
        resolveConfig(shapes, {}, parseConfig(config));
      } catch (e) {
        if (e instanceof ConfigError) throw new UserError(`--config ${opts.config}: ${oneLine(e.message)}`);
        throw e;
      }
    }
    const metadata: Record<string, string> = { format: 'pt', source: basename(input) };
    if (config !== undefined) metadata.config = config;
    const entries = [...ckpt.header].map(([name, t]) => ({ name, dtype, shape: t.shape }));
    const { bytes } = await userErrors(null, () =>
      writeSafetensorsFile(output, entries, (e) => tensorData(ckpt, e.name, dtype), { metadata }),
    );
    return `converted ${input} -> ${output}: ${entries.length} tensors, ${formatBytes(bytes)} (${opts.dtype})`;
  } finally {
    await ckpt.close();
  }
}

function parseDtype(v: string): WeightDType {
  if (v === 'f32') return 'F32';
  if (v === 'f16') return 'F16';
  throw new UserError(`--dtype must be f32 or f16, got '${v}'`);
}

/** Built-in config name or JSON file -> compact JSON text of the validated config. */
function loadConfig(nameOrFile: string): string {
  let text = nameOrFile;
  if (existsSync(nameOrFile) && statSync(nameOrFile).isFile()) text = readFileSync(nameOrFile, 'utf8');
  try {
    return JSON.stringify(parseConfig(text));
  } catch (e) {
    throw new UserError(`--config ${nameOrFile}: ${oneLine((e as Error).message)}`);
  }
}

function checkPaths(input: string, output: string, configArg?: string): void {
  checkInputFile('checkpoint', input);
  checkOutputFile('output', output);
  checkDistinct(
    [
      { what: 'the input', path: input },
      { what: '--config', path: configFile(configArg) },
    ],
    [{ what: 'the output', path: output }],
  );
}

/** F32 output keeps the source bits (F32 sources are copied exactly); F16 output is converted from float32. */
async function tensorData(ckpt: WeightsFile, key: string, dtype: WeightDType): Promise<Float32Array | Uint8Array> {
  const src = ckpt.header.get(key)!.dtype;
  if (src === dtype) return ckpt.readRaw(key);
  return ckpt.readTensor(key);
}
