// MemoryAttention (memory_attention), sec. 7.3: layers of RoPE self-attention, RoPE cross-attention
// to memory (pointer tokens excluded from RoPE) and a ReLU FFN; final LayerNorm. Parameters here;
// the RoPE forward lives with the video path.
import type { Sam2Config } from './config.js';
import { LayerNorm, Linear } from './layers.js';
import { Module } from './module.js';

export class RoPEAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  out_proj: Linear;
  constructor(readonly dim: number, readonly heads: number, kvInDim = dim) {
    super();
    this.q_proj = new Linear(dim, dim);
    this.k_proj = new Linear(kvInDim, dim);
    this.v_proj = new Linear(kvInDim, dim);
    this.out_proj = new Linear(dim, dim);
  }
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
}

export class MemoryAttention extends Module {
  layers: MemoryAttentionLayer[];
  norm: LayerNorm;
  constructor(readonly cfg: Sam2Config['memory_attention']) {
    super();
    this.layers = Array.from({ length: cfg.num_layers }, () => new MemoryAttentionLayer(cfg));
    this.norm = new LayerNorm(cfg.d_model, 1e-5);
  }
}
