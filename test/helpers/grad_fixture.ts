// The gradient golden tests' shared setup (vitest hooks: kept out of grad.ts, which bench/train.ts imports).
import { afterAll, beforeAll } from 'vitest';
import type { Runtime } from '../../src/graph/runtime.js';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import type { SAM2 } from '../../src/model/sam2.js';
import { goldenFile, goldenModel } from './golden.js';
import { openGradGolden } from './grad.js';

/** What `gradGoldenFixture` loads: the golden model, a gradient golden and the golden inputs it was made from. */
export interface GradFixture {
  model: SAM2;
  golden: WeightsFile;
  input: WeightsFile;
}

/**
 * Inside a `describe`: the golden model on rt, `test/fixtures/grad/<grad>` and the golden input file
 * `<input>` (image.safetensors / video.safetensors), opened in beforeAll and closed in afterAll.
 * The fields are set once beforeAll has run.
 */
export function gradGoldenFixture(rt: Runtime | null, grad: string, input: string): GradFixture {
  const fx = {} as GradFixture;
  beforeAll(async () => {
    fx.model = await goldenModel(rt!);
    fx.golden = await openGradGolden(grad);
    fx.input = await goldenFile(input);
  });
  afterAll(async () => {
    await fx.golden?.close();
    await fx.input?.close();
  });
  return fx;
}
