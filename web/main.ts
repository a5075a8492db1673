// robotseg demo page: weights by URL or file (progress bar), an image, a frame sequence, a video file
// or the webcam; click / box prompts; masks overlaid live while a video plays (streaming API);
// per-stage timings. Query parameters: ?weights=URL&config=URL|NAME&image=URL&frames=URL,URL,…
//
// This file: the sources (image, frames, video / webcam), prompts, automatic mode, redraw, weights and
// the wiring of the controls; the rest by job: engine.ts (runtime, model, task queue), hooks.ts
// (window.__robotseg, read by test/browser/demo.test.ts), dom.ts (elements, status, timings), draw.ts
// (canvas drawing), input.ts (clicks and box drags). The model work itself is src/model's predictors.
import {
  BUILTIN_CONFIGS,
  createBrowserRuntime,
  type FrameResult,
  type FrameSource,
  formatBytes,
  ImagePredictor,
  type ImagePrediction,
  type LoadProgress,
  loadSam2,
  type Point,
  type RgbImage,
  rgbFromBlob,
  rgbFromSource,
  rgbFromUrl,
  RobotSeg,
  RobotSegImagePredictor,
  VideoPredictor,
} from '../src/browser/index.js';
import { $, ctx, fail, progressEl, setStatus, timing, view } from './dom.js';
import { color, drawMask, drawPrompts, drawRgb, fitCanvas, type Prompts } from './draw.js';
import { attachPointerInput } from './input.js';
import { model, pending, rt, run, setModel, setRuntime, weights } from './engine.js';
import { type Box, type FrameReport, hashRgb, hooks, report, toBase64 } from './hooks.js';

// ------------------------------------------------------------------------------------ sources

type Source =
  | {
      kind: 'image';
      img: RgbImage;
      encoded: boolean;
      predictor: ImagePredictor | null;
      prompts: Prompts;
      result: ImagePrediction | null;
      auto: FrameResult | null;
    }
  | {
      kind: 'frames';
      imgs: RgbImage[];
      shown: number;
      vp: VideoPredictor | null;
      masks: Map<number, Map<number, FrameResult>>;
      prompts: Map<number, Map<number, Prompts>>;
    }
  | {
      kind: 'video';
      el: HTMLVideoElement;
      live: boolean;
      stream: MediaStream | null;
      vp: VideoPredictor | null;
      frame: RgbImage | null;
      framePushed: boolean;
      frameIndex: number;
      results: FrameResult[];
      prompts: Map<number, Prompts>;
      playing: boolean;
    };

let source: Source | null = null;
let objId = 1;

function disposeSource(): void {
  if (!source) return;
  if (source.kind === 'image') source.predictor?.dispose();
  if (source.kind === 'frames') source.vp?.reset();
  if (source.kind === 'video') {
    source.playing = false;
    source.el.pause();
    source.stream?.getTracks().forEach((t) => t.stop());
    if (source.el.src.startsWith('blob:')) URL.revokeObjectURL(source.el.src);
    source.vp?.reset();
  }
  source = null;
}

function describeSource(): void {
  const info = $('source-info');
  $<HTMLButtonElement>('track').disabled = source?.kind !== 'frames';
  $<HTMLButtonElement>('play').disabled = source?.kind !== 'video';
  $('frame-row').hidden = source?.kind !== 'frames';
  if (!source) {
    info.textContent = 'no input';
    hooks.source = null;
    return;
  }
  if (source.kind === 'image') {
    info.textContent = `image ${source.img.width}x${source.img.height}`;
    hooks.source = {
      kind: 'image',
      width: source.img.width,
      height: source.img.height,
      frames: 1,
      rgbHash: [hashRgb(source.img)],
    };
  } else if (source.kind === 'frames') {
    const { width, height } = source.imgs[0];
    info.textContent = `${source.imgs.length} frames ${width}x${height}`;
    hooks.source = { kind: 'frames', width, height, frames: source.imgs.length, rgbHash: source.imgs.map(hashRgb) };
    const slider = $<HTMLInputElement>('frame-slider');
    slider.max = String(source.imgs.length - 1);
    slider.value = String(source.shown);
    $('frame-label').textContent = `frame ${source.shown + 1} / ${source.imgs.length}`;
  } else {
    info.textContent = `${source.live ? 'webcam' : 'video'} ${source.el.videoWidth}x${source.el.videoHeight}`;
    hooks.source = {
      kind: source.live ? 'webcam' : 'video',
      width: source.el.videoWidth,
      height: source.el.videoHeight,
      frames: 0,
      rgbHash: [],
    };
    $('play').textContent = source.playing ? 'Pause' : 'Play';
  }
}

async function openImage(img: RgbImage): Promise<void> {
  disposeSource();
  objId = 1;
  $('object-label').textContent = 'object 1';
  source = {
    kind: 'image',
    img,
    encoded: false,
    predictor: null,
    prompts: { points: [], box: null },
    result: null,
    auto: null,
  };
  describeSource();
  fitCanvas(img.width, img.height);
  redraw();
  if (model && !autoMode()) await encodeImage(); // automatic mode runs its own (video) encoder
}

function encodeImage(): Promise<unknown> {
  return run('encoding image', async () => {
    const s = source;
    if (s?.kind !== 'image' || !model || !rt) return;
    s.predictor?.dispose();
    s.predictor = new ImagePredictor(rt, model);
    const t0 = performance.now();
    s.predictor.setImage(s.img);
    await rt.sync();
    timing('image encode', performance.now() - t0);
    s.encoded = true;
    hooks.encoded++;
    if (s.prompts.points.length || s.prompts.box) await predictImage();
  });
}

async function predictImage(): Promise<void> {
  const s = source;
  if (s?.kind !== 'image' || !s.predictor || !s.encoded) return;
  const prompt = { points: s.prompts.points.slice(), box: s.prompts.box };
  const t0 = performance.now();
  const r = await s.predictor.predict({ points: prompt.points, box: prompt.box ?? undefined });
  const ms = performance.now() - t0;
  timing('prompt + decode', ms);
  s.result = r;
  report({
    kind: 'image',
    prompt,
    multimask: r.multimask,
    best: r.best,
    iou: Array.from(r.iou),
    objectScore: r.objectScore,
    lowRes: r.lowRes,
    masks: r.masks,
    decodeMs: ms,
  });
  redraw();
}

function framesSource(imgs: RgbImage[]): FrameSource {
  return { numFrames: imgs.length, width: imgs[0].width, height: imgs[0].height, frame: async (i) => imgs[i] };
}

async function openFrames(imgs: RgbImage[]): Promise<void> {
  const { width, height } = imgs[0];
  const bad = imgs.findIndex((im) => im.width !== width || im.height !== height);
  if (bad >= 0)
    throw new Error(`frame ${bad} is ${imgs[bad].width}x${imgs[bad].height}, frame 0 is ${width}x${height}`);
  disposeSource();
  objId = 1;
  $('object-label').textContent = 'object 1';
  source = { kind: 'frames', imgs, shown: 0, vp: null, masks: new Map(), prompts: new Map() };
  describeSource();
  fitCanvas(width, height);
  redraw();
}

function frameVp(s: Extract<Source, { kind: 'frames' }>): VideoPredictor {
  if (!s.vp) s.vp = new VideoPredictor(rt!, model!, framesSource(s.imgs));
  return s.vp;
}

function recordFrame(via: FrameReport['via'], frame: number, r: FrameResult, ms: number, prompt: Prompts | null): void {
  report({
    kind: 'frame',
    via,
    frame,
    objId: r.objId,
    prompt: prompt && { points: prompt.points.slice(), box: prompt.box },
    lowRes: r.lowRes,
    mask: r.mask,
    objectScore: r.objectScore,
    ms,
  });
}

async function trackFrames(): Promise<void> {
  await run('tracking', async () => {
    const s = source;
    if (s?.kind !== 'frames' || !model) return;
    const vp = frameVp(s);
    if (vp.objectIds.length === 0) throw new Error('click on a frame first (a prompt for at least one object)');
    let t0 = performance.now();
    const start = performance.now();
    let n = 0;
    for await (const { frame, results } of vp.propagate()) {
      const ms = performance.now() - t0;
      timing('track frame', ms);
      const m = new Map<number, FrameResult>();
      for (const r of results) {
        m.set(r.objId, r);
        recordFrame('track', frame, r, ms, null);
      }
      s.masks.set(frame, m);
      s.shown = frame;
      describeSource();
      redraw();
      n++;
      t0 = performance.now();
    }
    timing('track fps', (1000 * n) / (performance.now() - start), 'fps');
  });
}

async function openVideo(el: HTMLVideoElement, live: boolean, stream: MediaStream | null): Promise<void> {
  disposeSource();
  objId = 1;
  $('object-label').textContent = 'object 1';
  el.muted = true;
  el.playsInline = true;
  await new Promise<void>((resolve, reject) => {
    if (el.readyState >= 2) return resolve();
    el.onloadeddata = () => resolve();
    el.onerror = () => reject(new Error(`cannot play this video (${el.error?.message ?? 'unsupported format'})`));
  });
  if (live) await el.play();
  source = {
    kind: 'video',
    el,
    live,
    stream,
    vp: null,
    frame: null,
    framePushed: false,
    frameIndex: -1,
    results: [],
    prompts: new Map(),
    playing: false,
  };
  describeSource();
  fitCanvas(el.videoWidth, el.videoHeight);
  grabVideoFrame();
  redraw();
  if (live) togglePlay();
}

function grabVideoFrame(): RgbImage | null {
  if (source?.kind !== 'video') return null;
  const img = rgbFromSource(source.el, source.el.videoWidth, source.el.videoHeight);
  source.frame = img;
  source.framePushed = false;
  hooks.framesShown++;
  return img;
}

function videoVp(s: Extract<Source, { kind: 'video' }>): VideoPredictor {
  if (!s.vp)
    s.vp = new VideoPredictor(rt!, model!, {
      numFrames: null,
      width: s.el.videoWidth,
      height: s.el.videoHeight,
      frame: async (i) => {
        throw new Error(`frame ${i} of a live stream is gone`);
      },
    });
  return s.vp;
}

/** Push a video frame through the streaming predictor (one live step): a new one, or the shown one. */
async function pushVideoFrame(grab = true): Promise<void> {
  const s = source;
  if (s?.kind !== 'video' || !model) return;
  const img = grab ? grabVideoFrame() : s.frame;
  if (!img) return;
  const t0 = performance.now();
  const { frame, results } = await videoVp(s).push(img);
  const ms = performance.now() - t0;
  if (hooks.recordStream)
    hooks.stream.push({ type: 'push', frame, width: img.width, height: img.height, rgbBase64: toBase64(img.data) });
  timing('stream frame', ms);
  s.frameIndex = frame;
  if (s.frame === img) s.framePushed = true;
  s.results = results;
  for (const r of results) recordFrame('stream', frame, r, ms, null);
  redraw();
}

function togglePlay(): void {
  const s = source;
  if (s?.kind !== 'video') return;
  s.playing = !s.playing;
  describeSource();
  if (!s.playing) {
    if (!s.live) s.el.pause();
    return;
  }
  if (!s.live) void s.el.play();
  const loop = async () => {
    let frames = 0;
    const t0 = performance.now();
    while (source === s && s.playing && !(s.el.ended && !s.live)) {
      if (!s.vp || s.vp.objectIds.length === 0) {
        // nothing to track yet: show the video; a click pushes the shown frame and prompts on it
        if (pending === 0) {
          grabVideoFrame();
          redraw();
        }
      } else {
        await run('streaming', () => pushVideoFrame(true));
        if (hooks.status === 'error') break;
        frames++;
        timing('stream fps', (1000 * frames) / (performance.now() - t0), 'fps');
      }
      await new Promise((r) => requestAnimationFrame(r));
    }
    if (source === s) {
      s.playing = false;
      describeSource();
    }
  };
  void loop();
}

// ------------------------------------------------------------------------------------ prompts

function currentPrompts(): Prompts | null {
  const s = source;
  if (!s) return null;
  if (s.kind === 'image') return s.prompts;
  const map =
    s.kind === 'frames' ? (s.prompts.get(s.shown) ?? s.prompts.set(s.shown, new Map()).get(s.shown)!) : s.prompts;
  if (!map.has(objId)) map.set(objId, { points: [], box: null });
  return map.get(objId)!;
}

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
      // a paused video whose shown frame was never pushed: push it first (it becomes the current frame)
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
    recordFrame('click', frame, r, ms, pr);
    if (s.kind === 'frames') {
      const m = s.masks.get(frame) ?? s.masks.set(frame, new Map()).get(frame)!;
      m.set(objId, r);
    } else {
      s.results = [...s.results.filter((x) => x.objId !== objId), r];
    }
    redraw();
  });
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
    objId = 1;
    $('object-label').textContent = 'object 1';
    redraw();
  });
}

// ------------------------------------------------------------------------------------ automatic mode (RobotSeg)

const TARGET_LABELS: Record<string, string> = { robot: 'whole robot', arm: 'arm', gripper: 'gripper' };

const autoMode = () => (document.querySelector('input[name=mode]:checked') as HTMLInputElement).value === 'auto';

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
      const m = s.masks.get(frame) ?? s.masks.set(frame, new Map()).get(frame)!;
      m.set(objId, r);
    } else {
      if (!s.framePushed) await pushVideoFrame(false);
      frame = s.frameIndex;
      r = await videoVp(s).addTarget(frame, objId, category);
      if (hooks.recordStream) hooks.stream.push({ type: 'target', frame, objId, category });
      s.results = [...s.results.filter((x) => x.objId !== objId), r];
    }
    const ms = performance.now() - t0;
    timing('automatic (frame)', ms);
    report({
      kind: 'frame',
      via: 'auto',
      frame,
      objId: r.objId,
      category,
      prompt: null,
      lowRes: r.lowRes,
      mask: r.mask,
      objectScore: r.objectScore,
      ms,
    });
    redraw();
  });
}

// ------------------------------------------------------------------------------------ drawing

function redraw(): void {
  ctx.fillStyle = '#111';
  ctx.fillRect(0, 0, view.width, view.height);
  const s = source;
  if (!s) return;
  if (s.kind === 'image') {
    drawRgb(s.img);
    if (s.result) drawMask(s.result.masks[s.result.best], s.img.width, s.img.height, color(1));
    else if (s.auto) drawMask(s.auto.mask, s.img.width, s.img.height, color(1));
    drawPrompts(s.prompts, s.img.width);
  } else if (s.kind === 'frames') {
    const img = s.imgs[s.shown];
    drawRgb(img);
    for (const [id, r] of s.masks.get(s.shown) ?? []) drawMask(r.mask, img.width, img.height, color(id));
    for (const pr of s.prompts.get(s.shown)?.values() ?? []) drawPrompts(pr, img.width);
  } else if (s.frame) {
    drawRgb(s.frame);
    for (const r of s.results) drawMask(r.mask, s.frame.width, s.frame.height, color(r.objId));
    for (const pr of s.prompts.values()) drawPrompts(pr, s.frame.width);
  }
  const drag = currentDrag();
  if (drag) {
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = '#facc15';
    ctx.lineWidth = 2;
    const k = view.width / view.clientWidth;
    ctx.strokeRect(drag.x0 * k, drag.y0 * k, (drag.x1 - drag.x0) * k, (drag.y1 - drag.y0) * k);
    ctx.setLineDash([]);
  }
}

// ------------------------------------------------------------------------------------ pointer input

function sourceSize(): [number, number] | null {
  const s = source;
  if (!s) return null;
  if (s.kind === 'image') return [s.img.width, s.img.height];
  if (s.kind === 'frames') return [s.imgs[0].width, s.imgs[0].height];
  return [s.el.videoWidth, s.el.videoHeight];
}

const currentDrag = attachPointerInput({
  size: sourceSize,
  redraw: () => redraw(),
  prompt: (p) => void addPrompt(p),
});

// ------------------------------------------------------------------------------------ weights

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`config ${url}: HTTP ${res.status} ${res.statusText}`);
  return res.text();
}

let configFileText: string | null = null;

async function configArg(): Promise<string | undefined> {
  const url = $<HTMLInputElement>('config-url').value.trim();
  if (url) return url.trim().startsWith('{') || url in BUILTIN_CONFIGS ? url : fetchText(url);
  if (configFileText) return configFileText;
  return $<HTMLSelectElement>('config-select').value || undefined;
}

function loadWeights(what: string | File): Promise<unknown> {
  return run('loading weights', async () => {
    if (!rt) throw new Error('WebGPU is not available');
    hooks.status = 'loading';
    hooks.error = null;
    // drop everything bound to the previous model
    if (source?.kind === 'image') {
      source.predictor?.dispose();
      source.predictor = null;
      source.encoded = false;
    }
    if (source && source.kind !== 'image') {
      source.vp?.reset();
      source.vp = null;
    }
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
    const cfg = await configArg();
    const loaded = await loadSam2(rt, what, {
      config: cfg,
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
    info.textContent = `${name}: ${w.format}, ${w.store.entries.size} tensors, ${formatBytes(w.store.bytes)} on the GPU (${w.store.arenas.length} arena${w.store.arenas.length > 1 ? 's' : ''}), config ${loaded.config.name} (${loaded.source})`;
    enableAuto(loaded.model instanceof RobotSeg ? loaded.model.spec.classVocab : null);
    hooks.status = 'ready';
    setStatus('ready');
    if (source?.kind === 'image' && !autoMode()) void encodeImage();
  });
}

// ------------------------------------------------------------------------------------ wiring

$('load-url').addEventListener('click', () => {
  const url = $<HTMLInputElement>('weights-url').value.trim();
  if (url) void loadWeights(url);
});
$<HTMLInputElement>('weights-file').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) void loadWeights(f);
});
$<HTMLInputElement>('config-file').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  configFileText = f ? await f.text() : null;
});
$<HTMLInputElement>('open-file').addEventListener('change', async (e) => {
  const files = Array.from((e.target as HTMLInputElement).files ?? []);
  if (!files.length) return;
  try {
    const video = files.find((f) => f.type.startsWith('video/'));
    if (video) {
      const el = document.createElement('video');
      el.src = URL.createObjectURL(video);
      await openVideo(el, false, null);
    } else if (files.length === 1) {
      await openImage(await rgbFromBlob(files[0]));
    } else {
      files.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
      await openFrames(await Promise.all(files.map((f) => rgbFromBlob(f))));
    }
  } catch (err) {
    fail(err);
  }
});
$('webcam').addEventListener('click', async () => {
  try {
    if (!navigator.mediaDevices?.getUserMedia)
      throw new Error('no camera access in this browser (needs https or localhost)');
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    const el = document.createElement('video');
    el.srcObject = stream;
    await openVideo(el, true, stream);
  } catch (err) {
    fail(err);
  }
});
$('clear').addEventListener('click', clearPrompts);
$('new-object').addEventListener('click', () => {
  if (source?.kind === 'image') return; // the image predictor segments one object per prompt set
  objId++;
  $('object-label').textContent = `object ${objId}`;
});
$('track').addEventListener('click', () => void trackFrames());
$('auto-run').addEventListener('click', () => void findTarget());
$('play').addEventListener('click', togglePlay);
$<HTMLInputElement>('frame-slider').addEventListener('input', (e) => {
  if (source?.kind !== 'frames') return;
  source.shown = Number((e.target as HTMLInputElement).value);
  describeSource();
  redraw();
});
for (const r of Array.from(document.querySelectorAll<HTMLInputElement>('input[name=mode]'))) {
  r.addEventListener('change', () => {
    if (r.value === 'auto' && r.checked) setStatus('automatic mode: choose a target and press Find');
    if (r.value === 'prompts' && r.checked && source?.kind === 'image' && !source.encoded && model) void encodeImage();
  });
}
window.addEventListener('resize', () => {
  const s = sourceSize();
  if (s) {
    fitCanvas(s[0], s[1]);
    redraw();
  }
});

// ------------------------------------------------------------------------------------ start

async function start(): Promise<void> {
  for (const name of Object.keys(BUILTIN_CONFIGS)) {
    const o = document.createElement('option');
    o.value = o.textContent = name;
    $('config-select').append(o);
  }
  const q = new URLSearchParams(location.search);
  if (q.get('weights')) $<HTMLInputElement>('weights-url').value = q.get('weights')!;
  if (q.get('config')) $<HTMLInputElement>('config-url').value = q.get('config')!;
  try {
    const rt = await createBrowserRuntime();
    setRuntime(rt);
    const a = rt.adapter;
    hooks.adapter = {
      ...a,
      features: [...rt.features],
      maxStorageBuffersPerShaderStage: rt.limits.maxStorageBuffersPerShaderStage,
      maxStorageBufferBindingSize: rt.limits.maxStorageBufferBindingSize,
      maxBufferSize: rt.limits.maxBufferSize,
    };
    $('adapter').textContent =
      `WebGPU: ${a.vendor || '?'} ${a.architecture || ''} ${a.description || ''}${a.software ? ' (software adapter: slow)' : ''}; f16 ${rt.hasF16 ? 'yes' : 'no'}`;
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
