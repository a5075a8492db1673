// Seeded uniform generator shared by training (clip sampling, prompt simulation), RobotSeg
// initialisation and the tests: mulberry32, uniform in [0, 1). Not PyTorch's generator.
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer uniform in [lo, hi] (inclusive) from a [0, 1) generator. */
export function randInt(next: () => number, lo: number, hi: number): number {
  return lo + Math.min(hi - lo, Math.floor(next() * (hi - lo + 1)));
}
