// Node file access for weights: a positional-read ByteSource (files are never read whole) and a
// streaming safetensors writer (header first, then tensor by tensor; atomic rename at the end).

import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import {
  type SafetensorsEntry,
  type SafetensorsFile,
  type TensorData,
  encodeTensor,
  openSafetensors,
  planSafetensors,
} from '../graph/safetensors.js';
import { type ByteSource, checkRange } from '../graph/weights_io.js';
import { beginAtomic } from './atomic_write.js';
import { withPath } from './paths.js';

/** Largest single fs read (Node caps one read at 2 GiB). */
const MAX_READ = 1 << 30;

/** Positional reads from a file; each read returns a fresh Uint8Array. */
export async function fileSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (e) {
    await fh.close();
    throw e;
  }
  let closed = false;
  return {
    size,
    name: path,
    async read(offset, length) {
      if (closed) throw new Error(`${path}: read after close`);
      checkRange(offset, length, size, path);
      return readFully(fh, offset, length, path);
    },
    async close() {
      if (!closed) {
        closed = true;
        await fh.close();
      }
    },
  };
}

async function readFully(fh: FileHandle, offset: number, length: number, path: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, MAX_READ);
    const { bytesRead } = await fh.read(out, done, want, offset + done);
    if (bytesRead === 0)
      throw new Error(`${path}: unexpected end of file at ${offset + done} (file changed while reading?)`);
    done += bytesRead;
  }
  return out;
}

/** Open a .safetensors file for tensor-by-tensor reading. */
export async function openSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const src = await fileSource(path);
  try {
    return await openSafetensors(src);
  } catch (e) {
    await src.close();
    throw e;
  }
}

export interface WriteOptions {
  metadata?: Record<string, string>;
  /** Called after each tensor: (tensors written, total tensors, bytes written, total bytes). */
  onProgress?: (done: number, total: number, bytes: number, totalBytes: number) => void;
}

/**
 * Write a safetensors file streaming: `data(entry)` is asked for one tensor at a time (float32
 * values are converted to the entry's dtype). Writes a unique temporary sibling (src/node/atomic_write.ts)
 * and renames it over `path` when complete; nothing is left on failure.
 */
export async function writeSafetensorsFile(
  path: string,
  entries: readonly SafetensorsEntry[],
  data: (e: SafetensorsEntry) => Promise<TensorData>,
  opts: WriteOptions = {},
): Promise<{ bytes: number }> {
  const plan = planSafetensors(entries, opts.metadata);
  const out = beginAtomic(path); // unique temporary sibling, renamed on success
  const tmp = out.tempPath;
  let fh: FileHandle;
  try {
    fh = await open(tmp, 'wx');
  } catch (err) {
    throw withPath(err, path);
  }
  try {
    await writeAll(fh, plan.header, 0);
    let i = 0;
    for (const e of plan.layout) {
      await writeAll(fh, encodeTensor(e, await data(e)), e.begin);
      opts.onProgress?.(++i, plan.layout.length, e.end, plan.totalBytes);
    }
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => undefined);
    out.abort();
    throw withPath(err, path, 'write');
  }
  out.commit(); // fsync + rename (never over a device node or folder)
  return { bytes: plan.totalBytes };
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.byteLength - done, MAX_READ), position + done);
    if (bytesWritten === 0) throw new Error('write made no progress (disk full?)');
    done += bytesWritten;
  }
}
