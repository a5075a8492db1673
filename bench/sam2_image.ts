// Model-stage benchmarks of the SAM 2.1 image path (rows carry `stage`):
//   * image_encoder  = forward_image + conv_s0/conv_s1 + no_mem_embed (SAM2ImagePredictor.set_image),
//                      preprocessed image in, image embedding and high-res features out;
//   * prompt_decoder = prompt encoder (one click + padding point, no mask) + mask decoder (all 4 masks),
//                      image features in, low-res mask logits out.
// Default: the reduced golden config at 256 px (test/fixtures/golden: weights, the preprocessed input and
// the official PyTorch outputs, which are the correctness check; `downscaled: true`). `--full`: the real
// sam2.1_hiera_t at 1024 px with seeded random weights in the official layout (no checkpoint can be
// downloaded here), checked for shapes and finite values only; meant for a real GPU (the encoder takes
// about 3.7 min on lavapipe). ROBOTSEG_BENCH_CONFIG=FILE replaces sam2.1_hiera_t there (harness.ts fullConfig).
// Peers: the same graphs exported from the official code with the same golden weights
// (../shared/peers/sam21_reduced/{image_encoder,prompt_decoder}.onnx, read from there when present,
// ROBOTSEG_PEERS_DIR overrides; 12 MB, not copied into the repository) run as whole models by
// onnxruntime-web (WebGPU, our device) and onnxruntime-node (CPU). The 1024-px ONNX graphs are not stored,
// so --full rows have no peers.
// Precision: `--precision f16` adds rows with the heavy weights stored f16 (docs/precision.md), checked
// against the same goldens at 1e-2 of each tensor's scale (the f16 fidelity bound); no peers.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../src/graph/runtime.js';
import { type Tensor, untrack } from '../src/graph/tensor.js';
import { uploadWeights } from '../src/graph/weights.js';
import type { WeightsFile } from '../src/graph/weights_io.js';
import { parseConfig, type Sam2Config } from '../src/model/config.js';
import { type Precision, weightDtypes } from '../src/model/module.js';
import { SAM2 } from '../src/model/sam2.js';
import { openWeights } from '../src/node/weights_file.js';
import { randomWeightsFile } from '../test/helpers/random_weights.js';
import { PACKAGE_ROOT } from '../src/node/package_info.js';
import { allClose, type BenchRunWithOutput, fixture, fullConfig } from './harness.js';
import type { BenchCase, BenchRun } from './types.js';

const PEERS = process.env.ROBOTSEG_PEERS_DIR ?? join(PACKAGE_ROOT, '..', 'shared', 'peers', 'sam21_reduced');

interface Ctx {
  rt: Runtime;
  full: boolean;
  precision: Precision;
  cfg: Sam2Config;
  model: SAM2;
  /** Golden tensors by key (reduced only). */
  golden: Map<string, Float32Array>;
  input: Float32Array;
  /** One click in model-input pixels (S x S). */
  click: [number, number];
}

let ctxPromise: Promise<Ctx> | null = null;
let ctxKey = '';

const GOLDEN_KEYS = [
  'image/input_image',
  'image/image_embed_with_no_mem',
  'image/high_res_feat0',
  'image/high_res_feat1',
  'image/click1/prompt.point_coords_in',
  'image/click1/decoder.all_mask_logits',
  'image/click1/decoder.all_iou',
];

/** Model + inputs, loaded once per runtime and size (both stages share them). */
function context(rt: Runtime, full: boolean, precision: Precision = 'f32'): Promise<Ctx> {
  const key = `${full}:${precision}`;
  if (ctxPromise && ctxKey === key) return ctxPromise;
  ctxKey = key;
  ctxPromise = (async () => {
    let cfg: Sam2Config;
    let file: WeightsFile;
    const golden = new Map<string, Float32Array>();
    if (full) {
      cfg = fullConfig();
      file = randomWeightsFile(cfg, 0);
    } else {
      cfg = parseConfig(readFileSync(fixture('golden', 'config.json'), 'utf8'));
      file = await openWeights(fixture('golden', 'weights.safetensors'));
      const g = await openWeights(fixture('golden', 'image.safetensors'));
      for (const k of GOLDEN_KEYS) golden.set(k, await g.readTensor(k));
      await g.close();
    }
    const model = new SAM2(cfg);
    const store = await uploadWeights(rt, file, { dtype: weightDtypes(model, precision) });
    await file.close();
    await model.load(rt, store);
    const S = cfg.image_size;
    let input: Float32Array;
    let click: [number, number];
    if (full) {
      input = new Float32Array(3 * S * S);
      let s = 12345;
      for (let i = 0; i < input.length; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        input[i] = (s / 2 ** 32) * 4 - 2;
      }
      click = [0.45 * S, 0.55 * S];
    } else {
      input = golden.get('image/input_image')!;
      const c = golden.get('image/click1/prompt.point_coords_in')!;
      click = [c[0], c[1]];
    }
    return { rt, full, precision, cfg, model, golden, input, click };
  })();
  ctxPromise.catch(() => {
    ctxPromise = null;
  });
  return ctxPromise;
}

function peerModel(name: string): Uint8Array | null {
  const p = join(PEERS, `${name}.onnx`);
  return existsSync(p) ? new Uint8Array(readFileSync(p)) : null;
}

/**
 * Golden tolerance: 1e-4 of the tensor's scale absolute, 1e-3 relative (as test/model/image_parity);
 * with f16 weights 1e-2 of the scale for every tensor (test/model/f16_parity's LOGIT_FRAC).
 */
function close(got: Float32Array, want: Float32Array, atol?: number, precision: Precision = 'f32'): boolean {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  const tol = precision === 'f16' ? 1e-2 * scale + 1e-6 : (atol ?? 1e-4 * scale + 1e-6);
  const r = allClose(got, want, { atol: tol, rtol: 1e-3 });
  if (!r.ok) process.stderr.write(`bench: sam2_image check: ${r.msg}\n`);
  return r.ok;
}

const finiteOf = (a: Float32Array, n: number) => a.length === n && a.every(Number.isFinite);

function describeSize(c: Ctx): string {
  const S = c.cfg.image_size;
  return `${c.cfg.name} ${S}x${S}`;
}

const imageEncoder: BenchCase = {
  kernel: 'sam2_image',
  impl: 'image_encoder',
  precisions: true,
  async setup(rt, { full, precision }): Promise<BenchRun> {
    const c = await context(rt, full, precision);
    const S = c.cfg.image_size;
    const x = untrack(rt.upload(c.input, [1, 3, S, S], 'f32', 'bench image'));
    let last: Tensor[] = [];
    const run: BenchRunWithOutput = {
      shape: describeSize(c),
      stage: 'image_encoder',
      downscaled: c.cfg.image_size < 1024,
      run() {
        for (const t of last) t.dispose();
        const out = rt.scope(() => {
          const f = c.model.encodeImage(rt, x);
          return [c.model.imageEmbedWithNoMem(rt, f), f.highRes[0], f.highRes[1]];
        });
        last = out.map((t) => untrack(t));
      },
      async check() {
        const [embed, h0, h1] = await Promise.all(last.map((t) => rt.read(t)));
        if (full) return [embed, h0, h1].every((a, i) => finiteOf(a, last[i].size));
        return (
          close(embed, c.golden.get('image/image_embed_with_no_mem')!, undefined, c.precision) &&
          close(h0, c.golden.get('image/high_res_feat0')!, undefined, c.precision) &&
          close(h1, c.golden.get('image/high_res_feat1')!, undefined, c.precision)
        );
      },
      output: () => rt.read(last[0]),
      dispose() {
        for (const t of last) t.dispose();
        x.dispose();
      },
    };
    const onnx = full ? null : peerModel('image_encoder');
    if (onnx)
      run.onnx = {
        op: 'sam21_image_encoder',
        model: onnx,
        inputs: { image: { shape: [1, 3, S, S], data: c.input } },
        outputName: 'image_embed',
        outputShape: embedShape(c),
      };
    return run;
  },
};

function embedShape(c: Ctx): number[] {
  const g = c.cfg.image_size / c.cfg.backbone_stride;
  return [1, c.cfg.sam_heads.prompt_embed_dim, g, g];
}

const promptDecoder: BenchCase = {
  kernel: 'sam2_image',
  impl: 'prompt_decoder',
  precisions: true,
  async setup(rt, { full, precision }): Promise<BenchRun> {
    const c = await context(rt, full, precision);
    const m = c.model;
    const C = c.cfg.sam_heads.prompt_embed_dim;
    const g = c.cfg.image_size / c.cfg.backbone_stride;
    // decoder inputs: the golden encoder outputs (reduced) or our own (full)
    let feats: { embed: Float32Array; h0: Float32Array; h1: Float32Array };
    if (full) {
      const S = c.cfg.image_size;
      const out = rt.scope(() => {
        const f = m.encodeImage(rt, rt.upload(c.input, [1, 3, S, S]));
        return [m.imageEmbedWithNoMem(rt, f), f.highRes[0], f.highRes[1]];
      });
      const [embed, h0, h1] = await Promise.all(out.map((t) => rt.read(t)));
      for (const t of out) t.dispose();
      feats = { embed, h0, h1 };
    } else {
      feats = {
        embed: c.golden.get('image/image_embed_with_no_mem')!,
        h0: c.golden.get('image/high_res_feat0')!,
        h1: c.golden.get('image/high_res_feat1')!,
      };
    }
    const shapes = { embed: [1, C, g, g], h0: [1, C / 8, 4 * g, 4 * g], h1: [1, C / 4, 2 * g, 2 * g] };
    const embed = untrack(rt.upload(feats.embed, shapes.embed, 'f32', 'bench embed'));
    const h0 = untrack(rt.upload(feats.h0, shapes.h0, 'f32', 'bench high_res0'));
    const h1 = untrack(rt.upload(feats.h1, shapes.h1, 'f32', 'bench high_res1'));
    const coords = Float32Array.of(...c.click);
    let last: Tensor[] = [];
    const lowHW = 4 * g;
    const run: BenchRunWithOutput = {
      shape: `${describeSize(c)}, 1 click`,
      stage: 'prompt_decoder',
      downscaled: c.cfg.image_size < 1024,
      run() {
        for (const t of last) t.dispose();
        const out = rt.scope(() => {
          const pe = m.sam_prompt_encoder;
          const sparse = pe.sparse(rt, { coords, labels: Int32Array.of(1) });
          const d = m.sam_mask_decoder.predict(rt, embed, pe.denseEmbeddingPe(rt), sparse, pe.dense(rt, null), [
            h0,
            h1,
          ]);
          return [d.masks, d.iou];
        });
        last = out.map((t) => untrack(t));
      },
      async check() {
        const [masks, iou] = await Promise.all(last.map((t) => rt.read(t)));
        if (full) return finiteOf(masks, last[0].size) && finiteOf(iou, last[1].size);
        // mask logits 1e-3 absolute (golden README)
        return (
          close(masks, c.golden.get('image/click1/decoder.all_mask_logits')!, 1e-3, c.precision) &&
          close(iou, c.golden.get('image/click1/decoder.all_iou')!, undefined, c.precision)
        );
      },
      // the ONNX graph returns the multimask outputs 1..3
      output: async () => (await rt.read(last[0])).slice(lowHW * lowHW),
      dispose() {
        for (const t of [...last, embed, h0, h1]) t.dispose();
      },
    };
    const onnx = full ? null : peerModel('prompt_decoder');
    if (onnx) {
      run.onnx = {
        op: 'sam21_prompt_decoder',
        model: onnx,
        outputName: 'low_res_masks',
        outputShape: [1, 3, lowHW, lowHW],
        inputs: {
          image_embed: { shape: shapes.embed, data: feats.embed },
          high_res_feats_0: { shape: shapes.h0, data: feats.h0 },
          high_res_feats_1: { shape: shapes.h1, data: feats.h1 },
          point_coords: { shape: [1, 2, 2], data: Float32Array.of(c.click[0], c.click[1], 0, 0) },
          point_labels: { shape: [1, 2], data: Float32Array.of(1, -1) },
        },
      };
    }
    return run;
  },
};

export const cases: BenchCase[] = [imageEncoder, promptDecoder];
