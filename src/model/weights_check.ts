// NaN / Inf in uploaded weights, found on the GPU (no second host pass over the file): every weights
// arena is scanned in rows of ROW words by the reduce family's NONFINITE variant (one readback of
// arena/ROW counts per arena); the first flagged row's tensors are then counted exactly to name the
// first offending tensor in file order (arenas hold the tensors in file order). A model with such
// weights gives NaN masks that threshold to empty ones: the loader refuses it instead.
import { countNonFinite } from '../kernels/reduce.js';
import type { Runtime } from '../graph/runtime.js';
import type { Tensor } from '../graph/tensor.js';
import type { WeightStore } from '../graph/weights.js';

/** Words per counted row of the first pass (one invocation each). */
const ROW = 1024;

export interface NonFiniteWeight {
  key: string;
  /** NaN/Inf values in the tensor (all its chunks when chunked: the flagged chunk's count). */
  count: number;
  /** Values in the tensor (or chunk). */
  total: number;
}

async function counts(rt: Runtime, view: Tensor, r: number, half: boolean): Promise<Uint32Array> {
  const y = countNonFinite(rt, view, r, half);
  try {
    return (await rt.read(y, 'raw')) as Uint32Array;
  } finally {
    y.dispose();
  }
}

/** The first tensor (file order) holding a NaN or an Inf, or null when every value is finite. */
export async function firstNonFiniteWeight(rt: Runtime, store: WeightStore): Promise<NonFiniteWeight | null> {
  const pieces: Array<{ key: string; t: Tensor }> = [];
  for (const e of store.entries.values())
    for (const t of e.tensor ? [e.tensor] : e.chunks!) pieces.push({ key: e.key, t });
  for (const arena of store.arenas) {
    // an arena holds one dtype (uploadWeights keeps f16 tensors in arenas of their own)
    const half = pieces.some((p) => p.t.buffer === arena && p.t.dtype === 'f16');
    const words = arena.size / 4;
    const rows = Math.floor(words / ROW);
    const tail = words - rows * ROW;
    let hit = -1;
    if (rows > 0) {
      const c = await counts(rt, rt.wrap(arena, [rows * ROW], 'u32', 0, 'weights check'), ROW, half);
      hit = c.findIndex((v) => v > 0);
    }
    if (hit < 0 && tail > 0) {
      const c = await counts(rt, rt.wrap(arena, [tail], 'u32', rows * ROW * 4, 'weights check'), tail, half);
      if (c[0] > 0) hit = rows;
    }
    if (hit < 0) continue;
    const lo = hit * ROW * 4;
    const hi = lo + (hit < rows ? ROW : tail) * 4;
    const overlapping = pieces
      .filter((p) => p.t.buffer === arena && p.t.byteOffset < hi && p.t.byteOffset + p.t.byteLength > lo)
      .sort((a, b) => a.t.byteOffset - b.t.byteOffset);
    for (const p of overlapping) {
      const n = Math.ceil(p.t.byteLength / 4);
      if (n === 0) continue;
      const [c] = await counts(rt, rt.wrap(arena, [n], 'u32', p.t.byteOffset, 'weights check'), n, half);
      if (c > 0) return { key: p.key, count: c, total: p.t.size };
    }
  }
  return null;
}
