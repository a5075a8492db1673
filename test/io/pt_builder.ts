// Test helper: writes small torch.save-style checkpoints in memory, laid out the way PyTorch's
// writer does it (protocol-2 pickle, local headers with bit 3 set and zero sizes, 'FB' extra
// fields padding data to 64 bytes, data descriptors, central directory, zip64 end record and
// locator, EOCD). Used by the always-run tests and the fuzz tests (no /work/shared needed).
import { crc32 } from '../../src/convert/zip.js';

export interface PtTensor {
  key: string;
  /** Storage type: torch.<storage>Storage. */
  storage?: 'Float' | 'Half' | 'BFloat16' | 'Long';
  /** Raw little-endian storage bytes. */
  data: Uint8Array;
  shape: number[];
  stride?: number[];
  offset?: number;
  /** Storage key (tensors sharing one storage give the same key). Default: index. */
  storageKey?: string;
  /** Elements of the storage (default: data bytes / element size). */
  storageNumel?: number;
}

export interface PtOptions {
  /** {'model': state_dict} like the official SAM 2 checkpoints (default true). */
  wrapModel?: boolean;
  archive?: string;
  /** Write the pickle verbatim instead of the state dict. */
  pickle?: Uint8Array;
  /** Write the zip64 end record + locator (torch does). Default true. */
  zip64?: boolean;
  /** Saturate central-directory sizes/offsets to 0xFFFFFFFF and put the values in zip64 extras. */
  zip64Extra?: boolean;
  /** Leave storages out of the archive (by storage key). */
  omitStorages?: string[];
}

const EL: Record<string, number> = { Float: 4, Half: 2, BFloat16: 2, Long: 8 };

/** Minimal protocol-2 pickle emitter. */
export class PickleWriter {
  private parts: number[] = [];
  byte(...b: number[]): this {
    this.parts.push(...b);
    return this;
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.byte(0x4b, v);
    if (v >= 0 && v < 65536) return this.byte(0x4d, v & 0xff, v >> 8);
    if (v >= -(2 ** 31) && v < 2 ** 31)
      return this.byte(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
    const bytes: number[] = [];
    let x = BigInt(v);
    for (let i = 0; i < 8; i++) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
    }
    return this.byte(0x8a, 8, ...bytes);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.byte(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24);
    return this.byte(...b);
  }
  global(module: string, name: string): this {
    return this.byte(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  tuple(items: number[]): this {
    if (items.length === 0) return this.byte(0x29);
    this.byte(0x28);
    for (const v of items) this.int(v);
    return this.byte(0x74);
  }
  mark(): this {
    return this.byte(0x28);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** The data.pkl torch.save writes for a state dict of these tensors. */
export function statePickle(tensors: PtTensor[], wrapModel = true): Uint8Array {
  const w = new PickleWriter().byte(0x80, 2);
  if (wrapModel) w.byte(0x7d).str('model');
  w.global('collections', 'OrderedDict').byte(0x29, 0x52).mark();
  tensors.forEach((t, i) => {
    const kind = t.storage ?? 'Float';
    const numel = t.storageNumel ?? t.data.byteLength / EL[kind];
    w.str(t.key).global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark()
      .str('storage')
      .global('torch', `${kind}Storage`)
      .str(t.storageKey ?? String(i))
      .str('cpu')
      .int(numel)
      .byte(0x74, 0x51);
    w.int(t.offset ?? 0)
      .tuple(t.shape)
      .tuple(t.stride ?? contiguousStride(t.shape))
      .byte(0x89);
    w.global('collections', 'OrderedDict').byte(0x29, 0x52).byte(0x74, 0x52);
  });
  w.byte(0x75);
  if (wrapModel) w.byte(0x73);
  return w.byte(0x2e).bytes();
}

export function contiguousStride(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** A torch-style zip of named entries. */
export function torchZip(entries: Array<[string, Uint8Array]>, opts: PtOptions = {}): Uint8Array {
  const out: number[] = [];
  const push = (b: ArrayLike<number>) => {
    for (let i = 0; i < b.length; i++) out.push(b[i]);
  };
  const le = (v: number, n: number) => {
    const b = [];
    for (let i = 0; i < n; i++) {
      b.push(Number((BigInt(v) >> BigInt(8 * i)) & 0xffn));
    }
    return b;
  };
  const central: number[][] = [];
  for (const [name, data] of entries) {
    const nameB = new TextEncoder().encode(name);
    const at = out.length;
    const unpadded = at + 30 + nameB.length + 4;
    const pad = (64 - (unpadded % 64)) % 64;
    push([
      ...le(0x04034b50, 4),
      ...le(0, 2),
      ...le(0x0808, 2),
      ...le(0, 2),
      ...le(0, 4),
      ...le(0, 4),
      ...le(0, 4),
      ...le(0, 4),
      ...le(nameB.length, 2),
      ...le(4 + pad, 2),
    ]);
    push(nameB);
    push([0x46, 0x42, ...le(pad, 2), ...new Array(pad).fill(0x5a)]);
    push(data);
    const crc = crc32(data);
    push([...le(0x08074b50, 4), ...le(crc, 4), ...le(data.length, 4), ...le(data.length, 4)]);
    const big = opts.zip64Extra;
    const extra = big ? [...le(1, 2), ...le(24, 2), ...le(data.length, 8), ...le(data.length, 8), ...le(at, 8)] : [];
    central.push([
      ...le(0x02014b50, 4),
      ...le(0x031e, 2),
      ...le(45, 2),
      ...le(0x0808, 2),
      ...le(0, 2),
      ...le(0, 4),
      ...le(crc, 4),
      ...le(big ? 0xffffffff : data.length, 4),
      ...le(big ? 0xffffffff : data.length, 4),
      ...le(nameB.length, 2),
      ...le(extra.length, 2),
      ...le(0, 2),
      ...le(0, 2),
      ...le(0, 2),
      ...le(0, 4),
      ...le(big ? 0xffffffff : at, 4),
      ...nameB,
      ...extra,
    ]);
  }
  const cdStart = out.length;
  for (const c of central) push(c);
  const cdSize = out.length - cdStart;
  if (opts.zip64 ?? true) {
    const z64 = out.length;
    push([
      ...le(0x06064b50, 4),
      ...le(44, 8),
      ...le(0x1e, 2),
      ...le(45, 2),
      ...le(0, 4),
      ...le(0, 4),
      ...le(entries.length, 8),
      ...le(entries.length, 8),
      ...le(cdSize, 8),
      ...le(cdStart, 8),
    ]);
    push([...le(0x07064b50, 4), ...le(0, 4), ...le(z64, 8), ...le(1, 4)]);
  }
  push([
    ...le(0x06054b50, 4),
    ...le(0, 2),
    ...le(0, 2),
    ...le(entries.length, 2),
    ...le(entries.length, 2),
    ...le(cdSize, 4),
    ...le(cdStart, 4),
    ...le(0, 2),
  ]);
  return Uint8Array.from(out);
}

/** A complete checkpoint: data.pkl, byteorder, one storage entry per distinct storage key, version. */
export function buildPt(tensors: PtTensor[], opts: PtOptions = {}): Uint8Array {
  const a = opts.archive ?? 'archive';
  const entries: Array<[string, Uint8Array]> = [
    [`${a}/data.pkl`, opts.pickle ?? statePickle(tensors, opts.wrapModel ?? true)],
  ];
  entries.push([`${a}/byteorder`, new TextEncoder().encode('little')]);
  const seen = new Set<string>();
  tensors.forEach((t, i) => {
    const key = t.storageKey ?? String(i);
    if (seen.has(key) || opts.omitStorages?.includes(key)) return;
    seen.add(key);
    entries.push([`${a}/data/${key}`, t.data]);
  });
  entries.push([`${a}/version`, new TextEncoder().encode('3\n')]);
  return torchZip(entries, opts);
}

export const f32Bytes = (v: ArrayLike<number>) => new Uint8Array(Float32Array.from(v).buffer);
