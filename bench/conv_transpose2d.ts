// Benchmarks for the conv_transpose2d family: SAM's mask-decoder upscaling ConvTranspose 256->64,
// kernel 2 stride 2, on the 64x64 image embedding (32x32 when not full), for the k2s2 fast path and
// the general gather kernel. FLOPs count 2 per multiply-add (each output pixel reads one input pixel).
// check() compares 4096 sampled outputs with a float64 evaluation of those outputs.
// `:f16w` rows: the weight stored f16 (--precision f16, W_F16), reference on the rounded weight, no peer.

import type { Runtime } from '../src/graph/runtime.js';
import { convTranspose2d, type ConvTranspose2dImpl } from '../src/kernels/conv_transpose2d.js';
import { data, sampledClose } from './conv2d.js';
import { lastOutput } from './elementwise.js';
import { roundF16Array } from '../src/graph/dtype.js';
import { SkipCase } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

function upscaleCase(impl: ConvTranspose2dImpl, weight: 'f32' | 'f16' = 'f32'): BenchCase {
  const half = weight === 'f16';
  return {
    kernel: 'conv_transpose2d',
    impl: half ? `${impl}:f16w` : impl,
    setup(rt: Runtime, { full }): BenchRun {
      if (half && !rt.hasF16) throw new SkipCase('f16 weights need the shader-f16 feature');
      const [B, Cin, Cout, k] = [1, 256, 64, 2];
      const H = full ? 64 : 32;
      const W = H;
      const xs = [B, Cin, H, W];
      const ws = [Cin, Cout, k, k];
      const xv = data(B * Cin * H * W, 4);
      const w32 = data(Cin * Cout * k * k, 5, 1 / Math.sqrt(Cin));
      const wv = half ? roundF16Array(w32) : w32;
      const bv = data(Cout, 6, 0.1);
      const x = rt.upload(xv, xs, 'f32', 'x');
      const w = rt.upload(w32, ws, weight, 'w');
      const b = rt.upload(bv, [Cout], 'f32', 'b');
      const [OH, OW] = [2 * H, 2 * W];
      const out = lastOutput();
      const ref = (i: number) => {
        const ow = i % OW,
          oh = Math.floor(i / OW) % OH,
          co = Math.floor(i / (OW * OH)) % Cout;
        const [ih, iw, kh, kw] = [oh >> 1, ow >> 1, oh & 1, ow & 1];
        let s = bv[co];
        for (let ci = 0; ci < Cin; ci++) s += xv[(ci * H + ih) * W + iw] * wv[((ci * Cout + co) * k + kh) * k + kw];
        return s;
      };
      return {
        shape: `[${xs.join(',')}] ^T [${ws.join(',')}] s2`,
        run: () => out.set(convTranspose2d(rt, x, w, b, { stride: 2, impl })),
        check: async () => sampledClose(await rt.read(out.get()), ref),
        flops: 2 * B * Cout * OH * OW * Cin,
        bytes: 4 * (xv.length + Cout + B * Cout * OH * OW) + wv.length * (half ? 2 : 4),
        downscaled: !full,
        onnx: half
          ? undefined
          : {
              op: 'ConvTranspose',
              inputs: { X: { shape: xs, data: xv }, W: { shape: ws, data: wv }, B: { shape: [Cout], data: bv } },
              attributes: { kernel_shape: [k, k], strides: [2, 2], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 },
              outputShape: [B, Cout, OH, OW],
            },
        dispose() {
          out.dispose();
          x.dispose();
          w.dispose();
          b.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [
  upscaleCase('k2s2'),
  upscaleCase('general'),
  upscaleCase('k2s2', 'f16'),
  upscaleCase('general', 'f16'),
];
