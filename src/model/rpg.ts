// RobotPromptGenerator (robot_prompt_generator), docs/reference/robotseg-architecture.md sec. 3.2: object tokens from
// the spatial memories of the frames the memory attention uses. Per memory frame: hierarchical FPS +
// one-step cosine k-means (R macro regions x S micro clusters) over its memory features inside its
// mask, S L2-normalised micro prototypes of C = memDim channels concatenated into one S*C = d token per
// region (no projection); frames with an empty mask give the learned placeholder, and no memory at
// all gives R placeholder copies. Runs entirely on the GPU (src/kernels/rpg.ts), no readback.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { sigmoid } from '../kernels/elementwise.js';
import { concat } from '../kernels/layout.js';
import { resize } from '../kernels/resize.js';
import { type RpgFpsVariant, type RpgIntermediates, rpgObjectTokens } from '../kernels/rpg.js';
import { Module } from './module.js';
import { Embedding } from './prompt_encoder.js';
import type { RobotSegSpec } from './robotseg_config.js';

export interface RpgForwardOptions {
  /** FPS kernel variant (default by adapter). */
  fpsVariant?: RpgFpsVariant;
  /** Also return every stage output (tests). */
  keep?: boolean;
}

export class RobotPromptGenerator extends Module {
  no_memory_prompt_embeddings_fg: Embedding;

  constructor(readonly spec: RobotSegSpec) {
    super();
    this.no_memory_prompt_embeddings_fg = new Embedding(1, spec.rpg.embedDim);
  }

  /** The R placeholder tokens of a call without memory: [1, R, d]. */
  noMemoryTokens(rt: Runtime): Tensor {
    const w = this.no_memory_prompt_embeddings_fg.weight.t; // [1, d]
    return concat(rt, new Array(this.spec.rpg.regions).fill(w), 0).reshape([
      1,
      this.spec.rpg.regions,
      this.spec.rpg.embedDim,
    ]);
  }

  /**
   * Object tokens [1, R*F, d] (F = fg.shape[0] memory frames, memory order: conditioning frames first,
   * then older to newer), or [1, R, d] placeholders when memory is null or F = 0.
   *   memory [1, M, memDim] (or [M, memDim]): the memory-attention memory; its first F*h*w rows are the
   *          spatial memories (maskmem_features, bf16-rounded, token-major), pointer rows after are ignored.
   *   fg     [F, h*w] f32: per memory frame the foreground probability at the token grid (see
   *          rpgForegroundProb); a cell is foreground when >= mask_thresh (0.5). 0/1 masks work too.
   * Training: while rt.tape records, the token gradient flows into memory (its spatial rows) and into
   * no_memory_prompt_embeddings_fg (frames without foreground, and the no-memory copies); fg is a
   * constant (it only feeds thresholds), as are the FPS picks and assignments.
   */
  forward(
    rt: Runtime,
    memory: Tensor | null,
    fg: Tensor | null,
    opts: RpgForwardOptions = {},
  ): { tokens: Tensor; stages: RpgIntermediates | null } {
    if (memory === null || fg === null || fg.shape[0] === 0) return { tokens: this.noMemoryTokens(rt), stages: null };
    const s = this.spec;
    const memDim = memory.shape[memory.rank - 1];
    if (memDim !== s.memDim)
      throw new Error(
        `robot prompt generator: memory has ${memDim} channels, expected memDim ${s.memDim} ([1, M, ${s.memDim}])`,
      );
    return rpgObjectTokens(rt, memory, fg, this.no_memory_prompt_embeddings_fg.weight.t, {
      grid: s.grid,
      regions: s.rpg.regions,
      micro: s.rpg.micro,
      thresh: s.rpg.maskThresh,
      fpsVariant: opts.fpsVariant,
      keep: opts.keep,
    });
  }
}

/**
 * The RPG foreground probability of memory frames from their stored low-res logits (pred_masks after
 * hole filling, [1, 1, 4h, 4w] each): sigmoid, bilinear resize (align_corners false, no antialias) to
 * the token grid -> [F, h*w] (threshold >= 0.5 inside the RPG). Frames in memory order.
 * Never recorded on a tape: the RPG only thresholds it, so no gradient reaches the masks this way
 * (recording would only keep the sigmoid maps alive until the tape is disposed).
 */
export function rpgForegroundProb(rt: Runtime, predMasks: readonly Tensor[], grid: readonly [number, number]): Tensor {
  const hw = grid[0] * grid[1];
  if (predMasks.length === 0) return rt.empty([0, hw], 'f32', 'rpg.fg');
  for (const m of predMasks) {
    if (m.rank !== 4 || m.shape[0] !== 1 || m.shape[1] !== 1)
      throw new Error(`rpgForegroundProb: pred masks must be [1, 1, H, W], got [${m.shape.join(', ')}]`);
  }
  const tape = rt.tape;
  rt.tape = null;
  try {
    return rt.scope(() => {
      const maps = predMasks.map((m) => resize(rt, sigmoid(rt, m), [grid[0], grid[1]], { mode: 'bilinear' }));
      return concat(rt, maps, 0).reshape([predMasks.length, hw]);
    });
  } finally {
    rt.tape = tape;
  }
}
