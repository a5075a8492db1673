// Test hooks of the demo page: window.__robotseg holds the page's state and every result with its
// low-res logits and masks, read by test/browser/demo.test.ts (the names and shapes are its contract).
import type { FrameResult, Point, RgbImage } from '../src/browser/index.js';

export type Box = [number, number, number, number];

export interface ImageReport {
  kind: 'image';
  prompt: { points: Point[]; box: [number, number, number, number] | null };
  multimask: boolean;
  best: number;
  iou: number[];
  objectScore: number;
  /** Low-res logits of each returned mask (clamped, as ImagePredictor returns them). */
  lowRes: Float32Array[];
  /** 0/1 masks at the image size, one per returned mask. */
  masks: Uint8Array[];
  decodeMs: number;
}
export interface FrameReport {
  kind: 'frame';
  via: 'click' | 'track' | 'stream' | 'auto';
  frame: number;
  objId: number;
  /** RobotSeg target of an automatic result. */
  category?: string;
  prompt: { points: Point[]; box: [number, number, number, number] | null } | null;
  lowRes: Float32Array;
  mask: Uint8Array;
  objectScore: number;
  ms: number;
}
export interface Hooks {
  status: 'starting' | 'idle' | 'loading' | 'ready' | 'busy' | 'error';
  /** Latest error message (null after a later task succeeded); every error is kept in `errors`. */
  error: string | null;
  errors: string[];
  adapter: Record<string, unknown> | null;
  weights: {
    name: string;
    format: string;
    tensors: number;
    bytes: number;
    config: string;
    configSource: string;
    hasRobotSeg: boolean;
    loadMs: number;
  } | null;
  source: { kind: string; width: number; height: number; frames: number; rgbHash: string[] } | null;
  /** Image encodes completed (increments after each setImage + sync). */
  encoded: number;
  /** The latest results (at most MAX_RESULTS, oldest dropped), with their arrays. */
  results: Array<ImageReport | FrameReport>;
  timings: Record<string, number>;
  /** Video / webcam frames shown so far. */
  framesShown: number;
  /** Set true to record the live stream (every pushed frame's RGB, every prompt) into `stream`. */
  recordStream: boolean;
  stream: Array<
    | { type: 'push'; frame: number; width: number; height: number; rgbBase64: string }
    | { type: 'prompt'; frame: number; objId: number; points: Point[]; box: Box | null }
    | { type: 'target'; frame: number; objId: number; category: string }
  >;
  /** Resolves when every queued engine task has finished. */
  idle(): Promise<void>;
}

export const hooks: Hooks = {
  status: 'starting',
  error: null,
  errors: [],
  adapter: null,
  weights: null,
  source: null,
  encoded: 0,
  results: [],
  timings: {},
  framesShown: 0,
  recordStream: false,
  stream: [],
  idle: async () => {}, // engine.ts puts its queue here
};
(window as unknown as { __robotseg: Hooks }).__robotseg = hooks;

/** Keep the latest results only: a live stream would otherwise grow without bound. */
const MAX_RESULTS = 64;
export function report(r: ImageReport | FrameReport): void {
  hooks.results.push(r);
  if (hooks.results.length > MAX_RESULTS) hooks.results.splice(0, hooks.results.length - MAX_RESULTS);
}

/** Report one object's result on a frame (a copy of the prompt that produced it, if any). */
export function reportFrame(
  via: FrameReport['via'],
  frame: number,
  r: FrameResult,
  ms: number,
  prompt: { points: Point[]; box: Box | null } | null,
  category?: string,
): void {
  report({
    kind: 'frame',
    via,
    frame,
    objId: r.objId,
    ...(category !== undefined && { category }),
    prompt: prompt && { points: prompt.points.slice(), box: prompt.box },
    lowRes: r.lowRes,
    mask: r.mask,
    objectScore: r.objectScore,
    ms,
  });
}

/** FNV-1a of the RGB bytes (the test compares the page's decode with Node's). */
export function hashRgb(img: RgbImage): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < img.data.length; i++) h = Math.imul(h ^ img.data[i], 0x01000193);
  return (h >>> 0).toString(16);
}

export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
