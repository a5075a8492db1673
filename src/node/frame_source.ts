// Node frame sources for the video predictor: a folder of JPEG/PNG frames or a video file decoded
// by ffmpeg. Both decode lazily, one frame at a time, so a long video never sits in memory.
//
// Folder: every .jpg/.jpeg/.png file (any case, hidden files skipped) in natural order (frame2 before
// frame10), decoded by src/image/decode.ts exactly as PIL (the official loader) decodes them. The sizes are
// checked against the first frame up front from the file headers (cheap) and again when each frame is
// decoded; a mismatch or an unreadable file names the frame. A frame whose header cannot be parsed or whose
// end marker (PNG IEND, JPEG EOI) is missing is decoded up front, so a corrupt or truncated frame in the
// middle stops the run before anything is written.
//
// Video file: `ffprobe` gives the size, frame rate and frame count; `ffmpeg` decodes to raw rgb24 on a
// pipe (-vsync passthrough: no frame dropped or duplicated). The YUV -> RGB conversion is the scale
// filter ffmpeg inserts for `-pix_fmt rgb24`, with its defaults (swscale, bicubic flags, no
// accurate_rnd / full_chroma_int; matrix and range from the stream's tags, BT.601 limited range when
// untagged), and the container's display rotation is applied. Access is cheapest in order: the decoder
// streams forward. A frame behind the decoder restarts it (ffmpeg decodes from the start, `select`
// skips the conversion of earlier frames); to make backward passes (`--reverse`) linear-ish, such a
// restart decodes a window of frames ending at the requested one and keeps them (about 64 MiB of
// frames at most), so going backward costs one restart per window.
import { type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { RgbImage } from '../image/rgb.js';
import type { FrameSource } from '../model/video_predictor.js';
import { readImage } from './image_io.js';

/** A problem with the input frames the user can fix (missing tool, unreadable or mismatched frame). */
export class FrameSourceError extends Error {}

export interface OpenedFrameSource extends FrameSource {
  readonly numFrames: number;
  readonly kind: 'folder' | 'video' | 'mcap';
  readonly path: string;
  /** Output basename (no extension) per frame: the file's name for folders, 00000, 00001, … for videos. */
  readonly names: readonly string[];
  /** Frame rate of a video file (null for folders or when the container has none). */
  readonly fps: number | null;
  /** The frame's name in messages: its file name for folders, 'frame i' for videos. */
  describe(i: number): string;
  /** Stop the decoder process, if any. */
  close(): void;
}

export interface FrameSourceOptions {
  /** Use only the first maxFrames frames. */
  maxFrames?: number;
  /** ffmpeg / ffprobe executables (default: $ROBOTSEG_FFMPEG / $ROBOTSEG_FFPROBE, else from PATH). */
  ffmpeg?: string;
  ffprobe?: string;
  /** Bytes of decoded frames a video source may keep for backward access (default 64 MiB). */
  cacheBytes?: number;
  /**
   * Folders: apply each frame's EXIF orientation (PIL's ImageOps.exif_transpose). Default off, as the
   * official code. Video files: ffmpeg applies the container's display rotation in any case.
   */
  exifRotate?: boolean;
  /** Decoder warnings (16-bit grey PNG clipped as PIL does), each distinct message once per source. */
  onWarning?: (message: string) => void;
}

export const FRAME_EXTENSIONS = ['.jpg', '.jpeg', '.png'];
const MISSING_FFMPEG = 'ffmpeg not found: install it (apt-get install ffmpeg) to read video files';

/** Open a folder of frames or a video file. Throws FrameSourceError for anything the user can fix. */
export async function openFrameSource(path: string, opts: FrameSourceOptions = {}): Promise<OpenedFrameSource> {
  if (opts.maxFrames !== undefined && !(Number.isInteger(opts.maxFrames) && opts.maxFrames >= 1)) {
    throw new FrameSourceError(`max frames must be a positive integer, got ${opts.maxFrames}`);
  }
  if (!existsSync(path)) throw new FrameSourceError(`cannot read '${path}': no such file or folder`);
  const st = statSync(path);
  if (st.isDirectory()) return FolderSource.open(path, opts);
  if (st.isFile()) return VideoFileSource.open(path, opts);
  throw new FrameSourceError(`'${path}' is neither a folder of frames nor a video file`);
}

// ------------------------------------------------------------------------------------------ folder

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** Natural order (numbers compared by value), ties broken by code units so the order is total. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

class FolderSource implements OpenedFrameSource {
  readonly kind = 'folder';
  readonly fps = null;
  private last: { i: number; img: RgbImage } | null = null;
  private readonly warned = new Set<string>();

  private constructor(
    readonly path: string,
    private readonly files: string[],
    readonly width: number,
    readonly height: number,
    private readonly opts: FrameSourceOptions,
  ) {}

  /** Decode one frame file (EXIF orientation as asked), passing new decoder warnings on once. */
  private static read(path: string, opts: FrameSourceOptions, warned: Set<string>): RgbImage {
    const img = readImage(path, { exifRotate: opts.exifRotate });
    for (const w of img.warnings) {
      const key = w.replace(/^.*? is /, '');
      if (warned.has(key)) continue;
      warned.add(key);
      opts.onWarning?.(w);
    }
    return img;
  }

  static open(dir: string, opts: FrameSourceOptions): FolderSource {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (e) {
      throw new FrameSourceError(
        `cannot list folder '${dir}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    let files = entries
      .filter((n) => !n.startsWith('.') && FRAME_EXTENSIONS.includes(extname(n).toLowerCase()))
      .filter((n) => statSync(join(dir, n)).isFile())
      .sort(naturalCompare);
    if (files.length === 0) throw new FrameSourceError(`folder '${dir}' has no frames (.jpg, .jpeg or .png files)`);
    if (opts.maxFrames !== undefined) files = files.slice(0, opts.maxFrames);
    return FolderSource.fromFiles(dir, files, opts);
  }

  /** Frames = these files of `dir`, in this order. */
  static fromFiles(dir: string, files: string[], opts: FrameSourceOptions = {}): FolderSource {
    if (files.length === 0) throw new FrameSourceError(`folder '${dir}' has no frames`);
    const seen = new Map<string, string>();
    for (const f of files) {
      const stem = stemOf(f);
      const other = seen.get(stem);
      if (other !== undefined)
        throw new FrameSourceError(
          `frames '${other}' and '${f}' in '${dir}' have the same name; outputs would collide`,
        );
      seen.set(stem, f);
    }
    // size of the first frame (decoded), then every other frame's header against it
    let first: RgbImage;
    const warned = new Set<string>();
    try {
      first = FolderSource.read(join(dir, files[0]), opts, warned);
    } catch (e) {
      throw new FrameSourceError(oneLine((e as Error).message));
    }
    for (let i = 1; i < files.length; i++) {
      let size = imageHeaderSize(join(dir, files[i]));
      if (!size || !hasEndMarker(join(dir, files[i]))) {
        // unusual or damaged: decode it now, so a corrupt frame stops the run before any output
        try {
          const img = readImage(join(dir, files[i]));
          size = { width: img.width, height: img.height };
        } catch (e) {
          throw new FrameSourceError(`frame ${i} '${files[i]}': ${oneLine((e as Error).message)}`);
        }
      }
      // (with exifRotate a header's sides may be swapped; the decode of each frame checks the result)
      const same = (w: number, h: number) => w === first.width && h === first.height;
      if (!same(size.width, size.height) && !(opts.exifRotate && same(size.height, size.width))) {
        throw new FrameSourceError(
          `frame ${i} '${files[i]}' is ${size.width}x${size.height}, the first frame '${files[0]}' is ${first.width}x${first.height}: all frames must have the same size`,
        );
      }
    }
    const src = new FolderSource(dir, files, first.width, first.height, opts);
    for (const w of warned) src.warned.add(w);
    src.last = { i: 0, img: first };
    return src;
  }

  get numFrames(): number {
    return this.files.length;
  }

  get names(): string[] {
    return this.files.map(stemOf);
  }

  describe(i: number): string {
    return `frame ${i} '${this.files[i]}'`;
  }

  async frame(i: number): Promise<RgbImage> {
    checkIndex(this, i);
    if (this.last?.i === i) return this.last.img;
    let img: RgbImage;
    try {
      img = FolderSource.read(join(this.path, this.files[i]), this.opts, this.warned);
    } catch (e) {
      throw new FrameSourceError(`${this.describe(i)}: ${oneLine((e as Error).message)}`);
    }
    if (img.width !== this.width || img.height !== this.height) {
      throw new FrameSourceError(
        `${this.describe(i)} is ${img.width}x${img.height}, the first frame '${this.files[0]}' is ${this.width}x${this.height}: all frames must have the same size`,
      );
    }
    this.last = { i, img };
    return img;
  }

  close(): void {
    this.last = null;
  }
}

/** A source over the given frame files of one folder, in the given order (e.g. a dataset's frame list). */
export function openFrameFiles(dir: string, files: string[], opts: FrameSourceOptions = {}): OpenedFrameSource {
  return FolderSource.fromFiles(dir, files, opts);
}

const stemOf = (file: string) => basename(file, extname(file));
const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');

function checkIndex(src: OpenedFrameSource, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= src.numFrames)
    throw new FrameSourceError(`frame ${i} does not exist ('${src.path}' has ${src.numFrames} frames)`);
}

/**
 * True when the file ends as a complete PNG (IEND chunk) or JPEG (EOI marker, trailing bytes allowed)
 * does: the cheap up-front check for frames truncated by an interrupted copy (4 KiB read).
 */
export function hasEndMarker(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, 4096);
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, size - n);
    if (b.includes('IEND', 0, 'latin1')) return true;
    return b.includes(Buffer.from([0xff, 0xd9]));
  } finally {
    closeSync(fd);
  }
}

/**
 * Width and height from a PNG's IHDR or a JPEG's SOF marker, reading only the start of the file;
 * null when the header can't be parsed (the full decode then reports the problem).
 */
export function imageHeaderSize(path: string): { width: number; height: number } | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const b = buf.subarray(0, n);
    if (n >= 24 && b[0] === 0x89 && b.toString('latin1', 1, 4) === 'PNG' && b.toString('latin1', 12, 16) === 'IHDR') {
      return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
    }
    if (n >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegSize(b, fd);
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Walk JPEG markers to the first SOFn (n != 4, 8, 12); reads further from fd past the buffer. */
function jpegSize(head: Buffer, fd: number): { width: number; height: number } | null {
  let pos = 2;
  const byteAt = (p: number, len: number): Buffer | null => {
    if (p + len <= head.length) return head.subarray(p, p + len);
    const b = Buffer.alloc(len);
    return readSync(fd, b, 0, len, p) === len ? b : null;
  };
  for (let guard = 0; guard < 10000; guard++) {
    const m = byteAt(pos, 4);
    if (m?.[0] !== 0xff) return null;
    const marker = m[1];
    if (marker === 0xff) {
      pos++;
      continue;
    } // fill byte
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end / start of scan before any SOF
    const len = m.readUInt16BE(2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const sof = byteAt(pos + 5, 4);
      return sof ? { height: sof.readUInt16BE(0), width: sof.readUInt16BE(2) } : null;
    }
    pos += 2 + len;
  }
  return null;
}

// -------------------------------------------------------------------------------------- video file

function tools(opts: FrameSourceOptions): { ffmpeg: string; ffprobe: string } {
  return {
    ffmpeg: opts.ffmpeg ?? process.env.ROBOTSEG_FFMPEG ?? 'ffmpeg',
    ffprobe: opts.ffprobe ?? process.env.ROBOTSEG_FFPROBE ?? 'ffprobe',
  };
}

/** True when the executable runs (`-version`). */
export function hasTool(exe: string): boolean {
  const r = spawnSync(exe, ['-version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** Run ffprobe; stdout as text. */
export function probe(ffprobe: string, args: string[], path: string): string {
  const r = spawnSync(ffprobe, ['-v', 'error', ...args, path], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FrameSourceError(MISSING_FFMPEG.replace('ffmpeg not found', `ffmpeg not found (no '${ffprobe}')`));
    throw new FrameSourceError(`${path}: ffprobe failed: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const msg = lastLine(r.stderr) || `exit code ${r.status}`;
    throw new FrameSourceError(
      `'${path}' is not a folder of frames nor a video file ffmpeg can read (ffprobe: ${msg})`,
    );
  }
  return r.stdout;
}

const lastLine = (s: string) => s.trim().split('\n').filter(Boolean).pop()?.trim() ?? '';

function parseRate(r: string | undefined): number | null {
  if (!r) return null;
  const [a, b = '1'] = r.split('/');
  const v = Number(a) / Number(b);
  return Number.isFinite(v) && v > 0 ? v : null;
}

interface Decoder {
  proc: ChildProcessByStdio<null, Readable, Readable>;
  iter: AsyncIterator<Buffer>;
  /** Bytes received but not yet consumed. */
  pending: Buffer[];
  pendingBytes: number;
  /** Index of the next frame the decoder will deliver. */
  next: number;
  stderr: string;
}

class VideoFileSource implements OpenedFrameSource {
  readonly kind = 'video';
  private dec: Decoder | null = null;
  private cache = new Map<number, RgbImage>();
  private readonly cacheFrames: number;

  private constructor(
    readonly path: string,
    private readonly ffmpeg: string,
    readonly width: number,
    readonly height: number,
    readonly numFrames: number,
    readonly fps: number | null,
    cacheBytes: number,
  ) {
    this.cacheFrames = Math.max(2, Math.floor(cacheBytes / (width * height * 3)));
  }

  static open(path: string, opts: FrameSourceOptions): VideoFileSource {
    const { ffmpeg, ffprobe } = tools(opts);
    if (!hasTool(ffmpeg))
      throw new FrameSourceError(ffmpeg === 'ffmpeg' ? MISSING_FFMPEG : `${MISSING_FFMPEG} (tried '${ffmpeg}')`);
    const info = JSON.parse(
      probe(
        ffprobe,
        [
          '-select_streams',
          'v:0',
          '-show_entries',
          'stream=width,height,nb_frames,avg_frame_rate,r_frame_rate:stream_side_data=rotation',
          '-of',
          'json',
        ],
        path,
      ),
    ) as {
      streams?: Array<{
        width?: number;
        height?: number;
        nb_frames?: string;
        avg_frame_rate?: string;
        r_frame_rate?: string;
        side_data_list?: Array<{ rotation?: number }>;
      }>;
    };
    const s = info.streams?.[0];
    if (!s?.width || !s.height) throw new FrameSourceError(`'${path}' has no video stream`);
    let frames = Number(s.nb_frames);
    if (!Number.isInteger(frames) || frames <= 0) {
      // containers without a frame count (mkv, webm): count the packets (no decoding)
      frames = Number(
        probe(
          ffprobe,
          ['-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0'],
          path,
        )
          .trim()
          .split(/[\n,]/)[0],
      );
    }
    if (!Number.isInteger(frames) || frames <= 0) throw new FrameSourceError(`'${path}': the video has no frames`);
    if (opts.maxFrames !== undefined) frames = Math.min(frames, opts.maxFrames);
    // ffmpeg applies the display rotation when decoding: a quarter turn swaps the sides
    const rot = Math.abs(s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? 0) % 180;
    const [w, h] = rot === 90 ? [s.height, s.width] : [s.width, s.height];
    return new VideoFileSource(
      path,
      ffmpeg,
      w,
      h,
      frames,
      parseRate(s.avg_frame_rate) ?? parseRate(s.r_frame_rate),
      opts.cacheBytes ?? 64 << 20,
    );
  }

  get names(): string[] {
    const digits = Math.max(5, String(this.numFrames - 1).length);
    return Array.from({ length: this.numFrames }, (_, i) => String(i).padStart(digits, '0'));
  }

  describe(i: number): string {
    return `frame ${i}`;
  }

  async frame(i: number): Promise<RgbImage> {
    checkIndex(this, i);
    const hit = this.cache.get(i);
    if (hit) return hit;
    // behind the decoder (or none running): restart it a window before i so that a backward pass
    // finds the frames it needs next in the cache
    if (!this.dec || this.dec.next > i) this.restart(Math.max(0, i - this.cacheFrames + 1));
    const dec = this.dec!;
    let img: RgbImage | null = null;
    while (dec.next <= i) {
      const k = dec.next;
      const data = await this.readFrame(dec);
      dec.next++;
      img = { width: this.width, height: this.height, data };
      this.remember(k, img, i);
    }
    return img!;
  }

  /** Keep frame k; evict the frames farthest from the one requested. */
  private remember(k: number, img: RgbImage, target: number): void {
    this.cache.set(k, img);
    while (this.cache.size > this.cacheFrames) {
      let far = -1;
      for (const j of this.cache.keys()) if (far < 0 || Math.abs(j - target) > Math.abs(far - target)) far = j;
      this.cache.delete(far);
    }
  }

  private restart(start: number): void {
    this.stopDecoder();
    const args = ['-hide_banner', '-nostdin', '-v', 'error', '-i', this.path, '-map', '0:v:0'];
    if (start > 0) args.push('-vf', `select=gte(n\\,${start})`);
    args.push(
      '-vsync',
      'passthrough',
      '-frames:v',
      String(this.numFrames - start),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    );
    const proc = spawn(this.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const dec: Decoder = {
      proc,
      iter: proc.stdout[Symbol.asyncIterator](),
      pending: [],
      pendingBytes: 0,
      next: start,
      stderr: '',
    };
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => {
      dec.stderr = (dec.stderr + d).slice(-4000);
    });
    proc.on('error', () => {}); // reported through the stdout iterator / exit code
    this.dec = dec;
  }

  /** Exactly one frame's bytes from the decoder's stdout. */
  private async readFrame(dec: Decoder): Promise<Uint8Array> {
    const need = this.width * this.height * 3;
    while (dec.pendingBytes < need) {
      let r: IteratorResult<Buffer>;
      try {
        r = await dec.iter.next();
      } catch (e) {
        throw new FrameSourceError(`'${this.path}': decoding frame ${dec.next} failed: ${(e as Error).message}`);
      }
      if (r.done) {
        const code = await exitCode(dec);
        const why = lastLine(dec.stderr) || (code ? `ffmpeg exit code ${code}` : 'end of stream');
        throw new FrameSourceError(
          `'${this.path}': the decoder stopped before frame ${dec.next} of ${this.numFrames} (${why})`,
        );
      }
      dec.pending.push(r.value);
      dec.pendingBytes += r.value.length;
    }
    const all = dec.pending.length === 1 ? dec.pending[0] : Buffer.concat(dec.pending);
    const out = new Uint8Array(need);
    out.set(all.subarray(0, need));
    dec.pending = all.length > need ? [all.subarray(need)] : [];
    dec.pendingBytes = all.length - need;
    return out;
  }

  private stopDecoder(): void {
    if (!this.dec) return;
    const p = this.dec.proc;
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    p.stdout.destroy();
    p.stderr.destroy();
    this.dec = null;
  }

  close(): void {
    this.stopDecoder();
    this.cache.clear();
  }
}

function exitCode(dec: Decoder): Promise<number | null> {
  const p = dec.proc;
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((res) => p.once('exit', (code) => res(code)));
}
