// Benchmarks for the layout family (SAM 2.1 tiny at 1024 px):
//   * permute NCHW -> NHWC of the stride-4 FPN map, 256x256x256 (128x128 when not full);
//   * Hiera stage-1 window partition of the 256x256x96 token grid into 8x8 windows, and the inverse
//     (128x128x96 when not full);
//   * concat of two 256-channel 64x64 maps along channels (32x32 when not full).
// GB/s counts input + output bytes once. The check compares 4096 sampled outputs with the reference.
// ONNX peers: Transpose and Concat.

import type { Runtime } from '../src/graph/runtime.js';
import { concat, permute, windowPartition, windowUnpartition } from '../src/kernels/layout.js';
import { concatRef, permuteRef, windowPartitionRef, windowUnpartitionRef } from '../test/ref/layout.js';
import { data, sampledClose } from './conv2d.js';
import { lastOutput } from './elementwise.js';
import type { BenchCase, BenchRun } from './types.js';

function permuteCase(): BenchCase {
  return {
    kernel: 'layout',
    impl: 'permute',
    setup(rt: Runtime, { full }): BenchRun {
      const s = full ? 256 : 128;
      const shape = [1, 256, s, s];
      const xs = data(256 * s * s, 3);
      const x = rt.upload(xs, shape, 'f32', 'x');
      const out = lastOutput();
      return {
        shape: `NCHW -> NHWC [${shape.join(',')}]`,
        run: () => out.set(permute(rt, x, [0, 2, 3, 1])),
        async check() {
          const ref = permuteRef(xs, shape, [0, 2, 3, 1]).y;
          return sampledClose(await rt.read(out.get()), (i) => ref[i], 4096, 0, 0);
        },
        bytes: 8 * xs.length,
        downscaled: !full,
        onnx: {
          op: 'Transpose',
          inputs: { X: { shape, data: xs } },
          attributes: { perm: [0, 2, 3, 1] },
          outputShape: [1, s, s, 256],
        },
        dispose() {
          out.dispose();
          x.dispose();
        },
      };
    },
  };
}

function windowCase(inverse: boolean): BenchCase {
  return {
    kernel: 'layout',
    impl: inverse ? 'window_unpartition' : 'window_partition',
    setup(rt: Runtime, { full }): BenchRun {
      const s = full ? 256 : 128;
      const [C, ws] = [96, 8];
      const gridShape = [1, s, s, C];
      const winShape = [(s / ws) * (s / ws), ws, ws, C];
      const xs = data(s * s * C, 4);
      const x = rt.upload(xs, inverse ? winShape : gridShape, 'f32', 'x');
      const out = lastOutput();
      return {
        shape: inverse
          ? `windows [${winShape.join(',')}] -> [${gridShape.join(',')}]`
          : `[${gridShape.join(',')}] -> windows ${ws}x${ws}`,
        run: () => out.set(inverse ? windowUnpartition(rt, x, ws, [s, s]) : windowPartition(rt, x, ws)),
        async check() {
          const ref = inverse
            ? windowUnpartitionRef(xs, winShape, ws, [s, s]).y
            : windowPartitionRef(xs, gridShape, ws).y;
          return sampledClose(await rt.read(out.get()), (i) => ref[i], 4096, 0, 0);
        },
        bytes: 8 * xs.length,
        downscaled: !full,
        dispose() {
          out.dispose();
          x.dispose();
        },
      };
    },
  };
}

function concatCase(): BenchCase {
  return {
    kernel: 'layout',
    impl: 'concat',
    setup(rt: Runtime, { full }): BenchRun {
      const s = full ? 64 : 32;
      const shape = [1, 256, s, s];
      const as = data(256 * s * s, 5);
      const bs = data(256 * s * s, 6);
      const a = rt.upload(as, shape, 'f32', 'a');
      const b = rt.upload(bs, shape, 'f32', 'b');
      const out = lastOutput();
      return {
        shape: `2 x [${shape.join(',')}] along C`,
        run: () => out.set(concat(rt, [a, b], 1)),
        async check() {
          const ref = concatRef(
            [
              { x: as, shape },
              { x: bs, shape },
            ],
            1,
          ).y;
          return sampledClose(await rt.read(out.get()), (i) => ref[i], 4096, 0, 0);
        },
        bytes: 16 * as.length,
        downscaled: !full,
        onnx: {
          op: 'Concat',
          inputs: { A: { shape, data: as }, B: { shape, data: bs } },
          attributes: { axis: 1 },
          outputShape: [1, 512, s, s],
        },
        dispose() {
          out.dispose();
          a.dispose();
          b.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [permuteCase(), windowCase(false), windowCase(true), concatCase()];
