// Gradients flow through views: Tensor.reshape and narrow0 create no kernel, but while a tape is
// active they record a node, so model code may reshape between ops (e.g. a parameter reshaped to
// broadcast, features reshaped NCHW -> tokens) without cutting the chain. Backward kernels do not
// record onto the tape they walk.
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { add, mul } from '../../src/kernels/elementwise.js';
import { permute } from '../../src/kernels/layout.js';
import { layerNorm } from '../../src/kernels/norm.js';
import { maxPool2d } from '../../src/kernels/pool.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();
const r = rng(11);

describe.runIf(rt)('autograd through views', () => {
  it('reshape of a parameter and of an intermediate: gradients reach the leaves', async () => {
    const R = rt!;
    // y = permute((x * w.reshape([1, 3, 1])).reshape([2, 3, 4]) , [0, 2, 1]) ; loss = sum(y * dyw)
    const xs = r.array(24, 1);
    const ws = r.array(3, 1);
    const dys = r.array(24, 1);
    const x = R.upload(xs, [2, 3, 4], 'f32', 'x');
    const w = R.upload(ws, [3], 'f32', 'w');
    x.requiresGrad = w.requiresGrad = true;
    const tape = new Tape(R, TAPE_OPS);
    R.tape = tape;
    const p = mul(R, x.reshape([2, 3, 4]), w.reshape([1, 3, 1])); // [2, 3, 4]
    const y = permute(R, p.reshape([6, 4]).reshape([2, 3, 4]), [0, 2, 1]); // [2, 4, 3]
    R.tape = null;
    const before = tape.nodes.length;
    const dy = R.upload(
      Float32Array.from({ length: 24 }, (_, i) => dys[i]),
      [2, 4, 3],
      'f32',
      'dy',
    );
    tape.backward(y, dy);
    expect(tape.nodes.length).toBe(before); // nothing recorded during backward
    // reference: dL/dp[b,c,k] = dy[b,k,c]; dx = dp * w[c]; dw[c] = sum_{b,k} dp * x
    const dx = new Float32Array(24);
    const dw = new Float64Array(3);
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        for (let k = 0; k < 4; k++) {
          const dp = dys[b * 12 + k * 3 + c];
          dx[b * 12 + c * 4 + k] = dp * ws[c];
          dw[c] += dp * xs[b * 12 + c * 4 + k];
        }
    expectClose(await R.read(x.grad!), dx, { atol: 1e-6, rtol: 1e-6 }, 'dx');
    expectClose(await R.read(w.grad!), Float32Array.from(dw), { atol: 1e-5, rtol: 1e-5 }, 'dw');
    tape.dispose();
  });

  it('narrow0: the gradient of a row range is zero-padded back to all rows', async () => {
    const R = rt!;
    const xs = r.array(5 * 4, 1);
    const x = R.upload(xs, [5, 4], 'f32', 'x');
    x.requiresGrad = true;
    const tape = new Tape(R, TAPE_OPS);
    R.tape = tape;
    const a = x.narrow0(1, 2); // rows 1..2
    const b = x.narrow0(2, 3); // rows 2..4
    const two = R.upload([2], [1], 'f32', 'two');
    const y = add(R, mul(R, a, two), b.narrow0(0, 2)); // rows 1,2 *2 + rows 2,3
    R.tape = null;
    tape.backward(y, R.upload(new Float32Array(8).fill(1), [2, 4]));
    const want = new Float32Array(20);
    for (let j = 0; j < 4; j++) {
      want[4 + j] = 2;
      want[8 + j] = 3;
      want[12 + j] = 1;
    }
    expectClose(await R.read(x.grad!), want, { atol: 0, rtol: 0 }, 'narrow0 grad');
    tape.dispose();
  });

  it('views of tensors that need no gradient record nothing', () => {
    const R = rt!;
    const tape = new Tape(R, TAPE_OPS);
    R.tape = tape;
    const c = R.upload(r.array(6, 1), [2, 3]);
    c.reshape([3, 2]).dispose();
    c.narrow0(0, 1).dispose();
    R.tape = null;
    expect(tape.nodes.length).toBe(0);
    tape.dispose();
  });

  it('ops with tape-owned internals (norm stats, pool indices) inside a scope: disposed once, memory returns', async () => {
    const R = rt!;
    R.flush();
    const before = R.pool.liveBytes;
    const x = R.upload(r.array(2 * 4 * 4 * 8, 1), [2, 4, 4, 8], 'f32', 'x');
    const w = R.upload(new Float32Array(8).fill(1), [8]);
    const b = R.upload(new Float32Array(8), [8]);
    x.requiresGrad = true;
    const tape = new Tape(R, TAPE_OPS);
    R.tape = tape;
    const y = R.scope(() => maxPool2d(R, layerNorm(R, x, w, b), { kernel: 2, stride: 2, layout: 'NHWC' }));
    R.tape = null;
    const seed = R.upload(new Float32Array(y.size).fill(1), y.shape);
    tape.backward(y, seed);
    expect(x.grad).not.toBeNull();
    tape.dispose(); // threw 'double release' when a scope also owned the stats
    for (const t of [x, w, b, y, seed, x.grad!]) t.dispose();
    R.flush();
    expect(R.pool.liveBytes).toBe(before);
  });

  it('pins belong to their tape: disposing one tape keeps what another live tape still needs', async () => {
    const R = rt!;
    const x = R.upload(r.array(6, 1), [2, 3], 'f32', 'x');
    x.requiresGrad = true;
    const a = new Tape(R, TAPE_OPS);
    const b = new Tape(R, TAPE_OPS);
    // the same scope-dropped intermediate is pinned by both tapes
    let ya: ReturnType<typeof mul> | null = null;
    let yb: ReturnType<typeof mul> | null = null;
    R.scope(() => {
      R.tape = a;
      const h = mul(R, x, x); // dropped by the scope, pinned by a
      ya = add(R, h, h);
      R.tape = b;
      yb = mul(R, h, x); // h is pinned by b too
      R.tape = null;
      return [ya, yb];
    });
    expect(R.tensors.isPinned(x)).toBe(true);
    a.dispose(); // must not release b's pins (it cleared every pin before)
    expect(R.tensors.isPinned(x)).toBe(true);
    const seed = R.upload(new Float32Array(6).fill(1), [2, 3]);
    b.backward(yb!, seed);
    // b recorded only h * x (h's own node is on a): dx = h = x^2, read from the h that a's dispose left alone
    const xs = await R.read(x);
    expectClose(
      await R.read(x.grad!),
      Float32Array.from(xs, (v) => Math.fround(v * v)),
      { atol: 0, rtol: 0 },
      'dx',
    );
    b.dispose();
    expect(R.tensors.isPinned(x)).toBe(false);
    for (const t of [x, ya!, yb!, seed, x.grad!]) (t as { dispose(): void }).dispose();
  });
});
