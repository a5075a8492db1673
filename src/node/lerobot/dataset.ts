// LeRobot v3.0 dataset reader (../shared/reference/lerobot-v3.md): meta/info.json, every
// meta/episodes/chunk-*/file-*.parquet as one table (row i = episode i), the path templates, and the
// per-camera video files with several episodes each (episodes of a camera roll over to new files
// independently of the data files and of the other cameras: every episode's own
// `videos/<key>/chunk_index|file_index|from_timestamp|to_timestamp` columns are used). A v2.x
// dataset, a missing file or an inconsistent episodes table is a DatasetError (one line for the user)
// before any GPU work. Node only.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type ParquetTable, readParquet } from './parquet.js';

/** A dataset problem the user can fix (wrong version, missing or inconsistent files). */
export class DatasetError extends Error {}

/** LeRobot's frame-time tolerance (tolerance_s of LeRobotDataset). */
export const TOLERANCE_S = 1e-4;

export interface FeatureSpec {
  dtype: string;
  shape: number[];
  names?: unknown;
  info?: Record<string, unknown>;
}

export interface LeRobotInfo {
  codebase_version: string;
  fps: number;
  features: Record<string, FeatureSpec>;
  total_episodes: number;
  total_frames: number;
  chunks_size: number;
  data_path: string;
  video_path: string | null;
  [k: string]: unknown;
}

/** Where one episode sits in one camera's files. */
export interface EpisodeVideo {
  chunk: number;
  file: number;
  from: number;
  to: number;
}

export interface Episode {
  index: number;
  length: number;
  /** Global frame range [fromIndex, toIndex). */
  fromIndex: number;
  toIndex: number;
  dataChunk: number;
  dataFile: number;
  videos: Map<string, EpisodeVideo>;
}

/** One meta/episodes parquet file as read (rewritten with the mask columns by the finaliser). */
export interface EpisodesFile {
  /** Path relative to the dataset root. */
  rel: string;
  table: ParquetTable;
}

export interface LeRobotDataset {
  root: string;
  info: LeRobotInfo;
  /** info.json's text as on disk (its values are kept unchanged). */
  infoText: string;
  episodes: Episode[];
  episodesFiles: EpisodesFile[];
  /** Every video feature, in features order. */
  videoKeys: string[];
  /** Video features that are not depth maps (the default cameras). */
  cameras: string[];
}

/** A source video file of one camera with its episodes in file order: the unit of work. */
export interface CameraFile {
  camera: string;
  chunk: number;
  file: number;
  /** Path relative to the dataset root. */
  rel: string;
  episodes: Array<{ episode: Episode; video: EpisodeVideo }>;
  frames: number;
}

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number));

/**
 * Python's str.format for LeRobot's templates: `{name}`, `{name:03d}`, `{name:d}` (trap 10 of the
 * reference: never hard-code the layout).
 */
export function formatTemplate(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)(?::(0?)(\d*)d)?\}/g, (m, name: string, zero: string, width: string) => {
    const v = vars[name];
    if (v === undefined) throw new DatasetError(`path template '${template}': no value for {${name}}`);
    if (typeof v === 'string' || (zero === '' && width === '')) return String(v);
    const s = String(Math.abs(v));
    const w = Number(width || 0);
    return (v < 0 ? '-' : '') + (zero === '0' ? s.padStart(w - (v < 0 ? 1 : 0), '0') : s);
  });
}

export const EPISODES_PATH = 'meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet';

/** True when `dir` looks like a LeRobot dataset (v3.0 or older): a meta/info.json or a v2 meta file. */
export function isLeRobotDataset(dir: string): boolean {
  return existsSync(join(dir, 'meta', 'info.json')) || existsSync(join(dir, 'meta', 'episodes.jsonl'));
}

const CONVERTER =
  'convert it with LeRobot first: python -m lerobot.scripts.convert_dataset_v21_to_v30 --repo-id=<repo_id>';

function readInfo(root: string): { info: LeRobotInfo; text: string } {
  const p = join(root, 'meta', 'info.json');
  if (!existsSync(p)) {
    if (existsSync(join(root, 'meta', 'episodes.jsonl')))
      throw new DatasetError(`${root}: a LeRobot v2.x dataset (meta/episodes.jsonl, no meta/info.json); ${CONVERTER}`);
    throw new DatasetError(`${root}: no meta/info.json (not a LeRobot dataset)`);
  }
  const text = readFileSync(p, 'utf8');
  let info: LeRobotInfo;
  try {
    info = JSON.parse(text) as LeRobotInfo;
  } catch (e) {
    throw new DatasetError(`${p}: not valid JSON (${(e as Error).message})`);
  }
  const v = String(info.codebase_version ?? '');
  if (/^v[01]\./.test(v) || /^v2\./.test(v) || existsSync(join(root, 'meta', 'episodes.jsonl')))
    throw new DatasetError(
      `${root}: a LeRobot ${v || 'v2.x'} dataset (per-episode files); this tool reads v3.0: ${CONVERTER}`,
    );
  if (!/^v3\./.test(v)) throw new DatasetError(`${p}: codebase_version '${v}' is not v3.x`);
  if (!Number.isInteger(info.fps) || info.fps <= 0)
    throw new DatasetError(`${p}: fps ${info.fps} is not a positive integer`);
  if (typeof info.features !== 'object' || info.features === null) throw new DatasetError(`${p}: no features`);
  for (const k of ['data_path', 'total_episodes', 'total_frames'] as const)
    if (info[k] === undefined) throw new DatasetError(`${p}: no ${k}`);
  return { info, text };
}

/** meta/episodes/chunk-*\/file-*.parquet in (chunk, file) order. */
function episodesFilePaths(root: string): string[] {
  const dir = join(root, 'meta', 'episodes');
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DatasetError(`${root}: no meta/episodes/ folder (a v3.0 dataset keeps its episodes table there)`);
  const out: string[] = [];
  for (const c of readdirSync(dir)
    .filter((n) => /^chunk-\d+$/.test(n))
    .sort())
    for (const f of readdirSync(join(dir, c))
      .filter((n) => /^file-\d+\.parquet$/.test(n))
      .sort())
      out.push(`meta/episodes/${c}/${f}`);
  if (out.length === 0) throw new DatasetError(`${root}: meta/episodes/ holds no chunk-*/file-*.parquet`);
  return out;
}

/** Read and check a v3.0 dataset's metadata (no video is opened). Throws DatasetError. */
export async function readLeRobotDataset(root: string): Promise<LeRobotDataset> {
  const { info, text } = readInfo(root);
  const fps = info.fps;
  const videoKeys = Object.entries(info.features)
    .filter(([, f]) => f.dtype === 'video')
    .map(([k]) => k);
  const isDepth = (k: string) => {
    const i = info.features[k].info ?? {};
    const legacy = (i.video_info ?? {}) as Record<string, unknown>;
    return i.is_depth_map === true || i['video.is_depth_map'] === true || legacy['video.is_depth_map'] === true;
  };
  if (videoKeys.length > 0 && !info.video_path) throw new DatasetError(`${root}: video features but no video_path`);
  if (!existsSync(join(root, 'meta', 'tasks.parquet'))) throw new DatasetError(`${root}: no meta/tasks.parquet`);

  const episodesFiles: EpisodesFile[] = [];
  for (const rel of episodesFilePaths(root)) {
    let table: ParquetTable;
    try {
      table = await readParquet(join(root, rel));
    } catch (e) {
      throw new DatasetError(`${join(root, rel)}: cannot read the parquet file (${(e as Error).message})`);
    }
    episodesFiles.push({ rel, table });
  }
  const cols0 = episodesFiles[0].table.columns.map((c) => c.name).join('\n');
  for (const f of episodesFiles.slice(1))
    if (f.table.columns.map((c) => c.name).join('\n') !== cols0)
      throw new DatasetError(`${join(root, f.rel)}: its columns differ from ${episodesFiles[0].rel}'s`);
  const need = [
    'episode_index',
    'length',
    'dataset_from_index',
    'dataset_to_index',
    'data/chunk_index',
    'data/file_index',
  ];
  for (const k of videoKeys)
    for (const s of ['chunk_index', 'file_index', 'from_timestamp', 'to_timestamp']) need.push(`videos/${k}/${s}`);
  const have = new Set(episodesFiles[0].table.columns.map((c) => c.name));
  for (const c of need)
    if (!have.has(c))
      throw new DatasetError(`${join(root, episodesFiles[0].rel)}: the episodes table has no '${c}' column`);

  const episodes: Episode[] = [];
  let nextIndex = 0;
  const bad = (rel: string, e: number, what: string) =>
    new DatasetError(`${join(root, rel)}: inconsistent episodes table: episode ${e} ${what}`);
  for (const f of episodesFiles) {
    for (const r of f.table.rows) {
      const i = episodes.length;
      const e: Episode = {
        index: num(r.episode_index),
        length: num(r.length),
        fromIndex: num(r.dataset_from_index),
        toIndex: num(r.dataset_to_index),
        dataChunk: num(r['data/chunk_index']),
        dataFile: num(r['data/file_index']),
        videos: new Map(),
      };
      if (e.index !== i) throw bad(f.rel, e.index, `is in row ${i} (row i must be episode i)`);
      if (!(Number.isInteger(e.length) && e.length > 0)) throw bad(f.rel, i, `has length ${e.length}`);
      if (e.fromIndex !== nextIndex || e.toIndex - e.fromIndex !== e.length)
        throw bad(
          f.rel,
          i,
          `covers frames [${e.fromIndex}, ${e.toIndex}) with length ${e.length}; expected [${nextIndex}, ${nextIndex + e.length})`,
        );
      nextIndex = e.toIndex;
      for (const k of videoKeys) {
        const v: EpisodeVideo = {
          chunk: num(r[`videos/${k}/chunk_index`]),
          file: num(r[`videos/${k}/file_index`]),
          from: num(r[`videos/${k}/from_timestamp`]),
          to: num(r[`videos/${k}/to_timestamp`]),
        };
        if (![v.chunk, v.file].every(Number.isInteger) || ![v.from, v.to].every(Number.isFinite) || v.from < 0)
          throw bad(f.rel, i, `has no valid location in ${k}'s files`);
        if (Math.abs(v.to - v.from - e.length / fps) > TOLERANCE_S)
          throw bad(f.rel, i, `of ${k}: to - from = ${v.to - v.from} s but length / fps = ${e.length / fps} s`);
        e.videos.set(k, v);
      }
      episodes.push(e);
    }
  }
  if (episodes.length !== info.total_episodes)
    throw new DatasetError(
      `${root}: info.json says ${info.total_episodes} episodes, meta/episodes has ${episodes.length}`,
    );
  if (nextIndex !== info.total_frames)
    throw new DatasetError(`${root}: info.json says ${info.total_frames} frames, meta/episodes covers ${nextIndex}`);
  for (const e of episodes) {
    const p = formatTemplate(info.data_path, { chunk_index: e.dataChunk, file_index: e.dataFile });
    if (!existsSync(join(root, p))) throw new DatasetError(`${root}: episode ${e.index}'s data file ${p} is missing`);
  }
  return {
    root,
    info,
    infoText: text,
    episodes,
    episodesFiles,
    videoKeys,
    cameras: videoKeys.filter((k) => !isDepth(k)),
  };
}

/** The source video files of `camera`, each with its episodes in time order; checks that episodes do not overlap. */
export function cameraFiles(ds: LeRobotDataset, camera: string): CameraFile[] {
  const byFile = new Map<string, CameraFile>();
  for (const e of ds.episodes) {
    const v = e.videos.get(camera)!;
    const rel = formatTemplate(ds.info.video_path!, { video_key: camera, chunk_index: v.chunk, file_index: v.file });
    let u = byFile.get(rel);
    if (!u) byFile.set(rel, (u = { camera, chunk: v.chunk, file: v.file, rel, episodes: [], frames: 0 }));
    u.episodes.push({ episode: e, video: v });
    u.frames += e.length;
  }
  const out = [...byFile.values()].sort((a, b) => a.chunk - b.chunk || a.file - b.file);
  for (const u of out) {
    u.episodes.sort((a, b) => a.video.from - b.video.from);
    for (let k = 1; k < u.episodes.length; k++) {
      const [p, q] = [u.episodes[k - 1], u.episodes[k]];
      if (q.video.from < p.video.to - TOLERANCE_S)
        throw new DatasetError(
          `${ds.root}: inconsistent episodes table: episodes ${p.episode.index} and ${q.episode.index} overlap in ${u.rel}`,
        );
    }
    if (!existsSync(join(ds.root, u.rel)))
      throw new DatasetError(
        `${ds.root}: video file ${u.rel} is missing (episode${u.episodes.length > 1 ? 's' : ''} ${u.episodes.map((x) => x.episode.index).join(', ')} of ${camera})`,
      );
  }
  return out;
}
