// Benchmark harness behind `robotseg bench`: finds every bench/<family>.ts that exports
// `cases: BenchCase[]`, and for each case: setup -> warm-up run (lavapipe JIT-compiles pipelines at
// the first dispatch) -> run + check (correctness before any timing) -> timed reps. A rep is timed
// with GPU timestamp queries (rt.profileStart/profileStop: compute-pass time) when the adapter has
// 'timestamp-query', else with the wall clock up to rt.sync(); the wall time is kept either way.
// Peers (bench/peers.ts) run the case's ONNX description on onnxruntime-web (WebGPU, same device)
// and onnxruntime-node (CPU, 1 thread) and add rows next to ours.
//
// Rows are plain JSON objects (BenchRow); later stages add fields such as `stage`.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Runtime } from '../src/graph/runtime.js';
import { parseConfig, SAM21_HIERA_T, type Sam2Config } from '../src/model/config.js';
import { PACKAGE_ROOT } from '../src/node/package_info.js';
import type { Precision } from '../src/model/module.js';
import type { BenchCase, BenchRun } from './types.js';
import type { PeerSet } from './peers.js';

export interface BenchRow {
  kernel: string;
  /** 'ours' | 'ours:<variant>' | 'ort-web' | 'ort-web:gpu' | 'ort-node' */
  impl: string;
  shape: string;
  /** Median milliseconds per run (GPU time for ours when timestamps exist, see `timing`). */
  ms: number;
  gflops?: number;
  gbps?: number;
  ok: boolean;
  adapter: string;
  downscaled: boolean;
  /** How `ms` was measured: 'gpu-timestamp' | 'wall' | 'wall-e2e' (peers, CPU tensors in/out) | 'wall-gpu' (peer, GPU-resident). */
  timing?: string;
  /** Median wall-clock ms (enqueue to sync) for our rows. */
  wallMs?: number;
  reps?: number;
  /** For peer rows: what the peer output was compared with ('ours' | 'ort-node' | 'ort-web' | 'none'). */
  ref?: string;
  note?: string;
  /** Model-stage rows (later issues). */
  stage?: string;
  /** Storage precision of the model's heavy weights (model-stage rows; kernel rows are f32). */
  precision?: Precision;
  /**
   * Our rows with onnxruntime-web peers: the peer's faster figure (end-to-end or GPU-resident ms) over
   * ours: our wall-clock `wallMs` for model stages (issue definition: what a caller waits), our GPU
   * `ms` for single kernels. Above 1 = faster than the peer.
   */
  vsOrtWeb?: number;
  [extra: string]: unknown;
}

export interface HarnessOptions {
  /** Comma-separated, case-insensitive substrings matched against file, kernel and impl. */
  filter?: string;
  /** Use the real 1024-px shapes. */
  full?: boolean;
  /** 'f16': model-stage cases (BenchCase.precisions) run at f32 and again at f16. Default f32. */
  precision?: Precision;
  /** Fixed number of timed reps; default adaptive (stop after ~1 s or 10 reps). */
  reps?: number;
  /** Run peers (default true). Ignored when `peerSet` is given. */
  peers?: boolean;
  /** Peers already loaded (tests, reuse). */
  peerSet?: PeerSet | null;
  /** Explicit cases instead of discovering bench/*.ts. */
  cases?: Array<BenchCase & { file?: string }>;
  /** Directory scanned for case modules (default: this file's directory). */
  dir?: string;
  /** Progress and notes (default: stderr). */
  log?: (line: string) => void;
  /** Called with each row as soon as it is measured. */
  onRow?: (row: BenchRow) => void;
}

/** Extension a case may implement so peers are checked against our output (bench/peers.ts). */
export interface BenchRunWithOutput extends BenchRun {
  /** Read back our last run's output (flattened, row-major, shape = onnx.outputShape). */
  output?(): Promise<Float32Array>;
}

/** Files in bench/ that are not case modules. */
const NOT_CASES = new Set(['types', 'harness', 'peers', 'onnx_builder']);

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * The repository's test fixtures (goldens, photos, annotations) that image- and model-level cases check
 * against: ROBOTSEG_FIXTURES, else test/fixtures of the checkout. The npm package does not ship them
 * (14 MB), so from an installed package those cases are skipped with a note and the kernel cases run.
 */
export const FIXTURES_DIR = process.env.ROBOTSEG_FIXTURES ?? join(PACKAGE_ROOT, 'test', 'fixtures');

/** Thrown by a case's setup when something it needs is absent: the case is reported as skipped, not failed. */
export class SkipCase extends Error {}

/** Path of a fixture under FIXTURES_DIR; throws SkipCase when it does not exist. */
export function fixture(...parts: string[]): string {
  const p = join(FIXTURES_DIR, ...parts);
  if (!existsSync(p))
    throw new SkipCase(
      `needs test/fixtures/${parts.join('/')} (not in the npm package): run from a repository checkout or set ROBOTSEG_FIXTURES=DIR`,
    );
  return p;
}

/**
 * The model config of the `--full` model-level rows (seeded random weights in its official layout):
 * sam2.1_hiera_t at 1024 px, or the config file named by ROBOTSEG_BENCH_CONFIG (bench/gpu-check.sh
 * --software runs the same rows with the reduced 256-px config on the software adapter).
 */
export function fullConfig(): Sam2Config {
  const file = process.env.ROBOTSEG_BENCH_CONFIG;
  return file ? parseConfig(readFileSync(file, 'utf8')) : SAM21_HIERA_T;
}

export interface DiscoveredCase extends BenchCase {
  file: string;
}

/** Import every bench/<family>.ts exporting `cases`. Import failures are returned, not thrown. */
export async function discoverCases(
  dir = BENCH_DIR,
): Promise<{ cases: DiscoveredCase[]; errors: Array<{ file: string; error: string }> }> {
  const files = readdirSync(dir)
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts') && !f.includes('.test.'))
    .filter((f) => !NOT_CASES.has(f.replace(/\.(ts|js|mjs)$/, '')))
    .sort();
  const cases: DiscoveredCase[] = [];
  const errors: Array<{ file: string; error: string }> = [];
  for (const f of files) {
    const file = f.replace(/\.(ts|js|mjs)$/, '');
    try {
      const mod = (await import(pathToFileURL(join(dir, f)).href)) as { cases?: unknown };
      if (!Array.isArray(mod.cases)) continue;
      for (const c of mod.cases as BenchCase[]) cases.push({ ...c, setup: c.setup.bind(c), file });
    } catch (e) {
      errors.push({ file, error: (e as Error).stack ?? String(e) });
    }
  }
  return { cases, errors };
}

export function matchesFilter(filter: string | undefined, ...names: Array<string | undefined>): boolean {
  if (!filter) return true;
  const hay = names.filter(Boolean).join(' ').toLowerCase();
  return filter
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .some((f) => hay.includes(f));
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Time `once` repeatedly: exactly `reps` times, or adaptively until ~1 s has passed or 10 reps. */
export async function timeReps(
  once: () => Promise<{ ms: number; wallMs: number }>,
  reps?: number,
): Promise<{ ms: number; wallMs: number; reps: number }> {
  const ms: number[] = [];
  const wall: number[] = [];
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    if (reps !== undefined ? i >= reps : i >= 10 || (i >= 1 && performance.now() - t0 >= 1000)) break;
    const r = await once();
    ms.push(r.ms);
    wall.push(r.wallMs);
  }
  return { ms: median(ms), wallMs: median(wall), reps: ms.length };
}

/** max |a - b| <= atol + rtol |b|; NaN/length mismatches fail. `atol` defaults to 1e-4 of max |b|. */
export function allClose(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  tol: { atol?: number; rtol?: number } = {},
): { ok: boolean; maxAbs: number; msg: string } {
  if (a.length !== b.length) return { ok: false, maxAbs: Infinity, msg: `length ${a.length} != ${b.length}` };
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  const atol = tol.atol ?? 1e-4 * scale + 1e-7;
  const rtol = tol.rtol ?? 1e-4;
  let maxAbs = 0;
  let bad = 0;
  let first = '';
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= atol + rtol * Math.abs(b[i])) && a[i] !== b[i]) {
      if (bad++ === 0) first = `[${i}] got ${a[i]} want ${b[i]}`;
    }
    if (Number.isFinite(d)) maxAbs = Math.max(maxAbs, d);
  }
  return {
    ok: bad === 0,
    maxAbs,
    msg: bad
      ? `${bad}/${a.length} outside atol ${atol.toExponential(2)} rtol ${rtol}; max abs ${maxAbs.toExponential(2)}; first ${first}`
      : `max abs ${maxAbs.toExponential(2)}`,
  };
}

export function adapterName(rt: Runtime): string {
  const a = rt.adapter;
  return a.description || a.device || a.vendor || 'unknown adapter';
}

const stageOf = (run: BenchRun): { stage?: string } => (run.stage ? { stage: run.stage } : {});

function withRates(row: BenchRow, run: Pick<BenchRun, 'flops' | 'bytes'>): BenchRow {
  if (Number.isFinite(row.ms) && row.ms > 0) {
    if (run.flops) row.gflops = run.flops / (row.ms * 1e6);
    if (run.bytes) row.gbps = run.bytes / (row.ms * 1e6);
  }
  return row;
}

/** One timed run of ours: timestamps when available (fallback: wall). */
async function timeOurs(rt: Runtime, run: BenchRun): Promise<{ ms: number; wallMs: number }> {
  const t0 = performance.now();
  const profiling = rt.profileStart();
  await run.run();
  let gpuMs = NaN;
  if (profiling) gpuMs = await rt.profileStop();
  await rt.sync();
  const wallMs = performance.now() - t0;
  return { ms: profiling && gpuMs > 0 ? gpuMs : wallMs, wallMs };
}

/** Run the benchmark; returns every row (failures included as ok:false). */
export async function runBench(rt: Runtime, opts: HarnessOptions = {}): Promise<BenchRow[]> {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const full = Boolean(opts.full);
  const adapter = adapterName(rt);
  const rows: BenchRow[] = [];
  const push = (r: BenchRow) => {
    rows.push(r);
    opts.onRow?.(r);
  };

  let cases: Array<BenchCase & { file?: string }>;
  if (opts.cases) cases = opts.cases;
  else {
    const found = await discoverCases(opts.dir);
    cases = found.cases;
    for (const e of found.errors) {
      const relevant = matchesFilter(opts.filter, e.file);
      log(`bench: cannot load bench/${e.file}: ${e.error.split('\n')[0]}`);
      if (relevant)
        push({
          kernel: e.file,
          impl: 'ours',
          shape: '-',
          ms: NaN,
          ok: false,
          adapter,
          downscaled: !full,
          note: `import failed: ${e.error.split('\n')[0]}`,
        });
    }
  }
  cases = cases.filter((c) => matchesFilter(opts.filter, c.file, c.kernel, c.impl));
  if (cases.length === 0) log(`bench: no case matches filter '${opts.filter ?? ''}'`);

  let peers: PeerSet | null = opts.peerSet ?? null;
  if (!opts.peerSet && opts.peers !== false && cases.length) {
    const { loadPeers } = await import('./peers.js');
    peers = await loadPeers(rt, log);
  }
  const timing = rt.hasTimestamps ? 'gpu-timestamp' : 'wall';

  const runs = cases.flatMap((c) =>
    (opts.precision === 'f16' && c.precisions ? (['f32', 'f16'] as const) : (['f32'] as const)).map((p) => ({
      c,
      precision: p as Precision,
    })),
  );
  for (const { c, precision } of runs) {
    const impl = c.impl ? `ours:${c.impl}` : 'ours';
    const label = `${c.kernel}${c.impl ? ` [${c.impl}]` : ''}${precision === 'f16' ? ' f16' : ''}`;
    const prec = c.precisions ? { precision } : {};
    let run: BenchRunWithOutput | null = null;
    try {
      run = await c.setup(rt, { full, precision }); // model-level cases load weights asynchronously
      const shape = run.shape;
      log(`bench: ${label} ${shape}${run.downscaled ? ' (downscaled)' : ''}`);
      // Warm-up (JIT compile), then run + check: correctness before timing.
      await run.run();
      await rt.sync();
      await run.run();
      await rt.sync();
      const ok = await run.check();
      if (!ok) log(`bench: ${label} ${shape}: CHECK FAILED`);
      const t = await timeReps(() => timeOurs(rt, run!), opts.reps);
      const extra = run.extra ? await run.extra() : {};
      push(
        withRates(
          {
            kernel: c.kernel,
            impl,
            shape,
            ms: t.ms,
            ok,
            adapter,
            downscaled: run.downscaled,
            timing,
            wallMs: t.wallMs,
            reps: t.reps,
            ...stageOf(run),
            ...prec,
            ...extra,
          },
          run,
        ),
      );
      if (peers && run.onnx && precision === 'f32') {
        for (const r of await peers.runCase(c.kernel, run, opts.reps, ok))
          push(withRates({ ...r, adapter, downscaled: run.downscaled, ...stageOf(run) }, run));
      }
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (e instanceof SkipCase) {
        log(`bench: ${label} skipped: ${msg}`);
        continue;
      }
      log(`bench: ${label} failed: ${(e as Error).stack ?? msg}`);
      push({
        kernel: c.kernel,
        impl,
        shape: run?.shape ?? '-',
        ms: NaN,
        ok: false,
        adapter,
        downscaled: run?.downscaled ?? !full,
        ...prec,
        note: msg.split('\n')[0],
      });
      try {
        await rt.sync();
      } catch {
        /* already reported */
      }
    } finally {
      try {
        run?.dispose();
      } catch {
        /* ignore */
      }
    }
  }
  await peers?.dispose();
  return rows;
}

function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(digits);
}

/**
 * Set `vsOrtWeb` on our rows that have onnxruntime-web peers for the same case (same kernel, stage,
 * shape; f32 only: the peers run f32) and return the summary lines: each model stage's ratio, and
 * every kernel case whose best variant of ours is slower than the peer.
 */
export function peerRatios(rows: BenchRow[]): string[] {
  const key = (r: BenchRow) => `${r.stage ?? ''}|${r.kernel}|${r.shape}`;
  const peers = new Map<string, number>();
  for (const r of rows)
    if (r.impl.startsWith('ort-web') && r.ok && Number.isFinite(r.ms))
      peers.set(key(r), Math.min(peers.get(key(r)) ?? Infinity, r.ms));
  const best = new Map<string, { ratio: number; row: BenchRow }>();
  for (const r of rows) {
    const peer = peers.get(key(r));
    // f32 only: model stages at f16 carry `precision`, kernel cases with f16 weights an impl ending ':f16w'
    const f32 = (r.precision ?? 'f32') === 'f32' && !r.impl.endsWith(':f16w');
    if (!r.impl.startsWith('ours') || peer === undefined || !f32) continue;
    const ours = r.stage ? r.wallMs : r.ms;
    if (ours === undefined || !(ours > 0)) continue;
    r.vsOrtWeb = peer / ours;
    const b = best.get(key(r));
    if (!b || r.vsOrtWeb > b.ratio) best.set(key(r), { ratio: r.vsOrtWeb, row: r });
  }
  const lines: string[] = [];
  for (const { ratio, row } of best.values()) {
    const ours = row.stage ? `${fmt(row.wallMs)} ms wall` : `${fmt(row.ms)} ms GPU`;
    const peer = fmt(peers.get(key(row)));
    if (row.stage) lines.push(`stage ${row.stage}: ${ratio.toFixed(2)}x onnxruntime-web (${peer} ms vs ours ${ours})`);
    else if (ratio < 1)
      lines.push(
        `slower than onnxruntime-web: ${row.kernel} ${row.shape}: ${ratio.toFixed(2)}x (${peer} ms vs ours ${ours})`,
      );
  }
  const ops = [...best.values()].filter((b) => !b.row.stage);
  if (ops.length)
    lines.push(
      `kernel cases with peers: ${ops.length}, slower than onnxruntime-web: ${ops.filter((b) => b.ratio < 1).length}`,
    );
  return lines;
}

/** Plain-text table of rows, with the adapter in the header. */
export function formatTable(rows: BenchRow[], rt: Runtime, opts: { full?: boolean } = {}): string {
  const a = rt.adapter;
  const header = [
    `adapter: ${adapterName(rt)} (${a.vendor || '?'}${a.architecture ? ', ' + a.architecture : ''}; ${a.backend}${a.software ? ', software' : ''})`,
    `timing: ours = median ${rt.hasTimestamps ? 'GPU timestamp (compute passes)' : 'wall clock to queue idle'}; ort-* = median wall clock per session.run (e2e: CPU tensors in/out; gpu: GPU-resident)`,
    `shapes: ${opts.full ? 'full 1024-px SAM 2.1 tiny' : 'downscaled where marked * (use --full on a real GPU)'}`,
  ];
  const cols = ['kernel', 'impl', 'shape', 'ms', 'GFLOP/s', 'GB/s', 'ok', 'note'];
  const body = rows.map((r) => [
    r.stage ? `${r.stage}/${r.kernel}` : r.kernel,
    r.precision === 'f16' ? `${r.impl} f16` : r.impl,
    r.shape + (r.downscaled ? ' *' : ''),
    fmt(r.ms),
    fmt(r.gflops),
    fmt(r.gbps),
    r.ok ? 'ok' : 'FAIL',
    [r.ref && r.ref !== 'ours' ? `vs ${r.ref}` : '', r.note ?? ''].filter(Boolean).join('; '),
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((s, i) => (i >= 3 && i <= 5 ? s.padStart(widths[i]) : s.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const ratios = peerRatios(rows);
  const summary = ratios.length
    ? ['', 'vs onnxruntime-web (its faster figure / ours):', ...ratios.map((l) => `  ${l}`)]
    : [];
  return (
    [...header, '', line(cols), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...summary].join('\n') + '\n'
  );
}
