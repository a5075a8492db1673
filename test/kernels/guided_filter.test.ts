// guided_filter kernels (RobotSeg's guided-filter mask refinement) against the CPU reference
// (test/ref/guided_filter.ts) and against real OpenCV (test/fixtures/guided_filter/cases.safetensors,
// made by scripts/make_guided_filter_fixture.py with Debian's python3-opencv 4.6.0).
// Tolerances:
//   - integer-derived planes are exact: the chamfer distance and its 15x15 max (both capped at 7 on
//     the GPU, where only values below 6 matter), the 7x7 band, the gray image (reference vs OpenCV);
//   - guided filter outputs: GPU vs reference 2e-5 absolute (float32 box sums instead of float64);
//     reference vs OpenCV 5e-5 (OpenCV's SSE build takes 1 / (var + eps) from _mm_rcp_ps, a 12-bit
//     approximation, on columns in groups of 4; measured 2.6e-5 on the fixture);
//   - masks: identical except band pixels whose soft value is within that tolerance of 0.5 (none
//     occur in these cases; the count is asserted).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { RgbImage } from '../../src/image/rgb.js';
import { guidedRefine } from '../../src/model/refine.js';
import { guidedRefineMask } from '../../src/kernels/guided_filter.js';
import { openWeights } from '../../src/node/weights_file.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { type RefineRef, boxMeanRef, chamferDistRef, guidedRefineRef, reflect } from '../ref/guided_filter.js';

const rt = await testRuntime();
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'guided_filter', 'cases.safetensors');
const GF_TOL_GPU = 2e-5;
const GF_TOL_CV = 5e-5;

interface Case {
  name: string;
  h: number;
  w: number;
  rgb: Uint8Array;
  mask: Uint8Array;
}

/** Smooth-ish random image (sum of a few gradients plus noise) and a blob mask with speckle. */
function randomCase(h: number, w: number, seed: number): Case {
  const r = rng(seed);
  const rgb = new Uint8Array(h * w * 3);
  const cx = r.uniform() * w,
    cy = r.uniform() * h,
    rad = Math.max(1.5, Math.min(h, w) * (0.2 + 0.4 * r.uniform()));
  const mask = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < rad * rad;
      for (let c = 0; c < 3; c++)
        rgb[3 * i + c] = Math.max(
          0,
          Math.min(255, Math.round((inside ? 150 : 70) + 40 * Math.sin((x + 2 * c) / 5) + 25 * r.normal())),
        );
      mask[i] = inside !== r.uniform() < 0.04 ? 1 : 0;
    }
  }
  return { name: `random ${h}x${w}`, h, w, rgb, mask };
}

interface GpuOut {
  mask: Uint32Array;
  soft: Float32Array;
  aux: Float32Array;
}

async function runGpu(c: Case): Promise<GpuOut> {
  const packed = new Uint32Array(c.h * c.w);
  for (let i = 0; i < packed.length; i++) packed[i] = c.rgb[3 * i] | (c.rgb[3 * i + 1] << 8) | (c.rgb[3 * i + 2] << 16);
  return rt!.scopeAsync(async () => {
    const r = guidedRefineMask(
      rt!,
      rt!.upload(packed, [c.h, c.w], 'u32'),
      rt!.upload(Uint32Array.from(c.mask), [c.h, c.w], 'u32'),
    );
    expect(r.mask.shape).toEqual([c.h, c.w]);
    expect(r.soft.shape).toEqual([3, c.h, c.w]);
    return {
      mask: (await rt!.read(r.mask, 'raw')) as Uint32Array,
      soft: await rt!.read(r.soft),
      aux: await rt!.read(r.aux),
    };
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, off = 0): { max: number; at: number } {
  let max = 0,
    at = -1;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[off + i] - b[i]);
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}

/** Masks equal except band pixels whose soft value is within tol of 0.5; returns that count. */
function compareMasks(
  name: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  soft: ArrayLike<number>,
  tol: number,
): number {
  let near = 0;
  for (let i = 0; i < want.length; i++) {
    if ((got[i] ? 1 : 0) === (want[i] ? 1 : 0)) continue;
    if (Math.abs(soft[i] - 0.5) > tol) expect.fail(`${name}: mask differs at ${i} where soft = ${soft[i]}`);
    near++;
  }
  return near;
}

function checkAgainstRef(c: Case, g: GpuOut, ref: RefineRef): void {
  const n = c.h * c.w;
  const cap = (v: number) => Math.min(v, 7);
  expect(Array.from(g.aux.subarray(0, n)), `${c.name} chamfer distance`).toEqual(Array.from(ref.dist, cap));
  expect(Array.from(g.aux.subarray(n, 2 * n)), `${c.name} thickness`).toEqual(Array.from(ref.thick, cap));
  const band = Array.from({ length: n }, (_, i) => (g.aux[2 * n + i] !== g.aux[3 * n + i] ? 1 : 0));
  expect(band, `${c.name} band`).toEqual(Array.from(ref.band));
  for (const [k, plane, want] of [
    ['soft', 0, ref.soft],
    ['gf r=3', 1, ref.gf3],
    ['gf r=7', 2, ref.gf7],
  ] as const) {
    const d = maxDiff(g.soft, want, plane * n);
    if (d.max > GF_TOL_GPU)
      expect.fail(`${c.name} ${k}: |gpu - ref| = ${d.max} at ${d.at} (${g.soft[plane * n + d.at]} vs ${want[d.at]})`);
  }
  expect(
    compareMasks(c.name, g.mask, ref.refined, ref.soft, GF_TOL_GPU),
    `${c.name}: pixels decided within the tolerance of 0.5`,
  ).toBe(0);
}

describe('guided_filter CPU reference: pieces', () => {
  it('BORDER_REFLECT indices, also for windows wider than the image', () => {
    expect([-3, -2, -1, 0, 4, 5, 6, 7].map((p) => reflect(p, 5))).toEqual([2, 1, 0, 0, 4, 4, 3, 2]);
    expect([-7, -2, 2, 3, 9].map((p) => reflect(p, 2))).toEqual([1, 1, 1, 0, 1]); // period 4: 0 1 | 1 0 | 0 1
    expect(reflect(-7, 1)).toBe(0);
  });
  it('box mean of a constant is the constant; of a 1-pixel impulse, 1/(2r+1)^2 in its window', () => {
    const c = boxMeanRef(new Float32Array(20).fill(0.25), 4, 5, 3);
    expect(Array.from(c)).toEqual(new Array(20).fill(0.25));
    const imp = new Float32Array(9 * 9);
    imp[4 * 9 + 4] = 1;
    const m = boxMeanRef(imp, 9, 9, 1);
    expect(m[3 * 9 + 3]).toBe(Math.fround(1 / 9));
    expect(m[2 * 9 + 4]).toBe(0);
  });
  it('chamfer distance: OpenCV weights along an axis, a diagonal and a knight move; no zero pixel = 8192', () => {
    // a 1-pixel hole in a 9x9 foreground image
    const m = new Uint8Array(81).fill(1);
    m[4 * 9 + 4] = 0;
    const d = chamferDistRef(m, 9, 9);
    const at = (y: number, x: number) => d[y * 9 + x];
    expect([at(4, 5), at(4, 7), at(5, 5), at(6, 5), at(7, 7), at(6, 7)]).toEqual([
      1,
      3,
      Math.fround(91750 / 65536),
      Math.fround(143976 / 65536),
      Math.fround((3 * 91750) / 65536),
      Math.fround((143976 + 91750) / 65536),
    ]);
    expect(Array.from(chamferDistRef(new Uint8Array(6).fill(1), 2, 3))).toEqual(new Array(6).fill(8192));
  });
});

describe('guided_filter CPU reference vs OpenCV (fixture)', () => {
  it('gray, distance, thickness and band exact; filters within 5e-5; output masks identical', async () => {
    const f = await openWeights(FIXTURE);
    for (const name of ['clip', 'reject', 'tiny', 'edge']) {
      const [h, w] = f.header.get(`${name}.mask`)!.shape;
      const u8 = async (k: string) => new Uint8Array(await f.readRaw(`${name}.${k}`));
      const ref = guidedRefineRef(
        await u8('rgb'),
        (await u8('mask')).map((v) => (v ? 1 : 0)),
        h,
        w,
      );
      const has = (k: string) => f.header.has(`${name}.${k}`);
      if (has('gray')) expect(Array.from(ref.gray), `${name} gray`).toEqual(Array.from(await u8('gray')));
      for (const k of ['dist', 'thick'] as const)
        if (has(k)) expect(Array.from(ref[k]), `${name} ${k}`).toEqual(Array.from(await f.readTensor(`${name}.${k}`)));
      if (has('band')) expect(Array.from(ref.band), `${name} band`).toEqual(Array.from(await u8('band')));
      for (const k of ['gf3', 'gf7', 'soft'] as const) {
        if (!has(k)) continue;
        const cv = await f.readTensor(`${name}.${k}`);
        const d = maxDiff(ref[k], cv);
        expect(d.max, `${name} ${k} at ${d.at}`).toBeLessThanOrEqual(GF_TOL_CV);
      }
      const out = await u8('out');
      const cvSoft = await f.readTensor(`${name}.soft`);
      expect(
        compareMasks(name, ref.out, out, cvSoft, GF_TOL_CV),
        `${name}: pixels decided within the tolerance of 0.5`,
      ).toBe(0);
    }
    await f.close();
  });
});

describe.skipIf(!rt)('guided_filter kernels (GPU) vs the CPU reference', () => {
  // awkward sizes: 1x1, a row, a column, smaller than the 15x15 window, not multiples of 64
  const sizes: Array<[number, number]> = [
    [1, 1],
    [1, 17],
    [13, 1],
    [5, 9],
    [23, 37],
    [50, 61],
  ];
  for (const [h, w] of sizes) {
    it(`random ${h}x${w}`, async () => {
      const c = randomCase(h, w, h * 100 + w);
      checkAgainstRef(c, await runGpu(c), guidedRefineRef(c.rgb, c.mask, h, w));
    });
  }

  it('uniform image, 70x70 square: the guided filter degenerates to a box-of-box blur; edges stay, corners round off', async () => {
    const h = 88,
      w = 92;
    const rgb = new Uint8Array(h * w * 3).fill(90);
    const mask = new Uint8Array(h * w);
    for (let y = 9; y < 79; y++) for (let x = 11; x < 81; x++) mask[y * w + x] = 1;
    const c: Case = { name: 'square', h, w, rgb, mask };
    const g = await runGpu(c);
    checkAgainstRef(c, g, guidedRefineRef(rgb, mask, h, w));
    // thick >= 6 in the whole band (the square is 70 wide), so soft = radius-7 output = box7(box7(mask))
    // along an edge, 1-D: first pixel in (r + 1) / (2r + 1) = 8/15 > 0.5 (kept), first one out r/(2r + 1) < 0.5
    const n = h * w;
    expect(g.soft[24 * w + 11]).toBeCloseTo(8 / 15, 4);
    expect(g.soft[24 * w + 10]).toBeCloseTo(7 / 15, 4);
    // corner pixel: (8/15)^2 < 0.5, removed; its row neighbour: 8/15 * (sum of min((j + 8) / 15, 1), j = -6..8) / 15
    expect(g.soft[9 * w + 11]).toBeCloseTo((8 / 15) ** 2, 4);
    expect(g.mask[9 * w + 11]).toBe(0);
    expect(g.mask[24 * w + 11]).toBe(1);
    expect(g.mask[24 * w + 10]).toBe(0);
    let changed = 0;
    for (let i = 0; i < n; i++) if ((g.mask[i] ? 1 : 0) !== mask[i]) changed++;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBe(4 * 33); // 33 pixels per corner: 2.7 % of 4900
    // the host step keeps it (under 3 %)
    const img: RgbImage = { width: w, height: h, data: rgb };
    const kept = await guidedRefine(rt!, img, mask);
    expect(Array.from(kept)).toEqual(Array.from(g.mask));
  });

  it('host step: a 1-pixel line is erased by the filter (> 3 % area change), so the input comes back; empty stays empty', async () => {
    const h = 20,
      w = 30;
    const img: RgbImage = { width: w, height: h, data: new Uint8Array(h * w * 3).fill(128) };
    const mask = new Uint8Array(h * w);
    for (let x = 3; x < 27; x++) mask[10 * w + x] = 1;
    const g = await runGpu({ name: 'line', h, w, rgb: img.data, mask });
    expect(g.mask.reduce((a, b) => a + b, 0)).toBe(0); // box-of-box of a line: at most 1/7 < 0.5
    expect(Array.from(await guidedRefine(rt!, img, mask))).toEqual(Array.from(mask));
    const empty = new Uint8Array(h * w);
    expect(Array.from(await guidedRefine(rt!, img, empty))).toEqual(Array.from(empty));
  });

  it("OpenCV fixture through the host step: the returned masks equal cv2's", async () => {
    const f = await openWeights(FIXTURE);
    for (const name of ['clip', 'reject', 'tiny', 'edge']) {
      const [h, w] = f.header.get(`${name}.mask`)!.shape;
      const img: RgbImage = { width: w, height: h, data: new Uint8Array(await f.readRaw(`${name}.rgb`)) };
      const mask = new Uint8Array(await f.readRaw(`${name}.mask`)).map((v) => (v ? 1 : 0));
      const got = await guidedRefine(rt!, img, mask);
      const want = new Uint8Array(await f.readRaw(`${name}.out`));
      const soft = await f.readTensor(`${name}.soft`);
      expect(
        compareMasks(name, got, want, soft, GF_TOL_CV + GF_TOL_GPU),
        `${name}: pixels decided within the tolerance of 0.5`,
      ).toBe(0);
    }
    await f.close();
  });
});
