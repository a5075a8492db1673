// Resize in bands of rows (photos of any size): with the runtime's binding limit lowered to a few KB,
// the banded image -> model-input resize and the banded low-res -> full-size mask readback must equal
// the whole-tensor resize() bit for bit (and so its CPU reference, test/kernels/resize.test.ts), and
// the whole-tensor resize must be refused by the binding check (so the bands really were needed).
import { afterEach, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/image/rgb.js';
import { rgbToPlanarFloat } from '../../src/image/rgb.js';
import { resize, resizeRowBands, resizeToHost } from '../../src/kernels/resize.js';
import { resizeImageToInput } from '../../src/model/image_predictor.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { resizeRef } from '../ref/resize.js';

const rt = await testRuntime();
const fullLimit = rt?.maxBinding ?? 0;
afterEach(() => {
  if (rt) rt.maxBinding = fullLimit;
});

function randomImage(w: number, h: number, seed: number): RgbImage {
  const r = rng(seed);
  return { width: w, height: h, data: Uint8Array.from({ length: 3 * w * h }, () => Math.floor(r.uniform() * 256)) };
}

function firstDiff(a: Float32Array, b: Float32Array): string {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `first difference at ${i}: ${a[i]} vs ${b[i]}`;
  return a.length === b.length ? 'equal' : `lengths ${a.length} vs ${b.length}`;
}

describe('resizeRowBands (host plan)', () => {
  it('covers every output row once, each band within the limit', () => {
    for (const [inHW, outHW, aa, rows] of [
      [[150, 200], [64, 64], true, 12],
      [[64, 64], [301, 173], false, 12],
      [[1000, 30], [7, 5], true, 600], // one output row reads ~290 source rows
    ] as Array<[[number, number], [number, number], boolean, number]>) {
      const limit = 4 * 3 * Math.max(inHW[1], outHW[1]) * rows;
      const bands = resizeRowBands(inHW, outHW, 3, limit, { mode: 'bilinear', antialias: aa });
      expect(bands.length).toBeGreaterThan(1);
      let next = 0;
      for (const b of bands) {
        expect(b.r0).toBe(next);
        expect(b.r1).toBeGreaterThan(b.r0);
        expect(4 * 3 * (b.s1 - b.s0) * inHW[1]).toBeLessThanOrEqual(limit);
        expect(4 * 3 * (b.r1 - b.r0) * outHW[1]).toBeLessThanOrEqual(limit);
        next = b.r1;
      }
      expect(next).toBe(outHW[0]);
    }
  });

  it('names the limit when one row does not fit', () => {
    expect(() => resizeRowBands([100, 100], [10, 10], 3, 1000, { mode: 'bilinear', antialias: true })).toThrow(
      /binding limit/,
    );
  });
});

describe.skipIf(!rt)('banded resize on the GPU equals the whole resize', () => {
  for (const [w, h, S] of [
    [251, 173, 64], // downscale, antialias windows of ~4 rows
    [48, 37, 100], // upscale
  ]) {
    it(`image ${w}x${h} -> model input ${S}x${S}`, async () => {
      const img = randomImage(w, h, w * 7 + h);
      const x = rt!.upload(rgbToPlanarFloat(img), [1, 3, h, w], 'f32', 'image');
      const whole = await rt!.read(resize(rt!, x, [S, S], { mode: 'bilinear', antialias: true }));
      x.dispose();
      const ref = resizeRef(rgbToPlanarFloat(img), [1, 3, h, w], [S, S], 'bilinear', true);
      let maxErr = 0;
      for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(ref[i] - whole[i]));
      expect(maxErr).toBeLessThan(1e-5);

      const limit = 4 * 3 * w * 12; // ~12 source rows per band
      rt!.maxBinding = limit;
      const bands = resizeRowBands([h, w], [S, S], 3, limit, { mode: 'bilinear', antialias: true });
      expect(bands.length).toBeGreaterThan(3);
      const x2 = rt!.upload(rgbToPlanarFloat(img), [1, 3, h, w], 'f32', 'image');
      expect(() => resize(rt!, x2, [S, S], { mode: 'bilinear', antialias: true })).toThrow(/binding limit/);
      x2.dispose();
      const t = resizeImageToInput(rt!, img, S);
      const banded = await rt!.read(t);
      t.dispose();
      expect(firstDiff(banded, whole)).toBe('equal');
    });
  }

  it('low-res logits -> full-size masks and logits on the host, in bands', async () => {
    const [B, h, W, H] = [2, 16, 203, 157];
    const low = rng(5).array(B * h * h, 8);
    const x = rt!.upload(low, [B, 1, h, h], 'f32', 'low_res');
    const whole = await rt!.read(resize(rt!, x, [H, W], { mode: 'bilinear' }));
    rt!.maxBinding = 4 * B * W * 9; // 9 output rows per band
    const r = await resizeToHost(rt!, x, [H, W], { mode: 'bilinear', threshold: 0, logits: true });
    x.dispose();
    for (let b = 0; b < B; b++) {
      const want = whole.subarray(b * H * W, (b + 1) * H * W);
      expect(firstDiff(r.logits![b], want)).toBe('equal');
      const m = Uint8Array.from(want, (v) => (v > 0 ? 1 : 0));
      expect(Buffer.from(r.masks[b]).equals(Buffer.from(m))).toBe(true);
    }
    const noLogits = await resizeToHost(rt!, rt!.upload(low, [B, 1, h, h]), [H, W], {
      mode: 'bilinear',
      threshold: 0,
      logits: false,
    });
    expect(noLogits.logits).toBeNull();
    expect(Buffer.from(noLogits.masks[1]).equals(Buffer.from(r.masks[1]))).toBe(true);
  });
});
