// CPU reference for shaders/rpg.wgsl (float64, written for clarity): RobotSeg's robot prompt
// generator as the fork computes it, with the deterministic first FPS point of the goldens.
// feats: [rows, C] row-major (frame f's cell n at row f*hw + n); fg: [F*hw] (>= thresh = foreground).

export interface KmeansLevel {
  /** FPS picks as cell indices (k' = min(k, |support|) entries, no padding). */
  centres: number[];
  /** Per cell: cluster index, -1 outside the support. */
  assign: Int32Array;
  /** k prototypes (raw means; empty cluster: its padded centre's feature). */
  protos: Float64Array[];
  /** Cells per cluster. */
  counts: number[];
}

export interface RpgFrameRef {
  empty: boolean;
  macro: KmeansLevel | null;
  /** Region supports (cells), R of them. */
  supports: number[][];
  regions: KmeansLevel[];
}

/** Farthest-point sampling of k cells (indices into `cells`, raster order), first = nearest the centroid. */
export function fpsRef(cells: number[], gw: number, k: number): number[] {
  const M = cells.length;
  if (M === 0) return [];
  const rc = cells.map((c) => [Math.floor(c / gw), c % gw]);
  const sr = rc.reduce((a, p) => a + p[0], 0);
  const sc = rc.reduce((a, p) => a + p[1], 0);
  // argmin (M r - Sr)^2 + (M c - Sc)^2 (exact: |values| < 2^53), first on ties
  let first = 0;
  let best = Infinity;
  rc.forEach(([r, c], i) => {
    const cost = (M * r - sr) ** 2 + (M * c - sc) ** 2;
    if (cost < best) {
      best = cost;
      first = i;
    }
  });
  const picks = [first];
  const dist = rc.map(() => Infinity);
  while (picks.length < Math.min(k, M)) {
    const [pr, pc] = rc[picks[picks.length - 1]];
    let far = 0;
    let farD = -1;
    rc.forEach(([r, c], i) => {
      dist[i] = Math.min(dist[i], (r - pr) ** 2 + (c - pc) ** 2);
      if (dist[i] > farD) {
        farD = dist[i];
        far = i;
      }
    });
    picks.push(far);
  }
  return picks;
}

const normalized = (v: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.max(Math.sqrt(s), 1e-12);
  return Float64Array.from(v, (x) => x / n);
};

/** One FPS + cosine k-means step over the support cells of one frame. */
export function kmeansLevelRef(
  feat: (cell: number) => Float64Array,
  support: number[],
  gw: number,
  hw: number,
  k: number,
): KmeansLevel {
  const picks = fpsRef(support, gw, k);
  const centres = picks.map((i) => support[i]);
  const padded = Array.from({ length: k }, (_, j) => centres[j < centres.length ? j : 0]);
  const cn = centres.map((c) => normalized(feat(c)));
  const assign = new Int32Array(hw).fill(-1);
  const sums = Array.from({ length: k }, () => new Float64Array(feat(support[0] ?? 0).length));
  const counts = new Array(k).fill(0);
  for (const cell of support) {
    const x = normalized(feat(cell));
    let bj = 0;
    let bd = Infinity;
    cn.forEach((c, j) => {
      let dot = 0;
      for (let i = 0; i < c.length; i++) dot += x[i] * c[i];
      if (1 - dot < bd) {
        bd = 1 - dot;
        bj = j;
      }
    });
    assign[cell] = bj;
    counts[bj]++;
    feat(cell).forEach((v, i) => (sums[bj][i] += v));
  }
  const protos = sums.map((s, j) => (counts[j] > 0 ? s.map((v) => v / counts[j]) : Float64Array.from(feat(padded[j]))));
  return { centres, assign, protos, counts };
}

/** The RPG of one memory frame (R regions x S micro clusters). */
export function rpgFrameRef(
  feats: ArrayLike<number>,
  c: number,
  fg: ArrayLike<number>,
  f: number,
  grid: readonly [number, number],
  R = 3,
  S = 4,
  thresh = 0.5,
): RpgFrameRef {
  const hw = grid[0] * grid[1];
  const gw = grid[1];
  const feat = (cell: number) => Float64Array.from({ length: c }, (_, i) => feats[(f * hw + cell) * c + i]);
  const cells: number[] = [];
  for (let n = 0; n < hw; n++) if (fg[f * hw + n] >= thresh) cells.push(n);
  if (cells.length === 0) return { empty: true, macro: null, supports: [], regions: [] };
  const macro = kmeansLevelRef(feat, cells, gw, hw, R);
  const supports: number[][] = [];
  const regions: KmeansLevel[] = [];
  for (let r = 0; r < R; r++) {
    let sup = cells.filter((n) => macro.assign[n] === r);
    if (sup.length === 0) sup = cells;
    supports.push(sup);
    regions.push(kmeansLevelRef(feat, sup, gw, hw, S));
  }
  return { empty: false, macro, supports, regions };
}

/** Tokens [F*R, S*C] (float64) of F memory frames; placeholder [S*C] for empty frames. */
export function rpgTokensRef(
  feats: ArrayLike<number>,
  c: number,
  fg: ArrayLike<number>,
  frames: number,
  grid: readonly [number, number],
  placeholder: ArrayLike<number>,
  R = 3,
  S = 4,
  thresh = 0.5,
): { tokens: Float64Array; frames: RpgFrameRef[] } {
  const D = S * c;
  const tokens = new Float64Array(frames * R * D);
  const refs: RpgFrameRef[] = [];
  for (let f = 0; f < frames; f++) {
    const fr = rpgFrameRef(feats, c, fg, f, grid, R, S, thresh);
    refs.push(fr);
    for (let r = 0; r < R; r++) {
      const base = (f * R + r) * D;
      if (fr.empty) {
        for (let i = 0; i < D; i++) tokens[base + i] = placeholder[i];
        continue;
      }
      fr.regions[r].protos.forEach((p, j) => normalized(p).forEach((v, i) => (tokens[base + j * c + i] = v)));
    }
  }
  return { tokens, frames: refs };
}

// ------------------------------------------------------------------------------------- backward
// In the fork every token is torch ops on the memory features (gather, mean, F.normalize, concat):
// the gradient reaches the features (and the placeholder on frames without foreground) while the FPS
// picks and k-means assignments are discrete. These references hold those choices fixed (taken
// from rpgTokensRef's frames).

const NORM_EPS = 1e-12;

/** The (possibly padded) centre cell of micro cluster j: padding repeats centre 0. */
const centreOf = (lv: KmeansLevel, j: number) => lv.centres[j < lv.centres.length ? j : 0];

/** Prototype j of a level recomputed from feats with the level's assignment / centres held fixed. */
function protoFixed(feats: ArrayLike<number>, c: number, rowBase: number, lv: KmeansLevel, j: number): Float64Array {
  const p = new Float64Array(c);
  const row = (cell: number) => (rowBase + cell) * c;
  if (lv.counts[j] === 0) {
    const b = row(centreOf(lv, j));
    for (let i = 0; i < c; i++) p[i] = feats[b + i];
    return p;
  }
  lv.assign.forEach((a, cell) => {
    if (a !== j) return;
    for (let i = 0; i < c; i++) p[i] += feats[row(cell) + i];
  });
  return p.map((v) => v / lv.counts[j]);
}

/**
 * Tokens [F*R, S*C] as a function of feats and placeholder with every discrete choice of `frames`
 * (rpgTokensRef's output) fixed: the function whose derivative rpgTokensBackwardRef is.
 */
export function rpgTokensFixedRef(
  feats: ArrayLike<number>,
  c: number,
  frames: RpgFrameRef[],
  hw: number,
  placeholder: ArrayLike<number>,
  R = 3,
  S = 4,
): Float64Array {
  const D = S * c;
  const tokens = new Float64Array(frames.length * R * D);
  frames.forEach((fr, f) => {
    for (let r = 0; r < R; r++) {
      const base = (f * R + r) * D;
      if (fr.empty) {
        for (let i = 0; i < D; i++) tokens[base + i] = placeholder[i];
        continue;
      }
      for (let j = 0; j < S; j++)
        normalized(protoFixed(feats, c, f * hw, fr.regions[r], j)).forEach((v, i) => (tokens[base + j * c + i] = v));
    }
  });
  return tokens;
}

/**
 * Backward of the object tokens: d feats [rows*C] (rows = all feature rows, pointer rows get 0) and
 * d placeholder [S*C] from d tokens [F*R*S*C], scattering from each prototype to its cells:
 *   token slice j = y = p / d, d = max(|p|, eps):  dp = dy/d - [|p| >= eps] <dy, p> p / (d^2 |p|);
 *   p = mean of the assigned cells -> dp / count each; empty cluster -> dp to its centre cell;
 *   frames without foreground -> every token's dy into d placeholder.
 */
export function rpgTokensBackwardRef(
  c: number,
  rows: number,
  frames: RpgFrameRef[],
  hw: number,
  dtokens: ArrayLike<number>,
  R = 3,
  S = 4,
): { dfeats: Float64Array; dplaceholder: Float64Array } {
  const D = S * c;
  const dfeats = new Float64Array(rows * c);
  const dplaceholder = new Float64Array(D);
  frames.forEach((fr, f) => {
    for (let r = 0; r < R; r++) {
      const base = (f * R + r) * D;
      if (fr.empty) {
        for (let i = 0; i < D; i++) dplaceholder[i] += dtokens[base + i];
        continue;
      }
      const lv = fr.regions[r];
      for (let j = 0; j < S; j++) {
        const p = lv.protos[j];
        const dy = Array.from({ length: c }, (_, i) => dtokens[base + j * c + i]);
        const n = Math.sqrt(p.reduce((a, v) => a + v * v, 0));
        const d = Math.max(n, NORM_EPS);
        const dot = dy.reduce((a, v, i) => a + v * p[i], 0);
        const coef = n >= NORM_EPS && n > 0 ? dot / (d * d * n) : 0;
        const dp = dy.map((v, i) => v / d - coef * p[i]);
        const addTo = (cell: number, scale: number) =>
          dp.forEach((v, i) => (dfeats[(f * hw + cell) * c + i] += v * scale));
        if (lv.counts[j] === 0) addTo(centreOf(lv, j), 1);
        else
          lv.assign.forEach((a, cell) => {
            if (a === j) addTo(cell, 1 / lv.counts[j]);
          });
      }
    }
  });
  return { dfeats, dplaceholder };
}
