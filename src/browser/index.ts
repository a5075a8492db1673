// Browser entry (package.json "browser" condition): navigator.gpu through the same Runtime, shaders
// bundled as string literals (src/browser/shader_bundle.ts), weights streamed from a URL or a picked File, and
// the host-agnostic model API. Nothing here may import src/node/* or node: modules (web/vite.config.ts
// fails the build if it does).
import { describeAdapter, requestDevice } from '../graph/device.js';
import { Runtime } from '../graph/runtime.js';
import { SHADERS } from './shader_bundle.js';

/** The engine's WGSL library (name -> source), bundled with the package: what a Runtime's `shaders` option takes. */
export function bundledShaders(): Record<string, string> {
  return { ...SHADERS };
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
// Browser loaders: weights by URL (streamed) or File, images from DOM sources
export {
  type ConfigArg,
  createSam2,
  type LoadedWeights,
  type LoadProgress,
  type LoadSam2Options,
  loadSam2,
  loadWeightsFromFile,
  loadWeightsFromUrl,
  modelFor,
  type OpenedWeights,
  openWeightsFromFile,
  openWeightsFromUrl,
  type ProgressCallback,
  uploadOpenedWeights,
  blobSource,
} from './weights.js';
export { rgbFromBlob, rgbFromSource, rgbFromUrl, rgbToImageData } from './image.js';
