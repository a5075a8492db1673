import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import { attention, splitPacked, type AttentionVariant } from '../../src/kernels/attention.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { attentionGradRef, attentionRef } from '../ref/attention.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';
import { tapeGrads } from '../helpers/tape.js';

const rt = await testRuntime();

// f32 dot products over Dh <= 256 and an online softmax over <= 40 keys against float64:
// errors ~1e-7 on outputs of size ~0.5.
const TOL = { atol: 2e-6, rtol: 1e-5 };
// Gradients accumulate over queries and keys: a little looser.
const GRAD_TOL = { atol: 1e-5, rtol: 1e-4 };
const VARIANTS: AttentionVariant[] = ['software', 'tiled'];

describe.skipIf(!rt)('attention', () => {
  const r = rng(5);
  const up = (a: Float32Array, s: number[]) => rt!.upload(a, s);

  // split: one head, no mask (memory attention's calls); [B, Nq, Nk, Dh, k / v batch]
  const splitShapes: Array<[number, number, number, number, number]> = [
    [1, 1, 1, 4, 1],
    [1, 9, 40, 256, 1],
    [2, 7, 37, 16, 2],
    [3, 66, 19, 64, 1], // k / v broadcast over the batch
  ];
  for (const [B, Nq, Nk, Dh, Bk] of splitShapes) {
    it(`split B=${B} Nq=${Nq} Nk=${Nk} Dh=${Dh} kv batch ${Bk} vs float64 reference`, async () => {
      const q = r.array(B * Nq * Dh),
        k = r.array(Bk * Nk * Dh),
        v = r.array(Bk * Nk * Dh);
      const o = attention(rt!, up(q, [B, Nq, Dh]), up(k, [Bk, Nk, Dh]), up(v, [Bk, Nk, Dh]), {
        heads: 1,
        variant: 'split',
      });
      const ref = attentionRef(q, k, v, { B, Nq, Nk, H: 1, Dh, Bk, mask: null });
      expectClose(await rt!.read(o), ref, TOL, 'split');
    });
  }

  it('split with an additive key mask [B or 1, Nk]: fully masked queries give zeros, as the fused kernel', async () => {
    const [B, Nq, Nk, Dh] = [3, 5, 13, 8];
    const q = r.array(B * Nq * Dh),
      k = r.array(Nk * Dh),
      v = r.array(Nk * Dh);
    const mask = Float32Array.from({ length: B * Nk }, (_, e) => (e % 4 === 1 ? -Infinity : 0.25 * (e % 3)));
    mask.fill(-Infinity, Nk, 2 * Nk); // batch 1: every key dropped
    for (const m of [mask, mask.slice(0, Nk)]) {
      const tm = up(m, [m.length / Nk, Nk]);
      const args = [up(q, [B, Nq, Dh]), up(k, [1, Nk, Dh]), up(v, [1, Nk, Dh])] as const;
      const split = await rt!.read(attention(rt!, ...args, { heads: 1, mask: tm, variant: 'split' }));
      const fused = await rt!.read(attention(rt!, ...args, { heads: 1, mask: tm, variant: 'software' }));
      const full = Float32Array.from({ length: B * Nk }, (_, e) => m[e % m.length]);
      const ref = attentionRef(q, k, v, { B, Nq, Nk, H: 1, Dh, Bk: 1, mask: full });
      expectClose(split, ref, TOL, 'split masked');
      expectClose(split, fused, TOL, 'split vs fused');
    }
  });

  it('split refuses what it cannot do, naming it; the default falls back to the fused kernel', async () => {
    const q = up(r.array(2 * 8), [1, 2, 8]);
    const kv = up(r.array(3 * 8), [1, 3, 8]);
    expect(() => attention(rt!, q, kv, kv, { heads: 2, variant: 'split' })).toThrow(
      /split variant does not support 2 heads/,
    );
    const packed = up(r.array(3 * 24), [1, 3, 24]);
    const [pq, pk, pv] = splitPacked(packed, 3);
    expect(() => attention(rt!, pq, pk, pv, { heads: 1, variant: 'split' })).toThrow(/does not support strided/);
    const [a, b] = [
      attention(rt!, q, kv, kv, { heads: 2 }),
      attention(rt!, q, kv, kv, { heads: 2, variant: 'software' }),
    ];
    expectClose(await rt!.read(a), await rt!.read(b), { atol: 0, rtol: 0 }, 'fallback');
  });

  // [B, Nq, Nk, H, Dh]
  const shapes: Array<[number, number, number, number, number]> = [
    [1, 1, 1, 1, 4], // single query, single key
    [2, 1, 17, 8, 8], // Nq = 1 (decoder token), Nk not a multiple of the key block
    [1, 5, 1, 8, 4], // Nk = 1 (reduced decoder head dim 4)
    [2, 7, 37, 8, 16], // decoder token->image, Nk not a multiple of 16 / 32
    [1, 9, 40, 1, 256], // memory attention head dim
    [2, 6, 33, 4, 96], // Hiera head dim, small N
    [1, 70, 20, 2, 32], // more queries than one tiled workgroup (64)
  ];
  for (const variant of VARIANTS) {
    for (const [B, Nq, Nk, H, Dh] of shapes) {
      it(`${variant} B=${B} Nq=${Nq} Nk=${Nk} H=${H} Dh=${Dh}`, async () => {
        const C = H * Dh;
        const q = r.array(B * Nq * C, 2),
          k = r.array(B * Nk * C, 2),
          v = r.array(B * Nk * C);
        const o = attention(rt!, up(q, [B, Nq, C]), up(k, [B, Nk, C]), up(v, [B, Nk, C]), { heads: H, variant });
        expect(o.shape).toEqual([B, Nq, C]);
        expectClose(await rt!.read(o), attentionRef(q, k, v, { B, Nq, Nk, H, Dh }), TOL, 'attention');
      });
    }

    it(`${variant} additive mask, fully masked rows give zeros, custom scale`, async () => {
      const B = 3,
        Nq = 4,
        Nk = 21,
        H = 2,
        Dh = 8,
        C = H * Dh;
      const q = r.array(B * Nq * C),
        k = r.array(B * Nk * C),
        v = r.array(B * Nk * C);
      const mask = new Float32Array(B * Nk);
      for (let j = 0; j < Nk; j++) {
        mask[j] = j % 3 === 0 ? -Infinity : 0; // batch 0: drop every third key
        mask[2 * Nk + j] = j < 20 ? -Infinity : 0.5 * j; // batch 2: one key left (finite bias)
      }
      mask.fill(-Infinity, Nk, 2 * Nk); // batch 1: every key dropped
      const o = attention(rt!, up(q, [B, Nq, C]), up(k, [B, Nk, C]), up(v, [B, Nk, C]), {
        heads: H,
        mask: up(mask, [B, Nk]),
        scale: 0.3,
        variant,
      });
      const got = await rt!.read(o);
      const ref = attentionRef(q, k, v, { B, Nq, Nk, H, Dh, mask, scale: 0.3 });
      expectClose(got, ref, TOL, 'masked');
      expect(Array.from(got.slice(Nq * C, 2 * Nq * C)).every((x) => x === 0)).toBe(true);
    });

    it(`${variant} broadcast mask and k / v over the batch`, async () => {
      const B = 2,
        Nq = 3,
        Nk = 10,
        H = 4,
        Dh = 4,
        C = H * Dh;
      const q = r.array(B * Nq * C),
        k = r.array(Nk * C),
        v = r.array(Nk * C);
      const mask = Float32Array.from({ length: Nk }, (_, j) => (j === 4 ? -Infinity : -0.1 * j));
      const o = attention(rt!, up(q, [B, Nq, C]), up(k, [1, Nk, C]), up(v, [1, Nk, C]), {
        heads: H,
        mask: up(mask, [1, Nk]),
        variant,
      });
      expectClose(
        await rt!.read(o),
        attentionRef(q, k, v, { B, Nq, Nk, H, Dh, Bk: 1, mask, maskB: 1 }),
        TOL,
        'broadcast',
      );
    });

    it(`${variant} reads a packed qkv projection in place`, async () => {
      // Hiera: qkv Linear output [B, N, 3 * H * Dh], laid out [3][H][Dh] per token
      const B = 2,
        N = 11,
        H = 2,
        Dh = 12,
        C = H * Dh;
      const qkv = r.array(B * N * 3 * C);
      const part = (p: number) =>
        Float32Array.from({ length: B * N * C }, (_, e) => qkv[Math.floor(e / C) * 3 * C + p * C + (e % C)]);
      const [q, k, v] = splitPacked(up(qkv, [B, N, 3 * C]));
      const o = attention(rt!, q, k, v, { heads: H, variant });
      expectClose(
        await rt!.read(o),
        attentionRef(part(0), part(1), part(2), { B, Nq: N, Nk: N, H, Dh }),
        TOL,
        'packed',
      );
    });

    it(`${variant} empty query set and Nk = 0`, async () => {
      expect(
        attention(rt!, rt!.zeros([1, 0, 8]), rt!.zeros([1, 5, 8]), rt!.zeros([1, 5, 8]), { heads: 2, variant }).shape,
      ).toEqual([1, 0, 8]);
      const o = attention(rt!, up(r.array(24), [1, 3, 8]), rt!.zeros([1, 0, 8]), rt!.zeros([1, 0, 8]), {
        heads: 2,
        variant,
      });
      expect(Array.from(await rt!.read(o))).toEqual(new Array(24).fill(0));
    });
  }

  it('rejects bad shapes with a clear message', () => {
    const z = (s: number[]) => rt!.zeros(s);
    expect(() => attention(rt!, z([1, 4, 12]), z([1, 5, 12]), z([1, 5, 12]), { heads: 5 })).toThrow(
      /5 heads do not divide 12/,
    );
    expect(() => attention(rt!, z([1, 4, 12]), z([1, 5, 12]), z([1, 5, 12]), { heads: 2 })).toThrow(/head dim 6/);
    expect(() => attention(rt!, z([1, 4, 1040]), z([1, 5, 1040]), z([1, 5, 1040]), { heads: 2 })).toThrow(
      /head dim 520/,
    );
    expect(() => attention(rt!, z([1, 4, 8]), z([1, 5, 8]), z([1, 6, 8]), { heads: 2 })).toThrow(
      /k \[1, 5, 8\], v \[1, 6, 8\]/,
    );
    expect(() => attention(rt!, z([2, 4, 8]), z([3, 5, 8]), z([3, 5, 8]), { heads: 2 })).toThrow(/batch dims differ/);
    expect(() => attention(rt!, z([1, 4, 8]), z([1, 5, 8]), z([1, 5, 8]), { heads: 2, mask: z([1, 4]) })).toThrow(
      /mask \[1, 4\] must be \[1 or 1, 5\]/,
    );
    expect(() => attention(rt!, z([4, 8]), z([1, 5, 8]), z([1, 5, 8]), { heads: 2 })).toThrow(
      /q \[4, 8\] must be \[B, N, H\*Dh\]/,
    );
  });
});

describe.skipIf(!rt)('attention backward', () => {
  const r = rng(9);

  const cases: Array<[number, number, number, number, number, boolean]> = [
    [1, 1, 1, 1, 4, false],
    [2, 5, 19, 2, 8, true],
    [1, 3, 7, 1, 96, false],
    [1, 2, 5, 1, 256, true],
    [1, 66, 9, 1, 4, true], // software: 4 queries per invocation, with a partial last block
  ];
  for (const variant of VARIANTS) {
    for (const [B, Nq, Nk, H, Dh, masked] of cases) {
      it(`${variant} B=${B} Nq=${Nq} Nk=${Nk} H=${H} Dh=${Dh}${masked ? ' masked' : ''} vs float64 reference`, async () => {
        const C = H * Dh;
        const q = r.array(B * Nq * C),
          k = r.array(B * Nk * C),
          v = r.array(B * Nk * C),
          dy = r.array(B * Nq * C);
        let mask: Float32Array | null = null;
        if (masked) {
          mask = Float32Array.from({ length: B * Nk }, (_, e) => (e % 4 === 1 ? -Infinity : 0.2 * (e % 3)));
          if (B > 1) mask.fill(-Infinity, Nk, 2 * Nk); // batch 1 fully masked: zero gradients
        }
        const tq = rt!.upload(q, [B, Nq, C]),
          tk = rt!.upload(k, [B, Nk, C]),
          tv = rt!.upload(v, [B, Nk, C]);
        const tm = mask ? rt!.upload(mask, [B, Nk]) : null;
        const [gq, gk, gv] = await tapeGrads(
          rt!,
          [tq, tk, tv],
          () => attention(rt!, tq, tk, tv, { heads: H, mask: tm, variant }),
          dy,
        );
        const ref = attentionGradRef(q, k, v, dy, { B, Nq, Nk, H, Dh, mask });
        expectClose(gq, ref.dq, GRAD_TOL, 'dq');
        expectClose(gk, ref.dk, GRAD_TOL, 'dk');
        expectClose(gv, ref.dv, GRAD_TOL, 'dv');
      });
    }
  }

  it('matches central finite differences of the float64 forward', async () => {
    const B = 1,
      Nq = 3,
      Nk = 4,
      H = 2,
      Dh = 4,
      C = H * Dh;
    const q = r.array(B * Nq * C),
      k = r.array(B * Nk * C),
      v = r.array(B * Nk * C),
      dy = r.array(B * Nq * C);
    const mask = Float32Array.from([0, -1, -Infinity, 0.5]);
    const shape = { B, Nq, Nk, H, Dh, mask };
    const tq = rt!.upload(q, [B, Nq, C]),
      tk = rt!.upload(k, [B, Nk, C]),
      tv = rt!.upload(v, [B, Nk, C]);
    const [gq, gk, gv] = await tapeGrads(
      rt!,
      [tq, tk, tv],
      () => attention(rt!, tq, tk, tv, { heads: H, mask: rt!.upload(mask, [1, Nk]) }),
      dy,
    );
    const loss = (qq: ArrayLike<number>, kk: ArrayLike<number>, vv: ArrayLike<number>) =>
      attentionRef(qq, kk, vv, shape).reduce((s, o, i) => s + o * dy[i], 0);
    const fd = (vals: Float32Array, f: (x: Float64Array) => number) => {
      const x = Float64Array.from(vals);
      const eps = 1e-6;
      return Float64Array.from(vals, (_, i) => {
        const o = x[i];
        x[i] = o + eps;
        const lp = f(x);
        x[i] = o - eps;
        const lm = f(x);
        x[i] = o;
        return (lp - lm) / (2 * eps);
      });
    };
    // f32 GPU gradients vs float64 finite differences (truncation ~1e-11)
    const FD_TOL = { atol: 5e-6, rtol: 5e-5 };
    expectClose(
      gq,
      fd(q, (x) => loss(x, k, v)),
      FD_TOL,
      'dq',
    );
    expectClose(
      gk,
      fd(k, (x) => loss(q, x, v)),
      FD_TOL,
      'dk',
    );
    expectClose(
      gv,
      fd(v, (x) => loss(q, k, x)),
      FD_TOL,
      'dv',
    );
  });

  it('refuses autograd through strided views', () => {
    const tape = new Tape(rt!, TAPE_OPS);
    rt!.tape = tape;
    try {
      const qkv = rt!.zeros([1, 4, 24]);
      qkv.requiresGrad = true;
      const [q, k, v] = splitPacked(qkv);
      // views are not tensors: nothing to record on, and q / k / v plain leaves are required
      const tq = rt!.zeros([1, 4, 8]);
      tq.requiresGrad = true;
      expect(() => attention(rt!, tq, k, v, { heads: 2 })).toThrow(/autograd needs q, k and v as plain/);
      void q;
    } finally {
      rt!.tape = null;
      tape.dispose();
    }
  });
});
