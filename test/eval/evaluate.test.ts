// Which frames and objects are scored and how they are averaged (davis vs sav protocol), on
// in-memory sequences whose per-frame J and F are known from test/eval/jf.test.ts; then the folder
// reader (layouts, errors) on PNGs written to a temp dir.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/eval/backend.js';
import { type Protocol, evaluate } from '../../src/eval/evaluate.js';
import type { LabelMap } from '../../src/eval/labels.js';
import { EvalInputError, type SequenceSpec, objectKey, pairFrames, selectFrames } from '../../src/eval/layout.js';
import { openEvalFolders, readRoboEngineTest, readVrsDataset } from '../../src/node/eval_io.js';
import { encodePng, labels } from './helpers.js';

// 6x8 frames. A = object 1 (top-left 2x2), B = object 2 (bottom-right 2x2).
const F_ = '........';
const AB = labels(['11......', '11......', F_, F_, '......22', '......22']);
const A = labels(['11......', '11......', F_, F_, F_, F_]);
const B = labels([F_, F_, F_, F_, '......22', '......22']);
const NONE = labels([F_, F_, F_, F_, F_, F_]);
const A_B3 = labels(['11......', '11......', F_, F_, '......33', '......33']); // object 3 where B is

function seq(name: string, gt: LabelMap[], pred: LabelMap[]): SequenceSpec {
  const frames = gt.map((_, i) => `${String(i).padStart(5, '0')}.png`);
  const at = (f: string) => Number(f.slice(0, 5));
  return { name, layout: 'davis', frames, objects: [], readGt: (f) => gt[at(f)], readPred: (f) => pred[at(f)] };
}
const run = (seqs: SequenceSpec[], protocol: Protocol, keepFirstLast = false) =>
  evaluate(seqs, cpuBackend, { protocol, keepFirstLast });

// GT: object 2 present in frame 0, gone in frame 1, back from frame 2. Prediction: object 1 always
// right, object 2 only from frame 3.
const S = seq('s', [AB, A, AB, AB, AB], [A, A, A, AB, AB]);

describe('frame selection and objects', () => {
  it('selectFrames drops the first and last unless asked', () => {
    expect(selectFrames(['a', 'b', 'c', 'd'], false)).toEqual(['b', 'c']);
    expect(selectFrames(['a', 'b'], false)).toEqual([]);
    expect(selectFrames(['a'], true)).toEqual(['a']);
  });

  it('davis: objects 1..max(first frame); frames 1-3 scored; absent-in-both counts as J = F = 1', async () => {
    const r = await run([S], 'davis');
    expect(r.objects.map((o) => o.object)).toEqual(['1', '2']);
    const o2 = r.objects[1];
    expect(o2.frames).toEqual(['00001.png', '00002.png', '00003.png']);
    // frame 1: both empty -> 1; frame 2: GT only -> 0; frame 3: identical -> 1
    expect(o2.J).toEqual([1, 0, 1]);
    expect(o2.F).toEqual([1, 0, 1]);
    expect(r.objects[0].J).toEqual([1, 1, 1]);
    // global = mean over objects: J = (1 + 2/3) / 2
    expect(r.J_mean).toBe((1 + 2 / 3) / 2);
    expect(r.JF_mean).toBe((r.J_mean + r.F_mean) / 2);
  });

  it('sav: an id is scored from its first appearance among the scored frames', async () => {
    const r = await run([S], 'sav');
    const o2 = r.objects[1];
    // frame 1 has object 2 in neither mask and it was not seen before -> not scored
    expect(o2.frames).toEqual(['00002.png', '00003.png']);
    expect(o2.J).toEqual([0, 1]);
    expect(r.J_mean).toBe(0.75);
    expect(r.sav!.J).toBe(75); // table: per-object mean x 100, then the mean
    expect(r.sav!.JF).toBe(75);
  });

  it('--keep-first-last scores every frame; then object 2 is seen in frame 0 and both protocols agree', async () => {
    const d = await run([S], 'davis', true);
    const s = await run([S], 'sav', true);
    expect(d.objects[1].J).toEqual([0, 1, 0, 1, 1]);
    expect(s.objects[1].J).toEqual([0, 1, 0, 1, 1]);
    expect(d.J_mean).toBe(s.J_mean);
  });

  it('ids only in the prediction: sav scores but does not report them; davis aborts like the toolkit', async () => {
    const fp = seq('fp', [A, A, A, A], [A, A, A_B3, A]);
    const r = await run([fp], 'sav');
    expect(r.objects.map((o) => o.object)).toEqual(['1']);
    await expect(run([fp], 'davis')).rejects.toThrow(
      /frame 00002\.png has object id 3, but the first ground-truth frame has 1 object/,
    );
  });

  it('davis: GT label 255 is void (zeroed); ids missing from the prediction are empty masks', async () => {
    const voidGt = labels(['11......', '11......', F_, F_, F_, '.......' + String.fromCharCode(48)]);
    voidGt.data[47] = 255;
    const r = await run([seq('v', [AB, voidGt, AB], [A, A, A])], 'davis');
    expect(r.objects.map((o) => o.object)).toEqual(['1', '2']);
    expect(r.objects[1].J).toEqual([1]); // 255 dropped: object 2 absent in GT and prediction
    const r2 = await run([seq('v', [AB, AB, AB], [A, A, A])], 'davis');
    expect(r2.objects[1].J).toEqual([0]);
  });

  it('davis: a first frame without objects scores nothing and warns; too few frames is an error', async () => {
    const warn: string[] = [];
    const r = await evaluate([seq('late', [NONE, A, A], [A, A, A])], cpuBackend, {
      protocol: 'davis',
      onWarning: (m) => warn.push(m),
    });
    expect(r.objects).toEqual([]);
    expect(warn[0]).toMatch(/first ground-truth frame 00000\.png has no object/);
    await expect(run([seq('two', [A, A], [A, A])], 'davis')).rejects.toThrow(
      /2 annotated frame\(s\).*--keep-first-last/,
    );
  });

  it('objects weigh equally across sequences (not the mean of sequence means)', async () => {
    const one = seq('one', [A, A, A], [A, A, A]); // object 1: J = 1
    const two = seq('two', [AB, AB, AB], [NONE, NONE, B]); // object 1: J = 0, object 2: J = 0 (frame 1 only)
    const r = await run([one, two], 'davis');
    expect(r.objects.map((o) => `${o.sequence}/${o.object}`)).toEqual(['one/1', 'two/1', 'two/2']);
    expect(r.J_mean).toBe(1 / 3);
    expect(r.sequences.map((s) => s.J_mean)).toEqual([1, 0]);
  });

  it('size mismatch is a clear error', async () => {
    const small = labels(['11', '11']);
    await expect(run([seq('m', [A, A, A], [A, small, A])], 'davis')).rejects.toThrow(
      /prediction of sequence 'm' frame 00001\.png is 2x2 but the ground truth is 8x6/,
    );
  });
});

describe('per-object folders (SA-V / VRS layout)', () => {
  const bin = (m: LabelMap) => ({ ...m, data: m.data.map((v) => (v ? 255 : 0)) });
  function objSeq(gt: Record<string, LabelMap[]>, pred: Record<string, LabelMap[]>): SequenceSpec {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `${i}.png`);
    return {
      name: 'v',
      layout: 'objects',
      frames: [],
      objects: Object.keys(gt).map((k) => ({ key: k, frames: names(gt[k].length) })),
      readGt: (f, o) => gt[o!][Number(f[0])],
      readPred: (f, o) => pred[o!][Number(f[0])],
    };
  }
  it('sav: an object whose GT is empty in every scored frame is skipped; davis scores it', async () => {
    const s = objSeq(
      { '000': [A, NONE, NONE, A], '002': [A, A, A, A] },
      { '000': [A, A, NONE, A], '002': [A, B, A, A] },
    );
    const sav = await run([s], 'sav');
    expect(sav.objects.map((o) => o.object)).toEqual(['002']);
    expect(sav.objects[0].J).toEqual([0, 1]);
    const dav = await run([s], 'davis');
    expect(dav.objects.map((o) => o.object)).toEqual(['000', '002']);
    expect(dav.objects[0].J).toEqual([0, 1]); // frame 1: prediction only -> 0; frame 2: both empty -> 1
    expect(dav.objects[0].label).toBe('000 (arm)');
  });
  it('any non-zero pixel is foreground (0/255 and ids alike)', async () => {
    const s = objSeq({ '002': [bin(A), bin(AB), bin(A)] }, { '002': [A, AB, A] });
    expect((await run([s], 'davis')).objects[0].J).toEqual([1]);
  });
  it('sav: more than 2 values in a per-object PNG is an error (one object per PNG)', async () => {
    const s = objSeq({ '002': [A, A, A] }, { '002': [A, AB, A] });
    await expect(run([s], 'sav')).rejects.toThrow(/object 002 frame 1\.png has more than 2 distinct values/);
  });
});

describe('layout helpers', () => {
  it('category folders map to the 3-digit keys', () => {
    expect(['arm', 'gripper', 'robot', '005'].map(objectKey)).toEqual(['000', '001', '002', '005']);
  });
  it('pairFrames matches masks to frames by stem', () => {
    const v = pairFrames(
      'vid',
      ['00001.jpg', '00000.jpg'],
      { robot: ['00001.png'] },
      (k, f, o) => `${k}/${o ?? ''}/${f}`,
    );
    expect(v.frames).toEqual([
      { name: '00000', image: 'image//00000.jpg', masks: {} },
      { name: '00001', image: 'image//00001.jpg', masks: { '002': 'mask/robot/00001.png' } },
    ]);
    expect(() => pairFrames('vid', ['a.jpg'], { '002': ['b.png'] }, () => '')).toThrow(EvalInputError);
  });
});

describe('folder reader', () => {
  const root = mkdtempSync(join(tmpdir(), 'robotseg-eval-'));
  const png = (m: LabelMap) =>
    encodePng({ width: m.width, height: m.height, colorType: 0, bitDepth: 8, samples: m.data });
  const write = (dir: string, frames: LabelMap[]) => {
    mkdirSync(dir, { recursive: true });
    frames.forEach((m, i) => writeFileSync(join(dir, `${String(i).padStart(5, '0')}.png`), png(m)));
  };
  write(join(root, 'davis/gt/seqA'), [A, A, A]);
  write(join(root, 'davis/gt/seqB'), [AB, AB, AB, AB]);
  write(join(root, 'davis/pred/seqA'), [A, A, A]);
  write(join(root, 'davis/pred/seqB'), [AB, A, AB, AB]);
  mkdirSync(join(root, 'davis/pred/extra'));
  write(join(root, 'vrs/Annotations/v1/000'), [A, A, A]);
  const ABbin = labels(['##......', '##......', F_, F_, '......##', '......##']);
  const Bbin = labels([F_, F_, F_, F_, '......##', '......##']);
  write(join(root, 'vrs/Annotations/v1/002'), [ABbin, ABbin, ABbin]);
  mkdirSync(join(root, 'vrs/JPEGImages/v1'), { recursive: true });
  for (let i = 0; i < 3; i++) writeFileSync(join(root, `vrs/JPEGImages/v1/${String(i).padStart(5, '0')}.jpg`), '');
  write(join(root, 'vrspred/v1/robot'), [ABbin, Bbin, ABbin]);
  write(join(root, 'flatpred'), [ABbin, Bbin, ABbin]);

  it('dataset root of DAVIS-style sequences: extra prediction folders are noted, results aggregate', async () => {
    const f = openEvalFolders(join(root, 'davis/pred'), join(root, 'davis/gt'));
    expect(f.dataset).toBe(true);
    expect(f.sequences.map((s) => [s.name, s.layout, s.frames.length])).toEqual([
      ['seqA', 'davis', 3],
      ['seqB', 'davis', 4],
    ]);
    expect(f.notes[0]).toMatch(/extra/);
    const r = await evaluate(f.sequences, cpuBackend, { protocol: 'davis' });
    // seqA/1: 1; seqB/1: 1; seqB/2: frames 1, 2 -> [0, 1]
    expect(r.objects.map((o) => o.J_mean)).toEqual([1, 1, 0.5]);
    expect(r.J_mean).toBe(2.5 / 3);
  });
  it('one sequence; a VRS root is read from Annotations/; --category picks one object folder', async () => {
    const one = openEvalFolders(join(root, 'davis/pred/seqB'), join(root, 'davis/gt/seqB'));
    expect([one.dataset, one.sequences[0].name]).toEqual([false, 'seqB']);
    const vrs = openEvalFolders(join(root, 'vrspred'), join(root, 'vrs'), { category: 'robot' });
    expect(vrs.sequences[0].objects.map((o) => o.key)).toEqual(['002']);
    const r = await evaluate(vrs.sequences, cpuBackend, { protocol: 'sav', keepFirstLast: true });
    expect(r.objects[0].J).toEqual([1, 0.5, 1]); // 'robot' prediction folder = GT 002
    // a single selected object may be predicted straight into the sequence folder
    const flat = openEvalFolders(join(root, 'flatpred'), join(root, 'vrs/Annotations/v1'), { category: '002' });
    expect(
      (await evaluate(flat.sequences, cpuBackend, { protocol: 'davis', keepFirstLast: true })).objects[0].J,
    ).toEqual([1, 0.5, 1]);
  });
  it('errors: missing sequence, missing object folder, missing frame, non-mask file', async () => {
    expect(() => openEvalFolders(join(root, 'davis/pred/seqA'), join(root, 'davis/gt'))).toThrow(
      /lacks 2 sequence\(s\).*seqA, seqB/,
    );
    const noCat = openEvalFolders(join(root, 'vrspred'), join(root, 'vrs'));
    await expect(evaluate(noCat.sequences, cpuBackend, { protocol: 'davis' })).rejects.toThrow(
      /has no object folder 000 \(has: 002\); score one object with --category/,
    );
    write(join(root, 'short/seq'), [A, A]);
    const miss = openEvalFolders(join(root, 'short/seq'), join(root, 'davis/gt/seqA'));
    await expect(evaluate(miss.sequences, cpuBackend, { protocol: 'davis', keepFirstLast: true })).rejects.toThrow(
      /missing prediction for sequence 'seqA' frame 00002\.png/,
    );
    write(join(root, 'bad'), [A, A, A]);
    writeFileSync(join(root, 'bad/00001.png'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]));
    const bad = openEvalFolders(join(root, 'bad'), join(root, 'davis/gt/seqA'));
    await expect(evaluate(bad.sequences, cpuBackend, { protocol: 'davis' })).rejects.toThrow(
      /bad\/00001\.png: not a PNG file/,
    );
    expect(() => openEvalFolders(join(root, 'nope'), join(root, 'davis/gt'))).toThrow(/not a folder/);
  });
  it('VRS and RoboEngine readers pair images with masks', () => {
    const v = readVrsDataset(join(root, 'vrs'));
    expect(v[0].name).toBe('v1');
    expect(v[0].frames.map((f) => Object.keys(f.masks))).toEqual([
      ['000', '002'],
      ['000', '002'],
      ['000', '002'],
    ]);
    mkdirSync(join(root, 're/image/s1'), { recursive: true });
    writeFileSync(join(root, 're/image/s1/0.jpg'), '');
    write(join(root, 're/mask/s1/002'), [A]);
    // masks are named 00000.png there but the frame is 0.jpg: unmatched stems are an error
    expect(() => readRoboEngineTest(join(root, 're'))).toThrow(
      /s1: mask 002\/00000\.png has no frame image named 00000/,
    );
    mkdirSync(join(root, 're2/image/s1'), { recursive: true });
    writeFileSync(join(root, 're2/image/s1/00000.jpg'), '');
    writeFileSync(join(root, 're2/image/s1/00001.jpg'), '');
    write(join(root, 're2/mask/s1/002'), [A]);
    expect(readRoboEngineTest(join(root, 're2'))[0].frames).toEqual([
      {
        name: '00000',
        image: join(root, 're2/image/s1/00000.jpg'),
        masks: { '002': join(root, 're2/mask/s1/002/00000.png') },
      },
      { name: '00001', image: join(root, 're2/image/s1/00001.jpg'), masks: {} },
    ]);
    mkdirSync(join(root, 'ex'));
    writeFileSync(join(root, 'ex/image_original.png'), '');
    writeFileSync(join(root, 'ex/image_mask_robot.png'), '');
    expect(readRoboEngineTest(join(root, 'ex'))[0].frames[0].masks).toEqual({
      '002': join(root, 'ex/image_mask_robot.png'),
    });
  });
});
