// Hiera trunk (image_encoder.trunk), docs/reference/sam2-architecture.md sec. 3.1-3.3. Activations are NHWC
// [B, H, W, C]; stage outputs are returned NCHW.
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';
import { attention, splitPacked } from '../kernels/attention.js';
import { add } from '../kernels/elementwise.js';
import { concat, permute, slice, tile, windowPartition, windowUnpartition } from '../kernels/layout.js';
import { maxPool2d } from '../kernels/pool.js';
import { resize } from '../kernels/resize.js';
import { type HieraBlockSpec, hieraSchedule, type Sam2Config } from './config.js';
import { Conv2d, LayerNorm, Linear, MLP } from './layers.js';
import { Module, Param } from './module.js';

/** Largest packed-qkv bytes per window chunk; 0 = the adapter's binding limit (tests lower it). */
export const qkvChunkLimit = { bytes: 0 };

class MultiScaleAttention extends Module {
  qkv: Linear;
  proj: Linear;
  constructor(readonly spec: HieraBlockSpec) {
    super();
    this.qkv = new Linear(spec.dimIn, 3 * spec.dimOut);
    this.proj = new Linear(spec.dimOut, spec.dimOut);
  }

  /** x [B', h, w, dimIn] (windows or the whole map) -> [B', h', w', dimOut] (h' = h/2 with q-pool). */
  forward(rt: Runtime, x: Tensor): Tensor {
    // At 1024 px the packed qkv of the first q-pool block ([1024 windows, 64, 576] f32 = 151 MB) exceeds
    // a 128 MiB storage binding (lavapipe): run the windows in chunks whose qkv fits, then concat.
    const [b, h, w] = x.shape;
    const perWindow = h * w * 3 * this.spec.dimOut * 4;
    const limit = qkvChunkLimit.bytes || rt.maxBinding;
    if (b > 1 && b * perWindow > limit) {
      const per = Math.max(1, Math.floor(limit / perWindow));
      const outs: Tensor[] = [];
      for (let s = 0; s < b; s += per) outs.push(this.forwardChunk(rt, x.narrow0(s, Math.min(per, b - s))));
      return concat(rt, outs, 0); // [B', h', w', dimOut]
    }
    return this.forwardChunk(rt, x);
  }

  private forwardChunk(rt: Runtime, x: Tensor): Tensor {
    const [b, h, w] = x.shape;
    const { dimOut, heads, qPool } = this.spec;
    // x may be stored f16 (norm1's output under precision f16); q, k, v are f32
    const qkv = this.qkv.forward(rt, x.reshape([b, h * w, dimIn(this.spec)]), 'none', 'f32'); // [B', hw, 3*dimOut], per token [3][heads][hd]
    // inference reads q, k, v as strided views of the packed projection; the attention backward
    // needs plain tensors, so training slices them out (3 copies, each recorded)
    const [qv, kv, vv] = rt.tape?.wants([qkv])
      ? [0, 1, 2].map((p) => slice(rt, qkv, [0, 0, p * dimOut], [b, h * w, dimOut]))
      : splitPacked(qkv, 3);
    let q: Tensor | typeof qv = qv;
    let hq = h;
    let wq = w;
    if (qPool) {
      // q [B', hw, dimOut] -> grid [B', h, w, dimOut] -> 2x2 max pool (floor) -> [B', h/2, w/2, dimOut]
      const qc = slice(rt, qkv, [0, 0, 0], [b, h * w, dimOut]).reshape([b, h, w, dimOut]);
      const pooled = maxPool2d(rt, qc, { kernel: 2, stride: 2, layout: 'NHWC' });
      [, hq, wq] = pooled.shape;
      q = pooled.reshape([b, hq * wq, dimOut]);
    }
    const o = attention(rt, q, kv, vv, { heads }); // [B', hq*wq, dimOut]
    return this.proj.forward(rt, o).reshape([b, hq, wq, dimOut]);
  }
}

const dimIn = (s: HieraBlockSpec) => s.dimIn;

class MultiScaleBlock extends Module {
  norm1: LayerNorm;
  attn: MultiScaleAttention;
  norm2: LayerNorm;
  mlp: MLP;
  proj: Linear | undefined;
  constructor(
    readonly spec: HieraBlockSpec,
    mlpRatio: number,
    eps: number,
    readonly qStride: number,
  ) {
    super();
    this.norm1 = new LayerNorm(spec.dimIn, eps);
    this.attn = new MultiScaleAttention(spec);
    this.norm2 = new LayerNorm(spec.dimOut, eps);
    this.mlp = new MLP(spec.dimOut, Math.trunc(spec.dimOut * mlpRatio), spec.dimOut, 2, 'gelu');
    this.proj = spec.dimIn !== spec.dimOut ? new Linear(spec.dimIn, spec.dimOut) : undefined;
  }

  /** x [B, H, W, dimIn] -> [B, H', W', dimOut]. */
  forward(rt: Runtime, x: Tensor): Tensor {
    const { window, qPool } = this.spec;
    // precision f16 (inference): the normalised rows feed only Linear layers (qkv, proj, the MLP), so
    // they are stored f16 (their range is bounded by the affine); the residual stream stays f32
    const half = this.mlp.layers[0].hiddenDtype(rt);
    const xn = this.norm1.forward(rt, x, half);
    let shortcut = x;
    if (this.proj) {
      // projection of the NORMALISED input, then the same 2x2 pooling as q (docs/reference/sam2-architecture.md sec. 9, item 3)
      shortcut = this.proj.forward(rt, xn, 'none', 'f32');
      if (qPool) shortcut = maxPool2d(rt, shortcut, { kernel: this.qStride, stride: this.qStride, layout: 'NHWC' });
    }
    const [, H, W] = shortcut.shape;
    let a: Tensor;
    if (window > 0) {
      const wins = windowPartition(rt, xn, window); // [B*nW, win, win, dimIn], zero padded after norm1
      const out = this.attn.forward(rt, wins); // [B*nW, win', win', dimOut]
      const win2 = qPool ? Math.trunc(window / this.qStride) : window;
      a = windowUnpartition(rt, out, win2, [H, W]); // [B, H, W, dimOut], padding cropped
    } else {
      a = this.attn.forward(rt, xn);
    }
    const x1 = add(rt, shortcut, a);
    const m = this.mlp.forward(rt, this.norm2.forward(rt, x1, half)); // f32 out
    return add(rt, x1, m);
  }
}

class PatchEmbed extends Module {
  proj: Conv2d;
  constructor(dim: number) {
    super();
    this.proj = new Conv2d(3, dim, 7, { stride: 4, padding: 3 });
  }
}

export class Hiera extends Module {
  pos_embed: Param;
  pos_embed_window: Param;
  patch_embed: PatchEmbed;
  blocks: MultiScaleBlock[];
  readonly stageEnds: number[];
  private posCache = new Map<string, Tensor>();

  constructor(readonly cfg: Sam2Config['trunk']) {
    super();
    const { blocks, stageEnds } = hieraSchedule(cfg);
    this.stageEnds = stageEnds;
    const [ph, pw] = cfg.window_pos_embed_bkg_spatial_size;
    this.pos_embed = new Param([1, cfg.embed_dim, ph, pw]);
    this.pos_embed_window = new Param([1, cfg.embed_dim, cfg.window_spec[0], cfg.window_spec[0]]);
    this.patch_embed = new PatchEmbed(cfg.embed_dim);
    this.blocks = blocks.map((b) => new MultiScaleBlock(b, cfg.mlp_ratio, cfg.layernorm_eps, cfg.q_stride[0]));
  }

  /** Drop the cached position embeddings (their parameters changed, e.g. after an optimiser step). */
  clearPositionCache(): void {
    for (const t of this.posCache.values()) t.dispose();
    this.posCache.clear();
  }

  /** Bicubic pos_embed to the token grid + tiled window embed, NHWC [1, h, w, C] (cached per size). */
  posEmbed(rt: Runtime, h: number, w: number): Tensor {
    const key = `${h}x${w}`;
    // training: the embeddings are parameters on the tape, so recompute (and record) every forward
    const training = rt.tape !== null && (this.pos_embed.t.requiresGrad || this.pos_embed_window.t.requiresGrad);
    let pe = training ? undefined : this.posCache.get(key);
    if (!pe) {
      const win = this.cfg.window_spec[0];
      if (h % win || w % win)
        throw new Error(`Hiera: token grid ${h}x${w} must be a multiple of the window embed ${win}`);
      pe = rt.scope(() => {
        const up = resize(rt, this.pos_embed.t, [h, w], { mode: 'bicubic' }); // [1, C, h, w]
        const tiled = tile(rt, this.pos_embed_window.t, [1, 1, h / win, w / win]); // [1, C, h, w]
        return permute(rt, add(rt, up, tiled), [0, 2, 3, 1]); // -> [1, h, w, C]
      });
      if (!training) this.posCache.set(key, untrack(pe)); // cached across calls: not owned by any scope
    }
    return pe;
  }

  /**
   * image [B, 3, S, S] -> stage outputs NCHW (stride 4, 8, 16, 32). `tap(name, t)` sees
   * intermediates (patch_embed_out, pos_embed, blockN_out as NHWC) for parity tests.
   */
  forward(rt: Runtime, img: Tensor, tap?: (name: string, t: Tensor) => void): Tensor[] {
    const patch = permute(rt, this.patch_embed.proj.forward(rt, img), [0, 2, 3, 1]); // NCHW -> NHWC
    const pos = this.posEmbed(rt, patch.shape[1], patch.shape[2]);
    tap?.('patch_embed_out_NHWC', patch);
    tap?.('pos_embed_NHWC', pos);
    let x = add(rt, patch, pos);
    const outs: Tensor[] = [];
    this.blocks.forEach((blk, i) => {
      x = blk.forward(rt, x);
      tap?.(`block${i}_out_NHWC`, x);
      if (this.stageEnds.includes(i)) outs.push(permute(rt, x, [0, 3, 1, 2])); // NHWC -> NCHW
    });
    return outs;
  }
}
