import type { Runtime } from '../graph/runtime.js';
import { WeightsFormatError } from '../graph/weights_io.js';
import { ConfigError } from '../model/resolve_config.js';
import type { Precision } from '../model/module.js';
import { adapterName } from '../node/load_model.js';
import { createNodeRuntime } from '../node/runtime.js';
import { showCompileProgress } from './compile_progress.js';

/** An error caused by the user's input: printed as one line, exit code 2. */
export class UserError extends Error {
  readonly exitCode = 2;
}

/** A multi-line message as one line (the CLI prints errors on one line). */
export const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Run `fn`; errors the user can fix become one-line UserErrors (exit code 2), anything else is a bug
 * and passes. User errors: UserError as is; ConfigError and the command's own input errors (`input`:
 * frame sources, video writers, datasets…) by their message; weight-file format and file-system
 * errors (a `code` such as ENOENT) prefixed with `what` (none when null).
 */
export async function userErrors<T>(
  what: string | null,
  fn: () => Promise<T> | T,
  input: readonly ErrorClass[] = [],
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err instanceof UserError) throw err;
    if (err instanceof ConfigError || input.some((c) => err instanceof c)) throw new UserError(oneLine(err.message));
    if (err instanceof WeightsFormatError || typeof err.code === 'string')
      throw new UserError(what === null ? oneLine(err.message) : `${what}: ${oneLine(err.message)}`);
    throw e;
  }
}

/**
 * The Node WebGPU runtime, or a UserError saying what to install (no adapter is the user's to fix).
 * With `precision` 'f16', an adapter without shader-f16 is a UserError naming the adapter.
 * Prints "compiling kernels n/N" on stderr while first-run compilation takes long, unless --quiet.
 */
export async function cliRuntime(opts: { quiet?: boolean; precision?: Precision } = {}): Promise<Runtime> {
  let rt: Runtime;
  try {
    rt = await createNodeRuntime();
  } catch (e) {
    throw new UserError(`no usable WebGPU adapter: ${oneLine((e as Error).message)}`);
  }
  if (opts.precision === 'f16' && !rt.hasF16) {
    const name = adapterName(rt);
    rt.destroy();
    throw new UserError(`--precision f16 needs the adapter feature shader-f16, which ${name} lacks`);
  }
  if (!(opts.quiet ?? process.argv.includes('--quiet'))) showCompileProgress(rt);
  return rt;
}

/**
 * Model outputs must be finite: NaN or Inf logits threshold to an empty (or full) mask that looks like
 * a result. Throws a UserError naming the output (exit code 2).
 */
export function checkFiniteOutput(name: string, values: ArrayLike<number>): void {
  let bad = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
  if (bad)
    throw new UserError(
      `the model produced ${bad} NaN or Inf value${bad === 1 ? '' : 's'} in ${name} (of ${values.length}); the weights or the input are unusable, no output was written`,
    );
}

/** Help of every command's --precision flag. */
export const PRECISION_HELP =
  'f32 (default) or f16: linear / conv weights and the activations that allow it (memory bank, MLP hidden layers) stored as f16, f32 accumulation (needs the adapter feature shader-f16; docs/precision.md)';

/** `--precision` value: f32 (default) or f16. */
export function parsePrecision(v: string | undefined): Precision {
  if (v === undefined || v === 'f32' || v === 'f16') return v ?? 'f32';
  throw new UserError(`--precision must be f32 or f16, got '${v}'`);
}
