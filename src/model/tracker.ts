// SAM2Base tracking (docs/reference/sam2-architecture.md sec. 6-8): _forward_sam_heads, _use_mask_as_output,
// _prepare_memory_conditioned_features, _encode_new_memory, for a batch of B objects on one frame
// (prompted frames use B = 1). The caller owns the memory banks. Data-dependent choices (best IoU,
// object present) are made on the GPU for tracked frames (headsOnGpu: one-hot argmax and a 0/1
// presence flag as matmul / multiply weights), so the frame's only readback is its results at the
// end; prompted frames (and single-mask output with the stability test) read a few scalars per
// object once for the whole batch and decide on the host (heads).
//
// Batching several objects of a tracked frame (one memory-attention, decoder and memory-encoder call
// instead of one per object). Objects may have memory banks of different structure: another number
// of conditioning frames, fewer stored previous frames or pointers (an object added later). They
// still share ONE memory-attention call: each object's memory is padded to the longest one and the
// padding is dropped by an additive key mask (-inf). Row b of the batched memory [B, M, memDim] is
//     [ its F_b spatial memories (F_b*hw tokens) | zeros up to F*hw | its pointer tokens | zeros ]
// with F = max F_b: RoPE rotates the first F*hw tokens per memory frame (its position inside a frame
// is unchanged by the padding) and skips the pointer block, as for a lone object. Why pad rather than
// run each memory layout as its own group: the layouts differ only transiently (an object added k
// frames ago has min(k, 6) previous memories and fewer pointers for up to 16 frames) or by a few
// frames (extra conditioning frames), and a separate group costs a whole pass of dispatches and
// weight reads, which is what batching removes. Exactness: a -inf key contributes exp(-inf) = 0 to
// the online softmax and never raises its running max, so masked keys are no-ops; on the software
// attention variant (key blocks of 16) the real keys also fall into the same blocks as without
// padding whenever hw is a multiple of 16 (256 and 4096 here), so padded results are bit-identical
// to per-object ones (test/model/video_batch.test.ts); on the tiled variant the block split may differ,
// which changes the summation order only (float rounding, ~1e-7 relative).
// The decoder batches the objects whose token sequences have the same length (all plain SAM 2.1
// objects; RobotSeg objects per number of memory frames, as their RPG gives R tokens per frame); the
// caller runs one decoder call per such group (the batch is ordered so that groups are contiguous).
//
// Half storage of the memory path (`memoryDtype`): a model whose weights were loaded with precision
// 'f16' also stores its memory bank f16 (each frame's maskmem features after the bf16 rounding rule:
// a bf16 value inside f16's normal range is exact in f16, so nothing is lost but the exponents
// beyond it; the store saturates at +-65504), and the memory tokens, their positions and the keys /
// values of the memory cross-attention stay f16 through assembly, the K / V projections and the
// attention (f32 arithmetic throughout; the object pointers and positions are rounded to f16). Half
// the bank's bytes per object and half the bytes the assembly copies per frame. Training (a tape)
// always stays f32.
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';
import { add, affine, mul, unary } from '../kernels/elementwise.js';
import { cast, concat, permute, slice, tile } from '../kernels/layout.js';
import { matmul } from '../kernels/matmul.js';
import { argmaxOneHot } from '../kernels/reduce.js';
import { resize } from '../kernels/resize.js';
import { sine1d } from './position_encoding.js';
import type { PointPrompt } from './prompt_encoder.js';
import type { ImageFeatures, SAM2 } from './sam2.js';
import { argmax, selectMasks } from './select.js';

export const NO_OBJ_SCORE = -1024;
export type Tap = (name: string, t: Tensor) => void;

/** What the memory bank keeps of a tracked frame. */
export interface StoredFrame {
  /** maskmem_features [1, memDim, h, w] rounded to bfloat16 (null until encoded). */
  maskmem: Tensor | null;
  /** Object pointer [1, C]. */
  objPtr: Tensor;
  objectScore: number;
  /** Hole-filled low-res logits [1, 1, 4h, 4w] (pred_masks). */
  predMasks: Tensor;
  /** Predicted IoU of the mask kept (the best of a multimask output; 1 for a mask prompt); the video predictor sets it, training does not. */
  iou?: number;
}

/** Heads of one object (B = 1). */
export interface HeadsOutput {
  lowRes: Tensor; // [1, 1, 4h, 4w] best mask after NO_OBJ substitution
  highRes: Tensor; // [1, 1, S, S]
  objPtr: Tensor; // [1, C]
  objectScore: number;
  iou: Float32Array;
}

/** Heads of a batch of B objects. */
export interface HeadsBatch {
  lowRes: Tensor; // [B, 1, 4h, 4w]
  highRes: Tensor; // [B, 1, S, S]
  objPtr: Tensor; // [B, C]
  objectScores: number[];
  ious: Float32Array[];
}

/**
 * Heads of a batch decided on the GPU (headsOnGpu): the host learns the object scores and IoUs from
 * `scalars` with the frame's final readback (headsScalars).
 */
export interface HeadsOnGpu {
  lowRes: Tensor; // [B, 1, 4h, 4w]
  highRes: Tensor; // [B, 1, S, S]
  objPtr: Tensor; // [B, C]
  /** [B, 1]: 1 where the object score is > 0, else 0. */
  present: Tensor;
  /** [B, M + 1]: the decoder's M IoUs and the object score per row. */
  scalars: Tensor;
  /** IoUs of the returned masks: columns [iouFrom, iouFrom + iouCount) of `scalars`. */
  iouFrom: number;
  iouCount: number;
}

/** Object scores and returned-mask IoUs of a HeadsOnGpu batch from its read-back `scalars`. */
export function headsScalars(
  sc: Float32Array,
  h: Pick<HeadsOnGpu, 'iouFrom' | 'iouCount'>,
  B: number,
): { objectScores: number[]; ious: Float32Array[] } {
  const w = sc.length / B; // M + 1
  const objectScores = Array.from({ length: B }, (_, b) => sc[b * w + w - 1]);
  const ious = Array.from({ length: B }, (_, b) => sc.slice(b * w + h.iouFrom, b * w + h.iouFrom + h.iouCount));
  return { objectScores, ious };
}

/** Raw decoder outputs of a batch (rows in batch order). */
export interface DecodedBatch {
  masks: Tensor; // [B, M, 4h, 4w]
  iou: Tensor; // [B, M]
  tokens: Tensor; // [B, M, C] mask-token outputs
  obj: Tensor; // [B, 1]
}

export interface MemoryView {
  /** Conditioning frames in insertion order. */
  cond: ReadonlyMap<number, StoredFrame>;
  nonCond: ReadonlyMap<number, StoredFrame>;
}

/** The memories one object attends to on frame t (host-side choice, no GPU work). */
export interface MemorySelection {
  /** Spatial memories in memory order: conditioning frames, then older to newer. */
  frames: StoredFrame[];
  /** Their temporal slots (0 for conditioning frames, else num_maskmem - distance). */
  slots: number[];
  /** Object pointers [1, C]: conditioning frames in the past, then t-1, t-2, ... */
  ptrs: Tensor[];
  /** Their temporal distances (signed for conditioning frames when reversed, as the official code). */
  dists: number[];
}

/** Inputs of one memory-attention call over a batch of objects (see the header for the layout). */
export interface AssembledBatch {
  /** [B, M, memDim], M = F*hw + P*split. */
  memory: Tensor;
  /** [1, M, memDim] when every object has the same layout, else [B, M, memDim]. */
  memoryPos: Tensor;
  /** Additive [B, M] (0 / -inf) when some row is padded, else null. */
  keyMask: Tensor | null;
  /** Trailing tokens without RoPE (the pointer block, padding included). */
  numPtrTokens: number;
  /** [B, hw, C] and [1, hw, C]. */
  curr: Tensor;
  currPos: Tensor;
  /** Per object: what it attends to (its spatial memories lead row b of `memory`). */
  selections: MemorySelection[];
}

export class Tracker {
  /** Memory positional encoding + temporal encoding per slot, token-major [1, hw, memDim] (constants). */
  private slotPos = new Map<string, Tensor>();

  constructor(
    readonly rt: Runtime,
    readonly model: SAM2,
  ) {}

  /**
   * Storage of the memory path (bank, memory tokens and positions, memory K / V): f16 when the model's
   * memory-attention weights are stored f16 (precision 'f16') and no tape records, else f32.
   */
  get memoryDtype(): 'f32' | 'f16' {
    const layer = this.model.memory_attention.layers[0];
    return layer?.cross_attn_image.k_proj.weight.t.dtype === 'f16' && this.rt.tape === null ? 'f16' : 'f32';
  }

  /** Release cached constants (recomputed on demand). */
  dispose(): void {
    for (const t of this.slotPos.values()) t.dispose();
    this.slotPos.clear();
  }

  /**
   * The SAM decoder for B objects sharing one token layout (call inside a scope). pix [B, C, h, w];
   * points: one prompt for the batch (null: the padding point); maskInput [B or 1, 1, 4h, 4w] or null;
   * tokensOverride [B or 1, n, C] (RobotSeg) replaces the output tokens.
   */
  decode(
    pix: Tensor,
    f: ImageFeatures,
    points: PointPrompt | null,
    maskInput: Tensor | null,
    tap?: Tap,
    tokensOverride?: Tensor,
  ): DecodedBatch {
    const rt = this.rt;
    const pe = this.model.sam_prompt_encoder;
    // no points -> a single padding point (label -1), and the encoder pads again
    const pts = points ?? { coords: new Float32Array(2), labels: Int32Array.from([-1]) };
    tap?.('prompt.sparse', pe.sparse(rt, pts));
    const sparse = pe.sparse(rt, pts);
    const dense = pe.dense(rt, maskInput);
    tap?.('prompt.dense', dense);
    tap?.('decoder.image_embeddings_in', pix);
    // RobotSeg: [obj_score, iou, mask x4, class, object tokens] replace the 6 output tokens
    if (tap && tokensOverride) {
      const sp =
        tokensOverride.shape[0] === sparse.shape[0] ? sparse : tile(rt, sparse, [tokensOverride.shape[0], 1, 1]);
      tap('decoder.tokens_in', concat(rt, [tokensOverride, sp], 1));
    }
    const out = this.model.sam_mask_decoder.predict(
      rt,
      pix,
      pe.denseEmbeddingPe(rt),
      sparse,
      dense,
      f.highRes,
      tokensOverride,
    );
    tap?.('decoder.transformer_queries_out', out.queries);
    if (tokensOverride) tap?.('decoder.tokens_out', out.queries);
    tap?.('decoder.all_mask_logits', out.masks);
    tap?.('decoder.all_iou', out.iou);
    tap?.('decoder.object_score_logits', out.objectScore);
    return { masks: out.masks, iou: out.iou, tokens: out.maskTokens, obj: out.objectScore };
  }

  /**
   * The rest of _forward_sam_heads for a batch: one readback of every object's IoU and object score,
   * the host-side choices per object (multimask / dynamic stability, best IoU, object present), then
   * per-row selection on the GPU with one-hot weights (a row's logits times 1 plus the others times 0
   * is that row exactly, for finite logits), NO_OBJ_SCORE substitution, high-res upsampling, one
   * obj_ptr_proj and the no_obj_ptr mix. Consumes `d`.
   */
  async heads(d: DecodedBatch, multimask: boolean, tap?: Tap): Promise<HeadsBatch> {
    const rt = this.rt;
    const m = this.model;
    const [B, M, h4, w4] = d.masks.shape;
    const pp = m.cfg.postprocessing;
    const dynamic = {
      on: pp.dynamic_multimask_via_stability,
      delta: pp.dynamic_multimask_stability_delta,
      thresh: pp.dynamic_multimask_stability_thresh,
    };
    // one readback of the scalars [B, M + 1] = (iou x M, object score); the logits only when the
    // stability test needs them (single-mask output with dynamic multimask)
    const scalars = rt.scope(() => concat(rt, [d.iou, d.obj], 1));
    const needLogits = !multimask && dynamic.on;
    const [sc, allLow] = await Promise.all([rt.read(scalars), needLogits ? rt.read(d.masks) : Promise.resolve(null)]);
    scalars.dispose();
    const hw4 = h4 * w4;
    // the host's choices as one upload (one queue flush): [wMask B*M | wTok B*M | bias B | keep B]
    const choice = new Float32Array(2 * B * M + 2 * B);
    const wMask = choice.subarray(0, B * M);
    const wTok = choice.subarray(B * M, 2 * B * M);
    const bias = choice.subarray(2 * B * M, 2 * B * M + B);
    const keep = choice.subarray(2 * B * M + B);
    const objectScores: number[] = [];
    const ious: Float32Array[] = [];
    const sels: number[][] = [];
    for (let b = 0; b < B; b++) {
      const iouAll = sc.subarray(b * (M + 1), b * (M + 1) + M);
      const objectScore = sc[b * (M + 1) + M];
      const lows = Array.from({ length: M }, (_, i) =>
        allLow ? allLow.subarray((b * M + i) * hw4, (b * M + i + 1) * hw4) : new Float32Array(0),
      );
      const sel = selectMasks(lows, iouAll, multimask, dynamic);
      const iou = Float32Array.from(sel.maskIdx, (i) => iouAll[i]);
      // best of the returned masks (argmax IoU when multimask) and its token
      const k = multimask ? argmax(iou) : 0;
      const present = objectScore > 0;
      wMask[b * M + sel.maskIdx[k]] = present ? 1 : 0;
      bias[b] = present ? 0 : NO_OBJ_SCORE; // NO_OBJ_SCORE substitution
      wTok[b * M + sel.tokenIdx[multimask ? k : 0]] = 1;
      keep[b] = present ? 1 : 0;
      objectScores.push(objectScore);
      ious.push(iou);
      sels.push(sel.maskIdx);
    }
    const S = m.cfg.image_size;
    const out = rt.scope(() => {
      if (tap)
        tap(
          'heads.ious',
          rt.upload(
            ious.flatMap((v) => [...v]),
            [B, ious[0].length],
            'f32',
            'heads.ious',
          ),
        );
      const chosen = rt.upload(choice, [choice.length], 'f32', 'heads.choice');
      const part = (start: number, shape: number[]) =>
        chosen
          .narrow0(
            start,
            shape.reduce((a, v) => a * v),
          )
          .reshape(shape);
      const masks = d.masks.reshape([B, M, hw4]);
      const low = add(
        rt,
        matmul(rt, part(0, [B, 1, M]), masks), // mask_select
        part(2 * B * M, [B, 1, 1]), // NO_OBJ_SCORE where absent
      ).reshape([B, 1, h4, w4]);
      const high = resize(rt, low, [S, S], { mode: 'bilinear' });
      const c = d.tokens.shape[2];
      const token = matmul(rt, part(B * M, [B, 1, M]), d.tokens).reshape([B, c]); // token_select
      const ptr0 = m.obj_ptr_proj.forward(rt, token);
      // fixed_no_obj_ptr: ptr where present, no_obj_ptr where not (x * 1 + y * 0 = x exactly)
      const keepT = part(2 * B * M + B, [B, 1]); // present
      const ptr = add(rt, mul(rt, ptr0, keepT), mul(rt, m.no_obj_ptr.t, affine(rt, keepT, -1, 1)));
      if (tap) {
        const multi = concat(
          rt,
          sels.map((idx, b) =>
            concat(
              rt,
              idx.map((i) => slice(rt, d.masks, [b, i, 0, 0], [1, 1, h4, w4])),
              1,
            ),
          ),
          0,
        );
        tap(
          'heads.low_res_multimasks',
          add(
            rt,
            mul(rt, multi, keepT.reshape([B, 1, 1, 1])),
            bias.some((v) => v !== 0) ? part(2 * B * M, [B, 1, 1, 1]) : rt.zeros([1, 1, 1, 1]),
          ),
        );
        tap('heads.low_res_masks', low);
        tap('heads.high_res_masks', high);
        tap('heads.obj_ptr', ptr);
      }
      return { low, high, ptr };
    });
    for (const t of [d.masks, d.iou, d.tokens, d.obj]) t.dispose();
    return { lowRes: out.low, highRes: out.high, objPtr: out.ptr, objectScores, ious };
  }

  /**
   * heads() without a readback: the same choices made on the GPU, for multimask output (best IoU of
   * masks 1..M-1: one-hot argmax, reduce.wgsl ARGMAX) or single-mask output without the stability
   * test (mask 0). The object-present flag is step(object score) [B, 1]; the selected mask is
   * onehot * present through the same one-hot matmul as heads() (x * 1 + y * 0 = x exactly), plus
   * NO_OBJ_SCORE * (1 - present), so results are bit-identical to heads(). Returns null when the
   * host must look at the logits (single-mask output with dynamic_multimask_via_stability): call
   * heads() then. Consumes `d` (except when returning null).
   */
  headsOnGpu(d: DecodedBatch, multimask: boolean, tap?: Tap): HeadsOnGpu | null {
    const rt = this.rt;
    const m = this.model;
    if (!multimask && m.cfg.postprocessing.dynamic_multimask_via_stability) return null;
    const [B, M, h4, w4] = d.masks.shape;
    const S = m.cfg.image_size;
    const iouFrom = multimask ? 1 : 0;
    const iouCount = multimask ? M - 1 : 1;
    const out = rt.scope(() => {
      const present = unary(rt, d.obj, 'step'); // [B, 1] object score > 0
      // [B, M] one-hot of the kept mask / token: argmax IoU over 1..M-1, or mask 0
      const onehot = multimask
        ? argmaxOneHot(rt, d.iou, 1, 1)
        : rt.constant(`heads.first ${B}x${M}`, () =>
            rt.upload(
              Float32Array.from({ length: B * M }, (_, i) => (i % M === 0 ? 1 : 0)),
              [B, M],
              'f32',
              'heads.first',
            ),
          );
      const bias = affine(rt, present, -NO_OBJ_SCORE, NO_OBJ_SCORE).reshape([B, 1, 1]); // 0 or NO_OBJ_SCORE
      const hw4 = h4 * w4;
      const low = add(
        rt,
        matmul(rt, mul(rt, onehot, present).reshape([B, 1, M]), d.masks.reshape([B, M, hw4])), // mask_select
        bias,
      ).reshape([B, 1, h4, w4]);
      const high = resize(rt, low, [S, S], { mode: 'bilinear' });
      const c = d.tokens.shape[2];
      const token = matmul(rt, onehot.reshape([B, 1, M]), d.tokens).reshape([B, c]); // token_select
      const ptr0 = m.obj_ptr_proj.forward(rt, token);
      // fixed_no_obj_ptr: ptr where present, no_obj_ptr where not (x * 1 + y * 0 = x exactly)
      const ptr = add(rt, mul(rt, ptr0, present), mul(rt, m.no_obj_ptr.t, affine(rt, present, -1, 1)));
      const scalars = concat(rt, [d.iou, d.obj], 1); // [B, M + 1]
      if (tap) {
        tap('heads.ious', slice(rt, d.iou, [0, iouFrom], [B, iouCount]));
        const returned = slice(rt, d.masks, [0, iouFrom, 0, 0], [B, iouCount, h4, w4]);
        tap(
          'heads.low_res_multimasks',
          add(rt, mul(rt, returned, present.reshape([B, 1, 1, 1])), bias.reshape([B, 1, 1, 1])),
        );
        tap('heads.low_res_masks', low);
        tap('heads.high_res_masks', high);
        tap('heads.obj_ptr', ptr);
      }
      return { low, high, ptr, present, scalars };
    });
    for (const t of [d.masks, d.iou, d.tokens, d.obj]) t.dispose();
    return {
      lowRes: out.low,
      highRes: out.high,
      objPtr: out.ptr,
      present: out.present,
      scalars: out.scalars,
      iouFrom,
      iouCount,
    };
  }

  /** _forward_sam_heads for one object: decoder on (memory-conditioned) features with points and/or a mask prompt. */
  async samHeads(
    pixFeat: Tensor,
    f: ImageFeatures,
    points: PointPrompt | null,
    maskInput: Tensor | null,
    multimask: boolean,
    tap?: Tap,
    tokensOverride?: Tensor,
  ): Promise<HeadsOutput> {
    const d = this.rt.scope(() => this.decode(pixFeat, f, points, maskInput, tap, tokensOverride));
    const h = await this.heads(d, multimask, tap);
    return { lowRes: h.lowRes, highRes: h.highRes, objPtr: h.objPtr, objectScore: h.objectScores[0], iou: h.ious[0] };
  }

  /** _use_mask_as_output: a mask prompt [1, 1, S, S] (0/1) becomes the output; the pointer comes from the decoder. */
  async maskAsOutput(f: ImageFeatures, mask01: Tensor, anyFg: boolean): Promise<HeadsOutput> {
    const rt = this.rt;
    const m = this.model;
    const S = m.cfg.image_size;
    const high = affine(rt, mask01, 20, -10);
    const low = resize(rt, high, [S / 4, S / 4], { mode: 'bilinear', antialias: true });
    const small = m.mask_downsample.forward(rt, mask01);
    const heads = await this.samHeads(f.visionFeats, f, null, small, false);
    small.dispose();
    heads.lowRes.dispose();
    heads.highRes.dispose();
    const objectScore = anyFg ? 10 : -10; // 20 * is_obj + (-10)
    // samHeads already mixed no_obj_ptr by the decoder's own score; the mask's presence mixes again
    let ptr = heads.objPtr;
    if (!anyFg) {
      ptr = rt.scope(() => add(rt, affine(rt, heads.objPtr, 0), m.no_obj_ptr.t));
      heads.objPtr.dispose();
    }
    return { lowRes: low, highRes: high, objPtr: ptr, objectScore, iou: Float32Array.from([1]) };
  }

  /**
   * _prepare_memory_conditioned_features for frame t of one object. Returns [1, C, h, w]: level-2
   * features + no_mem_embed on an initial conditioning frame, else memory attention over the bank.
   */
  memoryConditioned(
    t: number,
    isInitCond: boolean,
    f: ImageFeatures,
    bank: MemoryView,
    numFrames: number,
    reverse: boolean,
    tap?: Tap,
  ): Tensor {
    if (isInitCond) return this.model.imageEmbedWithNoMem(this.rt, f);
    return this.rt.scope(() => this.attendBatch(f, this.assembleBatch(t, f, [bank], numFrames, reverse, tap), tap));
  }

  /** Memory attention over an assembled batch -> memory-conditioned features [B, C, h, w]. */
  attendBatch(f: ImageFeatures, a: AssembledBatch, tap?: Tap): Tensor {
    const [, C, h, w] = f.visionFeats.shape;
    const B = a.memory.shape[0];
    const out = this.attend(f, a, tap);
    tap?.('memattn.out_HWxBxC', out);
    return permute(this.rt, out, [0, 2, 1]).reshape([B, C, h, w]); // (B, hw, C) -> (B, C, h, w)
  }

  /** memory_attention on the assembled inputs (RobotSeg overrides: SEMA needs the frame's edge grid). */
  protected attend(f: ImageFeatures, a: AssembledBatch, tap?: Tap): Tensor {
    void f;
    void tap;
    return this.model.memory_attention.forward(this.rt, a.curr, a.currPos, a.memory, a.memoryPos, a.numPtrTokens, {
      keyMask: a.keyMask,
    });
  }

  /** Which memories frame t of an object attends to (the official bank rules; host only). */
  selectMemory(t: number, bank: MemoryView, numFrames: number, reverse: boolean): MemorySelection {
    const cfg = this.model.cfg;
    const nMem = cfg.base.num_maskmem;
    const sign = reverse ? -1 : 1;
    const sel: MemorySelection = { frames: [], slots: [], ptrs: [], dists: [] };
    const addMem = (fr: StoredFrame, slot: number) => {
      if (!fr.maskmem) throw new Error('memory bank: frame without encoded memory');
      sel.frames.push(fr);
      sel.slots.push(slot);
    };
    const condEntries = [...bank.cond];
    for (const [, fr] of condEntries) addMem(fr, 0);
    for (let tPos = 1; tPos < nMem; tPos++) {
      const tRel = nMem - tPos;
      const prev = reverse ? t + tRel : t - tRel; // stride 1
      const fr = bank.nonCond.get(prev);
      if (fr) addMem(fr, tPos);
    }
    // object pointers: cond frames in the past (or future when reversed), then t-1, t-2, ...
    const maxPtrs = Math.min(numFrames, cfg.base.max_obj_ptrs_in_encoder);
    for (const [ft, fr] of condEntries) {
      if (reverse ? ft >= t : ft <= t) {
        sel.ptrs.push(fr.objPtr);
        sel.dists.push((t - ft) * sign);
      }
    }
    for (let dt = 1; dt < maxPtrs; dt++) {
      const ft = reverse ? t + dt : t - dt;
      if (ft < 0 || ft >= numFrames) break;
      const fr = bank.nonCond.get(ft);
      if (fr) {
        sel.ptrs.push(fr.objPtr);
        sel.dists.push(dt);
      }
    }
    return sel;
  }

  /** Sine PE of the memory grid plus the temporal encoding of a slot, token-major [1, hw, memDim] (cached). */
  private slotPosition(h: number, w: number, slot: number): Tensor {
    const rt = this.rt;
    const m = this.model;
    // training: maskmem_tpos_enc is a parameter on the tape (and changes every step): never cached
    const training = rt.tape !== null && m.maskmem_tpos_enc.t.requiresGrad;
    const dtype = this.memoryDtype;
    const key = `${h}x${w}:${slot}:${dtype}`;
    let t = training ? undefined : this.slotPos.get(key);
    if (!t) {
      const memDim = m.cfg.memory_encoder.out_dim;
      const nMem = m.cfg.base.num_maskmem;
      t = rt.scope(() => {
        const memPos = m.memory_encoder.posEnc(rt, h, w); // [1, memDim, h, w]
        const tpos = slice(rt, m.maskmem_tpos_enc.t, [nMem - slot - 1, 0, 0, 0], [1, 1, 1, memDim]).reshape([
          1,
          1,
          memDim,
        ]);
        const pos = add(rt, permute(rt, memPos.reshape([1, memDim, h * w]), [0, 2, 1]), tpos); // (1, D, hw) -> (1, hw, D)
        return dtype === 'f16' ? cast(rt, pos, 'f16') : pos;
      });
      if (!training) this.slotPos.set(key, untrack(t));
    }
    return t;
  }

  /**
   * The memory-attention inputs of frame t for a batch of objects (call inside a scope); see the file
   * header for the padded layout.
   */
  assembleBatch(
    t: number,
    f: ImageFeatures,
    banks: readonly MemoryView[],
    numFrames: number,
    reverse: boolean,
    tap?: Tap,
  ): AssembledBatch {
    const rt = this.rt;
    const m = this.model;
    const cfg = m.cfg;
    const [, C, h, w] = f.visionFeats.shape;
    const hw = h * w;
    const memDim = cfg.memory_encoder.out_dim;
    const split = C / memDim;
    const B = banks.length;
    if (B === 0) throw new Error('memory attention: empty batch');
    const sels = banks.map((bank) => this.selectMemory(t, bank, numFrames, reverse));
    const F = Math.max(...sels.map((s) => s.frames.length));
    const P = Math.max(...sels.map((s) => s.ptrs.length));
    const M = F * hw + P * split;
    const maxPtrs = Math.min(numFrames, cfg.base.max_obj_ptrs_in_encoder);
    const padded = sels.some((s) => s.frames.length !== F || s.ptrs.length !== P);
    const dtype = this.memoryDtype;
    const zeros = (n: number) => rt.zeros([1, n, memDim], dtype, 'memory_pad');
    const stored = (x: Tensor) => (x.dtype === dtype ? x : cast(rt, x, dtype)); // pointers and positions are computed f32
    // one row [1, M, memDim] of memory (or of positions) from its spatial parts and pointer block
    const row = (spatial: Tensor[], nFrames: number, ptr: Tensor | null, nPtrs: number): Tensor[] => {
      const parts = [...spatial];
      if (nFrames < F) parts.push(zeros((F - nFrames) * hw));
      if (ptr) parts.push(ptr);
      if (nPtrs < P) parts.push(zeros((P - nPtrs) * split));
      return parts;
    };
    // memory: every row's parts in one concat along tokens ([1, B*M, D] is [B, M, D] row-major)
    const memParts = sels.flatMap((s) => {
      const spatial = s.frames.map((fr) => permute(rt, fr.maskmem!.reshape([1, memDim, hw]), [0, 2, 1])); // (1, D, hw) -> (1, hw, D)
      // each C-dim pointer -> `split` tokens of memDim (pointer-major)
      const ptr = s.ptrs.length ? stored(concat(rt, s.ptrs, 0)).reshape([1, s.ptrs.length * split, memDim]) : null;
      return row(spatial, s.frames.length, ptr, s.ptrs.length);
    });
    const memory = concat(rt, memParts, 1).reshape([B, M, memDim]);
    // positions depend on the layout only: computed once per distinct layout
    const layoutKey = (s: MemorySelection) => `${s.slots.join(',')}|${s.dists.join(',')}`;
    const posRows = new Map<string, Tensor[]>();
    const posRow = (s: MemorySelection): Tensor[] => {
      const key = layoutKey(s);
      let r = posRows.get(key);
      if (!r) {
        let ptrPos: Tensor | null = null;
        if (s.ptrs.length) {
          const n = s.ptrs.length;
          const posHost = sine1d(
            s.dists.map((d) => Math.fround(d / (maxPtrs - 1))),
            C,
          );
          const pe = m.obj_ptr_tpos_proj.forward(rt, rt.upload(posHost, [n, C], 'f32', 'ptr_tpos')); // [P, memDim]
          // each part of a pointer gets the same pos
          ptrPos = stored(add(rt, rt.zeros([n, split, memDim]), pe.reshape([n, 1, memDim]))).reshape([
            1,
            n * split,
            memDim,
          ]);
        }
        r = row(
          s.slots.map((slot) => this.slotPosition(h, w, slot)),
          s.frames.length,
          ptrPos,
          s.ptrs.length,
        );
        posRows.set(key, r);
      }
      return r;
    };
    const shared = new Set(sels.map(layoutKey)).size === 1;
    const memoryPos = shared
      ? concat(rt, posRow(sels[0]), 1)
      : concat(rt, sels.flatMap(posRow), 1).reshape([B, M, memDim]);
    let keyMask: Tensor | null = null;
    if (padded) {
      const mask = new Float32Array(B * M);
      sels.forEach((s, b) => {
        mask.fill(-Infinity, b * M + s.frames.length * hw, b * M + F * hw);
        mask.fill(-Infinity, b * M + F * hw + s.ptrs.length * split, (b + 1) * M);
      });
      keyMask = rt.upload(mask, [B, M], 'f32', 'memory_key_mask');
    }
    const currOne = permute(rt, f.visionFeats.reshape([1, C, hw]), [0, 2, 1]); // (1, C, hw) -> (1, hw, C)
    const curr = B > 1 ? tile(rt, currOne, [B, 1, 1]) : currOne;
    const currPos = permute(rt, f.visionPos.reshape([1, C, hw]), [0, 2, 1]);
    tap?.('memattn.memory_NxBxC', memory);
    tap?.('memattn.memory_pos_NxBxC', memoryPos);
    tap?.('memattn.curr_in_HWxBxC', curr);
    tap?.('memattn.curr_pos_HWxBxC', currPos);
    return { memory, memoryPos, keyMask, numPtrTokens: P * split, curr, currPos, selections: sels };
  }

  /**
   * _encode_new_memory for a batch: highRes [B, 1, S, S] logits, objectScores per object (or the
   * presence flags [B, 1] of headsOnGpu: no upload) -> maskmem features [B, memDim, h, w] rounded to
   * bfloat16. The frame's features are shared.
   */
  encodeMemory(
    f: ImageFeatures,
    highRes: Tensor,
    objectScores: readonly number[] | Tensor,
    fromPoints: boolean,
    tap?: Tap,
  ): Tensor {
    const rt = this.rt;
    const m = this.model;
    const cfg = m.cfg;
    const B = highRes.shape[0];
    const nScores = Array.isArray(objectScores) ? objectScores.length : (objectScores as Tensor).size;
    if (nScores !== B) throw new Error(`encodeMemory: ${nScores} object scores for ${B} masks`);
    return rt.scope(() => {
      const binarize = cfg.postprocessing.video_binarize_mask_from_pts_for_mem_enc && fromPoints;
      const prob = binarize ? unary(rt, highRes, 'step') : unary(rt, highRes, 'sigmoid');
      const scaled = affine(
        rt,
        affine(rt, prob, cfg.base.sigmoid_scale_for_mem_enc),
        1,
        cfg.base.sigmoid_bias_for_mem_enc,
      );
      tap?.('memenc.mask_for_mem_in', scaled);
      let feats = m.memory_encoder.forward(rt, f.visionFeats, scaled); // pix_feat_proj once, broadcast over B
      tap?.('memenc.raw_vision_features', feats);
      // (1 - is_obj) * no_obj_embed_spatial per object: + 1 * embed or + 0 (exact either way)
      const d = feats.shape[1];
      // host scores: one constant per absent pattern (B is 1 on prompted frames); GPU flags: 1 - present
      const flags = Array.isArray(objectScores) ? objectScores.map((s) => (s > 0 ? 0 : 1)) : null;
      const absent = flags
        ? rt.constant(`memenc.no_obj ${flags.join('')}`, () => rt.upload(flags, [B, 1, 1, 1], 'f32', 'memenc.no_obj'))
        : affine(rt, objectScores as Tensor, -1, 1).reshape([B, 1, 1, 1]);
      feats = add(rt, feats, mul(rt, absent, m.no_obj_embed_spatial.t.reshape([1, d, 1, 1])));
      tap?.('memenc.maskmem_features_f32', feats);
      // the bank's storage: bf16-rounded values, kept f32 or (precision f16) f16, exact either way
      const stored = unary(rt, feats, 'round_bf16', { dtype: this.memoryDtype });
      tap?.('memenc.maskmem_features_bf16_as_f32', stored);
      return stored;
    });
  }
}
