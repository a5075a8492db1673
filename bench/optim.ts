// Benchmarks for the optim family over a RobotSeg-sized parameter set (~40M f32 parameters, split
// into 40 tensors of 1M like a weight arena's views; maxStorageBufferBindingSize is 128 MiB on
// software adapters). Without --full the set is cut to 4M parameters (downscaled).
//   * adamw with a fused clip coefficient (gradScale): reads p, g, m, v, writes p, m, v (28 B/param);
//   * gradNormSq over all gradients (4 B/param) + clipCoef;
//   * accumulate (gradient accumulation, 12 B/param).
// check(): AdamW restarts from the initial state and runs one step, compared with the float64
// reference on the first and last 4096 entries of every tensor; the norm against a float64 sum.

import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import { accumulate, adamw, clipCoef, gradNormSq } from '../src/kernels/optim.js';
import { adamwRef, clipGradNormRef } from '../test/ref/optim.js';
import { seededArray } from '../test/helpers/rng.js';
import { allClose } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

const PER_TENSOR = 1 << 20;
const FULL_TENSORS = 40;
const SMALL_TENSORS = 4;
const CHECK = 4096;

interface ParamSet {
  hostP: Float32Array[];
  hostG: Float32Array[];
  p: Tensor[];
  g: Tensor[];
  m: Tensor[];
  v: Tensor[];
  n: number;
}

function paramSet(rt: Runtime, full: boolean): ParamSet {
  const count = full ? FULL_TENSORS : SMALL_TENSORS;
  const hostP = Array.from({ length: count }, (_, i) => seededArray(PER_TENSOR, 100 + i, 0.1));
  const hostG = Array.from({ length: count }, (_, i) => seededArray(PER_TENSOR, 200 + i, 1e-3));
  return {
    hostP,
    hostG,
    n: count * PER_TENSOR,
    p: hostP.map((h) => rt.upload(h, [h.length], 'f32', 'param')),
    g: hostG.map((h) => rt.upload(h, [h.length], 'f32', 'grad')),
    m: hostP.map((h) => rt.zeros([h.length], 'f32', 'exp_avg')),
    v: hostP.map((h) => rt.zeros([h.length], 'f32', 'exp_avg_sq')),
  };
}

function disposeSet(s: ParamSet): void {
  for (const t of [...s.p, ...s.g, ...s.m, ...s.v]) t.dispose();
}

const checkIdx = Array.from({ length: 2 * CHECK }, (_, k) => (k < CHECK ? k : PER_TENSOR - 2 * CHECK + k));
const millions = (n: number) => `${(n / 1e6).toFixed(0)}M`;

function adamwCase(): BenchCase {
  return {
    kernel: 'optim',
    impl: 'adamw.scaled',
    setup(rt: Runtime, { full }): BenchRun {
      const s = paramSet(rt, full);
      const scale = rt.upload([0.5], [1], 'f32', 'clip coef');
      const opts = { lr: 3e-4, weightDecay: 0.1, gradScale: scale };
      let step = 0;
      const runAll = (st: number) => s.p.forEach((p, i) => adamw(rt, p, s.g[i], s.m[i], s.v[i], { ...opts, step: st }));
      return {
        shape: `adamw ${millions(s.n)} params in ${s.p.length} tensors`,
        run() {
          runAll(++step);
        },
        async check() {
          s.p.forEach((p, i) => {
            rt.write(p, s.hostP[i]);
            rt.write(s.m[i], new Float32Array(PER_TENSOR));
            rt.write(s.v[i], new Float32Array(PER_TENSOR));
          });
          runAll(1);
          for (let i = 0; i < s.p.length; i++) {
            const got = await rt.read(s.p[i]);
            const st = {
              p: Float64Array.from(checkIdx, (k) => s.hostP[i][k]),
              m: new Float64Array(2 * CHECK),
              v: new Float64Array(2 * CHECK),
            };
            adamwRef(
              st,
              checkIdx.map((k) => s.hostG[i][k]),
              { lr: 3e-4, weightDecay: 0.1, step: 1, scale: 0.5 },
            );
            const r = allClose(
              checkIdx.map((k) => got[k]),
              st.p,
              { atol: 1e-7, rtol: 0 },
            );
            if (!r.ok) {
              console.error(`optim adamw tensor ${i}: ${r.msg}`);
              return false;
            }
          }
          return true;
        },
        bytes: 28 * s.n,
        downscaled: !full,
        dispose() {
          disposeSet(s);
          scale.dispose();
        },
      };
    },
  };
}

function normCase(): BenchCase {
  return {
    kernel: 'optim',
    impl: 'grad_norm+clip_coef',
    setup(rt: Runtime, { full }): BenchRun {
      const s = paramSet(rt, full);
      let out: Tensor[] = [];
      return {
        shape: `gradNormSq + clipCoef over ${millions(s.n)} params in ${s.g.length} tensors`,
        run() {
          for (const t of out) t.dispose();
          const sq = gradNormSq(rt, s.g);
          const { coef, norm } = clipCoef(rt, sq, 0.1);
          out = [sq, coef, norm];
        },
        async check() {
          const want = clipGradNormRef(s.hostG, 0.1);
          const r = allClose([(await rt.read(out[2]))[0], (await rt.read(out[1]))[0]], [want.norm, want.coef], {
            atol: 0,
            rtol: 1e-5,
          });
          if (!r.ok) console.error(`optim grad norm: ${r.msg}`);
          return r.ok;
        },
        bytes: 4 * s.n,
        downscaled: !full,
        dispose() {
          for (const t of out) t.dispose();
          disposeSet(s);
        },
      };
    },
  };
}

function accumulateCase(): BenchCase {
  return {
    kernel: 'optim',
    impl: 'accumulate',
    setup(rt: Runtime, { full }): BenchRun {
      const s = paramSet(rt, full);
      return {
        shape: `accumulate ${millions(s.n)} params in ${s.p.length} tensors`,
        run() {
          s.m.forEach((m, i) => accumulate(rt, m, s.g[i], 0.25));
        },
        async check() {
          for (let i = 0; i < s.m.length; i++) {
            rt.write(s.m[i], s.hostP[i]);
            accumulate(rt, s.m[i], s.g[i], 0.25);
            const got = await rt.read(s.m[i]);
            const r = allClose(
              checkIdx.map((k) => got[k]),
              checkIdx.map((k) => s.hostP[i][k] + 0.25 * s.hostG[i][k]),
              { atol: 1e-7, rtol: 1e-6 },
            );
            if (!r.ok) {
              console.error(`optim accumulate tensor ${i}: ${r.msg}`);
              return false;
            }
          }
          return true;
        },
        bytes: 12 * s.n,
        downscaled: !full,
        dispose() {
          disposeSet(s);
        },
      };
    },
  };
}

export const cases: BenchCase[] = [adamwCase(), normCase(), accumulateCase()];
