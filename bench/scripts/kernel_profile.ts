// Per-kernel GPU time of one bench case: every dispatch becomes its own compute pass (a flush after
// each), timed with timestamp queries, summed per kernel label. Shows where a model stage spends its
// time; the per-dispatch flushes add host overhead, so only the GPU column is meaningful.
//   npx tsx bench/scripts/kernel_profile.ts --case sam2_video/memory_attention [--reps 3] [--top 25]
import { parseArgs } from 'node:util';
import { KernelFamily } from '../../src/graph/kernel.js';
import { createNodeRuntime } from '../../src/node/runtime.js';
import { adapterName, discoverCases } from '../harness.js';

const { values } = parseArgs({
  options: { case: { type: 'string' }, reps: { type: 'string', default: '3' }, top: { type: 'string', default: '25' } },
});
if (!values.case?.includes('/')) {
  console.error('kernel_profile: --case FAMILY/IMPL needed, e.g. sam2_video/memory_attention');
  process.exit(2);
}
const [family, impl] = values.case.split('/');
const rt = await createNodeRuntime();
if (!rt.hasTimestamps) {
  console.error(`kernel_profile: the adapter ${adapterName(rt)} has no timestamp-query`);
  process.exit(2);
}
const found = (await discoverCases()).cases.filter((c) => c.file === family && (c.impl ?? '') === impl);
if (found.length === 0) {
  console.error(`kernel_profile: no bench case ${values.case}`);
  process.exit(2);
}
const run = await found[0].setup(rt, { full: false } as never);
run.run(); // warm-up: pipelines compile at the first dispatch
await rt.sync();

const labels: string[] = [];
const orig = KernelFamily.prototype.run;
KernelFamily.prototype.run = function (this: KernelFamily, spec) {
  orig.call(this, spec);
  // matmul / conv params name the problem size: keep them in the label
  const p = spec.params ?? {};
  const dims = ['M', 'N', 'K', 'Cin', 'Cout', 'OH', 'OW', 'KH']
    .filter((d) => typeof p[d] === 'number')
    .map((d) => `${d}${p[d]}`);
  labels.push(`${spec.label ?? 'unlabelled'}${dims.length ? ` ${dims.join(' ')}` : ''}`);
  rt.flush();
};
const total = new Map<string, { ms: number; n: number }>();
const reps = Number(values.reps);
for (let r = 0; r < reps; r++) {
  labels.length = 0;
  rt.profileStart();
  run.run();
  rt.flush();
  // biome-ignore lint/suspicious/noExplicitAny: reads the runtime's private profiling state
  const reads: Promise<number>[] = [...((rt as any).profiling?.reads ?? [])];
  await rt.profileStop();
  const ns = await Promise.all(reads);
  ns.forEach((v, i) => {
    const k = labels[i] ?? '?';
    const e = total.get(k) ?? { ms: 0, n: 0 };
    e.ms += v / 1e6 / reps;
    e.n += 1 / reps;
    total.set(k, e);
  });
}
KernelFamily.prototype.run = orig;
const rows = [...total.entries()].sort((a, b) => b[1].ms - a[1].ms);
const sum = rows.reduce((s, [, e]) => s + e.ms, 0);
console.log(`adapter: ${adapterName(rt)}; ${values.case}: ${sum.toFixed(1)} ms GPU over ${rows.length} kernels`);
for (const [k, e] of rows.slice(0, Number(values.top)))
  console.log(
    `${e.ms.toFixed(2).padStart(9)} ms ${((100 * e.ms) / sum).toFixed(1).padStart(5)} %  x${e.n.toFixed(0).padStart(3)}  ${k}`,
  );
run.dispose?.();
rt.destroy();
