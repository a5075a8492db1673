// `robotseg serve` throughput and latency (docs/serve.md):
//   npx tsx bench/scripts/serve_load.ts [--frames N] [--fps F] [--weights FILE --config FILE] [--json FILE]
// On the reduced golden model by default (test/fixtures/golden), one click per session:
//   1. in-process `push` on N decoded frames (the baseline);
//   2. one session through the server on the same frames, each frame sent when the previous result
//      arrived (closed loop: nothing dropped), so the difference is the protocol's overhead (PNG decode,
//      WebSocket, RLE + JSON);
//   3. 1, 2 and 4 concurrent sessions, closed loop: aggregate frames/s and per-frame latency;
//   4. 4 sessions sending at F frames/s each (open loop, a camera): latency of answered frames and
//      frames dropped (newest frame wins).
// Latency is client-side: frame sent -> its result received. Correctness first: the server's first
// results must equal in-process push before anything is timed. The server runs in this process on
// loopback (same device, same event loop as the clients).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelWithStore } from '../../src/node/load_model.js';
import { decodeImage } from '../../src/node/image_io.js';
import { createNodeRuntime } from '../../src/node/runtime.js';
import { startServer } from '../../src/node/serve/server.js';
import { GpuQueue } from '../../src/serve/gpu_queue.js';
import { GOLDEN } from '../../test/helpers/golden.js';
import { connect, inProcessStream, type Msg, percentile } from '../../test/helpers/serve_client.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('--frames', '20'));
const FPS = Number(arg('--fps', '5'));
const rt = await createNodeRuntime();
const gpu = new GpuQueue();
const { model } = await loadModelWithStore(
  rt,
  arg('--weights', join(GOLDEN, 'weights.safetensors')),
  arg('--config', join(GOLDEN, 'config.json')),
);
const server = await startServer({ rt, model, port: 0, gpu, maxSessions: 16 });
const url = `${server.url.replace(/^http/, 'ws')}/v1/stream`;
const bytes = Array.from({ length: 9 }, (_, i) => readFileSync(join(GOLDEN, `video_frame${i}.png`)));
const images = bytes.map((b) => decodeImage(b));
// ping-pong through the clip so the content keeps changing; session k starts k frames later
const frameOf = (k: number, i: number) => {
  const j = i + k;
  return Math.floor(j / 8) % 2 === 0 ? j % 8 : 8 - (j % 8);
};
const click = { obj: 1, points: [{ x: 90, y: 82.5, label: 1 }] };
const clickWire = { obj: 1, points: [[90, 82.5, 1]] };

interface Row {
  mode: string;
  sessions: number;
  frames: number;
  answered: number;
  dropped: number;
  framesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  rssMiB: number;
  adapter: string;
}
const rows: Row[] = [];
const rss = () => Math.round(process.memoryUsage.rss() / 2 ** 20);
const report = (r: Omit<Row, 'rssMiB' | 'adapter'>) => {
  const row = { ...r, rssMiB: rss(), adapter: rt.adapter.description };
  rows.push(row);
  console.log(
    `${row.mode.padEnd(24)} sessions ${row.sessions}  answered ${String(row.answered).padStart(3)}/${row.frames}  dropped ${String(row.dropped).padStart(3)}  ${row.framesPerSecond.toFixed(2).padStart(6)} frames/s  p50 ${row.p50Ms.toFixed(0).padStart(6)} ms  p99 ${row.p99Ms.toFixed(0).padStart(6)} ms  RSS ${row.rssMiB} MiB`,
  );
};

/** One session: frames sent closed-loop (after each result) or at `fps`; returns latencies and results. */
async function session(k: number, fps: number | null): Promise<{ lat: number[]; results: Msg[] }> {
  const c = await connect(url);
  c.json({ type: 'start', objects: [clickWire] });
  if ((await c.next()).type !== 'ready') throw new Error('no ready');
  const sent: number[] = [];
  const results: Msg[] = [];
  const lat: number[] = [];
  const take = async () => {
    const m = await c.next(600_000);
    if (m.type !== 'result') throw new Error(`session ${k}: ${JSON.stringify(m)}`);
    results.push(m);
    lat.push(c.times.at(-1)! - sent[m.frame]);
    return m;
  };
  if (fps === null) {
    for (let i = 0; i < N; i++) {
      sent.push(performance.now());
      c.frame(bytes[frameOf(k, i)]);
      await take();
    }
  } else {
    const reader = (async () => {
      while ((await take()).frame !== N - 1);
    })();
    for (let i = 0; i < N; i++) {
      sent.push(performance.now());
      c.frame(bytes[frameOf(k, i)]);
      await new Promise((r) => setTimeout(r, 1000 / fps));
    }
    await reader;
  }
  c.json({ type: 'stop' });
  await c.closed;
  return { lat, results };
}

async function sessions(n: number, fps: number | null, mode: string): Promise<void> {
  const t0 = performance.now();
  const all = await Promise.all(Array.from({ length: n }, (_, k) => session(k, fps)));
  const secs = (performance.now() - t0) / 1000;
  const answered = all.reduce((a, s) => a + s.results.length, 0);
  const lat = all.flatMap((s) => s.lat);
  report({
    mode,
    sessions: n,
    frames: n * N,
    answered,
    dropped: all.reduce((a, s) => a + s.results.reduce((b, r) => b + r.skipped, 0), 0),
    framesPerSecond: answered / secs,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
  });
}

// correctness first: the server's first 3 results equal in-process push
const want = await gpu.run(() =>
  inProcessStream(
    rt,
    model,
    [0, 1, 2].map((i) => ({ image: images[frameOf(0, i)], prompts: i === 0 ? [click] : undefined })),
  ),
);
{
  const c = await connect(url);
  c.json({ type: 'start', objects: [clickWire] });
  await c.next();
  for (let i = 0; i < 3; i++) {
    c.frame(bytes[frameOf(0, i)]);
    const m = await c.next();
    if (JSON.stringify(m.objects) !== JSON.stringify(want[i].objects))
      throw new Error(`frame ${i}: the server's result differs from in-process push`);
  }
  c.ws.close();
  await server.settled();
}
console.log(`${rt.adapter.description}: ${N} frames per session, reduced model, 200x150 PNG frames, one object`);

// 1. in-process push on decoded frames
{
  const lat: number[] = [];
  const t0 = performance.now();
  await gpu.run(async () => {
    const steps = Array.from({ length: N }, (_, i) => ({
      image: images[frameOf(0, i)],
      prompts: i === 0 ? [click] : undefined,
    }));
    // time each push + prompt as the server's GPU stage does (no decode, no encoding)
    let t = performance.now();
    await inProcessStream(rt, model, steps, () => {
      const now = performance.now();
      lat.push(now - t);
      t = now;
    });
  });
  const secs = (performance.now() - t0) / 1000;
  report({
    mode: 'in-process push',
    sessions: 1,
    frames: N,
    answered: N,
    dropped: 0,
    framesPerSecond: N / secs,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
  });
}
// 2-3. through the server, closed loop, 1 / 2 / 4 sessions
for (const n of [1, 2, 4]) await sessions(n, null, 'server, closed loop');
// 4. a camera per session
await sessions(4, FPS, `server, ${FPS} fps each`);

await server.close();
const json = arg('--json', '');
if (json) writeFileSync(json, `${JSON.stringify(rows, null, 2)}\n`);
rt.destroy();
