// Wrapper for shaders/layout.wgsl: data movement as GPU kernels. permute, slice, pad, tile / repeat
// and concat are all one strided gather (see the shader header); window partition / unpartition (SAM 2
// hiera_utils) have their own entries; cast converts f32 <-> f16. Every op works on f32 / u32 / i32
// (moved as 32-bit words) and f16 tensors, and records an autograd node for float inputs: the backward
// of linear data movement is again data movement (permute -> inverse permute, slice <-> pad,
// concat -> slices, window partition <-> unpartition, tile -> sum over the copies).

import type { Node } from '../graph/autograd.js';
import { type DType, numel, shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';

const WG = 128;
const RUN = 4; // elements per invocation along the innermost dim (shader const RUN)
export const LAYOUT_MAX_RANK = 8;

/** One dim of a gather's iteration domain (see shaders/layout.wgsl GATHER). */
interface Dim {
  /** extent of the domain (output) dim */
  e: number;
  /** element stride in x / y */
  xs: number;
  ys: number;
  /** source coordinate s = c - lo, valid if 0 <= s < ext, then wrapped s % mod */
  lo: number;
  ext: number;
  mod: number;
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

const plain = (d: Dim) => d.lo === 0 && d.ext >= d.e && d.mod >= d.e;

/** Drop size-1 dims that move nothing and merge neighbours that are contiguous in both x and y. */
function simplify(dims: Dim[]): Dim[] {
  const kept = dims.filter((d) => !(d.e === 1 && plain(d)));
  const out: Dim[] = [];
  for (let k = kept.length - 1; k >= 0; k--) {
    const outer = kept[k];
    const inner = out[0];
    if (inner && plain(inner) && outer.xs === inner.xs * inner.e && outer.ys === inner.ys * inner.e) {
      const E = inner.e;
      out[0] = { e: outer.e * E, xs: inner.xs, ys: inner.ys, lo: outer.lo * E, ext: outer.ext * E, mod: outer.mod * E };
    } else out.unshift({ ...outer });
  }
  return out.length ? out : [{ e: 1, xs: 1, ys: 1, lo: 0, ext: 1, mod: 1 }];
}

function pack8(v: number[], fill: number): number[] {
  const out = new Array(LAYOUT_MAX_RANK).fill(fill);
  v.forEach((x, i) => (out[i] = x));
  return out;
}

const f32view = new Float32Array(1);
const u32view = new Uint32Array(f32view.buffer);
/** Bits of the fill value as the kernel stores it (f32 bits for f32 and f16 tensors). */
function fillBits(value: number, dtype: DType): number {
  if (dtype === 'u32') return value >>> 0;
  if (dtype === 'i32') return (value | 0) >>> 0;
  f32view[0] = value;
  return u32view[0];
}

function elemDefines(rt: Runtime, dtype: DType, op: string): Record<string, number> {
  if (dtype !== 'f16') return {};
  if (!rt.hasF16) throw new Error(`${op}: f16 tensors need the 'shader-f16' feature`);
  return { HALF: 1 };
}

/** Queue one strided gather of x into y (y_base / ys address y's elements). */
function gather(
  rt: Runtime,
  x: Tensor,
  y: Tensor,
  dims: Dim[],
  opts: { yBase?: number; fill?: number; op: string },
): void {
  if (dims.some((d) => d.e === 0)) return;
  const ds = simplify(dims);
  if (ds.length > LAYOUT_MAX_RANK)
    throw new Error(`${opts.op}: needs ${ds.length} non-contiguous dims, more than ${LAYOUT_MAX_RANK}`);
  const check = ds.some((d) => d.lo > 0 || d.e - d.lo > d.ext);
  const tile = ds.some((d) => d.mod < d.ext);
  const last = ds.length - 1;
  const inner = ds[last].e;
  const chunks = Math.ceil(inner / RUN);
  // BLOCK: a plain outer dim that is contiguous in x while the innermost dim is not (a transpose)
  const bdim = ds[last].xs === 1 ? -1 : ds.findIndex((d, k) => k < last && d.xs === 1 && d.e > 1 && plain(d));
  const bchunks = bdim >= 0 ? Math.ceil(ds[bdim].e / RUN) : 1;
  const outer = numel(ds.slice(0, -1).map((d, k) => (k === bdim ? 1 : d.e)));
  const n = outer * bchunks * chunks;
  rt.kernel('layout').run({
    defines: {
      GATHER: 1,
      ...(check ? { CHECK: 1 } : {}),
      ...(tile ? { TILE: 1 } : {}),
      ...(bdim >= 0 ? { BLOCK: 1 } : {}),
      ...elemDefines(rt, x.dtype, opts.op),
    },
    constants: { WG },
    bindings: { x, y },
    params: {
      n,
      rank: ds.length,
      inner,
      chunks,
      bdim: bdim >= 0 ? bdim : ds.length,
      bchunks,
      y_base: opts.yBase ?? 0,
      fill: fillBits(opts.fill ?? 0, x.dtype),
      shape: pack8(
        ds.map((d) => d.e),
        1,
      ),
      xs: pack8(
        ds.map((d) => d.xs),
        0,
      ),
      ys: pack8(
        ds.map((d) => d.ys),
        0,
      ),
      lo: pack8(
        ds.map((d) => d.lo),
        0,
      ),
      ext: pack8(
        ds.map((d) => d.ext),
        1,
      ),
      modv: pack8(
        ds.map((d) => Math.max(d.mod, 1)),
        1,
      ),
    },
    groups: rt.groups1d(n, WG),
    label: `layout.${opts.op}`,
  });
}

const isFloat = (t: Tensor) => t.dtype === 'f32' || t.dtype === 'f16';

/** Record y = op(x) of a float x on the tape where it wants x; the backward is one op on dy, nothing saved. */
function recordUnary(rt: Runtime, op: string, x: Tensor, y: Tensor, grad: (dy: Tensor) => Tensor): void {
  if (!isFloat(x) || !rt.tape?.wants([x])) return;
  rt.tape.record({ op, inputs: [x], outputs: [y], saved: [], backward: ([dy]) => [dy ? grad(dy) : null] });
}

function checkRank(op: string, x: Tensor): void {
  if (x.rank > LAYOUT_MAX_RANK)
    throw new Error(`${op}: rank ${x.rank} of ${shapeStr(x.shape)} exceeds ${LAYOUT_MAX_RANK}`);
}

// ------------------------------------------------------------------ permute
/** y = x.permute(perm): y.shape[d] = x.shape[perm[d]]. */
export function permute(rt: Runtime, x: Tensor, perm: readonly number[]): Tensor {
  checkRank('permute', x);
  const r = x.rank;
  const p = perm.map((a) => (a < 0 ? a + r : a));
  if (p.length !== r || p.some((a) => !Number.isInteger(a) || a < 0 || a >= r) || new Set(p).size !== r) {
    throw new Error(`permute: [${perm.join(', ')}] is not a permutation of the ${r} dims of ${shapeStr(x.shape)}`);
  }
  const outShape = p.map((a) => x.shape[a]);
  const y = rt.empty(outShape, x.dtype, 'permute');
  const xs = stridesOf(x.shape);
  const ys = stridesOf(outShape);
  gather(
    rt,
    x,
    y,
    outShape.map((e, d) => ({ e, xs: xs[p[d]], ys: ys[d], lo: 0, ext: e, mod: e })),
    { op: 'permute' },
  );
  const inv = new Array(r);
  p.forEach((a, d) => (inv[a] = d));
  recordUnary(rt, 'permute', x, y, (dy) => permute(rt, dy, inv));
  return y;
}

// ------------------------------------------------------------------ pad / slice
/** Pad (or crop, with negative amounts) every dim; the one kernel behind pad and slice. */
function padRaw(
  rt: Runtime,
  x: Tensor,
  before: readonly number[],
  after: readonly number[],
  value: number,
  op: string,
): Tensor {
  const outShape = x.shape.map((s, d) => s + before[d] + after[d]);
  const y = rt.empty(outShape, x.dtype, op);
  const xs = stridesOf(x.shape);
  const ys = stridesOf(outShape);
  gather(
    rt,
    x,
    y,
    outShape.map((e, d) => ({ e, xs: xs[d], ys: ys[d], lo: before[d], ext: x.shape[d], mod: x.shape[d] })),
    { op, fill: value },
  );
  return y;
}

function checkPads(op: string, x: Tensor, before: readonly number[], after: readonly number[]): void {
  checkRank(op, x);
  if (before.length !== x.rank || after.length !== x.rank || [...before, ...after].some((v) => !Number.isInteger(v))) {
    throw new Error(
      `${op}: needs ${x.rank} integer amounts before and after for ${shapeStr(x.shape)}, got [${before.join(', ')}] and [${after.join(', ')}]`,
    );
  }
  x.shape.forEach((s, d) => {
    if (s + before[d] + after[d] < 0)
      throw new Error(`${op}: dim ${d} of ${shapeStr(x.shape)} would get size ${s + before[d] + after[d]}`);
  });
}

/**
 * Constant padding: y.shape[d] = x.shape[d] + before[d] + after[d], border filled with `value`.
 * Negative amounts crop (as torch.nn.functional.pad).
 */
export function pad(rt: Runtime, x: Tensor, before: readonly number[], after: readonly number[], value = 0): Tensor {
  checkPads('pad', x, before, after);
  const y = padRaw(rt, x, before, after, value, 'pad');
  recordUnary(rt, 'pad', x, y, (dy) =>
    padRaw(
      rt,
      dy,
      before.map((v) => -v),
      after.map((v) => -v),
      0,
      'pad_backward',
    ),
  );
  return y;
}

/**
 * The autograd node of a view (Tensor.reshape, or rows [start, start+count) of dim 0 via narrow0)
 * of `src`: views move no data, so the gradient of the view is reshaped back, or zero-padded back
 * to all rows (the tape records it through TapeOps.viewNode).
 */
export function viewNode(rt: Runtime, src: Tensor, view: Tensor, rows?: { start: number; total: number }): Node {
  return {
    op: rows ? 'narrow0' : 'reshape',
    inputs: [src],
    outputs: [view],
    saved: [],
    backward: ([dy]) => {
      if (!dy) return [null];
      if (!rows) return [dy.reshape(src.shape)];
      const before = [rows.start, ...src.shape.slice(1).map(() => 0)];
      const after = [rows.total - rows.start - view.shape[0], ...src.shape.slice(1).map(() => 0)];
      return [pad(rt, dy.reshape(view.shape), before, after)];
    },
  };
}

/** Crop: y = x[starts[0] : starts[0] + sizes[0], ...] (a copy). */
export function slice(rt: Runtime, x: Tensor, starts: readonly number[], sizes: readonly number[]): Tensor {
  checkRank('slice', x);
  if (
    starts.length !== x.rank ||
    sizes.length !== x.rank ||
    x.shape.some(
      (s, d) =>
        !Number.isInteger(starts[d]) ||
        !Number.isInteger(sizes[d]) ||
        starts[d] < 0 ||
        sizes[d] < 0 ||
        starts[d] + sizes[d] > s,
    )
  ) {
    throw new Error(
      `slice: starts [${starts.join(', ')}] sizes [${sizes.join(', ')}] do not fit in ${shapeStr(x.shape)}`,
    );
  }
  const before = starts.map((s) => -s);
  const after = x.shape.map((s, d) => -(s - starts[d] - sizes[d]));
  const y = padRaw(rt, x, before, after, 0, 'slice');
  recordUnary(rt, 'slice', x, y, (dy) =>
    padRaw(
      rt,
      dy,
      starts,
      after.map((v) => -v),
      0,
      'slice_backward',
    ),
  );
  return y;
}

// ------------------------------------------------------------------ concat
/** torch.cat(tensors, axis). */
export function concat(rt: Runtime, tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new Error('concat: no tensors');
  const t0 = tensors[0];
  checkRank('concat', t0);
  const r = t0.rank;
  const a = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(a) || a < 0 || a >= r) throw new Error(`concat: axis ${axis} outside rank ${r}`);
  for (const t of tensors) {
    if (t.dtype !== t0.dtype || t.rank !== r || t.shape.some((s, d) => d !== a && s !== t0.shape[d])) {
      throw new Error(
        `concat along ${a}: ${tensors.map((u) => `${shapeStr(u.shape)} ${u.dtype}`).join(', ')} do not agree`,
      );
    }
  }
  const outShape = [...t0.shape];
  outShape[a] = tensors.reduce((s, t) => s + t.shape[a], 0);
  const y = rt.empty(outShape, t0.dtype, 'concat');
  const ys = stridesOf(outShape);
  let at = 0;
  for (const t of tensors) {
    const xs = stridesOf(t.shape);
    gather(
      rt,
      t,
      y,
      t.shape.map((e, d) => ({ e, xs: xs[d], ys: ys[d], lo: 0, ext: e, mod: e })),
      { op: 'concat', yBase: at * ys[a] },
    );
    at += t.shape[a];
  }
  if (isFloat(t0) && rt.tape?.wants(tensors)) {
    rt.tape.record({
      op: 'concat',
      inputs: [...tensors],
      outputs: [y],
      saved: [],
      backward: ([dy]) => {
        if (!dy) return tensors.map(() => null);
        let off = 0;
        return tensors.map((t) => {
          const starts = outShape.map((_, d) => (d === a ? off : 0));
          off += t.shape[a];
          const before = starts.map((s) => -s);
          const after = outShape.map((s, d) => -(s - starts[d] - t.shape[d]));
          return padRaw(rt, dy, before, after, 0, 'concat_backward');
        });
      },
    });
  }
  return y;
}

// ------------------------------------------------------------------ tile / repeat
/** Align x's shape and reps as torch.Tensor.tile does (leading 1s on the shorter one). */
function tileShapes(shape: readonly number[], reps: readonly number[]): { inShape: number[]; reps: number[] } {
  const r = Math.max(shape.length, reps.length);
  return {
    inShape: [...new Array(r - shape.length).fill(1), ...shape],
    reps: [...new Array(r - reps.length).fill(1), ...reps],
  };
}

/** torch.Tensor.tile(reps): y.shape[d] = x.shape[d] * reps[d]; y[c] = x[c % x.shape]. */
export function tile(rt: Runtime, x: Tensor, reps: readonly number[]): Tensor {
  if (reps.some((v) => !Number.isInteger(v) || v < 0))
    throw new Error(`tile: reps [${reps.join(', ')}] must be non-negative integers`);
  const { inShape, reps: rp } = tileShapes(x.shape, reps);
  if (inShape.length > LAYOUT_MAX_RANK) throw new Error(`tile: rank ${inShape.length} exceeds ${LAYOUT_MAX_RANK}`);
  const outShape = inShape.map((s, d) => s * rp[d]);
  const y = rt.empty(outShape, x.dtype, 'tile');
  const xs = stridesOf(inShape);
  const ys = stridesOf(outShape);
  gather(
    rt,
    x,
    y,
    outShape.map((e, d) => ({ e, xs: xs[d], ys: ys[d], lo: 0, ext: e, mod: inShape[d] })),
    { op: 'tile' },
  );
  recordUnary(rt, 'tile', x, y, (dy) => tileSum(rt, dy, x.shape, reps));
  return y;
}

/** torch.Tensor.repeat(reps) (same as tile for tensors; reps must cover every dim). */
export function repeat(rt: Runtime, x: Tensor, reps: readonly number[]): Tensor {
  if (reps.length < x.rank)
    throw new Error(`repeat: ${reps.length} reps for ${shapeStr(x.shape)}; need at least ${x.rank}`);
  return tile(rt, x, reps);
}

/** Backward of tile: dx (shape `shape`) = sum of dy over all tile copies. f32 only. */
export function tileSum(rt: Runtime, dy: Tensor, shape: readonly number[], reps: readonly number[]): Tensor {
  if (dy.dtype !== 'f32') throw new Error(`tile backward: expects f32, got ${dy.dtype}`);
  const ts = tileShapes(shape, reps);
  const outShape = ts.inShape.map((s, d) => s * ts.reps[d]);
  if (numel(outShape) !== dy.size)
    throw new Error(`tile backward: dy ${shapeStr(dy.shape)} is not ${shapeStr(shape)} tiled by [${reps.join(', ')}]`);
  const y = rt.empty(shape, 'f32', 'tile_backward');
  const total = numel(ts.reps);
  if (y.size > 0) {
    if (total === 0) throw new Error('tile backward: zero reps with a non-empty input');
    if (ts.inShape.length > LAYOUT_MAX_RANK)
      throw new Error(`tile backward: rank ${ts.inShape.length} exceeds ${LAYOUT_MAX_RANK}`);
    rt.kernel('layout').run({
      defines: { TILE_SUM: 1 },
      constants: { WG },
      bindings: { x: dy, y },
      params: {
        n: y.size,
        rank: ts.inShape.length,
        reps_total: total,
        shape: pack8(ts.inShape, 1),
        reps: pack8(ts.reps, 1),
        xs: pack8(stridesOf(outShape), 0),
      },
      groups: rt.groups1d(y.size, WG),
      label: 'layout.tile_backward',
    });
  }
  return y;
}

// ------------------------------------------------------------------ windows (SAM 2 hiera_utils)
/** Padded size [Hp, Wp] that window_partition pads [H, W] to. */
export function windowPaddedHW(h: number, w: number, window: number): [number, number] {
  return [Math.ceil(h / window) * window, Math.ceil(w / window) * window];
}

function windowRun(
  rt: Runtime,
  x: Tensor,
  y: Tensor,
  partition: boolean,
  h: number,
  w: number,
  c: number,
  ws: number,
  op: string,
): void {
  if (y.size === 0) return;
  const [hp, wp] = windowPaddedHW(h, w, ws);
  const cchunks = Math.ceil(c / 4); // shader const WRUN
  const n = (y.size / c) * cchunks;
  rt.kernel('layout').run({
    defines: { WINDOW: 1, ...(partition ? { PARTITION: 1 } : {}), ...elemDefines(rt, x.dtype, op) },
    constants: { WG },
    bindings: { x, y },
    params: { n, hgt: h, wid: w, ch: c, cchunks, ws, nh: hp / ws, nw: wp / ws },
    groups: rt.groups1d(n, WG),
    label: `layout.${op}`,
  });
}

/**
 * window_partition(x [B, H, W, C], ws) -> windows [B * nh * nw, ws, ws, C], zero padding at the
 * bottom / right up to multiples of ws (nh = ceil(H / ws), nw = ceil(W / ws)).
 */
export function windowPartition(rt: Runtime, x: Tensor, window: number): Tensor {
  if (x.rank !== 4) throw new Error(`windowPartition: expects [B, H, W, C], got ${shapeStr(x.shape)}`);
  if (!Number.isInteger(window) || window <= 0)
    throw new Error(`windowPartition: window ${window} must be a positive integer`);
  const [b, h, w, c] = x.shape;
  const [hp, wp] = windowPaddedHW(h, w, window);
  const y = rt.empty([b * (hp / window) * (wp / window), window, window, c], x.dtype, 'window_partition');
  windowRun(rt, x, y, true, h, w, c, window, 'window_partition');
  recordUnary(rt, 'window_partition', x, y, (dy) => windowUnpartition(rt, dy, window, [h, w]));
  return y;
}

/** window_unpartition(windows [B * nh * nw, ws, ws, C], ws, (H, W)) -> [B, H, W, C], cropping the padding. */
export function windowUnpartition(rt: Runtime, windows: Tensor, window: number, hw: readonly [number, number]): Tensor {
  if (windows.rank !== 4 || windows.shape[1] !== window || windows.shape[2] !== window) {
    throw new Error(`windowUnpartition: expects [B * nWin, ${window}, ${window}, C], got ${shapeStr(windows.shape)}`);
  }
  const [h, w] = hw;
  const [hp, wp] = windowPaddedHW(h, w, window);
  const per = (hp / window) * (wp / window);
  if (
    !Number.isInteger(h) ||
    !Number.isInteger(w) ||
    h < 0 ||
    w < 0 ||
    (per > 0 ? windows.shape[0] % per !== 0 : windows.shape[0] !== 0)
  ) {
    throw new Error(
      `windowUnpartition: ${shapeStr(windows.shape)} does not hold whole images of ${per} windows for ${h}x${w}`,
    );
  }
  const b = per > 0 ? windows.shape[0] / per : 0;
  const c = windows.shape[3];
  const y = rt.empty([b, h, w, c], windows.dtype, 'window_unpartition');
  windowRun(rt, windows, y, false, h, w, c, window, 'window_unpartition');
  recordUnary(rt, 'window_unpartition', windows, y, (dy) => windowPartition(rt, dy, window));
  return y;
}

// ------------------------------------------------------------------ cast
/** Convert f32 <-> f16 (round to nearest even, overflow to inf, as torch .half() / .float()). */
export function cast(rt: Runtime, x: Tensor, dtype: 'f32' | 'f16'): Tensor {
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new Error(`cast: only f32 <-> f16, got ${x.dtype} -> ${dtype}`);
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`cast: only f32 <-> f16, got ${x.dtype} -> ${dtype}`);
  if (dtype === 'f16' && !rt.hasF16)
    throw new Error(`cast to f16 needs the 'shader-f16' feature, which this adapter lacks`);
  let y: Tensor;
  if (x.dtype === dtype) {
    y = rt.empty(x.shape, dtype, 'cast');
    if (x.size > 0) gather(rt, x, y, [{ e: x.size, xs: 1, ys: 1, lo: 0, ext: x.size, mod: x.size }], { op: 'cast' });
  } else if (dtype === 'f16') {
    y = rt.empty(x.shape, 'f16', 'cast_f16');
    const words = Math.ceil(x.size / 2);
    if (words > 0) {
      rt.kernel('layout').run({
        defines: { CAST_F32_F16: 1 },
        constants: { WG },
        bindings: { x, y },
        params: { n: x.size, words },
        groups: rt.groups1d(words, WG),
        label: 'layout.cast_f16',
      });
    }
  } else {
    y = rt.empty(x.shape, 'f32', 'cast_f32');
    if (x.size > 0) {
      rt.kernel('layout').run({
        defines: { CAST_F16_F32: 1 },
        constants: { WG },
        bindings: { x, y },
        params: { n: x.size },
        groups: rt.groups1d(x.size, WG),
        label: 'layout.cast_f32',
      });
    }
  }
  const from = x.dtype as 'f32' | 'f16';
  recordUnary(rt, `cast_${dtype}`, x, y, (dy) => cast(rt, dy, from));
  return y;
}
