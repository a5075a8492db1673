// Sequence-level J&F: which frames and objects are scored and how they are averaged, for two
// protocols (details and differences in docs/eval.md):
//   davis  DAVIS 2017 semi-supervised toolkit (davis2017/evaluation.py): objects 1..max(first GT
//          frame), GT label 255 is void (zeroed), missing predicted ids are empty masks, a
//          predicted id above the object count is an error; every object scored on every kept frame.
//   sav    SA-V evaluator (sam2 sav_dataset/utils/sav_benchmark.py; RobotSeg tools/benchmark.py):
//          ids accumulate per frame from their first appearance in GT or prediction, only ids
//          ever present in the GT are reported; the table is on a 0-100 scale.
// Both: first and last GT frame dropped unless keepFirstLast; per-object mean over its frames;
// global J = mean over all objects of all sequences, F likewise; J&F = (J + F) / 2.
import type { CountBackend, FrameJob } from './backend.js';
import { BOUND_TH, boundPix, boundaryF, checkSameSize, jaccard } from './jf.js';
import { type LabelMap, binarize, distinctCount, idsOf } from './labels.js';
import { EvalInputError, type SequenceSpec, objectLabel, selectFrames } from './layout.js';
import { dbStatistics, npMean } from './stats.js';

export type Protocol = 'davis' | 'sav';

export interface EvalOptions {
  protocol: Protocol;
  /** Score the first and last frames too (RobotSeg's published numbers do). */
  keepFirstLast?: boolean;
  /** Boundary tolerance: fraction of the diagonal (< 1) or pixels (>= 1). Default 0.008. */
  boundTh?: number;
  /** Frames per backend call (GPU readback granularity). */
  batchFrames?: number;
  onWarning?: (msg: string) => void;
  onProgress?: (sequence: string, done: number, total: number) => void;
}

export interface ObjectResult {
  sequence: string;
  /** Object id ('1', '2', … for DAVIS-style label maps; the folder key '000', '002', … for per-object folders). */
  object: string;
  label: string;
  /** Scored frame names, aligned with J and F. */
  frames: string[];
  J: number[];
  F: number[];
  J_mean: number;
  F_mean: number;
  /** davis protocol: db_statistics recall (fraction > 0.5) and decay. */
  J_recall?: number;
  J_decay?: number;
  F_recall?: number;
  F_decay?: number;
}

export interface Summary {
  J_mean: number;
  F_mean: number;
  JF_mean: number;
  J_recall?: number;
  J_decay?: number;
  F_recall?: number;
  F_decay?: number;
}

export interface SequenceResult extends Summary {
  name: string;
  objects: ObjectResult[];
}

export interface EvalResult extends Summary {
  protocol: Protocol;
  keepFirstLast: boolean;
  boundTh: number;
  backend: string;
  sequences: SequenceResult[];
  objects: ObjectResult[];
  /** sav protocol: the SA-V table numbers (per-object mean x 100, then averaged), 0-100. */
  sav?: {
    J: number;
    F: number;
    JF: number;
    objects: Array<{ sequence: string; object: string; J: number; F: number; JF: number }>;
  };
}

interface Track {
  frames: string[];
  J: number[];
  F: number[];
}

/** Score prediction against ground truth over the given sequences. */
export async function evaluate(
  sequences: SequenceSpec[],
  backend: CountBackend,
  opts: EvalOptions,
): Promise<EvalResult> {
  const keep = opts.keepFirstLast ?? false;
  const boundTh = opts.boundTh ?? BOUND_TH;
  const ctx: Ctx = {
    backend,
    keep,
    boundTh,
    batch: Math.max(1, opts.batchFrames ?? 8),
    warn: opts.onWarning ?? (() => {}),
    progress: opts.onProgress,
  };
  const seqResults: SequenceResult[] = [];
  for (const seq of sequences) {
    const objects =
      seq.layout === 'davis'
        ? opts.protocol === 'davis'
          ? await davisLabelMaps(seq, ctx)
          : await savLabelMaps(seq, ctx)
        : await perObjectFolders(seq, ctx, opts.protocol);
    for (const o of objects) if (opts.protocol === 'davis') addDavisStats(o);
    seqResults.push({ name: seq.name, objects, ...summarize(objects, opts.protocol) });
  }
  return aggregate(seqResults, { protocol: opts.protocol, keepFirstLast: keep, boundTh, backend: backend.name });
}

/**
 * The dataset-level result of already scored sequences (what evaluate() returns for all of them at
 * once): lets a caller score sequence by sequence and combine, e.g. `robotseg eval DATASET`.
 */
export function combineResults(
  parts: EvalResult[],
  meta: Pick<EvalResult, 'protocol' | 'keepFirstLast' | 'boundTh' | 'backend'>,
): EvalResult {
  for (const p of parts) {
    if (p.protocol !== meta.protocol || p.keepFirstLast !== meta.keepFirstLast || p.boundTh !== meta.boundTh) {
      throw new Error('combineResults: the parts were scored with different protocols or options');
    }
  }
  return aggregate(
    parts.flatMap((p) => p.sequences),
    meta,
  );
}

function aggregate(
  seqResults: SequenceResult[],
  meta: Pick<EvalResult, 'protocol' | 'keepFirstLast' | 'boundTh' | 'backend'>,
): EvalResult {
  const opts = { protocol: meta.protocol };
  const all = seqResults.flatMap((s) => s.objects);
  const result: EvalResult = { ...meta, ...summarize(all, opts.protocol), sequences: seqResults, objects: all };
  if (opts.protocol === 'sav') {
    // SA-V arithmetic: per object np.mean(values) * 100, global np.mean over objects.
    const objs = all.map((o) => {
      const J = npMean(o.J) * 100;
      const F = npMean(o.F) * 100;
      return { sequence: o.sequence, object: o.object, J, F, JF: (J + F) / 2 };
    });
    const J = npMean(objs.map((o) => o.J));
    const F = npMean(objs.map((o) => o.F));
    result.sav = { J, F, JF: (J + F) / 2, objects: objs };
  }
  return result;
}

interface Ctx {
  backend: CountBackend;
  keep: boolean;
  boundTh: number;
  batch: number;
  warn: (msg: string) => void;
  progress?: (sequence: string, done: number, total: number) => void;
}

function summarize(objects: ObjectResult[], protocol: Protocol): Summary {
  const J = npMean(objects.map((o) => o.J_mean));
  const F = npMean(objects.map((o) => o.F_mean));
  const s: Summary = { J_mean: J, F_mean: F, JF_mean: (J + F) / 2 };
  if (protocol === 'davis') {
    s.J_recall = npMean(objects.map((o) => o.J_recall!));
    s.J_decay = npMean(objects.map((o) => o.J_decay!));
    s.F_recall = npMean(objects.map((o) => o.F_recall!));
    s.F_decay = npMean(objects.map((o) => o.F_decay!));
  }
  return s;
}

function addDavisStats(o: ObjectResult): void {
  const j = dbStatistics(o.J);
  const f = dbStatistics(o.F);
  o.J_mean = j.mean;
  o.F_mean = f.mean;
  o.J_recall = j.recall;
  o.J_decay = j.decay;
  o.F_recall = f.recall;
  o.F_decay = f.decay;
}

function finish(sequence: string, object: string, label: string, t: Track): ObjectResult {
  return { sequence, object, label, frames: t.frames, J: t.J, F: t.F, J_mean: npMean(t.J), F_mean: npMean(t.F) };
}

function keptFrames(seq: string, frames: string[], keep: boolean, what: string): string[] {
  if (frames.length === 0) throw new EvalInputError(`${what} of sequence '${seq}' has no ground-truth PNG files`);
  const kept = selectFrames(frames, keep);
  if (kept.length === 0) {
    throw new EvalInputError(
      `${what} of sequence '${seq}' has ${frames.length} annotated frame(s); the first and last are not scored, ` +
        'so nothing is left (use --keep-first-last to score every frame)',
    );
  }
  return kept;
}

async function readPair(seq: SequenceSpec, frame: string, object?: string): Promise<{ gt: LabelMap; pred: LabelMap }> {
  const gt = await seq.readGt(frame, object);
  const pred = await seq.readPred(frame, object);
  const where = `sequence '${seq.name}'${object ? ` object ${object}` : ''} frame ${frame}`;
  try {
    checkSameSize(pred, gt, `prediction of ${where}`);
  } catch (e) {
    throw new EvalInputError((e as Error).message);
  }
  return { gt, pred };
}

/** Run the backend on frame jobs in batches; `make` loads frame i and says which ids to score. */
async function scoreFrames(
  ctx: Ctx,
  seqName: string,
  frames: string[],
  make: (frame: string, index: number) => Promise<FrameJob>,
  take: (frame: string, job: FrameJob, J: number[], F: number[]) => void,
): Promise<void> {
  for (let s = 0; s < frames.length; s += ctx.batch) {
    const names = frames.slice(s, s + ctx.batch);
    const jobs: FrameJob[] = [];
    for (let i = 0; i < names.length; i++) jobs.push(await make(names[i], s + i));
    const counts = await ctx.backend.count(jobs);
    jobs.forEach((job, i) => take(names[i], job, counts[i].map(jaccard), counts[i].map(boundaryF)));
    ctx.progress?.(seqName, Math.min(s + ctx.batch, frames.length), frames.length);
  }
}

function radiusOf(ctx: Ctx, gt: LabelMap): number {
  return boundPix(gt.height, gt.width, ctx.boundTh);
}

/** DAVIS toolkit on multi-object label maps. */
async function davisLabelMaps(seq: SequenceSpec, ctx: Ctx): Promise<ObjectResult[]> {
  const kept = keptFrames(seq.name, seq.frames, ctx.keep, 'ground truth');
  // davis.py get_all_masks: num_objects = max of the FIRST GT frame (after void 255 -> 0).
  const first = voidToZero(await seq.readGt(seq.frames[0]));
  let n = 0;
  for (const v of first.data) n = Math.max(n, v);
  if (n === 0) {
    ctx.warn(
      `sequence '${seq.name}': the first ground-truth frame ${seq.frames[0]} has no object, so the DAVIS protocol scores no object in it`,
    );
    return [];
  }
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const tracks: Track[] = ids.map(() => ({ frames: [], J: [], F: [] }));
  let ignored = 0;
  await scoreFrames(
    ctx,
    seq.name,
    kept,
    async (frame) => {
      const { gt: raw, pred } = await readPair(seq, frame);
      const gt = voidToZero(raw);
      for (const v of gt.data)
        if (v > n) {
          ignored = Math.max(ignored, v);
          break;
        }
      let pmax = 0;
      for (const v of pred.data) pmax = Math.max(pmax, v);
      if (pmax > n) {
        throw new EvalInputError(
          `prediction of sequence '${seq.name}' frame ${frame} has object id ${pmax}, but the first ground-truth frame has ` +
            `${n} object(s) (the DAVIS toolkit aborts: "there is an index higher than the number of objects")`,
        );
      }
      return { pred, gt, ids, radius: radiusOf(ctx, gt) };
    },
    (frame, _job, J, F) => {
      ids.forEach((_, k) => {
        tracks[k].frames.push(frame);
        tracks[k].J.push(J[k]);
        tracks[k].F.push(F[k]);
      });
    },
  );
  if (ignored)
    ctx.warn(
      `sequence '${seq.name}': ground-truth ids above ${n} (up to ${ignored}) appear after the first frame; DAVIS ignores them`,
    );
  return ids.map((id, k) => finish(seq.name, String(id), String(id), tracks[k]));
}

/** DAVIS reads GT label 255 as void and zeroes it before separating objects. */
function voidToZero(m: LabelMap): LabelMap {
  if (!m.data.includes(255)) return m;
  const data = m.data.map((v) => (v === 255 ? 0 : v));
  return { ...m, data };
}

/** SA-V evaluator on multi-object label maps: cumulative ids, only GT ids reported. */
async function savLabelMaps(seq: SequenceSpec, ctx: Ctx): Promise<ObjectResult[]> {
  if (seq.frames.length === 0) throw new EvalInputError(`sequence '${seq.name}' has no ground-truth PNG files`);
  const kept = selectFrames(seq.frames, ctx.keep);
  if (kept.length === 0)
    ctx.warn(
      `sequence '${seq.name}' has ${seq.frames.length} annotated frame(s) and none is scored (use --keep-first-last)`,
    );
  const { tracks, inGt } = await cumulative(seq, ctx, kept, undefined, (m) => m);
  return [...inGt].sort((a, b) => a - b).map((id) => finish(seq.name, String(id), String(id), tracks.get(id)!));
}

/**
 * The SA-V Evaluator.feed_frame loop: per frame, ids = union of all ids seen so far in GT and
 * prediction; each gets J and F for that frame. Returns the tracks and the ids ever seen in GT.
 */
async function cumulative(
  seq: SequenceSpec,
  ctx: Ctx,
  frames: string[],
  object: string | undefined,
  prep: (m: LabelMap, role: 'gt' | 'pred', frame: string) => LabelMap,
): Promise<{ tracks: Map<number, Track>; inGt: Set<number> }> {
  const inGt = new Set<number>();
  const inPred = new Set<number>();
  const tracks = new Map<number, Track>();
  await scoreFrames(
    ctx,
    seq.name,
    frames,
    async (frame) => {
      const pair = await readPair(seq, frame, object);
      const gt = prep(pair.gt, 'gt', frame);
      const pred = prep(pair.pred, 'pred', frame);
      for (const id of idsOf(gt)) inGt.add(id);
      for (const id of idsOf(pred)) inPred.add(id);
      const ids = [...new Set([...inGt, ...inPred])].sort((a, b) => a - b);
      return { pred, gt, ids, radius: radiusOf(ctx, gt) };
    },
    (frame, job, J, F) => {
      job.ids.forEach((id, k) => {
        let t = tracks.get(id);
        if (!t) tracks.set(id, (t = { frames: [], J: [], F: [] }));
        t.frames.push(frame);
        t.J.push(J[k]);
        t.F.push(F[k]);
      });
    },
  );
  return { tracks, inGt };
}

/** Per-object folders (SA-V / VRS layout): each folder is one binary object (any non-zero pixel). */
async function perObjectFolders(seq: SequenceSpec, ctx: Ctx, protocol: Protocol): Promise<ObjectResult[]> {
  const out: ObjectResult[] = [];
  for (const obj of seq.objects) {
    const what = `object ${obj.key}`;
    if (protocol === 'davis') {
      const kept = keptFrames(seq.name, obj.frames, ctx.keep, what);
      const t: Track = { frames: [], J: [], F: [] };
      await scoreFrames(
        ctx,
        `${seq.name}/${obj.key}`,
        kept,
        async (frame) => {
          const { gt, pred } = await readPair(seq, frame, obj.key);
          return { pred: binarize(pred), gt: binarize(gt), ids: [1], radius: radiusOf(ctx, gt) };
        },
        (frame, _job, J, F) => {
          t.frames.push(frame);
          t.J.push(J[0]);
          t.F.push(F[0]);
        },
      );
      out.push(finish(seq.name, obj.key, objectLabel(obj.key), t));
    } else {
      if (obj.frames.length === 0)
        throw new EvalInputError(`${what} of sequence '${seq.name}' has no ground-truth PNG files`);
      const kept = selectFrames(obj.frames, ctx.keep);
      const { tracks, inGt } = await cumulative(seq, ctx, kept, obj.key, (m, role, frame) => {
        // sav_benchmark.get_gt_and_pred asserts one object per PNG: len(np.unique(a)) <= 2
        if (distinctCount(m) > 2) {
          throw new EvalInputError(
            `${role === 'gt' ? 'ground truth' : 'prediction'} of sequence '${seq.name}' object ${obj.key} frame ${frame} ` +
              'has more than 2 distinct values; the SA-V per-object layout holds one binary mask per PNG',
          );
        }
        return binarize(m);
      });
      if (!inGt.has(1)) {
        ctx.warn(
          `sequence '${seq.name}' object ${obj.key}: the ground truth is empty in every scored frame; the SA-V evaluator reports no number for it (skipped)`,
        );
        continue;
      }
      out.push(finish(seq.name, obj.key, objectLabel(obj.key), tracks.get(1)!));
    }
  }
  return out;
}
