// CPU reference for shaders/reduce.wgsl NONFINITE (src/kernels/reduce.ts countNonFinite): per row of
// r words, how many values are NaN or +-Inf (f32 words, or f16 halves: low half first).
import { f16BitsToF32 } from '../../src/graph/dtype.js';

export function countNonFiniteRef(words: Uint32Array, r: number, half = false): number[] {
  const f32 = new Float32Array(words.buffer, words.byteOffset, words.length);
  const out: number[] = [];
  for (let o = 0; o * r < words.length; o++) {
    let n = 0;
    for (let k = o * r; k < (o + 1) * r; k++) {
      if (half) {
        if (!Number.isFinite(f16BitsToF32(words[k] & 0xffff))) n++;
        if (!Number.isFinite(f16BitsToF32(words[k] >>> 16))) n++;
      } else if (!Number.isFinite(f32[k])) n++;
    }
    out.push(n);
  }
  return out;
}
