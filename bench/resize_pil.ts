// Benchmarks for the resize_pil family: the official SAM 2 video loader's frame preprocessing at
// SAM 2.1 tiny's 1024 px: a 960x544 RoboEngine-size frame (uint8 RGB packed one pixel per u32) ->
// 1024x1024 with Pillow's BICUBIC (two integer passes), then the /255, mean/std table lookup to
// f32 [1, 3, 1024, 1024]. Downscaled when not full: 240x136 -> 256x256. Bytes count the packed input,
// the packed output and the f32 tensor once; FLOPs count one multiply-add (2) per tap and channel.
// The CPU check compares the whole packed result with test/ref/resize_pil.ts (bit-exact). No ONNX peer
// (ONNX Resize has no Pillow-compatible fixed-point mode).

import type { Runtime } from '../src/graph/runtime.js';
import { normalizePacked, packRgb, pilBicubicAxis, resizePil, unpackRgb } from '../src/kernels/resize_pil.js';
import { resizePilRef } from '../test/ref/resize_pil.js';
import { lastOutput } from './elementwise.js';
import type { BenchCase, BenchRun } from './types.js';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

export const cases: BenchCase[] = [
  {
    kernel: 'resize_pil',
    setup(rt: Runtime, { full }): BenchRun {
      const [w, h, S] = full ? [960, 544, 1024] : [240, 136, 256];
      let s = 7;
      const data = new Uint8Array(w * h * 3);
      for (let i = 0; i < data.length; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        data[i] = (s >>> 16) & 255;
      }
      const img = { width: w, height: h, data };
      const x = rt.upload(packRgb(img), [h, w], 'u32', 'frame');
      const packed = lastOutput();
      const out = lastOutput();
      const taps = (i: number, o: number) => {
        const a = pilBicubicAxis(i, o);
        let t = 0;
        for (let d = 0; d < o; d++) t += a.bounds[2 * d + 1];
        return t;
      };
      return {
        shape: `${w}x${h} RGB -> ${S}x${S} bicubic (PIL) -> f32 3x${S}x${S}`,
        run() {
          const r = resizePil(rt, x, [S, S]);
          packed.set(r);
          out.set(normalizePacked(rt, r, MEAN, STD));
        },
        async check() {
          const got = unpackRgb(await rt.read(packed.get(), 'raw'), S, S);
          const want = resizePilRef(img, S, S);
          return got.data.every((v, i) => v === want.data[i]);
        },
        flops: 2 * 3 * (h * taps(w, S) + S * taps(h, S)),
        bytes: 4 * (w * h + S * S) + 12 * S * S,
        downscaled: !full,
        dispose() {
          x.dispose();
          packed.dispose();
          out.dispose();
        },
      };
    },
  },
];
