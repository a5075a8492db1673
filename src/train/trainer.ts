// Label-efficient fine-tuning loop, host-agnostic (Node CLI and browsers alike): sample a cycle clip
// anchored at a video's only annotated frame, track it in training mode with the tape on, RobotSeg's
// losses (cycle focal + dice + IoU + object score, semantic, patch; SEMA structure for RobotSeg
// weights), back-propagate through time, clip the global gradient norm and step AdamW, all on the GPU.
//   - frozen prefixes get no gradient; with the whole image encoder frozen its outputs (the FPN levels)
//     are computed once per frame without the tape and cached (what makes small GPUs and the software
//     adapter practical);
//   - gradient accumulation over `accumulate` clips per optimiser step (gradients summed on the GPU,
//     the loss scaled by 1 / accumulate as a mean over clips);
//   - learning rates follow a cosine from each parameter's start value to lrEndFactor of it.
import type { RgbImage } from '../image/rgb.js';
import { Tape } from '../graph/autograd.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';
import { affine, unary } from '../kernels/elementwise.js';
import { l1Loss, structureTarget } from '../kernels/loss.js';
import { adamw, clipCoef, cosineSchedule, gradNormSq } from '../kernels/optim.js';
import { preprocessImage } from '../model/image_predictor.js';
import { maskToInput } from '../model/mask_prompt.js';
import { RobotSeg } from '../model/robotseg.js';
import type { ImageFeatures, SAM2 } from '../model/sam2.js';
import { mulberry32 } from '../util/rng.js';
import { type CyclePrompt, runCycle } from './cycle.js';
import { type CycleLossWeights, cycleLoss, ROBOTSEG_CYCLE_WEIGHTS } from './cycle_loss.js';
import {
  maskBox,
  type PromptKind,
  type PromptMode,
  randomForegroundClick,
  samplePrompt,
  sampleCycleOffsets,
  type TrainVideo,
} from './data.js';
import { weightedSum } from './losses.js';
import { collectParams, type OptimSettings, ROBOTSEG_OPTIM, type TrainableParam } from './params.js';
import { featurePseudoLabel, objectPrototype, withoutTape, withoutTapeAsync } from './pseudo_labels.js';
import { TAPE_OPS } from '../kernels/tape.js';

/** Reads frames and masks (Node: files; browsers: fetch / File). */
export interface TrainDataSource {
  image(id: string): Promise<RgbImage>;
  /** A 0/1 mask [H*W]. */
  mask(id: string): Promise<{ width: number; height: number; data: Uint8Array }>;
}

export interface TrainOptions {
  /** Optimiser steps in the schedule (the cosine runs over these). */
  steps: number;
  /** Cycle clip length (odd; RobotSeg 7 = [0, s, 2s, 3s, 2s, s, 0]). */
  clipLength: number;
  optim: OptimSettings;
  /** Global L2 gradient-norm clip (RobotSeg 0.1; 0 = off). */
  maxGradNorm: number;
  /** Final learning rate as a fraction of the start (RobotSeg 0.1). */
  lrEndFactor: number;
  /** Clips per optimiser step. */
  accumulate: number;
  /** Key prefixes that get no gradient, e.g. 'image_encoder'. */
  freeze: string[];
  weights: CycleLossWeights;
  /** Weight of the SEMA structure loss (RobotSeg weights only; RobotSeg 1). */
  structureWeight: number;
  promptMode: PromptMode;
  /** Correction clicks after a click / box prompt on the first step, all supervised (RobotSeg point mode: 3). */
  correctionClicks: number;
  /** Probability that a correction click is drawn from the ground truth instead of the error (RobotSeg 0.1). */
  gtClickProb: number;
  /** RobotSeg category ('arm' | 'gripper' | 'robot'): class token on every frame; null for SAM 2.1. */
  category: string | null;
  seed: number;
  /** Frames whose frozen-encoder features stay cached (LRU). */
  featureCacheFrames: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  steps: 100,
  clipLength: 7,
  optim: ROBOTSEG_OPTIM,
  maxGradNorm: 0.1,
  lrEndFactor: 0.1,
  accumulate: 1,
  freeze: [],
  weights: ROBOTSEG_CYCLE_WEIGHTS,
  structureWeight: 1,
  promptMode: 'mixed',
  correctionClicks: 3,
  gtClickProb: 0.1,
  category: null,
  seed: 2026,
  featureCacheFrames: 16,
};

export interface StepLog {
  step: number;
  /** Loss terms of the step (means over accumulated clips). */
  loss: Record<string, number>;
  /** Learning rate of each group at this step (start x schedule). */
  lr: Record<string, number>;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  clips: Array<{ video: string; frames: number[]; prompt: string }>;
  ms: number;
  /** Buffer-pool high-water mark (bytes) during the step. */
  peakBytes: number;
}

/** AdamW moments and the parameter's own step count (torch skips parameters without a gradient). */
interface OptimState {
  m: Tensor;
  v: Tensor;
  step: number;
}

export class Trainer {
  readonly params: TrainableParam[];
  readonly opts: TrainOptions;
  /** Optimiser steps taken. */
  step = 0;
  private state: OptimState[];
  private next: () => number;
  /** Frozen-encoder outputs per frame (LRU): the FPN levels and, for RobotSeg, the SEMA edge grid. */
  private featCache = new Map<string, { levels: Tensor[]; edges: Tensor | null }>();
  private pseudoCache = new Map<string, Tensor>();
  private readonly encoderFrozen: boolean;

  constructor(
    readonly rt: Runtime,
    readonly model: SAM2,
    readonly videos: TrainVideo[],
    readonly data: TrainDataSource,
    opts: Partial<TrainOptions> = {},
  ) {
    this.opts = { ...DEFAULT_TRAIN_OPTIONS, ...opts };
    const o = this.opts;
    if (!(o.steps >= 1)) throw new Error(`steps must be >= 1, got ${o.steps}`);
    if (!(o.accumulate >= 1) || !Number.isInteger(o.accumulate))
      throw new Error(`accumulate must be a positive integer, got ${o.accumulate}`);
    if (videos.length === 0) throw new Error('no training videos');
    if (o.category !== null && !(model instanceof RobotSeg))
      throw new Error(
        `a robot target ('${o.category}') needs RobotSeg weights; this model is SAM 2.1 (${model.cfg.name})`,
      );
    if (o.promptMode === 'auto' && o.category === null)
      throw new Error("prompt mode 'auto' (category only) needs RobotSeg weights and a target category");
    this.params = collectParams(model, o.freeze, o.optim);
    if (this.params.length === 0) throw new Error(`every parameter is frozen (--freeze ${o.freeze.join(' ')})`);
    this.encoderFrozen = !this.params.some((p) => p.key.startsWith('image_encoder.'));
    this.state = this.params.map((p) => ({
      m: untrack(rt.zeros(p.tensor.shape, 'f32', `adam.m.${p.key}`)),
      v: untrack(rt.zeros(p.tensor.shape, 'f32', `adam.v.${p.key}`)),
      step: 0,
    }));
    this.next = mulberry32(o.seed);
  }

  /** Learning-rate multiplier of the cosine schedule at optimiser step `s` (0-based). */
  lrFactor(s = this.step): number {
    return cosineSchedule(s, this.opts.steps, 1, this.opts.lrEndFactor);
  }

  /** Forward + backward of one sampled clip: gradients accumulate into the parameters' .grad. */
  async clipGradients(
    video: TrainVideo,
    scale: number,
  ): Promise<{ loss: Record<string, number>; frames: number[]; prompt: string }> {
    const o = this.opts;
    const offsets = sampleCycleOffsets(this.next, video.frames.length - video.anchor, o.clipLength);
    const kind = samplePrompt(this.next, o.promptMode, video.frames.length - video.anchor > 1, o.category !== null);
    return this.clipLoss(video, offsets, kind, scale, true);
  }

  /**
   * The training loss of one clip (source-frame offsets from the anchor, first-step prompt kind).
   * With `backward`, the tape records and gradients accumulate into the parameters' .grad (scaled by
   * `scale`); without, nothing is recorded (e.g. the same fixed clip before and after training).
   */
  async clipLoss(
    video: TrainVideo,
    offsets: number[],
    kind: PromptKind,
    scale = 1,
    backward = false,
  ): Promise<{ loss: Record<string, number>; frames: number[]; prompt: string }> {
    const rt = this.rt;
    const o = this.opts;
    const indices = offsets.map((d) => video.anchor + d);
    if (indices.some((i) => i < 0 || i >= video.frames.length))
      throw new Error(
        `clip frames ${indices.join(', ')} outside video '${video.name}' (${video.frames.length} frames)`,
      );
    if (backward) for (const p of this.params) p.tensor.requiresGrad = true;
    const tape = backward ? new Tape(rt, TAPE_OPS) : null;
    try {
      return await rt.scopeAsync(async () => {
        const g0 = await this.targetMask(video);
        const feats = new Map<number, ImageFeatures>();
        rt.tape = tape;
        for (const i of new Set(indices)) feats.set(i, await this.frameFeatures(video, i));
        const frames = indices.map((i) => feats.get(i)!);
        const prompt = await this.prompt(kind, g0);
        const points = kind === 'click' || kind === 'box';
        const steps = await runCycle(rt, this.model, frames, indices, prompt.prompt, {
          category: kind === 'mask' ? null : o.category,
          corrections: points ? o.correctionClicks : 0,
          gt: prompt.gt,
          gtClickProb: o.gtClickProb,
          random: this.next,
        });
        const pseudo = new Map<number, Tensor>();
        for (let t = 1; t < steps.length - 1; t++)
          pseudo.set(t, await this.pseudoLabel(video, indices[t], frames[0], g0));
        const loss = await cycleLoss(rt, steps, frames, g0, (t) => pseudo.get(t)!, o.weights);
        const terms: Array<[number, Tensor]> = [[1, loss.total]];
        let structure: Tensor | null = null;
        const last = steps[steps.length - 1];
        if (o.structureWeight > 0 && last.structureLogits.length) {
          // SEMA supervision on the clip's last frame: every layer's σ(map) vs |Laplacian(G0)| / max
          const target = withoutTape(rt, () => structureTarget(rt, g0));
          structure = affine(
            rt,
            weightedSum(
              rt,
              last.structureLogits.map((l) => [1, l1Loss(rt, unary(rt, l, 'sigmoid'), target)] as [number, Tensor]),
            ),
            1 / last.structureLogits.length,
          );
          terms.push([o.structureWeight, structure]);
        }
        const total = affine(rt, weightedSum(rt, terms), scale);
        rt.tape = null;
        const host: Record<string, number> = {};
        const read = async (name: string, t: Tensor | null) => {
          if (t) host[name] = (await rt.read(t))[0];
        };
        await read('total', total);
        host.total /= scale;
        await read('cycle', loss.cyc);
        await read('semantic', loss.sem);
        await read('patch', loss.patch);
        await read('structure', structure);
        for (const [name, pick] of [
          ['focal', 'focal'],
          ['dice', 'dice'],
          ['iou', 'iou'],
          ['class', 'cls'],
        ] as const) {
          let sum = 0;
          for (const m of loss.mask) sum += (await rt.read(m[pick]))[0];
          host[name] = sum;
        }
        if (tape) {
          tape.backward(total, rt.upload([1], [1]));
          for (const p of this.params) if (p.tensor.grad) untrack(p.tensor.grad);
        }
        const extra = points ? steps[0].earlier.length : 0;
        return {
          loss: host,
          frames: indices,
          prompt: extra ? `${prompt.describe} + ${extra} correction clicks` : prompt.describe,
        };
      });
    } finally {
      rt.tape = null;
      tape?.dispose();
      if (backward) for (const p of this.params) p.tensor.requiresGrad = false;
    }
  }

  /** One optimiser step over `accumulate` clips. */
  async trainStep(): Promise<StepLog> {
    const rt = this.rt;
    const o = this.opts;
    const t0 = performance.now();
    rt.pool.resetPeak();
    const clips: StepLog['clips'] = [];
    const sums: Record<string, number> = {};
    for (let a = 0; a < o.accumulate; a++) {
      const video = this.videos[Math.floor(this.next() * this.videos.length) % this.videos.length];
      const r = await this.clipGradients(video, 1 / o.accumulate);
      clips.push({ video: video.name, frames: r.frames, prompt: r.prompt });
      for (const [k, v] of Object.entries(r.loss)) sums[k] = (sums[k] ?? 0) + v / o.accumulate;
    }
    const gradNorm = await this.applyGradients();
    const lr: Record<string, number> = {};
    for (const p of this.params) lr[p.group] = Math.max(lr[p.group] ?? 0, p.lr * this.lrFactor(this.step - 1));
    return {
      step: this.step,
      loss: sums,
      lr,
      gradNorm,
      clips,
      ms: performance.now() - t0,
      peakBytes: rt.pool.peakBytes,
    };
  }

  /** Clip by the global norm and take an AdamW step; clears the gradients. Returns the norm before clipping. */
  async applyGradients(): Promise<number> {
    const rt = this.rt;
    const o = this.opts;
    const withGrad = this.params.map((p, i) => ({ p, s: this.state[i] })).filter(({ p }) => p.tensor.grad);
    const normSq = gradNormSq(
      rt,
      withGrad.map(({ p }) => p.tensor.grad!),
    );
    const clip = o.maxGradNorm > 0 ? clipCoef(rt, normSq, o.maxGradNorm) : null;
    const factor = this.lrFactor(this.step);
    this.step++;
    for (const { p, s } of withGrad) {
      s.step++;
      adamw(rt, p.tensor, p.tensor.grad!, s.m, s.v, {
        lr: p.lr * factor,
        weightDecay: p.weightDecay,
        step: s.step,
        gradScale: clip?.coef,
      });
    }
    const norm = Math.sqrt((await rt.read(normSq))[0]);
    normSq.dispose();
    clip?.coef.dispose();
    clip?.norm.dispose();
    for (const { p } of withGrad) {
      p.tensor.grad!.dispose();
      p.tensor.grad = null;
    }
    // inference caches derived from parameters that just moved (predictors made later recompute theirs)
    if (withGrad.some(({ p }) => p.key.startsWith('image_encoder.trunk.pos_embed')))
      this.model.image_encoder.trunk.clearPositionCache();
    return norm;
  }

  /** The annotated mask at the model input size [1, 1, S, S] (0/1), as a mask prompt is prepared. */
  private async targetMask(video: TrainVideo): Promise<Tensor> {
    const m = await this.data.mask(video.mask);
    return withoutTape(this.rt, () => maskToInput(this.rt, m.data, m.width, m.height, this.model.cfg.image_size));
  }

  /** First-step prompt of the clip, from the annotated mask at the input size (and that mask on the host). */
  private async prompt(kind: string, g0: Tensor): Promise<{ prompt: CyclePrompt; describe: string; gt: Uint8Array }> {
    const S = this.model.cfg.image_size;
    const m = Uint8Array.from(await this.rt.read(g0), (v) => (v > 0 ? 1 : 0));
    if (kind === 'mask') return { prompt: { kind: 'mask', mask: g0 }, describe: 'mask', gt: m };
    if (kind === 'auto')
      return {
        prompt: { kind: 'points', points: { coords: new Float32Array(0), labels: new Int32Array(0) } },
        describe: 'auto',
        gt: m,
      };
    if (kind === 'box') {
      const b = maskBox(m, S, S);
      return {
        prompt: { kind: 'points', points: { coords: Float32Array.from(b), labels: Int32Array.from([2, 3]) } },
        describe: `box ${b.join(',')}`,
        gt: m,
      };
    }
    const c = randomForegroundClick(this.next, m, S);
    return {
      prompt: { kind: 'points', points: { coords: Float32Array.from([c.x, c.y]), labels: Int32Array.from([1]) } },
      describe: `click ${c.x},${c.y}`,
      gt: m,
    };
  }

  /** Features of a frame: under the tape when the encoder trains, else from cached FPN levels. */
  private async frameFeatures(video: TrainVideo, index: number): Promise<ImageFeatures> {
    const rt = this.rt;
    const key = `${video.name}#${index}`;
    const m = this.model;
    const image = async () => {
      const img = await this.data.image(video.frames[index]);
      return withoutTape(rt, () => preprocessImage(rt, m.cfg, img));
    };
    let f: ImageFeatures;
    if (this.encoderFrozen) {
      let hit = this.featCache.get(key);
      if (!hit) {
        const x = await image();
        const levels = withoutTape(rt, () => rt.scope(() => m.encodeBackbone(rt, x)));
        for (const l of levels) untrack(l);
        const edges = m instanceof RobotSeg ? untrack(withoutTape(rt, () => m.memory_attention.edgeGrid(rt, x))) : null;
        x.dispose();
        hit = { levels, edges };
        this.featCache.set(key, hit);
        while (this.featCache.size > this.opts.featureCacheFrames) {
          const [k, old] = this.featCache.entries().next().value as [
            string,
            { levels: Tensor[]; edges: Tensor | null },
          ];
          for (const t of old.levels) t.dispose();
          old.edges?.dispose();
          this.featCache.delete(k);
        }
      } else {
        this.featCache.delete(key);
        this.featCache.set(key, hit);
      } // LRU touch
      f = m.featuresFromLevels(rt, hit.levels);
      if (hit.edges) f.edges = hit.edges;
    } else {
      const x = await image();
      f = m.encodeImage(rt, x);
      if (m instanceof RobotSeg) f.edges = withoutTape(rt, () => m.memory_attention.edgeGrid(rt, x));
    }
    return f;
  }

  /** Pseudo label of a frame (user-provided, else the engine's feature rule), cached per frame. */
  private async pseudoLabel(video: TrainVideo, index: number, anchor: ImageFeatures, g0: Tensor): Promise<Tensor> {
    const rt = this.rt;
    const key = `${video.name}#${index}`;
    const hit = this.pseudoCache.get(key);
    if (hit) return hit;
    let label: Tensor;
    const user = video.pseudo?.get(index);
    if (user) {
      const m = await this.data.mask(user);
      label = withoutTape(rt, () => maskToInput(rt, m.data, m.width, m.height, this.model.cfg.image_size));
    } else {
      // frame features without the tape: the label is a constant target
      const f = await withoutTapeAsync(rt, async () => {
        const cached = this.featCache.get(key);
        if (cached) return cached.levels[cached.levels.length - 1];
        const img = await this.data.image(video.frames[index]);
        return rt.scope(() => this.model.encodeImage(rt, preprocessImage(rt, this.model.cfg, img)).visionFeats);
      });
      const proto = objectPrototype(rt, anchor.visionFeats, g0);
      label = (await featurePseudoLabel(rt, f, proto)).label;
      proto.dispose();
    }
    untrack(label);
    this.pseudoCache.set(key, label);
    return label;
  }

  /** Current parameter values (host copies) by key, e.g. for a checkpoint. */
  async stateDict(): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [key, p] of this.model.namedParams()) out.set(key, { shape: p.shape, data: await this.rt.read(p.t) });
    return out;
  }

  /** Optimiser state (Adam moments) by parameter key, plus the step count. */
  async optimizerState(): Promise<{
    step: number;
    tensors: Map<string, { shape: readonly number[]; data: Float32Array }>;
  }> {
    const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      tensors.set(`adam.m/${p.key}`, { shape: p.tensor.shape, data: await this.rt.read(this.state[i].m) });
      tensors.set(`adam.v/${p.key}`, { shape: p.tensor.shape, data: await this.rt.read(this.state[i].v) });
      tensors.set(`adam.step/${p.key}`, { shape: [1], data: Float32Array.from([this.state[i].step]) });
    }
    return { step: this.step, tensors };
  }

  /** Restore the optimiser state saved by optimizerState (resume); unknown or missing keys are errors. */
  loadOptimizerState(step: number, get: (key: string) => Float32Array | undefined): void {
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      for (const [name, t] of [
        ['m', this.state[i].m],
        ['v', this.state[i].v],
      ] as const) {
        const data = get(`adam.${name}/${p.key}`);
        if (!data)
          throw new Error(
            `resume checkpoint has no optimiser state 'adam.${name}/${p.key}' (was it saved with other --freeze prefixes?)`,
          );
        if (data.length !== t.size)
          throw new Error(
            `resume checkpoint: 'adam.${name}/${p.key}' has ${data.length} values, the parameter ${t.size}`,
          );
        this.rt.write(t, data);
      }
      this.state[i].step = get(`adam.step/${p.key}`)?.[0] ?? step;
    }
    this.step = step;
  }

  dispose(): void {
    for (const s of this.state) {
      s.m.dispose();
      s.v.dispose();
    }
    for (const c of this.featCache.values()) {
      for (const t of c.levels) t.dispose();
      c.edges?.dispose();
    }
    for (const t of this.pseudoCache.values()) t.dispose();
    this.featCache.clear();
    this.pseudoCache.clear();
  }
}
