// A small `ws` client of `robotseg serve` for the tests and the serve bench: messages are queued as they
// arrive (with their arrival time) and read in order with next(); `closed` resolves with the close code.
import { WebSocket } from 'ws';
import type { Runtime } from '../../src/graph/runtime.js';
import type { RgbImage } from '../../src/image/rgb.js';
import type { SAM2 } from '../../src/model/sam2.js';
import { VideoPredictor } from '../../src/model/video_predictor.js';
import type { ObjectPrompt } from '../../src/serve/protocol.js';
import { maskStats, maskToRle } from '../../src/serve/rle.js';
import type { ResultObject } from '../../src/serve/session.js';

// biome-ignore lint/suspicious/noExplicitAny: server messages are checked field by field in the tests
export type Msg = Record<string, any>;

export interface Client {
  ws: WebSocket;
  /** The next message (waits up to `timeoutMs`). */
  next(timeoutMs?: number): Promise<Msg>;
  /** Arrival time (performance.now()) of each message read so far, in order. */
  times: number[];
  json(m: unknown): void;
  frame(bytes: Uint8Array): void;
  /** Close code and reason once the connection is closed. */
  closed: Promise<{ code: number; reason: string }>;
}

export function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const ws = new WebSocket(url, { headers, maxPayload: 256 * 1024 * 1024 });
  const queue: Array<{ m: Msg; t: number }> = [];
  const waiters: Array<(v: { m: Msg; t: number } | null) => void> = [];
  let ended = false;
  const times: number[] = [];
  ws.on('message', (data, isBinary) => {
    const item = { m: isBinary ? { type: '<binary>' } : (JSON.parse(String(data)) as Msg), t: performance.now() };
    const w = waiters.shift();
    if (w) w(item);
    else queue.push(item);
  });
  const closed = new Promise<{ code: number; reason: string }>((res) => {
    ws.on('close', (code, reason) => {
      ended = true;
      for (const w of waiters.splice(0)) w(null);
      res({ code, reason: String(reason) });
    });
  });
  ws.on('error', () => {});
  const client: Client = {
    ws,
    times,
    closed,
    json: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    frame: (b) => ws.send(b, { binary: true }),
    next: (timeoutMs = 120_000) =>
      new Promise<Msg>((resolve, reject) => {
        const got = (item: { m: Msg; t: number } | null) => {
          clearTimeout(timer);
          if (!item) return reject(new Error('connection closed before the next message'));
          times.push(item.t);
          resolve(item.m);
        };
        const timer = setTimeout(() => {
          const i = waiters.indexOf(got);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`no message within ${timeoutMs} ms`));
        }, timeoutMs);
        const item = queue.shift();
        if (item) got(item);
        else if (ended) got(null);
        else waiters.push(got);
      }),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} on upgrade`)));
    ws.once('error', reject);
  });
}

/** What the server should send for a frame: the stream result's objects computed in-process. */
export interface ExpectedFrame {
  frame: number;
  objects: ResultObject[];
}

/** One step of a scripted stream: prompts and removals applied around this frame's push, as the server does. */
export interface StreamStep {
  image: RgbImage;
  prompts?: ObjectPrompt[];
  remove?: number[];
}

/**
 * In-process reference of a session: remove, push, then the prompts on that frame; objects in predictor
 * order. `onFrame` is called once each frame's masks are read back (the bench times frames with it).
 */
export async function inProcessStream(
  rt: Runtime,
  model: SAM2,
  steps: StreamStep[],
  onFrame?: (frame: number) => void,
): Promise<ExpectedFrame[]> {
  const { width: W, height: H } = steps[0].image;
  const pred = new VideoPredictor(rt, model, {
    numFrames: null,
    width: W,
    height: H,
    frame: async () => {
      throw new Error('stream');
    },
  });
  const out: ExpectedFrame[] = [];
  try {
    for (const s of steps) {
      for (const id of s.remove ?? []) pred.removeObject(id);
      const { frame, results } = await pred.push(s.image);
      const by = new Map(results.map((r) => [r.objId, r]));
      for (const p of s.prompts ?? []) {
        const r =
          p.points.length > 0 || p.box
            ? await pred.addPoints(frame, p.obj, {
                points: p.points,
                box: p.box,
                ...(p.target ? { category: p.target } : {}),
              })
            : await pred.addTarget(frame, p.obj, p.target!);
        by.set(p.obj, r);
      }
      onFrame?.(frame);
      const objects = pred.objectIds
        .filter((id) => by.has(id))
        .map((id) => {
          const r = by.get(id)!;
          return {
            obj: id,
            iou: Number.isFinite(r.iou) ? r.iou : null,
            object_score: r.objectScore,
            ...maskStats(r.mask, W, H),
            rle: maskToRle(r.mask, W, H),
          };
        });
      out.push({ frame, objects });
    }
  } finally {
    pred.reset();
  }
  return out;
}

/** p-th percentile (0..100) of values, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
