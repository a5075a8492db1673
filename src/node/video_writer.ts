// Encode RGB frames into a video file by piping raw rgb24 into `ffmpeg` (for `track --overlay X.mp4`).
// Frames may arrive in any order (a reverse pass yields the last frame first): in-order frames go
// straight to the encoder; otherwise each frame waits in a temporary raw file until the frames
// before it have been written. Codec: H.264 (libx264, yuv420p, sides padded to even) when ffmpeg has
// it, else MPEG-4 part 2 for .mp4/.mov/.avi, FFV1 for .mkv; VP9 for .webm. ffmpeg writes a unique
// temporary sibling (src/node/atomic_write.ts; the container named with -f) that becomes the file only
// when every frame is in and ffmpeg succeeded: a failed or interrupted run leaves no partial video.
import { type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { Writable, Readable } from 'node:stream';
import type { RgbImage } from '../image/rgb.js';
import { type AtomicFile, beginAtomic } from './atomic_write.js';

/** Extensions that --overlay treats as a video file (anything else is a folder of PNGs). */
export const VIDEO_EXTENSIONS = ['.mp4', '.mkv', '.mov', '.avi', '.webm'];

export class VideoWriteError extends Error {}

/** ffmpeg muxer per extension (the temporary name has no meaningful extension). */
const MUXERS: Record<string, string> = {
  '.mp4': 'mp4',
  '.mkv': 'matroska',
  '.mov': 'mov',
  '.avi': 'avi',
  '.webm': 'webm',
};

/** How a VideoWriter encodes (default: the --overlay settings of encoderArgs, rgb24 in, sides padded to even). */
export interface VideoWriterOptions {
  /** Raw input layout on the pipe: rgb24 (3 bytes a pixel, default) or gray (1 byte). */
  inputPixFmt?: 'rgb24' | 'gray';
  /** Output options replacing the default codec choice and padding (codec, pix_fmt, -f, flags). */
  outputArgs?: string[];
}

function encoderArgs(ffmpeg: string, path: string): string[] {
  const ext = extname(path).toLowerCase();
  if (ext === '.webm') return ['-c:v', 'libvpx-vp9', '-pix_fmt', 'yuv420p'];
  const list = spawnSync(ffmpeg, ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout ?? '';
  if (/\slibx264\s/.test(list)) return ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p'];
  if (ext === '.mkv') return ['-c:v', 'ffv1'];
  return ['-c:v', 'mpeg4', '-q:v', '3', '-pix_fmt', 'yuv420p'];
}

export class VideoWriter {
  private proc: ChildProcessByStdio<Writable, null, Readable>;
  private stderr = '';
  private nextIndex = 0;
  private tmp: string | null = null;
  private waiting = new Set<number>();
  private failed: Error | null = null;
  private readonly exited: Promise<number | null>;
  private readonly out: AtomicFile;
  private readonly frameBytes: number;

  /** Start the encoder for `numFrames` frames of width x height at fps. */
  constructor(
    readonly path: string,
    readonly width: number,
    readonly height: number,
    readonly fps: number,
    readonly numFrames: number,
    ffmpeg = process.env.ROBOTSEG_FFMPEG ?? 'ffmpeg',
    opts: VideoWriterOptions = {},
  ) {
    this.out = beginAtomic(path);
    const pixFmt = opts.inputPixFmt ?? 'rgb24';
    this.frameBytes = width * height * (pixFmt === 'gray' ? 1 : 3);
    const args = [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      pixFmt,
      '-s',
      `${width}x${height}`,
      '-r',
      String(fps),
      '-i',
      '-',
      ...(opts.outputArgs ?? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', ...encoderArgs(ffmpeg, path)]),
      '-f',
      MUXERS[extname(path).toLowerCase()] ?? 'mp4',
      this.out.tempPath,
    ];
    this.proc = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    this.proc.on('error', (e) => {
      this.failed = e;
    });
    this.proc.stdin.on('error', (e) => {
      this.failed ??= e;
    });
    this.exited = new Promise((res) => this.proc.once('close', (code) => res(code)));
  }

  /** Frame i (0-based, each exactly once). */
  async put(i: number, img: RgbImage): Promise<void> {
    if (img.width !== this.width || img.height !== this.height)
      throw new VideoWriteError(
        `${this.path}: frame ${i} is ${img.width}x${img.height}, the video is ${this.width}x${this.height}`,
      );
    await this.putFrame(i, img.data);
  }

  /** Frame i as raw bytes in the input pixel format (width * height * 1 or 3 bytes). */
  async putFrame(i: number, data: Uint8Array): Promise<void> {
    if (data.length !== this.frameBytes)
      throw new VideoWriteError(`${this.path}: frame ${i} has ${data.length} bytes, expected ${this.frameBytes}`);
    const img = { data };
    if (i !== this.nextIndex) {
      this.tmp ??= mkdtempSync(join(tmpdir(), 'robotseg-video-'));
      writeFileSync(join(this.tmp, `${i}.rgb`), img.data);
      this.waiting.add(i);
      return;
    }
    await this.write(img.data);
    this.nextIndex++;
    while (this.waiting.has(this.nextIndex)) {
      const f = join(this.tmp!, `${this.nextIndex}.rgb`);
      await this.write(readFileSync(f));
      rmSync(f);
      this.waiting.delete(this.nextIndex++);
    }
  }

  private async write(data: Uint8Array): Promise<void> {
    if (this.failed) throw this.error();
    const ok = this.proc.stdin.write(data);
    if (!ok) {
      await new Promise<void>((res) => {
        const done = () => {
          this.proc.stdin.off('drain', done);
          this.proc.off('close', done);
          res();
        };
        this.proc.stdin.once('drain', done);
        this.proc.once('close', done);
      });
    }
    if (this.failed) throw this.error();
  }

  private error(): VideoWriteError {
    const why = this.stderr.trim().split('\n').pop() || this.failed?.message || 'ffmpeg failed';
    return new VideoWriteError(`cannot write ${this.path}: ${why}`);
  }

  /** Flush and wait for the encoder; throws when frames are missing or ffmpeg failed. */
  async finish(): Promise<void> {
    try {
      if (this.nextIndex !== this.numFrames)
        throw new VideoWriteError(
          `${this.path}: frame ${this.nextIndex} was never written (${this.numFrames} frames expected)`,
        );
      this.proc.stdin.end();
      const code = await this.exited;
      if (code !== 0 || this.failed) throw this.error();
      this.out.commit();
    } finally {
      this.abort();
    }
  }

  /** Stop the encoder (if still running) and remove temporary frames. */
  abort(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null && !this.proc.stdin.writableEnded)
      this.proc.kill('SIGKILL');
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
    this.tmp = null;
    this.out.abort(); // no-op after commit; otherwise the partial video goes
  }
}
