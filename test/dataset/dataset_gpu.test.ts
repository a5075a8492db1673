// `robotseg dataset` end to end on the software adapter, with the reduced RobotSeg checkpoint on
// test/fixtures/lerobot_tiny (the sample's layout: 4 episodes, 2 AV1 cameras, episodes sharing files,
// rollover; 17 frames per camera): the output is a LeRobot v3.0 dataset that the independent checker
// (lerobot_check.ts) accepts, every episode's masks equal `robotseg track` on that episode's decoded
// frames (lossless: bit-exact, IoU 1), a later run adds a camera without redoing the first, reruns are
// byte-identical, changed options need --overwrite, and a folder of videos / frames gets per-video outputs.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrack } from '../../src/cli/track.js';
import { runCli } from '../helpers/cli.js';
import { testRuntime } from '../helpers/gpu.js';
import { checkLeRobotOutput } from './lerobot_check.js';
import { MASK_KEYS, makeRobotSegWeights, TINY, treeDiff } from './helpers.js';

const rt = await testRuntime();
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-ds-gpu-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const OUT = join(tmp, 'out');
let RS = '';

const WRIST = 'observation.images.wrist';
const FRONT = 'observation.images.front';

/** Decoded frames [first, first + n) of a video as gray bytes (rgb24 checked to be R = G = B). */
function decodeGray(path: string, W: number, H: number): Uint8Array[] {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    maxBuffer: 1 << 28,
  });
  expect(r.status, String(r.stderr)).toBe(0);
  const frames: Uint8Array[] = [];
  for (let o = 0; o + W * H * 3 <= r.stdout.length; o += W * H * 3) {
    const g = new Uint8Array(W * H);
    for (let i = 0; i < W * H; i++) {
      const [a, b, c] = [r.stdout[o + 3 * i], r.stdout[o + 3 * i + 1], r.stdout[o + 3 * i + 2]];
      if (a !== b || b !== c) throw new Error(`${path}: pixel ${i} is not gray (${a}, ${b}, ${c})`);
      g[i] = a;
    }
    frames.push(g);
  }
  return frames;
}

function readPngGray(path: string): Uint8Array {
  const png = PNG.sync.read(readFileSync(path));
  const g = new Uint8Array(png.width * png.height);
  for (let i = 0; i < g.length; i++) g[i] = png.data[4 * i];
  return g;
}

async function episodesTable(root: string): Promise<Array<Record<string, unknown>>> {
  const b = readFileSync(join(root, 'meta', 'episodes', 'chunk-000', 'file-000.parquet'));
  return (await parquetReadObjects({
    file: b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer,
  })) as Array<Record<string, unknown>>;
}

function iou(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] > 127;
    const y = b[i] > 127;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}

async function dataset(args: string[]) {
  return runCli(['dataset', ...args, '--weights', RS, '--quiet'], { timeout: 600_000 });
}

describe.skipIf(!rt)('robotseg dataset on a LeRobot v3.0 dataset (reduced RobotSeg, lavapipe)', () => {
  beforeAll(async () => {
    RS = await makeRobotSegWeights(join(tmp, 'RS.safetensors'));
  }, 120_000);

  it('one camera, then the other added by a later run: a LeRobot v3.0 dataset the independent checker accepts', async () => {
    let r = await dataset([TINY, '--out', OUT, '--cameras', WRIST]);
    expect(r.code, r.err).toBe(0);
    let s = JSON.parse(r.out);
    expect(s).toMatchObject({
      units: 2,
      units_run: 2,
      units_skipped: 0,
      frames: 17,
      finalized: true,
      keys: [MASK_KEYS[1]],
    });
    expect(s.decode_s + s.gpu_s + s.encode_s).toBeGreaterThan(0);
    expect(await checkLeRobotOutput(TINY, OUT, [MASK_KEYS[1]])).toEqual([]);
    // all cameras (the default): the wrist units are done, only the front camera runs
    r = await dataset([TINY, '--out', OUT]);
    expect(r.code, r.err).toBe(0);
    s = JSON.parse(r.out);
    expect(s).toMatchObject({ units: 4, units_run: 2, units_skipped: 2, frames: 17, keys: MASK_KEYS });
    expect(await checkLeRobotOutput(TINY, OUT, MASK_KEYS)).toEqual([]);
    // unchanged files are hard links (same inode) or copies, never the metadata the pass rewrote
    const data = 'data/chunk-000/file-000.parquet';
    expect(readFileSync(join(OUT, data)).equals(readFileSync(join(TINY, data)))).toBe(true);
    expect(statSync(join(OUT, 'meta/info.json')).ino).not.toBe(statSync(join(TINY, 'meta/info.json')).ino);

    // the checker is not blind: a mask file with a missing frame, a shifted episode
    const bad = join(tmp, 'bad');
    cpSync(OUT, bad, { recursive: true });
    const f1 = `videos/${MASK_KEYS[1]}/chunk-000/file-001.mp4`;
    const cut = spawnSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-i',
      join(OUT, f1),
      '-frames:v',
      '7',
      '-c',
      'copy',
      '-f',
      'mp4',
      join(bad, f1),
    ]);
    expect(cut.status).toBe(0);
    const problems = await checkLeRobotOutput(TINY, bad, MASK_KEYS);
    expect(problems.join('\n')).toMatch(/episode 3 frame 2: no frame within 1e-4 s/);
    expect(problems.join('\n')).toMatch(/7 frames, its episodes have 8/);
  }, 600_000);

  it("every episode's masks equal `robotseg track` on that episode's decoded frames (IoU 1)", async () => {
    const eps = await episodesTable(OUT);
    const info = JSON.parse(readFileSync(join(OUT, 'meta', 'info.json'), 'utf8'));
    for (const cam of [WRIST, FRONT]) {
      const [H, W] = info.features[cam].shape;
      const key = `${cam}.robot_mask`;
      for (const e of eps) {
        const ep = Number(e.episode_index);
        const len = Number(e.length);
        const fileOf = (k: string) =>
          `videos/${k}/chunk-${String(e[`videos/${k}/chunk_index`]).padStart(3, '0')}/file-${String(e[`videos/${k}/file_index`]).padStart(3, '0')}.mp4`;
        // the episode's frames, decoded by ffmpeg as PNGs (the source camera's own from_timestamp)
        const first = Math.round(Number(e[`videos/${cam}/from_timestamp`]) * info.fps);
        const frames = join(tmp, `frames-${cam}-${ep}`);
        mkdirSync(frames, { recursive: true });
        const x = spawnSync('ffmpeg', [
          '-v',
          'error',
          '-i',
          join(TINY, fileOf(cam)),
          '-vf',
          `select=between(n\\,${first}\\,${first + len - 1})`,
          '-vsync',
          'passthrough',
          join(frames, '%05d.png'),
        ]);
        expect(x.status, String(x.stderr)).toBe(0);
        expect(readdirSync(frames).length).toBe(len);
        const trk = join(tmp, `track-${cam}-${ep}`);
        await runTrack(frames, { weights: RS, out: trk, quiet: true, target: 'robot' }, []);
        // the dataset's mask frames of this episode: from its own from_timestamp in its own file
        const masks = decodeGray(join(OUT, fileOf(key)), W, H);
        const m0 = Math.round(Number(e[`videos/${key}/from_timestamp`]) * info.fps);
        const names = readdirSync(trk).sort();
        expect(names.length).toBe(len);
        names.forEach((n, j) => {
          const t = readPngGray(join(trk, n));
          expect(iou(masks[m0 + j], t), `${key} episode ${ep} frame ${j}`).toBe(1);
          expect(Buffer.from(masks[m0 + j]).equals(Buffer.from(t)), `${key} episode ${ep} frame ${j}`).toBe(true);
        });
      }
    }
  }, 600_000);

  it('a rerun skips every unit and leaves OUT byte-identical; changed options are refused without --overwrite', async () => {
    const before = join(tmp, 'before');
    cpSync(OUT, before, { recursive: true });
    let r = await dataset([TINY, '--out', OUT]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ units_run: 0, units_skipped: 4 });
    expect(treeDiff(before, OUT)).toEqual([]);
    // other codec for work already done: refused before any GPU work, OUT untouched
    r = await dataset([TINY, '--out', OUT, '--cameras', WRIST, '--mask-codec', 'lerobot']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /observation\.images\.wrist\.robot_mask of .* was made with mask_codec "lossless", this run has "lerobot": use --overwrite/,
    );
    expect(r.err).not.toMatch(/weights: \d+ tensors/);
    expect(treeDiff(before, OUT)).toEqual([]);
  }, 600_000);

  it('a folder of videos and frame folders: OUT/<video>/<target>.mp4 (= track), --overwrite, --png', async () => {
    const src = join(tmp, 'folder');
    mkdirSync(join(src, 'frames'), { recursive: true });
    cpSync(join(TINY, 'videos', FRONT, 'chunk-000', 'file-001.mp4'), join(src, 'clip.mp4')); // 3 frames, 320x224
    const x = spawnSync('ffmpeg', [
      '-v',
      'error',
      '-i',
      join(TINY, 'videos', WRIST, 'chunk-000', 'file-001.mp4'),
      '-frames:v',
      '3',
      join(src, 'frames', 'f%02d.png'),
    ]);
    expect(x.status).toBe(0);
    const out = join(tmp, 'folder-out');
    let r = await dataset([src, '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ units: 2, frames: 6, keys: ['clip/robot', 'frames/robot'] });
    const trk = join(tmp, 'folder-track');
    await runTrack(join(src, 'clip.mp4'), { weights: RS, out: trk, quiet: true, target: 'robot' }, []);
    const exact = decodeGray(join(out, 'clip', 'robot.mp4'), 320, 224);
    const names = readdirSync(trk).sort();
    expect(exact.length).toBe(3);
    names.forEach((n, j) => expect(Buffer.from(exact[j]).equals(Buffer.from(readPngGray(join(trk, n))))).toBe(true));
    const probe = spawnSync(
      'ffprobe',
      [
        '-v',
        'error',
        '-show_entries',
        'stream=r_frame_rate,nb_frames',
        '-of',
        'csv=p=0',
        join(out, 'frames', 'robot.mp4'),
      ],
      { encoding: 'utf8' },
    );
    expect(probe.stdout.trim()).toBe('10/1,3'); // frame folders: --fps default 10
    const lossless = decodeGray(join(out, 'frames', 'robot.mp4'), 160, 120);

    // LeRobot's camera codec for work done losslessly: refused, then redone with --overwrite
    r = await dataset([src, '--out', out, '--mask-codec', 'lerobot']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/clip\/robot of clip\.mp4 was made with mask_codec "lossless".*--overwrite/);
    r = await dataset([src, '--out', out, '--mask-codec', 'lerobot', '--overwrite']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ units_run: 2, frames: 6 });
    const lossy = decodeGray(join(out, 'clip', 'robot.mp4'), 320, 224);
    let flipped = 0;
    let total = 0;
    lossy.forEach((f, j) => {
      for (let i = 0; i < f.length; i++) if (f[i] > 127 !== exact[j][i] > 127) flipped++;
      total += f.length;
    });
    expect(flipped / total).toBeLessThan(0.01); // near-binary: thresholding recovers the masks

    // --png frame folders, equal to the lossless video's frames
    r = await dataset([src, '--out', join(tmp, 'png-out'), '--png', '--cameras', 'frames']);
    expect(r.code, r.err).toBe(0);
    const pngDir = join(tmp, 'png-out', 'frames', 'robot');
    expect(readdirSync(pngDir).sort()).toEqual(['f01.png', 'f02.png', 'f03.png']);
    ['f01', 'f02', 'f03'].forEach((n, j) =>
      expect(Buffer.from(readPngGray(join(pngDir, `${n}.png`))).equals(Buffer.from(lossless[j]))).toBe(true),
    );
    expect(existsSync(join(tmp, 'png-out', 'clip'))).toBe(false);
  }, 600_000);
});
