// The official SAM 2 video loader's preprocessing (sam2/utils/misc.py, _load_img_as_tensor and
// load_video_frames_from_jpg_images): PIL `img.convert("RGB").resize((S, S))` (BICUBIC on uint8),
// `/ 255.0` in float64 stored as float32, then `(x - mean) / std` in float32. The default
// preprocessing (preprocessImage: antialiased bilinear on floats, the image predictor's transform) is
// what the golden tensors use; this one reproduces the video predictor's frames bit-exactly.
import type { RgbImage } from '../image/rgb.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { normalizePacked, packRgb, resizePil } from '../kernels/resize_pil.js';
import type { Sam2Config } from './config.js';

/** Frame -> normalised input [1, 3, S, S] (f32), as the official video predictor loads it. */
export function preprocessOfficialVideo(rt: Runtime, cfg: Sam2Config, img: RgbImage): Tensor {
  const S = cfg.image_size;
  const { mean, std } = cfg.preprocess;
  if (img.width <= 0 || img.height <= 0)
    throw new Error(`preprocessOfficialVideo: empty ${img.width}x${img.height} image`);
  return rt.scope(() => {
    const x = rt.upload(packRgb(img), [img.height, img.width], 'u32', 'frame rgb');
    const r = resizePil(rt, x, [S, S]);
    return normalizePacked(rt, r, mean, std);
  });
}
