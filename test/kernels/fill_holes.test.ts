import { describe, expect, it } from 'vitest';
import { fillHoles } from '../../src/kernels/fill_holes.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { fillHolesRef } from '../ref/fill_holes.js';

const rt = await testRuntime();

describe.skipIf(!rt)('fill_holes (exact: it only copies or replaces values)', () => {
  it('fills 8-connected holes of area <= 8 with 0.1, keeps larger ones', async () => {
    const h = 6,
      w = 8;
    const x = new Float32Array(h * w).fill(1);
    // a diagonal (8-connected) hole of 3 pixels, a 9-pixel 3x3 hole, a single pixel at the border
    x[1 * w + 1] = -1;
    x[2 * w + 2] = -2;
    x[3 * w + 3] = 0;
    for (let yy = 2; yy < 5; yy++) for (let xx = 5; xx < 8; xx++) x[yy * w + xx] = -3;
    x[5 * w + 0] = -4;
    const y = await rt!.read(fillHoles(rt!, rt!.upload(x, [1, 1, h, w]), 8));
    expect(y[1 * w + 1]).toBeCloseTo(0.1, 7);
    expect(y[3 * w + 3]).toBeCloseTo(0.1, 7);
    expect(y[5 * w + 0]).toBeCloseTo(0.1, 7);
    expect(y[2 * w + 5]).toBe(-3);
    expect(Array.from(y)).toEqual(Array.from(fillHolesRef(x, 1, h, w, 8, Math.fround(0.1))));
  });
  const r = rng(3);
  for (const [b, h, w, area, fg] of [
    [2, 16, 16, 8, false],
    [1, 64, 64, 8, false],
    [1, 33, 17, 3, true],
    [1, 1, 1, 8, false],
    [3, 5, 1, 2, true],
  ] as const) {
    it(`random maps ${b}x${h}x${w} area ${area}${fg ? ' foreground' : ''}`, async () => {
      const x = Float32Array.from({ length: b * h * w }, () => (r.uniform() < 0.45 ? -r.uniform() : r.uniform()));
      const value = fg ? -10 : 0.1;
      const y = await rt!.read(fillHoles(rt!, rt!.upload(x, [b, h, w]), area, { foreground: fg }));
      expect(Array.from(y)).toEqual(Array.from(fillHolesRef(x, b, h, w, area, Math.fround(value), fg)));
    });
  }
  it('rejects a bad area', () => {
    expect(() => fillHoles(rt!, rt!.zeros([4, 4]), 0)).toThrow(/max area 0/);
  });
});
