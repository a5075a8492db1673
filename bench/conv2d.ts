// Benchmarks for the conv2d family, on SAM 2.1 tiny's convolutions at 1024 px:
//   patch embed 3->96 k7 s4 p3 on 1024x1024 (256x256 when not full)
//   memory-fuser depthwise 7x7 p3 on 256 x 64x64 (small enough to run full everywhere)
//   1x1 256->256 on 64x64 (FPN lateral / memory encoder; 32x32 when not full)
//   mask downsampler 3x3 s2 p1 16->64 on 256x256 (128x128 when not full)
// each for every kernel variant that applies ('tiled' is the real-GPU path; its depthwise row is left
// out: a 32-channel tile for a 1-channel group wastes 31/32 of the work, and 'auto' never picks it). FLOPs count 2 per multiply-add of the direct definition.
// check() compares 4096 sampled outputs with a float64 evaluation of those outputs.

import type { Runtime } from '../src/graph/runtime.js';
import { conv2d, type Conv2dImpl } from '../src/kernels/conv2d.js';
import { seededArray } from '../test/helpers/rng.js';
import { lastOutput } from './elementwise.js';
import { roundF16Array } from '../src/graph/dtype.js';
import { SkipCase } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

/** Deterministic uniform data in [-scale, scale) (mulberry32). */
export const data = seededArray;

/** True when `samples` outputs spread over y match ref(i) within atol + rtol |ref|. */
export function sampledClose(
  y: ArrayLike<number>,
  ref: (i: number) => number,
  samples = 4096,
  atol = 1e-4,
  rtol = 1e-4,
): boolean {
  const m = Math.min(samples, y.length);
  for (let j = 0; j < m; j++) {
    // spread over the tensor, nudged so consecutive samples hit different columns
    const k = Math.min(y.length - 1, Math.floor((j * y.length) / m) + (j % 7));
    const r = ref(k);
    if (!(Math.abs(y[k] - r) <= atol + rtol * Math.abs(r))) return false;
  }
  return true;
}

interface ConvShape {
  name: string;
  B: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  k: number;
  s: number;
  p: number;
  G: number;
  /** Spatial size when not full (null: always the real shape). */
  small: number | null;
}

const SHAPES: Array<ConvShape & { impls: Conv2dImpl[] }> = [
  {
    name: 'patch embed',
    B: 1,
    Cin: 3,
    H: 1024,
    W: 1024,
    Cout: 96,
    k: 7,
    s: 4,
    p: 3,
    G: 1,
    small: 256,
    impls: ['direct', 'rows', 'tiled'],
  },
  {
    name: 'fuser depthwise',
    B: 1,
    Cin: 256,
    H: 64,
    W: 64,
    Cout: 256,
    k: 7,
    s: 1,
    p: 3,
    G: 256,
    small: null,
    impls: ['depthwise', 'direct'],
  },
  {
    name: '1x1',
    B: 1,
    Cin: 256,
    H: 64,
    W: 64,
    Cout: 256,
    k: 1,
    s: 1,
    p: 0,
    G: 1,
    small: 32,
    impls: ['pointwise', 'direct', 'tiled'],
  },
  {
    name: 'mask downsampler',
    B: 1,
    Cin: 16,
    H: 256,
    W: 256,
    Cout: 64,
    k: 3,
    s: 2,
    p: 1,
    G: 1,
    small: 128,
    impls: ['direct', 'rows', 'tiled'],
  },
];

/** `weight` 'f16': the weight stored f16 (--precision f16, W_F16), reference on the rounded weight, no peer. */
function convCase(c: ConvShape, impl: Conv2dImpl, weight: 'f32' | 'f16' = 'f32'): BenchCase {
  const half = weight === 'f16';
  return {
    kernel: 'conv2d',
    impl: half ? `${impl}:f16w` : impl,
    setup(rt: Runtime, { full }): BenchRun {
      if (half && !rt.hasF16) throw new SkipCase('f16 weights need the shader-f16 feature');
      const H = full || c.small === null ? c.H : c.small;
      const W = full || c.small === null ? c.W : c.small;
      const cinG = c.Cin / c.G;
      const xs = [c.B, c.Cin, H, W];
      const ws = [c.Cout, cinG, c.k, c.k];
      const xv = data(c.B * c.Cin * H * W, 1);
      const w32 = data(c.Cout * cinG * c.k * c.k, 2, 1 / Math.sqrt(cinG * c.k * c.k));
      const wv = half ? roundF16Array(w32) : w32;
      const bv = data(c.Cout, 3, 0.1);
      const x = rt.upload(xv, xs, 'f32', 'x');
      const w = rt.upload(w32, ws, weight, 'w');
      const b = rt.upload(bv, [c.Cout], 'f32', 'b');
      const OH = Math.floor((H + 2 * c.p - c.k) / c.s) + 1;
      const OW = Math.floor((W + 2 * c.p - c.k) / c.s) + 1;
      const out = lastOutput();
      const opts = { stride: c.s, padding: c.p, groups: c.G, impl };
      const ref = (i: number) => {
        const ow = i % OW,
          oh = Math.floor(i / OW) % OH,
          co = Math.floor(i / (OW * OH)) % c.Cout,
          bb = Math.floor(i / (OW * OH * c.Cout));
        const g = Math.floor(co / (c.Cout / c.G));
        let s = bv[co];
        for (let ci = 0; ci < cinG; ci++)
          for (let kh = 0; kh < c.k; kh++) {
            const ih = oh * c.s - c.p + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < c.k; kw++) {
              const iw = ow * c.s - c.p + kw;
              if (iw < 0 || iw >= W) continue;
              s += xv[((bb * c.Cin + g * cinG + ci) * H + ih) * W + iw] * wv[((co * cinG + ci) * c.k + kh) * c.k + kw];
            }
          }
        return s;
      };
      return {
        shape: `${c.name} [${xs.join(',')}] * [${ws.join(',')}] s${c.s} p${c.p}${c.G > 1 ? ` g${c.G}` : ''}`,
        run: () => out.set(conv2d(rt, x, w, b, opts)),
        check: async () => sampledClose(await rt.read(out.get()), ref),
        flops: 2 * c.B * c.Cout * OH * OW * cinG * c.k * c.k,
        bytes: 4 * (xv.length + c.Cout + c.B * c.Cout * OH * OW) + wv.length * (half ? 2 : 4),
        downscaled: H !== c.H,
        onnx: half
          ? undefined
          : {
              op: 'Conv',
              inputs: { X: { shape: xs, data: xv }, W: { shape: ws, data: wv }, B: { shape: [c.Cout], data: bv } },
              attributes: {
                kernel_shape: [c.k, c.k],
                strides: [c.s, c.s],
                pads: [c.p, c.p, c.p, c.p],
                dilations: [1, 1],
                group: c.G,
              },
              outputShape: [c.B, c.Cout, OH, OW],
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
  ...SHAPES.flatMap((s) => s.impls.map((impl) => convCase(s, impl))),
  // f16 weights: every conv2d variant once (W_F16)
  ...SHAPES.flatMap((s) =>
    (s.name === '1x1' || s.name === 'fuser depthwise' ? [s.impls[0]] : []).map((i) => convCase(s, i, 'f16')),
  ),
  convCase(SHAPES[0], 'direct', 'f16'),
  convCase(SHAPES[0], 'tiled', 'f16'),
];
