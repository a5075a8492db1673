// Units of work of `robotseg dataset`: one source video file of one camera with all its episodes in
// file order (a LeRobot camera file, or one video / frame folder of a folder dataset). Sharding
// assigns units to shards deterministically, balanced by frame count; probing maps every frame of
// every episode to a decoded frame of its file by presentation time (query = from_timestamp + k/fps,
// nearest pts within LeRobot's 1e-4 s), so files whose episodes are not exactly length/fps apart
// are still read frame for frame (reference §15.3). Node only.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { FRAME_EXTENSIONS, imageHeaderSize, naturalCompare, probe } from '../frame_source.js';
import { VIDEO_EXTENSIONS } from '../video_writer.js';
import { cameraFiles, DatasetError, type LeRobotDataset, TOLERANCE_S } from './dataset.js';

export interface UnitEpisode {
  index: number;
  length: number;
  /** Camera file location (LeRobot) or null (folder datasets). */
  chunk: number | null;
  file: number | null;
  from: number;
  to: number;
  /** Decoded frame index in the source file of each frame of the episode (filled by probeUnit). */
  frames: number[];
}

export interface Unit {
  /** Stable id: the source path relative to the dataset root. */
  id: string;
  /** Camera key (LeRobot) or the video's name (folder datasets). */
  camera: string;
  /** Absolute (or cwd-relative) source path: a video file or a folder of frames. */
  source: string;
  kind: 'video' | 'folder';
  chunk: number | null;
  file: number | null;
  episodes: UnitEpisode[];
  frames: number;
  width: number;
  height: number;
  fps: number;
  /** Frame files of a folder unit, in natural order (filled by probeUnit). */
  frameFiles?: string[];
}

/** The units of the given cameras of a LeRobot dataset, cameras in the given order, files in (chunk, file) order. */
export function leRobotUnits(ds: LeRobotDataset, cameras: string[]): Unit[] {
  const out: Unit[] = [];
  for (const camera of cameras) {
    const [H, W] = ds.info.features[camera].shape;
    for (const f of cameraFiles(ds, camera))
      out.push({
        id: f.rel,
        camera,
        source: join(ds.root, f.rel),
        kind: 'video',
        chunk: f.chunk,
        file: f.file,
        episodes: f.episodes.map(({ episode, video }) => ({
          index: episode.index,
          length: episode.length,
          chunk: video.chunk,
          file: video.file,
          from: video.from,
          to: video.to,
          frames: [],
        })),
        frames: f.frames,
        width: W,
        height: H,
        fps: ds.info.fps,
      });
  }
  return out;
}

/** A folder dataset: every video file and every sub-folder holding frames, in natural name order. */
export function folderUnits(dir: string, fps: number): Unit[] {
  const out: Unit[] = [];
  const names = readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort(naturalCompare);
  const seen = new Map<string, string>();
  for (const n of names) {
    const p = join(dir, n);
    const st = statSync(p);
    let kind: Unit['kind'];
    let name: string;
    if (st.isFile() && VIDEO_EXTENSIONS.includes(extname(n).toLowerCase())) {
      kind = 'video';
      name = basename(n, extname(n));
    } else if (
      st.isDirectory() &&
      readdirSync(p).some((f) => !f.startsWith('.') && FRAME_EXTENSIONS.includes(extname(f).toLowerCase()))
    ) {
      kind = 'folder';
      name = n;
    } else continue;
    const other = seen.get(name);
    if (other !== undefined)
      throw new DatasetError(`${dir}: '${other}' and '${n}' have the same name '${name}'; their outputs would collide`);
    seen.set(name, n);
    out.push({
      id: n,
      camera: name,
      source: p,
      kind,
      chunk: null,
      file: null,
      episodes: [{ index: 0, length: 0, chunk: null, file: null, from: 0, to: 0, frames: [] }],
      frames: 0,
      width: 0,
      height: 0,
      fps,
    });
  }
  if (out.length === 0)
    throw new DatasetError(`${dir}: no video files and no folders of frames (and no meta/info.json)`);
  return out;
}

/**
 * Assigns units to `n` shards: largest first (ties in unit order) to the shard with the fewest frames
 * so far (ties: lowest index). Returns each shard's units in unit order.
 */
export function assignShards(units: Unit[], n: number): Unit[][] {
  const order = units.map((u, i) => i).sort((a, b) => units[b].frames - units[a].frames || a - b);
  const load = new Array<number>(n).fill(0);
  const pick: number[][] = Array.from({ length: n }, () => []);
  for (const i of order) {
    let s = 0;
    for (let k = 1; k < n; k++) if (load[k] < load[s]) s = k;
    load[s] += units[i].frames;
    pick[s].push(i);
  }
  return pick.map((ids) => ids.sort((a, b) => a - b).map((i) => units[i]));
}

interface ProbedStream {
  width: number;
  height: number;
  /** Presentation times (s) of every frame, ascending. */
  pts: number[];
  rate: number | null;
}

function probeStream(path: string): ProbedStream {
  const ffprobe = process.env.ROBOTSEG_FFPROBE ?? 'ffprobe';
  const s = JSON.parse(
    probe(
      ffprobe,
      ['-select_streams', 'v:0', '-show_entries', 'stream=width,height,avg_frame_rate', '-of', 'json'],
      path,
    ),
  ) as { streams?: Array<{ width?: number; height?: number; avg_frame_rate?: string }> };
  const st = s.streams?.[0];
  if (!st?.width || !st.height) throw new DatasetError(`${path}: no video stream`);
  const pts = probe(ffprobe, ['-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0'], path)
    .split('\n')
    .map((l) => l.split(',')[0].trim())
    .filter((l) => l !== '' && l !== 'N/A')
    .map(Number)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const [a, b = '1'] = (st.avg_frame_rate ?? '').split('/');
  const rate = Number(a) / Number(b);
  return { width: st.width, height: st.height, pts, rate: Number.isFinite(rate) && rate > 0 ? rate : null };
}

/** Index of the pts nearest to t (pts ascending). */
function nearest(pts: number[], t: number): number {
  let lo = 0;
  let hi = pts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(pts[lo - 1] - t) <= Math.abs(pts[lo] - t)) return lo - 1;
  return lo;
}

/**
 * Opens the unit's source headers (no decoding): size, frame times, and each episode frame's index in
 * the decoded stream. Throws DatasetError when a frame is not in its file within 1e-4 s or the size
 * differs from the camera's declared shape.
 */
export function probeUnit(u: Unit): void {
  if (u.kind === 'folder') {
    const files = readdirSync(u.source)
      .filter((f) => !f.startsWith('.') && FRAME_EXTENSIONS.includes(extname(f).toLowerCase()))
      .sort(naturalCompare);
    const ep = u.episodes[0];
    ep.length = files.length;
    ep.frames = files.map((_, i) => i);
    ep.to = files.length / u.fps;
    u.frames = files.length;
    u.frameFiles = files;
    const size = imageHeaderSize(join(u.source, files[0]));
    if (!size) throw new DatasetError(`${join(u.source, files[0])}: not a readable PNG or JPEG`);
    u.width = size.width;
    u.height = size.height;
    return;
  }
  if (!existsSync(u.source)) throw new DatasetError(`video file ${u.source} is missing`);
  const s = probeStream(u.source);
  if (s.pts.length === 0) throw new DatasetError(`${u.source}: the video has no frames`);
  if (u.chunk === null) {
    // a plain video: every frame in order, one episode
    const ep = u.episodes[0];
    u.width = s.width;
    u.height = s.height;
    u.fps = s.rate ?? u.fps;
    ep.length = s.pts.length;
    ep.frames = s.pts.map((_, i) => i);
    ep.to = s.pts.length / u.fps;
    u.frames = s.pts.length;
    return;
  }
  if (s.width !== u.width || s.height !== u.height)
    throw new DatasetError(
      `${u.source} is ${s.width}x${s.height}, but info.json declares ${u.camera} as ${u.width}x${u.height}`,
    );
  for (const ep of u.episodes) {
    ep.frames = [];
    for (let k = 0; k < ep.length; k++) {
      const t = ep.from + k / u.fps;
      const i = nearest(s.pts, t);
      if (Math.abs(s.pts[i] - t) > TOLERANCE_S)
        throw new DatasetError(
          `${u.source}: episode ${ep.index} frame ${k} (t = ${t.toFixed(4)} s) has no frame within 1e-4 s (nearest ${s.pts[i].toFixed(4)} s)`,
        );
      ep.frames.push(i);
    }
  }
}
