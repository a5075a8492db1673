// One streaming session of `robotseg serve` (docs/serve.md), independent of the transport: the Node server
// hands it text and binary messages and gives it `send` / `close`; it owns a VideoPredictor in streaming
// mode (bounded memory: the tracker's rules) and runs every piece of GPU work through the shared GpuQueue.
//
// Real time: at most one received frame waits while another is processed; a newer frame replaces it
// (newest frame wins) and the replaced one counts as dropped. Frame indices count received frames, so
// a result's `frame` is the index of the message it answers and `skipped` is how many received frames
// were dropped between the previous result and this one.
//
// Prompts (`start` objects, `prompt`) apply to the next frame processed: after push() that frame is the
// predictor's current frame, so addPoints / addTarget there start a new object (conditioning frame) or
// correct a tracked one. `remove` applies before the next push. Any error answers the client with its
// code and closes this session only; closing frees the predictor's tensors through the queue (after
// any of this session's work in flight).
import type { RgbImage } from '../image/rgb.js';
import type { Runtime } from '../graph/runtime.js';
import { validatePrompt } from '../model/image_predictor.js';
import { RobotSeg } from '../model/robotseg.js';
import type { SAM2 } from '../model/sam2.js';
import { type FrameResult, VideoPredictor } from '../model/video_predictor.js';
import type { GpuQueue } from './gpu_queue.js';
import { readImageHeader } from './image_header.js';
import type { ServeMetrics } from './metrics.js';
import {
  closeCodeFor,
  errorMessage,
  LIMITS,
  type LatencyMs,
  type ObjectPrompt,
  ProtocolError,
  parseClientMessage,
} from './protocol.js';
import { type CocoRle, maskStats, maskToRle } from './rle.js';

/** One object of a result message. */
export interface ResultObject {
  obj: number;
  /** Predicted IoU of the mask (null if unknown). */
  iou: number | null;
  /** Object-score logit (> 0: the object is present). */
  object_score: number;
  area: number;
  bbox: [number, number, number, number] | null;
  rle: CocoRle;
}

/** What a per-frame hook receives (e.g. a recorder writing what was served to a file). */
export interface FrameEvent {
  session: string;
  /** Index of the received frame (dropped frames count). */
  frame: number;
  /** Wall-clock arrival time of the frame, ms since the epoch. */
  receivedAt: number;
  /** The frame as received (JPEG or PNG bytes). */
  bytes: Uint8Array;
  image: RgbImage;
  /** The predictor's outputs, in the order of `objects`. */
  results: FrameResult[];
  objects: ResultObject[];
  skipped: number;
  latency: LatencyMs;
}

export interface SessionHooks {
  /** After `ready` was sent. */
  onStart?: (ev: { session: string; objects: ObjectPrompt[] }) => void | Promise<void>;
  /** After a result was sent; awaited before the session's next frame (a slow hook drops frames, never queues them). */
  onFrame?: (ev: FrameEvent) => void | Promise<void>;
  /** Once the session is closed, for any reason. */
  onEnd?: (ev: { session: string; framesReceived: number; framesProcessed: number }) => void;
}

export interface SessionOptions {
  id: string;
  rt: Runtime;
  model: SAM2;
  gpu: GpuQueue;
  metrics: ServeMetrics;
  /** JPEG / PNG bytes -> RGB; throws on a corrupt image. */
  decode: (bytes: Uint8Array) => RgbImage;
  maxFramePixels: number;
  maxFrameBytes: number;
  send: (text: string) => void;
  /** Close the connection with a WebSocket close code. */
  close: (code: number, reason: string) => void;
  /** Bytes queued on the connection but not yet sent. */
  buffered?: () => number;
  /** A client that leaves more than this many bytes of results unread is closed (slow_consumer). */
  maxBufferedBytes?: number;
  hooks?: SessionHooks;
  resize?: 'image' | 'official-video';
  /** Server-side log of unexpected (internal) errors. */
  log?: (line: string) => void;
}

interface PendingFrame {
  bytes: Uint8Array;
  index: number;
  /** performance.now() at arrival. */
  at: number;
  /** Date.now() at arrival. */
  wall: number;
}

type State = 'connected' | 'streaming' | 'stopping' | 'closed';

export class StreamSession {
  readonly id: string;
  private state: State = 'connected';
  private pred: VideoPredictor | null = null;
  private size: { width: number; height: number } | null = null;
  /** Object ids the session tracks or will track once its pending prompts apply. */
  private readonly ids = new Set<number>();
  private prompts: ObjectPrompt[] = [];
  private removals = new Set<number>();
  private pending: PendingFrame | null = null;
  private busy = false;
  private lastIndex = -1;
  framesReceived = 0;
  framesProcessed = 0;
  framesDropped = 0;
  /** Resolves once the session is closed and its GPU memory freed. */
  readonly released: Promise<void>;
  private release!: () => void;

  constructor(private readonly o: SessionOptions) {
    this.id = o.id;
    this.released = new Promise((res) => {
      this.release = res;
    });
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** A text message from the client. */
  onText(text: string): void {
    if (this.state === 'closed') return;
    try {
      this.handle(text);
    } catch (e) {
      this.fail(e);
    }
  }

  /** A binary message: one encoded frame. */
  onBinary(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'connected') throw new ProtocolError('out_of_order', 'a frame before start: send start first');
      if (this.state === 'stopping') throw new ProtocolError('out_of_order', 'a frame after stop');
      if (bytes.length > this.o.maxFrameBytes)
        throw new ProtocolError(
          'too_large',
          `frame of ${bytes.length} bytes (at most ${this.o.maxFrameBytes}: --max-frame-pixels sets it)`,
        );
    } catch (e) {
      this.fail(e);
      return;
    }
    const index = this.framesReceived++;
    this.o.metrics.framesReceived++;
    if (this.pending) {
      this.framesDropped++;
      this.o.metrics.framesDropped++;
    }
    this.pending = { bytes, index, at: performance.now(), wall: Date.now() };
    this.kick();
  }

  /** The connection is gone (client closed or vanished): free everything without answering. */
  onDisconnect(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.free();
  }

  /** Answer the client with an error found by the transport (e.g. an oversized or non-UTF-8 text message) and close. */
  reject(err: ProtocolError): void {
    this.fail(err);
  }

  /** Close from the server side (shutdown). */
  shutdown(): void {
    this.fail(new ProtocolError('shutting_down', 'the server is shutting down'));
  }

  private handle(text: string): void {
    const msg = parseClientMessage(text);
    if (msg.type === 'start') {
      if (this.state !== 'connected') throw new ProtocolError('out_of_order', 'start was already sent');
      for (const p of msg.objects) this.checkTarget(p);
      for (const p of msg.objects) this.ids.add(p.obj);
      this.prompts.push(...msg.objects);
      this.state = 'streaming';
      this.o.metrics.sessionsTotal++;
      this.o.send(JSON.stringify({ type: 'ready', session: this.id, objects: msg.objects.map((p) => p.obj) }));
      void this.hook(() => this.o.hooks?.onStart?.({ session: this.id, objects: msg.objects }));
      return;
    }
    if (this.state === 'connected') throw new ProtocolError('out_of_order', `${msg.type} before start`);
    if (this.state === 'stopping') throw new ProtocolError('out_of_order', `${msg.type} after stop`);
    if (msg.type === 'prompt') {
      const p = msg.prompt;
      this.checkTarget(p);
      if (!this.ids.has(p.obj) && this.ids.size >= LIMITS.objects)
        throw new ProtocolError(
          'too_large',
          `obj ${p.obj} would be object ${this.ids.size + 1} (at most ${LIMITS.objects})`,
        );
      if (this.prompts.length >= LIMITS.pendingPrompts)
        throw new ProtocolError(
          'too_large',
          `${this.prompts.length} prompts already wait for the next frame (at most ${LIMITS.pendingPrompts})`,
        );
      this.ids.add(p.obj);
      this.prompts.push(p);
    } else if (msg.type === 'remove') {
      if (!this.ids.has(msg.obj))
        throw new ProtocolError(
          'unknown_object',
          `remove: no object ${msg.obj} in this session (objects: ${[...this.ids].join(', ') || 'none'})`,
        );
      this.ids.delete(msg.obj);
      this.prompts = this.prompts.filter((p) => p.obj !== msg.obj);
      this.removals.add(msg.obj);
    } else {
      this.state = 'stopping';
      if (!this.busy) this.finish();
    }
  }

  /** A target needs RobotSeg weights and one of its class names. */
  private checkTarget(p: ObjectPrompt): void {
    if (p.target === undefined) return;
    const m = this.o.model;
    if (!(m instanceof RobotSeg))
      throw new ProtocolError(
        'needs_robotseg',
        `target '${p.target}' (obj ${p.obj}) needs RobotSeg weights; this server runs SAM 2.1 (${m.cfg.name}): prompt with points or a box`,
      );
    if (!m.spec.classVocab.includes(p.target))
      throw new ProtocolError(
        'bad_message',
        `unknown target '${p.target}' (obj ${p.obj}; expected one of ${m.spec.classVocab.join(', ')})`,
      );
  }

  private kick(): void {
    if (this.busy) return;
    this.busy = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending && (this.state === 'streaming' || this.state === 'stopping')) {
        const f = this.pending;
        this.pending = null;
        await this.process(f);
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.busy = false;
      if (this.state === 'stopping') this.finish();
    }
  }

  private async process(f: PendingFrame): Promise<void> {
    const o = this.o;
    const t0 = performance.now();
    const img = this.decodeFrame(f.bytes);
    const tDecode = performance.now() - t0;
    if (!this.size) this.size = { width: img.width, height: img.height };
    else if (img.width !== this.size.width || img.height !== this.size.height)
      throw new ProtocolError(
        'bad_frame',
        `frame ${f.index} is ${img.width}x${img.height}; this session's frames are ${this.size.width}x${this.size.height}`,
      );
    const { width: W, height: H } = this.size;
    this.pred ??= new VideoPredictor(
      o.rt,
      o.model,
      {
        numFrames: null,
        width: W,
        height: H,
        frame: async (i) => {
          throw new Error(`stream frame ${i} is no longer held`);
        },
      },
      { resize: o.resize ?? 'image' },
    );
    const pred = this.pred;
    const prompts = this.prompts.splice(0);
    const removals = [...this.removals];
    this.removals.clear();
    for (const p of prompts) {
      try {
        validatePrompt({ points: p.points, box: p.box }, W, H);
      } catch (e) {
        throw new ProtocolError('bad_prompt', `obj ${p.obj} on frame ${f.index}: ${(e as Error).message}`);
      }
    }
    const out = await o.gpu.run(async () => {
      if (this.state === 'closed') return null;
      const start = performance.now();
      for (const id of removals) if (pred.objectIds.includes(id)) pred.removeObject(id);
      const { frame, results } = await pred.push(img);
      const byObj = new Map(results.map((r) => [r.objId, r]));
      for (const p of prompts) {
        const r =
          p.points.length > 0 || p.box
            ? await pred.addPoints(frame, p.obj, {
                points: p.points,
                box: p.box,
                ...(p.target !== undefined ? { category: p.target } : {}),
              })
            : await pred.addTarget(frame, p.obj, p.target!);
        byObj.set(p.obj, r);
      }
      const ordered = pred.objectIds.filter((id) => byObj.has(id)).map((id) => byObj.get(id)!);
      return { results: ordered, start, gpu: performance.now() - start };
    });
    if (!out || this.state === 'closed') return;
    const t1 = performance.now();
    const objects: ResultObject[] = out.results.map((r) => {
      const { area, bbox } = maskStats(r.mask, W, H);
      return {
        obj: r.objId,
        iou: Number.isFinite(r.iou) ? r.iou : null,
        object_score: r.objectScore,
        area,
        bbox,
        rle: maskToRle(r.mask, W, H),
      };
    });
    const skipped = f.index - this.lastIndex - 1;
    this.lastIndex = f.index;
    const body = JSON.stringify(objects);
    const latency: LatencyMs = {
      decode: round(tDecode),
      queue: round(out.start - f.at - tDecode),
      gpu: round(out.gpu),
      encode: 0,
    };
    latency.encode = round(performance.now() - t1);
    const text = `{"type":"result","frame":${f.index},"skipped":${skipped},"objects":${body},"latency_ms":${JSON.stringify(latency)}}`;
    if (o.buffered && o.buffered() > (o.maxBufferedBytes ?? 16 * 1024 * 1024))
      throw new ProtocolError(
        'slow_consumer',
        `${o.buffered()} bytes of results are unread (read results as they come; frames are dropped, results are not)`,
      );
    o.send(text);
    this.framesProcessed++;
    o.metrics.framesProcessed++;
    o.metrics.observeLatency((performance.now() - f.at) / 1000);
    const hook = o.hooks?.onFrame;
    if (hook) {
      await this.hook(() =>
        hook({
          session: this.id,
          frame: f.index,
          receivedAt: f.wall,
          bytes: f.bytes,
          image: img,
          results: out.results,
          objects,
          skipped,
          latency,
        }),
      );
    }
  }

  private decodeFrame(bytes: Uint8Array): RgbImage {
    const max = this.o.maxFramePixels;
    const hdr = readImageHeader(bytes);
    if (!hdr)
      throw new ProtocolError('bad_frame', 'not a PNG or JPEG image (each binary message is one encoded frame)');
    if (hdr.width * hdr.height > max)
      throw new ProtocolError(
        'too_large',
        `frame of ${hdr.width}x${hdr.height} = ${hdr.width * hdr.height} pixels (at most ${max}: --max-frame-pixels)`,
      );
    if (hdr.width === 0 || hdr.height === 0) throw new ProtocolError('bad_frame', `empty ${hdr.format} image`);
    let img: RgbImage;
    try {
      img = this.o.decode(bytes);
    } catch (e) {
      throw new ProtocolError('bad_frame', oneLine((e as Error).message));
    }
    if (img.width * img.height > max || img.width === 0 || img.height === 0)
      throw new ProtocolError(
        'bad_frame',
        `decoded ${img.width}x${img.height}, the header said ${hdr.width}x${hdr.height}`,
      );
    return img;
  }

  /** Run a hook; one that throws ends the session as an internal error (the message names the hook). */
  private async hook(fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.fail(new Error(`a server hook failed: ${(e as Error).message}`));
    }
  }

  /** After stop, once the last received frame is answered: a summary, then a normal close. */
  private finish(): void {
    if (this.state !== 'stopping') return;
    this.o.send(
      JSON.stringify({
        type: 'stopped',
        session: this.id,
        frames_received: this.framesReceived,
        frames_processed: this.framesProcessed,
        frames_dropped: this.framesDropped,
      }),
    );
    this.state = 'closed';
    this.o.close(1000, 'stopped');
    this.free();
  }

  private fail(e: unknown): void {
    if (this.state === 'closed') return;
    const err =
      e instanceof ProtocolError
        ? e
        : new ProtocolError('internal', `internal server error: ${oneLine((e as Error)?.message ?? String(e))}`);
    if (err.code === 'internal') this.o.log?.(`session ${this.id}: ${(e as Error)?.stack ?? String(e)}`);
    this.o.metrics.error(err.code);
    this.state = 'closed';
    try {
      this.o.send(errorMessage(err.code, err.message));
    } catch {
      // the connection may already be gone
    }
    this.o.close(closeCodeFor(err.code), err.code);
    this.free();
  }

  /** Drop what waits and free the predictor's tensors after any GPU work of this session in flight. */
  private free(): void {
    this.pending = null;
    this.prompts = [];
    this.removals.clear();
    const pred = this.pred;
    this.pred = null;
    try {
      this.o.hooks?.onEnd?.({
        session: this.id,
        framesReceived: this.framesReceived,
        framesProcessed: this.framesProcessed,
      });
    } catch (e) {
      this.o.log?.(`session ${this.id}: the onEnd hook failed: ${(e as Error).message}`);
    }
    if (!pred) {
      this.release();
      return;
    }
    this.o.gpu
      .run(() => pred.reset())
      .catch((e) => this.o.log?.(`session ${this.id}: freeing its tensors failed: ${(e as Error).message}`))
      .finally(() => this.release());
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;
const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');
