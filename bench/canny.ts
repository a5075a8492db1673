// Benchmarks for the canny family on a real photo (test/fixtures/canny/panda_320x240.png, resampled
// bilinearly on the host to the benchmark size):
//   opencv  the whole cv2.Canny pipeline (RGB2GRAY, Sobel, L1 magnitude, NMS, double threshold,
//           hysteresis, 0/255 map) on a 1080x1920 frame (270x480 when not full), queued with a fixed
//           4 hysteresis passes (they converge in 1-2 here; later passes exit at once on the GPU).
//           Checked bit-exact against the CPU reference, and the flags must show convergence.
//   kornia  RobotSeg's SEMA edge map (robotsegEdgeMap: _safe_to_gray, 5x5 blur, Sobel, L2 magnitude,
//           NMS, clamp) on the 1024x1024 model input (256x256 when not full).
// GB/s counts each stage's inputs and outputs once (opencv 72 B/pixel, kornia 84 B/pixel). No ONNX
// peer: ONNX has no Canny operator.

import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import { type CannyResult, cannyQueued, gaussianKernelKornia } from '../src/kernels/canny.js';
import { robotsegEdgeMap } from '../src/model/sema.js';
import { readImage } from '../src/node/image_io.js';
import { cannyRef } from '../test/ref/canny.js';
import { fixture } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

const PASSES = 4;

/** The fixture photo resampled (bilinear, half-pixel centres) to h x w, planar RGB 0..255 integers. */
function photo(h: number, w: number): Float32Array {
  const img = readImage(fixture('canny', 'panda_320x240.png'));
  const out = new Float32Array(3 * h * w);
  const src = (d: number, n: number, m: number) => {
    const s = Math.min(Math.max((d + 0.5) * (n / m) - 0.5, 0), n - 1);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, n - 1), s - i0] as const;
  };
  for (let y = 0; y < h; y++) {
    const [y0, y1, fy] = src(y, img.height, h);
    for (let x = 0; x < w; x++) {
      const [x0, x1, fx] = src(x, img.width, w);
      for (let c = 0; c < 3; c++) {
        const v = (yy: number, xx: number) => img.data[3 * (yy * img.width + xx) + c];
        const top = v(y0, x0) * (1 - fx) + v(y0, x1) * fx;
        const bot = v(y1, x0) * (1 - fx) + v(y1, x1) * fx;
        out[c * h * w + y * w + x] = Math.round(top * (1 - fy) + bot * fy);
      }
    }
  }
  return out;
}

const opencvCase: BenchCase = {
  kernel: 'canny',
  impl: 'opencv',
  setup(rt: Runtime, { full }): BenchRun {
    const [h, w] = full ? [1080, 1920] : [270, 480];
    const planes = photo(h, w);
    const x = rt.upload(planes, [1, 3, h, w], 'f32', 'image');
    let last: CannyResult | null = null;
    return {
      shape: `cv2.Canny 100/200 [1,3,${h},${w}]`,
      run: () => {
        last?.dispose();
        last = cannyQueued(rt, x, { mode: 'opencv', low: 100, high: 200, passes: PASSES });
      },
      check: async () => {
        const flags = (await rt.read(last!.flags!, 'raw')) as Uint32Array;
        if (flags[PASSES] !== 0) return false;
        const edges = await rt.read(last!.edges);
        const ref = cannyRef(planes, 1, 3, h, w, 'opencv', 100, 200, null);
        return ref.edges.every((v, i) => v * 255 === edges[i]);
      },
      bytes: 72 * h * w,
      downscaled: !full,
      dispose() {
        last?.dispose();
        x.dispose();
      },
    };
  },
};

const korniaCase: BenchCase = {
  kernel: 'canny',
  impl: 'kornia-sema',
  setup(rt: Runtime, { full }): BenchRun {
    const s = full ? 1024 : 256;
    const planes = photo(s, s);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const xs = Float32Array.from(planes, (v, i) => {
      const c = Math.floor(i / (s * s));
      return (v / 255 - mean[c]) / std[c];
    });
    const x = rt.upload(xs, [1, 3, s, s], 'f32', 'model_input');
    let last: Tensor | null = null;
    return {
      shape: `robotsegEdgeMap [1,3,${s},${s}]`,
      run: () => {
        last?.dispose();
        last = robotsegEdgeMap(rt, x);
      },
      check: async () => {
        const got = await rt.read(last!);
        const ref = cannyRef(xs, 1, 3, s, s, 'kornia', 0.1, 0.2, gaussianKernelKornia(5, 1), true).nms.magNms;
        // f32 on both sides; NMS may flip between near-equal neighbours on an ulp: allow 1 in 10^4
        let flipped = 0;
        let worst = 0;
        for (let i = 0; i < got.length; i++) {
          if (got[i] > 0 !== ref[i] > 0) flipped++;
          else worst = Math.max(worst, Math.abs(got[i] - ref[i]) / Math.max(ref[i], 1e-3));
        }
        return flipped <= got.length * 1e-4 && worst < 1e-4;
      },
      bytes: 84 * s * s,
      downscaled: !full,
      dispose() {
        last?.dispose();
        x.dispose();
      },
    };
  },
};

export const cases: BenchCase[] = [opencvCase, korniaCase];
