// `robotseg edges` end to end: spawned as a user would run it (node bin/robotseg.js).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { afterAll, describe, expect, it } from 'vitest';
import { readImage } from '../../src/node/image_io.js';
import { testRuntime } from '../helpers/gpu.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures', 'canny');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-edges-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();

function cli(...args: string[]) {
  return runCli(['edges', ...args]);
}

describe('robotseg edges: user errors (exit 2, one line)', () => {
  it('missing image', async () => {
    const r = await cli(join(tmp, 'nope.png'), '--out', join(tmp, 'o.png'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read image '.*nope\.png': no such file/);
  });

  it('corrupt PNG and non-image files', async () => {
    const bad = join(tmp, 'bad.png');
    writeFileSync(
      bad,
      Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('garbage')]),
    );
    let r = await cli(bad, '--out', join(tmp, 'o.png'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/corrupt PNG/);
    const txt = join(tmp, 'a.txt');
    writeFileSync(txt, 'hello');
    r = await cli(txt, '--out', join(tmp, 'o.png'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a PNG or JPEG/);
  });

  it('bad options', async () => {
    const img = join(FIX, 'roboengine_291x189.png');
    expect((await cli(img, '--out', join(tmp, 'o.png'), '--low', 'abc')).err).toMatch(/--low abc: not a number/);
    expect((await cli(img, '--out', join(tmp, 'o.png'), '--blur', '0')).code).toBe(2);
    const r = await cli(img, '--out', join(tmp, 'o.png'), '--robotseg', '--high', '3');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/do not apply to --robotseg/);
  });
});

describe.skipIf(!rt)('robotseg edges on the GPU', () => {
  it('writes the same binary edges as cv2.Canny (fixture)', async () => {
    const out = join(tmp, 'edges.png');
    const r = await cli(join(FIX, 'panda_320x240.png'), '--out', out, '--low', '50', '--high', '150');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/320x240, 7723 edge pixels/);
    const got = readImage(out);
    const want = readImage(join(FIX, 'panda_320x240_canny_50_150.png'));
    expect(Buffer.from(got.data).equals(Buffer.from(want.data))).toBe(true);
  });

  it('--blur matches cv2.GaussianBlur + cv2.Canny', async () => {
    const out = join(tmp, 'blur.png');
    const r = await cli(
      join(FIX, 'roboengine_291x189.png'),
      '--out',
      out,
      '--low',
      '40',
      '--high',
      '120',
      '--blur',
      '1.0',
    );
    expect(r.code, r.err).toBe(0);
    const want = readImage(join(FIX, 'roboengine_291x189_canny_40_120_blur1.0.png'));
    expect(Buffer.from(readImage(out).data).equals(Buffer.from(want.data))).toBe(true);
  });

  it('--robotseg writes the SEMA map at the model size', async () => {
    const out = join(tmp, 'sema.png');
    const r = await cli(join(FIX, 'roboengine_291x189.png'), '--out', out, '--robotseg', '--size', '96', '--stretch');
    expect(r.code, r.err).toBe(0);
    const got = readImage(out);
    expect([got.width, got.height]).toEqual([96, 96]);
    expect(Math.max(...got.data)).toBe(255);
  });
});
