import { createNodeRuntime } from './src/node/runtime.js';
import { cases } from './bench/norm.js';
const rt = await createNodeRuntime();
const filter = process.argv[2];
for (const c of cases) {
  if (filter && !c.impl!.includes(filter)) continue;
  const r = c.setup(rt, { full: process.argv[3] === "full" });
  r.run(); await rt.sync();
  const ok = await r.check();
  r.run(); await rt.sync();
  let ms = Infinity;
  for (let i = 0; i < 9; i++) { const t0 = performance.now(); r.run(); await rt.sync(); ms = Math.min(ms, performance.now() - t0); }
  console.log(`${c.impl!.padEnd(30)} ${r.shape.padEnd(40)} ok=${ok} ${ms.toFixed(1)} ms ${(r.bytes! / ms / 1e6).toFixed(2)} GB/s`);
  r.dispose();
}
rt.destroy();
