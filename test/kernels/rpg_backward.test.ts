// Backward of the RPG object tokens (shaders/rpg.wgsl TOKENS_BWD / PROTO_BWD / PLACEHOLDER_BWD via the
// tape node of rpgObjectTokens): the CPU reference is checked by float64 central differences with the
// discrete choices (FPS picks, assignments, counts) held fixed, then the GPU gradients are compared
// with that reference on small grids covering every path of the backward.
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { concat } from '../../src/kernels/layout.js';
import {
  rpgObjectTokens,
  rpgPlaceholderBackward,
  rpgPrototypesBackward,
  rpgTokensBackward,
} from '../../src/kernels/rpg.js';
import type { RobotSegSpec } from '../../src/model/robotseg_config.js';
import { RobotPromptGenerator } from '../../src/model/rpg.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { type RpgFrameRef, rpgTokensBackwardRef, rpgTokensFixedRef, rpgTokensRef } from '../ref/rpg.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();

// Central differences of L = <w, tokens(x)> in float64 with step H: truncation ~H^2 |L'''| ~ 1e-12
// (prototype norms ~0.5..2) and rounding ~1e-16 |L| / H ~ 1e-9, so 1e-7 absolute + 1e-6 relative is
// ~100x above both.
const FD_H = 1e-6;
const FD_TOL = { atol: 1e-7, rtol: 1e-6 };
// Prototypes of norm < eps = 1e-12 (zero or tiny features): the token is p / eps there (linear, the
// norm passes no gradient), so a step H0 that keeps |p| < eps gives an exact central difference up to
// rounding: |L| <= ~1 at the base point -> ~1e-16 / H0 = 0.1 absolute, against gradients ~1e12.
const FD_H0 = 1e-15;
const FD0_TOL = { atol: 1, rtol: 1e-9 };
// GPU (f32) vs the float64 reference at the same assignments. Prototypes are f32 means of <= 256
// cells (sequential sums: relative error up to ~m * 6e-8 when the mean is small against the summed
// values), the gradient is (dy - y <dy, y>) / |p| summed over <= 3 regions: 1e-4 relative with a 2e-6
// floor for entries that cancel (measured on lavapipe: max abs 2.4e-7 on entries of size ~1, max
// relative 2.9e-7 on the ~1e12 entries of sub-eps prototypes). Tokens: as in rpg.test.ts.
const GRAD_TOL = { atol: 2e-6, rtol: 1e-4 };
const TOKEN_TOL = { atol: 1e-5, rtol: 1e-5 };

interface Case {
  name: string;
  grid: [number, number];
  c: number;
  /** Per frame: foreground cells. */
  masks: number[][];
  /** Extra feature rows after the spatial ones (object pointers). */
  extraRows?: number;
  /** Frames whose features are all zero (every prototype of the frame has norm 0). */
  zeroFrames?: number[];
  /** Frames whose features are scaled by 1e-14 (prototype norms in (0, eps)). */
  tinyFrames?: number[];
  R?: number;
  S?: number;
  /** Paths of the backward the case must contain (checked on the reference, so a case cannot silently lose one). */
  covers: Path[];
}

type Path =
  | 'placeholder'
  | 'whole-fg region'
  | 'empty micro cluster'
  | 'mean of >= 2 cells'
  | 'cell in several regions'
  | 'pointer rows'
  | 'zero-norm prototype'
  | 'sub-eps prototype';

function blob(grid: [number, number], r: ReturnType<typeof rng>, fill: number): number[] {
  const [gh, gw] = grid;
  const cy = gh * (0.3 + 0.4 * r.uniform());
  const cx = gw * (0.3 + 0.4 * r.uniform());
  const ry = 1 + gh * fill * (0.5 + 0.5 * r.uniform());
  const rx = 1 + gw * fill * (0.5 + 0.5 * r.uniform());
  const out: number[] = [];
  for (let y = 0; y < gh; y++)
    for (let x = 0; x < gw; x++) if (((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1) out.push(y * gw + x);
  return out;
}

function inputs(cs: Case, seed: number) {
  const r = rng(seed);
  const hw = cs.grid[0] * cs.grid[1];
  const F = cs.masks.length;
  const S = cs.S ?? 4;
  const rows = F * hw + (cs.extraRows ?? 0);
  const feats = Float32Array.from({ length: rows * cs.c }, () => r.normal());
  for (const f of cs.zeroFrames ?? []) feats.fill(0, f * hw * cs.c, (f + 1) * hw * cs.c);
  for (const f of cs.tinyFrames ?? []) for (let i = f * hw * cs.c; i < (f + 1) * hw * cs.c; i++) feats[i] *= 1e-14;
  const fg = new Float32Array(F * hw);
  cs.masks.forEach((m, f) => {
    for (let n = 0; n < hw; n++) fg[f * hw + n] = 0.4999 * r.uniform();
    for (const n of m) fg[f * hw + n] = 0.5 + 0.5 * r.uniform();
  });
  const placeholder = Float32Array.from({ length: S * cs.c }, () => r.normal());
  const dtokens = Float64Array.from({ length: F * (cs.R ?? 3) * S * cs.c }, () => r.normal());
  return { feats, fg, placeholder, dtokens, rows, hw, F };
}

/** The backward paths present in a reference run. */
function pathsOf(frames: RpgFrameRef[], hw: number, extraRows: number): Set<Path> {
  const out = new Set<Path>();
  if (extraRows > 0) out.add('pointer rows');
  for (const fr of frames) {
    if (fr.empty) {
      out.add('placeholder');
      continue;
    }
    if (fr.macro!.counts.some((n) => n === 0)) out.add('whole-fg region');
    const inRegions = new Array(hw).fill(0);
    fr.supports.forEach((s) => s.forEach((n) => inRegions[n]++));
    if (inRegions.some((n) => n > 1)) out.add('cell in several regions');
    for (const lv of fr.regions) {
      if (lv.counts.some((n) => n === 0)) out.add('empty micro cluster');
      if (lv.counts.some((n) => n >= 2)) out.add('mean of >= 2 cells');
      if (lv.protos.some((p) => Math.hypot(...p) === 0)) out.add('zero-norm prototype');
      if (lv.protos.some((p) => Math.hypot(...p) > 0 && Math.hypot(...p) < 1e-12)) out.add('sub-eps prototype');
    }
  }
  return out;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe('rpg backward reference vs float64 central differences (assignments held fixed)', () => {
  const cs: Case = {
    name: '5x5 grid, C 3: 16-cell frame, empty frame, 1-cell frame, 2-cell frame, 2 pointer rows',
    grid: [5, 5],
    c: 3,
    masks: [[1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 18, 22, 23], [], [12], [4, 20]],
    extraRows: 2,
    covers: [
      'placeholder',
      'whole-fg region',
      'empty micro cluster',
      'mean of >= 2 cells',
      'cell in several regions',
      'pointer rows',
    ],
  };

  it(`${cs.name}: every feature and placeholder entry (step ${FD_H})`, () => {
    const { feats, fg, placeholder, dtokens, rows, hw, F } = inputs(cs, 7);
    const x = Float64Array.from(feats);
    const ph = Float64Array.from(placeholder);
    const ref = rpgTokensRef(x, cs.c, fg, F, cs.grid, ph);
    for (const p of cs.covers) expect(pathsOf(ref.frames, hw, cs.extraRows!), p).toContain(p);
    // the fixed-choice function is the forward at the base point
    expectClose(
      rpgTokensFixedRef(x, cs.c, ref.frames, hw, ph),
      ref.tokens,
      { atol: 1e-15, rtol: 0 },
      'fixed-choice tokens',
    );
    const g = rpgTokensBackwardRef(cs.c, rows, ref.frames, hw, dtokens);
    const loss = (xs: Float64Array, phs: Float64Array) =>
      dot(dtokens, rpgTokensFixedRef(xs, cs.c, ref.frames, hw, phs));
    const fd = (v: Float64Array, i: number, h: number, other: (w: Float64Array) => number) => {
      const p = v.slice();
      p[i] += h;
      const m = v.slice();
      m[i] -= h;
      return (other(p) - other(m)) / (2 * h);
    };
    const dx = Float64Array.from(x, (_, i) => fd(x, i, FD_H, (w) => loss(w, ph)));
    const dph = Float64Array.from(ph, (_, i) => fd(ph, i, FD_H, (w) => loss(x, w)));
    expectClose(g.dfeats, dx, FD_TOL, 'd feats');
    expectClose(g.dplaceholder, dph, FD_TOL, 'd placeholder');
    // non-trivial: every spatial row of a non-empty frame gets a gradient, pointer rows and the empty frame none
    const rowNorm = (r: number) => Math.hypot(...g.dfeats.subarray(r * cs.c, (r + 1) * cs.c));
    for (let f = 0; f < F; f++)
      for (const n of cs.masks[f]) expect(rowNorm(f * hw + n), `frame ${f} cell ${n}`).toBeGreaterThan(0);
    for (let r = F * hw; r < rows; r++) expect(rowNorm(r), `pointer row ${r}`).toBe(0);
    expect(Math.hypot(...g.dfeats.subarray(hw * cs.c, 2 * hw * cs.c)), 'empty frame').toBe(0);
  });

  it(`zero and 1e-14-scaled features (prototype norms 0 and < eps): d = dy / eps, step ${FD_H0}`, () => {
    const z: Case = {
      name: 'zero',
      grid: [3, 4],
      c: 2,
      masks: [
        [0, 1, 5, 6, 7, 10],
        [2, 3, 4, 6, 8, 9, 11],
      ],
      zeroFrames: [0],
      tinyFrames: [1],
      covers: ['zero-norm prototype', 'sub-eps prototype', 'empty micro cluster', 'mean of >= 2 cells'],
    };
    const { feats, fg, placeholder, dtokens, rows, hw, F } = inputs(z, 8);
    const x = Float64Array.from(feats);
    const ph = Float64Array.from(placeholder);
    const ref = rpgTokensRef(x, z.c, fg, F, z.grid, ph);
    for (const p of z.covers) expect(pathsOf(ref.frames, hw, 0), p).toContain(p);
    const g = rpgTokensBackwardRef(z.c, rows, ref.frames, hw, dtokens);
    const loss = (xs: Float64Array) => dot(dtokens, rpgTokensFixedRef(xs, z.c, ref.frames, hw, ph));
    const dx = Float64Array.from(x, (_, i) => {
      const p = x.slice();
      p[i] += FD_H0;
      const m = x.slice();
      m[i] -= FD_H0;
      return (loss(p) - loss(m)) / (2 * FD_H0);
    });
    expectClose(g.dfeats, dx, FD0_TOL, 'd feats at zero prototypes');
    z.masks.forEach((m, f) =>
      m.forEach((n) =>
        expect(
          Math.hypot(...g.dfeats.subarray((f * hw + n) * z.c, (f * hw + n + 1) * z.c)),
          `frame ${f} cell ${n}`,
        ).toBeGreaterThan(1e10),
      ),
    );
  });
});

const R0 = rng(21);
const CASES: Array<Case & { keep?: boolean; scoped?: boolean; rank2?: boolean }> = [
  {
    name: '8x8, 3 frames (blob, empty, 2 cells), C 16, 5 pointer rows',
    grid: [8, 8],
    c: 16,
    masks: [blob([8, 8], R0, 0.35), [], [9, 30]],
    extraRows: 5,
    covers: [
      'placeholder',
      'whole-fg region',
      'empty micro cluster',
      'mean of >= 2 cells',
      'cell in several regions',
      'pointer rows',
    ],
  },
  {
    name: '16x16 (reduced golden size), 2 frames, C 16, 8 pointer rows, stages kept and disposed before backward',
    grid: [16, 16],
    c: 16,
    masks: [blob([16, 16], R0, 0.4), blob([16, 16], R0, 0.15)],
    extraRows: 8,
    keep: true,
    covers: ['mean of >= 2 cells', 'pointer rows'],
  },
  {
    name: '16x16, 3 frames (1 cell, big blob, empty), C 16, inside rt.scope',
    grid: [16, 16],
    c: 16,
    masks: [[100], blob([16, 16], R0, 0.5), []],
    extraRows: 4,
    scoped: true,
    covers: [
      'placeholder',
      'whole-fg region',
      'empty micro cluster',
      'mean of >= 2 cells',
      'cell in several regions',
      'pointer rows',
    ],
  },
  {
    name: '8x8, C 6 (channels not a multiple of 4), zero-feature frame + 3-cell frame + 1e-14-scaled frame, features [M, C]',
    grid: [8, 8],
    c: 6,
    masks: [[3, 4, 11, 12, 19, 20, 27], [0, 9, 63], blob([8, 8], R0, 0.4)],
    zeroFrames: [0],
    tinyFrames: [2],
    rank2: true,
    covers: [
      'zero-norm prototype',
      'sub-eps prototype',
      'empty micro cluster',
      'mean of >= 2 cells',
      'cell in several regions',
    ],
  },
  {
    name: 'R 2 x S 7, 7x9, C 8, one frame, kept inside rt.scope',
    grid: [7, 9],
    c: 8,
    masks: [blob([7, 9], R0, 0.6)],
    R: 2,
    S: 7,
    keep: true,
    scoped: true,
    covers: ['mean of >= 2 cells'],
  },
];

describe.skipIf(!rt)('rpg backward on the GPU (tape) vs the float64 reference', () => {
  CASES.forEach((cs, ci) => {
    it(cs.name, async () => {
      const { feats, fg, placeholder, dtokens, rows, hw, F } = inputs(cs, 300 + ci);
      const [R, S] = [cs.R ?? 3, cs.S ?? 4];
      const ref = rpgTokensRef(feats, cs.c, fg, F, cs.grid, placeholder, R, S);
      for (const p of cs.covers) expect(pathsOf(ref.frames, hw, cs.extraRows ?? 0), p).toContain(p);
      const want = rpgTokensBackwardRef(cs.c, rows, ref.frames, hw, dtokens, R, S);

      const x = rt!.upload(feats, cs.rank2 ? [rows, cs.c] : [1, rows, cs.c]);
      const ph = rt!.upload(placeholder, [1, S * cs.c]);
      const fgT = rt!.upload(fg, [F, hw]);
      x.requiresGrad = true;
      ph.requiresGrad = true;
      const base = rt!.pool.liveBytes;
      const tape = new Tape(rt!, TAPE_OPS);
      rt!.tape = tape;
      let out: ReturnType<typeof rpgObjectTokens>;
      try {
        const run = () => rpgObjectTokens(rt!, x, fgT, ph, { grid: cs.grid, regions: R, micro: S, keep: cs.keep });
        // scoped + keep: the scope drops the stages (the tape keeps what it saved)
        out = cs.scoped ? rt!.scope(() => ({ tokens: run().tokens, stages: null })) : run();
      } finally {
        rt!.tape = null;
      }
      expect(out.tokens.gradFn?.op).toBe('rpg_object_tokens');
      expectClose(await rt!.read(out.tokens), ref.tokens, TOKEN_TOL, 'tokens');
      if (out.stages) {
        // the GPU made the reference's discrete choices (else the gradients below differ for that reason)
        const ua = Array.from((await rt!.read(out.stages.microAssign, 'raw')) as Int32Array);
        ref.frames.forEach((fr, f) =>
          fr.regions.forEach((lv, r) =>
            expect(ua.slice((f * R + r) * hw, (f * R + r + 1) * hw), `frame ${f} region ${r} assign`).toEqual(
              Array.from(lv.assign),
            ),
          ),
        );
        for (const t of Object.values(out.stages)) t.dispose(); // the tape still holds its own references
      }
      const seed = rt!.upload(Float32Array.from(dtokens), out.tokens.shape);
      tape.backward(out.tokens, seed);
      expect(x.grad!.shape).toEqual(x.shape);
      expect(ph.grad!.shape).toEqual(ph.shape);
      expectClose(await rt!.read(x.grad!), want.dfeats, GRAD_TOL, 'd feats');
      expectClose(await rt!.read(ph.grad!), want.dplaceholder, GRAD_TOL, 'd placeholder');
      tape.dispose();
      for (const t of [out.tokens, seed, x.grad!, ph.grad!]) t.dispose();
      x.grad = null;
      ph.grad = null;
      expect(rt!.pool.liveBytes, 'pool bytes after tape.dispose (leak or double release)').toBe(base);
    });
  });

  it('only the inputs that need a gradient get one; no tape or no grad-requiring input records nothing', async () => {
    const cs = CASES[0];
    const { feats, fg, placeholder, dtokens, rows, hw, F } = inputs(cs, 400);
    const ref = rpgTokensRef(feats, cs.c, fg, F, cs.grid, placeholder);
    const want = rpgTokensBackwardRef(cs.c, rows, ref.frames, hw, dtokens);
    const fgT = rt!.upload(fg, [F, hw]);
    const opts = { grid: cs.grid };
    for (const which of ['feats', 'placeholder'] as const) {
      const x = rt!.upload(feats, [1, rows, cs.c]);
      const ph = rt!.upload(placeholder, [1, 64]);
      (which === 'feats' ? x : ph).requiresGrad = true;
      const tape = new Tape(rt!, TAPE_OPS);
      rt!.tape = tape;
      const { tokens } = rpgObjectTokens(rt!, x, fgT, ph, opts);
      rt!.tape = null;
      tape.backward(tokens, rt!.upload(Float32Array.from(dtokens), tokens.shape));
      if (which === 'feats') {
        expect(ph.grad).toBeNull();
        expectClose(await rt!.read(x.grad!), want.dfeats, GRAD_TOL, 'd feats alone');
      } else {
        expect(x.grad).toBeNull();
        expectClose(await rt!.read(ph.grad!), want.dplaceholder, GRAD_TOL, 'd placeholder alone');
      }
      tape.dispose();
    }
    const x = rt!.upload(feats, [1, rows, cs.c]);
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    const t1 = rpgObjectTokens(rt!, x, fgT, rt!.upload(placeholder, [1, 64]), opts).tokens; // nothing needs a gradient
    rt!.tape = null;
    expect(tape.nodes.length).toBe(0);
    expect(t1.gradFn).toBeNull();
    tape.dispose();
  });

  it('RobotPromptGenerator: gradient reaches the memory through concat (pointer rows 0) and the placeholder weight', async () => {
    const grid: [number, number] = [8, 8];
    const c = 16;
    const spec = {
      memDim: c,
      grid,
      rpg: { embedDim: 4 * c, regions: 3, micro: 4, maskThresh: 0.5 },
    } as unknown as RobotSegSpec;
    const rpg = new RobotPromptGenerator(spec);
    const cs: Case = { name: 'model', grid, c, masks: [blob(grid, R0, 0.4), []], extraRows: 6, covers: [] };
    const { feats, fg, placeholder, dtokens, rows, hw, F } = inputs(cs, 500);
    const w = rt!.upload(placeholder, [1, 4 * c]);
    w.requiresGrad = true;
    rpg.no_memory_prompt_embeddings_fg.weight.tensor = w;
    const spatial = rt!.upload(feats.subarray(0, F * hw * c), [1, F * hw, c]);
    const ptr = rt!.upload(feats.subarray(F * hw * c), [1, rows - F * hw, c]);
    spatial.requiresGrad = true;
    ptr.requiresGrad = true;
    const ref = rpgTokensRef(feats, c, fg, F, grid, placeholder);
    const want = rpgTokensBackwardRef(c, rows, ref.frames, hw, dtokens);
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    const memory = concat(rt!, [spatial, ptr], 1); // [1, M, memDim] like the tracker's assembled memory
    const { tokens } = rpg.forward(rt!, memory, rt!.upload(fg, [F, hw]));
    const none = rpg.forward(rt!, null, null).tokens; // no memory: R placeholder copies
    rt!.tape = null;
    tape.backward(tokens, rt!.upload(Float32Array.from(dtokens), tokens.shape));
    expectClose(await rt!.read(spatial.grad!), want.dfeats.subarray(0, F * hw * c), GRAD_TOL, 'd spatial memory');
    expect(
      Array.from(await rt!.read(ptr.grad!)).every((v) => v === 0),
      'pointer rows get no gradient',
    ).toBe(true);
    expectClose(await rt!.read(w.grad!), want.dplaceholder, GRAD_TOL, 'd no_memory_prompt_embeddings_fg');
    // the no-memory tokens: the placeholder gradient is the sum of the 3 copies' gradients
    w.grad = null;
    const dn = Float32Array.from({ length: 3 * 4 * c }, (_, i) => Math.sin(i));
    tape.backward(none, rt!.upload(dn, none.shape));
    const sum = Array.from({ length: 4 * c }, (_, i) => dn[i] + dn[4 * c + i] + dn[8 * c + i]);
    expectClose(await rt!.read(w.grad!), sum, { atol: 1e-6, rtol: 1e-6 }, 'd placeholder (no memory)');
    tape.dispose();
  });

  it('backward wrappers: zero-size inputs and bad shapes', async () => {
    const i32 = (s: number[]) => rt!.empty(s, 'i32');
    const z = await rt!.read(
      rpgPrototypesBackward(rt!, [1, 5, 4], i32([0, 4]), i32([0, 3]), i32([0, 3]), rt!.empty([0, 3, 4]), 3),
    );
    expect(Array.from(z)).toEqual(new Array(20).fill(0));
    expect(Array.from(await rt!.read(rpgPlaceholderBackward(rt!, i32([0]), rt!.empty([1, 0, 8]), 3, [1, 8])))).toEqual(
      new Array(8).fill(0),
    );
    expect(rpgTokensBackward(rt!, rt!.empty([0, 4, 2]), i32([0]), rt!.empty([1, 0, 8]), 3).shape).toEqual([0, 4, 2]);
    expect(() => rpgTokensBackward(rt!, rt!.zeros([6, 4, 2]), i32([2]), rt!.zeros([1, 6, 7]), 3)).toThrow(
      /token gradient \[1, 6, 7\] must have 6 x 8 = 48/,
    );
    expect(() => rpgTokensBackward(rt!, rt!.zeros([6, 4, 2]), i32([3]), rt!.zeros([1, 6, 8]), 3)).toThrow(
      /must hold 3 frames x 3 regions/,
    );
    expect(() =>
      rpgPrototypesBackward(rt!, [1, 7, 4], i32([6, 4]), i32([6, 3]), i32([6, 3]), rt!.zeros([6, 3, 4]), 3),
    ).toThrow(/need 8 feature rows, features \[1, 7, 4\] have 7/);
    expect(() =>
      rpgPrototypesBackward(rt!, [2, 8, 4], i32([6, 4]), i32([6, 3]), i32([6, 3]), rt!.zeros([6, 3, 4]), 3),
    ).toThrow(/features must be \[M, C\] or \[1, M, C\]/);
    expect(() =>
      rpgPrototypesBackward(rt!, [8, 4], i32([6, 4]), i32([6, 3]), i32([6, 2]), rt!.zeros([6, 3, 4]), 3),
    ).toThrow(/counts \[6, 2\]/);
    expect(() => rpgPlaceholderBackward(rt!, i32([2]), rt!.zeros([1, 6, 9]), 3, [1, 8])).toThrow(
      /\[1, 6, 9\] must have 2 x 3 x 8/,
    );
  });
});
