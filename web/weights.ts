// Loading weights (loadSam2: a URL, streamed, or a picked file, with a progress bar) and choosing their
// config: a config URL or inline JSON, a built-in name, a picked JSON file, or auto (metadata, or
// inferred from the shapes). A new model drops whatever the source held of the previous one.
import { BUILTIN_CONFIGS, formatBytes, type LoadProgress, loadSam2, RobotSeg } from '../src/browser/index.js';
import { $, autoMode, progressEl, setStatus, timing } from './dom.js';
import { rt, run, setModel, weights } from './engine.js';
import { hooks } from './hooks.js';
import { enableAuto } from './prompts.js';
import { encodeImage, unbindModel } from './sources.js';
import { source } from './state.js';

/** Offer the built-in configs by name. */
export function listConfigs(): void {
  for (const name of Object.keys(BUILTIN_CONFIGS)) {
    const o = document.createElement('option');
    o.value = o.textContent = name;
    $('config-select').append(o);
  }
}

let configFileText: string | null = null;

/** The config file picker (null: none). */
export async function setConfigFile(f: File | null): Promise<void> {
  configFileText = f ? await f.text() : null;
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`config ${url}: HTTP ${res.status} ${res.statusText}`);
  return res.text();
}

/** What loadSam2's `config` gets: the config URL box (a URL, JSON or a built-in name), the file, the list. */
async function configArg(): Promise<string | undefined> {
  const url = $<HTMLInputElement>('config-url').value.trim();
  if (url) return url.startsWith('{') || url in BUILTIN_CONFIGS ? url : fetchText(url);
  if (configFileText) return configFileText;
  return $<HTMLSelectElement>('config-select').value || undefined;
}

export function loadWeights(what: string | File): Promise<unknown> {
  return run('loading weights', async () => {
    if (!rt) throw new Error('WebGPU is not available');
    hooks.status = 'loading';
    hooks.error = null;
    unbindModel();
    weights?.store.destroy();
    setModel(null, null);
    enableAuto(null);
    progressEl.value = 0;
    const info = $('weights-info');
    const name = typeof what === 'string' ? what : what.name;
    const t0 = performance.now();
    const onProgress = (p: LoadProgress) => {
      progressEl.value = p.fraction;
      const bytes = p.totalBytes
        ? `${formatBytes(p.bytesLoaded)} / ${formatBytes(p.totalBytes)}`
        : formatBytes(p.bytesLoaded);
      info.textContent = `${name}: ${bytes}, ${p.tensorsDone}/${p.tensorsTotal || '?'} tensors`;
    };
    const loaded = await loadSam2(rt, what, {
      config: await configArg(),
      onProgress,
      onConfig: (r) => {
        info.textContent = `${name}: config ${r.config.name} (${r.source})`;
      },
    });
    const ms = performance.now() - t0;
    timing('weights load', ms);
    setModel(loaded.model, loaded.weights);
    const w = loaded.weights;
    hooks.weights = {
      name,
      format: w.format,
      tensors: w.store.entries.size,
      bytes: w.bytes,
      config: loaded.config.name,
      configSource: loaded.source,
      hasRobotSeg: w.hasRobotSeg,
      loadMs: ms,
    };
    const arenas = w.store.arenas.length;
    info.textContent = `${name}: ${w.format}, ${w.store.entries.size} tensors, ${formatBytes(w.store.bytes)} on the GPU (${arenas} arena${arenas > 1 ? 's' : ''}), config ${loaded.config.name} (${loaded.source})`;
    enableAuto(loaded.model instanceof RobotSeg ? loaded.model.spec.classVocab : null);
    hooks.status = 'ready';
    setStatus('ready');
    if (source?.kind === 'image' && !autoMode()) void encodeImage();
  });
}
