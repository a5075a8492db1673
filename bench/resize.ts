// Benchmarks for the resize family (SAM 2.1 tiny at 1024 px):
//   * image preprocessing: 3x1080x1920 frame -> 3x1024x1024, antialiased bilinear (downscaled when not
//     full: 3x270x480 -> 3x256x256);
//   * mask logits 64x64 -> 256x256 bilinear (3 masks; always the real shape, it is small);
//   * mask logits 256x256 -> original 1080x1920 bilinear (-> 270x480 when not full);
//   * FPN top-down nearest x2, 256 channels 32x32 -> 64x64 (16 -> 32 when not full);
//   * Hiera pos_embed bicubic 96x7x7 -> 256x256 (-> 64x64 when not full).
// GB/s counts input + output bytes once; FLOPs count one multiply-add (2 FLOPs) per tap. The CPU check
// compares 4096 sampled outputs with the float64 reference. ONNX peers: Resize (opset 17) for the
// non-antialiased rows (antialias needs opset 18).

import type { Runtime } from '../src/graph/runtime.js';
import { resize, resizeAxisTable, type ResizeMode } from '../src/kernels/resize.js';
import { resizeRef } from '../test/ref/resize.js';
import { data } from './conv2d.js';
import { lastOutput } from './elementwise.js';
import type { BenchCase, BenchRun } from './types.js';

interface ResizeShape {
  name: string;
  mode: ResizeMode;
  antialias: boolean;
  full: { c: number; inHW: [number, number]; outHW: [number, number] };
  small: { c: number; inHW: [number, number]; outHW: [number, number] } | null;
}

const SHAPES: ResizeShape[] = [
  {
    name: 'preprocess',
    mode: 'bilinear',
    antialias: true,
    full: { c: 3, inHW: [1080, 1920], outHW: [1024, 1024] },
    small: { c: 3, inHW: [270, 480], outHW: [256, 256] },
  },
  {
    name: 'mask logits x4',
    mode: 'bilinear',
    antialias: false,
    full: { c: 3, inHW: [64, 64], outHW: [256, 256] },
    small: null,
  },
  {
    name: 'mask to frame',
    mode: 'bilinear',
    antialias: false,
    full: { c: 3, inHW: [256, 256], outHW: [1080, 1920] },
    small: { c: 3, inHW: [256, 256], outHW: [270, 480] },
  },
  {
    name: 'fpn x2',
    mode: 'nearest',
    antialias: false,
    full: { c: 256, inHW: [32, 32], outHW: [64, 64] },
    small: { c: 256, inHW: [16, 16], outHW: [32, 32] },
  },
  {
    name: 'pos_embed',
    mode: 'bicubic',
    antialias: false,
    full: { c: 96, inHW: [7, 7], outHW: [256, 256] },
    small: { c: 96, inHW: [7, 7], outHW: [64, 64] },
  },
];

/** Indices spread over the output, as bench/conv2d.ts sampledClose picks them. */
function sampleIndices(n: number, samples = 4096): number[] {
  const m = Math.min(samples, n);
  return Array.from({ length: m }, (_, j) => Math.min(n - 1, Math.floor((j * n) / m) + (j % 7)));
}

function resizeCase(s: ResizeShape): BenchCase {
  return {
    kernel: 'resize',
    impl: `${s.mode}${s.antialias ? '_aa' : ''}`,
    setup(rt: Runtime, { full }): BenchRun {
      const downscaled = !full && s.small !== null;
      const { c, inHW, outHW } = downscaled ? s.small! : s.full;
      const shape = [1, c, inHW[0], inHW[1]];
      const xs = data(c * inHW[0] * inHW[1], 5);
      const x = rt.upload(xs, shape, 'f32', 'x');
      const out = lastOutput();
      const taps = (i: number) => {
        const t = resizeAxisTable(s.mode, s.antialias, inHW[i], outHW[i]);
        return t.idx.length / outHW[i];
      };
      const outN = c * outHW[0] * outHW[1];
      const idx = sampleIndices(outN);
      return {
        shape: `${s.name} ${s.mode}${s.antialias ? ' antialias' : ''} ${c}x${inHW.join('x')} -> ${c}x${outHW.join('x')}`,
        run: () => out.set(resize(rt, x, outHW, { mode: s.mode, antialias: s.antialias })),
        async check() {
          const y = await rt.read(out.get());
          const ref = resizeRef(xs, shape, outHW, s.mode, s.antialias, idx);
          return idx.every((k, j) => Math.abs(y[k] - ref[j]) <= 2e-6 + 1e-5 * Math.abs(ref[j]));
        },
        flops: 2 * outN * taps(0) * taps(1),
        bytes: 4 * (xs.length + outN),
        downscaled,
        onnx: s.antialias
          ? undefined
          : {
              op: 'Resize',
              inputs: {
                X: { shape, data: xs },
                roi: { shape: [0], data: new Float32Array(0) },
                scales: { shape: [0], data: new Float32Array(0) },
                sizes: { shape: [4], data: Float32Array.from([1, c, outHW[0], outHW[1]]) },
              },
              attributes:
                s.mode === 'nearest'
                  ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
                  : s.mode === 'bilinear'
                    ? { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }
                    : {
                        mode: 'cubic',
                        coordinate_transformation_mode: 'pytorch_half_pixel',
                        cubic_coeff_a: { float: -0.75 },
                      },
              outputShape: [1, c, outHW[0], outHW[1]],
            },
        dispose() {
          out.dispose();
          x.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = SHAPES.map(resizeCase);
