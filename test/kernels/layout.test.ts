import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/graph/dtype.js';
import type { Tensor } from '../../src/graph/tensor.js';
import {
  cast,
  concat,
  pad,
  permute,
  repeat,
  slice,
  tile,
  windowPartition,
  windowUnpartition,
} from '../../src/kernels/layout.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import {
  concatRef,
  numelOf,
  padRef,
  permuteRef,
  sliceRef,
  tileRef,
  toHalfRef,
  windowPartitionRef,
  windowUnpartitionRef,
} from '../ref/layout.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();

// Data movement copies bits: results must equal the reference exactly.
const exact = async (t: Tensor, ref: { y: ArrayLike<number>; shape: number[] }) => {
  expect(t.shape).toEqual(ref.shape);
  expect(Array.from(await rt!.read(t))).toEqual(Array.from(ref.y));
};

/** Gradient of sum(fwd(xs) * g) w.r.t. each x through the autograd tape. */
async function tapeGrads(xs: Tensor[], fwd: (xs: Tensor[]) => Tensor, g: Float32Array): Promise<Float32Array[]> {
  const tape = new Tape(rt!, TAPE_OPS);
  for (const x of xs) x.requiresGrad = true;
  rt!.tape = tape;
  let y: Tensor;
  try {
    y = fwd(xs);
  } finally {
    rt!.tape = null;
  }
  tape.backward(y, rt!.upload(g, y.shape));
  const out = await Promise.all(xs.map((x) => rt!.read(x.grad!)));
  tape.dispose();
  return out;
}

/** float64 central differences of sum(f(x) * g) for a reference op f (linear: exact to rounding). */
function gradFD(f: (x: Float64Array) => ArrayLike<number>, xs: ArrayLike<number>, g: ArrayLike<number>): Float64Array {
  const x = Float64Array.from(xs);
  const dot = () => {
    const y = f(x);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * g[i];
    return s;
  };
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + 0.5;
    const lp = dot();
    x[i] = v - 0.5;
    const lm = dot();
    x[i] = v;
    dx[i] = lp - lm;
  }
  return dx;
}
// Gradients of pure data movement are sums of at most a few g values: exact up to float32 rounding.
const GRAD_TOL = { atol: 1e-6, rtol: 1e-6 };

describe.skipIf(!rt)('layout', () => {
  const r = rng(11);
  const data = (shape: number[]) => r.array(numelOf(shape), 4);

  // ------------------------------------------------------------------ permute
  const PERMS: Array<[number[], number[]]> = [
    [
      [2, 3, 4],
      [2, 0, 1],
    ],
    [
      [2, 8, 5, 7],
      [0, 2, 3, 1],
    ], // NCHW -> NHWC
    [
      [2, 5, 7, 8],
      [0, 3, 1, 2],
    ], // NHWC -> NCHW
    [
      [1, 5, 1, 7],
      [3, 1, 0, 2],
    ],
    [
      [2, 3, 4, 5],
      [0, 1, 3, 2],
    ], // leading dims merge
    [
      [2, 6, 3, 4],
      [0, 2, 1, 3],
    ], // head split: [B, N, H, D] -> [B, H, N, D]
    [
      [2, 3, 2, 2, 3, 5],
      [0, 1, 3, 2, 4, 5],
    ], // window partition as reshape + permute
    [
      [2, 1, 3, 2, 2, 1, 3, 2],
      [7, 6, 5, 4, 3, 2, 1, 0],
    ], // rank 8
    [
      [0, 3, 2],
      [1, 2, 0],
    ], // empty
    [[1], [0]],
    [[133], [0]], // > workgroup, not a multiple of RUN
  ];
  for (const [shape, perm] of PERMS) {
    it(`permute ${JSON.stringify(shape)} by ${JSON.stringify(perm)}`, async () => {
      const xs = data(shape);
      await exact(permute(rt!, rt!.upload(xs, shape), perm), permuteRef(xs, shape, perm));
    });
  }

  it('moves i32 / u32 bits and f16 values unchanged', async () => {
    const xi = Int32Array.from({ length: 24 }, (_, i) => (i - 12) * 100003);
    const yi = await rt!.read(permute(rt!, rt!.upload(xi, [2, 3, 4], 'i32'), [1, 2, 0]), 'raw');
    expect(Array.from(yi)).toEqual(Array.from(permuteRef(xi, [2, 3, 4], [1, 2, 0]).y));
    const xu = Uint32Array.from({ length: 24 }, (_, i) => 0xfffffff0 + (i % 16)); // NaN bit patterns as f32
    const yu = await rt!.read(permute(rt!, rt!.upload(xu, [4, 6], 'u32'), [1, 0]), 'raw');
    expect(Array.from(yu)).toEqual(Array.from(permuteRef(xu, [4, 6], [1, 0]).y));
    if (rt!.hasF16) {
      const xh = Float32Array.from(data([3, 5, 2]), (v) => f16BitsToF32(f32ToF16Bits(v)));
      const y = permute(rt!, rt!.upload(xh, [3, 5, 2], 'f16'), [2, 0, 1]);
      expect(y.dtype).toBe('f16');
      await exact(y, permuteRef(xh, [3, 5, 2], [2, 0, 1]));
      await exact(
        pad(rt!, rt!.upload(xh, [3, 5, 2], 'f16'), [1, 0, 0], [0, 2, 1], 1.5),
        padRef(xh, [3, 5, 2], [1, 0, 0], [0, 2, 1], 1.5),
      );
      const wh = windowPartition(rt!, rt!.upload(xh, [1, 3, 5, 2], 'f16'), 2);
      await exact(wh, windowPartitionRef(xh, [1, 3, 5, 2], 2));
    }
  });

  it('permute reads views at unaligned offsets', async () => {
    const xs = data([5, 3, 4]);
    const v = rt!.upload(xs, [5, 3, 4]).narrow0(1, 3); // byte offset 48
    await exact(permute(rt!, v, [2, 1, 0]), permuteRef(xs.slice(12, 48), [3, 3, 4], [2, 1, 0]));
  });

  // ------------------------------------------------------------------ slice / pad
  const SLICES: Array<[number[], number[], number[]]> = [
    [
      [5, 7, 3],
      [1, 2, 0],
      [3, 4, 3],
    ],
    [
      [5, 7, 3],
      [0, 0, 0],
      [5, 7, 3],
    ],
    [
      [5, 7, 3],
      [4, 6, 2],
      [1, 1, 1],
    ],
    [
      [5, 7, 3],
      [2, 0, 0],
      [0, 7, 3],
    ], // empty result
    [
      [1, 9, 9, 6],
      [0, 0, 0, 0],
      [1, 7, 8, 6],
    ], // window_unpartition crop
  ];
  for (const [shape, starts, sizes] of SLICES) {
    it(`slice ${JSON.stringify(shape)} at ${JSON.stringify(starts)} size ${JSON.stringify(sizes)}`, async () => {
      const xs = data(shape);
      await exact(slice(rt!, rt!.upload(xs, shape), starts, sizes), sliceRef(xs, shape, starts, sizes));
    });
  }

  const PADS: Array<[number[], number[], number[], number]> = [
    [[3, 4], [1, 0], [2, 3], 0],
    [[3, 4], [0, 2], [1, 0], 1.5],
    [[1, 5, 6, 3], [0, 0, 0, 0], [0, 3, 2, 0], 0], // Hiera window padding (bottom / right)
    [[4, 6], [-1, 2], [1, -3], 0], // negative = crop
    [[0, 3], [1, 0], [1, 0], -2], // empty input: all fill
    [[2, 3, 5], [0, 0, 0], [0, 0, 0], 0],
    [[1, 1], [2, 3], [1, 2], 7],
  ];
  for (const [shape, before, after, value] of PADS) {
    it(`pad ${JSON.stringify(shape)} by ${JSON.stringify(before)} / ${JSON.stringify(after)} with ${value}`, async () => {
      const xs = data(shape);
      await exact(pad(rt!, rt!.upload(xs, shape), before, after, value), padRef(xs, shape, before, after, value));
    });
  }

  // ------------------------------------------------------------------ concat
  const CONCATS: Array<[number[][], number]> = [
    [
      [
        [2, 3],
        [4, 3],
      ],
      0,
    ],
    [
      [
        [2, 3],
        [2, 5],
        [2, 1],
      ],
      1,
    ],
    [
      [
        [2, 3, 4],
        [2, 2, 4],
        [2, 0, 4],
      ],
      1,
    ], // with an empty input
    [
      [
        [2, 3, 4],
        [2, 3, 7],
      ],
      -1,
    ],
    [
      [
        [1, 2, 3, 4],
        [1, 2, 3, 4],
      ],
      0,
    ],
    [[[3]], 0],
  ];
  for (const [shapes, axis] of CONCATS) {
    it(`concat ${JSON.stringify(shapes)} along ${axis}`, async () => {
      const xs = shapes.map((s) => data(s));
      const y = concat(
        rt!,
        xs.map((x, k) => rt!.upload(x, shapes[k])),
        axis,
      );
      await exact(
        y,
        concatRef(
          xs.map((x, k) => ({ x, shape: shapes[k] })),
          (axis + shapes[0].length) % shapes[0].length,
        ),
      );
    });
  }

  // ------------------------------------------------------------------ tile / repeat
  const TILES: Array<[number[], number[]]> = [
    [
      [1, 4, 8, 8],
      [1, 1, 3, 2],
    ], // pos_embed_window tiling (scaled down)
    [[2, 3], [3]],
    [[3], [2, 2]], // more reps than dims: new leading dim
    [
      [2, 1, 3],
      [1, 4, 1],
    ],
    [
      [2, 3],
      [0, 2],
    ], // zero reps -> empty
    [
      [5, 7],
      [1, 1],
    ],
  ];
  for (const [shape, reps] of TILES) {
    it(`tile ${JSON.stringify(shape)} by ${JSON.stringify(reps)}`, async () => {
      const xs = data(shape);
      await exact(tile(rt!, rt!.upload(xs, shape), reps), tileRef(xs, shape, reps));
    });
  }
  it('repeat is tile with reps for every dim', async () => {
    const xs = data([2, 3]);
    await exact(repeat(rt!, rt!.upload(xs, [2, 3]), [2, 1, 2]), tileRef(xs, [2, 3], [2, 1, 2]));
    expect(() => repeat(rt!, rt!.upload(xs, [2, 3]), [2])).toThrow(/at least 2/);
  });

  // ------------------------------------------------------------------ windows
  const WINDOWS: Array<[number[], number]> = [
    [[2, 7, 9, 3], 4], // padding at the bottom and right
    [[1, 8, 8, 5], 4], // no padding
    [[1, 5, 6, 2], 1],
    [[1, 3, 3, 2], 8], // window larger than the map
    [[1, 16, 16, 4], 8], // SAM-like: 8x8 windows
    [[0, 4, 4, 2], 2], // empty batch
  ];
  for (const [shape, ws] of WINDOWS) {
    it(`window partition / unpartition ${JSON.stringify(shape)} window ${ws}`, async () => {
      const xs = data(shape);
      const x = rt!.upload(xs, shape);
      const w = windowPartition(rt!, x, ws);
      const ref = windowPartitionRef(xs, shape, ws);
      await exact(w, ref);
      const back = windowUnpartition(rt!, w, ws, [shape[1], shape[2]]);
      await exact(back, windowUnpartitionRef(ref.y, ref.shape, ws, [shape[1], shape[2]]));
      expect(Array.from(await rt!.read(back))).toEqual(Array.from(xs));
    });
  }

  // ------------------------------------------------------------------ cast
  it('cast f32 -> f16 rounds to nearest even, overflows to inf, keeps NaN', async () => {
    if (!rt!.hasF16) return;
    const special = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      1e10,
      -1e10,
      5.96e-8,
      2.98e-8,
      2.99e-8,
      1e-9,
      6.1e-5,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2049,
      2051,
      NaN,
      Infinity,
      -Infinity,
    ];
    const xs = Float32Array.from([...special, ...r.array(300, 100), ...r.array(101, 1e-5)]);
    const h = cast(rt!, rt!.upload(xs, [xs.length]), 'f16');
    expect(h.dtype).toBe('f16');
    const bits = (await rt!.read(h, 'raw')) as Uint16Array;
    const got = Array.from(bits, f16BitsToF32);
    const want = Array.from(xs, toHalfRef);
    got.forEach((v, i) =>
      expect(
        Object.is(v, want[i]) || (Number.isNaN(v) && Number.isNaN(want[i])),
        `[${i}] ${xs[i]}: got ${v} want ${want[i]}`,
      ).toBe(true),
    );
  });

  it('cast f16 -> f32 is exact, also from odd element offsets', async () => {
    if (!rt!.hasF16) return;
    const halves = Uint16Array.from([
      0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x8123,
    ]);
    const t = rt!.upload(halves, [halves.length, 1], 'f16');
    for (const start of [0, 1, 3]) {
      const y = cast(rt!, t.narrow0(start, halves.length - start), 'f32');
      const got = Array.from(await rt!.read(y));
      got.forEach((v, i) => {
        const want = f16BitsToF32(halves[start + i]);
        expect(
          Object.is(v, want) || (Number.isNaN(v) && Number.isNaN(want)),
          `half 0x${halves[start + i].toString(16)}`,
        ).toBe(true);
      });
    }
  });

  it('cast round trip and same-dtype copy', async () => {
    if (!rt!.hasF16) return;
    const xs = Float32Array.from(r.array(77, 3), (v) => f16BitsToF32(f32ToF16Bits(v)));
    const h = cast(rt!, rt!.upload(xs, [7, 11]), 'f16');
    expect(Array.from(await rt!.read(cast(rt!, h, 'f32')))).toEqual(Array.from(xs));
    expect(Array.from(await rt!.read(cast(rt!, h, 'f16')))).toEqual(Array.from(xs));
    expect(cast(rt!, rt!.upload([], [0]), 'f16').shape).toEqual([0]);
  });

  // ------------------------------------------------------------------ errors
  it('rejects bad arguments with clear messages', () => {
    const x = rt!.zeros([2, 3, 4]);
    expect(() => permute(rt!, x, [0, 0, 1])).toThrow(/not a permutation .*\[2, 3, 4\]/);
    expect(() => permute(rt!, x, [0, 1])).toThrow(/not a permutation/);
    expect(() => slice(rt!, x, [0, 2, 0], [2, 2, 4])).toThrow(/do not fit in \[2, 3, 4\]/);
    expect(() => pad(rt!, x, [0, 0], [0, 0])).toThrow(/needs 3 integer amounts/);
    expect(() => pad(rt!, x, [0, -2, 0], [0, -2, 0])).toThrow(/size -1/);
    expect(() => concat(rt!, [x, rt!.zeros([2, 4, 4])], 0)).toThrow(/\[2, 3, 4\].*\[2, 4, 4\].*do not agree/);
    expect(() => concat(rt!, [x], 3)).toThrow(/axis 3/);
    expect(() => windowPartition(rt!, x, 2)).toThrow(/\[B, H, W, C\]/);
    expect(() => windowUnpartition(rt!, rt!.zeros([3, 2, 2, 1]), 2, [4, 4])).toThrow(/whole images/);
    expect(() => cast(rt!, rt!.zeros([2], 'u32'), 'f32')).toThrow(/f32 <-> f16/);
  });

  // ------------------------------------------------------------------ autograd
  const gradCase = async (
    shapes: number[][],
    fwd: (xs: Tensor[]) => Tensor,
    refs: Array<(x: Float64Array) => ArrayLike<number>>,
  ) => {
    const xs = shapes.map((s) => data(s));
    const tensors = xs.map((x, k) => rt!.upload(x, shapes[k]));
    const probe = fwd(tensors.map((t) => t.reshape(t.shape)));
    const g = r.array(probe.size, 1);
    const grads = await tapeGrads(tensors, fwd, g);
    grads.forEach((dx, k) => expectClose(dx, gradFD(refs[k], xs[k], g), GRAD_TOL, `d input ${k}`));
  };

  it('permute backward', () =>
    gradCase([[2, 3, 4]], ([x]) => permute(rt!, x, [1, 2, 0]), [(x) => permuteRef(x, [2, 3, 4], [1, 2, 0]).y]));
  it('pad backward', () =>
    gradCase([[3, 4]], ([x]) => pad(rt!, x, [1, -1], [2, 0], 3), [(x) => padRef(x, [3, 4], [1, -1], [2, 0], 3).y]));
  it('slice backward', () =>
    gradCase([[4, 5]], ([x]) => slice(rt!, x, [1, 2], [2, 3]), [(x) => sliceRef(x, [4, 5], [1, 2], [2, 3]).y]));
  it('concat backward', () =>
    gradCase(
      [
        [2, 3],
        [2, 1],
        [2, 4],
      ],
      (xs) => concat(rt!, xs, 1),
      [0, 1, 2].map((k) => (x: Float64Array) => {
        const parts = [
          [2, 3],
          [2, 1],
          [2, 4],
        ].map((shape, j) => ({ x: j === k ? x : new Float64Array(numelOf(shape)), shape }));
        return concatRef(parts, 1).y;
      }),
    ));
  it('tile backward sums the copies', () =>
    gradCase([[1, 2, 3, 2]], ([x]) => tile(rt!, x, [2, 1, 3, 2]), [(x) => tileRef(x, [1, 2, 3, 2], [2, 1, 3, 2]).y]));
  it('window partition backward', () =>
    gradCase([[1, 5, 7, 2]], ([x]) => windowPartition(rt!, x, 3), [(x) => windowPartitionRef(x, [1, 5, 7, 2], 3).y]));
  it('window unpartition backward', () =>
    gradCase([[6, 3, 3, 2]], ([w]) => windowUnpartition(rt!, w, 3, [5, 7]), [
      (w) => windowUnpartitionRef(w, [6, 3, 3, 2], 3, [5, 7]).y,
    ]));
  it('gradients flow through a chain of layout ops', () =>
    gradCase(
      [[1, 4, 5, 2]],
      ([x]) => permute(rt!, windowPartition(rt!, pad(rt!, x, [0, 0, 0, 0], [0, 1, 0, 0]), 2), [0, 3, 1, 2]),
      [
        (x) => {
          const p = padRef(x, [1, 4, 5, 2], [0, 0, 0, 0], [0, 1, 0, 0]);
          const w = windowPartitionRef(p.y, p.shape, 2);
          return permuteRef(w.y, w.shape, [0, 3, 1, 2]).y;
        },
      ],
    ));
});
