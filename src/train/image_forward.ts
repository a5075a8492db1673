// Differentiable image-predictor forward (SAM2ImagePredictor path with autograd on): image encoder,
// L2 + no_mem_embed, prompt encoder, mask decoder with all mask tokens. Unlike the inference
// predictor nothing is selected or read back here: the loss picks the mask (SAM 2's training rule is
// min(focal·w + dice), not the predicted IoU). Call it with `rt.tape` set to record the graph.
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import type { PointPrompt } from '../model/prompt_encoder.js';
import type { ImageFeatures, SAM2 } from '../model/sam2.js';
import { Tracker } from '../model/tracker.js';

export interface DecoderOutputs {
  /** All mask logits [1, M, 4h, 4w] (token 0 = single-mask output, 1..3 = multimask). */
  masks: Tensor;
  /** Predicted IoU (after sigmoid) [1, M]. */
  iou: Tensor;
  /** Object-score logit [1, 1]. */
  objectScore: Tensor;
  /** Mask-token outputs [1, M, C] (object pointers are projected from these). */
  maskTokens: Tensor;
}

/**
 * Decoder on given features (Tracker.decode, the predictors' own call): `pixFeat` [1, C, h, w] (L2 +
 * no_mem_embed, or memory-conditioned), points in network-input pixels (null = no click: one padding
 * point, as SAM 2 does), an optional mask prompt [1, 1, 4h, 4w] and optional RobotSeg leading tokens.
 */
export function decodeMasks(
  rt: Runtime,
  tracker: Tracker,
  pixFeat: Tensor,
  f: ImageFeatures,
  points: PointPrompt | null,
  maskInput: Tensor | null = null,
  tokens?: Tensor,
): DecoderOutputs {
  const d = tracker.decode(pixFeat, f, points, maskInput, undefined, tokens);
  return { masks: d.masks, iou: d.iou, objectScore: d.obj, maskTokens: d.tokens };
}

/** img [1, 3, S, S] normalised -> decoder outputs of the image predictor (no memory). */
export function imageForward(
  rt: Runtime,
  model: SAM2,
  img: Tensor,
  points: PointPrompt | null,
  maskInput: Tensor | null = null,
): DecoderOutputs & { features: ImageFeatures } {
  const features = model.encodeImage(rt, img);
  const pix = model.imageEmbedWithNoMem(rt, features); // [1, C, h, w]
  return { ...decodeMasks(rt, new Tracker(rt, model), pix, features, points, maskInput), features };
}
