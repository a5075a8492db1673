// Host-agnostic image containers: interleaved RGB(A) bytes and planar float conversion.

export interface RgbImage {
  width: number;
  height: number;
  /** Interleaved RGB, 3 bytes per pixel, row-major. */
  data: Uint8Array;
}

/** Interleaved RGB uint8 -> planar float32 [3, H, W] divided by 255 (torchvision to_tensor). */
export function rgbToPlanarFloat(img: RgbImage): Float32Array {
  const { width: w, height: h, data } = img;
  const out = new Float32Array(3 * w * h);
  const plane = w * h;
  for (let i = 0; i < plane; i++) {
    out[i] = data[3 * i] / 255;
    out[plane + i] = data[3 * i + 1] / 255;
    out[2 * plane + i] = data[3 * i + 2] / 255;
  }
  return out;
}

/** Drop the alpha channel of RGBA bytes (no premultiplication, as PIL's convert('RGB')). */
export function rgbaToRgb(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    data[3 * i] = rgba[j];
    data[3 * i + 1] = rgba[j + 1];
    data[3 * i + 2] = rgba[j + 2];
  }
  return { width, height, data };
}
