// Node image I/O: PNG/JPEG -> RGB through the one decoder of every host (src/image/decode.ts, equal to
// python3-pil's Image.open(p).convert('RGB')); pngjs writes 8-bit masks and overlays (atomically: src/node/atomic_write.ts).
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import type { RgbImage } from '../image/rgb.js';
import { checkImageSize } from '../image/image_size.js';
import { type DecodedImage, type DecodeOptions, decodeImageBytes } from '../image/decode.js';
import { writeFileAtomic } from './atomic_write.js';
import { checkInputFile } from './paths.js';

export type { DecodedImage, DecodeOptions } from '../image/decode.js';

/** PNG or JPEG bytes -> RGB as PIL's convert('RGB'); throws an Error naming `name` for anything else. */
export function decodeImage(bytes: Uint8Array, name = 'image', opts: DecodeOptions = {}): DecodedImage {
  checkImageSize(bytes, name);
  return decodeImageBytes(bytes, name, opts);
}

/** Read and decode an image file (see decodeImage; `opts.exifRotate` applies the EXIF orientation). */
export function readImage(path: string, opts: DecodeOptions = {}): DecodedImage {
  checkInputFile('image', path); // a regular file: never read /dev/zero or a FIFO forever
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read image '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const img = decodeImage(bytes, path, opts);
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
