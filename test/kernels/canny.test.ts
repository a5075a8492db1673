import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/graph/tensor.js';
import {
  canny,
  cannyBlur,
  cannyEdges,
  cannyGray,
  cannyHysteresis,
  cannyHysteresisConverge,
  cannyNms,
  cannyQueued,
  cannySobel,
  gaussianKernelKornia,
  gaussianKernelOpenCV8U,
  opencvThresholds,
  type CannyMode,
} from '../../src/kernels/canny.js';
import { resize } from '../../src/kernels/resize.js';
import { readImage } from '../../src/node/image_io.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { bilinearClampRef, cannyRef, grayOpenCVRef, hysteresisRef, korniaDirection } from '../ref/canny.js';
import { robotsegEdgeGrid, robotsegEdgeMap } from '../../src/model/sema.js';
import { sharedFile } from '../helpers/shared.js';

const rt = await testRuntime();

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'canny');
/** 8 MB: in ../shared, not in test/fixtures (a missing file fails under CI=true). */
const SHARED_EDGES = sharedFile('golden/robotseg/edges.safetensors');

interface StTensor {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** Minimal safetensors reader for the fixtures (F32, I32, U8; the engine's loader takes floats only). */
function loadSafetensors(path: string): Map<string, StTensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, StTensor>();
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const bytes = buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]);
    const copy = new Uint8Array(bytes).buffer;
    const data =
      v.dtype === 'F32'
        ? new Float32Array(copy)
        : v.dtype === 'I32'
          ? new Int32Array(copy)
          : v.dtype === 'U8'
            ? new Uint8Array(copy)
            : null;
    if (!data) throw new Error(`${path}: ${k} has dtype ${v.dtype}`);
    out.set(k, { shape: v.shape, data });
  }
  return out;
}

function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

/** RGB image -> planar [1, 3, H, W] values 0..255. */
function planes(img: { width: number; height: number; data: Uint8Array }): Float32Array {
  const hw = img.width * img.height;
  const out = new Float32Array(3 * hw);
  for (let i = 0; i < hw; i++) for (let c = 0; c < 3; c++) out[c * hw + i] = img.data[3 * i + c];
  return out;
}

interface CvCase {
  image: string;
  low: number;
  high: number;
  blur: number;
  edges: string;
  edge_pixels: number;
  gaussian_kernel_fixed8: number[] | null;
}
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8')) as { cases: CvCase[] };

function fixtureCase(c: CvCase) {
  const img = readImage(join(FIX, c.image));
  const expected = readImage(join(FIX, c.edges));
  const want = new Uint8Array(img.width * img.height);
  for (let i = 0; i < want.length; i++) want[i] = expected.data[3 * i] ? 1 : 0;
  return { img, x: planes(img), want };
}

// ------------------------------------------------------------------------------------------ no GPU

describe('canny host helpers and CPU reference', () => {
  it('OpenCV uint8 Gaussian kernels equal the ones the fixtures were checked with', () => {
    for (const c of manifest.cases.filter((k) => k.blur)) {
      expect(Array.from(gaussianKernelOpenCV8U(c.blur))).toEqual(c.gaussian_kernel_fixed8);
    }
    expect(Array.from(gaussianKernelOpenCV8U(1)).reduce((a, b) => a + b, 0)).toBe(256);
    expect(gaussianKernelOpenCV8U(1).length).toBe(7);
    expect(() => gaussianKernelOpenCV8U(0)).toThrow(/sigma/);
  });

  it('kornia Gaussian kernel 5x5 sigma 1', () => {
    const g = gaussianKernelKornia(5, 1);
    // exp(-x^2/2) normalised, float32: within 1e-7 of the float64 values
    const e = [2, 1, 0, 1, 2].map((x) => Math.exp((-x * x) / 2));
    const s = e.reduce((a, b) => a + b, 0);
    expectClose(
      g,
      e.map((v) => v / s),
      { atol: 1e-7, rtol: 0 },
      'gauss',
    );
    expect(() => gaussianKernelKornia(0, 1)).toThrow(/kernel size/);
  });

  it('OpenCV thresholds are swapped and floored', () => {
    expect(opencvThresholds(100.7, 50.2)).toEqual({ low: 50, high: 100 });
    expect(() => opencvThresholds(NaN, 1)).toThrow(/finite/);
  });

  for (const c of manifest.cases) {
    it(`reference equals cv2.Canny: ${c.edges}`, () => {
      const { img, x, want } = fixtureCase(c);
      const { low, high } = opencvThresholds(c.low, c.high);
      const r = cannyRef(
        x,
        1,
        3,
        img.height,
        img.width,
        'opencv',
        low,
        high,
        c.blur ? gaussianKernelOpenCV8U(c.blur) : null,
      );
      // integer arithmetic: exact
      expect(countDiff(r.edges, want)).toBe(0);
      expect(want.reduce((a, b) => a + b, 0)).toBe(c.edge_pixels);
    });
  }

  it('kornia direction index from atan2 matches the half-to-even rounding', () => {
    expect(korniaDirection(1, 0)).toBe(0);
    expect(korniaDirection(-1, 0)).toBe(4);
    expect(korniaDirection(-1, -1e-9)).toBe(4);
    expect(korniaDirection(1, 1)).toBe(1);
    expect(korniaDirection(0, -1)).toBe(6);
    expect(korniaDirection(1, -1)).toBe(7);
    expect(korniaDirection(0, 0)).toBe(0);
  });
});

// ------------------------------------------------------------------------------------------ GPU

function up(data: ArrayLike<number>, shape: number[], dtype: 'f32' | 'u32' = 'f32'): Tensor {
  return rt!.upload(dtype === 'u32' ? Uint32Array.from(data) : Float32Array.from(data), shape, dtype);
}
async function readU32(t: Tensor): Promise<Uint32Array> {
  return (await rt!.read(t, 'raw')) as Uint32Array;
}
function binarize(s: ArrayLike<number>, thr = 2): Uint8Array {
  return Uint8Array.from(s, (v) => (v >= thr ? 1 : 0));
}

describe.skipIf(!rt)('canny opencv mode (GPU)', () => {
  for (const c of manifest.cases) {
    it(`binary edges equal cv2.Canny: ${c.edges}`, async () => {
      const { img, x, want } = fixtureCase(c);
      const t = up(x, [1, 3, img.height, img.width]);
      const r = await canny(rt!, t, { mode: 'opencv', low: c.low, high: c.high, blur: c.blur || undefined });
      const edges = await rt!.read(r.edges);
      // every stage is integer arithmetic in f32: identical to OpenCV, 0 differing pixels
      expect(countDiff(binarize(edges, 255), want)).toBe(0);
      expect(r.passes).toBeGreaterThanOrEqual(1);
      const ref = grayOpenCVRef(x, 1, 3, img.height, img.width);
      expect(countDiff(await rt!.read(r.gray), ref)).toBe(0);
      r.dispose();
      t.dispose();
    });
  }

  it('hysteresis gives the same map for every chunk size and stack-overflow pattern', async () => {
    const c = manifest.cases.find((k) => k.low === 30)!;
    const { img, x, want } = fixtureCase(c);
    const t = up(x, [1, 3, img.height, img.width]);
    for (const chunk of [1, 7, 32, img.width, 1000]) {
      const r = await canny(rt!, t, { mode: 'opencv', low: c.low, high: c.high, chunk, batch: 2 });
      expect(countDiff(binarize(await rt!.read(r.edges), 255), want), `chunk ${chunk}`).toBe(0);
      r.dispose();
    }
  });

  it('cannyQueued (fixed passes, no readback) gives the same edges and says it converged', async () => {
    const c = manifest.cases[0];
    const { img, x, want } = fixtureCase(c);
    const r = cannyQueued(rt!, up(x, [1, 3, img.height, img.width]), {
      mode: 'opencv',
      low: c.low,
      high: c.high,
      passes: 4,
    });
    expect(countDiff(binarize(await rt!.read(r.edges), 255), want)).toBe(0);
    expect((await readU32(r.flags!))[4]).toBe(0);
    r.dispose();
  });

  // awkward shapes: 1x1, a single row / column, sizes off the workgroup, batch 2, gray input,
  // a blur kernel wider than the image (repeated reflection)
  const shapes: Array<{ b: number; c: number; h: number; w: number; blur?: number; low: number; high: number }> = [
    { b: 1, c: 3, h: 1, w: 1, low: 10, high: 20 },
    { b: 1, c: 3, h: 1, w: 37, low: 10, high: 60 },
    { b: 1, c: 3, h: 23, w: 1, low: 10, high: 60 },
    { b: 2, c: 3, h: 13, w: 17, low: 40, high: 120 },
    { b: 1, c: 1, h: 9, w: 130, low: 60, high: 200 },
    { b: 2, c: 3, h: 31, w: 29, blur: 0.8, low: 20, high: 50 },
    { b: 1, c: 3, h: 4, w: 5, blur: 3, low: 2, high: 4 },
  ];
  for (const s of shapes) {
    it(`stages equal the reference: ${JSON.stringify(s)}`, async () => {
      const r = rng(s.h * 131 + s.w);
      const x = Float32Array.from({ length: s.b * s.c * s.h * s.w }, () => Math.floor(r.uniform() * 256));
      const t = up(x, [s.b, s.c, s.h, s.w]);
      const ref = cannyRef(
        x,
        s.b,
        s.c,
        s.h,
        s.w,
        'opencv',
        s.low,
        s.high,
        s.blur ? gaussianKernelOpenCV8U(s.blur) : null,
      );
      const out = await canny(rt!, t, { mode: 'opencv', low: s.low, high: s.high, blur: s.blur });
      // integer-valued f32 everywhere: exact
      expect(countDiff(await rt!.read(out.gray), ref.gray)).toBe(0);
      expect(countDiff(await rt!.read(out.blurred), ref.blurred)).toBe(0);
      expect(countDiff(await rt!.read(out.gx), ref.sobel.gx)).toBe(0);
      expect(countDiff(await rt!.read(out.gy), ref.sobel.gy)).toBe(0);
      expect(countDiff(await rt!.read(out.magnitude), ref.sobel.mag)).toBe(0);
      expect(countDiff(await readU32(out.thresholded), ref.nms.state)).toBe(0);
      expect(countDiff(binarize(await rt!.read(out.edges), 255), ref.edges)).toBe(0);
      expect(out.edges.shape).toEqual([s.b, 1, s.h, s.w]);
      out.dispose();
    });
  }

  it('works on views at unaligned offsets', async () => {
    const [h, w] = [4, 5];
    const r = rng(9);
    const x = Float32Array.from({ length: 3 * 3 * h * w }, () => Math.floor(r.uniform() * 256));
    const v = up(x, [3, 3, h, w]).narrow0(1, 1); // byte offset 240: not 256-aligned
    const ref = cannyRef(x.subarray(3 * h * w, 6 * h * w), 1, 3, h, w, 'opencv', 10, 30, gaussianKernelOpenCV8U(0.6));
    const gray = cannyGray(rt!, v, 'opencv');
    expect(countDiff(await rt!.read(gray), ref.gray)).toBe(0);
    const blurred = cannyBlur(rt!, gray.reshape([1, 1, h, w]), gaussianKernelOpenCV8U(0.6), { roundU8: true });
    expect(countDiff(await rt!.read(blurred), ref.blurred)).toBe(0);
  });

  it('empty images give empty maps without dispatching', async () => {
    const t = rt!.zeros([1, 3, 0, 5]);
    const r = await canny(rt!, t, { mode: 'opencv' });
    expect(r.edges.shape).toEqual([1, 1, 0, 5]);
    expect(r.passes).toBe(0);
    r.dispose();
  });
});

describe.skipIf(!rt)('canny hysteresis (GPU)', () => {
  /** A weak square spiral of `turns` rings with one strong pixel at its outer end. */
  function spiral(h: number, w: number): Uint8Array {
    const s = new Uint8Array(h * w);
    let [top, left, bottom, right] = [0, 0, h - 1, w - 1];
    let first = true;
    while (top <= bottom && left <= right) {
      for (let x = left; x <= right; x++) s[top * w + x] = 1;
      for (let y = top; y <= bottom; y++) s[y * w + right] = 1;
      for (let x = right; x >= left; x--) s[bottom * w + x] = 1;
      for (let y = bottom; y >= top + 2; y--) s[y * w + left] = 1;
      if (first) {
        s[0] = 2;
        first = false;
      }
      top += 2;
      left += 2;
      bottom -= 2;
      right -= 2;
      if (top <= bottom) s[(top - 1) * w + left - 2 + 1] = 1; // bridge to the next ring
    }
    return s;
  }

  it('a long spiral (overflowing the 64-entry stack) converges to the flood fill', async () => {
    const [h, w] = [41, 57];
    const s = spiral(h, w);
    const want = hysteresisRef(s, 1, h, w);
    expect(want.reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
    const state = up(s, [1, 1, h, w], 'u32');
    const passes = await cannyHysteresisConverge(rt!, state, { chunk: 8, batch: 3 });
    expect(countDiff(binarize(await readU32(state)), want)).toBe(0);
    expect(passes).toBeGreaterThanOrEqual(1);
  });

  it('fixed passes report their changes; later passes exit early', async () => {
    const [h, w] = [41, 57];
    const s = spiral(h, w);
    const want = hysteresisRef(s, 1, h, w);
    const state = up(s, [1, 1, h, w], 'u32');
    const flags = await readU32(cannyHysteresis(rt!, state, 40, { chunk: 4 }));
    expect(flags[0]).toBe(1);
    expect(flags[1]).toBe(1);
    const idle = flags.findIndex((v, i) => i > 0 && v === 0);
    expect(idle).toBeGreaterThan(1);
    // once a pass changed nothing every later pass is skipped
    for (let j = idle; j < flags.length; j++) expect(flags[j]).toBe(0);
    expect(countDiff(binarize(await readU32(state)), want)).toBe(0);
  });

  it('a solid weak block (the 64-entry stack overflows; promoted pixels finish in later scans)', async () => {
    const [h, w] = [30, 45];
    const s = new Uint8Array(h * w).fill(1);
    s[17 * w + 20] = 2;
    s[3] = 0;
    const state = up(s, [1, 1, h, w], 'u32');
    await cannyHysteresisConverge(rt!, state, { chunk: 45 });
    expect(countDiff(binarize(await readU32(state)), hysteresisRef(s, 1, h, w))).toBe(0);
  });

  it('random weak/strong maps, batch of 2 planes', async () => {
    const [b, h, w] = [2, 50, 77];
    const r = rng(5);
    const s = Uint8Array.from({ length: b * h * w }, () => {
      const u = r.uniform();
      return u < 0.01 ? 2 : u < 0.45 ? 1 : 0;
    });
    const state = up(s, [b, 1, h, w], 'u32');
    await cannyHysteresisConverge(rt!, state);
    const edges = await rt!.read(cannyEdges(rt!, state, 1));
    expect(countDiff(Uint8Array.from(edges), hysteresisRef(s, b, h, w))).toBe(0);
  });

  it('rejects bad state maps', () => {
    expect(() => cannyHysteresis(rt!, rt!.zeros([1, 1, 4, 4]), 1)).toThrow(/u32 state map/);
    expect(() => cannyHysteresis(rt!, rt!.zeros([1, 1, 4, 4], 'u32'), 0)).toThrow(/passes/);
  });
});

describe.skipIf(!rt)('canny kornia mode vs reference (GPU)', () => {
  // f32 on both sides in the same order: the GPU may contract a*b+c into an fma and round the
  // /255 differently by an ulp, so float stages are compared at a few ulp; integer outputs exactly.
  const ULP = { atol: 1e-9, rtol: 1e-6 };
  for (const [name, scale, offset] of [
    ['divided by 255', 1.3, 0],
    ['dim (no /255, clamp matters)', 0.7, 0.5],
  ] as const) {
    it(`whole chain, ${name}, [2, 3, 11, 19]`, async () => {
      const [b, h, w] = [2, 11, 19];
      const r = rng(11);
      const x = Float32Array.from({ length: b * 3 * h * w }, () => r.normal() * scale + offset);
      const k = gaussianKernelKornia(5, 1);
      const base = cannyRef(x, b, 3, h, w, 'kornia', 0, 0, k);
      const mags = Array.from(base.nms.magNms)
        .filter((v) => v > 0)
        .sort((p, q) => p - q);
      const low = mags[Math.floor(mags.length * 0.4)];
      const high = mags[Math.floor(mags.length * 0.8)];
      const ref = cannyRef(x, b, 3, h, w, 'kornia', low, high, k, true);
      const t = up(x, [b, 3, h, w]);
      const out = await canny(rt!, t, { mode: 'kornia', low, high, clamp01: true });
      expectClose(await rt!.read(out.gray), ref.gray, ULP, 'gray');
      expectClose(await rt!.read(out.blurred), ref.blurred, ULP, 'blurred');
      expectClose(await rt!.read(out.gx), ref.sobel.gx, { atol: 1e-7 * (scale > 1 ? 0.01 : 1), rtol: 1e-5 }, 'gx');
      expectClose(await rt!.read(out.gy), ref.sobel.gy, { atol: 1e-7 * (scale > 1 ? 0.01 : 1), rtol: 1e-5 }, 'gy');
      expectClose(await rt!.read(out.magnitude), ref.sobel.mag, ULP, 'magnitude');
      expect(countDiff(await readU32(out.direction!), ref.nms.dir)).toBe(0);
      expectClose(await rt!.read(out.magnitudeNms!), ref.nms.magNms, ULP, 'magnitude_nms');
      expect(countDiff(await readU32(out.thresholded), ref.nms.state)).toBe(0);
      expect(countDiff(binarize(await rt!.read(out.edges), 1), ref.edges)).toBe(0);
      out.dispose();
    });
  }

  it('robotsegEdgeMap equals the chain with clamp', async () => {
    const [b, h, w] = [1, 16, 24];
    const r = rng(3);
    const x = Float32Array.from({ length: b * 3 * h * w }, () => r.normal() * 0.4 + 0.3);
    const ref = cannyRef(x, b, 3, h, w, 'kornia', 0.1, 0.2, gaussianKernelKornia(5, 1), true);
    const e = robotsegEdgeMap(rt!, up(x, [b, 3, h, w]));
    expect(e.shape).toEqual([b, 1, h, w]);
    expectClose(await rt!.read(e), ref.nms.magNms, { atol: 1e-9, rtol: 1e-6 }, 'edge map');
  });

  it('rejects bad inputs with the shapes in the message', async () => {
    expect(() => cannyGray(rt!, rt!.zeros([3, 4, 4]), 'opencv')).toThrow(/\[3, 4, 4\]/);
    expect(() => cannyGray(rt!, rt!.zeros([1, 1, 4, 4]), 'kornia')).toThrow(/3 channels/);
    expect(() => cannyGray(rt!, rt!.zeros([1, 3, 4, 4], 'u32'), 'opencv')).toThrow(/f32/);
    expect(() => cannyBlur(rt!, rt!.zeros([1, 1, 4, 4]), [1, 2])).toThrow(/odd/);
    const z = rt!.zeros([1, 1, 4, 4]);
    expect(() => cannyNms(rt!, z, z, rt!.zeros([1, 1, 4, 5]), 'kornia', 0.1, 0.2)).toThrow(/\[1, 1, 4, 5\]/);
    expect(() => cannyNms(rt!, z, z, z, 'kornia', 0.3, 0.2)).toThrow(/low threshold/);
    await expect(canny(rt!, rt!.zeros([1, 3, 4, 4]), { mode: 'kornia', low: 0.5, high: 0.1 })).rejects.toThrow(
      /low threshold/,
    );
    await expect(canny(rt!, rt!.zeros([1, 3, 4, 4]), { mode: 'sobel' as CannyMode })).rejects.toThrow(/unknown mode/);
  });
});

// ------------------------------------------------------------------------------------------ golden

/** Teacher-forced stages against kornia's tensors (prefix = the case's keys). */
async function goldenStages(g: (k: string) => StTensor, full: boolean): Promise<void> {
  const [, , h, w] = g('gray').shape;
  const gray = g('gray').data as Float32Array;
  // blur: separable 5-tap f32 sums in another order than torch's conv2d: <= 3e-7 relative seen
  const blurred = cannyBlur(rt!, up(gray, [1, 1, h, w]), gaussianKernelKornia(5, 1));
  const gB = g('blurred').data as Float32Array;
  expectClose(await rt!.read(blurred), gB, { atol: 1e-10, rtol: 1e-6 }, 'blurred');
  // Sobel of the golden blur: a few ulp of the largest term
  const s = cannySobel(rt!, up(gB, [1, 1, h, w]), 'kornia');
  const gxMax = Math.max(...Array.from(g('gx').data as Float32Array, Math.abs));
  expectClose(await rt!.read(s.gx), g('gx').data, { atol: 4e-7 * gxMax, rtol: 0 }, 'gx');
  expectClose(await rt!.read(s.gy), g('gy').data, { atol: 4e-7 * gxMax, rtol: 0 }, 'gy');
  // magnitude from our gradients of the golden blur: their ulps, then sqrt
  if (full)
    expectClose(
      await rt!.read(s.magnitude),
      g('magnitude_pre_nms').data,
      { atol: 4e-7 * gxMax, rtol: 1e-6 },
      'magnitude',
    );
  // NMS from the golden gradients: magnitude computed as torch does (bit-equal, checked below when stored)
  const gx = g('gx').data as Float32Array;
  const gy = g('gy').data as Float32Array;
  const f = Math.fround;
  const mag = Float32Array.from(gx, (v, i) => f(Math.sqrt(f(f(f(v * v) + f(gy[i] * gy[i])) + f(1e-6)))));
  if (full) expect(countDiff(mag, g('magnitude_pre_nms').data)).toBe(0);
  const nms = cannyNms(rt!, up(gx, [1, 1, h, w]), up(gy, [1, 1, h, w]), up(mag, [1, 1, h, w]), 'kornia', 0.1, 0.2);
  // the direction test is exact on kornia's own gradients (comparisons with tan 22.5deg vs f32 atan2)
  expect(countDiff(await readU32(nms.direction!), g('angle_45_index').data)).toBe(0);
  const magNms = await rt!.read(nms.magnitudeNms!);
  expect(
    countDiff(
      Uint8Array.from(magNms, (v) => (v > 0 ? 1 : 0)),
      g('nms_is_max').data,
    ),
  ).toBe(0);
  expect(countDiff(magNms, g('magnitude_nms').data)).toBe(0);
  const gN = g('magnitude_nms').data as Float32Array;
  const levels = Uint8Array.from(gN, (v) => (v > f(0.1) ? 1 : 0) + (v > f(0.2) ? 1 : 0));
  expect(countDiff(await readU32(nms.state), levels)).toBe(0);
  if (full) {
    // hysteresis from kornia's own thresholded levels: exact
    expect(countDiff(levels, g('thresholded_level').data)).toBe(0);
    const state = up(levels, [1, 1, h, w], 'u32');
    await cannyHysteresisConverge(rt!, state);
    expect(countDiff(binarize(await readU32(state)), g('hysteresis_edges').data)).toBe(0);
  }
  // grid: bilinear (align_corners False, no antialias) + clamp of the clamped NMS magnitude
  const [, , gh, gw] = g('edge_map_token_grid').shape;
  const clamped = Float32Array.from(gN, (v) => Math.min(1, v));
  const grid = bilinearClampRef(clamped, 1, h, w, gh, gw);
  // each cell is the mean of 4 pixels; float64 vs torch's float32 lerps
  expectClose(grid, g('edge_map_token_grid').data, { atol: 1e-8, rtol: 1e-6 }, 'grid (reference)');
  // the same step on the GPU with the resize family (ATen's float weights): a few ulp
  const gpuGrid = resize(rt!, up(clamped, [1, 1, h, w]), [gh, gw], { mode: 'bilinear', antialias: false });
  expectClose(await rt!.read(gpuGrid), g('edge_map_token_grid').data, { atol: 1e-9, rtol: 1e-6 }, 'grid');
}

describe.skipIf(!rt)('canny kornia mode vs RobotSeg golden (fixture, golden_image case)', () => {
  const st = loadSafetensors(join(FIX, 'robotseg_edges_golden_image.safetensors'));
  const g = (k: string) =>
    st.get(k) ??
    (() => {
      throw new Error(`fixture has no ${k}`);
    })();

  it('_safe_to_gray of the model input (rows 0..63; the crop keeps max > 1.5)', async () => {
    const x = g('input_normalized_rows0_64');
    expect(g('input_max_gt_1p5').data[0]).toBe(1);
    const [, , h, w] = x.shape;
    const gray = await rt!.read(cannyGray(rt!, up(x.data, x.shape), 'kornia'));
    // x/255 and the luminance in f32; the GPU may fuse a multiply-add: 1 ulp
    expectClose(gray, (g('gray').data as Float32Array).subarray(0, h * w), { atol: 1e-12, rtol: 2.5e-7 }, 'gray');
  });

  it('blur, Sobel, direction, NMS, thresholds, grid (teacher-forced)', async () => {
    await goldenStages(g, false);
  });

  it('chained from the golden gray: NMS agrees except where torch and we round a tie differently', async () => {
    const gray = g('gray');
    const [, , h, w] = gray.shape;
    const blurred = cannyBlur(rt!, up(gray.data, gray.shape), gaussianKernelKornia(5, 1));
    const s = cannySobel(rt!, blurred, 'kornia');
    const nms = cannyNms(rt!, s.gx, s.gy, s.magnitude, 'kornia', 0.1, 0.2);
    const m = await rt!.read(nms.magnitudeNms!);
    const want = g('magnitude_nms').data as Float32Array;
    // ulp-level blur differences may flip a local maximum between near-equal neighbours: <= 2 of 65536 pixels
    expect(
      countDiff(
        Uint8Array.from(m, (v) => (v > 0 ? 1 : 0)),
        g('nms_is_max').data,
      ),
    ).toBeLessThanOrEqual(2);
    let worst = 0;
    for (let i = 0; i < h * w; i++)
      if (m[i] > 0 && want[i] > 0) worst = Math.max(worst, Math.abs(m[i] - want[i]) / want[i]);
    // relative error of the kept magnitudes: accumulated ulps of blur and Sobel
    expect(worst).toBeLessThan(2e-5);
  });
});

describe.skipIf(!rt || !SHARED_EDGES)('canny kornia mode vs RobotSeg golden (shared, all cases)', () => {
  const st = SHARED_EDGES ? loadSafetensors(SHARED_EDGES) : new Map<string, StTensor>();
  for (const name of ['golden_image', 'panda', 'dim']) {
    const g = (k: string) => st.get(`edges/${name}/${k}`)!;
    it(`${name}: teacher-forced stages`, async () => {
      await goldenStages(g, true);
    });
    it(`${name}: whole chain from the model input`, async () => {
      const x = g('input_normalized');
      const [, , h, w] = x.shape;
      const out = await canny(rt!, up(x.data, x.shape), { mode: 'kornia', low: 0.1, high: 0.2 });
      expectClose(await rt!.read(out.gray), g('gray').data, { atol: 1e-12, rtol: 2.5e-7 }, 'gray');
      expectClose(await rt!.read(out.blurred), g('blurred').data, { atol: 1e-10, rtol: 1e-6 }, 'blurred');
      const scale = Math.max(...Array.from(g('gx').data as Float32Array, Math.abs));
      expectClose(await rt!.read(out.gx), g('gx').data, { atol: 1e-6 * scale, rtol: 0 }, 'gx');
      expectClose(await rt!.read(out.gy), g('gy').data, { atol: 1e-6 * scale, rtol: 0 }, 'gy');
      expectClose(
        await rt!.read(out.magnitude),
        g('magnitude_pre_nms').data,
        { atol: 1e-6 * scale, rtol: 1e-5 },
        'magnitude',
      );
      // near-zero gradients (flat areas, |g| ~ 1e-10) may land in another octant; they never survive NMS
      const dir = await readU32(out.direction!);
      expect(countDiff(dir, g('angle_45_index').data)).toBeLessThanOrEqual(20);
      const m = await rt!.read(out.magnitudeNms!);
      expect(
        countDiff(
          Uint8Array.from(m, (v) => (v > 0 ? 1 : 0)),
          g('nms_is_max').data,
        ),
      ).toBeLessThanOrEqual(2);
      expect(countDiff(await readU32(out.thresholded), g('thresholded_level').data)).toBeLessThanOrEqual(2);
      expect(countDiff(binarize(await rt!.read(out.edges), 1), g('hysteresis_edges').data)).toBeLessThanOrEqual(2);
      // the fork's map: clamp(magnitude_nms, 0, 1)
      const e = await rt!.read(robotsegEdgeMap(rt!, up(x.data, x.shape)));
      const fork = st.get(`edges/${name}/edge_map_fork`)?.data ?? g('magnitude_nms').data;
      // same allowance as NMS (<= 2 flipped maxima); kept values within the gradients' tolerance
      let flipped = 0;
      let worst = 0;
      for (let i = 0; i < h * w; i++) {
        if (e[i] > 0 !== fork[i] > 0) flipped++;
        else worst = Math.max(worst, Math.abs(e[i] - fork[i]));
      }
      expect(flipped).toBeLessThanOrEqual(2);
      expect(worst).toBeLessThanOrEqual(1e-6 * scale);
      // SEMA's token-grid map, end to end on the GPU (flipped maxima rarely fall on the sampled pixels)
      const [, , gh, gw] = g('edge_map_token_grid').shape;
      const grid = await rt!.read(robotsegEdgeGrid(rt!, up(x.data, x.shape), [gh, gw]));
      expectClose(grid, g('edge_map_token_grid').data, { atol: 1e-6 * scale, rtol: 1e-5 }, 'grid');
      out.dispose();
    });
  }
});
