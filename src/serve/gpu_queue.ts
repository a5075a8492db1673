// One device, many sessions: GPU work runs one job at a time, in arrival order (FIFO). A job is a whole
// unit that leaves the runtime consistent (a streamed frame with its prompts, an HTTP segment request,
// freeing a session's tensors), so jobs of different sessions never interleave their dispatches.

export class GpuQueue {
  private tail: Promise<unknown> = Promise.resolve();
  /** Jobs queued or running. */
  depth = 0;

  /** Run `job` after every job queued before it; its result (or error) is returned to the caller only. */
  run<T>(job: () => Promise<T> | T): Promise<T> {
    this.depth++;
    const p = this.tail.then(job).finally(() => {
      this.depth--;
    });
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Resolves once every job queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
