// Mask selection rules of MaskDecoder.forward (host side, on read-back logits): multimask slice,
// dynamic multimask via stability (docs/reference/sam2-architecture.md sec. 5), best-IoU choice.
const f = Math.fround;

/** count(logit > delta) / count(logit > -delta), 1 when the denominator is 0 (float32 division). */
export function stabilityScore(logits: Float32Array, delta: number): number {
  let inter = 0;
  let union = 0;
  const d = f(delta);
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > d) inter++;
    if (logits[i] > -d) union++;
  }
  return union > 0 ? f(f(inter) / f(union)) : 1;
}

export interface Selection {
  /** Indices into the decoder's M mask outputs, in output order. */
  maskIdx: number[];
  /** Index of the token used for the object pointer (for the video path). */
  tokenIdx: number[];
}

/**
 * MaskDecoder.forward output selection. all: [M, h*w] logits, iou: [M].
 * multimask -> masks 1..M-1; else dynamic stability (mask 0 if stable, else best of 1..M-1); else 0.
 * The pointer token is 1..M-1 with multimask (use_multimask_token_for_obj_ptr), else 0 (even when the
 * stability fallback picked another mask: docs/reference/sam2-architecture.md sec. 9, item 11).
 */
export function selectMasks(
  all: Float32Array[],
  iou: ArrayLike<number>,
  multimask: boolean,
  dynamic: { on: boolean; delta: number; thresh: number },
): Selection {
  const m = all.length;
  const multi = Array.from({ length: m - 1 }, (_, i) => i + 1);
  if (multimask) return { maskIdx: multi, tokenIdx: multi };
  if (dynamic.on) {
    let best = 1;
    for (let i = 2; i < m; i++) if (iou[i] > iou[best]) best = i; // argmax: first maximum
    const stable = stabilityScore(all[0], dynamic.delta) >= f(dynamic.thresh);
    return { maskIdx: [stable ? 0 : best], tokenIdx: [0] };
  }
  return { maskIdx: [0], tokenIdx: [0] };
}

/** Index of the largest value (first on ties), as torch.argmax. */
export function argmax(v: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
  return b;
}
