// MaskDecoder (sam_mask_decoder), docs/reference/sam2-architecture.md sec. 5: tokens [obj_score, iou, 4 mask] + prompts through the
// two-way transformer, upscaling with the high-res features, hypernetwork masks, IoU (sigmoid)
// and object-score heads. conv_s0 / conv_s1 live here but run at image-encoding time.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { add, gelu } from '../kernels/elementwise.js';
import { concat, permute, slice, tile } from '../kernels/layout.js';
import { matmul } from '../kernels/matmul.js';
import type { Sam2Config } from './config.js';
import { Conv2d, ConvTranspose2d, LayerNorm2d, MLP } from './layers.js';
import { Module } from './module.js';
import { Embedding } from './prompt_encoder.js';
import { TwoWayTransformer } from './two_way_transformer.js';

export interface DecoderOutput {
  /** All mask logits [B, M, 4h, 4w] (M = num_multimask_outputs + 1). */
  masks: Tensor;
  /** IoU predictions [B, M] (sigmoid applied). */
  iou: Tensor;
  /** Mask-token outputs [B, M, C]. */
  maskTokens: Tensor;
  /** Object score logits [B, 1]. */
  objectScore: Tensor;
  /** Transformer outputs (for parity taps). */
  queries: Tensor;
  keys: Tensor;
}

export class MaskDecoder extends Module {
  transformer: TwoWayTransformer;
  iou_token: Embedding;
  mask_tokens: Embedding;
  obj_score_token: Embedding;
  /** output_upscaling.{0: ConvT, 1: LN2d, 3: ConvT}; slots 2, 4 are GELUs. */
  output_upscaling: Array<Module | null>;
  conv_s0: Conv2d;
  conv_s1: Conv2d;
  output_hypernetworks_mlps: MLP[];
  iou_prediction_head: MLP;
  pred_obj_score_head: MLP;
  readonly numMaskTokens: number;

  constructor(readonly cfg: Sam2Config['sam_heads']) {
    super();
    const c = cfg.prompt_embed_dim;
    this.numMaskTokens = cfg.num_multimask_outputs + 1;
    this.transformer = new TwoWayTransformer(
      cfg.two_way_depth,
      c,
      cfg.two_way_heads,
      cfg.two_way_mlp_dim,
      cfg.attention_downsample_rate,
    );
    this.iou_token = new Embedding(1, c);
    this.mask_tokens = new Embedding(this.numMaskTokens, c);
    this.obj_score_token = new Embedding(1, c);
    this.output_upscaling = [
      new ConvTranspose2d(c, c / 4, 2, 2),
      new LayerNorm2d(c / 4),
      null,
      new ConvTranspose2d(c / 4, c / 8, 2, 2),
      null,
    ];
    this.conv_s0 = new Conv2d(c, c / 8, 1);
    this.conv_s1 = new Conv2d(c, c / 4, 1);
    this.output_hypernetworks_mlps = Array.from({ length: this.numMaskTokens }, () => new MLP(c, c, c / 8, 3));
    this.iou_prediction_head = new MLP(
      c,
      cfg.iou_head_hidden_dim,
      this.numMaskTokens,
      cfg.iou_head_depth,
      'relu',
      true,
    );
    this.pred_obj_score_head = new MLP(c, c, 1, 3);
  }

  /** The 6 output tokens [obj_score, iou, mask x4] as [1, 6, C]. */
  outputTokens(rt: Runtime): Tensor {
    const c = this.cfg.prompt_embed_dim;
    return concat(rt, [this.obj_score_token.weight.t, this.iou_token.weight.t, this.mask_tokens.weight.t], 0).reshape([
      1,
      2 + this.numMaskTokens,
      c,
    ]);
  }

  /**
   * predict_masks for a batch of B objects on one image. image [B, C, h, w] (memory-conditioned
   * features per object); imagePe [1, C, h, w]; sparse [B or 1, N, C]; dense [B or 1, C, h, w];
   * highRes [feat_s0 [1, C/8, 4h, 4w], feat_s1 [1, C/4, 2h, 2w]] (the frame's, shared). `tokensOverride`
   * [B or 1, n, C] (RobotSeg) replaces the 6 output tokens; the sparse prompts follow them.
   */
  predict(
    rt: Runtime,
    image: Tensor,
    imagePe: Tensor,
    sparse: Tensor,
    dense: Tensor,
    highRes: [Tensor, Tensor],
    tokensOverride?: Tensor,
  ): DecoderOutput {
    const c = this.cfg.prompt_embed_dim;
    const [B, , h, w] = image.shape;
    for (const [what, t] of [
      ['sparse', sparse],
      ['dense', dense],
      ['tokens', tokensOverride],
    ] as const) {
      if (t && t.shape[0] !== B && t.shape[0] !== 1)
        throw new Error(`mask decoder: ${what} [${t.shape.join(', ')}] must have batch ${B} (the image's) or 1`);
    }
    let out = tokensOverride ?? this.outputTokens(rt);
    let sp = sparse;
    if (sp.shape[1] > 0 && out.shape[0] !== sp.shape[0]) {
      // one side per object, the other shared: repeat the shared one over the batch
      if (out.shape[0] === 1) out = tile(rt, out, [B, 1, 1]);
      else sp = tile(rt, sp, [B, 1, 1]);
    }
    let tokens = sp.shape[1] > 0 ? concat(rt, [out, sp], 1) : out; // [B or 1, 6 + N, C]
    if (tokens.shape[0] !== B) tokens = tile(rt, tokens, [B, 1, 1]); // queries per object (the keys differ)
    const src = add(rt, image, dense); // [B, C, h, w]
    const srcTok = permute(rt, src.reshape([B, c, h * w]), [0, 2, 1]); // (B, C, hw) -> (B, hw, C)
    const peTok = permute(rt, imagePe.reshape([1, c, h * w]), [0, 2, 1]); // (1, C, hw) -> (1, hw, C), broadcast
    const [queries, keys] = this.transformer.forward(rt, srcTok, peTok, tokens);
    const nt = this.numMaskTokens;
    const iouTok = slice(rt, queries, [0, 1, 0], [B, 1, c]); // [B, 1, C]
    const maskTok = slice(rt, queries, [0, 2, 0], [B, nt, c]); // [B, 4, C]
    const objTok = slice(rt, queries, [0, 0, 0], [B, 1, c]);
    // keys [B, hw, C] -> [B, C, h, w]
    const srcMap = permute(rt, keys, [0, 2, 1]).reshape([B, c, h, w]);
    const [dc1, ln1, , dc2] = this.output_upscaling as [ConvTranspose2d, LayerNorm2d, null, ConvTranspose2d];
    const [s0, s1] = highRes;
    let up = gelu(rt, ln1.forward(rt, add(rt, dc1.forward(rt, srcMap), s1))); // + feat_s1 broadcast over B
    up = gelu(rt, add(rt, dc2.forward(rt, up), s0)); // [B, C/8, 4h, 4w]
    const hyper = concat(
      rt,
      this.output_hypernetworks_mlps.map((mlp, i) => mlp.forward(rt, slice(rt, maskTok, [0, i, 0], [B, 1, c]))),
      1,
    ); // [B, 4, C/8]
    const [, cu, H, W] = up.shape;
    const masks = matmul(rt, hyper, up.reshape([B, cu, H * W])).reshape([B, nt, H, W]); // [B,4,C/8] @ [B,C/8,HW]
    const iou = this.iou_prediction_head.forward(rt, iouTok).reshape([B, nt]);
    const objectScore = this.pred_obj_score_head.forward(rt, objTok).reshape([B, 1]);
    return { masks, iou, maskTokens: maskTok, objectScore, queries, keys };
  }
}
