// Benchmark for the guided_filter family (RobotSeg's guided-filter mask refinement of one frame) on
// the RoboEngine clip: frame 00001 of test/fixtures/video_clip (240x136) with the clip's robot mask
// (test/fixtures/eval/clip/gt, 4x4 majority). Full = the frame upscaled 4x to the clip's 544x960
// (nearest; the refinement cost does not depend on content); downscaled = 136x240.
// Checked first against test/ref/guided_filter.ts: masks equal except pixels decided within 2e-5 of
// 0.5 (see test/kernels/guided_filter.test.ts). Bytes: ~31 f32 planes read or written per pixel
// (4 input planes, 2 box passes x (4 + 2) planes x 2 radii, coefficients, chamfer 13x13 window
// mostly cached, 6 morphology passes, final). No ONNX peer (no such operator).
import { readFileSync } from 'node:fs';
import type { Runtime } from '../src/graph/runtime.js';
import { decodeLabelPng } from '../src/eval/labels.js';
import { guidedRefineMask } from '../src/kernels/guided_filter.js';
import { readImage } from '../src/node/image_io.js';
import { guidedRefineRef } from '../test/ref/guided_filter.js';
import { fixture } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

function load(scale: number): { h: number; w: number; rgb: Uint8Array; mask: Uint8Array } {
  const img = readImage(fixture('video_clip', '00001.jpg'));
  const gt = decodeLabelPng(readFileSync(fixture('eval', 'clip', 'gt', '00001.png')));
  const h = img.height * scale,
    w = img.width * scale;
  const rgb = new Uint8Array(h * w * 3);
  const mask = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sy = Math.floor(y / scale),
        sx = Math.floor(x / scale);
      for (let c = 0; c < 3; c++) rgb[3 * (y * w + x) + c] = img.data[3 * (sy * img.width + sx) + c];
      let n = 0;
      for (let dy = 0; dy < 4; dy++)
        for (let dx = 0; dx < 4; dx++) n += gt.data[(4 * sy + dy) * gt.width + 4 * sx + dx] ? 1 : 0;
      mask[y * w + x] = n >= 8 ? 1 : 0;
    }
  }
  return { h, w, rgb, mask };
}

const refineCase: BenchCase = {
  kernel: 'guided_filter',
  setup(rt: Runtime, { full }): BenchRun {
    const { h, w, rgb, mask } = load(full ? 4 : 1);
    const packed = new Uint32Array(h * w);
    for (let i = 0; i < packed.length; i++) packed[i] = rgb[3 * i] | (rgb[3 * i + 1] << 8) | (rgb[3 * i + 2] << 16);
    const rgbT = rt.upload(packed, [h, w], 'u32', 'rgb');
    const maskT = rt.upload(Uint32Array.from(mask), [h, w], 'u32', 'mask');
    let out: ReturnType<typeof guidedRefineMask> | null = null;
    const drop = () => {
      if (out) {
        out.mask.dispose();
        out.soft.dispose();
        out.aux.dispose();
      }
    };
    return {
      shape: `${h}x${w} frame, radii 3 and 7`,
      run: () => {
        drop();
        out = guidedRefineMask(rt, rgbT, maskT);
      },
      check: async () => {
        const got = (await rt.read(out!.mask, 'raw')) as Uint32Array;
        const ref = guidedRefineRef(rgb, mask, h, w);
        for (let i = 0; i < got.length; i++)
          if (got[i] !== ref.refined[i] && Math.abs(ref.soft[i] - 0.5) > 2e-5) return false;
        return true;
      },
      bytes: 31 * 4 * h * w,
      downscaled: !full,
      dispose() {
        drop();
        rgbT.dispose();
        maskT.dispose();
      },
    };
  },
};

export const cases: BenchCase[] = [refineCase];
