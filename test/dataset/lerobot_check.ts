// An independent LeRobot v3.0 checker for the tests: it reads OUT with hyparquet and ffprobe only
// (none of src/node/lerobot's code) and checks what LeRobot relies on (../shared/reference/lerobot-v3.md):
// info.json (source features unchanged, each mask key a [H, W, 3] yuv420p video feature of its camera's
// size and fps, totals unchanged), every meta/episodes file with the same columns, row i = episode i,
// INT64 / DOUBLE / nested-list column types, `to - from = length / fps`, every frame of every episode at
// `from_timestamp + timestamp` (the data rows' timestamps) within 1e-4 s of a frame of its file and
// inside [from, to), stats shapes, and the unchanged files byte-identical to the source.
//   npx tsx test/dataset/lerobot_check.ts SRC OUT   (prints the problems, exit 1 if any)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';

type Row = Record<string, unknown>;

async function readTable(path: string): Promise<{ rows: Row[]; types: Map<string, string> }> {
  const b = readFileSync(path);
  const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
  const meta = parquetMetadata(file);
  const rows = (await parquetReadObjects({ file, metadata: meta })) as Row[];
  // leaf type per top-level column, with the list depth: INT64, DOUBLE, list<DOUBLE>, list<list<list<DOUBLE>>>
  const types = new Map<string, string>();
  const s = meta.schema;
  let i = 1;
  const walk = (k: number): [number, string] => {
    const e = s[k];
    if (!e.num_children) return [k + 1, String(e.type)];
    let next = k + 1;
    let inner = '';
    for (let c = 0; c < e.num_children; c++) [next, inner] = walk(next);
    return [next, e.converted_type === 'LIST' ? `list<${inner}>` : inner];
  };
  while (i < s.length) {
    const [next, t] = walk(i);
    types.set(s[i].name, t);
    i = next;
  }
  return { rows, types };
}

function filesUnder(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    if (statSync(join(root, r)).isDirectory()) out.push(...filesUnder(root, r));
    else out.push(r);
  }
  return out;
}

function framePts(path: string): number[] {
  const r = spawnSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', path],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`ffprobe ${path}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .map((l) => l.split(',')[0].trim())
    .filter((l) => l !== '')
    .map(Number)
    .sort((a, b) => a - b);
}

function streamInfo(path: string): Record<string, unknown> {
  const r = spawnSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=codec_name,pix_fmt,width,height,r_frame_rate',
      '-of',
      'json',
      path,
    ],
    { encoding: 'utf8' },
  );
  return (JSON.parse(r.stdout) as { streams: Array<Record<string, unknown>> }).streams[0];
}

const py = (t: string, v: Record<string, string | number>) =>
  t.replace(/\{(\w+)(?::0(\d+)d)?\}/g, (_, k: string, w?: string) =>
    w ? String(v[k]).padStart(Number(w), '0') : String(v[k]),
  );

/** Problems found (empty = accepted). `maskKeys`: the keys OUT must add. */
export async function checkLeRobotOutput(src: string, out: string, maskKeys: string[]): Promise<string[]> {
  const problems: string[] = [];
  const bad = (s: string) => problems.push(s);
  const sinfo = JSON.parse(readFileSync(join(src, 'meta/info.json'), 'utf8'));
  const info = JSON.parse(readFileSync(join(out, 'meta/info.json'), 'utf8'));
  const fps: number = info.fps;
  if (info.codebase_version !== 'v3.0') bad(`codebase_version ${info.codebase_version}`);
  for (const k of Object.keys(sinfo))
    if (k !== 'features' && JSON.stringify(sinfo[k]) !== JSON.stringify(info[k])) bad(`info.json ${k} changed`);
  for (const [k, f] of Object.entries(sinfo.features))
    if (JSON.stringify(info.features[k]) !== JSON.stringify(f)) bad(`feature ${k} changed`);
  const added = Object.keys(info.features).filter((k) => !(k in sinfo.features));
  if (JSON.stringify(added.sort()) !== JSON.stringify([...maskKeys].sort()))
    bad(`added features ${added} != ${maskKeys}`);
  const videoKeys = Object.keys(info.features).filter((k) => info.features[k].dtype === 'video');

  // unchanged files
  for (const rel of filesUnder(src)) {
    if (rel === 'meta/info.json' || rel === 'meta/stats.json' || rel.startsWith('meta/episodes/')) continue;
    if (!existsSync(join(out, rel))) bad(`${rel} missing`);
    else if (!readFileSync(join(out, rel)).equals(readFileSync(join(src, rel)))) bad(`${rel} differs from the source`);
  }

  // data timestamps per (episode, frame)
  const ts = new Map<number, number[]>();
  for (const rel of filesUnder(join(out, 'data'))) {
    const { rows } = await readTable(join(out, 'data', rel));
    for (const r of rows) {
      const e = Number(r.episode_index);
      const l = ts.get(e) ?? [];
      l[Number(r.frame_index)] = Number(r.timestamp);
      ts.set(e, l);
    }
  }

  // episodes
  const epFiles = filesUnder(join(out, 'meta/episodes'));
  const srcRows: Row[] = [];
  for (const rel of filesUnder(join(src, 'meta/episodes')))
    srcRows.push(...(await readTable(join(src, 'meta/episodes', rel))).rows);
  const rows: Row[] = [];
  let cols: string | null = null;
  let types = new Map<string, string>();
  for (const rel of epFiles) {
    const t = await readTable(join(out, 'meta/episodes', rel));
    const c = [...t.types.keys()].sort().join(',');
    if (cols !== null && c !== cols) bad(`meta/episodes/${rel}: columns differ from the first file's`);
    cols = c;
    types = t.types;
    rows.push(...t.rows);
  }
  rows.forEach((r, i) => {
    if (Number(r.episode_index) !== i) bad(`episodes row ${i} is episode ${r.episode_index}`);
  });
  if (rows.length !== info.total_episodes) bad(`${rows.length} episode rows, total_episodes ${info.total_episodes}`);
  srcRows.forEach((s, i) => {
    for (const [k, v] of Object.entries(s))
      if (
        JSON.stringify(rows[i]?.[k], (_, x) => (typeof x === 'bigint' ? `${x}n` : x)) !==
        JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))
      )
        bad(`episode ${i}: ${k} changed`);
  });
  const stats = JSON.parse(readFileSync(join(out, 'meta/stats.json'), 'utf8'));
  const sstats = JSON.parse(readFileSync(join(src, 'meta/stats.json'), 'utf8'));
  for (const k of Object.keys(sstats))
    if (JSON.stringify(stats[k]) !== JSON.stringify(sstats[k])) bad(`stats.json ${k} changed`);
  const is311 = (v: unknown) =>
    Array.isArray(v) &&
    v.length === 3 &&
    v.every(
      (c) =>
        Array.isArray(c) &&
        c.length === 1 &&
        Array.isArray(c[0]) &&
        c[0].length === 1 &&
        typeof c[0][0] === 'number' &&
        c[0][0] >= 0 &&
        c[0][0] <= 1,
    );

  for (const key of maskKeys) {
    const f = info.features[key];
    const cam = videoKeys.find((k) => key.startsWith(`${k}.`) && k in sinfo.features);
    if (!f || !cam) {
      bad(`${key}: no feature or no camera`);
      continue;
    }
    const cf = info.features[cam];
    if (f.dtype !== 'video' || JSON.stringify(f.shape) !== JSON.stringify(cf.shape) || f.shape[2] !== 3)
      bad(`${key}: dtype ${f.dtype} shape ${f.shape} (camera ${cf.shape})`);
    if (JSON.stringify(f.names) !== JSON.stringify(['height', 'width', 'channels'])) bad(`${key}: names ${f.names}`);
    if (
      f.info?.is_depth_map !== false ||
      f.info?.['video.pix_fmt'] !== 'yuv420p' ||
      f.info?.['video.codec'] !== 'av1' ||
      f.info?.['video.fps'] !== fps ||
      f.info?.['video.channels'] !== 3
    )
      bad(`${key}: info block ${JSON.stringify(f.info)}`);
    for (const s of ['chunk_index', 'file_index'])
      if (types.get(`videos/${key}/${s}`) !== 'INT64') bad(`${key}/${s} type ${types.get(`videos/${key}/${s}`)}`);
    for (const s of ['from_timestamp', 'to_timestamp'])
      if (types.get(`videos/${key}/${s}`) !== 'DOUBLE') bad(`${key}/${s} type ${types.get(`videos/${key}/${s}`)}`);
    for (const s of ['min', 'max', 'mean', 'std', 'q01', 'q10', 'q50', 'q90', 'q99']) {
      if (types.get(`stats/${key}/${s}`) !== 'list<list<list<DOUBLE>>>')
        bad(`stats/${key}/${s} type ${types.get(`stats/${key}/${s}`)}`);
      if (!is311(stats[key]?.[s]))
        bad(`stats.json ${key}.${s} is not (3,1,1) in [0,1]: ${JSON.stringify(stats[key]?.[s])}`);
    }
    if (types.get(`stats/${key}/count`) !== 'list<INT64>') bad(`stats/${key}/count type`);
    if (!(Array.isArray(stats[key]?.count) && stats[key].count.length === 1)) bad(`stats.json ${key}.count shape`);
    // every frame of every episode reachable at from + timestamp, in [from, to); file frame counts
    const byFile = new Map<string, number>();
    const ptsCache = new Map<string, number[]>();
    for (const r of rows) {
      const e = Number(r.episode_index);
      const len = Number(r.length);
      const file = py(info.video_path, {
        video_key: key,
        chunk_index: Number(r[`videos/${key}/chunk_index`]),
        file_index: Number(r[`videos/${key}/file_index`]),
      });
      const path = join(out, file);
      const from = Number(r[`videos/${key}/from_timestamp`]);
      const to = Number(r[`videos/${key}/to_timestamp`]);
      if (Math.abs(to - from - len / fps) > 1e-4)
        bad(`${key} episode ${e}: to - from = ${to - from}, length / fps = ${len / fps}`);
      if (!existsSync(path)) {
        bad(`${key} episode ${e}: ${path} missing`);
        continue;
      }
      byFile.set(path, (byFile.get(path) ?? 0) + len);
      let pts = ptsCache.get(path);
      if (!pts) ptsCache.set(path, (pts = framePts(path)));
      const si = streamInfo(path);
      if (
        si.width !== f.shape[1] ||
        si.height !== f.shape[0] ||
        si.pix_fmt !== 'yuv420p' ||
        si.codec_name !== 'av1' ||
        si.r_frame_rate !== `${fps}/1`
      )
        bad(`${path}: stream ${JSON.stringify(si)}`);
      for (let k = 0; k < len; k++) {
        const q = from + (ts.get(e)?.[k] ?? Number.NaN);
        const near = pts.reduce((a, p) => (Math.abs(p - q) < Math.abs(a - q) ? p : a), Number.POSITIVE_INFINITY);
        if (!(Math.abs(near - q) <= 1e-4)) bad(`${key} episode ${e} frame ${k}: no frame within 1e-4 s of ${q}`);
        else if (near < from - 1e-4 || near >= to - 1e-4)
          bad(`${key} episode ${e} frame ${k}: matched ${near} outside [${from}, ${to})`);
      }
      for (const s of ['min', 'max', 'mean', 'std'])
        if (!is311(r[`stats/${key}/${s}`])) bad(`${key} episode ${e}: stats ${s} shape`);
    }
    for (const [p, n] of byFile)
      if ((ptsCache.get(p) ?? []).length !== n) bad(`${p}: ${ptsCache.get(p)?.length} frames, its episodes have ${n}`);
  }
  return problems;
}

if (process.argv[1]?.endsWith('lerobot_check.ts')) {
  const [src, out, ...keys] = process.argv.slice(2);
  const p = await checkLeRobotOutput(src, out, keys);
  for (const s of p) console.log(s);
  console.log(p.length ? `${p.length} problem(s)` : 'accepted');
  process.exit(p.length ? 1 : 0);
}
