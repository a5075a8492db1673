// Which configuration a checkpoint needs, in this order (README.md "Segment a robot", Config):
//   1. an explicit config (`--config NAME|FILE`);
//   2. a config embedded in the safetensors `__metadata__` ('config', compact JSON: `robotseg convert`,
//      later `init-robotseg` and `train`, write it; a built-in name there works too, an unknown name
//      (the golden weights carry 'sam2.1_hiera_reduced_test') falls through to 3);
//   3. inference from the key names and shapes: a built-in config whose module tree has exactly the
//      checkpoint's keys and shapes (the official sam2.1_hiera_t layout maps to 'sam2.1_hiera_t').
// Some values never appear in a state dict (image_size, attention heads, window sizes after stage 1,
// global-attention blocks, q-pool count, FPN levels), so a layout that matches no built-in cannot be
// rebuilt from its shapes; the error names the first key or shape that does not fit the closest
// built-in, what the shapes do say, and what is missing, and asks for --config.
import { shapeStr } from '../graph/dtype.js';
import { BUILTIN_CONFIGS, parseConfig, type Sam2Config, validateConfig } from './config.js';
import { RobotSeg } from './robotseg.js';
import { isRobotSegConfig } from './robotseg_config.js';
import { SAM2 } from './sam2.js';

/** A config problem the user can fix (wrong --config, a checkpoint of another layout). One line. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Shapes = ReadonlyMap<string, readonly number[]>;

export interface ResolvedConfig {
  config: Sam2Config;
  /** 'argument' (--config), 'metadata' (embedded in the file), 'inferred' (from keys and shapes) or 'sidecar' (config.json beside the weights). */
  source: 'argument' | 'metadata' | 'inferred' | 'sidecar';
}

/** Key present only in RobotSeg checkpoints (the robot token of the mask decoder). */
export const ROBOTSEG_KEY = 'sam_mask_decoder.robot_token_embedding.weight';

/** Keys and shapes a config's model expects, in module (= official state dict) order. */
export function expectedShapes(cfg: Sam2Config): Array<[string, readonly number[]]> {
  return (isRobotSegConfig(cfg) ? new RobotSeg(cfg) : new SAM2(cfg)).namedParams().map(([k, p]) => [k, p.shape]);
}

/**
 * The first problem of a checkpoint against a config's layout, walking the checkpoint in file order
 * (an unknown key or a wrong shape), then the model's keys (a missing key); null when they match.
 */
export function firstMismatch(cfg: Sam2Config, shapes: Shapes): { problem: string; count: number } | null {
  const want = new Map(expectedShapes(cfg));
  const problems: string[] = [];
  for (const [k, got] of shapes) {
    const exp = want.get(k);
    if (!exp) problems.push(`unexpected key '${k}' ${shapeStr(got)}`);
    else if (exp.length !== got.length || exp.some((d, i) => d !== got[i]))
      problems.push(`'${k}' has shape ${shapeStr(got)}, ${cfg.name} expects ${shapeStr(exp)}`);
  }
  for (const [k, exp] of want)
    if (!shapes.has(k)) problems.push(`missing key '${k}' (${cfg.name} expects ${shapeStr(exp)})`);
  return problems.length ? { problem: problems[0], count: problems.length } : null;
}

// ------------------------------------------------------------------------------------ inference

/** What the shapes say about the config (dotted config paths -> values). */
export interface InferredLayout {
  values: Record<string, unknown>;
  /** Config values a state dict does not hold. */
  notInWeights: string[];
}

export const NOT_IN_WEIGHTS = [
  'image_size',
  'trunk.num_heads',
  'trunk.head_mul',
  'trunk.q_pool',
  'trunk.window_spec (after stage 1)',
  'trunk.global_att_blocks',
  'neck.fpn_top_down_levels',
  'neck.scalp',
  'memory_attention.num_heads',
  'sam_heads.two_way_heads',
];

/** Count consecutive indexed children `prefix.<i>.<suffix>` present in `shapes`. */
function countIndexed(shapes: Shapes, prefix: string, suffix: string): number {
  let n = 0;
  while (shapes.has(`${prefix}.${n}.${suffix}`)) n++;
  return n;
}

/** Config values derivable from the checkpoint's shapes (a missing key leaves its values out). */
export function inferLayout(shapes: Shapes): InferredLayout {
  const v: Record<string, unknown> = {};
  const s = (k: string) => shapes.get(k);
  const T = 'image_encoder.trunk';
  const patch = s(`${T}.patch_embed.proj.weight`);
  if (patch) {
    const embed = patch[0];
    v['trunk.embed_dim'] = embed;
    const depth = countIndexed(shapes, `${T}.blocks`, 'norm1.weight');
    // a block with its own `proj` changes the width: it starts a new stage
    const starts = [0];
    for (let i = 1; i < depth; i++) if (shapes.has(`${T}.blocks.${i}.proj.weight`)) starts.push(i);
    v['trunk.stages'] = starts.map((b, i) => (starts[i + 1] ?? depth) - b);
    const d1 = s(`${T}.blocks.${starts[1]}.proj.weight`);
    if (d1) v['trunk.dim_mul'] = d1[0] / d1[1];
    const mlp = s(`${T}.blocks.0.mlp.layers.0.weight`);
    if (mlp) v['trunk.mlp_ratio'] = mlp[0] / embed;
    const pe = s(`${T}.pos_embed`);
    if (pe) v['trunk.window_pos_embed_bkg_spatial_size'] = [pe[2], pe[3]];
    const pw = s(`${T}.pos_embed_window`);
    if (pw) v['trunk.window_spec[0]'] = pw[2];
  }
  const nConvs = countIndexed(shapes, 'image_encoder.neck.convs', 'conv.weight');
  if (nConvs) {
    v['neck.d_model'] = s('image_encoder.neck.convs.0.conv.weight')![0];
    v['neck.backbone_channel_list'] = Array.from(
      { length: nConvs },
      (_, i) => s(`image_encoder.neck.convs.${i}.conv.weight`)![1],
    );
  }
  const MA = 'memory_attention.layers';
  const maLayers = countIndexed(shapes, MA, 'self_attn.q_proj.weight');
  if (maLayers) {
    v['memory_attention.num_layers'] = maLayers;
    v['memory_attention.d_model'] = s(`${MA}.0.self_attn.q_proj.weight`)![0];
    const l1 = s(`${MA}.0.linear1.weight`);
    if (l1) v['memory_attention.dim_feedforward'] = l1[0];
    const kv = s(`${MA}.0.cross_attn_image.k_proj.weight`);
    if (kv) v['memory_attention.kv_in_dim'] = kv[1];
  }
  const out = s('memory_encoder.out_proj.weight');
  if (out) {
    v['memory_encoder.out_dim'] = out[0];
    v['memory_encoder.in_dim'] = out[1];
    const dw = s('memory_encoder.fuser.layers.0.dwconv.weight');
    if (dw) {
      v['memory_encoder.fuser.num_layers'] = countIndexed(shapes, 'memory_encoder.fuser.layers', 'dwconv.weight');
      v['memory_encoder.fuser.dim'] = dw[0];
      v['memory_encoder.fuser.kernel_size'] = dw[2];
    }
  }
  const pe0 = s('no_mem_embed');
  if (pe0) v['sam_heads.prompt_embed_dim'] = pe0[pe0.length - 1];
  const md = s('sam_prompt_encoder.mask_downscaling.3.weight');
  if (md) v['sam_heads.mask_in_chans'] = md[0];
  const TW = 'sam_mask_decoder.transformer.layers';
  const tw = countIndexed(shapes, TW, 'self_attn.q_proj.weight');
  if (tw) {
    v['sam_heads.two_way_depth'] = tw;
    const m0 = s(`${TW}.0.mlp.layers.0.weight`);
    if (m0) v['sam_heads.two_way_mlp_dim'] = m0[0];
    const cq = s(`${TW}.0.cross_attn_token_to_image.q_proj.weight`);
    if (cq) v['sam_heads.attention_downsample_rate'] = cq[1] / cq[0];
  }
  const mt = s('sam_mask_decoder.mask_tokens.weight');
  if (mt) v['sam_heads.num_multimask_outputs'] = mt[0] - 1;
  const iouDepth = countIndexed(shapes, 'sam_mask_decoder.iou_prediction_head.layers', 'weight');
  if (iouDepth) {
    v['sam_heads.iou_head_depth'] = iouDepth;
    v['sam_heads.iou_head_hidden_dim'] = s('sam_mask_decoder.iou_prediction_head.layers.0.weight')![0];
  }
  const mm = s('maskmem_tpos_enc');
  if (mm) v['base.num_maskmem'] = mm[0];
  return { values: v, notInWeights: NOT_IN_WEIGHTS };
}

/** Value at a dotted path such as 'trunk.stages' or 'trunk.window_spec[0]'. */
function configValue(cfg: Sam2Config, path: string): unknown {
  const m = /^(.*)\[(\d+)\]$/.exec(path);
  const parts = (m ? m[1] : path).split('.');
  let x: unknown = cfg;
  for (const p of parts) x = (x as Record<string, unknown> | undefined)?.[p];
  return m ? (x as unknown[] | undefined)?.[Number(m[2])] : x;
}

/** The built-in whose shape-visible values differ least from the inferred ones. */
function closestBuiltin(inf: InferredLayout, robot = false): Sam2Config {
  let best: Sam2Config | null = null;
  let bestDiff = Infinity;
  for (const cfg of Object.values(BUILTIN_CONFIGS)) {
    if (isRobotSegConfig(cfg) !== robot) continue; // a RobotSeg layout is compared with RobotSeg built-ins only
    const diff = Object.entries(inf.values).filter(
      ([k, v]) => JSON.stringify(configValue(cfg, k)) !== JSON.stringify(v),
    ).length;
    if (diff < bestDiff) {
      best = cfg;
      bestDiff = diff;
    }
  }
  return best!;
}

const fmtValues = (v: Record<string, unknown>) =>
  Object.entries(v)
    .map(([k, x]) => `${k}=${JSON.stringify(x)}`)
    .join(', ');

/** A built-in config with exactly this layout, or a ConfigError explaining why none fits. */
export function inferConfig(shapes: Shapes): Sam2Config {
  if (!shapes.has('image_encoder.trunk.patch_embed.proj.weight')) {
    const first = shapes.keys().next().value;
    throw new ConfigError(
      `not a SAM 2 checkpoint: no key 'image_encoder.trunk.patch_embed.proj.weight'${first ? ` (first key '${first}')` : ' (no tensors)'}; pass --config NAME|FILE if the keys are right`,
    );
  }
  for (const cfg of Object.values(BUILTIN_CONFIGS)) if (!firstMismatch(cfg, shapes)) return cfg;
  const inf = inferLayout(shapes);
  const near = closestBuiltin(inf, shapes.has(ROBOTSEG_KEY));
  const mm = firstMismatch(near, shapes)!;
  throw new ConfigError(
    `the checkpoint matches no known config (built-in: ${Object.keys(BUILTIN_CONFIGS).join(', ')}); against ${near.name}: ${mm.problem}` +
      `${mm.count > 1 ? ` (and ${mm.count - 1} more)` : ''}. From its shapes: ${fmtValues(inf.values)}; not stored in weights: ${inf.notInWeights.join(', ')}. ` +
      'Pass --config NAME|FILE (a JSON config like shared/golden/config.json)',
  );
}

/** Check that a chosen config fits the checkpoint; ConfigError naming the first problem otherwise. */
export function checkConfigFits(cfg: Sam2Config, shapes: Shapes, from: string): void {
  let mm: ReturnType<typeof firstMismatch>;
  try {
    mm = firstMismatch(cfg, shapes);
  } catch (e) {
    throw new ConfigError(
      `${from} '${cfg.name}' cannot build a model: ${(e as Error).message.replace(/\s*\n\s*/g, ' ')}`,
    );
  }
  if (mm)
    throw new ConfigError(
      `${from} '${cfg.name}' does not fit the checkpoint: ${mm.problem}${mm.count > 1 ? ` (and ${mm.count - 1} more)` : ''}`,
    );
}

/**
 * Resolve the config for a checkpoint: explicit > embedded metadata > inferred. `explicit` is an
 * already parsed config (see parseConfig). Throws ConfigError (one line) on any problem.
 */
export function resolveConfig(
  shapes: Shapes,
  metadata: Readonly<Record<string, string>>,
  explicit?: Sam2Config,
): ResolvedConfig {
  const robot = shapes.has(ROBOTSEG_KEY);
  // a RobotSeg layout (class-token bank) needs a config with a robotseg block, and the reverse
  const kindCheck = (cfg: Sam2Config, from: string) => {
    if (robot && !isRobotSegConfig(cfg))
      throw new ConfigError(
        `RobotSeg checkpoint (key '${ROBOTSEG_KEY}') but ${from} '${cfg.name}' is a SAM 2.1 config without a 'robotseg' block (built-in RobotSeg config: robotseg_hiera_t)`,
      );
    if (!robot && isRobotSegConfig(cfg))
      throw new ConfigError(
        `${from} '${cfg.name}' is a RobotSeg config but the checkpoint has no '${ROBOTSEG_KEY}' (a SAM 2.1 checkpoint; make a RobotSeg starting point with robotseg init-robotseg)`,
      );
  };
  if (explicit) {
    try {
      validateConfig(explicit);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    kindCheck(explicit, '--config');
    checkConfigFits(explicit, shapes, '--config');
    return { config: explicit, source: 'argument' };
  }
  const meta = metadata.config?.trim();
  let unknownName = '';
  if (meta !== undefined && (meta.startsWith('{') || meta in BUILTIN_CONFIGS)) {
    let cfg: Sam2Config;
    try {
      cfg = parseConfig(meta);
    } catch (e) {
      throw new ConfigError(
        `the config embedded in the file's metadata is invalid: ${(e as Error).message.replace(/\s*\n\s*/g, ' ')}; pass --config NAME|FILE`,
      );
    }
    kindCheck(cfg, 'the embedded config');
    checkConfigFits(cfg, shapes, 'the embedded config');
    return { config: cfg, source: 'metadata' };
  }
  if (meta) unknownName = meta; // a config name only (e.g. the golden weights): not built in, so infer
  try {
    return { config: inferConfig(shapes), source: 'inferred' };
  } catch (e) {
    if (robot && e instanceof ConfigError)
      throw new ConfigError(`RobotSeg checkpoint (key '${ROBOTSEG_KEY}'): ${e.message}`);
    if (unknownName && e instanceof ConfigError)
      throw new ConfigError(`the file's metadata names config '${unknownName}', which is not built in; ${e.message}`);
    throw e;
  }
}
