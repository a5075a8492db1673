// robotseg demo page: weights by URL or file (progress bar), an image, a frame sequence, a video file
// or the webcam; click / box prompts; masks overlaid live while a video plays (streaming API);
// per-stage timings. Query parameters: ?weights=URL&config=URL|NAME&image=URL&frames=URL,URL,…
//
// This file: prompts, automatic mode, weights and the wiring of the controls; the rest by job:
// engine.ts (runtime, model, task queue), state.ts (the current source and object), sources.ts
// (opening and stepping images, frames, video / webcam), draw.ts (canvas drawing), input.ts (clicks and
// box drags), dom.ts (elements, status, timings), hooks.ts (window.__robotseg, read by
// test/browser/demo.test.ts). The model work itself is src/model's predictors.
import {
  BUILTIN_CONFIGS,
  createBrowserRuntime,
  type FrameResult,
  formatBytes,
  type LoadProgress,
  loadSam2,
  type Point,
  RobotSeg,
  RobotSegImagePredictor,
  rgbFromUrl,
  type VideoPredictor,
} from '../src/browser/index.js';
import { $, autoMode, fail, progressEl, setStatus, timing } from './dom.js';
import { fitCanvas, type Prompts, redraw, showDrag } from './draw.js';
import { model, rt, run, setModel, setRuntime, weights } from './engine.js';
import { type Box, hooks, reportFrame } from './hooks.js';
import { attachPointerInput } from './input.js';
import {
  encodeImage,
  frameVp,
  openFiles,
  openFrames,
  openImage,
  openWebcam,
  predictImage,
  pushVideoFrame,
  showFrame,
  togglePlay,
  trackFrames,
  unbindModel,
  videoVp,
} from './sources.js';
import { nextObject, objId, resetObject, source, sourceSize } from './state.js';

// ------------------------------------------------------------------------------------ prompts

// ------------------------------------------------------------------------------------ clicks and boxes

/** The current object's prompts on the shown frame (created empty). */
function currentPrompts(): Prompts | null {
  const s = source;
  if (!s) return null;
  if (s.kind === 'image') return s.prompts;
  const map =
    s.kind === 'frames' ? (s.prompts.get(s.shown) ?? s.prompts.set(s.shown, new Map()).get(s.shown)!) : s.prompts;
  if (!map.has(objId)) map.set(objId, { points: [], box: null });
  return map.get(objId)!;
}

/** A click or a box (source pixels) for the current object on the shown frame. */
async function addPrompt(p: { point?: Point; box?: Box }): Promise<void> {
  const s = source;
  if (!s) return;
  if (!model) {
    fail(new Error('load weights first'));
    return;
  }
  if (autoMode()) {
    setStatus('automatic mode: choose a target and press Find (switch to clicks / box to prompt by hand)');
    return;
  }
  const pr = currentPrompts()!;
  if (p.point) pr.points.push(p.point);
  if (p.box) {
    pr.box = p.box;
    pr.points = [];
  }
  redraw();
  if (s.kind === 'image') {
    if (s.encoded) await run('decoding', predictImage);
    return;
  }
  await run('prompting', async () => {
    const t0 = performance.now();
    let frame: number;
    let vp: VideoPredictor;
    if (s.kind === 'frames') {
      frame = s.shown;
      vp = frameVp(s);
    } else {
      // prompts go on the frame the user sees: push it first if the stream has not seen it yet
      if (!s.framePushed) await pushVideoFrame(false);
      frame = s.frameIndex;
      vp = videoVp(s);
      if (hooks.recordStream)
        hooks.stream.push({ type: 'prompt', frame, objId, points: p.point ? [p.point] : [], box: p.box ?? null });
    }
    const r = await vp.addPoints(frame, objId, p.box ? { box: p.box } : { points: [p.point!] });
    const ms = performance.now() - t0;
    timing('prompt (frame)', ms);
    reportFrame('click', frame, r, ms, pr);
    showResult(frame, r);
  });
}

/** Show an object's new result on a frame of a frame sequence or a stream. */
function showResult(frame: number, r: FrameResult): void {
  const s = source;
  if (s?.kind === 'frames') {
    const m = s.masks.get(frame) ?? s.masks.set(frame, new Map()).get(frame)!;
    m.set(r.objId, r);
  } else if (s?.kind === 'video') {
    s.results = [...s.results.filter((x) => x.objId !== r.objId), r];
  }
  redraw();
}

function clearPrompts(): void {
  void run('clearing', async () => {
    const s = source;
    if (!s) return;
    if (s.kind === 'image') {
      s.prompts = { points: [], box: null };
      s.result = null;
      s.auto = null;
    } else if (s.kind === 'frames') {
      s.vp?.reset();
      s.masks.clear();
      s.prompts.clear();
    } else {
      s.vp?.reset();
      s.results = [];
      s.prompts.clear();
      s.frameIndex = -1;
      s.framePushed = false;
    }
    resetObject();
    redraw();
  });
}

/** Prompts from now on are for a new object (frames and video; the image predictor segments one). */
function newObject(): void {
  if (source?.kind !== 'image') nextObject();
}

/** The mode radio changed: back to clicks / box, an image not yet encoded is encoded now. */
function modeChanged(mode: string): void {
  if (mode === 'auto') setStatus('automatic mode: choose a target and press Find');
  if (mode === 'prompts' && source?.kind === 'image' && !source.encoded && model) void encodeImage();
}

// ------------------------------------------------------------------------------------ automatic mode (RobotSeg)

const TARGET_LABELS: Record<string, string> = { robot: 'whole robot', arm: 'arm', gripper: 'gripper' };

/** Automatic mode is offered only for RobotSeg weights (its class tokens name the targets). */
function enableAuto(vocab: string[] | null): void {
  const sel = $<HTMLSelectElement>('auto-target');
  if (vocab) {
    const keep = sel.value;
    sel.replaceChildren(
      ...vocab.map((c) => {
        const o = document.createElement('option');
        o.value = c;
        o.textContent = TARGET_LABELS[c] ?? c;
        return o;
      }),
    );
    sel.value = vocab.includes(keep) ? keep : vocab.includes('robot') ? 'robot' : vocab[0];
  } else if (autoMode()) {
    (document.querySelector('input[name=mode][value=prompts]') as HTMLInputElement).checked = true;
  }
  for (const id of ['mode-auto', 'auto-target', 'auto-run']) $<HTMLInputElement>(id).disabled = !vocab;
  $('auto-wrap').title = vocab
    ? 'RobotSeg automatic mode: segment the selected target without prompts'
    : 'needs RobotSeg weights';
}

/** RobotSeg's add_new_robot on the shown frame (an image is a one-frame video). */
function findTarget(): Promise<unknown> {
  const category = $<HTMLSelectElement>('auto-target').value;
  return run(`finding the ${TARGET_LABELS[category] ?? category}`, async () => {
    const s = source;
    if (!s || !model || !rt) throw new Error(!model ? 'load weights first' : 'open an image, frames or a video first');
    if (!(model instanceof RobotSeg)) throw new Error('automatic mode needs RobotSeg weights');
    const t0 = performance.now();
    let frame: number;
    let r: FrameResult;
    if (s.kind === 'image') {
      frame = 0;
      [{ result: r }] = await new RobotSegImagePredictor(rt, model).predict(s.img, [category]);
      s.prompts = { points: [], box: null };
      s.result = null;
      s.auto = r;
    } else if (s.kind === 'frames') {
      frame = s.shown;
      r = await frameVp(s).addTarget(frame, objId, category);
    } else {
      if (!s.framePushed) await pushVideoFrame(false);
      frame = s.frameIndex;
      r = await videoVp(s).addTarget(frame, objId, category);
      if (hooks.recordStream) hooks.stream.push({ type: 'target', frame, objId, category });
    }
    const ms = performance.now() - t0;
    timing('automatic (frame)', ms);
    reportFrame('auto', frame, r, ms, null, category);
    showResult(frame, r);
  });
}

// ------------------------------------------------------------------------------------ weights

/** Offer the built-in configs by name. */
function listConfigs(): void {
  for (const name of Object.keys(BUILTIN_CONFIGS)) {
    const o = document.createElement('option');
    o.value = o.textContent = name;
    $('config-select').append(o);
  }
}

let configFileText: string | null = null;

/** The config file picker (null: none). */
async function setConfigFile(f: File | null): Promise<void> {
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

function loadWeights(what: string | File): Promise<unknown> {
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

// ------------------------------------------------------------------------------------ wiring

const fileOf = (e: Event) => (e.target as HTMLInputElement).files?.[0] ?? null;

$('load-url').addEventListener('click', () => {
  const url = $<HTMLInputElement>('weights-url').value.trim();
  if (url) void loadWeights(url);
});
$('weights-file').addEventListener('change', (e) => {
  const f = fileOf(e);
  if (f) void loadWeights(f);
});
$('config-file').addEventListener('change', (e) => setConfigFile(fileOf(e)).catch(fail));
$('open-file').addEventListener(
  'change',
  (e) => void openFiles(Array.from((e.target as HTMLInputElement).files ?? [])),
);
$('webcam').addEventListener('click', () => void openWebcam());
$('clear').addEventListener('click', clearPrompts);
$('new-object').addEventListener('click', newObject);
$('track').addEventListener('click', () => void trackFrames());
$('auto-run').addEventListener('click', () => void findTarget());
$('play').addEventListener('click', togglePlay);
$('frame-slider').addEventListener('input', (e) => showFrame(Number((e.target as HTMLInputElement).value)));
for (const r of Array.from(document.querySelectorAll<HTMLInputElement>('input[name=mode]')))
  r.addEventListener('change', () => {
    if (r.checked) modeChanged(r.value);
  });
showDrag(
  attachPointerInput({
    size: sourceSize,
    redraw,
    prompt: (p) => void addPrompt(p),
  }),
);
window.addEventListener('resize', () => {
  const s = sourceSize();
  if (s) {
    fitCanvas(s[0], s[1]);
    redraw();
  }
});

async function start(): Promise<void> {
  listConfigs();
  const q = new URLSearchParams(location.search);
  if (q.get('weights')) $<HTMLInputElement>('weights-url').value = q.get('weights')!;
  if (q.get('config')) $<HTMLInputElement>('config-url').value = q.get('config')!;
  try {
    const r = await createBrowserRuntime();
    setRuntime(r);
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
    hooks.status = 'idle';
    setStatus('load weights to start');
  } catch (e) {
    $('adapter').textContent = 'WebGPU: unavailable';
    fail(e);
    return;
  }
  const image = q.get('image');
  const frames = q.get('frames');
  try {
    if (image) await openImage(await rgbFromUrl(image));
    else if (frames) await openFrames(await Promise.all(frames.split(',').map((u) => rgbFromUrl(u.trim()))));
  } catch (e) {
    fail(e);
  }
  if (q.get('weights')) await loadWeights(q.get('weights')!);
}

void start();
