// Benchmark of one SEMA structure branch (src/model/sema.ts SemaMemoryAttentionLayer.structure, seeded
// random weights of the full-size shapes): edge modulation, depthwise-separable 3/5/7 branches with
// GroupNorm, 768->256 fuse, RoPE cross-attention to the memory, 3x3 structure head, x16 upsample,
// sigmoid, resize back, gating. Full size: 256 channels on the 64x64 grid, memory of 7 frames x 4096
// tokens + 64 pointer tokens (64-d), upsampled map 1024x1024. Downscaled: 16x16 grid, 2 memory frames
// + 8 pointer tokens (map 256x256), same channel counts.
// Check: downscaled, the float64 CPU reference of the whole branch (test/ref/sema.ts) at 2e-5 of the
// output scale + 1e-4 relative; full size (the reference would take minutes), the structure head,
// x16 upsample / gate and the modulation recomputed on the CPU from the GPU's cross-attention output.
// No ONNX peer (a composite of many ops).
import type { Runtime } from '../src/graph/runtime.js';
import type { Tensor } from '../src/graph/tensor.js';
import { SAM21_HIERA_T } from '../src/model/config.js';
import { robotsegSpec, ROBOTSEG_HIERA_T } from '../src/model/robotseg_config.js';
import { type SemaMemoryAttentionLayer, SemaMemoryAttention } from '../src/model/sema.js';
import { randomTensor } from '../test/helpers/random_weights.js';
import { conv2dRef } from '../test/ref/conv2d.js';
import { UNARY } from '../test/ref/elementwise.js';
import { resizeRef } from '../test/ref/resize.js';
import { semaStructureRef } from '../test/ref/sema.js';
import { rng, within } from '../test/helpers/rng.js';
import type { BenchCase, BenchRun } from './types.js';

const ok = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  return within(got, want, Math.max(2e-5 * scale, 1e-7), 1e-4);
};

const semaCase: BenchCase = {
  kernel: 'sema',
  impl: 'structure-branch',
  setup(rt: Runtime, { full }): BenchRun {
    const spec = robotsegSpec(ROBOTSEG_HIERA_T);
    const C = spec.dModel;
    const memDim = spec.memDim;
    const side = full ? 64 : 16;
    const frames = full ? 7 : 2;
    const nPtr = full ? 64 : 8;
    const N = side * side;
    const M = frames * N + nPtr;
    const up = spec.sema.upsample;
    const cfg = { ...SAM21_HIERA_T.memory_attention, feat_sizes: [side, side] as [number, number] };
    const ma = new SemaMemoryAttention(cfg, { ...spec, grid: [side, side] });
    const L: SemaMemoryAttentionLayer = ma.layers[0];
    const host = new Map<string, Float32Array>();
    const owned: Tensor[] = [];
    for (const [key, p] of L.namedParams()) {
      if (!/^(structure_strength|cross_attn_structure|ms_pyramid|structure_head)/.test(key)) continue;
      const v = key === 'structure_strength' ? Float32Array.from([0.8]) : randomTensor(key, p.shape, 9);
      host.set(key, v);
      owned.push((p.tensor = rt.upload(v, p.shape, 'f32', key)));
    }
    const r = rng(1);
    const tCa = Float32Array.from({ length: N * C }, () => r.normal());
    const tMain = Float32Array.from({ length: N * C }, () => r.normal());
    const edges = r.array(N, 0.02).map(Math.abs);
    const k = Float32Array.from({ length: M * memDim }, () => r.normal());
    const v = Float32Array.from({ length: M * memDim }, () => r.normal());
    const ins = [
      rt.upload(tCa, [1, N, C]),
      rt.upload(tMain, [1, N, C]),
      rt.upload(edges, [1, 1, side, side]),
      rt.upload(k, [1, M, memDim]),
      rt.upload(v, [1, M, memDim]),
    ];
    const cs = ma.ropeCs(rt, N);
    let last: { out: Tensor; xo: Tensor | null } | null = null;
    const drop = () => {
      if (last) {
        last.out.dispose();
        last.xo?.dispose();
      }
    };
    const flops =
      2 * C * N * (9 + 25 + 49) +
      2 * 3 * C * C * N +
      2 * 3 * C * C * N +
      4 * N * C * C +
      4 * M * memDim * C +
      4 * N * M * C +
      2 * 9 * C * N;
    return {
      shape: `C ${C}, ${side}x${side} grid, ${M} memory tokens (${frames} frames + ${nPtr} ptr), x${up} map`,
      run: () => {
        drop();
        last = rt.scope(() => {
          let xo: Tensor | null = null;
          const o = L.structure(
            rt,
            ins[0],
            ins[1],
            ins[2],
            ins[3],
            ins[4],
            cs,
            nPtr,
            full
              ? (n, t) => {
                  if (n === 'xattn_structure_out_BxNxC') xo = t;
                }
              : undefined,
          );
          return { out: o.out, xo };
        });
      },
      check: async () => {
        const got = await rt.read(last!.out);
        if (!full) {
          const ref = semaStructureRef((n) => host.get(n)!, tCa, tMain, edges, k, v, await rt.read(cs), {
            h: side,
            w: side,
            C,
            memDim,
            heads: spec.sema.heads,
            groups: spec.sema.groupNormGroups,
            eps: spec.sema.groupNormEps,
            up,
            M,
            nPtr,
          });
          return ok(got, ref.out);
        }
        const xo = await rt.read(last!.xo!);
        const xmap = new Float64Array(C * N);
        for (let c = 0; c < C; c++) for (let n = 0; n < N; n++) xmap[c * N + n] = xo[n * C + c];
        const logits = conv2dRef(
          xmap,
          [1, C, side, side],
          host.get('structure_head.weight')!,
          [1, C, 3, 3],
          host.get('structure_head.bias')!,
          { padding: 1 },
        ).y;
        const upl = resizeRef(logits, [1, 1, side, side], [side * up, side * up], 'bilinear').map(UNARY.sigmoid);
        const gate = resizeRef(upl, [1, 1, side * up, side * up], [side, side], 'bilinear');
        const want = Float64Array.from(tMain, (x, i) => x * (1 + 0.8 * gate[Math.floor(i / C)]));
        return ok(got, want);
      },
      flops,
      bytes: 4 * (3 * C * N * 12 + 2 * M * memDim + 2 * M * C + 2 * N * up * up),
      downscaled: !full,
      dispose() {
        drop();
        for (const t of [...ins, ...owned]) t.dispose();
      },
    };
  },
};

export const cases: BenchCase[] = [semaCase];
