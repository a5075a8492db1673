// MemoryAttention (memory_attention), docs/reference/sam2-architecture.md sec. 7.3: layers of RoPE self-attention, RoPE cross-attention
// to memory (pointer tokens excluded from RoPE) and a ReLU FFN; final LayerNorm (eps 1e-5).
// Token-major layout: curr [B, HW, C], memory [B, M, memDim]. Several objects run as one batch: their
// memories may be padded to a common length M, the padding dropped by an additive key mask [B, M]
// (0 keeps a token, -inf drops it; see Tracker.assembleBatch for the layout).
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { attention } from '../kernels/attention.js';
import { add, affine } from '../kernels/elementwise.js';
import { ropeLinear, ropeTable } from '../kernels/rope.js';
import type { Sam2Config } from './config.js';
import { LayerNorm, Linear } from './layers.js';
import { Module } from './module.js';

export class RoPEAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  out_proj: Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
    kvInDim = dim,
  ) {
    super();
    this.q_proj = new Linear(dim, dim);
    this.k_proj = new Linear(kvInDim, dim);
    this.v_proj = new Linear(kvInDim, dim);
    this.out_proj = new Linear(dim, dim);
  }

  /**
   * q [B, Nq, dim] on a square grid (Nq = side^2), k / v [B, Nk, kvIn]; RoPE on q and on the first
   * Nk - numKExclude keys (repeated per memory frame), then attention and out_proj. keyMask: additive
   * [B, Nk] (padded memories of a batch of objects), null for none.
   */
  forward(
    rt: Runtime,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    cs: Tensor,
    numKExclude = 0,
    keyMask: Tensor | null = null,
  ): Tensor {
    // q_proj / k_proj with the rotation fused into the product (two ops under a tape)
    const qp = ropeLinear(rt, q, this.q_proj.weight.t, this.q_proj.bias?.t ?? null, cs, this.heads, q.shape[1]);
    const kp = ropeLinear(
      rt,
      k,
      this.k_proj.weight.t,
      this.k_proj.bias?.t ?? null,
      cs,
      this.heads,
      k.shape[1] - numKExclude,
    );
    const vp = this.v_proj.forward(rt, v);
    return this.out_proj.forward(rt, attention(rt, qp, kp, vp, { heads: this.heads, mask: keyMask }));
  }
}

/** Optional inputs of a memory-attention call. */
export interface MemoryAttentionExtras {
  /** Additive key mask [B, M] over the memory tokens (0 keeps, -inf drops): padding of a batch of objects. */
  keyMask?: Tensor | null;
  /** RobotSeg (SEMA) only: the current frame's edge grid [B or 1, 1, h, w]; plain SAM 2.1 ignores it. */
  edges?: Tensor;
  /** RobotSeg (SEMA) only: intermediates, named `L<i>.<name>`. */
  tap?: (name: string, t: Tensor) => void;
}

export class MemoryAttentionLayer extends Module {
  self_attn: RoPEAttention;
  cross_attn_image: RoPEAttention;
  linear1: Linear;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  constructor(readonly cfg: Sam2Config['memory_attention']) {
    super();
    const d = cfg.d_model;
    this.self_attn = new RoPEAttention(d, cfg.num_heads);
    this.cross_attn_image = new RoPEAttention(d, cfg.num_heads, cfg.kv_in_dim);
    this.linear1 = new Linear(d, cfg.dim_feedforward);
    this.linear2 = new Linear(cfg.dim_feedforward, d);
    this.norm1 = new LayerNorm(d, 1e-5);
    this.norm2 = new LayerNorm(d, 1e-5);
    this.norm3 = new LayerNorm(d, 1e-5);
  }

  forward(
    rt: Runtime,
    tgt: Tensor,
    memory: Tensor,
    memoryPos: Tensor,
    cs: Tensor,
    numObjPtrTokens: number,
    extra: MemoryAttentionExtras = {},
  ): Tensor {
    const c = this.cfg;
    // self-attention: no pos on q / k (pos_enc_at_attn false)
    let a = this.norm1.forward(rt, tgt);
    tgt = add(rt, tgt, this.self_attn.forward(rt, a, a, a, cs));
    // cross-attention: keys = memory + memory_pos, values = memory
    a = this.norm2.forward(rt, tgt);
    if (c.pos_enc_at_cross_attn_queries)
      throw new Error('memory attention: pos_enc_at_cross_attn_queries=true is not supported');
    const k = c.pos_enc_at_cross_attn_keys ? add(rt, memory, memoryPos) : memory;
    tgt = add(rt, tgt, this.cross_attn_image.forward(rt, a, k, memory, cs, numObjPtrTokens, extra.keyMask ?? null));
    a = this.norm3.forward(rt, tgt);
    // the FFN's hidden activation [B, HW, dim_feedforward] stored f16 under precision f16 (Linear.hiddenDtype)
    const ff = this.linear2.forward(
      rt,
      this.linear1.forward(rt, a, 'relu', this.linear1.hiddenDtype(rt)),
      'none',
      'f32',
    );
    return add(rt, tgt, ff);
  }
}

export class MemoryAttention extends Module {
  layers: MemoryAttentionLayer[];
  norm: LayerNorm;
  constructor(readonly cfg: Sam2Config['memory_attention']) {
    super();
    this.layers = Array.from({ length: cfg.num_layers }, () => new MemoryAttentionLayer(cfg));
    this.norm = new LayerNorm(cfg.d_model, 1e-5);
  }

  /** RoPE (cos, sin) table for a side x side query grid (a runtime constant, built once). */
  ropeCs(rt: Runtime, nq: number): Tensor {
    const side = Math.round(Math.sqrt(nq));
    if (side * side !== nq)
      throw new Error(`memory attention: ${nq} query tokens are not a square grid (RoPE assumes one)`);
    const dh = this.cfg.d_model / this.cfg.num_heads;
    const theta = this.cfg.rope_theta;
    return rt.constant(`rope_table ${dh} ${side}x${side} theta ${theta}`, () =>
      rt.upload(ropeTable(dh, side, side, theta), [nq, dh / 2, 2], 'f32', 'rope_table'),
    );
  }

  /**
   * curr [B, HW, C], currPos [B or 1, HW, C]; memory [B, M, memDim], memoryPos [B or 1, M, memDim]
   * (the last numObjPtrTokens tokens are object pointers: no RoPE); -> [B, HW, C].
   */
  forward(
    rt: Runtime,
    curr: Tensor,
    currPos: Tensor,
    memory: Tensor,
    memoryPos: Tensor,
    numObjPtrTokens: number,
    extra: MemoryAttentionExtras = {},
  ): Tensor {
    if (this.cfg.pos_enc_at_attn) throw new Error('memory attention: pos_enc_at_attn=true is not supported');
    checkBatch(curr, currPos, memory, memoryPos, extra.keyMask ?? null);
    const cs = this.ropeCs(rt, curr.shape[1]);
    let x = this.cfg.pos_enc_at_input ? add(rt, curr, affine(rt, currPos, 0.1)) : curr;
    for (const layer of this.layers) x = layer.forward(rt, x, memory, memoryPos, cs, numObjPtrTokens, extra);
    return this.norm.forward(rt, x);
  }
}

/** Batch agreement of the memory-attention inputs (positions may broadcast from batch 1). */
export function checkBatch(
  curr: Tensor,
  currPos: Tensor,
  memory: Tensor,
  memoryPos: Tensor,
  keyMask: Tensor | null,
): void {
  const B = curr.shape[0];
  const desc = () =>
    `curr [${curr.shape.join(', ')}], curr_pos [${currPos.shape.join(', ')}], memory [${memory.shape.join(', ')}], memory_pos [${memoryPos.shape.join(', ')}]${keyMask ? `, key mask [${keyMask.shape.join(', ')}]` : ''}`;
  const ok =
    curr.rank === 3 &&
    memory.rank === 3 &&
    memory.shape[0] === B &&
    (currPos.shape[0] === B || currPos.shape[0] === 1) &&
    (memoryPos.shape[0] === B || memoryPos.shape[0] === 1) &&
    memoryPos.shape[1] === memory.shape[1] &&
    (!keyMask || (keyMask.rank === 2 && keyMask.shape[0] === B && keyMask.shape[1] === memory.shape[1]));
  if (!ok)
    throw new Error(
      `memory attention: inputs disagree: ${desc()} (expected [B, HW, C], [B or 1, HW, C], [B, M, memDim], [B or 1, M, memDim], mask [B, M])`,
    );
}
