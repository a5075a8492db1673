// SAM2Base tracking for one object (sec. 6-8): _forward_sam_heads, _use_mask_as_output,
// _prepare_memory_conditioned_features, _encode_new_memory. Batch 1 per object; the caller owns the
// memory bank. Data-dependent choices (best IoU, object present) read back a few scalars.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { add, affine, unary } from '../kernels/elementwise.js';
import { concat, permute, slice } from '../kernels/layout.js';
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
}

export interface HeadsOutput {
  lowRes: Tensor; // [1, 1, 4h, 4w] best mask after NO_OBJ substitution
  highRes: Tensor; // [1, 1, S, S]
  objPtr: Tensor; // [1, C]
  objectScore: number;
  iou: Float32Array;
}

export interface MemoryView {
  /** Conditioning frames in insertion order. */
  cond: ReadonlyMap<number, StoredFrame>;
  nonCond: ReadonlyMap<number, StoredFrame>;
}

export class Tracker {
  constructor(readonly rt: Runtime, readonly model: SAM2) {}

  /** _forward_sam_heads: decoder on (memory-conditioned) features with points and/or mask prompt. */
  async samHeads(pixFeat: Tensor, f: ImageFeatures, points: PointPrompt | null, maskInput: Tensor | null, multimask: boolean, tap?: Tap, tokensOverride?: Tensor): Promise<HeadsOutput> {
    const rt = this.rt;
    const m = this.model;
    const pe = m.sam_prompt_encoder;
    const dec = m.sam_mask_decoder;
    const d = rt.scope(() => {
      // no points -> a single padding point (label -1), and the encoder pads again
      const pts = points ?? { coords: new Float32Array(2), labels: Int32Array.from([-1]) };
      tap?.('prompt.sparse', pe.sparse(rt, pts));
      const sparse = pe.sparse(rt, pts);
      const dense = pe.dense(rt, maskInput);
      tap?.('prompt.dense', dense);
      tap?.('decoder.image_embeddings_in', pixFeat);
      // RobotSeg: [obj_score, iou, mask x4, class, object tokens] replace the 6 output tokens
      if (tap && tokensOverride) tap('decoder.tokens_in', concat(rt, [tokensOverride, sparse], 1));
      const out = dec.predict(rt, pixFeat, pe.denseEmbeddingPe(rt), sparse, dense, f.highRes, tokensOverride);
      tap?.('decoder.transformer_queries_out', out.queries);
      if (tokensOverride) tap?.('decoder.tokens_out', out.queries);
      tap?.('decoder.all_mask_logits', out.masks);
      tap?.('decoder.all_iou', out.iou);
      tap?.('decoder.object_score_logits', out.objectScore);
      return { masks: out.masks, iou: out.iou, tokens: out.maskTokens, obj: out.objectScore };
    });
    const [iouAll, obj, allLow] = await Promise.all([rt.read(d.iou), rt.read(d.obj), rt.read(d.masks)]);
    const objectScore = obj[0];
    const nt = dec.numMaskTokens;
    const hw = d.masks.shape[2] * d.masks.shape[3];
    const lows = Array.from({ length: nt }, (_, i) => allLow.subarray(i * hw, (i + 1) * hw));
    const pp = m.cfg.postprocessing;
    const sel = selectMasks(lows, iouAll, multimask, { on: pp.dynamic_multimask_via_stability, delta: pp.dynamic_multimask_stability_delta, thresh: pp.dynamic_multimask_stability_thresh });
    const iou = Float32Array.from(sel.maskIdx, (i) => iouAll[i]);
    tap?.('heads.ious', rt.upload(iou, [1, iou.length], 'f32', 'heads.ious'));
    // best of the returned masks (argmax IoU when multimask) and its token
    const k = multimask ? argmax(iou) : 0;
    const maskIdx = sel.maskIdx[k];
    const tokIdx = sel.tokenIdx[multimask ? k : 0];
    const S = m.cfg.image_size;
    const present = objectScore > 0;
    const out = rt.scope(() => {
      const [, , h4, w4] = d.masks.shape;
      let low = slice(rt, d.masks, [0, maskIdx, 0, 0], [1, 1, h4, w4]);
      if (!present) low = affine(rt, low, 0, NO_OBJ_SCORE); // NO_OBJ_SCORE substitution
      const high = resize(rt, low, [S, S], { mode: 'bilinear' });
      const c = d.tokens.shape[2];
      const token = slice(rt, d.tokens, [0, tokIdx, 0], [1, 1, c]).reshape([1, c]);
      let ptr = m.obj_ptr_proj.forward(rt, token);
      if (!present) ptr = add(rt, affine(rt, ptr, 0), m.no_obj_ptr.t); // fixed_no_obj_ptr: 0*ptr + no_obj_ptr
      if (tap) {
        const sel3 = Array.from(sel.maskIdx);
        const multi = concat(rt, sel3.map((i) => slice(rt, d.masks, [0, i, 0, 0], [1, 1, h4, w4])), 1);
        tap('heads.low_res_multimasks', present ? multi : affine(rt, multi, 0, NO_OBJ_SCORE));
        tap('heads.low_res_masks', low);
        tap('heads.high_res_masks', high);
        tap('heads.obj_ptr', ptr);
      }
      return { low, high, ptr };
    });
    for (const t of [d.masks, d.iou, d.tokens, d.obj]) t.dispose();
    return { lowRes: out.low, highRes: out.high, objPtr: out.ptr, objectScore, iou };
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
   * _prepare_memory_conditioned_features for frame t. Returns [1, C, h, w]: level-2 features +
   * no_mem_embed on an initial conditioning frame, else memory attention over the bank.
   */
  memoryConditioned(t: number, isInitCond: boolean, f: ImageFeatures, bank: MemoryView, numFrames: number, reverse: boolean, tap?: Tap): Tensor {
    const rt = this.rt;
    const m = this.model;
    const [, C, h, w] = f.visionFeats.shape;
    if (isInitCond) return m.imageEmbedWithNoMem(rt, f);
    return rt.scope(() => {
      const { memory, memoryPos, numPtrTokens, curr, currPos } = this.assembleMemory(t, f, bank, numFrames, reverse, tap);
      const out = this.attend(f, curr, currPos, memory, memoryPos, numPtrTokens, tap);
      tap?.('memattn.out_HWxBxC', out);
      return permute(rt, out, [0, 2, 1]).reshape([1, C, h, w]); // (1, hw, C) -> (1, C, h, w)
    });
  }

  /** memory_attention on the assembled inputs (RobotSeg overrides: SEMA needs the frame's edge grid). */
  protected attend(f: ImageFeatures, curr: Tensor, currPos: Tensor, memory: Tensor, memoryPos: Tensor, numPtrTokens: number, tap?: Tap): Tensor {
    void f;
    void tap;
    return this.model.memory_attention.forward(this.rt, curr, currPos, memory, memoryPos, numPtrTokens);
  }

  /**
   * The memory-attention inputs of frame t (call inside a scope): memory / memoryPos [1, M, memDim]
   * (spatial memories in memory order: conditioning frames, then older to newer; then pointer
   * tokens), curr / currPos [1, hw, C], and the frames whose spatial memories come first, in order.
   */
  assembleMemory(t: number, f: ImageFeatures, bank: MemoryView, numFrames: number, reverse: boolean, tap?: Tap): {
    memory: Tensor; memoryPos: Tensor; numPtrTokens: number; curr: Tensor; currPos: Tensor; frames: StoredFrame[];
  } {
    const rt = this.rt;
    const m = this.model;
    const cfg = m.cfg;
    const [, C, h, w] = f.visionFeats.shape;
    {
      // (block kept from the former inline body of memoryConditioned)
      const frames: StoredFrame[] = [];
      const memDim = cfg.memory_encoder.out_dim;
      const nMem = cfg.base.num_maskmem;
      const sign = reverse ? -1 : 1;
      const mems: Tensor[] = [];
      const poss: Tensor[] = [];
      const memPos = m.memory_encoder.posEnc(rt, h, w); // [1, memDim, h, w]
      const tposAll = m.maskmem_tpos_enc.t; // [nMem, 1, 1, memDim]
      const addMem = (fr: StoredFrame, tPos: number) => {
        if (!fr.maskmem) throw new Error('memory bank: frame without encoded memory');
        frames.push(fr);
        mems.push(permute(rt, fr.maskmem.reshape([1, memDim, h * w]), [0, 2, 1])); // (1, D, hw) -> (1, hw, D)
        const tpos = slice(rt, tposAll, [nMem - tPos - 1, 0, 0, 0], [1, 1, 1, memDim]).reshape([1, 1, memDim]);
        poss.push(add(rt, permute(rt, memPos.reshape([1, memDim, h * w]), [0, 2, 1]), tpos));
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
      const ptrs: Tensor[] = [];
      const dists: number[] = [];
      for (const [ft, fr] of condEntries) {
        if (reverse ? ft >= t : ft <= t) { ptrs.push(fr.objPtr); dists.push((t - ft) * sign); }
      }
      for (let dt = 1; dt < maxPtrs; dt++) {
        const ft = reverse ? t + dt : t - dt;
        if (ft < 0 || ft >= numFrames) break;
        const fr = bank.nonCond.get(ft);
        if (fr) { ptrs.push(fr.objPtr); dists.push(dt); }
      }
      let numPtrTokens = 0;
      if (ptrs.length) {
        const split = C / memDim;
        const tdMax = maxPtrs - 1;
        const posHost = sine1d(dists.map((d) => Math.fround(d / tdMax)), C);
        const pe = m.obj_ptr_tpos_proj.forward(rt, rt.upload(posHost, [ptrs.length, C], 'f32', 'ptr_tpos')); // [P, memDim]
        // each C-dim pointer -> `split` tokens of memDim (pointer-major); each part gets the same pos
        mems.push(concat(rt, ptrs, 0).reshape([1, ptrs.length * split, memDim]));
        const peRep = add(rt, rt.zeros([ptrs.length, split, memDim]), pe.reshape([ptrs.length, 1, memDim]));
        poss.push(peRep.reshape([1, ptrs.length * split, memDim]));
        numPtrTokens = ptrs.length * split;
      }
      const memory = concat(rt, mems, 1);
      const memoryPos = concat(rt, poss, 1);
      const curr = permute(rt, f.visionFeats.reshape([1, C, h * w]), [0, 2, 1]);
      const currPos = permute(rt, f.visionPos.reshape([1, C, h * w]), [0, 2, 1]);
      tap?.('memattn.memory_NxBxC', memory);
      tap?.('memattn.memory_pos_NxBxC', memoryPos);
      tap?.('memattn.curr_in_HWxBxC', curr);
      tap?.('memattn.curr_pos_HWxBxC', currPos);
      return { memory, memoryPos, numPtrTokens, curr, currPos, frames };
    }
  }

  /** _encode_new_memory -> maskmem features [1, memDim, h, w] rounded to bfloat16. */
  encodeMemory(f: ImageFeatures, highRes: Tensor, objectScore: number, fromPoints: boolean, tap?: Tap): Tensor {
    const rt = this.rt;
    const m = this.model;
    const cfg = m.cfg;
    return rt.scope(() => {
      const binarize = cfg.postprocessing.video_binarize_mask_from_pts_for_mem_enc && fromPoints;
      const prob = binarize ? unary(rt, highRes, 'step') : unary(rt, highRes, 'sigmoid');
      const scaled = affine(rt, affine(rt, prob, cfg.base.sigmoid_scale_for_mem_enc), 1, cfg.base.sigmoid_bias_for_mem_enc);
      tap?.('memenc.mask_for_mem_in', scaled);
      let feats = m.memory_encoder.forward(rt, f.visionFeats, scaled);
      tap?.('memenc.raw_vision_features', feats);
      if (objectScore <= 0) {
        const [, d] = feats.shape;
        feats = add(rt, feats, m.no_obj_embed_spatial.t.reshape([1, d, 1, 1])); // (1 - is_obj) * embed
      }
      tap?.('memenc.maskmem_features_f32', feats);
      const stored = unary(rt, feats, 'round_bf16');
      tap?.('memenc.maskmem_features_bf16_as_f32', stored);
      return stored;
    });
  }
}
