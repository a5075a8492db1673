// Host-agnostic core exports (no Node APIs here).
export * from './graph/dtype.js';
export * from './graph/tensor.js';
export * from './graph/runtime.js';
export * from './graph/kernel.js';
export * from './graph/autograd.js';
export * from './graph/device.js';
// The image decoder of every host (PNG/JPEG -> the RGB bytes of python3-pil's convert('RGB')).
export {
  type DecodedImage,
  type DecodeOptions,
  decodeImageBytes,
  ImageDecodeError,
  imageSize,
  applyOrientation,
  exifOrientation,
} from './image/decode.js';
