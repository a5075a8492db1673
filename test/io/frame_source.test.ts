// Frame sources for `robotseg track` (src/node/frame_source.ts): folder order and checks, and a video
// file decoded by ffmpeg against the same frames as a folder. No GPU.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/image/rgb.js';
import {
  FrameSourceError,
  hasTool,
  imageHeaderSize,
  naturalCompare,
  openFrameSource,
} from '../../src/node/frame_source.js';
import { readImage, writeRgbPng } from '../../src/node/image_io.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLIP = join(ROOT, 'test', 'fixtures', 'video_clip');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-frames-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// The video tests need ffmpeg; CI installs it, so there they must run.
const FFMPEG = hasTool('ffmpeg') && hasTool('ffprobe');
const skipVideo = !FFMPEG && process.env.CI !== 'true';

function img(w: number, h: number, seed: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 17) & 255;
  return { width: w, height: h, data };
}

function folder(name: string, files: Record<string, RgbImage | string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const [f, v] of Object.entries(files)) {
    if (typeof v === 'string') writeFileSync(join(dir, f), v);
    else writeRgbPng(join(dir, f), v);
  }
  return dir;
}

function ffmpeg(...args: string[]): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

/** The fixture clip re-saved as PNGs of our own JPEG decode, so a lossless video of them is exact. */
function pngClip(): { dir: string; frames: RgbImage[] } {
  const dir = join(tmp, 'png_clip');
  mkdirSync(dir, { recursive: true });
  const frames = [0, 1, 2, 3, 4].map((i) => readImage(join(CLIP, `0000${i}.jpg`)));
  frames.forEach((f, i) => writeRgbPng(join(dir, `${String(i).padStart(5, '0')}.png`), f));
  return { dir, frames };
}

describe('folder frame source', () => {
  it('natural name order, only .jpg/.jpeg/.png, hidden files skipped, names without extension', async () => {
    const a = img(6, 4, 1),
      b = img(6, 4, 2),
      c = img(6, 4, 3);
    const dir = folder('order', {
      'f10.png': c,
      'f2.PNG': b,
      'f1.png': a,
      '.hidden.png': a,
      'notes.txt': 'x',
      'list.json': '{}',
    });
    const src = await openFrameSource(dir);
    expect(src.kind).toBe('folder');
    expect(src.names).toEqual(['f1', 'f2', 'f10']);
    expect([src.numFrames, src.width, src.height, src.fps]).toEqual([3, 6, 4, null]);
    expect((await src.frame(2)).data).toEqual(c.data);
    expect((await src.frame(0)).data).toEqual(a.data);
    await expect(src.frame(3)).rejects.toThrow(/frame 3 does not exist .*3 frames/);
    src.close();
    expect(['a10', 'a9', 'a1', 'b', 'A2'].sort(naturalCompare)).toEqual(['a1', 'A2', 'a9', 'a10', 'b']);
  });

  it('maxFrames keeps the first frames', async () => {
    const src = await openFrameSource(CLIP, { maxFrames: 2 });
    expect(src.numFrames).toBe(2);
    expect(src.names).toEqual(['00000', '00001']);
    await expect(openFrameSource(CLIP, { maxFrames: 0 })).rejects.toThrow(/positive integer/);
  });

  it('header sizes (PNG IHDR, JPEG SOF) match the decoded sizes', () => {
    expect(imageHeaderSize(join(CLIP, '00003.jpg'))).toEqual({ width: 240, height: 136 });
    expect(imageHeaderSize(join(ROOT, 'test', 'fixtures', 'image_200x150.png'))).toEqual({ width: 200, height: 150 });
  });

  it('clear errors: missing path, empty folder, different sizes, unreadable frame, colliding names', async () => {
    await expect(openFrameSource(join(tmp, 'nope'))).rejects.toThrow(/cannot read .*nope.*no such file or folder/);
    await expect(openFrameSource(folder('empty', { 'a.txt': 'x' }))).rejects.toThrow(
      /has no frames \(\.jpg, \.jpeg or \.png files\)/,
    );
    const mixed = folder('mixed', { '0.png': img(6, 4, 1), '1.png': img(6, 4, 1), '2.png': img(5, 4, 1) });
    await expect(openFrameSource(mixed)).rejects.toThrow(/frame 2 '2\.png' is 5x4, the first frame '0\.png' is 6x4/);
    // a frame that is not an image is found when the folder is opened (before any output is written)
    const bad = openFrameSource(folder('bad', { '0.png': img(6, 4, 1), '1.jpg': 'not a jpeg' }));
    await expect(bad).rejects.toThrow(FrameSourceError);
    await expect(bad).rejects.toThrow(/frame 1 '1\.jpg': .*not a PNG or JPEG/);
    await expect(openFrameSource(folder('dup', { 'a.png': img(6, 4, 1), 'a.jpg': 'x' }))).rejects.toThrow(
      /'a\.jpg' and 'a\.png' .*same name/,
    );
  });

  it('sizes are checked up front from the headers and again when a frame is decoded', async () => {
    const dir = folder('late', { '0.png': img(6, 4, 1) });
    copyFileSync(join(CLIP, '00001.jpg'), join(dir, '1.jpg'));
    await expect(openFrameSource(dir)).rejects.toThrow(/frame 1 '1\.jpg' is 240x136, the first frame '0\.png' is 6x4/);
    // a frame replaced after opening is caught by the decode-time check
    writeRgbPng(join(dir, '1.jpg'), img(6, 4, 2));
    const src = await openFrameSource(dir);
    copyFileSync(join(CLIP, '00001.jpg'), join(dir, '1.jpg'));
    await expect(src.frame(1)).rejects.toThrow(
      /frame 1 '1\.jpg' is 240x136, the first frame '0\.png' is 6x4: all frames must have the same size/,
    );
  });
});

describe.skipIf(skipVideo)('video file frame source (ffmpeg)', () => {
  it("a lossless video yields exactly the folder's frames, in any access order", async () => {
    const { dir, frames } = pngClip();
    const mkv = join(tmp, 'clip.mkv'); // PNG-in-Matroska: lossless rgb24, and no frame count in the header
    ffmpeg('-framerate', '10', '-i', join(dir, '%05d.png'), '-c:v', 'png', mkv);
    const folderSrc = await openFrameSource(dir);
    // a tiny cache (2 frames) so that backward access has to restart the decoder
    const video = await openFrameSource(mkv, { cacheBytes: 1 });
    expect(video.kind).toBe('video');
    expect([video.numFrames, video.width, video.height, video.fps]).toEqual([5, 240, 136, 10]);
    expect(video.names).toEqual(['00000', '00001', '00002', '00003', '00004']);
    for (const i of [0, 1, 2, 3, 4, 4, 2, 3, 0, 4, 3, 2, 1, 0]) {
      const v = await video.frame(i);
      expect(Buffer.from(v.data).equals(Buffer.from(frames[i].data)), `frame ${i}`).toBe(true);
      expect((await folderSrc.frame(i)).data).toEqual(frames[i].data);
    }
    await expect(video.frame(5)).rejects.toThrow(/frame 5 does not exist/);
    video.close();
    const two = await openFrameSource(mkv, { maxFrames: 2 });
    expect(two.numFrames).toBe(2);
    expect(Buffer.from((await two.frame(1)).data).equals(Buffer.from(frames[1].data))).toBe(true);
    two.close();
  });

  it("an H.264 mp4 matches the frames within the codec's error", async () => {
    const { dir, frames } = pngClip();
    const mp4 = join(tmp, 'clip.mp4');
    ffmpeg(
      '-framerate',
      '10',
      '-i',
      join(dir, '%05d.png'),
      '-c:v',
      'libx264',
      '-crf',
      '10',
      '-pix_fmt',
      'yuv420p',
      mp4,
    );
    const video = await openFrameSource(mp4);
    expect([video.numFrames, video.width, video.height, video.fps]).toEqual([5, 240, 136, 10]);
    for (const i of [4, 3, 2, 1, 0]) {
      const v = (await video.frame(i)).data;
      let sum = 0;
      for (let k = 0; k < v.length; k++) sum += Math.abs(v[k] - frames[i].data[k]);
      // crf 10 + 4:2:0 chroma subsampling: mean error of a few levels, far below a wrong frame's (~40)
      expect(sum / v.length, `frame ${i}`).toBeLessThan(4);
    }
    video.close();
  });

  it('clear errors: missing ffmpeg, a file that is not a video', async () => {
    const mkv = join(tmp, 'none.mkv');
    writeFileSync(mkv, 'not a video at all');
    await expect(openFrameSource(mkv, { ffmpeg: 'robotseg-no-such-ffmpeg' })).rejects.toThrow(
      /^ffmpeg not found: install it \(apt-get install ffmpeg\) to read video files/,
    );
    await expect(openFrameSource(mkv)).rejects.toThrow(
      /'.*none\.mkv' is not a folder of frames nor a video file ffmpeg can read/,
    );
  });
});
