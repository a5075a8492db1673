// A frame source over one image topic of an MCAP file, for the video predictor (`robotseg track
// FILE.mcap --topic T`). Node only.
//
// Opening reads the file once (records.ts, any chunk compression, indexed or not): it keeps every
// schema and channel, decodes each message of the topic as far as its header (stamp, frame_id, and the
// size when the message states it) and copies the message bytes to a spool file in a private temporary
// folder, so frames are then read back by offset in any order (--reverse, prompts on later frames)
// with memory bounded by one frame whatever the recording's length. Frames are the topic's messages in
// log-time order (file order among equal times), the first `maxFrames` of them.
//
// Frames must all have the first frame's size: checked up front from the message (raw images) or the
// JPEG/PNG header (compressed ones), and again when a frame is decoded.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { McapTypes } from '@mcap/core';
import type { RgbImage } from '../../image/rgb.js';
import type { OpenedFrameSource } from '../frame_source.js';
import { type FrameHeader, type ImageMessageDecoder, McapFormatError, imageDecoder } from './image_messages.js';
import { mcapRecords } from './records.js';
import { makeSpoolDir, removeSpoolDir } from './spool.js';

/** One frame: where its message sits and what its mask messages copy (times, header). */
export interface McapFrame extends FrameHeader {
  channelId: number;
  /** Index of the message among the topic's messages in file order (how the second read finds it). */
  fileIndex: number;
  logTime: bigint;
  publishTime: bigint;
  /** Message bytes in the spool file. */
  offset: number;
  length: number;
}

/** What a first read of the file found besides the frames: the rest is copied on a second read. */
export interface McapInputSummary {
  header: McapTypes.Header | null;
  /** Every schema and channel of the file, in order of first appearance. */
  schemas: McapTypes.Schema[];
  channels: McapTypes.Channel[];
  messageCount: number;
  /** Messages of the topic in the file (frames beyond --max-frames included). */
  topicMessageCount: number;
}

export interface McapTopicSourceOptions {
  topic: string;
  maxFrames?: number;
}

const NAME_DIGITS = 5;

export class McapTopicSource implements OpenedFrameSource {
  readonly kind = 'mcap';
  readonly fps: number | null;
  private last: { i: number; img: RgbImage } | null = null;
  private fd: number | null;
  /** The channels of the topic (an MCAP topic may have several). */
  readonly topicChannelIds: ReadonlySet<number>;

  private constructor(
    readonly path: string,
    readonly topic: string,
    readonly frames: readonly McapFrame[],
    readonly summary: McapInputSummary,
    private readonly decoders: Map<number, ImageMessageDecoder>,
    private readonly spoolDir: string,
    spoolFd: number,
    readonly width: number,
    readonly height: number,
  ) {
    this.fd = spoolFd;
    this.topicChannelIds = new Set(decoders.keys());
    const n = frames.length;
    const span = n > 1 ? Number(frames[n - 1].logTime - frames[0].logTime) / 1e9 : 0;
    this.fps = span > 0 ? (n - 1) / span : null;
  }

  /** Read the file once; throws McapFormatError for anything the user can fix. */
  static async open(path: string, opts: McapTopicSourceOptions): Promise<McapTopicSource> {
    const spoolDir = makeSpoolDir('robotseg-mcap-');
    const fd = openSync(join(spoolDir, 'frames.bin'), 'w+');
    try {
      const { frames, summary, decoders } = await scan(path, opts.topic, fd);
      const used = opts.maxFrames === undefined ? frames : frames.slice(0, opts.maxFrames);
      const { width, height } = await firstFrameSize(path, opts.topic, used, decoders, fd);
      for (const [i, f] of used.entries())
        if (f.size && (f.size.width !== width || f.size.height !== height))
          throw new McapFormatError(
            `${describeFrame(opts.topic, i, f)} is ${f.size.width}x${f.size.height}, frame 0 is ${width}x${height}: all frames must have the same size`,
          );
      const kept = used.map(({ size: _size, ...f }) => f);
      return new McapTopicSource(path, opts.topic, kept, summary, decoders, spoolDir, fd, width, height);
    } catch (e) {
      closeSync(fd);
      removeSpoolDir(spoolDir);
      throw e;
    }
  }

  get numFrames(): number {
    return this.frames.length;
  }

  /** 00000, 00001, …: frame numbers (masks go into the MCAP file, these only name frames in messages). */
  get names(): string[] {
    return this.frames.map((_, i) => String(i).padStart(NAME_DIGITS, '0'));
  }

  describe(i: number): string {
    return describeFrame(this.topic, i, this.frames[i]);
  }

  async frame(i: number): Promise<RgbImage> {
    if (!Number.isInteger(i) || i < 0 || i >= this.frames.length)
      throw new McapFormatError(`frame ${i} does not exist (topic '${this.topic}' has ${this.frames.length} frames)`);
    if (this.last?.i === i) return this.last.img;
    if (this.fd === null) throw new Error('McapTopicSource: frame() after close()');
    const f = this.frames[i];
    const img = decodeSpooled(this.fd, f, this.decoders, this.describe(i)).pixels();
    if (img.width !== this.width || img.height !== this.height)
      throw new McapFormatError(
        `${this.describe(i)} is ${img.width}x${img.height}, frame 0 is ${this.width}x${this.height}: all frames must have the same size`,
      );
    this.last = { i, img };
    return img;
  }

  /** Deletes the spool; the source can't be read afterwards. */
  close(): void {
    this.last = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    removeSpoolDir(this.spoolDir);
  }
}

function describeFrame(topic: string, i: number, f: { logTime: bigint }): string {
  return `frame ${i} of topic '${topic}' (log time ${f.logTime} ns)`;
}

interface ScannedFrame extends McapFrame {
  size: { width: number; height: number } | null;
}

/** The first read: schemas, channels, the topic's message headers, its messages spooled to fd. */
async function scan(
  path: string,
  topic: string,
  fd: number,
): Promise<{ frames: ScannedFrame[]; summary: McapInputSummary; decoders: Map<number, ImageMessageDecoder> }> {
  const schemas = new Map<number, McapTypes.Schema>();
  const channels = new Map<number, McapTypes.Channel>();
  const decoders = new Map<number, ImageMessageDecoder>();
  const frames: ScannedFrame[] = [];
  let header: McapTypes.Header | null = null;
  let messageCount = 0;
  let spooled = 0;
  for await (const rec of mcapRecords(path)) {
    if (rec.type === 'Header') header = { profile: rec.profile, library: rec.library };
    else if (rec.type === 'Schema') {
      if (!schemas.has(rec.id)) schemas.set(rec.id, stripType(rec));
    } else if (rec.type === 'Channel') {
      if (channels.has(rec.id)) continue;
      channels.set(rec.id, stripType(rec));
      if (rec.topic === topic) decoders.set(rec.id, imageDecoder(schemas.get(rec.schemaId), rec));
    } else if (rec.type === 'Message') {
      messageCount++;
      const dec = decoders.get(rec.channelId);
      if (!dec) continue;
      const i = frames.length;
      const m = dec.decode(rec.data, `message ${i} of topic '${topic}' (log time ${rec.logTime} ns)`);
      let off = 0;
      while (off < rec.data.length) off += writeSync(fd, rec.data, off, rec.data.length - off, spooled + off);
      frames.push({
        channelId: rec.channelId,
        fileIndex: i,
        logTime: rec.logTime,
        publishTime: rec.publishTime,
        offset: spooled,
        length: rec.data.length,
        stamp: m.stamp,
        frameId: m.frameId,
        size: m.size,
      });
      spooled += rec.data.length;
    }
  }
  if (decoders.size === 0) {
    const topics = [...channels.values()].map((c) => {
      const s = schemas.get(c.schemaId);
      return `${c.topic} (${s ? s.name : c.messageEncoding})`;
    });
    const list = topics.length
      ? `its topics: ${topics.slice(0, 12).join(', ')}${topics.length > 12 ? ', …' : ''}`
      : 'it has no channels';
    throw new McapFormatError(`'${path}' has no topic '${topic}' (${list})`);
  }
  if (frames.length === 0) throw new McapFormatError(`topic '${topic}' in '${path}' has no messages`);
  // log-time order; Array.prototype.sort is stable, so equal times keep their file order
  frames.sort((a, b) => (a.logTime < b.logTime ? -1 : a.logTime > b.logTime ? 1 : 0));
  const summary: McapInputSummary = {
    header,
    schemas: [...schemas.values()],
    channels: [...channels.values()],
    messageCount,
    topicMessageCount: frames.length,
  };
  return { frames, summary, decoders };
}

const stripType = <T extends { type: string }>({ type: _type, ...rest }: T): Omit<T, 'type'> => rest;

function decodeSpooled(
  fd: number,
  f: McapFrame,
  decoders: Map<number, ImageMessageDecoder>,
  what: string,
): ReturnType<ImageMessageDecoder['decode']> {
  const buf = new Uint8Array(f.length);
  let got = 0;
  while (got < f.length) {
    const n = readSync(fd, buf, got, f.length - got, f.offset + got);
    if (n === 0) throw new Error(`McapTopicSource: spool ends before ${what}`);
    got += n;
  }
  return decoders.get(f.channelId)!.decode(buf, what);
}

/** Frame 0's size, from a full decode (so a corrupt first frame fails before any GPU work). */
async function firstFrameSize(
  path: string,
  topic: string,
  frames: ScannedFrame[],
  decoders: Map<number, ImageMessageDecoder>,
  fd: number,
): Promise<{ width: number; height: number }> {
  const img = decodeSpooled(fd, frames[0], decoders, describeFrame(topic, 0, frames[0])).pixels();
  if (img.width < 1 || img.height < 1)
    throw new McapFormatError(`${describeFrame(topic, 0, frames[0])} in '${path}' is empty`);
  return { width: img.width, height: img.height };
}
