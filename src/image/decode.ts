// The one image decoder of every host (Node CLI, library, browser entry, web demo): PNG or JPEG bytes
// -> the RGB bytes that Debian 12's python3-pil 9.4 (libjpeg62-turbo 2.1.5, zlib) returns for
// `Image.open(path).convert('RGB')`, which is how the official SAM 2.1 / RobotSeg code reads images
// and video frames. Host-agnostic and synchronous; nothing goes through a canvas (browsers may colour-
// manage or decode JPEG differently).
//
// JPEG: src/image/jpeg.ts (libjpeg-turbo's decoder, ported), then PIL's mode conversion: L -> grey
// replicated; CMYK (PIL always assumes Adobe's inverted CMYK, "CMYK;I") -> Convert.c cmyk2rgb.
// PNG: src/eval/png.ts's samples, then PIL's unpacking and convert('RGB'):
//   grey 1/2/4-bit  scaled to 0..255 (v * 255 / (2^bits - 1));  grey 8-bit as is;
//   grey 16-bit     PIL mode "I", and convert('RGB') CLIPS the value to 255 (it does not scale: a
//                   16-bit photo comes out nearly white). Reproduced, with a warning;
//   grey+alpha 16   PIL unpacks it as RGBA from the high bytes (so it IS scaled: v >> 8);
//   RGB(A) 16-bit   high byte of each sample (v >> 8);  palette  index -> PLTE colour (an index past
//                   the palette gives (i, i, i): PIL's palette starts as a grey ramp);  alpha and tRNS are dropped.
// EXIF orientation is ignored by default, as the official code (PIL does not apply it on open);
// `exifRotate` applies it like PIL's ImageOps.exif_transpose.
import type { RgbImage } from './rgb.js';
import { decodePngSamples, isPng } from '../eval/png.js';
import { imageSize, isJpeg, MAX_IMAGE_PIXELS } from './image_size.js';
import { decodeJpeg, JpegError } from './jpeg.js';

export class ImageDecodeError extends Error {}

export interface DecodeOptions {
  /** Apply the EXIF orientation tag (JPEG APP1 / PNG eXIf) as PIL's ImageOps.exif_transpose. Default false. */
  exifRotate?: boolean;
  /** Refuse images with more pixels than this before decoding (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

export interface DecodedImage extends RgbImage {
  format: 'png' | 'jpeg';
  /** PIL's mode of the file: L, RGB, CMYK, 1, I, P, LA, RGBA (16-bit grey+alpha opens as RGBA in PIL). */
  mode: string;
  /** EXIF orientation tag (1..8) or 0 when absent; applied only with exifRotate. */
  orientation: number;
  /** True when exifRotate changed the pixels (width/height may then be swapped). */
  rotated: boolean;
  /** Things the user should know (e.g. PIL's clipping of 16-bit grey), one sentence each. */
  warnings: string[];
}

/**
 * Largest image decoded by default: MAX_IMAGE_PIXELS (64 MP; a 50 MP photo needs ~150 MB of RGB plus
 * the decoder's planes; the limit keeps a forged header from asking for gigabytes). One limit for the
 * decoder, the CLI's header check and the server.
 */
export const DEFAULT_MAX_PIXELS = MAX_IMAGE_PIXELS;
export { imageSize, isJpeg };

/** Decode PNG / JPEG bytes to PIL's convert('RGB'). Throws ImageDecodeError naming `name`. */
export function decodeImageBytes(bytes: Uint8Array, name = 'image', opts: DecodeOptions = {}): DecodedImage {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  let img: DecodedImage;
  let exif: Uint8Array | undefined;
  if (isPng(bytes)) {
    const size = imageSize(bytes);
    if (size && size.width * size.height > maxPixels) throw tooLarge(name, size.width, size.height, maxPixels);
    if (size && (size.width === 0 || size.height === 0))
      throw new ImageDecodeError(`${name}: empty image (${size.width}x${size.height})`);
    try {
      img = pngToRgb(bytes, name);
    } catch (e) {
      if (e instanceof RangeError) throw new ImageDecodeError(`${name}: image too large to decode (${e.message})`);
      throw new ImageDecodeError((e as Error).message);
    }
    exif = pngExif(bytes);
  } else if (isJpeg(bytes)) {
    try {
      const j = decodeJpeg(bytes, { maxPixels });
      img = jpegToRgb(j.data, j.width, j.height, j.channels);
      exif = j.exif;
    } catch (e) {
      if (e instanceof JpegError) throw new ImageDecodeError(`${name}: ${e.message}`);
      if (e instanceof RangeError) throw new ImageDecodeError(`${name}: image too large to decode (${e.message})`);
      throw e;
    }
  } else {
    throw new ImageDecodeError(`${name}: not a PNG or JPEG file`);
  }
  img.orientation = exif ? exifOrientation(exif) : 0;
  if (opts.exifRotate && img.orientation >= 2 && img.orientation <= 8) {
    const t = applyOrientation(img, img.orientation);
    img.width = t.width;
    img.height = t.height;
    img.data = t.data;
    img.rotated = true;
  }
  return img;
}

function tooLarge(name: string, w: number, h: number, max: number): ImageDecodeError {
  return new ImageDecodeError(
    `${name}: image too large (${w}x${h} = ${((w * h) / 1e6).toFixed(1)} MP; the decoder's limit is ${(max / 1e6).toFixed(0)} MP)`,
  );
}

// -------------------------------------------------------------------------------------------- JPEG

function jpegToRgb(src: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): DecodedImage {
  const n = width * height;
  const base = { width, height, format: 'jpeg' as const, orientation: 0, rotated: false, warnings: [] };
  if (channels === 3) return { ...base, data: src, mode: 'RGB' };
  const data = new Uint8Array(n * 3);
  if (channels === 1) {
    for (let i = 0, o = 0; i < n; i++, o += 3) data[o] = data[o + 1] = data[o + 2] = src[i];
    return { ...base, data, mode: 'L' };
  }
  // Unpack.c unpackCMYKI (invert), then Convert.c cmyk2rgb: out = CLIP8(nk - MULDIV255(c, nk)).
  for (let i = 0, o = 0, s = 0; i < n; i++, o += 3, s += 4) {
    const nk = src[s + 3]; // 255 - (255 - k)
    for (let c = 0; c < 3; c++) {
      const t = (255 - src[s + c]) * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8);
      data[o + c] = Math.min(255, Math.max(0, v));
    }
  }
  return { ...base, data, mode: 'CMYK' };
}

// --------------------------------------------------------------------------------------------- PNG

function pngToRgb(bytes: Uint8Array, name: string): DecodedImage {
  const s = decodePngSamples(bytes, name);
  const { width, height, colorType, bitDepth, samples } = s;
  const n = width * height;
  const data = new Uint8Array(n * 3);
  const warnings: string[] = [];
  let mode: string;
  if (colorType === 3) {
    mode = 'P';
    const pal = s.palette!;
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const k = samples[i];
      const c = pal[k];
      if (c) {
        data[o] = c[0];
        data[o + 1] = c[1];
        data[o + 2] = c[2];
      } else {
        data[o] = data[o + 1] = data[o + 2] = k; // PIL's palette starts as a grey ramp
      }
    }
  } else if (colorType === 0 || colorType === 4) {
    let map: (v: number) => number;
    if (colorType === 4) {
      mode = bitDepth === 16 ? 'RGBA' : 'LA';
      map = bitDepth === 16 ? (v) => v >> 8 : (v) => v;
    } else if (bitDepth === 16) {
      mode = 'I';
      map = (v) => Math.min(v, 255);
      warnings.push(
        `${name} is a 16-bit grey PNG: values above 255 are clipped to 255, as PIL's convert('RGB') does (the official pipeline sees the same; rescale to 8 bits for a meaningful image)`,
      );
    } else {
      mode = bitDepth === 1 ? '1' : 'L';
      const scale = 255 / ((1 << bitDepth) - 1);
      map = (v) => v * scale;
    }
    for (let i = 0, o = 0; i < n; i++, o += 3) data[o] = data[o + 1] = data[o + 2] = map(samples[i]);
  } else {
    mode = colorType === 6 ? 'RGBA' : 'RGB';
    const shift = bitDepth === 16 ? 8 : 0;
    for (let i = 0; i < 3 * n; i++) data[i] = samples[i] >> shift;
  }
  return { width, height, data, format: 'png', mode, orientation: 0, rotated: false, warnings };
}

/** Payload of a PNG eXIf chunk (TIFF header onwards), if any. */
function pngExif(bytes: Uint8Array): Uint8Array | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 8;
  while (p + 12 <= bytes.length) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
    if (p + 12 + len > bytes.length) return undefined;
    if (type === 'eXIf') return bytes.subarray(p + 8, p + 8 + len);
    if (type === 'IEND') return undefined;
    p += 12 + len;
  }
  return undefined;
}

// -------------------------------------------------------------------------------------------- EXIF

/** The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF payload; 0 when absent or unreadable. */
export function exifOrientation(tiff: Uint8Array): number {
  if (tiff.length < 8) return 0;
  const le = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!le && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return 0;
  const dv = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (dv.getUint16(2, le) !== 42) return 0;
  const ifd = dv.getUint32(4, le);
  if (ifd < 8 || ifd + 2 > tiff.length) return 0;
  const count = dv.getUint16(ifd, le);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > tiff.length) return 0;
    if (dv.getUint16(e, le) !== 0x0112) continue;
    const type = dv.getUint16(e + 2, le);
    if (type === 3) return dv.getUint16(e + 8, le);
    if (type === 4) return dv.getUint32(e + 8, le);
    return 0;
  }
  return 0;
}

/**
 * Transpose RGB pixels for an EXIF orientation as PIL's ImageOps.exif_transpose: 2 FLIP_LEFT_RIGHT,
 * 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270 (90° clockwise), 7 TRANSVERSE, 8 ROTATE_90.
 */
export function applyOrientation(img: RgbImage, orientation: number): RgbImage {
  const { width: W, height: H, data: src } = img;
  if (orientation < 2 || orientation > 8) return img;
  const swap = orientation >= 5;
  const w = swap ? H : W;
  const h = swap ? W : H;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2:
          sx = W - 1 - x;
          sy = y;
          break;
        case 3:
          sx = W - 1 - x;
          sy = H - 1 - y;
          break;
        case 4:
          sx = x;
          sy = H - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = H - 1 - x;
          break;
        case 7:
          sx = W - 1 - y;
          sy = H - 1 - x;
          break;
        default:
          sx = W - 1 - y;
          sy = x;
      }
      const s = 3 * (sy * W + sx);
      const o = 3 * (y * w + x);
      out[o] = src[s];
      out[o + 1] = src[s + 1];
      out[o + 2] = src[s + 2];
    }
  }
  return { width: w, height: h, data: out };
}
