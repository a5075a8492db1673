// Wrapper for shaders/resize.wgsl: PyTorch's F.interpolate on NCHW f32 tensors (align_corners=False)
// for the modes SAM 2 uses, plus the backward pass of every mode.
//
//   nearest              legacy 'nearest' (FPN x2 top-down upsampling)
//   bilinear             mask logits 64 -> 256 and low-res logits -> original image size
//   bilinear, antialias  image preprocessing (torchvision Resize on tensors)
//   bicubic              Hiera pos_embed 7x7 -> token grid (A = -0.75)
//   bicubic, antialias   for completeness (Keys cubic a = -0.5, as PIL / PyTorch)
//
// Source indices and weights are computed once per (mode, in, out) on the host with the same float /
// double arithmetic as ATen's CPU kernels (torch 1.13, which produced the golden tensors: the bilinear
// source index is computed in double from a float scale, everything else in float), uploaded as small
// per-axis CSR gather tables and cached per runtime. The GPU kernel only does the weighted gathers.
// Backward uses the transposed tables in the same kernel: dx is a gather over the outputs that read
// each input pixel (no scatter, no atomics).

import { type HostArray, shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import { type Tensor, untrack } from '../graph/tensor.js';

export type ResizeMode = 'nearest' | 'bilinear' | 'bicubic';
export interface ResizeOptions {
  mode?: ResizeMode;
  /** PyTorch's antialias=True (bilinear / bicubic only): widen the filter by the downscale factor. */
  antialias?: boolean;
  /**
   * Kernel variant: 'auto' uses the unrolled fixed-tap kernel when every output has the same tap count
   * per axis (nearest, bilinear, bicubic forward), else the generic CSR kernel; 'generic' forces the
   * latter (tests cover both).
   */
  variant?: 'auto' | 'generic';
}

const WG = 128;
const f = Math.fround;

/** Gather lists along one axis, CSR over destination indices: entries [ptr[d], ptr[d+1]) of idx / w. */
export interface AxisTable {
  ptr: Uint32Array;
  idx: Uint32Array;
  w: Float32Array;
}

function fromLists(lists: Array<Array<[number, number]>>): AxisTable {
  const ptr = new Uint32Array(lists.length + 1);
  lists.forEach((l, d) => (ptr[d + 1] = ptr[d] + l.length));
  const idx = new Uint32Array(ptr[lists.length]);
  const w = new Float32Array(ptr[lists.length]);
  lists.forEach((l, d) =>
    l.forEach(([s, wt], k) => {
      idx[ptr[d] + k] = s;
      w[ptr[d] + k] = wt;
    }),
  );
  return { ptr, idx, w };
}

// Keys cubic convolution in float, ATen's cubic_convolution1 (|x| <= 1) / cubic_convolution2 (1 < |x| < 2).
const cubic1 = (x: number, a: number) => f(f(f(f(f(f(a + 2) * x) - f(a + 3)) * x) * x) + 1);
const cubic2 = (x: number, a: number) => f(f(f(f(f(f(a * x) - f(5 * a)) * x) + f(8 * a)) * x) - f(4 * a));

/** One output index's taps without antialias (ATen HelperInterp{Nearest,Linear,Cubic}::compute_indices_weights). */
function plainTaps(
  mode: ResizeMode,
  inSize: number,
  outSize: number,
  scale: number,
  o: number,
): Array<[number, number]> {
  if (mode === 'nearest') return [[Math.min(Math.floor(f(scale * o)), inSize - 1), 1]];
  if (mode === 'bilinear') {
    if (inSize === outSize) return [[o, 1]]; // ATen copies (weights 1 and 0 on the same pixel)
    const real = Math.max(scale * (o + 0.5) - 0.5, 0); // acc_type<float> = double
    const i0 = Math.trunc(real);
    const l1 = f(real - i0);
    return [
      [i0, f(1 - l1)],
      [i0 < inSize - 1 ? i0 + 1 : i0, l1],
    ];
  }
  const real = f(f(scale * f(o + 0.5)) - 0.5); // cubic: not clamped at 0
  const i = Math.floor(real);
  const t = f(real - i);
  const A = -0.75;
  const w = [cubic2(f(t + 1), A), cubic1(t, A), cubic1(f(1 - t), A), cubic2(f(f(1 - t) + 1), A)];
  return w.map((wj, j) => [Math.max(0, Math.min(i + j - 1, inSize - 1)), wj]);
}

/** One output index's taps with antialias (ATen _compute_indices_min_size_weights_aa). */
function aaTaps(mode: 'bilinear' | 'bicubic', inSize: number, scale: number, o: number): Array<[number, number]> {
  const interp = mode === 'bilinear' ? 2 : 4;
  const support = scale >= 1 ? f(interp * 0.5 * scale) : interp * 0.5;
  const maxSize = Math.ceil(support) * 2 + 1;
  const center = f(scale * (o + 0.5));
  const invscale = scale >= 1 ? f(1 / scale) : 1;
  const xmin = Math.max(Math.trunc(f(center - support) + 0.5), 0);
  const xsize = Math.max(0, Math.min(Math.min(Math.trunc(f(center + support) + 0.5), inSize) - xmin, maxSize));
  const filter = (v: number): number => {
    const x = Math.abs(v);
    if (mode === 'bilinear') return x < 1 ? f(1 - x) : 0;
    return x < 1 ? cubic1(x, -0.5) : x < 2 ? cubic2(x, -0.5) : 0;
  };
  const ws: number[] = [];
  let total = 0;
  for (let j = 0; j < xsize; j++) {
    const w = filter(f((f(j + xmin - center) + 0.5) * invscale));
    ws.push(w);
    total = f(total + w);
  }
  return ws.map((w, j) => [xmin + j, total !== 0 ? f(w / total) : w]);
}

/** Forward gather table for one axis: for each output index, the input pixels it reads and their weights. */
export function resizeAxisTable(mode: ResizeMode, antialias: boolean, inSize: number, outSize: number): AxisTable {
  const scale = f(inSize / outSize);
  const lists: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) {
    if (antialias && mode !== 'nearest') lists.push(inSize === outSize ? [[o, 1]] : aaTaps(mode, inSize, scale, o));
    else lists.push(plainTaps(mode, inSize, outSize, scale, o));
  }
  return fromLists(lists);
}

/** Transpose a table: for each source index, the destinations that read it (backward gather lists). */
export function transposeTable(t: AxisTable, srcSize: number): AxisTable {
  const lists: Array<Array<[number, number]>> = Array.from({ length: srcSize }, () => []);
  for (let d = 0; d + 1 < t.ptr.length; d++) {
    for (let e = t.ptr[d]; e < t.ptr[d + 1]; e++) lists[t.idx[e]].push([d, t.w[e]]);
  }
  return fromLists(lists);
}

interface Tables {
  i: Tensor;
  w: Tensor;
  hPtr: number;
  hEnt: number;
  wPtr: number;
  wEnt: number;
  hWt: number;
  wWt: number;
  /** Taps per destination on each axis when constant and <= 4 (FIXED variant), else 0. */
  kh: number;
  kw: number;
}

/** The tap count shared by every destination of the table, or 0 (variable or > 4). */
function fixedTaps(t: AxisTable): number {
  const k = t.ptr[1] - t.ptr[0];
  for (let d = 1; d + 1 < t.ptr.length; d++) if (t.ptr[d + 1] - t.ptr[d] !== k) return 0;
  return k >= 1 && k <= 4 ? k : 0;
}
const tableCache = new WeakMap<Runtime, Map<string, Tables>>();
const MAX_CACHED = 64;

/** GPU tables for both axes (uploaded once per runtime and key). */
function gpuTables(rt: Runtime, key: string, th: AxisTable, tw: AxisTable): Tables {
  let cache = tableCache.get(rt);
  if (!cache) tableCache.set(rt, (cache = new Map()));
  const hit = cache.get(key);
  if (hit) return hit;
  if (cache.size >= MAX_CACHED) {
    // Queued dispatches may still reference the old tables: submit them before the buffers are recycled.
    rt.flush();
    for (const t of cache.values()) {
      t.i.dispose();
      t.w.dispose();
    }
    cache.clear();
  }
  // untrack: the cache outlives any rt.scope() the first call ran in
  const t = uploadTables(rt, key, th, tw);
  untrack(t.i);
  untrack(t.w);
  cache.set(key, t);
  return t;
}

/** Both axes' tables as two small tensors (the caller owns them). */
function uploadTables(rt: Runtime, key: string, th: AxisTable, tw: AxisTable): Tables {
  const hPtr = 0;
  const hEnt = hPtr + th.ptr.length;
  const wPtr = hEnt + th.idx.length;
  const wEnt = wPtr + tw.ptr.length;
  const ints = new Uint32Array(wEnt + tw.idx.length);
  ints.set(th.ptr, hPtr);
  ints.set(th.idx, hEnt);
  ints.set(tw.ptr, wPtr);
  ints.set(tw.idx, wEnt);
  const wts = new Float32Array(Math.max(th.w.length + tw.w.length, 1));
  wts.set(th.w, 0);
  wts.set(tw.w, th.w.length);
  return {
    i: rt.upload(ints, [ints.length], 'u32', `resize tables ${key}`),
    w: rt.upload(wts, [wts.length], 'f32', `resize weights ${key}`),
    hPtr,
    hEnt,
    wPtr,
    wEnt,
    hWt: 0,
    wWt: th.w.length,
    kh: fixedTaps(th),
    kw: fixedTaps(tw),
  };
}

function tablesFor(
  rt: Runtime,
  mode: ResizeMode,
  aa: boolean,
  inHW: readonly number[],
  outHW: readonly number[],
  backward: boolean,
): Tables {
  const key = `${mode}${aa ? '+aa' : ''} ${inHW.join('x')}->${outHW.join('x')}${backward ? ' backward' : ''}`;
  const hit = tableCache.get(rt)?.get(key);
  if (hit) return hit;
  let th = resizeAxisTable(mode, aa, inHW[0], outHW[0]);
  let tw = resizeAxisTable(mode, aa, inHW[1], outHW[1]);
  if (backward) {
    th = transposeTable(th, inHW[0]);
    tw = transposeTable(tw, inHW[1]);
  }
  return gpuTables(rt, key, th, tw);
}

function run(
  rt: Runtime,
  x: Tensor,
  srcHW: readonly number[],
  dstHW: readonly number[],
  t: Tables,
  label: string,
  generic: boolean,
): Tensor {
  const [b, c] = x.shape;
  const y = rt.empty([b, c, dstHW[0], dstHW[1]], 'f32', label);
  const n = y.size;
  if (n > 0) {
    const fixed = !generic && t.kh > 0 && t.kw > 0;
    rt.kernel('resize').run({
      defines: fixed ? { FIXED: 1 } : {},
      constants: fixed ? { WG, KH: t.kh, KW: t.kw } : { WG },
      bindings: { x, tab_i: t.i, tab_w: t.w, y },
      params: {
        n,
        src_h: srcHW[0],
        src_w: srcHW[1],
        dst_h: dstHW[0],
        dst_w: dstHW[1],
        h_ptr: t.hPtr,
        h_ent: t.hEnt,
        w_ptr: t.wPtr,
        w_ent: t.wEnt,
        h_wt: t.hWt,
        w_wt: t.wWt,
      },
      groups: rt.groups1d(n, WG),
      label: `resize.${label}`,
    });
  }
  return y;
}

function check(x: Tensor, size: readonly number[], mode: ResizeMode, antialias: boolean): void {
  const what = `resize ${mode}${antialias ? ' antialias' : ''}`;
  if (x.dtype !== 'f32') throw new Error(`${what}: expects an f32 tensor, got ${x.dtype} for ${x}`);
  if (x.rank !== 4) throw new Error(`${what}: expects NCHW [B, C, H, W], got ${shapeStr(x.shape)}`);
  if (size.length !== 2 || size.some((s) => !Number.isInteger(s) || s <= 0)) {
    throw new Error(`${what}: output size must be two positive integers [outH, outW], got [${size.join(', ')}]`);
  }
  if ((x.shape[2] === 0 || x.shape[3] === 0) && x.shape[0] * x.shape[1] > 0) {
    throw new Error(`${what}: input ${shapeStr(x.shape)} has an empty spatial dimension`);
  }
  if (!['nearest', 'bilinear', 'bicubic'].includes(mode)) throw new Error(`resize: unknown mode '${mode}'`);
  if (antialias && mode === 'nearest') throw new Error(`resize: antialias is only defined for bilinear and bicubic`);
}

/**
 * F.interpolate(x, size=[outH, outW], mode, align_corners=False, antialias) for x [B, C, H, W] f32.
 * Records a backward node (the exact adjoint, for every mode) when the tape wants x.
 */
export function resize(rt: Runtime, x: Tensor, size: readonly [number, number], opts: ResizeOptions = {}): Tensor {
  const mode = opts.mode ?? 'nearest';
  const aa = opts.antialias ?? false;
  check(x, size, mode, aa);
  const inHW = [x.shape[2], x.shape[3]];
  const label = `${mode}${aa ? '_aa' : ''}`;
  const empty = x.shape[0] * x.shape[1] === 0;
  const y = empty
    ? rt.empty([x.shape[0], x.shape[1], size[0], size[1]], 'f32', label)
    : run(rt, x, inHW, size, tablesFor(rt, mode, aa, inHW, size, false), label, opts.variant === 'generic');
  if (rt.tape?.wants([x])) {
    rt.tape.record({
      op: `resize_${label}`,
      inputs: [x],
      outputs: [y],
      saved: [],
      backward: ([dy]) => [
        dy ? resizeBackward(rt, dy, inHW as [number, number], { mode, antialias: aa, variant: opts.variant }) : null,
      ],
    });
  }
  return y;
}

/** Gradient of resize: dx [B, C, inH, inW] from dy [B, C, outH, outW]. */
export function resizeBackward(
  rt: Runtime,
  dy: Tensor,
  inSize: readonly [number, number],
  opts: ResizeOptions = {},
): Tensor {
  const mode = opts.mode ?? 'nearest';
  const aa = opts.antialias ?? false;
  check(dy, inSize, mode, aa);
  const outHW = [dy.shape[2], dy.shape[3]];
  const label = `${mode}${aa ? '_aa' : ''}_backward`;
  if (dy.shape[0] * dy.shape[1] === 0) return rt.empty([dy.shape[0], dy.shape[1], inSize[0], inSize[1]], 'f32', label);
  return run(rt, dy, outHW, inSize, tablesFor(rt, mode, aa, inSize, outHW, true), label, opts.variant === 'generic');
}

/** Alias with PyTorch's name. */
export const interpolate = resize;

// ------------------------------------------------------------------------------------------ row bands
// Images of 12 MP and more do not fit one storage binding (128 MiB on many GPUs, lavapipe included:
// a 4032x3024 RGB image is 146 MB as f32 planes). A resize then runs in bands of output rows: band k
// reads only the source rows its taps touch, with the same taps and arithmetic as the whole resize,
// so the bands together equal resize() bit for bit (test/kernels/resize_bands.test.ts).

/** Output rows [r0, r1) of a resize and the source rows [s0, s1) their taps read. */
export interface RowBand {
  r0: number;
  r1: number;
  s0: number;
  s1: number;
}

const hostTables = new Map<string, AxisTable>();
/** Forward table of one axis, cached on the host (a few small entries: sizes of the current images). */
function hostTable(mode: ResizeMode, aa: boolean, inSize: number, outSize: number): AxisTable {
  const key = `${mode}${aa ? '+aa' : ''} ${inSize}->${outSize}`;
  let t = hostTables.get(key);
  if (!t) {
    if (hostTables.size >= 16) hostTables.clear();
    t = resizeAxisTable(mode, aa, inSize, outSize);
    hostTables.set(key, t);
  }
  return t;
}

/**
 * Split resize([P planes, inH, inW] -> [outH, outW]) into bands of output rows such that each band's
 * source rows (P * (s1 - s0) * inW floats) and output rows (P * (r1 - r0) * outW floats) fit in
 * maxBytes. One band when everything fits.
 */
export function resizeRowBands(
  inHW: readonly [number, number],
  outHW: readonly [number, number],
  planes: number,
  maxBytes: number,
  opts: ResizeOptions = {},
): RowBand[] {
  const mode = opts.mode ?? 'nearest';
  const th = hostTable(mode, opts.antialias ?? false, inHW[0], outHW[0]);
  const srcRow = 4 * planes * inHW[1];
  const dstRow = 4 * planes * outHW[1];
  const bands: RowBand[] = [];
  const span = (r: number): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let e = th.ptr[r]; e < th.ptr[r + 1]; e++) {
      lo = Math.min(lo, th.idx[e]);
      hi = Math.max(hi, th.idx[e] + 1);
    }
    return [lo, hi];
  };
  let r = 0;
  while (r < outHW[0]) {
    let [s0, s1] = span(r);
    if ((s1 - s0) * srcRow > maxBytes || dstRow > maxBytes)
      throw new Error(
        `resize ${inHW.join('x')} -> ${outHW.join('x')}: one output row of ${planes} planes needs more than the ${maxBytes}-byte binding limit`,
      );
    let r1 = r + 1;
    while (r1 < outHW[0]) {
      const [a, b] = span(r1);
      const n0 = Math.min(s0, a);
      const n1 = Math.max(s1, b);
      if ((n1 - n0) * srcRow > maxBytes || (r1 + 1 - r) * dstRow > maxBytes) break;
      s0 = n0;
      s1 = n1;
      r1++;
    }
    bands.push({ r0: r, r1, s0, s1 });
    r = r1;
  }
  return bands;
}

/**
 * Output rows [band.r0, band.r1) of resize(full, size, opts), where x [B, C, rows, inW] holds the
 * source rows [srcRow0, srcRow0 + rows) of the full [B, C, inH, inW] input (every row the band's taps
 * read). Returns [B, C, r1 - r0, outW] with the same values as those rows of resize(). Forward only.
 */
export function resizeBand(
  rt: Runtime,
  x: Tensor,
  inHW: readonly [number, number],
  size: readonly [number, number],
  band: { r0: number; r1: number },
  srcRow0: number,
  opts: ResizeOptions = {},
): Tensor {
  const mode = opts.mode ?? 'nearest';
  const aa = opts.antialias ?? false;
  check(x, size, mode, aa);
  const rows = x.shape[2];
  if (x.shape[3] !== inHW[1]) throw new Error(`resizeBand: x ${shapeStr(x.shape)} is not ${inHW[1]} pixels wide`);
  if (!(band.r0 >= 0 && band.r1 > band.r0 && band.r1 <= size[0]))
    throw new Error(`resizeBand: output rows [${band.r0}, ${band.r1}) outside 0..${size[0]}`);
  const th = hostTable(mode, aa, inHW[0], size[0]);
  const tw = hostTable(mode, aa, inHW[1], size[1]);
  const e0 = th.ptr[band.r0];
  const e1 = th.ptr[band.r1];
  const idx = new Uint32Array(e1 - e0);
  for (let e = e0; e < e1; e++) {
    const s = th.idx[e] - srcRow0;
    if (s < 0 || s >= rows)
      throw new Error(
        `resizeBand: output rows [${band.r0}, ${band.r1}) read source row ${th.idx[e]}, outside the given rows [${srcRow0}, ${srcRow0 + rows})`,
      );
    idx[e - e0] = s;
  }
  const sub: AxisTable = {
    ptr: th.ptr.slice(band.r0, band.r1 + 1).map((p) => p - e0),
    idx,
    w: th.w.slice(e0, e1),
  };
  const label = `${mode}${aa ? '_aa' : ''}_band`;
  // cached per runtime like the whole-image tables: a stream resizes the same bands every frame, and
  // an upload mid-frame would flush the queue
  const key = `${label} ${inHW.join('x')}->${size.join('x')} rows ${band.r0}-${band.r1} from ${srcRow0}`;
  const t = gpuTables(rt, key, sub, tw);
  return run(rt, x, [rows, inHW[1]], [band.r1 - band.r0, size[1]], t, label, opts.variant === 'generic');
}

/**
 * resize(x, size) of a small x [B, C, h, w] (low-res mask logits) straight to the host, band by band
 * so no binding exceeds rt.maxBinding: per plane, a 0/1 mask (value > threshold) and, when `logits`
 * is set, the f32 values. Planes in NCHW order (b * C + c). Tensors in `with` are read back in the
 * same transfer as the first band (their values in `with`, in order).
 */
export async function resizeToHost(
  rt: Runtime,
  x: Tensor,
  size: readonly [number, number],
  opts: ResizeOptions & { threshold: number; logits: boolean; with?: readonly Tensor[] },
): Promise<{ masks: Uint8Array[]; logits: Float32Array[] | null; with: HostArray[] }> {
  const [b, c, h, w] = x.shape;
  const P = b * c;
  const [H, W] = size;
  const masks = Array.from({ length: P }, () => new Uint8Array(H * W));
  const logits = opts.logits ? Array.from({ length: P }, () => new Float32Array(H * W)) : null;
  const thr = opts.threshold;
  let extra: HostArray[] = [];
  let first = true;
  for (const band of resizeRowBands([h, w], [H, W], P, rt.maxBinding, opts)) {
    const y = resizeBand(rt, x, [h, w], [H, W], band, 0, opts);
    // opts.with come back with the first band: one readback when the output fits one band
    const [v, ...rest] = (await rt.readMany(first ? [y, ...(opts.with ?? [])] : [y])) as Float32Array[];
    if (first) extra = rest;
    first = false;
    y.dispose();
    const n = (band.r1 - band.r0) * W;
    for (let p = 0; p < P; p++) {
      const src = v.subarray(p * n, (p + 1) * n);
      const m = masks[p];
      const o = band.r0 * W;
      for (let i = 0; i < n; i++) m[o + i] = src[i] > thr ? 1 : 0;
      logits?.[p].set(src, o);
    }
  }
  if (first && opts.with?.length) extra = await rt.readMany(opts.with); // no output rows at all
  return { masks, logits, with: extra };
}
