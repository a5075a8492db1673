// The page's current input: the source (an image, a frame sequence, or a video / webcam stream, each
// with its predictor, prompts and results) and the object being prompted. Read anywhere as live
// bindings; replaced only through setSource / closeSource, the object through resetObject /
// nextObject. describeSource keeps the Input panel, the frame slider and the test hooks' `source` in step.
import type { FrameResult, ImagePrediction, ImagePredictor, RgbImage, VideoPredictor } from '../src/browser/index.js';
import { $ } from './dom.js';
import type { Prompts } from './draw.js';
import { hashRgb, hooks } from './hooks.js';

export interface ImageSource {
  kind: 'image';
  img: RgbImage;
  /** The predictor holds this image's features (setImage finished). */
  encoded: boolean;
  predictor: ImagePredictor | null;
  prompts: Prompts;
  result: ImagePrediction | null;
  /** RobotSeg automatic result (shown when there is no prompt result). */
  auto: FrameResult | null;
}

export interface FramesSource {
  kind: 'frames';
  imgs: RgbImage[];
  /** Index of the frame on screen. */
  shown: number;
  vp: VideoPredictor | null;
  /** frame -> object id -> result */
  masks: Map<number, Map<number, FrameResult>>;
  /** frame -> object id -> prompts */
  prompts: Map<number, Map<number, Prompts>>;
}

export interface VideoSource {
  kind: 'video';
  el: HTMLVideoElement;
  /** A webcam stream (always playing) rather than a video file. */
  live: boolean;
  stream: MediaStream | null;
  vp: VideoPredictor | null;
  /** The frame on screen. */
  frame: RgbImage | null;
  /** The streaming predictor has seen `frame` (its index is frameIndex). */
  framePushed: boolean;
  frameIndex: number;
  /** The latest pushed frame's results, one per object. */
  results: FrameResult[];
  /** object id -> prompts */
  prompts: Map<number, Prompts>;
  playing: boolean;
}

export type Source = ImageSource | FramesSource | VideoSource;

export let source: Source | null = null;
/** The object id that clicks and automatic mode prompt for (frames and video; an image has one). */
export let objId = 1;

/** Close the current source (stops a stream, drops its predictor) and show `s`. */
export function setSource(s: Source): void {
  closeSource();
  source = s;
  describeSource();
}

export function closeSource(): void {
  const s = source;
  if (!s) return;
  if (s.kind === 'image') s.predictor?.dispose();
  if (s.kind === 'frames') s.vp?.reset();
  if (s.kind === 'video') {
    s.playing = false;
    s.el.pause();
    s.stream?.getTracks().forEach((t) => t.stop());
    if (s.el.src.startsWith('blob:')) URL.revokeObjectURL(s.el.src);
    s.vp?.reset();
  }
  source = null;
}

export function resetObject(): void {
  objId = 1;
  $('object-label').textContent = 'object 1';
}

export function nextObject(): void {
  objId++;
  $('object-label').textContent = `object ${objId}`;
}

/** The source's size in pixels (null: no source). */
export function sourceSize(): [number, number] | null {
  const s = source;
  if (!s) return null;
  if (s.kind === 'image') return [s.img.width, s.img.height];
  if (s.kind === 'frames') return [s.imgs[0].width, s.imgs[0].height];
  return [s.el.videoWidth, s.el.videoHeight];
}

/** The Input panel, the controls that depend on the source kind, and hooks.source. */
export function describeSource(): void {
  const s = source;
  const info = $('source-info');
  $<HTMLButtonElement>('track').disabled = s?.kind !== 'frames';
  $<HTMLButtonElement>('play').disabled = s?.kind !== 'video';
  $('frame-row').hidden = s?.kind !== 'frames';
  if (!s) {
    info.textContent = 'no input';
    hooks.source = null;
    return;
  }
  if (s.kind === 'image') {
    info.textContent = `image ${s.img.width}x${s.img.height}`;
    hooks.source = { kind: 'image', width: s.img.width, height: s.img.height, frames: 1, rgbHash: [hashRgb(s.img)] };
  } else if (s.kind === 'frames') {
    const { width, height } = s.imgs[0];
    info.textContent = `${s.imgs.length} frames ${width}x${height}`;
    hooks.source = { kind: 'frames', width, height, frames: s.imgs.length, rgbHash: s.imgs.map(hashRgb) };
    const slider = $<HTMLInputElement>('frame-slider');
    slider.max = String(s.imgs.length - 1);
    slider.value = String(s.shown);
    $('frame-label').textContent = `frame ${s.shown + 1} / ${s.imgs.length}`;
  } else {
    info.textContent = `${s.live ? 'webcam' : 'video'} ${s.el.videoWidth}x${s.el.videoHeight}`;
    hooks.source = {
      kind: s.live ? 'webcam' : 'video',
      width: s.el.videoWidth,
      height: s.el.videoHeight,
      frames: 0,
      rgbHash: [],
    };
    $('play').textContent = s.playing ? 'Pause' : 'Play';
  }
}
