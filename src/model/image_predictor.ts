// SAM2ImagePredictor: preprocessing (antialiased bilinear resize of float RGB, normalisation),
// one image encoding, then prompts (clicks, box, mask) -> masks at the original size (docs/reference/sam2-architecture.md sec. 2, 8).
import type { RgbImage } from '../image/rgb.js';
import { rgbToPlanarFloat } from '../image/rgb.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';
import { binary } from '../kernels/elementwise.js';
import { resize, resizeBand, resizeRowBands, resizeToHost } from '../kernels/resize.js';
import type { Sam2Config } from './config.js';
import type { ImageFeatures, SAM2 } from './sam2.js';
import { argmax, selectMasks } from './select.js';

export interface Point {
  x: number;
  y: number;
  label: number;
}

export interface ImagePrompt {
  /** Clicks in original-image pixels; label 1 foreground (default), 0 background. */
  points?: Point[];
  /** Box x0, y0, x1, y1 in original-image pixels. */
  box?: [number, number, number, number];
  /** Low-res mask logits [4h * 4w] (e.g. the best row of a previous prediction). */
  maskInput?: Float32Array;
  /** Return 3 masks (default: SAM 2's rule — true for no prompt or a single click). */
  multimask?: boolean;
}

export interface ImagePrediction {
  /** Logits at the original size, one [H*W] array per returned mask (threshold > 0); empty with { logits: false }. */
  logits: Float32Array[];
  /** Binary masks (0/1) at the original size. */
  masks: Uint8Array[];
  /** Low-res logits [4h*4w] clamped to [-32, 32], as the official predictor returns them. */
  lowRes: Float32Array[];
  iou: Float32Array;
  objectScore: number;
  multimask: boolean;
  width: number;
  height: number;
  lowResSize: [number, number];
  /** Index of the mask with the highest predicted IoU. */
  best: number;
}

/** Validate prompts against the image; throws a clear Error naming the problem. */
export function validatePrompt(p: ImagePrompt, width: number, height: number): void {
  const inImage = (x: number, y: number, what: string) => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`${what} (${x}, ${y}) is not a finite coordinate`);
    if (x < 0 || y < 0 || x > width || y > height)
      throw new Error(`${what} (${x}, ${y}) is outside the ${width}x${height} image`);
  };
  for (const pt of p.points ?? []) {
    inImage(pt.x, pt.y, 'point');
    if (pt.label !== 0 && pt.label !== 1)
      throw new Error(`point label ${pt.label} must be 1 (foreground) or 0 (background)`);
  }
  if (p.box) {
    const [x0, y0, x1, y1] = p.box;
    inImage(x0, y0, 'box corner');
    inImage(x1, y1, 'box corner');
    if (!(x1 > x0 && y1 > y0))
      throw new Error(`box [${p.box.join(', ')}] is empty or inverted (need x1 > x0 and y1 > y0)`);
  }
}

/** Host-side cap of one uploaded image band (f32 planes), below the binding limit. */
export const IMAGE_BAND_BYTES = 32 * 2 ** 20;

/** Rows [s0, s1) of an RGB image as planar float32 [3, s1 - s0, W] divided by 255 (rgbToPlanarFloat). */
function planarRows(img: RgbImage, s0: number, s1: number): Float32Array {
  if (s0 === 0 && s1 === img.height) return rgbToPlanarFloat(img);
  const w = img.width;
  const plane = (s1 - s0) * w;
  const out = new Float32Array(3 * plane);
  const d = img.data;
  for (let i = 0, j = 3 * s0 * w; i < plane; i++, j += 3) {
    out[i] = d[j] / 255;
    out[plane + i] = d[j + 1] / 255;
    out[2 * plane + i] = d[j + 2] / 255;
  }
  return out;
}

/**
 * RGB/255 resized to [1, 3, S, S] (antialiased bilinear on floats), uploaded and resized in bands of
 * rows so that no binding and no host array exceeds min(rt.maxBinding, IMAGE_BAND_BYTES): photos of
 * any size. Equal to resize() of the whole image (the bands use the same taps).
 */
export function resizeImageToInput(rt: Runtime, img: RgbImage, S: number): Tensor {
  const opts = { mode: 'bilinear', antialias: true } as const;
  const inHW = [img.height, img.width] as const;
  const bands = resizeRowBands(inHW, [S, S], 3, Math.min(rt.maxBinding, IMAGE_BAND_BYTES), opts);
  if (bands.length === 1) {
    const x = rt.upload(planarRows(img, 0, img.height), [1, 3, img.height, img.width], 'f32', 'image');
    const r = resize(rt, x, [S, S], opts);
    x.dispose();
    return r;
  }
  const r = rt.empty([1, 3, S, S], 'f32', 'image_resized');
  const rows = r.reshape([3 * S, S]);
  for (const b of bands) {
    const x = rt.upload(planarRows(img, b.s0, b.s1), [1, 3, b.s1 - b.s0, img.width], 'f32', 'image_band');
    const y = resizeBand(rt, x, inHW, [S, S], b, b.s0, opts);
    x.dispose();
    const n = b.r1 - b.r0;
    const yRows = y.reshape([3 * n, S]);
    for (let c = 0; c < 3; c++) {
      const src = yRows.narrow0(c * n, n);
      const dst = rows.narrow0(c * S + b.r0, n);
      rt.copy(src, dst, 'image_band_copy');
      src.dispose();
      dst.dispose();
    }
    yRows.dispose();
    y.dispose();
  }
  rows.dispose();
  return r;
}

/** Network input [1, 3, S, S]: RGB/255, antialiased bilinear resize on floats, ImageNet normalisation. */
export function preprocessImage(rt: Runtime, cfg: Sam2Config, img: RgbImage): Tensor {
  return rt.scope(() => normalizeInput(rt, resizeImageToInput(rt, img, cfg.image_size), cfg.preprocess));
}

/**
 * (x - mean) / std per RGB channel of x [B, 3, H, W] in 0..1, as the model's preprocessing does (cfg.preprocess).
 * Returns a new tensor; x is left to the caller.
 */
export function normalizeInput(rt: Runtime, x: Tensor, norm: Sam2Config['preprocess']): Tensor {
  const { mean, std } = norm;
  // uploaded once per runtime: per frame, a mid-graph upload would split the batch (Runtime.write flushes)
  const m = rt.constant(`image_mean ${mean.join(',')}`, () => rt.upload(mean, [1, 3, 1, 1], 'f32', 'image_mean'));
  const s = rt.constant(`image_std ${std.join(',')}`, () => rt.upload(std, [1, 3, 1, 1], 'f32', 'image_std'));
  const centred = binary(rt, x, m, 'sub');
  const y = binary(rt, centred, s, 'div'); // (x - mean) / std
  centred.dispose();
  return y;
}

export class ImagePredictor {
  private features: ImageFeatures | null = null;
  private embed: Tensor | null = null;
  private size: [number, number] = [0, 0];

  constructor(
    readonly rt: Runtime,
    readonly model: SAM2,
  ) {}

  preprocess(img: RgbImage): Tensor {
    return preprocessImage(this.rt, this.model.cfg, img);
  }

  /** Encode an image (kept until the next setImage / dispose). */
  setImage(img: RgbImage, tap?: (name: string, t: Tensor) => void): void {
    this.dispose();
    const rt = this.rt;
    const { features, embed } = rt.scope(() => {
      const input = this.preprocess(img);
      tap?.('input_image', input);
      const features = this.model.encodeImage(rt, input, tap);
      const embed = this.model.imageEmbedWithNoMem(rt, features);
      tap?.('image_embed_with_no_mem', embed);
      tap?.('high_res_feat0', features.highRes[0]);
      tap?.('high_res_feat1', features.highRes[1]);
      return { features, embed };
    });
    for (const t of [features.visionFeats, features.visionPos, ...features.highRes, embed]) untrack(t);
    this.features = features;
    this.embed = embed;
    this.size = [img.width, img.height];
  }

  /**
   * Run the prompt encoder + decoder; returns host arrays (selection as MaskDecoder.forward).
   * `{ logits: false }` skips the full-size f32 logits (empty arrays; the masks are still exact):
   * 4 bytes a pixel less on the host for large photos.
   */
  async predict(
    p: ImagePrompt,
    tap?: (name: string, t: Tensor) => void,
    opts: { logits?: boolean } = {},
  ): Promise<ImagePrediction> {
    if (!this.features || !this.embed) throw new Error('ImagePredictor.predict: call setImage first');
    const [W, H] = this.size;
    validatePrompt(p, W, H);
    const rt = this.rt;
    const model = this.model;
    const cfg = model.cfg;
    const S = cfg.image_size;
    const f = Math.fround;
    // box corners first (labels 2, 3), then clicks; coordinates scaled to the S x S input
    const pts: number[] = [];
    const labels: number[] = [];
    if (p.box) {
      const [x0, y0, x1, y1] = p.box;
      pts.push(x0, y0, x1, y1);
      labels.push(2, 3);
    }
    for (const pt of p.points ?? []) {
      pts.push(pt.x, pt.y);
      labels.push(pt.label);
    }
    const coords = new Float32Array(pts.length);
    for (let i = 0; i < pts.length; i += 2) {
      coords[i] = f(f(pts[i] / W) * S);
      coords[i + 1] = f(f(pts[i + 1] / H) * S);
    }
    const nUser = (p.points?.length ?? 0) + (p.box ? 2 : 0);
    const multimask = p.multimask ?? nUser <= 1;
    const grid = S / cfg.backbone_stride;
    const lowHW = 4 * grid;
    if (p.maskInput && p.maskInput.length !== lowHW * lowHW)
      throw new Error(`mask input has ${p.maskInput.length} values, expected ${lowHW}x${lowHW}`);

    const out = rt.scope(() => {
      const pe = model.sam_prompt_encoder;
      const sparse = pe.sparse(rt, labels.length ? { coords, labels: Int32Array.from(labels) } : null);
      const mask = p.maskInput ? rt.upload(p.maskInput, [1, 1, lowHW, lowHW], 'f32', 'mask_input') : null;
      const dense = pe.dense(rt, mask);
      const imagePe = pe.denseEmbeddingPe(rt);
      tap?.('prompt.sparse', sparse);
      tap?.('prompt.dense', dense);
      tap?.('decoder.image_pe', imagePe);
      const d = model.sam_mask_decoder.predict(rt, this.embed!, imagePe, sparse, dense, this.features!.highRes);
      tap?.('decoder.transformer_queries_out', d.queries);
      tap?.('decoder.transformer_keys_out', d.keys);
      tap?.('decoder.all_mask_logits', d.masks);
      tap?.('decoder.all_iou', d.iou);
      tap?.('decoder.mask_tokens_out', d.maskTokens);
      tap?.('decoder.object_score_logits', d.objectScore);
      return { masks: d.masks, iou: d.iou, obj: d.objectScore };
    });
    const [allLow, iouAll, obj] = await Promise.all([rt.read(out.masks), rt.read(out.iou), rt.read(out.obj)]);
    out.iou.dispose();
    out.obj.dispose();

    const m = model.sam_mask_decoder.numMaskTokens;
    const hw = lowHW * lowHW;
    const lows = Array.from({ length: m }, (_, i) => allLow.subarray(i * hw, (i + 1) * hw));
    const pp = cfg.postprocessing;
    const sel = selectMasks(lows, iouAll, multimask, {
      on: pp.dynamic_multimask_via_stability,
      delta: pp.dynamic_multimask_stability_delta,
      thresh: pp.dynamic_multimask_stability_thresh,
    });
    // the selected masks resized to the original size (bilinear, align_corners=False, no antialias),
    // in bands of rows read back one by one: no full-size tensor on the GPU for photos of any size
    const logits: Float32Array[] = [];
    const masks: Uint8Array[] = [];
    const planes = out.masks.reshape([m, 1, lowHW, lowHW]);
    for (const i of sel.maskIdx) {
      const one = planes.narrow0(i, 1);
      const r = await resizeToHost(rt, one, [H, W], {
        mode: 'bilinear',
        threshold: pp.image_mask_threshold,
        logits: opts.logits ?? true,
      });
      one.dispose();
      masks.push(r.masks[0]);
      logits.push(r.logits?.[0] ?? new Float32Array(0));
    }
    planes.dispose();
    out.masks.dispose();
    const lowRes = sel.maskIdx.map((i) => Float32Array.from(lows[i], (v) => Math.min(32, Math.max(-32, v))));
    const iou = Float32Array.from(sel.maskIdx, (i) => iouAll[i]);
    return {
      logits,
      masks,
      lowRes,
      iou,
      objectScore: obj[0],
      multimask,
      width: W,
      height: H,
      lowResSize: [lowHW, lowHW],
      best: argmax(iou),
    };
  }

  dispose(): void {
    if (this.features) {
      for (const t of [this.features.visionFeats, this.features.visionPos, ...this.features.highRes]) t.dispose();
      this.features = null;
    }
    this.embed?.dispose();
    this.embed = null;
  }
}
