// Browser entry: navigator.gpu through the same Runtime; shaders bundled by the bundler (Vite).
import { describeAdapter, requestDevice } from '../graph/device.js';
import { Runtime } from '../graph/runtime.js';

const modules = import.meta.glob('../../shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export function bundledShaders(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, src] of Object.entries(modules)) out[path.replace(/^.*\/shaders\//, '').replace(/\.wgsl$/, '')] = src;
  return out;
}

export async function createBrowserRuntime(gpu: GPU = navigator.gpu): Promise<Runtime> {
  if (!gpu) throw new Error('WebGPU is not available in this browser (navigator.gpu is undefined)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned no adapter');
  const device = await requestDevice(adapter);
  return new Runtime({ device, adapter: describeAdapter(adapter, 'browser'), shaders: bundledShaders() });
}

export * from '../index.js';
