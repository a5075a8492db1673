// Node entry for the engine: adapter discovery + shaders from disk -> Runtime.
import { Runtime } from '../graph/runtime.js';
import { acquireNodeAdapter } from './adapter.js';
import { loadShaderLibrary } from './shaders.js';

export async function createNodeRuntime(
  opts: { flushEvery?: number; maxBindingBytes?: number } = {},
): Promise<Runtime> {
  const { device, description } = await acquireNodeAdapter();
  return new Runtime({
    device,
    adapter: description,
    shaders: loadShaderLibrary(),
    flushEvery: opts.flushEvery,
    maxBindingBytes: opts.maxBindingBytes,
    // ROBOTSEG_COMPILE=sync: blocking pipeline creation (to compare; see README "First run")
    asyncCompile: process.env.ROBOTSEG_COMPILE !== 'sync',
  });
}
