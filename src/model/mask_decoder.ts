// MaskDecoder (sam_mask_decoder), sec. 5: tokens [obj_score, iou, 4 mask] + prompts through the
// two-way transformer, upscaling with the high-res features, hypernetwork masks, IoU (sigmoid)
// and object-score heads. conv_s0 / conv_s1 live here but run at image-encoding time.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { add, gelu } from '../kernels/elementwise.js';
import { concat, permute, slice } from '../kernels/layout.js';
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
    this.transformer = new TwoWayTransformer(cfg.two_way_depth, c, cfg.two_way_heads, cfg.two_way_mlp_dim, cfg.attention_downsample_rate);
    this.iou_token = new Embedding(1, c);
    this.mask_tokens = new Embedding(this.numMaskTokens, c);
    this.obj_score_token = new Embedding(1, c);
    this.output_upscaling = [new ConvTranspose2d(c, c / 4, 2, 2), new LayerNorm2d(c / 4), null, new ConvTranspose2d(c / 4, c / 8, 2, 2), null];
    this.conv_s0 = new Conv2d(c, c / 8, 1);
    this.conv_s1 = new Conv2d(c, c / 4, 1);
    this.output_hypernetworks_mlps = Array.from({ length: this.numMaskTokens }, () => new MLP(c, c, c / 8, 3));
    this.iou_prediction_head = new MLP(c, cfg.iou_head_hidden_dim, this.numMaskTokens, cfg.iou_head_depth, 'relu', true);
    this.pred_obj_score_head = new MLP(c, c, 1, 3);
  }

  /** The 6 output tokens [obj_score, iou, mask x4] as [1, 6, C]. */
  outputTokens(rt: Runtime): Tensor {
    const c = this.cfg.prompt_embed_dim;
    return concat(rt, [this.obj_score_token.weight.t, this.iou_token.weight.t, this.mask_tokens.weight.t], 0).reshape([1, 2 + this.numMaskTokens, c]);
  }

  /**
   * predict_masks. image [1, C, h, w]; imagePe [1, C, h, w]; sparse [1, N, C]; dense [1, C, h, w];
   * highRes [feat_s0 [1, C/8, 4h, 4w], feat_s1 [1, C/4, 2h, 2w]]. `extraTokens` (RobotSeg) go
   * between the output tokens and the prompts when given.
   */
  predict(rt: Runtime, image: Tensor, imagePe: Tensor, sparse: Tensor, dense: Tensor, highRes: [Tensor, Tensor], tokensOverride?: Tensor): DecoderOutput {
    const c = this.cfg.prompt_embed_dim;
    const [, , h, w] = image.shape;
    const out = tokensOverride ?? this.outputTokens(rt);
    const tokens = sparse.shape[1] > 0 ? concat(rt, [out, sparse], 1) : out; // [1, 6 + N, C]
    const src = add(rt, image, dense); // [1, C, h, w]
    const srcTok = permute(rt, src.reshape([1, c, h * w]), [0, 2, 1]); // (B, C, hw) -> (B, hw, C)
    const peTok = permute(rt, imagePe.reshape([1, c, h * w]), [0, 2, 1]);
    const [queries, keys] = this.transformer.forward(rt, srcTok, peTok, tokens);
    const nt = this.numMaskTokens;
    const iouTok = slice(rt, queries, [0, 1, 0], [1, 1, c]); // [1, 1, C]
    const maskTok = slice(rt, queries, [0, 2, 0], [1, nt, c]); // [1, 4, C]
    const objTok = slice(rt, queries, [0, 0, 0], [1, 1, c]);
    // keys [1, hw, C] -> [1, C, h, w]
    const srcMap = permute(rt, keys, [0, 2, 1]).reshape([1, c, h, w]);
    const [dc1, ln1, , dc2] = this.output_upscaling as [ConvTranspose2d, LayerNorm2d, null, ConvTranspose2d];
    const [s0, s1] = highRes;
    let up = gelu(rt, ln1.forward(rt, add(rt, dc1.forward(rt, srcMap), s1)));
    up = gelu(rt, add(rt, dc2.forward(rt, up), s0)); // [1, C/8, 4h, 4w]
    const hyper = concat(
      rt,
      this.output_hypernetworks_mlps.map((mlp, i) => mlp.forward(rt, slice(rt, maskTok, [0, i, 0], [1, 1, c]))),
      1,
    ); // [1, 4, C/8]
    const [, cu, H, W] = up.shape;
    const masks = matmul(rt, hyper, up.reshape([1, cu, H * W])).reshape([1, nt, H, W]); // [1,4,C/8] @ [1,C/8,HW]
    const iou = this.iou_prediction_head.forward(rt, iouTok).reshape([1, nt]);
    const objectScore = this.pred_obj_score_head.forward(rt, objTok).reshape([1, 1]);
    return { masks, iou, maskTokens: maskTok, objectScore, queries, keys };
  }
}
