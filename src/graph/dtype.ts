// Element types the engine stores on the GPU, and host-side conversions between them.
// f16 storage needs the adapter feature `shader-f16`; arithmetic always accumulates in f32.

export type DType = 'f32' | 'f16' | 'u32' | 'i32';

export const BYTES: Record<DType, number> = { f32: 4, f16: 2, u32: 4, i32: 4 };

export type HostArray = Float32Array | Uint16Array | Uint32Array | Int32Array;

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** float32 -> IEEE half bits, round to nearest even (as PyTorch's .half()). */
export function f32ToF16Bits(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && m & 1)) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** IEEE half bits -> float32 value. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits (upper half of a float32) -> float32 value. */
export function bf16BitsToF32(h: number): number {
  u32buf[0] = (h & 0xffff) << 16;
  return f32buf[0];
}

/** Round a float32 to bfloat16 (nearest even) and back, as torch's .to(torch.bfloat16).float(). */
export function roundBf16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  if ((x & 0x7f800000) === 0x7f800000) {
    // inf / nan keep their bits
    u32buf[0] = (x & 0xffff0000) | (x & 0xffff ? 0x400000 : 0);
    return f32buf[0];
  }
  const lsb = (x >>> 16) & 1;
  u32buf[0] = ((x + 0x7fff + lsb) >>> 16) << 16;
  return f32buf[0];
}

export function f32ToF16Array(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]);
  return out;
}

/** Round each value to IEEE half (nearest even, as torch's .half().float()): what an f16 tensor stores. */
export function roundF16Array(src: ArrayLike<number>): Float32Array {
  return Float32Array.from(src, (v) => f16BitsToF32(f32ToF16Bits(v)));
}

export function f16ToF32Array(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]);
  return out;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
