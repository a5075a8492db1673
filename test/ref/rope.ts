// CPU reference for shaders/rope.wgsl: complex rotation of channel pairs (float64).
export function ropeRef(
  x: Float32Array,
  b: number,
  n: number,
  heads: number,
  dh: number,
  cs: Float32Array,
  p: number,
  nRope: number,
  sign = 1,
): Float64Array {
  const y = new Float64Array(x.length);
  const c = heads * dh;
  for (let bi = 0; bi < b; bi++) {
    for (let t = 0; t < n; t++) {
      for (let h = 0; h < heads; h++) {
        for (let m = 0; m < dh / 2; m++) {
          const i = (bi * n + t) * c + h * dh + 2 * m;
          if (t >= nRope) {
            y[i] = x[i];
            y[i + 1] = x[i + 1];
            continue;
          }
          const r = ((t % p) * (dh / 2) + m) * 2;
          const co = cs[r];
          const si = sign * cs[r + 1];
          y[i] = x[i] * co - x[i + 1] * si;
          y[i + 1] = x[i] * si + x[i + 1] * co;
        }
      }
    }
  }
  return y;
}
