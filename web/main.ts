// robotseg demo page: weights by URL or file (progress bar), an image, a frame sequence, a video file
// or the webcam; click / box prompts; masks overlaid live while a video plays (streaming API);
// per-stage timings. Query parameters: ?weights=URL&config=URL|NAME&image=URL&frames=URL,URL,…
//
// This file only wires the page: the controls' listeners and the start-up. The rest by job:
// engine.ts (runtime, model, task queue), state.ts (the current source and object), sources.ts
// (opening and stepping images, frames, video / webcam), prompts.ts (clicks, boxes, automatic mode),
// weights.ts (weights and config), draw.ts (canvas drawing), input.ts (clicks and box drags), dom.ts
// (elements, status, timings), hooks.ts (window.__robotseg, read by test/browser/demo.test.ts). The
// model work itself is src/model's predictors.
import { rgbFromUrl } from '../src/browser/index.js';
import { $, fail, setStatus } from './dom.js';
import { fitCanvas, redraw, showDrag } from './draw.js';
import { openRuntime } from './engine.js';
import { hooks } from './hooks.js';
import { attachPointerInput } from './input.js';
import { addPrompt, clearPrompts, findTarget, modeChanged, newObject } from './prompts.js';
import { openFiles, openFrames, openImage, openWebcam, showFrame, togglePlay, trackFrames } from './sources.js';
import { sourceSize } from './state.js';
import { listConfigs, loadWeights, setConfigFile } from './weights.js';

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
    await openRuntime();
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
