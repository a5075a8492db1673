// Image dimensions from the file header (PNG IHDR, JPEG SOFn), read before decoding so that an image
// too large to decode in memory is refused with a clear message instead of exhausting the host.
// Host-agnostic: bytes in, no Node APIs. MAX_IMAGE_PIXELS is the one size limit: the CLI and the
// server check it from the header, and the decoder (decode.ts) uses it as its default.

import { isPng } from '../eval/png.js';
import { jpegHeader } from './jpeg.js';

/**
 * Largest image accepted, in pixels: 64 MP (e.g. 9240x6930; a 50 MP 8160x6120 photo fits). Decoding
 * holds the RGBA and RGB copies (7 bytes a pixel, ~450 MB at the limit) next to the masks and the
 * overlay; the GPU side runs in bands of rows and has no size limit of its own.
 */
export const MAX_IMAGE_PIXELS = 64_000_000;

/** True when the bytes start like a JPEG (SOI marker and the next marker's 0xff). */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Width and height from the header alone (PNG IHDR / JPEG SOFn), or null when it does not say. */
export function imageSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (isPng(bytes) && bytes.length >= 24) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (isJpeg(bytes)) {
    const h = jpegHeader(bytes);
    return h && { width: h.width, height: h.height };
  }
  return null;
}

/** Throw when the header says the image has more than MAX_IMAGE_PIXELS pixels. */
export function checkImageSize(b: Uint8Array, name = 'image'): void {
  const s = imageSize(b);
  if (s && s.width * s.height > MAX_IMAGE_PIXELS)
    throw new Error(
      `${name}: ${s.width}x${s.height} is ${((s.width * s.height) / 1e6).toFixed(1)} MP, over the ${MAX_IMAGE_PIXELS / 1e6} MP limit (MAX_IMAGE_PIXELS: decoding needs ~7 bytes a pixel of host memory); downscale it first`,
    );
}
