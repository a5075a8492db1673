// Atomic output files: every output is written under a unique temporary name in its own folder, flushed,
// then renamed over the final path, so a failed or killed run never leaves a half-written file and two
// runs writing the same path never share a temporary name. Node only.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PathError, withPath } from './paths.js';

/** An output path that cannot be written (not a regular file): a user error, exit code 2. */
export class OutputPathError extends PathError {}

/** A unique temporary sibling of `path` (same folder, so the final rename stays on one filesystem). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Refuses outputs that would replace something that is not a regular file (a device node, a FIFO, a folder). */
export function checkOutputTarget(path: string): void {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(path);
  } catch {
    return; // does not exist yet: fine
  }
  if (st.isDirectory()) throw new OutputPathError(`output '${path}' is a folder`);
  if (!st.isFile()) throw new OutputPathError(`output '${path}' is not a regular file`);
}

/** A temporary file that becomes `path` on commit() and disappears on abort(). */
export interface AtomicFile {
  /** where to write (a unique temporary name beside the final path) */
  readonly tempPath: string;
  readonly path: string;
  commit(): void;
  abort(): void;
}

/** Temporary files of outputs in progress, removed by abortAllAtomic() (e.g. on Ctrl-C). */
const live = new Set<string>();

/** Remove every temporary file still in progress (the CLI calls it when interrupted). */
export function abortAllAtomic(): void {
  for (const p of live) rmSync(p, { force: true });
  live.clear();
}

/** Starts an atomic output: write to `tempPath` (by any means: streams, child processes), then commit(). */
export function beginAtomic(path: string): AtomicFile {
  checkOutputTarget(path);
  const tempPath = tempPathFor(path);
  live.add(tempPath);
  let done = false;
  return {
    tempPath,
    path,
    commit() {
      if (done) return;
      done = true;
      live.delete(tempPath);
      try {
        checkOutputTarget(path); // again: never rename over something that appeared meanwhile
        const fd = openSync(tempPath, 'r+');
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(tempPath, path);
      } catch (e) {
        rmSync(tempPath, { force: true });
        throw withPath(e, path);
      }
    },
    abort() {
      if (done) return;
      done = true;
      live.delete(tempPath);
      rmSync(tempPath, { force: true });
    },
  };
}

/** Writes `data` to `path` atomically (unique temporary name, fsync, rename); nothing is left on failure. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const f = beginAtomic(path);
  try {
    const fd = openSync(f.tempPath, 'wx');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    } finally {
      closeSync(fd);
    }
    f.commit();
  } catch (e) {
    f.abort();
    throw withPath(e, path, 'write');
  }
}
