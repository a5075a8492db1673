// Image dimensions from the file header (PNG IHDR, JPEG SOFn), read before decoding so that an image
// too large to decode in memory is refused with a clear message instead of exhausting the host.
// Host-agnostic: bytes in, no Node APIs.

/**
 * Largest image accepted, in pixels: 64 MP (e.g. 9240x6930; a 50 MP 8160x6120 photo fits). Decoding
 * holds the RGBA and RGB copies (7 bytes a pixel, ~450 MB at the limit) next to the masks and the
 * overlay; the GPU side runs in bands of rows and has no size limit of its own.
 */
export const MAX_IMAGE_PIXELS = 64_000_000;

/** Width and height from a PNG or JPEG header, or null when the header does not say (not PNG/JPEG, truncated). */
export function imageHeaderSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const m = b[i + 1];
      if (m === 0xff) {
        i++; // fill byte
        continue;
      }
      if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
        i += 2;
        continue;
      }
      const len = (b[i + 2] << 8) | b[i + 3];
      // SOF0..SOF15 except DHT (c4), JPG (c8), DAC (cc): precision, height, width
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc)
        return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8] };
      if (m === 0xda || m === 0xd9) return null; // scan before any frame header
      i += 2 + len;
    }
  }
  return null;
}

/** Throw when the header says the image has more than MAX_IMAGE_PIXELS pixels. */
export function checkImageSize(b: Uint8Array, name = 'image'): void {
  const s = imageHeaderSize(b);
  if (s && s.width * s.height > MAX_IMAGE_PIXELS)
    throw new Error(
      `${name}: ${s.width}x${s.height} is ${((s.width * s.height) / 1e6).toFixed(1)} MP, over the ${MAX_IMAGE_PIXELS / 1e6} MP limit (MAX_IMAGE_PIXELS: decoding needs ~7 bytes a pixel of host memory); downscale it first`,
    );
}
