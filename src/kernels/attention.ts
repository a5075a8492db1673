// Wrapper for shaders/attention.wgsl: fused multi-head scaled-dot-product attention
//   out = softmax(q k^T * scale + mask) v   per head, flash-style (the score matrix is never stored).
// q [B, Nq, H*Dh], k [B, Nk, H*Dh], v [B, Nk, H*Dh] token-major with heads interleaved (PyTorch's
// x.reshape(B, N, H, Dh).transpose(1, 2)); out [B, Nq, H*Dh]. Dh must be a multiple of 4 in [4, 256].
// Inputs may be strided views (`StridedInput`): e.g. `splitPacked(qkv, 3)` reads a packed
// [B, N, 3*H*Dh] qkv projection in place, and a batch stride of 0 broadcasts k / v over the batch.
// Mask: optional additive f32 key mask [B or 1, Nk] (0 keeps a key, -inf drops it; finite values
// are added as a bias). A query with every key at -inf gets zeros (PyTorch gives NaN); Nk = 0 too.
// Variants: 'software' (one query per invocation, no workgroup memory), 'tiled' (K/V tiles in
// workgroup memory, for real GPUs) and 'split' (software adapters, one head: the scores
// [B, Nq, Nk] are materialised by the matmul family, softmax'ed (with the key mask) by the softmax family and multiplied
// by v; the register-blocked matmul keeps more of a CPU's SIMD lanes busy than the fused loop, about
// 1.5-3x on lavapipe for memory attention's 256 x 1856 and 256 x 256 calls). Autograd (contiguous q / k / v with equal batch only): the
// forward also stores the per-row logsumexp; the backward runs two kernels (per query row: dq; per
// key row: dk, dv) that recompute the probabilities from it.

import { BYTES, shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { matmul } from './matmul.js';
import { softmax } from './softmax.js';

export type AttentionVariant = 'software' | 'tiled' | 'split';

/** A [B, N, C] view of a tensor with explicit element strides (multiples of 4). A view with
 * B = 1 is broadcast over the batch of q when used as k / v (its batch stride is ignored). */
export interface StridedInput {
  tensor: Tensor;
  shape: readonly [number, number, number];
  /** Elements between batches (0 broadcasts one batch to all). */
  batchStride: number;
  /** Elements between tokens. */
  tokenStride: number;
  /** Element offset of (0, 0, 0) inside `tensor`. */
  offset: number;
}
export type AttentionInput = Tensor | StridedInput;

export interface AttentionOptions {
  heads: number;
  /** Default 1/sqrt(Dh). */
  scale?: number;
  /** Additive key mask [B or 1, Nk] (f32). */
  mask?: Tensor | null;
  /** Force a variant (default on CPU adapters: 'split' where it applies, else 'software'; else 'tiled'). */
  variant?: AttentionVariant;
}

export const MAX_HEAD_DIM = 256;
const WG = 64;
/** Keys per block of the software variant. */
const BK_SOFTWARE = 16;
/** Queries per invocation of the software variant (when Nq >= 64). */
const QB_SOFTWARE = 4;
/** Largest score matrix the split variant materialises (bytes). */
const SPLIT_SCORE_BYTES = 32 * 1024 * 1024;
/** Workgroup memory budget for the tiled variant's K and V tiles (the WebGPU default limit). */
const TILE_BYTES = 16384;

function isTensor(x: AttentionInput): x is Tensor {
  return typeof (x as Tensor).reshape === 'function';
}

function asStrided(x: AttentionInput, what: string): StridedInput {
  if (!isTensor(x)) return x;
  if (x.rank !== 3) throw new Error(`attention: ${what} ${shapeStr(x.shape)} must be [B, N, H*Dh]`);
  const [, n, c] = x.shape;
  return { tensor: x, shape: [x.shape[0], n, c], batchStride: n * c, tokenStride: c, offset: 0 };
}

/**
 * Views of a packed projection [B, N, parts*C] (Hiera's qkv Linear, laid out [parts][heads][Dh]
 * per token) as `parts` inputs of [B, N, C], without a copy.
 */
export function splitPacked(x: Tensor, parts = 3): StridedInput[] {
  if (x.rank !== 3 || x.shape[2] % parts !== 0)
    throw new Error(`splitPacked: ${shapeStr(x.shape)} must be [B, N, ${parts}*C]`);
  const [b, n, pc] = x.shape;
  const c = pc / parts;
  return Array.from({ length: parts }, (_, p) => ({
    tensor: x,
    shape: [b, n, c] as const,
    batchStride: n * pc,
    tokenStride: pc,
    offset: p * c,
  }));
}

function checkView(s: StridedInput, what: string, dh: number): void {
  const t = s.tensor;
  // k / v may be stored f16 (the memory path under precision 'f16'; read as vec4<f16>)
  if (t.dtype !== 'f32' && (what === 'q' || t.dtype !== 'f16'))
    throw new Error(`attention: ${what} must be f32${what === 'q' ? '' : ' or f16'}, got ${t.dtype}`);
  const [b, n, c] = s.shape;
  for (const [k, v] of [
    ['batchStride', s.batchStride],
    ['tokenStride', s.tokenStride],
    ['offset', s.offset],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v % 4 !== 0)
      throw new Error(`attention: ${what} ${k} ${v} must be a non-negative multiple of 4`);
  }
  const align = 4 * BYTES[t.dtype];
  if (t.byteOffset % align !== 0)
    throw new Error(
      `attention: ${what} view at byte offset ${t.byteOffset} is not ${align}-byte aligned (Dh ${dh} is read as vec4)`,
    );
  if (b > 0 && n > 0 && c > 0) {
    const last = s.offset + (b - 1) * s.batchStride + (n - 1) * s.tokenStride + c;
    if (last > t.size)
      throw new Error(
        `attention: ${what} view [${b}, ${n}, ${c}] (strides ${s.batchStride}, ${s.tokenStride}, offset ${s.offset}) overruns ${t} (${t.size} elements)`,
      );
  }
}

interface Geometry {
  B: number;
  Nq: number;
  Nk: number;
  H: number;
  Dh: number;
  C: number;
}

function validate(q: StridedInput, k: StridedInput, v: StridedInput, heads: number, mask: Tensor | null): Geometry {
  const [B, Nq, C] = q.shape;
  const [Bk, Nk, Ck] = k.shape;
  const [Bv, Nv, Cv] = v.shape;
  const desc = `q [${q.shape.join(', ')}], k [${k.shape.join(', ')}], v [${v.shape.join(', ')}]`;
  if (Ck !== C || Cv !== C) throw new Error(`attention: channel dims differ: ${desc}`);
  if (Nv !== Nk) throw new Error(`attention: k and v token counts differ: ${desc}`);
  if ((Bk !== B && Bk !== 1) || (Bv !== B && Bv !== 1))
    throw new Error(`attention: batch dims differ: ${desc} (k / v may have batch 1 to broadcast)`);
  if (!Number.isInteger(heads) || heads < 1 || C % heads !== 0)
    throw new Error(`attention: ${heads} heads do not divide ${C} channels (${desc})`);
  const Dh = C / heads;
  if (Dh % 4 !== 0 || Dh < 4 || Dh > MAX_HEAD_DIM)
    throw new Error(
      `attention: head dim ${Dh} (${C} channels / ${heads} heads) must be a multiple of 4 in [4, ${MAX_HEAD_DIM}]`,
    );
  checkView(q, 'q', Dh);
  checkView(k, 'k', Dh);
  checkView(v, 'v', Dh);
  if (k.tensor.dtype !== v.tensor.dtype)
    throw new Error(
      `attention: k and v are stored alike (f32 or f16), got k ${k.tensor.dtype} and v ${v.tensor.dtype}`,
    );
  if (mask) {
    if (mask.dtype !== 'f32') throw new Error(`attention: mask must be f32 (additive), got ${mask.dtype}`);
    if (mask.rank !== 2 || (mask.shape[0] !== B && mask.shape[0] !== 1) || mask.shape[1] !== Nk) {
      throw new Error(`attention: mask ${shapeStr(mask.shape)} must be [${B} or 1, ${Nk}] (${desc})`);
    }
  }
  return { B, Nq, Nk, H: heads, Dh, C };
}

/** Why the split variant cannot run this call (null: it can). */
function splitBlocker(inputs: AttentionInput[], g: Geometry, wants: boolean, kBatch: number): string | null {
  if (!inputs.every(isTensor)) return 'strided q / k / v views';
  if (g.H !== 1) return `${g.H} heads`;
  if (wants) return 'autograd';
  if (kBatch !== 1 && kBatch !== g.B) return 'k / v batch';
  if (g.B * g.Nq * g.Nk * 4 > SPLIT_SCORE_BYTES) return `a ${g.B}x${g.Nq}x${g.Nk} score matrix over the budget`;
  return null;
}

function defaultVariant(rt: Runtime, splitOk: boolean): AttentionVariant {
  if (!rt.adapter.software) return 'tiled';
  return splitOk ? 'split' : 'software';
}

function tiledBlock(d4: number): number {
  return Math.max(1, Math.min(32, Math.floor((TILE_BYTES - 128) / (32 * d4))));
}

function viewParams(name: 'q' | 'k' | 'v', s: StridedInput, B: number): Record<string, number> {
  return {
    [`${name}_start`]: s.offset,
    [`${name}_bs`]: s.shape[0] === 1 && B > 1 ? 0 : s.batchStride,
    [`${name}_ts`]: s.tokenStride,
  };
}

/** softmax(q k^T * scale + mask) v per head; see the header for layouts. */
export function attention(
  rt: Runtime,
  q: AttentionInput,
  k: AttentionInput,
  v: AttentionInput,
  opts: AttentionOptions,
): Tensor {
  const qs = asStrided(q, 'q');
  const ks = asStrided(k, 'k');
  const vs = asStrided(v, 'v');
  const mask = opts.mask ?? null;
  const g = validate(qs, ks, vs, opts.heads, mask);
  const { B, Nq, Nk, H, Dh, C } = g;
  const scale = opts.scale ?? 1 / Math.sqrt(Dh);
  const inputs = [q, k, v];
  const wants = rt.tape?.wants(inputs.filter(isTensor)) ?? false;
  const blocker = splitBlocker(inputs, g, wants, ks.shape[0] === vs.shape[0] ? ks.shape[0] : -1);
  const variant = opts.variant ?? defaultVariant(rt, blocker === null && Nk > 0 && B * Nq > 0);
  if (variant === 'split') {
    if (blocker) throw new Error(`attention: the split variant does not support ${blocker}`);
    return attentionSplit(rt, q as Tensor, k as Tensor, v as Tensor, scale, mask);
  }
  const half = ks.tensor.dtype === 'f16';
  if (half && wants) throw new Error('attention: f16 k / v are inference only (no autograd)');
  if (half && !rt.hasF16)
    throw new Error(`attention: f16 k / v need the 'shader-f16' feature, which this adapter lacks`);
  if (wants && !inputs.every(isTensor))
    throw new Error('attention: autograd needs q, k and v as plain [B, N, C] tensors (not strided views)');
  if (wants && (ks.shape[0] !== B || vs.shape[0] !== B))
    throw new Error(`attention: autograd needs k and v with batch ${B} (got ${ks.shape[0]}, ${vs.shape[0]})`);

  if (B * Nq * C === 0 || Nk === 0) {
    // No keys: every row is "fully masked" and gets zeros.
    const out = rt.zeros([B, Nq, C], 'f32', 'attention');
    if (wants) recordAttention(rt, g, scale, q as Tensor, k as Tensor, v as Tensor, mask, out, null);
    return out;
  }

  const d4 = Dh / 4;
  const out = rt.empty([B, Nq, C], 'f32', 'attention');
  const stats = wants ? rt.empty([B, H, Nq, 2], 'f32', 'attention.stats') : null;
  const bk = variant === 'tiled' ? tiledBlock(d4) : BK_SOFTWARE;
  // software: QB queries per invocation share each K / V load (about 2x on lavapipe at Dh 64-256)
  const qb = variant === 'tiled' || Nq < 64 ? 1 : QB_SOFTWARE;
  const defines: Record<string, number> = { D4: d4, BK: bk, QB: qb };
  if (variant === 'tiled') defines.TILED = 1;
  if (mask) defines.MASK = 1;
  if (stats) defines.LSE = 1;
  if (half) defines.A_F16 = 1;
  const bindings: Record<string, Tensor> = { q: qs.tensor, k: ks.tensor, v: vs.tensor, out };
  if (mask) bindings.mask = mask;
  if (stats) bindings.stats = stats;
  const params: Record<string, number> = {
    B,
    H,
    Nq,
    Nk,
    scale,
    ...viewParams('q', qs, B),
    ...viewParams('k', ks, B),
    ...viewParams('v', vs, B),
  };
  if (mask) params.mask_bs = mask.shape[0] === 1 ? 0 : Nk;
  // x: blocks of WG * QB queries; (b, h) folded over y and z
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  const bh = B * H;
  const z = Math.ceil(bh / max);
  const groups: [number, number, number] = [Math.ceil(Nq / (WG * qb)), Math.ceil(bh / z), z];
  if (groups[0] > max) throw new Error(`attention: ${Nq} queries exceed the dispatch limit`);
  rt.kernel('attention').run({
    defines,
    constants: variant === 'tiled' ? {} : { WG },
    bindings,
    params,
    groups,
    label: `attention.${variant}.dh${Dh}${mask ? '.mask' : ''}${half ? '.f16kv' : ''}`,
  });
  if (wants) recordAttention(rt, g, scale, q as Tensor, k as Tensor, v as Tensor, mask, out, stats);
  return out;
}

/**
 * One head: scores = q k^T [B, Nq, Nk] (matmul, B^T read in place), softmax(scale * scores + mask)
 * over the keys (a fully masked query gets zeros, as in the fused kernels), then scores v. k / v of
 * batch 1 broadcast over q's batch (matmul's batch rules).
 */
function attentionSplit(rt: Runtime, q: Tensor, k: Tensor, v: Tensor, scale: number, mask: Tensor | null): Tensor {
  if (q.size === 0 || k.shape[1] === 0) return rt.zeros(q.shape, 'f32', 'attention');
  const scores = matmul(rt, q, k, { transB: true }); // [B, Nq, Nk]
  const p = softmax(rt, scores, { scale, mask });
  scores.dispose();
  const out = matmul(rt, p, v); // [B, Nq, C]
  p.dispose();
  return out;
}

function recordAttention(
  rt: Runtime,
  g: Geometry,
  scale: number,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  out: Tensor,
  stats: Tensor | null,
): void {
  const saved = [q, k, v, out];
  if (stats) saved.push(stats);
  if (mask) saved.push(mask);
  rt.tape!.record({
    op: 'attention',
    inputs: [q, k, v],
    outputs: [out],
    saved,
    backward: ([dout]) => {
      if (!dout) return [null, null, null];
      return attentionBackward(rt, g, scale, q, k, v, mask, out, stats, dout);
    },
  });
}

/** dq, dk, dv of attention for the upstream gradient dout [B, Nq, H*Dh] (contiguous inputs). */
function attentionBackward(
  rt: Runtime,
  g: Geometry,
  scale: number,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  out: Tensor,
  stats: Tensor | null,
  dout: Tensor,
): Tensor[] {
  const { B, Nq, Nk, H, Dh, C } = g;
  if (dout.size !== B * Nq * C)
    throw new Error(`attention backward: dout ${shapeStr(dout.shape)} for output [${B}, ${Nq}, ${C}]`);
  if (!stats || B * Nq * C === 0 || Nk === 0) {
    // no keys or no outputs: every gradient is zero
    return [
      rt.zeros(q.shape, 'f32', 'attention.dq'),
      rt.zeros(k.shape, 'f32', 'attention.dk'),
      rt.zeros(v.shape, 'f32', 'attention.dv'),
    ];
  }
  let dO = dout;
  if (dout.byteOffset % 16 !== 0) {
    dO = rt.empty(dout.shape, 'f32', 'attention.dout');
    rt.copy(dout, dO);
  }
  const base: Record<string, number> = {
    B,
    H,
    Nq,
    Nk,
    scale,
    q_start: 0,
    q_bs: Nq * C,
    q_ts: C,
    k_start: 0,
    k_bs: Nk * C,
    k_ts: C,
    v_start: 0,
    v_bs: Nk * C,
    v_ts: C,
  };
  if (mask) base.mask_bs = mask.shape[0] === 1 ? 0 : Nk;
  const common: Record<string, number> = { D4: Dh / 4, BK: BK_SOFTWARE, QB: 1 };
  if (mask) common.MASK = 1;
  const inputs: Record<string, Tensor> = { q, k, v };
  if (mask) inputs.mask = mask;
  const dq = rt.empty(q.shape, 'f32', 'attention.dq');
  rt.kernel('attention').run({
    defines: { ...common, BWD_Q: 1 },
    constants: { WG },
    bindings: { ...inputs, dout: dO, out, stats, dq },
    params: base,
    groups: rt.groups1d(B * H * Nq, WG),
    label: `attention_backward.dq.dh${Dh}`,
  });
  const dk = rt.empty(k.shape, 'f32', 'attention.dk');
  const dv = rt.empty(v.shape, 'f32', 'attention.dv');
  rt.kernel('attention').run({
    defines: { ...common, BWD_KV: 1 },
    constants: { WG },
    bindings: { ...inputs, dout: dO, stats, dk, dv },
    params: base,
    groups: rt.groups1d(B * H * Nk, WG),
    label: `attention_backward.dkdv.dh${Dh}`,
  });
  if (dO !== dout) dO.dispose();
  return [dq, dk, dv];
}
