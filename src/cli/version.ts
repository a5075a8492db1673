// `robotseg --version` / `-V`: the package version from the package's own package.json (found from this
// module's location, so it is right from a checkout and from an installed package); with `--verbose`, also
// the WebGPU adapter the engine would use (one line per field, as `robotseg info` names them).
import type { Command } from 'commander';
import { packageInfo } from '../node/package_info.js';
import { createNodeRuntime } from '../node/runtime.js';

/** Lists the flags in `--help`; the flags themselves are handled by `printVersion` before parsing. */
export function registerVersion(program: Command): void {
  program
    .option('-V, --version', 'print the package version (with --verbose: also the WebGPU adapter)')
    .option('--verbose', 'with --version: also print the WebGPU adapter summary');
}

/** When argv (after `node robotseg`) asks for the version, print it and return true. */
export async function printVersion(args: readonly string[]): Promise<boolean> {
  if (args[0] !== '--version' && args[0] !== '-V' && !(args[0] === '--verbose' && /^(--version|-V)$/.test(args[1])))
    return false;
  const { name, version } = packageInfo();
  process.stdout.write(`${name} ${version}\n`);
  if (!args.includes('--verbose')) return true;
  const rt = await createNodeRuntime();
  try {
    const a = rt.adapter;
    const lines = [
      `node:      ${process.version} (${process.platform}-${process.arch})`,
      `adapter:   ${a.description || a.device || 'unknown'} (${a.vendor || '?'}${a.architecture ? ', ' + a.architecture : ''})`,
      `backend:   ${a.backend}${a.source ? ` via ${a.source}` : ''}`,
      `fallback:  ${a.isFallbackAdapter ? 'yes' : 'no'}; software: ${a.software ? 'yes' : 'no'}`,
      `engine:    f16 ${rt.hasF16 ? 'yes' : 'no'}, subgroups ${rt.hasSubgroups ? 'yes' : 'no'}, timestamp-query ${rt.hasTimestamps ? 'yes' : 'no'}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    rt.destroy();
  }
  return true;
}
