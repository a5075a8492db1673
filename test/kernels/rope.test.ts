import { describe, expect, it } from 'vitest';
import type { MatmulVariant } from '../../src/kernels/matmul.js';
import { rope, ropeLinear, ropeTable } from '../../src/kernels/rope.js';
import { matmulRef } from '../ref/matmul.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { ropeRef } from '../ref/rope.js';

const rt = await testRuntime();
// Two f32 products and one add per output: a few ulp of the inputs' scale.
const TOL = { atol: 1e-6, rtol: 1e-5 };

describe.skipIf(!rt)('rope', () => {
  const r = rng(7);
  it('table matches the axial formula (x-angles first, then y-angles)', () => {
    const t = ropeTable(8, 3, 2, 10000); // dh 8: freqs 1, 0.01
    // token 4: x = 1, y = 1; pair 0: x*1, pair 1: x*0.01, pair 2: y*1, pair 3: y*0.01
    const row = 4 * 4 * 2;
    expect(t[row]).toBeCloseTo(Math.cos(1), 6);
    expect(t[row + 3]).toBeCloseTo(Math.sin(0.01), 6);
    expect(t[row + 4]).toBeCloseTo(Math.cos(1), 6);
    const row5 = 5 * 8; // token 5: x = 2, y = 1
    expect(t[row5 + 1]).toBeCloseTo(Math.sin(2), 6);
    expect(t[row5 + 5]).toBeCloseTo(Math.sin(1), 6);
  });
  const cases: Array<[string, number, number, number, number, number, number]> = [
    // name, B, N, heads, dh, grid side, nRope
    ['queries 4x4 grid', 1, 16, 1, 8, 4, 16],
    ['keys repeated over 3 frames + 5 pointer tokens', 2, 3 * 16 + 5, 1, 8, 4, 48],
    ['2 heads dh 16', 1, 9, 2, 16, 3, 9],
    ['all excluded', 1, 7, 1, 4, 2, 0],
    ['single token', 1, 1, 1, 4, 1, 1],
  ];
  for (const [name, b, n, heads, dh, side, nRope] of cases) {
    for (const sign of [1, -1] as const) {
      it(`${name} sign ${sign}`, async () => {
        const xs = r.array(b * n * heads * dh, 2);
        const table = ropeTable(dh, side, side);
        const cs = rt!.upload(table, [side * side, dh / 2, 2]);
        const y = rope(rt!, rt!.upload(xs, [b, n, heads * dh]), cs, heads, nRope, sign);
        expectClose(await rt!.read(y), ropeRef(xs, b, n, heads, dh, table, side * side, nRope, sign), TOL, name);
      });
    }
  }
  it('inverse rotation undoes the rotation', async () => {
    const xs = r.array(16 * 8, 1);
    const cs = rt!.upload(ropeTable(8, 4, 4), [16, 4, 2]);
    const x = rt!.upload(xs, [1, 16, 8]);
    const back = rope(rt!, rope(rt!, x, cs, 1, 16, 1), cs, 1, 16, -1);
    expectClose(await rt!.read(back), xs, { atol: 1e-6, rtol: 1e-6 }, 'roundtrip');
  });
  // ropeLinear: the rotation as the matmul's epilogue, against the reference rotation of the
  // reference product, in every matmul variant (N = heads*dh: odd multiples of 2 reach partial vec4s)
  for (const variant of ['software', 'rows', 'tiled'] as MatmulVariant[]) {
    for (const [name, b, n, heads, dh, side, nRope] of cases) {
      it(`ropeLinear [${variant}] ${name}`, async () => {
        const inF = 12;
        const outF = heads * dh;
        const xs = r.array(b * n * inF, 1);
        const ws = r.array(outF * inF, 1);
        const bs = r.array(outF, 1);
        const table = ropeTable(dh, side, side);
        const cs = rt!.upload(table, [side * side, dh / 2, 2]);
        const y = ropeLinear(
          rt!,
          rt!.upload(xs, [b, n, inF]),
          rt!.upload(ws, [outF, inF]),
          rt!.upload(bs, [outF]),
          cs,
          heads,
          nRope,
          variant,
        );
        const lin = matmulRef(xs, [b * n, inF], ws, [outF, inF], { transB: true, bias: bs }).y;
        const ref = ropeRef(Float32Array.from(lin), b, n, heads, dh, table, side * side, nRope, 1);
        expect(y.shape).toEqual([b, n, outF]);
        expectClose(await rt!.read(y), ref, { atol: 1e-5, rtol: 1e-5 }, name);
      });
    }
  }
  it('ropeLinear with dh 2 (N = 2: a partial vec4)', async () => {
    const xs = r.array(5 * 3, 1);
    const ws = r.array(2 * 3, 1);
    const table = ropeTable(4, 1, 1).subarray(0, 2); // [1, 1, 2]
    const y = ropeLinear(
      rt!,
      rt!.upload(xs, [1, 5, 3]),
      rt!.upload(ws, [2, 3]),
      null,
      rt!.upload(table, [1, 1, 2]),
      1,
      5,
    );
    const lin = matmulRef(xs, [5, 3], ws, [2, 3], { transB: true }).y;
    expectClose(
      await rt!.read(y),
      ropeRef(Float32Array.from(lin), 1, 5, 1, 2, table, 1, 5, 1),
      { atol: 1e-5, rtol: 1e-5 },
      'dh 2',
    );
  });
  it('rejects a rotated count that is not whole grids', () => {
    const cs = rt!.upload(ropeTable(4, 2, 2), [4, 2, 2]);
    expect(() => rope(rt!, rt!.zeros([1, 6, 4]), cs, 1, 6)).toThrow(/whole number of 4-token grids/);
  });
});
