// Seeded random weights in a config's official layout (keys and shapes from SAM2(cfg).namedParams(),
// which for sam2.1_hiera_t equal the official checkpoint's 471 keys, see
// test/fixtures/sam21_tiny_keys.json). No full-size checkpoint can be downloaded here, so the
// full-size tests run on these. Values follow PyTorch's default init scale so activations stay O(1):
// matrices and convs uniform(±1/sqrt(fan_in)), norm weights 1 + small, biases and embeddings small.
// Each tensor is generated on demand from (seed, key), so a 156 MB file is never held in memory.
import { numel } from '../../src/graph/dtype.js';
import type { TensorInfo, WeightsFile } from '../../src/graph/weights_io.js';
import type { Sam2Config } from '../../src/model/config.js';
import { expectedShapes } from '../../src/model/resolve_config.js';
import { writeSafetensorsFile } from '../../src/node/safetensors_file.js';
import { mulberry32 } from '../../src/util/rng.js';

function hash(s: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** Values of one tensor (deterministic in seed and key). */
export function randomTensor(key: string, shape: readonly number[], seed: number): Float32Array {
  const n = numel(shape);
  const u = mulberry32(hash(key, seed));
  const out = new Float32Array(n);
  const leaf = key.split('.').pop()!;
  let center = 0;
  let bound: number;
  if (shape.length >= 2 && leaf === 'weight')
    bound = 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1)); // Linear/Conv fan_in
  else if (leaf === 'weight' || leaf === 'gamma') {
    center = leaf === 'gamma' ? 0 : 1;
    bound = 0.05;
  } // norms (gamma: layer scale)
  else if (key.endsWith('positional_encoding_gaussian_matrix'))
    bound = 1.7; // randn scale 1
  else bound = 0.02; // biases, embeddings, pos_embed, tokens
  for (let i = 0; i < n; i++) out[i] = center + (2 * u() - 1) * bound;
  return out;
}

/** An in-memory WeightsFile whose tensors are generated when read. */
export function randomWeightsFile(cfg: Sam2Config, seed = 0): WeightsFile {
  const header = new Map<string, TensorInfo>();
  let off = 0;
  for (const [key, shape] of expectedShapes(cfg)) {
    const bytes = numel(shape) * 4;
    header.set(key, { dtype: 'F32', shape: [...shape], begin: off, end: off + bytes });
    off += bytes;
  }
  const readTensor = async (key: string) => {
    const t = header.get(key);
    if (!t) throw new Error(`random weights: no tensor '${key}'`);
    return randomTensor(key, t.shape, seed);
  };
  return {
    format: 'safetensors',
    header,
    metadata: { source: `random weights, seed ${seed}` },
    readTensor,
    readRaw: async (key) => new Uint8Array((await readTensor(key)).buffer),
    close: async () => {},
  };
}

/** Write the random weights as a .safetensors file (no embedded config: tests config inference). */
export async function writeRandomWeights(path: string, cfg: Sam2Config, seed = 0): Promise<number> {
  const f = randomWeightsFile(cfg, seed);
  const entries = [...f.header].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape }));
  const { bytes } = await writeSafetensorsFile(path, entries, (e) => f.readTensor(e.name), {
    metadata: { source: f.metadata.source },
  });
  return bytes;
}
