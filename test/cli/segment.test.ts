// `robotseg segment` end to end, spawned as a user runs it (node bin/robotseg.js), on the reduced
// golden model (test/fixtures/golden: official PyTorch outputs for the same image, prompts, weights).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import { guidedRefine } from '../../src/model/refine.js';
import { readImage, readMask } from '../../src/node/image_io.js';
import { openWeights } from '../../src/node/weights_file.js';
import { compare } from '../helpers/compare.js';
import { GOLDEN, goldenFile } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { buildPt } from '../io/pt_builder.js';

const _ROOT = join(import.meta.dirname, '..', '..');
const IMG = join(GOLDEN, 'image_200x150.png');
const WEIGHTS = join(GOLDEN, 'weights.safetensors');
const CONFIG = join(GOLDEN, 'config.json');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-segment-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();

function cli(...args: string[]) {
  return runCli(['segment', ...args]);
}

/** Exit code 2 and exactly one stderr line matching `re`. */
async function userError(re: RegExp, ...args: string[]) {
  const r = await cli(...args);
  expect(r.code, r.err).toBe(2);
  expect(r.err).toMatch(re);
  expect(r.err.trimEnd().split('\n'), r.err).toHaveLength(1);
}

describe('robotseg segment: user errors (exit 2, one line)', () => {
  const base = [IMG, '--weights', WEIGHTS, '--config', CONFIG];
  it('prompts: outside the image, NaN, bad label, empty or inverted box, malformed', async () => {
    await userError(/point \(500, 20\) is outside the 200x150 image/, ...base, '--point', '500,20');
    await userError(/--point 'NaN,3': 'NaN' is not a finite number/, ...base, '--point', 'NaN,3');
    await userError(/label must be 1 \(foreground\) or 0 \(background\), got 2/, ...base, '--point', '10,10,2');
    await userError(/--box '50,50,10,60': empty or inverted box/, ...base, '--box', '50,50,10,60');
    await userError(/--box '5,5,5,60': empty or inverted box/, ...base, '--box', '5,5,5,60');
    await userError(/--box '1,2,3': expected 4 comma-separated numbers/, ...base, '--box', '1,2,3');
    await userError(
      /box corner \(10, 10\) is outside|box corner \(300, 100\) is outside/,
      ...base,
      '--box',
      '10,10,300,100',
    );
  });

  it('files: missing image, corrupt image, missing weights, missing output directory', async () => {
    await userError(
      /cannot read image .*nope\.png.*no such file/,
      join(tmp, 'nope.png'),
      '--weights',
      WEIGHTS,
      '--config',
      CONFIG,
    );
    const bad = join(tmp, 'bad.png');
    writeFileSync(
      bad,
      Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('garbage')]),
    );
    await userError(/corrupt PNG/, bad, '--weights', WEIGHTS, '--config', CONFIG);
    await userError(
      /cannot read weights '.*missing\.safetensors': no such file/,
      IMG,
      '--weights',
      join(tmp, 'missing.safetensors'),
    );
    await userError(
      /cannot write --out .*: folder .*nodir' does not exist/,
      ...base,
      '--out',
      join(tmp, 'nodir', 'm.png'),
    );
    await userError(/--mask-input .*: no 'low_res_logits' tensor/, ...base, '--mask-input', WEIGHTS);
  });

  it.skipIf(!rt)(
    'a config.json beside the weights identifies a non-built-in layout (golden .pt without --config)',
    async () => {
      const r = await cli(IMG, '--weights', WEIGHTS, '--point', '90,82.5', '--out', join(tmp, 'sidecar.png'));
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/\(sidecar\)/);
    },
  );

  it('configs: one that does not fit, none for a non-built-in layout, unknown name', async () => {
    await userError(
      /--config 'sam2\.1_hiera_t' does not fit the checkpoint: 'maskmem_tpos_enc' has shape \[7, 1, 1, 16\]/,
      IMG,
      '--weights',
      WEIGHTS,
      '--config',
      'sam2.1_hiera_t',
    );
    // a bare copy (no config.json beside it) of a non-built-in layout needs --config
    const bare = join(tmp, 'bare', 'weights.safetensors');
    mkdirSync(dirname(bare), { recursive: true });
    copyFileSync(WEIGHTS, bare);
    await userError(/matches no known config .*Pass --config/, IMG, '--weights', bare);
    await userError(/--config nosuch: neither a built-in config/, IMG, '--weights', WEIGHTS, '--config', 'nosuch');
  });
});

describe.skipIf(!rt)('robotseg segment on the GPU vs the official predictor (reduced golden)', () => {
  let golden: WeightsFile;
  const t1 = join(tmp, 'click1.safetensors');
  beforeAll(async () => {
    golden = await goldenFile('image.safetensors');
  });
  afterAll(async () => {
    await golden?.close();
  });

  // Mask logits 1e-3 absolute (golden README); IoU / object score 1e-4 of scale + 1e-3 relative.
  async function expectGolden(file: string, name: string, key: string, goldenKey: string, atol?: number) {
    const f = await openWeights(file);
    const got = await f.readTensor(key);
    await f.close();
    const want = await golden.readTensor(`image/${name}/${goldenKey}`);
    const r = compare(got, want, { atol: atol ?? 1e-4 * Math.max(...want.map(Math.abs)), rtol: 1e-3 });
    expect(r.ok, `${name} ${key}: ${r.msg}`).toBe(true);
    return got;
  }

  it('one click (.safetensors + --config): every output, saved tensors equal golden click1', async () => {
    const r = await cli(
      IMG,
      '--weights',
      WEIGHTS,
      '--config',
      CONFIG,
      '--point',
      '90,82.5',
      '--out',
      join(tmp, 'best.png'),
      '--out-all',
      join(tmp, 'all'),
      '--overlay',
      join(tmp, 'overlay.png'),
      '--save-tensors',
      t1,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^image_200x150\.png 200x150: 3 masks \(iou [\d., ]+\), best \d/);
    expect(r.err).toMatch(/config sam2\.1_hiera_reduced_test \(argument\)/);
    await expectGolden(t1, 'click1', 'low_res_logits', 'out.low_res_logits_clamped', 1e-3);
    const logits = await expectGolden(t1, 'click1', 'logits', 'out.mask_logits_orig_res', 1e-3);
    const iou = await expectGolden(t1, 'click1', 'iou_scores', 'out.iou');
    await expectGolden(t1, 'click1', 'object_score_logits', 'decoder.object_score_logits');
    // masks: 0/255 at the image size, equal to logits > 0 of the saved tensors; --out is the best
    const n = 200 * 150;
    const best = iou.indexOf(Math.max(...iou));
    for (let i = 0; i < 3; i++) {
      const m = readImage(join(tmp, `all${i}.png`));
      expect([m.width, m.height]).toEqual([200, 150]);
      for (let p = 0; p < n; p++) {
        const want = logits[i * n + p] > 0 ? 255 : 0;
        if (m.data[3 * p] !== want) expect.fail(`all${i}.png pixel ${p}: ${m.data[3 * p]} != ${want}`);
      }
    }
    expect(
      Buffer.from(readImage(join(tmp, 'best.png')).data).equals(
        Buffer.from(readImage(join(tmp, `all${best}.png`)).data),
      ),
    ).toBe(true);
    expect(existsSync(join(tmp, 'all3.png'))).toBe(false);
    const ov = readImage(join(tmp, 'overlay.png'));
    expect([ov.width, ov.height]).toEqual([200, 150]);
  });

  it('--refine: every written mask through the guided-filter refinement', async () => {
    const r = await cli(
      IMG,
      '--weights',
      WEIGHTS,
      '--config',
      CONFIG,
      '--point',
      '90,82.5',
      '--out-all',
      join(tmp, 'refined'),
      '--refine',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/guided-filter refinement of 3 masks: /);
    const img = readImage(IMG);
    for (let i = 0; i < 3; i++) {
      const plain = readMask(join(tmp, `all${i}.png`)).data; // from the first test
      const want = await guidedRefine(rt!, img, plain);
      expect(Buffer.from(readMask(join(tmp, `refined${i}.png`)).data).equals(Buffer.from(want)), `mask ${i}`).toBe(
        true,
      );
    }
  });

  it('--mask-input round trip with a .pt checkpoint equals golden click1_maskin', async () => {
    // an official-style torch.save checkpoint of the golden weights, read by the .pt loader
    const st = await openWeights(WEIGHTS);
    const tensors = [];
    for (const [key, t] of st.header) tensors.push({ key, data: await st.readRaw(key), shape: t.shape });
    await st.close();
    const pt = join(tmp, 'weights.pt');
    writeFileSync(pt, buildPt(tensors));
    const out = join(tmp, 'maskin.safetensors');
    const r = await cli(
      IMG,
      '--weights',
      pt,
      '--config',
      CONFIG,
      '--point',
      '90,82.5',
      '--mask-input',
      t1,
      '--no-multimask',
      '--save-tensors',
      out,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/\(pt\), config sam2\.1_hiera_reduced_test/);
    expect(r.out).toMatch(/: 1 mask \(iou/);
    await expectGolden(out, 'click1_maskin', 'low_res_logits', 'out.low_res_logits_clamped', 1e-3);
    await expectGolden(out, 'click1_maskin', 'logits', 'out.mask_logits_orig_res', 1e-3);
    await expectGolden(out, 'click1_maskin', 'iou_scores', 'out.iou');
  });
});
