// Camera-frame messages inside MCAP files: decoding the image schemas `robotseg track FILE.mcap` reads
// and encoding the mono8 mask messages it writes. Node only.
//
// Read (schema name / schema encoding / message encoding):
//   sensor_msgs/msg/CompressedImage  ros2msg   cdr       header, format, data (JPEG or PNG bytes)
//   sensor_msgs/msg/Image            ros2msg   cdr       header, height, width, encoding, step, data;
//                                                        encodings rgb8, bgr8, mono8 (8-bit: endianness moot)
//   foxglove.CompressedImage         protobuf  protobuf  timestamp, frame_id, data, format (FileDescriptorSet)
//   foxglove.CompressedImage         jsonschema json     the same fields, data in base64
// The CDR schemas are parsed from the file's own schema text (@foxglove/rosmsg), the protobuf one from
// its FileDescriptorSet (@mcap/support), so a definition that lacks a field fails at open with the field
// named. Anything else is an McapFormatError naming what was found and what is read.
//
// Written: sensor_msgs/msg/Image, encoding mono8, step = width, data = 0/255 per pixel, CDR little
// endian, with the header (stamp, frame_id) of the frame it belongs to.
import { parse as parseRosMsg } from '@foxglove/rosmsg';
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';
import type { McapTypes } from '@mcap/core';
import { protobufFromBinaryDescriptor } from '@mcap/support';
import type { RgbImage } from '../../image/rgb.js';
import { decodeImage } from '../image_io.js';

/** An MCAP input the user can fix: not MCAP, truncated, an unknown schema or encoding, a bad message. */
export class McapFormatError extends Error {}

/** A ROS 2 time (builtin_interfaces/Time). */
export interface RosTime {
  sec: number;
  nanosec: number;
}

/** What every camera message carries besides its pixels. */
export interface FrameHeader {
  stamp: RosTime;
  frameId: string;
}

/** A camera message decoded as far as the header: the pixels on demand (decoding a JPEG costs). */
export interface DecodedFrameMessage extends FrameHeader {
  /** Frame size when the message states it without decoding (raw images; JPEG/PNG headers). */
  size: { width: number; height: number } | null;
  pixels(): RgbImage;
}

export type ImageMessageKind = 'ros2-compressed' | 'ros2-raw' | 'foxglove-protobuf' | 'foxglove-json';

/** Decodes one channel's messages (built once per channel from its schema). */
export interface ImageMessageDecoder {
  readonly kind: ImageMessageKind;
  /** `what` names the message in errors (topic and index). */
  decode(data: Uint8Array, what: string): DecodedFrameMessage;
}

export const ROS2_IMAGE = 'sensor_msgs/msg/Image';
export const ROS2_COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage';
export const FOXGLOVE_COMPRESSED_IMAGE = 'foxglove.CompressedImage';

const HEADER_DEPS = `
================================================================================
MSG: std_msgs/Header
# Standard metadata for higher-level stamped data types.
builtin_interfaces/Time stamp
string frame_id

================================================================================
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
`;

/** sensor_msgs/msg/Image as rosbag2 stores it (ros2msg: the type, then each dependency after a rule). */
export const ROS2_IMAGE_SCHEMA = `# This message contains an uncompressed image
std_msgs/Header header
uint32 height
uint32 width
string encoding
uint8 is_bigendian
uint32 step
uint8[] data
${HEADER_DEPS}`;

/** sensor_msgs/msg/CompressedImage as rosbag2 stores it. */
export const ROS2_COMPRESSED_IMAGE_SCHEMA = `# This message contains a compressed image.
std_msgs/Header header
string format
uint8[] data
${HEADER_DEPS}`;

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** The decoder for a channel, or an McapFormatError saying why its messages can't be read as frames. */
export function imageDecoder(schema: McapTypes.Schema | undefined, channel: McapTypes.Channel): ImageMessageDecoder {
  const where = `topic '${channel.topic}'`;
  if (!schema)
    throw new McapFormatError(
      `${where} has no schema (message encoding '${channel.messageEncoding}'): expected ${SUPPORTED}`,
    );
  const enc = channel.messageEncoding;
  if (schema.name === ROS2_IMAGE || schema.name === ROS2_COMPRESSED_IMAGE) {
    if (schema.encoding !== 'ros2msg' || enc !== 'cdr')
      throw new McapFormatError(
        `${where}: ${schema.name} with schema encoding '${schema.encoding}' and message encoding '${enc}' is not supported (expected ros2msg schema, cdr messages)`,
      );
    const reader = cdrReader(schema, where);
    return schema.name === ROS2_IMAGE ? rawImageDecoder(reader) : compressedCdrDecoder(reader);
  }
  if (schema.name === FOXGLOVE_COMPRESSED_IMAGE) {
    if (schema.encoding === 'protobuf' && enc === 'protobuf') return foxgloveProtobufDecoder(schema, where);
    if (enc === 'json' && (schema.encoding === 'jsonschema' || schema.encoding === '')) return foxgloveJsonDecoder();
    throw new McapFormatError(
      `${where}: foxglove.CompressedImage with schema encoding '${schema.encoding}' and message encoding '${enc}' is not supported (expected protobuf/protobuf or jsonschema/json)`,
    );
  }
  throw new McapFormatError(
    `${where} has schema '${schema.name}' (${schema.encoding}, messages ${enc}): expected ${SUPPORTED}`,
  );
}

const SUPPORTED = `${ROS2_COMPRESSED_IMAGE} or ${ROS2_IMAGE} (ROS 2 CDR), or ${FOXGLOVE_COMPRESSED_IMAGE} (protobuf or JSON)`;

function cdrReader(schema: McapTypes.Schema, where: string): MessageReader {
  let text: string;
  try {
    text = textDecoder.decode(schema.data);
  } catch {
    throw new McapFormatError(`${where}: schema ${schema.name} is not UTF-8 text`);
  }
  try {
    return new MessageReader(parseRosMsg(text, { ros2: true }));
  } catch (e) {
    throw new McapFormatError(`${where}: cannot parse schema ${schema.name}: ${(e as Error).message}`);
  }
}

/** Run a decode step; any library error becomes an McapFormatError naming the message. */
function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof McapFormatError) throw e;
    throw new McapFormatError(`${what}: ${(e as Error).message.replace(/\s*\n\s*/g, ' ')}`);
  }
}

interface CdrHeader {
  header?: { stamp?: RosTime; frame_id?: string };
}

function cdrHeader(m: CdrHeader, what: string): FrameHeader {
  const s = m.header?.stamp;
  if (!s || typeof s.sec !== 'number' || typeof s.nanosec !== 'number' || typeof m.header?.frame_id !== 'string')
    throw new McapFormatError(`${what}: the message has no std_msgs/Header (header.stamp, header.frame_id)`);
  return { stamp: { sec: s.sec, nanosec: s.nanosec }, frameId: m.header.frame_id };
}

function bytesField(v: unknown, what: string, field: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  throw new McapFormatError(`${what}: field '${field}' is not a byte array`);
}

/** A decoded JPEG/PNG frame (decodeImage is the engine's decoder for files too). */
function compressedFrame(h: FrameHeader, data: Uint8Array, what: string): DecodedFrameMessage {
  return {
    ...h,
    size: compressedImageSize(data),
    pixels: () => guard(what, () => decodeImage(data, what)),
  };
}

function compressedCdrDecoder(reader: MessageReader): ImageMessageDecoder {
  return {
    kind: 'ros2-compressed',
    decode(data, what) {
      const m = guard(what, () => reader.readMessage<CdrHeader & { format?: string; data?: unknown }>(data));
      return compressedFrame(cdrHeader(m, what), bytesField(m.data, what, 'data'), what);
    },
  };
}

const RAW_ENCODINGS = ['rgb8', 'bgr8', 'mono8'];

function rawImageDecoder(reader: MessageReader): ImageMessageDecoder {
  return {
    kind: 'ros2-raw',
    decode(bytes, what) {
      const m = guard(what, () =>
        reader.readMessage<
          CdrHeader & { height?: number; width?: number; encoding?: string; step?: number; data?: unknown }
        >(bytes),
      );
      const h = cdrHeader(m, what);
      const { height: H = 0, width: W = 0, encoding = '', step = 0 } = m;
      if (!RAW_ENCODINGS.includes(encoding))
        throw new McapFormatError(
          `${what}: image encoding '${encoding}' is not supported (expected ${RAW_ENCODINGS.join(', ')})`,
        );
      const ch = encoding === 'mono8' ? 1 : 3;
      const data = bytesField(m.data, what, 'data');
      if (W < 1 || H < 1) throw new McapFormatError(`${what}: empty image (${W}x${H})`);
      if (step < W * ch || data.length < step * (H - 1) + W * ch)
        throw new McapFormatError(
          `${what}: ${W}x${H} ${encoding} needs step >= ${W * ch} and ${step * (H - 1) + W * ch} data bytes; the message has step ${step} and ${data.length} bytes`,
        );
      return {
        ...h,
        size: { width: W, height: H },
        pixels: () => rawToRgb(data, W, H, step, encoding),
      };
    },
  };
}

/** rgb8 / bgr8 / mono8 rows (with padding up to `step`) -> packed RGB. mono8 repeats the grey in R, G, B. */
export function rawToRgb(data: Uint8Array, W: number, H: number, step: number, encoding: string): RgbImage {
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const row = y * step;
    const o = y * W * 3;
    if (encoding === 'rgb8') out.set(data.subarray(row, row + W * 3), o);
    else if (encoding === 'bgr8')
      for (let x = 0; x < W; x++) {
        out[o + 3 * x] = data[row + 3 * x + 2];
        out[o + 3 * x + 1] = data[row + 3 * x + 1];
        out[o + 3 * x + 2] = data[row + 3 * x];
      }
    else
      for (let x = 0; x < W; x++) {
        const v = data[row + x];
        out[o + 3 * x] = v;
        out[o + 3 * x + 1] = v;
        out[o + 3 * x + 2] = v;
      }
  }
  return { width: W, height: H, data: out };
}

/** Number of a protobuf int64 (protobufjs gives a Long, a number or a string). */
function int64(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return 0;
}

function foxgloveProtobufDecoder(schema: McapTypes.Schema, where: string): ImageMessageDecoder {
  const type = guard(`${where}: schema foxglove.CompressedImage (protobuf FileDescriptorSet)`, () =>
    protobufFromBinaryDescriptor(schema.data).lookupType(schema.name),
  );
  const field = (...names: string[]) => names.find((n) => type.fields[n] !== undefined);
  const fTs = field('timestamp');
  const fId = field('frame_id', 'frameId');
  const fData = field('data');
  if (!fTs || !fId || !fData)
    throw new McapFormatError(
      `${where}: schema foxglove.CompressedImage lacks timestamp, frame_id or data (fields: ${type.fieldsArray.map((f) => f.name).join(', ')})`,
    );
  return {
    kind: 'foxglove-protobuf',
    decode(data, what) {
      const m = guard(what, () => type.decode(data)) as unknown as Record<string, unknown>;
      const ts = (m[fTs] ?? {}) as { seconds?: unknown; nanos?: number };
      const h = { stamp: { sec: int64(ts.seconds), nanosec: ts.nanos ?? 0 }, frameId: String(m[fId] ?? '') };
      return compressedFrame(h, bytesField(m[fData] ?? new Uint8Array(), what, 'data'), what);
    },
  };
}

function foxgloveJsonDecoder(): ImageMessageDecoder {
  return {
    kind: 'foxglove-json',
    decode(data, what) {
      const m = guard(what, () => JSON.parse(textDecoder.decode(data))) as {
        timestamp?: { sec?: number; nsec?: number };
        frame_id?: string;
        data?: unknown;
      };
      if (typeof m !== 'object' || m === null || typeof m.data !== 'string')
        throw new McapFormatError(`${what}: a JSON foxglove.CompressedImage needs 'data' as a base64 string`);
      const ts = m.timestamp ?? {};
      const h = { stamp: { sec: ts.sec ?? 0, nanosec: ts.nsec ?? 0 }, frameId: String(m.frame_id ?? '') };
      return compressedFrame(h, new Uint8Array(Buffer.from(m.data, 'base64')), what);
    },
  };
}

/** Width and height from a PNG's IHDR or a JPEG's SOFn marker without decoding; null when not found. */
export function compressedImageSize(b: Uint8Array): { width: number; height: number } | null {
  const u16 = (p: number) => (b[p] << 8) | b[p + 1];
  const u32 = (p: number) => ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47)
    return { width: u32(16), height: u32(20) };
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return null;
    const marker = b[p + 1];
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      p += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end / start of scan before any SOF
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return p + 9 <= b.length ? { height: u16(p + 5), width: u16(p + 7) } : null;
    p += 2 + u16(p + 2);
  }
  return null;
}

// --------------------------------------------------------------------------------------- writing

let imageWriter: MessageWriter | null = null;

/** A mask as a sensor_msgs/msg/Image mono8 message (CDR): nonzero mask values become 255. */
export function encodeMaskMessage(h: FrameHeader, width: number, height: number, mask: ArrayLike<number>): Uint8Array {
  if (mask.length !== width * height)
    throw new Error(`mask has ${mask.length} values, expected ${width}x${height} = ${width * height}`);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = mask[i] ? 255 : 0;
  return encodeRosImage(h, width, height, 'mono8', width, data);
}

/** Any sensor_msgs/msg/Image as CDR. */
export function encodeRosImage(
  h: FrameHeader,
  width: number,
  height: number,
  encoding: string,
  step: number,
  data: Uint8Array,
): Uint8Array {
  imageWriter ??= new MessageWriter(parseRosMsg(ROS2_IMAGE_SCHEMA, { ros2: true }));
  return imageWriter.writeMessage({
    header: { stamp: h.stamp, frame_id: h.frameId },
    height,
    width,
    encoding,
    is_bigendian: 0,
    step,
    data,
  });
}

let compressedWriter: MessageWriter | null = null;

/** A sensor_msgs/msg/CompressedImage as CDR (format 'jpeg' or 'png'). */
export function encodeRosCompressedImage(h: FrameHeader, format: string, data: Uint8Array): Uint8Array {
  compressedWriter ??= new MessageWriter(parseRosMsg(ROS2_COMPRESSED_IMAGE_SCHEMA, { ros2: true }));
  return compressedWriter.writeMessage({ header: { stamp: h.stamp, frame_id: h.frameId }, format, data });
}

/** A ROS time from nanoseconds since the epoch (an MCAP log time). */
export function rosTimeFromNs(ns: bigint): RosTime {
  return { sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) };
}
