// The five settings' prompt logic (src/eval/settings.ts) against a scripted fake predictor: which
// calls are made in which order with which clicks, best-prefix choice, the OI budget and acceptance
// rule, preflight after accepted corrections only. No GPU.
import { describe, expect, it } from 'vitest';
import { type BinMask, type Click, boxPrompt, centroidClick, ritmClick } from '../../src/eval/clicks.js';
import {
  type PromptablePredictor,
  type SettingOptions,
  frameOrder,
  runSetting,
  startFrame,
} from '../../src/eval/settings.js';

const W = 10,
  H = 10;
/** GT: the first 50 pixels (rows 0-4). */
const GT = Uint8Array.from({ length: W * H }, (_, i) => (i < 50 ? 1 : 0));
/** A prediction with IoU = n / 50 against GT (its first n GT pixels; never extra pixels). */
const withIoU = (n: number) => Uint8Array.from({ length: W * H }, (_, i) => (i < n ? 1 : 0));
const bin = (data: Uint8Array): BinMask => ({ width: W, height: H, data });

type Call =
  | { op: 'points'; frame: number; points?: Click[]; box?: number[]; clearOld?: boolean; category?: string | null }
  | { op: 'target'; frame: number; category: string }
  | { op: 'preflight' }
  | { op: 'track'; frame: number };

/** Answers addPoints with the next scripted mask of that frame; propagation yields scripted tracked masks. */
class Fake implements PromptablePredictor {
  calls: Call[] = [];
  constructor(
    private n: number,
    private start: number,
    private tracked: (t: number) => Uint8Array,
    private answers: Map<number, Uint8Array[]>,
  ) {}
  async addPoints(
    frame: number,
    _obj: number,
    p: { points?: Click[]; box?: [number, number, number, number]; clearOld?: boolean; category?: string | null },
  ) {
    this.calls.push({
      op: 'points',
      frame,
      points: p.points?.map((c) => ({ ...c })),
      box: p.box,
      clearOld: p.clearOld,
      category: p.category,
    });
    const q = this.answers.get(frame);
    const m = q?.shift();
    if (!m) throw new Error(`no scripted answer left for frame ${frame}`);
    return { mask: m };
  }
  async addTarget(frame: number, _obj: number, category: string) {
    this.calls.push({ op: 'target', frame, category });
    return { mask: withIoU(40) };
  }
  async *propagate() {
    for (let t = this.start; t < this.n; t++) {
      this.calls.push({ op: 'track', frame: t });
      yield { frame: t, results: [{ objId: 0, mask: this.tracked(t) }] };
    }
  }
  async preflight() {
    this.calls.push({ op: 'preflight' });
  }
}

const opts = (
  setting: SettingOptions['setting'],
  n: number,
  gt: (t: number) => Uint8Array | null,
  category: string | null = null,
): SettingOptions => ({ setting, numFrames: n, width: W, height: H, gt, category });

describe('start frame and frame order', () => {
  it('the first frame with a non-empty GT; frames without GT count as empty', () => {
    expect(startFrame(4, (t) => (t < 2 ? null : t === 2 ? new Uint8Array(4) : Uint8Array.of(0, 1, 0, 0)))).toBe(3);
    expect(startFrame(2, () => new Uint8Array(4))).toBe(-1);
  });
  it('integer stems sort by value (SAM 2 loader), others keep their order', () => {
    expect(frameOrder([{ name: '10' }, { name: '9' }, { name: '010' }]).map((f) => f.name)).toEqual(['9', '010', '10']); // equal values: by code points
    expect(frameOrder([{ name: 'b' }, { name: 'a1' }]).map((f) => f.name)).toEqual(['b', 'a1']);
  });
});

describe('settings with a scripted predictor', () => {
  it('1C: one centroid click (with the category for RobotSeg), then propagation from the start frame', async () => {
    const f = new Fake(4, 1, () => withIoU(45), new Map([[1, [withIoU(30)]]]));
    const gt = (t: number) => (t === 0 ? new Uint8Array(W * H) : GT);
    const r = await runSetting(f, opts('1C', 4, gt, 'robot'));
    expect(r.start).toBe(1);
    expect(f.calls[0]).toEqual({
      op: 'points',
      frame: 1,
      points: [centroidClick(bin(GT))],
      box: undefined,
      clearOld: true,
      category: 'robot',
    });
    expect(f.calls.slice(1).map((c) => c.op)).toEqual(['track', 'track', 'track']);
    expect(r.frames.map((x) => x.frame)).toEqual([1, 2, 3]);
  });

  it('BB: the GT box; AU: addTarget with the category; AU without a category is an error', async () => {
    const f = new Fake(2, 0, () => GT, new Map([[0, [GT]]]));
    await runSetting(
      f,
      opts('BB', 2, () => GT),
    );
    expect(f.calls[0]).toMatchObject({ op: 'points', frame: 0, box: boxPrompt(bin(GT)) });
    expect(boxPrompt(bin(GT))).toEqual([0, 0, 10, 5]);
    const a = new Fake(2, 0, () => GT, new Map());
    await runSetting(
      a,
      opts('AU', 2, () => GT, 'gripper'),
    );
    expect(a.calls[0]).toEqual({ op: 'target', frame: 0, category: 'gripper' });
    await expect(
      runSetting(
        new Fake(2, 0, () => GT, new Map()),
        opts('AU', 2, () => GT),
      ),
    ).rejects.toThrow(/AU.*RobotSeg/);
  });

  it('3C: centroid click, two RITM clicks from the latest prediction, every round re-submits all; the best prefix is re-submitted', async () => {
    const rounds = [withIoU(20), withIoU(35), withIoU(30), withIoU(35)]; // IoU 0.4, 0.7, 0.6 -> prefix of 2 clicks
    const f = new Fake(2, 0, () => GT, new Map([[0, rounds.slice()]]));
    const r = await runSetting(
      f,
      opts('3C', 2, () => GT),
    );
    const c1 = centroidClick(bin(GT));
    const c2 = ritmClick(bin(GT), bin(rounds[0]));
    const c3 = ritmClick(bin(GT), bin(rounds[1]));
    const pts = f.calls.filter((c) => c.op === 'points').map((c) => (c as { points: Click[] }).points);
    expect(pts).toEqual([[c1], [c1, c2], [c1, c2, c3], [c1, c2]]);
    expect(f.calls.every((c) => c.op !== 'points' || c.clearOld === true)).toBe(true);
    expect(r.prompts[0].kept).toBe(2);
    expect(r.prompts[0].ious).toEqual([20 / (50 + 1e-6), 35 / (50 + 1e-6), 30 / (50 + 1e-6)]);
    // ties go to the shortest prefix (np.argmax)
    const g = new Fake(2, 0, () => GT, new Map([[0, [withIoU(35), withIoU(35), withIoU(35), withIoU(35)]]]));
    expect(
      (
        await runSetting(
          g,
          opts('3C', 2, () => GT),
        )
      ).prompts[0].kept,
    ).toBe(1);
  });

  it('OI: corrections on frames with non-empty GT and IoU < 0.9, at most 3 accepted, rejected ones keep the tracked mask and do not count', async () => {
    const n = 10;
    // tracked IoU per frame (frame 0 = start): 0 high, 1 low, 2 empty GT and low, 3 low (rejected), 4 low, 5 high, 6 low, 7 low (budget spent), ...
    const trackedN = [48, 20, 10, 25, 30, 46, 20, 10, 10, 10];
    const gt = (t: number) => (t === 2 ? new Uint8Array(W * H) : GT);
    const answers = new Map<number, Uint8Array[]>([
      [0, [withIoU(40), withIoU(44), withIoU(42), withIoU(44)]], // 3C on the start frame
      [1, [withIoU(30), withIoU(40), withIoU(35), withIoU(40)]], // best = 2 clicks, 0.8 >= 0.4: accepted
      [3, [withIoU(10), withIoU(20), withIoU(15), withIoU(20)]], // best prefix 0.4 < 0.5: rejected
      [4, [withIoU(30), withIoU(30), withIoU(30), withIoU(30)]], // 0.6 >= 0.6 (equal): accepted
      [6, [withIoU(20), withIoU(20), withIoU(49), withIoU(49)]], // best = 3 clicks: accepted (3rd)
    ]);
    const f = new Fake(n, 0, (t) => withIoU(trackedN[t]), answers);
    const seen: number[] = [];
    const r = await runSetting(f, { ...opts('OI', n, gt), onFrame: (t) => seen.push(t) });
    expect(seen).toEqual([...Array(n).keys()]);
    expect(r.corrections.map((c) => [c.frame, c.accepted, c.kept])).toEqual([
      [1, true, 2],
      [3, false, 2],
      [4, true, 1],
      [6, true, 3],
    ]);
    // preflight right after each accepted correction, before the next frame is tracked
    const ops = f.calls.map((c) => (c.op === 'points' ? `p${c.frame}` : c.op === 'track' ? `t${c.frame}` : c.op));
    expect(ops.join(' ')).toBe(
      'p0 p0 p0 p0 t0 t1 p1 p1 p1 p1 preflight t2 t3 p3 p3 p3 p3 t4 p4 p4 p4 p4 preflight t5 t6 p6 p6 p6 p6 preflight t7 t8 t9',
    );
    // correction clicks: the first from the tracked mask, then from each round's prediction
    const on1 = f.calls.filter((c) => c.op === 'points' && c.frame === 1).map((c) => (c as { points: Click[] }).points);
    const k1 = ritmClick(bin(GT), bin(withIoU(20)));
    const k2 = ritmClick(bin(GT), bin(withIoU(30)));
    const k3 = ritmClick(bin(GT), bin(withIoU(40)));
    expect(on1).toEqual([[k1], [k1, k2], [k1, k2, k3], [k1, k2]]);
    // scored masks: accepted corrections replace the tracked mask, the rejected one keeps it
    const count = (t: number) => r.frames.find((x) => x.frame === t)!.mask.reduce((a, b) => a + b, 0);
    expect([count(1), count(3), count(4), count(6), count(7)]).toEqual([40, 25, 30, 49, 10]);
  });
});
