// Pseudo labels for the patch loss. RobotSeg labels its unannotated frames offline with DINOv3
// (ViT-H+/16) label propagation; DINOv3 is not available here, so the engine uses the feature
// extractor it has: the image encoder's level-2 FPN features (stride 16, the same grid the patch loss
// is computed on). Rule (golden/grad README, case 2):
//   a    = normalize(masked_avg(L2(frame 0), G0 on the grid))         the object's prototype
//   sim  = cos(L2(frame t) at each cell, a)
//   tau  = max(sim) - 0.2 (max(sim) - min(sim))
//   P    = sim > tau   (on the feature grid; the loss resizes nothing further: a nearest x16
//                      upsampling followed by the loss's bilinear x1/16 resize gives P back exactly)
// Why these features: they are what SAM 2's decoder and memory read, so cells that resemble the
// annotated object in this space are what the model can separate; DINOv3-quality labels can be
// supplied instead as pseudo-label folders (robotseg train --pseudo DIR).
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { add } from '../kernels/elementwise.js';
import { permute } from '../kernels/layout.js';
import { cosineSimilarity, l2Normalize } from '../kernels/loss.js';
import { maskedMean } from '../kernels/reduce.js';
import { resize } from '../kernels/resize.js';

export interface PseudoLabel {
  /** 0/1 label on the feature grid [1, 1, h, w] (f32 GPU tensor). */
  label: Tensor;
  /** Similarities [h*w] and the threshold (host), for logging and tests. */
  sim: Float32Array;
  tau: number;
}

/** Run fn with the autograd tape off (pseudo labels and other targets carry no gradient). */
export function withoutTape<T>(rt: Runtime, fn: () => T): T {
  const tape = rt.tape;
  rt.tape = null;
  try {
    return fn();
  } finally {
    rt.tape = tape;
  }
}

/** withoutTape for async work: the tape stays off until the promise settles (not only its first await). */
export async function withoutTapeAsync<T>(rt: Runtime, fn: () => Promise<T>): Promise<T> {
  const tape = rt.tape;
  rt.tape = null;
  try {
    return await fn();
  } finally {
    rt.tape = tape;
  }
}

/** The prototype a [1, C] of the annotated object: normalize(masked_avg(feats0, mask on the grid)). */
export function objectPrototype(rt: Runtime, feats0: Tensor, mask: Tensor): Tensor {
  return withoutTape(rt, () => {
    const [B, C, h, w] = feats0.shape;
    const m = resize(rt, mask, [h, w], { mode: 'bilinear' });
    return l2Normalize(rt, maskedMean(rt, feats0.reshape([B, C, h * w]), m.reshape([B, h * w]), 1e-6));
  });
}

/** Pseudo label of one frame from its level-2 features [1, C, h, w] and the prototype [1, C]. */
export async function featurePseudoLabel(
  rt: Runtime,
  feats: Tensor,
  prototype: Tensor,
  relThreshold = 0.2,
): Promise<PseudoLabel> {
  const [, C, h, w] = feats.shape;
  const n = h * w;
  const sim = await withoutTapeAsync(rt, async () => {
    const cells = permute(rt, feats.reshape([1, C, n]), [0, 2, 1]).reshape([n, C]); // (1, C, hw) -> (hw, C)
    const proto = add(rt, rt.zeros([n, C]), prototype.reshape([1, C])); // broadcast to every cell
    const s = cosineSimilarity(rt, cells, proto); // [hw]
    const host = await rt.read(s);
    for (const t of [cells, proto, s]) t.dispose();
    return host;
  });
  let mx = -Infinity;
  let mn = Infinity;
  for (const v of sim) {
    mx = Math.max(mx, v);
    mn = Math.min(mn, v);
  }
  const tau = Math.fround(mx - Math.fround(relThreshold * Math.fround(mx - mn)));
  const label = rt.upload(
    Float32Array.from(sim, (v) => (v > tau ? 1 : 0)),
    [1, 1, h, w],
    'f32',
    'pseudo_label',
  );
  return { label, sim, tau };
}
