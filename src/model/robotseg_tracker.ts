// RobotSeg's per-frame glue on top of the SAM 2.1 tracker (robotseg_base.py, docs/reference/robotseg-architecture.md
// sec. 2-4, 7.1):
//   - every frame's model input gets its SEMA edge grid once (kept with the frame features as f.edges);
//   - memory attention = SemaMemoryAttention with that edge grid (structure branch in every layer);
//   - the decoder gets [obj_score, iou, mask x4, class, object tokens] before the sparse prompts, the
//     object tokens coming from the RPG over exactly the spatial-memory frames the memory attention
//     uses (their stored maskmem features and hole-filled pred_masks), or R placeholder copies of
//     no_memory_prompt_embeddings_fg on a frame without memory (initial conditioning frame).
// Without a category the tracker is plain SAM 2.1 (no class / object tokens).
import type { Tensor } from '../graph/tensor.js';
import { cast } from '../kernels/layout.js';
import type { Runtime } from '../graph/runtime.js';
import type { RobotSeg } from './robotseg.js';
import { rpgForegroundProb } from './rpg.js';
import type { ImageFeatures } from './sam2.js';
import { type AssembledBatch, type MemoryView, type Tap, Tracker } from './tracker.js';

export interface RobotConditioned {
  /** Memory-conditioned features [1, C, h, w]. */
  pix: Tensor;
  /** The decoder's leading tokens [1, 7 + R*F (or 7 + R), C]: output tokens, class, object tokens. */
  tokens: Tensor;
  /** The RPG object tokens alone [1, R*F or R, C]. */
  objectTokens: Tensor;
}

export class RobotSegTracker extends Tracker {
  declare readonly model: RobotSeg;

  constructor(rt: Runtime, model: RobotSeg) {
    super(rt, model);
  }

  /** The SEMA edge grid of a preprocessed model input [1, 3, S, S] -> [1, 1, h, w]. */
  edgeGrid(image: Tensor): Tensor {
    return this.model.memory_attention.edgeGrid(this.rt, image);
  }

  protected override attend(f: ImageFeatures, a: AssembledBatch, tap?: Tap): Tensor {
    if (!f.edges)
      throw new Error(
        'RobotSeg tracker: the frame features carry no edge grid (compute it with edgeGrid when encoding the frame)',
      );
    const semaTap =
      tap && ((n: string, t: Tensor) => tap(`memattn.${n.replace('out_modulated_BxNxC', 'out_BxNxC')}`, t));
    // one edge grid [1, 1, h, w] per frame, broadcast over the batch of objects
    return this.model.memory_attention.forward(this.rt, a.curr, a.currPos, a.memory, a.memoryPos, a.numPtrTokens, {
      keyMask: a.keyMask,
      edges: f.edges,
      tap: semaTap,
    });
  }

  /**
   * The RPG call of robotseg_base for row b of an assembled batch (call inside a scope): object tokens
   * from that object's spatial memories (they lead row b of the batched memory; the padding and
   * pointer rows after them are not read) and hole-filled masks, and the decoder's leading tokens.
   * `objectTokensOverride` [1, n, C] replaces the RPG output (teacher forcing in tests); the computed
   * tokens are still tapped as 'rpg.tokens_out'.
   */
  robotTokens(
    a: AssembledBatch | null,
    b: number,
    category: string,
    tap?: Tap,
    objectTokensOverride?: (computed: Tensor) => Tensor | null,
  ): { tokens: Tensor; objectTokens: Tensor } {
    const rt = this.rt;
    const m = this.model;
    const frames = a ? a.selections[b].frames : [];
    let objectTokens: Tensor;
    if (!a || frames.length === 0) objectTokens = m.robot_prompt_generator.forward(rt, null, null).tokens;
    else {
      const fg = rpgForegroundProb(
        rt,
        frames.map((fr) => fr.predMasks),
        m.spec.grid,
      );
      // the RPG reads f32: an f16 memory (precision f16) widens exactly (bf16 values)
      const mem = a.memory.narrow0(b, 1);
      objectTokens = m.robot_prompt_generator.forward(rt, mem.dtype === 'f16' ? cast(rt, mem, 'f32') : mem, fg).tokens;
    }
    tap?.('rpg.tokens_out', objectTokens);
    const forced = objectTokensOverride?.(objectTokens);
    if (forced) objectTokens = forced;
    return { tokens: m.sam_mask_decoder.robotTokens(rt, category, objectTokens), objectTokens };
  }

  /**
   * _prepare_memory_conditioned_features + the RPG call of robotseg_base for frame t of one object
   * with a category: features (no_mem_embed on an initial conditioning frame, else SEMA memory
   * attention) and the decoder's leading tokens.
   */
  conditionRobot(
    t: number,
    isInitCond: boolean,
    f: ImageFeatures,
    bank: MemoryView,
    numFrames: number,
    reverse: boolean,
    category: string,
    tap?: Tap,
    objectTokensOverride?: (computed: Tensor) => Tensor | null,
  ): RobotConditioned {
    const rt = this.rt;
    return rt.scope(() => {
      if (isInitCond) {
        const pix = this.model.imageEmbedWithNoMem(rt, f);
        return { pix, ...this.robotTokens(null, 0, category, tap, objectTokensOverride) };
      }
      const a = this.assembleBatch(t, f, [bank], numFrames, reverse, tap);
      const r = this.robotTokens(a, 0, category, tap, objectTokensOverride);
      return { pix: this.attendBatch(f, a, tap), ...r };
    });
  }
}
