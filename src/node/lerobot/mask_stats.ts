// Statistics of a mask video feature, as LeRobot computes them for a camera (reference §6): per
// episode from up to ~100 evenly sampled frames (all frames below 100; `sample_indices`), each
// downsampled by int(long_side / 150) when the long side is >= 300 (`auto_downsample_height_width`),
// values / 255 in [0, 1], per channel with shape (3, 1, 1); the mask is R = G = B, so the three
// channels are equal. A 0/1 mask makes every statistic a function of the number of ones, so the
// quantiles are numpy's linear-interpolated quantiles of the sampled values, exactly. Dataset-level:
// LeRobot's aggregation (count-weighted mean, pooled variance, min of mins, max of maxes, and the
// conservative envelope for quantiles: min of q01/q10/q50, max of q90/q99).

export const STAT_NAMES = ['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99'] as const;
export type StatName = (typeof STAT_NAMES)[number];
/** Per-feature stats: count is [n]; everything else [[[c0]], [[c1]], [[c2]]]. */
export type FeatureStats = Record<StatName, number[] | number[][][]>;

const QUANTILES: Array<[StatName, number]> = [
  ['q01', 0.01],
  ['q10', 0.1],
  ['q50', 0.5],
  ['q90', 0.9],
  ['q99', 0.99],
];

/** LeRobot's `estimate_num_samples` + `sample_indices`: which frames of an episode feed its stats. */
export function sampleIndices(len: number): number[] {
  const minSamples = Math.min(100, len);
  const n = Math.max(minSamples, Math.min(Math.floor(len ** 0.75), 10_000));
  if (n === 1) return [0];
  // np.round(np.linspace(0, len - 1, n)): numpy rounds half to even
  return Array.from({ length: n }, (_, k) => roundHalfEven((k * (len - 1)) / (n - 1)));
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Accumulates one episode's mask statistics from its sampled frames. */
export class MaskStats {
  private readonly sampled: Set<number>;
  private ones = 0;
  private total = 0;
  private frames = 0;
  private readonly step: number;

  constructor(
    length: number,
    readonly width: number,
    readonly height: number,
  ) {
    this.sampled = new Set(sampleIndices(length));
    const long = Math.max(width, height);
    this.step = long >= 300 ? Math.floor(long / 150) : 1;
  }

  /** Frame j (0-based in the episode) of the mask (nonzero = object). */
  add(j: number, mask: Uint8Array): void {
    if (!this.sampled.has(j)) return;
    const { width: W, height: H, step } = this;
    for (let y = 0; y < H; y += step)
      for (let x = 0; x < W; x += step) {
        if (mask[y * W + x]) this.ones++;
        this.total++;
      }
    this.frames++;
  }

  result(): FeatureStats {
    const n = this.total;
    const p = n > 0 ? this.ones / n : 0;
    const zeros = n - this.ones;
    // numpy quantile (linear): sorted values are `zeros` zeros then ones
    const q = (a: number) => {
      const pos = a * (n - 1);
      const lo = Math.floor(pos);
      const hi = Math.ceil(pos);
      const v = (i: number) => (i < zeros ? 0 : 1);
      return v(lo) + (v(hi) - v(lo)) * (pos - lo);
    };
    const out = {
      min: ch(this.ones < n ? 0 : 1),
      max: ch(this.ones > 0 ? 1 : 0),
      mean: ch(p),
      std: ch(Math.sqrt(p * (1 - p))),
      count: [this.frames],
    } as FeatureStats;
    for (const [name, a] of QUANTILES) out[name] = ch(q(a));
    return out;
  }
}

/** A (3, 1, 1) value. */
const ch = (v: number): number[][][] => [[[v]], [[v]], [[v]]];

const flat = (s: number[] | number[][][]): number[] => (s as unknown[]).flat(2) as number[];

/** LeRobot's `aggregate_feature_stats` over episodes (see the header for the quantile rule). */
export function aggregateStats(eps: FeatureStats[]): FeatureStats {
  const counts = eps.map((s) => (s.count as number[])[0]);
  const total = counts.reduce((a, b) => a + b, 0);
  const C = flat(eps[0].mean).length;
  const per = (name: StatName) => eps.map((s) => flat(s[name]));
  const reshape = (v: number[]) => v.map((x) => [[x]]);
  const means = per('mean');
  const stds = per('std');
  const mean = Array.from({ length: C }, (_, c) => means.reduce((a, m, i) => a + m[c] * counts[i], 0) / total);
  const variance = Array.from(
    { length: C },
    (_, c) => stds.reduce((a, s, i) => a + counts[i] * (s[c] ** 2 + (means[i][c] - mean[c]) ** 2), 0) / total,
  );
  const fold = (name: StatName, f: (a: number, b: number) => number) =>
    reshape(Array.from({ length: C }, (_, c) => per(name).reduce((a, v) => f(a, v[c]), per(name)[0][c])));
  return {
    min: fold('min', Math.min),
    max: fold('max', Math.max),
    mean: reshape(mean),
    std: reshape(variance.map(Math.sqrt)),
    count: [total],
    q01: fold('q01', Math.min),
    q10: fold('q10', Math.min),
    q50: fold('q50', Math.min),
    q90: fold('q90', Math.max),
    q99: fold('q99', Math.max),
  };
}
