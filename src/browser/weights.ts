// Browser weights: a .safetensors or .pt checkpoint from a URL (fetch, streamed) or from a user-picked
// File (random access through Blob.slice), uploaded tensor by tensor with a progress callback, then a
// SAM2 built on them. No Node APIs here.
//
// Formats are recognised by content ('PK' zip or pickle -> .pt, else safetensors), not by name.
// - URL, safetensors: the response body is streamed (openSafetensorsStream, sequential): the header
//   arrives first (config resolved before any upload), tensors are uploaded as their bytes arrive, and
//   memory stays at about one tensor.
// - URL, .pt: a zip needs random access (central directory at the end): the body is read into one
//   ArrayBuffer (progress while downloading), then read tensor by tensor.
// - File / Blob: random access without reading the whole file (Blob.slice), for both formats.

import { readCheckpoint } from '../convert/pt.js';
import type { Runtime } from '../graph/runtime.js';
import { openSafetensors, openSafetensorsStream } from '../graph/safetensors.js';
import { type UploadOptions, type WeightStore, uploadWeights } from '../graph/weights.js';
import { type ByteSource, type WeightsFile, WeightsFormatError, bytesSource, checkRange } from '../graph/weights_io.js';
import { parseConfig, type Sam2Config } from '../model/config.js';
import { type Precision, weightDtypes } from '../model/module.js';
import { ROBOTSEG_KEY, type ResolvedConfig, resolveConfig } from '../model/resolve_config.js';
import { RobotSeg } from '../model/robotseg.js';
import { isRobotSegConfig } from '../model/robotseg_config.js';
import { SAM2 } from '../model/sam2.js';

export interface LoadProgress {
  /** 'download': bytes arriving (URL); 'upload': tensors written to the GPU; 'done': finished. */
  phase: 'download' | 'upload' | 'done';
  bytesLoaded: number;
  /** Expected bytes (Content-Length or the file size); 0 when unknown. */
  totalBytes: number;
  tensorsDone: number;
  tensorsTotal: number;
  /** Last tensor uploaded. */
  key?: string;
  /** Overall progress 0..1 (bytes for streamed files, tensors otherwise). */
  fraction: number;
}
export type ProgressCallback = (p: LoadProgress) => void;

/** Weights resident on the GPU plus what the config resolution needs. */
export interface LoadedWeights {
  store: WeightStore;
  format: WeightsFile['format'];
  name: string;
  shapes: Map<string, number[]>;
  metadata: Readonly<Record<string, string>>;
  /** Bytes of the source file (0 when unknown). */
  bytes: number;
  /** The checkpoint holds RobotSeg heads (automatic mode with a target needs them). */
  hasRobotSeg: boolean;
}

/** An opened (header-only) weights file and its progress reporter. */
export interface OpenedWeights {
  file: WeightsFile;
  name: string;
  bytes: number;
  /** Called by upload with tensor progress; merges download progress for streams. */
  progress: Progress;
}

class Progress {
  bytesLoaded = 0;
  totalBytes = 0;
  tensorsDone = 0;
  tensorsTotal = 0;
  /** How bytes map to the overall fraction: 'stream' (bytes are the whole story), 'then-upload', 'upload'. */
  constructor(
    private cb: ProgressCallback | undefined,
    private mode: 'stream' | 'then-upload' | 'upload',
  ) {}

  bytes(loaded: number, total: number): void {
    this.bytesLoaded = loaded;
    if (total) this.totalBytes = total;
    this.emit('download');
  }

  tensors(done: number, total: number, key: string): void {
    this.tensorsDone = done;
    this.tensorsTotal = total;
    this.emit('upload', key);
  }

  done(): void {
    this.emit('done');
  }

  private emit(phase: LoadProgress['phase'], key?: string): void {
    if (!this.cb) return;
    const b = this.totalBytes ? Math.min(1, this.bytesLoaded / this.totalBytes) : 0;
    const t = this.tensorsTotal ? this.tensorsDone / this.tensorsTotal : 0;
    let fraction: number;
    if (phase === 'done') fraction = 1;
    else if (this.mode === 'stream') fraction = this.totalBytes ? Math.min(b, 0.999) : t;
    else if (this.mode === 'then-upload') fraction = phase === 'download' ? 0.9 * b : 0.9 + 0.1 * t;
    else fraction = t;
    this.cb({
      phase,
      bytesLoaded: this.bytesLoaded,
      totalBytes: this.totalBytes,
      tensorsDone: this.tensorsDone,
      tensorsTotal: this.tensorsTotal,
      key,
      fraction,
    });
  }
}

const isPt = (head: Uint8Array) => (head[0] === 0x50 && head[1] === 0x4b) || (head[0] === 0x80 && head[1] <= 5);

/** Open a URL: headers (and for .pt the whole body) are read; tensors stream during the upload. */
export async function openWeightsFromUrl(
  url: string,
  onProgress?: ProgressCallback,
  init?: RequestInit,
): Promise<OpenedWeights> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`weights ${url}: HTTP ${res.status} ${res.statusText}`);
  if (!res.body) throw new Error(`weights ${url}: the response has no body`);
  // Content-Length is the transfer size: only meaningful for the file size without content coding.
  const len = Number(res.headers.get('content-length') ?? 0);
  const total = !res.headers.get('content-encoding') && Number.isSafeInteger(len) && len > 0 ? len : 0;
  const reader = res.body.getReader();
  const head: Uint8Array[] = [];
  let got = 0;
  while (got < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    head.push(value);
    got += value.byteLength;
  }
  const first = concat(head, got);
  if (got >= 2 && isPt(first)) {
    const progress = new Progress(onProgress, 'then-upload');
    const bytes = await readAll(reader, first, total, (n) => progress.bytes(n, total));
    const file = await readCheckpoint(bytes, url);
    return { file, name: url, bytes: bytes.byteLength, progress };
  }
  const progress = new Progress(onProgress, 'stream');
  let sent = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (!sent) {
        sent = true;
        if (first.byteLength) {
          c.enqueue(first);
          return;
        }
      }
      const { value, done } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const file = await openSafetensorsStream(stream, {
    name: url,
    totalBytes: total || undefined,
    sequential: true,
    onProgress: (n, t) => progress.bytes(n, t),
  });
  return { file, name: url, bytes: total, progress };
}

/** Open a user-picked File (or any Blob), an ArrayBuffer or bytes: random access, nothing read ahead. */
export async function openWeightsFromFile(
  file: Blob | ArrayBuffer | Uint8Array,
  onProgress?: ProgressCallback,
  name?: string,
): Promise<OpenedWeights> {
  const label = name ?? (typeof File !== 'undefined' && file instanceof File ? file.name : 'memory');
  const progress = new Progress(onProgress, 'upload');
  const src = file instanceof Blob ? blobSource(file, label) : bytesSource(file, label);
  const head = src.size >= 2 ? await src.read(0, 2) : new Uint8Array(0);
  try {
    const wf = head.byteLength === 2 && isPt(head) ? await readCheckpoint(src) : await openSafetensors(src);
    progress.totalBytes = progress.bytesLoaded = src.size;
    return { file: wf, name: label, bytes: src.size, progress };
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** Upload an opened file's tensors to the GPU (closes the file). */
export async function uploadOpenedWeights(
  rt: Runtime,
  w: OpenedWeights,
  opts: { dtype?: UploadOptions['dtype'] } = {},
): Promise<LoadedWeights> {
  const shapes = new Map([...w.file.header].map(([k, t]) => [k, t.shape]));
  let store: WeightStore;
  try {
    store = await uploadWeights(rt, w.file, {
      dtype: opts.dtype,
      onProgress: (d, n, key) => w.progress.tensors(d, n, key),
    });
  } finally {
    await w.file.close();
  }
  w.progress.done();
  return {
    store,
    format: w.file.format,
    name: w.name,
    shapes,
    metadata: w.file.metadata,
    bytes: w.bytes || w.progress.bytesLoaded,
    hasRobotSeg: shapes.has(ROBOTSEG_KEY),
  };
}

/** Stream a checkpoint from a URL to the GPU. `onProgress` sees bytes and tensors. */
export async function loadWeightsFromUrl(
  rt: Runtime,
  url: string,
  onProgress?: ProgressCallback,
  init?: RequestInit,
): Promise<LoadedWeights> {
  return uploadOpenedWeights(rt, await openWeightsFromUrl(url, onProgress, init));
}

/** Upload a user-picked File / Blob / ArrayBuffer checkpoint (.safetensors or .pt). */
export async function loadWeightsFromFile(
  rt: Runtime,
  file: Blob | ArrayBuffer | Uint8Array,
  onProgress?: ProgressCallback,
): Promise<LoadedWeights> {
  return uploadOpenedWeights(rt, await openWeightsFromFile(file, onProgress));
}

/** A config argument: a built-in name, JSON text, or an already parsed config. */
export type ConfigArg = string | Sam2Config | undefined;

function explicitConfig(config: ConfigArg): Sam2Config | undefined {
  if (config === undefined || config === '') return undefined;
  return typeof config === 'string' ? parseConfig(config) : config;
}

/** The model class a config describes: RobotSeg (a SAM2 subclass) when it has a `robotseg` block. */
export function modelFor(cfg: Sam2Config): SAM2 {
  return isRobotSegConfig(cfg) ? new RobotSeg(cfg) : new SAM2(cfg);
}

/**
 * Build a SAM 2.1 (or RobotSeg) model on uploaded weights. Config: the argument (built-in name or JSON
 * text) if given, else the checkpoint's metadata, else inferred from the shapes (official layouts).
 */
export async function createSam2(rt: Runtime, config: ConfigArg, weights: LoadedWeights): Promise<SAM2> {
  const { config: cfg } = resolveConfig(weights.shapes, weights.metadata, explicitConfig(config));
  const model = modelFor(cfg);
  await model.load(rt, weights.store);
  return model;
}

export interface LoadSam2Options {
  config?: ConfigArg;
  onProgress?: ProgressCallback;
  /** Called once the config is resolved from the header, before any tensor is uploaded. */
  onConfig?: (r: ResolvedConfig) => void;
  /**
   * 'f16': the heavy layers' weights (linear / conv / transposed conv) stored as f16 and read with
   * f32 accumulation, and the activations that allow it (memory bank, MLP hidden layers) stored f16
   * (docs/precision.md); needs the adapter feature shader-f16. Default 'f32'.
   */
  precision?: Precision;
}

/**
 * One call: open (URL string, File/Blob or bytes), resolve the config from the header (fails fast,
 * before the upload), upload, build the model.
 */
export async function loadSam2(
  rt: Runtime,
  weights: string | Blob | ArrayBuffer | Uint8Array,
  opts: LoadSam2Options = {},
): Promise<{ model: SAM2; weights: LoadedWeights } & ResolvedConfig> {
  const opened =
    typeof weights === 'string'
      ? await openWeightsFromUrl(weights, opts.onProgress)
      : await openWeightsFromFile(weights, opts.onProgress);
  let resolved: ResolvedConfig;
  try {
    if (opts.precision === 'f16' && !rt.hasF16)
      throw new Error(`precision f16 needs the adapter feature shader-f16, which this adapter lacks`);
    const shapes = new Map([...opened.file.header].map(([k, t]) => [k, t.shape]));
    resolved = resolveConfig(shapes, opened.file.metadata, explicitConfig(opts.config));
  } catch (e) {
    await opened.file.close();
    throw e;
  }
  opts.onConfig?.(resolved);
  const model = modelFor(resolved.config);
  const loaded = await uploadOpenedWeights(rt, opened, { dtype: weightDtypes(model, opts.precision ?? 'f32') });
  try {
    await model.load(rt, loaded.store);
    return { model, weights: loaded, ...resolved };
  } catch (e) {
    loaded.store.destroy();
    throw e;
  }
}

/** A ByteSource over a Blob (a picked File): each read slices the bytes it needs. */
export function blobSource(blob: Blob, name: string, onRead?: (bytesRead: number) => void): ByteSource {
  let read = 0;
  return {
    size: blob.size,
    name,
    async read(offset, length) {
      checkRange(offset, length, blob.size, name);
      if (length === 0) return new Uint8Array(0);
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      if (bytes.byteLength !== length)
        throw new WeightsFormatError(`${name}: read ${bytes.byteLength} of ${length} bytes at ${offset}`);
      read = Math.min(blob.size, read + length);
      onRead?.(read);
      return bytes;
    },
    async close() {},
  };
}

function concat(parts: Uint8Array[], n: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

async function readAll(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: Uint8Array,
  total: number,
  onBytes: (n: number) => void,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [first];
  let n = first.byteLength;
  onBytes(n);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.byteLength;
    onBytes(n);
  }
  if (total && n !== total) throw new WeightsFormatError(`download ended after ${n} of ${total} bytes (truncated?)`);
  return concat(parts, n);
}
