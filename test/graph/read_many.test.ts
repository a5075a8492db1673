// Runtime.readMany: several tensors in one transfer (one staging buffer, one mapAsync), counted as one
// readback; values equal those of Runtime.read for every dtype, views at offsets, odd byte lengths
// and empty tensors.
import { describe, expect, it } from 'vitest';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();

describe.skipIf(!rt)('Runtime.readMany', () => {
  it('reads f32 / u32 / i32 (and f16) tensors, views and empty ones in one readback', async () => {
    const R = rt!;
    const a = R.upload([1.5, -2, 3.25, 4, 5, 6, 7], [7], 'f32', 'a');
    const b = R.upload([1, 2, 4294967295], [3], 'u32', 'b');
    const c = R.upload([-5, 0, 7, 9, -1], [5], 'i32', 'c');
    const e = R.zeros([0, 3]);
    const view = a.narrow0(3, 3); // byte offset 12: [4, 5, 6]
    const h = R.hasF16 ? R.upload([0.5, -1, 2.25], [3], 'f16', 'h') : null; // 6 bytes: padded to 8
    const ts = h ? [a, b, c, e, view, h] : [a, b, c, e, view];
    const r0 = R.counters().readbacks;
    const got = await R.readMany(ts);
    expect(R.counters().readbacks - r0).toBe(1);
    expect([...got[0]]).toEqual([1.5, -2, 3.25, 4, 5, 6, 7]);
    expect(got[1]).toBeInstanceOf(Uint32Array);
    expect([...got[1]]).toEqual([1, 2, 4294967295]);
    expect(got[2]).toBeInstanceOf(Int32Array);
    expect([...got[2]]).toEqual([-5, 0, 7, 9, -1]);
    expect(got[3].length).toBe(0);
    expect([...got[4]]).toEqual([4, 5, 6]);
    if (h) expect([...got[5]]).toEqual([0.5, -1, 2.25]);
    for (let i = 0; i < ts.length; i++) expect([...got[i]]).toEqual([...(await R.read(ts[i]))]);
    // nothing to read: no transfer
    const r1 = R.counters().readbacks;
    expect((await R.readMany([e])).map((v) => v.length)).toEqual([0]);
    expect(R.counters().readbacks).toBe(r1);
    a.dispose();
    await expect(R.readMany([b, a])).rejects.toThrow(/disposed/);
    for (const t of [b, c, e, h]) t?.dispose();
  });
});
