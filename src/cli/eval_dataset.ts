// `robotseg eval DATASET --weights FILE [--config NAME|FILE] --setting AU|1C|3C|BB|OI[,…]
//   [--target robot|arm|gripper[,…]] [--json FILE] [--out DIR] [--refine] [--resize …] [--cpu]`
//
// Model-driven evaluation as RobotSeg's VRS scripts run it: for every setting, target and video the
// model is prompted on the start frame (first frame whose GT is non-empty) as src/eval/settings.ts
// simulates, propagated forward, and the masks (video-resolution logits > 0) are scored with the
// SA-V evaluator, first and last frames kept, on the target's object folder (RobotSeg's
// tools/benchmark.py --category --do_not_skip_first_and_last_frame). One object per run, as the
// original. DATASET: a VRS folder (JPEGImages/<video>/*.jpg, Annotations/<video>/<000|001|002>/*.png)
// or a RoboEngine test folder (image/, mask/). Videos without the target's folder, or whose GT is
// empty on every frame, are skipped with a warning (the original script cannot prompt them, and the
// evaluator reports nothing for an object whose GT is always empty; --out gets empty masks for the
// latter). --out DIR saves the masks in the
// VRS layout (DIR/<video>/<obj>/<frame>.png, under DIR/<setting>/ when several settings are run), so
// `robotseg eval --pred DIR --gt DATASET --protocol sav --keep-first-last --category T` re-scores them.
// --refine: RobotSeg's guided-filter refinement (src/model/refine.ts) of every mask but the start
// frame's, before scoring and saving, as its scripts do by default (off by default here).
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../node/atomic_write.js';
import { checkDistinct, checkInputDir, checkInputFile, checkOutputDir, checkOutputFile } from '../node/paths.js';
import { configFile } from './segment.js';
import { basename, dirname, join } from 'node:path';
import cliProgress from 'cli-progress';
import { type CountBackend, cpuBackend } from '../eval/backend.js';
import { type EvalResult, type Protocol, combineResults, evaluate } from '../eval/evaluate.js';
import { GpuCountBackend } from '../eval/gpu_backend.js';
import { BOUND_TH } from '../eval/jf.js';
import { EvalInputError, type VideoSample, CATEGORY_DIRS } from '../eval/layout.js';
import { predictedSequence } from '../eval/predicted.js';
import { RefineStats, guidedRefineDetailed } from '../model/refine.js';
import { formatTable, resultJson } from '../eval/report.js';
import { type Setting, type SettingRun, SETTINGS, frameOrder, runSetting, startFrame } from '../eval/settings.js';
import { pyFixed } from '../eval/stats.js';
import type { Runtime } from '../graph/runtime.js';
import { WeightsFormatError, formatBytes } from '../graph/weights_io.js';
import { ConfigError } from '../model/resolve_config.js';
import { isRobotSegConfig } from '../model/robotseg_config.js';
import type { SAM2 } from '../model/sam2.js';
import { VideoPredictor } from '../model/video_predictor.js';
import { readLabelFile, readModelDataset } from '../node/eval_io.js';
import { FrameSourceError, type OpenedFrameSource, openFrameFiles } from '../node/frame_source.js';
import { writeMaskPng } from '../node/image_io.js';
import { loadModelWithStore, openModelWeights } from '../node/load_model.js';
import { cliRuntime, oneLine, UserError } from './errors.js';
import { ROBOT_TARGETS } from './robot_targets.js';

export interface DatasetEvalOpts {
  weights?: string;
  config?: string;
  setting?: string[];
  target?: string[];
  json?: string;
  out?: string;
  protocol?: string;
  refine?: boolean;
  resize?: string;
  cpu?: boolean;
  quiet?: boolean;
  /** Boundary tolerance (fraction of the diagonal, or pixels when >= 1); default 0.008. */
  boundTh?: number;
}

/** `--x a,b --x c` -> [a, b, c] (trimmed, non-empty). */
export function listArg(values: string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function parseSettings(values: string[] | undefined): Setting[] {
  const list = listArg(values);
  if (list.length === 0)
    throw new UserError(`give --setting ${SETTINGS.join('|')} (comma-separated or repeated for several)`);
  const out: Setting[] = [];
  for (const v of list) {
    const s = v.toUpperCase() as Setting;
    if (!SETTINGS.includes(s)) throw new UserError(`--setting '${v}': expected one of ${SETTINGS.join(', ')}`);
    if (out.includes(s)) throw new UserError(`--setting ${s} is given twice`);
    out.push(s);
  }
  return out;
}

export function parseEvalTargets(values: string[] | undefined): string[] {
  const list = listArg(values);
  if (list.length === 0) return ['robot'];
  for (const t of list)
    if (!(ROBOT_TARGETS as readonly string[]).includes(t))
      throw new UserError(`--target '${t}': expected ${ROBOT_TARGETS.join(', ')} (comma-separated or repeated)`);
  if (new Set(list).size !== list.length) throw new UserError(`--target ${list.join(',')}: a target is repeated`);
  return list;
}

/** One video of one target, ready to run. */
interface Plan {
  video: VideoSample;
  target: string;
  key: string;
  frames: VideoSample['frames'];
  start: number;
  width: number;
  height: number;
}

const log = (quiet: boolean | undefined, s: string) => {
  if (!quiet) process.stderr.write(s);
};

/** GT of one object of one video, decoded on demand as 0/1 masks (a few recent frames cached). */
class GtReader {
  private cache = new Map<number, Uint8Array | null>();
  constructor(
    private video: string,
    private frames: VideoSample['frames'],
    private key: string,
    private width: number,
    private height: number,
  ) {}

  get = (t: number): Uint8Array | null => {
    if (this.cache.has(t)) return this.cache.get(t)!;
    const path = this.frames[t].masks[this.key];
    let m: Uint8Array | null = null;
    if (path) {
      const lm = readLabelFile(path);
      if (lm.width !== this.width || lm.height !== this.height) {
        throw new EvalInputError(
          `${this.video}: mask ${path} is ${lm.width}x${lm.height}, the frames are ${this.width}x${this.height}`,
        );
      }
      m = Uint8Array.from(lm.data, (v) => (v !== 0 ? 1 : 0));
    }
    if (this.cache.size >= 8) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(t, m);
    return m;
  };
}

function openSource(v: VideoSample, frames: VideoSample['frames']): OpenedFrameSource {
  const dir = dirname(frames[0].image);
  if (frames.some((f) => dirname(f.image) !== dir))
    throw new EvalInputError(`${v.name}: frames are spread over several folders`);
  return openFrameFiles(
    dir,
    frames.map((f) => basename(f.image)),
  );
}

/** Run the command; returns the text for stdout. */
export async function runDatasetEval(dataset: string, o: DatasetEvalOpts): Promise<string> {
  // 1. arguments
  const settings = parseSettings(o.setting);
  const targets = parseEvalTargets(o.target);
  const protocol = (o.protocol ?? 'sav') as Protocol;
  if (protocol !== 'sav' && protocol !== 'davis')
    throw new UserError(`--protocol ${o.protocol}: use sav (RobotSeg, default here) or davis`);
  if (o.resize !== undefined && o.resize !== 'image' && o.resize !== 'official-video')
    throw new UserError(`--resize '${o.resize}': expected official-video (default here) or image`);
  const resize = (o.resize ?? 'official-video') as 'image' | 'official-video';
  if (!o.weights)
    throw new UserError(
      '--weights FILE is required to evaluate a dataset (or score saved masks with --pred DIR --gt DIR)',
    );

  checkInputDir('dataset', dataset);
  checkInputFile('weights', o.weights);
  if (o.json !== undefined) checkOutputFile('--json', o.json);
  if (o.out !== undefined) checkOutputDir('--out', o.out);
  checkDistinct(
    [
      { what: 'the dataset', path: dataset },
      { what: 'the weights', path: o.weights },
      { what: '--config', path: configFile(o.config) },
    ],
    [
      { what: '--json', path: o.json },
      { what: '--out', path: o.out },
    ],
  );

  // 2. dataset and plans (GT scanned up to each start frame)
  const warnings: string[] = [];
  const plans: Plan[] = [];
  const skipped: Array<{ video: string; target: string; reason: string }> = [];
  try {
    const { videos } = readModelDataset(dataset);
    if (videos.length === 0) throw new EvalInputError(`dataset '${dataset}' has no videos`);
    for (const target of targets) {
      const key = CATEGORY_DIRS[target];
      const having = videos.filter((v) => v.frames.some((f) => f.masks[key]));
      if (having.length === 0) {
        throw new EvalInputError(
          `dataset '${dataset}' has no ground truth for --target ${target}: no video has an object folder ${key} (or '${target}') with PNG masks`,
        );
      }
      for (const v of videos) {
        if (!having.includes(v)) {
          skipped.push({ video: v.name, target, reason: `no object folder ${key}` });
          warnings.push(`${v.name}: no ground truth for ${target} (object folder ${key}); skipped`);
          continue;
        }
        const frames = frameOrder(v.frames);
        if (frames.length === 0) throw new EvalInputError(`${v.name}: no frame images`);
        const src = openSource(v, frames);
        const { width, height } = src;
        src.close();
        const gt = new GtReader(v.name, frames, key, width, height);
        const start = startFrame(frames.length, gt.get);
        if (start < 0) {
          // --out still gets (empty) masks, so `eval --pred` finds every sequence of the GT
          if (o.out)
            for (const setting of settings)
              writeMasks(
                o.out,
                settings.length > 1 ? setting : null,
                { video: v, target, key, frames, start, width, height },
                new Map(),
              );
          skipped.push({ video: v.name, target, reason: 'ground truth empty on every frame' });
          warnings.push(
            `${v.name}: the ${target} ground truth (${key}) is empty on every frame, so no prompt can be simulated and the SA-V evaluator reports nothing for it; skipped`,
          );
          continue;
        }
        plans.push({ video: v, target, key, frames, start, width, height });
      }
    }
  } catch (e) {
    if (e instanceof EvalInputError || e instanceof FrameSourceError) throw new UserError(oneLine(e.message));
    throw e;
  }
  for (const w of warnings) log(o.quiet, `warning: ${w}\n`);
  if (plans.length === 0) throw new UserError(`nothing to evaluate in '${dataset}': every video was skipped`);

  // 3. weights (header + config first: fail fast), then the GPU
  let resolved: Awaited<ReturnType<typeof openModelWeights>>;
  try {
    resolved = await openModelWeights(o.weights, o.config);
    await resolved.file.close();
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err instanceof ConfigError) throw new UserError(oneLine(err.message));
    if (err instanceof WeightsFormatError || typeof err.code === 'string')
      throw new UserError(`weights ${o.weights}: ${oneLine(err.message)}`);
    throw e;
  }
  const robot = isRobotSegConfig(resolved.config);
  if (settings.includes('AU') && !robot) {
    throw new UserError(
      `--setting AU (automatic mode, no prompt) needs RobotSeg weights; '${o.weights}' is SAM 2.1 (config ${resolved.config.name}); 1C, 3C, BB and OI work with it`,
    );
  }
  const rt = await cliRuntime();
  try {
    const t0 = performance.now();
    const loaded = await loadModelWithStore(rt, o.weights, resolved.config);
    log(
      o.quiet,
      `weights: ${loaded.store.entries.size} tensors, ${formatBytes(loaded.store.bytes)}, config ${resolved.config.name} (${robot ? 'RobotSeg' : 'SAM 2.1'}), loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    const backend: CountBackend = o.cpu ? cpuBackend : new GpuCountBackend(rt);
    let report: Awaited<ReturnType<typeof runAll>>;
    try {
      report = await runAll(rt, loaded.model, robot, settings, targets, plans, { ...o, protocol, resize }, backend);
    } catch (e) {
      // a GT frame of another size, an unreadable frame or mask found while running
      if (e instanceof EvalInputError || e instanceof FrameSourceError) throw new UserError(oneLine(e.message));
      throw e;
    }
    loaded.store.destroy();
    if (o.json) {
      const json = {
        dataset,
        weights: o.weights,
        config: resolved.config.name,
        model: robot ? 'robotseg' : 'sam2.1',
        protocol,
        keep_first_last: true,
        refine: Boolean(o.refine),
        resize,
        ...report.json,
        skipped,
      };
      writeFileAtomic(o.json, JSON.stringify(json, null, 1) + '\n');
      log(o.quiet, `wrote ${o.json}\n`);
    }
    return report.text;
  } finally {
    rt.destroy();
  }
}

interface RunOpts extends DatasetEvalOpts {
  protocol: Protocol;
  resize: 'image' | 'official-video';
}

interface VideoRecord {
  start_frame: number;
  frames: number;
  seconds: number;
  prompts: SettingRun['prompts'];
  corrections: SettingRun['corrections'];
  refine?: RefineStats['counts'];
}

async function runAll(
  rt: Runtime,
  model: SAM2,
  robot: boolean,
  settings: Setting[],
  targets: string[],
  plans: Plan[],
  o: RunOpts,
  backend: CountBackend,
): Promise<{ text: string; json: Record<string, unknown> }> {
  const total = settings.length * plans.reduce((s, p) => s + p.frames.length - p.start, 0);
  const tty = process.stderr.isTTY && !o.quiet;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          hideCursor: false,
          etaBuffer: 50,
          format: '{what} |{bar}| {value}/{total} frames | {rate} frames/s | ETA {eta_formatted}',
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(total, 0, { what: `${settings[0]} ${plans[0].target} ${plans[0].video.name}`, rate: '-' });
  const videoLines: string[] = [];
  let done = 0;
  const tStart = performance.now();
  const results = new Map<string, { result: EvalResult; videos: Record<string, VideoRecord> }>();
  const refineAll: RefineStats[] = [];
  const lines: string[] = [];
  const meta = { protocol: o.protocol, keepFirstLast: true, boundTh: o.boundTh ?? BOUND_TH, backend: backend.name };
  try {
    for (const setting of settings) {
      for (const target of targets) {
        const parts: EvalResult[] = [];
        const videos: Record<string, VideoRecord> = {};
        for (const p of plans.filter((x) => x.target === target)) {
          const what = `${setting} ${target} ${p.video.name}`;
          bar?.update({ what });
          const t0 = performance.now();
          const run = await runVideo(rt, model, robot, setting, p, o, () => {
            done++;
            bar?.update(done, { what, rate: (done / ((performance.now() - tStart) / 1000)).toFixed(2) });
          });
          const seconds = (performance.now() - t0) / 1000;
          const masks = new Map(run.frames.map((f) => [f.frame, f.mask]));
          if (o.out) writeMasks(o.out, settings.length > 1 ? setting : null, p, masks);
          const gtFile = new Map<string, number>();
          p.frames.forEach((f, i) => {
            const m = f.masks[p.key];
            if (m) gtFile.set(basename(m), i);
          });
          const seq = predictedSequence(
            p.video.name,
            p.width,
            p.height,
            [
              {
                key: p.key,
                gtFrames: [...gtFile.keys()].sort(),
                pred: (file) => masks.get(gtFile.get(file)!) ?? null,
              },
            ],
            (file) => readLabelFile(p.frames[gtFile.get(file)!].masks[p.key]),
          );
          const part = await evaluate([seq], backend, {
            protocol: o.protocol,
            keepFirstLast: true,
            boundTh: meta.boundTh,
          });
          parts.push(part);
          videos[p.video.name] = {
            start_frame: p.start,
            frames: run.frames.length,
            seconds,
            prompts: run.prompts,
            corrections: run.corrections,
            ...(run.refine ? { refine: run.refine.counts } : {}),
          };
          if (run.refine) refineAll.push(run.refine);
          const jf = part.sav ? `J&F ${pyFixed(part.sav.JF, 1)}` : `J&F ${pyFixed(part.JF_mean, 3)}`;
          const msg =
            `[${setting} ${target}] ${p.video.name}: start frame ${p.start}, ${run.frames.length} frames in ${seconds.toFixed(1)} s ` +
            `(${(run.frames.length / seconds).toFixed(2)} frames/s)${run.corrections.length ? `, ${run.corrections.filter((c) => c.accepted).length}/${run.corrections.length} corrections kept` : ''}, ${jf}`;
          if (bar) videoLines.push(msg);
          else log(o.quiet, `${msg}\n`);
        }
        results.set(`${setting}\t${target}`, { result: combineResults(parts, meta), videos });
      }
    }
  } finally {
    bar?.stop();
  }
  for (const m of videoLines) log(o.quiet, `${m}\n`);
  const secs = (performance.now() - tStart) / 1000;
  if (o.refine) {
    const total = new RefineStats();
    for (const r of refineAll)
      for (const [k, v] of Object.entries(r.counts)) total.counts[k as keyof RefineStats['counts']] += v;
    log(o.quiet, `${total}\n`);
  }
  log(
    o.quiet,
    `ran ${done} frames in ${secs.toFixed(1)} s (${(done / secs).toFixed(2)} frames/s, ${rt.adapter.description || rt.adapter.device || 'WebGPU'})\n`,
  );

  const json: Record<string, Record<string, unknown>> = {};
  const summary: Array<Record<string, unknown>> = [];
  for (const [k, { result, videos }] of results) {
    const [setting, target] = k.split('\t');
    lines.push(
      `== setting ${setting}, target ${target} (${CATEGORY_DIRS[target]}), ${robot ? 'RobotSeg' : 'SAM 2.1'} weights${o.refine ? ', guided-filter refinement' : ''}`,
    );
    lines.push(formatTable(result).trimEnd(), '');
    (json[setting] ??= {})[target] = { ...resultJson(result, true), videos };
    summary.push({
      setting,
      target,
      J: result.J_mean,
      F: result.F_mean,
      JF: result.JF_mean,
      objects: result.objects.length,
    });
  }
  if (results.size > 1) {
    const scale = o.protocol === 'sav' ? 100 : 1;
    const d = o.protocol === 'sav' ? 1 : 3;
    lines.push(`Summary (${o.protocol === 'sav' ? 'SA-V evaluator, 0-100' : 'DAVIS, 0-1'}):`);
    lines.push(
      `${'setting'.padEnd(8)}${'target'.padEnd(9)}${'J&F'.padStart(7)}${'J'.padStart(7)}${'F'.padStart(7)}${'videos'.padStart(8)}`,
    );
    for (const s of summary) {
      const r = results.get(`${s.setting}\t${s.target}`)!.result;
      const [jf, j, f] = r.sav ? [r.sav.JF, r.sav.J, r.sav.F] : [r.JF_mean * scale, r.J_mean * scale, r.F_mean * scale];
      lines.push(
        `${String(s.setting).padEnd(8)}${String(s.target).padEnd(9)}${pyFixed(jf, d).padStart(7)}${pyFixed(j, d).padStart(7)}${pyFixed(f, d).padStart(7)}${String(s.objects).padStart(8)}`,
      );
    }
  }
  return { text: lines.join('\n') + '\n', json: { settings: json, summary, seconds: secs, frames: done } };
}

async function runVideo(
  rt: Runtime,
  model: SAM2,
  robot: boolean,
  setting: Setting,
  p: Plan,
  o: RunOpts,
  onFrame: () => void,
): Promise<SettingRun & { refine: RefineStats | null }> {
  const src = openSource(p.video, p.frames);
  const pred = new VideoPredictor(rt, model, src, { resize: o.resize, logits: false }); // masks only
  const gt = new GtReader(p.video.name, p.frames, p.key, p.width, p.height);
  try {
    const run = await runSetting(pred, {
      setting,
      numFrames: p.frames.length,
      width: p.width,
      height: p.height,
      gt: gt.get,
      category: robot ? p.target : null,
      onFrame,
    });
    const stats = new RefineStats();
    if (o.refine) {
      // RobotSeg refines every saved mask except the first one in processing order (the start frame)
      for (let i = 1; i < run.frames.length; i++) {
        const f = run.frames[i];
        const g = await guidedRefineDetailed(rt, await src.frame(f.frame), f.mask);
        f.mask = g.mask;
        stats.add(g.status);
      }
    }
    return { ...run, refine: o.refine ? stats : null };
  } catch (e) {
    if (e instanceof FrameSourceError || e instanceof EvalInputError) throw new UserError(oneLine(e.message));
    throw e;
  } finally {
    pred.reset();
    src.close();
  }
}

/** DIR[/<setting>]/<video>/<obj>/<frame>.png for every frame (frames before the start, or of a skipped video: empty). */
function writeMasks(out: string, setting: string | null, p: Plan, masks: Map<number, Uint8Array>): void {
  const dir = join(out, ...(setting ? [setting] : []), p.video.name, p.key);
  mkdirSync(dir, { recursive: true });
  const empty = new Uint8Array(p.width * p.height);
  p.frames.forEach((f, i) => writeMaskPng(join(dir, `${f.name}.png`), p.width, p.height, masks.get(i) ?? empty));
}
