// Trainable parameters of a model: which state-dict entries are learnable, freezing by key prefix,
// parameter groups (learning rate, weight decay) as RobotSeg's / SAM 2's training configs set them.
import type { Tensor } from '../graph/tensor.js';
import type { Module } from '../model/module.js';

/** State-dict entries that are registered buffers, not parameters (never trained). */
export const BUFFER_KEYS = new Set(['sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix']);

export interface TrainableParam {
  key: string;
  tensor: Tensor;
}

/** The model's learnable parameters minus those under a frozen prefix, in state-dict order. */
export function collectParams(model: Module, freeze: readonly string[] = []): TrainableParam[] {
  const out: TrainableParam[] = [];
  for (const [key, p] of model.namedParams()) {
    if (BUFFER_KEYS.has(key)) continue;
    if (freeze.some((f) => key === f || key.startsWith(f.endsWith('.') ? f : `${f}.`))) continue;
    out.push({ key, tensor: p.t });
  }
  return out;
}
