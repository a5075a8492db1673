// CPU reference for shaders/canny.wgsl, written for clarity. Maps are row-major planes [P, H, W].
// opencv mode is integer arithmetic (exact). kornia mode rounds every operation to float32
// (Math.fround) in the order the shader uses, so GPU and reference differ by at most an ulp per step
// (a GPU may contract a*b+c into an fma). The hysteresis here is a plain breadth-first flood fill from
// the strong pixels, the textbook definition the GPU propagation must reproduce.

import type { CannyMode } from '../../src/kernels/canny.js';

const f = Math.fround;

/** OpenCV 4.x RGB2GRAY on 8-bit values; x [P, C, H, W] with C = 3 (RGB) or 1. */
export function grayOpenCVRef(x: ArrayLike<number>, p: number, c: number, h: number, w: number): Float32Array {
  const hw = h * w;
  const out = new Float32Array(p * hw);
  const u8 = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
  for (let b = 0; b < p; b++) {
    for (let i = 0; i < hw; i++) {
      const base = b * c * hw + i;
      out[b * hw + i] =
        c === 1
          ? u8(x[base])
          : (u8(x[base]) * 9798 + u8(x[base + hw]) * 19235 + u8(x[base + 2 * hw]) * 3735 + 16384) >> 15;
    }
  }
  return out;
}

/** The RobotSeg fork's `_safe_to_gray`: /255 if the global max > 1.5, luminance, clamp [0, 1]. */
export function safeToGrayRef(x: ArrayLike<number>, p: number, h: number, w: number): Float32Array {
  const hw = h * w;
  let max = -Infinity;
  for (let i = 0; i < p * 3 * hw; i++) max = Math.max(max, x[i]);
  const div = max > 1.5;
  const out = new Float32Array(p * hw);
  for (let b = 0; b < p; b++) {
    for (let i = 0; i < hw; i++) {
      let [r, g, bl] = [0, 1, 2].map((c) => f(x[(b * 3 + c) * hw + i]));
      if (div) [r, g, bl] = [f(r / 255), f(g / 255), f(bl / 255)];
      const y = f(f(f(f(0.299) * r) + f(f(0.587) * g)) + f(f(0.114) * bl));
      out[b * hw + i] = Math.min(1, Math.max(0, y));
    }
  }
  return out;
}

/** Reflect-101 ("dcb|abcd|cba"), repeated for kernels wider than the image. */
export function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

/** Separable correlation with `k` along W, then along H (reflect-101); roundU8: OpenCV's (acc + 2^15) >> 16. */
export function blurRef(
  x: ArrayLike<number>,
  p: number,
  h: number,
  w: number,
  k: ArrayLike<number>,
  roundU8 = false,
): Float32Array {
  const r = (k.length - 1) / 2;
  const hw = h * w;
  const tmp = new Float32Array(p * hw);
  const out = new Float32Array(p * hw);
  for (let b = 0; b < p; b++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let acc = 0;
        for (let j = 0; j < k.length; j++) acc = f(acc + f(f(k[j]) * x[b * hw + y * w + reflect101(xx + j - r, w)]));
        tmp[b * hw + y * w + xx] = acc;
      }
    }
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let acc = 0;
        for (let j = 0; j < k.length; j++) acc = f(acc + f(f(k[j]) * tmp[b * hw + reflect101(y + j - r, h) * w + xx]));
        out[b * hw + y * w + xx] = roundU8 ? Math.min(255, Math.floor((acc + 32768) / 65536)) : acc;
      }
    }
  }
  return out;
}

export interface SobelRef {
  gx: Float32Array;
  gy: Float32Array;
  mag: Float32Array;
}

/** 3x3 Sobel (replicate border) and magnitude: |gx|+|gy| (opencv) or sqrt(gx^2+gy^2+1e-6) (kornia). */
export function sobelRef(x: ArrayLike<number>, p: number, h: number, w: number, mode: CannyMode): SobelRef {
  const hw = h * w;
  const gx = new Float32Array(p * hw);
  const gy = new Float32Array(p * hw);
  const mag = new Float32Array(p * hw);
  const eps = f(1e-6);
  for (let b = 0; b < p; b++) {
    const at = (yy: number, xx: number) =>
      x[b * hw + Math.min(h - 1, Math.max(0, yy)) * w + Math.min(w - 1, Math.max(0, xx))];
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const dx = f(
          f(f(at(y - 1, xx + 1) - at(y - 1, xx - 1)) + f(2 * f(at(y, xx + 1) - at(y, xx - 1)))) +
            f(at(y + 1, xx + 1) - at(y + 1, xx - 1)),
        );
        const dy = f(
          f(f(at(y + 1, xx - 1) - at(y - 1, xx - 1)) + f(2 * f(at(y + 1, xx) - at(y - 1, xx)))) +
            f(at(y + 1, xx + 1) - at(y - 1, xx + 1)),
        );
        const i = b * hw + y * w + xx;
        gx[i] = dx;
        gy[i] = dy;
        mag[i] = mode === 'opencv' ? Math.abs(dx) + Math.abs(dy) : f(Math.sqrt(f(f(f(dx * dx) + f(dy * dy)) + eps)));
      }
    }
  }
  return { gx, gy, mag };
}

export interface NmsRef {
  /** 0 none, 1 weak, 2 strong. */
  state: Uint8Array;
  /** kornia: magnitude where it is a local maximum along the direction, else 0 (clamped with clamp01). */
  magNms: Float32Array;
  /** kornia: round(atan2(gy, gx) / 45deg) mod 8. */
  dir: Uint8Array;
}

/**
 * kornia's direction index, from atan2 the way torch computes it: float32 atan2, times float32(4/pi),
 * rounded half to even, mod 8.
 */
export function korniaDirection(gx: number, gy: number): number {
  const t = f(f(Math.atan2(gy, gx)) * f(4 / Math.PI));
  let k = Math.round(t);
  if (Math.abs(t % 1) === 0.5 && k % 2 !== 0) k -= 1; // half to even
  return ((k % 8) + 8) % 8;
}

/** Non-maximum suppression + double threshold (OpenCV's integer sector test, or kornia's 45-degree rounding). */
export function nmsRef(
  gx: ArrayLike<number>,
  gy: ArrayLike<number>,
  mag: ArrayLike<number>,
  p: number,
  h: number,
  w: number,
  mode: CannyMode,
  low: number,
  high: number,
  clamp01 = false,
): NmsRef {
  const hw = h * w;
  const state = new Uint8Array(p * hw);
  const magNms = new Float32Array(p * hw);
  const dir = new Uint8Array(p * hw);
  const lo = f(low);
  const hi = f(high);
  for (let b = 0; b < p; b++) {
    const m = (y: number, x: number) => (y < 0 || x < 0 || y >= h || x >= w ? 0 : mag[b * hw + y * w + x]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = b * hw + y * w + x;
        const v = mag[i];
        if (mode === 'opencv') {
          if (!(v > low)) continue;
          const xs = gx[i];
          const ys = gy[i];
          const ax = Math.abs(xs);
          const ay = Math.abs(ys) * 32768;
          const tg22x = ax * 13573;
          let keep: boolean;
          if (ay < tg22x) keep = v > m(y, x - 1) && v >= m(y, x + 1);
          else if (ay > tg22x + ax * 65536) keep = v > m(y - 1, x) && v >= m(y + 1, x);
          else {
            const s = Math.sign(xs) * Math.sign(ys) < 0 ? -1 : 1;
            keep = v > m(y - 1, x - s) && v > m(y + 1, x + s);
          }
          if (keep) state[i] = v > high ? 2 : 1;
        } else {
          const k = korniaDirection(gx[i], gy[i]);
          dir[i] = k;
          const [dy, dx] = [
            [0, 1],
            [1, 1],
            [1, 0],
            [1, -1],
          ][k % 4];
          const keep = v > m(y + dy, x + dx) && v > m(y - dy, x - dx);
          let out = keep ? v : 0;
          if (clamp01) out = Math.min(1, Math.max(0, out));
          magNms[i] = out;
          state[i] = (out > lo ? 1 : 0) + (out > hi ? 1 : 0);
        }
      }
    }
  }
  return { state, magNms, dir };
}

/** Hysteresis: 1 for strong pixels and the weak pixels 8-connected to one (breadth-first flood). */
export function hysteresisRef(state: ArrayLike<number>, p: number, h: number, w: number): Uint8Array {
  const hw = h * w;
  const out = new Uint8Array(p * hw);
  const queue: number[] = [];
  for (let i = 0; i < p * hw; i++)
    if (state[i] >= 2) {
      out[i] = 1;
      queue.push(i);
    }
  for (let qi = 0; qi < queue.length; qi++) {
    const i = queue[qi];
    const b = Math.floor(i / hw);
    const y = Math.floor((i - b * hw) / w);
    const x = i - b * hw - y * w;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy < 0 || xx < 0 || yy >= h || xx >= w) continue;
        const j = b * hw + yy * w + xx;
        if (state[j] === 1 && !out[j]) {
          out[j] = 1;
          queue.push(j);
        }
      }
    }
  }
  return out;
}

/**
 * torch.nn.functional.interpolate(mode='bilinear', align_corners=False, antialias=False) of planes
 * [P, H, W] to [P, oh, ow], then clamp to [0, 1] (SEMA's resize of the edge map to the token grid).
 */
export function bilinearClampRef(
  x: ArrayLike<number>,
  p: number,
  h: number,
  w: number,
  oh: number,
  ow: number,
): Float32Array {
  const out = new Float32Array(p * oh * ow);
  const src = (d: number, inSize: number, outSize: number) => {
    const s = Math.max(0, (d + 0.5) * (inSize / outSize) - 0.5);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return { i0, i1, l1: s - i0 };
  };
  for (let b = 0; b < p; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const sy = src(oy, h, oh);
      for (let ox = 0; ox < ow; ox++) {
        const sx = src(ox, w, ow);
        const v = (yy: number, xx: number) => x[b * h * w + yy * w + xx];
        const top = (1 - sx.l1) * v(sy.i0, sx.i0) + sx.l1 * v(sy.i0, sx.i1);
        const bot = (1 - sx.l1) * v(sy.i1, sx.i0) + sx.l1 * v(sy.i1, sx.i1);
        out[b * oh * ow + oy * ow + ox] = Math.min(1, Math.max(0, (1 - sy.l1) * top + sy.l1 * bot));
      }
    }
  }
  return out;
}

export interface CannyRef {
  gray: Float32Array;
  blurred: Float32Array;
  sobel: SobelRef;
  nms: NmsRef;
  /** 0/1 after hysteresis. */
  edges: Uint8Array;
}

/** Whole detector (see src/kernels/canny.ts for the options). `blurKernel`: 1-D weights or null. */
export function cannyRef(
  x: ArrayLike<number>,
  p: number,
  c: number,
  h: number,
  w: number,
  mode: CannyMode,
  low: number,
  high: number,
  blurKernel: ArrayLike<number> | null,
  clamp01 = false,
): CannyRef {
  const gray = mode === 'opencv' ? grayOpenCVRef(x, p, c, h, w) : safeToGrayRef(x, p, h, w);
  const blurred = blurKernel ? blurRef(gray, p, h, w, blurKernel, mode === 'opencv') : gray;
  const sobel = sobelRef(blurred, p, h, w, mode);
  const nms = nmsRef(sobel.gx, sobel.gy, sobel.mag, p, h, w, mode, low, high, clamp01);
  return { gray, blurred, sobel, nms, edges: hysteresisRef(nms.state, p, h, w) };
}
