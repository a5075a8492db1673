// `segment --exif-rotate` and `track --exif-rotate` on a JPEG carrying EXIF orientation 6 (stored 23x15,
// displayed 15x23; test/fixtures/decode/jpeg_exif_6.jpg, whose transposed pixels equal PIL's
// ImageOps.exif_transpose, see test/io/decode.test.ts). Default: the tag is ignored, as the official
// code, and coordinates are stored pixels; with the flag prompts and outputs are in displayed pixels and
// equal a run on the already-transposed image.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImageBytes } from '../../src/image/decode.js';
import { readImage, writeRgbPng } from '../../src/node/image_io.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN_MODEL_ARGS as MODEL } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const PHOTO = join(import.meta.dirname, '..', 'fixtures', 'decode', 'jpeg_exif_6.jpg');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-exif-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();

// the displayed image, written as a plain PNG (no EXIF)
const shown = join(tmp, 'shown.png');
writeRgbPng(shown, decodeImageBytes(readFileSync(PHOTO), 'photo', { exifRotate: true }));
const lastLine = (s: string) => s.trimEnd().split('\n').pop();

describe('EXIF orientation on the command line', () => {
  it('default: ignored (stored pixels), with a note; a displayed-pixel prompt is outside the stored image', async () => {
    const r = await runCli(['segment', PHOTO, ...MODEL, '--point', '10,20']);
    expect(r.code, r.err).toBe(2);
    expect(lastLine(r.err)).toMatch(/point \(10, 20\) is outside the 23x15 image/);
    expect(r.err).toMatch(/EXIF orientation 6, ignored as the official code does .*--exif-rotate applies it/);
  });

  it.skipIf(!rt)(
    'segment --exif-rotate: prompts and masks in displayed pixels, same as the transposed image',
    async () => {
      const a = join(tmp, 'a.png');
      const b = join(tmp, 'b.png');
      const ov = join(tmp, 'ov.png');
      const r = await runCli([
        'segment',
        PHOTO,
        ...MODEL,
        '--exif-rotate',
        '--point',
        '10,20',
        '--out',
        a,
        '--overlay',
        ov,
      ]);
      expect(r.code, r.err).toBe(0);
      expect(r.err).not.toMatch(/EXIF orientation 6, ignored/);
      const s = await runCli(['segment', shown, ...MODEL, '--point', '10,20', '--out', b]);
      expect(s.code, s.err).toBe(0);
      const ma = readImage(a);
      expect([ma.width, ma.height]).toEqual([15, 23]);
      expect([readImage(ov).width, readImage(ov).height]).toEqual([15, 23]);
      expect(Buffer.from(ma.data).equals(Buffer.from(readImage(b).data))).toBe(true);
    },
  );

  it.skipIf(!rt)('track --exif-rotate on a frame folder: masks in displayed orientation', async () => {
    const dir = join(tmp, 'frames');
    mkdirSync(dir);
    copyFileSync(PHOTO, join(dir, '00000.jpg'));
    copyFileSync(PHOTO, join(dir, '00001.jpg'));
    const out = join(tmp, 'masks');
    const plain = await runCli(['track', dir, ...MODEL, '--point', '0:10,20', '--out', join(tmp, 'x')]);
    expect(plain.code, plain.err).toBe(2);
    expect(lastLine(plain.err)).toMatch(/outside/);
    const r = await runCli(['track', dir, ...MODEL, '--exif-rotate', '--point', '0:10,20', '--out', out, '--quiet']);
    expect(r.code, r.err).toBe(0);
    for (const f of ['00000.png', '00001.png']) {
      const m = readImage(join(out, f));
      expect([m.width, m.height]).toEqual([15, 23]);
    }
  });
});
