/// <reference types="@webgpu/types" preserve="true" />
// The host-agnostic public API: everything here runs wherever WebGPU does (no Node and no DOM APIs).
// Both host entries re-export it: src/node/index.ts (package condition `node`) and src/browser/index.ts
// (`browser` and `default`). These lists ARE the public surface: a module not named here or in a host
// entry is internal and unreachable through the package's `exports`. To publish something new, add a
// line to the matching section (and to test/package/consumer.test.ts's API list).

// --- Runtime: a GPUDevice, its shader library and buffer pool (create one with createNodeRuntime /
// createBrowserRuntime, or from your own device: new Runtime({ device, adapter: describeAdapter(a, 'mine'),
// shaders: bundledShaders() }) with the browser entry's shader map)
export { type AdapterDescription, Runtime, type RuntimeOptions } from './graph/runtime.js';
export { describeAdapter, requestDevice } from './graph/device.js';
export { Tensor } from './graph/tensor.js';
export type { DType } from './graph/dtype.js';

// --- Images and overlays (8-bit RGB, row-major)
export { type RgbImage, rgbaToRgb, rgbToPlanarFloat } from './image/rgb.js';
export { drawOverlay, type OverlayPrompt, PALETTE } from './image/overlay.js';

// --- Model configs and weights (safetensors and PyTorch .pt, from bytes or any ByteSource)
export { BUILTIN_CONFIGS, parseConfig, SAM21_HIERA_T, type Sam2Config, validateConfig } from './model/config.js';
export { ConfigError, type ResolvedConfig, ROBOTSEG_KEY, resolveConfig } from './model/resolve_config.js';
export { isRobotSegConfig, ROBOTSEG_HIERA_T } from './model/robotseg_config.js';
export { type UploadOptions, type WeightEntry, WeightStore, uploadWeights } from './graph/weights.js';
export {
  type ByteSource,
  bytesSource,
  formatBytes,
  type TensorInfo,
  type WeightDType,
  type WeightsFile,
  WeightsFormatError,
} from './graph/weights_io.js';
export { openSafetensors, openSafetensorsStream, SafetensorsFile, serializeSafetensors } from './graph/safetensors.js';
export { CheckpointFile, readCheckpoint } from './convert/pt.js';

// --- Models and predictors
export { type ImageFeatures, SAM2 } from './model/sam2.js';
export { RobotSeg } from './model/robotseg.js';
export { halfPrecisionKeys, type Precision, weightDtypes } from './model/module.js';
export {
  type ImagePrediction,
  ImagePredictor,
  type ImagePrompt,
  type Point,
  preprocessImage,
} from './model/image_predictor.js';
export {
  type FrameResult,
  type FrameSource,
  type TrackStage,
  VideoPredictor,
  type VideoPredictorOptions,
} from './model/video_predictor.js';
// RobotSeg on single images (a one-frame video, one object per target: 'robot' | 'arm' | 'gripper')
export {
  DEFAULT_TARGET,
  ROBOT_TARGETS,
  type RobotImagePrompt,
  type RobotImageResult,
  RobotSegImagePredictor,
} from './model/robotseg_image_predictor.js';

// --- Training (RobotSeg's label-efficient fine-tuning)
export {
  DEFAULT_TRAIN_OPTIONS,
  type StepLog,
  type TrainDataSource,
  Trainer,
  type TrainOptions,
} from './train/trainer.js';
export type { PromptMode, TrainVideo } from './train/data.js';

// --- Evaluation (J&F as the DAVIS 2017 toolkit and the SA-V evaluator compute it)
export {
  combineResults,
  type EvalOptions,
  type EvalResult,
  evaluate,
  type ObjectResult,
  type Protocol,
  type SequenceResult,
  type Summary,
} from './eval/evaluate.js';
export { type CountBackend, cpuBackend } from './eval/backend.js';
export { GpuCountBackend } from './eval/gpu_backend.js';
export type { SequenceSpec } from './eval/layout.js';
export { decodeLabelPng, type LabelMap } from './eval/labels.js';
export { guidedRefine } from './model/refine.js';

// --- The image decoder of every host (PNG/JPEG -> the RGB bytes of python3-pil's convert('RGB')).
export {
  type DecodedImage,
  type DecodeOptions,
  decodeImageBytes,
  ImageDecodeError,
  imageSize,
  applyOrientation,
  exifOrientation,
} from './image/decode.js';
