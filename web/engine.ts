// Engine state of the demo page: the WebGPU runtime, the loaded model and its weights (read anywhere as
// live bindings, set only through openRuntime / setModel), and the queue that runs engine work one task
// at a time, in order, with the status line and the test hooks' status kept in step.
import { createBrowserRuntime, type LoadedWeights, type Runtime, type SAM2 } from '../src/browser/index.js';
import { $, fail, setStatus } from './dom.js';
import { hooks } from './hooks.js';

export let rt: Runtime | null = null;
export let model: SAM2 | null = null;
export let weights: LoadedWeights | null = null;

/** Create the page's runtime on the browser's adapter; the header and hooks.adapter describe it. */
export async function openRuntime(): Promise<Runtime> {
  const r = await createBrowserRuntime();
  rt = r;
  const a = r.adapter;
  hooks.adapter = {
    ...a,
    features: [...r.features],
    maxStorageBuffersPerShaderStage: r.limits.maxStorageBuffersPerShaderStage,
    maxStorageBufferBindingSize: r.limits.maxStorageBufferBindingSize,
    maxBufferSize: r.limits.maxBufferSize,
  };
  $('adapter').textContent =
    `WebGPU: ${a.vendor || '?'} ${a.architecture || ''} ${a.description || ''}${a.software ? ' (software adapter: slow)' : ''}; f16 ${r.hasF16 ? 'yes' : 'no'}`;
  return r;
}

/** The loaded model and its weights (null, null: unloaded). */
export function setModel(m: SAM2 | null, w: LoadedWeights | null): void {
  model = m;
  weights = w;
}

/** Engine work runs one task at a time, in order. */
let queue: Promise<unknown> = Promise.resolve();
/** Engine tasks queued or running. */
export let pending = 0;
export function run<T>(label: string, fn: () => Promise<T>): Promise<T | undefined> {
  pending++;
  const p = queue.then(async () => {
    if (hooks.status === 'ready' || hooks.status === 'idle' || hooks.status === 'error') {
      hooks.status = 'busy';
      hooks.error = null;
    }
    setStatus(`${label}…`);
    try {
      const r = await fn();
      if (hooks.status === 'busy') setStatus('ready');
      return r;
    } catch (e) {
      fail(e);
      return undefined;
    } finally {
      if (--pending === 0 && hooks.status === 'busy') hooks.status = model ? 'ready' : 'idle';
    }
  });
  queue = p;
  return p;
}

hooks.idle = () => queue.then(() => undefined);
