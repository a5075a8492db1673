// Parity of the robot prompt generator (GPU) with RobotSeg's own PyTorch module on every RPG call of
// the golden video runs and the stand-alone cases (../shared/golden/robotseg/rpg.safetensors), fed
// with the stored memory and foreground masks; plus the class-token bank and the decoder's token order.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/graph/tensor.js';
import type { WeightsFile } from '../../src/graph/weights_io.js';
import type { RpgFpsVariant } from '../../src/kernels/rpg.js';
import type { RobotSeg } from '../../src/model/robotseg.js';
import { rpgForegroundProb } from '../../src/model/rpg.js';
import { expectClose } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { robotsegFile, robotsegGoldenModel } from '../helpers/robotseg.js';
import { readRpgStages } from '../helpers/rpg_stages.js';

const rt = await testRuntime();
// Prototypes: f32 means of <= 256 bf16-valued features (torch sums in another order): ~1e-6 relative.
const PROTO_TOL = { atol: 1e-5, rtol: 1e-5 };
// Tokens: L2-normalised prototypes (|x| <= 1).
const TOKEN_TOL = { atol: 1e-5, rtol: 1e-5 };

const _ints = async (t: Tensor) => Array.from((await rt!.read(t, 'raw')) as Int32Array);

const g: WeightsFile = await robotsegFile('rpg.safetensors');
const cases = [...g.header.keys()]
  .filter((k) => k.endsWith('/tokens_out'))
  .map((k) => k.slice(0, -'tokens_out'.length));
const read = async (k: string) => {
  if (!g.header.has(k)) throw new Error(`fixture has no ${k}`);
  return g.readTensor(k);
};

describe.skipIf(!rt)('RobotSeg RPG vs the fork (reduced golden, stored memory + masks)', () => {
  let model: RobotSeg;

  it('loads the model (strict) and the placeholder / class rows equal the stored ones', async () => {
    model = await robotsegGoldenModel(rt!);
    expect(Array.from(await rt!.read(model.robot_prompt_generator.no_memory_prompt_embeddings_fg.weight.t))).toEqual(
      Array.from(await read('rpg/no_memory_token')),
    );
    expect(Array.from(await rt!.read(model.sam_mask_decoder.robot_token_embedding.weight.t))).toEqual(
      Array.from(await read('rpg/class_tokens')),
    );
    expect(cases.length).toBe(16);
  });

  for (const variant of ['serial', 'workgroup'] as RpgFpsVariant[]) {
    it(`every case: FPS picks, assignments and supports exact; prototypes and tokens [${variant} FPS]`, async () => {
      const rpg = model.robot_prompt_generator;
      const [gh, gw] = rpg.spec.grid;
      const hw = gh * gw;
      for (const pre of cases) {
        const want = await read(`${pre}tokens_out`);
        if (g.header.has(`${pre}memory_is_none`)) {
          const { tokens } = rpg.forward(rt!, null, null);
          expect(tokens.shape, pre).toEqual([1, 3, 64]);
          expectClose(await rt!.read(tokens), want, TOKEN_TOL, `${pre}tokens_out`);
          continue;
        }
        const F = (await read(`${pre}num_memory_frames`))[0];
        const mem = await read(`${pre}memory_NxBxC`); // [N, 1, 16] = [1, N, 16] for B = 1
        const fgAll = await read(`${pre}mask_fg_NxB`);
        const nPtr = (await read(`${pre}num_obj_ptr_tokens`))[0];
        expect(mem.length / 16, pre).toBe(F * hw + nPtr);
        const memory = rt!.upload(mem, [1, mem.length / 16, 16]);
        const fg = rt!.upload(fgAll.subarray(0, F * hw), [F, hw]);
        const { tokens, stages } = rpg.forward(rt!, memory, fg, { keep: true, fpsVariant: variant });
        const st = stages!;
        const {
          macroCentres: mcent,
          macroCount: mcount,
          macroAssign: massign,
          macroProtos: mprotos,
          regionSupport: sup,
          microCentres: ucent,
          microCount: ucount,
          microAssign: uassign,
          microProtos: uprotos,
        } = await readRpgStages(rt!, st);
        const empty = await read(`${pre}frame_is_empty`);
        for (let f = 0; f < F; f++) {
          expect(mcount[f] === 0 ? 1 : 0, `${pre} frame ${f} empty`).toBe(empty[f]);
          if (empty[f]) continue;
          // level = macro (set f, k 3) or region r (set f*3 + r, k 4)
          const levels: Array<[string, number, number, number[]]> = [
            ['macro', 3, f, Array.from(fgAll.subarray(f * hw, (f + 1) * hw))],
          ];
          for (let r = 0; r < 3; r++)
            levels.push([`region${r}`, 4, f * 3 + r, Array.from(sup.slice((f * 3 + r) * hw, (f * 3 + r + 1) * hw))]);
          for (const [lv, k, s, support] of levels) {
            const key = `${pre}img${f}.${lv}.`;
            const cent = lv === 'macro' ? mcent : ucent;
            const cnt = lv === 'macro' ? mcount : ucount;
            const asg = lv === 'macro' ? massign : uassign;
            const protos = lv === 'macro' ? mprotos : uprotos;
            const init = Array.from(await read(`${key}init_cells`));
            const supMask = Array.from(await read(`${key}support_mask`));
            expect(
              Array.from(support, (v) => (v >= 0.5 ? 1 : 0)),
              `${key}support_mask`,
            ).toEqual(supMask);
            expect(cnt[s], `${key}fps_num_points`).toBe((await read(`${key}fps_num_points`))[0]);
            expect(cent.slice(s * k, s * k + init.length), `${key}init_cells`).toEqual(init);
            expect(cent.slice(s * k + init.length, (s + 1) * k), `${key} padding`).toEqual(
              new Array(k - init.length).fill(init[0]),
            );
            const cells = supMask.flatMap((v, n) => (v ? [n] : []));
            expect(
              init.map((c) => cells.indexOf(c)),
              `${key}fps_local_idx`,
            ).toEqual(Array.from(await read(`${key}fps_local_idx`)));
            expect(asg.slice(s * hw, (s + 1) * hw), `${key}assign`).toEqual(Array.from(await read(`${key}assign`)));
            expectClose(
              protos.slice(s * k * 16, (s + 1) * k * 16),
              await read(`${key}prototypes_raw`),
              PROTO_TOL,
              `${key}prototypes_raw`,
            );
          }
        }
        expect(tokens.shape, pre).toEqual([1, 3 * F, 64]);
        expectClose(await rt!.read(tokens), want, TOKEN_TOL, `${pre}tokens_out`);
      }
    });
  }

  it('foreground of the memory frames from their stored low-res logits (sigmoid, bilinear to the grid, >= 0.5)', async () => {
    const m = await robotsegFile('memattn.safetensors');
    const preds = await Promise.all(
      [0, 1, 2].map(async (f) =>
        rt!.upload(await m.readTensor(`auto_robot/frame${f}/out.pred_masks_lowres_after_fill`), [1, 1, 64, 64]),
      ),
    );
    await m.close();
    const p = await rt!.read(rpgForegroundProb(rt!, preds, [16, 16]));
    const want = (await read('rpg/auto_robot/frame3/mask_fg_NxB')).subarray(0, 3 * 256);
    // logits are ~+-0.04, so a few cells sit within 1e-6 of p = 0.5 (README: down to 1.2e-7 on frame 0);
    // an ulp there may flip the test. Every other cell must agree.
    let near = 0;
    for (let i = 0; i < want.length; i++) {
      if (Math.abs(p[i] - 0.5) < 1e-6) {
        near++;
        continue;
      }
      expect(p[i] >= 0.5 ? 1 : 0, `cell ${i} (p = ${p[i]})`).toBe(want[i]);
    }
    expect(near).toBeLessThan(4);
  });

  it('decoder tokens: [obj_score, iou, 4 mask, class, 3 per memory frame] as the fork orders them (auto_robot, frames 0-3)', async () => {
    const m = await robotsegFile('memattn.safetensors');
    const dec = model.sam_mask_decoder;
    for (let f = 0; f < 4; f++) {
      const p = `auto_robot/frame${f}/`;
      expect((await m.readTensor(`${p}decoder.robot_inputs_class_index`))[0]).toBe(2);
      const obj = await m.readTensor(`${p}rpg.tokens_out`);
      // the RPG tokens the decoder saw are those of the RPG case of the same frame
      expectClose(
        obj,
        await read(`rpg/auto_robot/frame${f}/tokens_out`),
        { atol: 0, rtol: 0 },
        `frame ${f} rpg tokens`,
      );
      const n = obj.length / 64;
      const toks = dec.robotTokens(rt!, 'robot', rt!.upload(obj, [1, n, 64]));
      expect(toks.shape).toEqual([1, 7 + n, 64]);
      const want = (await m.readTensor(`${p}decoder.tokens_in`)).subarray(0, (7 + n) * 64);
      // pure copies of weights and inputs
      expectClose(await rt!.read(toks), want, { atol: 0, rtol: 0 }, `frame ${f} decoder tokens`);
    }
    await m.close();
    expect(() => dec.classToken(rt!, 'hand')).toThrow(
      /unknown robot category 'hand' \(expected one of: arm, gripper, robot\)/,
    );
  });
});
