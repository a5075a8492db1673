// safetensors reader and writer (host-agnostic).
//
// Format: u64 little-endian N, then N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, key: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..}
// then the data area; offsets are relative to its start. The header is validated strictly (the
// first problem is reported with its key) before any tensor is read; tensors are then read one at a
// time through a ByteSource, so a file never has to sit in memory as a whole.

import { f32ToF16Array, numel, shapeStr } from './dtype.js';
import {
  type ByteSource,
  type StreamOptions,
  StreamSource,
  type TensorInfo,
  type WeightDType,
  WEIGHT_DTYPE_BYTES,
  type WeightsFile,
  WeightsFormatError,
  asFormatError,
  bytesSource,
  rawToF32,
} from './weights_io.js';

/** Largest header we accept (the reference implementation uses 100 MB as well). */
export const MAX_HEADER_BYTES = 100_000_000;
const SUPPORTED = new Set<string>(['F32', 'F16', 'BF16', 'I32', 'U8']);
const KNOWN_UNSUPPORTED = new Set<string>([
  'F64',
  'I64',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'BOOL',
  'F8_E4M3',
  'F8_E5M2',
]);

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Absolute file offset of the data area (8 + N). */
  dataOffset: number;
  /** End of the last tensor's data, relative to the data area. */
  dataBytes: number;
}

/**
 * Validate a decoded header. `dataSize` is the size of the data area when known (file size minus
 * 8 + N); null for a stream of unknown length (reads then fail if it ends early).
 */
export function validateHeader(
  json: unknown,
  dataOffset: number,
  dataSize: number | null,
  name = 'safetensors',
): SafetensorsHeader {
  const fail = (msg: string): never => {
    throw new WeightsFormatError(`${name}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('header is not a JSON object');
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(json as Record<string, unknown>)) {
    if (key === '__metadata__') metadata = validateMetadata(entry, fail);
    else tensors.set(key, validateEntry(key, entry, dataSize, fail));
  }
  const dataBytes = checkOverlaps(tensors, fail);
  return { tensors: sortByOffset(tensors), metadata, dataOffset, dataBytes };
}

function validateMetadata(entry: unknown, fail: (m: string) => never): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('__metadata__ is not an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__ value for '${k}' is not a string`);
    out[k] = v as string;
  }
  return out;
}

function validateEntry(key: string, entry: unknown, dataSize: number | null, fail: (m: string) => never): TensorInfo {
  const t = `tensor '${key}'`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(`${t}: entry is not an object`);
  const { dtype, shape, data_offsets: offs } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string') fail(`${t}: missing dtype`);
  if (!SUPPORTED.has(dtype as string)) {
    fail(
      `${t}: ${KNOWN_UNSUPPORTED.has(dtype as string) ? 'unsupported' : 'unknown'} dtype ${dtype} (supported: F32, F16, BF16; I32 and U8 for non-weight data)`,
    );
  }
  const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount))
    fail(`${t}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount))
    fail(`${t}: data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
  const [begin, end] = offs as number[];
  if (end < begin) fail(`${t}: data_offsets [${begin}, ${end}] end before begin`);
  if (dataSize !== null && end > dataSize)
    fail(`${t}: data_offsets [${begin}, ${end}] outside the data area of ${dataSize} bytes (file truncated?)`);
  const want = numel(shape as number[]) * WEIGHT_DTYPE_BYTES[dtype as WeightDType];
  if (want !== end - begin)
    fail(`${t}: ${dtype} ${shapeStr(shape as number[])} needs ${want} bytes but data_offsets span ${end - begin}`);
  return { dtype: dtype as WeightDType, shape: [...(shape as number[])], begin, end };
}

/** Ranges sorted by begin must not overlap (empty tensors overlap nothing). Returns the max end. */
function checkOverlaps(tensors: Map<string, TensorInfo>, fail: (m: string) => never): number {
  const ranges = [...tensors].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin);
  let maxEnd = 0;
  for (let i = 0; i < ranges.length; i++) {
    const [key, t] = ranges[i];
    if (i > 0 && t.begin < ranges[i - 1][1].end) {
      fail(
        `tensor '${key}': data_offsets [${t.begin}, ${t.end}] overlap tensor '${ranges[i - 1][0]}' [${ranges[i - 1][1].begin}, ${ranges[i - 1][1].end}]`,
      );
    }
    maxEnd = Math.max(maxEnd, t.end);
  }
  return maxEnd;
}

function sortByOffset(tensors: Map<string, TensorInfo>): Map<string, TensorInfo> {
  return new Map([...tensors].sort((a, b) => a[1].begin - b[1].begin));
}

/** Read and validate the header through a ByteSource (size may be Infinity for streams). */
export async function readHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const known = Number.isFinite(src.size);
  if (known && src.size < 8)
    throw new WeightsFormatError(
      `${src.name}: ${src.size} bytes is too small for a safetensors file (needs an 8-byte header length)`,
    );
  const lenBytes = await src.read(0, 8);
  const n = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
  if (n < 2 || n > MAX_HEADER_BYTES)
    throw new WeightsFormatError(
      `${src.name}: header length ${n} is not plausible (must be 2..${MAX_HEADER_BYTES}); not a safetensors file?`,
    );
  if (known && 8 + n > src.size)
    throw new WeightsFormatError(
      `${src.name}: header length ${n} runs past the end of the ${src.size}-byte file (truncated?)`,
    );
  const json = decodeHeaderJson(await src.read(8, n), src.name);
  return validateHeader(json, 8 + n, known ? src.size - 8 - n : null, src.name);
}

function decodeHeaderJson(bytes: Uint8Array, name: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new WeightsFormatError(`${name}: header is not valid UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new WeightsFormatError(`${name}: header is not valid JSON (${(e as Error).message})`);
  }
}

/** An open safetensors file: header validated, tensors read on demand. */
export class SafetensorsFile implements WeightsFile {
  readonly format = 'safetensors' as const;
  readonly header: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute offset of the data area. */
  readonly dataOffset: number;

  constructor(
    readonly source: ByteSource,
    h: SafetensorsHeader,
  ) {
    this.header = h.tensors;
    this.metadata = h.metadata;
    this.dataOffset = h.dataOffset;
  }

  info(key: string): TensorInfo {
    const t = this.header.get(key);
    if (!t) throw new WeightsFormatError(`${this.source.name}: no tensor '${key}'`);
    return t;
  }

  async readRaw(key: string): Promise<Uint8Array> {
    const t = this.info(key);
    return asFormatError(this.source.name, () => this.source.read(this.dataOffset + t.begin, t.end - t.begin));
  }

  async readTensor(key: string): Promise<Float32Array> {
    return rawToF32(await this.readRaw(key), this.info(key).dtype);
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

/** Open safetensors from a ByteSource (Node file: see src/node/safetensors_file.ts) or bytes. */
export async function openSafetensors(
  source: ByteSource | Uint8Array | ArrayBuffer,
  name?: string,
): Promise<SafetensorsFile> {
  const src = source instanceof Uint8Array || source instanceof ArrayBuffer ? bytesSource(source, name) : source;
  const header = await asFormatError(src.name, () => readHeader(src));
  return new SafetensorsFile(src, header);
}

/**
 * Open safetensors from a stream (fetch(url).body). Resolves once the header has arrived; tensors
 * become readable as their bytes arrive. With `sequential`, read tensors in header order.
 */
export async function openSafetensorsStream(
  stream: ReadableStream<Uint8Array>,
  opts: StreamOptions = {},
): Promise<SafetensorsFile> {
  const src = new StreamSource(stream, opts);
  const header = await asFormatError(src.name, () => readHeader(src));
  const total = header.dataOffset + header.dataBytes;
  if (opts.totalBytes && opts.totalBytes < total) {
    await src.close();
    throw new WeightsFormatError(
      `${src.name}: header needs ${total} bytes but the download is ${opts.totalBytes} bytes (truncated?)`,
    );
  }
  src.setSize(opts.totalBytes && opts.totalBytes >= total ? opts.totalBytes : total);
  return new SafetensorsFile(src, header);
}

// ------------------------------------------------------------------------------------ writer

export interface SafetensorsEntry {
  name: string;
  dtype: WeightDType;
  shape: readonly number[];
}

/** Host data for one tensor: float32 values (converted to the entry dtype) or raw bytes of it. */
export type TensorData = Float32Array | Uint16Array | Uint8Array;

export interface SafetensorsPlan {
  /** 8-byte length + JSON header padded with spaces to a multiple of 8 (as the reference does). */
  header: Uint8Array;
  /** Entries in data order with their absolute byte ranges in the file. */
  layout: Array<SafetensorsEntry & { begin: number; end: number }>;
  totalBytes: number;
}

const DTYPE_RANK: Record<WeightDType, number> = { I32: 4, F32: 3, BF16: 2, F16: 1, U8: 0 };

/**
 * Lay out a file: data sorted by dtype (F32, BF16, F16, as the reference orders its Dtype enum,
 * descending) then name, so every tensor is aligned to its element size.
 */
export function planSafetensors(
  entries: readonly SafetensorsEntry[],
  metadata?: Record<string, string>,
): SafetensorsPlan {
  checkEntries(entries, metadata);
  const sorted = [...entries].sort(
    (a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const json: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) json.__metadata__ = metadata;
  let off = 0;
  const rel: Array<SafetensorsEntry & { begin: number; end: number }> = [];
  for (const e of sorted) {
    const bytes = numel(e.shape) * WEIGHT_DTYPE_BYTES[e.dtype];
    json[e.name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [off, off + bytes] };
    rel.push({ ...e, begin: off, end: off + bytes });
    off += bytes;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const n = Math.ceil(text.byteLength / 8) * 8;
  const header = new Uint8Array(8 + n).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(n), true);
  header.set(text, 8);
  const layout = rel.map((e) => ({ ...e, begin: e.begin + header.byteLength, end: e.end + header.byteLength }));
  return { header, layout, totalBytes: header.byteLength + off };
}

function checkEntries(entries: readonly SafetensorsEntry[], metadata?: Record<string, string>): void {
  const seen = new Set<string>();
  for (const e of entries) {
    if (!e.name || e.name === '__metadata__') throw new Error(`safetensors writer: invalid tensor name '${e.name}'`);
    if (seen.has(e.name)) throw new Error(`safetensors writer: duplicate tensor name '${e.name}'`);
    seen.add(e.name);
    if (!SUPPORTED.has(e.dtype))
      throw new Error(`safetensors writer: tensor '${e.name}': unsupported dtype ${e.dtype}`);
    if (!e.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new Error(`safetensors writer: tensor '${e.name}': bad shape ${shapeStr(e.shape)}`);
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string') throw new Error(`safetensors writer: metadata '${k}' must be a string`);
  }
}

/** Bytes of one tensor in `dtype`: float32 values are converted, raw typed arrays checked and passed through. */
export function encodeTensor(e: SafetensorsEntry, data: TensorData): Uint8Array {
  const want = numel(e.shape) * WEIGHT_DTYPE_BYTES[e.dtype];
  let out: Uint8Array;
  if (data instanceof Float32Array) {
    if (data.length !== numel(e.shape))
      throw new Error(`safetensors writer: tensor '${e.name}' ${shapeStr(e.shape)} got ${data.length} values`);
    const conv = e.dtype === 'F32' ? data : e.dtype === 'F16' ? f32ToF16Array(data) : f32ToBf16Array(data);
    out = new Uint8Array(conv.buffer, conv.byteOffset, conv.byteLength);
  } else {
    out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (out.byteLength !== want)
    throw new Error(
      `safetensors writer: tensor '${e.name}' ${e.dtype} ${shapeStr(e.shape)} needs ${want} bytes, got ${out.byteLength}`,
    );
  return out;
}

/** float32 -> bfloat16 bits, round to nearest even (NaN stays NaN), as torch's .to(bfloat16). */
export function f32ToBf16Array(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** Serialize tensors into one safetensors byte array (small files, browsers, tests). */
export function serializeSafetensors(
  tensors: ReadonlyArray<SafetensorsEntry & { data: TensorData }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const plan = planSafetensors(tensors, metadata);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const out = new Uint8Array(plan.totalBytes);
  out.set(plan.header, 0);
  for (const e of plan.layout) out.set(encodeTensor(e, byName.get(e.name)!.data), e.begin);
  return out;
}
