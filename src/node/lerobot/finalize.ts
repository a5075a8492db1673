// The final pass of `robotseg dataset` (one process, after every shard): checks that every unit of
// every mask key recorded in OUT is complete and valid (records agree on weights and options, sources
// and outputs match their hashes), places the unchanged files (hard links where possible, else copies;
// always through a temporary name and a rename, so an existing link is never written through), and
// writes the new metadata: every meta/episodes file with the `videos/<key>/*` and `stats/<key>/*`
// columns of each mask key (reference §11), info.json with one video feature per mask key (its
// `info` block probed from the key's chunk-000/file-000 as LeRobot does) and stats.json. Node only.
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { probe } from '../frame_source.js';
import { tempPathFor, writeFileAtomic } from '../atomic_write.js';
import { DatasetError, type FeatureSpec, formatTemplate, type LeRobotDataset } from './dataset.js';
import { outputMismatch, RECORDS_DIR, readRecord, sourceDigest, type UnitRecord } from './job.js';
import { aggregateStats, type FeatureStats, STAT_NAMES } from './mask_stats.js';
import type { ColumnSchema, SchemaElement } from './parquet.js';
import { writeParquetBuffer } from './parquet.js';
import { leRobotUnits, type Unit } from './units.js';

/** Every record under OUT/.robotseg/units (paths relative to OUT), sorted. */
export function listRecords(outDir: string): string[] {
  const root = join(outDir, RECORDS_DIR);
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = statSync(join(root, r));
      if (st.isDirectory()) walk(r);
      else if (n.endsWith('.json') && !n.startsWith('.')) out.push(`${RECORDS_DIR}/${r}`);
    }
  };
  if (existsSync(root)) walk('');
  return out;
}

export interface RecordSet {
  /** Records by key, each key's records in unit order. */
  byKey: Map<string, UnitRecord[]>;
  weightsSha256: string | null;
}

/** Reads every record; refuses records that disagree on the weights or the model config. */
export function readRecords(outDir: string): RecordSet {
  const byKey = new Map<string, UnitRecord[]>();
  let first: UnitRecord | null = null;
  for (const rel of listRecords(outDir)) {
    const r = readRecord(outDir, rel);
    if (!r) throw new DatasetError(`${join(outDir, rel)}: not a valid unit record (delete it and rerun that unit)`);
    if (first && (r.weights_sha256 !== first.weights_sha256 || r.options.config_sha256 !== first.options.config_sha256))
      throw new DatasetError(
        `${outDir}: unit records disagree: ${first.key} was made with weights ${first.weights_sha256.slice(0, 12)}…, ${r.key} with ${r.weights_sha256.slice(0, 12)}… (rerun with --overwrite)`,
      );
    first ??= r;
    let l = byKey.get(r.key);
    if (!l) byKey.set(r.key, (l = []));
    l.push(r);
  }
  return { byKey, weightsSha256: first?.weights_sha256 ?? null };
}

/** Checks one key's records against the dataset's units of its camera; returns them in unit order. */
function checkKey(ds: LeRobotDataset, outDir: string, key: string, recs: UnitRecord[]): UnitRecord[] {
  const camera = recs[0].camera;
  if (!ds.videoKeys.includes(camera))
    throw new DatasetError(`${outDir}: records of ${key} name camera '${camera}', which the dataset does not have`);
  if (ds.info.features[key])
    throw new DatasetError(`${outDir}: mask key ${key} is already a feature of the source dataset`);
  const units = leRobotUnits(ds, [camera]);
  const bySource = new Map(recs.map((r) => [r.source.path, r]));
  const opt = JSON.stringify(recs[0].options);
  return units.map((u: Unit) => {
    const r = bySource.get(u.id);
    if (!r)
      throw new DatasetError(
        `${outDir}: ${key} is incomplete: unit ${u.id} has no record (run its shard again, then --finalize)`,
      );
    if (JSON.stringify(r.options) !== opt)
      throw new DatasetError(`${outDir}: records of ${key} disagree on options (rerun with --overwrite)`);
    const src = sourceDigest(u);
    if (r.source.size !== src.size || r.source.sha256 !== src.sha256)
      throw new DatasetError(`${outDir}: ${key}: source ${u.id} changed since its unit ran (rerun the shards)`);
    const eps = u.episodes.map((e) => `${e.index}:${e.length}`).join(',');
    if (r.episodes.map((e) => `${e.episode_index}:${e.length}`).join(',') !== eps)
      throw new DatasetError(`${outDir}: ${key}: the record of ${u.id} lists other episodes than the dataset`);
    const bad = outputMismatch(r, outDir);
    if (bad) throw new DatasetError(`${outDir}: ${key}: ${bad.why} (rerun the shards)`);
    return r;
  });
}

/** Same-content check without reading when the two paths are one file. */
function sameFile(a: string, b: string): boolean {
  const sa = statSync(a);
  const sb = statSync(b);
  if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
  if (sa.size !== sb.size) return false;
  return readFileSync(a).equals(readFileSync(b));
}

/** Hard link (else copy) src to dst through a temporary name; skips files already identical. */
function placeFile(src: string, dst: string): void {
  if (existsSync(dst) && statSync(dst).isFile() && sameFile(src, dst)) return;
  mkdirSync(dirname(dst), { recursive: true });
  const tmp = tempPathFor(dst);
  try {
    try {
      linkSync(src, tmp);
    } catch {
      copyFileSync(src, tmp);
    }
    renameSync(tmp, dst);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

const TEMP = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;

/** Removes atomic_write temporaries (`.<name>.<pid>.<hex>.tmp`) anywhere under OUT. */
function sweepTree(dir: string): void {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (TEMP.test(n)) rmSync(p, { recursive: true, force: true });
    else if (statSync(p).isDirectory()) sweepTree(p);
  }
}

const REWRITTEN = new Set(['meta/info.json', 'meta/stats.json']);

/** Every file of the source dataset except the metadata this pass rewrites. */
function unchangedFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (r === '.robotseg' || r === 'meta/episodes') continue;
      const st = statSync(join(root, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile() && !REWRITTEN.has(r)) out.push(r);
    }
  };
  walk('');
  return out;
}

// ----------------------------------------------------------------------------- episodes columns

const el = (name: string, rest: Omit<SchemaElement, 'name'>): SchemaElement => ({ name, ...rest });
const leaf = (name: string, type: string): ColumnSchema => ({
  name,
  elements: [el(name, { type, repetition_type: 'OPTIONAL' })],
});
/** list<…list<type>> with `depth` LIST levels (3-level layout, as pyarrow writes). */
function listColumn(name: string, type: string, depth: number): ColumnSchema {
  const elements: SchemaElement[] = [];
  for (let d = 0; d < depth; d++) {
    elements.push(
      el(d === 0 ? name : 'element', { repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' }),
    );
    elements.push(el('list', { repetition_type: 'REPEATED', num_children: 1 }));
  }
  elements.push(el('element', { type, repetition_type: 'OPTIONAL' }));
  return { name, elements };
}

function renamed(c: ColumnSchema, name: string): ColumnSchema {
  return { name, elements: c.elements.map((e, i) => (i === 0 ? { ...e, name } : { ...e })) };
}

/** The new columns of one mask key: the camera's column schemas where present (same types), else LeRobot's. */
function maskColumns(
  existing: ColumnSchema[],
  camera: string,
  key: string,
): { videos: ColumnSchema[]; stats: ColumnSchema[] } {
  const byName = new Map(existing.map((c) => [c.name, c]));
  const videos = (
    [
      ['chunk_index', 'INT64'],
      ['file_index', 'INT64'],
      ['from_timestamp', 'DOUBLE'],
      ['to_timestamp', 'DOUBLE'],
    ] as const
  ).map(([s, t]) => {
    const cam = byName.get(`videos/${camera}/${s}`);
    return cam ? renamed(cam, `videos/${key}/${s}`) : leaf(`videos/${key}/${s}`, t);
  });
  const stats = STAT_NAMES.map((s) => {
    const cam = byName.get(`stats/${camera}/${s}`);
    const name = `stats/${key}/${s}`;
    if (cam) return renamed(cam, name);
    return s === 'count' ? listColumn(name, 'INT64', 1) : listColumn(name, 'DOUBLE', 3);
  });
  return { videos, stats };
}

/** Insert `add` after the last column whose name starts with `prefix` (else before meta/episodes/*). */
function insertAfter(cols: ColumnSchema[], prefix: string, add: ColumnSchema[]): ColumnSchema[] {
  let at = -1;
  cols.forEach((c, i) => {
    if (c.name.startsWith(prefix)) at = i;
  });
  if (at < 0) {
    at = cols.findIndex((c) => c.name.startsWith('meta/episodes/'));
    at = at < 0 ? cols.length - 1 : at - 1;
  }
  return [...cols.slice(0, at + 1), ...add, ...cols.slice(at + 1)];
}

const statsValue = (s: FeatureStats, name: (typeof STAT_NAMES)[number]) =>
  name === 'count' ? (s.count as number[]).map((v) => BigInt(v)) : s[name];

// --------------------------------------------------------------------------------------- the pass

export interface FinalizeResult {
  keys: string[];
  placed: number;
}

/** Mask feature's `info` block, probed from its chunk-000/file-000 (or its first file) like LeRobot's. */
function probeInfo(path: string, codec: string): Record<string, unknown> {
  const s = (
    JSON.parse(
      probe(
        process.env.ROBOTSEG_FFPROBE ?? 'ffprobe',
        [
          '-select_streams',
          'v:0',
          '-show_entries',
          'stream=codec_name,pix_fmt,width,height,avg_frame_rate',
          '-of',
          'json',
        ],
        path,
      ),
    ) as {
      streams: Array<{ codec_name: string; pix_fmt: string; width: number; height: number; avg_frame_rate: string }>;
    }
  ).streams[0];
  const [a, b = '1'] = s.avg_frame_rate.split('/');
  const info: Record<string, unknown> = {
    'video.height': s.height,
    'video.width': s.width,
    'video.codec': s.codec_name,
    'video.pix_fmt': s.pix_fmt,
    'video.fps': Math.round(Number(a) / Number(b)),
    'video.channels': 3,
    has_audio: false,
    'video.g': 2,
  };
  if (codec === 'lerobot')
    Object.assign(info, { 'video.crf': 30, 'video.preset': 12, 'video.fast_decode': 0, 'video.extra_options': {} });
  else info['video.extra_options'] = { 'aom-params': 'lossless=1' };
  info.is_depth_map = false;
  return info;
}

/** Check every recorded key, place the unchanged files, write meta/episodes, stats.json and info.json (last). */
export function finalizeLeRobot(ds: LeRobotDataset, outDir: string, weightsSha256?: string): FinalizeResult {
  const { byKey, weightsSha256: recorded } = readRecords(outDir);
  if (weightsSha256 && recorded && recorded !== weightsSha256)
    throw new DatasetError(
      `${outDir}: the unit records were made with other weights than --weights (sha256 ${recorded.slice(0, 12)}…)`,
    );
  // keys in camera order, then by name
  const keys = [...byKey.keys()].sort((a, b) => {
    const ca = ds.videoKeys.indexOf(byKey.get(a)![0].camera);
    const cb = ds.videoKeys.indexOf(byKey.get(b)![0].camera);
    return ca - cb || (a < b ? -1 : a > b ? 1 : 0);
  });
  const checked = new Map(keys.map((k) => [k, checkKey(ds, outDir, k, byKey.get(k)!)]));

  // 0. temporaries of killed shards (every unit is complete now, so nothing is being written)
  sweepTree(outDir);

  // 1. unchanged files
  const files = unchangedFiles(ds.root);
  for (const rel of files) placeFile(join(ds.root, rel), join(outDir, rel));

  // 2. meta/episodes: the same files, rows and values, plus the mask columns
  const perEpisode = new Map<string, Map<number, UnitRecord['episodes'][number]>>();
  for (const k of keys) {
    const m = new Map<number, UnitRecord['episodes'][number]>();
    for (const r of checked.get(k)!) for (const e of r.episodes) m.set(e.episode_index, e);
    perEpisode.set(k, m);
  }
  for (const f of ds.episodesFiles) {
    let cols = f.table.columns;
    for (const k of keys) {
      const camera = checked.get(k)![0].camera;
      const { videos, stats } = maskColumns(f.table.columns, camera, k);
      cols = insertAfter(cols, 'videos/', videos);
      cols = insertAfter(cols, 'stats/', stats);
    }
    const rows = f.table.rows.map((r) => {
      const o: Record<string, unknown> = { ...r };
      const ep = Number(r.episode_index);
      for (const k of keys) {
        const e = perEpisode.get(k)!.get(ep)!;
        const rec = checked.get(k)!.find((x) => x.episodes.includes(e))!;
        const loc = /chunk-(\d+)\/file-(\d+)\.mp4$/.exec(rec.output.path);
        o[`videos/${k}/chunk_index`] = BigInt(loc ? Number(loc[1]) : (e.chunk_index ?? 0));
        o[`videos/${k}/file_index`] = BigInt(loc ? Number(loc[2]) : (e.file_index ?? 0));
        o[`videos/${k}/from_timestamp`] = e.from_timestamp;
        o[`videos/${k}/to_timestamp`] = e.to_timestamp;
        for (const s of STAT_NAMES) o[`stats/${k}/${s}`] = statsValue(e.stats, s);
      }
      return o;
    });
    const dst = join(outDir, f.rel);
    mkdirSync(dirname(dst), { recursive: true });
    writeFileAtomic(dst, writeParquetBuffer(cols, rows));
  }

  // 3. stats.json: existing entries unchanged, one aggregated entry per mask key
  const statsPath = join(ds.root, 'meta', 'stats.json');
  const stats = existsSync(statsPath) ? (JSON.parse(readFileSync(statsPath, 'utf8')) as Record<string, unknown>) : {};
  for (const k of keys) stats[k] = aggregateStats(ds.episodes.map((e) => perEpisode.get(k)!.get(e.index)!.stats));
  writeFileAtomic(join(outDir, 'meta', 'stats.json'), JSON.stringify(stats, null, 4));

  // 4. info.json last: features gain the mask keys, each right after its camera
  const info = JSON.parse(ds.infoText) as Record<string, unknown> & { features: Record<string, FeatureSpec> };
  const features: Record<string, FeatureSpec> = {};
  for (const [name, spec] of Object.entries(info.features)) {
    features[name] = spec;
    for (const k of keys) {
      const recs = checked.get(k)!;
      if (recs[0].camera !== name) continue;
      const first =
        recs.find(
          (r) => r.output.path === formatTemplate(ds.info.video_path!, { video_key: k, chunk_index: 0, file_index: 0 }),
        ) ?? recs[0];
      features[k] = {
        dtype: 'video',
        shape: [recs[0].height, recs[0].width, 3],
        names: ['height', 'width', 'channels'],
        info: probeInfo(join(outDir, first.output.path), recs[0].options.mask_codec),
      };
    }
  }
  info.features = features;
  writeFileAtomic(join(outDir, 'meta', 'info.json'), JSON.stringify(info, null, 4));
  return { keys, placed: files.length };
}
