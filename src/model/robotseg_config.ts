// RobotSeg configuration: the `robotseg` block a config carries on top of SAM 2.1 (layout of
// ../shared/golden/robotseg/config.json), its typed and validated form (RobotSegSpec), the built-in
// full-size `robotseg_hiera_t` (robotseg-infer.yaml of the zubair-irshad/RobotSeg fork: SAM 2.1
// Hiera-tiny plus a structure branch in every memory-attention layer and the robot prompt
// generator), and the checkpoint keys RobotSeg adds to SAM 2.1 (all SAM 2.1 keys stay unchanged).
import { BUILTIN_CONFIGS, SAM21_HIERA_T, type Sam2Config, validateConfig } from './config.js';

/** The `robotseg` block as stored in config JSON (golden config.json layout). */
export interface RobotSegBlock {
  memory_attention_layer: {
    class?: string;
    cross_attention_structure: {
      class?: string;
      rope_theta: number;
      feat_sizes: [number, number];
      rope_k_repeat: boolean;
      embedding_dim: number;
      num_heads: number;
      downsample_rate: number;
      dropout: number;
      kv_in_dim: number;
    };
    ms_pyramid: {
      kernels: number[];
      paddings: number[];
      channels: number;
      groupnorm_groups: number;
      groupnorm_eps: number;
      fuse?: string;
    };
    structure_head?: string;
    structure_upsample_factor: number;
    structure_strength_default_init: number;
  };
  edges?: Record<string, unknown>;
  robot_prompt_generator: {
    embed_dim: number;
    object_token_num: number;
    micro_per_region: number;
    use_cosine: boolean;
    mask_thresh: number;
    dropout: number;
    memory_channels: number;
    token_dim: number;
    tokens_per_memory_frame: number;
  };
  class_vocab: string[];
  decoder_token_order?: string;
}

/** Resolved sizes of the RobotSeg additions (everything the modules need). */
export interface RobotSegSpec {
  /** Token width of the memory attention (= decoder dim). */
  dModel: number;
  /** Memory-encoder channels (keys / values of the structure cross-attention, RPG prototype width). */
  memDim: number;
  /** Token grid [h, w] (64 x 64 at 1024 px). */
  grid: [number, number];
  sema: {
    heads: number;
    ropeTheta: number;
    /** Depthwise kernel sizes of the multi-scale pyramid, in concat order (the fork: 3, 5, 7). */
    kernels: [3, 5, 7];
    groupNormGroups: number;
    groupNormEps: number;
    /** Fixed x16 upsample of the structure logits (to the input size at 16 px per token). */
    upsample: number;
    alphaInit: number;
  };
  rpg: {
    /** Token width = micro * memDim. */
    embedDim: number;
    /** Macro regions R = object tokens per memory frame. */
    regions: number;
    /** Micro clusters S per region. */
    micro: number;
    /** Foreground test on the resized mask probability: p >= maskThresh. */
    maskThresh: number;
  };
  /** Class-token rows: arm 0, gripper 1, robot 2. */
  classVocab: string[];
}

/** The full-size block (robotseg-infer.yaml with sam2.1_hiera_t sizes). */
export const ROBOTSEG_BLOCK_T: RobotSegBlock = {
  memory_attention_layer: {
    class: 'robotseg.modeling.memory_attention_with_structure.MemoryAttentionLayer (in every layer)',
    cross_attention_structure: {
      class: 'RoPEAttention',
      rope_theta: 10000.0,
      feat_sizes: [64, 64],
      rope_k_repeat: true,
      embedding_dim: 256,
      num_heads: 1,
      downsample_rate: 1,
      dropout: 0.1,
      kv_in_dim: 64,
    },
    ms_pyramid: {
      kernels: [3, 5, 7],
      paddings: [1, 2, 3],
      channels: 256,
      groupnorm_groups: 32,
      groupnorm_eps: 1e-5,
      fuse: 'Conv2d(768,256,1) + GELU',
    },
    structure_head: 'Conv2d(256,1,kernel 3,padding 1,bias)',
    structure_upsample_factor: 16,
    structure_strength_default_init: 1.0,
  },
  robot_prompt_generator: {
    embed_dim: 256,
    object_token_num: 3,
    micro_per_region: 4,
    use_cosine: true,
    mask_thresh: 0.5,
    dropout: 0.0,
    memory_channels: 64,
    token_dim: 256,
    tokens_per_memory_frame: 4096,
  },
  class_vocab: ['arm', 'gripper', 'robot'],
  decoder_token_order:
    '[obj_score(1), iou(1), mask(4), class(1), object tokens (3 per memory frame), sparse prompt tokens]',
};

/** Built-in full-size RobotSeg: every SAM 2.1 value of sam2.1_hiera_t plus the robotseg block. */
export const ROBOTSEG_HIERA_T: Sam2Config = {
  ...structuredClone(SAM21_HIERA_T),
  name: 'robotseg_hiera_t',
  robotseg: structuredClone(ROBOTSEG_BLOCK_T) as unknown as Record<string, unknown>,
};

// Registered here rather than in config.ts (config.ts cannot import this file: it would be a cycle
// evaluated before SAM21_HIERA_T exists). Every loader path (resolve_config.ts) imports this module.
BUILTIN_CONFIGS[ROBOTSEG_HIERA_T.name] = ROBOTSEG_HIERA_T;

export function isRobotSegConfig(cfg: Sam2Config): boolean {
  return cfg.robotseg !== undefined && cfg.robotseg !== null;
}

/** Validate the robotseg block against the SAM part and resolve it; throws naming the bad value. */
export function robotsegSpec(cfg: Sam2Config): RobotSegSpec {
  validateConfig(cfg);
  const need = (cond: unknown, msg: string) => {
    if (!cond) throw new Error(`config '${cfg.name}': robotseg: ${msg}`);
  };
  need(isRobotSegConfig(cfg), "no 'robotseg' block (not a RobotSeg config)");
  const b = cfg.robotseg as unknown as RobotSegBlock;
  need(
    b.memory_attention_layer?.cross_attention_structure && b.memory_attention_layer.ms_pyramid,
    "missing 'memory_attention_layer.cross_attention_structure' or '.ms_pyramid'",
  );
  need(b.robot_prompt_generator, "missing 'robot_prompt_generator'");
  const ma = cfg.memory_attention;
  const xa = b.memory_attention_layer.cross_attention_structure;
  const ms = b.memory_attention_layer.ms_pyramid;
  const rp = b.robot_prompt_generator;
  const d = ma.d_model;
  const memDim = cfg.memory_encoder.out_dim;
  const side = cfg.image_size / cfg.backbone_stride;
  need(
    xa.embedding_dim === d,
    `cross_attention_structure.embedding_dim ${xa.embedding_dim} != memory_attention.d_model ${d}`,
  );
  need(
    xa.kv_in_dim === memDim,
    `cross_attention_structure.kv_in_dim ${xa.kv_in_dim} != memory_encoder.out_dim ${memDim}`,
  );
  need(xa.downsample_rate === 1, `cross_attention_structure.downsample_rate must be 1, got ${xa.downsample_rate}`);
  need(xa.rope_k_repeat === true, 'cross_attention_structure.rope_k_repeat must be true');
  need(d % xa.num_heads === 0, `cross_attention_structure.num_heads ${xa.num_heads} must divide ${d}`);
  need(
    xa.feat_sizes[0] === side && xa.feat_sizes[1] === side,
    `cross_attention_structure.feat_sizes [${xa.feat_sizes}] != token grid ${side}x${side}`,
  );
  need(
    JSON.stringify(ms.kernels) === '[3,5,7]',
    `ms_pyramid.kernels must be [3, 5, 7] (the fork's conv3/conv5/conv7), got [${ms.kernels}]`,
  );
  need(JSON.stringify(ms.paddings) === '[1,2,3]', `ms_pyramid.paddings must be [1, 2, 3], got [${ms.paddings}]`);
  need(ms.channels === d, `ms_pyramid.channels ${ms.channels} != d_model ${d}`);
  need(
    Number.isInteger(ms.groupnorm_groups) && ms.groupnorm_groups > 0 && d % ms.groupnorm_groups === 0,
    `ms_pyramid.groupnorm_groups ${ms.groupnorm_groups} must divide ${d}`,
  );
  need(ms.groupnorm_eps > 0, 'ms_pyramid.groupnorm_eps must be > 0');
  const up = b.memory_attention_layer.structure_upsample_factor;
  need(Number.isInteger(up) && up >= 1, `structure_upsample_factor must be a positive integer, got ${up}`);
  need(
    rp.memory_channels === memDim,
    `robot_prompt_generator.memory_channels ${rp.memory_channels} != memory_encoder.out_dim ${memDim}`,
  );
  need(
    rp.micro_per_region * memDim === rp.embed_dim,
    `robot_prompt_generator: ${rp.micro_per_region} x ${memDim} != embed_dim ${rp.embed_dim} (no projection exists)`,
  );
  need(
    rp.embed_dim === cfg.sam_heads.prompt_embed_dim,
    `robot_prompt_generator.embed_dim ${rp.embed_dim} != prompt_embed_dim ${cfg.sam_heads.prompt_embed_dim}`,
  );
  need(
    rp.tokens_per_memory_frame === side * side,
    `robot_prompt_generator.tokens_per_memory_frame ${rp.tokens_per_memory_frame} != ${side}x${side}`,
  );
  need(rp.use_cosine === true, 'robot_prompt_generator.use_cosine must be true');
  need(
    rp.object_token_num >= 1 && rp.object_token_num <= 8 && rp.micro_per_region >= 1 && rp.micro_per_region <= 8,
    'robot_prompt_generator: object_token_num and micro_per_region must be in 1..8',
  );
  need(Array.isArray(b.class_vocab) && b.class_vocab.length > 0, "missing 'class_vocab'");
  return {
    dModel: d,
    memDim,
    grid: [side, side],
    sema: {
      heads: xa.num_heads,
      ropeTheta: xa.rope_theta,
      kernels: [3, 5, 7],
      groupNormGroups: ms.groupnorm_groups,
      groupNormEps: ms.groupnorm_eps,
      upsample: up,
      alphaInit: b.memory_attention_layer.structure_strength_default_init,
    },
    rpg: {
      embedDim: rp.embed_dim,
      regions: rp.object_token_num,
      micro: rp.micro_per_region,
      maskThresh: rp.mask_thresh,
    },
    classVocab: [...b.class_vocab],
  };
}

/** The tensors RobotSeg adds to a SAM 2.1 checkpoint (name -> shape), in robotseg.extra-keys.json order. */
export function robotsegAddedKeys(cfg: Sam2Config): Array<{ name: string; shape: number[] }> {
  const s = robotsegSpec(cfg);
  const d = s.dModel;
  const out: Array<{ name: string; shape: number[] }> = [];
  for (let i = 0; i < cfg.memory_attention.num_layers; i++) {
    const p = `memory_attention.layers.${i}.`;
    out.push({ name: `${p}structure_strength`, shape: [] });
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      const inDim = proj === 'k_proj' || proj === 'v_proj' ? s.memDim : d;
      out.push(
        { name: `${p}cross_attn_structure.${proj}.weight`, shape: [d, inDim] },
        { name: `${p}cross_attn_structure.${proj}.bias`, shape: [d] },
      );
    }
    for (const k of s.sema.kernels) {
      const q = `${p}ms_pyramid.conv${k}.`;
      out.push(
        { name: `${q}dw.weight`, shape: [d, 1, k, k] },
        { name: `${q}pw.weight`, shape: [d, d, 1, 1] },
        { name: `${q}pw.bias`, shape: [d] },
        { name: `${q}norm.weight`, shape: [d] },
        { name: `${q}norm.bias`, shape: [d] },
      );
    }
    out.push(
      { name: `${p}ms_pyramid.fuse.weight`, shape: [d, 3 * d, 1, 1] },
      { name: `${p}ms_pyramid.fuse.bias`, shape: [d] },
    );
    out.push(
      { name: `${p}structure_head.weight`, shape: [1, d, 3, 3] },
      { name: `${p}structure_head.bias`, shape: [1] },
    );
  }
  out.push({ name: 'robot_prompt_generator.no_memory_prompt_embeddings_fg.weight', shape: [1, s.rpg.embedDim] });
  out.push({ name: 'sam_mask_decoder.robot_token_embedding.weight', shape: [s.classVocab.length, d] });
  return out;
}

/** Row of the class-token bank for a category ('arm' | 'gripper' | 'robot'); unknown names throw. */
export function classIndex(spec: RobotSegSpec, category: string): number {
  const i = spec.classVocab.indexOf(category);
  if (i < 0) throw new Error(`unknown robot category '${category}' (expected one of: ${spec.classVocab.join(', ')})`);
  return i;
}
