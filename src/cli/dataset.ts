// `robotseg dataset DATASET --weights FILE --out OUT [--config NAME|FILE] [--cameras KEY[,KEY…]]
//   [--target robot|arm|gripper[,…]] [--prompts FILE.json] [--mask-codec lossless|lerobot] [--png]
//   [--fps N] [--num-shards N --shard-index I] [--finalize] [--overwrite] [--precision f32|f16] [--quiet]`
//
// Robot masks for every episode of every camera of a LeRobot v3.0 dataset (or of a folder of videos /
// frame folders), written back as LeRobot video features `<camera>.<target>_mask`. The work is split
// into units (one source video file of one camera, all its episodes); shards take units balanced by
// frame count; each unit commits with a record written last; --finalize (or a run without
// --num-shards) checks every unit and writes the metadata. Everything the user can get wrong is
// checked before the GPU starts (exit 2, one line). The library side is src/node/lerobot/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { formatBytes } from '../graph/weights_io.js';
import { type Point, validatePrompt } from '../model/image_predictor.js';
import { isRobotSegConfig } from '../model/robotseg_config.js';
import { FrameSourceError, hasTool } from '../node/frame_source.js';
import { readMask } from '../node/image_io.js';
import { DatasetError, isLeRobotDataset, type LeRobotDataset, readLeRobotDataset } from '../node/lerobot/dataset.js';
import { finalizeLeRobot, listRecords, readRecords } from '../node/lerobot/finalize.js';
import {
  CODEC_ENCODER,
  type EpisodePrompt,
  type JobOptions,
  type MaskCodec,
  outputMismatch,
  readRecord,
  recordMismatch,
  runUnit,
  sha256File,
  type Timing,
  type UnitOutput,
  unitOutputs,
} from '../node/lerobot/job.js';
import { assignShards, folderUnits, leRobotUnits, probeUnit, type Unit } from '../node/lerobot/units.js';
import { loadModelWithStore, openModelWeights } from '../node/load_model.js';
import { VideoWriteError } from '../node/video_writer.js';
import { cliRuntime, oneLine, PRECISION_HELP, parsePrecision, UserError, userErrors } from './errors.js';
import { DEFAULT_TARGET, parseTargets } from './robot_targets.js';

export interface DatasetOpts {
  weights?: string;
  precision?: string;
  config?: string;
  out?: string;
  cameras?: string;
  target?: string;
  prompts?: string;
  maskCodec?: string;
  png?: boolean;
  fps?: string;
  numShards?: string;
  shardIndex?: string;
  finalize?: boolean;
  overwrite?: boolean;
  quiet?: boolean;
}

export function registerDataset(program: Command): void {
  program
    .command('dataset')
    .description('robot masks for every episode of a LeRobot v3.0 dataset (or a folder of videos), sharded, resumable')
    .argument('<dataset>', 'a LeRobot v3.0 dataset folder, or a folder of videos / frame folders (one episode each)')
    .option('--weights <file>', 'checkpoint: RobotSeg (automatic targets) or SAM 2.1 (needs --prompts)')
    .option('--config <name|file>', 'model config (default: embedded in the weights, else inferred)')
    .option('--out <dir>', 'output: a complete LeRobot v3.0 dataset (or <video>/<target>.mp4 per video)')
    .option('--cameras <keys>', 'video features to segment, comma-separated (default: every non-depth camera)')
    .option('--target <list>', 'RobotSeg targets robot, arm, gripper, comma-separated (default robot)')
    .option(
      '--prompts <file.json>',
      '{"<camera>": {"default": PROMPT, "<episode>": PROMPT}}, PROMPT = {frame, points, box, mask}',
    )
    .option('--mask-codec <codec>', 'lossless (exact masks, AV1; default) or lerobot (LeRobot camera settings)')
    .option('--png', 'folder datasets: PNG frame folders OUT/<video>/<target>/<frame>.png instead of videos')
    .option('--fps <n>', 'frame rate of frame folders (default 10)')
    .option(
      '--num-shards <n>',
      'split the units into N shards (with --shard-index, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)',
    )
    .option('--shard-index <i>', 'this process runs shard I (0 <= I < N)')
    .option('--finalize', 'after all shards: check every unit and write the metadata')
    .option('--overwrite', 'redo work recorded with other weights or options')
    .option('--precision <p>', `${PRECISION_HELP}; recorded per unit (other precision: --overwrite)`)
    .option('--quiet', 'no progress on stderr (the JSON summary still goes to stdout: array logs keep it)')
    .action(async (dataset: string, opts: DatasetOpts) => {
      process.stdout.write(`${JSON.stringify(await runDataset(dataset, opts))}\n`);
    });
}

// ----------------------------------------------------------------------------------- arguments

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < 1)
    throw new UserError(`${flag} '${v}': expected a positive integer`);
  return n;
}

/** Shard (index, count) from the flags and the environment; null = all units. */
export function resolveShard(
  opts: DatasetOpts,
  env: NodeJS.ProcessEnv = process.env,
): { index: number; count: number } | null {
  const fromEnv =
    env.SLURM_ARRAY_TASK_ID !== undefined
      ? 'SLURM_ARRAY_TASK_ID'
      : env.JOB_COMPLETION_INDEX !== undefined
        ? 'JOB_COMPLETION_INDEX'
        : null;
  const raw = opts.shardIndex ?? (fromEnv ? env[fromEnv] : undefined);
  const what = opts.shardIndex !== undefined ? '--shard-index' : fromEnv;
  if (opts.numShards === undefined) {
    if (opts.shardIndex !== undefined)
      throw new UserError(`--shard-index ${opts.shardIndex} without --num-shards N (the shard count is always a flag)`);
    return null;
  }
  const count = positiveInt('--num-shards', opts.numShards);
  if (raw === undefined)
    throw new UserError(
      '--num-shards without a shard index: give --shard-index I (or run as a Slurm array / Indexed Job task)',
    );
  const index = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(index))
    throw new UserError(`${what} '${raw}': expected an integer >= 0`);
  if (index >= count) throw new UserError(`${what} ${index} >= --num-shards ${count} (shards are 0 to ${count - 1})`);
  return { index, count };
}

interface RawPrompt {
  frame?: unknown;
  points?: unknown;
  box?: unknown;
  mask?: unknown;
}

/** --prompts FILE.json -> prompt lookup, every episode of every listed camera checked here. */
function readPrompts(
  file: string,
  cameras: Array<{ camera: string; width: number; height: number; episodes: Array<{ index: number; length: number }> }>,
): (camera: string, episode: number) => EpisodePrompt {
  if (!existsSync(file) || !statSync(file).isFile()) throw new UserError(`--prompts ${file}: no such file`);
  let json: Record<string, Record<string, RawPrompt>>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`--prompts ${file}: not valid JSON (${oneLine((e as Error).message)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UserError(`--prompts ${file}: expected {"<camera key>": {"default": PROMPT, "<episode>": PROMPT}}`);
  const known = new Set(cameras.map((c) => c.camera));
  for (const k of Object.keys(json))
    if (!known.has(k))
      throw new UserError(
        `--prompts ${file}: camera '${k}' is not among the cameras to segment (${[...known].join(', ')})`,
      );
  const resolved = new Map<string, EpisodePrompt>();
  for (const c of cameras) {
    const entry = json[c.camera] ?? {};
    for (const ep of c.episodes) {
      const raw = entry[String(ep.index)] ?? entry.default;
      const where = `--prompts ${file}: ${c.camera} episode ${ep.index}`;
      if (raw === undefined) throw new UserError(`${where} has no prompt (give "${ep.index}" or "default")`);
      resolved.set(`${c.camera}\n${ep.index}`, parsePrompt(raw, where, dirname(file), c.width, c.height, ep.length));
    }
  }
  return (camera, episode) => resolved.get(`${camera}\n${episode}`)!;
}

function parsePrompt(raw: RawPrompt, where: string, base: string, W: number, H: number, length: number): EpisodePrompt {
  if (typeof raw !== 'object' || raw === null)
    throw new UserError(`${where}: a prompt is an object {frame, points, box, mask}`);
  const frame = raw.frame ?? 0;
  if (!Number.isInteger(frame) || (frame as number) < 0 || (frame as number) >= length)
    throw new UserError(`${where}: frame ${JSON.stringify(frame)} is not a frame of the episode (0 to ${length - 1})`);
  const points: Point[] = [];
  if (raw.points !== undefined) {
    if (!Array.isArray(raw.points)) throw new UserError(`${where}: points must be [[x, y, label], …]`);
    for (const p of raw.points) {
      if (!Array.isArray(p) || p.length < 2 || p.length > 3 || !p.every((v) => typeof v === 'number'))
        throw new UserError(`${where}: point ${JSON.stringify(p)} is not [x, y] or [x, y, label]`);
      points.push({ x: p[0], y: p[1], label: p[2] ?? 1 });
    }
  }
  let box: [number, number, number, number] | undefined;
  if (raw.box !== undefined) {
    if (!Array.isArray(raw.box) || raw.box.length !== 4 || !raw.box.every((v) => typeof v === 'number'))
      throw new UserError(`${where}: box must be [x0, y0, x1, y1]`);
    box = raw.box as [number, number, number, number];
  }
  try {
    validatePrompt({ points, box }, W, H);
  } catch (e) {
    throw new UserError(`${where}: ${oneLine((e as Error).message)}`);
  }
  let mask: Uint8Array | undefined;
  let maskSha256: string | undefined;
  if (raw.mask !== undefined) {
    if (typeof raw.mask !== 'string') throw new UserError(`${where}: mask must be a PNG file name`);
    const p = join(base, raw.mask);
    let m: ReturnType<typeof readMask>;
    try {
      m = readMask(p);
    } catch (e) {
      throw new UserError(`${where}: mask ${p}: ${oneLine((e as Error).message)}`);
    }
    if (m.width !== W || m.height !== H)
      throw new UserError(`${where}: mask ${p} is ${m.width}x${m.height}, the camera is ${W}x${H}`);
    mask = m.data;
    maskSha256 = createHash('sha256').update(m.data).digest('hex');
  }
  if (!points.length && !box && !mask) throw new UserError(`${where}: the prompt has no points, box or mask`);
  return { frame: frame as number, points, box, mask, maskSha256 };
}

function hasEncoder(name: string): boolean {
  const ffmpeg = process.env.ROBOTSEG_FFMPEG ?? 'ffmpeg';
  if (!hasTool(ffmpeg)) return false;
  const list = spawnSync(ffmpeg, ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout ?? '';
  return new RegExp(`\\s${name}\\s`).test(list);
}

// ------------------------------------------------------------------------------------- command

export interface DatasetSummary {
  dataset: string;
  out: string;
  shard: string | null;
  units: number;
  units_run: number;
  units_skipped: number;
  frames: number;
  seconds: number;
  frames_per_s: number;
  decode_s: number;
  gpu_s: number;
  encode_s: number;
  finalized: boolean;
  keys: string[];
  adapter?: string;
}

const log = (quiet: boolean | undefined, s: string) => {
  if (!quiet) process.stderr.write(s);
};

export async function runDataset(datasetArg: string, opts: DatasetOpts): Promise<DatasetSummary> {
  // 1. flags
  const precision = parsePrecision(opts.precision);
  if (opts.out === undefined) throw new UserError('--out OUT is required');
  const codec = (opts.maskCodec ?? 'lossless') as MaskCodec;
  if (codec !== 'lossless' && codec !== 'lerobot')
    throw new UserError(`--mask-codec '${opts.maskCodec}': expected lossless or lerobot`);
  const fps = opts.fps === undefined ? 10 : positiveInt('--fps', opts.fps);
  const shard = resolveShard(opts);
  if (opts.finalize && shard)
    throw new UserError('--finalize runs once after all shards: drop --num-shards / --shard-index');
  if (!existsSync(datasetArg) || !statSync(datasetArg).isDirectory())
    throw new UserError(`dataset '${datasetArg}': no such folder`);
  if (resolve(datasetArg) === resolve(opts.out))
    throw new UserError('--out must differ from DATASET (the dataset is never modified)');
  const outDir = opts.out;
  if (existsSync(outDir) && !statSync(outDir).isDirectory())
    throw new UserError(`--out ${outDir}: exists and is not a folder`);

  // 2. the dataset and its units
  const lerobot = isLeRobotDataset(datasetArg);
  const ds: LeRobotDataset | null = lerobot
    ? await datasetUserErrors(datasetArg, () => readLeRobotDataset(datasetArg))
    : null;
  let all: Unit[] = ds ? [] : await datasetUserErrors(datasetArg, () => folderUnits(datasetArg, fps));
  const available = ds ? ds.cameras : [...new Set(all.map((u) => u.camera))];
  let cameras = available;
  if (opts.cameras !== undefined) {
    cameras = opts.cameras.split(',').map((s) => s.trim());
    for (const c of cameras)
      if (!available.includes(c))
        throw new UserError(`--cameras: '${c}' is not a camera of ${datasetArg} (${available.join(', ') || 'none'})`);
    if (new Set(cameras).size !== cameras.length)
      throw new UserError(`--cameras '${opts.cameras}': a camera is repeated`);
  }
  if (opts.png && ds) throw new UserError('--png is for folder datasets; a LeRobot dataset gets mask videos');
  if (ds) all = await datasetUserErrors(datasetArg, () => leRobotUnits(ds, cameras));
  else all = all.filter((u) => cameras.includes(u.camera));

  if (opts.finalize) return finalizeOnly(datasetArg, ds, all, outDir, opts);

  // 3. weights header and config (cheap), targets and prompts
  if (opts.weights === undefined) throw new UserError('--weights FILE is required (RobotSeg or SAM 2.1 checkpoint)');
  if (!existsSync(opts.weights) || !statSync(opts.weights).isFile())
    throw new UserError(`cannot read weights '${opts.weights}': no such file`);
  let targets = parseTargets(opts.target);
  const { file, config } = await datasetUserErrors(`weights ${opts.weights}`, () =>
    openModelWeights(opts.weights!, opts.config),
  );
  await file.close();
  const robot = isRobotSegConfig(config);
  if (targets && !robot)
    throw new UserError(`--target needs RobotSeg weights; '${opts.weights}' is SAM 2.1 (config ${config.name})`);
  if (!robot && !opts.prompts)
    throw new UserError(`SAM 2.1 weights need --prompts FILE.json (RobotSeg weights run without prompts)`);
  if (opts.prompts && targets && targets.length > 1)
    throw new UserError(`--target ${opts.target}: prompts go with one target (or none)`);
  if (!ds && opts.png && codec !== 'lossless') throw new UserError('--png writes exact PNGs: drop --mask-codec');

  // 4. this shard's units: probe their files (sizes, frame times; no decoding)
  const mine = shard ? assignShards(all, shard.count)[shard.index] : all;
  const probeSet = opts.prompts || !ds ? all : mine; // prompts are checked on every episode
  for (const u of probeSet) await datasetUserErrors(u.source, () => probeUnit(u));
  const prompt = opts.prompts
    ? readPrompts(
        opts.prompts,
        cameras.map((c) => {
          const us = all.filter((u) => u.camera === c);
          return { camera: c, width: us[0].width, height: us[0].height, episodes: us.flatMap((u) => u.episodes) };
        }),
      )
    : null;
  if (!(opts.png && !ds) && !hasEncoder(CODEC_ENCODER[codec]))
    throw new UserError(
      `ffmpeg with the ${CODEC_ENCODER[codec]} encoder not found: install it (apt-get install ffmpeg) for --mask-codec ${codec}`,
    );
  const jobOpts: JobOptions = {
    weightsSha256: sha256File(opts.weights),
    configSha256: createHash('sha256').update(JSON.stringify(config)).digest('hex'),
    codec,
    auto: prompt ? null : (targets ??= [DEFAULT_TARGET]),
    category: prompt && robot && targets ? targets[0] : null,
    prompt,
    png: Boolean(opts.png),
    precision,
  };

  // 5. what is done already (records), what to redo; mismatching work is refused without --overwrite
  const { weightsSha256: recorded } = await datasetUserErrors(outDir, () => readRecords(outDir));
  if (recorded && recorded !== jobOpts.weightsSha256) {
    if (!opts.overwrite)
      throw new UserError(
        `${outDir} holds masks made with other weights (sha256 ${recorded.slice(0, 12)}…): use --overwrite to redo them`,
      );
    if (!shard) for (const rel of listRecords(outDir)) dropRecord(outDir, rel);
  }
  const todo: Array<{ unit: Unit; outputs: UnitOutput[] }> = [];
  let skipped = 0;
  for (const unit of mine) {
    const outs = unitOutputs(unit, jobOpts, ds?.info.video_path ?? null);
    if (outs.some((o) => !o.rel)) throw new UserError(`${datasetArg}: no video_path template`);
    if (probeSet !== all) await datasetUserErrors(unit.source, () => probeUnit(unit));
    const need: UnitOutput[] = [];
    for (const o of outs) {
      const r = readRecord(outDir, o.recordRel);
      const bad = r ? recordMismatch(r, unit, o, jobOpts, outDir) : { kind: 'stale' as const, why: 'no record' };
      if (bad?.kind === 'options' && !opts.overwrite)
        throw new UserError(`${outDir}: ${o.key} of ${unit.id} was ${bad.why}: use --overwrite to redo it`);
      if (bad) need.push(o);
    }
    if (need.length) todo.push({ unit, outputs: need });
    else skipped++;
  }

  // 6. the GPU
  const timing: Timing = { decode: 0, gpu: 0, encode: 0 };
  const frames = todo.reduce((a, t) => a + t.unit.frames, 0);
  let seconds = 0;
  let adapter: string | undefined;
  if (todo.length) {
    const rt = await cliRuntime({ precision });
    adapter = rt.adapter.description || rt.adapter.device || 'WebGPU';
    try {
      const t0 = performance.now();
      const loaded = await datasetUserErrors(`weights ${opts.weights}`, () =>
        loadModelWithStore(rt, opts.weights!, config, { precision }),
      );
      log(
        opts.quiet,
        `weights: ${loaded.store.entries.size} tensors, ${formatBytes(loaded.store.bytes)}, config ${config.name}, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
      );
      log(
        opts.quiet,
        `${shard ? `shard ${shard.index}/${shard.count}: ` : ''}${todo.length} unit(s) to run (${frames} frames), ${skipped} already done\n`,
      );
      const bar =
        !opts.quiet && process.stderr.isTTY
          ? new cliProgress.SingleBar(
              {
                stream: process.stderr,
                hideCursor: false,
                etaBuffer: 50,
                format: 'masks |{bar}| {value}/{total} frames | {rate} frames/s | ETA {eta_formatted} | {unit}',
              },
              cliProgress.Presets.shades_classic,
            )
          : null;
      bar?.start(frames, 0, { rate: '-', unit: '' });
      const tRun = performance.now();
      let done = 0;
      try {
        for (const { unit, outputs } of todo) {
          bar?.update(done, { unit: unit.id });
          await datasetUserErrors(unit.source, () =>
            runUnit(unit, outputs, {
              rt,
              model: loaded.model,
              outDir,
              opts: jobOpts,
              timing,
              onFrame: () => {
                done++;
                bar?.update(done, { rate: (done / ((performance.now() - tRun) / 1000)).toFixed(2), unit: unit.id });
              },
            }),
          );
          if (!bar) log(opts.quiet, `${unit.id}: ${unit.frames} frames -> ${outputs.map((o) => o.rel).join(', ')}\n`);
        }
      } finally {
        bar?.stop();
      }
      seconds = (performance.now() - tRun) / 1000;
      loaded.store.destroy();
    } finally {
      rt.destroy();
    }
  }

  // 7. a run without shards finalizes itself
  let keys: string[] = [];
  if (!shard) {
    if (ds) keys = await datasetUserErrors(outDir, () => finalizeLeRobot(ds, outDir, jobOpts.weightsSha256).keys);
    else keys = checkFolderRecords(all, outDir);
  }
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return {
    dataset: datasetArg,
    out: outDir,
    shard: shard ? `${shard.index}/${shard.count}` : null,
    units: mine.length,
    units_run: todo.length,
    units_skipped: skipped,
    frames,
    seconds: r3(seconds),
    frames_per_s: seconds > 0 ? r3(frames / seconds) : 0,
    decode_s: r3(timing.decode),
    gpu_s: r3(timing.gpu),
    encode_s: r3(timing.encode),
    finalized: !shard,
    keys,
    ...(adapter ? { adapter } : {}),
  };
}

/** Remove a record (first) and then its output: a unit without a record is redone. */
function dropRecord(outDir: string, rel: string): void {
  const r = readRecord(outDir, rel);
  rmSync(join(outDir, rel), { force: true });
  if (r) rmSync(join(outDir, r.output.path), { recursive: true, force: true });
}

/** Folder datasets: every unit's records present and matching their outputs. */
function checkFolderRecords(units: Unit[], outDir: string): string[] {
  const { byKey } = readRecords(outDir);
  const keys = [...byKey.keys()].sort();
  for (const u of units)
    if (![...byKey.values()].some((rs) => rs.some((r) => r.source.path === u.id)))
      throw new UserError(`${outDir}: ${u.id} has no record (run its shard again, then --finalize)`);
  for (const rs of byKey.values())
    for (const r of rs) {
      const bad = outputMismatch(r, outDir);
      if (bad) throw new UserError(`${outDir}: ${r.key}: ${bad.why} (rerun the shards)`);
    }
  return keys;
}

async function finalizeOnly(
  datasetArg: string,
  ds: LeRobotDataset | null,
  all: Unit[],
  outDir: string,
  opts: DatasetOpts,
): Promise<DatasetSummary> {
  if (!existsSync(outDir)) throw new UserError(`--finalize: ${outDir} does not exist (run the shards first)`);
  const weightsSha = opts.weights ? sha256File(opts.weights) : undefined;
  let keys: string[];
  if (ds) keys = await datasetUserErrors(outDir, () => finalizeLeRobot(ds, outDir, weightsSha).keys);
  else {
    for (const u of all) await datasetUserErrors(u.source, () => probeUnit(u));
    keys = await datasetUserErrors(outDir, () => checkFolderRecords(all, outDir));
  }
  if (keys.length === 0) throw new UserError(`--finalize: ${outDir} holds no unit records (run the shards first)`);
  return {
    dataset: datasetArg,
    out: outDir,
    shard: null,
    units: all.length,
    units_run: 0,
    units_skipped: all.length,
    frames: 0,
    seconds: 0,
    frames_per_s: 0,
    decode_s: 0,
    gpu_s: 0,
    encode_s: 0,
    finalized: true,
    keys,
  };
}

/** userErrors (errors.ts) with the dataset command's input errors. */
function datasetUserErrors<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
  return userErrors(what, fn, [DatasetError, FrameSourceError, VideoWriteError]);
}
