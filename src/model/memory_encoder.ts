// MemoryEncoder (memory_encoder), docs/reference/sam2-architecture.md sec. 6: mask downsampler, pix_feat_proj, CXBlock fuser, out_proj.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { sinePositionEncoding } from './position_encoding.js';
import { add, gelu, mul } from '../kernels/elementwise.js';
import { permute } from '../kernels/layout.js';
import type { Sam2Config } from './config.js';
import { Conv2d, LayerNorm2d, Linear } from './layers.js';
import { Module, Param } from './module.js';

class MaskDownSampler extends Module {
  /** encoder.{3i: conv k s p, 3i+1: LN2d, 3i+2: GELU (null)}, then a 1x1 conv. */
  encoder: Array<Module | null>;
  constructor(cfg: Sam2Config['memory_encoder']['mask_downsampler']) {
    super();
    const n = Math.round(Math.log(cfg.total_stride) / Math.log(cfg.stride));
    this.encoder = [];
    let cin = 1;
    for (let i = 0; i < n; i++) {
      const cout = cin * cfg.stride * cfg.stride;
      this.encoder.push(
        new Conv2d(cin, cout, cfg.kernel_size, { stride: cfg.stride, padding: cfg.padding }),
        new LayerNorm2d(cout),
        null,
      );
      cin = cout;
    }
    this.encoder.push(new Conv2d(cin, cfg.embed_dim, 1));
  }
  forward(rt: Runtime, m: Tensor): Tensor {
    let x = m;
    for (const layer of this.encoder) {
      if (layer === null) x = gelu(rt, x);
      else x = (layer as Conv2d | LayerNorm2d).forward(rt, x);
    }
    return x;
  }
}

class CXBlock extends Module {
  dwconv: Conv2d;
  norm: LayerNorm2d;
  pwconv1: Linear;
  pwconv2: Linear;
  gamma: Param;
  constructor(dim: number, k: number, pad: number) {
    super();
    this.dwconv = new Conv2d(dim, dim, k, { padding: pad, groups: dim });
    this.norm = new LayerNorm2d(dim);
    this.pwconv1 = new Linear(dim, 4 * dim);
    this.pwconv2 = new Linear(4 * dim, dim);
    this.gamma = new Param([dim]);
  }
  /** x [B, C, H, W] -> same. */
  forward(rt: Runtime, x: Tensor): Tensor {
    const y = this.norm.forward(rt, this.dwconv.forward(rt, x));
    const t = permute(rt, y, [0, 2, 3, 1]); // (B, C, H, W) -> (B, H, W, C)
    const h = this.pwconv2.forward(rt, this.pwconv1.forward(rt, t, 'gelu'));
    const scaled = mul(rt, h, this.gamma.t); // layer scale per channel
    return add(rt, x, permute(rt, scaled, [0, 3, 1, 2])); // (B, H, W, C) -> (B, C, H, W)
  }
}

class Fuser extends Module {
  layers: CXBlock[];
  constructor(cfg: Sam2Config['memory_encoder']['fuser']) {
    super();
    this.layers = Array.from({ length: cfg.num_layers }, () => new CXBlock(cfg.dim, cfg.kernel_size, cfg.padding));
  }
  forward(rt: Runtime, x: Tensor): Tensor {
    for (const l of this.layers) x = l.forward(rt, x);
    return x;
  }
}

export class MemoryEncoder extends Module {
  mask_downsampler: MaskDownSampler;
  pix_feat_proj: Conv2d;
  fuser: Fuser;
  out_proj: Conv2d;
  constructor(readonly cfg: Sam2Config['memory_encoder']) {
    super();
    this.mask_downsampler = new MaskDownSampler(cfg.mask_downsampler);
    this.pix_feat_proj = new Conv2d(cfg.in_dim, cfg.in_dim, 1);
    this.fuser = new Fuser(cfg.fuser);
    this.out_proj = new Conv2d(cfg.in_dim, cfg.out_dim, 1);
  }

  /** pixFeat [B, C, h, w] (raw level-2 features), masks [B, 1, S, S] already scaled (x20-10). */
  forward(rt: Runtime, pixFeat: Tensor, masks: Tensor): Tensor {
    const m = this.mask_downsampler.forward(rt, masks);
    const x = add(rt, this.pix_feat_proj.forward(rt, pixFeat), m);
    return this.out_proj.forward(rt, this.fuser.forward(rt, x));
  }

  /** Sine PE of the memory features [1, memDim, h, w] (a runtime constant per size). */
  posEnc(rt: Runtime, h: number, w: number): Tensor {
    const c = this.cfg.out_dim;
    return rt.constant(`maskmem_pos_enc ${c}x${h}x${w}`, () =>
      rt.upload(sinePositionEncoding(c, h, w), [1, c, h, w], 'f32', 'maskmem_pos_enc'),
    );
  }
}
