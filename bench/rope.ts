// Benchmark of the rope family: the axial rotary encoding of memory attention's queries and keys
// (sam2.1_hiera_t at 1024 px: 4096 tokens of the 64x64 grid, one head of 256 channels; keys add 4x16
// object-pointer tokens that are copied, not rotated). Checked against test/ref/rope.ts first.
// GB/s = input + table + output bytes.
import type { Runtime } from '../src/graph/runtime.js';
import { rope, ropeTable } from '../src/kernels/rope.js';
import { ropeRef } from '../test/ref/rope.js';
import { allClose, type BenchRunWithOutput } from './harness.js';
import { benchData, lastOutput } from './elementwise.js';
import type { BenchCase } from './types.js';

function ropeCase(impl: string, extra: number): BenchCase {
  return {
    kernel: 'rope',
    impl,
    setup(rt: Runtime, { full }): BenchRunWithOutput {
      const side = full ? 64 : 16;
      const heads = 1;
      const dh = 256;
      const p = side * side;
      const n = p + extra;
      const xs = benchData(n * heads * dh, 1);
      const table = ropeTable(dh, side, side);
      const x = rt.upload(xs, [1, n, heads * dh], 'f32', 'x');
      const cs = rt.upload(table, [p, dh / 2, 2], 'f32', 'rope_table');
      const out = lastOutput();
      return {
        shape: `[1, ${n}, ${dh}] (${p} rotated${extra ? `, ${extra} copied` : ''})`,
        run: () => out.set(rope(rt, x, cs, heads, p)),
        async check() {
          const want = ropeRef(xs, 1, n, heads, dh, table, p, p);
          const res = allClose(await rt.read(out.get()), want, { atol: 1e-5, rtol: 1e-5 });
          if (!res.ok) console.error(`rope ${impl}: ${res.msg}`);
          return res.ok;
        },
        output: () => rt.read(out.get()),
        bytes: (2 * n * dh + p * dh) * 4,
        downscaled: !full,
        dispose() {
          out.dispose();
          x.dispose();
          cs.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [ropeCase('queries', 0), ropeCase('keys_with_pointers', 64)];
