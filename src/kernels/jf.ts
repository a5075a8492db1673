// Wrapper for shaders/jf.wgsl: integer J&F counts of K objects in one frame (see the shader header
// and src/eval/jf.ts for the metric). The host turns counts into J and F in float64, so results
// equal the CPU path (src/eval/jf.ts countsForIds) bit for bit.

import { shapeStr } from '../graph/dtype.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import { COUNT_STRIDE, diskHalfWidths } from '../eval/jf.js';

const WG = 64;
/** Distances are stored in 14 bits and capped at r + 1. */
export const JF_MAX_RADIUS = 16382;

const diskCache = new WeakMap<Runtime, Map<number, Tensor>>();
function diskTable(rt: Runtime, r: number): Tensor {
  let m = diskCache.get(rt);
  if (!m) diskCache.set(rt, (m = new Map()));
  let t = m.get(r);
  if (!t) {
    t = rt.upload(Uint32Array.from(diskHalfWidths(r)), [2 * r + 1], 'u32', `jf.disk r=${r}`);
    m.set(r, t);
  }
  return t;
}

/** Largest object count per call for an H x W frame (the scratch plane is K*H*W u32). */
export function jfMaxObjects(rt: Runtime, height: number, width: number): number {
  const limit = rt.maxBinding;
  return Math.max(1, Math.floor(limit / (4 * Math.max(1, height * width))));
}

export interface JfCountsOptions {
  /**
   * 'software': boundary bits fused into the row-distance pass (one invocation per row; per-pixel
   * invocations are slow on lavapipe / SwiftShader). 'hardware': one invocation per pixel for the
   * boundary pass. Default: by rt.adapter.software.
   */
  variant?: 'software' | 'hardware';
  /** Write into this u32 tensor at element offset outBase instead of allocating [K, 8]. */
  out?: Tensor;
  outBase?: number;
}

/**
 * Counts for ids[k] of one frame: pred, gt u32 label maps [H, W]; ids u32 [K]; radius = disk radius
 * in pixels. Returns u32 [K, 8] (or `out`): |P∩G|, |P|, |G|, |B_P|, |B_G|, |B_P∧dil(B_G)|, |B_G∧dil(B_P)|, 0.
 */
export function jfCounts(
  rt: Runtime,
  pred: Tensor,
  gt: Tensor,
  ids: Tensor,
  radius: number,
  opts: JfCountsOptions = {},
): Tensor {
  if (pred.dtype !== 'u32' || gt.dtype !== 'u32' || ids.dtype !== 'u32') {
    throw new Error(`jfCounts: pred, gt and ids must be u32 (got ${pred.dtype}, ${gt.dtype}, ${ids.dtype})`);
  }
  if (pred.rank !== 2 || gt.rank !== 2 || pred.shape[0] !== gt.shape[0] || pred.shape[1] !== gt.shape[1]) {
    throw new Error(
      `jfCounts: pred ${shapeStr(pred.shape)} and gt ${shapeStr(gt.shape)} must be equal [H, W] label maps`,
    );
  }
  if (ids.rank !== 1) throw new Error(`jfCounts: ids must be [K], got ${shapeStr(ids.shape)}`);
  if (!Number.isInteger(radius) || radius < 0 || radius > JF_MAX_RADIUS)
    throw new Error(`jfCounts: radius ${radius} must be an integer in [0, ${JF_MAX_RADIUS}]`);
  const [h, w] = gt.shape;
  const k = ids.shape[0];
  const outBase = opts.outBase ?? 0;
  let out = opts.out;
  if (out) {
    if (out.dtype !== 'u32' || !Number.isInteger(outBase) || outBase < 0 || outBase + k * COUNT_STRIDE > out.size) {
      throw new Error(
        `jfCounts: out ${shapeStr(out.shape)} ${out.dtype} cannot hold ${k}x${COUNT_STRIDE} u32 counts at offset ${outBase}`,
      );
    }
  } else {
    out = rt.empty([k, COUNT_STRIDE], 'u32', 'jf.counts');
  }
  if (k === 0) return out;
  if (h * w === 0) {
    // empty frame: every count is 0 (REDUCE over zero rows writes the zeros at out_base)
    const dummy = rt.zeros([COUNT_STRIDE], 'u32', 'jf.partial');
    rt.kernel('jf').run({
      defines: { REDUCE: 1 },
      constants: { WG },
      bindings: { partial: dummy, counts: out },
      params: { h: 0, k, out_base: outBase },
      groups: rt.groups1d(k * COUNT_STRIDE, WG),
      label: 'jf.reduce',
    });
    dummy.dispose();
    return out;
  }
  if (k > jfMaxObjects(rt, h, w)) {
    throw new Error(
      `jfCounts: ${k} objects of ${h}x${w} need a ${4 * k * h * w}-byte scratch binding, over the binding limit; split the ids (at most ${jfMaxObjects(rt, h, w)})`,
    );
  }
  const scratch = rt.empty([k, h, w], 'u32', 'jf.scratch');
  const partial = rt.empty([k, h, COUNT_STRIDE], 'u32', 'jf.partial');
  const kern = rt.kernel('jf');
  if ((opts.variant ?? (rt.adapter.software ? 'software' : 'hardware')) === 'software') {
    kern.run({
      defines: { ROWDIST: 1, FUSED: 1 },
      constants: { WG },
      bindings: { pred, gt, ids, scratch },
      params: { h, w, k, r: radius },
      groups: rt.groups1d(k * h, WG),
      label: 'jf.rowdist_fused',
    });
  } else {
    kern.run({
      defines: { BOUNDARY: 1 },
      constants: { WG },
      bindings: { pred, gt, ids, scratch },
      params: { h, w, k },
      groups: rt.groups1d(k * h * w, WG),
      label: 'jf.boundary',
    });
    kern.run({
      defines: { ROWDIST: 1 },
      constants: { WG },
      bindings: { scratch },
      params: { h, w, k, r: radius },
      groups: rt.groups1d(k * h, WG),
      label: 'jf.rowdist',
    });
  }
  kern.run({
    defines: { ROWCOUNT: 1 },
    constants: { WG },
    bindings: { scratch, hw: diskTable(rt, radius), partial },
    params: { h, w, k, r: radius },
    groups: rt.groups1d(k * h, WG),
    label: 'jf.rowcount',
  });
  kern.run({
    defines: { REDUCE: 1 },
    constants: { WG },
    bindings: { partial, counts: out },
    params: { h, k, out_base: outBase },
    groups: rt.groups1d(k * COUNT_STRIDE, WG),
    label: 'jf.reduce',
  });
  scratch.dispose();
  partial.dispose();
  return out;
}
