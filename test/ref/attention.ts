// CPU reference for shaders/attention.wgsl (float64, written for clarity): multi-head
// scaled-dot-product attention on token-major tensors with heads interleaved,
// q [B, Nq, H*Dh], k / v [Bk, Nk, H*Dh] (Bk = B or 1), optional additive mask [B or 1, Nk].
// Rows whose keys are all -inf (or Nk = 0) give zeros, as the kernel defines.

export interface AttentionShape {
  B: number;
  Nq: number;
  Nk: number;
  H: number;
  Dh: number;
  /** Batch of k and v (1 broadcasts). Default B. */
  Bk?: number;
  scale?: number;
  mask?: ArrayLike<number> | null;
  /** Batch of the mask (1 broadcasts). Default B. */
  maskB?: number;
}

/** Probabilities P[b][h][i][j] (float64), zeros for fully masked rows. */
export function attentionProbs(q: ArrayLike<number>, k: ArrayLike<number>, s: AttentionShape): Float64Array[][][] {
  const { B, Nq, Nk, H, Dh } = s;
  const C = H * Dh;
  const Bk = s.Bk ?? B;
  const scale = s.scale ?? 1 / Math.sqrt(Dh);
  const mb = s.maskB ?? B;
  const P: Float64Array[][][] = [];
  for (let b = 0; b < B; b++) {
    P.push([]);
    const kb = Bk === 1 ? 0 : b;
    for (let h = 0; h < H; h++) {
      P[b].push([]);
      for (let i = 0; i < Nq; i++) {
        const sc = new Float64Array(Nk);
        let m = -Infinity;
        for (let j = 0; j < Nk; j++) {
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += q[(b * Nq + i) * C + h * Dh + d] * k[(kb * Nk + j) * C + h * Dh + d];
          sc[j] = scale * dot + (s.mask ? s.mask[(mb === 1 ? 0 : b) * Nk + j] : 0);
          m = Math.max(m, sc[j]);
        }
        const p = new Float64Array(Nk);
        if (m !== -Infinity) {
          let sum = 0;
          for (let j = 0; j < Nk; j++) sum += p[j] = Math.exp(sc[j] - m);
          for (let j = 0; j < Nk; j++) p[j] /= sum;
        }
        P[b][h].push(p);
      }
    }
  }
  return P;
}

/** out [B, Nq, H*Dh]. */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  s: AttentionShape,
): Float64Array {
  const { B, Nq, Nk, H, Dh } = s;
  const C = H * Dh;
  const Bk = s.Bk ?? B;
  const P = attentionProbs(q, k, s);
  const out = new Float64Array(B * Nq * C);
  for (let b = 0; b < B; b++) {
    const vb = Bk === 1 ? 0 : b;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Nq; i++) {
        for (let j = 0; j < Nk; j++) {
          const p = P[b][h][i][j];
          if (p === 0) continue;
          for (let d = 0; d < Dh; d++) out[(b * Nq + i) * C + h * Dh + d] += p * v[(vb * Nk + j) * C + h * Dh + d];
        }
      }
    }
  }
  return out;
}

/** Gradients of sum(out * dout) w.r.t. q, k, v (Bk = B). */
export function attentionGradRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dout: ArrayLike<number>,
  s: AttentionShape,
) {
  const { B, Nq, Nk, H, Dh } = s;
  const C = H * Dh;
  const scale = s.scale ?? 1 / Math.sqrt(Dh);
  const P = attentionProbs(q, k, s);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const at = (b: number, n: number, N: number, h: number, d: number) => (b * N + n) * C + h * Dh + d;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Nq; i++) {
        const p = P[b][h][i];
        // dP_ij = dout_i . v_j ; dS_ij = P_ij (dP_ij - sum_l P_il dP_il)
        const dp = new Float64Array(Nk);
        let rowDot = 0;
        for (let j = 0; j < Nk; j++) {
          for (let d = 0; d < Dh; d++) dp[j] += dout[at(b, i, Nq, h, d)] * v[at(b, j, Nk, h, d)];
          rowDot += p[j] * dp[j];
        }
        for (let j = 0; j < Nk; j++) {
          const ds = p[j] * (dp[j] - rowDot);
          for (let d = 0; d < Dh; d++) {
            dv[at(b, j, Nk, h, d)] += p[j] * dout[at(b, i, Nq, h, d)];
            dq[at(b, i, Nq, h, d)] += scale * ds * k[at(b, j, Nk, h, d)];
            dk[at(b, j, Nk, h, d)] += scale * ds * q[at(b, i, Nq, h, d)];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
