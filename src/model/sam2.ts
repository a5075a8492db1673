// SAM2Base: the module tree whose property paths equal the official state-dict keys, the image
// encoder stage (trunk + neck + conv_s0/conv_s1) and the SAM heads. The video path (memory
// attention, memory encoder, pointers) builds on the same object.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { add } from '../kernels/elementwise.js';
import { type Sam2Config, validateConfig } from './config.js';
import { FpnNeck } from './fpn_neck.js';
import { Hiera } from './hiera.js';
import { Conv2d, Linear, MLP } from './layers.js';
import { MaskDecoder } from './mask_decoder.js';
import { MemoryAttention } from './memory_attention.js';
import { MemoryEncoder } from './memory_encoder.js';
import { loadStrict, Module, Param, type WeightSource } from './module.js';
import { sinePositionEncoding as sinePe } from './position_encoding.js';
import { PromptEncoder } from './prompt_encoder.js';

class ImageEncoder extends Module {
  trunk: Hiera;
  neck: FpnNeck;
  constructor(cfg: Sam2Config) {
    super();
    this.trunk = new Hiera(cfg.trunk);
    this.neck = new FpnNeck(cfg.neck);
  }
}

/** Features of one image, as the decoder and the memory path consume them. */
export interface ImageFeatures {
  /** FPN level 2 (stride 16) [1, C, h, w], without no_mem_embed. */
  visionFeats: Tensor;
  /** Sine PE of level 2 [1, C, h, w] (memory attention). */
  visionPos: Tensor;
  /** conv_s0(level 0) [1, C/8, 4h, 4w] and conv_s1(level 1) [1, C/4, 2h, 2w]. */
  highRes: [Tensor, Tensor];
  /** RobotSeg only: the frame's SEMA edge grid [1, 1, h, w] (SemaMemoryAttention.edgeGrid of the model input). */
  edges?: Tensor;
}

export class SAM2 extends Module {
  maskmem_tpos_enc: Param;
  no_mem_embed: Param;
  no_mem_pos_enc: Param;
  no_obj_ptr: Param;
  no_obj_embed_spatial: Param;
  image_encoder: ImageEncoder;
  mask_downsample: Conv2d;
  memory_attention: MemoryAttention;
  memory_encoder: MemoryEncoder;
  sam_prompt_encoder: PromptEncoder;
  sam_mask_decoder: MaskDecoder;
  obj_ptr_proj: MLP;
  obj_ptr_tpos_proj: Linear;

  constructor(readonly cfg: Sam2Config) {
    super();
    validateConfig(cfg);
    const c = cfg.sam_heads.prompt_embed_dim;
    const memDim = cfg.memory_encoder.out_dim;
    const grid = cfg.image_size / cfg.backbone_stride;
    this.maskmem_tpos_enc = new Param([cfg.base.num_maskmem, 1, 1, memDim]);
    this.no_mem_embed = new Param([1, 1, c]);
    this.no_mem_pos_enc = new Param([1, 1, c]);
    this.no_obj_ptr = new Param([1, c]);
    this.no_obj_embed_spatial = new Param([1, memDim]);
    this.image_encoder = new ImageEncoder(cfg);
    this.mask_downsample = new Conv2d(1, 1, 4, { stride: 4 });
    this.memory_attention = new MemoryAttention(cfg.memory_attention);
    this.memory_encoder = new MemoryEncoder(cfg.memory_encoder);
    this.sam_prompt_encoder = new PromptEncoder(c, [grid, grid], cfg.image_size, cfg.sam_heads.mask_in_chans);
    this.sam_mask_decoder = new MaskDecoder(cfg.sam_heads);
    this.obj_ptr_proj = new MLP(c, c, c, 3);
    this.obj_ptr_tpos_proj = new Linear(c, memDim);
  }

  /** Bind weights strictly (unknown / missing / wrong-shape keys are errors) and prepare constants. */
  async load(rt: Runtime, weights: WeightSource): Promise<void> {
    loadStrict(this, weights, `checkpoint for ${this.cfg.name}`);
    await this.sam_prompt_encoder.prepare(rt);
  }

  /**
   * forward_image: trunk -> neck -> scalp -> conv_s0 / conv_s1. img [1, 3, S, S] normalised.
   * `tap` sees intermediates named as in the goldens (trunk.*, neck.fpnI).
   */
  encodeImage(rt: Runtime, img: Tensor, tap?: (name: string, t: Tensor) => void): ImageFeatures {
    return this.featuresFromLevels(rt, this.encodeBackbone(rt, img, tap), tap);
  }

  /**
   * The image encoder proper (image_encoder.*: trunk + neck, after scalp): FPN levels NCHW, finest
   * first. Training with a frozen image encoder caches these and runs featuresFromLevels per step.
   */
  encodeBackbone(rt: Runtime, img: Tensor, tap?: (name: string, t: Tensor) => void): Tensor[] {
    const S = this.cfg.image_size;
    if (img.rank !== 4 || img.shape[1] !== 3 || img.shape[2] !== S || img.shape[3] !== S) {
      throw new Error(`image encoder input must be [B, 3, ${S}, ${S}], got [${img.shape.join(', ')}]`);
    }
    const stages = this.image_encoder.trunk.forward(rt, img, tap && ((n, t) => tap(`trunk.${n}`, t)));
    stages.forEach((s, i) => tap?.(`trunk.stage${i}_out`, s));
    const fpn = this.image_encoder.neck.forward(rt, stages);
    fpn.forEach((f, i) => {
      tap?.(`neck.fpn${i}`, f);
      if (tap) tap(`neck.pos${i}`, levelPe(rt, f.shape[1], f.shape[2], f.shape[3]).reshape(f.shape));
    });
    return fpn.slice(0, fpn.length - this.cfg.neck.scalp);
  }

  /** From the kept FPN levels: conv_s0 / conv_s1 high-res features (decoder weights), level 2 and its PE. */
  featuresFromLevels(rt: Runtime, levels: readonly Tensor[], tap?: (name: string, t: Tensor) => void): ImageFeatures {
    const dec = this.sam_mask_decoder;
    const s0 = dec.conv_s0.forward(rt, levels[0]);
    const s1 = dec.conv_s1.forward(rt, levels[1]);
    const l2 = levels[levels.length - 1];
    tap?.('backbone_fpn0_after_conv_s', s0);
    tap?.('backbone_fpn1_after_conv_s', s1);
    tap?.('backbone_fpn2_after_conv_s', l2);
    const [, c, h, w] = l2.shape;
    return {
      visionFeats: l2,
      visionPos: levelPe(rt, c, h, w), // a view of the runtime's constant: callers dispose it
      highRes: [s0, s1],
    };
  }

  /** Image-predictor embedding: level-2 features + no_mem_embed (broadcast over positions). */
  imageEmbedWithNoMem(rt: Runtime, f: ImageFeatures): Tensor {
    const c = f.visionFeats.shape[1];
    return add(rt, f.visionFeats, this.no_mem_embed.t.reshape([1, c, 1, 1]));
  }
}

/**
 * The sine position encoding of a feature level [1, c, h, w], built and uploaded once per runtime
 * (rt.constant); returns a view the caller owns (disposing it leaves the constant alone).
 */
function levelPe(rt: Runtime, c: number, h: number, w: number): Tensor {
  const pe = rt.constant(`sine_pe ${c}x${h}x${w}`, () => rt.upload(sinePe(c, h, w), [1, c, h, w], 'f32', 'sine_pe'));
  return pe.reshape(pe.shape);
}
