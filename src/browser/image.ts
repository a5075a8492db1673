// Browser image input. Encoded files (PNG/JPEG blobs, URLs) are decoded by the same decoder as in
// Node (src/image/decode.ts: the RGB bytes of python3-pil's Image.open(p).convert('RGB'), not through a
// canvas, which may colour-manage and whose JPEG decoder is the browser's), so a file gives the same
// tensor in every host. Live pixels (video element, camera frame, canvas) are read through a canvas.
import { type RgbImage, rgbaToRgb } from '../image/rgb.js';
import { type DecodedImage, type DecodeOptions, decodeImageBytes } from '../image/decode.js';

export { type DecodedImage, type DecodeOptions, decodeImageBytes, ImageDecodeError } from '../image/decode.js';

type Ctx2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

function scratch(width: number, height: number): Ctx2D {
  if (typeof OffscreenCanvas !== 'undefined') {
    const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
    if (ctx) return ctx;
  }
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas context available');
  return ctx;
}

function sizeOf(src: CanvasImageSource): [number, number] {
  const s = src as {
    videoWidth?: number;
    videoHeight?: number;
    naturalWidth?: number;
    naturalHeight?: number;
    displayWidth?: number;
    displayHeight?: number;
    width?: number | SVGAnimatedLength;
    height?: number | SVGAnimatedLength;
  };
  if (s.videoWidth) return [s.videoWidth, s.videoHeight!];
  if (s.naturalWidth) return [s.naturalWidth, s.naturalHeight!];
  if (s.displayWidth) return [s.displayWidth, s.displayHeight!];
  if (typeof s.width === 'number' && typeof s.height === 'number') return [s.width, s.height];
  throw new Error('cannot tell the size of this image source; pass width and height');
}

/** The current pixels of an image / bitmap / video element / VideoFrame / canvas as RGB. */
export function rgbFromSource(src: CanvasImageSource, width?: number, height?: number): RgbImage {
  const [w, h] = width && height ? [width, height] : sizeOf(src);
  if (!(w > 0 && h > 0)) throw new Error(`image source has no pixels yet (${w}x${h})`);
  const ctx = scratch(w, h);
  ctx.drawImage(src, 0, 0, w, h);
  return rgbaToRgb(ctx.getImageData(0, 0, w, h).data, w, h);
}

/**
 * Decode a PNG / JPEG file exactly as PIL (and the Node entry) does; other formats are refused.
 * `opts.exifRotate` applies the EXIF orientation (default: ignored, as the official code).
 */
export async function rgbFromBlob(blob: Blob, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const name = (blob as File).name || 'image';
  return decodeImageBytes(new Uint8Array(await blob.arrayBuffer()), name, opts);
}

/** Fetch and decode an image URL. */
export async function rgbFromUrl(url: string, init?: RequestInit, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`image ${url}: HTTP ${res.status} ${res.statusText}`);
  return decodeImageBytes(new Uint8Array(await res.arrayBuffer()), url, opts);
}

/** RGB -> RGBA ImageData (for drawing with putImageData). */
export function rgbToImageData(img: RgbImage): ImageData {
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.width * img.height; i++, j += 4) {
    rgba[j] = img.data[3 * i];
    rgba[j + 1] = img.data[3 * i + 1];
    rgba[j + 2] = img.data[3 * i + 2];
    rgba[j + 3] = 255;
  }
  return new ImageData(rgba, img.width, img.height);
}
