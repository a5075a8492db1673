// `robotseg train` end to end, spawned as a user runs it: bad datasets fail before any training with
// a clear message; a short run on a VRS-layout copy of the fixture clip writes the weights, the
// resumable checkpoint and one JSON log line per step; the weights load in `robotseg track`; --resume
// continues the step count and the optimiser state.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWeights } from '../../src/node/weights_file.js';
import { writeMaskPng } from '../../src/node/image_io.js';
import { readTrainDataset } from '../../src/node/train_data.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { testRuntime } from '../helpers/gpu.js';

const CLIP = join(ROOT, 'test', 'fixtures', 'train_clip');
const GOLD = join(ROOT, 'test', 'fixtures', 'golden');
const WEIGHTS = join(GOLD, 'weights.safetensors');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();

/** A VRS dataset with the first `n` frames of the fixture clip and only the first robot mask. */
function dataset(name: string, n: number, opts: { maskSize?: [number, number]; noMask?: boolean } = {}): string {
  const root = join(tmp, name);
  const img = join(root, 'JPEGImages', 'clip');
  const ann = join(root, 'Annotations', 'clip', '002');
  mkdirSync(img, { recursive: true });
  mkdirSync(ann, { recursive: true });
  for (const f of readdirSync(join(CLIP, 'JPEGImages', 'clip'))
    .sort()
    .slice(0, n))
    copyFileSync(join(CLIP, 'JPEGImages', 'clip', f), join(img, f));
  if (opts.maskSize) {
    const [w, h] = opts.maskSize;
    writeMaskPng(join(ann, '00000.png'), w, h, new Uint8Array(w * h).fill(1));
  } else if (!opts.noMask) copyFileSync(join(CLIP, 'Annotations', 'clip', '002', '00000.png'), join(ann, '00000.png'));
  return root;
}

const train = (args: string[]) => runCli(['train', ...args], { timeout: 400_000 });

describe('robotseg train: input checks (no GPU work)', () => {
  it('a folder that is not a VRS dataset, a mask of the wrong size, no annotation of the target', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const out = join(tmp, 'x.safetensors');
    let r = await train([empty, '--weights', WEIGHTS, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a VRS folder \(needs JPEGImages\/ and Annotations\/\)/);
    r = await train([dataset('badsize', 3, { maskSize: [100, 50] }), '--weights', WEIGHTS, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/frame '.*00000\.jpg' is 240x136 but the annotated mask '.*00000\.png' is 100x50/);
    r = await train([dataset('nomask', 3, { noMask: true }), '--weights', WEIGHTS, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no video .* can train 002 \(robot\).*clip: no annotation for 002 \(robot\)/);
    r = await train([dataset('arm', 3), '--weights', WEIGHTS, '--out', out, '--target', 'arm']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no annotation for 000 \(arm\)/);
    r = await train([dataset('ok0', 3), '--weights', WEIGHTS, '--out', out, '--steps', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--steps '0': expected an integer >= 1/);
    r = await train([dataset('ok1', 3), '--weights', WEIGHTS, '--out', out, '--clip-length', '4']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--clip-length '4': expected an odd integer/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('training datasets', () => {
  it('one video without the per-video level (JPEGImages/*.jpg + Annotations/*.png) is read as one video', () => {
    const root = join(tmp, 'flat');
    mkdirSync(join(root, 'JPEGImages'), { recursive: true });
    mkdirSync(join(root, 'Annotations'), { recursive: true });
    for (const f of readdirSync(join(CLIP, 'JPEGImages', 'clip'))
      .sort()
      .slice(0, 4))
      copyFileSync(join(CLIP, 'JPEGImages', 'clip', f), join(root, 'JPEGImages', f));
    copyFileSync(join(CLIP, 'Annotations', 'clip', '002', '00002.png'), join(root, 'Annotations', '00002.png'));
    const d = readTrainDataset(root, 'robot');
    expect(d.videos.map((v) => [v.name, v.frames.length, v.anchor])).toEqual([['flat', 4, 2]]);
    expect(d.videos[0].mask).toBe(join(root, 'Annotations', '00002.png'));
    expect(() => readTrainDataset(root, 'arm')).toThrow(/no annotation for 000 \(arm\)/);
  });
});

describe.skipIf(!rt)('robotseg train on the fixture clip (reduced golden weights)', () => {
  it('trains, logs every step, writes weights that track loads, and resumes', async () => {
    const data = dataset('clip', 6);
    const out = join(tmp, 'trained.safetensors');
    const ckpt = join(tmp, 'trained.ckpt.safetensors');
    const log = join(tmp, 'log.jsonl');
    const common = [
      data,
      '--weights',
      WEIGHTS,
      '--out',
      out,
      '--clip-length',
      '3',
      '--freeze',
      'image_encoder',
      '--prompt',
      'box',
      '--log',
      log,
      '--quiet',
    ];
    let r = await train([...common, '--steps', '3', '--save-every', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(''); // --quiet: nothing at all on success (the steps are in the log)
    let lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3]);
    for (const l of lines) {
      for (const k of ['total', 'cycle', 'semantic', 'patch', 'focal', 'dice', 'iou', 'class'])
        expect(Number.isFinite(l.loss[k]), k).toBe(true);
      expect(l.lr.heads).toBeGreaterThan(0);
      expect(l.lr.encoder).toBeUndefined(); // frozen
      expect(l.gradNorm).toBeGreaterThan(0);
      expect(l.peakBytes).toBeGreaterThan(0);
      expect(l.clips[0].frames[0]).toBe(0);
    }
    // weights: model keys only, config embedded
    const w = await openWeights(out);
    expect(w.metadata?.format).toBe('robotseg-train');
    expect([...w.header.keys()].some((k) => k.startsWith('adam.'))).toBe(false);
    const ref = await openWeights(WEIGHTS);
    expect(w.header.size).toBe(ref.header.size);
    // trained tensors moved, frozen ones did not
    const moved = await w.readTensor('sam_mask_decoder.iou_prediction_head.layers.0.weight');
    const orig = await ref.readTensor('sam_mask_decoder.iou_prediction_head.layers.0.weight');
    expect(moved.some((v, i) => v !== orig[i])).toBe(true);
    const enc = await w.readTensor('image_encoder.trunk.blocks.0.attn.qkv.weight');
    const encRef = await ref.readTensor('image_encoder.trunk.blocks.0.attn.qkv.weight');
    expect(enc.every((v, i) => v === encRef[i])).toBe(true);
    await w.close();
    await ref.close();
    // the output loads in track (config from the metadata, no --config)
    const trackOut = join(tmp, 'track');
    r = await runCli([
      'track',
      join(data, 'JPEGImages', 'clip'),
      '--weights',
      out,
      '--point',
      '0:50,25',
      '--max-frames',
      '2',
      '--out',
      trackOut,
      '--quiet',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(trackOut).sort()).toEqual(['00000.png', '00001.png']);
    // resume: continues at step 4 of a 4-step schedule
    const c = await openWeights(ckpt);
    expect(c.metadata?.step).toBe('3');
    await c.close();
    r = await train([...common, '--steps', '4', '--resume', ckpt]);
    expect(r.code, r.err).toBe(0);
    lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    // a weights file is not a checkpoint
    r = await train([...common, '--steps', '5', '--resume', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--resume '.*' is --out; give the <stem>\.ckpt\.safetensors checkpoint/);
    const weightsCopy = join(tmp, 'weights_copy.safetensors');
    copyFileSync(out, weightsCopy);
    r = await train([...common, '--steps', '5', '--resume', weightsCopy]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a robotseg train checkpoint/);
  });
});
