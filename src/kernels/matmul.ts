// Wrapper for shaders/matmul.wgsl: batched matmul with optional transposes, numpy broadcasting of
// up to 4 batch dims, bias per output column, fused activation and alpha scale; `linear` is the
// PyTorch nn.Linear entry (x @ W^T + b). Three variants: 'software' (4x4 register blocks, no
// workgroup memory), 'rows' (a workgroup owns 32 rows, so its A loads are uniform: one load
// broadcast to every lane on CPU drivers; each invocation 4 columns) and 'tiled' (64x64
// workgroup-memory tiles; real GPUs). CPU adapters use 'rows' from 32 rows up, 'software' below.
// B may be stored f16 (weights loaded with precision 'f16'): widened on load, arithmetic stays f32.
// A may be stored f16 too (activations under precision 'f16': the memory path, MLP hidden layers), and
// C may be stored f16 (`outDtype`, default A's dtype): the epilogue is computed in f32, an f16 store
// saturates at +-65504; inference only (no autograd through f16 activations).
// Autograd: the backward runs the same kernels (dA = dC op(B)^T, dB = op(A)^T dC, dbias = column
// sums via reduce); a fused activation is differentiated through the saved pre-activation.

import { BYTES, numel, shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { broadcastShapes, broadcastStrides, unaryBackward } from './elementwise.js';
import { reduce, reduceToShape } from './reduce.js';

export type Activation = 'none' | 'relu' | 'gelu';
export type MatmulVariant = 'software' | 'rows' | 'tiled';

export interface MatmulOptions {
  /** Use A^T: A is stored [..., K, M]. */
  transA?: boolean;
  /** Use B^T: B is stored [..., N, K] (nn.Linear weight layout). */
  transB?: boolean;
  /** Per-output-column bias [N]. */
  bias?: Tensor | null;
  /** Fused activation after alpha * A B + bias. */
  act?: Activation;
  /** Scale of the product (not of the bias). */
  alpha?: number;
  /** Force a kernel variant (default: 'rows' or 'software' by size on CPU adapters, 'tiled' otherwise). */
  variant?: MatmulVariant;
  /** Storage of C (default A's dtype); f16 is inference only. */
  outDtype?: 'f32' | 'f16';
}

/** Batch dims the shader decomposes. */
export const MAX_BATCH_DIMS = 4;
const WG = 64;
const TILE = 64;
/** Rows of C per workgroup in the 'rows' variant (fastest on lavapipe among 8, 16, 24, 32, 64). */
const ROWS_BLOCK = 32;

interface Plan {
  M: number;
  N: number;
  K: number;
  batchShape: number[];
  outShape: number[];
}

/**
 * The variant for a product of `rows` rows (batch folded in) when none is forced. An f16 B stays on
 * 'software', which reads it as vec4<f16>: 'rows' widens it one scalar per lane, up to 2x slower on
 * large weights (Hiera qkv 1024x384 -> 1152 on lavapipe: 196 vs 97 ms).
 */
function defaultVariant(rt: Runtime, rows: number, bF16: boolean): MatmulVariant {
  if (!rt.adapter.software) return 'tiled';
  return rows >= ROWS_BLOCK && !bF16 ? 'rows' : 'software';
}

function plan(a: Tensor, b: Tensor, transA: boolean, transB: boolean, op: string): Plan {
  if ((a.dtype !== 'f32' && a.dtype !== 'f16') || (b.dtype !== 'f32' && b.dtype !== 'f16'))
    throw new Error(`${op}: expects f32 or f16 A and B, got A ${a.dtype} and B ${b.dtype}`);
  if (a.rank < 2 || b.rank < 2)
    throw new Error(`${op}: A ${shapeStr(a.shape)} and B ${shapeStr(b.shape)} must both have rank >= 2`);
  const [a0, a1] = a.shape.slice(-2);
  const [b0, b1] = b.shape.slice(-2);
  const [M, Ka] = transA ? [a1, a0] : [a0, a1];
  const [Kb, N] = transB ? [b1, b0] : [b0, b1];
  if (Ka !== Kb) {
    throw new Error(
      `${op}: inner dims differ: A ${shapeStr(a.shape)}${transA ? '^T' : ''} has K=${Ka}, B ${shapeStr(b.shape)}${transB ? '^T' : ''} has K=${Kb}`,
    );
  }
  const batchShape = broadcastShapes(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
    `${op} batch dims of A ${shapeStr(a.shape)} and B ${shapeStr(b.shape)}`,
  );
  if (batchShape.length > MAX_BATCH_DIMS)
    throw new Error(
      `${op}: ${batchShape.length} batch dims (A ${shapeStr(a.shape)}, B ${shapeStr(b.shape)}); at most ${MAX_BATCH_DIMS} supported`,
    );
  return { M, N, K: Ka, batchShape, outShape: [...batchShape, M, N] };
}

function pad4(v: number[], fill: number): number[] {
  return [...new Array(MAX_BATCH_DIMS - v.length).fill(fill), ...v];
}

/**
 * RoPE applied to the product (shaders/rope.wgsl's rotation as an epilogue): output row r is token
 * r mod `tokens`; tokens below `nRope` rotate their column pairs with table row (token mod P) of
 * cs [P, halfDh, 2]. See src/kernels/rope.ts `ropeLinear`, the entry that uses it.
 */
export interface RopeEpilogue {
  cs: Tensor;
  tokens: number;
  nRope: number;
  halfDh: number;
}

interface CoreOptions {
  rope?: RopeEpilogue;
  transA: boolean;
  transB: boolean;
  bias: Tensor | null;
  act: Activation;
  alpha: number;
  /** null: chosen by size (defaultVariant). */
  variant: MatmulVariant | null;
  savePre: boolean;
  /** Storage of C (null: A's dtype). */
  outDtype?: 'f32' | 'f16' | null;
}

/** One dispatch, no autograd. Returns the output and (savePre) the pre-activation. */
function matmulCore(
  rt: Runtime,
  a: Tensor,
  b: Tensor,
  o: CoreOptions,
  op = 'matmul',
): { y: Tensor; pre: Tensor | null } {
  const p = plan(a, b, o.transA, o.transB, op);
  const { M, N, K } = p;
  if (o.bias) {
    if (o.bias.dtype !== 'f32') throw new Error(`${op}: bias must be f32, got ${o.bias.dtype}`);
    if (o.bias.rank !== 1 || o.bias.shape[0] !== N)
      throw new Error(`${op}: bias ${shapeStr(o.bias.shape)} must be [${N}] (N of the output ${shapeStr(p.outShape)})`);
  }
  if (!['none', 'relu', 'gelu'].includes(o.act)) throw new Error(`${op}: unknown activation '${o.act}'`);
  const outDtype = o.outDtype ?? (a.dtype as 'f32' | 'f16');
  const half = a.dtype === 'f16' || outDtype === 'f16';
  if (half && !rt.hasF16)
    throw new Error(`${op}: f16 activations need the 'shader-f16' feature, which this adapter lacks`);
  const y = rt.empty(p.outShape, outDtype, op);
  const pre = o.savePre && o.act !== 'none' ? rt.empty(p.outShape, 'f32', `${op}.pre`) : null;
  if (y.size === 0) return { y, pre };

  // A batched against a shared B (nn.Linear): fold the batch into M, one plain 2-D product.
  let batchShape = p.batchShape;
  let rows = M;
  const aBatch = numel(a.shape.slice(0, -2));
  const bBatch = numel(b.shape.slice(0, -2));
  if (bBatch === 1 && !o.transA && aBatch === numel(batchShape)) {
    rows = M * aBatch;
    batchShape = [];
  }
  const batch = numel(batchShape);
  const bs = pad4(batchShape, 1);
  const aStr = broadcastStrides(a.shape.slice(0, -2), batchShape).map((s) => s * M * K);
  const bStr = broadcastStrides(b.shape.slice(0, -2), batchShape).map((s) => s * K * N);
  let variant = o.variant ?? defaultVariant(rt, rows, b.dtype === 'f16');
  if (variant === 'tiled' && batch > rt.limits.maxComputeWorkgroupsPerDimension) variant = 'software';

  const defines: Record<string, number> = {};
  // 'rows': one invocation per 4 columns, up to WG (a multiple of the 8-lane SIMD width)
  const rowsWG = Math.min(WG, Math.max(8, Math.ceil(N / 32) * 8));
  if (variant === 'tiled') defines.TILED = 1;
  else if (variant === 'rows') {
    defines.ROWS = 1;
    defines.RB = ROWS_BLOCK;
  } else if (
    K > 0 &&
    K % 4 === 0 &&
    (a.byteOffset / BYTES[a.dtype]) % 4 === 0 &&
    (b.byteOffset / BYTES[b.dtype]) % 4 === 0 &&
    (!o.transA || M % 4 === 0) &&
    (o.transB || N % 4 === 0)
  ) {
    // vec4 loads: K, and the vec4 dim of a transposed A / plain B, are multiples of 4
    defines.VEC4 = 1;
    if (o.transA) defines.A_VM = 1;
    if (!o.transB) defines.B_VN = 1;
  }
  if (b.dtype === 'f16') {
    if (!rt.hasF16) throw new Error(`${op}: an f16 B needs the 'shader-f16' feature, which this adapter lacks`);
    defines.W_F16 = 1;
  }
  if (a.dtype === 'f16') defines.A_F16 = 1;
  if (outDtype === 'f16') defines.C_F16 = 1;
  if (o.bias) defines.BIAS = 1;
  if (pre) defines.SAVE_PRE = 1;
  const bindings: Record<string, Tensor> = { a, b, c: y };
  if (o.bias) bindings.bias = o.bias;
  if (pre) bindings.pre = pre;
  const ropeParams: Record<string, number> = {};
  if (o.rope) {
    if (o.act !== 'none' || pre) throw new Error(`${op}: the RoPE epilogue takes no activation and no autograd`);
    if (N % 2 !== 0) throw new Error(`${op}: the RoPE epilogue needs an even N, got ${N}`);
    defines.ROPE = 1;
    bindings.cs = o.rope.cs;
    Object.assign(ropeParams, {
      rope_n: o.rope.tokens,
      rope_p: o.rope.cs.shape[0],
      rope_nrope: o.rope.nRope,
      rope_half: o.rope.halfDh,
    });
  }
  if (o.act !== 'none') defines[o.act.toUpperCase()] = 1;
  const groups: [number, number, number] =
    variant === 'tiled'
      ? [Math.ceil(N / TILE), Math.ceil(rows / TILE), batch]
      : variant === 'rows'
        ? rt.groups1d(batch * Math.ceil(rows / ROWS_BLOCK) * Math.ceil(N / (4 * rowsWG)), 1)
        : rt.groups1d(batch * Math.ceil(rows / 4) * Math.ceil(N / 4), WG);
  if (groups[1] > rt.limits.maxComputeWorkgroupsPerDimension)
    throw new Error(`${op}: ${rows} rows exceed the tiled dispatch limit`);
  rt.kernel('matmul').run({
    defines,
    constants: variant === 'tiled' ? {} : { WG: variant === 'rows' ? rowsWG : WG },
    bindings,
    params: {
      M: rows,
      N,
      K,
      batch,
      alpha: o.alpha,
      a_rs: o.transA ? 1 : K,
      a_cs: o.transA ? M : 1,
      b_rs: o.transB ? 1 : N,
      b_cs: o.transB ? K : 1,
      bshape: bs,
      a_bs: pad4(aStr, 0),
      b_bs: pad4(bStr, 0),
      ...ropeParams,
    },
    groups,
    label: `matmul.${variant}${defines.VEC4 ? '.vec4' : ''}${defines.W_F16 ? '.f16w' : ''}${defines.A_F16 ? '.f16a' : ''}${defines.C_F16 ? '.f16c' : ''}${o.act !== 'none' ? `.${o.act}` : ''}${o.rope ? '.rope' : ''}`,
  });
  return { y, pre };
}

function resolve(rt: Runtime, opts: MatmulOptions, savePre: boolean): CoreOptions {
  return {
    transA: opts.transA ?? false,
    transB: opts.transB ?? false,
    bias: opts.bias ?? null,
    act: opts.act ?? 'none',
    alpha: opts.alpha ?? 1,
    variant: opts.variant ?? null,
    savePre,
    outDtype: opts.outDtype ?? null,
  };
}

/** C = act(alpha * op(A) @ op(B) + bias), batch dims broadcast (numpy rules). */
export function matmul(rt: Runtime, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const bias = opts.bias ?? null;
  const wants = rt.tape?.wants([a, b, bias]) ?? false;
  if (wants && (a.dtype === 'f16' || opts.outDtype === 'f16'))
    throw new Error('matmul: f16 activations are inference only (no autograd)');
  const o = resolve(rt, opts, wants);
  const { y, pre } = matmulCore(rt, a, b, o);
  if (wants) recordMatmul(rt, 'matmul', a, b, bias, y, a.shape, b.shape, y.shape, pre, o);
  return y;
}

/**
 * nn.Linear: y[..., out] = act(x[..., in] @ weight[out, in]^T + bias[out]).
 * Any number of leading dims (folded into rows, one 2-D product).
 */
export function linear(
  rt: Runtime,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  act: Activation = 'none',
  opts: { variant?: MatmulVariant; rope?: RopeEpilogue; outDtype?: 'f32' | 'f16' } = {},
): Tensor {
  if (x.rank < 1) throw new Error(`linear: x ${shapeStr(x.shape)} needs rank >= 1`);
  if (weight.rank !== 2) throw new Error(`linear: weight ${shapeStr(weight.shape)} must be [out, in]`);
  const inF = x.shape[x.rank - 1];
  const [outF, wIn] = weight.shape;
  if (wIn !== inF)
    throw new Error(
      `linear: x ${shapeStr(x.shape)} has ${inF} input features, weight ${shapeStr(weight.shape)} expects ${wIn}`,
    );
  const rows = numel(x.shape.slice(0, -1));
  const xShape2 = [rows, inF];
  const wants = rt.tape?.wants([x, weight, bias]) ?? false;
  if (wants && (x.dtype === 'f16' || opts.outDtype === 'f16'))
    throw new Error('linear: f16 activations are inference only (no autograd)');
  if (opts.rope && wants) throw new Error('linear: the RoPE epilogue has no autograd (use linear, then rope)');
  const o = {
    ...resolve(rt, { transB: true, bias, act, variant: opts.variant, outDtype: opts.outDtype }, wants),
    rope: opts.rope,
  };
  const x2 = x.reshape(xShape2);
  let r: { y: Tensor; pre: Tensor | null };
  try {
    r = matmulCore(rt, x2, weight, o, 'linear');
  } finally {
    x2.dispose();
  }
  const outShape = [...x.shape.slice(0, -1), outF];
  const y = r.y.reshape(outShape);
  r.y.dispose();
  if (wants) recordMatmul(rt, 'linear', x, weight, bias, y, xShape2, weight.shape, [rows, outF], r.pre, o);
  return y;
}

/**
 * Record the backward of C = act(alpha op(A) op(B) + bias). `aShape` / `bShape` are the shapes the
 * product was computed on (views of the recorded inputs), `outShape` that of its result; gradients
 * are reshaped back to the recorded inputs' shapes.
 */
function recordMatmul(
  rt: Runtime,
  op: string,
  a: Tensor,
  b: Tensor,
  bias: Tensor | null,
  y: Tensor,
  aShape: readonly number[],
  bShape: readonly number[],
  outShape: readonly number[],
  pre: Tensor | null,
  o: CoreOptions,
): void {
  const saved = [a, b];
  if (pre) saved.push(pre);
  const inputs = bias ? [a, b, bias] : [a, b];
  rt.tape!.record({
    op,
    inputs,
    outputs: [y],
    saved,
    backward: ([dy]) => {
      if (!dy) return inputs.map(() => null);
      const need = (t: Tensor) => t.requiresGrad || t.gradFn !== null;
      const dyv = dy.reshape(outShape);
      // dZ = dC * act'(pre)
      const dz = pre ? unaryBackward(rt, pre, dyv, o.act as 'relu' | 'gelu') : dyv;
      const av = a.reshape(aShape);
      const bv = b.reshape(bShape);
      const core = (x: Tensor, w: Tensor, transA: boolean, transB: boolean) =>
        matmulCore(
          rt,
          x,
          w,
          { transA, transB, bias: null, act: 'none', alpha: o.alpha, variant: o.variant, savePre: false },
          `${op}_backward`,
        ).y;
      const toShape = (g: Tensor, shape: readonly number[], orig: readonly number[]): Tensor => {
        let r = g;
        if (g.shape.join() !== shape.join()) {
          r = reduceToShape(rt, g, shape);
          g.dispose();
        }
        const out = r.reshape(orig);
        r.dispose();
        return out;
      };
      let da: Tensor | null = null;
      let db: Tensor | null = null;
      let dbias: Tensor | null = null;
      if (need(a)) {
        const g = o.transA ? core(bv, dz, o.transB, true) : core(dz, bv, false, !o.transB);
        da = toShape(g, aShape, a.shape);
      }
      if (need(b)) {
        const bBatch = numel(bShape.slice(0, -2));
        if (bBatch === 1 && !o.transA && aShape.length > 2) {
          // shared B: fold the batch into rows so the product sums over it directly
          const rows = numel(aShape.slice(0, -1));
          const af = av.reshape([rows, aShape[aShape.length - 1]]);
          const df = dz.reshape([rows, dz.shape[dz.rank - 1]]);
          const g = o.transB ? core(df, af, true, false) : core(af, df, true, false);
          af.dispose();
          df.dispose();
          db = toShape(g, bShape.slice(-2), b.shape);
        } else {
          const g = o.transB ? core(dz, av, true, o.transA) : core(av, dz, !o.transA, false);
          db = toShape(g, bShape, b.shape);
        }
      }
      if (bias && need(bias)) {
        const n = dz.shape[dz.rank - 1];
        const d2 = dz.reshape([dz.size / Math.max(n, 1) || 0, n]);
        dbias = reduce(rt, d2, 'sum', 0);
        d2.dispose();
      }
      av.dispose();
      bv.dispose();
      if (dz !== dyv) dz.dispose();
      dyv.dispose();
      return bias ? [da, db, dbias] : [da, db];
    },
  });
}
