// The training-mode cycle forward (src/train/cycle.ts) against the golden clip [0, 1, 2, 1, 0]
// (../shared/golden/grad case 2): every stored per-step tensor. Training mode differs from the video
// goldens on purpose (σ memory for the prompted frame, float32 memory, clip of 5).
import { describe, expect, it } from 'vitest';
import { compare } from '../helpers/compare.js';
import { runGoldenCycle } from '../helpers/grad.js';
import { gradGoldenFixture } from '../helpers/grad_fixture.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();

// Same tolerances as the video parity tests: activations 1e-4 of the tensor's scale + 1e-3 relative,
// mask logits 1e-3 absolute (float32 against PyTorch CPU float32).
function check(name: string, got: Float32Array, want: Float32Array, atolAbs?: number) {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  const r = compare(got, want, { atol: atolAbs ?? Math.max(1e-4 * scale, 1e-6), rtol: 1e-3 });
  if (!r.ok) expect.fail(`${name}: ${r.msg} (scale ${scale.toExponential(2)})`);
}

describe.skipIf(!rt)('training-mode cycle forward vs golden (grad case 2)', () => {
  const fx = gradGoldenFixture(rt, 'cycle_loss.safetensors', 'video.safetensors');

  it('every step: candidates, IoU, object score, best index, pointer, conditioned features, memory', async () => {
    const { model, golden, input: video } = fx;
    const R = rt!;
    const { sources, steps } = await runGoldenCycle(R, model, golden, video);
    expect(sources).toEqual([0, 1, 2, 1, 0]);
    for (const st of steps) {
      const p = `step${st.step}/`;
      check(`${p}low_res_multimasks`, await R.read(st.lowRes), await golden.readTensor(`${p}low_res_multimasks`), 1e-3);
      check(`${p}iou_pred`, st.iouHost, await golden.readTensor(`${p}iou_pred`));
      check(
        `${p}object_score_logits`,
        Float32Array.from([st.objectScoreHost]),
        await golden.readTensor(`${p}object_score_logits`),
      );
      expect(st.best, `${p}best_iou_index`).toBe((await golden.readTensor(`${p}best_iou_index`))[0]);
      check(`${p}obj_ptr`, await R.read(st.objPtr), await golden.readTensor(`${p}obj_ptr`));
      check(`${p}pix_feat_with_mem`, await R.read(st.pixFeatWithMem), await golden.readTensor(`${p}pix_feat_with_mem`));
      check(`${p}maskmem_features`, await R.read(st.maskmem), await golden.readTensor(`${p}maskmem_features`));
      const toks = await golden.readTensor(`${p}memory_tokens`);
      expect(st.memoryTokens, `${p}memory_tokens (total, of which pointers ${toks[1]})`).toBe(toks[0]);
    }
  });
});
