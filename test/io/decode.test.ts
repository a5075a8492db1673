// The image decoder (src/image/decode.ts) against Debian 12's python3-pil 9.4 (libjpeg62-turbo 2.1.5):
// every fixture of scripts/make_decode_fixtures.py must decode to the same RGB bytes as
// Image.open(p).convert('RGB') (sha256 of all bytes), EXIF orientation as ImageOps.exif_transpose, and
// every input PIL refuses must be refused with a one-line error, fast. Also the Node and browser entry
// points decode through this one decoder. No GPU.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  applyOrientation,
  decodeImageBytes,
  exifOrientation,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  imageSize,
} from '../../src/image/decode.js';
import { MAX_IMAGE_PIXELS } from '../../src/image/image_size.js';
import { decodeImage, readImage } from '../../src/node/image_io.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'decode');

interface Case {
  name: string;
  file: string;
  note: string;
  mode: string;
  width: number;
  height: number;
  sha256: string;
  rgb?: string;
  orientation?: number;
  transposed?: { width: number; height: number; sha256: string };
}
interface ErrorCase {
  name: string;
  file: string;
  note: string;
  pil: string;
}
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as {
  pillow: string;
  libjpeg_turbo: string;
  cases: Case[];
  errors: ErrorCase[];
};

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Where two RGB buffers first differ, for the failure message. */
function firstDiff(got: Uint8Array, want: Uint8Array, width: number): string {
  let n = 0;
  let max = 0;
  let first = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (d) {
      n++;
      max = Math.max(max, d);
      if (first < 0) first = i;
    }
  }
  if (first < 0) return 'no difference';
  const px = Math.floor(first / 3);
  return `${n} values differ (max ${max}); first at x=${px % width} y=${Math.floor(px / width)} channel ${first % 3}: got ${got[first]}, want ${want[first]}`;
}

describe(`decoder equals python3-pil ${manifest.pillow} / libjpeg-turbo ${manifest.libjpeg_turbo}`, () => {
  it('covers every kind the issue lists', () => {
    const names = manifest.cases.map((c) => c.name).join(' ');
    for (const k of ['baseline_444', 'baseline_422', 'baseline_420', 'baseline_440', 'progressive', 'restart'])
      expect(names).toContain(`jpeg_${k}`);
    for (const k of ['gray', 'cmyk', 'ycck', 'odd_17x13', 'exif_6', 'smoothing']) expect(names).toContain(`jpeg_${k}`);
    for (const k of ['gray1', 'gray2', 'gray4', 'gray8', 'gray16', 'gray_alpha16', 'rgb16', 'rgba8', 'palette_trns'])
      expect(names).toContain(`png_${k}`);
    expect(names).toContain('photo_panda');
    expect(names).toContain('photo_roboengine');
  });

  for (const c of manifest.cases) {
    it(`${c.name}: ${c.note}`, () => {
      const bytes = readFileSync(join(DIR, c.file));
      const img = decodeImageBytes(bytes, c.file);
      expect([img.width, img.height]).toEqual([c.width, c.height]);
      expect(img.mode).toBe(c.mode);
      expect(img.data.length).toBe(c.width * c.height * 3);
      if (sha(img.data) !== c.sha256) {
        const detail = c.rgb
          ? firstDiff(img.data, unzlibSync(readFileSync(join(DIR, c.rgb))), c.width)
          : 'hash differs';
        expect.fail(`${c.file}: RGB bytes differ from PIL's: ${detail}`);
      }
      expect(imageSize(bytes)).toEqual({ width: c.width, height: c.height });
      if (c.transposed) {
        expect(img.orientation).toBe(c.orientation);
        const r = decodeImageBytes(bytes, c.file, { exifRotate: true });
        expect([r.width, r.height]).toEqual([c.transposed.width, c.transposed.height]);
        expect(r.rotated).toBe(c.orientation !== 1);
        expect(sha(r.data)).toBe(c.transposed.sha256);
      } else {
        expect(img.orientation).toBe(0);
      }
    });
  }

  it('has one size limit: the decoder refuses what the header check refuses, from the header alone', () => {
    expect(DEFAULT_MAX_PIXELS).toBe(MAX_IMAGE_PIXELS);
    // a PNG whose IHDR claims 10000 x 7000 (70 MP), with nothing after it
    const png = new Uint8Array(33);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    const dv = new DataView(png.buffer);
    dv.setUint32(16, 10000);
    dv.setUint32(20, 7000);
    png.set([8, 2, 0, 0, 0], 24);
    expect(imageSize(png)).toEqual({ width: 10000, height: 7000 });
    expect(() => decodeImageBytes(png, 'big.png')).toThrow(
      /big\.png: image too large \(10000x7000 = 70\.0 MP; the decoder's limit is 64 MP\)/,
    );
  });

  it('warns about 16-bit grey PNGs (PIL clips them to 255)', () => {
    const img = decodeImageBytes(readFileSync(join(DIR, 'png_gray16.png')), 'png_gray16.png');
    expect(img.warnings.join(' ')).toMatch(/16-bit grey PNG: values above 255 are clipped to 255/);
    expect(decodeImageBytes(readFileSync(join(DIR, 'png_gray8.png'))).warnings).toEqual([]);
  });

  for (const e of manifest.errors) {
    it(`refuses ${e.name}: ${e.note} (PIL: ${e.pil.split(':')[0]})`, () => {
      const bytes = readFileSync(join(DIR, e.file));
      const t0 = performance.now();
      let err: unknown;
      try {
        decodeImageBytes(bytes, e.file);
      } catch (x) {
        err = x;
      }
      expect(err).toBeInstanceOf(ImageDecodeError);
      const msg = (err as Error).message;
      expect(msg.startsWith(`${e.file}: `)).toBe(true);
      expect(msg).not.toContain('\n');
      expect(performance.now() - t0).toBeLessThan(2000);
    });
  }

  it('refuses garbage of every kind quickly and in one line (no hang, no crash)', () => {
    const base = readFileSync(join(DIR, 'jpeg_progressive_420.jpg'));
    const inputs: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([0xff, 0xd8, 0xff]),
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      new Uint8Array(100_000).fill(0xff),
    ];
    // a SOF claiming 65000x65000 (must be refused from the header, not by allocating gigabytes)
    const huge = Uint8Array.from(base);
    const sof = huge.findIndex((b, i) => b === 0xff && huge[i + 1] === 0xc2);
    huge[sof + 5] = 0xfd;
    huge[sof + 6] = 0xe8;
    huge[sof + 7] = 0xfd;
    huge[sof + 8] = 0xe8;
    inputs.push(huge);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 0) / 0x80000000;
    for (let k = 0; k < 200; k++) {
      const b = Uint8Array.from(base);
      for (let j = 0; j < 1 + Math.floor(rand() * 8); j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      inputs.push(rand() < 0.3 ? b.subarray(0, Math.floor(rand() * b.length)) : b);
    }
    let decoded = 0;
    const t0 = performance.now();
    for (const b of inputs) {
      try {
        const img = decodeImageBytes(b, 'x.jpg');
        expect(img.data.length).toBe(img.width * img.height * 3);
        decoded++;
      } catch (err) {
        expect(err).toBeInstanceOf(ImageDecodeError);
        expect((err as Error).message).not.toContain('\n');
      }
    }
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(decoded).toBeGreaterThan(0); // corrupt-but-readable data decodes, as libjpeg does
    expect(() => decodeImageBytes(huge, 'huge.jpg')).toThrow(/image too large|JPEG too large/);
  });

  it('reads EXIF orientation and transposes as PIL (all eight orientations, both byte orders)', () => {
    const img = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i) };
    for (let o = 1; o <= 8; o++) {
      const t = applyOrientation(img, o);
      expect(t.width * t.height).toBe(6);
      if (o >= 5) expect([t.width, t.height]).toEqual([2, 3]);
    }
    // big-endian TIFF with Orientation = 6
    const mm = new Uint8Array([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0]);
    expect(exifOrientation(mm)).toBe(6);
    expect(exifOrientation(new Uint8Array([1, 2, 3]))).toBe(0);
  });

  it('the Node entry (image_io.ts) decodes through the same decoder', () => {
    const c = manifest.cases.find((k) => k.name === 'photo_roboengine')!;
    expect(sha(readImage(join(DIR, c.file)).data)).toBe(c.sha256);
    // scripts/make_pil_fixtures.py saved PIL's decode of the test clip's first frame as a PNG
    const fix = join(DIR, '..');
    expect(
      Buffer.from(readImage(join(fix, 'video_clip', '00000.jpg')).data).equals(
        Buffer.from(readImage(join(fix, 'pil_resize', '00000.png')).data),
      ),
    ).toBe(true);
    const g = manifest.cases.find((k) => k.name === 'jpeg_cmyk')!;
    expect(sha(decodeImage(readFileSync(join(DIR, g.file)), g.file).data)).toBe(g.sha256);
  });
});
