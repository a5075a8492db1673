// Canny in bands of rows (photos of any size): with the binding limit lowered so that the fixture
// images run in bands of ~10 rows, cannyBands must give exactly cv2.Canny's edges (the fixtures of
// scripts/make_canny_fixtures.py, OpenCV 4.6.0), like the whole-image detector in canny.test.ts:
// the local stages see the same rows in the band's core, and the banded hysteresis reaches the same
// fixed point (edges crossing many cuts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cannyBands, gaussianKernelOpenCV8U } from '../../src/kernels/canny.js';
import { readImage } from '../../src/node/image_io.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
const fullLimit = rt?.maxBinding ?? 0;
afterEach(() => {
  if (rt) rt.maxBinding = fullLimit;
});
const FIX = join(import.meta.dirname, '..', 'fixtures', 'canny');
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8')) as {
  cases: Array<{ image: string; low: number; high: number; blur: number; edges: string }>;
};

describe.skipIf(!rt)('cannyBands equals cv2.Canny', () => {
  for (const c of manifest.cases) {
    it(`${c.edges}`, async () => {
      const img = readImage(join(FIX, c.image));
      const want = readImage(join(FIX, c.edges));
      const radius = c.blur ? (gaussianKernelOpenCV8U(c.blur).length - 1) / 2 : 0;
      rt!.maxBinding = 12 * img.width * (2 * (radius + 3) + 10); // 10 core rows a band
      const r = await cannyBands(rt!, img, { low: c.low, high: c.high, blur: c.blur || undefined });
      expect(r.bands).toBeGreaterThan(10);
      let diff = 0;
      for (let i = 0; i < r.edges.length; i++) if (r.edges[i] !== want.data[3 * i]) diff++;
      expect(diff).toBe(0);
    });
  }

  it('names the limit when one band cannot hold a row', async () => {
    const img = readImage(join(FIX, manifest.cases[0].image));
    rt!.maxBinding = 12 * img.width * 6;
    await expect(cannyBands(rt!, img, { low: 100, high: 200 })).rejects.toThrow(/binding limit/);
  });
});
