import { createNodeRuntime } from './src/node/runtime.js';
const rt = await createNodeRuntime();
async function time(label: string, f: () => void, reps = 9) {
  f(); await rt.sync();
  let best = Infinity;
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); f(); await rt.sync(); best = Math.min(best, performance.now() - t0); }
  console.log(label.padEnd(50), best.toFixed(2), 'ms');
}
for (const [rows, c] of [[4096, 384], [65536, 96]]) {
  const x2 = rt.upload(new Float32Array(rows * c).map(() => Math.random()), [rows, c]);
  const w2 = rt.upload(new Float32Array(c).fill(1), [c]); const b2 = rt.zeros([c]); const y2 = rt.empty([rows, c]);
  for (const WG of [32, 64, 128, 256]) {
    await time(`ln row vec4 ${rows}x${c} WG=${WG}`, () => rt.kernel('norm').run({ defines: { LN_FWD: 1, VEC4: 1 }, constants: { WG }, bindings: { x: x2, w: w2, b: b2, y: y2 }, params: { rows, c, eps: 1e-6 }, groups: rt.groups1d(rows, WG) }));
  }
  await time(`ln row scalar ${rows}x${c} WG=128`, () => rt.kernel('norm').run({ defines: { LN_FWD: 1, VEC4: 0 }, constants: { WG: 128 }, bindings: { x: x2, w: w2, b: b2, y: y2 }, params: { rows, c, eps: 1e-6 }, groups: rt.groups1d(rows, 128) }));
}
rt.destroy();
