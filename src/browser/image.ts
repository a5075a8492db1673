// Browser image input: anything a canvas can draw (image, bitmap, video frame, canvas) -> RgbImage,
// and encoded files (PNG/JPEG blobs, URLs) decoded without colour management so the bytes equal the
// file's (as Node's pngjs / jpeg-js decoders give them).
import { type RgbImage, rgbaToRgb } from '../graph/image.js';

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

/** Decode a PNG / JPEG (any format the browser reads) exactly, without colour-space conversion. */
export async function rgbFromBlob(blob: Blob): Promise<RgbImage> {
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    return rgbFromSource(bmp, bmp.width, bmp.height);
  } finally {
    bmp.close();
  }
}

/** Fetch and decode an image URL. */
export async function rgbFromUrl(url: string, init?: RequestInit): Promise<RgbImage> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`image ${url}: HTTP ${res.status} ${res.statusText}`);
  return rgbFromBlob(await res.blob());
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
