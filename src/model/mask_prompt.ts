// Mask prompts of the video predictor (and the training targets): a user's 0/1 mask prepared as
// add_new_mask does, and a frame's previous logits clamped before they join new clicks. Scalars
// travel in the kernels' Params (no mid-graph uploads: Runtime.write would flush the queue).
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { affine, clamp, unary } from '../kernels/elementwise.js';
import { resize } from '../kernels/resize.js';

/** SAM 2 clamps a frame's previous low-res logits to [-32, 32] before they become a mask prompt. */
export const MASK_PROMPT_CLAMP = 32;

/**
 * A 0/1 mask [H*W] at the model input size [1, 1, S, S] (0/1 f32), as add_new_mask prepares it:
 * antialiased bilinear resize of the float mask, then >= 0.5. Also the training targets.
 */
export function maskToInput(rt: Runtime, mask: Uint8Array, W: number, H: number, S: number): Tensor {
  return rt.scope(() => {
    const m = rt.upload(
      Float32Array.from(mask, (v) => (v ? 1 : 0)),
      [1, 1, H, W],
      'f32',
      'mask_prompt',
    );
    return atLeastHalf(rt, resize(rt, m, [S, S], { mode: 'bilinear', antialias: true }));
  });
}

/** Previous logits as a mask prompt: clamp(x, -32, 32). */
export function clampMaskLogits(rt: Runtime, logits: Tensor, c = MASK_PROMPT_CLAMP): Tensor {
  return clamp(rt, logits, -c, c);
}

/**
 * (x >= 0.5) as 0/1. step(v) is (v > 0), so x >= 0.5 <=> !(0.5 - x > 0): 1 - step(-x + 0.5), both
 * affine maps fused into the unary kernels' alpha / beta.
 */
function atLeastHalf(rt: Runtime, x: Tensor): Tensor {
  return rt.scope(() => affine(rt, unary(rt, x, 'step', { alpha: -1, beta: 0.5 }), -1, 1));
}
