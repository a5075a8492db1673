// CPU reference (float64, written for clarity) of RobotSeg's SEMA structure branch
// (src/model/sema.ts SemaMemoryAttentionLayer.structure), composed from the kernel references.
// Layouts as the module: tokens [N, C] (B = 1, N = h*w row-major), memory [M, memDim], edges [h*w].
import { conv2dRef } from './conv2d.js';
import { attentionRef } from './attention.js';
import { UNARY } from './elementwise.js';
import { linearRef } from './matmul.js';
import { groupNormRef } from './norm.js';
import { resizeRef } from './resize.js';

export interface SemaRefDims {
  h: number;
  w: number;
  C: number;
  memDim: number;
  heads: number;
  groups: number;
  eps: number;
  up: number;
  /** Memory tokens M and trailing pointer tokens (no RoPE). */
  M: number;
  nPtr: number;
}

/** RoPE as sam2 applies it: pairs (2m, 2m+1) of each head rotated by table row (token mod P). */
function ropeF64(
  x: Float64Array,
  n: number,
  heads: number,
  dh: number,
  cs: ArrayLike<number>,
  p: number,
  nRope: number,
): Float64Array {
  const y = Float64Array.from(x);
  for (let t = 0; t < nRope; t++) {
    for (let h = 0; h < heads; h++) {
      for (let m = 0; m < dh / 2; m++) {
        const i = t * heads * dh + h * dh + 2 * m;
        const r = ((t % p) * (dh / 2) + m) * 2;
        y[i] = x[i] * cs[r] - x[i + 1] * cs[r + 1];
        y[i + 1] = x[i] * cs[r + 1] + x[i + 1] * cs[r];
      }
    }
  }
  return y;
}

/**
 * W(name) returns a layer-relative weight ('ms_pyramid.conv3.dw.weight', 'structure_strength', ...).
 * cs: the RoPE table [h*w, C/heads/2, 2]. Returns the layer output and the structure maps.
 */
export function semaStructureRef(
  W: (name: string) => ArrayLike<number>,
  tCa: ArrayLike<number>,
  tMain: ArrayLike<number>,
  edges: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  cs: ArrayLike<number>,
  d: SemaRefDims,
): { out: Float64Array; logits: Float64Array; upLogits: Float64Array; gate: Float64Array; ms: Float64Array } {
  const { h, w, C, memDim, heads, groups, eps, up, M, nPtr } = d;
  const N = h * w;
  const gelu = UNARY.gelu;
  // feat [C, N] * (1 + E)
  const enh = new Float64Array(C * N);
  for (let c = 0; c < C; c++) for (let n = 0; n < N; n++) enh[c * N + n] = tCa[n * C + c] * (1 + edges[n]);
  const branches = [3, 5, 7].map((kk) => {
    const p = `ms_pyramid.conv${kk}.`;
    const dw = conv2dRef(enh, [1, C, h, w], W(`${p}dw.weight`), [C, 1, kk, kk], null, {
      groups: C,
      padding: kk >> 1,
    }).y.map(gelu);
    const pw = conv2dRef(dw, [1, C, h, w], W(`${p}pw.weight`), [C, C, 1, 1], W(`${p}pw.bias`)).y;
    return groupNormRef(pw, [1, C, h, w], groups, W(`${p}norm.weight`), W(`${p}norm.bias`), eps).y.map(gelu);
  });
  const cat = new Float64Array(3 * C * N);
  branches.forEach((b, i) => cat.set(b, i * C * N));
  const ms = conv2dRef(
    cat,
    [1, 3 * C, h, w],
    W('ms_pyramid.fuse.weight'),
    [C, 3 * C, 1, 1],
    W('ms_pyramid.fuse.bias'),
  ).y.map(gelu);
  const q = new Float64Array(N * C);
  for (let c = 0; c < C; c++) for (let n = 0; n < N; n++) q[n * C + c] = ms[c * N + n];
  const lin = (x: ArrayLike<number>, rows: number, inF: number, name: string) =>
    linearRef(
      x,
      [rows, inF],
      W(`cross_attn_structure.${name}.weight`),
      [C, inF],
      W(`cross_attn_structure.${name}.bias`),
    ).y;
  const dh = C / heads;
  const qp = ropeF64(lin(q, N, C, 'q_proj'), N, heads, dh, cs, N, N);
  const kp = ropeF64(lin(k, M, memDim, 'k_proj'), M, heads, dh, cs, N, M - nPtr);
  const vp = lin(v, M, memDim, 'v_proj');
  const att = attentionRef(qp, kp, vp, { B: 1, Nq: N, Nk: M, H: heads, Dh: dh });
  const xo = lin(att, N, C, 'out_proj');
  const xmap = new Float64Array(C * N);
  for (let c = 0; c < C; c++) for (let n = 0; n < N; n++) xmap[c * N + n] = xo[n * C + c];
  const logits = conv2dRef(xmap, [1, C, h, w], W('structure_head.weight'), [1, C, 3, 3], W('structure_head.bias'), {
    padding: 1,
  }).y;
  const upLogits = resizeRef(logits, [1, 1, h, w], [h * up, w * up], 'bilinear');
  const gate = resizeRef(upLogits.map(UNARY.sigmoid), [1, 1, h * up, w * up], [h, w], 'bilinear');
  const alpha = W('structure_strength')[0];
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) out[n * C + c] = tMain[n * C + c] * (1 + alpha * gate[n]);
  return { out, logits, upLogits, gate, ms };
}
