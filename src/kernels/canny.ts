// Wrapper for shaders/canny.wgsl: the Canny edge detector as GPU stages, in two semantics.
//
//   'opencv'  cv2.Canny(gray, low, high, apertureSize=3, L2gradient=False) on cv2.cvtColor(RGB2GRAY),
//             optionally after cv2.GaussianBlur(gray, (0,0), sigma): integer arithmetic throughout,
//             bit-exact with OpenCV 4.x (checked against fixtures made with Debian's python3-opencv).
//   'kornia'  kornia.filters.canny (0.8.1) as the RobotSeg fork calls it inside SEMA: `_safe_to_gray`
//             of the ImageNet-normalised model input, 5x5 Gaussian sigma 1, Sobel, L2 magnitude,
//             NMS; the fork keeps the NMS magnitude (kornia's first output) clamped to [0,1].
//
// Stage functions queue dispatches and never read back. Hysteresis is an iterative parallel
// propagation on the GPU (see the HYST stage in the shader): `cannyHysteresis` queues a fixed number
// of passes that exit early on the GPU once a pass changed nothing; `cannyHysteresisConverge` and
// `canny` (async) read a 4-byte change flag back every `batch` passes until the map is final;
// `cannyQueued` queues the whole detector with a fixed pass count and no readback.
// RobotSeg's SEMA edge semantics built from these stages (robotsegEdgeMap / robotsegEdgeGrid) live
// in src/model/sema.ts.
// Layouts: images NCHW [B, C, H, W]; every single-channel map [B, 1, H, W].

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';

export type CannyMode = 'opencv' | 'kornia';

const WG = 128;
/** Elements per invocation of the ANY_GT stage. */
const ANY_CHUNK = 64;
/** The fork's `_safe_to_gray` divides by 255 when the global max of the input exceeds this. */
export const SAFE_GRAY_MAX = 1.5;
/** kornia's magnitude epsilon: sqrt(gx^2 + gy^2 + eps). */
export const KORNIA_EPS = 1e-6;
/** Default thresholds: OpenCV's units (L1 gradient of 0..255 gray) and kornia's (0..1 gray). */
export const DEFAULT_THRESHOLDS: Record<CannyMode, { low: number; high: number }> = {
  opencv: { low: 100, high: 200 },
  kornia: { low: 0.1, high: 0.2 },
};

// ------------------------------------------------------------------------------------------ host

/**
 * kornia's `get_gaussian_kernel1d(ksize, sigma)` in float32: exp(-x^2 / (2 sigma^2)) for
 * x = i - ksize//2 (+0.5 for even sizes), divided by its float32 sum.
 */
export function gaussianKernelKornia(ksize: number, sigma: number): Float32Array {
  if (!Number.isInteger(ksize) || ksize < 1)
    throw new Error(`gaussianKernelKornia: kernel size ${ksize} is not a positive integer`);
  if (!(sigma > 0)) throw new Error(`gaussianKernelKornia: sigma ${sigma} must be > 0`);
  const f = Math.fround;
  const s = f(sigma);
  const den = f(2 * f(s * s));
  const g = new Float32Array(ksize);
  let sum = 0;
  for (let i = 0; i < ksize; i++) {
    let x = f(i - Math.floor(ksize / 2));
    if (ksize % 2 === 0) x = f(x + 0.5);
    g[i] = f(Math.exp(f(-f(x * x) / den)));
    sum = f(sum + g[i]);
  }
  for (let i = 0; i < ksize; i++) g[i] = f(g[i] / sum);
  return g;
}

/**
 * OpenCV's uint8 GaussianBlur kernel for GaussianBlur(src, (0,0), sigma): size round(6 sigma + 1) | 1,
 * the bit-exact double kernel, then 8-bit fixed point with error diffusion (getGaussianKernelFixedPoint_ED):
 * integer weights that sum to 256.
 */
export function gaussianKernelOpenCV8U(sigma: number): Int32Array {
  if (!(sigma > 0) || !Number.isFinite(sigma))
    throw new Error(`gaussianKernelOpenCV8U: sigma ${sigma} must be a finite number > 0`);
  const n = Math.round(sigma * 3 * 2 + 1) | 1;
  const scale2x = -0.5 / (sigma * sigma);
  const half = (n - 1) / 2;
  const vals: number[] = [];
  let sum = 0;
  for (let i = 0; i < half; i++) {
    const t = Math.exp((i - half) * (i - half) * scale2x);
    vals.push(t);
    sum += t;
  }
  sum = sum * 2 + 1;
  const mul1 = 1 / sum;
  const out = new Int32Array(n);
  let err = 0;
  let acc = 0;
  for (let i = 0; i < half; i++) {
    const adj = vals[i] * mul1 * 256 + err;
    const v0 = roundHalfEven(adj);
    err = adj - v0;
    out[i] = out[n - 1 - i] = v0;
    acc += v0;
  }
  out[half] = 256 - 2 * acc;
  return out;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** OpenCV's integer thresholds: swapped when low > high, then floored (m > low is weak, m > high strong). */
export function opencvThresholds(low: number, high: number): { low: number; high: number } {
  if (!Number.isFinite(low) || !Number.isFinite(high))
    throw new Error(`canny: thresholds must be finite numbers, got low ${low} high ${high}`);
  const [a, b] = low > high ? [high, low] : [low, high];
  return { low: Math.floor(a), high: Math.floor(b) };
}

// ------------------------------------------------------------------------------------------ checks

function check4d(op: string, t: Tensor, channels?: number[]): [number, number, number, number] {
  if (t.dtype !== 'f32') throw new Error(`${op}: expects f32, got ${t.dtype} for ${shapeStr(t.shape)}`);
  if (t.rank !== 4) throw new Error(`${op}: expects an NCHW tensor [B, C, H, W], got ${shapeStr(t.shape)}`);
  const [b, c, h, w] = t.shape as [number, number, number, number];
  if (channels && !channels.includes(c))
    throw new Error(`${op}: expects ${channels.join(' or ')} channels, got ${shapeStr(t.shape)}`);
  return [b, c, h, w];
}

function sameShape(op: string, ...ts: Tensor[]): void {
  const s = ts[0].shape.join();
  for (const t of ts)
    if (t.shape.join() !== s) throw new Error(`${op}: shapes differ: ${ts.map((u) => shapeStr(u.shape)).join(' vs ')}`);
}

// ------------------------------------------------------------------------------------------ stages

/**
 * Grayscale [B, 1, H, W].
 *   opencv: x [B, 3, H, W] RGB (or [B, 1, H, W] gray) with values 0..255 -> OpenCV RGB2GRAY (integers).
 *   kornia: x [B, 3, H, W] normalised model input -> the fork's `_safe_to_gray` (divide by 255 when the
 *           global max over the whole batch exceeds 1.5, luminance, clamp to [0, 1]).
 */
export function cannyGray(rt: Runtime, x: Tensor, mode: CannyMode): Tensor {
  const [b, c, h, w] = check4d(`canny gray (${mode})`, x, mode === 'opencv' ? [1, 3] : [3]);
  const n = b * h * w;
  const gray = rt.empty([b, 1, h, w], 'f32', 'canny.gray');
  if (n === 0) return gray;
  if (mode === 'opencv') {
    rt.kernel('canny').run({
      defines: { GRAY_CV: 1 },
      constants: { WG },
      bindings: { x, gray },
      params: { n, hw: h * w, channels: c },
      groups: rt.groups1d(n, WG),
      label: 'canny.gray_cv',
    });
    return gray;
  }
  const flag = rt.zeros([1], 'u32', 'canny.max_flag');
  rt.kernel('canny').run({
    defines: { ANY_GT: 1 },
    constants: { WG },
    bindings: { x, flag },
    params: { n: x.size, chunk: ANY_CHUNK, thresh: SAFE_GRAY_MAX },
    groups: rt.groups1d(Math.ceil(x.size / ANY_CHUNK), WG),
    label: 'canny.any_gt',
  });
  rt.kernel('canny').run({
    defines: { GRAY_KORNIA: 1 },
    constants: { WG },
    bindings: { x, flag, gray },
    params: { n, hw: h * w },
    groups: rt.groups1d(n, WG),
    label: 'canny.gray_kornia',
  });
  flag.dispose();
  return gray;
}

/**
 * Separable blur of x [B, 1, H, W] with the 1-D kernel `weights` along W, then along H, reflect-101
 * border (kornia's gaussian_blur2d order). roundU8: OpenCV's fixed-point uint8 blur (integer weights
 * summing to 256, result (acc + 2^15) >> 16).
 */
export function cannyBlur(
  rt: Runtime,
  x: Tensor,
  weights: ArrayLike<number>,
  opts: { roundU8?: boolean } = {},
): Tensor {
  const [b, c, h, w] = check4d('canny blur', x, [1]);
  const k = weights.length;
  if (k < 1 || k % 2 !== 1) throw new Error(`canny blur: kernel size ${k} must be odd`);
  const n = b * c * h * w;
  const tmp = rt.empty(x.shape, 'f32', 'canny.blur_h');
  const y = rt.empty(x.shape, 'f32', 'canny.blur');
  if (n === 0) {
    tmp.dispose();
    return y;
  }
  // once per runtime and kernel (a mid-graph upload would flush the queue)
  const wts = rt.constant(`canny.blur_weights ${Array.from(weights).join(',')}`, () =>
    rt.upload(Float32Array.from(weights), [k], 'f32', 'canny.blur_weights'),
  );
  const run = (src: Tensor, dst: Tensor, axis: number, round: boolean) =>
    rt.kernel('canny').run({
      defines: { BLUR: 1 },
      constants: { WG },
      bindings: { x: src, wts, y: dst },
      params: { n, h, w, ksize: k, axis, round_u8: round ? 1 : 0 },
      groups: rt.groups1d(n, WG),
      label: `canny.blur_${axis === 0 ? 'h' : 'v'}`,
    });
  run(x, tmp, 0, false);
  run(tmp, y, 1, !!opts.roundU8);
  tmp.dispose();
  return y;
}

export interface SobelOutput {
  /** d/dx (right minus left), [B, 1, H, W]. */
  gx: Tensor;
  /** d/dy (down minus up), [B, 1, H, W]. */
  gy: Tensor;
  /** |gx| + |gy| (opencv) or sqrt(gx^2 + gy^2 + 1e-6) (kornia). */
  magnitude: Tensor;
}

/** Unnormalised 3x3 Sobel with replicate border, and the gradient magnitude of the mode. */
export function cannySobel(rt: Runtime, x: Tensor, mode: CannyMode): SobelOutput {
  const [b, , h, w] = check4d('canny sobel', x, [1]);
  const n = b * h * w;
  const gx = rt.empty(x.shape, 'f32', 'canny.gx');
  const gy = rt.empty(x.shape, 'f32', 'canny.gy');
  const magnitude = rt.empty(x.shape, 'f32', 'canny.magnitude');
  if (n > 0) {
    rt.kernel('canny').run({
      defines: { SOBEL: 1 },
      constants: { WG },
      bindings: { x, gx, gy, mag: magnitude },
      params: { n, h, w, l1: mode === 'opencv' ? 1 : 0, eps: KORNIA_EPS },
      groups: rt.groups1d(n, WG),
      label: `canny.sobel_${mode}`,
    });
  }
  return { gx, gy, magnitude };
}

export interface NmsOutput {
  /** u32 [B, 1, H, W]: 0 not an edge, 1 weak (low < m <= high), 2 strong (m > high), after NMS. */
  state: Tensor;
  /** kornia: the NMS-thinned magnitude (kornia's first output; clamped to [0,1] with clamp01). */
  magnitudeNms?: Tensor;
  /** kornia: u32 direction index round(atan2(gy, gx) / 45deg) mod 8. */
  direction?: Tensor;
}

/** Non-maximum suppression and double threshold. Thresholds are in the mode's units (see opencvThresholds). */
export function cannyNms(
  rt: Runtime,
  gx: Tensor,
  gy: Tensor,
  magnitude: Tensor,
  mode: CannyMode,
  low: number,
  high: number,
  opts: { clamp01?: boolean } = {},
): NmsOutput {
  const [b, , h, w] = check4d('canny nms', magnitude, [1]);
  check4d('canny nms', gx, [1]);
  check4d('canny nms', gy, [1]);
  sameShape('canny nms', gx, gy, magnitude);
  if (!(low <= high)) throw new Error(`canny nms: low threshold ${low} must be <= high threshold ${high}`);
  const n = b * h * w;
  const state = rt.empty(magnitude.shape, 'u32', 'canny.state');
  const out: NmsOutput = { state };
  const bindings: Record<string, Tensor> = { gx, gy, mag: magnitude, state };
  if (mode === 'kornia') {
    out.magnitudeNms = bindings.mag_nms = rt.empty(magnitude.shape, 'f32', 'canny.magnitude_nms');
    out.direction = bindings.dir = rt.empty(magnitude.shape, 'u32', 'canny.direction');
  }
  if (n > 0) {
    rt.kernel('canny').run({
      defines: { NMS: 1, [mode === 'opencv' ? 'OPENCV' : 'KORNIA']: 1 },
      constants: { WG },
      bindings,
      params: { n, h, w, low, high, clamp01: opts.clamp01 ? 1 : 0 },
      groups: rt.groups1d(n, WG),
      label: `canny.nms_${mode}`,
    });
  }
  return out;
}

export interface HysteresisOptions {
  /** Pixels of one row scanned by an invocation (default: 32). */
  chunk?: number;
}

/**
 * Queue `passes` hysteresis passes on `state` (u32 [B, 1, H, W], modified in place: strong pixels end
 * as 2 or 3). Returns the change flags, u32 [passes + 1]: flags[0] = 1, flags[j] != 0 when pass j changed
 * something. The map is final once a pass changed nothing (flags[passes] == 0); later passes then exit
 * at once on the GPU.
 */
export function cannyHysteresis(rt: Runtime, state: Tensor, passes: number, opts: HysteresisOptions = {}): Tensor {
  if (state.dtype !== 'u32' || state.rank !== 4 || state.shape[1] !== 1)
    throw new Error(
      `canny hysteresis: expects a u32 state map [B, 1, H, W], got ${state.dtype} ${shapeStr(state.shape)}`,
    );
  if (!Number.isInteger(passes) || passes < 1)
    throw new Error(`canny hysteresis: passes ${passes} must be a positive integer`);
  const chunk = opts.chunk ?? 32;
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new Error(`canny hysteresis: chunk ${chunk} must be a positive integer`);
  if (state.byteOffset % rt.limits.minStorageBufferOffsetAlignment !== 0)
    throw new Error(`canny hysteresis: state must not be an unaligned view (${state})`);
  const [b, , h, w] = state.shape as [number, number, number, number];
  // flags = [1, 0, …, 0], queued (clear + a 4-byte copy of a constant): no upload mid-graph
  const flags = rt.zeros([passes + 1], 'u32', 'canny.hysteresis_flags');
  const one = rt.constant('u32 one', () => rt.upload([1], [1], 'u32', 'one'));
  const first = flags.narrow0(0, 1);
  rt.copy(one, first, 'canny.hysteresis_flags');
  first.dispose();
  const chunksPerRow = Math.ceil(w / chunk);
  const n = b * h * chunksPerRow;
  if (n === 0) return flags;
  for (let j = 1; j <= passes; j++) {
    rt.kernel('canny').run({
      defines: { HYST: 1 },
      constants: { WG },
      bindings: { state, flags },
      params: { n, h, w, chunk, chunks_per_row: chunksPerRow, pass_idx: j },
      groups: rt.groups1d(n, WG),
      label: 'canny.hysteresis',
    });
  }
  return flags;
}

/**
 * Run hysteresis passes until one changes nothing, reading the change flag back every `batch` passes
 * (4 bytes per read). Returns the number of passes that did work (the last, empty one not counted).
 */
export async function cannyHysteresisConverge(
  rt: Runtime,
  state: Tensor,
  opts: HysteresisOptions & { batch?: number; maxPasses?: number } = {},
): Promise<number> {
  const batch = opts.batch ?? 4;
  // every pass that changes something claims at least one pixel (1 -> 3 or 2 -> 3), so this bound is safe
  const maxPasses = opts.maxPasses ?? 2 * state.size + 2;
  let done = 0;
  while (done < maxPasses) {
    const k = Math.min(batch, maxPasses - done);
    const flags = cannyHysteresis(rt, state, k, opts);
    const f = (await rt.read(flags, 'raw')) as Uint32Array;
    flags.dispose();
    const firstIdle = f.findIndex((v, i) => i > 0 && v === 0);
    if (firstIdle > 0) return done + firstIdle - 1;
    done += k;
  }
  throw new Error(`canny hysteresis: no convergence after ${maxPasses} passes`);
}

/** Edge map f32 [B, 1, H, W]: `scale` where state >= 2 (strong after hysteresis), else 0. */
export function cannyEdges(rt: Runtime, state: Tensor, scale = 1): Tensor {
  if (state.dtype !== 'u32' || state.rank !== 4)
    throw new Error(`canny edges: expects a u32 state map [B, 1, H, W], got ${state.dtype} ${shapeStr(state.shape)}`);
  const edges = rt.empty(state.shape, 'f32', 'canny.edges');
  if (edges.size > 0) {
    rt.kernel('canny').run({
      defines: { FINAL: 1 },
      constants: { WG },
      bindings: { state, edges },
      params: { n: edges.size, scale },
      groups: rt.groups1d(edges.size, WG),
      label: 'canny.edges',
    });
  }
  return edges;
}

// ------------------------------------------------------------------------------------------ pipelines

export interface CannyOptions {
  mode?: CannyMode;
  /** Thresholds in the mode's units (defaults: opencv 100 / 200, kornia 0.1 / 0.2). */
  low?: number;
  high?: number;
  /**
   * Gaussian sigma. opencv: 0 / undefined = no blur (cv2.Canny has none), else cv2.GaussianBlur(gray,
   * (0,0), sigma) first. kornia: default 1 (kernelSize 5).
   */
  blur?: number;
  /** kornia only: Gaussian kernel size (default 5). */
  kernelSize?: number;
  /** kornia: clamp the NMS magnitude to [0, 1] (the RobotSeg fork's edge map). */
  clamp01?: boolean;
  /** Hysteresis: pixels per invocation, passes per readback. */
  chunk?: number;
  batch?: number;
}

export interface CannyResult {
  gray: Tensor;
  /** The blurred gray (the gray itself when opencv runs without blur). */
  blurred: Tensor;
  gx: Tensor;
  gy: Tensor;
  magnitude: Tensor;
  /** State after the double threshold (0/1/2), before hysteresis. */
  thresholded: Tensor;
  /** Binary edges after hysteresis: opencv 0/255, kornia 0/1, f32 [B, 1, H, W]. */
  edges: Tensor;
  magnitudeNms?: Tensor;
  direction?: Tensor;
  /** Hysteresis passes that did work (canny) or were queued (cannyQueued). */
  passes: number;
  /** cannyQueued: the change flags of the queued passes (see cannyHysteresis). */
  flags?: Tensor;
  dispose(): void;
}

interface Front {
  gray: Tensor;
  blurred: Tensor;
  gx: Tensor;
  gy: Tensor;
  magnitude: Tensor;
  nms: NmsOutput;
  thresholded: Tensor;
  mode: CannyMode;
}

function front(rt: Runtime, x: Tensor, opts: CannyOptions): Front {
  const mode = opts.mode ?? 'opencv';
  if (mode !== 'opencv' && mode !== 'kornia')
    throw new Error(`canny: unknown mode '${mode as string}' (opencv | kornia)`);
  let { low, high } = { ...DEFAULT_THRESHOLDS[mode], ...dropUndefined({ low: opts.low, high: opts.high }) };
  if (mode === 'opencv') ({ low, high } = opencvThresholds(low, high));
  else if (!(low <= high)) throw new Error(`canny: low threshold ${low} must be <= high threshold ${high} (kornia)`);
  const gray = cannyGray(rt, x, mode);
  let blurred = gray;
  if (mode === 'opencv' && opts.blur) {
    blurred = cannyBlur(rt, gray, gaussianKernelOpenCV8U(opts.blur), { roundU8: true });
  } else if (mode === 'kornia') {
    blurred = cannyBlur(rt, gray, gaussianKernelKornia(opts.kernelSize ?? 5, opts.blur ?? 1));
  }
  const { gx, gy, magnitude } = cannySobel(rt, blurred, mode);
  const nms = cannyNms(rt, gx, gy, magnitude, mode, low, high, { clamp01: opts.clamp01 });
  const thresholded = rt.empty(nms.state.shape, 'u32', 'canny.thresholded');
  if (thresholded.size > 0) rt.copy(nms.state, thresholded);
  return { gray, blurred, gx, gy, magnitude, nms, thresholded, mode };
}

function finish(rt: Runtime, f: Front, passes: number, flags?: Tensor): CannyResult {
  const edges = cannyEdges(rt, f.nms.state, f.mode === 'opencv' ? 255 : 1);
  f.nms.state.dispose();
  const all = [
    f.gray,
    f.blurred,
    f.gx,
    f.gy,
    f.magnitude,
    f.thresholded,
    edges,
    f.nms.magnitudeNms,
    f.nms.direction,
    flags,
  ];
  return {
    gray: f.gray,
    blurred: f.blurred,
    gx: f.gx,
    gy: f.gy,
    magnitude: f.magnitude,
    thresholded: f.thresholded,
    edges,
    magnitudeNms: f.nms.magnitudeNms,
    direction: f.nms.direction,
    passes,
    flags,
    dispose: () => {
      for (const t of new Set(all)) t?.dispose();
    },
  };
}

/**
 * The whole detector. x: opencv -> RGB (or gray) 0..255 [B, 3|1, H, W]; kornia -> the normalised model
 * input [B, 3, H, W]. Reads back only the hysteresis change flags (4 bytes every `batch` passes).
 */
export async function canny(rt: Runtime, x: Tensor, opts: CannyOptions = {}): Promise<CannyResult> {
  const f = front(rt, x, opts);
  const passes = await cannyHysteresisConverge(rt, f.nms.state, { chunk: opts.chunk, batch: opts.batch });
  return finish(rt, f, passes);
}

/**
 * The whole detector queued without any readback: exactly `passes` hysteresis passes (each exits at
 * once on the GPU after the map became final). `flags` (u32 [passes + 1]) tells afterwards whether that
 * was enough: the edges are final iff flags[passes] == 0 or the map needed exactly `passes` passes.
 */
export function cannyQueued(rt: Runtime, x: Tensor, opts: CannyOptions & { passes: number }): CannyResult {
  const f = front(rt, x, opts);
  const flags = cannyHysteresis(rt, f.nms.state, opts.passes, { chunk: opts.chunk });
  return finish(rt, f, opts.passes, flags);
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ------------------------------------------------------------------------------------------ bands
// Photos of 12 MP and more do not fit one binding (a 4032x3024 f32 plane stack is 146 MB). `cannyBands`
// runs the OpenCV detector in bands of rows: the local stages (gray, blur, Sobel, NMS + double
// threshold) per band with `halo` rows of context (blur radius + Sobel + NMS), keeping only the band's
// own rows, into one host state map (0/1/2, a byte a pixel); then hysteresis, which is global, band by
// band on the GPU with one shared row each side: a band is re-run whenever a neighbour changed the rows
// they share, until no band changes. Strong pixels are re-armed (3 -> 2) on every upload so they
// propagate across the cut. The fixed point is the same as one whole-image hysteresis.

/** Edges (0/255 bytes, [H*W]) of cv2.Canny on an RGB image, in bands that fit rt.maxBinding. */
export async function cannyBands(
  rt: Runtime,
  img: { width: number; height: number; data: Uint8Array },
  opts: { low?: number; high?: number; blur?: number; maxBandBytes?: number } = {},
): Promise<{ edges: Uint8Array; bands: number; runs: number }> {
  const { width: W, height: H, data } = img;
  const limit = Math.min(rt.maxBinding, opts.maxBandBytes ?? 32 * 2 ** 20);
  const radius = opts.blur ? (gaussianKernelOpenCV8U(opts.blur).length - 1) / 2 : 0;
  const halo = radius + 3; // blur, Sobel (1), NMS (1), one spare
  const rows = Math.floor(limit / (12 * W)); // the [1, 3, rows, W] f32 input is the largest tensor
  const core = H <= rows ? H : rows - 2 * halo;
  if (core < 1)
    throw new Error(
      `canny: a ${W}-pixel-wide image needs ${(2 * halo + 1) * 12 * W} bytes per band, over the binding limit ${limit}`,
    );
  const state = new Uint8Array(W * H);
  // 1. local stages per band
  for (let a = 0; a < H; a += core) {
    const b = Math.min(H, a + core);
    const a0 = Math.max(0, a - halo);
    const b0 = Math.min(H, b + halo);
    const n = (b0 - a0) * W;
    const planes = new Float32Array(3 * n);
    for (let i = 0, j = 3 * a0 * W; i < n; i++, j += 3) {
      planes[i] = data[j];
      planes[n + i] = data[j + 1];
      planes[2 * n + i] = data[j + 2];
    }
    const s = await rt.scopeAsync(async () => {
      const f = front(rt, rt.upload(planes, [1, 3, b0 - a0, W], 'f32', 'canny.band'), {
        mode: 'opencv',
        low: opts.low,
        high: opts.high,
        blur: opts.blur,
      });
      return (await rt.read(f.nms.state, 'raw')) as Uint32Array;
    });
    for (let i = (a - a0) * W, o = a * W; o < b * W; i++, o++) state[o] = s[i];
  }
  // 2. hysteresis per band (rows [a - 1, b + 1)), re-run while a neighbour changed a shared row
  const hrows = Math.floor(limit / (4 * W));
  const hcore = H <= hrows ? H : hrows - 2;
  if (hcore < 1) throw new Error(`canny: hysteresis rows of ${W} pixels do not fit the binding limit ${limit}`);
  const starts: number[] = [];
  for (let a = 0; a < H; a += hcore) starts.push(a);
  const dirty = starts.map(() => true);
  let runs = 0;
  for (let k = dirty.indexOf(true); k >= 0; k = dirty.indexOf(true)) {
    dirty[k] = false;
    runs++;
    const a = starts[k];
    const b = Math.min(H, a + hcore);
    const a0 = Math.max(0, a - 1);
    const b0 = Math.min(H, b + 1);
    const band = Uint32Array.from(state.subarray(a0 * W, b0 * W), (v) => Math.min(v, 2));
    const before = state.slice(a0 * W, b0 * W);
    const after = await rt.scopeAsync(async () => {
      const t = rt.upload(band, [1, 1, b0 - a0, W], 'u32', 'canny.band_state');
      await cannyHysteresisConverge(rt, t);
      return (await rt.read(t, 'raw')) as Uint32Array;
    });
    const changedRows = new Set<number>();
    for (let i = 0; i < after.length; i++) {
      const v = Math.min(after[i], 2);
      if (v !== before[i]) changedRows.add(a0 + Math.floor(i / W));
      state[a0 * W + i] = v;
    }
    // band k-1 reads rows up to a (its b + 1 = a + 1); band k+1 reads rows from b - 1
    if (k > 0 && (changedRows.has(a - 1) || changedRows.has(a))) dirty[k - 1] = true;
    if (k + 1 < starts.length && (changedRows.has(b - 1) || changedRows.has(b))) dirty[k + 1] = true;
  }
  const edges = Uint8Array.from(state, (v) => (v >= 2 ? 255 : 0));
  return { edges, bands: Math.ceil(H / core), runs };
}
