// `robotseg track SOURCE --weights FILE [--config NAME|FILE] [--obj ID] [--point F:X,Y[,LABEL]]...
//   [--box F:X0,Y0,X1,Y1] [--mask F:FILE.png] [--reverse] [--max-frames N] --out DIR
//   [--overlay DIR|FILE.mp4] [--fps N]`
//
// SAM 2.1 video tracking (SAM2VideoPredictor). SOURCE is a folder of JPEG/PNG frames (natural name
// order) or a video file decoded by ffmpeg (src/node/frame_source.ts). F is a 0-based frame index;
// coordinates are frame pixels. `--obj ID` applies to the prompts after it (default object 1).
// All prompts are added first; then propagation runs forward from the earliest prompted frame (or,
// with --reverse, backward from the latest one); later prompted frames are conditioning frames.
// Frames the pass does not reach (before the start going forward, after it going backward) get
// empty masks, so DIR always holds one mask per frame.
// Outputs: one object -> DIR/<frame basename>.png; several -> DIR/<obj>/<frame basename>.png; 8-bit
// 0/255 at the frame size. --overlay: the masks and prompts drawn over each frame, as PNGs in a folder
// or as a video file (.mp4/.mkv/.mov/.avi/.webm, encoded by ffmpeg at --fps, default the video's
// rate or 10 for folders). Progress bar on stderr (frames/s, ETA). User errors: exit 2, one line.
// RobotSeg weights: `--target robot|arm|gripper[,…]`; with no prompt the automatic mode starts every
// target on frame 0 (default target robot), one object per target, all on one image-encoder pass per
// frame; one target -> DIR/<basename>.png, several -> DIR/<target>/<basename>.png. With prompts (one
// target) the clicks / box are combined with the target's class token.
// --exif-rotate: frame folders only; each frame's EXIF orientation is applied (PIL's exif_transpose),
// so prompts, --mask files and the written masks are in displayed pixels. Default off, as the official
// code (which reads frames with PIL and never transposes).
// --refine: RobotSeg's guided-filter boundary refinement (src/model/refine.ts) of every saved mask
// except the first tracked frame's (the prompted one), as RobotSeg's evaluation scripts save them.
// ffmpeg/ffprobe are found on PATH, or set ROBOTSEG_FFMPEG / ROBOTSEG_FFPROBE to the executables.
// An MCAP recording (`FILE.mcap --topic T --out OUT.mcap`) branches off to track_mcap.ts at the start.
import { closeSync, openSync, readSync } from 'node:fs';
import { extname, join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { type OverlayPrompt, drawOverlay } from '../image/overlay.js';
import type { RgbImage } from '../image/rgb.js';
import { formatBytes } from '../graph/weights_io.js';
import type { Runtime } from '../graph/runtime.js';
import { type Point, validatePrompt } from '../model/image_predictor.js';
import type { SAM2 } from '../model/sam2.js';
import { type FrameResult, VideoPredictor } from '../model/video_predictor.js';
import { FrameSourceError, type OpenedFrameSource, hasTool, openFrameSource } from '../node/frame_source.js';
import { writeMaskPng, writeRgbPng } from '../node/image_io.js';
import { readLabelFile } from '../node/eval_io.js';
import { EvalInputError } from '../eval/layout.js';
import {
  checkDistinct,
  checkInputFile,
  checkInputFileOrDir,
  checkOutputDir,
  checkOutputFile,
  ensureOutputDir,
} from '../node/paths.js';
import { configFile } from './segment.js';
import { loadModelWithStore, openModelWeights } from '../node/load_model.js';
import { VIDEO_EXTENSIONS, VideoWriteError, VideoWriter } from '../node/video_writer.js';
import {
  checkFiniteOutput,
  cliRuntime,
  oneLine,
  PRECISION_HELP,
  parsePrecision,
  UserError,
  userErrors,
} from './errors.js';
import { fsErrorMessage } from '../node/paths.js';
import { parseBox, parsePoint } from './segment.js';
import { isRobotSegConfig } from '../model/robotseg_config.js';
import { DEFAULT_TARGET, parseTargets } from './robot_targets.js';
import { RefineStats, guidedRefineDetailed } from '../model/refine.js';
import { isMcapSource, runTrackMcap } from './track_mcap.js';

export interface TrackOpts {
  weights?: string;
  precision?: string;
  config?: string;
  out?: string;
  overlay?: string;
  reverse?: boolean;
  maxFrames?: string;
  fps?: string;
  quiet?: boolean;
  target?: string;
  /** Frame preprocessing: 'image' (default) or 'official-video' (PIL bicubic on uint8, as the official video loader). */
  resize?: string;
  /** RobotSeg's guided-filter refinement of every mask but the first frame's in processing order. */
  refine?: boolean;
  /** MCAP source: the image topic to track (src/cli/track_mcap.ts). */
  topic?: string;
  /** Apply each frame file's EXIF orientation (folders); prompts and masks are then in displayed pixels. */
  exifRotate?: boolean;
}

/** A prompt option as given, in command-line order (order matters for --obj). */
export interface PromptArg {
  kind: 'obj' | 'point' | 'box' | 'mask';
  value: string;
}

export function registerTrack(program: Command): void {
  const order: PromptArg[] = [];
  // commander calls the parsers in argv order: record the prompts' order there
  const rec =
    (kind: PromptArg['kind']) =>
    (value: string, prev: string[] = []) => {
      order.push({ kind, value });
      return [...prev, value];
    };
  program
    .command('track')
    .description('track robots (or any objects) through a video with SAM 2.1 from prompts on some frames')
    .argument(
      '<source>',
      'a folder of JPEG/PNG frames (name order), a video file (needs ffmpeg) or an MCAP recording (with --topic)',
    )
    .option('--weights <file>', 'checkpoint: .safetensors or official .pt (required)')
    .option(
      '--config <name|file>',
      'model config: built-in name (sam2.1_hiera_t) or JSON file (default: embedded in the weights, else inferred)',
    )
    .option('--obj <id>', 'object id (integer >= 0) for the prompts that follow (default 1)', rec('obj'))
    .option(
      '--point <F:x,y[,label]>',
      'click on frame F in frame pixels; label 1 = foreground (default), 0 = background (repeatable)',
      rec('point'),
    )
    .option('--box <F:x0,y0,x1,y1>', 'box on frame F in frame pixels (one per object and frame)', rec('box'))
    .option('--mask <F:file.png>', 'mask prompt on frame F: nonzero pixels are the object (frame size)', rec('mask'))
    .option('--reverse', 'propagate backward from the latest prompted frame')
    .option('--max-frames <n>', 'use only the first N frames of SOURCE')
    .option(
      '--out <dir|file.mcap>',
      'output folder: <basename>.png per frame (one object) or <obj>/<basename>.png; for an MCAP source the MCAP file to write (required)',
    )
    .option('--topic <topic>', 'MCAP source: the image topic to track (CompressedImage or Image)')
    .option(
      '--overlay <dir|file.mp4>',
      'masks and prompts drawn over the frames: a folder of PNGs or a video file (ffmpeg)',
    )
    .option('--fps <n>', "frame rate of an --overlay video (default: the source video's, or 10 for folders)")
    .option('--precision <p>', PRECISION_HELP)
    .option('--quiet', 'print nothing on success (no progress, no summary line)')
    .option(
      '--target <list>',
      'RobotSeg weights: robot, arm or gripper, comma-separated for several; no prompt = automatic mode (default robot)',
    )
    .option(
      '--resize <mode>',
      'frame preprocessing: image (antialiased bilinear on floats, as the goldens; default) or official-video (PIL bicubic on uint8, as the official video loader)',
    )
    .option(
      '--refine',
      "RobotSeg's guided-filter boundary refinement of the saved masks (all but the first tracked frame's, as RobotSeg's evaluation)",
    )
    .option(
      '--exif-rotate',
      "frame folders: apply each JPEG/PNG frame's EXIF orientation; prompts, --mask inputs and outputs are then in displayed pixels (default: ignored, as the official code)",
    )
    .action(async (source: string, opts: TrackOpts) => {
      const prompts = order.splice(0);
      const summary = await runTrack(source, opts, prompts);
      if (!opts.quiet) process.stdout.write(`${summary}\n`); // --quiet: nothing at all on success
    });
}

// ----------------------------------------------------------------------------- argument parsing

/** One object's prompts on one frame. */
export interface FramePrompt {
  points: Point[];
  box?: [number, number, number, number];
  /** Mask prompt file (read once the source's size is known). */
  maskFile?: string;
}

/** Object id -> frame -> prompts, objects in order of first appearance. */
export type PromptPlan = Map<number, Map<number, FramePrompt>>;

function splitFrame(flag: string, v: string, what: string): { frame: number; rest: string } {
  const c = v.indexOf(':');
  const f = c < 0 ? '' : v.slice(0, c).trim();
  if (c < 0 || !/^\d+$/.test(f))
    throw new UserError(`--${flag} '${v}': expected F:${what} with F a frame index (0, 1, …)`);
  return { frame: Number(f), rest: v.slice(c + 1) };
}

/** Re-throw a segment-style parse error with the full F:… argument. */
function withArg<T>(flag: string, v: string, rest: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError) throw new UserError(e.message.replace(`${flag} '${rest}'`, `${flag} '${v}'`));
    throw e;
  }
}

export function parsePrompts(args: PromptArg[]): PromptPlan {
  const plan: PromptPlan = new Map();
  let obj = 1;
  let objArg: string | null = null;
  let objUsed = true;
  const at = (frame: number): FramePrompt => {
    let o = plan.get(obj);
    if (!o) plan.set(obj, (o = new Map()));
    let p = o.get(frame);
    if (!p) o.set(frame, (p = { points: [] }));
    objUsed = true;
    return p;
  };
  for (const { kind, value: v } of args) {
    if (kind === 'obj') {
      if (!objUsed)
        throw new UserError(`--obj ${objArg} has no prompts after it (give --point, --box or --mask after each --obj)`);
      if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v)))
        throw new UserError(`--obj '${v}': expected an integer id >= 0`);
      obj = Number(v);
      objArg = v;
      objUsed = false;
    } else if (kind === 'point') {
      const { frame, rest } = splitFrame('point', v, 'x,y[,label]');
      at(frame).points.push(withArg('--point', v, rest, () => parsePoint(rest)));
    } else if (kind === 'box') {
      const { frame, rest } = splitFrame('box', v, 'x0,y0,x1,y1');
      const box = withArg('--box', v, rest, () => parseBox(rest));
      const p = at(frame);
      if (p.box)
        throw new UserError(
          `--box '${v}': object ${obj} already has a box on frame ${frame} (one box per object and frame)`,
        );
      p.box = box;
    } else {
      const { frame, rest } = splitFrame('mask', v, 'file.png');
      if (rest === '') throw new UserError(`--mask '${v}': empty file name`);
      const p = at(frame);
      if (p.maskFile) throw new UserError(`--mask '${v}': object ${obj} already has a mask on frame ${frame}`);
      p.maskFile = rest;
    }
  }
  if (!objUsed)
    throw new UserError(`--obj ${objArg} has no prompts after it (give --point, --box or --mask after each --obj)`);
  if (plan.size === 0)
    throw new UserError('no prompt: give at least one --point F:X,Y, --box F:X0,Y0,X1,Y1 or --mask F:FILE.png');
  return plan;
}

export function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < 1)
    throw new UserError(`${flag} '${v}': expected a positive integer`);
  return n;
}

/** Make (or check) an output folder. */
const ensureDir = ensureOutputDir;

/** Check every prompt against the source (frame exists, inside the frame) and read the mask files. */
export function checkPrompts(
  plan: PromptPlan,
  src: OpenedFrameSource,
  sourceArg: string,
): Map<number, Map<number, Uint8Array>> {
  const masks = new Map<number, Map<number, Uint8Array>>();
  const n = src.numFrames;
  for (const [obj, frames] of plan) {
    for (const [f, p] of frames) {
      const what = `object ${obj}, frame ${f}`;
      if (f >= n)
        throw new UserError(
          `${what}: frame ${f} does not exist ('${sourceArg}' has ${n} frame${n === 1 ? '' : 's'}: 0 to ${n - 1})`,
        );
      try {
        validatePrompt({ points: p.points, box: p.box }, src.width, src.height);
      } catch (e) {
        throw new UserError(`${what}: ${(e as Error).message}`);
      }
      if (p.maskFile) {
        let m: { width: number; height: number; data: Uint8Array };
        try {
          m = readPromptMask(p.maskFile);
        } catch (e) {
          throw new UserError(`--mask ${f}:${p.maskFile}: ${oneLine((e as Error).message)}`);
        }
        if (m.width !== src.width || m.height !== src.height)
          throw new UserError(
            `--mask ${f}:${p.maskFile}: the mask is ${m.width}x${m.height}, the frames are ${src.width}x${src.height}`,
          );
        let o = masks.get(obj);
        if (!o) masks.set(obj, (o = new Map()));
        o.set(f, m.data);
      }
    }
  }
  return masks;
}

/**
 * A mask prompt: a label PNG as `eval` reads them (0/255, gray ids or a palette; a photo or a soft
 * mask, with more grey levels than a label image has, is refused); nonzero pixels are the object.
 */
export function readPromptMask(path: string): { width: number; height: number; data: Uint8Array } {
  checkInputFile('mask', path);
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0xff && head[1] === 0xd8)
    throw new UserError('not a mask (a JPEG: lossy compression blurs mask edges into many grey levels; use a PNG)');
  const lm = readLabelFile(path);
  return { width: lm.width, height: lm.height, data: Uint8Array.from(lm.data, (v) => (v !== 0 ? 1 : 0)) };
}

// ----------------------------------------------------------------------------------------- outputs

/** Where masks and overlays go. */
class Outputs {
  private video: VideoWriter | null = null;
  private readonly names: readonly string[];
  /** Frames whose masks are all written. */
  framesWritten = 0;
  constructor(
    readonly src: OpenedFrameSource,
    readonly outDir: string,
    readonly objIds: number[],
    readonly overlay: string | undefined,
    readonly prompts: PromptPlan,
    fps: number,
    readonly dirNames?: ReadonlyMap<number, string>,
  ) {
    const names = src.names;
    if (objIds.length > 1) for (const id of objIds) ensureDir('--out', join(outDir, this.dirName(id)));
    if (overlay && isVideoPath(overlay))
      this.video = new VideoWriter(overlay, src.width, src.height, fps, src.numFrames);
    this.names = names;
  }

  /** Sub-folder of an object when there are several: its id, or its RobotSeg target name. */
  dirName(obj: number): string {
    return this.dirNames?.get(obj) ?? String(obj);
  }

  maskPath(obj: number, frame: number): string {
    const file = `${this.names[frame]}.png`;
    return this.objIds.length > 1 ? join(this.outDir, this.dirName(obj), file) : join(this.outDir, file);
  }

  /** Write frame t's masks (objects without a result get an empty mask) and its overlay. */
  async write(t: number, results: FrameResult[]): Promise<void> {
    const { width: W, height: H } = this.src;
    const byObj = new Map(results.map((r) => [r.objId, r.mask]));
    const empty = new Uint8Array(W * H);
    const masks = this.objIds.map((id) => byObj.get(id) ?? empty);
    this.objIds.forEach((id, k) => writeMaskPng(this.maskPath(id, t), W, H, masks[k]));
    this.framesWritten++;
    if (!this.overlay) return;
    const img = await this.src.frame(t);
    const drawn = overlayFrame(
      img,
      masks,
      this.objIds.map((id) => this.prompts.get(id)?.get(t)),
    );
    if (this.video) await this.video.put(t, drawn);
    else writeRgbPng(join(this.overlay, `${this.names[t]}.png`), drawn);
  }

  async finish(): Promise<void> {
    await this.video?.finish();
  }

  abort(): void {
    this.video?.abort();
  }
}

const isVideoPath = (p: string) => VIDEO_EXTENSIONS.includes(extname(p).toLowerCase());

/** Masks in palette colours, then every object's clicks and boxes on this frame. */
function overlayFrame(img: RgbImage, masks: Uint8Array[], prompts: Array<FramePrompt | undefined>): RgbImage {
  const points = prompts.flatMap((p) => p?.points ?? []);
  const boxes = prompts.map((p) => p?.box).filter((b): b is [number, number, number, number] => b !== undefined);
  let out = drawOverlay(img, masks, { points, box: boxes[0] } as OverlayPrompt);
  for (const box of boxes.slice(1)) out = drawOverlay(out, [], { box });
  return out;
}

// ----------------------------------------------------------------------------------- the command

function log(quiet: boolean | undefined, s: string): void {
  if (!quiet) process.stderr.write(s);
}

/** Run the command; returns the summary line for stdout. User errors throw UserError. */
export async function runTrack(sourceArg: string, opts: TrackOpts, promptArgs: PromptArg[]): Promise<string> {
  if (opts.topic !== undefined || isMcapSource(sourceArg)) return runTrackMcap(sourceArg, opts, promptArgs);
  // 1. arguments (no file read yet)
  const precision = parsePrecision(opts.precision);
  let targets = parseTargets(opts.target);
  // no prompt is the automatic mode with RobotSeg weights: checked once the config is known
  const plan = promptArgs.length === 0 ? (new Map() as PromptPlan) : parsePrompts(promptArgs);
  const maxFrames = positiveInt('--max-frames', opts.maxFrames);
  if (opts.resize !== undefined && opts.resize !== 'image' && opts.resize !== 'official-video') {
    throw new UserError(`--resize '${opts.resize}': expected image or official-video`);
  }
  const fpsArg = opts.fps === undefined ? undefined : Number(opts.fps);
  if (fpsArg !== undefined && !(Number.isFinite(fpsArg) && fpsArg > 0))
    throw new UserError(`--fps '${opts.fps}': expected a positive number`);
  if (opts.weights === undefined) throw new UserError('--weights FILE is required (a .safetensors or .pt checkpoint)');
  if (opts.out === undefined) throw new UserError('--out DIR is required (the folder for the mask PNGs)');
  checkInputFileOrDir('source', sourceArg);
  checkInputFile('weights', opts.weights);
  const overlayVideo = opts.overlay !== undefined && isVideoPath(opts.overlay);
  checkOutputDir('--out', opts.out);
  if (opts.overlay !== undefined && !overlayVideo) checkOutputDir('--overlay', opts.overlay);
  checkDistinct(
    [
      { what: 'the source', path: sourceArg },
      { what: 'the weights', path: opts.weights },
      { what: '--config', path: configFile(opts.config) },
      ...promptArgs
        .filter((a) => a.kind === 'mask')
        .map((a) => ({ what: '--mask', path: a.value.slice(a.value.indexOf(':') + 1) })),
    ],
    [
      { what: '--out', path: opts.out },
      { what: '--overlay', path: opts.overlay },
    ],
  );
  if (overlayVideo) {
    checkOutputFile('--overlay', opts.overlay);
    if (!hasTool(process.env.ROBOTSEG_FFMPEG ?? 'ffmpeg'))
      throw new UserError('ffmpeg not found: install it (apt-get install ffmpeg) to write --overlay video files');
  }

  // 2. the frames and the prompts against them
  const src = await trackUserErrors(sourceArg, () =>
    openFrameSource(sourceArg, {
      maxFrames,
      exifRotate: opts.exifRotate,
      onWarning: (w) => log(opts.quiet, `warning: ${w}\n`),
    }),
  );
  try {
    const maskPrompts = checkPrompts(plan, src, sourceArg);

    // 3. weights header + config (cheap, fails fast), then the GPU
    const { config, source, auto } = await resolveTrackModel(opts, plan, targets);
    targets = auto ?? targets;
    const rt = await cliRuntime({ precision });
    let outputs: Outputs | null = null;
    try {
      const t0 = performance.now();
      const tty = process.stderr.isTTY;
      const loaded = await trackUserErrors(`weights ${opts.weights}`, () =>
        loadModelWithStore(rt, opts.weights!, config, {
          precision,
          onProgress: tty
            ? (d, n) => {
                if (d === n || d % 32 === 0) log(opts.quiet, `\rloading weights: ${d}/${n} tensors`);
              }
            : undefined,
        }),
      );
      log(
        opts.quiet,
        `${tty ? '\r' : ''}weights: ${loaded.store.entries.size} tensors, ${formatBytes(loaded.store.bytes)} (${loaded.format}), config ${config.name} (${source}), loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
      );
      log(
        opts.quiet,
        `${src.kind === 'folder' ? 'folder' : 'video'} ${sourceArg}: ${src.numFrames} frames, ${src.width}x${src.height}\n`,
      );

      const objIds = auto ? auto.map((_, k) => k + 1) : [...plan.keys()];
      const fps = fpsArg ?? src.fps ?? 10;
      const dirNames = auto ? new Map(auto.map((t, k) => [k + 1, t])) : undefined;
      // output folders only now: a failure before this point leaves nothing behind
      ensureDir('--out', opts.out);
      if (opts.overlay !== undefined && !overlayVideo) ensureDir('--overlay', opts.overlay);
      outputs = new Outputs(src, opts.out, objIds, opts.overlay, plan, fps, dirNames);
      const out = outputs;
      let summary: string;
      try {
        summary = await trackUserErrors(sourceArg, () =>
          track(rt, loaded.model, src, plan, maskPrompts, out, opts, auto ?? undefined, targets?.[0]),
        );
        await trackUserErrors(`--overlay ${opts.overlay}`, () => out.finish());
      } catch (e) {
        throw incomplete(e, out, opts);
      }
      loaded.store.destroy();
      const where =
        objIds.length > 1 ? `${opts.out}/{${objIds.map((id) => outputs!.dirName(id)).join(',')}}/` : `${opts.out}/`;
      return (
        `${sourceArg}: ${src.numFrames} frames ${src.width}x${src.height}, ${objIds.length} object${objIds.length > 1 ? 's' : ''} (${objIds.join(', ')}), ` +
        `${summary}; wrote ${src.numFrames * objIds.length} masks to ${where}${opts.overlay ? ` and the overlay to ${opts.overlay}` : ''}`
      );
    } finally {
      outputs?.abort();
      rt.destroy();
    }
  } finally {
    src.close();
  }
}

/** A failure after some masks were written: the message says how many frames' masks and where (exit 2). */
function incomplete(e: unknown, out: Outputs, opts: TrackOpts): unknown {
  const err = e as Error & { exitCode?: number };
  const user = err instanceof UserError || err?.exitCode === 2 || fsErrorMessage(err) !== null;
  if (!user || out.framesWritten === 0) return e;
  const msg = fsErrorMessage(err) ?? err.message;
  return new UserError(
    `${oneLine(msg)}; stopped after writing the masks of ${out.framesWritten} of ${out.src.numFrames} frames to ${opts.out}/ (an incomplete set${opts.overlay && isVideoPath(opts.overlay) ? `; no overlay video was written` : ''})`,
  );
}

/** Add the prompts, write the frames the pass won't reach, then propagate with a progress bar. */
export async function track(
  rt: Runtime,
  model: SAM2,
  src: OpenedFrameSource,
  plan: PromptPlan,
  maskPrompts: Map<number, Map<number, Uint8Array>>,
  outputs: { write(t: number, results: FrameResult[]): Promise<void> },
  opts: TrackOpts,
  autoTargets?: string[],
  category?: string,
): Promise<string> {
  const pred = new VideoPredictor(rt, model, src, {
    resize: opts.resize === 'official-video' ? 'official-video' : 'image',
    logits: false, // masks only: no full-size f32 logits on the host per object and frame
  });
  const reverse = Boolean(opts.reverse);
  const tp = performance.now();
  // RobotSeg automatic mode: every target starts on frame 0 (the end frame with --reverse)
  if (autoTargets) {
    const f0 = reverse ? src.numFrames - 1 : 0;
    for (const [k, t] of autoTargets.entries()) {
      await pred.addTarget(f0, k + 1, t);
      plan.set(k + 1, new Map([[f0, { points: [] }]]));
    }
  }
  for (const [obj, frames] of plan) {
    for (const f of [...frames.keys()].sort((a, b) => a - b)) {
      const p = frames.get(f)!;
      const m = maskPrompts.get(obj)?.get(f);
      if (m) await pred.addMask(f, obj, m);
      if (autoTargets) continue;
      if (p.points.length || p.box)
        await pred.addPoints(f, obj, { points: p.points, box: p.box, ...(category ? { category } : {}) });
    }
  }
  const tPrompt = performance.now() - tp;
  const prompted = [...plan.values()].flatMap((fr) => [...fr.keys()]);
  const start = reverse ? Math.max(...prompted) : Math.min(...prompted);
  const n = src.numFrames;
  // frames outside the pass: empty masks (and the plain frame in the overlay)
  const skipped = reverse
    ? Array.from({ length: n - 1 - start }, (_, k) => start + 1 + k)
    : Array.from({ length: start }, (_, k) => k);
  for (const t of skipped) await outputs.write(t, []);
  const total = reverse ? start + 1 : n - start;

  const bar =
    !opts.quiet && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            hideCursor: false,
            etaBuffer: 20,
            format: `tracking${reverse ? ' (reverse)' : ''} |{bar}| {value}/{total} frames | {rate} frames/s | ETA {eta_formatted}`,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(total, 0, { rate: '-' });
  const t0 = performance.now();
  let done = 0;
  const refineStats = new RefineStats();
  try {
    for await (const { frame, results } of pred.propagate({ reverse })) {
      if (opts.refine && done > 0) {
        const img = await src.frame(frame);
        for (const r of results) {
          const g = await guidedRefineDetailed(rt, img, r.mask);
          r.mask = g.mask;
          refineStats.add(g.status);
        }
      }
      for (const r of results) checkFiniteOutput(`the logits of object ${r.objId} on frame ${frame}`, r.logits);
      await outputs.write(frame, results);
      done++;
      bar?.update(done, { rate: (done / ((performance.now() - t0) / 1000)).toFixed(2) });
    }
  } finally {
    bar?.stop();
    pred.reset();
  }
  const secs = (performance.now() - t0) / 1000;
  const rate = done / secs;
  if (opts.refine) log(opts.quiet, `${refineStats}\n`);
  log(
    opts.quiet,
    `prompts on ${new Set(prompted).size} frame(s) in ${(tPrompt / 1000).toFixed(1)} s; tracked ${done} frames in ${secs.toFixed(1)} s (${rate.toFixed(2)} frames/s, ${rt.adapter.description || rt.adapter.device || 'WebGPU'})\n`,
  );
  const from = `${reverse ? 'backward' : 'forward'} from frame ${start}`;
  return `tracked ${done} frames ${from} at ${rate.toFixed(2)} frames/s${skipped.length ? `, ${skipped.length} frame${skipped.length > 1 ? 's' : ''} outside the pass left empty` : ''}`;
}

/**
 * The weights' header and config (cheap, fails fast) and what they allow with these prompts: RobotSeg
 * without a prompt runs its automatic targets (`auto`, default `robot`); SAM 2.1 needs a prompt; a
 * prompt goes with one target. Shared by folder / video sources and MCAP recordings.
 */
export async function resolveTrackModel(opts: TrackOpts, plan: PromptPlan, targets: string[] | undefined) {
  const { file, config, source } = await trackUserErrors(`weights ${opts.weights}`, () =>
    openModelWeights(opts.weights!, opts.config),
  );
  await file.close();
  const robot = isRobotSegConfig(config);
  if (targets && !robot)
    throw new UserError(`--target needs RobotSeg weights; '${opts.weights}' is SAM 2.1 (config ${config.name})`);
  if (plan.size === 0 && !robot) parsePrompts([]); // SAM 2.1 needs a prompt: throws the usual message
  if (plan.size > 0 && targets && targets.length > 1)
    throw new UserError(
      `--target ${opts.target}: prompts go with one target; give no prompt for several targets (automatic mode)`,
    );
  const auto = robot && plan.size === 0 ? (targets ?? [DEFAULT_TARGET]) : null;
  return { config, source, auto };
}

/** userErrors (errors.ts) with track's input errors: frame sources, video writers, eval inputs. */
export function trackUserErrors<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return userErrors(what, fn, [FrameSourceError, VideoWriteError, EvalInputError]);
}
