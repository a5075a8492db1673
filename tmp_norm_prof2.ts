import { createNodeRuntime } from './src/node/runtime.js';
import { groupNormBackward, groupNormForward, layerNorm2dForward, layerNorm2dBackward } from './src/kernels/norm.js';
const rt = await createNodeRuntime();
async function time(label: string, f: () => void, reps = 7) {
  f(); await rt.sync();
  let best = Infinity;
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); f(); await rt.sync(); best = Math.min(best, performance.now() - t0); }
  console.log(label.padEnd(50), best.toFixed(2), 'ms');
}
const shape = [1, 256, 64, 64];
const n = 256 * 4096;
const x = rt.upload(new Float32Array(n).map(() => Math.random()), shape);
const dy = rt.upload(new Float32Array(n).map(() => Math.random()), shape);
const w = rt.upload(new Float32Array(256).fill(1), [256]);
const b = rt.zeros([256]);
const { stats } = groupNormForward(rt, x, 32, w, b, 1e-5, true);
const { stats: st2 } = layerNorm2dForward(rt, x, w, b, 1e-6, true);
const disp = (g: any) => { g.dx?.dispose(); g.dweight?.dispose(); g.dbias?.dispose(); };
await time('gn bwd all', () => disp(groupNormBackward(rt, x, 32, w, stats!, dy)));
await time('gn bwd dx only', () => disp(groupNormBackward(rt, x, 32, w, stats!, dy, { weight: false, bias: false })));
await time('gn bwd dw/db only', () => disp(groupNormBackward(rt, x, 32, w, stats!, dy, { x: false })));
await time('ln2d bwd all', () => disp(layerNorm2dBackward(rt, x, w, st2!, dy)));
await time('ln2d bwd dx only', () => disp(layerNorm2dBackward(rt, x, w, st2!, dy, { weight: false, bias: false })));
await time('ln2d bwd dw/db only', () => disp(layerNorm2dBackward(rt, x, w, st2!, dy, { x: false })));
rt.destroy();
