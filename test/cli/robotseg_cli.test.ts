// RobotSeg on the command line, end to end (spawned as a user runs it): `init-robotseg` from the
// reduced golden SAM 2.1 weights with the reduced RobotSeg config, then `segment --target` (one-frame
// video, automatic mode) and `track --target arm,gripper,robot` (3 objects, one encoder pass per
// frame) on the starting checkpoint, whose config is read from its metadata.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWeights } from '../../src/node/weights_file.js';
import { readMask } from '../../src/node/image_io.js';
import { initAddedTensor, initRng } from '../../src/cli/init_robotseg.js';
import { runCli } from '../helpers/cli.js';
import { testRuntime } from '../helpers/gpu.js';

const ROOT = join(import.meta.dirname, '..', '..');
const GOLD = join(ROOT, 'test', 'fixtures', 'golden');
const RSCFG = join(ROOT, 'test', 'fixtures', 'robotseg', 'config.json');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-rs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();
const RS = join(tmp, 'RS.safetensors');

const cli = (args: string[]) => runCli(args, { timeout: 240_000 });

describe('init-robotseg', () => {
  it('copies the SAM part, adds the RobotSeg tensors (seeded), embeds the config', async () => {
    const r = await cli([
      'init-robotseg',
      '--from',
      join(GOLD, 'weights.safetensors'),
      '--out',
      RS,
      '--config',
      RSCFG,
      '--seed',
      '7',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /371 SAM 2\.1 tensors copied \+ 58 RobotSeg tensors \(83,460 values, seed 7\), config robotseg_hiera_reduced_test embedded/,
    );
    const f = await openWeights(RS);
    const sam = await openWeights(join(GOLD, 'weights.safetensors'));
    expect(f.header.size).toBe(429);
    expect(JSON.parse(f.metadata.config).robotseg).toBeDefined();
    // SAM part bit-identical
    for (const k of [
      'image_encoder.trunk.patch_embed.proj.weight',
      'sam_mask_decoder.iou_token.weight',
      'memory_attention.layers.1.linear2.bias',
    ]) {
      expect(Buffer.from(await f.readRaw(k)).equals(Buffer.from(await sam.readRaw(k))), k).toBe(true);
    }
    // the init rules (RobotSeg = PyTorch module defaults)
    expect(Array.from(await f.readTensor('memory_attention.layers.0.structure_strength'))).toEqual([1]);
    expect(
      Array.from(await f.readTensor('memory_attention.layers.1.ms_pyramid.conv5.norm.weight')).every((v) => v === 1),
    ).toBe(true);
    expect(
      Array.from(await f.readTensor('memory_attention.layers.1.ms_pyramid.conv5.norm.bias')).every((v) => v === 0),
    ).toBe(true);
    const fuse = await f.readTensor('memory_attention.layers.0.ms_pyramid.fuse.weight'); // [64, 192, 1, 1]: U(+-1/sqrt(192))
    const b = 1 / Math.sqrt(192);
    expect(Math.max(...fuse.map(Math.abs))).toBeLessThanOrEqual(b);
    expect(Math.max(...fuse.map(Math.abs))).toBeGreaterThan(0.95 * b);
    const cls = await f.readTensor('sam_mask_decoder.robot_token_embedding.weight'); // N(0, 1), 192 values
    const mean = cls.reduce((a, v) => a + v, 0) / cls.length;
    const sd = Math.sqrt(cls.reduce((a, v) => a + (v - mean) ** 2, 0) / cls.length);
    expect(Math.abs(mean)).toBeLessThan(0.25);
    expect(sd).toBeGreaterThan(0.8);
    expect(sd).toBeLessThan(1.2);
    await f.close();
    await sam.close();
    // deterministic per seed, different across seeds
    const a = initAddedTensor('x.weight', [4, 8], initRng(7), () => 8, 1);
    expect(Array.from(initAddedTensor('x.weight', [4, 8], initRng(7), () => 8, 1))).toEqual(Array.from(a));
    expect(Array.from(initAddedTensor('x.weight', [4, 8], initRng(8), () => 8, 1))).not.toEqual(Array.from(a));
  }, 60_000);

  it('user errors', async () => {
    let r = await cli([
      'init-robotseg',
      '--from',
      join(GOLD, 'weights.safetensors'),
      '--out',
      join(tmp, 'x.safetensors'),
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/has shape .*robotseg_hiera_t' expects|unexpected key|missing key/);
    r = await cli(['init-robotseg', '--from', RS, '--out', join(tmp, 'y.safetensors'), '--config', RSCFG]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/already a RobotSeg checkpoint/);
    r = await cli([
      'init-robotseg',
      '--from',
      join(GOLD, 'weights.safetensors'),
      '--out',
      join(tmp, 'z.safetensors'),
      '--config',
      join(GOLD, 'config.json'),
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is a SAM 2\.1 config; init-robotseg needs a RobotSeg config/);
  }, 60_000);
});

describe.skipIf(!rt)('segment / track --target on the init-robotseg checkpoint', () => {
  it('segment --target arm (automatic mode, one-frame video) and several targets via --out-all', async () => {
    const img = join(GOLD, 'video_frame0.png');
    let r = await cli(['segment', img, '--weights', RS, '--target', 'arm', '--out', join(tmp, 'arm.png')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^video_frame0\.png 200x150: arm \d+ px \(object score -?\d/);
    expect(readMask(join(tmp, 'arm.png')).width).toBe(200);
    r = await cli([
      'segment',
      img,
      '--weights',
      RS,
      '--target',
      'arm,gripper,robot',
      '--out-all',
      join(tmp, 'seg_'),
      '--quiet',
    ]);
    expect(r.code, r.err).toBe(0);
    for (const t of ['arm', 'gripper', 'robot']) expect(existsSync(join(tmp, `seg_${t}.png`)), t).toBe(true);
    // the same object, the same computation: --target arm alone equals arm among three targets
    expect(Array.from(readMask(join(tmp, 'seg_arm.png')).data)).toEqual(
      Array.from(readMask(join(tmp, 'arm.png')).data),
    );
    // no prompt and no --target: default target robot
    r = await cli(['segment', img, '--weights', RS, '--out', join(tmp, 'default.png')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/: robot \d+ px/);
    expect(Array.from(readMask(join(tmp, 'default.png')).data)).toEqual(
      Array.from(readMask(join(tmp, 'seg_robot.png')).data),
    );
    // a SAM 2.1 checkpoint has no targets
    r = await cli([
      'segment',
      img,
      '--weights',
      join(GOLD, 'weights.safetensors'),
      '--config',
      join(GOLD, 'config.json'),
      '--target',
      'arm',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--target needs RobotSeg weights/);
    r = await cli(['segment', img, '--weights', RS, '--target', 'hand']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/'hand' is not a robot target/);
  }, 180_000);

  it('track --target arm,gripper,robot writes DIR/<target>/<basename>.png; one target DIR/<basename>.png', async () => {
    const { mkdirSync, copyFileSync } = await import('node:fs');
    const frames = join(tmp, 'frames');
    mkdirSync(frames);
    for (const i of [0, 1]) copyFileSync(join(GOLD, `video_frame${i}.png`), join(frames, `video_frame${i}.png`));
    let r = await cli(['track', frames, '--weights', RS, '--target', 'arm,gripper,robot', '--out', join(tmp, 'trk')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/wrote 6 masks to .*\/\{arm,gripper,robot\}\//);
    for (const t of ['arm', 'gripper', 'robot'])
      expect(readdirSync(join(tmp, 'trk', t)).sort()).toEqual(['video_frame0.png', 'video_frame1.png']);
    // frame 0 of a track is the one-frame segmentation of that image
    expect(Array.from(readMask(join(tmp, 'trk', 'arm', 'video_frame0.png')).data)).toEqual(
      Array.from(readMask(join(tmp, 'arm.png')).data),
    );
    r = await cli(['track', frames, '--weights', RS, '--out', join(tmp, 'trk1'), '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(join(tmp, 'trk1')).sort()).toEqual(['video_frame0.png', 'video_frame1.png']);
    expect(Array.from(readMask(join(tmp, 'trk1', 'video_frame1.png')).data)).toEqual(
      Array.from(readMask(join(tmp, 'trk', 'robot', 'video_frame1.png')).data),
    );
  }, 240_000);
});
