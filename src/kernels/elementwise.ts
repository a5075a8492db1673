// Wrapper for shaders/elementwise.wgsl: unary activations (with a fused affine alpha*x+beta),
// broadcasting binary ops, and the activation backward used by autograd.
// Half storage (the memory path under precision 'f16'): `unary` reads an f32 or f16 x and writes the
// dtype asked for (default x's); `binary` takes two f16 operands and writes f16. Arithmetic stays
// f32; an f16 store saturates at +-65504. Inference only: no autograd through f16 tensors.

import type { Node } from '../graph/autograd.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { BYTES, shapeStr } from '../graph/dtype.js';
import { reduceToShape } from './reduce.js';

export type UnaryOp =
  | 'relu'
  | 'gelu'
  | 'sigmoid'
  | 'identity'
  | 'exp'
  | 'tanh'
  | 'abs'
  | 'sqrt'
  | 'neg'
  | 'round_bf16'
  | 'step';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';
const DIFFERENTIABLE_UNARY = new Set<UnaryOp>(['relu', 'gelu', 'sigmoid', 'identity']);
const WG = 128;
export const MAX_RANK = 8;

function checkF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new Error(`${op}: expects f32 tensors, got ${t.dtype} for ${t}`);
}

/** f32 or f16 operands of one dtype (f16: the adapter feature, no autograd); the defines of that storage. */
function floatDefines(rt: Runtime, op: string, out: 'f32' | 'f16', ...ts: Tensor[]): Record<string, number> {
  const dt = ts[0].dtype;
  for (const t of ts)
    if (t.dtype !== dt || (t.dtype !== 'f32' && t.dtype !== 'f16'))
      throw new Error(`${op}: expects f32 or f16 tensors of one dtype, got ${ts.map((u) => u.dtype).join(' and ')}`);
  if (dt === 'f32' && out === 'f32') return {};
  if (!rt.hasF16) throw new Error(`${op}: f16 tensors need the 'shader-f16' feature, which this adapter lacks`);
  if (rt.tape?.wants(ts)) throw new Error(`${op}: f16 tensors are inference only (no autograd)`);
  return { ...(dt === 'f16' ? { A_F16: 1 } : {}), ...(out === 'f16' ? { C_F16: 1 } : {}) };
}

/** y = op(alpha * x + beta), stored as `dtype` (default x's: f32, or f16 for half storage). */
export function unary(
  rt: Runtime,
  x: Tensor,
  op: UnaryOp,
  opts: { alpha?: number; beta?: number; dtype?: 'f32' | 'f16' } = {},
): Tensor {
  const dtype = opts.dtype ?? (x.dtype as 'f32' | 'f16');
  const half = floatDefines(rt, op, dtype, x);
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 0;
  const y = rt.empty(x.shape, dtype, op);
  if (x.size > 0) {
    // 4 elements per invocation where the sizes allow (one index computation for 4 values)
    const v4 = x.size % 4 === 0 && x.byteOffset % 16 === 0 ? 4 : 1;
    rt.kernel('elementwise').run({
      defines: { UNARY: 1, VEC4: v4 === 4 ? 1 : 0, [op.toUpperCase()]: 1, ...half },
      constants: { WG },
      bindings: { x, y },
      params: { n: x.size / v4, alpha, beta },
      groups: rt.groups1d(x.size / v4, WG),
      label: `elementwise.${op}${v4 === 4 ? '.vec4' : ''}${half.A_F16 ? '.f16in' : ''}${half.C_F16 ? '.f16out' : ''}`,
    });
  }
  if (rt.tape?.wants([x])) {
    if (!DIFFERENTIABLE_UNARY.has(op)) throw new Error(`autograd: '${op}' has no backward kernel`);
    const node: Node = {
      op,
      inputs: [x],
      outputs: [y],
      saved: [x],
      backward: ([dy]) => [dy ? unaryBackward(rt, x, dy, op, alpha, beta) : null],
    };
    rt.tape.record(node);
  }
  return y;
}

/** dx = dy * d op(alpha*x+beta)/dx. */
export function unaryBackward(rt: Runtime, x: Tensor, dy: Tensor, op: UnaryOp, alpha = 1, beta = 0): Tensor {
  checkF32(`${op}_backward`, x, dy);
  if (x.size !== dy.size) throw new Error(`${op}_backward: x ${shapeStr(x.shape)} vs dy ${shapeStr(dy.shape)}`);
  const dx = rt.empty(x.shape, 'f32', `${op}_backward`);
  if (x.size > 0) {
    rt.kernel('elementwise').run({
      defines: { UNARY_BACKWARD: 1, [op.toUpperCase()]: 1 },
      constants: { WG },
      bindings: { x, dy, y: dx },
      params: { n: x.size, alpha, beta },
      groups: rt.groups1d(x.size, WG),
      label: `elementwise.${op}_backward`,
    });
  }
  return dx;
}

export const relu = (rt: Runtime, x: Tensor) => unary(rt, x, 'relu');
export const gelu = (rt: Runtime, x: Tensor) => unary(rt, x, 'gelu');
export const sigmoid = (rt: Runtime, x: Tensor) => unary(rt, x, 'sigmoid');
/** alpha * x + beta */
export const affine = (rt: Runtime, x: Tensor, alpha: number, beta = 0) => unary(rt, x, 'identity', { alpha, beta });

/** numpy broadcast of two shapes; throws naming both shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op = 'broadcast'): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      throw new Error(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Element strides of `shape` when broadcast to `out` (0 on broadcast dims). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const r = out.length;
  const strides = new Array(r).fill(0);
  let s = 1;
  for (let i = r - 1; i >= 0; i--) {
    const d = shape[shape.length - r + i] ?? 1;
    strides[i] = d === 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

function pack8(v: number[], fill: number): number[] {
  const out = new Array(MAX_RANK).fill(fill);
  v.forEach((x, i) => (out[i] = x));
  return out;
}

/**
 * Merge adjacent output dims that both operands traverse contiguously (or both broadcast), so the
 * kernel's index loop runs over as few dims as possible (e.g. [B, H, W, C] + [C] -> [BHW, C]).
 */
export function collapseDims(
  shape: number[],
  as: number[],
  bs: number[],
): { shape: number[]; as: number[]; bs: number[] } {
  const out = { shape: [shape[0]], as: [as[0]], bs: [bs[0]] };
  for (let i = 1; i < shape.length; i++) {
    const k = out.shape.length - 1;
    const mergeable = (st: number[], inner: number) => st[k] === inner * shape[i];
    const aOk = mergeable(out.as, as[i]) || (out.as[k] === 0 && as[i] === 0);
    const bOk = mergeable(out.bs, bs[i]) || (out.bs[k] === 0 && bs[i] === 0);
    if (shape[i] === 1) continue; // size-1 dims never matter
    if (out.shape[k] === 1) {
      out.shape[k] = shape[i];
      out.as[k] = as[i];
      out.bs[k] = bs[i];
      continue;
    }
    if (aOk && bOk) {
      out.shape[k] *= shape[i];
      out.as[k] = as[i];
      out.bs[k] = bs[i];
    } else {
      out.shape.push(shape[i]);
      out.as.push(as[i]);
      out.bs.push(bs[i]);
    }
  }
  return out;
}

/**
 * Elements of `t` when it broadcasts to `out` by repetition over leading dims only (its shape, leading
 * 1s dropped, is the tail of `out`), else 0.
 */
function leadingBlock(t: readonly number[], out: readonly number[]): number {
  let k = 0;
  while (k < t.length && t[k] === 1) k++;
  const tail = t.slice(k);
  if (tail.length > out.length || tail.some((d, i) => d !== out[out.length - tail.length + i])) return 0;
  return tail.reduce((p, d) => p * d, 1);
}

/**
 * The per-channel case of collapsed broadcast dims: one operand contiguous over the whole output, the
 * other one value per channel of the output viewed as [outer, C, inner] with inner % 4 == 0 (a bias
 * over an NCHW map: [1, 256, 64, 64] + [1, 256, 1, 1] collapses to [256, 4096], strides (1, 0)).
 * chFirst: the channel operand is `a`. Null when the dims do not have this form.
 */
export function channelBroadcast(c: {
  shape: number[];
  as: number[];
  bs: number[];
}): { channels: number; inner: number; chFirst: boolean } | null {
  const r = c.shape.length;
  if (r < 2 || r > 3) return null;
  const inner = c.shape[r - 1];
  const channels = c.shape[r - 2];
  if (inner % 4 !== 0) return null;
  const contiguous = (st: number[]) =>
    st[r - 1] === 1 && st[r - 2] === inner && (r === 2 || st[0] === channels * inner);
  const perChannel = (st: number[]) => st[r - 1] === 0 && st[r - 2] === 1 && (r === 2 || st[0] === 0);
  if (contiguous(c.as) && perChannel(c.bs)) return { channels, inner, chFirst: false };
  if (contiguous(c.bs) && perChannel(c.as)) return { channels, inner, chFirst: true };
  return null;
}

/** y = alpha * op(a, b) + beta, broadcasting. */
export function binary(
  rt: Runtime,
  a: Tensor,
  b: Tensor,
  op: BinaryOp,
  opts: { alpha?: number; beta?: number } = {},
): Tensor {
  const dtype = a.dtype as 'f32' | 'f16';
  const half = floatDefines(rt, op, dtype, a, b);
  const shape = broadcastShapes(a.shape, b.shape, op);
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} > ${MAX_RANK}`);
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 0;
  const y = rt.empty(shape, dtype, op);
  const n = y.size;
  const tag = half.A_F16 ? '.f16' : '';
  // vec4 reads: element offsets of both operands multiples of 4
  const aligned = (t: Tensor) => t.byteOffset % (4 * BYTES[t.dtype]) === 0;
  // vec4 path: each operand is the whole output or a block repeated over the output's leading dims
  // (e.g. positions shared by a batch of objects)
  const ra = leadingBlock(a.shape, shape);
  const rb = leadingBlock(b.shape, shape);
  if (n > 0 && n % 4 === 0 && ra % 4 === 0 && rb % 4 === 0 && ra > 0 && rb > 0 && aligned(a) && aligned(b)) {
    rt.kernel('elementwise').run({
      defines: { BINARY_VEC4: 1, [op.toUpperCase()]: 1, A_REP: ra < n ? 1 : 0, B_REP: rb < n ? 1 : 0, ...half },
      constants: { WG },
      bindings: { a, b, y },
      params: { n4: n / 4, alpha, beta, a_n4: ra / 4, b_n4: rb / 4 },
      groups: rt.groups1d(n / 4, WG),
      label: `elementwise.${op}${tag}`,
    });
  } else if (n > 0) {
    const s = shape.length ? shape : [1];
    const c = collapseDims(s, broadcastStrides(a.shape, s), broadcastStrides(b.shape, s));
    const ch = half.A_F16 ? null : channelBroadcast(c); // the per-channel path reads f32 only
    const full = ch?.chFirst ? b : a;
    if (ch && aligned(full)) {
      rt.kernel('elementwise').run({
        defines: { BINARY_CHANNEL: 1, [op.toUpperCase()]: 1 },
        constants: { WG },
        bindings: { full, ch: ch.chFirst ? a : b, y },
        params: { n4: n / 4, alpha, beta, inner4: ch.inner / 4, channels: ch.channels, ch_first: ch.chFirst ? 1 : 0 },
        groups: rt.groups1d(n / 4, WG),
        label: `elementwise.${op}`,
      });
    } else
      rt.kernel('elementwise').run({
        defines: { BINARY: 1, [op.toUpperCase()]: 1, ...half },
        constants: { WG },
        bindings: { a, b, y },
        params: {
          n,
          rank: c.shape.length,
          alpha,
          beta,
          shape: pack8(c.shape, 1),
          a_strides: pack8(c.as, 0),
          b_strides: pack8(c.bs, 0),
        },
        groups: rt.groups1d(n, WG),
        label: `elementwise.${op}${tag}`,
      });
  }
  if (rt.tape?.wants([a, b])) {
    if (op !== 'add' && op !== 'sub' && op !== 'mul') throw new Error(`autograd: '${op}' has no backward`);
    const saved = op === 'mul' ? [a, b] : [];
    rt.tape.record({
      op,
      inputs: [a, b],
      outputs: [y],
      saved,
      backward: ([dy]) => {
        if (!dy) return [null, null];
        let ga: Tensor, gb: Tensor;
        if (op === 'mul') {
          ga = binary(rt, dy, b, 'mul', { alpha });
          gb = binary(rt, dy, a, 'mul', { alpha });
        } else {
          ga = affine(rt, dy, alpha);
          gb = affine(rt, dy, op === 'sub' ? -alpha : alpha);
        }
        return [sumTo(rt, ga, a.shape), sumTo(rt, gb, b.shape)];
      },
    });
  }
  return y;
}

/** Reduce a broadcast gradient back to `shape` (no-op when equal). */
function sumTo(rt: Runtime, g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const r = reduceToShape(rt, g, shape);
  g.dispose();
  return r;
}

/**
 * torch.clamp(x, lo, hi) (either bound may be +-Infinity). The gradient passes where lo <= x <= hi,
 * boundaries included, as torch's clamp_backward.
 */
export function clamp(rt: Runtime, x: Tensor, lo: number, hi: number): Tensor {
  checkF32('clamp', x);
  if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) throw new Error(`clamp: need lo <= hi, got [${lo}, ${hi}]`);
  const y = rt.empty(x.shape, 'f32', 'clamp');
  if (x.size > 0) {
    rt.kernel('elementwise').run({
      defines: { CLAMP: 1 },
      constants: { WG },
      bindings: { x, y },
      params: { n: x.size, lo, hi },
      groups: rt.groups1d(x.size, WG),
      label: 'elementwise.clamp',
    });
  }
  if (rt.tape?.wants([x])) {
    rt.tape.record({
      op: 'clamp',
      inputs: [x],
      outputs: [y],
      saved: [x],
      backward: ([dy]) => [dy ? clampBackward(rt, x, dy, lo, hi) : null],
    });
  }
  return y;
}

/** dx = dy where lo <= x <= hi, else 0. */
export function clampBackward(rt: Runtime, x: Tensor, dy: Tensor, lo: number, hi: number): Tensor {
  checkF32('clamp_backward', x, dy);
  if (x.size !== dy.size) throw new Error(`clamp_backward: x ${shapeStr(x.shape)} vs dy ${shapeStr(dy.shape)}`);
  const dx = rt.empty(x.shape, 'f32', 'clamp_backward');
  if (x.size > 0) {
    rt.kernel('elementwise').run({
      defines: { CLAMP_BACKWARD: 1 },
      constants: { WG },
      bindings: { x, dy, dx },
      params: { n: x.size, lo, hi },
      groups: rt.groups1d(x.size, WG),
      label: 'elementwise.clamp_backward',
    });
  }
  return dx;
}

export const add = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, a, b, 'add');
export const sub = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, a, b, 'sub');
export const mul = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, a, b, 'mul');
export const div = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, a, b, 'div');
