// Benchmarks for the loss family at training sizes:
//   * focal, dice and mask IoU over 3 mask candidates against one target: 3 x 256x256 (the reduced
//     config's image-size candidates); with --full 3 x 1024x1024 (SAM 2.1 tiny at 1024 px);
//   * focal + dice forward and backward through the autograd tape (what a training step runs);
//   * RobotSeg's structure target and the structure L1 (4 per-layer maps vs the target) at the same
//     image size;
//   * masked mean backward (semantic loss) at [1, 64, 16x16] (reduced) / [1, 256, 64x64] (full).
// Without --full every row is the reduced configuration and marked downscaled (against 1024 px).
// GB/s counts the minimum traffic: every input read once, every output written once.
// check(): the whole output against the float64 reference in test/ref/loss.ts.

import { Tape } from '../src/graph/autograd.js';
import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import { diceLoss, l1Loss, maskIoU, sigmoidFocalLoss, structureTarget } from '../src/kernels/loss.js';
import { maskedMean } from '../src/kernels/reduce.js';
import {
  diceBackwardRef,
  diceRef,
  focalBackwardRef,
  focalRef,
  l1Ref,
  maskedMeanBackwardRef,
  maskIoURef,
  structureTargetRef,
} from '../test/ref/loss.js';
import { seededArray } from '../test/helpers/rng.js';
import { allClose } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';
import { TAPE_OPS } from '../src/kernels/tape.js';

const M = 3;
const side = (full: boolean) => (full ? 1024 : 256);
/** A blob-like binary target: a disc covering about a quarter of the image. */
function discMask(h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) out[i * w + j] = (i - 0.5 * h) ** 2 + (j - 0.45 * w) ** 2 < (0.28 * h) ** 2 ? 1 : 0;
  return out;
}

function report(what: string, r: { ok: boolean; msg: string }): boolean {
  if (!r.ok) console.error(`loss ${what}: ${r.msg}`);
  return r.ok;
}

type RowOp = 'focal' | 'dice' | 'mask_iou';
const FWD = { focal: sigmoidFocalLoss, dice: diceLoss, mask_iou: maskIoU };
const REF = { focal: focalRef, dice: diceRef, mask_iou: maskIoURef };

function forwardCase(op: RowOp): BenchCase {
  return {
    kernel: 'loss',
    impl: op,
    setup(rt: Runtime, { full }): BenchRun {
      const s = side(full),
        n = s * s;
      const xs = seededArray(M * n, 31, 8);
      const ts = discMask(s, s);
      const x = rt.upload(xs, [1, M, s, s], 'f32', 'logits');
      const t = rt.upload(ts, [1, 1, s, s], 'f32', 'target');
      let out: Tensor | null = null;
      return {
        shape: `${op} ${M}x${s}x${s} vs ${s}x${s}`,
        run() {
          out?.dispose();
          out = FWD[op](rt, x, t);
        },
        async check() {
          // f32 partial sums of <= 128 pixels, <= 1024 partials: ~1e-6 relative (test/kernels/loss.test.ts)
          return report(
            op,
            allClose(await rt.read(out!), REF[op](xs, ts, M, n), { atol: 1e-6, rtol: op === 'mask_iou' ? 1e-7 : 2e-5 }),
          );
        },
        bytes: (M * n + n + M) * 4,
        downscaled: !full,
        dispose() {
          out?.dispose();
          x.dispose();
          t.dispose();
        },
      };
    },
  };
}

/** focal + dice forward and backward through the tape, as the training step runs them. */
function trainingCase(): BenchCase {
  return {
    kernel: 'loss',
    impl: 'focal+dice.fwd+bwd',
    setup(rt: Runtime, { full }): BenchRun {
      const s = side(full),
        n = s * s;
      const xs = seededArray(M * n, 32, 8);
      const ts = discMask(s, s);
      const seedF = Float32Array.of(20 / M, 20 / M, 20 / M); // SAM 2.1 weights: focal x 20, dice x 1
      const x = rt.upload(xs, [M, n], 'f32', 'logits');
      x.requiresGrad = true;
      const t = rt.upload(ts, [n], 'f32', 'target');
      const dF = rt.upload(seedF, [M], 'f32', 'seed focal');
      const dD = rt.upload([1, 1, 1], [M], 'f32', 'seed dice');
      let grad: Tensor | null = null;
      return {
        shape: `focal + dice, forward + backward, ${M}x${s}x${s}`,
        run() {
          grad?.dispose();
          x.grad = null;
          const tape = new Tape(rt, TAPE_OPS);
          rt.tape = tape;
          let f: Tensor, d: Tensor;
          try {
            f = sigmoidFocalLoss(rt, x, t);
            d = diceLoss(rt, x, t);
          } finally {
            rt.tape = null;
          }
          tape.backward(f, dF);
          tape.backward(d, dD);
          tape.dispose();
          f.dispose();
          d.dispose();
          grad = x.grad;
        },
        async check() {
          const g = await rt.read(grad!);
          const fb = focalBackwardRef(xs, ts, M, n, seedF);
          const db = diceBackwardRef(xs, ts, M, n, [1, 1, 1]);
          const want = Float64Array.from(fb, (v, i) => v + db[i]);
          let scale = 0;
          for (const v of want) scale = Math.max(scale, Math.abs(v));
          return report('focal+dice backward', allClose(g, want, { atol: 2e-5 * scale, rtol: 1e-4 }));
        },
        // forward: 2 passes read logits + target; backward: 2 passes read them and write dx; one add of the two dx
        bytes: (4 * (M * n + n) + 2 * M * n + 3 * M * n) * 4,
        downscaled: !full,
        dispose() {
          grad?.dispose();
          x.dispose();
          t.dispose();
          dF.dispose();
          dD.dispose();
        },
      };
    },
  };
}

function structureCase(): BenchCase {
  return {
    kernel: 'loss',
    impl: 'structure_target',
    setup(rt: Runtime, { full }): BenchRun {
      const s = side(full);
      const ms = discMask(s, s);
      const m = rt.upload(ms, [1, 1, s, s], 'f32', 'mask');
      let out: Tensor | null = null;
      return {
        shape: `structure target 1x1x${s}x${s}`,
        run() {
          out?.dispose();
          out = structureTarget(rt, m);
        },
        async check() {
          return report(
            'structure_target',
            allClose(await rt.read(out!), structureTargetRef(ms, 1, s, s), { atol: 1e-7, rtol: 1e-6 }),
          );
        },
        // two passes read the mask (3x3 stencil, cached), one writes the target
        bytes: 3 * s * s * 4,
        downscaled: !full,
        dispose() {
          out?.dispose();
          m.dispose();
        },
      };
    },
  };
}

function structureL1Case(): BenchCase {
  return {
    kernel: 'loss',
    impl: 'l1',
    setup(rt: Runtime, { full }): BenchRun {
      const s = side(full),
        n = 4 * s * s;
      const ps = seededArray(n, 33, 0.5, 0.5);
      const ts = seededArray(n, 34, 0.5, 0.5);
      const p = rt.upload(ps, [4, 1, s, s], 'f32', 'structure maps');
      const t = rt.upload(ts, [4, 1, s, s], 'f32', 'target');
      let out: Tensor | null = null;
      return {
        shape: `structure L1 4x1x${s}x${s}`,
        run() {
          out?.dispose();
          out = l1Loss(rt, p, t);
        },
        async check() {
          return report('l1', allClose(await rt.read(out!), [l1Ref(ps, ts)], { atol: 1e-7, rtol: 1e-5 }));
        },
        bytes: 2 * n * 4,
        downscaled: !full,
        dispose() {
          out?.dispose();
          p.dispose();
          t.dispose();
        },
      };
    },
  };
}

function maskedMeanBackwardCase(): BenchCase {
  return {
    kernel: 'loss',
    impl: 'masked_mean.fwd+bwd',
    setup(rt: Runtime, { full }): BenchRun {
      const [c, hw] = full ? [256, 64 * 64] : [64, 16 * 16];
      const xs = seededArray(c * hw, 35, 2);
      const ms = seededArray(hw, 36, 0.5, 0.5);
      const dys = seededArray(c, 37, 1);
      const x = rt.upload(xs, [1, c, hw], 'f32', 'features');
      const m = rt.upload(ms, [1, hw], 'f32', 'soft mask');
      x.requiresGrad = m.requiresGrad = true;
      const dy = rt.upload(dys, [1, c], 'f32', 'dy');
      let grads: Tensor[] = [];
      return {
        shape: `masked mean forward + backward 1x${c}x${hw}`,
        run() {
          for (const g of grads) g.dispose();
          x.grad = m.grad = null;
          const tape = new Tape(rt, TAPE_OPS);
          rt.tape = tape;
          let y: Tensor;
          try {
            y = maskedMean(rt, x, m);
          } finally {
            rt.tape = null;
          }
          tape.backward(y, dy);
          tape.dispose();
          y.dispose();
          grads = [x.grad!, m.grad!];
        },
        async check() {
          const ref = maskedMeanBackwardRef(xs, ms, dys, 1, c, hw);
          const [gx, gm] = [await rt.read(grads[0]), await rt.read(grads[1])];
          return (
            report('masked_mean dx', allClose(gx, ref.dx, { atol: 1e-8, rtol: 1e-4 })) &&
            report('masked_mean dm', allClose(gm, ref.dm, { rtol: 1e-4 }))
          );
        },
        // forward reads x, m; backward: stats (m, y, dy), dx (m, dy -> dx), dm (x, dy -> dm)
        bytes: (3 * c * hw + 4 * hw + 3 * c) * 4,
        downscaled: !full,
        dispose() {
          for (const g of grads) g.dispose();
          x.dispose();
          m.dispose();
          dy.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [
  forwardCase('focal'),
  forwardCase('dice'),
  forwardCase('mask_iou'),
  trainingCase(),
  structureCase(),
  structureL1Case(),
  maskedMeanBackwardCase(),
];
