// Benchmarks for the rpg family: RobotSeg's whole robot prompt generator (macro FPS, cosine k-means
// assignment and prototypes, region supports, micro FPS / k-means, tokens: 10 dispatches) over the
// memory frames of one tracked frame. Full size: 7 memory frames of the 64x64 grid with 64-channel
// memory features (+ 7x4 pointer rows, ignored) and blob-shaped masks covering 5-40 % of the frame;
// downscaled: 3 frames of 32x32. One row per FPS variant (serial: one invocation per set; workgroup:
// 256 invocations per set with shared-memory argmax). Checked against the float64 CPU reference
// (integer picks / assignments exact through the tokens; tokens to 1e-5). Bytes: feature reads of
// the assignment (k+1 rows per foreground cell and level) and prototype (every row per set) stages.
// No ONNX peer: ONNX has no FPS / k-means operator.
// Row 'backward': the three backward dispatches (TOKENS_BWD, PROTO_BWD over every memory row,
// PLACEHOLDER_BWD) from the kept micro level, checked against the float64 reference backward
// (1e-5 absolute / 1e-4 relative, as in test/kernels/rpg_backward.test.ts with a looser floor for the
// longer f32 sums at 64x64). Bytes: d token + prototype reads, d feats writes, per-row metadata.
import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import {
  type RpgFpsVariant,
  rpgObjectTokens,
  rpgPlaceholderBackward,
  rpgPrototypesBackward,
  rpgTokensBackward,
} from '../src/kernels/rpg.js';
import { rpgTokensBackwardRef, rpgTokensRef } from '../test/ref/rpg.js';
import { rng, within } from '../test/helpers/rng.js';
import type { BenchCase, BenchRun } from './types.js';

function masks(frames: number, side: number, seed: number): Float32Array {
  const r = rng(seed);
  const hw = side * side;
  const fg = new Float32Array(frames * hw);
  for (let f = 0; f < frames; f++) {
    const cover = 0.05 + 0.35 * (f / Math.max(frames - 1, 1));
    const ry = side * Math.sqrt(cover / Math.PI) * (0.8 + 0.4 * r.uniform());
    const rx = (side * side * cover) / (Math.PI * ry);
    const cy = side * (0.3 + 0.4 * r.uniform());
    const cx = side * (0.3 + 0.4 * r.uniform());
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        const inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1;
        fg[f * hw + y * side + x] = inside ? 0.5 + 0.5 * r.uniform() : 0.49 * r.uniform();
      }
  }
  return fg;
}

function rpgCase(variant: RpgFpsVariant): BenchCase {
  return {
    kernel: 'rpg',
    impl: variant,
    setup(rt: Runtime, { full }): BenchRun {
      const [F, side, C] = full ? [7, 64, 64] : [3, 32, 64];
      const hw = side * side;
      const rows = F * hw + 4 * F;
      const r = rng(42);
      const feats = Float32Array.from({ length: rows * C }, () => r.normal());
      const fg = masks(F, side, 7);
      const placeholder = r.array(4 * C, 1);
      const fT = rt.upload(feats, [1, rows, C], 'f32', 'memory');
      const gT = rt.upload(fg, [F, hw], 'f32', 'fg');
      const pT = rt.upload(placeholder, [1, 4 * C], 'f32', 'placeholder');
      let last: Tensor | null = null;
      let fgCells = 0;
      for (const v of fg) if (v >= 0.5) fgCells++;
      return {
        shape: `${F} frames x ${side}x${side} cells x ${C} ch, R 3 x S 4`,
        run: () => {
          last?.dispose();
          last = rpgObjectTokens(rt, fT, gT, pT, { grid: [side, side], fpsVariant: variant }).tokens;
        },
        check: async () => {
          const got = await rt.read(last!);
          const ref = rpgTokensRef(feats, C, fg, F, [side, side], placeholder);
          return within(got, ref.tokens, 1e-5, 1e-5);
        },
        bytes: 4 * C * (fgCells * (4 + 6) + F * hw * (1 + 3)),
        downscaled: !full,
        dispose() {
          last?.dispose();
          for (const t of [fT, gT, pT]) t.dispose();
        },
      };
    },
  };
}

function rpgBackwardCase(): BenchCase {
  return {
    kernel: 'rpg',
    impl: 'backward',
    setup(rt: Runtime, { full }): BenchRun {
      const [F, side, C] = full ? [7, 64, 64] : [3, 32, 64];
      const hw = side * side;
      const rows = F * hw + 4 * F;
      const r = rng(43);
      const feats = Float32Array.from({ length: rows * C }, () => r.normal());
      const fg = masks(F, side, 8);
      fg.fill(0, 0, hw); // frame 0 without foreground: the placeholder path too
      const placeholder = r.array(4 * C, 1);
      const dtokens = r.array(F * 3 * 4 * C, 1);
      const fT = rt.upload(feats, [1, rows, C], 'f32', 'memory');
      const gT = rt.upload(fg, [F, hw], 'f32', 'fg');
      const pT = rt.upload(placeholder, [1, 4 * C], 'f32', 'placeholder');
      const dT = rt.upload(dtokens, [1, F * 3, 4 * C], 'f32', 'dtokens');
      const fwd = rpgObjectTokens(rt, fT, gT, pT, { grid: [side, side], keep: true });
      const st = fwd.stages!;
      let last: Tensor[] = [];
      return {
        shape: `${F} frames x ${side}x${side} cells x ${C} ch (+${4 * F} pointer rows), R 3 x S 4`,
        run: () => {
          for (const t of last) t.dispose();
          const dp = rpgTokensBackward(rt, st.microProtos, st.macroCount, dT, 3);
          last = [
            rpgPrototypesBackward(rt, fT.shape, st.microAssign, st.microCentres, st.microCounts, dp, 3),
            rpgPlaceholderBackward(rt, st.macroCount, dT, 3, pT.shape),
          ];
          dp.dispose();
        },
        check: async () => {
          const ref = rpgTokensRef(feats, C, fg, F, [side, side], placeholder);
          const want = rpgTokensBackwardRef(C, rows, ref.frames, hw, dtokens);
          return (
            within(await rt.read(last[0]), want.dfeats, 1e-5, 1e-4) &&
            within(await rt.read(last[1]), want.dplaceholder, 1e-5, 1e-4)
          );
        },
        bytes: 4 * (2 * F * 3 * 4 * C + rows * C + rows * 3 * (2 + 2 * 4) * Math.ceil(C / 4)),
        downscaled: !full,
        dispose() {
          for (const t of [...last, ...Object.values(st), fwd.tokens, fT, gT, pT, dT]) t.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [rpgCase('serial'), rpgCase('workgroup'), rpgBackwardCase()];
