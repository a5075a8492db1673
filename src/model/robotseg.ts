// RobotSeg's module tree: SAM2 with the structure branch in every memory-attention layer
// (SemaMemoryAttention), the robot prompt generator and the class-token bank in the mask decoder.
// Property paths equal the fork's state-dict keys (SAM 2.1's 471 keys unchanged + the added ones of
// robotsegAddedKeys), so `load` is strict as for SAM 2.1. Tracking glue (edge grid per frame, RPG
// over the memory frames, decoder token sequence) is wired by the tracker, not here.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { concat } from '../kernels/layout.js';
import type { Sam2Config } from './config.js';
import { MaskDecoder } from './mask_decoder.js';
import { Embedding } from './prompt_encoder.js';
import { RobotPromptGenerator } from './rpg.js';
import { classIndex, type RobotSegSpec, robotsegSpec } from './robotseg_config.js';
import { SAM2 } from './sam2.js';
import { SemaMemoryAttention } from './sema.js';

/** MaskDecoder plus the class-token bank `robot_token_embedding` [classes, C] (arm 0, gripper 1, robot 2). */
export class RobotSegMaskDecoder extends MaskDecoder {
  robot_token_embedding: Embedding;

  constructor(
    cfg: Sam2Config['sam_heads'],
    readonly spec: RobotSegSpec,
  ) {
    super(cfg);
    this.robot_token_embedding = new Embedding(spec.classVocab.length, cfg.prompt_embed_dim);
  }

  /** The class token of a category: [1, 1, C]. Unknown categories throw. */
  classToken(rt: Runtime, category: string): Tensor {
    const i = classIndex(this.spec, category);
    const c = this.cfg.prompt_embed_dim;
    return this.robot_token_embedding.weight.t.narrow0(i, 1).reshape([1, 1, c]);
  }

  /**
   * RobotSeg's decoder tokens before the sparse prompts: [obj_score, iou, mask x4, class, objectTokens]
   * -> [1, 7 + n, C]; objectTokens [1, n, C] from the RPG. Pass the result to `predict` as
   * `tokensOverride` (predict appends the sparse prompt tokens). With category null the decoder is
   * plain SAM 2.1 (no override).
   */
  robotTokens(rt: Runtime, category: string, objectTokens: Tensor): Tensor {
    const c = this.cfg.prompt_embed_dim;
    if (objectTokens.rank !== 3 || objectTokens.shape[0] !== 1 || objectTokens.shape[2] !== c) {
      throw new Error(`robotTokens: object tokens must be [1, n, ${c}], got [${objectTokens.shape.join(', ')}]`);
    }
    return concat(rt, [this.outputTokens(rt), this.classToken(rt, category), objectTokens], 1);
  }
}

export class RobotSeg extends SAM2 {
  declare memory_attention: SemaMemoryAttention;
  declare sam_mask_decoder: RobotSegMaskDecoder;
  robot_prompt_generator: RobotPromptGenerator;
  readonly spec: RobotSegSpec;

  constructor(cfg: Sam2Config) {
    super(cfg);
    this.spec = robotsegSpec(cfg);
    this.memory_attention = new SemaMemoryAttention(cfg.memory_attention, this.spec);
    this.sam_mask_decoder = new RobotSegMaskDecoder(cfg.sam_heads, this.spec);
    this.robot_prompt_generator = new RobotPromptGenerator(this.spec);
  }
}
