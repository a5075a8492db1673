// MemoryBank (src/model/memory_bank.ts): which outputs of an object the video predictor keeps, what
// SAM 2 attends to (view), frame states, pruning and that every replaced or dropped frame is disposed.
// GPU-free: stored frames are stand-ins that count their disposals.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/graph/tensor.js';
import { MemoryBank } from '../../src/model/memory_bank.js';
import type { StoredFrame } from '../../src/model/tracker.js';

let disposed: string[] = [];
function frame(name: string): StoredFrame {
  const t = (part: string) => ({ dispose: () => disposed.push(`${name}.${part}`) }) as unknown as Tensor;
  return { maskmem: t('maskmem'), objPtr: t('ptr'), objectScore: 1, predMasks: t('pred') };
}
const gone = (name: string) => [`${name}.maskmem`, `${name}.ptr`, `${name}.pred`];

describe('MemoryBank', () => {
  it('conditioning frames are pending until their memory is encoded, and only then in the view', () => {
    disposed = [];
    const b = new MemoryBank();
    b.putNonCond(3, frame('n3'));
    b.putCond(3, frame('c3')); // a prompt on a tracked frame replaces its tracked output
    expect(disposed).toEqual(gone('n3'));
    expect(b.state(3)).toBe('pending-cond');
    expect([...b.view().cond.keys()]).toEqual([]);
    b.pending.delete(3);
    expect(b.state(3)).toBe('cond');
    expect(b.view()).toBe(b);
    expect([...b.view().cond.keys()]).toEqual([3]);
    expect(b.state(4)).toBeNull();
  });

  it('a correction is pending-non-cond and replaces an earlier correction; replacing disposes', () => {
    disposed = [];
    const b = new MemoryBank();
    b.putNonCond(5, frame('n5'));
    b.putTemp(5, frame('t5'));
    expect(b.state(5)).toBe('pending-non-cond');
    b.putTemp(5, frame('t5b'));
    expect(disposed).toEqual(gone('t5'));
    b.putNonCond(5, frame('n5b'));
    expect(disposed).toEqual([...gone('t5'), ...gone('n5')]);
  });

  it('prune keeps the last keep-1 frames behind (forward) or ahead (reverse); conditioning frames stay', () => {
    disposed = [];
    const b = new MemoryBank();
    b.putCond(0, frame('c0'));
    for (let t = 1; t <= 10; t++) b.putNonCond(t, frame(`n${t}`));
    b.putTemp(2, frame('t2'));
    b.prune(10, false, 6); // frames 5..10 stay (distance < 6)
    expect([...b.nonCond.keys()]).toEqual([5, 6, 7, 8, 9, 10]);
    expect([...b.tempNonCond.keys()]).toEqual([]);
    expect([...b.cond.keys()]).toEqual([0]);
    expect(disposed.length).toBe(3 * 5); // n1..n4 and t2
    const r = new MemoryBank();
    for (let t = 0; t <= 10; t++) r.putNonCond(t, frame(`r${t}`));
    r.prune(2, true, 6); // reverse from frame 2: frames 2..7 stay
    expect([...r.nonCond.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('clearFrame and dispose drop (and dispose) everything they hold', () => {
    disposed = [];
    const b = new MemoryBank();
    b.putCond(1, frame('c1'));
    b.putNonCond(2, frame('n2'));
    b.putTemp(2, frame('t2'));
    b.clearFrame(1);
    expect(b.state(1)).toBeNull();
    expect(b.pending.size).toBe(0);
    expect(disposed).toEqual(gone('c1'));
    b.dispose();
    expect(disposed.sort()).toEqual([...gone('c1'), ...gone('n2'), ...gone('t2')].sort());
    expect(b.nonCond.size + b.tempNonCond.size + b.cond.size).toBe(0);
  });
});
