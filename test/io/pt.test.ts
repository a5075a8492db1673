// PyTorch checkpoint reader: CPython-pickled fixtures (independent producer), torch-style archives
// from the builder, the real truncated SAM 2.1 checkpoint, hostile inputs, and the shared golden
// weights.pt (13 MB, in ../shared: bit-equal to weights.safetensors; a missing file fails under CI=true).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/convert/pt.js';
import { unpickle } from '../../src/convert/pickle.js';
import { openSafetensors } from '../../src/graph/safetensors.js';
import { WeightsFormatError } from '../../src/graph/weights_io.js';
import { openSafetensorsFile } from '../../src/node/safetensors_file.js';
import { openWeights, readCheckpointFile } from '../../src/node/weights_file.js';
import { PickleWriter, buildPt, f32Bytes, type PtTensor } from './pt_builder.js';
import { sharedFile } from '../helpers/shared.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'io');
const GOLDEN_PT = sharedFile('golden/weights.pt');
const GOLDEN_ST = join(import.meta.dirname, '..', 'fixtures', 'golden', 'weights.safetensors');
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIX, name)));

async function expectFormatError(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'should have thrown').toBeInstanceOf(WeightsFormatError);
  expect((err as Error).message).toMatch(re);
}

describe('CPython-pickled fixtures (make_tiny_pt.py)', () => {
  for (const name of ['tiny_p2.pt', 'tiny_p4_deflate_bare.pt']) {
    it(`${name}: every tensor equals tiny_expected.safetensors bit for bit`, async () => {
      const ck = await readCheckpoint(fixture(name), name);
      const want = await openSafetensors(fixture('tiny_expected.safetensors'));
      expect([...ck.header.keys()].sort()).toEqual([...want.header.keys()].sort());
      for (const [key, info] of want.header) {
        const got = ck.header.get(key)!;
        expect([got.dtype, got.shape], key).toEqual([info.dtype, info.shape]);
        expect(await ck.readRaw(key), key).toEqual(await want.readRaw(key));
      }
      // non-contiguous view materialised with its strides: view.t = base.reshape(3,5).T
      const base = await ck.readTensor('view.t');
      expect(base.length).toBe(15);
      expect(ck.metadata.format).toBe('pt');
    });
  }
});

describe('torch-style archives (builder)', () => {
  const w = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
  const half = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]); // 1, -2, 65504, smallest subnormal
  const bf = new Uint16Array([0x3f80, 0xc040, 0x7f80]); // 1, -3, inf
  const tensors: PtTensor[] = [
    { key: 'enc.w', data: f32Bytes(w), shape: [4, 6] },
    { key: 'enc.w_t', data: f32Bytes(w), shape: [6, 4], stride: [1, 6], storageKey: '0' },
    { key: 'enc.row2', data: f32Bytes(w), shape: [6], offset: 12, storageKey: '0' },
    { key: 'h', storage: 'Half', data: new Uint8Array(half.buffer), shape: [2, 2] },
    { key: 'b', storage: 'BFloat16', data: new Uint8Array(bf.buffer), shape: [3] },
  ];

  for (const opts of [{}, { zip64: false }, { zip64Extra: true }, { wrapModel: false }]) {
    it(`reads tensors, views and dtypes ${JSON.stringify(opts)}`, async () => {
      const ck = await readCheckpoint(buildPt(tensors, opts));
      expect([...ck.header.keys()]).toHaveLength(5);
      expect(await ck.readTensor('enc.w')).toEqual(w);
      const t = await ck.readTensor('enc.w_t');
      for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) expect(t[i * 4 + j]).toBe(w[j * 6 + i]);
      expect(await ck.readTensor('enc.row2')).toEqual(w.slice(12, 18));
      expect(Array.from(await ck.readTensor('h'))).toEqual([1, -2, 65504, 2 ** -24]);
      expect(ck.header.get('h')!.dtype).toBe('F16');
      expect(Array.from(await ck.readTensor('b'))).toEqual([1, -3, Infinity]);
    });
  }

  it('refuses a global outside the allow-list, naming it, without running anything', async () => {
    const pkl = new PickleWriter()
      .byte(0x80, 2)
      .global('os', 'system')
      .str('echo pwned')
      .byte(0x85, 0x52, 0x2e)
      .bytes();
    await expectFormatError(readCheckpoint(buildPt([], { pickle: pkl })), /refuses global 'os\.system'/);
    const pkl2 = new PickleWriter().byte(0x80, 2).global('builtins', 'eval').byte(0x2e).bytes();
    await expectFormatError(readCheckpoint(buildPt([], { pickle: pkl2 })), /'builtins\.eval'/);
  });

  it('names the key of a missing storage, an unsupported dtype and an out-of-range view', async () => {
    await expectFormatError(
      readCheckpoint(buildPt([tensors[0]], { omitStorages: ['0'] })),
      /'enc\.w'.*data\/0.*missing/,
    );
    const long = { key: 'steps', storage: 'Long' as const, data: new Uint8Array(16), shape: [2] };
    await expectFormatError(readCheckpoint(buildPt([long])), /'steps' has unsupported dtype I64/);
    const over = { key: 'over', data: f32Bytes([1, 2, 3]), shape: [2], offset: 2 };
    await expectFormatError(readCheckpoint(buildPt([over])), /'over' \[2\].*past its storage of 3/);
    const notTensor = new PickleWriter().byte(0x80, 2, 0x7d).str('x').int(5).byte(0x73, 0x2e).bytes();
    await expectFormatError(readCheckpoint(buildPt([], { pickle: notTensor })), /entry 'x' is 5, not a tensor/);
  });

  it('detects corrupted tensor data through the zip CRC', async () => {
    const bytes = buildPt([tensors[0]]);
    const at = findBytes(bytes, f32Bytes(w));
    bytes[at + 5] ^= 0x40;
    const ck = await readCheckpoint(bytes);
    await expectFormatError(ck.readRaw('enc.w'), /CRC-32/);
  });

  it('tells a safetensors file whose header length starts with 0x80 0x00..0x05 from a legacy pickle', async () => {
    for (const headerLen of [128, 384, 640, 1408]) {
      const bytes = safetensorsWithHeaderLength(headerLen);
      expect(bytes[0] === 0x80 && bytes[1] <= 5).toBe(true);
      const f = await openWeights(bytes);
      expect(f.format).toBe('safetensors');
      expect(Array.from(await f.readTensor('x'))).toEqual([1, 2, 3]);
      await f.close();
      await expectFormatError(readCheckpoint(bytes), /is a safetensors file, not a PyTorch zip checkpoint/);
    }
  });

  it('rejects legacy, non-zip and cut-off files with precise messages', async () => {
    await expectFormatError(readCheckpoint(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c])), /legacy \(pre-1\.6/);
    await expectFormatError(
      readCheckpoint(new TextEncoder().encode('hello world, not a zip')),
      /not a PyTorch zip checkpoint/,
    );
    await expectFormatError(readCheckpoint(new Uint8Array(2)), /too small/);
    const full = buildPt(tensors);
    // cut inside the tensor data: the index is intact, so the message says how much was expected
    const cut = findBytes(full, f32Bytes(w)) + 10;
    const msg = new RegExp(
      `truncated: zip central directory missing; file ends at ${cut} bytes but tensor data for 5 keys needs ~110 B`,
    );
    await expectFormatError(readCheckpoint(full.subarray(0, cut)), msg); // storages: 96 + 8 + 6 bytes
    // cut inside the pickle itself
    await expectFormatError(readCheckpoint(full.subarray(0, 200)), /truncated.*pickle index/);
    // cut in the middle of the central directory
    await expectFormatError(readCheckpoint(full.subarray(0, full.length - 30)), /truncated|corrupt/);
  });
});

describe('openWeights', () => {
  it('recognises the format by content (path or bytes)', async () => {
    expect((await openWeights(fixture('tiny_p2.pt'))).format).toBe('pt');
    expect((await openWeights(fixture('tiny_expected.safetensors'))).format).toBe('safetensors');
    const f = await openWeights(join(FIX, 'tiny_p4_deflate_bare.pt'));
    expect(f.format).toBe('pt');
    await expectFormatError(f.readRaw('nope'), /no tensor 'nope'/);
    await f.close();
    await expect(openWeights(join(FIX, 'does-not-exist.pt'))).rejects.toThrow(/ENOENT/);
  });
});

describe('real SAM 2.1 checkpoint, truncated (test/fixtures/io)', () => {
  it('is rejected as truncated, with the key count and the expected data size', async () => {
    const path = join(FIX, 'sam2.1_hiera_tiny.truncated.pt');
    await expectFormatError(
      readCheckpointFile(path),
      /checkpoint is truncated: zip central directory missing; file ends at 1310720 bytes but tensor data for 471 keys needs ~155\.9 MB/,
    );
    await expectFormatError(openWeights(path), /truncated/);
  });
});

describe('pickle VM', () => {
  const hooks = {
    findClass: (m: string, n: string) => {
      throw new WeightsFormatError(`no ${m}.${n}`);
    },
    call: () => null,
    newObj: () => null,
    build: (o: unknown) => o as null,
    persistentLoad: () => null,
  };
  it('decodes ints, floats, strings, containers and memo', () => {
    // [LONG1 -2, BINFLOAT 1.5, SHORT_BINUNICODE 'é', BININT -7, memo round trip] as a list
    const f = new Uint8Array(8);
    new DataView(f.buffer).setFloat64(0, 1.5, false);
    const p = Uint8Array.from([
      0x80,
      4,
      0x5d,
      0x94,
      0x28,
      0x8a,
      1,
      0xfe,
      0x47,
      ...f,
      0x8c,
      2,
      0xc3,
      0xa9,
      0x4a,
      0xf9,
      0xff,
      0xff,
      0xff,
      0x68,
      0,
      0x65,
      0x2e,
    ]);
    const v = unpickle(p, hooks) as unknown[];
    expect(v.slice(0, 4)).toEqual([-2, 1.5, 'é', -7]);
    expect(v[4]).toBe(v);
  });
  it('fails cleanly on underflow, bad memo, unknown opcodes and missing STOP', () => {
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x85, 0x2e]), hooks)).toThrow(/stack underflow.*TUPLE1/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x68, 9, 0x2e]), hooks)).toThrow(/memo slot 9 is empty/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0xff, 0x2e]), hooks)).toThrow(/unsupported opcode/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x4e]), hooks)).toThrow(/no STOP/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x58, 0xff, 0xff, 0, 0]), hooks)).toThrow(/truncated/);
  });
});

describe.skipIf(!GOLDEN_PT)('shared golden weights.pt', () => {
  it('converts to tensors bit-equal to weights.safetensors', async () => {
    const ck = await openWeights(GOLDEN_PT!);
    const st = await openSafetensorsFile(GOLDEN_ST);
    expect(ck.format).toBe('pt');
    expect(ck.header.size).toBe(st.header.size);
    for (const [key, info] of st.header) {
      const got = ck.header.get(key);
      expect(got, `key ${key}`).toBeDefined();
      expect([got!.dtype, got!.shape], key).toEqual([info.dtype, info.shape]);
      const [a, b] = [await ck.readRaw(key), await st.readRaw(key)];
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b)), key).toBe(0);
    }
    await ck.close();
    await st.close();
  });
});

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('needle not found');
}

/** A one-tensor safetensors file whose JSON header is padded with spaces to exactly `len` bytes. */
function safetensorsWithHeaderLength(len: number): Uint8Array {
  const json = JSON.stringify({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } });
  const header = new TextEncoder().encode(json.padEnd(len, ' '));
  const out = new Uint8Array(8 + len + 12);
  new DataView(out.buffer).setBigUint64(0, BigInt(len), true);
  out.set(header, 8);
  out.set(new Uint8Array(Float32Array.of(1, 2, 3).buffer), 8 + len);
  return out;
}
