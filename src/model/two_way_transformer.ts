// TwoWayTransformer of the SAM mask decoder (sam_mask_decoder.transformer), docs/reference/sam2-architecture.md sec. 5.
// queries: tokens [B, Nt, C]; keys: image tokens [B, hw, C]. All LayerNorms eps 1e-5.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { attention } from '../kernels/attention.js';
import { add } from '../kernels/elementwise.js';
import { LayerNorm, Linear, MLP } from './layers.js';
import { Module } from './module.js';

/** sam2 Attention: projections to an internal dim (C / downsample), heads, out_proj back to C. */
export class Attention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  out_proj: Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
    downsample = 1,
    kvInDim = dim,
  ) {
    super();
    const internal = dim / downsample;
    if (internal % heads !== 0) throw new Error(`Attention: heads ${heads} must divide internal dim ${internal}`);
    this.q_proj = new Linear(dim, internal);
    this.k_proj = new Linear(kvInDim, internal);
    this.v_proj = new Linear(kvInDim, internal);
    this.out_proj = new Linear(internal, dim);
  }
  forward(rt: Runtime, q: Tensor, k: Tensor, v: Tensor): Tensor {
    const qp = this.q_proj.forward(rt, q);
    const kp = this.k_proj.forward(rt, k);
    const vp = this.v_proj.forward(rt, v);
    return this.out_proj.forward(rt, attention(rt, qp, kp, vp, { heads: this.heads }));
  }
}

class TwoWayAttentionBlock extends Module {
  self_attn: Attention;
  norm1: LayerNorm;
  cross_attn_token_to_image: Attention;
  norm2: LayerNorm;
  mlp: MLP;
  norm3: LayerNorm;
  norm4: LayerNorm;
  cross_attn_image_to_token: Attention;
  constructor(
    c: number,
    heads: number,
    mlpDim: number,
    downsample: number,
    readonly skipFirstLayerPe: boolean,
  ) {
    super();
    this.self_attn = new Attention(c, heads);
    this.norm1 = new LayerNorm(c, 1e-5);
    this.cross_attn_token_to_image = new Attention(c, heads, downsample);
    this.norm2 = new LayerNorm(c, 1e-5);
    this.mlp = new MLP(c, mlpDim, c, 2, 'relu');
    this.norm3 = new LayerNorm(c, 1e-5);
    this.norm4 = new LayerNorm(c, 1e-5);
    this.cross_attn_image_to_token = new Attention(c, heads, downsample);
  }

  forward(rt: Runtime, queries: Tensor, keys: Tensor, queryPe: Tensor, keyPe: Tensor): [Tensor, Tensor] {
    if (this.skipFirstLayerPe) {
      queries = this.self_attn.forward(rt, queries, queries, queries); // replaces queries (docs/reference/sam2-architecture.md sec. 9, item 9)
    } else {
      const q = add(rt, queries, queryPe);
      queries = add(rt, queries, this.self_attn.forward(rt, q, q, queries));
    }
    queries = this.norm1.forward(rt, queries);
    let q = add(rt, queries, queryPe);
    let k = add(rt, keys, keyPe);
    queries = this.norm2.forward(rt, add(rt, queries, this.cross_attn_token_to_image.forward(rt, q, k, keys)));
    queries = this.norm3.forward(rt, add(rt, queries, this.mlp.forward(rt, queries)));
    q = add(rt, queries, queryPe);
    k = add(rt, keys, keyPe);
    keys = this.norm4.forward(rt, add(rt, keys, this.cross_attn_image_to_token.forward(rt, k, q, queries)));
    return [queries, keys];
  }
}

export class TwoWayTransformer extends Module {
  layers: TwoWayAttentionBlock[];
  final_attn_token_to_image: Attention;
  norm_final_attn: LayerNorm;
  constructor(depth: number, c: number, heads: number, mlpDim: number, downsample: number) {
    super();
    this.layers = Array.from(
      { length: depth },
      (_, i) => new TwoWayAttentionBlock(c, heads, mlpDim, downsample, i === 0),
    );
    this.final_attn_token_to_image = new Attention(c, heads, downsample);
    this.norm_final_attn = new LayerNorm(c, 1e-5);
  }

  /** imageTokens / imagePe: [B, hw, C]; tokens: [B, Nt, C]. Returns [queries, keys]. */
  forward(rt: Runtime, imageTokens: Tensor, imagePe: Tensor, tokens: Tensor): [Tensor, Tensor] {
    let queries = tokens;
    let keys = imageTokens;
    for (const layer of this.layers) [queries, keys] = layer.forward(rt, queries, keys, tokens, imagePe);
    const q = add(rt, queries, tokens);
    const k = add(rt, keys, imagePe);
    queries = this.norm_final_attn.forward(
      rt,
      add(rt, queries, this.final_attn_token_to_image.forward(rt, q, k, keys)),
    );
    return [queries, keys];
  }
}
