// Browser entry (package.json "browser" condition): navigator.gpu through the same Runtime, shaders
// bundled by the bundler (Vite's import.meta.glob), weights streamed from a URL or a picked File, and
// the host-agnostic model API. Nothing here may import src/node/* or node: modules (web/vite.config.ts
// fails the build if it does).
import { describeAdapter, requestDevice } from '../graph/device.js';
import { Runtime } from '../graph/runtime.js';

const modules = import.meta.glob('../../shaders/**/*.wgsl', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

export function bundledShaders(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, src] of Object.entries(modules))
    out[path.replace(/^.*\/shaders\//, '').replace(/\.wgsl$/, '')] = src;
  return out;
}

export interface BrowserRuntimeOptions {
  /** Default navigator.gpu. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Submit after this many queued commands. */
  flushEvery?: number;
}

/**
 * A Runtime on the browser's WebGPU adapter. Limits are requested at the adapter's maximum; where
 * the adapter grants no more than the WebGPU defaults (128 MiB per storage binding), weights are
 * packed into several arenas and large tensors split (src/graph/weights.ts). Software adapters
 * (SwiftShader, WARP) select the software kernel variants.
 */
export async function createBrowserRuntime(gpuOrOpts: GPU | BrowserRuntimeOptions = {}): Promise<Runtime> {
  const opts: BrowserRuntimeOptions =
    'requestAdapter' in gpuOrOpts ? { gpu: gpuOrOpts as GPU } : (gpuOrOpts as BrowserRuntimeOptions);
  const gpu = opts.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (!gpu)
    throw new Error(
      'WebGPU is not available in this browser (navigator.gpu is undefined; it needs a secure context: https or localhost)',
    );
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned no adapter');
  const device = await requestDevice(adapter);
  return new Runtime({
    device,
    adapter: describeAdapter(adapter, 'browser'),
    shaders: bundledShaders(),
    flushEvery: opts.flushEvery,
  });
}

export * from '../index.js';
export * from './image.js';
export * from './weights.js';
export { type RgbImage, rgbaToRgb, rgbToPlanarFloat } from '../graph/image.js';
export { drawOverlay, PALETTE, type OverlayPrompt } from '../graph/overlay.js';
export { type WeightEntry, WeightStore, uploadWeights, type UploadOptions } from '../graph/weights.js';
export {
  type WeightsFile,
  WeightsFormatError,
  type ByteSource,
  bytesSource,
  formatBytes,
} from '../graph/weights_io.js';
export { openSafetensors, openSafetensorsStream, serializeSafetensors, SafetensorsFile } from '../graph/safetensors.js';
export { readCheckpoint, CheckpointFile } from '../convert/pt.js';
export { BUILTIN_CONFIGS, parseConfig, SAM21_HIERA_T, type Sam2Config, validateConfig } from '../model/config.js';
export { ConfigError, resolveConfig, ROBOTSEG_KEY, type ResolvedConfig } from '../model/resolve_config.js';
export { SAM2, type ImageFeatures } from '../model/sam2.js';
export { RobotSeg } from '../model/robotseg.js';
export { isRobotSegConfig } from '../model/robotseg_config.js';
export {
  DEFAULT_TARGET,
  ROBOT_TARGETS,
  type RobotImagePrompt,
  type RobotImageResult,
  RobotSegImagePredictor,
} from '../model/robotseg_image_predictor.js';
export {
  ImagePredictor,
  type ImagePrediction,
  type ImagePrompt,
  type Point,
  preprocessImage,
} from '../model/image_predictor.js';
export {
  VideoPredictor,
  type FrameResult,
  type FrameSource,
  type VideoPredictorOptions,
} from '../model/video_predictor.js';
