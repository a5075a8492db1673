// Baseline and progressive Huffman JPEG decoder that reproduces libjpeg-turbo 2.1.5 (Debian 12's
// libjpeg62-turbo, what python3-pil 9.4 links) bit for bit, with the settings PIL decodes with:
// accurate integer IDCT (JDCT_ISLOW, jidctint.c), "fancy" chroma upsampling (jdsample.c, h1v2 for
// 4:4:0 included), block smoothing of progressive images whose coefficients are not fully refined
// (jdcoefct.c), libjpeg's colour-space guess (JFIF / Adobe / component ids, jdapimin.c) and its
// colour conversion tables (jdcolor.c). Host-agnostic (Node and browsers), synchronous.
//
// Each routine below is a port of the libjpeg-turbo function named in its comment; the arithmetic is
// kept (integer tables, shifts, the range-limit table of the IDCT, 16-bit coefficient storage), so
// valid files decode to libjpeg-turbo's bytes exactly. Corrupt entropy data is handled as libjpeg
// does where it only warns (a marker cutting a segment short fills the rest with zero bits and leaves
// later blocks of that segment grey; restart markers out of order are resynchronised as
// jpeg_resync_to_restart does). Where libjpeg would stop with an error, or where PIL would report a
// truncated file (entropy data running into the end of the file, no EOI after a multi-scan image),
// this throws a JpegError.
//
// Not supported (a JpegError says so): arithmetic coding (SOF9/SOF10; Debian's libjpeg-turbo reads
// it, it is rare in practice), and what libjpeg-turbo 2.1 itself refuses: lossless and hierarchical
// JPEG, 12-bit samples, 2-component or more than 4-component images (PIL refuses those).

export class JpegError extends Error {}

/** The data ends early (PIL: "image file is truncated"). */
export class JpegTruncatedError extends JpegError {}

/** libjpeg's colour space of the compressed data (jpeg_color_space). */
export type JpegColorSpace = 'gray' | 'ycbcr' | 'rgb' | 'cmyk' | 'ycck';

export interface JpegImage {
  width: number;
  height: number;
  /** Colour space of the compressed data, as libjpeg guesses it. */
  colorSpace: JpegColorSpace;
  /** Samples per pixel of `data`: 1 (grey), 3 (RGB) or 4 (CMYK, as libjpeg outputs it: not inverted). */
  channels: 1 | 3 | 4;
  /** libjpeg's output, interleaved, row-major (out_color_space GRAYSCALE, RGB or CMYK, as PIL asks). */
  data: Uint8Array;
  progressive: boolean;
  /** The first APP1 "Exif\0\0" segment's payload (TIFF header onwards), if any. */
  exif?: Uint8Array;
}

export interface JpegLimits {
  /** Refuse images with more pixels than this (checked from the header, before any allocation). */
  maxPixels?: number;
}

// jpeg_natural_order plus 16 guard entries (corrupt data may push k past 63).
const NATURAL = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
  55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

const M_SOF0 = 0xc0;
const M_DHT = 0xc4;
const M_DAC = 0xcc;
const M_RST0 = 0xd0;
const M_SOI = 0xd8;
const M_EOI = 0xd9;
const M_SOS = 0xda;
const M_DQT = 0xdb;
const M_DNL = 0xdc;
const M_DRI = 0xdd;
const M_APP0 = 0xe0;
const M_APP1 = 0xe1;
const M_APP14 = 0xee;
const M_COM = 0xfe;
const M_TEM = 0x01;

const JPEG_MAX_DIMENSION = 65500;
const MIN_GET_BITS = 25; // refill the bit buffer to at least this many bits (jdhuff.h, 32-bit buffer)
const HUFF_LOOKAHEAD = 8;

// ------------------------------------------------------------------------------- range-limit tables

// IDCT_range_limit(cinfo)[x & RANGE_MASK] (jdmaster.c prepare_range_limit_table): the IDCT output x is
// centred on 0; 0..127 -> x+128, 128..511 -> 255, 512..895 -> 0, 896..1023 -> x-1024+128.
const IDCT_LIMIT = new Uint8Array(1024);
for (let x = 0; x < 1024; x++) {
  IDCT_LIMIT[x] = x < 128 ? x + 128 : x < 512 ? 255 : x < 896 ? 0 : x - 1024 + 128;
}

// jdcolor.c build_ycc_rgb_table (SCALEBITS 16).
const Cr_R = new Int32Array(256);
const Cb_B = new Int32Array(256);
const Cr_G = new Int32Array(256);
const Cb_G = new Int32Array(256);
{
  const FIX = (v: number) => Math.trunc(v * 65536 + 0.5);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    Cr_R[i] = (FIX(1.402) * x + 32768) >> 16;
    Cb_B[i] = (FIX(1.772) * x + 32768) >> 16;
    Cr_G[i] = -FIX(0.71414) * x;
    Cb_G[i] = -FIX(0.34414) * x + 32768;
  }
}

// sample_range_limit: clamp to 0..255, indexed by value + 384 (colour conversion stays within -384..639)
const RANGE = new Uint8Array(1024);
for (let i = 0; i < 1024; i++) RANGE[i] = Math.min(255, Math.max(0, i - 384));

// ----------------------------------------------------------------------------------- huffman tables

interface HuffSpec {
  bits: Uint8Array; // [17], bits[0] unused
  huffval: Uint8Array; // [256]
}

interface DerivedTbl {
  maxcode: Int32Array; // [18]
  valoffset: Int32Array; // [18]
  lookup: Int32Array; // [256]: (code length << 8) | symbol, or 9 << 8 = "longer than 8 bits"
  huffval: Uint8Array;
}

/** jdhuff.c jpeg_make_d_derived_tbl. */
function makeDerivedTbl(spec: HuffSpec | undefined, isDC: boolean, tblno: number): DerivedTbl {
  if (!spec)
    throw new JpegError(`corrupt JPEG (Huffman table 0x${tblno.toString(16).padStart(2, '0')} was not defined)`);
  const huffsize = new Uint8Array(257);
  const huffcode = new Uint32Array(257);
  let p = 0;
  for (let l = 1; l <= 16; l++) {
    const i = spec.bits[l];
    if (p + i > 256) throw new JpegError('corrupt JPEG (bogus Huffman table definition)');
    for (let k = 0; k < i; k++) huffsize[p++] = l;
  }
  huffsize[p] = 0;
  const numsymbols = p;
  let code = 0;
  let si = huffsize[0];
  p = 0;
  while (huffsize[p]) {
    while (huffsize[p] === si) {
      huffcode[p++] = code;
      code++;
    }
    if (code >= 2 ** si) throw new JpegError('corrupt JPEG (bogus Huffman table definition)');
    code <<= 1;
    si++;
  }
  const maxcode = new Int32Array(18);
  const valoffset = new Int32Array(18);
  p = 0;
  for (let l = 1; l <= 16; l++) {
    if (spec.bits[l]) {
      valoffset[l] = p - huffcode[p];
      p += spec.bits[l];
      maxcode[l] = huffcode[p - 1];
    } else {
      maxcode[l] = -1;
    }
  }
  valoffset[17] = 0;
  maxcode[17] = 0xfffff;
  const lookup = new Int32Array(1 << HUFF_LOOKAHEAD).fill((HUFF_LOOKAHEAD + 1) << HUFF_LOOKAHEAD);
  p = 0;
  for (let l = 1; l <= HUFF_LOOKAHEAD; l++) {
    for (let i = 1; i <= spec.bits[l]; i++, p++) {
      let lookbits = huffcode[p] << (HUFF_LOOKAHEAD - l);
      for (let ctr = 1 << (HUFF_LOOKAHEAD - l); ctr > 0; ctr--)
        lookup[lookbits++] = (l << HUFF_LOOKAHEAD) | spec.huffval[p];
    }
  }
  if (isDC) {
    for (let i = 0; i < numsymbols; i++)
      if (spec.huffval[i] > 15) throw new JpegError('corrupt JPEG (bogus Huffman table definition)');
  }
  return { maxcode, valoffset, lookup, huffval: spec.huffval };
}

// -------------------------------------------------------------------------------------- components

interface Component {
  id: number;
  index: number;
  h: number;
  v: number;
  tq: number;
  widthInBlocks: number;
  heightInBlocks: number;
  /** Blocks per row / column of the coefficient array and the sample plane (rounded up to h / v). */
  bw: number;
  bh: number;
  downsampledWidth: number;
  downsampledHeight: number;
  /** Quantisation table latched at the component's first scan, natural order, as ISLOW_MULT_TYPE (short). */
  quant: Int16Array | null;
  quantRaw: Uint16Array | null;
  /** Whole-image coefficients (multi-scan images), 64 per block, row-major blocks. */
  coefs: Int16Array | null;
  /** Decoded samples, bw*8 x bh*8. */
  plane: Uint8Array;
  dcTbl: number;
  acTbl: number;
  /** Progressive: coef_bits[64] and the copy before the latest scan (cinfo->coef_bits[ci + num_components]). */
  coefBits: Int32Array;
  prevCoefBits: Int32Array;
}

// --------------------------------------------------------------------------------------------- IDCT

const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;
// DESCALE(x, n) = (x + 2^(n-1)) >> n on 64-bit JLONG; doubles hold every intermediate exactly
// (|x| < 2^50), so floor((x + half) * 2^-n) is the same arithmetic shift.
const P1_HALF = 1 << 10; // CONST_BITS - PASS1_BITS = 11
const P1_INV = 1 / (1 << 11);
const P2_HALF = 1 << 17; // CONST_BITS + PASS1_BITS + 3 = 18
const P2_INV = 1 / (1 << 18);

const workspace = new Int32Array(64);
/** One 8-point pass's inputs, then its outputs before the descale (integers, exact in float64). */
const idctIn = new Float64Array(8);

/**
 * jidctint.c's 8-point butterfly, shared by the column and the row pass: e[0..8) dequantised inputs
 * in, e[k] = output k (still scaled by the pass's CONST_BITS / PASS1_BITS) out.
 */
function idct8(e: Float64Array): void {
  let z2 = e[2];
  let z3 = e[6];
  let z1 = (z2 + z3) * FIX_0_541196100;
  let tmp2 = z1 + z3 * -FIX_1_847759065;
  let tmp3 = z1 + z2 * FIX_0_765366865;
  let tmp0 = (e[0] + e[4]) * 8192;
  let tmp1 = (e[0] - e[4]) * 8192;
  const tmp10 = tmp0 + tmp3;
  const tmp13 = tmp0 - tmp3;
  const tmp11 = tmp1 + tmp2;
  const tmp12 = tmp1 - tmp2;
  tmp0 = e[7];
  tmp1 = e[5];
  tmp2 = e[3];
  tmp3 = e[1];
  z1 = tmp0 + tmp3;
  z2 = tmp1 + tmp2;
  z3 = tmp0 + tmp2;
  let z4 = tmp1 + tmp3;
  const z5 = (z3 + z4) * FIX_1_175875602;
  tmp0 *= FIX_0_298631336;
  tmp1 *= FIX_2_053119869;
  tmp2 *= FIX_3_072711026;
  tmp3 *= FIX_1_501321110;
  z1 *= -FIX_0_899976223;
  z2 *= -FIX_2_562915447;
  z3 = z3 * -FIX_1_961570560 + z5;
  z4 = z4 * -FIX_0_390180644 + z5;
  tmp0 += z1 + z3;
  tmp1 += z2 + z4;
  tmp2 += z2 + z3;
  tmp3 += z1 + z4;
  e[0] = tmp10 + tmp3;
  e[7] = tmp10 - tmp3;
  e[1] = tmp11 + tmp2;
  e[6] = tmp11 - tmp2;
  e[2] = tmp12 + tmp1;
  e[5] = tmp12 - tmp1;
  e[3] = tmp13 + tmp0;
  e[4] = tmp13 - tmp0;
}

/** jidctint.c jpeg_idct_islow: dequantise `coef[off..off+64)` with `q` and write 8x8 samples. */
function idctIslow(
  coef: Int16Array,
  off: number,
  q: Int16Array,
  out: Uint8Array,
  outOff: number,
  stride: number,
): void {
  const ws = workspace;
  // Pass 1: columns, into the int workspace (C's (int) cast = Int32Array's wrap).
  for (let c = 0; c < 8; c++) {
    const i = off + c;
    if (
      coef[i + 8] === 0 &&
      coef[i + 16] === 0 &&
      coef[i + 24] === 0 &&
      coef[i + 32] === 0 &&
      coef[i + 40] === 0 &&
      coef[i + 48] === 0 &&
      coef[i + 56] === 0
    ) {
      const dc = coef[i] * q[c] * 4;
      ws[c] = dc;
      ws[c + 8] = dc;
      ws[c + 16] = dc;
      ws[c + 24] = dc;
      ws[c + 32] = dc;
      ws[c + 40] = dc;
      ws[c + 48] = dc;
      ws[c + 56] = dc;
      continue;
    }
    const e = idctIn;
    for (let k = 0; k < 8; k++) e[k] = coef[i + 8 * k] * q[c + 8 * k];
    idct8(e);
    for (let k = 0; k < 8; k++) ws[c + 8 * k] = Math.floor((e[k] + P1_HALF) * P1_INV);
  }
  // Pass 2: rows, range-limited into the output.
  for (let r = 0; r < 8; r++) {
    const w = r * 8;
    const o = outOff + r * stride;
    if (
      ws[w + 1] === 0 &&
      ws[w + 2] === 0 &&
      ws[w + 3] === 0 &&
      ws[w + 4] === 0 &&
      ws[w + 5] === 0 &&
      ws[w + 6] === 0 &&
      ws[w + 7] === 0
    ) {
      const dc = IDCT_LIMIT[((ws[w] + 16) >> 5) & 1023];
      out[o] = dc;
      out[o + 1] = dc;
      out[o + 2] = dc;
      out[o + 3] = dc;
      out[o + 4] = dc;
      out[o + 5] = dc;
      out[o + 6] = dc;
      out[o + 7] = dc;
      continue;
    }
    const e = idctIn;
    for (let k = 0; k < 8; k++) e[k] = ws[w + k];
    idct8(e);
    for (let k = 0; k < 8; k++) out[o + k] = IDCT_LIMIT[Math.floor((e[k] + P2_HALF) * P2_INV) & 1023];
  }
}

// ------------------------------------------------------------------------------------------ decoder

interface Scan {
  comps: Component[];
  ss: number;
  se: number;
  ah: number;
  al: number;
}

class Decoder {
  private pos = 0;
  // bit reader (jdhuff.h)
  private buf = 0;
  private bitsLeft = 0;
  private unreadMarker = 0;
  private insufficient = false;
  // tables
  private readonly dcSpecs: (HuffSpec | undefined)[] = [];
  private readonly acSpecs: (HuffSpec | undefined)[] = [];
  private readonly qtables: (Uint16Array | undefined)[] = [];
  private restartInterval = 0;
  private nextRestartNum = 0;
  private restartsToGo = 0;
  // frame
  private sawSOF = false;
  progressive = false;
  private arith = false;
  private precision = 8;
  width = 0;
  height = 0;
  comps: Component[] = [];
  private maxH = 1;
  private maxV = 1;
  private totalIMCURows = 0;
  private multiScan = false;
  /** The one scan of a single-scan image is decoded: every row exists (PIL needs no more data). */
  private singleScanDone = false;
  private inHeaders = true;
  private scanNumber = 0;
  private lastGoodIMCURow = 0;
  // markers
  private sawJFIF = false;
  private sawAdobe = false;
  private adobeTransform = 0;
  exif?: Uint8Array;
  // entropy state
  private readonly lastDc = new Int32Array(4);
  private eobrun = 0;
  private readonly mcu = new Int16Array(64 * 10);

  constructor(
    private readonly data: Uint8Array,
    private readonly limits: JpegLimits,
  ) {}

  // ------------------------------------------------------------------------------------ byte input

  private byte(): number {
    if (this.pos >= this.data.length)
      throw new JpegTruncatedError('truncated JPEG (the file ends inside a marker segment)');
    return this.data[this.pos++];
  }

  private u16(): number {
    return (this.byte() << 8) | this.byte();
  }

  /** jdmarker.c next_marker: skip garbage up to the next FF xx (xx != 0, != FF). */
  private nextMarker(): number {
    for (;;) {
      let c = this.byte();
      while (c !== 0xff) c = this.byte();
      do c = this.byte();
      while (c === 0xff);
      if (c !== 0) return c;
    }
  }

  // ----------------------------------------------------------------------------------- markers

  decode(): void {
    const d = this.data;
    // first_marker: SOI must be the first two bytes
    if (d.length < 2 || d[0] !== 0xff || d[1] !== M_SOI) throw new JpegError('not a JPEG file (no SOI marker)');
    this.pos = 2;
    for (;;) {
      let marker: number;
      if (this.unreadMarker) {
        marker = this.unreadMarker;
        this.unreadMarker = 0;
      } else if (this.pos >= d.length && this.singleScanDone) {
        return; // single-scan image complete; PIL accepts a missing EOI
      } else {
        if (this.pos >= d.length)
          throw new JpegTruncatedError(
            this.inHeaders ? 'truncated JPEG (no image data)' : 'truncated JPEG (the file ends before the last scan)',
          );
        try {
          marker = this.nextMarker();
        } catch (e) {
          if (this.singleScanDone) return;
          throw e;
        }
      }
      if (marker === M_EOI) {
        if (this.inHeaders) throw new JpegError('corrupt JPEG (no image data before EOI)');
        return;
      }
      try {
        this.marker(marker);
      } catch (e) {
        // after a complete single-scan image libjpeg only suspends (PIL has every row by then)
        if (e instanceof JpegTruncatedError && this.singleScanDone) return;
        throw e;
      }
    }
  }

  private marker(m: number): void {
    if (m === M_SOI) throw new JpegError('corrupt JPEG (two SOI markers)');
    if (m === M_SOF0 || m === 0xc1) return this.sof(false, false);
    if (m === 0xc2) return this.sof(true, false);
    if (m === 0xc9 || m === 0xca) return this.sof(m === 0xca, true);
    if (m === 0xc3 || m === 0xc5 || m === 0xc6 || m === 0xc7 || m === 0xc8 || m === 0xcb || (m >= 0xcd && m <= 0xcf)) {
      const kind = m === 0xc3 || m === 0xcb ? 'lossless' : m === 0xc8 ? 'JPEG-extension' : 'hierarchical';
      throw new JpegError(`unsupported JPEG process (${kind}, SOF marker 0x${m.toString(16)})`);
    }
    if (m === M_SOS) return this.sos();
    if (m === M_DHT) return this.dht();
    if (m === M_DQT) return this.dqt();
    if (m === M_DRI) return this.dri();
    if (m === M_DAC) return this.skipVariable();
    if (m >= M_APP0 && m <= 0xef) return this.app(m);
    if (m === M_COM || m === M_DNL) return this.skipVariable();
    if ((m >= M_RST0 && m <= M_RST0 + 7) || m === M_TEM) return;
    throw new JpegError(`corrupt JPEG (unsupported marker type 0x${m.toString(16)})`);
  }

  private skipVariable(): void {
    const len = this.u16();
    if (len < 2) throw new JpegError('corrupt JPEG (bogus marker length)');
    if (this.pos + len - 2 > this.data.length)
      throw new JpegTruncatedError('truncated JPEG (the file ends inside a marker segment)');
    this.pos += len - 2;
  }

  /** jdmarker.c get_interesting_appn (APP0 JFIF, APP14 Adobe) plus the EXIF APP1 payload. */
  private app(m: number): void {
    const len = this.u16();
    if (len < 2) throw new JpegError('corrupt JPEG (bogus marker length)');
    const start = this.pos;
    const end = start + len - 2;
    if (end > this.data.length) throw new JpegTruncatedError('truncated JPEG (the file ends inside a marker segment)');
    const b = this.data.subarray(start, end);
    if (
      m === M_APP0 &&
      b.length >= 14 &&
      b[0] === 0x4a &&
      b[1] === 0x46 &&
      b[2] === 0x49 &&
      b[3] === 0x46 &&
      b[4] === 0
    )
      this.sawJFIF = true;
    if (
      m === M_APP14 &&
      b.length >= 12 &&
      b[0] === 0x41 &&
      b[1] === 0x64 &&
      b[2] === 0x6f &&
      b[3] === 0x62 &&
      b[4] === 0x65
    ) {
      this.sawAdobe = true;
      this.adobeTransform = b[11];
    }
    if (
      m === M_APP1 &&
      !this.exif &&
      b.length >= 6 &&
      b[0] === 0x45 &&
      b[1] === 0x78 &&
      b[2] === 0x69 &&
      b[3] === 0x66 &&
      b[4] === 0 &&
      b[5] === 0
    )
      this.exif = b.subarray(6);
    this.pos = end;
  }

  private sof(progressive: boolean, arith: boolean): void {
    const len = this.u16();
    this.precision = this.byte();
    this.height = this.u16();
    this.width = this.u16();
    const n = this.byte();
    if (this.sawSOF) throw new JpegError('corrupt JPEG (two SOF markers)');
    if (this.height <= 0 || this.width <= 0 || n <= 0)
      throw new JpegError(`corrupt JPEG (empty image: ${this.width}x${this.height}, ${n} components)`);
    if (len - 8 !== n * 3) throw new JpegError('corrupt JPEG (bogus SOF marker length)');
    this.progressive = progressive;
    this.arith = arith;
    for (let i = 0; i < n; i++) {
      const id = this.byte();
      const hv = this.byte();
      const tq = this.byte();
      this.comps.push({
        id,
        index: i,
        h: hv >> 4,
        v: hv & 15,
        tq,
        widthInBlocks: 0,
        heightInBlocks: 0,
        bw: 0,
        bh: 0,
        downsampledWidth: 0,
        downsampledHeight: 0,
        quant: null,
        quantRaw: null,
        coefs: null,
        plane: new Uint8Array(0),
        dcTbl: 0,
        acTbl: 0,
        coefBits: new Int32Array(64).fill(-1),
        prevCoefBits: new Int32Array(64),
      });
    }
    this.sawSOF = true;
  }

  private dht(): void {
    let length = this.u16() - 2;
    while (length > 16) {
      const index = this.byte();
      const bits = new Uint8Array(17);
      let count = 0;
      for (let i = 1; i <= 16; i++) {
        bits[i] = this.byte();
        count += bits[i];
      }
      length -= 17;
      if (count > 256 || count > length) throw new JpegError('corrupt JPEG (bogus Huffman table definition)');
      const huffval = new Uint8Array(256);
      for (let i = 0; i < count; i++) huffval[i] = this.byte();
      length -= count;
      const id = index & 0x0f;
      if ((index & ~0x10) > 3) throw new JpegError(`corrupt JPEG (bogus DHT index ${index})`);
      (index & 0x10 ? this.acSpecs : this.dcSpecs)[id] = { bits, huffval };
    }
    if (length !== 0) throw new JpegError('corrupt JPEG (bogus DHT marker length)');
  }

  private dqt(): void {
    let length = this.u16() - 2;
    while (length > 0) {
      let n = this.byte();
      const prec = n >> 4;
      n &= 0x0f;
      if (n >= 4) throw new JpegError(`corrupt JPEG (bogus DQT index ${n})`);
      const t = new Uint16Array(64);
      for (let i = 0; i < 64; i++) t[NATURAL[i]] = prec ? this.u16() : this.byte();
      this.qtables[n] = t;
      length -= 65;
      if (prec) length -= 64;
    }
    if (length !== 0) throw new JpegError('corrupt JPEG (bogus DQT marker length)');
  }

  private dri(): void {
    if (this.u16() !== 4) throw new JpegError('corrupt JPEG (bogus DRI marker length)');
    this.restartInterval = this.u16();
  }

  private sos(): void {
    if (!this.sawSOF) throw new JpegError('corrupt JPEG (SOS before SOF)');
    const length = this.u16();
    const n = this.byte();
    if (length !== n * 2 + 6 || n < 1 || n > 4) throw new JpegError('corrupt JPEG (bogus SOS marker length)');
    // get_sos's lookup, quirk included: a component is taken only while the scan slot with its own
    // index is still empty, so scans must list components in frame order.
    const comps: Component[] = [];
    for (let i = 0; i < n; i++) {
      const cc = this.byte();
      const c = this.byte();
      let comp: Component | undefined;
      for (let ci = 0; ci < this.comps.length && ci < 4; ci++) {
        if (cc === this.comps[ci].id && comps[ci] === undefined) {
          comp = this.comps[ci];
          break;
        }
      }
      if (!comp || comps.includes(comp)) throw new JpegError(`corrupt JPEG (invalid component ID ${cc} in SOS)`);
      comp.dcTbl = (c >> 4) & 15;
      comp.acTbl = c & 15;
      comps.push(comp);
    }
    const ss = this.byte();
    const se = this.byte();
    const a = this.byte();
    this.nextRestartNum = 0;
    this.scanNumber++;
    const scan: Scan = { comps, ss, se, ah: a >> 4, al: a & 15 };
    if (this.inHeaders) {
      this.initialSetup(scan);
      this.inHeaders = false;
    } else if (!this.multiScan) {
      throw new JpegError('corrupt JPEG (a second scan after a complete single-scan image)');
    }
    this.decodeScan(scan);
    if (!this.multiScan) this.singleScanDone = true;
  }

  /** jdinput.c initial_setup and the buffer allocation of jdcoefct.c / jdmainct.c. */
  private initialSetup(scan: Scan): void {
    if (this.arith) throw new JpegError('unsupported JPEG (arithmetic coding)');
    if (this.height > JPEG_MAX_DIMENSION || this.width > JPEG_MAX_DIMENSION)
      throw new JpegError(`JPEG too large (${this.width}x${this.height}; at most ${JPEG_MAX_DIMENSION} pixels a side)`);
    if (this.precision !== 8) throw new JpegError(`unsupported JPEG (${this.precision}-bit samples; only 8-bit)`);
    const n = this.comps.length;
    if (n !== 1 && n !== 3 && n !== 4) throw new JpegError(`unsupported JPEG (${n} components; 1, 3 or 4 are read)`);
    const max = this.limits.maxPixels;
    if (max !== undefined && this.width * this.height > max) {
      throw new JpegError(
        `JPEG too large (${this.width}x${this.height} = ${((this.width * this.height) / 1e6).toFixed(1)} MP; the limit is ${(max / 1e6).toFixed(1)} MP)`,
      );
    }
    for (const c of this.comps) {
      if (c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4) throw new JpegError('corrupt JPEG (bogus sampling factors)');
      this.maxH = Math.max(this.maxH, c.h);
      this.maxV = Math.max(this.maxV, c.v);
    }
    for (const c of this.comps) {
      c.widthInBlocks = Math.ceil((this.width * c.h) / (this.maxH * 8));
      c.heightInBlocks = Math.ceil((this.height * c.v) / (this.maxV * 8));
      c.bw = Math.ceil(c.widthInBlocks / c.h) * c.h;
      c.bh = Math.ceil(c.heightInBlocks / c.v) * c.v;
      c.downsampledWidth = Math.ceil((this.width * c.h) / this.maxH);
      c.downsampledHeight = Math.ceil((this.height * c.v) / this.maxV);
      // jdsample.c jinit_upsampler: only integral ratios
      if (this.maxH % c.h !== 0 || this.maxV % c.v !== 0)
        throw new JpegError(
          `unsupported JPEG (fractional sampling factors ${c.h}x${c.v} of ${this.maxH}x${this.maxV})`,
        );
    }
    this.totalIMCURows = Math.ceil(this.height / (this.maxV * 8));
    this.multiScan = scan.comps.length < n || this.progressive;
    for (const c of this.comps) {
      c.plane = new Uint8Array(c.bw * 8 * c.bh * 8);
      if (this.multiScan) c.coefs = new Int16Array(c.bw * c.bh * 64);
    }
  }

  // ------------------------------------------------------------------------------- bit reading

  /** jdhuff.c jpeg_fill_bit_buffer. */
  private fill(nbits: number): void {
    if (this.unreadMarker === 0) {
      const d = this.data;
      while (this.bitsLeft < MIN_GET_BITS) {
        if (this.pos >= d.length) throw new JpegTruncatedError('truncated JPEG (the image data ends early)');
        let c = d[this.pos++];
        if (c === 0xff) {
          do {
            if (this.pos >= d.length) throw new JpegTruncatedError('truncated JPEG (the image data ends early)');
            c = d[this.pos++];
          } while (c === 0xff);
          if (c === 0) c = 0xff;
          else {
            this.unreadMarker = c;
            break;
          }
        }
        this.buf = (this.buf << 8) | c;
        this.bitsLeft += 8;
      }
      if (this.unreadMarker === 0) return;
    }
    if (nbits > this.bitsLeft) {
      // a marker cut the segment short: pretend the data continues with zero bits
      this.insufficient = true;
      this.buf <<= MIN_GET_BITS - this.bitsLeft;
      this.bitsLeft = MIN_GET_BITS;
    }
  }

  private getBits(n: number): number {
    if (this.bitsLeft < n) this.fill(n);
    this.bitsLeft -= n;
    return (this.buf >>> this.bitsLeft) & ((1 << n) - 1);
  }

  /** HUFF_DECODE + jpeg_huff_decode. */
  private huff(t: DerivedTbl): number {
    let nb = 1;
    if (this.bitsLeft < HUFF_LOOKAHEAD) {
      this.fill(0);
      if (this.bitsLeft < HUFF_LOOKAHEAD) return this.huffSlow(t, 1);
    }
    const e = t.lookup[(this.buf >>> (this.bitsLeft - HUFF_LOOKAHEAD)) & 255];
    nb = e >> HUFF_LOOKAHEAD;
    if (nb <= HUFF_LOOKAHEAD) {
      this.bitsLeft -= nb;
      return e & 255;
    }
    return this.huffSlow(t, nb);
  }

  private huffSlow(t: DerivedTbl, minBits: number): number {
    let l = minBits;
    let code = this.getBits(l);
    while (code > t.maxcode[l]) {
      code = (code << 1) | this.getBits(1);
      l++;
    }
    if (l > 16) return 0; // JWRN_HUFF_BAD_CODE: fake a zero
    return t.huffval[(code + t.valoffset[l]) & 255];
  }

  // ---------------------------------------------------------------------------------- restarts

  /** jdmarker.c read_restart_marker + jpeg_resync_to_restart. */
  private readRestartMarker(): void {
    if (this.unreadMarker === 0) this.unreadMarker = this.nextMarker();
    const desired = this.nextRestartNum;
    if (this.unreadMarker === M_RST0 + desired) {
      this.unreadMarker = 0;
    } else {
      for (;;) {
        const marker = this.unreadMarker;
        let action: number;
        if (marker < M_SOF0) action = 2;
        else if (marker < M_RST0 || marker > M_RST0 + 7) action = 3;
        else if (marker === M_RST0 + ((desired + 1) & 7) || marker === M_RST0 + ((desired + 2) & 7)) action = 3;
        else if (marker === M_RST0 + ((desired - 1) & 7) || marker === M_RST0 + ((desired - 2) & 7)) action = 2;
        else action = 1;
        if (action === 1) {
          this.unreadMarker = 0;
          break;
        }
        if (action === 3) break;
        this.unreadMarker = this.nextMarker();
      }
    }
    this.nextRestartNum = (this.nextRestartNum + 1) & 7;
  }

  /** jdhuff.c / jdphuff.c process_restart. */
  private processRestart(ncomps: number): void {
    this.bitsLeft = 0;
    this.readRestartMarker();
    for (let i = 0; i < ncomps; i++) this.lastDc[i] = 0;
    this.eobrun = 0;
    this.restartsToGo = this.restartInterval;
    if (this.unreadMarker === 0) this.insufficient = false;
  }

  // ------------------------------------------------------------------------------------- scans

  private decodeScan(scan: Scan): void {
    const { comps } = scan;
    // latch_quant_tables
    for (const c of comps) {
      if (c.quant) continue;
      const t = this.qtables[c.tq];
      if (c.tq >= 4 || !t)
        throw new JpegError(
          `corrupt JPEG (quantization table 0x${c.tq.toString(16).padStart(2, '0')} was not defined)`,
        );
      c.quantRaw = t.slice();
      c.quant = Int16Array.from(t); // ISLOW_MULT_TYPE is short in the SIMD build
    }
    // per_scan_setup
    let blocksInMCU = 0;
    if (comps.length > 1) {
      for (const c of comps) blocksInMCU += c.h * c.v;
      if (blocksInMCU > 10) throw new JpegError('corrupt JPEG (sampling factors too large for an interleaved scan)');
    }
    // entropy setup
    let mode: 'seq' | 'dcFirst' | 'dcRefine' | 'acFirst' | 'acRefine' = 'seq';
    const dcT: DerivedTbl[] = [];
    const acT: DerivedTbl[] = [];
    if (this.progressive) {
      const { ss, se, ah, al } = scan;
      const isDC = ss === 0;
      let bad = false;
      if (isDC) {
        if (se !== 0) bad = true;
      } else {
        if (ss > se || se >= 64) bad = true;
        if (comps.length !== 1) bad = true;
      }
      if (ah !== 0 && al !== ah - 1) bad = true;
      if (al > 13) bad = true;
      if (bad) throw new JpegError(`corrupt JPEG (invalid progressive parameters Ss=${ss} Se=${se} Ah=${ah} Al=${al})`);
      for (const c of comps) {
        const cb = c.coefBits;
        const prev = c.prevCoefBits;
        for (let k = Math.min(ss, 1); k <= Math.max(se, 9); k++) prev[k] = this.scanNumber > 1 ? cb[k] : 0;
        for (let k = ss; k <= se; k++) cb[k] = al;
      }
      mode = ah === 0 ? (isDC ? 'dcFirst' : 'acFirst') : isDC ? 'dcRefine' : 'acRefine';
      for (const c of comps) {
        if (isDC) {
          if (ah === 0) dcT[c.index] = makeDerivedTbl(this.dcSpecs[c.dcTbl], true, c.dcTbl);
        } else {
          acT[c.index] = makeDerivedTbl(this.acSpecs[c.acTbl], false, c.acTbl);
        }
      }
    } else {
      for (const c of comps) {
        dcT[c.index] = makeDerivedTbl(this.dcSpecs[c.dcTbl], true, c.dcTbl);
        acT[c.index] = makeDerivedTbl(this.acSpecs[c.acTbl], false, c.acTbl);
      }
    }
    this.lastDc.fill(0);
    this.bitsLeft = 0;
    this.buf = 0;
    this.insufficient = false;
    this.eobrun = 0;
    this.restartsToGo = this.restartInterval;

    const onePass = !this.multiScan;
    const mcu = this.mcu;
    const ncomps = comps.length;
    const decodeBlock = (c: Component, ci: number, coefs: Int16Array, off: number): void => {
      switch (mode) {
        case 'seq':
          this.seqBlock(dcT[c.index], acT[c.index], ci, coefs, off);
          break;
        case 'dcFirst':
          this.dcFirst(dcT[c.index], ci, coefs, off, scan.al);
          break;
        case 'dcRefine':
          if (this.getBits(1)) coefs[off] |= 1 << scan.al;
          break;
        case 'acFirst':
          this.acFirst(acT[c.index], coefs, off, scan.ss, scan.se, scan.al);
          break;
        case 'acRefine':
          this.acRefine(acT[c.index], coefs, off, scan.ss, scan.se, scan.al);
          break;
      }
    };
    // Per MCU: restart handling, then the blocks (skipped after a marker cut the segment short,
    // except DC refinement which libjpeg runs on the zero bits).
    const startMCU = (iMCURow: number): boolean => {
      if (!this.insufficient) this.lastGoodIMCURow = iMCURow;
      if (this.restartInterval) {
        if (this.restartsToGo === 0) this.processRestart(ncomps);
        this.restartsToGo--;
      }
      return mode === 'dcRefine' || !this.insufficient;
    };

    if (ncomps === 1) {
      const c = comps[0];
      const coefs = onePass ? mcu : c.coefs!;
      const stride = c.bw * 8;
      for (let by = 0; by < c.heightInBlocks; by++) {
        for (let bx = 0; bx < c.widthInBlocks; bx++) {
          const off = onePass ? 0 : (by * c.bw + bx) * 64;
          if (onePass) mcu.fill(0, 0, 64);
          if (startMCU(Math.floor(by / c.v))) decodeBlock(c, 0, coefs, off);
          if (onePass) idctIslow(mcu, 0, c.quant!, c.plane, by * 8 * stride + bx * 8, stride);
        }
      }
    } else {
      const mcusPerRow = Math.ceil(this.width / (this.maxH * 8));
      const mcuRows = this.totalIMCURows;
      for (let my = 0; my < mcuRows; my++) {
        for (let mx = 0; mx < mcusPerRow; mx++) {
          if (onePass) mcu.fill(0, 0, blocksInMCU * 64);
          const go = startMCU(my);
          let blk = 0;
          for (let ci = 0; ci < ncomps; ci++) {
            const c = comps[ci];
            for (let y = 0; y < c.v; y++) {
              for (let x = 0; x < c.h; x++, blk++) {
                const by = my * c.v + y;
                const bx = mx * c.h + x;
                const coefs = onePass ? mcu : c.coefs!;
                const off = onePass ? blk * 64 : (by * c.bw + bx) * 64;
                if (go) decodeBlock(c, ci, coefs, off);
                if (onePass && bx < c.widthInBlocks && by < c.heightInBlocks) {
                  const stride = c.bw * 8;
                  idctIslow(mcu, off, c.quant!, c.plane, by * 8 * stride + bx * 8, stride);
                }
              }
            }
          }
        }
      }
    }
  }

  /** jdhuff.c decode_mcu_slow, one block. */
  private seqBlock(dc: DerivedTbl, ac: DerivedTbl, ci: number, coefs: Int16Array, off: number): void {
    let s = this.huff(dc);
    if (s) {
      const r = this.getBits(s);
      s = r < 1 << (s - 1) ? r - (1 << s) + 1 : r;
    }
    s = (s + this.lastDc[ci]) | 0;
    this.lastDc[ci] = s;
    coefs[off] = s;
    for (let k = 1; k < 64; k++) {
      let s2 = this.huff(ac);
      const r = s2 >> 4;
      s2 &= 15;
      if (s2) {
        k += r;
        const v = this.getBits(s2);
        coefs[off + NATURAL[k]] = v < 1 << (s2 - 1) ? v - (1 << s2) + 1 : v;
      } else {
        if (r !== 15) break;
        k += 15;
      }
    }
  }

  /** jdphuff.c decode_mcu_DC_first, one block. */
  private dcFirst(dc: DerivedTbl, ci: number, coefs: Int16Array, off: number, al: number): void {
    let s = this.huff(dc);
    if (s) {
      const r = this.getBits(s);
      s = r < 1 << (s - 1) ? r - (1 << s) + 1 : r;
    }
    const last = this.lastDc[ci];
    if ((last >= 0 && s > 0x7fffffff - last) || (last < 0 && s < -0x80000000 - last))
      throw new JpegError('corrupt JPEG (DCT coefficient out of range)');
    s += last;
    this.lastDc[ci] = s;
    coefs[off] = s << al;
  }

  /** jdphuff.c decode_mcu_AC_first, one block. */
  private acFirst(ac: DerivedTbl, coefs: Int16Array, off: number, ss: number, se: number, al: number): void {
    if (this.eobrun > 0) {
      this.eobrun--;
      return;
    }
    for (let k = ss; k <= se; k++) {
      let s = this.huff(ac);
      let r = s >> 4;
      s &= 15;
      if (s) {
        k += r;
        const v = this.getBits(s);
        coefs[off + NATURAL[k]] = (v < 1 << (s - 1) ? v - (1 << s) + 1 : v) << al;
      } else if (r === 15) {
        k += 15;
      } else {
        let eob = 1 << r;
        if (r) {
          r = this.getBits(r);
          eob += r;
        }
        this.eobrun = eob - 1;
        break;
      }
    }
  }

  /** jdphuff.c decode_mcu_AC_refine, one block. */
  private acRefine(ac: DerivedTbl, coefs: Int16Array, off: number, ss: number, se: number, al: number): void {
    const p1 = 1 << al;
    const m1 = -1 << al;
    let k = ss;
    if (this.eobrun === 0) {
      for (; k <= se; k++) {
        let s = this.huff(ac);
        let r = s >> 4;
        s &= 15;
        if (s) {
          s = this.getBits(1) ? p1 : m1; // (a size other than 1 is a libjpeg warning; the bit is read anyway)
        } else if (r !== 15) {
          let eob = 1 << r;
          if (r) eob += this.getBits(r);
          this.eobrun = eob;
          break;
        }
        do {
          const i = off + NATURAL[k];
          if (coefs[i] !== 0) {
            if (this.getBits(1)) {
              if ((coefs[i] & p1) === 0) coefs[i] += coefs[i] >= 0 ? p1 : m1;
            }
          } else if (--r < 0) break;
          k++;
        } while (k <= se);
        if (s) coefs[off + NATURAL[k]] = s;
      }
    }
    if (this.eobrun > 0) {
      for (; k <= se; k++) {
        const i = off + NATURAL[k];
        if (coefs[i] !== 0) {
          if (this.getBits(1)) {
            if ((coefs[i] & p1) === 0) coefs[i] += coefs[i] >= 0 ? p1 : m1;
          }
        }
      }
      this.eobrun--;
    }
  }

  // --------------------------------------------------------------------------- output (multi-scan)

  /** jdcoefct.c decompress_data / decompress_smooth_data: coefficients -> sample planes. */
  finishCoefficients(): void {
    if (!this.multiScan) return;
    const smooth = this.smoothingOk();
    for (const c of this.comps) {
      if (!c.quant) throw new JpegError(`corrupt JPEG (component ${c.id} has no data)`);
      if (smooth) this.smoothComponent(c);
      else {
        const stride = c.bw * 8;
        for (let by = 0; by < c.heightInBlocks; by++)
          for (let bx = 0; bx < c.widthInBlocks; bx++)
            idctIslow(c.coefs!, (by * c.bw + bx) * 64, c.quant, c.plane, by * 8 * stride + bx * 8, stride);
      }
      c.coefs = null;
    }
  }

  /** jdcoefct.c smoothing_ok (the latches are the components' coefBits / prevCoefBits). */
  private smoothingOk(): boolean {
    if (!this.progressive) return false;
    let useful = false;
    for (const c of this.comps) {
      const q = c.quantRaw;
      if (!q) return false;
      if (!q[0] || !q[1] || !q[8] || !q[16] || !q[9] || !q[2] || !q[3] || !q[10] || !q[17] || !q[24]) return false;
      if (c.coefBits[0] < 0) return false;
      if (this.scanNumber <= 1) for (let k = 1; k < 10; k++) c.prevCoefBits[k] = -1;
      for (let k = 1; k < 10; k++) if (c.coefBits[k] !== 0) useful = true;
    }
    return useful;
  }

  /** jdcoefct.c decompress_smooth_data for one component, all iMCU rows. */
  private smoothComponent(c: Component): void {
    const coefs = c.coefs!;
    const stride = c.bw * 8;
    const v = c.v;
    const lastIMCURow = this.totalIMCURows - 1;
    const ws = new Int16Array(64);
    const q = c.quantRaw!;
    const Q00 = q[0];
    const Q01 = q[1];
    const Q10 = q[8];
    const Q20 = q[16];
    const Q11 = q[9];
    const Q02 = q[2];
    const Q03 = q[3];
    const Q12 = q[10];
    const Q21 = q[17];
    const Q30 = q[24];
    const lastBlockColumn = c.widthInBlocks - 1;
    const dcAt = (row: number, col: number) => coefs[(row * c.bw + col) * 64];
    const pred = (num: number, Q: number, Al: number, limit: boolean): number => {
      let p: number;
      if (num >= 0) {
        p = Math.trunc((Q * 128 + num) / (Q * 256));
        if (limit && Al > 0 && p >= 1 << Al) p = (1 << Al) - 1;
      } else {
        p = Math.trunc((Q * 128 - num) / (Q * 256));
        if (limit && Al > 0 && p >= 1 << Al) p = (1 << Al) - 1;
        p = -p;
      }
      return p;
    };
    for (let row = 0; row <= lastIMCURow; row++) {
      let blockRows: number;
      if (row < lastIMCURow) blockRows = v;
      else {
        blockRows = c.heightInBlocks % v;
        if (blockRows === 0) blockRows = v;
      }
      const coefBits = row > this.lastGoodIMCURow ? c.prevCoefBits : c.coefBits;
      const changeDc =
        coefBits[1] === -1 &&
        coefBits[2] === -1 &&
        coefBits[3] === -1 &&
        coefBits[4] === -1 &&
        coefBits[5] === -1 &&
        coefBits[6] === -1 &&
        coefBits[7] === -1 &&
        coefBits[8] === -1 &&
        coefBits[9] === -1;
      for (let br = 0; br < blockRows; br++) {
        const cur = row * v + br;
        const prevRow = br > 0 || row > 0 ? cur - 1 : cur;
        const prevPrevRow = br > 1 || row > 1 ? cur - 2 : prevRow;
        const nextRow = br < blockRows - 1 || row < lastIMCURow ? cur + 1 : cur;
        const nextNextRow = br < blockRows - 2 || row + 1 < lastIMCURow ? cur + 2 : nextRow;
        let DC01 = dcAt(prevPrevRow, 0);
        let DC02 = DC01;
        let DC03 = DC01;
        let DC04 = DC01;
        let DC05 = DC01;
        let DC06 = dcAt(prevRow, 0);
        let DC07 = DC06;
        let DC08 = DC06;
        let DC09 = DC06;
        let DC10 = DC06;
        let DC11 = dcAt(cur, 0);
        let DC12 = DC11;
        let DC13 = DC11;
        let DC14 = DC11;
        let DC15 = DC11;
        let DC16 = dcAt(nextRow, 0);
        let DC17 = DC16;
        let DC18 = DC16;
        let DC19 = DC16;
        let DC20 = DC16;
        let DC21 = dcAt(nextNextRow, 0);
        let DC22 = DC21;
        let DC23 = DC21;
        let DC24 = DC21;
        let DC25 = DC21;
        for (let bn = 0; bn <= lastBlockColumn; bn++) {
          const off = (cur * c.bw + bn) * 64;
          ws.set(coefs.subarray(off, off + 64));
          if (bn === 0 && bn < lastBlockColumn) {
            DC04 = dcAt(prevPrevRow, 1);
            DC09 = dcAt(prevRow, 1);
            DC14 = dcAt(cur, 1);
            DC19 = dcAt(nextRow, 1);
            DC24 = dcAt(nextNextRow, 1);
          }
          if (bn + 1 < lastBlockColumn) {
            DC05 = dcAt(prevPrevRow, bn + 2);
            DC10 = dcAt(prevRow, bn + 2);
            DC15 = dcAt(cur, bn + 2);
            DC20 = dcAt(nextRow, bn + 2);
            DC25 = dcAt(nextNextRow, bn + 2);
          }
          let Al: number;
          if ((Al = coefBits[1]) !== 0 && ws[1] === 0) {
            const num =
              Q00 *
              (changeDc
                ? -DC01 -
                  DC02 +
                  DC04 +
                  DC05 -
                  3 * DC06 +
                  13 * DC07 -
                  13 * DC09 +
                  3 * DC10 -
                  3 * DC11 +
                  38 * DC12 -
                  38 * DC14 +
                  3 * DC15 -
                  3 * DC16 +
                  13 * DC17 -
                  13 * DC19 +
                  3 * DC20 -
                  DC21 -
                  DC22 +
                  DC24 +
                  DC25
                : -7 * DC11 + 50 * DC12 - 50 * DC14 + 7 * DC15);
            ws[1] = pred(num, Q01, Al, true);
          }
          if ((Al = coefBits[2]) !== 0 && ws[8] === 0) {
            const num =
              Q00 *
              (changeDc
                ? -DC01 -
                  3 * DC02 -
                  3 * DC03 -
                  3 * DC04 -
                  DC05 -
                  DC06 +
                  13 * DC07 +
                  38 * DC08 +
                  13 * DC09 -
                  DC10 +
                  DC16 -
                  13 * DC17 -
                  38 * DC18 -
                  13 * DC19 +
                  DC20 +
                  DC21 +
                  3 * DC22 +
                  3 * DC23 +
                  3 * DC24 +
                  DC25
                : -7 * DC03 + 50 * DC08 - 50 * DC18 + 7 * DC23);
            ws[8] = pred(num, Q10, Al, true);
          }
          if ((Al = coefBits[3]) !== 0 && ws[16] === 0) {
            const num =
              Q00 *
              (changeDc
                ? DC03 +
                  2 * DC07 +
                  7 * DC08 +
                  2 * DC09 -
                  5 * DC12 -
                  14 * DC13 -
                  5 * DC14 +
                  2 * DC17 +
                  7 * DC18 +
                  2 * DC19 +
                  DC23
                : -DC03 + 13 * DC08 - 24 * DC13 + 13 * DC18 - DC23);
            ws[16] = pred(num, Q20, Al, true);
          }
          if ((Al = coefBits[4]) !== 0 && ws[9] === 0) {
            const num =
              Q00 *
              (changeDc
                ? -DC01 + DC05 + 9 * DC07 - 9 * DC09 - 9 * DC17 + 9 * DC19 + DC21 - DC25
                : DC10 +
                  DC16 -
                  10 * DC17 +
                  10 * DC19 -
                  DC02 -
                  DC20 +
                  DC22 -
                  DC24 +
                  DC04 -
                  DC06 +
                  10 * DC07 -
                  10 * DC09);
            ws[9] = pred(num, Q11, Al, true);
          }
          if ((Al = coefBits[5]) !== 0 && ws[2] === 0) {
            const num =
              Q00 *
              (changeDc
                ? 2 * DC07 -
                  5 * DC08 +
                  2 * DC09 +
                  DC11 +
                  7 * DC12 -
                  14 * DC13 +
                  7 * DC14 +
                  DC15 +
                  2 * DC17 -
                  5 * DC18 +
                  2 * DC19
                : -DC11 + 13 * DC12 - 24 * DC13 + 13 * DC14 - DC15);
            ws[2] = pred(num, Q02, Al, true);
          }
          if (changeDc) {
            if ((Al = coefBits[6]) !== 0 && ws[3] === 0)
              ws[3] = pred(Q00 * (DC07 - DC09 + 2 * DC12 - 2 * DC14 + DC17 - DC19), Q03, Al, true);
            if ((Al = coefBits[7]) !== 0 && ws[10] === 0)
              ws[10] = pred(Q00 * (DC07 - 3 * DC08 + DC09 - DC17 + 3 * DC18 - DC19), Q12, Al, true);
            if ((Al = coefBits[8]) !== 0 && ws[17] === 0)
              ws[17] = pred(Q00 * (DC07 - DC09 - 3 * DC12 + 3 * DC14 + DC17 - DC19), Q21, Al, true);
            if ((Al = coefBits[9]) !== 0 && ws[24] === 0)
              ws[24] = pred(Q00 * (DC07 + 2 * DC08 + DC09 - DC17 - 2 * DC18 - DC19), Q30, Al, true);
            const num =
              Q00 *
              (-2 * DC01 -
                6 * DC02 -
                8 * DC03 -
                6 * DC04 -
                2 * DC05 -
                6 * DC06 +
                6 * DC07 +
                42 * DC08 +
                6 * DC09 -
                6 * DC10 -
                8 * DC11 +
                42 * DC12 +
                152 * DC13 +
                42 * DC14 -
                8 * DC15 -
                6 * DC16 +
                6 * DC17 +
                42 * DC18 +
                6 * DC19 -
                6 * DC20 -
                2 * DC21 -
                6 * DC22 -
                8 * DC23 -
                6 * DC24 -
                2 * DC25);
            ws[0] = pred(num, Q00, 0, false);
          }
          idctIslow(ws, 0, c.quant!, c.plane, cur * 8 * stride + bn * 8, stride);
          DC01 = DC02;
          DC02 = DC03;
          DC03 = DC04;
          DC04 = DC05;
          DC06 = DC07;
          DC07 = DC08;
          DC08 = DC09;
          DC09 = DC10;
          DC11 = DC12;
          DC12 = DC13;
          DC13 = DC14;
          DC14 = DC15;
          DC16 = DC17;
          DC17 = DC18;
          DC18 = DC19;
          DC19 = DC20;
          DC21 = DC22;
          DC22 = DC23;
          DC23 = DC24;
          DC24 = DC25;
        }
      }
    }
  }

  // ------------------------------------------------------------------ upsampling + colour conversion

  /** libjpeg's jpeg_color_space guess (jdapimin.c default_decompress_parms). */
  colorSpace(): JpegColorSpace {
    const n = this.comps.length;
    if (n === 1) return 'gray';
    if (n === 3) {
      if (this.sawJFIF) return 'ycbcr';
      if (this.sawAdobe) return this.adobeTransform === 0 ? 'rgb' : 'ycbcr';
      const [a, b, c] = this.comps.map((k) => k.id);
      if (a === 82 && b === 71 && c === 66) return 'rgb';
      return 'ycbcr';
    }
    if (this.sawAdobe) return this.adobeTransform === 0 ? 'cmyk' : 'ycck';
    return 'cmyk';
  }

  /** jdsample.c + jdcolor.c: planes -> interleaved output rows (GRAYSCALE, RGB or CMYK). */
  output(): Uint8Array {
    const W = this.width;
    const H = this.height;
    const n = this.comps.length;
    const cs = this.colorSpace();
    const out = new Uint8Array(W * H * n);
    const rows = this.comps.map(() => new Uint8Array(W + 16));
    const ups = this.comps.map((c) => this.upsampler(c, W));
    for (let y = 0; y < H; y++) {
      const src: Uint8Array[] = [];
      for (let ci = 0; ci < n; ci++) src.push(ups[ci](y, rows[ci]));
      let o = y * W * n;
      if (n === 1) {
        out.set(src[0].subarray(0, W), o);
      } else if (cs === 'ycbcr') {
        const [Y, Cb, Cr] = src;
        for (let x = 0; x < W; x++, o += 3) {
          const yy = Y[x];
          const cb = Cb[x];
          const cr = Cr[x];
          out[o] = RANGE[yy + Cr_R[cr] + 384];
          out[o + 1] = RANGE[yy + ((Cb_G[cb] + Cr_G[cr]) >> 16) + 384];
          out[o + 2] = RANGE[yy + Cb_B[cb] + 384];
        }
      } else if (cs === 'rgb') {
        const [R, G, B] = src;
        for (let x = 0; x < W; x++, o += 3) {
          out[o] = R[x];
          out[o + 1] = G[x];
          out[o + 2] = B[x];
        }
      } else if (cs === 'cmyk') {
        const [C, M, Yc, K] = src;
        for (let x = 0; x < W; x++, o += 4) {
          out[o] = C[x];
          out[o + 1] = M[x];
          out[o + 2] = Yc[x];
          out[o + 3] = K[x];
        }
      } else {
        // ycck_cmyk_convert
        const [Y, Cb, Cr, K] = src;
        for (let x = 0; x < W; x++, o += 4) {
          const yy = Y[x];
          const cb = Cb[x];
          const cr = Cr[x];
          out[o] = RANGE[255 - (yy + Cr_R[cr]) + 384];
          out[o + 1] = RANGE[255 - (yy + ((Cb_G[cb] + Cr_G[cr]) >> 16)) + 384];
          out[o + 2] = RANGE[255 - (yy + Cb_B[cb]) + 384];
          out[o + 3] = K[x];
        }
      }
    }
    return out;
  }

  /**
   * jdsample.c jinit_upsampler's choice for one component, as a function of the output row. Rows past
   * the component's downsampled height repeat its last row and the row above the first is the first
   * (jdmainct.c context rows).
   */
  private upsampler(c: Component, W: number): (y: number, row: Uint8Array) => Uint8Array {
    const stride = c.bw * 8;
    const plane = c.plane;
    const dsw = c.downsampledWidth;
    const dsh = c.downsampledHeight;
    const hx = this.maxH / c.h;
    const vx = this.maxV / c.v;
    const rowAt = (r: number) => (r < 0 ? 0 : r >= dsh ? dsh - 1 : r) * stride;
    if (hx === 1 && vx === 1) return (y) => plane.subarray(y * stride, y * stride + W);
    if (hx === 2 && vx === 1 && dsw > 2) {
      // h2v1_fancy_upsample
      return (y, row) => {
        const p = y * stride;
        row[0] = plane[p];
        row[1] = (plane[p] * 3 + plane[p + 1] + 2) >> 2;
        for (let i = 1; i < dsw - 1; i++) {
          const v3 = plane[p + i] * 3;
          row[2 * i] = (v3 + plane[p + i - 1] + 1) >> 2;
          row[2 * i + 1] = (v3 + plane[p + i + 1] + 2) >> 2;
        }
        const l = dsw - 1;
        row[2 * l] = (plane[p + l] * 3 + plane[p + l - 1] + 1) >> 2;
        row[2 * l + 1] = plane[p + l];
        return row;
      };
    }
    if (hx === 1 && vx === 2) {
      // h1v2_fancy_upsample
      return (y, row) => {
        const iy = y >> 1;
        const near = rowAt(iy);
        const far = rowAt(y & 1 ? iy + 1 : iy - 1);
        const bias = y & 1 ? 2 : 1;
        for (let x = 0; x < dsw; x++) row[x] = (plane[near + x] * 3 + plane[far + x] + bias) >> 2;
        return row;
      };
    }
    if (hx === 2 && vx === 2 && dsw > 2) {
      // h2v2_fancy_upsample
      return (y, row) => {
        const iy = y >> 1;
        const near = rowAt(iy);
        const far = rowAt(y & 1 ? iy + 1 : iy - 1);
        let thiscolsum = plane[near] * 3 + plane[far];
        let nextcolsum = plane[near + 1] * 3 + plane[far + 1];
        row[0] = (thiscolsum * 4 + 8) >> 4;
        row[1] = (thiscolsum * 3 + nextcolsum + 7) >> 4;
        let lastcolsum = thiscolsum;
        thiscolsum = nextcolsum;
        for (let i = 1; i < dsw - 1; i++) {
          nextcolsum = plane[near + i + 1] * 3 + plane[far + i + 1];
          row[2 * i] = (thiscolsum * 3 + lastcolsum + 8) >> 4;
          row[2 * i + 1] = (thiscolsum * 3 + nextcolsum + 7) >> 4;
          lastcolsum = thiscolsum;
          thiscolsum = nextcolsum;
        }
        const l = dsw - 1;
        row[2 * l] = (thiscolsum * 3 + lastcolsum + 8) >> 4;
        row[2 * l + 1] = (thiscolsum * 4 + 7) >> 4;
        return row;
      };
    }
    // h2v1_upsample, h2v2_upsample (narrow components) and int_upsample: replication
    return (y, row) => {
      const p = Math.floor(y / vx) * stride;
      for (let x = 0; x < W; x++) row[x] = plane[p + Math.floor(x / hx)];
      return row;
    };
  }
}

/** Read width, height and component count from the header without decoding (null if not found). */
export function jpegHeader(bytes: Uint8Array): { width: number; height: number; components: number } | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== M_SOI) return null;
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) {
      p++;
      continue;
    }
    const m = bytes[p + 1];
    if (m === 0xff) {
      p++;
      continue;
    }
    if (m === M_SOI || (m >= M_RST0 && m <= M_RST0 + 7) || m === M_TEM || m === 0) {
      p += 2;
      continue;
    }
    const len = (bytes[p + 2] << 8) | bytes[p + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== M_DHT && m !== 0xc8 && m !== M_DAC) {
      if (p + 10 > bytes.length) return null;
      return {
        height: (bytes[p + 5] << 8) | bytes[p + 6],
        width: (bytes[p + 7] << 8) | bytes[p + 8],
        components: bytes[p + 9],
      };
    }
    if (m === M_SOS || m === M_EOI) return null;
    p += 2 + len;
  }
  return null;
}

/** Decode a JPEG as libjpeg-turbo 2.1.5 does for PIL (see the file comment). Throws JpegError. */
export function decodeJpeg(bytes: Uint8Array, limits: JpegLimits = {}): JpegImage {
  const d = new Decoder(bytes, limits);
  try {
    d.decode();
  } catch (e) {
    if (e instanceof RangeError) throw new JpegError(`JPEG too large to decode here (${e.message})`);
    throw e;
  }
  d.finishCoefficients();
  const data = d.output();
  const cs = d.colorSpace();
  return {
    width: d.width,
    height: d.height,
    colorSpace: cs,
    channels: d.comps.length as 1 | 3 | 4,
    data,
    progressive: d.progressive,
    exif: d.exif,
  };
}
