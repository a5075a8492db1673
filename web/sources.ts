// Opening and stepping the page's inputs: an image (ImagePredictor: encode once, decode per prompt), a
// frame sequence (VideoPredictor over the decoded frames: prompts on any frame, then propagate), a video
// file or the webcam (VideoPredictor's streaming push, one frame per animation frame while playing).
// The source itself lives in state.ts; prompts and automatic mode in prompts.ts.
import {
  type FrameResult,
  ImagePredictor,
  type RgbImage,
  rgbFromBlob,
  rgbFromSource,
  VideoPredictor,
} from '../src/browser/index.js';
import { autoMode, fail, timing } from './dom.js';
import { redraw, fitCanvas } from './draw.js';
import { model, pending, rt, run } from './engine.js';
import { hooks, report, reportFrame, toBase64 } from './hooks.js';
import {
  closeSource,
  describeSource,
  type FramesSource,
  resetObject,
  setSource,
  source,
  type VideoSource,
} from './state.js';

// ------------------------------------------------------------------------------------ image

export async function openImage(img: RgbImage): Promise<void> {
  resetObject();
  setSource({
    kind: 'image',
    img,
    encoded: false,
    predictor: null,
    prompts: { points: [], box: null },
    result: null,
    auto: null,
  });
  fitCanvas(img.width, img.height);
  redraw();
  if (model && !autoMode()) await encodeImage(); // automatic mode runs its own (video) encoder
}

/** Encode the shown image with the loaded model (then decode its prompts, if any). */
export function encodeImage(): Promise<unknown> {
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

/** Decode the image's prompts (after it was encoded). */
export async function predictImage(): Promise<void> {
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

// ------------------------------------------------------------------------------------ frames

export async function openFrames(imgs: RgbImage[]): Promise<void> {
  const { width, height } = imgs[0];
  const bad = imgs.findIndex((im) => im.width !== width || im.height !== height);
  if (bad >= 0)
    throw new Error(`frame ${bad} is ${imgs[bad].width}x${imgs[bad].height}, frame 0 is ${width}x${height}`);
  resetObject();
  setSource({ kind: 'frames', imgs, shown: 0, vp: null, masks: new Map(), prompts: new Map() });
  fitCanvas(width, height);
  redraw();
}

/** Show frame i of a frame sequence (the slider). */
export function showFrame(i: number): void {
  if (source?.kind !== 'frames') return;
  source.shown = i;
  describeSource();
  redraw();
}

/** The frame sequence's predictor (created on the first prompt, with the loaded model). */
export function frameVp(s: FramesSource): VideoPredictor {
  const imgs = s.imgs;
  s.vp ??= new VideoPredictor(rt!, model!, {
    numFrames: imgs.length,
    width: imgs[0].width,
    height: imgs[0].height,
    frame: async (i) => imgs[i],
  });
  return s.vp;
}

/** Propagate the prompted objects through every frame, showing each as it comes. */
export async function trackFrames(): Promise<void> {
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
        reportFrame('track', frame, r, ms, null);
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

// ------------------------------------------------------------------------------------ video / webcam

export async function openVideo(el: HTMLVideoElement, live: boolean, stream: MediaStream | null): Promise<void> {
  closeSource();
  resetObject();
  el.muted = true;
  el.playsInline = true;
  await new Promise<void>((resolve, reject) => {
    if (el.readyState >= 2) return resolve();
    el.onloadeddata = () => resolve();
    el.onerror = () => reject(new Error(`cannot play this video (${el.error?.message ?? 'unsupported format'})`));
  });
  if (live) await el.play();
  setSource({
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
  });
  fitCanvas(el.videoWidth, el.videoHeight);
  grabVideoFrame();
  redraw();
  if (live) togglePlay();
}

/** Copy the video's current frame: it becomes the shown frame, not yet pushed. */
function grabVideoFrame(): RgbImage | null {
  if (source?.kind !== 'video') return null;
  const img = rgbFromSource(source.el, source.el.videoWidth, source.el.videoHeight);
  source.frame = img;
  source.framePushed = false;
  hooks.framesShown++;
  return img;
}

/** The stream's predictor (no frame source: a live stream's past frames are gone). */
export function videoVp(s: VideoSource): VideoPredictor {
  s.vp ??= new VideoPredictor(rt!, model!, {
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
export async function pushVideoFrame(grab = true): Promise<void> {
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
  for (const r of results) reportFrame('stream', frame, r, ms, null);
  redraw();
}

export function togglePlay(): void {
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

// ------------------------------------------------------------------------------------ pickers, model changes

/** The file picker: a video file, one image, or several images (a frame sequence, sorted by name). */
export async function openFiles(files: File[]): Promise<void> {
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
}

export async function openWebcam(): Promise<void> {
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
}

/** Drop everything the source holds that is bound to the current model (before loading another). */
export function unbindModel(): void {
  const s = source;
  if (s?.kind === 'image') {
    s.predictor?.dispose();
    s.predictor = null;
    s.encoded = false;
  } else if (s) {
    s.vp?.reset();
    s.vp = null;
  }
}
