// Buffer pool: free lists keyed by size class. A released buffer is parked until the batch that
// may still read it has been submitted (Runtime.flush calls `recycle`), so a later upload through
// queue.writeBuffer can never overtake GPU work that still reads the old contents.
// `liveBytes` counts bytes held by live tensors; `peakBytes` is its high-water mark (training
// reports it; the video tests prove it stays flat once the memory bank is full).

export const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */

/** Round a request up to its size class: 256 B granularity below 64 KiB, then 1/8 of the next power of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 65536) return Math.ceil(b / 256) * 256;
  const step = 2 ** (Math.ceil(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private parked: GPUBuffer[] = [];
  private sizes = new WeakMap<GPUBuffer, number>();
  /** Bytes held by buffers handed out and not yet released. */
  liveBytes = 0;
  /** High-water mark of liveBytes since the last `resetPeak`. */
  peakBytes = 0;
  /** Bytes held in free lists (allocated on the device but not in use). */
  cachedBytes = 0;
  allocations = 0;

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
  ) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.maxBufferSize) {
      throw new Error(`${label}: buffer of ${bytes} bytes exceeds the adapter's maxBufferSize ${this.maxBufferSize}`);
    }
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.cachedBytes -= size;
    } else {
      buf = this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
      this.sizes.set(buf, size);
      this.allocations++;
    }
    this.liveBytes += size;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return buf;
  }

  /** Return a buffer; it becomes reusable at the next `recycle` (after submit). */
  release(buf: GPUBuffer): void {
    const size = this.sizes.get(buf);
    if (size === undefined) throw new Error(`BufferPool.release: buffer '${buf.label}' is not from this pool`);
    this.liveBytes -= size;
    this.parked.push(buf);
  }

  /** Called after each submit: parked buffers join the free lists. */
  recycle(): void {
    for (const buf of this.parked) {
      const size = this.sizes.get(buf)!;
      let list = this.free.get(size);
      if (!list) this.free.set(size, (list = []));
      list.push(buf);
      this.cachedBytes += size;
    }
    this.parked.length = 0;
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  /** Destroy cached (free) buffers, e.g. after a large one-off stage. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.cachedBytes = 0;
  }
}
