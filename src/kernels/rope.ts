// Wrapper for shaders/rope.wgsl (axial RoPE of sam2's RoPEAttention) and the host-built table.
import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { linear, type MatmulVariant } from './matmul.js';

const WG = 128;
const f = Math.fround;

/**
 * compute_axial_cis(dim = Dh, end_x, end_y, theta) as (cos, sin) pairs [endX*endY, Dh/2, 2], in
 * float32 arithmetic like PyTorch: freqs = 1 / theta^(4k/Dh) for k < Dh/4; token n has x = n mod endX,
 * y = floor(n / endX); pairs m < Dh/4 use x*freq_m, pairs m >= Dh/4 use y*freq_(m - Dh/4).
 */
export function ropeTable(dh: number, endX: number, endY: number, theta = 10000): Float32Array {
  if (dh % 4 !== 0) throw new Error(`rope: head dim ${dh} must be a multiple of 4`);
  const q = dh / 4;
  const freqs = new Float32Array(q);
  for (let k = 0; k < q; k++) freqs[k] = f(1 / f(Math.pow(theta, f(f(4 * k) / dh))));
  const n = endX * endY;
  const out = new Float32Array(n * (dh / 2) * 2);
  for (let t = 0; t < n; t++) {
    const tx = f(t % endX);
    const ty = f(Math.floor(t / endX));
    for (let m = 0; m < dh / 2; m++) {
      const ang = m < q ? f(tx * freqs[m]) : f(ty * freqs[m - q]);
      out[(t * (dh / 2) + m) * 2] = Math.cos(ang);
      out[(t * (dh / 2) + m) * 2 + 1] = Math.sin(ang);
    }
  }
  return out;
}

/**
 * Rotate x [B, N, H*Dh] with table cs [P, Dh/2, 2]; tokens >= nRope are copied (object pointers).
 * sign -1 applies the inverse rotation (backward).
 */
export function rope(rt: Runtime, x: Tensor, cs: Tensor, heads: number, nRope: number, sign: 1 | -1 = 1): Tensor {
  if (x.rank !== 3) throw new Error(`rope: x ${shapeStr(x.shape)} must be [B, N, H*Dh]`);
  const [b, n, c] = x.shape;
  const { dh, p } = ropeGeometry(c, n, cs, heads, nRope);
  const y = rt.empty(x.shape, 'f32', 'rope');
  const total = b * n * heads * (dh / 2);
  if (total > 0) {
    rt.kernel('rope').run({
      constants: { WG },
      bindings: { x, cs, y },
      params: { b, n, heads, half_dh: dh / 2, p, n_rope: nRope, sign },
      groups: rt.groups1d(total, WG),
      label: 'rope',
    });
  }
  if (rt.tape?.wants([x])) {
    rt.tape.record({
      op: 'rope',
      inputs: [x],
      outputs: [y],
      saved: [cs],
      backward: ([dy]) => [dy ? rope(rt, dy, cs, heads, nRope, sign === 1 ? -1 : 1) : null],
    });
  }
  return y;
}

/** Checks a rotation of N tokens x C channels in `heads` heads by table cs; returns Dh and P. */
function ropeGeometry(c: number, n: number, cs: Tensor, heads: number, nRope: number): { dh: number; p: number } {
  if (c % heads !== 0) throw new Error(`rope: ${heads} heads do not divide ${c} channels`);
  const dh = c / heads;
  if (dh % 2 !== 0) throw new Error(`rope: head dim ${dh} must be even`);
  if (cs.rank !== 3 || cs.shape[1] !== dh / 2 || cs.shape[2] !== 2)
    throw new Error(`rope: table ${shapeStr(cs.shape)} must be [P, ${dh / 2}, 2]`);
  if (nRope < 0 || nRope > n) throw new Error(`rope: nRope ${nRope} outside [0, ${n}]`);
  const p = cs.shape[0];
  if (nRope > 0 && nRope % p !== 0)
    throw new Error(`rope: ${nRope} rotated tokens are not a whole number of ${p}-token grids (repeat_freqs_k)`);
  return { dh, p };
}

/**
 * rope(linear(x, weight, bias), cs, heads, nRope): the q / k projections of sam2's RoPEAttention,
 * x [B, N, in], weight [out, in]. At inference (no gradient asked for) one matmul dispatch with the
 * rotation as its epilogue, no intermediate tensor; under a tape the two recorded ops.
 */
export function ropeLinear(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  cs: Tensor,
  heads: number,
  nRope: number,
  variant?: MatmulVariant,
): Tensor {
  if (x.rank !== 3) throw new Error(`ropeLinear: x ${shapeStr(x.shape)} must be [B, N, in]`);
  if (rt.tape?.wants(bias ? [x, weight, bias] : [x, weight]))
    return rope(rt, linear(rt, x, weight, bias, 'none', { variant }), cs, heads, nRope);
  const n = x.shape[1];
  const { dh } = ropeGeometry(weight.shape[0], n, cs, heads, nRope);
  return linear(rt, x, weight, bias, 'none', { variant, rope: { cs, tokens: n, nRope, halfDh: dh / 2 } });
}
