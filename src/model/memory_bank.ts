// One object's memory bank in the video predictor (SAM 2's output_dict_per_obj plus its
// temp_output_dict): conditioning (prompted) frames, non-conditioning (tracked) frames, corrections
// waiting for preflight, and the prompted frames whose memory is not encoded yet. The bank owns its
// StoredFrames: replacing, pruning or clearing a frame disposes the old one's tensors.
import type { MemoryView, StoredFrame } from './tracker.js';

export type FrameState = 'cond' | 'pending-cond' | 'non-cond' | 'pending-non-cond';

export class MemoryBank implements MemoryView {
  /** Conditioning (prompted) frames in insertion order; those in `pending` are SAM 2's temporary outputs. */
  readonly cond = new Map<number, StoredFrame>();
  readonly nonCond = new Map<number, StoredFrame>();
  /**
   * Clicks on an already tracked frame (SAM 2's temp_output_dict non_cond_frame_outputs): kept apart
   * until preflight encodes their memory and moves them into nonCond, so until then the frames that
   * follow still see the tracked output of that frame.
   */
  readonly tempNonCond = new Map<number, StoredFrame>();
  /** Conditioning frames whose memory still has to be encoded from the binarised mask. */
  readonly pending = new Set<number>();

  /**
   * What SAM 2 attends to: conditioning frames whose memory is encoded and the non-conditioning
   * outputs; prompted frames waiting for preflight are not part of it yet.
   */
  view(): MemoryView {
    if (this.pending.size === 0) return this;
    return { cond: new Map([...this.cond].filter(([t]) => !this.pending.has(t))), nonCond: this.nonCond };
  }

  /** How a frame is held (see VideoPredictor.frameState), or null. */
  state(frame: number): FrameState | null {
    if (this.tempNonCond.has(frame)) return 'pending-non-cond';
    if (this.cond.has(frame)) return this.pending.has(frame) ? 'pending-cond' : 'cond';
    return this.nonCond.has(frame) ? 'non-cond' : null;
  }

  /** A prompted frame's output as a conditioning frame (replaces its cond and non-cond outputs); memory pending. */
  putCond(frame: number, s: StoredFrame): void {
    const old = this.cond.get(frame);
    if (old) disposeFrame(old);
    const nc = this.nonCond.get(frame);
    if (nc) disposeFrame(nc);
    this.nonCond.delete(frame);
    this.cond.set(frame, s);
    this.pending.add(frame);
  }

  /** A tracked (or consolidated) output of a frame; replaces the previous one. */
  putNonCond(frame: number, s: StoredFrame): void {
    const old = this.nonCond.get(frame);
    if (old) disposeFrame(old);
    this.nonCond.set(frame, s);
  }

  /** A correction of a tracked frame, kept apart until preflight; replaces the previous correction. */
  putTemp(frame: number, s: StoredFrame): void {
    const old = this.tempNonCond.get(frame);
    if (old) disposeFrame(old);
    this.tempNonCond.set(frame, s);
  }

  /** Remove and return the corrections (preflight consolidates them). */
  takeTemp(): Array<[number, StoredFrame]> {
    const all = [...this.tempNonCond];
    this.tempNonCond.clear();
    return all;
  }

  /**
   * Keep only the non-conditioning frames (and corrections) frame+1 (frame-1 in reverse) can still
   * use: those less than `keep` frames behind, or at most `keep` ahead. Bounded memory.
   */
  prune(frame: number, reverse: boolean, keep: number): void {
    for (const m of [this.nonCond, this.tempNonCond]) {
      for (const [t, s] of m) {
        const dist = reverse ? t - frame : frame - t;
        if (dist >= keep || (dist < 0 && -dist > keep)) {
          disposeFrame(s);
          m.delete(t);
        }
      }
    }
  }

  /** Drop every output of a frame. */
  clearFrame(frame: number): void {
    this.pending.delete(frame);
    for (const m of [this.cond, this.nonCond, this.tempNonCond]) {
      const s = m.get(frame);
      if (s) {
        disposeFrame(s);
        m.delete(frame);
      }
    }
  }

  /**
   * GPU bytes of what the bank holds: every stored frame's memory (f32, or f16 under precision f16),
   * object pointer and low-res mask. A memory that is a view of a batch's output counts its own share.
   */
  bytes(): number {
    let n = 0;
    for (const m of [this.cond, this.nonCond, this.tempNonCond])
      for (const s of m.values()) n += (s.maskmem?.byteLength ?? 0) + s.objPtr.byteLength + s.predMasks.byteLength;
    return n;
  }

  dispose(): void {
    for (const m of [this.cond, this.nonCond, this.tempNonCond]) {
      for (const s of m.values()) disposeFrame(s);
      m.clear();
    }
    this.pending.clear();
  }
}

export function disposeFrame(s: StoredFrame): void {
  s.maskmem?.dispose();
  s.objPtr.dispose();
  s.predMasks.dispose();
}
