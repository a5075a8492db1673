// CPU references for shaders/layout.wgsl, written for clarity: each op walks the output's
// multi-indices and reads the input element it comes from (row-major, innermost dim last).

export type Arr = ArrayLike<number>;

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Multi-index of flat index i in `shape`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const c = new Array(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

function at(x: Arr, shape: readonly number[], c: readonly number[]): number {
  const s = strides(shape);
  return x[c.reduce((acc, v, d) => acc + v * s[d], 0)];
}

export function permuteRef(x: Arr, shape: readonly number[], perm: readonly number[]) {
  const out = perm.map((p) => shape[p]);
  const y = new Float64Array(numelOf(out));
  for (let i = 0; i < y.length; i++) {
    const c = unravel(i, out);
    const src = new Array(shape.length);
    perm.forEach((p, d) => (src[p] = c[d]));
    y[i] = at(x, shape, src);
  }
  return { y, shape: out };
}

/** torch.nn.functional.pad with per-dim amounts (negative = crop). */
export function padRef(
  x: Arr,
  shape: readonly number[],
  before: readonly number[],
  after: readonly number[],
  value = 0,
) {
  const out = shape.map((s, d) => s + before[d] + after[d]);
  const y = new Float64Array(numelOf(out));
  for (let i = 0; i < y.length; i++) {
    const src = unravel(i, out).map((c, d) => c - before[d]);
    y[i] = src.every((s, d) => s >= 0 && s < shape[d]) ? at(x, shape, src) : value;
  }
  return { y, shape: out };
}

export function sliceRef(x: Arr, shape: readonly number[], starts: readonly number[], sizes: readonly number[]) {
  const y = new Float64Array(numelOf(sizes));
  for (let i = 0; i < y.length; i++)
    y[i] = at(
      x,
      shape,
      unravel(i, sizes).map((c, d) => c + starts[d]),
    );
  return { y, shape: [...sizes] };
}

export function concatRef(xs: Array<{ x: Arr; shape: readonly number[] }>, axis: number) {
  const out = [...xs[0].shape];
  out[axis] = xs.reduce((s, t) => s + t.shape[axis], 0);
  const y = new Float64Array(numelOf(out));
  for (let i = 0; i < y.length; i++) {
    const c = unravel(i, out);
    let k = 0;
    while (c[axis] >= xs[k].shape[axis]) c[axis] -= xs[k++].shape[axis];
    y[i] = at(xs[k].x, xs[k].shape, c);
  }
  return { y, shape: out };
}

/** torch.Tensor.tile. */
export function tileRef(x: Arr, shape: readonly number[], reps: readonly number[]) {
  const r = Math.max(shape.length, reps.length);
  const s = [...new Array(r - shape.length).fill(1), ...shape];
  const rp = [...new Array(r - reps.length).fill(1), ...reps];
  const out = s.map((v, d) => v * rp[d]);
  const y = new Float64Array(numelOf(out));
  for (let i = 0; i < y.length; i++)
    y[i] = at(
      x,
      s,
      unravel(i, out).map((c, d) => c % s[d]),
    );
  return { y, shape: out };
}

/** SAM 2 hiera_utils.window_partition: pad to multiples of ws, view, permute(0, 1, 3, 2, 4, 5), flatten windows. */
export function windowPartitionRef(x: Arr, shape: readonly number[], ws: number) {
  const [B, H, W, C] = shape;
  const padH = (ws - (H % ws)) % ws;
  const padW = (ws - (W % ws)) % ws;
  const p = padRef(x, shape, [0, 0, 0, 0], [0, padH, padW, 0]);
  const [Hp, Wp] = [H + padH, W + padW];
  const v = permuteRef(p.y, [B, Hp / ws, ws, Wp / ws, ws, C], [0, 1, 3, 2, 4, 5]);
  return { y: v.y, shape: [B * (Hp / ws) * (Wp / ws), ws, ws, C] };
}

/** SAM 2 hiera_utils.window_unpartition: inverse view / permute, then crop to H x W. */
export function windowUnpartitionRef(w: Arr, shape: readonly number[], ws: number, hw: readonly [number, number]) {
  const [H, W] = hw;
  const Hp = Math.ceil(H / ws) * ws;
  const Wp = Math.ceil(W / ws) * ws;
  const C = shape[3];
  const B = shape[0] / ((Hp / ws) * (Wp / ws));
  const v = permuteRef(w, [B, Hp / ws, Wp / ws, ws, ws, C], [0, 1, 3, 2, 4, 5]);
  return sliceRef(v.y, [B, Hp, Wp, C], [0, 0, 0, 0], [B, H, W, C]);
}

/** Nearest IEEE half value (round half to even, overflow to +-inf), computed arithmetically. */
export function toHalfRef(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  const e = Math.max(Math.floor(Math.log2(a)), -14); // subnormals share the quantum 2^-24
  let quantum = 2 ** (e - 10);
  // Math.log2 may round across a power of two: keep the significand q in [1024, 2048)
  if (a / quantum >= 2048) quantum *= 2;
  else if (a / quantum < 1024 && e > -14) quantum /= 2;
  const q = a / quantum;
  const fl = Math.floor(q);
  const frac = q - fl;
  const r = frac > 0.5 || (frac === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const h = r * quantum;
  return Math.sign(v) * (h > 65504 ? Infinity : h);
}
