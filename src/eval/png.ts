// Minimal PNG decoder that keeps the raw samples: palette INDICES (not the RGBA colours pngjs
// expands them to), gray levels, or RGB. DAVIS-style annotations are palette PNGs whose index is the
// object id, which is what PIL's np.array(Image.open(path)) returns and what the evaluators use.
// Host-agnostic (fflate for zlib). Supports every PNG colour type, bit depths 1-16, Adam7 interlace.

import { unzlibSync } from 'fflate';

export interface PngSamples {
  width: number;
  height: number;
  /** PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  colorType: number;
  bitDepth: number;
  /** Samples kept per pixel: 1 (palette index or gray level) or 3 (R, G, B). Alpha is dropped. */
  channels: 1 | 3;
  /** Row-major samples, `channels` per pixel. */
  samples: Uint16Array;
  /** Palette colours as [r, g, b] (palette PNGs only). */
  palette?: Array<[number, number, number]>;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
// Adam7 passes: x0, y0, dx, dy.
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Decode a PNG into raw samples; throws an Error naming `name` for anything malformed. */
export function decodePngSamples(bytes: Uint8Array, name = 'png'): PngSamples {
  if (!isPng(bytes)) throw new Error(`${name}: not a PNG file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0,
    height = 0,
    bitDepth = 0,
    colorType = -1,
    interlace = 0;
  let palette: Array<[number, number, number]> | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (pos + 8 <= bytes.length) {
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    const start = pos + 8;
    if (start + len + 4 > bytes.length)
      throw new Error(`${name}: corrupt PNG (chunk ${type} runs past the end of the file)`);
    const data = bytes.subarray(start, start + len);
    if (type === 'IHDR') {
      width = dv.getUint32(start);
      height = dv.getUint32(start + 4);
      bitDepth = data[8];
      colorType = data[9];
      interlace = data[12];
      if (!(colorType in CHANNELS)) throw new Error(`${name}: corrupt PNG (colour type ${colorType})`);
      if (![1, 2, 4, 8, 16].includes(bitDepth)) throw new Error(`${name}: corrupt PNG (bit depth ${bitDepth})`);
    } else if (type === 'PLTE') {
      palette = [];
      for (let i = 0; i + 2 < len; i += 3) palette.push([data[i], data[i + 1], data[i + 2]]);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
      break;
    }
    pos = start + len + 4; // skip CRC
  }
  if (colorType < 0) throw new Error(`${name}: corrupt PNG (no IHDR chunk)`);
  if (!ended && idat.length === 0) throw new Error(`${name}: corrupt PNG (truncated)`);
  if (colorType === 3 && !palette) throw new Error(`${name}: corrupt PNG (palette image without PLTE)`);
  const total = idat.reduce((a, c) => a + c.length, 0);
  const z = new Uint8Array(total);
  let o = 0;
  for (const c of idat) {
    z.set(c, o);
    o += c.length;
  }
  let raw: Uint8Array;
  try {
    raw = unzlibSync(z);
  } catch (e) {
    throw new Error(`${name}: corrupt PNG (${(e as Error).message})`);
  }

  const nch = CHANNELS[colorType];
  const keep: 1 | 3 = nch >= 3 ? 3 : 1;
  const samples = new Uint16Array(width * height * keep);
  const bitsPP = nch * bitDepth;
  const bpp = Math.max(1, bitsPP >> 3); // filter unit in bytes
  let at = 0;
  const passes = interlace ? ADAM7 : [[0, 0, 1, 1]];
  for (const [x0, y0, dx, dy] of passes) {
    const pw = width > x0 ? Math.ceil((width - x0) / dx) : 0;
    const ph = height > y0 ? Math.ceil((height - y0) / dy) : 0;
    if (pw === 0 || ph === 0) continue;
    const stride = Math.ceil((pw * bitsPP) / 8);
    let prev = new Uint8Array(stride);
    for (let r = 0; r < ph; r++) {
      if (at + 1 + stride > raw.length) throw new Error(`${name}: corrupt PNG (image data too short)`);
      const ft = raw[at];
      const line = raw.slice(at + 1, at + 1 + stride);
      at += 1 + stride;
      unfilter(line, prev, ft, bpp, name);
      const y = y0 + r * dy;
      for (let c = 0; c < pw; c++) {
        const x = x0 + c * dx;
        const dst = (y * width + x) * keep;
        for (let k = 0; k < keep; k++) samples[dst + k] = sampleAt(line, c * nch + k, bitDepth);
      }
      prev = line;
    }
  }
  return { width, height, colorType, bitDepth, channels: keep, samples, palette };
}

function sampleAt(line: Uint8Array, i: number, depth: number): number {
  switch (depth) {
    case 8:
      return line[i];
    case 16:
      return (line[2 * i] << 8) | line[2 * i + 1];
    default: {
      const bit = i * depth;
      return (line[bit >> 3] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
    }
  }
}

function unfilter(line: Uint8Array, prev: Uint8Array, ft: number, bpp: number, name: string): void {
  const n = line.length;
  switch (ft) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = (line[i] + line[i - bpp]) & 255;
      return;
    case 2:
      for (let i = 0; i < n; i++) line[i] = (line[i] + prev[i]) & 255;
      return;
    case 3:
      for (let i = 0; i < n; i++) line[i] = (line[i] + (((i >= bpp ? line[i - bpp] : 0) + prev[i]) >> 1)) & 255;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? line[i - bpp] : 0;
        const b = prev[i];
        const c = i >= bpp ? prev[i - bpp] : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a),
          pb = Math.abs(p - b),
          pc = Math.abs(p - c);
        line[i] = (line[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default:
      throw new Error(`${name}: corrupt PNG (filter type ${ft})`);
  }
}
