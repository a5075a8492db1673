// `robotseg serve` in-process on the reduced SAM 2.1 model (test/fixtures/golden), on loopback only:
// a session's results equal in-process push on the same frames and prompts; auth; HTTP segment (JSON,
// PNG, errors); 4 concurrent sessions x 30 frames (latency, dropped frames, RSS printed; two
// sessions' results replayed in-process); a client killed mid-stream; 200 fuzzed hostile messages
// with /healthz answering and a well-behaved session unaffected; the session limit. After each of the
// multi-session tests the GPU pool's live bytes are back to their baseline (everything freed).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/image/rgb.js';
import { ImagePredictor } from '../../src/model/image_predictor.js';
import type { SAM2 } from '../../src/model/sam2.js';
import { decodeImage } from '../../src/node/image_io.js';
import { loadModelWithStore } from '../../src/node/load_model.js';
import { type RunningServer, startServer } from '../../src/node/serve/server.js';
import { GpuQueue } from '../../src/serve/gpu_queue.js';
import { ERROR_CODES, type ObjectPrompt } from '../../src/serve/protocol.js';
import { maskStats, maskToRle } from '../../src/serve/rle.js';
import { GOLDEN } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { rng } from '../helpers/rng.js';
import {
  type Client,
  connect,
  type ExpectedFrame,
  inProcessStream,
  type Msg,
  percentile,
} from '../helpers/serve_client.js';

const rt = await testRuntime();
const TOKEN = 'test-token-7f3a';
const FRAMES: Uint8Array[] = Array.from({ length: 9 }, (_, i) => readFileSync(join(GOLDEN, `video_frame${i}.png`)));
const IMAGES: RgbImage[] = FRAMES.map((b) => decodeImage(b));
const LOAD_FRAMES = 30;
/** Time between two frames of a load-test client (a camera at 1000 / N fps). */
const LOAD_INTERVAL_MS = Number(process.env.SERVE_LOAD_INTERVAL_MS ?? 200);

let model: SAM2;
let server: RunningServer;
const gpu = new GpuQueue();
let baseline = 0;

/** Pool live bytes once every session is freed and the device is idle. */
async function quiesce(s: RunningServer = server): Promise<number> {
  await s.settled();
  await gpu.idle();
  await rt!.sync();
  return rt!.pool.liveBytes;
}

const streamUrl = (s: RunningServer, q = `?token=${TOKEN}`) => `${s.url.replace(/^http/, 'ws')}/v1/stream${q}`;

/** Start a session; returns the client after `ready`. */
async function startSession(objects: ObjectPrompt[] | Msg[], s: RunningServer = server): Promise<Client> {
  const c = await connect(streamUrl(s));
  c.json({ type: 'start', objects });
  const ready = await c.next();
  expect(ready.type, JSON.stringify(ready)).toBe('ready');
  return c;
}

/** fetch() body of bytes (DOM typings want an ArrayBuffer-backed view). */
const raw = (b: Uint8Array | string | undefined) => b as unknown as BodyInit | undefined;

/** Result objects as the server sends them, for comparison with in-process ones (JSON round trip). */
const viaJson = (x: unknown) => JSON.parse(JSON.stringify(x));

const START: ObjectPrompt[] = [
  { obj: 1, points: [{ x: 90, y: 82.5, label: 1 }] },
  { obj: 2, points: [], box: [20, 20, 120, 100] },
];
const wire = (p: ObjectPrompt) => ({
  obj: p.obj,
  ...(p.points.length ? { points: p.points.map((q) => [q.x, q.y, q.label]) } : {}),
  ...(p.box ? { box: p.box } : {}),
  ...(p.target ? { target: p.target } : {}),
});

/** The scripted session (5 frames): start objects on frame 0, a correction and a new object on frame 2, obj 2 removed before frame 4. */
const SCRIPT = IMAGES.slice(0, 5).map((image, i) => ({
  image,
  prompts:
    i === 0
      ? START
      : i === 2
        ? [
            { obj: 1, points: [{ x: 60, y: 50, label: 0 }] },
            { obj: 5, points: [{ x: 150, y: 40, label: 1 }] },
          ]
        : undefined,
  remove: i === 4 ? [2] : undefined,
}));
let expected: ExpectedFrame[];

/** Run SCRIPT through a session closed-loop (each frame after the previous result). */
async function runScript(s: RunningServer, frames = SCRIPT.length): Promise<Msg[]> {
  const c = await startSession(START.map(wire), s);
  const got: Msg[] = [];
  for (let i = 0; i < frames; i++) {
    for (const p of i > 0 ? (SCRIPT[i].prompts ?? []) : []) c.json({ type: 'prompt', ...wire(p) });
    for (const id of SCRIPT[i].remove ?? []) c.json({ type: 'remove', obj: id });
    c.frame(FRAMES[i]);
    got.push(await c.next());
  }
  c.json({ type: 'stop' });
  const stopped = await c.next();
  expect(stopped).toMatchObject({
    type: 'stopped',
    frames_received: frames,
    frames_processed: frames,
    frames_dropped: 0,
  });
  expect((await c.closed).code).toBe(1000);
  return got;
}

function expectSameAsInProcess(got: Msg[], want: ExpectedFrame[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((m, i) => {
    expect(m.type, JSON.stringify(m).slice(0, 300)).toBe('result');
    expect(m.frame).toBe(i);
    expect(m.skipped).toBe(0);
    expect(Object.keys(m.latency_ms).sort()).toEqual(['decode', 'encode', 'gpu', 'queue']);
    expect(m.objects, `frame ${i}`).toEqual(viaJson(want[i].objects));
  });
}

describe.skipIf(!rt)('robotseg serve (in-process, reduced SAM 2.1)', () => {
  beforeAll(async () => {
    model = (await loadModelWithStore(rt!, join(GOLDEN, 'weights.safetensors'), join(GOLDEN, 'config.json'))).model;
    server = await startServer({ rt: rt!, model, host: '127.0.0.1', port: 0, token: TOKEN, gpu, maxSessions: 8 });
    // the reference (also warms every code path a session uses, so the baseline holds the model's lazy caches)
    expected = await gpu.run(() => inProcessStream(rt!, model, SCRIPT));
    baseline = await quiesce();
  }, 300_000);
  afterAll(async () => {
    await server?.close();
  });

  it('a session returns what in-process push returns on the same frames and prompts', {
    timeout: 300_000,
  }, async () => {
    expect(expected[2].objects.map((o) => o.obj)).toEqual([1, 2, 5]);
    expect(expected[4].objects.map((o) => o.obj)).toEqual([1, 5]);
    expect(expected.every((f) => f.objects.every((o) => o.area > 0))).toBe(true);
    const got = await runScript(server);
    expectSameAsInProcess(got, expected);
    expect(await quiesce()).toBe(baseline);
  });

  it('token: required on /v1/stream, /v1/segment and /metrics (header or query), not on /healthz', async () => {
    for (const q of ['', '?token=wrong']) {
      const c = await connect(streamUrl(server, q));
      expect(await c.next()).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect((await c.closed).code).toBe(1008);
    }
    const ok = await connect(streamUrl(server, ''), { authorization: `Bearer ${TOKEN}` });
    ok.json({ type: 'start', objects: [wire(START[0])] });
    expect((await ok.next()).type).toBe('ready');
    ok.ws.close();
    await ok.closed;
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    for (const path of ['/metrics', '/v1/segment?points=90,82.5']) {
      const method = path === '/metrics' ? 'GET' : 'POST';
      const no = await fetch(`${server.url}${path}`, { method, body: raw(method === 'POST' ? FRAMES[0] : undefined) });
      expect(no.status, path).toBe(401);
      expect(await no.json()).toMatchObject({ type: 'error', code: 'unauthorized' });
    }
    const m1 = await fetch(`${server.url}/metrics?token=${TOKEN}`);
    const m2 = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect([m1.status, m2.status]).toEqual([200, 200]);
    const text = await m2.text();
    for (const name of [
      'robotseg_sessions',
      'robotseg_frames_received_total',
      'robotseg_frames_dropped_total',
      'robotseg_frame_latency_seconds_bucket{le="+Inf"}',
      'robotseg_gpu_pool_live_bytes',
      'process_resident_memory_bytes',
      'robotseg_errors_total{code="unauthorized"}',
    ])
      expect(text, name).toContain(`\n${name} `);
  });

  it('POST /v1/segment: JSON entries per mask and the best mask as PNG, as the image predictor gives them', async () => {
    const img = IMAGES[0];
    const ref = await gpu.run(async () => {
      const p = new ImagePredictor(rt!, model);
      p.setImage(img);
      const r = await p.predict({ points: [{ x: 90, y: 82.5, label: 1 }] });
      p.dispose();
      return r;
    });
    const res = await fetch(`${server.url}/v1/segment?points=90,82.5,1&token=${TOKEN}`, {
      method: 'POST',
      body: raw(FRAMES[0]),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Msg;
    expect(body).toMatchObject({ type: 'result', frame: 0, skipped: 0, best: ref.best });
    expect(body.objects).toEqual(
      viaJson(
        ref.masks.map((m, i) => ({
          obj: 1,
          mask: i,
          iou: ref.iou[i],
          object_score: ref.objectScore,
          ...maskStats(m, img.width, img.height),
          rle: maskToRle(m, img.width, img.height),
        })),
      ),
    );
    const box = await fetch(`${server.url}/v1/segment?box=20,20,120,100&format=png`, {
      method: 'POST',
      body: raw(FRAMES[0]),
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(box.headers.get('content-type')).toBe('image/png');
    const png = PNG.sync.read(Buffer.from(await box.arrayBuffer()));
    const refBox = await gpu.run(async () => {
      const p = new ImagePredictor(rt!, model);
      p.setImage(img);
      const r = await p.predict({ box: [20, 20, 120, 100] });
      p.dispose();
      return r;
    });
    expect([png.width, png.height]).toEqual([img.width, img.height]);
    const best = refBox.masks[refBox.best];
    expect(best.some((v) => v === 1)).toBe(true);
    for (let i = 0; i < best.length; i++)
      if (png.data[4 * i] !== best[i] * 255) throw new Error(`PNG pixel ${i} differs`);
    // errors: HTTP status + the same error body as the stream
    const cases: Array<[string, string, Uint8Array | string | undefined, number, string]> = [
      ['POST', '/v1/segment?points=1,2,3,4', FRAMES[0], 400, 'bad_message'],
      ['POST', '/v1/segment?points=500,20', FRAMES[0], 400, 'bad_prompt'],
      ['POST', '/v1/segment?box=5,5,1,1', FRAMES[0], 400, 'bad_prompt'],
      ['POST', '/v1/segment?pts=1,1', FRAMES[0], 400, 'bad_message'],
      ['POST', '/v1/segment?target=robot', FRAMES[0], 422, 'needs_robotseg'],
      ['POST', '/v1/segment', 'not an image', 400, 'bad_frame'],
      ['POST', '/v1/segment', FRAMES[0].subarray(0, 200), 400, 'bad_frame'],
      ['POST', '/v1/segment', pngHeader(100_000, 100_000), 413, 'too_large'],
      ['GET', '/v1/segment', undefined, 405, 'method_not_allowed'],
      ['GET', '/nope', undefined, 404, 'not_found'],
    ];
    for (const [method, path, b, status, code] of cases) {
      const sep = path.includes('?') ? '&' : '?';
      const r = await fetch(`${server.url}${path}${sep}token=${TOKEN}`, { method, body: raw(b) });
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(await r.json(), `${method} ${path}`).toMatchObject({ type: 'error', code });
    }
    expect(await quiesce()).toBe(baseline);
  });

  it(`load: 4 sessions x ${LOAD_FRAMES} frames at one frame per ${LOAD_INTERVAL_MS} ms each, newest frame wins`, {
    timeout: 600_000,
  }, async () => {
    const rssBefore = process.memoryUsage.rss();
    const m0 = { ...server.metrics };
    const prompts: ObjectPrompt[][] = [
      [START[0]],
      [START[1]],
      [{ obj: 3, points: [{ x: 150, y: 40, label: 1 }] }],
      [START[0], { obj: 7, points: [{ x: 40, y: 110, label: 1 }] }],
    ];
    const frameOf = (k: number, i: number) => (k * 2 + i) % FRAMES.length;
    const t0 = performance.now();
    const sessions = await Promise.all(
      prompts.map(async (objs, k) => {
        const c = await startSession(objs.map(wire));
        const sent: number[] = [];
        const results: Msg[] = [];
        const reader = (async () => {
          for (;;) {
            const m = await c.next(300_000);
            if (m.type !== 'result') return m;
            results.push(m);
            if (m.frame === LOAD_FRAMES - 1) return m;
          }
        })();
        for (let i = 0; i < LOAD_FRAMES; i++) {
          sent.push(performance.now());
          c.frame(FRAMES[frameOf(k, i)]);
          await new Promise((r) => setTimeout(r, LOAD_INTERVAL_MS));
        }
        const last = await reader;
        expect(last.type, JSON.stringify(last).slice(0, 200)).toBe('result');
        c.json({ type: 'stop' });
        const stopped = await c.next();
        await c.closed;
        // client-side latency: frame sent -> its result received
        const lat = results.map((r, j) => c.times[j + 1] - sent[r.frame]);
        return { k, results, lat, stopped };
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const rssAfter = process.memoryUsage.rss();
    const lat = sessions.flatMap((s) => s.lat);
    const processed = sessions.reduce((a, s) => a + s.results.length, 0);
    const dropped = sessions.reduce((a, s) => a + s.results.reduce((b, r) => b + r.skipped, 0), 0);
    console.log(
      `serve load (${rt!.adapter.description}): 4 sessions x ${LOAD_FRAMES} frames, one every ${LOAD_INTERVAL_MS} ms: ` +
        `${processed} processed, ${dropped} dropped (${sessions.map((s) => s.results.length).join('/')} per session); ` +
        `latency p50 ${percentile(lat, 50).toFixed(0)} ms, p99 ${percentile(lat, 99).toFixed(0)} ms; ` +
        `${(processed / wall).toFixed(2)} frames/s over ${wall.toFixed(1)} s; ` +
        `RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB`,
    );
    for (const s of sessions) {
      // every received frame is either answered or counted as skipped; the newest (last) one is answered
      expect(s.results.reduce((a, r) => a + 1 + r.skipped, 0)).toBe(LOAD_FRAMES);
      expect(s.results.at(-1)!.frame).toBe(LOAD_FRAMES - 1);
      const idx = s.results.map((r) => r.frame);
      expect(idx).toEqual([...idx].sort((a, b) => a - b));
      expect(s.stopped).toMatchObject({
        type: 'stopped',
        frames_received: LOAD_FRAMES,
        frames_processed: s.results.length,
        frames_dropped: LOAD_FRAMES - s.results.length,
      });
    }
    expect(server.metrics.framesReceived - m0.framesReceived).toBe(4 * LOAD_FRAMES);
    expect(server.metrics.framesProcessed - m0.framesProcessed).toBe(processed);
    expect(server.metrics.framesDropped - m0.framesDropped).toBe(dropped);
    expect(await quiesce()).toBe(baseline);
    // sessions did not leak into each other: replay answered frames in-process (sessions 1 and 3: one
    // object with a box, two objects with clicks; the other two are alike and cost CI time)
    for (const s of [sessions[1], sessions[3]]) {
      const steps = s.results.map((r, j) => ({
        image: IMAGES[frameOf(s.k, r.frame)],
        prompts: j === 0 ? prompts[s.k] : undefined,
      }));
      const want = await gpu.run(() => inProcessStream(rt!, model, steps));
      s.results.forEach((r, j) =>
        expect(r.objects, `session ${s.k} frame ${r.frame}`).toEqual(viaJson(want[j].objects)),
      );
    }
    expect(await quiesce()).toBe(baseline);
  });

  it('a client killed mid-stream: the others keep being served, its memory is freed', {
    timeout: 300_000,
  }, async () => {
    const victim = await startSession(START.map(wire));
    const good = startSession(START.map(wire));
    for (let i = 0; i < 4; i++) victim.frame(FRAMES[i]);
    expect((await victim.next()).type).toBe('result'); // it is being served...
    victim.frame(FRAMES[4]);
    victim.ws.terminate(); // ...and vanishes (no close frame) with a frame in flight
    const c = await good;
    const got: Msg[] = [];
    for (let i = 0; i < 2; i++) {
      c.frame(FRAMES[i]);
      got.push(await c.next());
    }
    expectSameAsInProcess(got, expected.slice(0, 2));
    c.ws.close();
    await c.closed;
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await quiesce()).toBe(baseline);
    expect(server.sessions()).toBe(0);
  });

  it('200 fuzzed hostile messages: each answered with its error code and closed; /healthz and a good session unaffected', {
    timeout: 600_000,
  }, async () => {
    // a server with a small frame limit so that oversized messages are cheap to send
    const small = await startServer({
      rt: rt!,
      model,
      port: 0,
      token: TOKEN,
      gpu,
      maxSessions: 16,
      maxFramePixels: 200 * 150,
    });
    try {
      const r = rng(15);
      const cases = Array.from({ length: 200 }, (_, i) => hostile(r, i));
      const goodRun = runScript(small);
      const codes = new Map<string, number>();
      for (let b = 0; b < cases.length; b += 4) {
        await Promise.all(
          cases.slice(b, b + 4).map(async (hc) => {
            const c = await connect(streamUrl(small));
            if (hc.started) {
              c.json({ type: 'start', objects: [wire(START[0])] });
              expect((await c.next()).type).toBe('ready');
            }
            for (const m of hc.send) {
              if (typeof m === 'string') c.json(m);
              else if (m instanceof Uint8Array) c.frame(m);
              else c.ws.send(m.rawText, { binary: false });
            }
            const err = await c.next();
            expect(err.type, `${hc.name}: ${JSON.stringify(err).slice(0, 200)}`).toBe('error');
            expect(hc.codes, `${hc.name}: got ${err.code} (${err.message})`).toContain(err.code);
            expect(ERROR_CODES).toContain(err.code);
            expect(typeof err.message).toBe('string');
            expect((await c.closed).code, hc.name).toBe(1008);
            codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
          }),
        );
        if (b % 40 === 0) expect((await fetch(`${small.url}/healthz`)).status).toBe(200);
      }
      console.log(`fuzz: 200 hostile messages -> ${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
      expectSameAsInProcess(await goodRun, expected);
      expect((await fetch(`${small.url}/healthz`)).status).toBe(200);
      expect(await quiesce(small)).toBe(baseline);
      expect(small.sessions()).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('a frame of another size ends the session with bad_frame; over --max-sessions is refused with 1013', {
    timeout: 300_000,
  }, async () => {
    const c = await startSession([wire(START[0])]);
    c.frame(FRAMES[0]);
    expect((await c.next()).type).toBe('result');
    c.frame(await pngOf(100, 80));
    expect(await c.next()).toMatchObject({ type: 'error', code: 'bad_frame' });
    expect((await c.closed).code).toBe(1008);
    const two = await startServer({ rt: rt!, model, port: 0, token: TOKEN, gpu, maxSessions: 2 });
    try {
      const a = await startSession([wire(START[0])], two);
      const b = await startSession([wire(START[0])], two);
      const third = await connect(streamUrl(two));
      expect(await third.next()).toMatchObject({ type: 'error', code: 'too_many_sessions' });
      expect((await third.closed).code).toBe(1013);
      a.ws.close();
      await a.closed;
      while (two.sessions() >= 2) await new Promise((res) => setTimeout(res, 10));
      const again = await startSession([wire(START[0])], two); // a freed slot is usable again
      for (const x of [b, again]) x.ws.close();
    } finally {
      await two.close();
    }
    expect(await quiesce()).toBe(baseline);
  });
});

/** A PNG signature + IHDR claiming width x height (no pixel data). */
function pngHeader(width: number, height: number): Uint8Array {
  const b = new Uint8Array(33);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, width);
  new DataView(b.buffer).setUint32(20, height);
  b.set([8, 2, 0, 0, 0], 24);
  return b;
}

/** A valid grey PNG of the given size. */
async function pngOf(width: number, height: number): Promise<Uint8Array> {
  const png = new PNG({ width, height });
  png.data.fill(128);
  return PNG.sync.write(png);
}

/** A JPEG SOI + SOF0 claiming width x height. */
function jpegHeader(width: number, height: number): Uint8Array {
  return Uint8Array.from([
    0xff,
    0xd8,
    0xff,
    0xc0,
    0,
    11,
    8,
    height >> 8,
    height & 255,
    width >> 8,
    width & 255,
    1,
    1,
    0x11,
    0,
  ]);
}

interface HostileCase {
  name: string;
  /** Send a valid start first. */
  started: boolean;
  /** Text, binary frames, or raw bytes sent as a text message. */
  send: Array<string | Uint8Array | { rawText: Uint8Array }>;
  codes: string[];
}

/** One hostile input, drawn from `r`: malformed, out of order, oversized or lying about its size. */
function hostile(r: ReturnType<typeof rng>, i: number): HostileCase {
  const int = (n: number) => Math.floor(r.uniform() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const pick = <T>(xs: T[]) => xs[int(xs.length)];
  const junkNumber = () => pick<unknown>([-1, 1.5, '1', null, true, [], {}, 1e300, -0.5, 2 ** 53]);
  const kind = int(18);
  const c = (name: string, started: boolean, send: HostileCase['send'], codes: string[]): HostileCase => ({
    name: `#${i} ${name}`,
    started,
    send,
    codes,
  });
  switch (kind) {
    case 0:
      return c('binary before start', false, [bytes(1 + int(2000))], ['out_of_order']);
    case 1:
      return c(
        'message before start',
        false,
        [
          JSON.stringify(
            pick([{ type: 'prompt', obj: 1, points: [[1, 1]] }, { type: 'remove', obj: 1 }, { type: 'stop' }]),
          ),
        ],
        ['out_of_order'],
      );
    case 2: {
      const s = Array.from({ length: 1 + int(200) }, () => String.fromCharCode(32 + int(95))).join('');
      return c('random text', int(2) === 1, [s], ['bad_json', 'bad_message']);
    }
    case 3:
      return c(
        'invalid UTF-8',
        int(2) === 1,
        [{ rawText: Uint8Array.from([0x7b, 0xff, 0xfe, 0xc3, 0x28, 0x7d]) }],
        ['bad_json', 'bad_message'],
      );
    case 4:
      return c(
        'JSON but not an object',
        false,
        [JSON.stringify(pick<unknown>([1, 'start', [1, 2], null, true, [{ type: 'start' }]]))],
        ['bad_message'],
      );
    case 5:
      return c(
        'unknown type',
        int(2) === 1,
        [JSON.stringify(pick<unknown>([{}, { type: 'Start' }, { type: 7 }, { type: 'frame' }, { typ: 'start' }]))],
        ['bad_message'],
      );
    case 6: {
      const bad = pick<unknown>([
        { obj: junkNumber(), points: [[10, 10, 1]] },
        { obj: 1, points: [[10, 'x', 1]] },
        { obj: 1, points: [[10, 10, 2]] },
        { obj: 1, points: [10, 10] },
        { obj: 1, points: 'all' },
        { obj: 1, box: [1, 2, 3] },
        { obj: 1 },
        { obj: 1, points: [[1, 1]], colour: 'red' },
      ]);
      return c(
        'start with a malformed object',
        false,
        [JSON.stringify({ type: 'start', objects: [bad] })],
        ['bad_message'],
      );
    }
    case 7:
      return c(
        'duplicate ids',
        false,
        [
          JSON.stringify({
            type: 'start',
            objects: [
              { obj: 4, points: [[1, 1]] },
              { obj: 4, box: [0, 0, 9, 9] },
            ],
          }),
        ],
        ['bad_message'],
      );
    case 8: {
      const many = int(2) === 0;
      const objects = many
        ? Array.from({ length: 33 + int(100) }, (_, k) => ({ obj: k, points: [[1, 1]] }))
        : [{ obj: 1, points: Array.from({ length: 65 + int(100) }, () => [1, 1, 1]) }];
      return c(
        many ? 'too many objects' : 'too many points',
        false,
        [JSON.stringify({ type: 'start', objects })],
        ['too_large'],
      );
    }
    case 9:
      return c(
        'text over 64 KiB',
        int(2) === 1,
        [`{"type":"start","pad":"${'a'.repeat(70_000 + int(10_000))}"}`],
        ['too_large'],
      );
    case 10:
      return c('binary garbage frame', true, [bytes(1 + int(5000))], ['bad_frame']);
    case 11: {
      const src = FRAMES[int(FRAMES.length)];
      return c('truncated PNG', true, [src.subarray(0, 40 + int(src.length - 1000))], ['bad_frame']);
    }
    case 12:
      return c(
        'PNG header claiming a huge image',
        true,
        [int(2) ? pngHeader(60_000 + int(5000), 60_000) : jpegHeader(65_535, 65_535)],
        ['too_large'],
      );
    case 13:
      return c(
        'remove an unknown object',
        true,
        [JSON.stringify({ type: 'remove', obj: 2 + int(1000) })],
        ['unknown_object'],
      );
    case 14:
      return c(
        'a second start',
        true,
        [JSON.stringify({ type: 'start', objects: [{ obj: 9, points: [[1, 1]] }] })],
        ['out_of_order'],
      );
    case 15:
      return c(
        'robot target on SAM 2.1 weights',
        false,
        [JSON.stringify({ type: 'start', targets: ['robot'] })],
        ['needs_robotseg'],
      );
    case 16:
      return c('deeply nested JSON', int(2) === 1, ['['.repeat(20_000 + int(10_000))], ['bad_json']);
    default:
      // a prompt outside the frame: found when the next frame is decoded, before any GPU work
      return c(
        'prompt outside the frame',
        true,
        [JSON.stringify({ type: 'prompt', obj: 3, points: [[5000 + int(100), 10]] }), FRAMES[0]],
        ['bad_prompt'],
      );
  }
}
