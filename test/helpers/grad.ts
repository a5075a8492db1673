// Gradient goldens (../shared/golden/grad, copied to test/fixtures/grad): PyTorch autograd of the
// reduced SAM 2.1 model. `checkGrads` compares every parameter gradient per tensor with
// max|g - g_ref| <= tol * max|g_ref| + 1e-8 (the README's suggested form), checks that the exactly-zero
// and unused parameters get zero (or no) gradient here too, and that nothing else got one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../../src/graph/runtime.js';
import type { Tensor } from '../../src/graph/tensor.js';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import type { Module } from '../../src/model/module.js';
import { openWeights } from '../../src/node/weights_file.js';
import type { ImageFeatures, SAM2 } from '../../src/model/sam2.js';
import { type CycleStep, runCycle } from '../../src/train/cycle.js';
import { BUFFER_KEYS } from '../../src/train/params.js';

export const GRAD_FIXTURES = join(fileURLToPath(import.meta.url), '..', '..', 'fixtures', 'grad');

export function openGradGolden(name: string): Promise<WeightsFile> {
  return openWeights(join(GRAD_FIXTURES, name));
}

interface TensorsJson {
  zero_grad_params: Record<string, string[]>;
  no_grad_params: Record<string, string[]>;
}
export function gradLists(which: 'image' | 'cycle'): { zero: Set<string>; none: Set<string> } {
  const j = JSON.parse(readFileSync(join(GRAD_FIXTURES, 'tensors.json'), 'utf8')) as TensorsJson;
  return { zero: new Set(j.zero_grad_params[which]), none: new Set(j.no_grad_params[which]) };
}

/** Every learnable parameter of a module (registered buffers excluded) with its key. */
export function trainableParams(m: Module): Array<[string, Tensor]> {
  return m
    .namedParams()
    .filter(([k]) => !BUFFER_KEYS.has(k))
    .map(([k, p]) => [k, p.t]);
}

export interface GradReport {
  compared: number;
  failures: string[];
  worst: Array<[string, number]>;
}

/**
 * Tolerance per tensor: `headTol` for the SAM heads, pointers and memory modules (short chains),
 * `encoderTol` for image_encoder.* (long float32 reduction chains). `exactZeroAbs`: keys whose
 * gradient is zero in exact arithmetic but float32 roundoff in the dump (the two-way transformer's
 * k_proj biases: softmax ignores a per-query constant) are compared with this absolute tolerance.
 */
export async function checkGrads(
  rt: Runtime,
  params: Array<[string, Tensor]>,
  golden: WeightsFile,
  which: 'image' | 'cycle',
  tol: { encoderTol: number; headTol: number; exactZeroAbs?: number },
): Promise<GradReport> {
  const { zero, none } = gradLists(which);
  const failures: string[] = [];
  const worst: Array<[string, number]> = [];
  let compared = 0;
  for (const [key, t] of params) {
    const gkey = `grad/${key}`;
    const mine = t.grad ? await rt.read(t.grad) : null;
    if (golden.header.has(gkey)) {
      if (!mine) {
        failures.push(`${key}: no gradient here, golden has one`);
        continue;
      }
      const want = await golden.readTensor(gkey);
      let scale = 0;
      let err = 0;
      for (let i = 0; i < want.length; i++) {
        scale = Math.max(scale, Math.abs(want[i]));
        err = Math.max(err, Math.abs(mine[i] - want[i]));
      }
      const exactZero = /sam_mask_decoder\.transformer\..*k_proj\.bias$/.test(key);
      const allowed = exactZero
        ? (tol.exactZeroAbs ?? 1e-7)
        : (key.startsWith('image_encoder.') ? tol.encoderTol : tol.headTol) * scale + 1e-8;
      if (!exactZero) worst.push([key, err / Math.max(scale, 1e-30)]); // (exact zeros: absolute check only)
      if (!(err <= allowed))
        failures.push(
          `${key}: max|g - ref| ${err.toExponential(3)} > ${allowed.toExponential(3)} (max|ref| ${scale.toExponential(3)})`,
        );
      compared++;
    } else if (zero.has(key) || none.has(key)) {
      if (mine?.some((v) => v !== 0)) {
        const m = mine.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        failures.push(`${key}: golden gradient is exactly zero / absent, here max |g| = ${m.toExponential(3)}`);
      }
    } else failures.push(`${key}: not in the golden lists (a parameter the golden model does not have?)`);
  }
  worst.sort((a, b) => b[1] - a[1]);
  return { compared, failures, worst: worst.slice(0, 8) };
}

/** The golden cycle clip (grad case 2) tracked in training mode: its frames' features and steps. */
export interface GoldenCycle {
  sources: number[];
  /** Features per source frame (repeated frames share one object, as in the golden). */
  feats: Map<number, ImageFeatures>;
  /** Features per clip step. */
  frames: ImageFeatures[];
  steps: CycleStep[];
}

/**
 * Encode the golden clip's source frames (video.safetensors inputs) and run the training-mode cycle
 * with the golden click, under whatever tape `rt` has (shared by the cycle tests and bench/train.ts).
 */
export async function runGoldenCycle(
  rt: Runtime,
  model: SAM2,
  golden: WeightsFile,
  video: WeightsFile,
): Promise<GoldenCycle> {
  const sources = Array.from(await golden.readTensor('input.clip_source_frames'));
  const S = model.cfg.image_size;
  const feats = new Map<number, ImageFeatures>();
  for (const s of new Set(sources)) {
    const img = rt.upload(await video.readTensor(`video/frame${s}/input_image`), [1, 3, S, S], 'f32', `frame${s}`);
    feats.set(s, model.encodeImage(rt, img));
  }
  const frames = sources.map((s) => feats.get(s)!);
  const coords = Float32Array.from(await golden.readTensor('input.point_coords'));
  const steps = await runCycle(rt, model, frames, sources, {
    kind: 'points',
    points: { coords, labels: Int32Array.from([1]) },
  });
  return { sources, feats, frames, steps };
}
