// Shared helpers for the eval tests: masks drawn as text, tiny PNG encoder (every colour type, bit
// depth and Adam7 interlace, so the decoder can be cross-checked with pngjs).
import { zlibSync } from 'fflate';
import type { LabelMap } from '../../src/eval/labels.js';

/** Rows of text -> label map: '.' = 0, '#' = 1, digits = that id. */
export function labels(rows: string[]): LabelMap {
  const h = rows.length;
  const w = rows[0].length;
  const data = new Uint16Array(h * w);
  rows.forEach((r, y) => {
    if (r.length !== w) throw new Error(`row ${y} has ${r.length} columns, not ${w}`);
    for (let x = 0; x < w; x++) data[y * w + x] = r[x] === '.' ? 0 : r[x] === '#' ? 1 : Number(r[x]);
  });
  return { width: w, height: h, data, fromPalette: true };
}

/** Rows of text -> 0/1 bytes. */
export function bits(rows: string[]): Uint8Array {
  return Uint8Array.from(labels(rows).data, (v) => (v ? 1 : 0));
}

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

export interface EncodeOpts {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** Samples per pixel in PNG channel order (gray / RGB / index / gray+alpha / RGBA). */
  samples: ArrayLike<number>;
  palette?: Array<[number, number, number]>;
  interlace?: boolean;
  /** Filter type for every row (0-4); defaults to cycling through all five. */
  filter?: number;
}

/** Encode a PNG (test fixtures only). Rows use the given filter, or cycle 0..4. */
export function encodePng(o: EncodeOpts): Uint8Array {
  const nch = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[o.colorType];
  const bitsPP = nch * o.bitDepth;
  const bpp = Math.max(1, bitsPP >> 3);
  const rows: number[] = [];
  let rowNo = 0;
  const passes = o.interlace ? ADAM7 : [[0, 0, 1, 1]];
  for (const [x0, y0, dx, dy] of passes) {
    const pw = o.width > x0 ? Math.ceil((o.width - x0) / dx) : 0;
    const ph = o.height > y0 ? Math.ceil((o.height - y0) / dy) : 0;
    if (!pw || !ph) continue;
    const stride = Math.ceil((pw * bitsPP) / 8);
    let prev = new Uint8Array(stride);
    for (let r = 0; r < ph; r++) {
      const line = new Uint8Array(stride);
      const y = y0 + r * dy;
      for (let c = 0; c < pw; c++) {
        const x = x0 + c * dx;
        for (let k = 0; k < nch; k++) {
          const v = o.samples[(y * o.width + x) * nch + k];
          const i = c * nch + k;
          if (o.bitDepth === 16) {
            line[2 * i] = v >> 8;
            line[2 * i + 1] = v & 255;
          } else if (o.bitDepth === 8) line[i] = v;
          else {
            const bit = i * o.bitDepth;
            line[bit >> 3] |= v << (8 - o.bitDepth - (bit & 7));
          }
        }
      }
      const ft = o.filter ?? rowNo++ % 5;
      const f = new Uint8Array(stride);
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? line[i - bpp] : 0,
          b = prev[i],
          c = i >= bpp ? prev[i - bpp] : 0;
        let pred = 0;
        if (ft === 1) pred = a;
        else if (ft === 2) pred = b;
        else if (ft === 3) pred = (a + b) >> 1;
        else if (ft === 4) {
          const p = a + b - c,
            pa = Math.abs(p - a),
            pb = Math.abs(p - b),
            pc = Math.abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        f[i] = (line[i] - pred) & 255;
      }
      rows.push(ft, ...f);
      prev = line;
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, o.width);
  dv.setUint32(4, o.height);
  ihdr.set([o.bitDepth, o.colorType, 0, 0, o.interlace ? 1 : 0], 8);
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (o.palette) parts.push(chunk('PLTE', Uint8Array.from(o.palette.flat())));
  parts.push(chunk('IDAT', zlibSync(Uint8Array.from(rows))), chunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
