// `robotseg eval` end to end on test/fixtures/eval/clip (5 frames of the RoboEngine clip and a
// perturbed copy: shifted, eroded, dilated, 3-frame lag). Expected numbers come from
// test/fixtures/eval/make_expected.py, an independent numpy transcription of the DAVIS toolkit and
// of the SA-V evaluator: compared for exact (bit) equality.
import { runCli } from '../helpers/cli.js';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodePng } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLIP = join(ROOT, 'test/fixtures/eval/clip');
const expected = JSON.parse(readFileSync(join(CLIP, 'expected.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-cli-eval-'));

function cli(args: string[]) {
  return runCli(['eval', ...args]);
}
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

describe('robotseg eval', () => {
  it('davis protocol (default; GPU when an adapter exists): table + JSON equal to the toolkit', async () => {
    const json = join(tmp, 'davis.json');
    const r = await cli(['--pred', join(CLIP, 'pred'), '--gt', join(CLIP, 'gt'), '--json', json, '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /J&F-Mean +J-Mean +J-Recall +J-Decay +F-Mean +F-Recall +F-Decay\n +0\.802 +0\.799 +1\.000 +0\.356 +0\.805 +0\.667 +0\.574/,
    );
    const got = readJson(json);
    const e = expected.davis;
    for (const k of ['J_mean', 'F_mean', 'JF_mean', 'J_recall', 'J_decay', 'F_recall', 'F_decay'])
      expect(got[k], k).toBe(e[k]);
    expect(got.objects['1']).toMatchObject(e.objects['1']);
    expect(got.protocol).toBe('davis');
  });

  it('--keep-first-last, --cpu', async () => {
    const json = join(tmp, 'keep.json');
    expect(
      (
        await cli([
          '--pred',
          join(CLIP, 'pred'),
          '--gt',
          join(CLIP, 'gt'),
          '--json',
          json,
          '--keep-first-last',
          '--cpu',
          '--quiet',
        ])
      ).code,
    ).toBe(0);
    const got = readJson(json);
    expect([got.J_mean, got.F_mean, got.JF_mean]).toEqual([
      expected.davis_keep.J_mean,
      expected.davis_keep.F_mean,
      expected.davis_keep.JF_mean,
    ]);
    expect(got.objects['1'].frames).toHaveLength(5);
  });

  it('sav protocol on per-object folders (VRS layout, robot category): SA-V table at 0-100', async () => {
    // GT: <root>/Annotations/clip/002/*.png (palette PNGs); prediction: <pred>/clip/robot/*.png
    cpSync(join(CLIP, 'gt'), join(tmp, 'vrs/Annotations/clip/002'), { recursive: true });
    mkdirSync(join(tmp, 'vrs/JPEGImages/clip'), { recursive: true });
    cpSync(join(CLIP, 'pred'), join(tmp, 'vrspred/clip/robot'), { recursive: true });
    const json = join(tmp, 'sav.json');
    const r = await cli([
      '--pred',
      join(tmp, 'vrspred'),
      '--gt',
      join(tmp, 'vrs'),
      '--protocol',
      'sav',
      '--keep-first-last',
      '--json',
      json,
      '--quiet',
    ]);
    expect(r.code, r.err).toBe(0);
    const e = expected.sav_keep;
    expect(r.out).toContain(`Global score: J&F: ${e.JF.toFixed(1)} J: ${e.J.toFixed(1)} F: ${e.F.toFixed(1)}`);
    expect(r.out).toMatch(/clip +002 +86\.0 +83\.8 +88\.3/);
    const got = readJson(json);
    expect(got.sav_table).toMatchObject({ J: e.J, F: e.F, JF: e.JF });
    expect(got.sequences.clip.objects['002'].J).toEqual(e.objects['1'].J);
    expect(Object.keys(got.objects)).toEqual(['clip/002']);
  });

  it('user errors exit with code 2 and one line', async () => {
    const noGt = await cli(['--pred', join(CLIP, 'pred')]);
    expect([noGt.code, noGt.err.trim()]).toEqual([
      2,
      'robotseg: give --pred DIR and --gt DIR (or a DATASET folder with --weights and --setting)',
    ]);
    const ds = await cli(['/some/dataset', '--setting', '1C']);
    expect(ds.code).toBe(2);
    expect(ds.err).toMatch(/--weights FILE is required to evaluate a dataset/);
    cpSync(join(CLIP, 'pred'), join(tmp, 'partial'), { recursive: true, filter: (s) => !s.endsWith('00002.png') });
    const miss = await cli(['--pred', join(tmp, 'partial'), '--gt', join(CLIP, 'gt'), '--cpu']);
    expect(miss.code).toBe(2);
    expect(miss.err).toMatch(/missing prediction for sequence 'gt' frame 00002\.png/);
    mkdirSync(join(tmp, 'small'));
    for (let i = 0; i < 5; i++)
      writeFileSync(
        join(tmp, `small/0000${i}.png`),
        encodePng({ width: 4, height: 3, colorType: 0, bitDepth: 8, samples: new Array(12).fill(0) }),
      );
    const size = await cli(['--pred', join(tmp, 'small'), '--gt', join(CLIP, 'gt'), '--cpu']);
    expect([size.code, size.err.trim()]).toEqual([
      2,
      "robotseg: prediction of sequence 'gt' frame 00001.png is 4x3 but the ground truth is 960x544 (the evaluators never resize)",
    ]);
    const proto = await cli(['--pred', join(CLIP, 'pred'), '--gt', join(CLIP, 'gt'), '--protocol', 'youtube']);
    expect([proto.code, proto.err.trim()]).toEqual([2, 'robotseg: --protocol youtube: use davis or sav']);
  });
});
