// SAM2VideoPredictor semantics (docs/reference/sam2-architecture.md sec. 8) with two front ends:
//   - offline: a frame source of known length; prompts on any frame, propagate forward or reverse;
//   - streaming: frames pushed one at a time (a live camera), each returns its masks at once.
// Memory stays bounded: per object the bank keeps the conditioning frames, the last num_maskmem-1
// memories and the last max_obj_ptrs pointers; image features are kept for the current frame only.
// Several objects share one image-encoder pass per frame, and on a tracked (non-prompted) frame they
// run as one batch through memory attention, decoder, heads and memory encoder (tracker.ts explains
// how banks of different structure are padded); prompted frames run per object.
import type { RgbImage } from '../image/rgb.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';
import { fillHoles } from '../kernels/fill_holes.js';
import { concat } from '../kernels/layout.js';
import { resize, resizeToHost } from '../kernels/resize.js';
import { preprocessImage, type Point, validatePrompt } from './image_predictor.js';
import { clampMaskLogits, maskToInput } from './mask_prompt.js';
import { preprocessOfficialVideo } from './preprocess_video.js';
import type { PointPrompt } from './prompt_encoder.js';
import { RobotSeg } from './robotseg.js';
import { RobotSegTracker } from './robotseg_tracker.js';
import type { ImageFeatures, SAM2 } from './sam2.js';
import { disposeFrame, MemoryBank } from './memory_bank.js';
import { type HeadsBatch, type HeadsOutput, headsScalars, type StoredFrame, type Tap, Tracker } from './tracker.js';

/** Stages of a tracked frame, reported to VideoPredictorOptions.onStage after their work is queued. */
export type TrackStage = 'image_encoder' | 'memory' | 'memory_attention' | 'decoder' | 'memory_encoder' | 'output';

export interface FrameResult {
  objId: number;
  /** Hole-filled low-res logits [4h*4w]. */
  lowRes: Float32Array;
  /** Logits at the video size [H*W] (threshold > 0); empty with the option { logits: false }. */
  logits: Float32Array;
  /** 0/1 mask at the video size. */
  mask: Uint8Array;
  objectScore: number;
  /** Predicted IoU of this mask (the decoder's IoU head for the mask kept; 1 for a mask prompt). */
  iou: number;
}

export interface FrameSource {
  /** Number of frames, or null for a live stream. */
  readonly numFrames: number | null;
  readonly width: number;
  readonly height: number;
  frame(i: number): Promise<RgbImage>;
}

interface ObjectState {
  /** Conditioning, tracked and corrected outputs, and the prompted frames whose memory is pending. */
  bank: MemoryBank;
  /** Frames propagation has visited, with their direction (frames_tracked_per_obj). */
  tracked: Map<number, boolean>;
  /** Accumulated user points per frame, in network-input coordinates. */
  points: Map<number, PointPrompt>;
  /** RobotSeg: the category ('arm' | 'gripper' | 'robot') whose class token enters the decoder; null = plain SAM 2.1. */
  category: string | null;
}

export interface VideoPredictorOptions {
  /**
   * Tap intermediates (parity tests): called with (frame, name, tensor, objIds). Per-object tensors
   * carry the objects of their leading (batch) dim in objIds (one object on prompted frames, the
   * batch on tracked frames; a batched memory is padded, see tracker.ts); tensors of the frame
   * (image features) have no objIds.
   */
  tap?: (frame: number, name: string, t: Tensor, objIds?: readonly number[]) => void;
  /**
   * Batch the objects of a tracked frame through memory attention, decoder and memory encoder
   * (default true); false runs them one object at a time (same results; tests and benchmarks).
   */
  batchObjects?: boolean;
  /**
   * Called after each stage of a tracked frame has been queued (stage 'image_encoder' whenever a
   * frame is encoded), with the objects of the batch; awaited. Benchmarks sync here to time stages,
   * tests count dispatches.
   */
  onStage?: (frame: number, stage: TrackStage, objIds: readonly number[]) => void | Promise<void>;
  /**
   * RobotSeg teacher forcing (parity tests): object tokens [1, n, C] to use instead of the RPG output
   * on a frame (null: keep the computed ones).
   */
  objectTokens?: (frame: number, objId: number, computed: Tensor) => Tensor | null;
  /**
   * Frame preprocessing: 'image' (default) the image predictor's antialiased bilinear resize on floats,
   * as the golden tensors; 'official-video' the official video loader's PIL bicubic resize on uint8.
   */
  resize?: 'image' | 'official-video';
  /**
   * Return the video-size f32 logits in FrameResult.logits (default true); false leaves them empty
   * (the masks are still exact): 4 bytes a pixel less on the host per object and frame.
   */
  logits?: boolean;
}

export class VideoPredictor {
  readonly tracker: Tracker;
  /** See VideoPredictorOptions.batchObjects; may be changed between frames. */
  batchObjects: boolean;
  private objects = new Map<number, ObjectState>();
  private featCache: { idx: number; f: ImageFeatures } | null = null;
  /** Frames pushed so far in streaming mode. */
  private streamLength = 0;

  constructor(
    readonly rt: Runtime,
    readonly model: SAM2,
    readonly source: FrameSource,
    readonly opts: VideoPredictorOptions = {},
  ) {
    this.tracker = model instanceof RobotSeg ? new RobotSegTracker(rt, model) : new Tracker(rt, model);
    this.batchObjects = opts.batchObjects ?? true;
    if (source.numFrames !== null && source.numFrames < 1) throw new Error('video has no frames');
  }

  get numFrames(): number {
    return this.source.numFrames ?? this.streamLength;
  }

  /** Frame count used for the pointer temporal encoding (16 in streaming, where the length is unknown). */
  private ptrFrames(): number {
    return this.source.numFrames ?? Math.max(this.streamLength, this.model.cfg.base.max_obj_ptrs_in_encoder);
  }

  private tapFor(frame: number, objIds?: readonly number[]): Tap | undefined {
    const t = this.opts.tap;
    return t ? (name, x) => t(frame, name, x, objIds) : undefined;
  }

  private checkFrame(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.numFrames)
      throw new Error(`frame ${i} does not exist (video has ${this.numFrames} frames)`);
  }

  private async features(i: number, img?: RgbImage): Promise<ImageFeatures> {
    if (this.featCache?.idx === i) return this.featCache.f;
    const frame = img ?? (await this.source.frame(i));
    if (frame.width !== this.source.width || frame.height !== this.source.height) {
      throw new Error(
        `frame ${i} is ${frame.width}x${frame.height}, the video is ${this.source.width}x${this.source.height}`,
      );
    }
    const rt = this.rt;
    const tap = this.tapFor(i);
    const f = rt.scope(() => {
      const x =
        this.opts.resize === 'official-video'
          ? preprocessOfficialVideo(rt, this.model.cfg, frame)
          : preprocessImage(rt, this.model.cfg, frame);
      tap?.('input_image', x);
      const enc = this.model.encodeImage(
        rt,
        x,
        tap &&
          ((n, t) => {
            if (n.startsWith('backbone_fpn')) tap(n, t);
          }),
      );
      if (this.tracker instanceof RobotSegTracker) enc.edges = this.tracker.edgeGrid(x); // once per frame, shared by all layers and objects
      return enc;
    });
    this.dropFeatures();
    for (const t of featureTensors(f)) untrack(t);
    this.featCache = { idx: i, f };
    await this.opts.onStage?.(i, 'image_encoder', []);
    return f;
  }

  private dropFeatures(): void {
    if (!this.featCache) return;
    for (const t of featureTensors(this.featCache.f)) t.dispose();
    this.featCache = null;
  }

  private obj(id: number): ObjectState {
    let o = this.objects.get(id);
    if (!o)
      this.objects.set(
        id,
        (o = {
          bank: new MemoryBank(),
          tracked: new Map(),
          points: new Map(),
          category: null,
        }),
      );
    return o;
  }

  /** RobotSeg: check a category against the model (a SAM 2.1 model has none). */
  private checkCategory(category: string | null | undefined): void {
    if (category === undefined || category === null) return;
    if (!(this.model instanceof RobotSeg))
      throw new Error(
        `a robot target ('${category}') needs RobotSeg weights; this model is SAM 2.1 (${this.model.cfg.name})`,
      );
    const vocab = this.model.spec.classVocab;
    if (!vocab.includes(category))
      throw new Error(`unknown robot target '${category}' (expected one of: ${vocab.join(', ')})`);
  }

  /**
   * Memory-conditioned features of a frame for an object and, for a RobotSeg object with a category,
   * the decoder's leading tokens (class + RPG object tokens). Caller disposes both.
   */
  private condition(
    frame: number,
    isInit: boolean,
    f: ImageFeatures,
    o: ObjectState,
    objId: number,
    reverse: boolean,
    tap?: Tap,
  ): { pix: Tensor; tokens: Tensor | null } {
    const bank = o.bank.view();
    if (o.category !== null && this.tracker instanceof RobotSegTracker) {
      const force = this.opts.objectTokens;
      const r = this.tracker.conditionRobot(
        frame,
        isInit,
        f,
        bank,
        this.ptrFrames(),
        reverse,
        o.category,
        tap,
        force && ((c) => force(frame, objId, c)),
      );
      r.objectTokens.dispose();
      return { pix: r.pix, tokens: r.tokens };
    }
    return {
      pix: this.tracker.memoryConditioned(frame, isInit, f, bank, this.ptrFrames(), reverse, tap),
      tokens: null,
    };
  }

  /**
   * RobotSeg's automatic mode (add_new_robot): start object `objId` on `frame` with no prompt, only the
   * category ('arm' | 'gripper' | 'robot'), whose class token (and the RPG object tokens) enter the
   * decoder on every frame of this object. The frame becomes a conditioning frame (multimask, best
   * IoU; its memory is encoded from the binarised mask when propagation starts).
   */
  async addTarget(frame: number, objId: number, category: string): Promise<FrameResult> {
    this.checkFrame(frame);
    if (!(this.model instanceof RobotSeg)) throw new Error('addTarget (automatic mode) needs a RobotSeg model');
    this.checkCategory(category);
    const o = this.obj(objId);
    o.category = category;
    o.points.delete(frame);
    const isInit = !o.tracked.has(frame);
    const f = await this.features(frame);
    const tap = this.tapFor(frame, [objId]);
    const { pix, tokens } = this.condition(frame, isInit, f, o, objId, o.tracked.get(frame) ?? false, tap);
    tap?.('pix_feat_with_mem', pix);
    // no points and no mask: 0 clicks is within [0, 1], so multimask on an initial conditioning frame
    const multimask = isInit || Boolean(this.model.cfg.base.multimask_output_for_tracking);
    const heads = await this.tracker.samHeads(pix, f, null, null, multimask, tap, tokens ?? undefined);
    pix.dispose();
    tokens?.dispose();
    const stored = this.storePrompted(o, frame, heads, isInit);
    return this.output(objId, stored, tap, 'out.video_res_logits_after_click');
  }

  get objectIds(): number[] {
    return [...this.objects.keys()];
  }

  /** GPU bytes an object's memory bank holds (MemoryBank.bytes); 0 for an unknown object. */
  memoryBytes(objId: number): number {
    return this.objects.get(objId)?.bank.bytes() ?? 0;
  }

  /**
   * Add clicks (and/or a box) on a frame for an object (SAM 2's add_new_points_or_box). A box or
   * clearOld replaces the frame's previous points. Returns that frame's masks for the object.
   * The frame's previous output (the last clicks' output, else its tracked output) is the mask prompt.
   * A frame propagation has not visited is an initial conditioning frame (no memory; its memory is
   * encoded by preflight()). On a tracked frame the clicks correct it with memory, and the result stays
   * a NON-conditioning output (add_all_frames_to_correct_as_cond = False, SAM 2's and RobotSeg's
   * default): the frames that follow see it only after preflight() (called by propagate() and push()),
   * and on a frame that is already a conditioning frame preflight() drops it, as SAM 2 does.
   */
  async addPoints(
    frame: number,
    objId: number,
    prompt: { points?: Point[]; box?: [number, number, number, number]; clearOld?: boolean; category?: string | null },
  ): Promise<FrameResult> {
    this.checkFrame(frame);
    this.checkCategory(prompt.category);
    const { width: W, height: H } = this.source;
    validatePrompt(prompt, W, H);
    if (!prompt.points?.length && !prompt.box) throw new Error('addPoints: give at least one point or a box');
    const S = this.model.cfg.image_size;
    const f32 = Math.fround;
    const o = this.obj(objId);
    if (prompt.category !== undefined) o.category = prompt.category; // RobotSeg: prompts combined with the class token
    const coords: number[] = [];
    const labels: number[] = [];
    if (prompt.box) {
      coords.push(prompt.box[0], prompt.box[1], prompt.box[2], prompt.box[3]);
      labels.push(2, 3);
    }
    for (const p of prompt.points ?? []) {
      coords.push(p.x, p.y);
      labels.push(p.label);
    }
    const scaled = Float32Array.from(coords, (v, i) => f32(f32(v / (i % 2 === 0 ? W : H)) * S));
    const prev = prompt.box || prompt.clearOld ? null : o.points.get(frame);
    const pts: PointPrompt = prev
      ? { coords: Float32Array.from([...prev.coords, ...scaled]), labels: Int32Array.from([...prev.labels, ...labels]) }
      : { coords: scaled, labels: Int32Array.from(labels) };
    o.points.set(frame, pts);

    const isInit = !o.tracked.has(frame);
    // SAM 2: temp output of the frame first (the latest clicks), then its cond / non-cond output
    const b = o.bank;
    const prevOut = (isInit ? undefined : b.tempNonCond.get(frame)) ?? b.cond.get(frame) ?? b.nonCond.get(frame);
    const f = await this.features(frame);
    const tap = this.tapFor(frame, [objId]);
    const rt = this.rt;
    // previously predicted logits of this frame join the new clicks as a mask prompt (clamped)
    let prevLogits: Tensor | null = null;
    if (prevOut) prevLogits = clampMaskLogits(rt, prevOut.predMasks);
    const nUser = pts.labels.length;
    const multimask = nUser <= 1 && (isInit || Boolean(this.model.cfg.base.multimask_output_for_tracking));
    const { pix, tokens } = this.condition(frame, isInit, f, o, objId, o.tracked.get(frame) ?? false, tap);
    tap?.('pix_feat_with_mem', pix);
    const heads = await this.tracker.samHeads(pix, f, pts, prevLogits, multimask, tap, tokens ?? undefined);
    pix.dispose();
    tokens?.dispose();
    prevLogits?.dispose();
    const stored = this.storePrompted(o, frame, heads, isInit);
    return this.output(objId, stored, tap, 'out.video_res_logits_after_click');
  }

  /** Where a prompted frame's output goes: a (pending) conditioning output, or a temporary correction. */
  private storePrompted(o: ObjectState, frame: number, heads: HeadsOutput, isCond: boolean): StoredFrame {
    const s = this.stored(heads, null);
    if (isCond)
      o.bank.putCond(frame, s); // its memory is encoded at preflight
    else o.bank.putTemp(frame, s);
    return s;
  }

  /**
   * How a frame is held for an object: 'cond' / 'non-cond' (memory bank), 'pending-cond' (prompted,
   * memory not encoded yet), 'pending-non-cond' (a correction waiting for preflight; the tracked
   * output stays in the bank meanwhile), or null.
   */
  frameState(objId: number, frame: number): 'cond' | 'pending-cond' | 'non-cond' | 'pending-non-cond' | null {
    const o = this.objects.get(objId);
    return o ? o.bank.state(frame) : null;
  }

  /**
   * propagate_in_video_preflight: encode the memory of prompted frames from their binarised masks and
   * move corrections into the memory bank (a correction on a conditioning frame is dropped). propagate()
   * and push() call it; call it yourself to make a correction visible to a propagation in progress.
   */
  preflight(): Promise<void> {
    return this.encodePending();
  }

  /** A 0/1 mask [H*W] at the video size as the prompt of a frame (add_new_mask). */
  async addMask(frame: number, objId: number, mask: Uint8Array): Promise<FrameResult> {
    this.checkFrame(frame);
    const { width: W, height: H } = this.source;
    if (mask.length !== W * H) throw new Error(`mask has ${mask.length} pixels, the video frame has ${W}x${H}`);
    const o = this.obj(objId);
    o.points.delete(frame);
    const rt = this.rt;
    const S = this.model.cfg.image_size;
    const f = await this.features(frame);
    const m01 = maskToInput(rt, mask, W, H, S);
    const anyFg = mask.some((v) => v !== 0);
    const heads = await this.tracker.maskAsOutput(f, m01, anyFg);
    m01.dispose();
    const stored = this.stored(heads, null);
    o.bank.putCond(frame, stored); // its memory is encoded at preflight
    return this.output(objId, stored, this.tapFor(frame, [objId]), 'out.video_res_logits_after_click');
  }

  /** A frame output as the bank holds it: hole-filled pred_masks, pointer, score (drops the rest). */
  private stored(heads: HeadsOutput, maskmem: Tensor | null): StoredFrame {
    const rt = this.rt;
    const area = this.model.cfg.postprocessing.video_fill_hole_area;
    const pred = area > 0 ? untrack(fillHoles(rt, heads.lowRes, area)) : untrack(heads.lowRes);
    if (area > 0) heads.lowRes.dispose();
    heads.highRes.dispose();
    return {
      maskmem,
      objPtr: untrack(heads.objPtr),
      objectScore: heads.objectScore,
      predMasks: pred,
      iou: Math.max(...heads.iou),
    };
  }

  /** propagate_in_video_preflight: encode memories of prompted frames from their binarised masks. */
  private encodePending(): Promise<void> {
    return (async () => {
      for (const [objId, o] of this.objects) {
        // corrections of tracked frames (SAM 2 consolidates non-cond temp outputs first)
        const b = o.bank;
        for (const [frame, s] of [...b.tempNonCond]) {
          b.tempNonCond.delete(frame);
          if (b.cond.has(frame)) {
            disposeFrame(s);
            continue;
          } // SAM 2 adds it, then pops it (cond wins)
          await this.encodeFromMask(frame, objId, s);
          b.putNonCond(frame, s);
        }
        for (const frame of [...b.pending]) {
          const s = b.cond.get(frame) ?? b.nonCond.get(frame);
          if (!s) continue;
          await this.encodeFromMask(frame, objId, s);
          b.pending.delete(frame);
        }
      }
    })();
  }

  /** Memory of a prompted frame from its (binarised) low-res mask. */
  private async encodeFromMask(frame: number, objId: number, s: StoredFrame): Promise<void> {
    const f = await this.features(frame);
    const tap = this.tapFor(frame, [objId]);
    const S = this.model.cfg.image_size;
    const high = resize(this.rt, s.predMasks, [S, S], { mode: 'bilinear' });
    tap?.('memenc.pred_masks_high_res_in', high);
    s.maskmem?.dispose();
    s.maskmem = untrack(this.tracker.encodeMemory(f, high, [s.objectScore], true, tap));
    high.dispose();
  }

  /** Track one non-prompted frame for every object (features computed once, shared). */
  private async trackFrame(frame: number, reverse: boolean, img?: RgbImage): Promise<FrameResult[]> {
    const results = new Map<number, FrameResult>();
    const todo: Array<[number, ObjectState]> = [];
    for (const [objId, o] of this.objects) {
      const have = o.bank.cond.get(frame);
      if (have) {
        o.tracked.set(frame, reverse);
        results.set(objId, await this.output(objId, have, this.tapFor(frame, [objId]), 'out.video_res_logits'));
      } else if (o.bank.cond.size > 0) {
        // (objects without prompts yet are skipped)
        o.tracked.set(frame, reverse);
        todo.push([objId, o]);
      }
    }
    if (todo.length) {
      const f = await this.features(frame, img);
      const batches = this.batchObjects ? [this.decoderOrder(frame, reverse, todo)] : todo.map((x) => [x]);
      for (const batch of batches)
        for (const r of await this.trackBatch(frame, reverse, f, batch)) results.set(r.objId, r);
    }
    return [...this.objects.keys()].filter((id) => results.has(id)).map((id) => results.get(id)!);
  }

  /**
   * Objects ordered so that those sharing a decoder token layout are adjacent (plain SAM 2.1 objects;
   * RobotSeg objects with a category per number of memory frames: the RPG gives R tokens per frame).
   */
  private decoderOrder(
    frame: number,
    reverse: boolean,
    todo: Array<[number, ObjectState]>,
  ): Array<[number, ObjectState]> {
    const key = ([, o]: [number, ObjectState]) =>
      o.category === null || !(this.tracker instanceof RobotSegTracker)
        ? 'sam'
        : `robot:${this.tracker.selectMemory(frame, o.bank, this.ptrFrames(), reverse).frames.length}`;
    const keys = [...new Set(todo.map(key))];
    return [...todo].sort((x, y) => keys.indexOf(key(x)) - keys.indexOf(key(y))); // stable
  }

  /**
   * Track one frame for a batch of objects: one memory-attention call over their (padded) banks, one
   * decoder call per token layout, the mask choices on the GPU (headsOnGpu), one memory-encoder call,
   * one hole filling and ONE readback (masks, logits, scores). Every object's bank gets views into the
   * batched results.
   */
  private async trackBatch(
    frame: number,
    reverse: boolean,
    f: ImageFeatures,
    batch: Array<[number, ObjectState]>,
  ): Promise<FrameResult[]> {
    const rt = this.rt;
    const ids = batch.map(([id]) => id);
    const B = batch.length;
    const tap = this.tapFor(frame, ids);
    const stage = (name: TrackStage) => this.opts.onStage?.(frame, name, ids);
    const robot = this.tracker instanceof RobotSegTracker ? this.tracker : null;
    // memory of every object, and the RobotSeg decoder tokens (RPG over each object's own memories)
    const prep = rt.scope(() => {
      const a = this.tracker.assembleBatch(
        frame,
        f,
        batch.map(([, o]) => o.bank),
        this.ptrFrames(),
        reverse,
        tap,
      );
      const force = this.opts.objectTokens;
      const tokens = batch.map(([id, o], b) =>
        o.category === null || !robot
          ? null
          : robot.robotTokens(a, b, o.category, this.tapFor(frame, [id]), force && ((c) => force(frame, id, c))).tokens,
      );
      return { a, tokens };
    });
    await stage('memory');
    const pix = rt.scope(() => this.tracker.attendBatch(f, prep.a, tap));
    for (const t of [prep.a.memory, prep.a.memoryPos, prep.a.keyMask, prep.a.curr, prep.a.currPos]) t?.dispose();
    tap?.('pix_feat_with_mem', pix);
    await stage('memory_attention');
    // decoder: one call per run of objects with the same token layout (decoderOrder made them adjacent)
    const runs: Array<{ start: number; n: number }> = [];
    prep.tokens.forEach((t, b) => {
      const last = runs[runs.length - 1];
      const len = (x: Tensor | null) => x?.shape[1] ?? -1;
      if (last && len(prep.tokens[last.start]) === len(t)) last.n++;
      else runs.push({ start: b, n: 1 });
    });
    const d = rt.scope(() => {
      const parts = runs.map(({ start, n }) => {
        const px = n === B ? pix : pix.narrow0(start, n);
        const toks = prep.tokens.slice(start, start + n);
        const tok = toks[0] === null ? undefined : toks.length === 1 ? toks[0] : concat(rt, toks as Tensor[], 0);
        return this.tracker.decode(px, f, null, null, this.tapFor(frame, ids.slice(start, start + n)), tok);
      });
      if (parts.length === 1) return parts[0];
      const cat = (k: 'masks' | 'iou' | 'tokens' | 'obj') =>
        concat(
          rt,
          parts.map((p) => p[k]),
          0,
        );
      return { masks: cat('masks'), iou: cat('iou'), tokens: cat('tokens'), obj: cat('obj') };
    });
    pix.dispose();
    for (const t of prep.tokens) t?.dispose();
    // the choices (best IoU, object present) on the GPU; the host learns the scores with the results
    const multimask = Boolean(this.model.cfg.base.multimask_output_for_tracking);
    const gpu = this.tracker.headsOnGpu(d, multimask, tap);
    const heads = gpu ?? (await this.tracker.heads(d, multimask, tap));
    await stage('decoder');
    tap?.('memenc.pred_masks_high_res_in', heads.highRes);
    const mem = this.tracker.encodeMemory(
      f,
      heads.highRes,
      gpu ? gpu.present : (heads as HeadsBatch).objectScores,
      false,
      tap,
    ); // [B, memDim, h, w]
    heads.highRes.dispose();
    gpu?.present.dispose();
    await stage('memory_encoder');
    const area = this.model.cfg.postprocessing.video_fill_hole_area;
    const filled = area > 0 ? fillHoles(rt, heads.lowRes, area) : heads.lowRes; // [B, 1, 4h, 4w]
    if (area > 0) heads.lowRes.dispose();
    // the frame's one readback: masks at the video size, low-res logits and (GPU path) the scalars
    const out = await this.outputBatch(ids, filled, heads.objPtr, tap, 'out.video_res_logits', gpu?.scalars);
    const { objectScores, ious } = gpu ? headsScalars(out.extra!, gpu, B) : (heads as HeadsBatch);
    gpu?.scalars.dispose();
    // keep only what frame+1 (or frame-1 in reverse) can still use: bounded memory
    const keep = Math.max(this.model.cfg.base.num_maskmem - 1, this.model.cfg.base.max_obj_ptrs_in_encoder - 1);
    batch.forEach(([, o], b) => {
      // views into the batched tensors: their buffers live until every object has dropped the frame
      const s: StoredFrame = {
        maskmem: untrack(mem.narrow0(b, 1)),
        objPtr: untrack(heads.objPtr.narrow0(b, 1)),
        objectScore: objectScores[b],
        predMasks: untrack(filled.narrow0(b, 1)),
        iou: Math.max(...ious[b]),
      };
      o.bank.putNonCond(frame, s);
      o.bank.prune(frame, reverse, keep);
    });
    for (const t of [filled, mem, heads.objPtr]) t.dispose();
    await stage('output');
    return out.rows.map((r, b) => ({ ...r, objectScore: objectScores[b], iou: Math.max(...ious[b]) }));
  }

  /** Read back a stored frame's masks at the video size. */
  private async output(objId: number, s: StoredFrame, tap: Tap | undefined, tapName: string): Promise<FrameResult> {
    const out = await this.outputBatch([objId], s.predMasks, s.objPtr, tap, tapName);
    return { ...out.rows[0], objectScore: s.objectScore, iou: s.iou ?? Number.NaN };
  }

  /**
   * Masks of a batch at the video size: predMasks [B, 1, 4h, 4w], objPtr [B, C] (tapped). One
   * readback (one transfer) of the low-res logits, the video-size logits (their first band when the
   * video is too large for one binding) and `extra` (its values in `extra`).
   */
  private async outputBatch(
    ids: number[],
    predMasks: Tensor,
    objPtr: Tensor,
    tap: Tap | undefined,
    tapName: string,
    extra?: Tensor,
  ): Promise<{ rows: Array<Omit<FrameResult, 'objectScore' | 'iou'>>; extra: Float32Array | null }> {
    const rt = this.rt;
    const { width: W, height: H } = this.source;
    const more = extra ? [extra] : [];
    if (!tap) {
      // no full-size tensor: bands of rows read back one by one (photos and frames of any size)
      const big = await resizeToHost(rt, predMasks, [H, W], {
        mode: 'bilinear',
        threshold: 0,
        logits: this.opts.logits ?? true,
        with: [predMasks, ...more],
      });
      const [lowRes, ex] = big.with as Float32Array[];
      const nl = lowRes.length / ids.length;
      const rows = ids.map((objId, b) => ({
        objId,
        lowRes: lowRes.subarray(b * nl, (b + 1) * nl),
        logits: big.logits?.[b] ?? new Float32Array(0),
        mask: big.masks[b],
      }));
      return { rows, extra: ex ?? null };
    }
    const big = resize(rt, predMasks, [H, W], { mode: 'bilinear' }); // [B, 1, H, W]
    tap(tapName, big);
    tap('out.pred_masks_lowres_after_fill', predMasks);
    tap('out.obj_ptr', objPtr);
    const [lowRes, logits, ex] = (await rt.readMany([predMasks, big, ...more])) as Float32Array[];
    big.dispose();
    const nl = lowRes.length / ids.length;
    const rows = ids.map((objId, b) => {
      const lg = logits.subarray(b * W * H, (b + 1) * W * H);
      return {
        objId,
        lowRes: lowRes.subarray(b * nl, (b + 1) * nl),
        logits: lg,
        mask: Uint8Array.from(lg, (v) => (v > 0 ? 1 : 0)),
      };
    });
    return { rows, extra: ex ?? null };
  }

  /**
   * propagate_in_video: from the first prompted frame (or `start`) to the end (or the start, in
   * reverse), yielding every frame's results for all objects.
   */
  async *propagate(
    opts: { start?: number; reverse?: boolean; maxFrames?: number } = {},
  ): AsyncGenerator<{ frame: number; results: FrameResult[] }> {
    if (this.source.numFrames === null)
      throw new Error('propagate needs a video of known length; use push() for streams');
    const condFrames = [...this.objects.values()].flatMap((o) => [...o.bank.cond.keys()]);
    if (condFrames.length === 0) throw new Error('propagate: add points, a box or a mask on some frame first');
    await this.encodePending();
    const reverse = opts.reverse ?? false;
    const start = opts.start ?? (reverse ? Math.max(...condFrames) : Math.min(...condFrames));
    this.checkFrame(start);
    const end = reverse
      ? Math.max(0, start - (opts.maxFrames ?? Infinity) + 1)
      : Math.min(this.numFrames - 1, start + (opts.maxFrames ?? Infinity) - 1);
    for (let t = start; reverse ? t >= end : t <= end; t += reverse ? -1 : 1) {
      yield { frame: t, results: await this.trackFrame(t, reverse) };
    }
  }

  /**
   * Streaming: append the next frame and return its masks for every object with prompts. Prompts
   * for the new frame go through addPoints(frameIndex, …) after push returns (the frame stays
   * current). A new object starts there as a conditioning frame; a tracked object's clicks correct
   * that frame, whose memory (non-conditioning, as in SAM 2) is re-encoded at the next push.
   */
  async push(img: RgbImage): Promise<{ frame: number; results: FrameResult[] }> {
    if (this.source.numFrames !== null) throw new Error('push() is for streams (a source with numFrames null)');
    // memories of prompted frames first: they need that frame's (still cached) features
    await this.encodePending();
    const frame = this.streamLength++;
    await this.features(frame, img);
    return { frame, results: await this.trackFrame(frame, false, img) };
  }

  /** Remove every prompt and output of a frame (clear_all_prompts_in_frame). */
  clearFrame(frame: number): void {
    for (const o of this.objects.values()) {
      o.points.delete(frame);
      o.tracked.delete(frame);
      o.bank.clearFrame(frame);
    }
  }

  removeObject(objId: number): void {
    const o = this.objects.get(objId);
    if (!o) throw new Error(`no object ${objId}`);
    o.bank.dispose();
    this.objects.delete(objId);
  }

  reset(): void {
    for (const id of [...this.objects.keys()]) this.removeObject(id);
    this.dropFeatures();
    this.tracker.dispose();
    this.streamLength = 0;
  }
}

function featureTensors(f: ImageFeatures): Tensor[] {
  return [f.visionFeats, f.visionPos, ...f.highRes, ...(f.edges ? [f.edges] : [])];
}
