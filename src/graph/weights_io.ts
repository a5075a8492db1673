// Host-agnostic pieces shared by the weight readers (safetensors, PyTorch .pt): the error type,
// positional byte sources (memory, fetch stream), the common WeightsFile interface and the
// conversion of raw little-endian F32/F16/BF16 bytes to float32.

import { bf16BitsToF32, f16BitsToF32, f32ToF16Array } from './dtype.js';

/** A malformed, truncated or unsupported weights file. Always carries a one-line message. */
export class WeightsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsFormatError';
  }
}

/** Element types a weights file may hold (the engine computes in f32, stores f32 or f16). */
/** Float dtypes are weights; I32 / U8 are readable (golden labels, masks) but never uploaded as weights. */
export type WeightDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'U8';
export const WEIGHT_DTYPE_BYTES: Record<WeightDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, U8: 1 };
export const FLOAT_DTYPES: ReadonlySet<WeightDType> = new Set(['F32', 'F16', 'BF16']);

/** One tensor as a weights file describes it. */
export interface TensorInfo {
  dtype: WeightDType;
  shape: number[];
  /**
   * Byte range of the tensor's data. safetensors: the header's data_offsets (relative to the data
   * area). .pt: absolute file range of the tensor inside its storage entry (approximate; used to
   * read tensors in file order).
   */
  begin: number;
  end: number;
}

/** A weights file opened for tensor-by-tensor reading (safetensors or PyTorch checkpoint). */
export interface WeightsFile {
  readonly format: 'safetensors' | 'pt';
  /** Tensors by checkpoint key, in file order. */
  readonly header: ReadonlyMap<string, TensorInfo>;
  /** String metadata (`__metadata__` for safetensors). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Contiguous little-endian bytes of one tensor in its stored dtype. */
  readRaw(key: string): Promise<Uint8Array>;
  /** One tensor converted to float32 (from F16/BF16 when needed). */
  readTensor(key: string): Promise<Float32Array>;
  /** Release the underlying file or stream. */
  close(): Promise<void>;
}

/** Random-access bytes: a file (Node positional reads), a memory buffer or a pulled stream. */
export interface ByteSource {
  /** Total size in bytes (a stream learns it from the header; until then it is Infinity). */
  readonly size: number;
  /** Name for messages (a path, 'memory', a URL). */
  readonly name: string;
  /** Bytes [offset, offset + length). Rejects with WeightsFormatError past the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A ByteSource over bytes already in memory (browsers, tests). Reads return views, not copies. */
export function bytesSource(data: Uint8Array | ArrayBuffer, name = 'memory'): ByteSource {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  return {
    size: bytes.byteLength,
    name,
    async read(offset, length) {
      checkRange(offset, length, bytes.byteLength, name);
      return bytes.subarray(offset, offset + length);
    },
    async close() {},
  };
}

export function checkRange(offset: number, length: number, size: number, name: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WeightsFormatError(`${name}: bad read range offset ${offset} length ${length}`);
  }
  if (offset + length > size) {
    throw new WeightsFormatError(`${name}: file is truncated: needs bytes up to ${offset + length} but has ${size}`);
  }
}

export interface StreamOptions {
  /** Expected total (Content-Length) for progress before the header tells the real size. */
  totalBytes?: number;
  /** Called as bytes arrive: (bytes received so far, expected total or 0 when unknown). */
  onProgress?: (bytesLoaded: number, totalBytes: number) => void;
  /**
   * Drop received data once a read past it has been served (reads must then come in ascending
   * order, as uploadWeights does). Keeps memory to about one tensor instead of the whole file.
   */
  sequential?: boolean;
  name?: string;
}

/**
 * A ByteSource over a ReadableStream (fetch body). Pull-based: a read pulls chunks until it can be
 * served, so nothing is buffered ahead of the consumer. `setSize` is called once the total is known.
 */
export class StreamSource implements ByteSource {
  size = Infinity;
  readonly name: string;
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private chunks: Array<{ start: number; bytes: Uint8Array }> = [];
  private received = 0;
  private dropped = 0;
  private done = false;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    stream: ReadableStream<Uint8Array>,
    private opts: StreamOptions = {},
  ) {
    this.reader = stream.getReader();
    this.name = opts.name ?? 'stream';
  }

  get bytesLoaded(): number {
    return this.received;
  }

  setSize(size: number): void {
    this.size = size;
    this.opts.onProgress?.(this.received, size);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    const run = this.lock.then(() => this.readNow(offset, length));
    this.lock = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.chunks = [];
    if (!this.done) await this.reader.cancel().catch(() => undefined);
    this.done = true;
  }

  private async readNow(offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length, this.size, this.name);
    if (offset < this.dropped) {
      throw new WeightsFormatError(
        `${this.name}: sequential stream already released bytes before ${this.dropped}; cannot read offset ${offset} again`,
      );
    }
    const end = offset + length;
    while (this.received < end) await this.pull(end);
    const out = new Uint8Array(length);
    for (const c of this.chunks) {
      const a = Math.max(offset, c.start);
      const b = Math.min(end, c.start + c.bytes.byteLength);
      if (a < b) out.set(c.bytes.subarray(a - c.start, b - c.start), a - offset);
    }
    if (this.opts.sequential) this.release(end);
    return out;
  }

  private async pull(needed: number): Promise<void> {
    if (this.done)
      throw new WeightsFormatError(
        `${this.name}: stream ended at ${this.received} bytes but ${needed} are needed (download truncated?)`,
      );
    const { value, done } = await this.reader.read();
    if (done) {
      this.done = true;
      return;
    }
    if (!(value instanceof Uint8Array)) throw new WeightsFormatError(`${this.name}: stream produced a non-byte chunk`);
    this.chunks.push({ start: this.received, bytes: value });
    this.received += value.byteLength;
    const total = Number.isFinite(this.size) ? this.size : (this.opts.totalBytes ?? 0);
    this.opts.onProgress?.(this.received, total);
  }

  private release(upTo: number): void {
    while (this.chunks.length && this.chunks[0].start + this.chunks[0].bytes.byteLength <= upTo) {
      const c = this.chunks.shift()!;
      this.dropped = c.start + c.bytes.byteLength;
    }
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Raw little-endian bytes of `dtype` -> float32 values (always a fresh array). */
export function rawToF32(raw: Uint8Array, dtype: WeightDType): Float32Array {
  if (!LITTLE_ENDIAN) throw new WeightsFormatError('big-endian hosts are not supported');
  const n = raw.byteLength / WEIGHT_DTYPE_BYTES[dtype];
  if (!Number.isInteger(n))
    throw new WeightsFormatError(`${raw.byteLength} bytes is not a whole number of ${dtype} values`);
  if (dtype === 'F32') return new Float32Array(new Uint8Array(raw).buffer); // copy: aligned, not aliasing the source
  if (dtype === 'I32') return Float32Array.from(new Int32Array(new Uint8Array(raw).buffer));
  if (dtype === 'U8') return Float32Array.from(raw);
  const h = halfView(raw);
  const out = new Float32Array(n);
  if (dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f16BitsToF32(h[i]);
  else for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(h[i]);
  return out;
}

/** 16-bit view of raw bytes (copied only when unaligned). */
function halfView(raw: Uint8Array): Uint16Array {
  const a = raw.byteOffset % 2 === 0 ? raw : new Uint8Array(raw);
  return new Uint16Array(a.buffer, a.byteOffset, a.byteLength >> 1);
}

/** Raw little-endian bytes of `dtype` -> IEEE half bits (a copy for F16, a conversion otherwise). */
export function rawToF16Bits(raw: Uint8Array, dtype: WeightDType): Uint16Array {
  if (dtype === 'F16') return new Uint16Array(new Uint8Array(raw).buffer);
  return f32ToF16Array(rawToF32(raw, dtype));
}

/** Bytes as a human size ('156.3 MB'). */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** Run `fn`; any non-WeightsFormatError thrown while decoding (RangeError, TypeError…) is wrapped. */
export async function asFormatError<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw wrapFormatError(what, e);
  }
}

export function wrapFormatError(what: string, e: unknown): Error {
  if (e instanceof WeightsFormatError) return e;
  // Host I/O errors (ENOENT, EACCES…) pass through unchanged: they are not format problems.
  if (e instanceof Error && typeof (e as { code?: unknown }).code === 'string') return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new WeightsFormatError(`${what}: corrupt or unsupported data (${msg})`);
}
