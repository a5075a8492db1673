// Writing MCAP files with masks: @mcap/core's McapWriter (chunked, indexed, statistics and summary
// offsets, zstd chunks) on an atomic output (src/node/atomic_write.ts: a temporary sibling renamed over
// the path on close(), removed on abort()). Node only.
//
// Used by `robotseg track FILE.mcap` (copies every schema, channel, message, attachment and metadata
// record of the input, then adds mask channels) and meant for `robotseg serve --record FILE.mcap`:
//
//   const w = await McapMaskWriter.open('run.mcap');
//   const frames = await w.addCompressedFrameChannel('/camera/image/compressed'); // optional: the input
//   const robot = await w.addMaskChannel('/camera/image/robot_mask');
//   for each frame: await w.writeCompressedFrame(frames, { logTime, header, format: 'jpeg', data });
//                   await w.writeMask(robot, { logTime, header, width, height, mask });
//   await w.close(); // or w.abort() on failure: nothing is left behind
//
// Masks are sensor_msgs/msg/Image mono8 (0/255) in ROS 2 CDR, the schema in rosbag2's ros2msg form, so
// `ros2 bag play`, Foxglove and the mcap CLI read them as they read camera images.
import { closeSync, openSync, writeSync } from 'node:fs';
import { McapWriter, type McapTypes } from '@mcap/core';
import { unwrapDefaultExport } from '@mcap/support';
import { type AtomicFile, beginAtomic } from '../atomic_write.js';
import {
  type FrameHeader,
  ROS2_COMPRESSED_IMAGE,
  ROS2_COMPRESSED_IMAGE_SCHEMA,
  ROS2_IMAGE,
  ROS2_IMAGE_SCHEMA,
  encodeMaskMessage,
  encodeRosCompressedImage,
} from './image_messages.js';

export interface McapMaskWriterOptions {
  /** Header profile: 'ros2' (default) for ROS 2 bags; '' when unknown. */
  profile?: string;
  /** Header library (default 'robotseg'). */
  library?: string;
  /** Chunk compression: 'zstd' (default) or 'none'. */
  compression?: 'zstd' | 'none';
  /** Uncompressed chunk size in bytes (default 4 MiB). */
  chunkSize?: number;
}

/** A mask for one frame: times and header as the frame it belongs to; mask = width*height 0/1 (or 0/255). */
export interface MaskMessage {
  logTime: bigint;
  /** Default: logTime. */
  publishTime?: bigint;
  header: FrameHeader;
  width: number;
  height: number;
  mask: ArrayLike<number>;
}

export interface CompressedFrameMessage {
  logTime: bigint;
  publishTime?: bigint;
  header: FrameHeader;
  /** 'jpeg' or 'png' (sensor_msgs/msg/CompressedImage's format field). */
  format: string;
  data: Uint8Array;
}

/** The file handle as @mcap/core's IWritable (synchronous writes: the writer awaits each call anyway). */
class FileWritable {
  private pos = 0n;
  constructor(private readonly fd: number) {}
  async write(buffer: Uint8Array): Promise<void> {
    let off = 0;
    while (off < buffer.length) off += writeSync(this.fd, buffer, off, buffer.length - off);
    this.pos += BigInt(buffer.length);
  }
  position(): bigint {
    return this.pos;
  }
}

type ZstdModule = { isLoaded: Promise<boolean>; compress(b: Uint8Array, level?: number): Uint8Array };
let zstd: Promise<ZstdModule> | null = null;
const loadZstd = () =>
  (zstd ??= import('@foxglove/wasm-zstd').then(async (m) => {
    const z = unwrapDefaultExport<ZstdModule>(m);
    await z.isLoaded;
    return z;
  }));

export class McapMaskWriter {
  private readonly sequences = new Map<number, number>();
  private imageSchema: number | null = null;
  private compressedSchema: number | null = null;
  private closed = false;

  private constructor(
    private readonly out: AtomicFile,
    private readonly fd: number,
    readonly writer: McapWriter,
  ) {}

  /**
   * Start writing `path` (atomically: nothing appears there before close()). `startChannelId` is the
   * first channel id handed out (a copy that registers the input's channels in order keeps their ids).
   */
  static async open(
    path: string,
    opts: McapMaskWriterOptions & { startChannelId?: number } = {},
  ): Promise<McapMaskWriter> {
    const z = (opts.compression ?? 'zstd') === 'zstd' ? await loadZstd() : null;
    const out = beginAtomic(path);
    let fd: number;
    try {
      fd = openSync(out.tempPath, 'wx');
    } catch (e) {
      out.abort();
      throw e;
    }
    const writer = new McapWriter({
      writable: new FileWritable(fd),
      chunkSize: opts.chunkSize ?? 4 << 20,
      startChannelId: opts.startChannelId,
      compressChunk: z
        ? (data) => {
            const c = z.compress(data, 3);
            return c.length < data.length
              ? { compression: 'zstd', compressedData: new Uint8Array(c) }
              : { compression: '', compressedData: data };
          }
        : undefined,
    });
    const w = new McapMaskWriter(out, fd, writer);
    try {
      await writer.start({ profile: opts.profile ?? 'ros2', library: opts.library ?? 'robotseg' });
    } catch (e) {
      w.abort();
      throw e;
    }
    return w;
  }

  get path(): string {
    return this.out.path;
  }

  registerSchema(s: Omit<McapTypes.Schema, 'id'>): Promise<number> {
    return this.writer.registerSchema(s);
  }

  registerChannel(c: Omit<McapTypes.Channel, 'id'>): Promise<number> {
    return this.writer.registerChannel(c);
  }

  /** A message as is (a copied one keeps its sequence, times and bytes). */
  addMessage(m: McapTypes.Message): Promise<void> {
    return this.writer.addMessage(m);
  }

  addAttachment(a: McapTypes.Attachment): Promise<void> {
    return this.writer.addAttachment(a);
  }

  addMetadata(m: McapTypes.Metadata): Promise<void> {
    return this.writer.addMetadata(m);
  }

  /** A sensor_msgs/msg/Image channel (CDR) for masks; returns its id for writeMask. */
  async addMaskChannel(topic: string, metadata: Map<string, string> = new Map()): Promise<number> {
    this.imageSchema ??= await this.writer.registerSchema({
      name: ROS2_IMAGE,
      encoding: 'ros2msg',
      data: new TextEncoder().encode(ROS2_IMAGE_SCHEMA),
    });
    return this.writer.registerChannel({ topic, schemaId: this.imageSchema, messageEncoding: 'cdr', metadata });
  }

  /** A sensor_msgs/msg/CompressedImage channel (CDR) for the frames themselves. */
  async addCompressedFrameChannel(topic: string, metadata: Map<string, string> = new Map()): Promise<number> {
    this.compressedSchema ??= await this.writer.registerSchema({
      name: ROS2_COMPRESSED_IMAGE,
      encoding: 'ros2msg',
      data: new TextEncoder().encode(ROS2_COMPRESSED_IMAGE_SCHEMA),
    });
    return this.writer.registerChannel({ topic, schemaId: this.compressedSchema, messageEncoding: 'cdr', metadata });
  }

  /** One mask as a mono8 image (nonzero -> 255) on a channel from addMaskChannel. */
  writeMask(channelId: number, m: MaskMessage): Promise<void> {
    return this.writer.addMessage({
      channelId,
      sequence: this.nextSequence(channelId),
      logTime: m.logTime,
      publishTime: m.publishTime ?? m.logTime,
      data: encodeMaskMessage(m.header, m.width, m.height, m.mask),
    });
  }

  /** One encoded frame on a channel from addCompressedFrameChannel. */
  writeCompressedFrame(channelId: number, m: CompressedFrameMessage): Promise<void> {
    return this.writer.addMessage({
      channelId,
      sequence: this.nextSequence(channelId),
      logTime: m.logTime,
      publishTime: m.publishTime ?? m.logTime,
      data: encodeRosCompressedImage(m.header, m.format, m.data),
    });
  }

  /** Any message (already encoded for its channel), numbered in its channel's sequence. */
  writeMessage(channelId: number, logTime: bigint, data: Uint8Array): Promise<void> {
    return this.writer.addMessage({
      channelId,
      sequence: this.nextSequence(channelId),
      logTime,
      publishTime: logTime,
      data,
    });
  }

  private nextSequence(channelId: number): number {
    const s = this.sequences.get(channelId) ?? 0;
    this.sequences.set(channelId, s + 1);
    return s;
  }

  /** Finish the file (summary, footer), flush it and move it to its path. */
  async close(): Promise<void> {
    if (this.closed) throw new Error(`${this.out.path}: already closed`);
    try {
      await this.writer.end();
    } catch (e) {
      this.abort();
      throw e;
    }
    this.closed = true;
    closeSync(this.fd);
    this.out.commit();
  }

  /** Drop the file: the temporary is removed and the path left as it was. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.out.abort();
  }
}
