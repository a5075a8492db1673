// Path checks every command runs before it reads weights or decodes video, and the one-line wording of
// file-system errors (errno codes) for the CLI. Node only. Every check throws a PathError: a user error
// (exit code 2, one line: src/cli/main.ts prints `robotseg: <message>`).
//
// Rules (docs/robustness.md): inputs are regular files (or folders where a folder is asked for) and readable:
// stat() comes before open(), so /dev/zero or a FIFO is refused instead of read forever; outputs are
// regular files or do not exist yet, in an existing writable folder (or a folder the command creates);
// no output is an input or another output (compared by resolved real path, and by device + inode for
// existing files: hard links and symlinks count).
import { accessSync, constants, mkdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** A path the user gave that cannot be used: exit code 2, one line. */
export class PathError extends Error {
  readonly exitCode = 2;
}

type Stats = import('node:fs').Stats;

function stat(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** What a non-regular file is, for messages. */
function kind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const can = (path: string, mode: number) => {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
};

function nonEmpty(what: string, path: string | undefined): string {
  if (path === undefined || path === '') throw new PathError(`${what}: empty path`);
  if (path.includes('\0')) throw new PathError(`${what}: the path contains a NUL byte`);
  return path;
}

/** An input that must be a readable regular file (never a device, FIFO or folder: no hang on /dev/zero). */
export function checkInputFile(what: string, path: string): void {
  nonEmpty(what, path);
  const st = stat(path);
  if (!st) throw new PathError(`cannot read ${what} '${path}': no such file`);
  if (!st.isFile()) throw new PathError(`cannot read ${what} '${path}': ${kind(st)}, not a regular file`);
  if (!can(path, constants.R_OK)) throw new PathError(`cannot read ${what} '${path}': permission denied`);
}

/** An input that must be a readable folder. */
export function checkInputDir(what: string, path: string): void {
  nonEmpty(what, path);
  const st = stat(path);
  if (!st) throw new PathError(`cannot read ${what} '${path}': no such folder`);
  if (!st.isDirectory()) throw new PathError(`cannot read ${what} '${path}': not a folder`);
  if (!can(path, constants.R_OK | constants.X_OK))
    throw new PathError(`cannot read ${what} '${path}': permission denied`);
}

/** An input that is a regular file or a folder (e.g. a video file or a folder of frames). */
export function checkInputFileOrDir(what: string, path: string): 'file' | 'dir' {
  nonEmpty(what, path);
  const st = stat(path);
  if (!st) throw new PathError(`cannot read ${what} '${path}': no such file or folder`);
  if (st.isDirectory()) {
    checkInputDir(what, path);
    return 'dir';
  }
  checkInputFile(what, path);
  return 'file';
}

/** A folder that will receive files: it exists (is a folder) and is writable. */
function checkWritableDir(what: string, path: string, dir: string): void {
  const st = stat(dir);
  if (!st) throw new PathError(`cannot write ${what} '${path}': folder '${dir}' does not exist`);
  if (!st.isDirectory()) throw new PathError(`cannot write ${what} '${path}': '${dir}' is not a folder`);
  if (!can(dir, constants.W_OK | constants.X_OK))
    throw new PathError(`cannot write ${what} '${path}': folder '${dir}' is not writable`);
}

/**
 * An output file: a regular file or nothing yet (never a folder, device node or FIFO), in an existing
 * writable folder. The file itself is replaced by rename (src/node/atomic_write.ts), so only the
 * folder's permissions matter.
 */
export function checkOutputFile(what: string, path: string | undefined): void {
  const p = nonEmpty(what, path);
  if (p.endsWith('/')) throw new PathError(`cannot write ${what} '${p}': a file name is needed, not a folder`);
  const st = stat(p);
  if (st && !st.isFile()) throw new PathError(`cannot write ${what} '${p}': ${kind(st)}, not a regular file`);
  checkWritableDir(what, p, dirname(resolve(p)));
}

/** An output folder that ensureOutputDir() will be able to create or use (nothing is created yet). */
export function checkOutputDir(what: string, path: string | undefined): void {
  const p = nonEmpty(what, path);
  const st = stat(p);
  if (st) {
    if (!st.isDirectory()) throw new PathError(`${what} '${p}': exists and is not a folder`);
    if (!can(p, constants.W_OK | constants.X_OK)) throw new PathError(`${what} '${p}': the folder is not writable`);
    return;
  }
  let up = dirname(resolve(p));
  while (!stat(up) && dirname(up) !== up) up = dirname(up);
  const ust = stat(up);
  if (!ust?.isDirectory()) throw new PathError(`${what} '${p}': cannot be created ('${up}' is not a folder)`);
  if (!can(up, constants.W_OK | constants.X_OK))
    throw new PathError(`${what} '${p}': cannot be created (folder '${up}' is not writable)`);
}

/** An output folder: created (with its parents) when missing, then checked to be a writable folder. */
export function ensureOutputDir(what: string, path: string | undefined): void {
  const p = nonEmpty(what, path);
  const st = stat(p);
  if (st && !st.isDirectory()) throw new PathError(`${what} '${p}': exists and is not a folder`);
  if (!st) {
    try {
      mkdirSync(p, { recursive: true });
    } catch (e) {
      throw new PathError(`${what} '${p}': cannot create the folder (${errnoText(e)})`);
    }
  }
  if (!can(p, constants.W_OK | constants.X_OK)) throw new PathError(`${what} '${p}': the folder is not writable`);
}

/** The canonical form of a path, existing or not (the real path of its deepest existing ancestor + the rest). */
export function canonicalPath(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(canonicalPath(parent), basename(abs));
  }
}

export interface NamedPath {
  /** how the message names it, e.g. `--out` or `the image` */
  what: string;
  path: string | undefined;
}

/** Refuses an output (file or folder) that is an input or another output. Undefined paths are skipped. */
export function checkDistinct(inputs: NamedPath[], outputs: NamedPath[]): void {
  const id = (p: string) => {
    const st = stat(p);
    return { canon: canonicalPath(p), ino: st?.isFile() ? `${st.dev}:${st.ino}` : null };
  };
  const ins = inputs.filter((x) => x.path).map((x) => ({ ...x, ...id(x.path!) }));
  const outs = outputs.filter((x) => x.path).map((x) => ({ ...x, ...id(x.path!) }));
  const same = (a: { canon: string; ino: string | null }, b: { canon: string; ino: string | null }) =>
    a.canon === b.canon || (a.ino !== null && a.ino === b.ino);
  for (const [i, o] of outs.entries()) {
    for (const x of ins) {
      if (same(o, x)) throw new PathError(`${o.what} '${o.path}' is the same path as ${x.what} '${x.path}'`);
    }
    for (const p of outs.slice(0, i))
      if (same(o, p)) throw new PathError(`${o.what} '${o.path}' and ${p.what} '${p.path}' are the same path`);
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  ENOENT: 'no such file or folder',
  EEXIST: 'already exists',
  ENOTEMPTY: 'folder not empty',
  EXDEV: 'crosses file systems',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'input/output error',
  ENXIO: 'no such device or address',
  ENODEV: 'no such device',
  EINVAL: 'invalid argument',
  EBUSY: 'resource busy',
  ETXTBSY: 'text file busy',
  EPIPE: 'broken pipe',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'out of memory',
};

const VERB: Record<string, string> = {
  open: 'cannot open',
  read: 'cannot read',
  write: 'cannot write',
  close: 'cannot write',
  fsync: 'cannot write',
  rename: 'cannot write',
  mkdir: 'cannot create folder',
  scandir: 'cannot list folder',
  opendir: 'cannot list folder',
  stat: 'cannot access',
  lstat: 'cannot access',
  access: 'cannot access',
  unlink: 'cannot remove',
  rmdir: 'cannot remove',
  rm: 'cannot remove',
  copyfile: 'cannot copy',
  spawn: 'cannot run',
};

/** An errno error (Node's `{code, syscall, path}`), or null. */
export function errnoError(e: unknown): (NodeJS.ErrnoException & { code: string }) | null {
  const err = e as NodeJS.ErrnoException | null;
  return err && typeof err === 'object' && typeof err.code === 'string' && /^E[A-Z0-9]+$/.test(err.code)
    ? (err as NodeJS.ErrnoException & { code: string })
    : null;
}

/** `no space left on device (ENOSPC)` for an errno error; the error's message otherwise. */
export function errnoText(e: unknown): string {
  const err = errnoError(e);
  if (!err) return (e as Error)?.message ?? String(e);
  const text = ERRNO_TEXT[err.code];
  return text ? `${text} (${err.code})` : err.message.replace(/,\s*\w+\s+'.*$/, '');
}

/** One line for an errno error: `cannot write 'out.png': no space left on device (ENOSPC)`; null otherwise. */
export function fsErrorMessage(e: unknown): string | null {
  const err = errnoError(e);
  if (!err) return null;
  const verb = (err.syscall && VERB[err.syscall]) ?? (err.syscall ? `${err.syscall} failed for` : 'cannot access');
  const target = err.path ? ` '${err.path}'` : '';
  return `${verb}${target}: ${errnoText(err)}`;
}

/** Give an errno error the path the user knows (the final output instead of its temporary sibling). */
export function withPath<T>(e: T, path: string, syscall?: string): T {
  const err = errnoError(e);
  if (err) {
    err.path = path;
    if (syscall) err.syscall = syscall;
  }
  return e;
}
