// Builds test/fixtures/lerobot_tiny from test/fixtures/lerobot_sample: the same LeRobot v3.0 layout
// (4 episodes, 2 AV1 cameras, episodes sharing mp4 files with the same rollover: front file-000 =
// episodes 0-2, file-001 = episode 3; wrist file-000 = episodes 0-1, file-001 = episodes 2-3; data
// files 0-1 / 2-3) but only the first few frames of every episode, so that tests whose point is the
// plumbing (shards, Slurm, resume) track a few frames instead of 141. Frames are the sample's decoded
// frames, re-encoded with LeRobot's camera settings (libsvtav1 yuv420p g=2 crf=30 preset=12);
// data rows are the sample's rows with `index` renumbered; episodes rows get the new length, index
// range and video from/to; the per-episode and dataset stats are the sample's (of the full episodes).
//   npx tsx scripts/make_lerobot_tiny.ts [LENGTHS=5,4,5,3]
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readParquet, writeParquetBuffer } from '../src/node/lerobot/parquet.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'test/fixtures/lerobot_sample');
const DST = join(ROOT, 'test/fixtures/lerobot_tiny');
const LENGTHS = (process.argv[2] ?? '5,4,5,3').split(',').map(Number);

const info = JSON.parse(readFileSync(join(SRC, 'meta/info.json'), 'utf8'));
const fps: number = info.fps;
const cams = Object.keys(info.features).filter((k) => info.features[k].dtype === 'video');
const epFile = 'meta/episodes/chunk-000/file-000.parquet';
const eps = await readParquet(join(SRC, epFile));
const N = (v: unknown) => Number(v);

rmSync(DST, { recursive: true, force: true });
mkdirSync(join(DST, 'meta/episodes/chunk-000'), { recursive: true });
copyFileSync(join(SRC, 'meta/tasks.parquet'), join(DST, 'meta/tasks.parquet'));
copyFileSync(join(SRC, 'meta/stats.json'), join(DST, 'meta/stats.json'));

// videos: per camera file, the kept frames of its episodes in file order
for (const cam of cams) {
  const [H, W] = info.features[cam].shape;
  const files = new Map<string, Array<Record<string, unknown>>>();
  for (const r of eps.rows) {
    const key = `chunk-${String(N(r[`videos/${cam}/chunk_index`])).padStart(3, '0')}/file-${String(N(r[`videos/${cam}/file_index`])).padStart(3, '0')}`;
    files.set(key, [...(files.get(key) ?? []), r]);
  }
  for (const [key, rows] of files) {
    const src = join(SRC, 'videos', cam, `${key}.mp4`);
    const dec = spawnSync('ffmpeg', ['-v', 'error', '-i', src, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
      maxBuffer: 1 << 30,
    });
    if (dec.status !== 0) throw new Error(`decode ${src}: ${dec.stderr}`);
    const frame = W * H * 3;
    const parts: Buffer[] = [];
    rows.sort((a, b) => N(a[`videos/${cam}/from_timestamp`]) - N(b[`videos/${cam}/from_timestamp`]));
    let from = 0;
    for (const r of rows) {
      const e = N(r.episode_index);
      const first = Math.round(N(r[`videos/${cam}/from_timestamp`]) * fps);
      for (let k = 0; k < LENGTHS[e]; k++)
        parts.push(dec.stdout.subarray((first + k) * frame, (first + k + 1) * frame));
      r[`videos/${cam}/from_timestamp`] = from;
      r[`videos/${cam}/to_timestamp`] = from + LENGTHS[e] / fps;
      from = N(r[`videos/${cam}/to_timestamp`]);
    }
    const out = join(DST, 'videos', cam, `${key}.mp4`);
    mkdirSync(dirname(out), { recursive: true });
    const enc = spawnSync(
      'ffmpeg',
      [
        '-v',
        'error',
        '-y',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
        '-s',
        `${W}x${H}`,
        '-r',
        String(fps),
        '-i',
        '-',
        '-c:v',
        'libsvtav1',
        '-pix_fmt',
        'yuv420p',
        '-g',
        '2',
        '-crf',
        '30',
        '-preset',
        '12',
        '-svtav1-params',
        'fast-decode=0',
        '-movflags',
        '+faststart',
        out,
      ],
      { input: Buffer.concat(parts) },
    );
    if (enc.status !== 0) throw new Error(`encode ${out}: ${enc.stderr}`);
  }
}

// data: the kept rows, index renumbered; episodes: lengths and global ranges
const kept = new Map<number, number>(); // episode -> new dataset_from_index
let next = 0;
for (const r of eps.rows) {
  const e = N(r.episode_index);
  kept.set(e, next);
  r.length = BigInt(LENGTHS[e]);
  r.dataset_from_index = BigInt(next);
  r.dataset_to_index = BigInt(next + LENGTHS[e]);
  next += LENGTHS[e];
}
for (const f of [
  ...new Set(
    eps.rows.map(
      (r) =>
        `chunk-${String(N(r['data/chunk_index'])).padStart(3, '0')}/file-${String(N(r['data/file_index'])).padStart(3, '0')}`,
    ),
  ),
]) {
  const t = await readParquet(join(SRC, 'data', `${f}.parquet`));
  const rows = t.rows
    .filter((r) => N(r.frame_index) < LENGTHS[N(r.episode_index)])
    .map((r) => ({ ...r, index: BigInt(kept.get(N(r.episode_index))! + N(r.frame_index)) }));
  mkdirSync(join(DST, 'data', dirname(f)), { recursive: true });
  writeFileSync(join(DST, 'data', `${f}.parquet`), writeParquetBuffer(t.columns, rows));
}
writeFileSync(join(DST, epFile), writeParquetBuffer(eps.columns, eps.rows));
info.total_frames = next;
writeFileSync(join(DST, 'meta/info.json'), JSON.stringify(info, null, 4));
console.log(`${DST}: ${eps.rows.length} episodes, ${next} frames`);
