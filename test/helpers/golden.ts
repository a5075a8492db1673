// Golden fixtures (official PyTorch outputs, reduced config): copied from ../shared/golden into
// test/fixtures/golden so the tests run on a fresh clone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../../src/graph/runtime.js';
import { uploadWeights } from '../../src/graph/weights.js';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import { parseConfig, type Sam2Config } from '../../src/model/config.js';
import type { ImagePrompt } from '../../src/model/image_predictor.js';
import { type Precision, weightDtypes } from '../../src/model/module.js';
import { SAM2 } from '../../src/model/sam2.js';
import { openWeights } from '../../src/node/weights_file.js';

export const GOLDEN = join(fileURLToPath(import.meta.url), '..', '..', 'fixtures', 'golden');

/** The image prompts the golden file `image.safetensors` holds outputs for (its `image/<name>/…` keys). */
export const GOLDEN_PROMPTS: Readonly<Record<string, ImagePrompt>> = {
  click1: { points: [{ x: 90, y: 82.5, label: 1 }], multimask: true },
  click3: {
    points: [
      { x: 90, y: 82.5, label: 1 },
      { x: 144, y: 60, label: 1 },
      { x: 20, y: 135, label: 0 },
    ],
    multimask: false,
  },
  box: { box: [30, 30, 170, 120], multimask: false },
  box_click1: { box: [30, 30, 170, 120], points: [{ x: 20, y: 135, label: 0 }], multimask: false },
  noprompt: { multimask: true },
};

/** The CLI's model options for the golden weights: `--weights … --config …`. */
export const GOLDEN_MODEL_ARGS: readonly string[] = [
  '--weights',
  join(GOLDEN, 'weights.safetensors'),
  '--config',
  join(GOLDEN, 'config.json'),
];

export function goldenConfig(): Sam2Config {
  return parseConfig(readFileSync(join(GOLDEN, 'config.json'), 'utf8'));
}

export async function goldenFile(name: string): Promise<WeightsFile> {
  return openWeights(join(GOLDEN, name));
}

/** The reduced SAM 2.1 model with the golden random weights, loaded on rt (heavy weights f16 with precision 'f16'). */
export async function goldenModel(rt: Runtime, precision: Precision = 'f32'): Promise<SAM2> {
  const file = await goldenFile('weights.safetensors');
  const model = new SAM2(goldenConfig());
  const store = await uploadWeights(rt, file, { dtype: weightDtypes(model, precision) });
  await file.close();
  await model.load(rt, store);
  return model;
}
