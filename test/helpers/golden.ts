// Golden fixtures (official PyTorch outputs, reduced config): copied from ../shared/golden into
// test/fixtures/golden so the tests run on a fresh clone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../../src/graph/runtime.js';
import { uploadWeights } from '../../src/graph/weights.js';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import { parseConfig, type Sam2Config } from '../../src/model/config.js';
import { type Precision, weightDtypes } from '../../src/model/module.js';
import { SAM2 } from '../../src/model/sam2.js';
import { openWeights } from '../../src/node/weights_file.js';

export const GOLDEN = join(fileURLToPath(import.meta.url), '..', '..', 'fixtures', 'golden');

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
