// Model-stage benchmarks of the SAM 2.1 video path (rows carry `stage`), reduced golden config:
//   * memory_attention: current frame (16x16 tokens) against a FULL bank — 1 conditioning + 6
//     previous memories (7 x 256 tokens) + 16 object pointers x 4 tokens = 1856 memory tokens, the
//     shape of ../shared/peers/sam21_reduced/memory_attention.onnx. Correctness is checked first on
//     the golden `video` frame 2 call (520 memory tokens: every input and the output are recorded),
//     then the 1856-token shape is timed (seeded inputs; peers are compared with ours on it).
//   * memory_encoder: _encode_new_memory on the golden frame-2 inputs (sigmoid path).
//   * tracked_frame: one propagated frame on the GPU — image encoder + memory attention over the full
//     bank + prompt encoder/decoder + memory encoder (host-side mask selection excluded).
//   * track_<n>obj[_batched|_per_object]: one streamed frame through the VideoPredictor with n objects
//     (1, 2, 4 clicks on frame 0 of the golden clip, banks and pointers full): image encoder once,
//     then the objects as one batch (memory attention, decoder, memory encoder once per frame) or one
//     object at a time (batchObjects false); host-side choices and readbacks included. Checked first:
//     the two modes run in lockstep for 3 frames and must give the same masks and logits (1e-5). The
//     row's `stages` (and note) split a frame by stage: wall ms with a sync after each stage (3 frames);
//     `dispatches`, `submits`, `uploads`, `readbacks`: per frame over 3 frames without those syncs
//     (Runtime.counters); `hostMs`: median over 5 frames of wall ms minus GPU (timestamp) ms of the
//     frame, i.e. the host's share: encoding, queueing, submits, uploads, readback waits, choices;
//     `bankBytes`: GPU bytes of object 1's full memory bank (VideoPredictor.memoryBytes).
//     `--full`: the same rows at the real size (harness.ts fullConfig: sam2.1_hiera_t, 1024 px) with
//     seeded random weights in the official layout and synthetic S x S frames (textured background,
//     four moving blobs under the clicks); checked for the lockstep equality and finite logits only.
// Precision: memory_attention, memory_encoder and tracked_frame honour `--precision f16` (rows at f32
// and f16; f16 golden checks at 1e-2 of the tensor's scale, no peers). The f16 memory_attention row
// feeds memory and positions stored f16, as the tracker's bank and assembly store them.
// Memory attention dominates a tracked frame at full size (~0.5 TFLOP with a full bank).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../src/graph/runtime.js';
import { type Tensor, untrack } from '../src/graph/tensor.js';
import { uploadWeights } from '../src/graph/weights.js';
import { affine, unary } from '../src/kernels/elementwise.js';
import { permute, slice } from '../src/kernels/layout.js';
import { resize } from '../src/kernels/resize.js';
import { parseConfig } from '../src/model/config.js';
import { type Precision, weightDtypes } from '../src/model/module.js';
import { SAM2 } from '../src/model/sam2.js';
import { type FrameResult, type TrackStage, VideoPredictor } from '../src/model/video_predictor.js';
import type { RgbImage } from '../src/image/rgb.js';
import { readImage } from '../src/node/image_io.js';
import { openWeights } from '../src/node/weights_file.js';
import { PACKAGE_ROOT } from '../src/node/package_info.js';
import { randomWeightsFile } from '../test/helpers/random_weights.js';
import { allClose, type BenchRunWithOutput, fixture, fullConfig } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

const PEERS = process.env.ROBOTSEG_PEERS_DIR ?? join(PACKAGE_ROOT, '..', 'shared', 'peers', 'sam21_reduced');

interface Ctx {
  model: SAM2;
  g: Map<string, Float32Array>;
  precision: Precision;
}
const ctxs = new Map<Precision, Promise<Ctx>>();
const KEYS = [
  'memattn.curr_in_HWxBxC',
  'memattn.curr_pos_HWxBxC',
  'memattn.memory_NxBxC',
  'memattn.memory_pos_NxBxC',
  'memattn.num_obj_ptr_tokens',
  'memattn.out_HWxBxC',
  'memenc.pix_feat_in',
  'memenc.pred_masks_high_res_in',
  'memenc.maskmem_features_f32',
  'input_image',
];

function context(rt: Runtime, precision: Precision = 'f32'): Promise<Ctx> {
  const hit = ctxs.get(precision);
  if (hit) return hit;
  const ctx = (async () => {
    const cfg = parseConfig(readFileSync(fixture('golden', 'config.json'), 'utf8'));
    const file = await openWeights(fixture('golden', 'weights.safetensors'));
    const model = new SAM2(cfg);
    const store = await uploadWeights(rt, file, { dtype: weightDtypes(model, precision) });
    await file.close();
    await model.load(rt, store);
    const gf = await openWeights(fixture('golden', 'video.safetensors'));
    const g = new Map<string, Float32Array>();
    for (const k of KEYS) g.set(k, await gf.readTensor(`video/frame2/${k}`));
    await gf.close();
    return { model, g, precision };
  })();
  ctxs.set(precision, ctx);
  return ctx;
}

/** 1e-4 of the tensor's scale (1e-2 with f16 weights: test/model/f16_parity's LOGIT_FRAC), 1e-3 relative. */
function close(what: string, got: Float32Array, want: Float32Array, precision: Precision = 'f32'): boolean {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  const r = allClose(got, want, { atol: (precision === 'f16' ? 1e-2 : 1e-4) * scale + 1e-6, rtol: 1e-3 });
  if (!r.ok) process.stderr.write(`bench: sam2_video ${what}: ${r.msg}\n`);
  return r.ok;
}

function seeded(n: number, seed: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return a;
}

function peer(name: string): Uint8Array | null {
  const p = join(PEERS, `${name}.onnx`);
  return existsSync(p) ? new Uint8Array(readFileSync(p)) : null;
}

/** Full-bank shapes of the reduced model. */
function bankShapes(m: SAM2) {
  const c = m.cfg;
  const hw = (c.image_size / c.backbone_stride) ** 2;
  const mem = c.memory_encoder.out_dim;
  const C = c.memory_attention.d_model;
  const ptrTokens = c.base.max_obj_ptrs_in_encoder * (C / mem);
  return { hw, C, mem, ptrTokens, n: c.base.num_maskmem * hw + ptrTokens };
}

const memoryAttention: BenchCase = {
  kernel: 'sam2_video',
  impl: 'memory_attention',
  precisions: true,
  async setup(rt, { precision }): Promise<BenchRun> {
    const { model: m, g } = await context(rt, precision);
    const { hw, C, mem, ptrTokens, n } = bankShapes(m);
    // the memory path's storage under this precision (f16: as the tracker stores bank and positions)
    const md = precision === 'f16' ? 'f16' : 'f32';
    // correctness on the golden call (B = 1: sequence-first N x 1 x C is the same memory as 1 x N x C)
    const gm = g.get('memattn.memory_NxBxC')!;
    const gOut = rt.scope(() =>
      m.memory_attention.forward(
        rt,
        rt.upload(g.get('memattn.curr_in_HWxBxC')!, [1, hw, C]),
        rt.upload(g.get('memattn.curr_pos_HWxBxC')!, [1, hw, C]),
        rt.upload(gm, [1, gm.length / mem, mem], md),
        rt.upload(g.get('memattn.memory_pos_NxBxC')!, [1, gm.length / mem, mem], md),
        g.get('memattn.num_obj_ptr_tokens')![0],
      ),
    );
    const goldenOk = close(
      'memory_attention (golden frame 2)',
      await rt.read(gOut),
      g.get('memattn.out_HWxBxC')!,
      precision,
    );
    gOut.dispose();
    const inputs = {
      curr: seeded(hw * C, 1),
      curr_pos: seeded(hw * C, 2),
      memory: seeded(n * mem, 3),
      memory_pos: seeded(n * mem, 4),
    };
    const t = {
      curr: untrack(rt.upload(inputs.curr, [1, hw, C])),
      currPos: untrack(rt.upload(inputs.curr_pos, [1, hw, C])),
      memory: untrack(rt.upload(inputs.memory, [1, n, mem], md)),
      memoryPos: untrack(rt.upload(inputs.memory_pos, [1, n, mem], md)),
    };
    let last: Tensor | null = null;
    const ma = m.cfg.memory_attention;
    // per layer: self-attn (4 projections + attention) + cross (q, out: C x C; k, v: mem -> C; attention) + FFN
    const attnFlops = (nq: number, nk: number) => 4 * nq * nk * C;
    const flops =
      ma.num_layers *
      (2 * hw * C * C * 4 +
        attnFlops(hw, hw) +
        2 * hw * C * C * 2 +
        2 * n * mem * C * 2 +
        attnFlops(hw, n) +
        2 * 2 * hw * C * ma.dim_feedforward);
    const run: BenchRunWithOutput = {
      shape: `${hw} queries x ${n} memory tokens (7 memories + ${ptrTokens} pointer tokens), C ${C}`,
      stage: 'memory_attention',
      downscaled: true,
      flops,
      run() {
        last?.dispose();
        last = untrack(
          rt.scope(() => m.memory_attention.forward(rt, t.curr, t.currPos, t.memory, t.memoryPos, ptrTokens)),
        );
      },
      async check() {
        const out = await rt.read(last!);
        return goldenOk && out.every(Number.isFinite);
      },
      output: () => rt.read(last!),
      dispose() {
        last?.dispose();
        for (const x of Object.values(t)) x.dispose();
      },
    };
    const onnx = peer('memory_attention');
    if (onnx) {
      run.onnx = {
        op: 'sam21_memory_attention',
        model: onnx,
        outputName: 'pix_feat_with_mem',
        outputShape: [hw, 1, C],
        inputs: {
          curr: { shape: [hw, 1, C], data: inputs.curr },
          curr_pos: { shape: [hw, 1, C], data: inputs.curr_pos },
          memory: { shape: [n, 1, mem], data: inputs.memory },
          memory_pos: { shape: [n, 1, mem], data: inputs.memory_pos },
        },
      };
    }
    return run;
  },
};

const memoryEncoder: BenchCase = {
  kernel: 'sam2_video',
  impl: 'memory_encoder',
  precisions: true,
  async setup(rt, { precision }): Promise<BenchRun> {
    const { model: m, g } = await context(rt, precision);
    const c = m.cfg;
    const S = c.image_size;
    const h = S / c.backbone_stride;
    const C = c.memory_encoder.in_dim;
    const pix = untrack(rt.upload(g.get('memenc.pix_feat_in')!, [1, C, h, h]));
    const masks = untrack(rt.upload(g.get('memenc.pred_masks_high_res_in')!, [1, 1, S, S]));
    let last: Tensor | null = null;
    const run: BenchRunWithOutput = {
      shape: `${c.name}: pix ${C}x${h}x${h}, mask ${S}x${S}`,
      stage: 'memory_encoder',
      downscaled: true,
      run() {
        last?.dispose();
        // sigmoid x20 - 10 then the encoder (propagated frames: not binarised; object present here)
        last = untrack(
          rt.scope(() =>
            m.memory_encoder.forward(
              rt,
              pix,
              affine(
                rt,
                unary(rt, masks, 'sigmoid'),
                c.base.sigmoid_scale_for_mem_enc,
                c.base.sigmoid_bias_for_mem_enc,
              ),
            ),
          ),
        );
      },
      async check() {
        return close('memory_encoder', await rt.read(last!), g.get('memenc.maskmem_features_f32')!, precision);
      },
      output: () => rt.read(last!),
      dispose() {
        last?.dispose();
        pix.dispose();
        masks.dispose();
      },
    };
    const onnx = peer('memory_encoder');
    if (onnx) {
      run.onnx = {
        op: 'sam21_memory_encoder',
        model: onnx,
        outputName: 'maskmem_features',
        outputShape: [1, c.memory_encoder.out_dim, h, h],
        inputs: {
          pix_feat: { shape: [1, C, h, h], data: g.get('memenc.pix_feat_in')! },
          pred_masks_high_res: { shape: [1, 1, S, S], data: g.get('memenc.pred_masks_high_res_in')! },
          object_score_logits: { shape: [1, 1], data: Float32Array.of(1) },
        },
      };
    }
    return run;
  },
};

const trackedFrame: BenchCase = {
  kernel: 'sam2_video',
  impl: 'tracked_frame',
  precisions: true,
  async setup(rt, { precision }): Promise<BenchRun> {
    const { model: m, g } = await context(rt, precision);
    const c = m.cfg;
    const S = c.image_size;
    const { hw, C, mem, ptrTokens, n } = bankShapes(m);
    const img = untrack(rt.upload(g.get('input_image')!, [1, 3, S, S]));
    const memory = untrack(rt.upload(seeded(n * mem, 5, 0.5), [1, n, mem]));
    const memoryPos = untrack(rt.upload(seeded(n * mem, 6, 0.5), [1, n, mem]));
    const h = Math.sqrt(hw);
    let last: Tensor[] = [];
    const run: BenchRun = {
      shape: `${c.name} ${S}x${S}, full bank (${n} memory tokens)`,
      stage: 'tracked_frame',
      downscaled: true,
      run() {
        for (const t of last) t.dispose();
        last = rt
          .scope(() => {
            const f = m.encodeImage(rt, img);
            const curr = permute(rt, f.visionFeats.reshape([1, C, hw]), [0, 2, 1]);
            const pos = permute(rt, f.visionPos.reshape([1, C, hw]), [0, 2, 1]);
            const x = m.memory_attention.forward(rt, curr, pos, memory, memoryPos, ptrTokens);
            const pix = permute(rt, x, [0, 2, 1]).reshape([1, C, h, h]);
            const pe = m.sam_prompt_encoder;
            const sparse = pe.sparse(rt, { coords: new Float32Array(2), labels: Int32Array.of(-1) });
            const d = m.sam_mask_decoder.predict(
              rt,
              pix,
              pe.denseEmbeddingPe(rt),
              sparse,
              pe.dense(rt, null),
              f.highRes,
            );
            const [, , lh, lw] = d.masks.shape;
            const best = slice(rt, d.masks, [0, 1, 0, 0], [1, 1, lh, lw]); // a multimask output
            const up = resize(rt, best, [S, S], { mode: 'bilinear' });
            const high = m.memory_encoder.forward(rt, f.visionFeats, affine(rt, unary(rt, up, 'sigmoid'), 20, -10));
            return [d.masks, high];
          })
          .map((t) => untrack(t));
      },
      async check() {
        const outs = await Promise.all(last.map((t) => rt.read(t)));
        return outs.every((o) => o.every(Number.isFinite));
      },
      dispose() {
        for (const t of [...last, img, memory, memoryPos]) t.dispose();
      },
    };
    return run;
  },
};

/** One click per object on frame 0 of the golden clip (200x150). */
const CLICKS = [
  { x: 90, y: 82.5 },
  { x: 60, y: 40 },
  { x: 150, y: 60 },
  { x: 30, y: 110 },
];
/** Frames streamed before timing: the bank (7 frames) and the pointers (16) are full after them. */
const WARM = 17;
const STAGES: TrackStage[] = ['image_encoder', 'memory', 'memory_attention', 'decoder', 'memory_encoder', 'output'];

function sameResults(a: FrameResult[], b: FrameResult[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((r, i) => {
    const o = b[i];
    if (r.objId !== o.objId || !r.mask.every((v, k) => v === o.mask[k])) return false;
    for (let k = 0; k < r.logits.length; k++) if (!(Math.abs(r.logits[k] - o.logits[k]) <= 1e-5)) return false;
    return true;
  });
}

const fullCtxs = new Map<Precision, Promise<SAM2>>();
/** --full: fullConfig() with seeded random weights, loaded once per precision. */
function fullModel(rt: Runtime, precision: Precision = 'f32'): Promise<SAM2> {
  let ctx = fullCtxs.get(precision);
  if (!ctx) {
    ctx = (async () => {
      const cfg = fullConfig();
      const file = randomWeightsFile(cfg, 0);
      const model = new SAM2(cfg);
      const store = await uploadWeights(rt, file, { dtype: weightDtypes(model, precision) });
      await file.close();
      await model.load(rt, store);
      return model;
    })();
    fullCtxs.set(precision, ctx);
    ctx.catch(() => fullCtxs.delete(precision));
  }
  return ctx;
}

/** Frame f of a synthetic S x S clip: seeded texture plus four blobs around CLICKS (scaled), moving right. */
function syntheticFrame(S: number, f: number): RgbImage {
  const data = new Uint8Array(S * S * 3);
  const r2 = (S / 12) ** 2;
  const blobs = CLICKS.map((c, o) => ({ x: (c.x / 200) * S + (f * S) / 256, y: (c.y / 150) * S, o }));
  let s = 777 + f;
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const i = 3 * (y * S + x);
      const g = 60 + (((x >> 3) * 7 + (y >> 3) * 13) % 64) + (s >>> 28);
      data[i] = data[i + 1] = data[i + 2] = g;
      for (const b of blobs)
        if ((x - b.x) ** 2 + (y - b.y) ** 2 < r2) {
          data[i] = 220 - 30 * b.o;
          data[i + 1] = 40 + 50 * b.o;
          data[i + 2] = 90 + 40 * b.o;
        }
    }
  return { width: S, height: S, data };
}

function trackObjects(n: number, mode: 'batched' | 'per_object' | null): BenchCase {
  return {
    kernel: 'sam2_video',
    impl: `track_${n}obj${mode ? `_${mode}` : ''}`,
    precisions: true,
    async setup(rt, { full, precision }): Promise<BenchRun> {
      const m = full ? await fullModel(rt, precision) : (await context(rt, precision)).model;
      const S = m.cfg.image_size;
      const imgs = Array.from({ length: 9 }, (_, i) =>
        full ? syntheticFrame(S, i) : readImage(fixture('golden', `video_frame${i}.png`)),
      );
      // clicks are in the golden clip's 200x150 pixels
      const clicks = CLICKS.map((c) => (full ? { x: (c.x / 200) * S, y: (c.y / 150) * S } : c));
      let i = 0;
      const next = () => {
        const k = Math.floor(i / 8) % 2 === 0 ? i % 8 : 8 - (i % 8);
        i++;
        return imgs[k];
      }; // ping-pong
      let hook: ((stage: TrackStage) => Promise<void>) | null = null;
      const make = (batchObjects: boolean) =>
        new VideoPredictor(
          rt,
          m,
          {
            numFrames: null,
            width: imgs[0].width,
            height: imgs[0].height,
            frame: async (f) => {
              throw new Error(`frame ${f} is gone`);
            },
          },
          { batchObjects, onStage: (_f, st) => hook?.(st) },
        );
      const batched = mode !== 'per_object';
      const pred = make(batched);
      const other = n > 1 ? make(!batched) : null;
      const first = next();
      for (const p of other ? [pred, other] : [pred]) {
        await p.push(first);
        for (let o = 0; o < n; o++) await p.addPoints(0, o + 1, { points: [{ ...clicks[o], label: 1 }] });
      }
      let ok = true;
      for (let f = 1; f < WARM; f++) {
        const img = next();
        const r = await pred.push(img);
        if (other && f <= 3) {
          const same = sameResults(r.results, (await other.push(img)).results);
          if (!same)
            process.stderr.write(
              `bench: sam2_video ${n} objects: batched and per-object results differ on frame ${f}\n`,
            );
          ok &&= same;
        }
      }
      other?.reset();
      let last: FrameResult[] = [];
      return {
        shape: `${m.cfg.name} ${m.cfg.image_size}x${m.cfg.image_size}, ${n} object${n > 1 ? 's' : ''}${n > 1 ? (batched ? ' as one batch' : ' one at a time') : ''}, full bank, streamed`,
        stage: 'tracked_frame',
        downscaled: S < 1024,
        async run() {
          last = (await pred.push(next())).results;
        },
        async check() {
          return ok && last.length === n && last.every((r) => r.logits.every(Number.isFinite));
        },
        async extra() {
          // work per frame, without the syncs of the stage split: dispatches, submits, uploads, readbacks
          const frames = 3;
          const c0 = rt.counters();
          for (let f = 0; f < frames; f++) await pred.push(next());
          const c1 = rt.counters();
          const perFrame = (k: keyof typeof c0) => Math.round((c1[k] - c0[k]) / frames);
          const counts = {
            dispatches: perFrame('dispatches'),
            submits: perFrame('submits'),
            uploads: perFrame('uploads'),
            readbacks: perFrame('readbacks'),
          };
          // hostMs: median over 5 frames of (wall ms of push() up to a final sync) - (GPU ms of its compute
          // passes, timestamp queries): what the frame costs besides GPU work (encoding and queueing
          // dispatches, submits, uploads, waiting on readbacks, host-side choices). Null without timestamps.
          const host: number[] = [];
          for (let f = 0; f < 5; f++) {
            await rt.sync();
            const t0 = performance.now();
            if (!rt.profileStart()) break;
            await pred.push(next());
            const gpu = await rt.profileStop();
            await rt.sync();
            host.push(performance.now() - t0 - gpu);
          }
          host.sort((a, b) => a - b);
          const hostMs = host.length ? Number(host[host.length >> 1].toFixed(1)) : null;
          // stage split: sync after each stage of 3 more frames (wall clock; per object, stages repeat)
          const ms = new Map<TrackStage, number>();
          let t = 0;
          hook = async (st) => {
            await rt.sync();
            const now = performance.now();
            ms.set(st, (ms.get(st) ?? 0) + now - t);
            t = now;
          };
          for (let f = 0; f < frames; f++) {
            await rt.sync();
            t = performance.now();
            await pred.push(next());
          }
          hook = null;
          const stages = Object.fromEntries(STAGES.map((st) => [st, (ms.get(st) ?? 0) / frames]));
          // GPU bytes of one object's full bank (memories f32, or f16 under --precision f16)
          const bankBytes = pred.memoryBytes(1);
          const note = `${STAGES.map((st) => `${st} ${stages[st].toFixed(0)}`).join(', ')} ms (synced per stage); per frame: ${counts.dispatches} dispatches, ${counts.submits} submits, ${counts.uploads} uploads, ${counts.readbacks} readbacks, host ${hostMs ?? '-'} ms; bank ${(bankBytes / 2 ** 20).toFixed(2)} MiB per object`;
          return { stages, ...counts, hostMs, bankBytes, objects: n, note };
        },
        dispose() {
          pred.reset();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [
  memoryAttention,
  memoryEncoder,
  trackedFrame,
  trackObjects(1, null),
  trackObjects(2, 'batched'),
  trackObjects(2, 'per_object'),
  trackObjects(4, 'batched'),
  trackObjects(4, 'per_object'),
];
