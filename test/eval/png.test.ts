// Mask PNG decoding: raw samples (palette indices, gray levels) cross-checked with pngjs, and the
// label-map rules (0/255 -> object 1, DAVIS colours, photos rejected).
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { davisPalette, decodeLabelPng } from '../../src/eval/labels.js';
import { decodePngSamples } from '../../src/eval/png.js';
import { rng } from '../helpers/compare.js';
import { encodePng } from './helpers.js';

const r = rng(7);
const rand = (n: number, max: number) => Array.from({ length: n }, () => Math.floor(r.uniform() * (max + 1)));

/** pngjs decode as RGBA (+ what it says the gray level is for gray images). */
function viaPngjs(bytes: Uint8Array) {
  return PNG.sync.read(Buffer.from(bytes), { skipRescale: true } as never);
}

describe('PNG samples', () => {
  const w = 13,
    h = 7; // odd sizes: partial Adam7 passes, sub-byte rows that end mid-byte
  for (const interlace of [false, true]) {
    for (const depth of [1, 2, 4, 8] as const) {
      it(`palette ${depth}-bit${interlace ? ' interlaced' : ''}: indices, and pngjs colours agree`, () => {
        const pal = davisPalette().slice(0, 1 << depth);
        const idx = rand(w * h, (1 << depth) - 1);
        const png = encodePng({
          width: w,
          height: h,
          colorType: 3,
          bitDepth: depth,
          samples: idx,
          palette: pal,
          interlace,
        });
        const s = decodePngSamples(png);
        expect([s.width, s.height, s.channels]).toEqual([w, h, 1]);
        expect(Array.from(s.samples)).toEqual(idx);
        const ref = viaPngjs(png);
        for (let i = 0; i < w * h; i++)
          expect([ref.data[4 * i], ref.data[4 * i + 1], ref.data[4 * i + 2]]).toEqual(pal[idx[i]]);
      });
    }
    it(`gray 16-bit, gray+alpha, RGB, RGBA${interlace ? ' interlaced' : ''}`, () => {
      const g16 = rand(w * h, 65535);
      expect(
        Array.from(
          decodePngSamples(encodePng({ width: w, height: h, colorType: 0, bitDepth: 16, samples: g16, interlace }))
            .samples,
        ),
      ).toEqual(g16);
      const ga = rand(2 * w * h, 255);
      const s = decodePngSamples(encodePng({ width: w, height: h, colorType: 4, bitDepth: 8, samples: ga, interlace }));
      expect(Array.from(s.samples)).toEqual(ga.filter((_, i) => i % 2 === 0));
      for (const [ct, nch] of [
        [2, 3],
        [6, 4],
      ] as const) {
        const v = rand(nch * w * h, 255);
        const png = encodePng({ width: w, height: h, colorType: ct, bitDepth: 8, samples: v, interlace });
        const got = decodePngSamples(png);
        const ref = viaPngjs(png);
        expect(got.channels).toBe(3);
        for (let i = 0; i < w * h; i++)
          expect([got.samples[3 * i], got.samples[3 * i + 1], got.samples[3 * i + 2]]).toEqual([
            ref.data[4 * i],
            ref.data[4 * i + 1],
            ref.data[4 * i + 2],
          ]);
      }
    });
  }

  it('the clip annotation (palette PNG written by PIL) reads as ids 0/1, like pngjs colours', () => {
    const bytes = readFileSync(new URL('../fixtures/eval/clip/gt/00000.png', import.meta.url));
    const m = decodeLabelPng(bytes);
    const ref = viaPngjs(bytes);
    expect([m.width, m.height, m.fromPalette]).toEqual([960, 544, true]);
    let fg = 0,
      bad = 0;
    for (let i = 0; i < m.data.length; i++) {
      if ((m.data[i] === 1) !== (ref.data[4 * i] === 128)) bad++; // index 1 = dark red (128, 0, 0)
      fg += m.data[i];
    }
    expect(bad).toBe(0);
    expect(fg).toBeGreaterThan(0.03 * m.data.length);
  });

  it('rejects corrupt and non-PNG input with the file name', () => {
    expect(() => decodePngSamples(new Uint8Array([0xff, 0xd8, 0xff, 0, 0, 0, 0, 0]), 'x.png')).toThrow(
      /x\.png: not a PNG/,
    );
    const png = encodePng({ width: 4, height: 4, colorType: 0, bitDepth: 8, samples: rand(16, 255) });
    expect(() => decodePngSamples(png.slice(0, 40), 'cut.png')).toThrow(/cut\.png: corrupt PNG/);
  });
});

describe('label rules', () => {
  const gray = (v: number[], w: number, depth: 8 | 16 = 8) =>
    encodePng({ width: w, height: v.length / w, colorType: 0, bitDepth: depth, samples: v });
  it('a gray PNG with only 0 and 255 is object 1; other gray values are ids', () => {
    expect(Array.from(decodeLabelPng(gray([0, 255, 255, 0], 2)).data)).toEqual([0, 1, 1, 0]);
    expect(Array.from(decodeLabelPng(gray([0, 65535, 0, 0], 2, 16)).data)).toEqual([0, 1, 0, 0]);
    expect(Array.from(decodeLabelPng(gray([0, 1, 2, 255], 2)).data)).toEqual([0, 1, 2, 255]);
    expect(Array.from(decodeLabelPng(gray([0, 0, 0, 0], 2)).data)).toEqual([0, 0, 0, 0]);
  });
  it('a palette PNG keeps index 255 (void in DAVIS ground truth) even with only 0 and 255', () => {
    const png = encodePng({
      width: 2,
      height: 1,
      colorType: 3,
      bitDepth: 8,
      samples: [0, 255],
      palette: davisPalette(),
    });
    expect(Array.from(decodeLabelPng(png).data)).toEqual([0, 255]);
  });
  it('RGB masks: gray RGB as gray, DAVIS colours as their index, other colours rejected', () => {
    const pal = davisPalette();
    const rgbGray = encodePng({ width: 2, height: 1, colorType: 2, bitDepth: 8, samples: [0, 0, 0, 255, 255, 255] });
    expect(Array.from(decodeLabelPng(rgbGray).data)).toEqual([0, 1]);
    const rgbPal = encodePng({
      width: 3,
      height: 1,
      colorType: 6,
      bitDepth: 8,
      samples: [...pal[0], 255, ...pal[2], 255, ...pal[1], 128],
    });
    expect(Array.from(decodeLabelPng(rgbPal).data)).toEqual([0, 2, 1]);
    const photo = encodePng({ width: 2, height: 1, colorType: 2, bitDepth: 8, samples: [10, 200, 30, 0, 0, 0] });
    expect(() => decodeLabelPng(photo, 'photo.png')).toThrow(/photo\.png: not a mask \(colour image/);
  });
  it('a gray photo (many levels) is not a mask', () => {
    const v = Array.from({ length: 64 }, (_, i) => i * 4);
    expect(() => decodeLabelPng(gray(v, 8), 'g.png')).toThrow(/g\.png: not a mask \(more than 32 distinct gray levels/);
  });
});
