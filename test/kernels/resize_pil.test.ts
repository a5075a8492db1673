import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/image/rgb.js';
import {
  normalizeLut,
  normalizePacked,
  packRgb,
  pilBicubicAxis,
  resizePil,
  unpackRgb,
} from '../../src/kernels/resize_pil.js';
import { preprocessOfficialVideo } from '../../src/model/preprocess_video.js';
import { SAM21_HIERA_T } from '../../src/model/config.js';
import { readImage } from '../../src/node/image_io.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { pilCoeffsRef, resizePilRef } from '../ref/resize_pil.js';

const rt = await testRuntime();

const DIR = fileURLToPath(new URL('../fixtures/pil_resize/', import.meta.url));
const manifest = JSON.parse(readFileSync(DIR + 'manifest.json', 'utf8')) as {
  pillow: string;
  cases: Array<{ name: string; input: string; in: [number, number]; out: [number, number] }>;
};

async function gpuResize(img: RgbImage, outW: number, outH: number): Promise<RgbImage> {
  const x = rt!.upload(packRgb(img), [img.height, img.width], 'u32', 'img');
  const y = resizePil(rt!, x, [outH, outW]);
  const px = await rt!.read(y, 'raw');
  x.dispose();
  y.dispose();
  return unpackRgb(px, outW, outH);
}

/** Exact equality of uint8 images, naming the first mismatch. */
function expectSameBytes(a: RgbImage, b: RgbImage, what: string): void {
  expect([a.width, a.height], `${what}: size`).toEqual([b.width, b.height]);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < a.data.length; i++)
    if (a.data[i] !== b.data[i]) {
      bad++;
      if (first < 0) first = i;
    }
  if (bad) {
    const p = Math.floor(first / 3);
    expect.fail(
      `${what}: ${bad} of ${a.data.length} bytes differ; first at pixel (${p % a.width}, ${Math.floor(p / a.width)}) channel ${first % 3}: ${a.data[first]} vs ${b.data[first]}`,
    );
  }
}

function randomImage(w: number, h: number, seed: number): RgbImage {
  const r = rng(seed);
  const data = new Uint8Array(w * h * 3);
  // mostly smooth with hard edges and saturated values, so clipping (below 0 / above 255) happens
  for (let i = 0; i < data.length; i++)
    data[i] = r.uniform() < 0.2 ? (r.uniform() < 0.5 ? 0 : 255) : Math.floor(r.uniform() * 256);
  return { width: w, height: h, data };
}

describe('resize_pil: host coefficients', () => {
  it('equal the independent port of precompute_coeffs / normalize_coeffs_8bpc', () => {
    for (const [i, o] of [
      [200, 256],
      [150, 256],
      [240, 64],
      [136, 64],
      [960, 256],
      [544, 256],
      [1, 5],
      [5, 1],
      [7, 7],
      [3, 1000],
    ]) {
      const a = pilBicubicAxis(i, o);
      const r = pilCoeffsRef(i, o);
      for (let d = 0; d < o; d++) {
        expect([a.bounds[2 * d], a.bounds[2 * d + 1]], `${i}->${o} bounds ${d}`).toEqual([r[d].xmin, r[d].xmax]);
        expect(Array.from(a.coef.subarray(d * a.ksize, d * a.ksize + r[d].xmax)), `${i}->${o} coef ${d}`).toEqual(
          r[d].k,
        );
      }
    }
  });

  it('f32(v / 255 in double) is the f32 division for every uint8 (the official /255.0 then float32)', () => {
    const f = Math.fround;
    for (let v = 0; v < 256; v++) {
      // correctly rounded f32 quotient, found by checking the neighbours of the candidate
      const q = f(v / 255);
      const buf = new Float32Array([q]);
      const bits = new Uint32Array(buf.buffer);
      for (const d of [-1, 1]) {
        if (v === 0) break;
        bits[0] += d;
        expect(Math.abs(buf[0] * 255 - v)).toBeGreaterThanOrEqual(Math.abs(q * 255 - v));
        bits[0] -= d;
      }
    }
    const lut = normalizeLut([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
    expect(lut[255]).toBe(f(f(1 - f(0.485)) / f(0.229)));
    expect(lut[512]).toBe(f(f(0 - f(0.406)) / f(0.225)));
  });
});

describe('resize_pil: CPU reference vs Pillow fixtures', () => {
  for (const c of manifest.cases) {
    it(`${c.name}: ${c.in.join('x')} -> ${c.out.join('x')} bit-exact (Pillow ${manifest.pillow})`, () => {
      const src = readImage(DIR + c.input);
      const want = readImage(DIR + `${c.name}_out.png`);
      expectSameBytes(resizePilRef(src, c.out[0], c.out[1]), want, `ref ${c.name}`);
    });
  }
});

describe.skipIf(!rt)('resize_pil: GPU', () => {
  // Integer arithmetic everywhere (host-built fixed-point coefficients): results must be bit-exact.
  for (const c of manifest.cases) {
    it(`${c.name}: ${c.in.join('x')} -> ${c.out.join('x')} equals Pillow bit-exactly`, async () => {
      const src = readImage(DIR + c.input);
      const want = readImage(DIR + `${c.name}_out.png`);
      expectSameBytes(await gpuResize(src, c.out[0], c.out[1]), want, `gpu ${c.name}`);
    });
  }

  it('random sizes (up, down, mixed, 1-pixel dims, same size) equal the CPU reference bit-exactly', async () => {
    const cases: Array<[number, number, number, number]> = [
      [1, 1, 5, 3],
      [1, 7, 4, 4],
      [9, 1, 2, 3],
      [13, 11, 1, 1],
      [17, 5, 1, 9],
      [6, 6, 6, 6],
      [40, 30, 7, 9],
      [33, 29, 64, 50],
      [64, 48, 11, 48],
      [50, 21, 50, 70],
      [127, 3, 8, 2],
    ];
    let seed = 1;
    for (const [w, h, ow, oh] of cases) {
      const img = randomImage(w, h, seed++);
      expectSameBytes(await gpuResize(img, ow, oh), resizePilRef(img, ow, oh), `${w}x${h} -> ${ow}x${oh}`);
    }
  });

  it('normalizePacked equals the official /255, -mean, /std in float32 exactly', async () => {
    const img = randomImage(19, 7, 99);
    const x = rt!.upload(packRgb(img), [7, 19], 'u32');
    const mean = SAM21_HIERA_T.preprocess.mean;
    const std = SAM21_HIERA_T.preprocess.std;
    const y = await rt!.read(normalizePacked(rt!, x, mean, std));
    const f = Math.fround;
    const want = new Float32Array(3 * 19 * 7);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 19 * 7; p++) want[c * 133 + p] = f(f(f(img.data[3 * p + c] / 255) - f(mean[c])) / f(std[c]));
    }
    expect(Array.from(y)).toEqual(Array.from(want));
  });

  it('preprocessOfficialVideo: [1, 3, S, S] from a frame', async () => {
    const src = readImage(DIR + 'video_frame0.png');
    const cfg = { ...SAM21_HIERA_T, image_size: 64 };
    const t = preprocessOfficialVideo(rt!, cfg, src);
    expect(t.shape).toEqual([1, 3, 64, 64]);
    const y = await rt!.read(t);
    const r = resizePilRef(src, 64, 64);
    const f = Math.fround;
    const { mean, std } = cfg.preprocess;
    for (const p of [0, 100, 4095]) {
      for (let c = 0; c < 3; c++)
        expect(y[c * 4096 + p]).toBe(f(f(f(r.data[3 * p + c] / 255) - f(mean[c])) / f(std[c])));
    }
    t.dispose();
  });

  it('rejects bad input with clear errors', () => {
    const f = rt!.upload(new Float32Array(4), [2, 2]);
    expect(() => resizePil(rt!, f, [3, 3])).toThrow(/u32/);
    const u = rt!.upload(new Uint32Array(4), [1, 2, 2], 'u32');
    expect(() => resizePil(rt!, u, [3, 3])).toThrow(/\[1, 2, 2\]|1x2x2/);
    const v = rt!.upload(new Uint32Array(4), [2, 2], 'u32');
    expect(() => resizePil(rt!, v, [0, 3])).toThrow(/positive/);
    expect(() => normalizePacked(rt!, v, [1, 2], [1, 2, 3])).toThrow(/3 values/);
    expect(() => packRgb({ width: 2, height: 2, data: new Uint8Array(5) })).toThrow(/5 bytes/);
  });
});
