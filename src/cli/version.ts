// `robotseg --version` / `-V`: the package version, read at run time from the package's own package.json
// (found from this module's location by src/node/package_info.ts, so it is right from a checkout, from the
// installed package's dist/, from any working directory and after `npm version` without a rebuild).
// `--version --verbose` also prints the WebGPU adapter the engine would use, as `robotseg info` names it.
import { packageInfo } from '../node/package_info.js';
import { createNodeRuntime } from '../node/runtime.js';

export function packageVersion(): string {
  return packageInfo().version;
}

/** When argv (after `node robotseg`) is `--version --verbose` (either order, -V too): the version line, then the adapter; returns true. */
export async function printVerboseVersion(args: readonly string[]): Promise<boolean> {
  const flags = new Set(args);
  if (args.length !== 2 || !flags.has('--verbose') || !(flags.has('--version') || flags.has('-V'))) return false;
  process.stdout.write(`${packageInfo().version}\n`); // as plain --version prints it (commander)
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
