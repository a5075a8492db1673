// GPU count backend: one jfCounts call per frame (ids split when the scratch plane would exceed the
// binding limit), all writing into one u32 buffer that is read back once per batch of frames. Frames
// whose single label map exceeds the binding limit (4 bytes a pixel: 33 MP at 128 MiB) are counted by
// the CPU code instead, which gives the same integers.
import type { Runtime } from '../graph/runtime.js';
import { jfCounts, jfMaxObjects } from '../kernels/jf.js';
import type { CountBackend, FrameJob } from './backend.js';
import { COUNT_STRIDE, type JfCounts, checkSameSize, countsForIds, countsFromFlat } from './jf.js';

export class GpuCountBackend implements CountBackend {
  readonly name: string;
  constructor(private rt: Runtime) {
    const a = rt.adapter;
    this.name = `gpu (${a.description || a.device || a.vendor}${a.software ? ', software' : ''})`;
  }

  async count(jobs: FrameJob[]): Promise<JfCounts[][]> {
    const rt = this.rt;
    const fits = (j: FrameJob) => 4 * j.gt.width * j.gt.height <= rt.maxBinding;
    if (!jobs.every(fits)) {
      const small = jobs.filter(fits);
      const onGpu = await this.count(small);
      let k = 0;
      return jobs.map((j) => (fits(j) ? onGpu[k++] : countsForIds(j.pred, j.gt, j.ids, j.radius)));
    }
    const total = jobs.reduce((s, j) => s + j.ids.length, 0);
    if (total === 0) return jobs.map(() => []);
    const out = rt.empty([total * COUNT_STRIDE], 'u32', 'jf.batch_counts');
    try {
      let base = 0;
      for (const job of jobs) {
        checkSameSize(job.pred, job.gt);
        if (job.ids.length === 0) continue;
        const { width: w, height: h } = job.gt;
        const pred = rt.upload(Uint32Array.from(job.pred.data), [h, w], 'u32', 'jf.pred');
        const gt = rt.upload(Uint32Array.from(job.gt.data), [h, w], 'u32', 'jf.gt');
        const chunk = jfMaxObjects(rt, h, w);
        for (let s = 0; s < job.ids.length; s += chunk) {
          const part = job.ids.slice(s, s + chunk);
          const ids = rt.upload(Uint32Array.from(part), [part.length], 'u32', 'jf.ids');
          jfCounts(rt, pred, gt, ids, job.radius, { out, outBase: base });
          ids.dispose();
          base += part.length * COUNT_STRIDE;
        }
        pred.dispose();
        gt.dispose();
      }
      const flat = (await rt.read(out, 'raw')) as Uint32Array;
      let k = 0;
      return jobs.map((j) => j.ids.map(() => countsFromFlat(flat, k++)));
    } finally {
      out.dispose();
    }
  }
}
