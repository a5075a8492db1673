// The golden weights as a torch.save-style .pt (built in memory from weights.safetensors with the
// checkpoint writer of test/io/pt_builder.ts): exercises the .pt paths of the browser loaders.
import { join } from 'node:path';
import { openWeights } from '../../src/node/weights_file.js';
import { GOLDEN } from '../helpers/golden.js';
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
