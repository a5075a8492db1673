// SEMA: RobotSeg's structure branch inside every memory-attention layer
// (robotseg/modeling/memory_attention_with_structure.py; docs/reference/robotseg-architecture.md sec. 2).
// Per layer, after SAM 2.1's self-attention and memory cross-attention sub-blocks (t_ca) and its MLP
// (t_main = t_ca + MLP(norm3(t_ca))):
//   F     = t_ca as a [B, C, h, w] map * (1 + E)             E = kornia-Canny NMS magnitude at the grid
//   MS    = GELU(fuse([branch3(F), branch5(F), branch7(F)]))   branch_k = GELU(GN(pw(GELU(dw_k(F)))))
//   A     = cross_attn_structure(q = MS tokens (no pos), k = memory + memory_pos, v = memory) (RoPE on q
//           and on all keys but the trailing object-pointer tokens; no residual)
//   S     = structure_head(A map) (3x3 conv C -> 1)            [B, 1, h, w] logits
//   G     = bilinear(sigmoid(bilinear(S, x16)), back to h x w) (all align_corners False, no antialias)
//   out   = t_main * (1 + alpha * G)                           alpha = structure_strength (per layer)
// Module property paths equal the checkpoint keys (memory_attention.layers.{i}.structure_strength,
// .cross_attn_structure.*, .ms_pyramid.conv{3,5,7}.{dw,pw,norm}.*, .ms_pyramid.fuse.*, .structure_head.*).
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import {
  cannyBlur,
  cannyGray,
  cannyNms,
  cannySobel,
  DEFAULT_THRESHOLDS,
  gaussianKernelKornia,
} from '../kernels/canny.js';
import { add, affine, clamp, gelu, mul, sigmoid } from '../kernels/elementwise.js';
import { concat, permute } from '../kernels/layout.js';
import { groupNorm } from '../kernels/norm.js';
import { resize } from '../kernels/resize.js';
import { rgbToPlanarFloat, type RgbImage } from '../image/rgb.js';
import { SAM21_HIERA_T, type Sam2Config } from './config.js';
import { normalizeInput, resizeImageToInput } from './image_predictor.js';
import { Conv2d } from './layers.js';
import {
  checkBatch,
  MemoryAttention,
  type MemoryAttentionExtras,
  MemoryAttentionLayer,
  RoPEAttention,
} from './memory_attention.js';
import { Module, Param } from './module.js';
import type { RobotSegSpec } from './robotseg_config.js';

// ------------------------------------------------------------------------------- edge semantics
// Built from the kornia-mode Canny stages of src/kernels/canny.ts; they need no hysteresis, since
// the fork keeps the NMS magnitude.

/**
 * The edge map RobotSeg's SEMA uses: kornia canny's FIRST output (the NMS magnitude; thresholds and
 * hysteresis do not affect it) of `_safe_to_gray(x)`, clamped to [0, 1]. x: the normalised model input
 * [B, 3, H, W]; returns f32 [B, 1, H, W] at full resolution (SEMA then resizes it bilinearly to the
 * token grid). No readback.
 */
export function robotsegEdgeMap(rt: Runtime, x: Tensor): Tensor {
  const gray = cannyGray(rt, x, 'kornia');
  const blurred = cannyBlur(rt, gray, gaussianKernelKornia(5, 1));
  gray.dispose();
  const s = cannySobel(rt, blurred, 'kornia');
  blurred.dispose();
  const { low, high } = DEFAULT_THRESHOLDS.kornia;
  const nms = cannyNms(rt, s.gx, s.gy, s.magnitude, 'kornia', low, high, { clamp01: true });
  for (const t of [s.gx, s.gy, s.magnitude, nms.state, nms.direction!]) t.dispose();
  return nms.magnitudeNms!;
}

/**
 * robotsegEdgeMap of an RGB image as the model sees it: resized to size x size as preprocessImage
 * resizes (size 0: the image's own resolution, no resize), normalised with `norm` (the config's
 * preprocess; SAM 2.1's ImageNet mean / std by default). f32 [1, 1, h, w]. No readback.
 */
export function robotsegImageEdgeMap(
  rt: Runtime,
  img: RgbImage,
  size: number,
  norm: Sam2Config['preprocess'] = SAM21_HIERA_T.preprocess,
): Tensor {
  return rt.scope(() => {
    const sized =
      size > 0
        ? resizeImageToInput(rt, img, size)
        : rt.upload(rgbToPlanarFloat(img), [1, 3, img.height, img.width], 'f32', 'image');
    return robotsegEdgeMap(rt, normalizeInput(rt, sized, norm));
  });
}

/**
 * SEMA's edge map at the token grid: robotsegEdgeMap resized bilinearly (align_corners False, no
 * antialias) to `grid` = [gh, gw], then clamped to 1 as the fork does (bilinear weights are convex, so
 * the clamp only trims float rounding). f32 [B, 1, gh, gw]. No readback.
 */
export function robotsegEdgeGrid(rt: Runtime, x: Tensor, grid: readonly [number, number]): Tensor {
  const e = robotsegEdgeMap(rt, x);
  const r = resize(rt, e, grid, { mode: 'bilinear', antialias: false });
  e.dispose();
  const y = clamp(rt, r, -Infinity, 1); // min(r, 1), the bound in Params (no upload mid-graph)
  r.dispose();
  return y;
}

/** Intermediate tap: names as in golden/robotseg/structure.safetensors after `L<i>.`. */
export type SemaTap = (name: string, t: Tensor) => void;

/** nn.GroupNorm(groups, C, eps, affine). */
export class GroupNorm extends Module {
  weight: Param;
  bias: Param;
  constructor(
    readonly groups: number,
    readonly channels: number,
    readonly eps: number,
  ) {
    super();
    this.weight = new Param([channels]);
    this.bias = new Param([channels]);
  }
  forward(rt: Runtime, x: Tensor): Tensor {
    return groupNorm(rt, x, this.groups, this.weight.t, this.bias.t, this.eps);
  }
}

/** One depthwise-separable branch: dw kxk (no bias) -> GELU -> pw 1x1 -> GroupNorm -> GELU. */
export class DwSeparableBranch extends Module {
  dw: Conv2d;
  pw: Conv2d;
  norm: GroupNorm;
  constructor(
    readonly channels: number,
    readonly k: number,
    groups: number,
    eps: number,
  ) {
    super();
    this.dw = new Conv2d(channels, channels, k, { groups: channels, padding: k >> 1 }, false);
    this.pw = new Conv2d(channels, channels, 1);
    this.norm = new GroupNorm(groups, channels, eps);
  }
  forward(rt: Runtime, x: Tensor, tap?: SemaTap): Tensor {
    const p = `ms.conv${this.k}.`;
    const dw = this.dw.forward(rt, x);
    tap?.(`${p}dw_out`, dw);
    const g = gelu(rt, dw);
    tap?.(`${p}dw_gelu`, g);
    const pw = this.pw.forward(rt, g);
    tap?.(`${p}pw_out`, pw);
    const n = this.norm.forward(rt, pw);
    tap?.(`${p}groupnorm_out`, n);
    const out = gelu(rt, n);
    tap?.(`${p}branch_out`, out);
    return out;
  }
}

/** ms_pyramid: branches k = 3, 5, 7 concatenated on channels -> 1x1 fuse (3C -> C) -> GELU. */
export class MultiScalePyramid extends Module {
  conv3: DwSeparableBranch;
  conv5: DwSeparableBranch;
  conv7: DwSeparableBranch;
  fuse: Conv2d;
  constructor(
    readonly channels: number,
    groups: number,
    eps: number,
  ) {
    super();
    this.conv3 = new DwSeparableBranch(channels, 3, groups, eps);
    this.conv5 = new DwSeparableBranch(channels, 5, groups, eps);
    this.conv7 = new DwSeparableBranch(channels, 7, groups, eps);
    this.fuse = new Conv2d(3 * channels, channels, 1);
  }
  /** x [B, C, h, w] -> [B, C, h, w]. */
  forward(rt: Runtime, x: Tensor, tap?: SemaTap): Tensor {
    const cat = concat(
      rt,
      [this.conv3.forward(rt, x, tap), this.conv5.forward(rt, x, tap), this.conv7.forward(rt, x, tap)],
      1,
    );
    tap?.('ms.concat', cat);
    const f = this.fuse.forward(rt, cat);
    tap?.('ms.fuse_out_pre_gelu', f);
    const out = gelu(rt, f);
    tap?.('ms.out', out);
    return out;
  }
}

export interface StructureOutput {
  /** Layer output t_main * (1 + alpha * G) [B, N, C]. */
  out: Tensor;
  /** Structure logits S at the grid [B, 1, h, w]. */
  logits: Tensor;
  /** S upsampled x16 [B, 1, 16h, 16w] (the map training supervises). */
  upLogits: Tensor;
  /** Gate G [B, 1, h, w]. */
  gate: Tensor;
}

/**
 * The SEMA gate: tMain [B, N, C] (N = h*w) scaled by 1 + alpha * G, G = bilinear(sigmoid(bilinear(logits
 * [B, 1, h, w], x up)), back to h x w) (align_corners False, no antialias); alpha [] (structure_strength).
 * Differentiable in tMain, logits and alpha (composed of ops with backward kernels).
 */
export function semaGate(
  rt: Runtime,
  tMain: Tensor,
  logits: Tensor,
  alpha: Tensor,
  up: number,
  tap?: SemaTap,
): { out: Tensor; upLogits: Tensor; gate: Tensor } {
  const [B, , h, w] = logits.shape;
  const N = h * w;
  const upLogits = resize(rt, logits, [h * up, w * up], { mode: 'bilinear' });
  tap?.('structure_map_up_logits', upLogits);
  const gate = resize(rt, sigmoid(rt, upLogits), [h, w], { mode: 'bilinear' });
  tap?.('gate', gate);
  const ag = mul(rt, gate.reshape([B, N, 1]), alpha.reshape([1, 1, 1])); // alpha * G
  const out = mul(rt, tMain, affine(rt, ag, 1, 1)); // t_main * (1 + alpha * G)
  tap?.('out_modulated_BxNxC', out);
  return { out, upLogits, gate };
}

/** A SAM 2.1 memory-attention layer with RobotSeg's structure branch (one per layer, own weights). */
export class SemaMemoryAttentionLayer extends MemoryAttentionLayer {
  structure_strength: Param;
  cross_attn_structure: RoPEAttention;
  ms_pyramid: MultiScalePyramid;
  structure_head: Conv2d;

  constructor(
    cfg: Sam2Config['memory_attention'],
    readonly spec: RobotSegSpec,
  ) {
    super(cfg);
    const d = cfg.d_model;
    if (spec.dModel !== d) throw new Error(`SEMA: spec d_model ${spec.dModel} != memory attention d_model ${d}`);
    this.structure_strength = new Param([]);
    this.cross_attn_structure = new RoPEAttention(d, spec.sema.heads, spec.memDim);
    this.ms_pyramid = new MultiScalePyramid(d, spec.sema.groupNormGroups, spec.sema.groupNormEps);
    this.structure_head = new Conv2d(d, 1, 3, { padding: 1 });
  }

  /**
   * The structure branch alone. tCa / tMain [B, N, C] (N = h*w, row-major grid), edges [B or 1, 1, h, w]
   * (robotsegEdgeGrid of the model input; one frame's grid is shared by a batch of objects),
   * k = memory + memory_pos and v = memory [B, M, memDim], cs = the layer's RoPE table
   * [N, C/heads/2, 2], numObjPtrTokens trailing pointer tokens of k / v, keyMask [B, M] (padding).
   */
  structure(
    rt: Runtime,
    tCa: Tensor,
    tMain: Tensor,
    edges: Tensor,
    k: Tensor,
    v: Tensor,
    cs: Tensor,
    numObjPtrTokens: number,
    tap?: SemaTap,
    keyMask: Tensor | null = null,
  ): StructureOutput {
    if (tCa.rank !== 3 || tMain.rank !== 3 || tCa.shape.some((d, i) => d !== tMain.shape[i])) {
      throw new Error(
        `SEMA: t_ca [${tCa.shape.join(', ')}] and t_main [${tMain.shape.join(', ')}] must both be [B, N, C]`,
      );
    }
    const [B, N, C] = tCa.shape;
    if (
      edges.rank !== 4 ||
      (edges.shape[0] !== B && edges.shape[0] !== 1) ||
      edges.shape[1] !== 1 ||
      edges.shape[2] * edges.shape[3] !== N
    ) {
      throw new Error(
        `SEMA: edges [${edges.shape.join(', ')}] must be [${B === 1 ? '1' : `${B} or 1`}, 1, h, w] with h*w = ${N} tokens`,
      );
    }
    const [, , h, w] = edges.shape;
    const up = this.spec.sema.upsample;
    const feat = permute(rt, tCa, [0, 2, 1]).reshape([B, C, h, w]); // (B, N, C) -> (B, C, N)
    tap?.('feat_map', feat);
    tap?.('edges_small', edges);
    const enh = mul(rt, feat, affine(rt, edges, 1, 1)); // feat * (1 + E), E broadcast over a batch of objects
    tap?.('feat_edge_enh', enh);
    const ms = this.ms_pyramid.forward(rt, enh, tap);
    const q = permute(rt, ms.reshape([B, C, N]), [0, 2, 1]); // (B, C, N) -> (B, N, C)
    tap?.('xattn.q_tokens_BxNxC', q);
    tap?.('xattn.k_in_BxMxCm', k);
    tap?.('xattn.v_in_BxMxCm', v);
    const xo = this.cross_attn_structure.forward(rt, q, k, v, cs, numObjPtrTokens, keyMask);
    tap?.('xattn_structure_out_BxNxC', xo);
    const logits = this.structure_head.forward(rt, permute(rt, xo, [0, 2, 1]).reshape([B, C, h, w]));
    tap?.('structure_logits', logits);
    const { out, upLogits, gate } = semaGate(rt, tMain, logits, this.structure_strength.t, up, tap);
    return { out, logits, upLogits, gate };
  }

  /**
   * SAM 2.1 sub-blocks as MemoryAttentionLayer.forward (same modules, same order), then the structure
   * branch on t_ca. extra.edges [B or 1, 1, h, w] is required (the frame's edge grid, shared by all
   * layers and objects).
   */
  override forward(
    rt: Runtime,
    tgt: Tensor,
    memory: Tensor,
    memoryPos: Tensor,
    cs: Tensor,
    numObjPtrTokens: number,
    extra: MemoryAttentionExtras = {},
  ): Tensor {
    const { edges, tap } = extra;
    const keyMask = extra.keyMask ?? null;
    if (!edges)
      throw new Error(
        'SEMA memory-attention layer: the edge grid of the current frame is required (robotsegEdgeGrid of the model input)',
      );
    const c = this.cfg;
    tap?.('tgt_in_BxNxC', tgt);
    let a = this.norm1.forward(rt, tgt);
    const tSa = add(rt, tgt, this.self_attn.forward(rt, a, a, a, cs));
    tap?.('t_sa_BxNxC', tSa);
    a = this.norm2.forward(rt, tSa);
    if (c.pos_enc_at_cross_attn_queries)
      throw new Error('memory attention: pos_enc_at_cross_attn_queries=true is not supported');
    const k = c.pos_enc_at_cross_attn_keys ? add(rt, memory, memoryPos) : memory;
    const tCa = add(rt, tSa, this.cross_attn_image.forward(rt, a, k, memory, cs, numObjPtrTokens, keyMask));
    tap?.('t_ca_BxNxC', tCa);
    a = this.norm3.forward(rt, tCa);
    // the FFN's hidden activation [B, HW, dim_feedforward] stored f16 under precision f16 (Linear.hiddenDtype)
    const ff = this.linear2.forward(
      rt,
      this.linear1.forward(rt, a, 'relu', this.linear1.hiddenDtype(rt)),
      'none',
      'f32',
    );
    tap?.('mlp_delta_BxNxC', ff);
    const tMain = add(rt, tCa, ff);
    tap?.('tgt_main_BxNxC', tMain);
    return this.structure(rt, tCa, tMain, edges, k, memory, cs, numObjPtrTokens, tap, keyMask).out;
  }
}

/** MemoryAttention whose layers carry the structure branch. */
export class SemaMemoryAttention extends MemoryAttention {
  declare layers: SemaMemoryAttentionLayer[];

  constructor(
    cfg: Sam2Config['memory_attention'],
    readonly spec: RobotSegSpec,
  ) {
    super(cfg);
    this.layers = Array.from({ length: cfg.num_layers }, () => new SemaMemoryAttentionLayer(cfg, spec));
  }

  /** The edge grid SEMA modulates with: robotsegEdgeGrid(model input [1, 3, S, S]) -> [1, 1, h, w]. */
  edgeGrid(rt: Runtime, image: Tensor): Tensor {
    return robotsegEdgeGrid(rt, image, this.spec.grid);
  }

  /**
   * curr [B, HW, C], currPos [B or 1, HW, C]; memory [B, M, memDim], memoryPos [B or 1, M, memDim];
   * extra.edges [B or 1, 1, h, w] (edgeGrid of the current frame's model input), extra.keyMask [B, M]
   * -> [B, HW, C]. extra.tap sees `L<i>.<name>` for every layer intermediate.
   */
  override forward(
    rt: Runtime,
    curr: Tensor,
    currPos: Tensor,
    memory: Tensor,
    memoryPos: Tensor,
    numObjPtrTokens: number,
    extra: MemoryAttentionExtras = {},
  ): Tensor {
    if (this.cfg.pos_enc_at_attn) throw new Error('memory attention: pos_enc_at_attn=true is not supported');
    const { edges, tap } = extra;
    if (!edges)
      throw new Error(
        'SEMA memory attention: the edge grid of the current frame is required (SemaMemoryAttention.edgeGrid of the model input)',
      );
    checkBatch(curr, currPos, memory, memoryPos, extra.keyMask ?? null);
    const cs = this.ropeCs(rt, curr.shape[1]);
    let x = this.cfg.pos_enc_at_input ? add(rt, curr, affine(rt, currPos, 0.1)) : curr;
    this.layers.forEach((layer, i) => {
      x = layer.forward(rt, x, memory, memoryPos, cs, numObjPtrTokens, {
        keyMask: extra.keyMask,
        edges,
        tap: tap && ((n, t) => tap(`L${i}.${n}`, t)),
      });
    });
    return this.norm.forward(rt, x);
  }
}
