// Trainable parameters of a model: which state-dict entries are learnable, freezing by key prefix,
// and the per-parameter optimiser settings of SAM 2's / RobotSeg's training configs
// (docs/reference/robotseg-architecture.md sec. 5; sam2 training/optimizer.py):
//   - learning rate: `image_encoder.*` starts at lrEncoder (6e-5), everything else at lr (3e-4);
//   - layer-wise decay on image_encoder.trunk: scale = d^(L + 1 - id) with L = number of blocks,
//     id = 0 for patch_embed, i + 1 for blocks.i, L + 1 otherwise; pos_embed exempt (scale 1);
//     parameters outside the trunk: scale 1;
//   - weight decay 0.1, but 0 for biases and for torch.nn.LayerNorm weights (LayerNorm2d and
//     GroupNorm are other classes in PyTorch and keep their decay).
import type { Tensor } from '../graph/tensor.js';
import { LayerNorm } from '../model/layers.js';
import { Module } from '../model/module.js';

/** State-dict entries that are registered buffers, not parameters (never trained). */
export const BUFFER_KEYS = new Set(['sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix']);

export interface OptimSettings {
  /** Base learning rate of everything outside the image encoder. */
  lr: number;
  /** Base learning rate of image_encoder.* (before layer decay). */
  lrEncoder: number;
  weightDecay: number;
  /** Layer-wise decay factor on image_encoder.trunk (1 = none). */
  layerDecay: number;
}

/** RobotSeg's training values (robotseg-train.yaml). */
export const ROBOTSEG_OPTIM: OptimSettings = { lr: 3e-4, lrEncoder: 6e-5, weightDecay: 0.1, layerDecay: 0.9 };

export interface TrainableParam {
  key: string;
  tensor: Tensor;
  /** Learning rate at the start of the schedule (base lr x layer-decay scale). */
  lr: number;
  weightDecay: number;
  /** Parameter group name ('encoder' | 'heads'), for logging. */
  group: 'encoder' | 'heads';
}

/** True if `key` is under one of the prefixes ('image_encoder' matches 'image_encoder.trunk.…'). */
export function underPrefix(key: string, prefixes: readonly string[]): boolean {
  return prefixes.some((f) => {
    const p = f.endsWith('.') ? f.slice(0, -1) : f;
    return key === p || key.startsWith(`${p}.`);
  });
}

/** Keys of the weights of every torch.nn.LayerNorm in the module tree. */
export function layerNormWeightKeys(m: Module, prefix = '', out = new Set<string>()): Set<string> {
  if (m instanceof LayerNorm) out.add(`${prefix}.weight`);
  for (const [name, v] of Object.entries(m)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (v instanceof Module) layerNormWeightKeys(v, key, out);
    else if (Array.isArray(v))
      v.forEach((item, i) => {
        if (item instanceof Module) layerNormWeightKeys(item, `${key}.${i}`, out);
      });
  }
  return out;
}

/** Hiera layer id of a trunk parameter key (sam2 Hiera.get_layer_id). */
export function trunkLayerId(key: string, numBlocks: number): number {
  if (key.includes('rel_pos')) return numBlocks + 1;
  if (key.includes('pos_embed') || key.includes('patch_embed')) return 0;
  const m = /\.blocks\.(\d+)\./.exec(key);
  return m ? Number(m[1]) + 1 : numBlocks + 1;
}

/**
 * The model's learnable parameters (buffers excluded) minus those under a frozen prefix, in
 * state-dict order, with their starting learning rate and weight decay.
 */
export function collectParams(
  model: Module,
  freeze: readonly string[] = [],
  optim: OptimSettings = ROBOTSEG_OPTIM,
): TrainableParam[] {
  const lnWeights = layerNormWeightKeys(model);
  const all = model.namedParams();
  const numBlocks = new Set(
    all.map(([k]) => /^image_encoder\.trunk\.blocks\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined),
  ).size;
  const out: TrainableParam[] = [];
  for (const [key, p] of all) {
    if (BUFFER_KEYS.has(key) || underPrefix(key, freeze)) continue;
    const encoder = key.startsWith('image_encoder.');
    let scale = 1;
    if (key.startsWith('image_encoder.trunk.') && optim.layerDecay !== 1 && !key.includes('pos_embed')) {
      scale = optim.layerDecay ** (numBlocks + 1 - trunkLayerId(key, numBlocks));
    }
    const noDecay = key.endsWith('.bias') || lnWeights.has(key);
    out.push({
      key,
      tensor: p.t,
      lr: (encoder ? optim.lrEncoder : optim.lr) * scale,
      weightDecay: noDecay ? 0 : optim.weightDecay,
      group: encoder ? 'encoder' : 'heads',
    });
  }
  return out;
}
