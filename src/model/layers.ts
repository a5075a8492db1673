// Leaf modules with checkpoint-shaped parameters (PyTorch layouts) and their GPU forward.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { conv2d, type Conv2dOptions } from '../kernels/conv2d.js';
import { sigmoid } from '../kernels/elementwise.js';
import { convTranspose2d } from '../kernels/conv_transpose2d.js';
import { type Activation, linear } from '../kernels/matmul.js';
import { layerNorm, layerNorm2d } from '../kernels/norm.js';
import { Module, Param } from './module.js';

/** nn.Linear: weight [out, in], bias [out]. x [..., in] -> [..., out]. */
export class Linear extends Module {
  weight: Param;
  bias: Param | undefined;
  constructor(
    readonly inF: number,
    readonly outF: number,
    bias = true,
  ) {
    super();
    this.weight = new Param([outF, inF], true);
    this.bias = bias ? new Param([outF]) : undefined;
  }
  /** outDtype: storage of the output (default x's; f16 only at inference, see halfHidden). */
  forward(rt: Runtime, x: Tensor, act: Activation = 'none', outDtype?: 'f32' | 'f16'): Tensor {
    return linear(rt, x, this.weight.t, this.bias?.t ?? null, act, { outDtype });
  }

  /**
   * Storage of a hidden activation this layer produces for the next Linear: f16 when its weight is
   * stored f16 (precision 'f16') and no tape records, else f32. The next layer reads it and writes f32
   * again (`forward(rt, h, act, 'f32')`): half the bytes of the widest intermediate of an MLP.
   */
  hiddenDtype(rt: Runtime): 'f32' | 'f16' {
    return this.weight.t.dtype === 'f16' && rt.tape === null ? 'f16' : 'f32';
  }
}

/** nn.LayerNorm over the last dim. */
export class LayerNorm extends Module {
  weight: Param;
  bias: Param;
  constructor(
    readonly dim: number,
    readonly eps: number,
  ) {
    super();
    this.weight = new Param([dim]);
    this.bias = new Param([dim]);
  }
  /** outDtype 'f16': the normalised output stored f16 (inference, precision f16; see hiera.ts). */
  forward(rt: Runtime, x: Tensor, outDtype: 'f32' | 'f16' = 'f32'): Tensor {
    return layerNorm(rt, x, this.weight.t, this.bias.t, this.eps, { outDtype });
  }
}

/** sam2 LayerNorm2d: per-pixel normalisation over channels of NCHW, eps 1e-6. */
export class LayerNorm2d extends Module {
  weight: Param;
  bias: Param;
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = new Param([dim]);
    this.bias = new Param([dim]);
  }
  forward(rt: Runtime, x: Tensor): Tensor {
    return layerNorm2d(rt, x, this.weight.t, this.bias.t, this.eps);
  }
}

/** nn.Conv2d (NCHW). */
export class Conv2d extends Module {
  weight: Param;
  bias: Param | undefined;
  constructor(
    readonly cin: number,
    readonly cout: number,
    readonly k: number,
    readonly opts: Conv2dOptions = {},
    bias = true,
  ) {
    super();
    const groups = opts.groups ?? 1;
    this.weight = new Param([cout, cin / groups, k, k], true);
    this.bias = bias ? new Param([cout]) : undefined;
  }
  forward(rt: Runtime, x: Tensor): Tensor {
    return conv2d(rt, x, this.weight.t, this.bias?.t ?? null, this.opts);
  }
}

/** nn.ConvTranspose2d (NCHW), weight [in, out, k, k]. */
export class ConvTranspose2d extends Module {
  weight: Param;
  bias: Param;
  constructor(
    readonly cin: number,
    readonly cout: number,
    readonly k: number,
    readonly stride: number,
  ) {
    super();
    this.weight = new Param([cin, cout, k, k], true);
    this.bias = new Param([cout]);
  }
  forward(rt: Runtime, x: Tensor): Tensor {
    return convTranspose2d(rt, x, this.weight.t, this.bias.t, { stride: this.stride });
  }
}

/** sam2 MLP: `layers.i` Linear, activation between layers, optional sigmoid on the output. */
export class MLP extends Module {
  layers: Linear[];
  constructor(
    inDim: number,
    hidden: number,
    outDim: number,
    numLayers: number,
    readonly act: Activation = 'relu',
    readonly sigmoidOutput = false,
  ) {
    super();
    const dims = [inDim, ...new Array(numLayers - 1).fill(hidden), outDim];
    this.layers = Array.from({ length: numLayers }, (_, i) => new Linear(dims[i], dims[i + 1]));
  }
  /** Hidden activations are stored f16 under precision 'f16' (Linear.hiddenDtype); the output is f32 (x may be f16). */
  forward(rt: Runtime, x: Tensor): Tensor {
    let h = x;
    const last = this.layers.length - 1;
    this.layers.forEach((l, i) => {
      h = l.forward(rt, h, i < last ? this.act : 'none', i < last ? l.hiddenDtype(rt) : 'f32');
    });
    return this.sigmoidOutput ? sigmoid(rt, h) : h;
  }
}
