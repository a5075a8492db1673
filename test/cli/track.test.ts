// `robotseg track` end to end: spawned as a user would run it (node bin/robotseg.js), on a 5-frame
// clip (test/fixtures/video_clip, 240x136) with the reduced golden weights.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/image/rgb.js';
import { guidedRefine } from '../../src/model/refine.js';
import { VideoPredictor } from '../../src/model/video_predictor.js';
import { hasTool, openFrameSource } from '../../src/node/frame_source.js';
import { readImage, writeMaskPng, writeRgbPng } from '../../src/node/image_io.js';
import { goldenModel, GOLDEN, GOLDEN_MODEL_ARGS as MODEL } from '../helpers/golden.js';
import { type CliResult, runCli } from '../helpers/cli.js';
import { testRuntime } from '../helpers/gpu.js';
import { readBinaryMasks } from '../helpers/masks.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLIP = join(ROOT, 'test', 'fixtures', 'video_clip');
const NAMES = ['00000', '00001', '00002', '00003', '00004'];
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-track-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();
// CI installs ffmpeg: the video tests skip only on a user's machine without it
const skipVideo = !(hasTool('ffmpeg') && hasTool('ffprobe')) && process.env.CI !== 'true';

/** Spawn the CLI without blocking the test worker's event loop (runs take seconds on lavapipe). */
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(['track', ...args], { env: { ...process.env, ...env }, timeout: 240_000 });

let n = 0;
const fresh = (name: string) => join(tmp, `${name}${n++}`);

/** Every mask: the clip's frame size (240x136), values 0/255 only; returns them as 0/1. */
const readMasks = (dir: string, names: string[]) => readBinaryMasks(dir, names, 240, 136);

const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);

function probeFrames(path: string): string {
  return spawnSync(
    'ffprobe',
    ['-v', 'error', '-count_frames', '-show_entries', 'stream=width,height,nb_read_frames', '-of', 'csv=p=0', path],
    { encoding: 'utf8' },
  ).stdout.trim();
}

describe('robotseg track: user errors (exit 2, one line, before any GPU work)', () => {
  const expectUserError = async (p: Promise<CliResult>, re: RegExp) => {
    const r = await p;
    expect(r.code, r.err).toBe(2);
    expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
    expect(r.err).toMatch(re);
  };

  it('a prompt on a frame that does not exist', async () => {
    await expectUserError(
      cli([CLIP, ...MODEL, '--point', '7:50,25', '--out', fresh('o')]),
      /object 1, frame 7: frame 7 does not exist \('.*video_clip' has 5 frames: 0 to 4\)/,
    );
    await expectUserError(
      cli([CLIP, ...MODEL, '--max-frames', '2', '--box', '2:1,1,9,9', '--out', fresh('o')]),
      /frame 2 does not exist .*has 2 frames/,
    );
  });

  it('an empty folder, frames of different sizes, a missing source', async () => {
    const empty = fresh('empty');
    mkdirSync(empty);
    await expectUserError(
      cli([empty, ...MODEL, '--point', '0:5,5', '--out', fresh('o')]),
      /folder '.*empty\d+' has no frames \(\.jpg, \.jpeg or \.png files\)/,
    );
    const mixed = fresh('mixed');
    mkdirSync(mixed);
    const frame = (w: number, h: number): RgbImage => ({
      width: w,
      height: h,
      data: new Uint8Array(w * h * 3).fill(90),
    });
    writeRgbPng(join(mixed, 'a.png'), frame(32, 24));
    writeRgbPng(join(mixed, 'b.png'), frame(32, 24));
    writeRgbPng(join(mixed, 'c.png'), frame(24, 32));
    await expectUserError(
      cli([mixed, ...MODEL, '--point', '0:5,5', '--out', fresh('o')]),
      /frame 2 'c\.png' is 24x32, the first frame 'a\.png' is 32x24: all frames must have the same size/,
    );
    await expectUserError(
      cli([join(tmp, 'nothing_here'), ...MODEL, '--point', '0:5,5', '--out', fresh('o')]),
      /cannot read source '.*nothing_here': no such file or folder/,
    );
  });

  it('missing weights (file or option), missing --out', async () => {
    await expectUserError(
      cli([CLIP, '--weights', join(tmp, 'no.safetensors'), '--point', '0:5,5', '--out', fresh('o')]),
      /cannot read weights '.*no\.safetensors': no such file/,
    );
    await expectUserError(cli([CLIP, '--point', '0:5,5', '--out', fresh('o')]), /--weights FILE is required/);
    await expectUserError(cli([CLIP, ...MODEL, '--point', '0:5,5']), /--out DIR is required/);
  });

  it('malformed prompts', async () => {
    await expectUserError(cli([CLIP, ...MODEL, '--out', fresh('o')]), /no prompt: give at least one --point/);
    await expectUserError(
      cli([CLIP, ...MODEL, '--point', '50,25', '--out', fresh('o')]),
      /--point '50,25': expected F:x,y\[,label\] with F a frame index/,
    );
    await expectUserError(
      cli([CLIP, ...MODEL, '--point', '0:50,abc', '--out', fresh('o')]),
      /--point '0:50,abc': 'abc' is not a finite number/,
    );
    await expectUserError(
      cli([CLIP, ...MODEL, '--point', '0:50,25,3', '--out', fresh('o')]),
      /label must be 1 \(foreground\) or 0 \(background\)/,
    );
    await expectUserError(
      cli([CLIP, ...MODEL, '--point', '0:500,25', '--out', fresh('o')]),
      /object 1, frame 0: point \(500, 25\) is outside the 240x136 image/,
    );
    await expectUserError(
      cli([CLIP, ...MODEL, '--box', '0:9,9,1,1', '--out', fresh('o')]),
      /--box '0:9,9,1,1': empty or inverted box/,
    );
    await expectUserError(
      cli([CLIP, ...MODEL, '--point', '0:5,5', '--obj', '2', '--out', fresh('o')]),
      /--obj 2 has no prompts after it/,
    );
    await expectUserError(
      cli([CLIP, ...MODEL, '--obj', 'x', '--point', '0:5,5', '--out', fresh('o')]),
      /--obj 'x': expected an integer id >= 0/,
    );
    const small = fresh('mask') + '.png';
    writeMaskPng(small, 10, 10, new Uint8Array(100).fill(1));
    await expectUserError(
      cli([CLIP, ...MODEL, '--mask', `0:${small}`, '--out', fresh('o')]),
      /--mask 0:.*: the mask is 10x10, the frames are 240x136/,
    );
    await expectUserError(
      cli([CLIP, ...MODEL, '--point', '0:5,5', '--max-frames', '0', '--out', fresh('o')]),
      /--max-frames '0': expected a positive integer/,
    );
  });

  it('a video file without ffmpeg names the missing tool', async () => {
    await expectUserError(
      cli([join(GOLDEN, 'weights.safetensors'), ...MODEL, '--point', '0:5,5', '--out', fresh('o')], {
        ROBOTSEG_FFMPEG: 'robotseg-no-such-ffmpeg',
      }),
      /ffmpeg not found: install it \(apt-get install ffmpeg\) to read video files/,
    );
  });
});

describe.skipIf(!rt)('robotseg track on the GPU (reduced golden weights)', () => {
  it('one object: a 0/255 mask per frame named after it, the same masks as the VideoPredictor API; --overlay DIR', async () => {
    const out = fresh('one');
    const ov = fresh('ov');
    const r = await cli([
      CLIP,
      ...MODEL,
      '--point',
      '0:50,25',
      '--point',
      '0:120,110,0',
      '--out',
      out,
      '--overlay',
      ov,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /5 frames 240x136, 1 object \(1\), tracked 5 frames forward from frame 0 at [\d.]+ frames\/s; wrote 5 masks to /,
    );
    const got = readMasks(out, NAMES);
    expect(readdirSync(ov).sort()).toEqual(NAMES.map((s) => `${s}.png`));
    expect(readImage(join(ov, '00002.png')).width).toBe(240);
    // in-process run of the same prompts: identical masks (same kernels, same adapter)
    const model = await goldenModel(rt!);
    const src = await openFrameSource(CLIP);
    const pred = new VideoPredictor(rt!, model, src);
    await pred.addPoints(0, 1, {
      points: [
        { x: 50, y: 25, label: 1 },
        { x: 120, y: 110, label: 0 },
      ],
    });
    for await (const { frame, results } of pred.propagate()) {
      expect(count(got[frame]), `frame ${frame}`).toBe(count(results[0].mask));
      expect(Buffer.from(got[frame]).equals(Buffer.from(results[0].mask)), `frame ${frame}`).toBe(true);
    }
    pred.reset();
    src.close();
  }, 300_000);

  it('--refine: the first tracked frame as is, later frames through the guided-filter refinement (two objects)', async () => {
    const args = [CLIP, ...MODEL, '--max-frames', '3', '--point', '0:50,25', '--obj', '2', '--box', '0:100,40,200,120'];
    const plain = fresh('plain');
    const refined = fresh('refined');
    expect((await cli([...args, '--out', plain, '--quiet'])).code).toBe(0);
    const r = await cli([...args, '--out', refined, '--refine']);
    expect(r.code, r.err).toBe(0);
    // frames 1 and 2 of both objects (with these random weights the masks are speckled halves of the
    // frame, so the refinement moves > 3 % of the area and the area check keeps them as they were)
    expect(r.err).toMatch(
      /guided-filter refinement of 4 masks: \d+ changed, \d+ unchanged, \d+ kept as they were \(area change > 3 %\), 0 empty/,
    );
    for (const obj of ['1', '2']) {
      const a = readMasks(join(plain, obj), NAMES.slice(0, 3));
      const b = readMasks(join(refined, obj), NAMES.slice(0, 3));
      for (let t = 0; t < 3; t++) {
        const want = t === 0 ? a[t] : await guidedRefine(rt!, readImage(join(CLIP, `${NAMES[t]}.jpg`)), a[t]);
        expect(Buffer.from(b[t]).equals(Buffer.from(want)), `object ${obj} frame ${t}`).toBe(true);
      }
    }
  }, 300_000);

  it('two objects -> DIR/<obj>/; frames before the first prompted frame are empty', async () => {
    const out = fresh('two');
    const r = await cli([
      CLIP,
      ...MODEL,
      '--max-frames',
      '4',
      '--point',
      '1:50,25',
      '--obj',
      '7',
      '--box',
      '2:100,40,200,120',
      '--point',
      '2:150,80',
      '--out',
      out,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /4 frames 240x136, 2 objects \(1, 7\), tracked 3 frames forward from frame 1 .* 1 frame outside the pass left empty; wrote 8 masks to .*\/\{1,7\}\//,
    );
    expect(readdirSync(out).sort()).toEqual(['1', '7']);
    for (const obj of ['1', '7']) {
      const m = readMasks(join(out, obj), NAMES.slice(0, 4));
      expect(count(m[0]), `object ${obj} frame 0`).toBe(0);
    }
  }, 300_000);

  it.skipIf(skipVideo)(
    '--reverse: backward from the latest prompted frame, later frames empty; --overlay FILE.mp4 in time order',
    async () => {
      const out = fresh('rev');
      const mp4 = `${fresh('rev')}.mp4`;
      const r = await cli([
        CLIP,
        ...MODEL,
        '--reverse',
        '--point',
        '1:50,25',
        '--point',
        '3:50,25',
        '--out',
        out,
        '--overlay',
        mp4,
        '--fps',
        '5',
      ]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/tracked 4 frames backward from frame 3 .* 1 frame outside the pass left empty/);
      const m = readMasks(out, NAMES);
      expect(count(m[4])).toBe(0);
      expect(probeFrames(mp4)).toBe('240,136,5');
      // frame 4 of the overlay is the plain frame (nothing drawn): it must match the source closely
      const f4 = join(tmp, 'rev_f4.png');
      spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', mp4, '-vf', 'select=eq(n\\,4)', '-frames:v', '1', f4]);
      const a = readImage(f4).data;
      const b = readImage(join(CLIP, '00004.jpg')).data;
      let err = 0;
      for (let i = 0; i < a.length; i++) err += Math.abs(a[i] - b[i]);
      expect(err / a.length).toBeLessThan(6); // H.264 at crf 20 + 4:2:0 chroma: a few levels on average
    },
    300_000,
  );

  it.skipIf(skipVideo)(
    'a video file source (mp4 made here with ffmpeg), a --mask prompt, --max-frames',
    async () => {
      const mp4 = `${fresh('clip')}.mp4`;
      const mk = spawnSync(
        'ffmpeg',
        [
          '-v',
          'error',
          '-y',
          '-framerate',
          '10',
          '-i',
          join(CLIP, '%05d.jpg'),
          '-c:v',
          'libx264',
          '-pix_fmt',
          'yuv420p',
          mp4,
        ],
        { encoding: 'utf8' },
      );
      expect(mk.status, mk.stderr).toBe(0);
      const mask = `${fresh('mask')}.png`;
      const m = new Uint8Array(240 * 136);
      for (let y = 10; y < 60; y++) for (let x = 30; x < 90; x++) m[y * 240 + x] = 1;
      writeMaskPng(mask, 240, 136, m);
      const out = fresh('vid');
      const r = await cli([mp4, ...MODEL, '--mask', `0:${mask}`, '--max-frames', '3', '--out', out]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/3 frames 240x136, 1 object \(1\), tracked 3 frames forward from frame 0/);
      readMasks(out, NAMES.slice(0, 3));
    },
    300_000,
  );
});
