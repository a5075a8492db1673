// Copies the RobotSeg golden tensors the tests need from ../shared/golden/robotseg (read-only) into
// test/fixtures/robotseg, trimmed, with the engine's safetensors writer:
//   weights_added.safetensors  the 58 tensors RobotSeg adds (the SAM part is test/fixtures/golden/weights.safetensors)
//   structure.safetensors      SEMA intermediates of both layers (frame 1 of auto_robot), without the
//                              256x256 gray / Canny maps (Canny has its own tests) and 3 rearranged copies
//   rpg.safetensors            every RPG case, unchanged
//   memattn.safetensors        auto_robot frames 0-3: memory-attention inputs / per-layer outputs (frames 1, 2),
//                              decoder input tokens, class index, RPG tokens, stored low-res masks (frames 0-2)
//   extra_keys.json            ../shared/reference/robotseg.extra-keys.json (full-size key layout)
//   config.json                the reduced RobotSeg config (SAM part + robotseg block)
// Usage: npx tsx scripts/make_robotseg_fixtures.ts [/path/to/shared]
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SafetensorsEntry } from '../src/graph/safetensors.js';
import type { WeightsFile } from '../src/graph/weights_io.js';
import { PACKAGE_ROOT } from '../src/node/shaders.js';
import { writeSafetensorsFile } from '../src/node/safetensors_file.js';
import { openWeights } from '../src/node/weights_file.js';

const shared = process.argv[2] ?? join(PACKAGE_ROOT, '..', 'shared');
const src = join(shared, 'golden', 'robotseg');
const out = join(PACKAGE_ROOT, 'test', 'fixtures', 'robotseg');
mkdirSync(out, { recursive: true });

async function trim(
  file: string,
  dest: string,
  keep: (key: string) => boolean,
  rename: (key: string) => string = (k) => k,
): Promise<void> {
  const f: WeightsFile = await openWeights(join(src, file));
  const keys = [...f.header.keys()].filter(keep);
  const entries: SafetensorsEntry[] = keys.map((k) => ({
    name: rename(k),
    dtype: f.header.get(k)!.dtype,
    shape: f.header.get(k)!.shape,
  }));
  const byName = new Map(keys.map((k) => [rename(k), k]));
  const { bytes } = await writeSafetensorsFile(join(out, dest), entries, async (e) => f.readRaw(byName.get(e.name)!), {
    metadata: { source: `shared/golden/robotseg/${file}` },
  });
  await f.close();
  console.log(`${dest}: ${keys.length} tensors, ${(bytes / 1024).toFixed(0)} KiB`);
}

const w = await openWeights(join(src, 'weights.safetensors'));
const sam = await openWeights(join(shared, 'golden', 'weights.safetensors'));
const added = new Set([...w.header.keys()].filter((k) => !sam.header.has(k)));
await w.close();
await sam.close();
await trim('weights.safetensors', 'weights_added.safetensors', (k) => added.has(k));
// Left out: the 256x256 gray / Canny maps, and three pure rearrangements of kept tensors (feat_map =
// t_ca transposed, ms.concat = the three branch outputs, xattn.q_tokens = ms.out transposed), which the
// test rebuilds on the host.
const DERIVED = ['edges.gray', 'edges.canny_nms_magnitude', '.feat_map', '.ms.concat', '.xattn.q_tokens_BxNxC'];
await trim('structure.safetensors', 'structure.safetensors', (k) => !DERIVED.some((d) => k.endsWith(d)));
await trim('rpg.safetensors', 'rpg.safetensors', () => true);
await trim('auto_video.safetensors', 'memattn.safetensors', (k) => {
  const m = /^auto_robot\/frame(\d)\/(.*)$/.exec(k);
  if (!m) return false;
  const [, fr, name] = m;
  if (name.startsWith('memattn.')) return fr === '1' || fr === '2';
  if (name === 'out.pred_masks_lowres_after_fill') return fr !== '3';
  return name === 'decoder.tokens_in' || name === 'decoder.robot_inputs_class_index' || name === 'rpg.tokens_out';
});
copyFileSync(join(shared, 'reference', 'robotseg.extra-keys.json'), join(out, 'extra_keys.json'));
copyFileSync(join(src, 'config.json'), join(out, 'config.json'));
for (const f of ['extra_keys.json', 'config.json']) chmodSync(join(out, f), 0o644);
