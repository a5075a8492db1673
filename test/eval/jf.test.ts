// J and F by hand on tiny masks (6 x 8: diagonal 10, radius ceil(0.008 * 10) = 1, so the disk is
// the 5-pixel plus), then the fast CPU counts against the literal toolkit transcription
// (test/ref/jf.ts) on random masks, and the numpy-exact statistics. Exact equality everywhere:
// counts are integers and J/F use the toolkit's float64 operation order.
import { describe, expect, it } from 'vitest';
import {
  type JfCounts,
  boundPix,
  boundaryF,
  countsForIds,
  countsFromBinary,
  diskArea,
  diskHalfWidths,
  jaccard,
  precisionRecall,
  seg2bmap,
} from '../../src/eval/jf.js';
import { dbStatistics, npMean, npSum, pyFixed } from '../../src/eval/stats.js';
import { rng } from '../helpers/compare.js';
import { countsRef, diskRef, jfRef, seg2bmapRef } from '../ref/jf.js';
import { bits, labels } from './helpers.js';

const H = 6,
  W = 8;
const EMPTY = ['........', '........', '........', '........', '........', '........'];
// 2x2 block at rows 2-3, columns 3-4
const BLOCK = ['........', '........', '...##...', '...##...', '........', '........'];
// its seg2bmap: the ring one pixel up/left ("half a pixel toward the origin"), 8 pixels
const BLOCK_B = ['........', '..###...', '..#.#...', '..###...', '........', '........'];

function jf(p: string[], g: string[], r = boundPix(H, W)): { c: JfCounts; J: number; F: number } {
  const c = countsFromBinary(bits(p), bits(g), p.length, p[0].length, r);
  // the literal transcription must give the same integers
  expect(c).toEqual(countsRef(bits(p), bits(g), p.length, p[0].length, r));
  return { c, J: jaccard(c), F: boundaryF(c) };
}

describe('seg2bmap', () => {
  const bmap = (rows: string[]) => Array.from(seg2bmap(bits(rows), rows.length, rows[0].length));
  it('single pixel -> 2x2 boundary up and left of it', () => {
    const one = ['........', '........', '...#....', '........', '........', '........'];
    expect(bmap(one)).toEqual(
      Array.from(bits(['........', '..##....', '..##....', '........', '........', '........'])),
    );
  });
  it('2x2 block -> 8-pixel ring', () => expect(bmap(BLOCK)).toEqual(Array.from(bits(BLOCK_B))));
  it('full and empty masks have no boundary', () => {
    expect(bmap(EMPTY).every((v) => v === 0)).toBe(true);
    expect(bmap(EMPTY.map((r) => r.replace(/\./g, '#'))).every((v) => v === 0)).toBe(true);
  });
  it('image edges are never boundary: a mask touching right/bottom/top has its boundary only inside', () => {
    // columns 5-7 of every row: only column 4 (left of the mask) is boundary, none on the right
    // edge (last column compares south only) nor the bottom (last row compares east only)
    const right = EMPTY.map(() => '.....###');
    expect(bmap(right)).toEqual(Array.from(bits(EMPTY.map(() => '....#...'))));
    // columns 0-2: boundary is column 2 (the mask's own last column differs from its east)
    const left = EMPTY.map(() => '###.....');
    expect(bmap(left)).toEqual(Array.from(bits(EMPTY.map(() => '..#.....'))));
  });
  it('last row / last column / corner rules, and the reference agrees on 1-row and 1-column images', () => {
    const r = rng(3);
    for (const [h, w] of [
      [1, 1],
      [1, 7],
      [7, 1],
      [2, 2],
      [5, 9],
    ]) {
      for (let t = 0; t < 10; t++) {
        const m = Uint8Array.from({ length: h * w }, () => (r.uniform() < 0.5 ? 1 : 0));
        expect(Array.from(seg2bmap(m, h, w))).toEqual(Array.from(seg2bmapRef(m, h, w)));
      }
    }
    // 1 x 3 image [1, 0, 1]: x=0 differs from east -> 1; x=1 differs -> 1; x=2 is the corner -> 0
    expect(Array.from(seg2bmap(Uint8Array.from([1, 0, 1]), 1, 3))).toEqual([1, 1, 0]);
  });
});

describe('tolerance radius and disk', () => {
  it('bound_pix = ceil(0.008 * diagonal) for the worked sizes; >= 1 means pixels', () => {
    const sizes: Array<[number, number, number]> = [
      [480, 854, 8],
      [480, 640, 7],
      [544, 960, 9],
      [720, 1280, 12],
      [1080, 1920, 18],
      [1024, 1024, 12],
      [378, 582, 6],
      [256, 256, 3],
      [6, 8, 1],
    ];
    for (const [h, w, r] of sizes) expect(boundPix(h, w), `${h}x${w}`).toBe(r);
    expect(boundPix(6, 8, 3)).toBe(3);
  });
  it('disk areas: r=1 -> 5, r=2 -> 13, r=3 -> 29, and the half widths match skimage.disk for r <= 18', () => {
    expect([diskArea(1), diskArea(2), diskArea(3)]).toEqual([5, 13, 29]);
    for (let r = 0; r <= 18; r++) {
      const hw = diskHalfWidths(r);
      const fromRef = new Map<number, number>();
      for (const [dy, dx] of diskRef(r)) fromRef.set(dy, Math.max(fromRef.get(dy) ?? 0, dx));
      for (let dy = -r; dy <= r; dy++) expect(hw[dy + r]).toBe(fromRef.get(dy));
      expect(diskArea(r)).toBe(diskRef(r).length);
    }
  });
});

describe('J and F by hand (6x8, r = 1)', () => {
  it('both empty: J = 1 (empty union), F = 1 (no boundary on either side)', () => {
    const { J, F } = jf(EMPTY, EMPTY);
    expect([J, F]).toEqual([1, 1]);
  });
  it('empty prediction, non-empty GT: J = 0/4 = 0; precision 1, recall 0 -> F = 0', () => {
    const { c, J, F } = jf(EMPTY, BLOCK);
    expect(precisionRecall(c)).toEqual({ precision: 1, recall: 0 });
    expect([J, F]).toEqual([0, 0]);
  });
  it('prediction where GT is empty: J = 0; precision 0, recall 1 -> F = 0', () => {
    const { c, J, F } = jf(BLOCK, EMPTY);
    expect(precisionRecall(c)).toEqual({ precision: 0, recall: 1 });
    expect([J, F]).toEqual([0, 0]);
  });
  it('identical masks: J = 1, F = 1', () => expect([jf(BLOCK, BLOCK).J, jf(BLOCK, BLOCK).F]).toEqual([1, 1]));
  it('block shifted 1 px right: J = 2/6; every boundary pixel within 1 px -> F = 1', () => {
    const shifted = BLOCK.map((r) => '.' + r.slice(0, -1));
    const { c, J, F } = jf(shifted, BLOCK);
    expect(c).toMatchObject({ inter: 2, sumP: 4, sumG: 4, nP: 8, nG: 8, matchP: 8, matchG: 8 });
    expect([J, F]).toEqual([2 / 6, 1]);
  });
  it('block shifted 2 px right: J = 0; 5 of 8 boundary pixels matched each way -> F = 5/8', () => {
    // B_P = ring shifted by 2: its right column (x = 6, rows 1-3) is 2 px from B_G; so is B_G's left
    // column (x = 2). matchP = matchG = 8 - 3 = 5; F = 2 (5/8)(5/8) / (10/8) = 5/8.
    const shifted = BLOCK.map((r) => '..' + r.slice(0, -2));
    const { c, J, F } = jf(shifted, BLOCK);
    expect(c).toMatchObject({ inter: 0, nP: 8, nG: 8, matchP: 5, matchG: 5 });
    expect([J, F]).toEqual([0, 0.625]);
  });
  it('border: GT = columns 5-7, prediction = column 7: J = 6/18; boundaries 2 px apart -> P = R = 0 -> F = 0', () => {
    // B_G = column 4, B_P = column 6 (6 px each, nothing on the image edges); no match at r = 1
    const { c, J, F } = jf(
      EMPTY.map(() => '.......#'),
      EMPTY.map(() => '.....###'),
    );
    expect(c).toMatchObject({ inter: 6, sumP: 6, sumG: 18, nP: 6, nG: 6, matchP: 0, matchG: 0 });
    expect([J, F]).toEqual([6 / 18, 0]);
  });
  it('border with a 2 px radius (bound_th = 2 pixels): the same pair now matches -> F = 1', () => {
    expect(
      jf(
        EMPTY.map(() => '.......#'),
        EMPTY.map(() => '.....###'),
        2,
      ).F,
    ).toBe(1);
  });
  it('full-image prediction has no boundary: J = 4/48, precision 1, recall 0 -> F = 0', () => {
    const full = EMPTY.map((r) => r.replace(/\./g, '#'));
    const { c, J, F } = jf(full, BLOCK);
    expect(c.nP).toBe(0);
    expect([J, F]).toEqual([4 / 48, 0]);
    expect([jf(full, full).J, jf(full, full).F]).toEqual([1, 1]);
  });
  it('several objects in one label map', () => {
    // object 1: identical 2x2 blocks in the top-left corner -> J = 1, F = 1
    // object 2: GT rows 3-5 x columns 6-7 (6 px, touches right and bottom edges),
    //           prediction row 5 x columns 6-7 (2 px): J = 2/6.
    //   B_G = {(2,5),(2,6),(2,7),(3,5),(4,5),(5,5)}, B_P = {(4,5),(4,6),(4,7),(5,5)}
    //   matched B_P: (4,5), (5,5) on B_G and (4,6) next to (4,5); (4,7) is 2 px from (2,7) -> 3/4
    //   matched B_G: (3,5), (4,5), (5,5); row 2 is 2 px above row 4 -> 3/6
    //   F = 2 (3/4)(1/2) / (5/4) = 3/5
    // object 3: absent from both -> J = 1, F = 1
    const gt = labels(['11......', '11......', '........', '......22', '......22', '......22']);
    const pred = labels(['11......', '11......', '........', '........', '........', '......22']);
    const c = countsForIds(pred, gt, [1, 2, 3], boundPix(H, W));
    expect(c[1]).toMatchObject({ inter: 2, sumP: 2, sumG: 6, nP: 4, nG: 6, matchP: 3, matchG: 3 });
    expect(c.map(jaccard)).toEqual([1, 2 / 6, 1]);
    expect(c.map(boundaryF)).toEqual([1, 0.6, 1]);
  });
});

describe('fast CPU counts = literal toolkit transcription', () => {
  const r = rng(11);
  // blobs + noise so boundaries are long and irregular; radii 0..4 cover hw tables of all shapes
  for (const [h, w, rad] of [
    [1, 1, 1],
    [1, 9, 1],
    [9, 1, 2],
    [17, 23, 1],
    [31, 19, 3],
    [40, 40, 4],
    [12, 30, 0],
  ] as const) {
    it(`${h}x${w} r=${rad}`, () => {
      for (let t = 0; t < 6; t++) {
        const blob = (cx: number, cy: number, rr: number, p: number) =>
          Uint8Array.from({ length: h * w }, (_, i) =>
            ((i % w) - cx) ** 2 + (Math.floor(i / w) - cy) ** 2 < rr * rr !== r.uniform() < p ? 1 : 0,
          );
        const p = blob(w * r.uniform(), h * r.uniform(), Math.max(h, w) * 0.4 * r.uniform(), t % 2 ? 0.05 : 0);
        const g = blob(w * r.uniform(), h * r.uniform(), Math.max(h, w) * 0.4 * r.uniform(), t % 3 ? 0.02 : 0);
        const c = countsFromBinary(p, g, h, w, rad);
        const ref = countsRef(p, g, h, w, rad);
        expect(c).toEqual(ref);
        expect({ J: jaccard(c), F: boundaryF(c) }).toEqual(jfRef(ref));
      }
    });
  }
});

describe('numpy-exact statistics', () => {
  it('np.sum is pairwise: differs from a left-to-right sum, matches numpy 2.x', () => {
    // python3 -c "import numpy as np; a=np.array([1/(i+1) for i in range(300)]); print(repr(a.sum()))"
    const a = Array.from({ length: 300 }, (_, i) => 1 / (i + 1));
    expect(npSum(a)).toBe(6.282663880299504);
    expect(a.reduce((s, v) => s + v, 0)).not.toBe(6.282663880299504);
    expect(npMean([0.1, 0.2, 0.3])).toBe((0.1 + 0.2 + 0.3) / 3);
  });
  it('db_statistics: mean, recall (> 0.5), decay from uint8 linspace bins', () => {
    // n = 8: linspace(1, 8, 5) = [1, 2.75, 4.5, 6.25, 8] -> ids [0, 2, 4, 5, 7];
    // bins [0:3] = [1, 1, 0] and [5:8] = [0, 0, 0] -> decay = 2/3
    const s = dbStatistics([1, 1, 0, 0, 0, 0, 0, 0]);
    expect(s).toEqual({ mean: 0.25, recall: 0.25, decay: 2 / 3 });
    // n = 3: linspace(1, 3, 5) = [1, 1.5, 2, 2.5, 3] -> ids [0, 1, 1, 2, 2] (x.5 + 1e-10 rounds up);
    // bins [0:2] = [0.5, 0.6], [2:3] = [0.4] -> decay = 0.55 - 0.4 (numpy prints 0.15000000000000002)
    expect(dbStatistics([0.5, 0.6, 0.4])).toEqual({
      mean: npMean([0.5, 0.6, 0.4]),
      recall: 1 / 3,
      decay: 0.15000000000000002,
    });
  });
  it("Python '.1f' rounds exact ties to even, toFixed does not", () => {
    expect(pyFixed(0.25, 1)).toBe('0.2');
    expect(pyFixed(0.35, 1)).toBe((0.35).toFixed(1)); // 0.35 is not a tie in binary
    expect(pyFixed(62.25, 1)).toBe('62.2');
    expect(pyFixed(62.75, 1)).toBe('62.8');
    expect(pyFixed(-0.125, 2)).toBe('-0.12');
    expect(pyFixed(0.8125, 3)).toBe('0.812');
    expect(pyFixed(1, 3)).toBe('1.000');
    expect(pyFixed(NaN, 3)).toBe('nan');
  });
});
