// CPU references for shaders/matmul.wgsl (float64, written for clarity, not speed).
import { UNARY, UNARY_GRAD } from './elementwise.js';

export type Act = 'none' | 'relu' | 'gelu';

export interface MatmulRefOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: ArrayLike<number> | null;
  act?: Act;
  alpha?: number;
}

const prod = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);

/** Shapes of a matmul problem: M, N, K, broadcast batch shape, and batch-index maps for A and B. */
export function matmulShapes(aShape: readonly number[], bShape: readonly number[], transA = false, transB = false) {
  const [a0, a1] = aShape.slice(-2);
  const [b0, b1] = bShape.slice(-2);
  const M = transA ? a1 : a0;
  const K = transA ? a0 : a1;
  const N = transB ? b0 : b1;
  if ((transB ? b1 : b0) !== K) throw new Error('matmulRef: inner dims differ');
  const ab = aShape.slice(0, -2);
  const bb = bShape.slice(0, -2);
  const r = Math.max(ab.length, bb.length);
  const pa = [...new Array(r - ab.length).fill(1), ...ab];
  const pb = [...new Array(r - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  // output batch index -> A / B batch index (broadcast dims read index 0)
  const mapIndex = (src: number[]) => (bi: number) => {
    let rem = bi,
      idx = 0,
      stride = 1;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
      if (src[d] !== 1) idx += c * stride;
      stride *= src[d];
    }
    return idx;
  };
  return { M, N, K, batch, nBatch: prod(batch), aIndex: mapIndex(pa), bIndex: mapIndex(pb) };
}

/** y = act(alpha * op(A) op(B) + bias); returns y and the pre-activation z. */
export function matmulRef(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  o: MatmulRefOptions = {},
) {
  const transA = o.transA ?? false,
    transB = o.transB ?? false,
    alpha = o.alpha ?? 1,
    act = o.act ?? 'none';
  const { M, N, K, batch, nBatch, aIndex, bIndex } = matmulShapes(aShape, bShape, transA, transB);
  const y = new Float64Array(nBatch * M * N);
  const z = new Float64Array(nBatch * M * N);
  for (let bi = 0; bi < nBatch; bi++) {
    const ao = aIndex(bi) * M * K;
    const bo = bIndex(bi) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[ao + (transA ? k * M + m : m * K + k)];
          const bv = b[bo + (transB ? n * K + k : k * N + n)];
          s += av * bv;
        }
        const v = alpha * s + (o.bias ? o.bias[n] : 0);
        const i = (bi * M + m) * N + n;
        z[i] = v;
        y[i] = act === 'none' ? v : UNARY[act](v);
      }
    }
  }
  return { y, z, shape: [...batch, M, N] };
}

/** Gradients of sum(y * dy) w.r.t. A, B and bias, accumulating into broadcast sources. */
export function matmulGradRef(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  dy: ArrayLike<number>,
  o: MatmulRefOptions = {},
) {
  const transA = o.transA ?? false,
    transB = o.transB ?? false,
    alpha = o.alpha ?? 1,
    act = o.act ?? 'none';
  const { M, N, K, nBatch, aIndex, bIndex } = matmulShapes(aShape, bShape, transA, transB);
  const { z } = matmulRef(a, aShape, b, bShape, o);
  const da = new Float64Array(a.length);
  const db = new Float64Array(b.length);
  const dbias = new Float64Array(N);
  for (let bi = 0; bi < nBatch; bi++) {
    const ao = aIndex(bi) * M * K;
    const bo = bIndex(bi) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        const i = (bi * M + m) * N + n;
        const dz = dy[i] * (act === 'none' ? 1 : UNARY_GRAD[act](z[i]));
        dbias[n] += dz;
        for (let k = 0; k < K; k++) {
          const ia = ao + (transA ? k * M + m : m * K + k);
          const ib = bo + (transB ? n * K + k : k * N + n);
          da[ia] += alpha * dz * b[ib];
          db[ib] += alpha * dz * a[ia];
        }
      }
    }
  }
  return { da, db, dbias };
}

/** nn.Linear: x [..., in] @ w[out, in]^T + bias. */
export function linearRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  w: ArrayLike<number>,
  wShape: readonly number[],
  bias: ArrayLike<number> | null = null,
  act: Act = 'none',
) {
  const rows = prod(xShape.slice(0, -1));
  const r = matmulRef(x, [rows, xShape[xShape.length - 1]], w, wShape, { transB: true, bias, act });
  return { y: r.y, shape: [...xShape.slice(0, -1), wShape[0]] };
}
