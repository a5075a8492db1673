// `robotseg serve --record FILE.mcap`: what the server served, written to one MCAP file (writer.ts:
// atomic, the file appears under its name only once finished). Node only.
//
// Per streaming session k (in start order; channel metadata `session` = the id of its `ready` message):
//   /robotseg/session<k>/image                  sensor_msgs/msg/CompressedImage: the frame bytes as received
//   /robotseg/session<k>/image/obj<id>_mask     sensor_msgs/msg/Image mono8 (0/255), one channel per object
//   /robotseg/session<k>/results                JSON: the `result` message the client got for the frame
// and for `POST /v1/segment`, the same three under /robotseg/segment/image (mask channels named after the
// entry: the RobotSeg target, else `mask<i>` in decoder order) and /robotseg/segment/results.
// Every message of a frame has the frame's arrival time as log time and header stamp (frame_id ''),
// the naming of `robotseg track FILE.mcap` (`<topic>/obj<id>_mask`, annotate.ts maskTopic).
//
// Writes are queued one after another (sessions run concurrently); a session's onFrame awaits its own
// writes, so a slow disk drops frames rather than queueing them. A write that fails (disk full…) stops
// the recording: one log line, the temporary file removed, serving goes on.
import { readImageHeader } from '../../serve/image_header.js';
import type { FrameEvent, SessionHooks } from '../../serve/session.js';
import { maskTopic } from '../mcap/annotate.js';
import { type FrameHeader, rosTimeFromNs } from '../mcap/image_messages.js';
import { McapMaskWriter } from '../mcap/writer.js';
import type { SegmentEvent } from './segment.js';

const RESULT_SCHEMA = JSON.stringify({
  title: 'robotseg.Result',
  description:
    'A result message of robotseg serve (docs/serve.md): frame, skipped, objects (COCO RLE masks), latency_ms',
  type: 'object',
  properties: {
    type: { type: 'string' },
    frame: { type: 'integer' },
    skipped: { type: 'integer' },
    objects: { type: 'array' },
    latency_ms: { type: 'object' },
  },
});

interface Stream {
  image: number;
  results: number;
  masks: Map<string, number>;
  topic: string;
  session: string;
}

const nsFromMs = (ms: number) => BigInt(Math.round(ms * 1000)) * 1000n;

export class ServeRecorder {
  private readonly sessions = new Map<string, Stream>();
  private segment: Stream | null = null;
  private resultSchema: number | null = null;
  private queue: Promise<void> = Promise.resolve();
  private started = 0;
  private state: 'open' | 'failed' | 'closed' = 'open';
  frames = 0;
  masks = 0;

  private constructor(
    private readonly w: McapMaskWriter,
    private readonly log: (line: string) => void,
  ) {}

  /** Start the file (a temporary sibling of `path` until close()). Errors are errno errors of the open. */
  static async open(path: string, log: (line: string) => void): Promise<ServeRecorder> {
    return new ServeRecorder(await McapMaskWriter.open(path, { profile: 'ros2' }), log);
  }

  get path(): string {
    return this.w.path;
  }

  /** The session hooks that record every answered frame. */
  readonly hooks: SessionHooks = {
    onStart: ({ session }) =>
      this.enqueue(async () => {
        this.sessions.set(session, await this.stream(`/robotseg/session${++this.started}/image`, session));
      }),
    onFrame: (ev: FrameEvent) =>
      this.enqueue(async () => {
        const s = this.sessions.get(ev.session);
        if (!s) return;
        const result = `{"type":"result","frame":${ev.frame},"skipped":${ev.skipped},"objects":${JSON.stringify(ev.objects)},"latency_ms":${JSON.stringify(ev.latency)}}`;
        const names = ev.objects.map((o) => `obj${o.obj}`);
        const masks = ev.results.map((r) => r.mask);
        await this.writeFrame(s, ev.receivedAt, ev.bytes, ev.image.width, ev.image.height, names, masks, result);
      }),
    onEnd: ({ session }) => {
      this.sessions.delete(session);
    },
  };

  /** Record one `POST /v1/segment` request (awaits its writes). */
  recordSegment(ev: SegmentEvent): Promise<void> {
    return this.enqueue(async () => {
      this.segment ??= await this.stream('/robotseg/segment/image', 'segment');
      const names = ev.objects.map((o) => o.target ?? (o.mask !== undefined ? `mask${o.mask}` : `obj${o.obj}`));
      await this.writeFrame(this.segment, ev.receivedAt, ev.bytes, ev.width, ev.height, names, ev.masks, ev.result);
    });
  }

  /** Finish the file after every queued write and move it to its path; throws if a write failed before. */
  async close(): Promise<void> {
    for (let q = this.queue; ; q = this.queue) {
      await q;
      if (q === this.queue) break; // nothing was queued meanwhile
    }
    if (this.state === 'failed') throw new Error('a write failed earlier (logged then); the recording was dropped');
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.w.close();
  }

  /** Drop the file (nothing is left under its name). */
  abort(): void {
    if (this.state === 'open') this.state = 'closed';
    this.w.abort();
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = async () => {
      if (this.state !== 'open') return;
      try {
        await fn();
      } catch (e) {
        this.state = 'failed';
        this.w.abort();
        this.log(`--record ${this.w.path}: ${(e as Error).message}; recording stopped (serving goes on)`);
      }
    };
    this.queue = this.queue.then(run);
    return this.queue;
  }

  private async stream(topic: string, session: string): Promise<Stream> {
    const meta = new Map([['session', session]]);
    this.resultSchema ??= await this.w.registerSchema({
      name: 'robotseg.Result',
      encoding: 'jsonschema',
      data: new TextEncoder().encode(RESULT_SCHEMA),
    });
    const base = topic.replace(/\/image$/, '');
    return {
      topic,
      session,
      image: await this.w.addCompressedFrameChannel(topic, meta),
      results: await this.w.registerChannel({
        topic: `${base}/results`,
        schemaId: this.resultSchema,
        messageEncoding: 'json',
        metadata: meta,
      }),
      masks: new Map(),
    };
  }

  private async writeFrame(
    s: Stream,
    receivedAt: number,
    bytes: Uint8Array,
    width: number,
    height: number,
    names: string[],
    masks: Uint8Array[],
    result: string,
  ): Promise<void> {
    const logTime = nsFromMs(receivedAt);
    const header: FrameHeader = { stamp: rosTimeFromNs(logTime), frameId: '' };
    const format = readImageHeader(bytes)?.format ?? 'jpeg';
    await this.w.writeCompressedFrame(s.image, { logTime, header, format, data: bytes });
    for (const [k, name] of names.entries()) {
      let ch = s.masks.get(name);
      if (ch === undefined) {
        const meta = new Map([
          ['session', s.session],
          ['source_topic', s.topic],
        ]);
        ch = await this.w.addMaskChannel(maskTopic(s.topic, name), meta);
        s.masks.set(name, ch);
      }
      await this.w.writeMask(ch, { logTime, header, width, height, mask: masks[k] });
      this.masks++;
    }
    await this.w.writeMessage(s.results, logTime, new TextEncoder().encode(result));
    this.frames++;
  }
}
