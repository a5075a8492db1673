// safetensors: strict header validation (first problem, with its key), writer round trips, the
// fetch-stream source with progress, Node positional reads and the streaming file writer.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { f32ToF16Array, f16ToF32Array, roundBf16 } from '../../src/graph/dtype.js';
import { openSafetensors, openSafetensorsStream, serializeSafetensors } from '../../src/graph/safetensors.js';
import { type ByteSource, WeightsFormatError, bytesSource } from '../../src/graph/weights_io.js';
import { fileSource, openSafetensorsFile, writeSafetensorsFile } from '../../src/node/safetensors_file.js';
import { rng } from '../helpers/compare.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'io');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A file from a header object and a data area of `dataBytes` bytes (no padding rules applied). */
function rawFile(header: unknown, dataBytes: number, headerText?: string): Uint8Array {
  const text = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

async function expectFormatError(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `should throw ${re}`).toBeInstanceOf(WeightsFormatError);
  expect((err as Error).message).toMatch(re);
}

const t = (dtype: string, shape: unknown, offs: unknown) => ({ dtype, shape, data_offsets: offs });

describe('header validation', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['file shorter than 8 bytes', new Uint8Array(5), /too small/],
    [
      'header length past the file',
      (() => {
        const f = rawFile({}, 0);
        f[0] = 200;
        return f;
      })(),
      /runs past the end/,
    ],
    [
      'absurd header length',
      (() => {
        const f = new Uint8Array(16);
        f[7] = 0x10;
        return f;
      })(),
      /not plausible/,
    ],
    ['not UTF-8', rawFile(null, 0, '{"\xff":1}').map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8/],
    ['not JSON', rawFile(null, 0, '{"a": [1,2'), /not valid JSON/],
    ['JSON array', rawFile([1, 2], 0), /not a JSON object/],
    ['metadata not a string map', rawFile({ __metadata__: { a: 1 } }, 0), /__metadata__ value for 'a' is not a string/],
    [
      'unsupported dtype',
      rawFile({ step: t('I64', [1], [0, 8]) }, 8),
      /tensor 'step': unsupported dtype I64 \(supported: F32, F16, BF16/,
    ],
    ['unknown dtype', rawFile({ w: t('F33', [1], [0, 4]) }, 4), /tensor 'w': unknown dtype F33/],
    ['missing dtype', rawFile({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor 'w': missing dtype/],
    [
      'negative dim',
      rawFile({ w: t('F32', [-1, 2], [0, 8]) }, 8),
      /tensor 'w': shape \[-1,2\] is not a list of non-negative integers/,
    ],
    ['fractional dim', rawFile({ w: t('F32', [1.5], [0, 4]) }, 4), /tensor 'w': shape/],
    [
      'offsets not a pair',
      rawFile({ w: t('F32', [1], [0]) }, 4),
      /tensor 'w': data_offsets \[0\] is not \[begin, end\]/,
    ],
    [
      'end before begin',
      rawFile({ w: t('F32', [0], [8, 4]) }, 8),
      /tensor 'w': data_offsets \[8, 4\] end before begin/,
    ],
    [
      'outside the data area',
      rawFile({ w: t('F32', [4], [0, 16]) }, 12),
      /tensor 'w': data_offsets \[0, 16\] outside the data area of 12 bytes/,
    ],
    [
      'byte count',
      rawFile({ w: t('F16', [3], [0, 8]) }, 8),
      /tensor 'w': F16 \[3\] needs 6 bytes but data_offsets span 8/,
    ],
    [
      'overlap',
      rawFile({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12),
      /tensor 'b': data_offsets \[4, 12\] overlap tensor 'a' \[0, 8\]/,
    ],
    ['entry not an object', rawFile({ w: 3 }, 0), /tensor 'w': entry is not an object/],
  ];
  for (const [what, bytes, re] of cases) {
    it(`rejects: ${what}`, async () => expectFormatError(openSafetensors(bytes), re));
  }

  it('accepts empty tensors, scalars, gaps and trailing bytes', async () => {
    const f = rawFile(
      { __metadata__: { k: 'v' }, e: t('F32', [0, 3], [0, 0]), s: t('F32', [], [4, 8]), z: t('BF16', [2], [8, 12]) },
      16,
    );
    const st = await openSafetensors(f);
    expect([...st.header.keys()]).toEqual(['e', 's', 'z']);
    expect(st.metadata).toEqual({ k: 'v' });
    expect(await st.readTensor('e')).toEqual(new Float32Array(0));
    expect(await st.readTensor('s')).toEqual(new Float32Array(1));
    await expectFormatError(st.readRaw('nope'), /no tensor 'nope'/);
  });
});

describe('writer round trip', () => {
  const r = rng(11);
  const a = r.array(5 * 7, 3);
  const b = r.array(9, 100);
  const c = r.array(4);
  const tensors = [
    { name: 'z.last', dtype: 'F32' as const, shape: [5, 7], data: a },
    { name: 'half', dtype: 'F16' as const, shape: [9], data: b },
    { name: 'bf', dtype: 'BF16' as const, shape: [2, 2], data: c },
    { name: 'empty', dtype: 'F32' as const, shape: [0], data: new Float32Array(0) },
    { name: 'raw16', dtype: 'F16' as const, shape: [3], data: new Uint16Array([0x3c00, 0x4000, 0xbc00]) },
  ];

  it('serializes with an 8-byte padded header and reads back every dtype', async () => {
    const bytes = serializeSafetensors(tensors, { format: 'test' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const st = await openSafetensors(bytes);
    expect(st.metadata).toEqual({ format: 'test' });
    // reference layout: F32 first, then BF16, then F16, each group by name
    expect([...st.header.keys()]).toEqual(['empty', 'z.last', 'bf', 'half', 'raw16']);
    expect(await st.readTensor('z.last')).toEqual(a);
    expect(await st.readTensor('half')).toEqual(f16ToF32Array(f32ToF16Array(b)));
    expect(Array.from(await st.readTensor('bf'))).toEqual(Array.from(c, roundBf16));
    expect(Array.from(await st.readTensor('raw16'))).toEqual([1, 2, -1]);
    expect(st.header.get('z.last')).toMatchObject({ dtype: 'F32', shape: [5, 7] });
  });

  it('rejects bad writer input', () => {
    expect(() => serializeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) }])).toThrow(
      /'x' \[3\] got 2 values/,
    );
    expect(() => serializeSafetensors([tensors[0], tensors[0]])).toThrow(/duplicate tensor name 'z\.last'/);
    expect(() =>
      serializeSafetensors([{ name: '__metadata__', dtype: 'F32', shape: [], data: new Float32Array(1) }]),
    ).toThrow(/invalid tensor name/);
  });

  it('reads a file from an independent writer (make_tiny_pt.py)', async () => {
    const st = await openSafetensorsFile(join(FIX, 'tiny_expected.safetensors'));
    expect(st.metadata).toEqual({ writer: 'make_tiny_pt.py' });
    expect(st.header.get('view.t')).toMatchObject({ dtype: 'F32', shape: [5, 3] });
    expect(st.header.get('bf')!.dtype).toBe('BF16');
    expect(await st.readTensor('scalar')).toEqual(Float32Array.from([3.25]));
    await st.close();
  });

  it('Node: streaming writer + positional reads that never load the whole file', async () => {
    const path = join(tmp, 'rt.safetensors');
    const order: string[] = [];
    const byName = new Map(tensors.map((x) => [x.name, x.data]));
    const { bytes } = await writeSafetensorsFile(
      path,
      tensors,
      async (e) => {
        order.push(e.name);
        return byName.get(e.name)!;
      },
      { metadata: { a: 'b' } },
    );
    expect(order).toEqual(['empty', 'z.last', 'bf', 'half', 'raw16']);
    expect(readFileSync(path)).toEqual(Buffer.from(serializeSafetensors(tensors, { a: 'b' })));
    expect(existsSync(`${path}.partial`)).toBe(false);
    const src = await fileSource(path);
    const reads: number[] = [];
    const counting: ByteSource = {
      ...src,
      read: (o, l) => {
        reads.push(l);
        return src.read(o, l);
      },
      close: () => src.close(),
    };
    const st = await openSafetensors(counting);
    for (const k of st.header.keys()) await st.readRaw(k);
    // 8-byte length, header, then exactly one read per tensor of its own size
    expect(reads.slice(2)).toEqual([...st.header.values()].map((t) => t.end - t.begin));
    expect(reads[0] + reads[1] + reads.slice(2).reduce((x, y) => x + y, 0)).toBe(bytes);
    expect(await st.readTensor('z.last')).toEqual(a);
    await st.close();
  });

  it('Node: a failing data callback leaves no file behind', async () => {
    const path = join(tmp, 'fail.safetensors');
    await expect(
      writeSafetensorsFile(path, tensors, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow(/boom/);
    expect(existsSync(path) || existsSync(`${path}.partial`)).toBe(false);
  });
});

function chunkedStream(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(ctrl) {
      if (at >= bytes.length) {
        ctrl.close();
        return;
      }
      ctrl.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

describe('fetch stream source', () => {
  const r = rng(5);
  const a = r.array(300);
  const b = r.array(200);
  const file = serializeSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [300], data: a },
      { name: 'b', dtype: 'F16', shape: [200], data: b },
    ],
    { m: '1' },
  );

  it('parses incrementally and reports progress up to the total', async () => {
    const progress: Array<[number, number]> = [];
    const st = await openSafetensorsStream(chunkedStream(file, 97), { onProgress: (l, t) => progress.push([l, t]) });
    expect(progress.at(-1)![0]).toBeLessThan(file.length); // header parsed before the data arrived
    expect(st.metadata).toEqual({ m: '1' });
    expect(await st.readTensor('a')).toEqual(a);
    expect(await st.readTensor('b')).toEqual(f16ToF32Array(f32ToF16Array(b)));
    expect(progress.at(-1)).toEqual([file.length, file.length]);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0]);
    await st.close();
  });

  it('sequential mode releases consumed bytes and refuses to go back', async () => {
    const st = await openSafetensorsStream(chunkedStream(file, 64), { sequential: true, totalBytes: file.length });
    expect(await st.readTensor('a')).toEqual(a);
    await st.readRaw('b');
    await expectFormatError(st.readRaw('a'), /already released/);
  });

  it('a cut download fails with a truncation message', async () => {
    const st = await openSafetensorsStream(chunkedStream(file.subarray(0, file.length - 10), 50));
    await st.readRaw('a');
    await expectFormatError(st.readRaw('b'), /stream ended at \d+ bytes but \d+ are needed/);
    await expectFormatError(openSafetensorsStream(chunkedStream(file.subarray(0, 5), 50)), /stream ended at 5 bytes/);
    await expectFormatError(
      openSafetensorsStream(chunkedStream(file, 50), { totalBytes: 100 }),
      /download is 100 bytes/,
    );
  });

  it('bytesSource reads are range-checked', async () => {
    const src = bytesSource(new Uint8Array(10), 'mem');
    await expectFormatError(src.read(8, 4), /mem: file is truncated: needs bytes up to 12 but has 10/);
  });
});
