// RobotSeg golden fixtures (../shared/golden/robotseg, trimmed into test/fixtures/robotseg by
// scripts/make_robotseg_fixtures.ts): the reduced RobotSeg config and model with the golden weights =
// SAM part test/fixtures/golden/weights.safetensors + the 58 added tensors of weights_added.safetensors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../../src/graph/runtime.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { type UploadOptions, uploadWeights, type WeightStore } from '../../src/graph/weights.js';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import { parseConfig, type Sam2Config } from '../../src/model/config.js';
import { type Precision, type WeightSource, weightDtypes } from '../../src/model/module.js';
import { RobotSeg } from '../../src/model/robotseg.js';
import { openWeights } from '../../src/node/weights_file.js';
import { GOLDEN } from './golden.js';

export const ROBOTSEG_FIX = join(fileURLToPath(import.meta.url), '..', '..', 'fixtures', 'robotseg');

export function robotsegGoldenConfig(): Sam2Config {
  return parseConfig(readFileSync(join(ROBOTSEG_FIX, 'config.json'), 'utf8'));
}

export async function robotsegFile(name: string): Promise<WeightsFile> {
  return openWeights(join(ROBOTSEG_FIX, name));
}

/** Several uploaded weight files seen as one source (keys must not repeat). */
export function mergedSource(stores: WeightStore[]): WeightSource {
  const owner = new Map<string, WeightStore>();
  for (const s of stores)
    for (const k of s.keys()) {
      if (owner.has(k)) throw new Error(`weights: key ${k} in two files`);
      owner.set(k, s);
    }
  return {
    shapes: () => new Map([...owner].map(([k, s]) => [k, s.entry(k).shape])),
    get: (k: string): Tensor => {
      const s = owner.get(k);
      if (!s) throw new Error(`weights: no tensor '${k}'`);
      return s.get(k);
    },
  };
}

/** The golden weights as one source (SAM 2.1 reduced golden + RobotSeg additions). */
export async function robotsegGoldenWeights(rt: Runtime, dtype: UploadOptions['dtype'] = 'f32'): Promise<WeightSource> {
  const stores: WeightStore[] = [];
  for (const path of [join(GOLDEN, 'weights.safetensors'), join(ROBOTSEG_FIX, 'weights_added.safetensors')]) {
    const f = await openWeights(path);
    stores.push(await uploadWeights(rt, f, { dtype }));
    await f.close();
  }
  return mergedSource(stores);
}

/** The reduced RobotSeg with the golden weights, loaded strictly on rt (heavy weights f16 with precision 'f16'). */
export async function robotsegGoldenModel(rt: Runtime, precision: Precision = 'f32'): Promise<RobotSeg> {
  const model = new RobotSeg(robotsegGoldenConfig());
  await model.load(rt, await robotsegGoldenWeights(rt, weightDtypes(model, precision)));
  return model;
}
