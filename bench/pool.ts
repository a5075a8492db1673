// Benchmarks for the pool family: Hiera's q-pooling, MaxPool 2x2 stride 2 on the stage-1 -> stage-2
// shortcut (256x256 tokens x 192 channels after the projection; 128x128 when not full), on the NHWC
// token grid the model uses and on the same data in NCHW. GB/s counts input + output bytes once.
// The ONNX peer row is MaxPool on the NCHW copy of the data (ONNX pools NCHW only).

import type { Runtime } from '../src/graph/runtime.js';
import { maxPool2d, type PoolLayout } from '../src/kernels/pool.js';
import { data, sampledClose } from './conv2d.js';
import { lastOutput } from './elementwise.js';
import type { BenchCase, BenchRun } from './types.js';

function qpoolCase(layout: PoolLayout): BenchCase {
  return {
    kernel: 'pool',
    impl: `max.${layout}`,
    setup(rt: Runtime, { full }): BenchRun {
      const [B, C] = [1, 192];
      const H = full ? 256 : 128;
      const W = H;
      const [OH, OW] = [H / 2, W / 2];
      const nchw = data(B * C * H * W, 7);
      let xv = nchw;
      if (layout === 'NHWC') {
        xv = new Float32Array(nchw.length);
        for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) xv[p * C + c] = nchw[c * H * W + p];
      }
      const xs = layout === 'NHWC' ? [B, H, W, C] : [B, C, H, W];
      const x = rt.upload(xv, xs, 'f32', 'x');
      const out = lastOutput();
      const ref = (i: number) => {
        // output i in the layout's order -> (c, oh, ow), max over the NCHW copy
        const [c, oh, ow] =
          layout === 'NHWC'
            ? [i % C, Math.floor(i / (C * OW)) % OH, Math.floor(i / C) % OW]
            : [Math.floor(i / (OH * OW)) % C, Math.floor(i / OW) % OH, i % OW];
        let m = -Infinity;
        for (let a = 0; a < 2; a++)
          for (let b = 0; b < 2; b++) m = Math.max(m, nchw[(c * H + 2 * oh + a) * W + 2 * ow + b]);
        return m;
      };
      return {
        shape: `MaxPool 2x2 s2 ${layout} [${xs.join(',')}]`,
        run: () => out.set(maxPool2d(rt, x, { kernel: 2, stride: 2, layout })),
        check: async () => sampledClose(await rt.read(out.get()), ref, 4096, 0, 0),
        bytes: 4 * (B * C * H * W + B * C * OH * OW),
        downscaled: !full,
        onnx: {
          op: 'MaxPool',
          inputs: { X: { shape: [B, C, H, W], data: nchw } },
          attributes: { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], ceil_mode: 0 },
          outputShape: [B, C, OH, OW],
        },
        dispose() {
          out.dispose();
          x.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [qpoolCase('NHWC'), qpoolCase('NCHW')];
