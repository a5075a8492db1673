// FpnNeck (image_encoder.neck), docs/reference/sam2-architecture.md sec. 3.4: 1x1 laterals, nearest x2 top-down on the configured
// levels, sum fusion, sine position encodings per level.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { add } from '../kernels/elementwise.js';
import { resize } from '../kernels/resize.js';
import type { Sam2Config } from './config.js';
import { Conv2d } from './layers.js';
import { Module } from './module.js';

class LateralConv extends Module {
  conv: Conv2d;
  constructor(cin: number, cout: number) {
    super();
    this.conv = new Conv2d(cin, cout, 1);
  }
}

export class FpnNeck extends Module {
  convs: LateralConv[];
  constructor(readonly cfg: Sam2Config['neck']) {
    super();
    // convs[j] takes trunk output (n - j): convs.0 the lowest resolution map
    this.convs = cfg.backbone_channel_list.map((c) => new LateralConv(c, cfg.d_model));
  }

  /** xs: trunk outputs high-res first (NCHW). Returns FPN levels high-res first. */
  forward(rt: Runtime, xs: Tensor[]): Tensor[] {
    if (xs.length !== this.convs.length)
      throw new Error(`FpnNeck: ${xs.length} trunk outputs for ${this.convs.length} laterals`);
    const n = this.convs.length - 1;
    const out: Tensor[] = new Array(xs.length);
    let prev: Tensor | null = null;
    for (let i = n; i >= 0; i--) {
      const lateral = this.convs[n - i].conv.forward(rt, xs[i]);
      if (this.cfg.fpn_top_down_levels.includes(i) && prev) {
        const [, , h, w] = prev.shape;
        const up = resize(rt, prev, [2 * h, 2 * w], { mode: 'nearest' }); // scale_factor 2
        prev = add(rt, lateral, up);
      } else {
        prev = lateral;
      }
      out[i] = prev;
    }
    return out;
  }
}
