import { createNodeRuntime } from './src/node/runtime.js';
const rt = await createNodeRuntime();
async function time(f: () => void, reps = 7) {
  f(); await rt.sync();
  let best = Infinity;
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); f(); await rt.sync(); best = Math.min(best, performance.now() - t0); }
  return best;
}
for (let round = 0; round < 3; round++) for (const [rows, c] of [[4096, 384], [65536, 96]]) {
  const x2 = rt.upload(new Float32Array(rows * c).map(() => Math.random()), [rows, c]);
  const w2 = rt.upload(new Float32Array(c).fill(1), [c]); const b2 = rt.zeros([c]); const y2 = rt.empty([rows, c]);
  const res: string[] = [];
  for (const TWOPASS of [0, 1]) {
    const ms = await time(() => rt.kernel('norm').run({ defines: { LN_FWD: 1, VEC4: 1, TWOPASS }, constants: { WG: 128 }, bindings: { x: x2, w: w2, b: b2, y: y2 }, params: { rows, c, eps: 1e-6 }, groups: rt.groups1d(rows, 128) }));
    res.push(`twopass=${TWOPASS} ${ms.toFixed(2)}ms`);
  }
  console.log(`${rows}x${c}`, res.join('  '));
  x2.dispose(); w2.dispose(); b2.dispose(); y2.dispose();
}
rt.destroy();
