// `robotseg dataset` vs `robotseg track` on the same frames (docs/dataset.md): the overhead of the dataset
// machinery (LeRobot metadata, one ffmpeg decoder per camera file, mask encoders, stats, records).
//   npx tsx bench/scripts/dataset_vs_track.ts [--dataset DIR] [--camera KEY] [--weights FILE --config FILE] [--json FILE]
// Defaults: test/fixtures/lerobot_sample, its wrist camera (141 frames, 4 episodes), and the reduced
// RobotSeg checkpoint made by `init-robotseg` from the golden SAM 2.1 test weights (seeded).
// dataset: frames / the summary's `seconds` (the whole tracking loop: decode waits, model, encode waits;
// not the model load). track: each episode's frames extracted to PNGs first (not timed), then `robotseg
// track --target robot` on them; frames / (prompt + tracking seconds it reports), PNG writing included.
// Correctness first: the dataset's masks must equal track's (lossless codec).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { PNG } from 'pngjs';

const ROOT = join(import.meta.dirname, '..', '..');
const arg = (name: string, dflt?: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const DS = arg('--dataset', join(ROOT, 'test/fixtures/lerobot_sample'))!;
const CAM = arg('--camera', 'observation.images.wrist')!;
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-bench-ds-'));
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/robotseg.js'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`robotseg ${args[0]}: ${r.stderr}`);
  return r;
};
try {
  let weights = arg('--weights');
  const config = arg('--config');
  if (!weights) {
    weights = join(tmp, 'rs.safetensors');
    const g = join(ROOT, 'test/fixtures/golden/weights.safetensors');
    cli([
      'init-robotseg',
      '--from',
      g,
      '--out',
      weights,
      '--config',
      join(ROOT, 'test/fixtures/robotseg/config.json'),
      '--seed',
      '7',
    ]);
  }
  const wargs = ['--weights', weights, ...(config ? ['--config', config] : [])];

  // dataset
  const out = join(tmp, 'out');
  const ds = JSON.parse(cli(['dataset', DS, '--cameras', CAM, '--out', out, '--quiet', ...wargs]).stdout);

  // track, episode by episode, on the same decoded frames
  const info = JSON.parse(readFileSync(join(DS, 'meta/info.json'), 'utf8'));
  const b = readFileSync(join(out, 'meta/episodes/chunk-000/file-000.parquet')); // OUT: camera and mask columns
  const eps = (await parquetReadObjects({
    file: b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer,
  })) as Array<Record<string, unknown>>;
  let frames = 0;
  let seconds = 0;
  let mismatched = 0;
  for (const e of eps) {
    const len = Number(e.length);
    const file = (k: string) =>
      `videos/${k}/chunk-${String(e[`videos/${k}/chunk_index`]).padStart(3, '0')}/file-${String(e[`videos/${k}/file_index`]).padStart(3, '0')}.mp4`;
    const first = Math.round(Number(e[`videos/${CAM}/from_timestamp`]) * info.fps);
    const dir = join(tmp, `ep${e.episode_index}`);
    mkdirSync(dir);
    spawnSync('ffmpeg', [
      '-v',
      'error',
      '-i',
      join(DS, file(CAM)),
      '-vf',
      `select=between(n\\,${first}\\,${first + len - 1})`,
      '-vsync',
      'passthrough',
      join(dir, '%05d.png'),
    ]);
    const masks = join(tmp, `track${e.episode_index}`);
    const r = cli(['track', dir, ...wargs, '--target', 'robot', '--out', masks]);
    const m = /prompts on \d+ frame\(s\) in ([\d.]+) s; tracked (\d+) frames in ([\d.]+) s/.exec(r.stderr);
    if (!m) throw new Error(`unexpected track output: ${r.stderr}`);
    frames += Number(m[2]);
    seconds += Number(m[1]) + Number(m[3]);
    // correctness: the dataset's mask frames of this episode
    const key = `${CAM}.robot_mask`;
    const [H, W] = info.features[CAM].shape;
    const dec = spawnSync(
      'ffmpeg',
      ['-v', 'error', '-i', join(out, file(key)), '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
      { maxBuffer: 1 << 28 },
    );
    if (dec.status !== 0 || dec.stdout.length === 0) throw new Error(`cannot decode ${file(key)}: ${dec.stderr}`);
    const m0 = Math.round(Number(e[`videos/${key}/from_timestamp`]) * info.fps);
    readdirSync(masks)
      .sort()
      .forEach((n, j) => {
        const png = PNG.sync.read(readFileSync(join(masks, n)));
        for (let i = 0; i < W * H; i++) if (png.data[4 * i] !== dec.stdout[(m0 + j) * W * H + i]) mismatched++;
      });
  }
  if (mismatched) throw new Error(`dataset masks differ from track's in ${mismatched} pixels`);
  const row = {
    bench: 'dataset_vs_track',
    dataset: DS,
    camera: CAM,
    adapter: ds.adapter,
    frames: ds.frames,
    dataset_fps: ds.frames_per_s,
    dataset_split_s: { decode: ds.decode_s, gpu: ds.gpu_s, encode: ds.encode_s },
    track_frames: frames,
    track_fps: Math.round((frames / seconds) * 1000) / 1000,
    overhead_pct: Math.round((1 - ds.frames_per_s / (frames / seconds)) * 1000) / 10,
  };
  console.log(JSON.stringify(row));
  const json = arg('--json');
  if (json) writeFileSync(json, `${JSON.stringify(row, null, 2)}\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
