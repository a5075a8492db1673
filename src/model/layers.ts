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
  forward(rt: Runtime, x: Tensor, act: Activation = 'none'): Tensor {
    return linear(rt, x, this.weight.t, this.bias?.t ?? null, act);
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
  forward(rt: Runtime, x: Tensor): Tensor {
    return layerNorm(rt, x, this.weight.t, this.bias.t, this.eps);
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
  forward(rt: Runtime, x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((l, i) => {
      h = l.forward(rt, h, i < this.layers.length - 1 ? this.act : 'none');
    });
    return this.sigmoidOutput ? sigmoid(rt, h) : h;
  }
}
