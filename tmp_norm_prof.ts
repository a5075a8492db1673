import { createNodeRuntime } from './src/node/runtime.js';
const rt = await createNodeRuntime();
console.log('timestamps', rt.hasTimestamps, rt.adapter.description);
async function time(label: string, f: () => void, reps = 5) {
  f(); await rt.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) { f(); await rt.sync(); }
  console.log(label.padEnd(50), ((performance.now() - t0) / reps).toFixed(2), 'ms');
}
const n = 256 * 4096;
const x = rt.upload(new Float32Array(n).map(() => Math.random()), [1, 256, 64, 64]);
const w = rt.upload(new Float32Array(256).fill(1), [256]);
const b = rt.zeros([256]);
const y = rt.empty([1, 256, 64, 64]);
const stats = rt.zeros([2, 32]);
const small = rt.zeros([4]); const small2 = rt.zeros([4]);
await time('empty-ish dispatch', () => rt.kernel('elementwise').run({ defines: { UNARY: 1, IDENTITY: 1 }, constants: { WG: 128 }, bindings: { x: small, y: small2 }, params: { n: 4, alpha: 1, beta: 0 }, groups: [1, 1, 1] }));
await time('copy 4MB (elementwise identity)', () => rt.kernel('elementwise').run({ defines: { UNARY: 1, IDENTITY: 1 }, constants: { WG: 128 }, bindings: { x, y }, params: { n, alpha: 1, beta: 0 }, groups: rt.groups1d(n, 128) }));
for (const P of [16, 32, 64, 128, 256]) {
  const part = rt.empty([P * 32, 2]);
  await time(`gn partial vec4 P=${P}`, () => rt.kernel('norm').run({ defines: { GN_PARTIAL: 1, VEC4: 1 }, constants: { WG: 128 }, bindings: { x, part }, params: { ng: 32, m: 32768, p: P }, groups: rt.groups1d(32 * P, 128) }));
}
await time('gn apply vec4', () => rt.kernel('norm').run({ defines: { GN_APPLY: 1, VEC4: 1 }, constants: { WG: 128 }, bindings: { x, w, b, stats, y }, params: { n, m: 32768, hw: 4096, c: 256, ng: 32 }, groups: rt.groups1d(n / 4, 128) }));
await time('gn apply scalar', () => rt.kernel('norm').run({ defines: { GN_APPLY: 1, VEC4: 0 }, constants: { WG: 128 }, bindings: { x, w, b, stats, y }, params: { n, m: 32768, hw: 4096, c: 256, ng: 32 }, groups: rt.groups1d(n, 128) }));
for (const WG of [32, 64, 128, 256]) {
  const x2 = rt.upload(new Float32Array(4096 * 384).map(() => Math.random()), [4096, 384]);
  const w2 = rt.upload(new Float32Array(384).fill(1), [384]); const b2 = rt.zeros([384]); const y2 = rt.empty([4096, 384]);
  await time(`ln row vec4 4096x384 WG=${WG}`, () => rt.kernel('norm').run({ defines: { LN_FWD: 1, VEC4: 1 }, constants: { WG }, bindings: { x: x2, w: w2, b: b2, y: y2 }, params: { rows: 4096, c: 384, eps: 1e-6 }, groups: rt.groups1d(4096, WG) }));
  await time(`ln2d vec4 WG=${WG}`, () => rt.kernel('norm').run({ defines: { LN2D_FWD: 1, VEC4: 1 }, constants: { WG }, bindings: { x, w, b, y }, params: { npix: 4096, c: 256, hw: 4096, eps: 1e-6 }, groups: rt.groups1d(1024, WG) }));
  await time(`ln2d scalar WG=${WG}`, () => rt.kernel('norm').run({ defines: { LN2D_FWD: 1, VEC4: 0 }, constants: { WG }, bindings: { x, w, b, y }, params: { npix: 4096, c: 256, hw: 4096, eps: 1e-6 }, groups: rt.groups1d(4096, WG) }));
}
rt.destroy();
