// Fuzzing the command line as a user runs it (issue 12, item 9): seeded mutations of JPEG / PNG
// images, mp4 videos, prompts, weights, eval and train dataset folders and output paths, each run
// through `robotseg` in its own process and folder. Every case must end with exit 0 or 2 (on 2 the
// last stderr line is one `robotseg: …` line, no stack trace), within CASE_BOUND_MS, and leave no file
// behind except, on success, the outputs it was asked for (never a temporary file).
// Seed and count: ROBOTSEG_FUZZ_SEED (default 12), ROBOTSEG_FUZZ_CASES (default 24). Most cases fail
// before the GPU (a process start each); the few that pass run the reduced model or Canny.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { rng } from '../helpers/rng.js';
import { encodeClipMp4 } from '../helpers/video.js';

const SEED = Number(process.env.ROBOTSEG_FUZZ_SEED ?? 12);
const CASES = Number(process.env.ROBOTSEG_FUZZ_CASES ?? 24);
const CASE_BOUND_MS = 120_000;
const CONCURRENCY = 2;
const FIX = join(ROOT, 'test', 'fixtures');
const WEIGHTS = join(FIX, 'golden', 'weights.safetensors');
const PNG_SRC = join(FIX, 'golden', 'image_200x150.png');
const JPG_SRC = join(FIX, 'video_clip', '00000.jpg');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
if (!hasFfmpeg && process.env.CI === 'true') throw new Error('CI=true but ffmpeg is missing (apt-get install ffmpeg)');

type Rand = ReturnType<typeof rng>;
const int = (r: Rand, n: number) => Math.floor(r.uniform() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

/** One random byte-level mutation (flip, insert, delete, overwrite, truncate), favouring the first `hot` bytes. */
function mutate(r: Rand, src: Uint8Array, hot = 512): Uint8Array {
  const pos = () => int(r, r.uniform() < 0.6 ? Math.min(hot, src.length) : src.length);
  const b = Buffer.from(src);
  switch (int(r, 5)) {
    case 0:
      for (let k = 1 + int(r, 6); k > 0; k--) b[pos()] ^= 1 << int(r, 8);
      return b;
    case 1: {
      const at = pos();
      return Buffer.concat([
        b.subarray(0, at),
        Buffer.from(Array.from({ length: 1 + int(r, 16) }, () => int(r, 256))),
        b.subarray(at),
      ]);
    }
    case 2: {
      const at = pos();
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 64)))]);
    }
    case 3: {
      const at = pos();
      b.fill(r.uniform() < 0.5 ? 0xff : 0, at, at + 1 + int(r, 32));
      return b;
    }
    default:
      return b.subarray(0, int(r, b.length));
  }
}

interface Case {
  name: string;
  args: string[];
  /** Outputs a successful run may leave (relative to the case folder). */
  outputs: string[];
}

/** Every file and folder under `dir`, relative, sorted. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(relative(dir, join(d, e.name)));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(dir);
  return out.sort();
}

// ------------------------------------------------------------------------------------ generators

const PROMPT_PARTS = ['10', '0', '-5', '1e9', 'NaN', 'Infinity', '', ' ', '3.5', '199', '150', 'x', '1,2', '0x10'];
const randomPrompt = (r: Rand, n: number) => Array.from({ length: n }, () => pick(r, PROMPT_PARTS)).join(',');

const GENERATORS: Array<(r: Rand, dir: string) => Case> = [
  // a mutated PNG or JPEG through edges (Canny on the GPU when it still decodes)
  (r, dir) => {
    const jpg = r.uniform() < 0.5;
    writeFileSync(join(dir, jpg ? 'in.jpg' : 'in.png'), mutate(r, readFileSync(jpg ? JPG_SRC : PNG_SRC)));
    return {
      name: `edges on a mutated ${jpg ? 'JPEG' : 'PNG'}`,
      args: ['edges', jpg ? 'in.jpg' : 'in.png', '--out', 'e.png'],
      outputs: ['e.png'],
    };
  },
  // prompts: random --point / --box strings (mostly malformed, refused before the GPU)
  (r, dir) => {
    copyFileSync(PNG_SRC, join(dir, 'img.png'));
    const args = ['segment', 'img.png', '--weights', WEIGHTS, '--out', 'm.png'];
    for (let k = int(r, 3); k >= 0; k--) {
      if (r.uniform() < 0.6) args.push('--point', randomPrompt(r, 2 + int(r, 3)));
      else args.push('--box', randomPrompt(r, 3 + int(r, 3)));
    }
    return { name: `segment ${args.slice(6).join(' ')}`, args, outputs: ['m.png'] };
  },
  // weights: a mutated safetensors file (header bytes favoured)
  (r, dir) => {
    copyFileSync(PNG_SRC, join(dir, 'img.png'));
    writeFileSync(join(dir, 'w.safetensors'), mutate(r, readFileSync(WEIGHTS), 4096));
    return {
      name: 'segment with mutated weights',
      args: [
        'segment',
        'img.png',
        '--weights',
        'w.safetensors',
        '--config',
        join(FIX, 'golden', 'config.json'),
        '--point',
        '100,70',
        '--out',
        'm.png',
      ],
      outputs: ['m.png'],
    };
  },
  // a mutated mp4 through track (ffprobe / ffmpeg see the damage)
  (r, dir) => {
    writeFileSync(join(dir, 'v.mp4'), mutate(r, readFileSync(join(tmp, 'clip.mp4')), 2048));
    return {
      name: 'track a mutated mp4',
      args: [
        'track',
        'v.mp4',
        '--weights',
        WEIGHTS,
        '--point',
        '0:50,50',
        '--out',
        'o',
        '--max-frames',
        '2',
        '--quiet',
      ],
      outputs: ['o', 'o/00000.png', 'o/00001.png'],
    };
  },
  // an eval --pred/--gt pair with files removed, corrupted, replaced by a photo or renamed
  (r, dir) => {
    cpSync(join(FIX, 'eval', 'clip'), join(dir, 'ds'), { recursive: true });
    for (let k = 1 + int(r, 2); k > 0; k--) {
      const side = pick(r, ['pred', 'gt']);
      const files = readdirSync(join(dir, 'ds', side));
      if (files.length === 0) break;
      const f = join(dir, 'ds', side, pick(r, files));
      const how = int(r, 4);
      if (how === 0) rmSync(f);
      else if (how === 1) writeFileSync(f, mutate(r, readFileSync(f)));
      else if (how === 2) copyFileSync(JPG_SRC, f);
      else execFileSync('mv', [f, `${f}.x.png`]);
    }
    return {
      name: 'eval on a mutated dataset',
      args: ['eval', '--pred', 'ds/pred', '--gt', 'ds/gt', '--cpu', '--json', 'r.json', '--quiet'],
      outputs: ['r.json'],
    };
  },
  // a train dataset with mutations; --freeze bogus stops any run that gets past the dataset before the GPU
  (r, dir) => {
    cpSync(join(FIX, 'train_clip'), join(dir, 'ds'), { recursive: true });
    const img = join(dir, 'ds', 'JPEGImages', 'clip');
    const ann = join(dir, 'ds', 'Annotations', 'clip', '002');
    const how = int(r, 4);
    const f = pick(r, readdirSync(how < 2 ? img : ann).sort());
    const p = join(how < 2 ? img : ann, f);
    if (how === 0 || how === 2) writeFileSync(p, mutate(r, readFileSync(p)));
    else if (how === 1) rmSync(join(dir, 'ds', 'JPEGImages'), { recursive: true });
    else copyFileSync(JPG_SRC, p);
    return {
      name: 'train on a mutated dataset',
      args: ['train', 'ds', '--weights', WEIGHTS, '--out', 't.safetensors', '--steps', '1', '--freeze', 'bogus_prefix'],
      outputs: [],
    };
  },
  // output paths: devices, folders, missing folders, the input, too long, a file as a folder
  (r, dir) => {
    copyFileSync(PNG_SRC, join(dir, 'img.png'));
    writeFileSync(join(dir, 'file'), 'x');
    mkdirSync(join(dir, 'sub'));
    const out = pick(r, [
      '/dev/null',
      '/dev/full',
      'sub',
      'sub/',
      'missing/e.png',
      'img.png',
      './img.png',
      'file/e.png',
      `${'n'.repeat(300)}.png`,
      '',
      'sub/e.png',
    ]);
    return {
      name: `edges --out '${out.slice(0, 40)}'`,
      args: ['edges', 'img.png', '--out', out],
      outputs: ['sub/e.png'],
    };
  },
];

/** The CLI in `dir` (relative paths of a case resolve there), killed past CASE_BOUND_MS. */
const runIn = (dir: string, args: string[]) => runCli(args, { cwd: dir, timeout: CASE_BOUND_MS });

describe('robotseg CLI fuzz', () => {
  it(`${CASES} seeded cases (seed ${SEED}) end in exit 0 or 2, one line, nothing left behind`, {
    timeout: 1_800_000,
  }, async () => {
    if (hasFfmpeg) {
      const frames = join(tmp, 'frames');
      mkdirSync(frames);
      for (const f of ['00000.jpg', '00001.jpg', '00002.jpg'])
        copyFileSync(join(FIX, 'video_clip', f), join(frames, f));
      encodeClipMp4(frames, join(tmp, 'clip.mp4'));
    }
    const r = rng(SEED);
    const plans: Array<{ k: number; g: number; seed: number }> = [];
    for (let k = 0; k < CASES; k++) {
      let g = int(r, GENERATORS.length);
      if (g === 3 && !hasFfmpeg) g = 0;
      plans.push({ k, g, seed: int(r, 2 ** 31) });
    }
    const problems: string[] = [];
    const counts = { 0: 0, 2: 0 } as Record<number, number>;
    let next = 0;
    let slowest = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < plans.length) {
        const { k, g, seed } = plans[next++];
        const dir = join(tmp, `case${k}`);
        mkdirSync(dir);
        const c = GENERATORS[g](rng(seed), dir);
        const before = listing(dir);
        const res = await runIn(dir, c.args);
        const after = listing(dir);
        const tag = `case ${k} (${c.name}; seed ${seed})`;
        const lines = res.err.trimEnd().split('\n');
        const last = lines[lines.length - 1];
        if (res.code !== 0 && res.code !== 2) problems.push(`${tag}: exit ${res.code}: ${res.err.slice(-400)}`);
        else if (res.code === 2 && (!/^robotseg: /.test(last) || /\n\s+at /.test(res.err)))
          problems.push(`${tag}: exit 2 without a one-line error: ${res.err.slice(-400)}`);
        const added = after.filter((f) => !before.includes(f));
        const allowed = res.code === 0 ? c.outputs : [];
        const stray = added.filter((f) => !allowed.includes(f));
        if (stray.length) problems.push(`${tag}: exit ${res.code} left ${stray.join(', ')}`);
        counts[res.code ?? -1] = (counts[res.code ?? -1] ?? 0) + 1;
        slowest = Math.max(slowest, res.ms);
        rmSync(dir, { recursive: true, force: true });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(
      `fuzz: ${CASES} CLI cases ran (seed ${SEED}): ${counts[0]} exit 0, ${counts[2]} exit 2, ${problems.length} problem(s); ${((performance.now() - t0) / 1000).toFixed(0)} s, slowest case ${(slowest / 1000).toFixed(1)} s`,
    );
    expect(problems).toEqual([]);
  });
});
