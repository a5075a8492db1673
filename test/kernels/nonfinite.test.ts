// shaders/reduce.wgsl NONFINITE against its CPU reference (test/ref/nonfinite.ts), f32 and f16 words,
// awkward sizes (1 word, rows not multiples of the workgroup size), and the weight check built on it
// (src/model/weights_check.ts: names the first tensor with a NaN / Inf, in file order, chunked or not).
import { describe, expect, it } from 'vitest';
import { serializeSafetensors } from '../../src/graph/safetensors.js';
import { uploadWeights } from '../../src/graph/weights.js';
import { firstNonFiniteWeight } from '../../src/model/weights_check.js';
import { countNonFinite } from '../../src/kernels/reduce.js';
import { openWeights } from '../../src/node/weights_file.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { countNonFiniteRef } from '../ref/nonfinite.js';

const rt = await testRuntime();
const F16_SPECIALS = [0x7c00, 0xfc00, 0x7e00, 0x7c01]; // +Inf, -Inf, NaN, NaN
const F32_SPECIALS = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

function words(seed: number, n: number, half: boolean, bad: number): Uint32Array {
  const r = rng(seed);
  const w = new Uint32Array(n);
  const f = new Float32Array(w.buffer);
  for (let i = 0; i < n; i++) {
    if (half) w[i] = (Math.floor(r.uniform() * 0x7bff) | (Math.floor(r.uniform() * 0x7bff) << 16)) >>> 0;
    else f[i] = (r.uniform() - 0.5) * 1e30; // large but finite
  }
  for (let k = 0; k < bad; k++) {
    const i = Math.floor(r.uniform() * n);
    if (half) {
      const s = F16_SPECIALS[k % 4];
      w[i] = k % 2 ? (w[i] & 0xffff) | (s << 16) : (w[i] & 0xffff0000) | s;
    } else f[i] = F32_SPECIALS[k % 3];
  }
  return w;
}

describe.skipIf(!rt)('reduce NONFINITE', () => {
  for (const half of [false, true])
    for (const [n, r, bad] of [
      [1, 1, 1],
      [1, 1, 0],
      [300, 3, 7],
      [1024 * 5, 1024, 9],
      [129 * 7, 129, 20],
    ] as const)
      it(`${half ? 'f16' : 'f32'} words ${n}, rows of ${r}, ${bad} specials`, async () => {
        const w = words(n + r + bad, n, half, bad);
        const x = rt!.upload(w, [n], 'u32', 'x');
        const y = countNonFinite(rt!, x, r, half);
        const got = Array.from((await rt!.read(y, 'raw')) as Uint32Array);
        x.dispose();
        y.dispose();
        expect(got).toEqual(countNonFiniteRef(w, r, half));
      });

  it('names the first tensor with NaN or Inf, also inside a row-chunked tensor', async () => {
    const clean = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const make = async (poison: Record<string, number[]>) => {
      const tensors = Object.entries({ a: [3, 5], b: [64, 40], c: [7] }).map(([name, shape]) => {
        const data = clean(shape.reduce((x, y) => x * y, 1));
        for (const i of poison[name] ?? []) data[i] = i % 2 ? Number.POSITIVE_INFINITY : Number.NaN;
        return { name, dtype: 'F32' as const, shape, data };
      });
      // 1 KiB binding limit: 'b' (10 KiB) becomes row chunks
      return uploadWeights(rt!, await openWeights(serializeSafetensors(tensors)), { maxBindingBytes: 1024 });
    };
    const ok = await make({});
    expect(await firstNonFiniteWeight(rt!, ok)).toBeNull();
    ok.destroy();
    const bad = await make({ b: [2000, 2001, 2002], c: [0] });
    expect(bad.entry('b').chunked).toBe(true);
    expect(await firstNonFiniteWeight(rt!, bad)).toMatchObject({ key: 'b', count: 3 });
    bad.destroy();
    const last = await make({ c: [6] });
    expect(await firstNonFiniteWeight(rt!, last)).toEqual({ key: 'c', count: 1, total: 7 });
    last.destroy();
  });

  it.skipIf(!rt?.hasF16)(
    'mixed precision: f32 arenas read as f32, f16 arenas as f16 (overflow to Inf found)',
    async () => {
      // f32 words whose low halves look like f16 Inf / NaN (0x7c00..): no false alarm in the f32 arena
      const tricky = new Float32Array(new Uint32Array(64).fill(0x3f807c01).buffer);
      const w = Float32Array.from({ length: 48 }, (_, i) => Math.cos(i));
      const tensors = [
        { name: 'tricky', dtype: 'F32' as const, shape: [64], data: tricky },
        { name: 'w', dtype: 'F32' as const, shape: [6, 8], data: w },
      ];
      const up = async (wData: Float32Array) =>
        // this header is 128 bytes long: its first length byte 0x80 looks like a pickle PROTO to a naive sniffer
        uploadWeights(rt!, await openWeights(serializeSafetensors([tensors[0], { ...tensors[1], data: wData }])), {
          dtype: (k) => (k === 'w' ? 'f16' : 'f32'),
        });
      const ok = await up(w);
      expect(await firstNonFiniteWeight(rt!, ok)).toBeNull();
      ok.destroy();
      const big = w.slice();
      big[5] = 1e6; // finite in f32, Inf once stored as f16
      const bad = await up(big);
      expect(await firstNonFiniteWeight(rt!, bad)).toEqual({ key: 'w', count: 1, total: 48 });
      bad.destroy();
    },
  );
});
