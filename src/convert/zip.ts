// Minimal zip reader over a ByteSource (positional reads; the archive is never read whole).
//
// Layout (APPNOTE 6.3): local headers + data, central directory, [zip64 end record, zip64
// locator], end-of-central-directory record (EOCD) with an optional comment. We find the EOCD by
// scanning the last 64 KiB backwards, follow the zip64 locator when present, read the central
// directory in one read, and locate each entry's data through its local header. Entries are
// stored (method 0, what torch.save writes) or deflated (method 8, via fflate). Every count and
// offset is checked against the file size, so a corrupt archive fails with a message, never a hang.

import { inflateSync } from 'fflate';
import { type ByteSource, WeightsFormatError } from '../graph/weights_io.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const LOCAL_SIZE = 30;
const CENTRAL_SIZE = 46;
/** Refuse central directories / single inflated entries above these (corrupt sizes). */
const MAX_DIRECTORY_BYTES = 512 * 1024 * 1024;
const MAX_INFLATE_BYTES = 2 ** 31 - 1;

export type ZipErrorCode = 'no-eocd' | 'truncated' | 'corrupt' | 'unsupported';

export class ZipError extends WeightsFormatError {
  constructor(
    readonly code: ZipErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export interface LocalHeader {
  name: string;
  flags: number;
  method: number;
  /** Sizes from the local header (0 when bit 3 says a data descriptor follows the data). */
  compressedSize: number;
  size: number;
  /** Absolute offset of the entry's data. */
  dataStart: number;
}

/** u64 little-endian as a safe integer (zip64 fields). */
function u64(dv: DataView, at: number, what: string): number {
  const lo = dv.getUint32(at, true);
  const hi = dv.getUint32(at + 4, true);
  if (hi >= 0x200000) throw new ZipError('corrupt', `zip: ${what} ${hi} * 2^32 is beyond 2^53`);
  return hi * 2 ** 32 + lo;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

const utf8 = new TextDecoder('utf-8');

/** Read the local file header at `offset` (also used to diagnose archives without a directory). */
export async function readLocalHeader(src: ByteSource, offset: number): Promise<LocalHeader> {
  if (offset + LOCAL_SIZE > src.size)
    throw new ZipError('truncated', `zip: local header at ${offset} runs past the end of the ${src.size}-byte file`);
  const h = view(await src.read(offset, LOCAL_SIZE));
  if (h.getUint32(0, true) !== SIG_LOCAL)
    throw new ZipError('corrupt', `zip: no local file header at offset ${offset}`);
  const nameLen = h.getUint16(26, true);
  const extraLen = h.getUint16(28, true);
  const dataStart = offset + LOCAL_SIZE + nameLen + extraLen;
  if (dataStart > src.size)
    throw new ZipError('truncated', `zip: local header at ${offset} runs past the end of the ${src.size}-byte file`);
  const name = utf8.decode(await src.read(offset + LOCAL_SIZE, nameLen));
  return {
    name,
    flags: h.getUint16(6, true),
    method: h.getUint16(8, true),
    compressedSize: h.getUint32(18, true),
    size: h.getUint32(22, true),
    dataStart,
  };
}

interface DirectoryLocation {
  offset: number;
  size: number;
  count: number;
}

/** Find the EOCD (and zip64 records) and return where the central directory is. */
async function locateDirectory(src: ByteSource): Promise<DirectoryLocation> {
  if (src.size < EOCD_SIZE) throw new ZipError('no-eocd', `zip: ${src.size} bytes is too small for a zip archive`);
  const tailLen = Math.min(src.size, EOCD_SIZE + 0xffff + 20);
  const tailStart = src.size - tailLen;
  const tail = await src.read(tailStart, tailLen);
  const dv = view(tail);
  const at = findEocd(dv);
  if (at < 0) throw new ZipError('no-eocd', `zip: no end-of-central-directory record in the last ${tailLen} bytes`);
  if (dv.getUint16(at + 4, true) !== 0 || dv.getUint16(at + 6, true) !== 0)
    throw new ZipError('unsupported', 'zip: multi-disk archives are not supported');
  let loc: DirectoryLocation = {
    count: dv.getUint16(at + 10, true),
    size: dv.getUint32(at + 12, true),
    offset: dv.getUint32(at + 16, true),
  };
  if (at >= 20 && dv.getUint32(at - 20, true) === SIG_ZIP64_LOCATOR)
    loc = await readZip64End(src, u64(dv, at - 20 + 8, 'zip64 end offset'));
  else if (loc.count === 0xffff || loc.size === 0xffffffff || loc.offset === 0xffffffff)
    throw new ZipError('corrupt', 'zip: EOCD says zip64 but there is no zip64 locator');
  const eocdAbs = tailStart + at;
  if (loc.offset + loc.size > eocdAbs) {
    throw new ZipError(
      'truncated',
      `zip: central directory [${loc.offset}, ${loc.offset + loc.size}) lies past its end record at ${eocdAbs} (truncated or corrupt archive)`,
    );
  }
  if (loc.count * CENTRAL_SIZE > loc.size)
    throw new ZipError('corrupt', `zip: ${loc.count} entries cannot fit a ${loc.size}-byte central directory`);
  if (loc.size > MAX_DIRECTORY_BYTES)
    throw new ZipError('unsupported', `zip: central directory of ${loc.size} bytes is too large`);
  return loc;
}

/** Last EOCD signature whose comment length reaches the end of the tail exactly; else the last one. */
function findEocd(dv: DataView): number {
  let fallback = -1;
  for (let i = dv.byteLength - EOCD_SIZE; i >= 0; i--) {
    if (dv.getUint32(i, true) !== SIG_EOCD) continue;
    if (i + EOCD_SIZE + dv.getUint16(i + 20, true) === dv.byteLength) return i;
    if (fallback < 0) fallback = i;
  }
  return fallback;
}

async function readZip64End(src: ByteSource, offset: number): Promise<DirectoryLocation> {
  if (offset + 56 > src.size)
    throw new ZipError('corrupt', `zip: zip64 end record offset ${offset} is outside the file`);
  const dv = view(await src.read(offset, 56));
  if (dv.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new ZipError('corrupt', `zip: no zip64 end record at ${offset}`);
  if (dv.getUint32(16, true) !== 0 || dv.getUint32(20, true) !== 0)
    throw new ZipError('unsupported', 'zip: multi-disk archives are not supported');
  return {
    count: u64(dv, 32, 'entry count'),
    size: u64(dv, 40, 'directory size'),
    offset: u64(dv, 48, 'directory offset'),
  };
}

/** Parse the central directory records. */
function parseDirectory(dir: Uint8Array, count: number, fileSize: number): Map<string, ZipEntry> {
  const dv = view(dir);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > dir.byteLength || dv.getUint32(p, true) !== SIG_CENTRAL)
      throw new ZipError('corrupt', `zip: central directory record ${i} is damaged`);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (end > dir.byteLength)
      throw new ZipError('corrupt', `zip: central directory record ${i} runs past the directory`);
    const name = utf8.decode(dir.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    const e: ZipEntry = {
      name,
      flags: dv.getUint16(p + 8, true),
      method: dv.getUint16(p + 10, true),
      crc32: dv.getUint32(p + 16, true),
      compressedSize: dv.getUint32(p + 20, true),
      size: dv.getUint32(p + 24, true),
      localHeaderOffset: dv.getUint32(p + 42, true),
    };
    applyZip64Extra(e, new DataView(dir.buffer, dir.byteOffset + p + CENTRAL_SIZE + nameLen, extraLen));
    if (e.localHeaderOffset + LOCAL_SIZE > fileSize)
      throw new ZipError(
        'truncated',
        `zip: entry '${name}' starts at ${e.localHeaderOffset}, past the end of the ${fileSize}-byte file`,
      );
    if (entries.has(name)) throw new ZipError('corrupt', `zip: duplicate entry '${name}'`);
    entries.set(name, e);
    p = end;
  }
  return entries;
}

/** Zip64 extended information (id 0x0001): 64-bit values for the fields saturated at 0xFFFFFFFF. */
function applyZip64Extra(e: ZipEntry, extra: DataView): void {
  let p = 0;
  while (p + 4 <= extra.byteLength) {
    const id = extra.getUint16(p, true);
    const len = extra.getUint16(p + 2, true);
    if (p + 4 + len > extra.byteLength) break;
    if (id === 0x0001) {
      let q = p + 4;
      const take = (what: string): number => {
        if (q + 8 > p + 4 + len) throw new ZipError('corrupt', `zip: entry '${e.name}': zip64 field ${what} missing`);
        const v = u64(extra, q, what);
        q += 8;
        return v;
      };
      if (e.size === 0xffffffff) e.size = take('size');
      if (e.compressedSize === 0xffffffff) e.compressedSize = take('compressed size');
      if (e.localHeaderOffset === 0xffffffff) e.localHeaderOffset = take('local header offset');
    }
    p += 4 + len;
  }
}

/** An open zip archive. */
export class ZipArchive {
  private dataStarts = new Map<string, number>();
  private inflated: { name: string; bytes: Uint8Array } | null = null;

  private constructor(
    readonly source: ByteSource,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static async open(src: ByteSource): Promise<ZipArchive> {
    const loc = await locateDirectory(src);
    const dir = await src.read(loc.offset, loc.size);
    return new ZipArchive(src, parseDirectory(dir, loc.count, src.size));
  }

  get(name: string): ZipEntry | undefined {
    return this.entries.get(name);
  }

  /** Absolute offset of an entry's data (reads its local header once). */
  async dataStart(e: ZipEntry): Promise<number> {
    let start = this.dataStarts.get(e.name);
    if (start === undefined) {
      const lh = await readLocalHeader(this.source, e.localHeaderOffset);
      start = lh.dataStart;
      if (start + e.compressedSize > this.source.size) {
        throw new ZipError(
          'truncated',
          `zip: entry '${e.name}' needs bytes up to ${start + e.compressedSize} but the file ends at ${this.source.size} (truncated)`,
        );
      }
      this.dataStarts.set(e.name, start);
    }
    return start;
  }

  /**
   * Bytes [offset, offset + length) of an entry's uncompressed content. Reading a whole entry
   * checks its CRC-32; deflated entries are inflated whole (the last one is cached).
   */
  async read(e: ZipEntry, offset = 0, length = e.size - offset): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > e.size)
      throw new ZipError(
        'corrupt',
        `zip: read [${offset}, ${offset + length}) outside entry '${e.name}' of ${e.size} bytes`,
      );
    if (e.flags & 1) throw new ZipError('unsupported', `zip: entry '${e.name}' is encrypted`);
    const whole = offset === 0 && length === e.size;
    if (e.method === 0) {
      if (e.compressedSize !== e.size)
        throw new ZipError(
          'corrupt',
          `zip: stored entry '${e.name}' has compressed size ${e.compressedSize} != size ${e.size}`,
        );
      const bytes = await this.source.read((await this.dataStart(e)) + offset, length);
      if (whole) checkCrc(e, bytes);
      return bytes;
    }
    if (e.method === 8) return (await this.inflate(e)).subarray(offset, offset + length);
    throw new ZipError(
      'unsupported',
      `zip: entry '${e.name}' uses compression method ${e.method} (only stored and deflate are supported)`,
    );
  }

  private async inflate(e: ZipEntry): Promise<Uint8Array> {
    if (this.inflated?.name === e.name) return this.inflated.bytes;
    if (e.size > MAX_INFLATE_BYTES)
      throw new ZipError('unsupported', `zip: deflated entry '${e.name}' of ${e.size} bytes is too large`);
    const packed = await this.source.read(await this.dataStart(e), e.compressedSize);
    let bytes: Uint8Array;
    try {
      bytes = inflateSync(packed, { out: new Uint8Array(e.size) });
    } catch (err) {
      throw new ZipError('corrupt', `zip: entry '${e.name}' does not inflate (${(err as Error).message})`);
    }
    if (bytes.byteLength !== e.size)
      throw new ZipError('corrupt', `zip: entry '${e.name}' inflates to ${bytes.byteLength} bytes, expected ${e.size}`);
    checkCrc(e, bytes);
    this.inflated = { name: e.name, bytes };
    return bytes;
  }
}

function checkCrc(e: ZipEntry, bytes: Uint8Array): void {
  const got = crc32(bytes);
  if (got !== e.crc32)
    throw new ZipError(
      'corrupt',
      `zip: entry '${e.name}' fails its CRC-32 check (stored ${hex(e.crc32)}, computed ${hex(got)})`,
    );
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;

/** Slice-by-8 tables: T[k][b] = CRC of byte b followed by k zero bytes. */
let CRC_TABLES: Uint32Array[] | null = null;

function crcTables(): Uint32Array[] {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k][n] = (t[k - 1][n] >>> 8) ^ t[0][t[k - 1][n] & 0xff];
  return t;
}

/** CRC-32 (IEEE 802.3, as zip uses), eight bytes per step. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = (CRC_TABLES ??= crcTables());
  let c = ~crc >>> 0;
  let i = 0;
  const n8 = bytes.length - (bytes.length % 8);
  for (; i < n8; i += 8) {
    const a = (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    c =
      t7[a & 0xff] ^
      t6[(a >>> 8) & 0xff] ^
      t5[(a >>> 16) & 0xff] ^
      t4[a >>> 24] ^
      t3[bytes[i + 4]] ^
      t2[bytes[i + 5]] ^
      t1[bytes[i + 6]] ^
      t0[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
