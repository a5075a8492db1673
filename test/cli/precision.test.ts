// `--precision f32|f16` on segment, track, dataset, serve and bench, spawned as a user runs them:
//   - on SwiftShader (Debian's chromium ships it; Dawn exposes no shader-f16 there) every command
//     refuses --precision f16 with one line naming the adapter, exit 2, before any output is written;
//   - a bad value is one line, exit 2;
//   - on this machine's default adapter (lavapipe: shader-f16) `segment --precision f16` writes a mask
//     that agrees with the f32 one (IoU >= 0.99) and the bench help advertises the flag.
// Without SwiftShader the refusal cases skip with the reason, except under CI=true (CI installs chromium).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMask } from '../../src/node/image_io.js';
import { softwareIcds } from '../../src/node/adapter.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN, GOLDEN_MODEL_ARGS as MODEL } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { makeRobotSegWeights, TINY } from '../dataset/helpers.js';

const IMG = join(GOLDEN, 'image_200x150.png');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-precision-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();

const swiftshader = softwareIcds('swiftshader').length > 0;
if (!swiftshader) {
  if (process.env.CI === 'true') throw new Error('CI=true but no SwiftShader ICD (apt-get install chromium)');
  console.warn('[precision refusal tests skipped] no SwiftShader ICD: apt-get install chromium');
}
const SWIFT = { ...process.env, ROBOTSEG_ADAPTER: 'swiftshader' };
const LACKS = /^robotseg: --precision f16 needs the adapter feature shader-f16, which SwiftShader[^\n]* lacks$/;

/** Exit 2, one stderr line matching `re`, nothing on stdout. */
async function refused(args: string[], re: RegExp, env: NodeJS.ProcessEnv = process.env) {
  const r = await runCli(args, { env, timeout: 300_000 });
  expect(r.code, r.err).toBe(2);
  expect(r.err.trimEnd().split('\n'), r.err).toHaveLength(1);
  expect(r.err.trimEnd()).toMatch(re);
  expect(r.out).toBe('');
}

describe.skipIf(!swiftshader)('--precision f16 on SwiftShader (no shader-f16): exit 2, one line', () => {
  it('segment', async () => {
    const out = join(tmp, 'seg.png');
    await refused(['segment', IMG, ...MODEL, '--point', '90,82.5', '--out', out, '--precision', 'f16'], LACKS, SWIFT);
    expect(existsSync(out)).toBe(false);
  });
  it('track', async () => {
    const frames = join(tmp, 'frames');
    mkdirSync(frames, { recursive: true });
    for (let i = 0; i < 2; i++) copyFileSync(join(GOLDEN, `video_frame${i}.png`), join(frames, `${i}.png`));
    const out = join(tmp, 'track_out');
    await refused(
      ['track', frames, ...MODEL, '--point', '0:90,82.5', '--out', out, '--precision', 'f16'],
      LACKS,
      SWIFT,
    );
    expect(existsSync(join(out, '0.png'))).toBe(false);
  });
  it('dataset', async () => {
    const rs = await makeRobotSegWeights(join(tmp, 'RS.safetensors'));
    const out = join(tmp, 'ds_out');
    await refused(['dataset', TINY, '--weights', rs, '--out', out, '--precision', 'f16', '--quiet'], LACKS, SWIFT);
  });
  it('serve', async () => {
    await refused(['serve', ...MODEL, '--port', '0', '--precision', 'f16'], LACKS, SWIFT);
  });
  it('bench', async () => {
    await refused(['bench', '--filter', 'image_encoder', '--no-peers', '--precision', 'f16'], LACKS, SWIFT);
  });
});

describe('--precision: bad values', () => {
  it('segment and bench refuse anything but f32 / f16', async () => {
    const bad = /^robotseg: --precision must be f32 or f16, got 'half'$/;
    await refused(['segment', IMG, ...MODEL, '--point', '90,82.5', '--precision', 'half'], bad);
    await refused(['bench', '--precision', 'half'], bad);
  });
  it('bench --help advertises --precision', async () => {
    const r = await runCli(['bench', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--precision <p>/);
  });
});

describe.skipIf(!rt?.hasF16)('segment --precision f16 on an adapter with shader-f16', () => {
  it('writes a mask that agrees with the f32 one (IoU >= 0.99)', async () => {
    const masks: Uint8Array[] = [];
    for (const p of ['f32', 'f16']) {
      const out = join(tmp, `seg_${p}.png`);
      const r = await runCli(['segment', IMG, ...MODEL, '--point', '90,82.5', '--out', out, '--precision', p]);
      expect(r.code, r.err).toBe(0);
      masks.push(readMask(out).data);
    }
    let inter = 0;
    let union = 0;
    for (let i = 0; i < masks[0].length; i++) {
      const a = masks[0][i] === 1;
      const b = masks[1][i] === 1;
      if (a && b) inter++;
      if (a || b) union++;
    }
    expect(union).toBeGreaterThan(0);
    expect(inter / union).toBeGreaterThanOrEqual(0.99);
  });
});
