// One Runtime per test file. Without an adapter, GPU tests skip on a user's machine (with the
// reason printed) but FAIL under CI=true: CI installs the software adapter and must use it.
import { createNodeRuntime } from '../../src/node/runtime.js';
import type { Runtime } from '../../src/graph/runtime.js';

let rt: Runtime | null | undefined;
export let noGpuReason = '';

export async function testRuntime(): Promise<Runtime | null> {
  if (rt !== undefined) return rt;
  try {
    rt = await createNodeRuntime();
  } catch (e) {
    if (process.env.CI === 'true') throw new Error(`CI=true but no WebGPU adapter: ${(e as Error).message}`);
    noGpuReason = (e as Error).message;
    console.warn(`[gpu tests skipped] ${noGpuReason.split('\n')[0]}`);
    rt = null;
  }
  return rt;
}
