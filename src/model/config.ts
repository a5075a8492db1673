// SAM 2.1 model configuration, in the format of ../shared/golden/config.json (sam2's YAML as a
// plain object). `sam2.1_hiera_t` is built in; other configs load from JSON and are validated.

export interface Sam2Config {
  name: string;
  image_size: number;
  backbone_stride: number;
  trunk: {
    embed_dim: number;
    num_heads: number;
    stages: number[];
    global_att_blocks: number[];
    window_spec: number[];
    window_pos_embed_bkg_spatial_size: [number, number];
    q_pool: number;
    q_stride: [number, number];
    dim_mul: number;
    head_mul: number;
    mlp_ratio: number;
    layernorm_eps: number;
  };
  neck: {
    d_model: number;
    backbone_channel_list: number[];
    fpn_top_down_levels: number[];
    fpn_interp_model: 'nearest';
    fuse_type: 'sum';
    scalp: number;
    pos_enc_num_pos_feats: number;
    pos_enc_temperature: number;
    pos_enc_normalize: boolean;
  };
  memory_attention: {
    d_model: number;
    num_layers: number;
    dim_feedforward: number;
    num_heads: number;
    rope_theta: number;
    feat_sizes: [number, number];
    kv_in_dim: number;
    activation: 'relu';
    pos_enc_at_input: boolean;
    pos_enc_at_attn: boolean;
    pos_enc_at_cross_attn_keys: boolean;
    pos_enc_at_cross_attn_queries: boolean;
    rope_k_repeat_cross: boolean;
  };
  memory_encoder: {
    out_dim: number;
    in_dim: number;
    pos_enc_num_pos_feats: number;
    mask_downsampler: { kernel_size: number; stride: number; padding: number; total_stride: number; embed_dim: number };
    fuser: {
      num_layers: number;
      dim: number;
      kernel_size: number;
      padding: number;
      layer_scale_init_value: number;
      use_dwconv: boolean;
    };
  };
  sam_heads: {
    prompt_embed_dim: number;
    mask_in_chans: number;
    two_way_depth: number;
    two_way_heads: number;
    two_way_mlp_dim: number;
    attention_downsample_rate: number;
    num_multimask_outputs: number;
    iou_head_depth: number;
    iou_head_hidden_dim: number;
  };
  base: Record<string, number | boolean> & {
    num_maskmem: number;
    sigmoid_scale_for_mem_enc: number;
    sigmoid_bias_for_mem_enc: number;
    max_obj_ptrs_in_encoder: number;
    memory_temporal_stride_for_eval: number;
    max_cond_frames_in_attn: number;
  };
  postprocessing: {
    dynamic_multimask_via_stability: boolean;
    dynamic_multimask_stability_delta: number;
    dynamic_multimask_stability_thresh: number;
    video_binarize_mask_from_pts_for_mem_enc: boolean;
    video_fill_hole_area: number;
    image_mask_threshold: number;
    image_max_hole_area: number;
    image_max_sprinkle_area: number;
  };
  preprocess: { mean: [number, number, number]; std: [number, number, number]; resize?: string };
  /** RobotSeg additions (absent for plain SAM 2.1). */
  robotseg?: Record<string, unknown>;
}

const BASE_FLAGS = {
  num_maskmem: 7,
  sigmoid_scale_for_mem_enc: 20.0,
  sigmoid_bias_for_mem_enc: -10.0,
  use_mask_input_as_output_without_sam: true,
  directly_add_no_mem_embed: true,
  no_obj_embed_spatial: true,
  use_high_res_features_in_sam: true,
  multimask_output_in_sam: true,
  iou_prediction_use_sigmoid: true,
  use_obj_ptrs_in_encoder: true,
  max_obj_ptrs_in_encoder: 16,
  add_tpos_enc_to_obj_ptrs: true,
  proj_tpos_enc_in_obj_ptrs: true,
  use_signed_tpos_enc_to_obj_ptrs: true,
  only_obj_ptrs_in_the_past_for_eval: true,
  pred_obj_scores: true,
  pred_obj_scores_mlp: true,
  fixed_no_obj_ptr: true,
  soft_no_obj_ptr: false,
  multimask_output_for_tracking: true,
  use_multimask_token_for_obj_ptr: true,
  multimask_min_pt_num: 0,
  multimask_max_pt_num: 1,
  use_mlp_for_obj_ptr_proj: true,
  memory_temporal_stride_for_eval: 1,
  max_cond_frames_in_attn: -1,
  non_overlap_masks_for_mem_enc: false,
};

/** The official sam2.1_hiera_t (sam2.1_hiera_t.yaml + builder overrides). */
export const SAM21_HIERA_T: Sam2Config = {
  name: 'sam2.1_hiera_t',
  image_size: 1024,
  backbone_stride: 16,
  trunk: {
    embed_dim: 96,
    num_heads: 1,
    stages: [1, 2, 7, 2],
    global_att_blocks: [5, 7, 9],
    window_spec: [8, 4, 14, 7],
    window_pos_embed_bkg_spatial_size: [7, 7],
    q_pool: 3,
    q_stride: [2, 2],
    dim_mul: 2.0,
    head_mul: 2.0,
    mlp_ratio: 4.0,
    layernorm_eps: 1e-6,
  },
  neck: {
    d_model: 256,
    backbone_channel_list: [768, 384, 192, 96],
    fpn_top_down_levels: [2, 3],
    fpn_interp_model: 'nearest',
    fuse_type: 'sum',
    scalp: 1,
    pos_enc_num_pos_feats: 256,
    pos_enc_temperature: 10000,
    pos_enc_normalize: true,
  },
  memory_attention: {
    d_model: 256,
    num_layers: 4,
    dim_feedforward: 2048,
    num_heads: 1,
    rope_theta: 10000.0,
    feat_sizes: [64, 64],
    kv_in_dim: 64,
    activation: 'relu',
    pos_enc_at_input: true,
    pos_enc_at_attn: false,
    pos_enc_at_cross_attn_keys: true,
    pos_enc_at_cross_attn_queries: false,
    rope_k_repeat_cross: true,
  },
  memory_encoder: {
    out_dim: 64,
    in_dim: 256,
    pos_enc_num_pos_feats: 64,
    mask_downsampler: { kernel_size: 3, stride: 2, padding: 1, total_stride: 16, embed_dim: 256 },
    fuser: { num_layers: 2, dim: 256, kernel_size: 7, padding: 3, layer_scale_init_value: 1e-6, use_dwconv: true },
  },
  sam_heads: {
    prompt_embed_dim: 256,
    mask_in_chans: 16,
    two_way_depth: 2,
    two_way_heads: 8,
    two_way_mlp_dim: 2048,
    attention_downsample_rate: 2,
    num_multimask_outputs: 3,
    iou_head_depth: 3,
    iou_head_hidden_dim: 256,
  },
  base: { ...BASE_FLAGS },
  postprocessing: {
    dynamic_multimask_via_stability: true,
    dynamic_multimask_stability_delta: 0.05,
    dynamic_multimask_stability_thresh: 0.98,
    video_binarize_mask_from_pts_for_mem_enc: true,
    video_fill_hole_area: 8,
    image_mask_threshold: 0.0,
    image_max_hole_area: 0,
    image_max_sprinkle_area: 0,
  },
  preprocess: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};

export const BUILTIN_CONFIGS: Record<string, Sam2Config> = { 'sam2.1_hiera_t': SAM21_HIERA_T };

/** Derived per-block schedule of the Hiera trunk (docs/reference/sam2-architecture.md sec. 3.2). */
export interface HieraBlockSpec {
  dimIn: number;
  dimOut: number;
  heads: number;
  window: number;
  qPool: boolean;
}

export function hieraSchedule(c: Sam2Config['trunk']): { blocks: HieraBlockSpec[]; stageEnds: number[] } {
  const depth = c.stages.reduce((a, b) => a + b, 0);
  const stageEnds = c.stages.map((_, i) => c.stages.slice(0, i + 1).reduce((a, b) => a + b, 0) - 1);
  const qPoolBlocks = stageEnds.slice(0, c.q_pool).map((x) => x + 1);
  let dim = c.embed_dim;
  let heads = c.num_heads;
  let stage = 1;
  const blocks: HieraBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    let dimOut = dim;
    // lags by one block: the first block of a new stage uses the previous stage's window
    let window = c.window_spec[stage - 1];
    if (c.global_att_blocks.includes(i)) window = 0;
    if (stageEnds.slice(0, -1).includes(i - 1)) {
      dimOut = Math.trunc(dim * c.dim_mul);
      heads = Math.trunc(heads * c.head_mul);
      stage++;
    }
    blocks.push({ dimIn: dim, dimOut, heads, window, qPool: qPoolBlocks.includes(i) });
    dim = dimOut;
  }
  return { blocks, stageEnds };
}

/** Validate a config object (from JSON), throwing on the first inconsistency. */
export function validateConfig(c: Sam2Config): Sam2Config {
  const need = (cond: boolean, msg: string) => {
    if (!cond) throw new Error(`config '${c?.name ?? '?'}': ${msg}`);
  };
  need(typeof c === 'object' && c !== null, 'not an object');
  for (const k of [
    'image_size',
    'backbone_stride',
    'trunk',
    'neck',
    'memory_attention',
    'memory_encoder',
    'sam_heads',
    'base',
    'postprocessing',
    'preprocess',
  ] as const) {
    need(k in c, `missing '${k}'`);
  }
  need(
    c.image_size % c.backbone_stride === 0,
    `image_size ${c.image_size} not a multiple of backbone_stride ${c.backbone_stride}`,
  );
  need(c.trunk.window_spec.length === c.trunk.stages.length, 'window_spec needs one entry per stage');
  const { blocks } = hieraSchedule(c.trunk);
  for (const b of blocks) need(b.dimOut % b.heads === 0, `Hiera heads ${b.heads} must divide dim ${b.dimOut}`);
  need(c.sam_heads.prompt_embed_dim % c.sam_heads.two_way_heads === 0, 'two_way_heads must divide prompt_embed_dim');
  need(c.memory_attention.d_model % c.memory_attention.num_heads === 0, 'memory attention heads must divide d_model');
  need(
    c.neck.backbone_channel_list.length === c.trunk.stages.length,
    'backbone_channel_list needs one entry per stage',
  );
  return c;
}

/** Resolve a config by built-in name or parse a JSON text. */
export function parseConfig(nameOrJson: string): Sam2Config {
  if (nameOrJson in BUILTIN_CONFIGS) return BUILTIN_CONFIGS[nameOrJson];
  let obj: unknown;
  try {
    obj = JSON.parse(nameOrJson);
  } catch (e) {
    throw new Error(
      `config is neither a built-in name (${Object.keys(BUILTIN_CONFIGS).join(', ')}) nor valid JSON: ${(e as Error).message}`,
    );
  }
  const c = obj as Sam2Config;
  // Fill defaults a JSON may omit (builder flags).
  c.base = { ...BASE_FLAGS, ...(c.base ?? {}) } as Sam2Config['base'];
  c.preprocess = c.preprocess ?? SAM21_HIERA_T.preprocess;
  return validateConfig(c);
}
