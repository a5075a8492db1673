// Prompt simulation of RobotSeg's evaluation (src/eval/clicks.ts): hand-made masks with known
// answers, and brute-force checks. Exact: every quantity is an integer, a float64 computed as numpy
// does, or a float32 sqrt of an integer.
import { describe, expect, it } from 'vitest';
import {
  type BinMask,
  argmaxFirst,
  boxPrompt,
  centroidClick,
  edtSquared,
  maskIoU,
  ritmClick,
} from '../../src/eval/clicks.js';
import { rng } from '../helpers/compare.js';

/** Mask from rows of '#' (foreground) and '.' (background). */
function draw(...rows: string[]): BinMask {
  const height = rows.length;
  const width = rows[0].length;
  const data = new Uint8Array(width * height);
  rows.forEach((r, y) =>
    [...r].forEach((c, x) => {
      data[y * width + x] = c === '#' ? 1 : 0;
    }),
  );
  return { width, height, data };
}

function random(h: number, w: number, density: number, seed: number): BinMask {
  const r = rng(seed);
  return { width: w, height: h, data: Uint8Array.from({ length: w * h }, () => (r.uniform() < density ? 1 : 0)) };
}

/** Squared distance to the nearest 0 pixel, the ring just outside the image being 0 (brute force). */
function edtBrute(m: BinMask): number[] {
  const out: number[] = [];
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (!m.data[y * m.width + x]) {
        out.push(0);
        continue;
      }
      let best = Infinity;
      for (let yy = -1; yy <= m.height; yy++) {
        for (let xx = -1; xx <= m.width; xx++) {
          const inside = yy >= 0 && yy < m.height && xx >= 0 && xx < m.width;
          if (inside && m.data[yy * m.width + xx]) continue;
          best = Math.min(best, (yy - y) ** 2 + (xx - x) ** 2);
        }
      }
      out.push(best);
    }
  }
  return out;
}

describe('centroidClick (1C)', () => {
  it('a solid block: its centre', () => {
    expect(centroidClick(draw('.....', '.###.', '.###.', '.###.', '.....'))).toEqual({ x: 2, y: 2, label: 1 });
  });
  it('even-sized block: four pixels tie at distance sqrt(0.5); the first in row-major order wins', () => {
    expect(centroidClick(draw('....', '.##.', '.##.', '....'))).toEqual({ x: 1, y: 1, label: 1 });
  });
  it('a ring: the centroid is in the hole; four pixels tie at distance 3, the top one comes first', () => {
    expect(centroidClick(draw('#######', '#.....#', '#.....#', '#.....#', '#.....#', '#.....#', '#######'))).toEqual({
      x: 3,
      y: 0,
      label: 1,
    });
  });
  it('a C shape: the centroid is off the mask; the nearest foreground pixel', () => {
    // pixels: column 0 rows 0-4, and rows 0 and 4 columns 1-4: 13 pixels, mean row 2, mean col 20/13
    // nearest: (row 0 or 4, col 2) at sqrt(4 + (6/13)^2) vs (row 2, col 0) at 20/13 = 1.54: the latter
    const c = draw('#####', '#....', '#....', '#....', '#####');
    expect(centroidClick(c)).toEqual({ x: 0, y: 2, label: 1 });
  });
  it('ties decided on the float64 distances numpy computes (mean 1/3 is not exact)', () => {
    // pixels (0,0), (0,1), (1,0): mean (1/3, 1/3); (0,1) and (1,0) tie exactly, (0,0) is nearest
    expect(centroidClick(draw('##', '#.'))).toEqual({ x: 0, y: 0, label: 1 });
    // (0,0), (1,1): centroid (0.5, 0.5), exact tie -> (0,0)
    expect(centroidClick(draw('#.', '.#'))).toEqual({ x: 0, y: 0, label: 1 });
  });
  it('an empty mask is an error', () => {
    expect(() => centroidClick(draw('...', '...'))).toThrow(/empty/);
  });
});

describe('edtSquared: exact Euclidean distance transform with a zero border', () => {
  const cases: Array<[number, number, number]> = [
    [1, 1, 1],
    [1, 9, 1],
    [7, 1, 1],
    [5, 6, 0.9],
    [13, 17, 0.8],
    [23, 11, 0.97],
    [9, 9, 0],
  ];
  for (const [h, w, d] of cases) {
    it(`${h}x${w}, density ${d}: equals brute force`, () => {
      const m = random(h, w, d, h * 31 + w);
      expect(Array.from(edtSquared(m))).toEqual(edtBrute(m));
    });
  }
  it('all foreground: distance to the border', () => {
    const m = draw('#####', '#####', '#####');
    expect(Array.from(edtSquared(m))).toEqual([1, 1, 1, 1, 1, 1, 4, 4, 4, 1, 1, 1, 1, 1, 1]);
  });
  it('a far corner on a larger image (envelope with many parabolas)', () => {
    const m: BinMask = { width: 40, height: 30, data: new Uint8Array(1200).fill(1) };
    m.data[5 * 40 + 7] = 0;
    expect(Array.from(edtSquared(m))).toEqual(edtBrute(m));
  });
});

describe('ritmClick (3C / OI correction clicks)', () => {
  it('nothing predicted: positive click at the centre of the missed region', () => {
    const gt = draw('.......', '.#####.', '.#####.', '.#####.', '.#####.', '.#####.', '.......');
    const none: BinMask = { ...gt, data: new Uint8Array(gt.data.length) };
    expect(ritmClick(gt, none)).toEqual({ x: 3, y: 3, label: 1 });
    // a 5x3 block: distance 2 on the three middle pixels of its middle row; the first one
    const wide = draw('.......', '.#####.', '.#####.', '.#####.', '.......');
    expect(ritmClick(wide, { ...wide, data: new Uint8Array(wide.data.length) })).toEqual({ x: 2, y: 2, label: 1 });
  });
  it('a larger extra region: negative click in it', () => {
    const gt = draw('##.......', '##.......', '.........', '.........', '.........');
    const pred = draw('##.......', '##..#####', '....#####', '....#####', '.........');
    // FP block rows 1-3, columns 4-8: distance 2 at row 2, columns 5-7; the first wins
    expect(ritmClick(gt, pred)).toEqual({ x: 5, y: 2, label: 0 });
  });
  it('equal maxima: negative (positive needs FN max > FP max strictly)', () => {
    const gt = draw('.....', '.#...', '.....');
    const pred = draw('.....', '...#.', '.....');
    expect(ritmClick(gt, pred)).toEqual({ x: 3, y: 1, label: 0 });
    // one more missed pixel makes the FN side win? no: both maxima stay 1 (every pixel is next to
    // background), still negative
    expect(ritmClick(draw('.....', '.##..', '.....'), pred)).toEqual({ x: 3, y: 1, label: 0 });
    // a missed 3x3 block has max 2 > 1: positive
    expect(ritmClick(draw('###..', '###..', '###..'), draw('.....', '....#', '.....'))).toEqual({
      x: 1,
      y: 1,
      label: 1,
    });
  });
  it('the image edge is a boundary (1-pixel zero padding): a missed strip along the top', () => {
    const gt = draw('########', '........', '........');
    const none: BinMask = { ...gt, data: new Uint8Array(gt.data.length) };
    expect(ritmClick(gt, none)).toEqual({ x: 0, y: 0, label: 1 });
  });
  it('a perfect prediction: negative click at (0, 0) as the original gives', () => {
    const gt = draw('.##', '.##');
    expect(ritmClick(gt, gt)).toEqual({ x: 0, y: 0, label: 0 });
  });
  it('random masks: the same click as a literal transcription with a brute-force transform', () => {
    for (let s = 0; s < 12; s++) {
      const h = 5 + (s % 4) * 7,
        w = 4 + (s % 3) * 9;
      const gt = random(h, w, 0.5, 100 + s);
      const pred = random(h, w, 0.5, 200 + s);
      const fn: BinMask = { ...gt, data: gt.data.map((g, i) => (g && !pred.data[i] ? 1 : 0)) };
      const fp: BinMask = { ...gt, data: gt.data.map((g, i) => (!g && pred.data[i] ? 1 : 0)) };
      const dn = edtBrute(fn).map((v) => Math.fround(Math.sqrt(v)));
      const dp = edtBrute(fp).map((v) => Math.fround(Math.sqrt(v)));
      const a = argmaxFirst(dn),
        b = argmaxFirst(dp);
      const pos = dn[a] > dp[b];
      const i = pos ? a : b;
      expect(ritmClick(gt, pred), `seed ${s}`).toEqual({ x: i % w, y: Math.floor(i / w), label: pos ? 1 : 0 });
    }
  });
});

describe('boxPrompt (BB) and maskIoU', () => {
  it('right / bottom one past the last foreground pixel', () => {
    expect(boxPrompt(draw('.....', '..#..', '.....'))).toEqual([2, 1, 3, 2]);
    expect(boxPrompt(draw('#....', '.....', '....#'))).toEqual([0, 0, 5, 3]);
    expect(boxPrompt(draw('..#.', '.#..', '....'))).toEqual([1, 0, 3, 2]);
    expect(() => boxPrompt(draw('..', '..'))).toThrow(/empty/);
  });
  it('cal_maskIoU: intersection / (union + 1e-6)', () => {
    const a = draw('##..', '##..');
    const b = draw('.##.', '.##.');
    expect(maskIoU(a, b)).toBe(2 / (6 + 1e-6));
    expect(maskIoU(a, a)).toBe(4 / (4 + 1e-6));
    const e = draw('....', '....');
    expect(maskIoU(e, e)).toBe(0);
    expect(argmaxFirst([0.5, 0.7, 0.7, 0.1])).toBe(1);
  });
});
