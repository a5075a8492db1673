// Size of a PNG or JPEG from its header, read before decoding so that a frame over --max-frame-pixels is
// refused without allocating its pixels (a 100-byte PNG may claim 65535x65535).

export interface ImageHeader {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
}

const be16 = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const be32 = (b: Uint8Array, i: number) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];

/** PNG: IHDR must be the first chunk. JPEG: the first SOFn marker. Null when not PNG/JPEG or truncated. */
export function readImageHeader(b: Uint8Array): ImageHeader | null {
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    // signature (8), IHDR length (4), 'IHDR' (4), width (4), height (4)
    if (b[12] !== 0x49 || b[13] !== 0x48 || b[14] !== 0x44 || b[15] !== 0x52) return null;
    return { format: 'png', width: be32(b, 16), height: be32(b, 20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    let i = 2;
    while (i + 4 <= b.length) {
      if (b[i] !== 0xff) return null;
      const m = b[i + 1];
      if (m === 0xff) {
        i++; // fill byte
        continue;
      }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        i += 2; // markers without a length
        continue;
      }
      if (m === 0xd9 || m === 0xda) return null; // end of image / scan before any frame header
      const len = be16(b, i + 2);
      if (len < 2) return null;
      // SOF0..SOF15 except DHT (c4), JPG (c8), DAC (cc)
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        if (i + 9 > b.length) return null;
        return { format: 'jpeg', height: be16(b, i + 5), width: be16(b, i + 7) };
      }
      i += 2 + len;
    }
    return null;
  }
  return null;
}
