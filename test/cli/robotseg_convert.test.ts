// `robotseg convert` on a RobotSeg checkpoint (.pt: the SAM 2.1 keys + the 58 added ones of the
// reduced layout), then strict loading of the result as a RobotSeg model.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RobotSeg } from '../../src/model/robotseg.js';
import { loadModelWithStore } from '../../src/node/load_model.js';
import { openWeights } from '../../src/node/weights_file.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { ROBOTSEG_FIX } from '../helpers/robotseg.js';
import { buildPt, type PtTensor } from '../io/pt_builder.js';

const tmp = mkdtempSync(join(tmpdir(), 'robotseg-convert-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();

async function robotsegPt(): Promise<{ path: string; keys: string[]; sample: [string, Float32Array] }> {
  const tensors: PtTensor[] = [];
  for (const name of ['weights.safetensors', join('..', 'robotseg', 'weights_added.safetensors')]) {
    const f = await openWeights(join(GOLDEN, name));
    for (const [key, info] of f.header) tensors.push({ key, shape: [...info.shape], data: await f.readRaw(key) });
    await f.close();
  }
  const path = join(tmp, 'robotseg.pt');
  writeFileSync(path, buildPt(tensors));
  const added = tensors.find((t) => t.key === 'sam_mask_decoder.robot_token_embedding.weight')!;
  return { path, keys: tensors.map((t) => t.key), sample: [added.key, new Float32Array(added.data.slice().buffer)] };
}

describe('robotseg convert: RobotSeg .pt', () => {
  it('converts every key bit-exactly with the RobotSeg config embedded', async () => {
    const { path, keys, sample } = await robotsegPt();
    expect(keys).toHaveLength(371 + 58);
    const out = join(tmp, 'rs.safetensors');
    const r = await runCli(['convert', path, out, '--config', join(ROBOTSEG_FIX, 'config.json')]);
    expect(r.code, r.err).toBe(0);
    const f = await openWeights(out);
    expect([...f.header.keys()].sort()).toEqual([...keys].sort());
    expect(Array.from(await f.readTensor(sample[0]))).toEqual(Array.from(sample[1]));
    expect(JSON.parse(f.metadata.config).robotseg).toBeTruthy();
    await f.close();
    if (rt) {
      // config from the metadata; strict load as a RobotSeg model
      const { model, store } = await loadModelWithStore(rt, out);
      expect(model).toBeInstanceOf(RobotSeg);
      store.destroy();
    }
    expect(readFileSync(out).length).toBeGreaterThan(13e6);
  });
});
