// Benchmarks for the norm family: LayerNorm over Hiera tokens (stage 3: 64x64 tokens x 384 channels;
// stage 1: 256x256 tokens x 96), SAM's LayerNorm2d over the 256x64x64 neck maps, GroupNorm with 32
// groups over 256x64x64 (RobotSeg SEMA), and the backward kernels used in training.
// All shapes are the real 1024-px ones (each moves <= 50 MB, tens of ms on lavapipe), except the
// hardware-only workgroup-per-row LayerNorm on software adapters without `full`, which is cut to
// 4096 rows. GB/s counts input + output bytes once (the minimum traffic).

import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import {
  groupNorm,
  groupNormBackward,
  groupNormForward,
  layerNorm,
  layerNorm2d,
  layerNormBackward,
  layerNormForward,
  type LayerNormVariant,
} from '../src/kernels/norm.js';
import {
  groupNormBackwardRef,
  groupNormRef,
  layerNorm2dRef,
  layerNormBackwardRef,
  layerNormRef,
} from '../test/ref/norm.js';
import { seededArray } from '../test/helpers/rng.js';
import type { BenchCase, BenchRun } from './types.js';

const data = seededArray;

/** max |a - b| <= atol + rtol |b| over the first `n` values. */
function close(a: ArrayLike<number>, b: ArrayLike<number>, n = b.length, atol = 1e-4, rtol = 1e-4): boolean {
  for (let i = 0; i < n; i++) if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) return false;
  return true;
}

/** Runs that replace their previous output (no pool growth across reps). */
function lastOutputs() {
  let last: Array<Tensor | null> = [];
  return {
    set(ts: Array<Tensor | null>) {
      for (const t of last) t?.dispose();
      last = ts;
    },
    get: () => last,
    dispose() {
      for (const t of last) t?.dispose();
      last = [];
    },
  };
}

/** Up to 512 rows are checked against the float64 reference (rows are independent). */
const CHECK_ROWS = 512;

/** The workgroup-per-row variants are for hardware; on software adapters (barriers cost 3-60x) the
 * quick runs use at most 4096 rows. */
function benchRows(rt: Runtime, rows: number, variant: LayerNormVariant, full: boolean): number {
  return variant === 'workgroup' && rt.adapter.software && !full ? Math.min(rows, 4096) : rows;
}

function layerNormCase(fullRows: number, c: number, eps: number, variant: LayerNormVariant): BenchCase {
  return {
    kernel: 'norm',
    impl: `layer_norm.${variant}`,
    setup(rt: Runtime, opts: { full: boolean }): BenchRun {
      const rows = benchRows(rt, fullRows, variant, opts.full);
      const xs = data(rows * c, 1, 2);
      const w = data(c, 2, 0.5, 1);
      const b = data(c, 3, 0.5);
      const x = rt.upload(xs, [rows, c], 'f32', 'x');
      const wt = rt.upload(w, [c], 'f32', 'w');
      const bt = rt.upload(b, [c], 'f32', 'b');
      const out = lastOutputs();
      return {
        shape: `LayerNorm ${rows}x${c}`,
        run: () => out.set([layerNorm(rt, x, wt, bt, eps, { variant })]),
        async check() {
          const k = Math.min(rows, CHECK_ROWS);
          const y = await rt.read(out.get()[0]!);
          return close(y, layerNormRef(xs.subarray(0, k * c), k, c, w, b, eps).y);
        },
        bytes: (2 * rows * c + 2 * c) * 4,
        downscaled: rows !== fullRows,
        onnx: {
          op: 'LayerNormalization',
          inputs: { X: { shape: [rows, c], data: xs }, Scale: { shape: [c], data: w }, B: { shape: [c], data: b } },
          attributes: { axis: -1, epsilon: eps },
          outputShape: [rows, c],
        },
        dispose() {
          out.dispose();
          x.dispose();
          wt.dispose();
          bt.dispose();
        },
      };
    },
  };
}

function layerNormBackwardCase(fullRows: number, c: number, eps: number, variant: LayerNormVariant): BenchCase {
  return {
    kernel: 'norm',
    impl: `layer_norm_backward.${variant}`,
    setup(rt: Runtime, opts: { full: boolean }): BenchRun {
      const rows = benchRows(rt, fullRows, variant, opts.full);
      const xs = data(rows * c, 4, 2);
      const dys = data(rows * c, 5, 1);
      const w = data(c, 6, 0.5, 1);
      const x = rt.upload(xs, [rows, c], 'f32', 'x');
      const wt = rt.upload(w, [c], 'f32', 'w');
      const bt = rt.zeros([c], 'f32', 'b');
      const dy = rt.upload(dys, [rows, c], 'f32', 'dy');
      const fwd = layerNormForward(rt, x, wt, bt, eps, true, { variant });
      fwd.y.dispose();
      const out = lastOutputs();
      return {
        shape: `LayerNorm backward ${rows}x${c}`,
        run: () => {
          const g = layerNormBackward(rt, x, wt, fwd.stats!, dy, undefined, { variant });
          out.set([g.dx, g.dweight, g.dbias]);
        },
        async check() {
          const [dx, dw, db] = out.get();
          const ref = layerNormBackwardRef(xs, dys, rows, c, w, eps);
          return (
            close(await rt.read(dx!), ref.dx, Math.min(rows, CHECK_ROWS) * c) &&
            close(await rt.read(dw!), ref.dweight, c, 1e-3) &&
            close(await rt.read(db!), ref.dbias, c, 1e-3)
          );
        },
        // x, dy in; dx out (+ stats, w, dw, db: negligible)
        bytes: 3 * rows * c * 4,
        downscaled: rows !== fullRows,
        dispose() {
          out.dispose();
          x.dispose();
          wt.dispose();
          bt.dispose();
          dy.dispose();
          fwd.stats!.dispose();
        },
      };
    },
  };
}

/** A forward norm over x [b, c, h, w] with weight / bias [c] (data seeds seed, seed+1, seed+2). */
function nchwNormCase(
  impl: string,
  label: string,
  [b, c, h, w]: readonly [number, number, number, number],
  seed: number,
  fwd: (rt: Runtime, x: Tensor, weight: Tensor, bias: Tensor) => Tensor,
  ref: (xs: Float32Array, shape: number[], wv: Float32Array, bv: Float32Array) => ArrayLike<number>,
  suffix = '',
): BenchCase {
  return {
    kernel: 'norm',
    impl,
    setup(rt: Runtime): BenchRun {
      const shape = [b, c, h, w];
      const n = b * c * h * w;
      const xs = data(n, seed, 2);
      const wv = data(c, seed + 1, 0.5, 1);
      const bv = data(c, seed + 2, 0.5);
      const x = rt.upload(xs, shape, 'f32', 'x');
      const wt = rt.upload(wv, [c], 'f32', 'w');
      const bt = rt.upload(bv, [c], 'f32', 'b');
      const out = lastOutputs();
      return {
        shape: `${label} ${b}x${c}x${h}x${w}${suffix}`,
        run: () => out.set([fwd(rt, x, wt, bt)]),
        async check() {
          return close(await rt.read(out.get()[0]!), ref(xs, shape, wv, bv));
        },
        bytes: (2 * n + 2 * c) * 4,
        downscaled: false,
        dispose() {
          out.dispose();
          x.dispose();
          wt.dispose();
          bt.dispose();
        },
      };
    },
  };
}

// No peer row: no single ONNX op normalises over the channel axis per pixel (LayerNormalization(axis=1)
// spans C,H,W).
const layerNorm2dCase = (b: number, c: number, h: number, w: number, eps: number) =>
  nchwNormCase(
    'layer_norm2d',
    'LayerNorm2d',
    [b, c, h, w],
    7,
    (rt, x, wt, bt) => layerNorm2d(rt, x, wt, bt, eps),
    (xs, shape, wv, bv) => layerNorm2dRef(xs, shape, wv, bv, eps).y,
  );

// No peer row: ONNX GroupNormalization scales per GROUP before opset 21 and the per-channel (PyTorch)
// form needs opset 21, which onnxruntime 1.30 refused to build here (both EPs).
const groupNormCase = (b: number, c: number, h: number, w: number, groups: number, eps: number) =>
  nchwNormCase(
    'group_norm',
    'GroupNorm',
    [b, c, h, w],
    10,
    (rt, x, wt, bt) => groupNorm(rt, x, groups, wt, bt, eps),
    (xs, shape, wv, bv) => groupNormRef(xs, shape, groups, wv, bv, eps).y,
    ` groups=${groups}`,
  );

function groupNormBackwardCase(b: number, c: number, h: number, w: number, groups: number, eps: number): BenchCase {
  return {
    kernel: 'norm',
    impl: 'group_norm_backward',
    setup(rt: Runtime): BenchRun {
      const shape = [b, c, h, w];
      const n = b * c * h * w;
      const xs = data(n, 13, 2);
      const dys = data(n, 14, 1);
      const wv = data(c, 15, 0.5, 1);
      const x = rt.upload(xs, shape, 'f32', 'x');
      const wt = rt.upload(wv, [c], 'f32', 'w');
      const bt = rt.zeros([c], 'f32', 'b');
      const dy = rt.upload(dys, shape, 'f32', 'dy');
      const fwd = groupNormForward(rt, x, groups, wt, bt, eps, true);
      fwd.y.dispose();
      const out = lastOutputs();
      return {
        shape: `GroupNorm backward ${b}x${c}x${h}x${w} groups=${groups}`,
        run: () => {
          const g = groupNormBackward(rt, x, groups, wt, fwd.stats!, dy);
          out.set([g.dx, g.dweight, g.dbias]);
        },
        async check() {
          const [dx, dw, db] = out.get();
          const ref = groupNormBackwardRef(xs, dys, shape, groups, wv, eps);
          return (
            close(await rt.read(dx!), ref.dx) &&
            close(await rt.read(dw!), ref.dweight, c, 1e-3) &&
            close(await rt.read(db!), ref.dbias, c, 1e-3)
          );
        },
        bytes: 3 * n * 4,
        downscaled: false,
        dispose() {
          out.dispose();
          x.dispose();
          wt.dispose();
          bt.dispose();
          dy.dispose();
          fwd.stats!.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [
  // Hiera stage 3 (64x64 tokens, 384 ch) and stage 1 (256x256 tokens, 96 ch); Hiera uses eps 1e-6
  layerNormCase(4096, 384, 1e-6, 'row'),
  layerNormCase(4096, 384, 1e-6, 'workgroup'),
  layerNormCase(65536, 96, 1e-6, 'row'),
  layerNormCase(65536, 96, 1e-6, 'workgroup'),
  // SAM neck / mask decoder LayerNorm2d (eps 1e-6) over the 256x64x64 FPN map
  layerNorm2dCase(1, 256, 64, 64, 1e-6),
  // RobotSeg SEMA GroupNorm(32, 256)
  groupNormCase(1, 256, 64, 64, 32, 1e-5),
  // training
  layerNormBackwardCase(4096, 384, 1e-6, 'row'),
  layerNormBackwardCase(4096, 384, 1e-6, 'workgroup'),
  groupNormBackwardCase(1, 256, 64, 64, 32, 1e-5),
];
