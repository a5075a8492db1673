// Golden weights in the other layouts the browser loaders take, built in memory: the SAM 2.1 golden
// weights as a torch.save-style .pt (checkpoint writer of test/io/pt_builder.ts), and the reduced
// RobotSeg golden model as one safetensors file (SAM 2.1 part + RobotSeg additions).
import { join } from 'node:path';
import { serializeSafetensors, type SafetensorsEntry, type TensorData } from '../../src/graph/safetensors.js';
import type { WeightDType } from '../../src/graph/weights_io.js';
import { openWeights } from '../../src/node/weights_file.js';
import { GOLDEN } from '../helpers/golden.js';
import { ROBOTSEG_FIX } from '../helpers/robotseg.js';
import { buildPt, type PtTensor } from '../io/pt_builder.js';

let cached: Uint8Array | null = null;

export async function goldenPtBytes(): Promise<Uint8Array> {
  if (cached) return cached;
  const f = await openWeights(join(GOLDEN, 'weights.safetensors'));
  try {
    const tensors: PtTensor[] = [];
    for (const [key, t] of f.header) {
      if (t.dtype !== 'F32') throw new Error(`golden tensor ${key} is ${t.dtype}, expected F32`);
      tensors.push({ key, data: await f.readRaw(key), shape: t.shape });
    }
    cached = buildPt(tensors);
  } finally {
    await f.close();
  }
  return cached;
}

/** The reduced RobotSeg golden model (config: test/fixtures/robotseg/config.json) as one safetensors file. */
export async function robotsegGoldenSafetensors(): Promise<Uint8Array<ArrayBuffer>> {
  const tensors: Array<SafetensorsEntry & { data: TensorData }> = [];
  for (const path of [join(GOLDEN, 'weights.safetensors'), join(ROBOTSEG_FIX, 'weights_added.safetensors')]) {
    const f = await openWeights(path);
    try {
      for (const [name, t] of f.header)
        tensors.push({ name, dtype: t.dtype as WeightDType, shape: t.shape, data: await f.readRaw(name) });
    } finally {
      await f.close();
    }
  }
  return serializeSafetensors(tensors) as Uint8Array<ArrayBuffer>;
}
