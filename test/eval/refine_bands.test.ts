// Frames of any size in the evaluation code. Guided-filter refinement in bands of rows: with the
// binding limit lowered so that a 97x71 frame runs in many 8-row bands (16 rows of context each
// side), the refined mask must equal the one-band result exactly (that one is checked against the
// CPU reference and OpenCV in test/kernels/guided_filter.test.ts). J&F counts: frames over the
// binding limit are counted on the CPU by the GPU backend, with the same integers.
import { afterEach, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/eval/backend.js';
import { GpuCountBackend } from '../../src/eval/gpu_backend.js';
import { REFINE_HALO, refineBands } from '../../src/model/refine.js';
import type { RgbImage } from '../../src/image/rgb.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
const fullLimit = rt?.maxBinding ?? 0;
afterEach(() => {
  if (rt) rt.maxBinding = fullLimit;
});

/** Textured image with two blobs and a speckled mask that roughly follows them. */
function frame(w: number, h: number, seed: number): { img: RgbImage; mask: Uint8Array } {
  const r = rng(seed);
  const data = new Uint8Array(3 * w * h);
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const inside = (x - 30) ** 2 + (y - 35) ** 2 < 400 || (x - 45) ** 2 + (y - 70) ** 2 < 225;
      for (let c = 0; c < 3; c++)
        data[3 * i + c] = Math.max(
          0,
          Math.min(255, Math.round((inside ? 170 : 60) + 30 * Math.sin((x + 3 * c) / 4) + 20 * r.normal())),
        );
      const near = (x - 31) ** 2 + (y - 33) ** 2 < 420 || (x - 44) ** 2 + (y - 71) ** 2 < 200;
      mask[i] = near !== r.uniform() < 0.03 ? 1 : 0;
    }
  return { img: { width: w, height: h, data }, mask };
}

describe.skipIf(!rt)('guided refinement in bands', () => {
  it('equals the one-band result', async () => {
    const { img, mask } = frame(71, 97, 3);
    const whole = await refineBands(rt!, img, mask);
    let changed = 0;
    for (let i = 0; i < mask.length; i++) if (whole[i] !== mask[i]) changed++;
    expect(changed).toBeGreaterThan(20); // the refinement does something here
    rt!.maxBinding = 16 * img.width * (2 * REFINE_HALO + 8); // 8 output rows a band -> 13 bands
    const banded = await refineBands(rt!, img, mask);
    let diff = 0;
    for (let i = 0; i < mask.length; i++) if (banded[i] !== whole[i]) diff++;
    expect(diff).toBe(0);
    rt!.maxBinding = 16 * img.width * 2 * REFINE_HALO; // no room for a core row
    await expect(refineBands(rt!, img, mask)).rejects.toThrow(/binding limit/);
  });
});

describe.skipIf(!rt)('J&F counts of frames over the binding limit', () => {
  it('GPU backend with a tiny limit equals the CPU counts', async () => {
    const { mask } = frame(71, 97, 4);
    const { mask: other } = frame(71, 97, 5);
    const label = (m: Uint8Array, id: number) => ({
      width: 71,
      height: 97,
      data: Uint16Array.from(m, (v) => v * id),
      fromPalette: false,
    });
    const jobs = [
      { pred: label(mask, 1), gt: label(other, 1), ids: [1], radius: 2 },
      { pred: label(other, 2), gt: label(mask, 2), ids: [2, 3], radius: 3 },
    ];
    const want = await cpuBackend.count(jobs);
    rt!.maxBinding = 4 * 71 * 50; // half a frame: every frame over the limit
    expect(await new GpuCountBackend(rt!).count(jobs)).toEqual(want);
    rt!.maxBinding = fullLimit;
    expect(await new GpuCountBackend(rt!).count(jobs)).toEqual(want);
  });
});
