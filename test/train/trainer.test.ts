// The Trainer's mechanics on the reduced golden model: parameter groups (learning rates, layer decay,
// weight decay), freezing, gradient accumulation (two half-scaled clips = the mean of their separate
// gradients), user-provided pseudo labels, and the sampling helpers.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SAM2 } from '../../src/model/sam2.js';
import { readImage, readMask, writeMaskPng } from '../../src/node/image_io.js';
import { readTrainDataset } from '../../src/node/train_data.js';
import { errorClick, maskBox, randomForegroundClick, sampleCycleOffsets, samplePrompt } from '../../src/train/data.js';
import { collectParams } from '../../src/train/params.js';
import { Trainer } from '../../src/train/trainer.js';
import { mulberry32 } from '../../src/util/rng.js';
import { ROOT } from '../helpers/cli.js';
import { goldenConfig, goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
const CLIP = join(ROOT, 'test', 'fixtures', 'train_clip');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-trainer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const source = { image: async (p: string) => readImage(p), mask: async (p: string) => readMask(p) };

describe('parameter groups and sampling (no GPU)', () => {
  it('RobotSeg learning rates, trunk layer decay (pos_embed exempt), no decay on biases / LayerNorm weights, freezing', () => {
    // only the module tree is needed: Params are not bound, so collectParams must not touch tensors
    const m = new SAM2(goldenConfig());
    for (const [, p] of m.namedParams()) p.tensor = { shape: p.shape } as never;
    const ps = collectParams(m, [], { lr: 3e-4, lrEncoder: 6e-5, weightDecay: 0.1, layerDecay: 0.9 });
    const by = new Map(ps.map((p) => [p.key, p]));
    const L = 8; // reduced config: 1 + 2 + 3 + 2 blocks
    expect(by.get('image_encoder.trunk.blocks.0.attn.qkv.weight')!.lr).toBeCloseTo(6e-5 * 0.9 ** L, 12);
    expect(by.get('image_encoder.trunk.blocks.7.mlp.layers.0.weight')!.lr).toBeCloseTo(6e-5 * 0.9 ** 1, 12);
    expect(by.get('image_encoder.trunk.patch_embed.proj.weight')!.lr).toBeCloseTo(6e-5 * 0.9 ** (L + 1), 12);
    expect(by.get('image_encoder.trunk.pos_embed')!.lr).toBe(6e-5);
    expect(by.get('image_encoder.neck.convs.0.conv.weight')!.lr).toBe(6e-5);
    expect(by.get('sam_mask_decoder.iou_token.weight')!.lr).toBe(3e-4);
    expect(by.get('sam_mask_decoder.transformer.layers.0.norm1.weight')!.weightDecay).toBe(0); // nn.LayerNorm
    expect(by.get('image_encoder.trunk.blocks.0.norm1.weight')!.weightDecay).toBe(0);
    expect(by.get('sam_mask_decoder.output_upscaling.1.weight')!.weightDecay).toBe(0.1); // LayerNorm2d keeps decay
    expect(by.get('memory_attention.layers.0.linear1.bias')!.weightDecay).toBe(0);
    expect(by.get('memory_attention.layers.0.linear1.weight')!.weightDecay).toBe(0.1);
    expect(by.has('sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix')).toBe(false); // a buffer
    const frozen = collectParams(m, ['image_encoder', 'sam_prompt_encoder.']);
    expect(frozen.some((p) => p.key.startsWith('image_encoder.') || p.key.startsWith('sam_prompt_encoder.'))).toBe(
      false,
    );
    expect(frozen.length).toBeGreaterThan(0);
  });

  it('cycle clips, prompts, clicks and boxes', () => {
    const next = mulberry32(5);
    for (let i = 0; i < 50; i++) {
      const o = sampleCycleOffsets(next, 16, 7);
      const s = o[1];
      expect(s).toBeGreaterThanOrEqual(1);
      expect(s).toBeLessThanOrEqual(5); // (16 - 1) // 3
      expect(o).toEqual([0, s, 2 * s, 3 * s, 2 * s, s, 0]);
    }
    expect(sampleCycleOffsets(next, 3, 7)).toEqual([0, 1, 2, 2, 2, 1, 0]); // clamped
    expect(sampleCycleOffsets(next, 1, 7)).toEqual([0]);
    expect(() => sampleCycleOffsets(next, 5, 4)).toThrow(/odd/);
    const kinds = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const k = samplePrompt(next, 'mixed', true, true);
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    expect(kinds.get('auto')! / 2000).toBeCloseTo(0.4, 1);
    expect(kinds.get('mask')! / 2000).toBeCloseTo(0.2, 1);
    expect(samplePrompt(() => 0.9, 'mixed', false, true)).not.toBe('mask'); // single images fall back to points
    expect(samplePrompt(() => 0.1, 'mixed', true, false)).not.toBe('auto'); // SAM 2.1: no category
    const mask = new Uint8Array(5 * 4);
    mask[1 * 5 + 2] = 1;
    mask[3 * 5 + 4] = 1;
    expect(maskBox(mask, 5, 4)).toEqual([2, 1, 5, 4]);
    for (let i = 0; i < 10; i++) {
      const c = randomForegroundClick(next, mask, 5);
      expect(mask[c.y * 5 + c.x]).toBe(1);
    }
    expect(() => maskBox(new Uint8Array(4), 2, 2)).toThrow(/empty/);
  });

  it('correction clicks: uniform over misses (positive) and false alarms (negative); background when correct', () => {
    const next = mulberry32(9);
    // 3x3: gt = left column, pred = middle column -> misses (0,*), false alarms (1,*)
    const gt = Uint8Array.from([1, 0, 0, 1, 0, 0, 1, 0, 0]);
    const pred = Uint8Array.from([0, 1, 0, 0, 1, 0, 0, 1, 0]);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const c = errorClick(next, gt, pred, 3);
      expect(c.x === 0 ? 1 : c.x === 1 ? 0 : -1, `${c.x},${c.y}`).toBe(c.label);
      seen.add(`${c.x},${c.y}`);
    }
    expect(seen.size).toBe(6); // every error pixel can be drawn
    for (let i = 0; i < 50; i++) {
      const c = errorClick(next, gt, gt, 3); // correct: a negative click in the background
      expect(c.label).toBe(0);
      expect(c.x).not.toBe(0);
      const g = errorClick(next, gt, null, 3); // no prediction: a positive click on the object
      expect([g.x, g.label]).toEqual([0, 1]);
    }
  });
});

describe.skipIf(!rt)('Trainer on the reduced golden model', () => {
  let model: SAM2;
  it('gradient accumulation: two clips at scale 1/2 = the mean of their gradients; frozen keys get none', async () => {
    model = await goldenModel(rt!);
    const data = readTrainDataset(CLIP, 'robot');
    const tr = new Trainer(rt!, model, data.videos, source, {
      steps: 1,
      clipLength: 3,
      freeze: ['image_encoder'],
      promptMode: 'box',
      correctionClicks: 0,
    }); // no random clicks: the same clips
    const keys = [
      'sam_mask_decoder.iou_prediction_head.layers.2.weight',
      'memory_attention.layers.1.cross_attn_image.v_proj.weight',
      'obj_ptr_proj.layers.0.bias',
    ];
    const grads = async () =>
      Promise.all(keys.map(async (k) => rt!.read(tr.params.find((p) => p.key === k)!.tensor.grad!)));
    const clear = () => {
      for (const p of tr.params) {
        p.tensor.grad?.dispose();
        p.tensor.grad = null;
      }
    };
    const v = data.videos[0];
    await tr.clipLoss(v, [0, 2, 0], 'box', 1, true);
    const a = await grads();
    clear();
    await tr.clipLoss(v, [0, 4, 0], 'box', 1, true);
    const b = await grads();
    clear();
    await tr.clipLoss(v, [0, 2, 0], 'box', 0.5, true);
    await tr.clipLoss(v, [0, 4, 0], 'box', 0.5, true);
    const ab = await grads();
    expect(tr.params.some((p) => p.key.startsWith('image_encoder.'))).toBe(false);
    clear();
    keys.forEach((k, j) => {
      let err = 0,
        scale = 0;
      for (let i = 0; i < a[j].length; i++) {
        const want = 0.5 * (a[j][i] + b[j][i]);
        err = Math.max(err, Math.abs(ab[j][i] - want));
        scale = Math.max(scale, Math.abs(want));
      }
      expect(err, k).toBeLessThanOrEqual(1e-5 * scale + 1e-9); // float32 sums in another order
      expect(scale, k).toBeGreaterThan(0);
    });
    tr.dispose();
  });

  it('user pseudo labels replace the feature rule: an empty label makes each patch term 1 - eps/(Σp + eps)', async () => {
    const pseudo = join(tmp, 'pseudo', 'clip');
    mkdirSync(pseudo, { recursive: true });
    for (const f of ['00001', '00002', '00003'])
      writeMaskPng(join(pseudo, `${f}.png`), 240, 136, new Uint8Array(240 * 136));
    const data = readTrainDataset(CLIP, 'robot', join(tmp, 'pseudo'));
    expect([...data.videos[0].pseudo!.keys()]).toEqual([1, 2, 3]);
    const tr = new Trainer(rt!, model, data.videos, source, {
      steps: 1,
      clipLength: 5,
      freeze: ['image_encoder'],
      promptMode: 'box',
    });
    const r = await tr.clipLoss(data.videos[0], [0, 1, 2, 1, 0], 'box');
    // 3 intermediate steps, each 1 - (0 + 1e-6) / (Σp + 1e-6) with Σp >> 1e-6
    expect(r.loss.patch).toBeGreaterThan(3 - 1e-4);
    expect(r.loss.patch).toBeLessThanOrEqual(3);
    tr.dispose();
  });

  it('a click prompt gets 3 supervised correction clicks (single-mask calls with the previous logits); a box is single-mask', async () => {
    const data = readTrainDataset(CLIP, 'robot');
    const tr = new Trainer(rt!, model, data.videos, source, {
      steps: 1,
      clipLength: 3,
      freeze: ['image_encoder'],
      promptMode: 'click',
      correctionClicks: 3,
      gtClickProb: 0,
    });
    const r = await tr.clipLoss(data.videos[0], [0, 2, 0], 'click', 1, true);
    expect(r.prompt).toMatch(/^click \d+,\d+ \+ 3 correction clicks$/);
    for (const k of ['total', 'cycle', 'focal', 'dice', 'iou', 'class'])
      expect(Number.isFinite(r.loss[k]), k).toBe(true);
    const mlp0 = tr.params.find(
      (p) => p.key === 'sam_mask_decoder.output_hypernetworks_mlps.0.layers.2.weight',
    )!.tensor;
    // token 0 (single-mask output) is supervised only through the correction calls
    expect((await rt!.read(mlp0.grad!)).some((v) => v !== 0)).toBe(true);
    for (const p of tr.params) {
      p.tensor.grad?.dispose();
      p.tensor.grad = null;
    }
    const noCorr = new Trainer(rt!, model, data.videos, source, {
      steps: 1,
      clipLength: 3,
      freeze: ['image_encoder'],
      promptMode: 'box',
      correctionClicks: 0,
    });
    const b = await noCorr.clipLoss(data.videos[0], [0, 2, 0], 'box', 1, true);
    expect(b.prompt).toMatch(/^box /);
    expect((await rt!.read(mlp0.grad!)).some((v) => v !== 0)).toBe(true); // a box (2 points) is a single-mask call
    for (const p of noCorr.params) {
      p.tensor.grad?.dispose();
      p.tensor.grad = null;
    }
    tr.dispose();
    noCorr.dispose();
  });

  it('no GPU memory is left behind by a step (frozen-feature cache evicting, optimizer steps)', async () => {
    const data = readTrainDataset(CLIP, 'robot');
    const tr = new Trainer(rt!, model, data.videos, source, {
      steps: 10,
      clipLength: 3,
      freeze: ['image_encoder'],
      promptMode: 'box',
      correctionClicks: 1,
      featureCacheFrames: 2,
    });
    const round = async () => {
      for (const clip of [
        [0, 1, 0],
        [0, 2, 0],
        [0, 3, 0],
      ]) {
        await tr.clipLoss(data.videos[0], clip, 'box', 1, true);
        await tr.applyGradients();
      }
      rt!.flush();
      return rt!.pool.liveBytes;
    };
    const first = await round(); // fills the pseudo-label cache (frames 1-3) and the optimizer state
    const second = await round();
    expect(second).toBe(first);
    tr.dispose();
  });
});
