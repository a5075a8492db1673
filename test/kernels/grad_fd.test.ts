// Finite-difference checks (float64, CPU) for the backward paths the training issue lists that have no
// FD check in their family's own test file: the activation derivatives (GELU erf, ReLU, sigmoid), RoPE
// (the backward is the inverse rotation), and RobotSeg's SEMA gate t_main * (1 + α G(logits)) through
// both bilinear resizes and the sigmoid. Each: central differences of L = Σ f(x)·g on a float64 CPU
// reference against the GPU backward through the autograd tape.
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { rope, ropeTable } from '../../src/kernels/rope.js';
import { semaGate } from '../../src/model/sema.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { UNARY, UNARY_GRAD } from '../ref/elementwise.js';
import { resizeRef } from '../ref/resize.js';
import { ropeRef } from '../ref/rope.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();
const r = rng(23);

/** Central differences of L(x) = Σ f(x)·g for each input, step h, in float64. */
function fdGrads(
  f: (xs: Float64Array[]) => ArrayLike<number>,
  inputs: Float64Array[],
  g: ArrayLike<number>,
  h: number,
): Float64Array[] {
  const L = () => {
    const y = f(inputs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * g[i];
    return s;
  };
  return inputs.map((x) =>
    Float64Array.from(x, (v, i) => {
      x[i] = v + h;
      const lp = L();
      x[i] = v - h;
      const lm = L();
      x[i] = v;
      return (lp - lm) / (2 * h);
    }),
  );
}

/** GPU gradients of Σ fwd(xs)·g w.r.t. each input through the tape. */
async function tapeGrads(
  shapes: number[][],
  values: Float32Array[],
  fwd: (xs: Tensor[]) => Tensor,
  g: Float32Array,
): Promise<Float32Array[]> {
  const R = rt!;
  const xs = values.map((v, i) => R.upload(v, shapes[i]));
  for (const x of xs) x.requiresGrad = true;
  const tape = new Tape(R, TAPE_OPS);
  R.tape = tape;
  const y = fwd(xs);
  R.tape = null;
  const seed = R.upload(g, y.shape);
  tape.backward(y, seed);
  const out = await Promise.all(xs.map((x) => R.read(x.grad!)));
  tape.dispose();
  for (const t of [...xs, y, seed, ...xs.map((x) => x.grad!)]) t.dispose();
  return out;
}

describe('activation derivatives vs float64 central differences (CPU reference)', () => {
  // h = 1e-5: truncation ~h^2 |f'''| <~ 1e-10, rounding ~1e-16 / h ~ 1e-11; tolerance 1e-8.
  for (const op of ['gelu', 'relu', 'sigmoid']) {
    it(`${op}: 200 points in [-6, 6] (ReLU: away from the kink)`, () => {
      const xs = Array.from({ length: 200 }, (_, i) => -6 + (12 * (i + 0.5)) / 200);
      for (const x of xs) {
        if (op === 'relu' && Math.abs(x) < 1e-4) continue;
        const fd = (UNARY[op](x + 1e-5) - UNARY[op](x - 1e-5)) / 2e-5;
        expect(Math.abs(fd - UNARY_GRAD[op](x)), `${op}'(${x})`).toBeLessThan(1e-8);
      }
    });
  }
});

describe.skipIf(!rt)('backward through the tape vs float64 finite differences', () => {
  it('RoPE: 2 batches x (3 frames of a 3x3 grid + 2 excluded pointer tokens), 2 heads of dh 8; all 528 entries', async () => {
    const [b, side, frames, ptr, heads, dh] = [2, 3, 3, 2, 2, 8];
    const n = frames * side * side + ptr;
    const table = ropeTable(dh, side, side);
    const x = r.array(b * n * heads * dh, 1);
    const g = r.array(x.length, 1);
    const got = await tapeGrads(
      [[b, n, heads * dh]],
      [x],
      ([t]) => rope(rt!, t, rt!.upload(table, [side * side, dh / 2, 2]), heads, n - ptr),
      g,
    );
    // linear in x: h = 0.5 is exact up to rounding
    const [fd] = fdGrads(
      ([v]) => ropeRef(Float32Array.from(v), b, n, heads, dh, table, side * side, n - ptr),
      [Float64Array.from(x)],
      g,
      0.5,
    );
    expectClose(got[0], fd, { atol: 2e-6, rtol: 1e-5 }, 'rope dx');
  });

  it('SEMA gate: t_main [1, 16, 4] on a 4x4 grid, logits [1, 1, 4, 4], x4 upsampling, α; every entry', async () => {
    const [h, w, C, up] = [4, 4, 4, 4];
    const N = h * w;
    const tMain = r.array(N * C, 1);
    const logits = r.array(N, 2);
    const alpha = Float32Array.of(0.7);
    const g = r.array(N * C, 1);
    const ref = ([t, l, a]: Float64Array[]) => {
      const upL = resizeRef(l, [1, 1, h, w], [h * up, w * up], 'bilinear');
      const sig = upL.map((v) => 1 / (1 + Math.exp(-v)));
      const G = resizeRef(sig, [1, 1, h * up, w * up], [h, w], 'bilinear');
      return Float64Array.from({ length: N * C }, (_, i) => t[i] * (1 + a[0] * G[Math.floor(i / C)]));
    };
    const got = await tapeGrads(
      [[1, N, C], [1, 1, h, w], []],
      [tMain, logits, alpha],
      ([t, l, a]) => semaGate(rt!, t, l, a, up).out,
      g,
    );
    // smooth in every input: h = 1e-4, truncation ~1e-8 relative; float32 GPU sums of ~64 terms ~1e-6
    const fd = fdGrads(ref, [Float64Array.from(tMain), Float64Array.from(logits), Float64Array.from(alpha)], g, 1e-4);
    expectClose(got[0], fd[0], { atol: 1e-6, rtol: 1e-5 }, 'd t_main');
    expectClose(got[1], fd[1], { atol: 2e-6, rtol: 1e-4 }, 'd logits');
    expectClose(got[2], fd[2], { atol: 1e-5, rtol: 1e-4 }, 'd alpha');
  });
});
