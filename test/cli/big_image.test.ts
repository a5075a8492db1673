// Photos of any size through the CLI (issue 12 item 2): a 12 MP (4032x3024) photo, generated here by
// upscaling the bundled Panda photo, segments with the reduced golden model, with --overlay and
// --refine, on the software adapter; the mask must agree with the mask of the original 640x480 photo
// (same content, so the model sees nearly the same input). Images over the pixel limit are refused
// from their header, before decoding, with exit 2 naming the limit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_IMAGE_PIXELS } from '../../src/image/image_size.js';
import { readImage, readMask } from '../../src/node/image_io.js';
import { writeUpscaledPng } from '../helpers/big_image.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { GOLDEN_MODEL_ARGS as MODEL } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const tmp = mkdtempSync(join(tmpdir(), 'robotseg-bigimg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();
const PANDA = join(ROOT, 'test', 'fixtures', 'images', 'panda.jpg');

describe('images over the pixel limit', () => {
  it('a PNG header of 10000x10000 is refused before decoding: exit 2, one line naming the limit', async () => {
    // signature + IHDR only: the limit is checked on the header, so no pixel data is needed
    const png = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(png, 0);
    png.writeUInt32BE(13, 8);
    png.write('IHDR', 12, 'latin1');
    png.writeUInt32BE(10000, 16);
    png.writeUInt32BE(10000, 20);
    png[24] = 8;
    png[25] = 2;
    const p = join(tmp, 'huge.png');
    writeFileSync(p, png);
    const r = await runCli(['segment', p, ...MODEL, '--out', join(tmp, 'x.png')]);
    expect(r.code, r.err).toBe(2);
    expect(r.err.trimEnd().split('\n'), r.err).toHaveLength(1);
    expect(r.err).toContain(`10000x10000 is 100.0 MP, over the ${MAX_IMAGE_PIXELS / 1e6} MP limit`);
  });
});

describe.skipIf(!rt)('a 12 MP photo', () => {
  it('segment --overlay --refine: 4032x3024 masks that agree with the 640x480 original', async () => {
    const big = join(tmp, 'panda_12mp.png');
    writeUpscaledPng(PANDA, 4032, 3024, big);
    const prompt = (s: number) => [
      '--box',
      [110, 110, 375, 475].map((v) => v * s).join(','),
      '--point',
      `${200 * s},${250 * s}`,
    ];
    const small = await runCli(['segment', PANDA, ...MODEL, ...prompt(1), '--out', join(tmp, 'small.png'), '--quiet']);
    expect(small.code, small.err).toBe(0);
    const r = await runCli(
      [
        'segment',
        big,
        ...MODEL,
        ...prompt(6.3),
        '--out',
        join(tmp, 'big.png'),
        '--overlay',
        join(tmp, 'overlay.png'),
        '--refine',
      ],
      { timeout: 600_000 },
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/panda_12mp\.png 4032x3024: 1 mask/);
    expect(r.err).toMatch(/guided-filter refinement of 1 mask/);
    const m = readMask(join(tmp, 'big.png'));
    expect([m.width, m.height]).toEqual([4032, 3024]);
    const o = readImage(join(tmp, 'overlay.png'));
    expect([o.width, o.height]).toEqual([4032, 3024]);
    // the 12 MP mask sampled at the 640x480 pixel centres vs the original photo's mask
    const s = readMask(join(tmp, 'small.png'));
    let inter = 0;
    let union = 0;
    for (let y = 0; y < 480; y++)
      for (let x = 0; x < 640; x++) {
        const a = s.data[y * 640 + x];
        const b = m.data[Math.floor((y + 0.5) * 6.3) * 4032 + Math.floor((x + 0.5) * 6.3)];
        inter += a & b;
        union += a | b;
      }
    expect(union).toBeGreaterThan(10000);
    expect(inter / union).toBeGreaterThan(0.95);
  }, 900_000);
});
