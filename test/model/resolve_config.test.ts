// Config resolution (src/model/resolve_config.ts): --config > embedded metadata > inferred from the
// checkpoint's keys and shapes. GPU-free.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAM21_HIERA_T } from '../../src/model/config.js';
import {
  ConfigError,
  expectedShapes,
  inferConfig,
  inferLayout,
  resolveConfig,
  ROBOTSEG_KEY,
} from '../../src/model/resolve_config.js';
import { ROBOTSEG_HIERA_T } from '../../src/model/robotseg_config.js';
import { GOLDEN, goldenConfig, goldenFile } from '../helpers/golden.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');
const official = new Map(
  JSON.parse(readFileSync(join(FIX, 'sam21_tiny_keys.json'), 'utf8')).keys as Array<[string, number[]]>,
);
const golden = await goldenFile('weights.safetensors');
const goldenShapes = new Map([...golden.header].map(([k, t]) => [k, t.shape]));
await golden.close();

const err = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('config inference from keys and shapes', () => {
  it('the official sam2.1_hiera_tiny.pt layout is the built-in sam2.1_hiera_t', () => {
    expect(resolveConfig(official, {})).toEqual({ config: SAM21_HIERA_T, source: 'inferred' });
  });

  it('reads every shape-visible value of the reduced golden layout', () => {
    const cfg = goldenConfig();
    const inf = inferLayout(goldenShapes).values;
    const want: Record<string, unknown> = {
      'trunk.embed_dim': cfg.trunk.embed_dim,
      'trunk.stages': cfg.trunk.stages,
      'trunk.dim_mul': cfg.trunk.dim_mul,
      'trunk.mlp_ratio': cfg.trunk.mlp_ratio,
      'trunk.window_pos_embed_bkg_spatial_size': cfg.trunk.window_pos_embed_bkg_spatial_size,
      'trunk.window_spec[0]': cfg.trunk.window_spec[0],
      'neck.d_model': cfg.neck.d_model,
      'neck.backbone_channel_list': cfg.neck.backbone_channel_list,
      'memory_attention.num_layers': cfg.memory_attention.num_layers,
      'memory_attention.d_model': cfg.memory_attention.d_model,
      'memory_attention.dim_feedforward': cfg.memory_attention.dim_feedforward,
      'memory_attention.kv_in_dim': cfg.memory_attention.kv_in_dim,
      'memory_encoder.out_dim': cfg.memory_encoder.out_dim,
      'memory_encoder.in_dim': cfg.memory_encoder.in_dim,
      'memory_encoder.fuser.num_layers': cfg.memory_encoder.fuser.num_layers,
      'memory_encoder.fuser.dim': cfg.memory_encoder.fuser.dim,
      'memory_encoder.fuser.kernel_size': cfg.memory_encoder.fuser.kernel_size,
      'sam_heads.prompt_embed_dim': cfg.sam_heads.prompt_embed_dim,
      'sam_heads.mask_in_chans': cfg.sam_heads.mask_in_chans,
      'sam_heads.two_way_depth': cfg.sam_heads.two_way_depth,
      'sam_heads.two_way_mlp_dim': cfg.sam_heads.two_way_mlp_dim,
      'sam_heads.attention_downsample_rate': cfg.sam_heads.attention_downsample_rate,
      'sam_heads.num_multimask_outputs': cfg.sam_heads.num_multimask_outputs,
      'sam_heads.iou_head_depth': cfg.sam_heads.iou_head_depth,
      'sam_heads.iou_head_hidden_dim': cfg.sam_heads.iou_head_hidden_dim,
      'base.num_maskmem': cfg.base.num_maskmem,
    };
    expect(inf).toEqual(want);
  });

  it('a layout matching no built-in: names the first misfit, what the shapes say and what is missing', () => {
    const m = err(() => resolveConfig(goldenShapes, {}));
    expect(m).toMatch(/matches no known config/);
    expect(m).toMatch(
      /'maskmem_tpos_enc' has shape \[7, 1, 1, 16\], sam2\.1_hiera_t expects \[7, 1, 1, 64\] \(and \d+ more\)/,
    );
    expect(m).toMatch(/trunk\.embed_dim=32, trunk\.stages=\[1,2,3,2\]/);
    expect(m).toMatch(/not stored in weights: image_size, .*trunk\.global_att_blocks/);
    expect(m).toMatch(/--config/);
  });

  it('one wrong shape, one missing key, one extra key in the official layout', () => {
    const wrong = new Map(official);
    wrong.set('sam_mask_decoder.iou_token.weight', [1, 128]);
    expect(err(() => inferConfig(wrong))).toMatch(
      /against sam2\.1_hiera_t: 'sam_mask_decoder\.iou_token\.weight' has shape \[1, 128\], sam2\.1_hiera_t expects \[1, 256\]\. /,
    );
    const missing = new Map(official);
    missing.delete('obj_ptr_tpos_proj.bias');
    expect(err(() => inferConfig(missing))).toMatch(/missing key 'obj_ptr_tpos_proj\.bias'/);
    const extra = new Map(official);
    extra.set('foo.bar', [3]);
    expect(err(() => inferConfig(extra))).toMatch(/unexpected key 'foo\.bar' \[3\]/);
  });

  it('not a SAM 2 checkpoint at all', () => {
    expect(err(() => resolveConfig(new Map([['weight', [2, 2]]]), {}))).toMatch(
      /not a SAM 2 checkpoint.*first key 'weight'/,
    );
    expect(err(() => resolveConfig(new Map(), {}))).toMatch(/no tensors/);
  });

  it('RobotSeg checkpoints are recognised', () => {
    const rs = new Map(official);
    rs.set(ROBOTSEG_KEY, [1, 256]);
    // an incomplete RobotSeg layout: named as RobotSeg, checked against robotseg_hiera_t
    expect(err(() => resolveConfig(rs, {}))).toMatch(
      /^RobotSeg checkpoint \(key 'sam_mask_decoder\.robot_token_embedding\.weight'\): the checkpoint matches no known config.*against robotseg_hiera_t: .*robot_token_embedding.*\[3, 256\]/,
    );
    expect(err(() => resolveConfig(rs, {}, SAM21_HIERA_T))).toMatch(
      /^RobotSeg checkpoint .* but --config 'sam2\.1_hiera_t' is a SAM 2\.1 config without a 'robotseg' block/,
    );
    // the full official layout (SAM 2.1 keys + the 114 added tensors) resolves to the built-in
    const full = new Map(expectedShapes(ROBOTSEG_HIERA_T));
    expect(resolveConfig(full, {}).config.name).toBe('robotseg_hiera_t');
    expect(err(() => resolveConfig(official, {}, ROBOTSEG_HIERA_T))).toMatch(
      /is a RobotSeg config but the checkpoint has no/,
    );
  });
});

describe('explicit and embedded configs', () => {
  it('--config wins over metadata and is checked against the shapes', () => {
    const cfg = goldenConfig();
    expect(resolveConfig(goldenShapes, { config: JSON.stringify(SAM21_HIERA_T) }, cfg)).toEqual({
      config: cfg,
      source: 'argument',
    });
    expect(err(() => resolveConfig(goldenShapes, {}, SAM21_HIERA_T))).toMatch(
      /^--config 'sam2\.1_hiera_t' does not fit the checkpoint: 'maskmem_tpos_enc' has shape/,
    );
  });

  it('a config embedded in the metadata (as `robotseg convert --config` writes it)', () => {
    const text = readFileSync(join(GOLDEN, 'config.json'), 'utf8');
    const r = resolveConfig(goldenShapes, { config: JSON.stringify(JSON.parse(text)) });
    expect(r.source).toBe('metadata');
    expect(r.config.name).toBe('sam2.1_hiera_reduced_test');
    expect(err(() => resolveConfig(goldenShapes, { config: '{not json' }))).toMatch(
      /embedded in the file's metadata is invalid/,
    );
    expect(err(() => resolveConfig(official, { config: text }))).toMatch(
      /^the embedded config 'sam2\.1_hiera_reduced_test' does not fit/,
    );
  });
});

describe('config names in the metadata', () => {
  it('a built-in name is used; an unknown name falls through to inference and is mentioned', () => {
    expect(resolveConfig(official, { config: 'sam2.1_hiera_t' })).toEqual({
      config: SAM21_HIERA_T,
      source: 'metadata',
    });
    expect(resolveConfig(official, { config: 'my_model' }).source).toBe('inferred');
    expect(err(() => resolveConfig(goldenShapes, { config: 'sam2.1_hiera_reduced_test' }))).toMatch(
      /^the file's metadata names config 'sam2\.1_hiera_reduced_test', which is not built in; the checkpoint matches no known config/,
    );
  });
});
