// numpy-exact statistics: np.sum / np.mean of float64 arrays use pairwise summation (8 partial
// sums, blocks of 128), so a plain left-to-right sum can differ in the last bits. The DAVIS
// toolkit's db_statistics (mean, recall, decay) and Python's round-half-even '%.3f' formatting.

/** numpy's pairwise_sum for contiguous float64 (numpy/_core/src/umath/loops_utils.h.src). */
function pairwise(a: ArrayLike<number>, lo: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[lo + i];
    return res;
  }
  if (n <= 128) {
    const r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[lo + i + j];
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += a[lo + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwise(a, lo, n2) + pairwise(a, lo + n2, n - n2);
}

/** np.sum (the reduction starts from the identity 0.0, then adds the pairwise sum of all items). */
export function npSum(a: ArrayLike<number>): number {
  return 0 + pairwise(a, 0, a.length);
}

/** np.mean: NaN for an empty array (numpy warns and returns nan). */
export function npMean(a: ArrayLike<number>): number {
  return a.length === 0 ? NaN : npSum(a) / a.length;
}

/** np.nanmean: NaNs dropped (numpy replaces them by 0 and divides by the count of the rest). */
export function npNanMean(a: ArrayLike<number>): number {
  const b = Array.from(a, (v) => (Number.isNaN(v) ? 0 : v));
  let count = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i])) count++;
  return count === 0 ? NaN : npSum(b) / count;
}

/**
 * davis2017/utils.py db_statistics: mean, recall (fraction of frames > 0.5) and decay (mean of the
 * first quarter minus mean of the last quarter, bins from round(linspace(1, n, 5) + 1e-10) - 1,
 * cast to uint8 as the toolkit does, so the bins wrap for sequences longer than 256 frames).
 */
export function dbStatistics(values: readonly number[]): { mean: number; recall: number; decay: number } {
  const n = values.length;
  const mean = npNanMean(values);
  const recall = npNanMean(values.map((v) => (Number.isNaN(v) ? NaN : v > 0.5 ? 1 : 0)));
  const ids: number[] = [];
  for (let i = 0; i <= 4; i++) {
    // np.linspace(1, n, 5): start + i * step with step = (n - 1) / 4; quarter steps are exact in binary.
    const y = i === 4 ? n : 1 + i * ((n - 1) / 4);
    ids.push((Math.round(y + 1e-10) - 1) & 0xff);
  }
  const bin = (i: number) => values.slice(ids[i], ids[i + 1] + 1);
  const decay = npNanMean(bin(0)) - npNanMean(bin(3));
  return { mean, recall, decay };
}

/** Python's f'{x:.{d}f}': exact decimal value of the double, ties to even (JS toFixed rounds ties up). */
export function pyFixed(x: number, d: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const long = Math.abs(x).toFixed(Math.min(100, d + 30));
  const cut = long.length - 30;
  const tail = long.slice(cut);
  if (/^50*$/.test(tail)) {
    // exact tie: round half to even on the last kept digit
    const kept = long.slice(0, cut);
    const digits = kept.replace('.', '');
    const last = Number(digits[digits.length - 1]);
    const res = last % 2 === 0 ? trimDot(kept, d) : Math.abs(x).toFixed(d);
    return x < 0 ? `-${res}` : res;
  }
  return x.toFixed(d);
}

function trimDot(s: string, d: number): string {
  return d === 0 ? s.replace(/\.$/, '') : s;
}
