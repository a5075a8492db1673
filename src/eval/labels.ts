// Mask PNG -> label map (one object id per pixel), with the rules the evaluators rely on:
//   - palette PNG: the palette INDEX is the id (PIL's np.array(Image.open(p)) of a 'P' image);
//   - gray PNG (any bit depth): the gray level is the id, except that a PNG whose only values are
//     0 and the maximum (255 for 8-bit) is a binary mask of object 1 (masks saved as 0/255);
//   - RGB(A) PNG: allowed only when it is really gray (R = G = B everywhere, then as gray) or when
//     every colour is an entry of the standard DAVIS/PASCAL palette (then the palette index);
//   - alpha is ignored; a non-palette image with more than MAX_GRAY_IDS distinct values is a photo
//     or a soft mask, not a label map, and is rejected.
import { type PngSamples, decodePngSamples } from './png.js';

export interface LabelMap {
  width: number;
  height: number;
  /** Object id per pixel, row-major; 0 = background. */
  data: Uint16Array;
  /** True when the ids came from a palette (DAVIS treats palette index 255 as void). */
  fromPalette: boolean;
}

/** More distinct values than this in a gray/RGB PNG means it is not a label map. */
export const MAX_GRAY_IDS = 32;

/** The DAVIS / PASCAL VOC colour palette (bit-interleaved), index -> [r, g, b]. */
export function davisPalette(): Array<[number, number, number]> {
  const pal: Array<[number, number, number]> = [];
  for (let i = 0; i < 256; i++) {
    let r = 0,
      g = 0,
      b = 0,
      c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    pal.push([r, g, b]);
  }
  return pal;
}

let paletteLookup: Map<number, number> | null = null;
function davisColourIndex(): Map<number, number> {
  if (!paletteLookup) {
    paletteLookup = new Map();
    davisPalette().forEach(([r, g, b], i) => {
      if (!paletteLookup!.has((r << 16) | (g << 8) | b)) paletteLookup!.set((r << 16) | (g << 8) | b, i);
    });
  }
  return paletteLookup;
}

/** Decode PNG bytes to a label map (rules in the file header). */
export function decodeLabelPng(bytes: Uint8Array, name = 'mask'): LabelMap {
  return samplesToLabels(decodePngSamples(bytes, name), name);
}

export function samplesToLabels(png: PngSamples, name = 'mask'): LabelMap {
  const { width, height } = png;
  const n = width * height;
  if (n === 0) throw new Error(`${name}: empty image (${width}x${height})`);
  if (png.colorType === 3) return { width, height, data: png.samples, fromPalette: true };
  let gray: Uint16Array;
  if (png.channels === 1) {
    gray = png.samples;
  } else {
    const s = png.samples;
    let isGray = true;
    for (let i = 0; i < n && isGray; i++) isGray = s[3 * i] === s[3 * i + 1] && s[3 * i] === s[3 * i + 2];
    if (isGray) {
      gray = new Uint16Array(n);
      for (let i = 0; i < n; i++) gray[i] = s[3 * i];
    } else {
      if (png.bitDepth !== 8) throw new Error(`${name}: not a mask (16-bit colour image)`);
      const lut = davisColourIndex();
      const data = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        const id = lut.get((s[3 * i] << 16) | (s[3 * i + 1] << 8) | s[3 * i + 2]);
        if (id === undefined) {
          throw new Error(
            `${name}: not a mask (colour image; pixel (${i % width}, ${Math.floor(i / width)}) has colour ` +
              `(${s[3 * i]}, ${s[3 * i + 1]}, ${s[3 * i + 2]}), which is not in the DAVIS palette; save masks as palette or 8-bit gray PNGs)`,
          );
        }
        data[i] = id;
      }
      return { width, height, data, fromPalette: true };
    }
  }
  const maxVal = (1 << png.bitDepth) - 1;
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    seen.add(gray[i]);
    if (seen.size > MAX_GRAY_IDS) {
      throw new Error(
        `${name}: not a mask (more than ${MAX_GRAY_IDS} distinct gray levels: a photo or a soft mask? ` +
          'masks hold object ids, or 0/255 for one object)',
      );
    }
  }
  const binary = maxVal > 1 && seen.has(maxVal) && [...seen].every((v) => v === 0 || v === maxVal);
  if (binary) {
    const data = new Uint16Array(n);
    for (let i = 0; i < n; i++) data[i] = gray[i] === 0 ? 0 : 1;
    return { width, height, data, fromPalette: false };
  }
  return { width, height, data: gray, fromPalette: false };
}

/** Foreground of one id as 0/1 bytes. */
export function binaryOf(m: LabelMap, id: number): Uint8Array {
  const out = new Uint8Array(m.data.length);
  for (let i = 0; i < out.length; i++) out[i] = m.data[i] === id ? 1 : 0;
  return out;
}

/** Label map with every non-zero pixel set to 1 (per-object folders: any non-zero pixel is foreground). */
export function binarize(m: LabelMap): LabelMap {
  const data = new Uint16Array(m.data.length);
  for (let i = 0; i < data.length; i++) data[i] = m.data[i] !== 0 ? 1 : 0;
  return { width: m.width, height: m.height, data, fromPalette: false };
}

/** Sorted distinct non-zero ids. */
export function idsOf(m: LabelMap): number[] {
  const seen = new Uint8Array(65536);
  for (let i = 0; i < m.data.length; i++) seen[m.data[i]] = 1;
  const out: number[] = [];
  for (let v = 1; v < 65536; v++) if (seen[v]) out.push(v);
  return out;
}

/** Number of distinct values, zero included (the SA-V per-object check is `len(np.unique(a)) <= 2`). */
export function distinctCount(m: LabelMap): number {
  const seen = new Uint8Array(65536);
  let k = 0;
  for (let i = 0; i < m.data.length; i++)
    if (!seen[m.data[i]]) {
      seen[m.data[i]] = 1;
      k++;
    }
  return k;
}
