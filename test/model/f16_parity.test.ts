// Fidelity of precision 'f16' (heavy-layer weights stored f16, f32 accumulation) against the
// official float32 PyTorch goldens (reduced config, test/fixtures/golden): the image predictor's five
// prompt cases and the 3-frame video case. Tolerances (docs/precision.md):
//   - logits: max |f16 - golden| <= LOGIT_FRAC x max |golden| of each output (one mask / one frame);
//   - masks: IoU of (f16 > 0) and (golden > 0) >= MASK_IOU over the pixels whose golden |logit| is at
//     least CONFIDENT x max |golden| (random-weight goldens have many logits near 0, where any rounding
//     flips a pixel);
//   - video: the decoder's logits before hole filling as above; the output after hole filling (a
//     discrete step: a small component near 0 filled or not) by mask IoU, with at most HOLE_PIXELS of
//     its pixels beyond LOGIT_FRAC;
//   - predicted-IoU and object-score deltas are printed per case and bounded by SCORE_ATOL.
// The f32 path is checked bit-for-bit elsewhere (image_parity / video_parity at 1e-3).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/graph/tensor.js';
import type { RgbImage } from '../../src/image/rgb.js';
import { ImagePredictor } from '../../src/model/image_predictor.js';
import { type FrameSource, VideoPredictor } from '../../src/model/video_predictor.js';
import { readImage } from '../../src/node/image_io.js';
import { GOLDEN, GOLDEN_PROMPTS, goldenFile, goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { robotsegFile, robotsegGoldenModel } from '../helpers/robotseg.js';

const rt = await testRuntime();

export const LOGIT_FRAC = 0.01;
export const CONFIDENT = 0.05;
export const MASK_IOU = 0.99;
export const SCORE_ATOL = 0.02;
/** Video output after hole filling: share of pixels allowed beyond LOGIT_FRAC (moved holes). */
export const HOLE_PIXELS = 0.01;

interface Fidelity {
  /** max |got - want| / max |want| */
  frac: number;
  /** IoU of the thresholded masks over the confident pixels */
  iou: number;
  confident: number;
  /** pixels off by more than LOGIT_FRAC x max |want| */
  far: number;
}

export function fidelity(got: ArrayLike<number>, want: ArrayLike<number>): Fidelity {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let diff = 0;
  let inter = 0;
  let union = 0;
  let confident = 0;
  let far = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    diff = Math.max(diff, d);
    if (d > LOGIT_FRAC * scale) far++;
    if (Math.abs(want[i]) < CONFIDENT * scale) continue;
    confident++;
    const a = got[i] > 0;
    const b = want[i] > 0;
    if (a && b) inter++;
    if (a || b) union++;
  }
  return { frac: scale > 0 ? diff / scale : diff, iou: union ? inter / union : 1, confident, far };
}

function expectFaithful(name: string, f: Fidelity) {
  expect(f.confident, `${name}: confident pixels`).toBeGreaterThan(0);
  if (f.frac > LOGIT_FRAC) expect.fail(`${name}: logits off by ${f.frac.toFixed(4)} of max |logit| (> ${LOGIT_FRAC})`);
  if (f.iou < MASK_IOU) expect.fail(`${name}: mask IoU ${f.iou.toFixed(4)} over confident pixels (< ${MASK_IOU})`);
}

describe.skipIf(!rt?.hasF16)('precision f16 vs the float32 goldens', () => {
  it('image predictor: five prompt cases', async () => {
    const model = await goldenModel(rt!, 'f16');
    // the heavy weights really are f16 (and the rest f32)
    const params = model.namedParams();
    const half = params.filter(([, p]) => p.t.dtype === 'f16').map(([k]) => k);
    expect(half).toContain('image_encoder.trunk.blocks.0.mlp.layers.0.weight');
    expect(half).toContain('sam_mask_decoder.output_upscaling.0.weight');
    expect(half).toContain('memory_attention.layers.0.cross_attn_image.k_proj.weight');
    expect(half.every((k) => k.endsWith('.weight'))).toBe(true);
    expect(params.find(([k]) => k === 'no_mem_embed')![1].t.dtype).toBe('f32');
    const golden = await goldenFile('image.safetensors');
    const pred = new ImagePredictor(rt!, model);
    // the image encoder stores Hiera's normalised rows and MLP hidden layers f16 (the rest f32)
    const made = new Map<string, number>();
    const empty = rt!.empty.bind(rt!);
    rt!.empty = (shape, dtype, label) => {
      const k = `${label} ${dtype}`;
      made.set(k, (made.get(k) ?? 0) + 1);
      return empty(shape, dtype, label);
    };
    try {
      pred.setImage(readImage(join(GOLDEN, 'image_200x150.png')));
    } finally {
      rt!.empty = empty;
    }
    const blocks = model.image_encoder.trunk.blocks.length;
    expect(made.get('layer_norm f16')).toBe(2 * blocks);
    expect(made.get('layer_norm f32') ?? 0).toBe(0);
    expect(made.get('linear f16')).toBe(blocks); // one MLP hidden layer per block
    const rows: string[] = [];
    for (const [name, prompt] of Object.entries(GOLDEN_PROMPTS)) {
      const res = await pred.predict(prompt);
      const want = await golden.readTensor(`image/${name}/out.mask_logits_orig_res`);
      const n = res.width * res.height;
      expect(res.logits.length * n).toBe(want.length);
      const wantIou = await golden.readTensor(`image/${name}/out.iou`);
      const wantObj = (await golden.readTensor(`image/${name}/decoder.object_score_logits`))[0];
      const dObj = Math.abs(res.objectScore - wantObj);
      res.logits.forEach((l, m) => {
        const f = fidelity(l, want.subarray(m * n, (m + 1) * n));
        const dIou = Math.abs(res.iou[m] - wantIou[m]);
        rows.push(
          `${name}[${m}]: logits ${f.frac.toFixed(4)} of max, mask IoU ${f.iou.toFixed(4)} (${f.confident} px), ` +
            `IoU-score delta ${dIou.toExponential(2)}, object-score delta ${dObj.toExponential(2)}`,
        );
        expectFaithful(`${name}[${m}]`, f);
        expect(dIou, `${name}[${m}] IoU score`).toBeLessThanOrEqual(SCORE_ATOL);
      });
      expect(dObj, `${name} object score`).toBeLessThanOrEqual(SCORE_ATOL);
    }
    console.log(`f16 image parity:\n  ${rows.join('\n  ')}`);
    await golden.close();
  });

  it('video predictor: 3 frames, one click on frame 0', async () => {
    const model = await goldenModel(rt!, 'f16');
    const golden = await goldenFile('video.safetensors');
    const imgs: RgbImage[] = [0, 1, 2].map((i) => readImage(join(GOLDEN, `video_frame${i}.png`)));
    const src: FrameSource = { numFrames: 3, width: 200, height: 150, frame: async (i) => imgs[i] };
    const taps = new Map<string, Promise<Float32Array>>();
    const stored = new Map<string, string>();
    const pred = new VideoPredictor(rt!, model, src, {
      tap: (f: number, n: string, t: Tensor) => {
        if (n === 'heads.high_res_masks' || n === 'heads.ious') taps.set(`video/frame${f}/${n}`, rt!.read(t));
        if (n.startsWith('memattn.memory') || n.startsWith('memenc.maskmem')) stored.set(n, t.dtype);
      },
    });
    await pred.addPoints(0, 1, { points: [{ x: 90, y: 82.5, label: 1 }] });
    const rows: string[] = [];
    let frames = 0;
    const checkStorage = () => {
      // the memory path is stored f16 (bank, memory tokens and their positions); f32 before the rounding
      expect(Object.fromEntries(stored)).toEqual({
        'memenc.maskmem_features_f32': 'f32',
        'memenc.maskmem_features_bf16_as_f32': 'f16',
        'memattn.memory_NxBxC': 'f16',
        'memattn.memory_pos_NxBxC': 'f16',
      });
    };
    for await (const { frame, results } of pred.propagate()) {
      const r = results[0];
      // the decoder's logits before hole filling: within LOGIT_FRAC of the golden's
      const high = await taps.get(`video/frame${frame}/heads.high_res_masks`)!;
      const fHigh = fidelity(high, await golden.readTensor(`video/frame${frame}/heads.high_res_masks`));
      // the output after hole filling: a discrete step (a component of a few pixels near 0 filled or
      // not) may move whole holes, so the mask is held to MASK_IOU over the confident pixels
      const want = await golden.readTensor(`video/frame${frame}/out.video_res_logits`);
      const f = fidelity(r.logits, want);
      const wantObj = (await golden.readTensor(`video/frame${frame}/out.object_score_logits`))[0];
      const dObj = Math.abs(r.objectScore - wantObj);
      const ious = await taps.get(`video/frame${frame}/heads.ious`);
      const wantIous = await golden.readTensor(`video/frame${frame}/heads.ious`);
      expect(ious?.length, `frame ${frame} heads.ious`).toBe(wantIous.length);
      const dIou = Math.max(...Array.from(wantIous, (v, i) => Math.abs(ious![i] - v)));
      rows.push(
        `frame ${frame}: decoder logits ${fHigh.frac.toFixed(4)} of max, output logits ${f.frac.toFixed(4)} of max ` +
          `(${f.far} px beyond ${LOGIT_FRAC}), mask IoU ${f.iou.toFixed(4)} (${f.confident} px), ` +
          `IoU-score delta ${dIou.toExponential(2)}, object-score delta ${dObj.toExponential(2)}`,
      );
      expectFaithful(`frame ${frame} decoder`, fHigh);
      if (f.iou < MASK_IOU) expect.fail(`frame ${frame}: output mask IoU ${f.iou.toFixed(4)} (< ${MASK_IOU})`);
      expect(f.far, `frame ${frame}: output pixels beyond ${LOGIT_FRAC} of max`).toBeLessThanOrEqual(
        HOLE_PIXELS * want.length,
      );
      expect(dIou, `frame ${frame} IoU scores`).toBeLessThanOrEqual(SCORE_ATOL);
      expect(dObj, `frame ${frame} object score`).toBeLessThanOrEqual(SCORE_ATOL);
      frames++;
    }
    expect(frames).toBe(3);
    checkStorage();
    // the bank of the object holds frames 0-2: each a memDim x h x w memory at 2 bytes a value (f32: 4),
    // an f32 pointer [C] and f32 low-res logits [4h x 4w]
    const cfg = model.cfg;
    const hw = (cfg.image_size / cfg.backbone_stride) ** 2;
    const perFrame = cfg.memory_encoder.out_dim * hw * 2 + cfg.memory_attention.d_model * 4 + 16 * hw * 4;
    expect(pred.memoryBytes(1)).toBe(3 * perFrame);
    console.log(`f16 video parity:\n  ${rows.join('\n  ')}`);
    pred.reset();
    await golden.close();
  });

  it('RobotSeg: auto_robot, 4 frames (stored RPG tokens fed, as robotseg_auto.test.ts)', async () => {
    const model = await robotsegGoldenModel(rt!, 'f16');
    const g = await robotsegFile('auto_video.safetensors');
    const tag = 'auto_robot';
    const forced = new Map<number, Float32Array>();
    for (let f = 0; f < 4; f++) forced.set(f, await g.readTensor(`${tag}/frame${f}/rpg.tokens_out`));
    const imgs: RgbImage[] = [0, 1, 2, 3].map((i) => readImage(join(GOLDEN, `video_frame${i}.png`)));
    const src: FrameSource = { numFrames: 4, width: 200, height: 150, frame: async (i) => imgs[i] };
    const taps = new Map<string, Promise<Float32Array>>();
    const pred = new VideoPredictor(rt!, model, src, {
      tap: (f: number, n: string, t: Tensor) => {
        if (n === 'decoder.all_mask_logits' || n === 'heads.ious') taps.set(`${f}/${n}`, rt!.read(t));
      },
      // with random weights the RPG foreground test sits within 1e-7 of its threshold on some cells
      // (golden README, "Quirks"): the stored tokens are fed, so only the f16 weights differ
      objectTokens: (f: number, _obj: number, computed: Tensor) => rt!.upload(forced.get(f)!, computed.shape),
    });
    await pred.addTarget(0, 1, 'robot');
    const rows: string[] = [];
    let frames = 0;
    for await (const { frame, results } of pred.propagate()) {
      const r = results[0];
      const fDec = fidelity(
        await taps.get(`${frame}/decoder.all_mask_logits`)!,
        await g.readTensor(`${tag}/frame${frame}/decoder.all_mask_logits`),
      );
      const f = fidelity(r.logits, await g.readTensor(`${tag}/frame${frame}/out.video_res_logits`));
      const dObj = Math.abs(r.objectScore - (await g.readTensor(`${tag}/frame${frame}/out.object_score_logits`))[0]);
      const ious = await taps.get(`${frame}/heads.ious`)!;
      const wantIous = await g.readTensor(`${tag}/frame${frame}/heads.ious`);
      const dIou = Math.max(...Array.from(wantIous, (v, i) => Math.abs(ious[i] - v)));
      rows.push(
        `frame ${frame}: decoder logits ${fDec.frac.toFixed(4)} of max, output logits ${f.frac.toFixed(4)} of max ` +
          `(${f.far} px beyond ${LOGIT_FRAC}), mask IoU ${f.iou.toFixed(4)} (${f.confident} px), ` +
          `IoU-score delta ${dIou.toExponential(2)}, object-score delta ${dObj.toExponential(2)}`,
      );
      expectFaithful(`RobotSeg frame ${frame} decoder`, fDec);
      if (f.iou < MASK_IOU) expect.fail(`RobotSeg frame ${frame}: output mask IoU ${f.iou.toFixed(4)} (< ${MASK_IOU})`);
      expect(f.far).toBeLessThanOrEqual(HOLE_PIXELS * r.logits.length);
      expect(dIou).toBeLessThanOrEqual(SCORE_ATOL);
      expect(dObj).toBeLessThanOrEqual(SCORE_ATOL);
      frames++;
    }
    expect(frames).toBe(4);
    console.log(`f16 RobotSeg parity:\n  ${rows.join('\n  ')}`);
    pred.reset();
    await g.close();
  });
});
