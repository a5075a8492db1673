// Vitest reporter of the GPU-check archive (tests/reporter.mjs): appends one JSON line per finished
// test file to GPU_CHECK_RESULTS, so results survive a run cut short by the time limit.
import { appendFileSync } from 'node:fs';

const firstLine = (s) =>
  String(s ?? '')
    .split('\n')[0]
    .slice(0, 300);

export default class GpuCheckReporter {
  onTestModuleEnd(mod) {
    const tests = [...mod.children.allTests()];
    const by = (s) => tests.filter((t) => t.result().state === s);
    const failed = by('failed');
    const moduleErrors = mod.errors().map((e) => firstLine(e.message));
    const line = {
      file: mod.moduleId.split('/').pop(),
      state: mod.state(),
      passed: by('passed').length,
      failed: failed.length,
      skipped: by('skipped').length + by('pending').length,
      seconds: mod.diagnostic().duration / 1000,
      failures: [
        ...moduleErrors,
        ...failed.slice(0, 5).map((t) => `${t.fullName}: ${firstLine(t.result().errors?.[0]?.message)}`),
      ],
    };
    appendFileSync(process.env.GPU_CHECK_RESULTS, `${JSON.stringify(line)}\n`);
  }
}
