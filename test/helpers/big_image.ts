// Large test photos generated on the fly (nothing big is committed): a real photo upscaled bilinearly
// to the requested size and written as a fast-compressed PNG. Used by the 12 MP CLI test and the
// 50 MP bench (bench/scripts/big_image.ts).
import { PNG } from 'pngjs';
import type { RgbImage } from '../../src/image/rgb.js';
import { writeFileAtomic } from '../../src/node/atomic_write.js';
import { readImage } from '../../src/node/image_io.js';

/** Bilinear upscale (pixel centres aligned) of RGB bytes to width x height. */
export function upscaleRgb(src: RgbImage, width: number, height: number): RgbImage {
  const { width: w, height: h, data } = src;
  const out = new Uint8Array(3 * width * height);
  const xs = new Float64Array(width);
  for (let x = 0; x < width; x++) xs[x] = Math.min(Math.max(((x + 0.5) * w) / width - 0.5, 0), w - 1);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max(((y + 0.5) * h) / height - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = xs[x];
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const tx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const a = data[3 * (y0 * w + x0) + c] * (1 - tx) + data[3 * (y0 * w + x1) + c] * tx;
        const b = data[3 * (y1 * w + x0) + c] * (1 - tx) + data[3 * (y1 * w + x1) + c] * tx;
        out[3 * (y * width + x) + c] = Math.round(a * (1 - ty) + b * ty);
      }
    }
  }
  return { width, height, data: out };
}

/** Write `srcPath` upscaled to width x height as an RGB PNG at `path` (deflate level 1: seconds, not minutes). */
export function writeUpscaledPng(srcPath: string, width: number, height: number, path: string): void {
  const img = upscaleRgb(readImage(srcPath), width, height);
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  (png as unknown as { data: Buffer }).data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  writeFileAtomic(
    path,
    PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 1 }),
  );
}
