// Node image codecs (pngjs, jpeg-js): read PNG/JPEG as RGB, write 8-bit masks and overlays (atomically:
// src/node/atomic_write.ts).
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { type RgbImage, rgbaToRgb } from '../graph/image.js';
import { writeFileAtomic } from './atomic_write.js';
import { checkInputFile } from './paths.js';

export function decodeImage(bytes: Uint8Array, name = 'image'): RgbImage {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    let png: PNG;
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new Error(`${name}: corrupt PNG (${(e as Error).message})`);
    }
    return rgbaToRgb(png.data, png.width, png.height);
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048 });
    } catch (e) {
      throw new Error(`${name}: corrupt JPEG (${(e as Error).message})`);
    }
    return rgbaToRgb(img.data, img.width, img.height);
  }
  throw new Error(`${name}: not a PNG or JPEG file`);
}

export function readImage(path: string): RgbImage {
  checkInputFile('image', path); // a regular file: never read /dev/zero or a FIFO forever
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read image '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const img = decodeImage(bytes, path);
  if (img.width === 0 || img.height === 0) throw new Error(`${path}: empty image`);
  return img;
}

/** Read a mask PNG: nonzero pixels (any channel) are foreground. Returns H*W 0/1 bytes. */
export function readMask(path: string): { width: number; height: number; data: Uint8Array } {
  const img = readImage(path);
  const data = new Uint8Array(img.width * img.height);
  for (let i = 0; i < data.length; i++) data[i] = img.data[3 * i] | img.data[3 * i + 1] | img.data[3 * i + 2] ? 1 : 0;
  return { width: img.width, height: img.height, data };
}

/** 8-bit grayscale PNG from values (0/1 masks are scaled to 0/255). */
export function writeMaskPng(path: string, width: number, height: number, mask: ArrayLike<number>, scale = 255): void {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const buf = Buffer.alloc(width * height);
  for (let i = 0; i < width * height; i++) buf[i] = Math.max(0, Math.min(255, Math.round(mask[i] * scale)));
  (png as unknown as { data: Buffer }).data = buf;
  writeFileAtomic(path, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
}

export function writeRgbPng(path: string, img: RgbImage): void {
  const png = new PNG({ width: img.width, height: img.height });
  for (let i = 0; i < img.width * img.height; i++) {
    png.data[4 * i] = img.data[3 * i];
    png.data[4 * i + 1] = img.data[3 * i + 1];
    png.data[4 * i + 2] = img.data[3 * i + 2];
    png.data[4 * i + 3] = 255;
  }
  writeFileAtomic(path, PNG.sync.write(png));
}
