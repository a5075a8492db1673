// One unit of `robotseg dataset` on the GPU, and its commit record.
//
// A unit (units.ts) is decoded by ONE ffmpeg process (src/node/frame_source.ts, streaming forward,
// the next frame prefetched while the GPU works), every episode is tracked by a fresh VideoPredictor
// exactly as `robotseg track` does (automatic RobotSeg targets on frame 0, or the episode's prompt;
// all targets of an episode as one batch), and each output (one per target) is encoded by ONE ffmpeg
// process fed gray frames on a pipe (src/node/video_writer.ts), so decoding, GPU work and encoding
// overlap. Outputs go to temporary names and are renamed when complete; the unit's records (one per
// output: source and output sizes and hashes, weights hash, options, frame counts, per-episode
// stats) are written last, atomically: a record is the unit's commit marker. Node only.
import type { Precision } from '../../model/module.js';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { RgbImage } from '../../image/rgb.js';
import type { Runtime } from '../../graph/runtime.js';
import type { Point } from '../../model/image_predictor.js';
import type { SAM2 } from '../../model/sam2.js';
import { type FrameSource, VideoPredictor } from '../../model/video_predictor.js';
import { tempPathFor, writeFileAtomic } from '../atomic_write.js';
import { openFrameSource, type OpenedFrameSource } from '../frame_source.js';
import { writeMaskPng } from '../image_io.js';
import { VideoWriter } from '../video_writer.js';
import { formatTemplate } from './dataset.js';
import { type FeatureStats, MaskStats } from './mask_stats.js';
import type { Unit } from './units.js';

export const RECORD_FORMAT = 'robotseg-dataset-unit/1';
export const RECORDS_DIR = '.robotseg/units';
export type MaskCodec = 'lossless' | 'lerobot';

/** ffmpeg output options of a mask video (input: gray 0/255 frames at the camera's size and fps). */
export function maskCodecArgs(codec: MaskCodec): string[] {
  const common = ['-pix_fmt', 'yuv420p', '-g', '2'];
  const codecArgs =
    codec === 'lossless'
      ? // exact: gray 0/255 -> Y 16/235, U = V = 128 everywhere, decodes back to 0/255 bit for bit
        ['-c:v', 'libaom-av1', '-aom-params', 'lossless=1', '-cpu-used', '8', '-row-mt', '1', ...common]
      : // LeRobot's camera encoder (reference §10)
        ['-c:v', 'libsvtav1', ...common, '-crf', '30', '-preset', '12', '-svtav1-params', 'fast-decode=0'];
  // bitexact + no metadata: the same masks give the same bytes (idempotent reruns)
  return [
    ...codecArgs,
    '-map_metadata',
    '-1',
    '-fflags',
    '+bitexact',
    '-flags:v',
    '+bitexact',
    '-movflags',
    '+faststart',
  ];
}

/** The ffmpeg encoder a codec needs (checked before any GPU work). */
export const CODEC_ENCODER: Record<MaskCodec, string> = { lossless: 'libaom-av1', lerobot: 'libsvtav1' };

/** A prompt for one episode, coordinates in frame pixels. */
export interface EpisodePrompt {
  frame: number;
  points: Point[];
  box?: [number, number, number, number];
  mask?: Uint8Array;
  /** sha256 of the mask's 0/1 pixels (part of the record's options). */
  maskSha256?: string;
}

/** One output of a unit: a target's mask video (or PNG folder) and its record. */
export interface UnitOutput {
  /** Feature key (`<camera>.<target>_mask`, `<camera>.mask`) or, for folder datasets, `<name>/<target>`. */
  key: string;
  /** RobotSeg target (automatic mode or the prompts' class token), null for SAM 2.1 prompts. */
  target: string | null;
  /** Output path relative to OUT: an mp4, or a folder with --png. */
  rel: string;
  png: boolean;
  /** Record path relative to OUT. */
  recordRel: string;
}

/** Options that change the masks: all of them go into every record and must match to reuse it. */
export interface JobOptions {
  weightsSha256: string;
  configSha256: string;
  codec: MaskCodec;
  /** Automatic targets (RobotSeg, no prompts) or null with prompts. */
  auto: string[] | null;
  /** RobotSeg class token used with prompts (`--target` with `--prompts`), else null. */
  category: string | null;
  /** Prompt of (camera, episode) with prompts; null in automatic mode. */
  prompt: ((camera: string, episode: number) => EpisodePrompt) | null;
  png: boolean;
  /** --precision: f16 masks may differ from f32 ones near the threshold, so records keep it. */
  precision: Precision;
}

export interface UnitRecord {
  format: string;
  key: string;
  camera: string;
  target: string | null;
  source: { path: string; size: number; sha256: string };
  weights_sha256: string;
  options: {
    config_sha256: string;
    mask_codec: MaskCodec;
    png: boolean;
    category: string | null;
    prompts_sha256: string | null;
    resize: 'image';
    /** Absent in records written before --precision existed: those were f32. */
    precision?: Precision;
  };
  fps: number;
  width: number;
  height: number;
  frames: number;
  episodes: Array<{
    episode_index: number;
    length: number;
    chunk_index: number | null;
    file_index: number | null;
    from_timestamp: number;
    to_timestamp: number;
    stats: FeatureStats;
  }>;
  output: { path: string; size: number; sha256: string };
}

/** The outputs of a unit for the run's targets (LeRobot: `video_path` formatted with the mask key). */
export function unitOutputs(unit: Unit, opts: JobOptions, videoPath: string | null): UnitOutput[] {
  const targets: Array<string | null> = opts.auto ?? [opts.category];
  return targets.map((t) => {
    if (videoPath !== null) {
      const key = t !== null && opts.auto ? `${unit.camera}.${t}_mask` : `${unit.camera}.mask`;
      const rel = formatTemplate(videoPath, { video_key: key, chunk_index: unit.chunk!, file_index: unit.file! });
      const recordRel = `${RECORDS_DIR}/${formatTemplate('{key}/chunk-{chunk_index:03d}/file-{file_index:03d}.json', {
        key,
        chunk_index: unit.chunk!,
        file_index: unit.file!,
      })}`;
      return { key, target: t, rel, png: false, recordRel };
    }
    const name = t !== null && opts.auto ? t : 'mask';
    const key = `${unit.camera}/${name}`;
    return {
      key,
      target: t,
      rel: opts.png ? key : `${key}.mp4`,
      png: opts.png,
      recordRel: `${RECORDS_DIR}/${key}.json`,
    };
  });
}

/** sha256 of a file, streamed. */
export function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Hash and size of an output: an mp4, or a PNG folder (its sorted file names and their hashes). */
export function outputDigest(path: string, png: boolean, names?: string[]): { size: number; sha256: string } {
  if (!png) return { size: readFileSync(path).length, sha256: sha256File(path) };
  const h = createHash('sha256');
  let size = 0;
  for (const n of names ?? []) {
    const b = readFileSync(join(path, `${n}.png`));
    size += b.length;
    h.update(`${n}.png ${createHash('sha256').update(b).digest('hex')}\n`);
  }
  return { size, sha256: h.digest('hex') };
}

/** Source digest (cached per unit: several outputs share it). */
const sourceDigests = new Map<string, { size: number; sha256: string }>();
export function sourceDigest(unit: Unit): { size: number; sha256: string } {
  let d = sourceDigests.get(unit.source);
  if (!d) {
    if (unit.kind === 'video') d = { size: readFileSync(unit.source).length, sha256: sha256File(unit.source) };
    else {
      const h = createHash('sha256');
      let size = 0;
      for (const n of frameFileNames(unit)) {
        const b = readFileSync(join(unit.source, n));
        size += b.length;
        h.update(`${n} ${createHash('sha256').update(b).digest('hex')}\n`);
      }
      d = { size, sha256: h.digest('hex') };
    }
    sourceDigests.set(unit.source, d);
  }
  return d;
}

const frameFileNames = (u: Unit) => u.frameFiles ?? [];

/** Output frame names (PNG basenames) of a unit: the frame files' names, or 00000, 00001, … for videos. */
export function unitFrameNames(u: Unit): string[] {
  if (u.frameFiles) return u.frameFiles.map((f) => basename(f, extname(f)));
  const digits = Math.max(5, String(u.frames - 1).length);
  return Array.from({ length: u.frames }, (_, i) => String(i).padStart(digits, '0'));
}

/** The options part of a unit's records (prompts hashed per unit). */
export function recordOptions(unit: Unit, out: UnitOutput, opts: JobOptions): UnitRecord['options'] {
  let prompts: string | null = null;
  if (opts.prompt) {
    const per = unit.episodes.map((e) => {
      const p = opts.prompt!(unit.camera, e.index);
      return { episode: e.index, frame: p.frame, points: p.points, box: p.box ?? null, mask: p.maskSha256 ?? null };
    });
    prompts = createHash('sha256').update(JSON.stringify(per)).digest('hex');
  }
  return {
    config_sha256: opts.configSha256,
    mask_codec: opts.codec,
    png: out.png,
    category: opts.prompt ? opts.category : null,
    prompts_sha256: prompts,
    resize: 'image',
    precision: opts.precision,
  };
}

export function readRecord(outDir: string, rel: string): UnitRecord | null {
  const p = join(outDir, rel);
  if (!existsSync(p)) return null;
  try {
    const r = JSON.parse(readFileSync(p, 'utf8')) as UnitRecord;
    return r.format === RECORD_FORMAT ? r : null;
  } catch {
    return null;
  }
}

/** Why a record does not cover this unit and output with these options ('' when it does). */
export function recordMismatch(
  r: UnitRecord,
  unit: Unit,
  out: UnitOutput,
  opts: JobOptions,
  outDir: string,
): { kind: 'options' | 'stale'; why: string } | null {
  if (r.weights_sha256 !== opts.weightsSha256) return { kind: 'options', why: 'made with other weights' };
  const o = recordOptions(unit, out, opts);
  for (const k of Object.keys(o) as Array<keyof typeof o>) {
    const had = k === 'precision' ? (r.options.precision ?? 'f32') : r.options[k];
    if (JSON.stringify(had) !== JSON.stringify(o[k]))
      return {
        kind: 'options',
        why: `made with ${k} ${JSON.stringify(had)}, this run has ${JSON.stringify(o[k])}`,
      };
  }
  const src = sourceDigest(unit);
  if (r.source.size !== src.size || r.source.sha256 !== src.sha256)
    return { kind: 'stale', why: 'its source file changed' };
  if (r.frames !== unit.frames) return { kind: 'stale', why: 'its frame count changed' };
  return outputMismatch(r, outDir);
}

/** Checks the record's output file(s) against its size and hash. */
export function outputMismatch(r: UnitRecord, outDir: string): { kind: 'stale'; why: string } | null {
  const p = join(outDir, r.output.path);
  if (!existsSync(p)) return { kind: 'stale', why: `${r.output.path} is missing` };
  const names = r.options.png ? frameNamesFromRecord(r) : undefined;
  let d: { size: number; sha256: string };
  try {
    d = outputDigest(p, r.options.png, names);
  } catch {
    return { kind: 'stale', why: `${r.output.path} is incomplete` };
  }
  if (d.size !== r.output.size || d.sha256 !== r.output.sha256)
    return { kind: 'stale', why: `${r.output.path} differs from its record` };
  return null;
}

/** PNG frame names are stored beside the record (folder datasets with --png). */
function frameNamesFromRecord(r: UnitRecord): string[] {
  return (r as UnitRecord & { frame_names?: string[] }).frame_names ?? [];
}

/** Temporary siblings of `path` left by a killed run (atomic_write's `.<name>.<pid>.<hex>.tmp`). */
export function sweepTemps(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) return;
  const re = new RegExp(`^\\.${basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+\\.[0-9a-f]{12}\\.tmp$`);
  for (const n of readdirSync(dir)) if (re.test(n)) rmSync(join(dir, n), { recursive: true, force: true });
}

/** Where time went (seconds), summed over units. */
export interface Timing {
  decode: number;
  gpu: number;
  encode: number;
}

/** Frame source of one episode over the unit's decoder, prefetching the next frame while the GPU works. */
class EpisodeFrames implements FrameSource {
  readonly numFrames: number;
  private cache = new Map<number, Promise<RgbImage>>();
  constructor(
    private readonly src: OpenedFrameSource,
    private readonly frames: number[],
    readonly width: number,
    readonly height: number,
    private readonly timing: Timing,
  ) {
    this.numFrames = frames.length;
  }

  private fetch(j: number): Promise<RgbImage> {
    let p = this.cache.get(j);
    if (!p) {
      // chain after the previous fetch: the decoder streams forward, one request at a time
      const prev = this.cache.get(j - 1) ?? Promise.resolve(null);
      p = prev.then(() => this.src.frame(this.frames[j]));
      p.catch(() => {});
      this.cache.set(j, p);
    }
    return p;
  }

  async frame(j: number): Promise<RgbImage> {
    const t0 = performance.now();
    const img = await this.fetch(j);
    this.timing.decode += (performance.now() - t0) / 1000;
    for (const k of this.cache.keys()) if (k < j - 1) this.cache.delete(k);
    if (j + 1 < this.numFrames) this.fetch(j + 1);
    return img;
  }
}

export interface RunUnitContext {
  rt: Runtime;
  model: SAM2;
  outDir: string;
  opts: JobOptions;
  timing: Timing;
  /** Called after each frame of the unit (progress). */
  onFrame: () => void;
}

/** Track every episode of the unit and write the given outputs, then their records (commit markers). */
export async function runUnit(unit: Unit, outputs: UnitOutput[], ctx: RunUnitContext): Promise<void> {
  const { rt, model, outDir, opts, timing } = ctx;
  const W = unit.width;
  const H = unit.height;
  const src = await openFrameSource(unit.source);
  if (src.width !== W || src.height !== H)
    throw new Error(`${unit.source}: decoded frames are ${src.width}x${src.height}, expected ${W}x${H}`);
  const names = unitFrameNames(unit);
  // what a killed run of this unit left behind
  for (const o of outputs) {
    sweepTemps(join(outDir, o.rel));
    sweepTemps(join(outDir, o.recordRel));
  }
  // outputs under temporary names
  const sinks = outputs.map((o) => {
    const path = join(outDir, o.rel);
    mkdirSync(dirname(path), { recursive: true });
    if (o.png) {
      const tmp = tempPathFor(path);
      mkdirSync(tmp, { recursive: true });
      return { o, path, tmp, writer: null as VideoWriter | null };
    }
    // VideoWriter encodes into a temporary sibling and renames it on finish() (atomic_write.ts)
    const writer = new VideoWriter(path, W, H, unit.fps, unit.frames, undefined, {
      inputPixFmt: 'gray',
      outputArgs: maskCodecArgs(opts.codec),
    });
    return { o, path, tmp: '', writer };
  });
  const stats: FeatureStats[][] = outputs.map(() => []);
  const gray = new Uint8Array(W * H);
  const put = async (k: number, frameInUnit: number, mask: Uint8Array | null) => {
    const s = sinks[k];
    const t0 = performance.now();
    if (s.writer) {
      const g = mask ? new Uint8Array(W * H) : gray;
      if (mask) for (let i = 0; i < g.length; i++) g[i] = mask[i] ? 255 : 0;
      await s.writer.putFrame(frameInUnit, g);
    } else writeMaskPng(join(s.tmp, `${names[frameInUnit]}.png`), W, H, mask ?? gray);
    timing.encode += (performance.now() - t0) / 1000;
  };
  try {
    let base = 0;
    for (const ep of unit.episodes) {
      const frames = new EpisodeFrames(src, ep.frames, W, H, timing);
      const acc = outputs.map(() => new MaskStats(ep.length, W, H));
      const pred = new VideoPredictor(rt, model, frames, { resize: 'image' });
      const tStart = performance.now();
      const decode0 = timing.decode;
      const encode0 = timing.encode;
      let start = 0;
      try {
        // as `robotseg track`: automatic targets on frame 0, or the episode's prompt (object 1)
        if (opts.auto) {
          for (const [k, t] of opts.auto.entries()) await pred.addTarget(0, k + 1, t);
        } else {
          const p = opts.prompt!(unit.camera, ep.index);
          start = p.frame;
          if (p.mask) await pred.addMask(p.frame, 1, p.mask);
          if (p.points.length || p.box)
            await pred.addPoints(p.frame, 1, {
              points: p.points,
              box: p.box,
              ...(opts.category ? { category: opts.category } : {}),
            });
        }
        for (let j = 0; j < start; j++) {
          for (let k = 0; k < outputs.length; k++) {
            acc[k].add(j, gray);
            await put(k, base + j, null);
          }
          ctx.onFrame();
        }
        for await (const { frame, results } of pred.propagate()) {
          const byObj = new Map(results.map((r) => [r.objId, r.mask]));
          for (let k = 0; k < outputs.length; k++) {
            const m = byObj.get(k + 1) ?? gray;
            acc[k].add(frame, m);
            await put(k, base + frame, m);
          }
          ctx.onFrame();
        }
      } finally {
        pred.reset();
      }
      timing.gpu += (performance.now() - tStart) / 1000 - (timing.decode - decode0) - (timing.encode - encode0);
      acc.forEach((a, k) => stats[k].push(a.result()));
      base += ep.length;
    }
    // finish the encoders, then rename, then the records (commit markers) last
    const t0 = performance.now();
    for (const s of sinks) await s.writer?.finish();
    timing.encode += (performance.now() - t0) / 1000;
    for (const s of sinks) {
      if (s.writer) continue;
      rmSync(s.path, { recursive: true, force: true });
      renameSync(s.tmp, s.path);
    }
  } catch (e) {
    for (const s of sinks) {
      s.writer?.abort();
      if (!s.writer) rmSync(s.tmp, { recursive: true, force: true });
    }
    throw e;
  } finally {
    src.close();
  }
  const source = sourceDigest(unit);
  outputs.forEach((o, k) => {
    let from = 0;
    const record: UnitRecord & { frame_names?: string[] } = {
      format: RECORD_FORMAT,
      key: o.key,
      camera: unit.camera,
      target: o.target,
      source: { path: unit.id, ...source },
      weights_sha256: opts.weightsSha256,
      options: recordOptions(unit, o, opts),
      fps: unit.fps,
      width: W,
      height: H,
      frames: unit.frames,
      episodes: unit.episodes.map((ep, i) => {
        // the mask file holds the unit's episodes back to back at k / fps (LeRobot's float sums)
        const e = {
          episode_index: ep.index,
          length: ep.length,
          chunk_index: ep.chunk,
          file_index: ep.file,
          from_timestamp: from,
          to_timestamp: from + ep.length / unit.fps,
          stats: stats[k][i],
        };
        from = e.to_timestamp;
        return e;
      }),
      output: { path: o.rel, ...outputDigest(join(outDir, o.rel), o.png, names) },
    };
    if (o.png) record.frame_names = names;
    const rp = join(outDir, o.recordRel);
    mkdirSync(dirname(rp), { recursive: true });
    writeFileAtomic(rp, `${JSON.stringify(record, null, 1)}\n`);
  });
}
