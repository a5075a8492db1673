// `robotseg track --resize official-video` (README.md "Track a robot in a video"): the official video loader's PIL bicubic uint8
// resize instead of the default antialiased bilinear on floats. Spawned as a user runs it, on the
// 240x136 clip with the reduced golden weights.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { testRuntime } from '../helpers/gpu.js';
import { GOLDEN_MODEL_ARGS as MODEL } from '../helpers/golden.js';
import { readBinaryMasks } from '../helpers/masks.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLIP = join(ROOT, 'test', 'fixtures', 'video_clip');
const NAMES = ['00000', '00001', '00002'];
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-track-resize-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();

const cli = (args: string[]) => runCli(['track', ...args], { timeout: 240_000 });

/** Every mask: 240x136, values 0/255 only; returned as 0/1. */
const readMasks = (dir: string) => readBinaryMasks(dir, NAMES, 240, 136);

describe('robotseg track --resize', () => {
  it('an unknown mode is a user error (exit 2, one line)', async () => {
    const r = await cli([CLIP, ...MODEL, '--resize', 'bicubic', '--point', '0:50,25', '--out', join(tmp, 'bad')]);
    expect(r.code, r.err).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--resize 'bicubic': expected image or official-video/);
  });
});

describe.skipIf(!rt)('robotseg track --resize on the GPU (reduced golden weights)', () => {
  it('official-video runs and gives valid masks that differ from the default (image) preprocessing', async () => {
    const prompt = ['--max-frames', '3', '--point', '0:50,25', '--point', '0:120,110,0'];
    const [a, b, c] = await Promise.all([
      cli([CLIP, ...MODEL, ...prompt, '--out', join(tmp, 'default'), '--quiet']),
      cli([CLIP, ...MODEL, ...prompt, '--resize', 'image', '--out', join(tmp, 'image'), '--quiet']),
      cli([CLIP, ...MODEL, ...prompt, '--resize', 'official-video', '--out', join(tmp, 'video'), '--quiet']),
    ]);
    for (const r of [a, b, c]) expect(r.code, r.err).toBe(0);
    const def = readMasks(join(tmp, 'default'));
    const img = readMasks(join(tmp, 'image'));
    const vid = readMasks(join(tmp, 'video'));
    // --resize image is the default
    expect(img.map((m) => Buffer.from(m).toString('base64'))).toEqual(
      def.map((m) => Buffer.from(m).toString('base64')),
    );
    let diff = 0;
    for (let f = 0; f < NAMES.length; f++) {
      let inter = 0;
      let uni = 0;
      for (let i = 0; i < def[f].length; i++) {
        inter += def[f][i] & vid[f][i];
        uni += def[f][i] | vid[f][i];
        diff += def[f][i] ^ vid[f][i];
      }
      // the same object: the preprocessing differs by a few grey levels, the masks mostly agree
      expect(uni, `frame ${f}: masks empty`).toBeGreaterThan(0);
      expect(inter / uni, `frame ${f} IoU`).toBeGreaterThan(0.9); // measured 0.99
    }
    expect(diff, 'official-video masks identical to the default').toBeGreaterThan(0);
  }, 300_000);
});
