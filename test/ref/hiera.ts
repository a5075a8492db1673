// CPU reference (float64) of one Hiera MultiScaleBlock (sam2/modeling/backbones/hieradet.py), built
// from the kernel references: norm1 -> [proj + q-pool of the shortcut] -> window partition ->
// MultiScaleAttention (qkv, 2x2 max-pool of q, SDPA, proj) -> unpartition -> residual -> norm2 -> MLP
// (GELU, erf form) -> residual. x and the result are NHWC [B, H, W, C].
import type { HieraBlockSpec } from '../../src/model/config.js';
import { attentionRef } from './attention.js';
import { UNARY } from './elementwise.js';
import { sliceRef, windowPartitionRef, windowUnpartitionRef } from './layout.js';
import { linearRef } from './matmul.js';
import { layerNormRef } from './norm.js';
import { maxPool2dRef } from './pool.js';

type P = (name: string) => ArrayLike<number>;

function pool2(x: ArrayLike<number>, shape: number[], s: number): { y: Float64Array; shape: number[] } {
  const r = maxPool2dRef(x, shape, { kernel: [s, s], stride: [s, s], layout: 'NHWC' });
  return { y: r.y, shape: r.shape };
}

/** One block; `p(name)` returns the block's parameter (e.g. 'attn.qkv.weight'). */
export function hieraBlockRef(
  x: ArrayLike<number>,
  shape: number[],
  spec: HieraBlockSpec,
  p: P,
  o: { mlpRatio: number; eps: number; qStride: number },
) {
  const [B, H, W, Cin] = shape;
  const { dimOut: C, heads, window, qPool } = spec;
  const rows = B * H * W;
  const xn = layerNormRef(x, rows, Cin, p('norm1.weight'), p('norm1.bias'), o.eps).y;
  let shortcut: ArrayLike<number> = x;
  let sShape = shape;
  if (Cin !== C) {
    shortcut = linearRef(xn, shape, p('proj.weight'), [C, Cin], p('proj.bias')).y;
    sShape = [B, H, W, C];
    if (qPool) ({ y: shortcut, shape: sShape } = pool2(shortcut, sShape, o.qStride));
  }
  const [, Ho, Wo] = sShape;
  // windows (or the whole map as one "window")
  const win = window > 0 ? windowPartitionRef(xn, shape, window) : { y: xn, shape };
  const [nB, wh, ww] = win.shape;
  const qkv = linearRef(win.y, [nB, wh * ww, Cin], p('attn.qkv.weight'), [3 * C, Cin], p('attn.qkv.bias')).y; // [nB, N, 3C]
  const part = (k: number) => sliceRef(qkv, [nB, wh * ww, 3 * C], [0, 0, k * C], [nB, wh * ww, C]).y;
  let q: ArrayLike<number> = part(0);
  let hq = wh;
  let wq = ww;
  if (qPool) {
    const r = pool2(q, [nB, wh, ww, C], o.qStride);
    q = r.y;
    [, hq, wq] = r.shape;
  }
  const att = attentionRef(q, part(1), part(2), { B: nB, Nq: hq * wq, Nk: wh * ww, H: heads, Dh: C / heads });
  const a0 = linearRef(att, [nB, hq * wq, C], p('attn.proj.weight'), [C, C], p('attn.proj.bias')).y;
  const a =
    window > 0 ? windowUnpartitionRef(a0, [nB, hq, wq, C], qPool ? window / o.qStride : window, [Ho, Wo]).y : a0;
  const n = B * Ho * Wo * C;
  const x1 = new Float64Array(n);
  for (let i = 0; i < n; i++) x1[i] = shortcut[i] + a[i];
  const hid = Math.trunc(C * o.mlpRatio);
  const h1 = linearRef(
    layerNormRef(x1, B * Ho * Wo, C, p('norm2.weight'), p('norm2.bias'), o.eps).y,
    [B * Ho * Wo, C],
    p('mlp.layers.0.weight'),
    [hid, C],
    p('mlp.layers.0.bias'),
  ).y;
  for (let i = 0; i < h1.length; i++) h1[i] = UNARY.gelu(h1[i]);
  const m = linearRef(h1, [B * Ho * Wo, hid], p('mlp.layers.1.weight'), [C, hid], p('mlp.layers.1.bias')).y;
  for (let i = 0; i < n; i++) x1[i] += m[i];
  return { y: x1, shape: [B, Ho, Wo, C] };
}
