import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { f16ToF32Array, f32ToF16Array } from '../../src/graph/dtype.js';
import { openSafetensors, openSafetensorsStream, serializeSafetensors } from '../../src/graph/safetensors.js';
import { assertStrict, fileShapes, strictCheck, uploadWeights } from '../../src/graph/weights.js';
import type { ByteSource } from '../../src/graph/weights_io.js';
import { bytesSource } from '../../src/graph/weights_io.js';
import { openSafetensorsFile } from '../../src/node/safetensors_file.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
const r = rng(3);
const big = r.array(40 * 16); // 2560 bytes as f32: chunked under a 1024-byte limit
const small = r.array(7);
const half = r.array(33);
const bf = r.array(10);
const file = serializeSafetensors([
  { name: 'enc.big', dtype: 'F32', shape: [40, 16], data: big },
  { name: 'enc.small', dtype: 'F32', shape: [7], data: small },
  { name: 'dec.half', dtype: 'F16', shape: [3, 11], data: half },
  { name: 'dec.bf', dtype: 'BF16', shape: [10], data: bf },
  { name: 'dec.scalar', dtype: 'F32', shape: [], data: Float32Array.from([2.5]) },
  { name: 'dec.empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
]);

describe.skipIf(!rt)('uploadWeights', () => {
  it('packs all tensors into aligned arenas and reads back exactly (f32)', async () => {
    const st = await openSafetensors(file);
    const store = await uploadWeights(rt!, st);
    expect(store.keys().sort()).toEqual([...st.header.keys()].sort());
    for (const key of st.header.keys()) {
      const t = store.get(key);
      expect(t.byteOffset % 256, key).toBe(0);
      expect(t.shape, key).toEqual(st.header.get(key)!.shape);
      expect(await rt!.read(t), key).toEqual(await st.readTensor(key));
    }
    expect(store.arenas).toHaveLength(1);
    store.destroy();
  });

  it('splits a tensor larger than the binding limit into row chunks in separate arenas', async () => {
    const st = await openSafetensors(file);
    const store = await uploadWeights(rt!, st, { maxBindingBytes: 1024 });
    const e = store.entry('enc.big');
    expect(e.chunked).toBe(true);
    expect(e.rowsPerChunk).toBe(16); // 1024 / (16 * 4)
    expect(e.chunks!.map((c) => c.shape)).toEqual([
      [16, 16],
      [16, 16],
      [8, 16],
    ]);
    const parts = await Promise.all(e.chunks!.map((c) => rt!.read(c)));
    expect(Float32Array.from(parts.flatMap((p) => Array.from(p)))).toEqual(big);
    expect(() => store.get('enc.big')).toThrow(/'enc\.big' \[40, 16\] is split into 3 row chunks/);
    for (const a of store.arenas) expect(a.size).toBeLessThanOrEqual(1024);
    expect(await rt!.read(store.get('dec.half'))).toEqual(await st.readTensor('dec.half'));
    store.destroy();
    await expect(
      uploadWeights(rt!, st, { maxBindingBytes: 256, prefixFilter: 'enc.big' }).then(() => 'ok'),
    ).resolves.toBe('ok');
    await expect(
      uploadWeights(
        rt!,
        await openSafetensors(
          serializeSafetensors([{ name: 'wide', dtype: 'F32', shape: [1, 100], data: new Float32Array(100) }]),
        ),
        { maxBindingBytes: 256 },
      ),
    ).rejects.toThrow(/one row of 'wide' \[1, 100\] \(400 bytes\) exceeds the 256-byte binding limit/);
  });

  it('filters by prefix and reads each selected tensor exactly once, in file order', async () => {
    const base = bytesSource(file);
    const reads: number[] = [];
    const src: ByteSource = {
      ...base,
      read: (o, l) => {
        reads.push(o);
        return base.read(o, l);
      },
    };
    const st = await openSafetensors(src);
    reads.length = 0;
    const store = await uploadWeights(rt!, st, { prefixFilter: ['dec.'] });
    expect(store.keys()).toEqual([...st.header.keys()].filter((k) => k.startsWith('dec.')));
    expect(reads).toEqual([...reads].sort((x, y) => x - y));
    expect(reads.length).toBeLessThanOrEqual(4);
    store.destroy();
  });

  it('uploads from a sequential fetch-style stream (memory ~ one tensor)', async () => {
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (at >= file.length) c.close();
        else {
          c.enqueue(file.slice(at, at + 100));
          at += 100;
        }
      },
    });
    const progress: number[] = [];
    const st = await openSafetensorsStream(stream, { sequential: true, onProgress: (l) => progress.push(l) });
    const store = await uploadWeights(rt!, st);
    expect(progress.at(-1)).toBe(file.length);
    const ref = await openSafetensors(file);
    for (const key of ref.header.keys()) expect(await rt!.read(store.get(key)), key).toEqual(await ref.readTensor(key));
    store.destroy();
  });

  it.skipIf(!rt?.hasF16)('stores f16 (bits equal the host conversion)', async () => {
    const st = await openSafetensors(file);
    const store = await uploadWeights(rt!, st, { dtype: 'f16' });
    for (const key of ['enc.big', 'dec.half', 'dec.bf', 'dec.scalar']) {
      const t = store.get(key);
      expect(t.dtype).toBe('f16');
      expect(await rt!.read(t, 'raw'), key).toEqual(f32ToF16Array(await st.readTensor(key)));
    }
    // odd element count (33) written through a 4-byte padded copy
    expect(await rt!.read(store.get('dec.half'))).toEqual(
      f16ToF32Array(f32ToF16Array(await st.readTensor('dec.half'))),
    );
    store.destroy();
  });

  it.skipIf(!rt?.hasF16)('mixed precision per key: f16 tensors in arenas of their own', async () => {
    const st = await openSafetensors(file);
    const halfKeys = new Set(['enc.big', 'dec.bf']);
    const store = await uploadWeights(rt!, st, {
      dtype: (k) => (halfKeys.has(k) ? 'f16' : 'f32'),
      maxBindingBytes: 1024,
    });
    for (const key of st.header.keys()) {
      const e = store.entry(key);
      expect(e.dtype, key).toBe(halfKeys.has(key) ? 'f16' : 'f32');
      const want = await st.readTensor(key);
      const ts = e.tensor ? [e.tensor] : e.chunks!;
      const got = (await Promise.all(ts.map((t) => rt!.read(t)))).flatMap((a) => Array.from(a));
      expect(got, key).toEqual(Array.from(halfKeys.has(key) ? f16ToF32Array(f32ToF16Array(want)) : want));
    }
    // enc.big as f16 is 1280 bytes: row chunks under the 1024-byte limit
    expect(store.entry('enc.big').chunked).toBe(true);
    // no arena holds both dtypes
    for (const arena of store.arenas) {
      const dtypes = new Set(
        [...store.entries.values()].flatMap((e) =>
          (e.tensor ? [e.tensor] : e.chunks!).filter((t) => t.buffer === arena).map((t) => t.dtype),
        ),
      );
      expect(dtypes.size, [...dtypes].join()).toBeLessThanOrEqual(1);
    }
    store.destroy();
  });

  it('uploads the golden weights (test/fixtures/golden, the same file as ../shared/golden)', async () => {
    const st = await openSafetensorsFile(join(import.meta.dirname, '../fixtures/golden/weights.safetensors'));
    const store = await uploadWeights(rt!, st);
    expect(store.keys()).toHaveLength(371);
    const key = [...st.header.keys()][100];
    expect(await rt!.read(store.get(key))).toEqual(await st.readTensor(key));
    store.destroy();
    await st.close();
  });
});

describe('strictCheck', () => {
  const avail = new Map<string, number[]>([
    ['a.w', [2, 3]],
    ['a.b', [3]],
    ['extra', [1]],
  ]);
  it('passes a perfect match', async () => {
    expect(
      strictCheck(
        [
          { key: 'a.w', shape: [2, 3] },
          { key: 'a.b', shape: [3] },
        ],
        new Map([...avail].slice(0, 2)),
      ),
    ).toEqual([]);
    const st = await openSafetensors(file);
    expect(
      strictCheck(
        [...st.header].map(([key, t]) => ({ key, shape: t.shape })),
        fileShapes(st),
      ),
    ).toEqual([]);
    expect([...fileShapes(st, 'dec.').keys()]).toHaveLength(4);
  });
  it('reports unknown, missing, mismatched, duplicate keys and the count', () => {
    const errs = strictCheck(
      [
        { key: 'a.w', shape: [3, 2] },
        { key: 'a.b', shape: [3] },
        { key: 'gone', shape: [4] },
        { key: 'a.b', shape: [3] },
      ],
      avail,
    );
    expect(errs).toEqual([
      "key 'a.b' is expected twice",
      "shape mismatch for 'a.w': checkpoint has [2, 3], model expects [3, 2]",
      "missing key 'gone' (model expects [4])",
      "unknown key 'extra' [1] (not used by the model)",
      'tensor count: checkpoint has 3, model expects 4',
    ]);
    expect(() => assertStrict([{ key: 'gone', shape: [4] }], avail, 'image encoder')).toThrow(
      /image encoder: checkpoint does not match the model \(5 problems\):\n {2}missing key 'gone'/,
    );
  });
});
