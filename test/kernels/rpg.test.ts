import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/graph/tensor.js';
import {
  type RpgFpsVariant,
  rpgAssign,
  rpgFps,
  rpgObjectTokens,
  rpgPrototypes,
  rpgRegionSupport,
  rpgTokens,
} from '../../src/kernels/rpg.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { type KmeansLevel, rpgTokensRef } from '../ref/rpg.js';
import { readRpgStages } from '../helpers/rpg_stages.js';

const rt = await testRuntime();
// Prototypes are f32 means of <= 400 features of scale ~1 (sequential sums): ~1e-6 relative, well
// inside 1e-5. Tokens are L2-normalised prototypes (entries <= 1): same bound.
const PROTO_TOL = { atol: 1e-5, rtol: 1e-5 };
const TOKEN_TOL = { atol: 1e-5, rtol: 1e-5 };

const ints = async (t: Tensor) => Array.from((await rt!.read(t, 'raw')) as Int32Array);

interface Case {
  name: string;
  grid: [number, number];
  c: number;
  /** Per frame: foreground cells. */
  masks: number[][];
  /** Extra feature rows after the spatial ones (object pointers). */
  extraRows?: number;
  /** All features equal (cosine ties everywhere). */
  constant?: boolean;
  /** Regions R and micro clusters S (default 3 x 4). */
  R?: number;
  S?: number;
}

function blob(grid: [number, number], r: ReturnType<typeof rng>, fill: number): number[] {
  const [gh, gw] = grid;
  const cy = r.uniform() * gh;
  const cx = r.uniform() * gw;
  const ry = 1 + r.uniform() * gh * fill;
  const rx = 1 + r.uniform() * gw * fill;
  const out: number[] = [];
  for (let y = 0; y < gh; y++)
    for (let x = 0; x < gw; x++) if (((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1) out.push(y * gw + x);
  return out;
}

const R0 = rng(11);
const CASES: Case[] = [
  {
    name: '16x16 grid, 2 frames, C 16 (reduced golden size)',
    grid: [16, 16],
    c: 16,
    masks: [blob([16, 16], R0, 0.4), blob([16, 16], R0, 0.3)],
    extraRows: 8,
  },
  {
    name: '5x7 grid (hw 35), empty / 1 / 2 / 5-cell frames',
    grid: [5, 7],
    c: 8,
    masks: [[], [17], [3, 30], [0, 6, 17, 28, 34]],
  },
  { name: '1x1 grid, C 6 (not a multiple of 4)', grid: [1, 1], c: 6, masks: [[0], []] },
  {
    name: 'full 8x8 frame + symmetric 2x2 block (centroid ties), C 10',
    grid: [8, 8],
    c: 10,
    masks: [Array.from({ length: 64 }, (_, i) => i), [27, 28, 35, 36]],
  },
  {
    name: 'constant features (cosine ties: centre 0 wins, other clusters empty)',
    grid: [6, 6],
    c: 4,
    masks: [[1, 2, 3, 8, 9, 14, 20, 33]],
    constant: true,
  },
  {
    name: '20x20 grid, 3 frames, large blobs',
    grid: [20, 20],
    c: 32,
    masks: [blob([20, 20], R0, 0.6), blob([20, 20], R0, 0.5), blob([20, 20], R0, 0.2)],
  },
  {
    name: 'R 2 x S 7 (k > 4: two-vec4 assignment), 12x9 grid',
    grid: [12, 9],
    c: 8,
    masks: [blob([12, 9], R0, 0.7), [5, 6, 7]],
    R: 2,
    S: 7,
  },
];

function inputs(cs: Case, seed: number) {
  const r = rng(seed);
  const hw = cs.grid[0] * cs.grid[1];
  const F = cs.masks.length;
  const rows = F * hw + (cs.extraRows ?? 0);
  const feats = cs.constant
    ? new Float32Array(rows * cs.c).fill(0.5)
    : Float32Array.from({ length: rows * cs.c }, () => r.normal());
  // probabilities: foreground cells in [0.5, 1], background in [0, 0.5)
  const fg = new Float32Array(F * hw);
  cs.masks.forEach((m, f) => {
    for (let n = 0; n < hw; n++) fg[f * hw + n] = 0.4999 * r.uniform();
    for (const n of m) fg[f * hw + n] = 0.5 + 0.5 * r.uniform();
  });
  fg[0] = cs.masks[0]?.includes(0) ? 0.5 : fg[0]; // exactly the threshold counts as foreground
  const placeholder = Float32Array.from({ length: (cs.S ?? 4) * cs.c }, () => r.normal());
  return { feats, fg, placeholder, rows, hw, F };
}

/** Expected padded centres [k] of a level (-1 when empty). */
const padded = (lv: KmeansLevel | null, k: number) =>
  lv ? Array.from({ length: k }, (_, j) => lv.centres[j < lv.centres.length ? j : 0]) : new Array(k).fill(-1);

describe.skipIf(!rt)('rpg (FPS + one-step cosine k-means) vs CPU reference', () => {
  for (const variant of ['serial', 'workgroup'] as RpgFpsVariant[]) {
    CASES.forEach((cs, ci) => {
      it(`${cs.name} [${variant}]`, async () => {
        const { feats, fg, placeholder, rows, hw, F } = inputs(cs, 100 + ci);
        const [R, S] = [cs.R ?? 3, cs.S ?? 4];
        const ref = rpgTokensRef(feats, cs.c, fg, F, cs.grid, placeholder, R, S);
        const fT = rt!.upload(feats, [1, rows, cs.c]);
        const out = rpgObjectTokens(rt!, fT, rt!.upload(fg, [F, hw]), rt!.upload(placeholder, [1, S * cs.c]), {
          grid: cs.grid,
          regions: R,
          micro: S,
          fpsVariant: variant,
          keep: true,
        });
        const st = out.stages!;
        const {
          macroCentres: mc,
          macroCount: mcount,
          macroAssign: ma,
          macroProtos: mp,
          regionSupport: sup,
          microCentres: uc,
          microAssign: ua,
          microProtos: up,
          microCounts: ucounts,
        } = await readRpgStages(rt!, st);
        ref.frames.forEach((fr, f) => {
          const what = `frame ${f}`;
          expect(mcount[f], `${what} fg count`).toBe(cs.masks[f].length);
          expect(mc.slice(f * R, (f + 1) * R), `${what} macro centres`).toEqual(padded(fr.macro, R));
          if (fr.empty) return;
          expect(ma.slice(f * hw, (f + 1) * hw), `${what} macro assign`).toEqual(Array.from(fr.macro!.assign));
          expectClose(
            mp.slice(f * R * cs.c, (f + 1) * R * cs.c),
            fr.macro!.protos.flatMap((p) => Array.from(p)),
            PROTO_TOL,
            `${what} macro protos`,
          );
          for (let r = 0; r < R; r++) {
            const s = f * R + r;
            const want = new Array(hw).fill(0);
            for (const n of fr.supports[r]) want[n] = 1;
            expect(Array.from(sup.slice(s * hw, (s + 1) * hw)), `${what} region ${r} support`).toEqual(want);
            expect(uc.slice(s * S, (s + 1) * S), `${what} region ${r} centres`).toEqual(padded(fr.regions[r], S));
            expect(ua.slice(s * hw, (s + 1) * hw), `${what} region ${r} assign`).toEqual(
              Array.from(fr.regions[r].assign),
            );
            expect(ucounts.slice(s * S, (s + 1) * S), `${what} region ${r} counts`).toEqual(fr.regions[r].counts);
            expectClose(
              up.slice(s * S * cs.c, (s + 1) * S * cs.c),
              fr.regions[r].protos.flatMap((p) => Array.from(p)),
              PROTO_TOL,
              `${what} region ${r} protos`,
            );
          }
        });
        expect(out.tokens.shape).toEqual([1, R * F, S * cs.c]);
        expectClose(await rt!.read(out.tokens), ref.tokens, TOKEN_TOL, 'tokens');
      });
    });
  }

  it('FPS: first centre nearest the centroid, ties to the first cell; greedy farthest after (both variants agree)', async () => {
    // 4x4 grid, L-shape {0, 4, 8, 9, 10}: centroid (1.4, 0.6); squared distances 0: 2.32, 4: 0.52,
    // 8: 0.72, 9: 0.52, 10: 2.32 -> tie 4 / 9 resolves to the first cell, 4
    const hw = 16;
    const support = new Float32Array(2 * hw);
    for (const n of [0, 4, 8, 9, 10]) support[n] = 1;
    for (const n of [5, 6, 9, 10]) support[hw + n] = 1; // symmetric 2x2 block: all four tie -> 5
    for (const variant of ['serial', 'workgroup'] as RpgFpsVariant[]) {
      const r = rpgFps(rt!, rt!.upload(support, [2, hw]), [4, 4], 4, { variant });
      const c = await ints(r.centres);
      // set 0: 4; farthest from 4 is 10 (d^2 5); then 0, 8, 9 all at min-distance 1 -> 0; then 8
      // set 1: 5 (four-way centroid tie); farthest 10 (d^2 2); then 6 and 9 tie at 1 -> 6; then 9
      expect(c.slice(0, 4), variant).toEqual([4, 10, 0, 8]);
      expect(c.slice(4), variant).toEqual([5, 10, 6, 9]);
      expect(await ints(r.count)).toEqual([5, 4]);
    }
  });

  it('stage functions: empty outputs and zero frames', async () => {
    const empty = rt!.empty([0, 16], 'f32');
    const f = rpgFps(rt!, empty, [4, 4], 3);
    expect(f.centres.shape).toEqual([0, 3]);
    const feats = rt!.zeros([16, 4]);
    const a = rpgAssign(rt!, feats, empty, f.centres, f.count, 1);
    expect(a.shape).toEqual([0, 16]);
    const p = rpgPrototypes(rt!, feats, a, f.centres, 1);
    expect(p.protos.shape).toEqual([0, 3, 4]);
    const s = rpgRegionSupport(rt!, empty, rt!.empty([0, 16], 'i32'), rt!.empty([0, 3], 'i32'));
    expect(s.shape).toEqual([0, 16]);
    const t = rpgObjectTokens(rt!, feats, empty, rt!.zeros([1, 16]), { grid: [4, 4] });
    expect(t.tokens.shape).toEqual([1, 0, 16]);
    const tk = rpgTokens(rt!, rt!.empty([0, 4, 4]), rt!.empty([0], 'i32'), rt!.zeros([1, 16]), 3);
    expect(tk.shape).toEqual([1, 0, 16]);
  });

  it('rejects bad input with the shapes in the message', () => {
    const fg = rt!.zeros([2, 16]);
    expect(() => rpgFps(rt!, fg, [4, 5], 3)).toThrow(/support must be \[S, 20\].*\[2, 16\]/);
    expect(() => rpgFps(rt!, fg, [4, 4], 9)).toThrow(/k must be an integer in 1\.\.8/);
    expect(() => rpgFps(rt!, fg, [200, 1], 3)).toThrow(/grid must be two integers/);
    expect(() => rpgObjectTokens(rt!, rt!.zeros([20, 4]), fg, rt!.zeros([1, 16]), { grid: [4, 4] })).toThrow(
      /need 32 feature rows.*\[20, 4\] have 20/,
    );
    expect(() => rpgObjectTokens(rt!, rt!.zeros([32, 4]), fg, rt!.zeros([1, 12]), { grid: [4, 4] })).toThrow(
      /placeholder \[1, 12\] must have 4 x 4 = 16/,
    );
    const { centres, count } = rpgFps(rt!, fg, [4, 4], 3);
    expect(() => rpgAssign(rt!, rt!.zeros([32, 4]), fg, rt!.zeros([2, 3]), count, 1)).toThrow(
      /centres must be i32, got f32 \[2, 3\]/,
    );
    expect(() => rpgAssign(rt!, rt!.zeros([32, 4]), fg, centres, count, 3)).toThrow(/not a whole number of frames/);
    expect(() => rpgAssign(rt!, rt!.zeros([2, 32, 4]), fg, centres, count, 1)).toThrow(
      /features must be \[M, C\] or \[1, M, C\]/,
    );
  });
});
