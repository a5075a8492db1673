// A synthetic ROS 2 recording for the MCAP tests, built with the maintained libraries (@mcap/core's
// writer, @foxglove/rosmsg2-serialization's CDR writer, protobufjs) from the frames of
// test/fixtures/video_clip: the same frames on several image topics, one per supported message type,
// plus an unrelated std_msgs/msg/String topic, an attachment and a metadata record.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseRosMsg } from '@foxglove/rosmsg';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { McapWriter, TempBuffer } from '@mcap/core';
import { protobufToDescriptor } from '@mcap/support';
import { PNG } from 'pngjs';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { RgbImage } from '../../src/image/rgb.js';
import { decodeImage } from '../../src/node/image_io.js';
import { ROOT } from './cli.js';

export const CLIP = join(ROOT, 'test', 'fixtures', 'video_clip');
export const CLIP_FILES = ['00000.jpg', '00001.jpg', '00002.jpg', '00003.jpg', '00004.jpg'];

// rosbag2's ros2msg texts: the type, then each dependency after a line of '=' (comments trimmed)
const HEADER = `
================================================================================
MSG: std_msgs/Header
builtin_interfaces/Time stamp
string frame_id

================================================================================
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
`;
const IMAGE_MSG = `std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n${HEADER}`;
const COMPRESSED_MSG = `std_msgs/Header header\nstring format\nuint8[] data\n${HEADER}`;
const STRING_MSG = 'string data\n';

// foxglove.CompressedImage as Foxglove's schemas define it (field names kept: frame_id)
const FOXGLOVE_PROTO = `syntax = "proto3";
import "google/protobuf/timestamp.proto";
package foxglove;
message CompressedImage {
  google.protobuf.Timestamp timestamp = 1;
  string frame_id = 4;
  bytes data = 2;
  string format = 3;
}`;
const TIMESTAMP_PROTO = `syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }`;
const FOXGLOVE_JSON_SCHEMA = JSON.stringify({
  title: 'foxglove.CompressedImage',
  type: 'object',
  properties: {
    timestamp: { type: 'object', properties: { sec: { type: 'integer' }, nsec: { type: 'integer' } } },
    frame_id: { type: 'string' },
    data: { type: 'string', contentEncoding: 'base64' },
    format: { type: 'string' },
  },
});

export interface TopicSpec {
  topic: string;
  /** What the frame becomes on this topic. */
  kind: 'cdr-jpeg' | 'cdr-png' | 'rgb8' | 'bgr8' | 'mono8' | 'fox-proto-jpeg' | 'fox-json-png';
}

export const TOPICS: TopicSpec[] = [
  { topic: '/cam/compressed', kind: 'cdr-jpeg' },
  { topic: '/cam/png', kind: 'cdr-png' },
  { topic: '/cam/rgb', kind: 'rgb8' },
  { topic: '/cam/bgr', kind: 'bgr8' },
  { topic: '/cam/mono', kind: 'mono8' },
  { topic: '/fox/proto', kind: 'fox-proto-jpeg' },
  { topic: '/fox/json', kind: 'fox-json-png' },
];

export const T0 = 1_700_000_000_000_000_000n; // log time of frame 0 (ns)
export const FRAME_NS = 100_000_000n;
/** The header stamp of frame i: 7 ms before its log time (so copying the log time would show). */
export const stampOf = (i: number) => {
  const ns = T0 + BigInt(i) * FRAME_NS - 7_000_000n;
  return { sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) };
};
export const FRAME_ID = 'camera_optical_frame';

/** Decoded frames of the clip (the pixels every topic must give back; mono8 gives its grey). */
export function clipFrames(n: number): { jpeg: Uint8Array[]; rgb: RgbImage[] } {
  const jpeg = CLIP_FILES.slice(0, n).map((f) => new Uint8Array(readFileSync(join(CLIP, f))));
  return { jpeg, rgb: jpeg.map((b) => decodeImage(b)) };
}

/** The grey level mono8 stores for a pixel (integer BT.601 luma). */
export const grey = (r: number, g: number, b: number) => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

function png(img: RgbImage): Uint8Array {
  const p = new PNG({ width: img.width, height: img.height });
  for (let i = 0; i < img.width * img.height; i++) {
    p.data[4 * i] = img.data[3 * i];
    p.data[4 * i + 1] = img.data[3 * i + 1];
    p.data[4 * i + 2] = img.data[3 * i + 2];
    p.data[4 * i + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(p));
}

/** Raw rows with 4 bytes of padding per row (step > width * channels, as some drivers send). */
function raw(img: RgbImage, kind: 'rgb8' | 'bgr8' | 'mono8'): { step: number; data: Uint8Array } {
  const ch = kind === 'mono8' ? 1 : 3;
  const step = img.width * ch + 4;
  const data = new Uint8Array(step * img.height).fill(0xee);
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const s = 3 * (y * img.width + x);
      const [r, g, b] = [img.data[s], img.data[s + 1], img.data[s + 2]];
      const o = y * step + x * ch;
      if (kind === 'rgb8') data.set([r, g, b], o);
      else if (kind === 'bgr8') data.set([b, g, r], o);
      else data[o] = grey(r, g, b);
    }
  return { step, data };
}

export interface BuildOptions {
  frames: number;
  topics?: TopicSpec[];
  /** Indexed, chunked and zstd-compressed (default) or a plain unchunked, unindexed stream. */
  indexed?: boolean;
  /** Extra channels: [topic, schema name, schema encoding, schema text, message encoding, message]. */
  extra?: Array<{
    topic: string;
    schema: string;
    schemaEncoding: string;
    schemaData: string;
    encoding: string;
    data: Uint8Array;
  }>;
}

/** Build the recording; returns its bytes. */
export async function buildMcap(opts: BuildOptions): Promise<Uint8Array> {
  const { jpeg, rgb } = clipFrames(opts.frames);
  const topics = opts.topics ?? TOPICS;
  const buf = new TempBuffer();
  const zstd = (await import('@foxglove/wasm-zstd')) as unknown as {
    default?: { compress(b: Uint8Array): Uint8Array; isLoaded: Promise<boolean> };
  };
  const z = zstd.default!;
  await z.isLoaded;
  const indexed = opts.indexed ?? true;
  const w = new McapWriter({
    writable: buf,
    useChunks: indexed,
    useStatistics: indexed,
    useSummaryOffsets: indexed,
    useChunkIndex: indexed,
    useMessageIndex: indexed,
    useAttachmentIndex: indexed,
    useMetadataIndex: indexed,
    repeatSchemas: indexed,
    repeatChannels: indexed,
    compressChunk: indexed
      ? (d) => ({ compression: 'zstd', compressedData: new Uint8Array(z.compress(d)) })
      : undefined,
  });
  await w.start({ profile: 'ros2', library: 'robotseg-test' });
  const enc = new TextEncoder();
  const schema = async (name: string, encoding: string, data: string | Uint8Array) =>
    w.registerSchema({ name, encoding, data: typeof data === 'string' ? enc.encode(data) : data });
  const sImage = await schema('sensor_msgs/msg/Image', 'ros2msg', IMAGE_MSG);
  const sCompressed = await schema('sensor_msgs/msg/CompressedImage', 'ros2msg', COMPRESSED_MSG);
  const sString = await schema('std_msgs/msg/String', 'ros2msg', STRING_MSG);
  const root = protobuf.parse(TIMESTAMP_PROTO, { keepCase: true }).root;
  protobuf.parse(FOXGLOVE_PROTO, root, { keepCase: true });
  const fdSet = (
    descriptor as unknown as { FileDescriptorSet: { encode(m: unknown): { finish(): Uint8Array } } }
  ).FileDescriptorSet.encode(protobufToDescriptor(root)).finish();
  const sFoxProto = await schema('foxglove.CompressedImage', 'protobuf', fdSet);
  const sFoxJson = await schema('foxglove.CompressedImage', 'jsonschema', FOXGLOVE_JSON_SCHEMA);
  const FoxType = root.lookupType('foxglove.CompressedImage');
  const imageW = new MessageWriter(parseRosMsg(IMAGE_MSG, { ros2: true }));
  const compressedW = new MessageWriter(parseRosMsg(COMPRESSED_MSG, { ros2: true }));
  const stringW = new MessageWriter(parseRosMsg(STRING_MSG, { ros2: true }));

  const chatter = await w.registerChannel({
    topic: '/chatter',
    schemaId: sString,
    messageEncoding: 'cdr',
    metadata: new Map([['offered_qos_profiles', '- history: 3\n  depth: 0']]),
  });
  const ch = new Map<string, number>();
  for (const t of topics) {
    const schemaId = t.kind.startsWith('cdr-')
      ? sCompressed
      : t.kind === 'fox-proto-jpeg'
        ? sFoxProto
        : t.kind === 'fox-json-png'
          ? sFoxJson
          : sImage;
    const messageEncoding = t.kind === 'fox-proto-jpeg' ? 'protobuf' : t.kind === 'fox-json-png' ? 'json' : 'cdr';
    ch.set(t.topic, await w.registerChannel({ topic: t.topic, schemaId, messageEncoding, metadata: new Map() }));
  }
  const extra = [];
  for (const e of opts.extra ?? []) {
    const s = await schema(e.schema, e.schemaEncoding, e.schemaData);
    extra.push({
      id: await w.registerChannel({ topic: e.topic, schemaId: s, messageEncoding: e.encoding, metadata: new Map() }),
      data: e.data,
    });
  }
  await w.addMetadata({ name: 'rosbag2', metadata: new Map([['serialized_bag_info', 'synthetic']]) });
  await w.addAttachment({
    name: 'calibration.yaml',
    logTime: T0,
    createTime: T0,
    mediaType: 'application/yaml',
    data: enc.encode('fx: 200\nfy: 200\n'),
  });

  let seq = 0;
  for (let i = 0; i < opts.frames; i++) {
    const logTime = T0 + BigInt(i) * FRAME_NS;
    const header = { stamp: stampOf(i), frame_id: FRAME_ID };
    await w.addMessage({
      channelId: chatter,
      sequence: seq++,
      logTime: logTime - 1n,
      publishTime: logTime - 2n,
      data: stringW.writeMessage({ data: `tick ${i}` }),
    });
    for (const [k, t] of topics.entries()) {
      let data: Uint8Array;
      const img = rgb[i];
      if (t.kind === 'cdr-jpeg') data = compressedW.writeMessage({ header, format: 'jpeg', data: jpeg[i] });
      else if (t.kind === 'cdr-png') data = compressedW.writeMessage({ header, format: 'png', data: png(img) });
      else if (t.kind === 'fox-proto-jpeg')
        data = FoxType.encode(
          FoxType.fromObject({
            timestamp: { seconds: header.stamp.sec, nanos: header.stamp.nanosec },
            frame_id: FRAME_ID,
            data: jpeg[i],
            format: 'jpeg',
          }),
        ).finish();
      else if (t.kind === 'fox-json-png')
        data = enc.encode(
          JSON.stringify({
            timestamp: { sec: header.stamp.sec, nsec: header.stamp.nanosec },
            frame_id: FRAME_ID,
            data: Buffer.from(png(img)).toString('base64'),
            format: 'png',
          }),
        );
      else {
        const { step, data: d } = raw(img, t.kind);
        data = imageW.writeMessage({
          header,
          height: img.height,
          width: img.width,
          encoding: t.kind,
          is_bigendian: 0,
          step,
          data: d,
        });
      }
      // publish time differs from the log time by a per-topic amount (both must be copied)
      await w.addMessage({
        channelId: ch.get(t.topic)!,
        sequence: i,
        logTime,
        publishTime: logTime - BigInt(k + 1),
        data,
      });
    }
    for (const e of extra)
      await w.addMessage({ channelId: e.id, sequence: i, logTime, publishTime: logTime, data: e.data });
  }
  await w.end();
  return buf.get();
}

export async function writeMcap(path: string, opts: BuildOptions): Promise<void> {
  writeFileSync(path, await buildMcap(opts));
}
