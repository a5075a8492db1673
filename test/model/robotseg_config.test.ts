// RobotSeg config and checkpoint key layout (no GPU): the built-in robotseg_hiera_t, the reduced golden
// config, and the module tree's keys against ../shared/reference/robotseg.extra-keys.json and the
// official sam2.1_hiera_tiny key list.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { numel } from '../../src/graph/dtype.js';
import { SAM21_HIERA_T, type Sam2Config } from '../../src/model/config.js';
import { checkStateDict } from '../../src/model/module.js';
import { RobotSeg } from '../../src/model/robotseg.js';
import { classIndex, ROBOTSEG_HIERA_T, robotsegAddedKeys, robotsegSpec } from '../../src/model/robotseg_config.js';
import { ROBOTSEG_FIX, robotsegFile, robotsegGoldenConfig } from '../helpers/robotseg.js';

const FIX = join(ROBOTSEG_FIX, '..');
const extra = JSON.parse(readFileSync(join(ROBOTSEG_FIX, 'extra_keys.json'), 'utf8')) as {
  added: Array<{ name: string; shape: number[] }>;
  totals: Record<string, number>;
};
const samKeys = JSON.parse(readFileSync(join(FIX, 'sam21_tiny_keys.json'), 'utf8')).keys as Array<[string, number[]]>;

const shapesOf = (m: RobotSeg) => new Map(m.namedParams().map(([k, p]) => [k, [...p.shape]]));

describe('RobotSeg config and key layout', () => {
  it('robotseg_hiera_t resolves to the full-size additions', () => {
    const s = robotsegSpec(ROBOTSEG_HIERA_T);
    expect(s).toMatchObject({ dModel: 256, memDim: 64, grid: [64, 64], classVocab: ['arm', 'gripper', 'robot'] });
    expect(s.sema).toEqual({
      heads: 1,
      ropeTheta: 10000,
      kernels: [3, 5, 7],
      groupNormGroups: 32,
      groupNormEps: 1e-5,
      upsample: 16,
      alphaInit: 1,
    });
    expect(s.rpg).toEqual({ embedDim: 256, regions: 3, micro: 4, maskThresh: 0.5 });
    expect(classIndex(s, 'robot')).toBe(2);
    expect(() => classIndex(s, 'Robot')).toThrow(/unknown robot category 'Robot'/);
    // every SAM 2.1 value is sam2.1_hiera_t's
    const { name: _a, robotseg: _b, ...samPart } = ROBOTSEG_HIERA_T;
    const { name: _c, ...sam } = SAM21_HIERA_T;
    expect(samPart).toEqual(sam);
  });

  it('full size: SAM 2.1 keys unchanged + exactly the 114 added tensors of robotseg.extra-keys.json (41,300,554 values)', () => {
    const shapes = shapesOf(new RobotSeg(ROBOTSEG_HIERA_T));
    for (const [k, s] of samKeys) expect(shapes.get(k), k).toEqual(s);
    const added = [...shapes].filter(([k]) => !samKeys.some(([s]) => s === k));
    expect(new Map(added)).toEqual(new Map(extra.added.map((e) => [e.name, e.shape])));
    expect(robotsegAddedKeys(ROBOTSEG_HIERA_T)).toEqual(extra.added.map((e) => ({ name: e.name, shape: e.shape })));
    expect(shapes.size).toBe(extra.totals.robotseg_num_tensors);
    expect([...shapes.values()].reduce((a, s) => a + numel(s), 0)).toBe(extra.totals.robotseg_total_elements);
  });

  it('reduced golden config: the 58 added keys of the recipe, with the shapes of the golden weights', async () => {
    const cfg = robotsegGoldenConfig();
    const s = robotsegSpec(cfg);
    expect(s).toMatchObject({ dModel: 64, memDim: 16, grid: [16, 16] });
    expect(s.sema.groupNormGroups).toBe(8);
    const recipe = (cfg as unknown as { weights_recipe: { added_keys: string[] } }).weights_recipe.added_keys;
    expect(
      robotsegAddedKeys(cfg)
        .map((e) => e.name)
        .sort(),
    ).toEqual([...recipe].sort());
    const f = await robotsegFile('weights_added.safetensors');
    const fileShapes = new Map([...f.header].map(([k, t]) => [k, t.shape]));
    await f.close();
    expect(new Map(robotsegAddedKeys(cfg).map((e) => [e.name, e.shape]))).toEqual(fileShapes);
    // strictness: a SAM 2.1-only checkpoint misses the additions, by name
    const model = new RobotSeg(cfg);
    const samOnly = new Map([...shapesOf(model)].filter(([k]) => !fileShapes.has(k)));
    const errs = checkStateDict(model.namedParams(), samOnly);
    expect(errs.filter((e) => e.startsWith('missing key')).length).toBe(58);
    expect(errs.length).toBe(59); // + the tensor count line of the one strict check
    expect(errs[0]).toMatch(/missing key 'memory_attention\.layers\.0\.structure_strength'/);
  });

  it('rejects inconsistent robotseg blocks with the offending value', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the edits reach into nested config blocks by name
    type Loose = Record<string, any>;
    const bad = (edit: (b: Loose) => void): Sam2Config => {
      const c = structuredClone(ROBOTSEG_HIERA_T);
      edit(c.robotseg as Loose);
      return c;
    };
    expect(() => robotsegSpec(SAM21_HIERA_T)).toThrow(/no 'robotseg' block/);
    expect(() => robotsegSpec(bad((b) => (b.memory_attention_layer.ms_pyramid.groupnorm_groups = 30)))).toThrow(
      /groupnorm_groups 30 must divide 256/,
    );
    expect(() => robotsegSpec(bad((b) => (b.robot_prompt_generator.memory_channels = 32)))).toThrow(
      /memory_channels 32 != memory_encoder.out_dim 64/,
    );
    expect(() => robotsegSpec(bad((b) => (b.memory_attention_layer.ms_pyramid.kernels = [3, 5])))).toThrow(
      /kernels must be \[3, 5, 7\]/,
    );
    expect(() => robotsegSpec(bad((b) => (b.robot_prompt_generator.tokens_per_memory_frame = 256)))).toThrow(
      /tokens_per_memory_frame 256 != 64x64/,
    );
    expect(() =>
      robotsegSpec(bad((b) => (b.memory_attention_layer.cross_attention_structure.kv_in_dim = 256))),
    ).toThrow(/kv_in_dim 256 != memory_encoder.out_dim 64/);
  });
});
