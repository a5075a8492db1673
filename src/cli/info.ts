// `robotseg info`: adapter, backend, fallback or not, features and the limits that matter.
import type { Command } from 'commander';
import { limitsReport } from '../graph/device.js';
import { cliRuntime } from './errors.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('print the WebGPU adapter, its features and limits')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const rt = await cliRuntime();
      const report = {
        adapter: rt.adapter,
        features: [...rt.features].sort(),
        engineFeatures: { f16: rt.hasF16, subgroups: rt.hasSubgroups, timestampQuery: rt.hasTimestamps },
        kernelVariants: rt.adapter.software
          ? 'software (register-blocked, no workgroup barriers)'
          : 'hardware (workgroup-memory tiling)',
        limits: limitsReport(rt.limits),
      };
      if (opts.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        const a = rt.adapter;
        const lines = [
          `adapter:   ${a.description || a.device} (${a.vendor}${a.architecture ? ', ' + a.architecture : ''})`,
          `backend:   ${a.backend}${a.source ? ` via ${a.source}` : ''}`,
          `fallback:  ${a.isFallbackAdapter ? 'yes' : 'no'}; software: ${a.software ? 'yes' : 'no'}`,
          `features:  ${report.features.join(', ')}`,
          `engine:    f16 ${rt.hasF16 ? 'yes' : 'no'}, subgroups ${rt.hasSubgroups ? 'yes' : 'no'}, timestamp-query ${rt.hasTimestamps ? 'yes' : 'no'}; kernels: ${report.kernelVariants}`,
          'limits:',
          ...Object.entries(report.limits).map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      rt.destroy();
    });
}
