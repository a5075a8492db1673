// Copies the few golden tensors the loss tests need from ../shared/golden/grad (read-only) into
// test/fixtures/grad/loss_golden.safetensors with the engine's safetensors writer (about 0.45 MB).
// Key names are kept, prefixed with 'image/' or 'cycle/'. Taken:
//   image_loss.safetensors: the 3 multimask logits, the target, iou / object-score heads and every
//     loss term of case 1 (no gradients).
//   cycle_loss.safetensors: G0 (uint8) and its 16x16 bilinear resize, the clip source frames, the
//     semantic anchor; per step the low-res logits, iou_pred, object score, best_iou_index and the
//     stored loss terms; the pseudo labels of steps 1 and 2 (step 3 shows frame 1 again and this
//     script checks that its label equals step 1's, so it is not copied); the totals.
// The raw level-2 FPN features of frames 0..2 that the semantic loss needs are already in
// test/fixtures/golden/video.safetensors (video/frameF/backbone_fpn2_after_conv_s).
// Usage: npx tsx scripts/make_loss_fixtures.ts [/path/to/shared]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SafetensorsEntry } from '../src/graph/safetensors.js';
import type { WeightsFile } from '../src/graph/weights_io.js';
import { PACKAGE_ROOT } from '../src/node/shaders.js';
import { writeSafetensorsFile } from '../src/node/safetensors_file.js';
import { openWeights } from '../src/node/weights_file.js';

const shared = process.argv[2] ?? join(PACKAGE_ROOT, '..', 'shared');
const src = join(shared, 'golden', 'grad');
const out = join(PACKAGE_ROOT, 'test', 'fixtures', 'grad');
mkdirSync(out, { recursive: true });

const IMAGE = [
  'out.multimask_logits',
  'target.mask_lowres',
  'out.iou_pred',
  'out.object_score_logits',
  'loss.focal_per_mask',
  'loss.dice_per_mask',
  'loss.actual_iou_per_mask',
  'loss.combo_per_mask',
  'loss.selected_index',
  'loss.mask_focal',
  'loss.dice',
  'loss.iou_mse',
  'loss.class_bce',
  'loss.total',
];
const STEP_ALL = [
  'source_frame',
  'low_res_multimasks',
  'iou_pred',
  'object_score_logits',
  'best_iou_index',
  'loss.selected_index',
];
const STEP_CYC = [
  'loss.focal_per_mask',
  'loss.dice_per_mask',
  'loss.actual_iou_per_mask',
  'loss.combo_per_mask',
  'loss.mask_focal',
  'loss.dice',
  'loss.iou_l1',
  'loss.class_bce',
];
const STEP_MID = [
  'sem.mask_16x16_bilinear',
  'sem.feat',
  'loss.cosine',
  'loss.semantic',
  'patch.prob_16x16',
  'loss.patch_iou',
];
const CYCLE = [
  'input.clip_source_frames',
  'target.G0',
  'target.G0_16x16_bilinear',
  'sem.anchor_feat',
  ...[0, 1, 2, 3, 4].flatMap((t) => [
    ...STEP_ALL.map((k) => `step${t}/${k}`),
    ...(t === 0 || t === 4 ? STEP_CYC : STEP_MID).map((k) => `step${t}/${k}`),
    ...(t === 1 || t === 2 ? [`step${t}/target.pseudo_label`] : []),
  ]),
  'loss.sum_loss_mask',
  'loss.sum_loss_dice',
  'loss.sum_loss_iou',
  'loss.sum_loss_class',
  'loss.sum_loss_semantic',
  'loss.sum_loss_patch',
  'loss.L_cyc',
  'loss.L_sem',
  'loss.L_patch',
  'loss.total',
];

const image = await openWeights(join(src, 'image_loss.safetensors'));
const cycle = await openWeights(join(src, 'cycle_loss.safetensors'));

const l1 = await cycle.readRaw('step1/target.pseudo_label');
const l3 = await cycle.readRaw('step3/target.pseudo_label');
if (l1.length !== l3.length || l1.some((v, i) => v !== l3[i]))
  throw new Error('step 3 pseudo label differs from step 1: copy it too');

const sources = new Map<string, { file: WeightsFile; key: string }>();
for (const k of IMAGE) sources.set(`image/${k}`, { file: image, key: k });
for (const k of CYCLE) sources.set(`cycle/${k}`, { file: cycle, key: k });
const entries: SafetensorsEntry[] = [...sources].map(([name, { file, key }]) => {
  const info = file.header.get(key);
  if (!info) throw new Error(`${key} missing from the golden file`);
  return { name, dtype: info.dtype, shape: info.shape };
});
const { bytes } = await writeSafetensorsFile(
  join(out, 'loss_golden.safetensors'),
  entries,
  async (e) => {
    const s = sources.get(e.name)!;
    return s.file.readRaw(s.key);
  },
  {
    metadata: { source: 'shared/golden/grad/{image,cycle}_loss.safetensors', script: 'scripts/make_loss_fixtures.ts' },
  },
);
await image.close();
await cycle.close();
console.log(`loss_golden.safetensors: ${entries.length} tensors, ${(bytes / 1024).toFixed(0)} KiB`);
