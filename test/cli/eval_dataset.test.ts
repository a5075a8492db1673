// `robotseg eval DATASET --weights … --setting …` end to end (spawned as a user runs it) on the
// RoboEngine clip laid out as a VRS dataset by this test: the 5 frames of test/fixtures/video_clip
// (240x136) in JPEGImages/clip/, and the clip's robot masks (test/fixtures/eval/clip/gt, 960x544,
// downscaled 4x by 4x4 majority: the frames were downscaled 4x by area) in Annotations/clip/002/.
// Two more videos cover the start-frame rule (GT of the first frame blanked: start = frame 1) and the
// skip rule (GT empty everywhere: warning, skipped). Reduced golden weights (256 px).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { centroidClick } from '../../src/eval/clicks.js';
import { guidedRefine } from '../../src/model/refine.js';
import { VideoPredictor } from '../../src/model/video_predictor.js';
import { readLabelFile } from '../../src/node/eval_io.js';
import { openFrameSource } from '../../src/node/frame_source.js';
import { readMask, writeMaskPng } from '../../src/node/image_io.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { goldenModel, GOLDEN, GOLDEN_MODEL_ARGS as MODEL } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const CLIP = join(ROOT, 'test/fixtures/video_clip');
const GTCLIP = join(ROOT, 'test/fixtures/eval/clip/gt');
const W = 240,
  H = 136;
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-eval-ds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime();
const DS = join(tmp, 'vrs');

/** 960x544 label PNG -> 240x136 0/1 mask: a pixel is foreground when >= 8 of its 16 source pixels are. */
function downscaled(frame: string): Uint8Array {
  const m = readLabelFile(join(GTCLIP, `${frame}.png`));
  expect([m.width, m.height]).toEqual([4 * W, 4 * H]);
  const out = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let n = 0;
      for (let dy = 0; dy < 4; dy++)
        for (let dx = 0; dx < 4; dx++) n += m.data[(4 * y + dy) * m.width + 4 * x + dx] ? 1 : 0;
      out[y * W + x] = n >= 8 ? 1 : 0;
    }
  }
  return out;
}

/** VRS layout: clip (5 frames), late (frames 2-4, first GT blank), blank (2 frames, all GT empty). */
function buildDataset(): Record<string, Uint8Array[]> {
  const names = ['00000', '00001', '00002', '00003', '00004'];
  const gt = names.map(downscaled);
  const videos: Record<string, { frames: string[]; masks: Uint8Array[] }> = {
    clip: { frames: names, masks: gt },
    late: { frames: names.slice(2), masks: [new Uint8Array(W * H), gt[3], gt[4]] },
    blank: { frames: names.slice(0, 2), masks: [new Uint8Array(W * H), new Uint8Array(W * H)] },
  };
  for (const [v, { frames, masks }] of Object.entries(videos)) {
    mkdirSync(join(DS, 'JPEGImages', v), { recursive: true });
    mkdirSync(join(DS, 'Annotations', v, '002'), { recursive: true });
    frames.forEach((f, i) => {
      cpSync(join(CLIP, `${f}.jpg`), join(DS, 'JPEGImages', v, `${f}.jpg`));
      writeMaskPng(join(DS, 'Annotations', v, '002', `${f}.png`), W, H, masks[i]);
    });
  }
  return Object.fromEntries(Object.entries(videos).map(([k, v]) => [k, v.masks]));
}
const GT = buildDataset();

const cli = (args: string[]) => runCli(['eval', ...args], { timeout: 280_000 });
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

describe('robotseg eval DATASET: user errors (exit 2, one line, before any GPU work)', () => {
  const expectUserError = async (args: string[], re: RegExp) => {
    const r = await cli(args);
    expect(r.code, r.err).toBe(2);
    expect(
      r.err
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('warning:')),
      r.err,
    ).toHaveLength(1);
    expect(r.err).toMatch(re);
  };
  it('setting, target, weights, layout', async () => {
    await expectUserError([DS, ...MODEL], /give --setting AU\|1C\|3C\|BB\|OI/);
    await expectUserError([DS, ...MODEL, '--setting', '2C'], /--setting '2C': expected one of AU, 1C, 3C, BB, OI/);
    await expectUserError(
      [DS, ...MODEL, '--setting', '1C', '--target', 'hand'],
      /--target 'hand': expected arm, gripper, robot/,
    );
    await expectUserError([DS, '--setting', '1C'], /--weights FILE is required/);
    await expectUserError(
      [DS, ...MODEL, '--setting', 'AU'],
      /--setting AU \(automatic mode, no prompt\) needs RobotSeg weights; '.*weights\.safetensors' is SAM 2\.1/,
    );
    await expectUserError(
      [DS, ...MODEL, '--setting', '1C', '--target', 'arm'],
      /has no ground truth for --target arm: no video has an object folder 000/,
    );
    await expectUserError(
      [join(tmp, 'nowhere'), ...MODEL, '--setting', '1C'],
      /cannot read dataset '.*nowhere': no such folder/,
    );
    await expectUserError([CLIP, ...MODEL, '--setting', '1C'], /neither a VRS folder .* nor a RoboEngine test folder/);
    await expectUserError([DS, '--pred', DS, '--gt', DS], /either DATASET .* or --pred DIR --gt DIR/);
    await expectUserError(['--pred', DS, '--gt', DS, '--setting', '1C'], /--setting is for model-driven evaluation/);
  });
});

describe.skipIf(!rt)('robotseg eval DATASET on the GPU (reduced golden weights)', () => {
  it('--setting 1C: J&F per video and overall, saved masks re-score to the same numbers, masks equal an in-process run', {
    timeout: 300_000,
  }, async () => {
    const json = join(tmp, '1c.json');
    const out = join(tmp, 'pred1c');
    const r = await cli([DS, ...MODEL, '--setting', '1C', '--json', json, '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning: blank: the robot ground truth \(002\) is empty on every frame.*skipped/);
    expect(r.out).toMatch(/== setting 1C, target robot \(002\), SAM 2\.1 weights/);
    expect(r.out).toMatch(/Global score: J&F: \d+\.\d J: \d+\.\d F: \d+\.\d/);
    expect(r.out).toMatch(/\nclip +002 /);
    expect(r.out).toMatch(/\nlate +002 /);
    const j = readJson(json);
    expect(j).toMatchObject({ model: 'sam2.1', protocol: 'sav', keep_first_last: true, resize: 'official-video' });
    expect(j.skipped).toEqual([{ video: 'blank', target: 'robot', reason: 'ground truth empty on every frame' }]);
    const res = j.settings['1C'].robot;
    for (const k of ['J_mean', 'F_mean', 'JF_mean']) expect(res[k]).toBeGreaterThanOrEqual(0);
    expect(res.JF_mean).toBeLessThanOrEqual(1);
    expect(Object.keys(res.objects).sort()).toEqual(['clip/002', 'late/002']);
    expect(res.objects['clip/002'].J).toHaveLength(5); // first and last frames scored
    expect(res.videos.clip.start_frame).toBe(0);
    expect(res.videos.late.start_frame).toBe(1);
    const click = centroidClick({ width: W, height: H, data: GT.clip[0] });
    expect(res.videos.clip.prompts).toEqual([{ frame: 0, kind: 'clicks', clicks: [click] }]);

    // saved masks: every frame (the late video's frame 0, before its start, empty), 0/255 PNGs
    expect(readdirSync(join(out, 'clip', '002')).sort()).toEqual([
      '00000.png',
      '00001.png',
      '00002.png',
      '00003.png',
      '00004.png',
    ]);
    expect(readMask(join(out, 'late', '002', '00002.png')).data.every((v) => v === 0)).toBe(true);
    const re = join(tmp, 'rescore.json');
    const s = await cli([
      '--pred',
      out,
      '--gt',
      DS,
      '--protocol',
      'sav',
      '--keep-first-last',
      '--category',
      'robot',
      '--json',
      re,
      '--quiet',
    ]);
    expect(s.code, s.err).toBe(0);
    const rj = readJson(re);
    expect([rj.J_mean, rj.F_mean, rj.JF_mean]).toEqual([res.J_mean, res.F_mean, res.JF_mean]);

    // the same run in-process: official-video resize, the centroid click, propagation
    const model = await goldenModel(rt!);
    const src = await openFrameSource(join(DS, 'JPEGImages', 'clip'));
    const pred = new VideoPredictor(rt!, model, src, { resize: 'official-video' });
    await pred.addPoints(0, 0, { points: [click], clearOld: true });
    for await (const { frame, results } of pred.propagate()) {
      const saved = readMask(join(out, 'clip', '002', `0000${frame}.png`)).data;
      expect(Array.from(results[0].mask), `frame ${frame}`).toEqual(Array.from(saved));
    }
    pred.reset();
    src.close();

    // --refine: the start frame's mask as is, every later one through the guided-filter refinement
    const outR = join(tmp, 'pred1c_refined');
    const jr = join(tmp, '1c_refined.json');
    const rr = await cli([DS, ...MODEL, '--setting', '1C', '--out', outR, '--refine', '--json', jr]);
    expect(rr.code, rr.err).toBe(0);
    expect(rr.err).toMatch(/guided-filter refinement of 5 masks: /); // clip frames 1-4, late frame 2
    const rc = readJson(jr).settings['1C'].robot.videos.clip.refine;
    expect(rc.changed + rc.unchanged + rc.rejected + rc.empty).toBe(4);
    for (let t = 0; t < 5; t++) {
      const plain = readMask(join(out, 'clip', '002', `0000${t}.png`)).data;
      const refined = readMask(join(outR, 'clip', '002', `0000${t}.png`)).data;
      const img = await src.frame(t);
      const want = t === 0 ? plain : await guidedRefine(rt!, img, plain);
      expect(Array.from(refined), `refined frame ${t}`).toEqual(Array.from(want));
    }
  });

  it('RobotSeg weights: --setting AU,3C,BB,OI in one run (per-setting tables, summary, JSON, --out per setting)', {
    timeout: 300_000,
  }, async () => {
    const rs = join(tmp, 'rs.safetensors');
    const init = await runCli([
      'init-robotseg',
      '--from',
      join(GOLDEN, 'weights.safetensors'),
      '--out',
      rs,
      '--config',
      join(ROOT, 'test/fixtures/robotseg/config.json'),
      '--seed',
      '7',
    ]);
    expect(init.code, init.err).toBe(0);
    const json = join(tmp, 'rs.json');
    const out = join(tmp, 'predrs');
    const r = await cli([
      DS,
      '--weights',
      rs,
      '--setting',
      'au,3C',
      '--setting',
      'BB,OI',
      '--target',
      'robot',
      '--json',
      json,
      '--out',
      out,
      '--quiet',
    ]);
    expect(r.code, r.err).toBe(0);
    for (const s of ['AU', '3C', 'BB', 'OI'])
      expect(r.out).toContain(`== setting ${s}, target robot (002), RobotSeg weights`);
    expect(r.out).toMatch(
      /Summary \(SA-V evaluator, 0-100\):\nsetting +target +J&F +J +F +videos\nAU +robot .* 2\n3C +robot/,
    );
    const j = readJson(json);
    expect(j.model).toBe('robotseg');
    expect(j.summary.map((x: { setting: string }) => x.setting)).toEqual(['AU', '3C', 'BB', 'OI']);
    expect(j.settings.AU.robot.videos.clip.prompts).toEqual([{ frame: 0, kind: 'target' }]);
    expect(j.settings.BB.robot.videos.late.prompts[0]).toMatchObject({ frame: 1, kind: 'box' });
    const c3 = j.settings['3C'].robot.videos.clip.prompts[0];
    expect(c3.clicks).toHaveLength(3);
    expect(c3.ious).toHaveLength(3);
    expect(c3.kept).toBe(c3.ious.indexOf(Math.max(...c3.ious)) + 1);
    const oi = j.settings.OI.robot.videos;
    // OI starts as 3C: same clicks on the start frame
    expect(oi.clip.prompts).toEqual(j.settings['3C'].robot.videos.clip.prompts);
    for (const v of ['clip', 'late']) {
      const cs = oi[v].corrections as Array<{
        frame: number;
        before: number;
        after: number;
        accepted: boolean;
        clicks: unknown[];
      }>;
      expect(cs.filter((c) => c.accepted).length).toBeLessThanOrEqual(3);
      for (const c of cs) {
        expect(c.before).toBeLessThan(0.9);
        expect(c.clicks).toHaveLength(3);
        expect(c.accepted).toBe(c.after >= c.before);
      }
    }
    expect(readdirSync(out).sort()).toEqual(['3C', 'AU', 'BB', 'OI']);
    expect(readdirSync(join(out, 'OI')).sort()).toEqual(['blank', 'clip', 'late']);
  });
});
