// Position encodings that depend only on shapes (computed once on the host in float32
// arithmetic, as PyTorch does, then uploaded and cached):
//   - sine 2-D PE (sam2 PositionEmbeddingSine; FPN levels and memory encoder), docs/reference/sam2-architecture.md sec. 7.1
//   - random Fourier PE (PositionEmbeddingRandom; prompt encoder), docs/reference/sam2-architecture.md sec. 4
//   - 1-D sine PE of object-pointer temporal distances (get_1d_sine_pe), docs/reference/sam2-architecture.md sec. 7.2
const f = Math.fround;

/** PositionEmbeddingSine(num_pos_feats = channels, normalize, scale 2π) -> [channels, H, W]. */
export function sinePositionEncoding(channels: number, h: number, w: number, temperature = 10000): Float32Array {
  if (channels % 2 !== 0) throw new Error(`sine PE needs an even channel count, got ${channels}`);
  const npf = channels / 2;
  const scale = f(2 * Math.PI);
  const eps = 1e-6;
  const dimT = new Float32Array(npf);
  for (let k = 0; k < npf; k++) dimT[k] = f(Math.pow(temperature, f(f(2 * Math.floor(k / 2)) / npf)));
  const out = new Float32Array(channels * h * w);
  const yDen = f(h + eps);
  const xDen = f(w + eps);
  for (let i = 0; i < h; i++) {
    const ye = f(f(f(i + 1) / yDen) * scale);
    for (let j = 0; j < w; j++) {
      const xe = f(f(f(j + 1) / xDen) * scale);
      for (let k = 0; k < npf; k++) {
        const py = f(ye / dimT[k]);
        const px = f(xe / dimT[k]);
        // even k: sin, odd k: cos (interleaved); channels [y feats, x feats]
        out[(k * h + i) * w + j] = k % 2 === 0 ? Math.sin(py) : Math.cos(py);
        out[((npf + k) * h + i) * w + j] = k % 2 === 0 ? Math.sin(px) : Math.cos(px);
      }
    }
  }
  return out;
}

/**
 * Random Fourier PE of points already normalised to [0, 1] (x, y): [sin(2π (2p-1) G), cos(...)].
 * gauss: [2, F] row-major. Returns [n, 2F].
 */
export function fourierEncodePoints(pts: ArrayLike<number>, gauss: Float32Array, feats: number): Float32Array {
  const n = pts.length / 2;
  const out = new Float32Array(n * 2 * feats);
  const twoPi = f(2 * Math.PI);
  for (let p = 0; p < n; p++) {
    const cx = f(f(2 * pts[2 * p]) - 1);
    const cy = f(f(2 * pts[2 * p + 1]) - 1);
    for (let k = 0; k < feats; k++) {
      const v = f(twoPi * f(f(cx * gauss[k]) + f(cy * gauss[feats + k])));
      out[p * 2 * feats + k] = Math.sin(v);
      out[p * 2 * feats + feats + k] = Math.cos(v);
    }
  }
  return out;
}

/** get_dense_pe: Fourier PE of an h x w grid at cell centres -> [2F, h, w]. */
export function fourierDensePE(gauss: Float32Array, feats: number, h: number, w: number): Float32Array {
  const pts = new Float32Array(h * w * 2);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      pts[2 * (i * w + j)] = f(f(j + 0.5) / w);
      pts[2 * (i * w + j) + 1] = f(f(i + 0.5) / h);
    }
  }
  const tok = fourierEncodePoints(pts, gauss, feats); // [hw, 2F]
  const out = new Float32Array(2 * feats * h * w);
  for (let t = 0; t < h * w; t++) for (let c = 0; c < 2 * feats; c++) out[c * h * w + t] = tok[t * 2 * feats + c];
  return out;
}

/** get_1d_sine_pe(pos, dim): [sin(pos / T_k) for k < dim/2, cos(pos / T_k) for k < dim/2], T_k = t^(2 floor(k/2) / (dim/2)). */
export function sine1d(pos: ArrayLike<number>, dim: number, temperature = 10000): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(pos.length * dim);
  const dimT = new Float32Array(half);
  for (let k = 0; k < half; k++) dimT[k] = f(Math.pow(temperature, f(f(2 * Math.floor(k / 2)) / half)));
  for (let p = 0; p < pos.length; p++) {
    for (let k = 0; k < half; k++) {
      const v = f(f(pos[p]) / dimT[k]);
      out[p * dim + k] = Math.sin(v);
      out[p * dim + half + k] = Math.cos(v);
    }
  }
  return out;
}
