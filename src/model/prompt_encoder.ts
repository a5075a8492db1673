// PromptEncoder (sam_prompt_encoder), docs/reference/sam2-architecture.md sec. 4: random Fourier PE of points, label embeddings,
// padding point, dense mask embedding or no_mask_embed.
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';
import { add, gelu } from '../kernels/elementwise.js';
import { concat } from '../kernels/layout.js';
import { Conv2d, LayerNorm2d } from './layers.js';
import { Module, Param } from './module.js';
import { fourierDensePE, fourierEncodePoints } from './position_encoding.js';

export class Embedding extends Module {
  weight: Param;
  constructor(n: number, dim: number) {
    super();
    this.weight = new Param([n, dim]);
  }
}

class PositionEmbeddingRandom extends Module {
  positional_encoding_gaussian_matrix: Param;
  constructor(readonly feats: number) {
    super();
    this.positional_encoding_gaussian_matrix = new Param([2, feats]);
  }
}

/** Points in network-input pixels (0..S) with labels; box corners come first (labels 2, 3). */
export interface PointPrompt {
  coords: Float32Array; // [n, 2] (x, y)
  labels: Int32Array; // [n]
}

export class PromptEncoder extends Module {
  pe_layer: PositionEmbeddingRandom;
  point_embeddings: Embedding[];
  not_a_point_embed: Embedding;
  /** mask_downscaling.{0: conv, 1: LN2d, 3: conv, 4: LN2d, 6: conv}; null slots 2, 5 are GELUs (no keys). */
  mask_downscaling: Array<Module | null>;
  no_mask_embed: Embedding;
  private gauss: Float32Array | null = null;
  private densePe: Tensor | null = null;

  constructor(
    readonly dim: number,
    readonly gridHW: [number, number],
    readonly inputSize: number,
    maskInChans: number,
  ) {
    super();
    this.pe_layer = new PositionEmbeddingRandom(dim / 2);
    this.point_embeddings = [0, 1, 2, 3].map(() => new Embedding(1, dim));
    this.not_a_point_embed = new Embedding(1, dim);
    const q = maskInChans / 4;
    this.mask_downscaling = [
      new Conv2d(1, q, 2, { stride: 2 }),
      new LayerNorm2d(q),
      null,
      new Conv2d(q, maskInChans, 2, { stride: 2 }),
      new LayerNorm2d(maskInChans),
      null,
      new Conv2d(maskInChans, dim, 1),
    ];
    this.no_mask_embed = new Embedding(1, dim);
  }

  /** The Gaussian matrix on the host (read back once after loading). */
  async prepare(rt: Runtime): Promise<void> {
    if (!this.gauss) this.gauss = await rt.read(this.pe_layer.positional_encoding_gaussian_matrix.t);
  }

  private requireGauss(): Float32Array {
    if (!this.gauss) throw new Error('PromptEncoder.prepare(rt) must run after loading weights');
    return this.gauss;
  }

  /** get_dense_pe(): [1, C, h, w] (cached). */
  denseEmbeddingPe(rt: Runtime): Tensor {
    if (!this.densePe) {
      const [h, w] = this.gridHW;
      this.densePe = untrack(
        rt.upload(fourierDensePE(this.requireGauss(), this.dim / 2, h, w), [1, this.dim, h, w], 'f32', 'dense_pe'),
      );
    }
    return this.densePe;
  }

  /**
   * Sparse embeddings [1, N(+1 pad), C]. `pad` appends the padding point (coords 0, label -1), which
   * SAM 2 does whenever points are given without a boxes tensor (always, in its predictors).
   */
  sparse(rt: Runtime, p: PointPrompt | null, pad = true): Tensor {
    if (!p || p.labels.length === 0) return rt.empty([1, 0, this.dim], 'f32', 'sparse');
    const n = p.labels.length + (pad ? 1 : 0);
    const norm = new Float32Array(2 * n);
    const labels = new Int32Array(n).fill(-1);
    const f = Math.fround;
    for (let i = 0; i < p.labels.length; i++) {
      // +0.5 pixel centre, then normalise by the input size (x / S, y / S)
      norm[2 * i] = f(f(p.coords[2 * i] + 0.5) / this.inputSize);
      norm[2 * i + 1] = f(f(p.coords[2 * i + 1] + 0.5) / this.inputSize);
      labels[i] = p.labels[i];
    }
    if (pad) {
      norm[2 * (n - 1)] = f(0.5 / this.inputSize);
      norm[2 * (n - 1) + 1] = f(0.5 / this.inputSize);
    }
    const pe = fourierEncodePoints(norm, this.requireGauss(), this.dim / 2);
    for (let i = 0; i < n; i++) {
      const l = labels[i];
      if (l < -1 || l > 3) throw new Error(`point label ${l} is not one of -1, 0, 1, 2, 3`);
      if (l === -1) pe.fill(0, i * this.dim, (i + 1) * this.dim); // padding points get no PE
    }
    const rows = Array.from(labels, (l) =>
      l === -1 ? this.not_a_point_embed.weight.t : this.point_embeddings[l].weight.t,
    );
    const table = concat(rt, rows, 0); // [n, C]
    // padding only (a tracked frame's decoder): the PE is all zeros, no upload (it would flush the queue)
    if (labels.every((l) => l === -1)) return table.reshape([1, n, this.dim]);
    const peT = rt.upload(pe, [n, this.dim], 'f32', 'point_pe');
    return add(rt, peT, table).reshape([1, n, this.dim]);
  }

  /** Dense embeddings [1, C, h, w]: mask_downscaling(mask [1, 1, 4h, 4w]) or no_mask_embed broadcast. */
  dense(rt: Runtime, mask: Tensor | null): Tensor {
    const [h, w] = this.gridHW;
    if (!mask) {
      const e = this.no_mask_embed.weight.t.reshape([1, this.dim, 1, 1]);
      return add(rt, rt.zeros([1, this.dim, h, w]), e); // broadcast to [1, C, h, w]
    }
    if (mask.rank !== 4 || mask.shape[1] !== 1 || mask.shape[2] !== 4 * h || mask.shape[3] !== 4 * w) {
      throw new Error(`mask prompt must be [B, 1, ${4 * h}, ${4 * w}], got [${mask.shape.join(', ')}]`);
    }
    const [c0, n1, , c3, n4, , c6] = this.mask_downscaling as [
      Conv2d,
      LayerNorm2d,
      null,
      Conv2d,
      LayerNorm2d,
      null,
      Conv2d,
    ];
    let x = gelu(rt, n1.forward(rt, c0.forward(rt, mask)));
    x = gelu(rt, n4.forward(rt, c3.forward(rt, x)));
    return c6.forward(rt, x);
  }
}
