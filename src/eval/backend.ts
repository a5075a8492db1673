// Where the integer J&F counts are computed: CPU (src/eval/jf.ts) or GPU (src/eval/gpu_backend.ts).
// Both return the same integers; J and F are then computed on the host in float64.
import { type JfCounts, countsForIds } from './jf.js';
import type { LabelMap } from './labels.js';

/** One frame to score: the objects `ids` (pixels equal to the id) of pred vs gt at disk radius. */
export interface FrameJob {
  pred: LabelMap;
  gt: LabelMap;
  ids: number[];
  radius: number;
}

export interface CountBackend {
  /** 'cpu' or 'gpu (<adapter>)', printed in the report. */
  readonly name: string;
  /** Counts per job, per id (same order as job.ids). */
  count(jobs: FrameJob[]): Promise<JfCounts[][]>;
}

export const cpuBackend: CountBackend = {
  name: 'cpu',
  async count(jobs) {
    return jobs.map((j) => countsForIds(j.pred, j.gt, j.ids, j.radius));
  },
};
