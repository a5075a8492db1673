// Trims ../shared/golden/robotseg/auto_video.safetensors (5.4 MB, read-only) into
// test/fixtures/robotseg/auto_video.safetensors for test/model/robotseg_auto.test.ts:
//   - kept in float32: decoder tokens in / out, IoU, object scores, pointers, RPG tokens, per-layer
//     edge / structure-logit / gate maps, hole-filled low-res logits, memory-conditioned features of
//     the tracked frames (frames >= 1; frame 0 is level 2 + no_mem_embed), integer flags;
//   - bfloat16 (exact: the values are bf16-rounded): maskmem_features_bf16_as_f32;
//   - float16 (relative rounding 2^-11, far inside the 1e-3 logit tolerance): the 4 decoder mask
//     logits and the video-resolution logits;
//   - dropped (derived from kept tensors or covered by the SAM 2.1 video parity test): memory-attention
//     inputs (current tokens / positions, concatenated memory and its positions), per-layer outputs
//     (see memattn.safetensors), the float32 memory before bf16 rounding, heads.low_res_masks (=
//     pred_masks before hole filling), memattn.out_HWxBxC (= pix_feat_with_mem permuted).
// Usage: npx tsx scripts/make_robotseg_auto_fixtures.ts [/path/to/shared]
import { join } from 'node:path';
import type { SafetensorsEntry } from '../src/graph/safetensors.js';
import type { WeightDType } from '../src/graph/weights_io.js';
import { PACKAGE_ROOT } from '../src/node/shaders.js';
import { writeSafetensorsFile } from '../src/node/safetensors_file.js';
import { openWeights } from '../src/node/weights_file.js';

const shared = process.argv[2] ?? join(PACKAGE_ROOT, '..', 'shared');
const f = await openWeights(join(shared, 'golden', 'robotseg', 'auto_video.safetensors'));
const DROP =
  /memattn\.(curr_in|curr_pos|memory_NxBxC|memory_pos|L\d\.out_BxNxC|out_HWxBxC)|maskmem_features_f32|heads\.low_res_masks/;
const F16 = /decoder\.all_mask_logits|out\.video_res_logits/;
const keys = [...f.header.keys()].filter((k) => !DROP.test(k) && !/frame0\/pix_feat_with_mem/.test(k));
const dtypeOf = (k: string): WeightDType => {
  const d = f.header.get(k)!.dtype;
  if (d !== 'F32') return d;
  if (k.includes('bf16')) return 'BF16';
  return F16.test(k) ? 'F16' : 'F32';
};
const entries: SafetensorsEntry[] = keys.map((k) => ({ name: k, dtype: dtypeOf(k), shape: f.header.get(k)!.shape }));
const out = join(PACKAGE_ROOT, 'test', 'fixtures', 'robotseg', 'auto_video.safetensors');
const { bytes } = await writeSafetensorsFile(
  out,
  entries,
  async (e) => (e.dtype === f.header.get(e.name)!.dtype ? f.readRaw(e.name) : f.readTensor(e.name)),
  {
    metadata: {
      source: 'shared/golden/robotseg/auto_video.safetensors',
      trimmed: 'scripts/make_robotseg_auto_fixtures.ts',
    },
  },
);
await f.close();
console.log(`auto_video.safetensors: ${keys.length} tensors, ${(bytes / 1024).toFixed(0)} KiB`);
