// The GPU check's steps (bench/gpu-check.sh runs this from the unpacked archive, compiled to
// app/dist/bench/gpu_check/driver.js, after it has set up the Vulkan loader and ICD):
//   info     -> info.json     `robotseg info --json` (adapter, features, limits)
//   kernels  -> kernels.json  the kernel tests (vitest, tests/ of the archive) with the hardware
//                             (tiled, workgroup-memory) variants, ROBOTSEG_KERNELS=hardware: pass/fail per file
//   frame    -> frame.json    `robotseg bench --full` rows track_1obj and track_4obj_batched (ms per frame)
//   stages   -> stages.json   `robotseg bench --full --filter sam2_image` in f32, then f16 when the build's
//                             `bench --help` advertises --precision
//   frame_f16 -> frame.json f16  last, hardware mode, with the time left: track_1obj with --precision f16
//   summary  -> summary.json  the headline figures and each step's status (always written once a device
//                             was found)
// Each step is a child process group with its own time limit, cut to what is left of the whole budget;
// a step that fails or runs out of time is recorded as such and the next one runs. Exit codes: 0 all
// steps ok; 1 a step failed; 5 no (hardware) WebGPU device; 6 a step ran out of time; 2 bad arguments.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/node/atomic_write.js';

type Mode = 'hardware' | 'software';
type Status = 'ok' | 'failed' | 'timeout' | 'skipped';

interface StepResult {
  status: Status;
  seconds: number;
  reason?: string;
}

interface Run {
  code: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  seconds: number;
}

const EXIT = { ok: 0, failed: 1, usage: 2, noDevice: 5, timeout: 6 } as const;

function parseArgs(argv: string[]): { mode: Mode; out: string; root: string; budget: number } {
  const get = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const mode = get('--mode');
  const out = get('--out');
  const root = get('--root');
  const budget = Number(get('--budget') ?? '480');
  if ((mode !== 'hardware' && mode !== 'software') || !out || !root || !(budget > 0)) {
    process.stderr.write(
      'gpu-check driver: usage: driver.js --mode hardware|software --out DIR --root UNPACKED_DIR [--budget S]\n',
    );
    process.exit(EXIT.usage);
  }
  return { mode, out, root, budget };
}

const args = parseArgs(process.argv.slice(2));
const T0 = Date.now();
const deadline = T0 + args.budget * 1000;
const APP = join(args.root, 'app');
const TESTS = join(args.root, 'tests');
const CLI = join(APP, 'bin', 'robotseg.js');
const TMP = join(args.out, '.tmp');
const software = args.mode === 'software';
mkdirSync(TMP, { recursive: true });

const log = (line: string) => process.stderr.write(`gpu-check: ${line}\n`);
const secondsLeft = () => (deadline - Date.now()) / 1000;
const lastLine = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .pop()
    ?.slice(0, 400) ?? '';

function writeJson(name: string, value: unknown): void {
  writeFileAtomic(join(args.out, name), JSON.stringify(value, null, 2) + '\n');
}

const children = new Set<ChildProcess>();
function killGroup(c: ChildProcess): void {
  try {
    if (c.pid) process.kill(-c.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.on(sig, () => {
    for (const c of children) killGroup(c);
    process.exit(EXIT.timeout);
  });

/** Run node with args in its own process group; SIGKILL the group after `limit` seconds. */
function runNode(argv: string[], limit: number, env: Record<string, string> = {}): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const c = spawn(process.execPath, argv, {
      cwd: args.root,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(c);
    let stdout = '';
    let stderr = '';
    c.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    c.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(c);
    }, Math.max(1, limit) * 1000);
    const done = (code: number | null) => {
      clearTimeout(timer);
      children.delete(c);
      killGroup(c); // stray grandchildren (vitest forks)
      resolve({ code, timedOut, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    };
    c.on('error', () => done(null));
    c.on('close', (code) => done(code));
  });
}

/** A step's limit: its own, cut to the budget left (minus a reserve for the summary). */
function limitFor(own: number): number {
  return Math.min(own, Math.floor(secondsLeft() - 5));
}

function failure(r: Run, what: string): StepResult {
  if (r.timedOut) return { status: 'timeout', seconds: r.seconds, reason: `${what} ran past its time limit` };
  return { status: 'failed', seconds: r.seconds, reason: `${what} exited ${r.code}: ${lastLine(r.stderr)}` };
}

// ---------------------------------------------------------------------------------------------- info
async function info(): Promise<{ step: StepResult; report: Record<string, unknown> | null }> {
  const r = await runNode([CLI, 'info', '--json'], limitFor(90));
  if (r.code !== 0) {
    // the first line says why (the adapter search's install hint follows it)
    const first = r.stderr.split('\n').find((l) => l.trim()) ?? '';
    const step = failure(r, 'robotseg info');
    return {
      step: r.timedOut ? step : { ...step, reason: `robotseg info exited ${r.code}: ${first.slice(0, 400)}` },
      report: null,
    };
  }
  const report = JSON.parse(r.stdout) as Record<string, unknown>;
  return { step: { status: 'ok', seconds: r.seconds }, report };
}

// ------------------------------------------------------------------------------------------- kernels
/** Software mode runs a few families that have hardware (tiled / workgroup) variants; hardware mode all. */
const SOFTWARE_KERNEL_FILES = ['matmul', 'softmax', 'norm'];

/** One line of tests/reporter.mjs (bench/gpu_check/reporter.mjs) per finished test file. */
interface FileLine {
  file: string;
  state: string;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  failures: string[];
}

async function kernels(): Promise<{ step: StepResult; figures: Record<string, unknown> }> {
  const all = readdirSync(join(TESTS, 'test', 'kernels'))
    .filter((f) => f.endsWith('.test.ts'))
    .sort();
  const files = software ? all.filter((f) => SOFTWARE_KERNEL_FILES.includes(f.replace('.test.ts', ''))) : all;
  const results = join(TMP, 'kernels.jsonl');
  rmSync(results, { force: true });
  const vitest = join(APP, 'node_modules', 'vitest', 'vitest.mjs');
  const r = await runNode(
    [
      vitest,
      'run',
      '--root',
      TESTS,
      `--reporter=${join(TESTS, 'reporter.mjs')}`,
      ...files.map((f) => `test/kernels/${f}`),
    ],
    limitFor(software ? 150 : 150),
    // CI=true would turn the ../shared goldens the archive does not carry into failures
    { ROBOTSEG_KERNELS: 'hardware', CI: '', GPU_CHECK_FORKS: software ? '2' : '8', GPU_CHECK_RESULTS: results },
  );
  const lines: FileLine[] = existsSync(results)
    ? readFileSync(results, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FileLine)
    : [];
  const perFile: Record<string, { status: string } & Partial<FileLine>> = {};
  for (const l of lines) {
    const status = l.failed > 0 || l.state === 'failed' ? 'fail' : l.passed > 0 ? 'pass' : 'skip';
    perFile[l.file] = {
      status,
      passed: l.passed,
      failed: l.failed,
      skipped: l.skipped,
      seconds: l.seconds,
      ...(l.failures.length ? { failures: l.failures } : {}),
    };
  }
  for (const f of files) perFile[f] ??= { status: r.timedOut ? 'timeout' : 'not run' };
  const notPassing = Object.entries(perFile).filter(([, v]) => v.status !== 'pass');
  const step: StepResult = r.timedOut
    ? failure(r, 'vitest')
    : notPassing.length || r.code !== 0
      ? {
          status: 'failed',
          seconds: r.seconds,
          reason: notPassing.length
            ? `kernel test files not passing: ${notPassing.map(([k, v]) => `${k} (${v.status})`).join(', ')}`
            : `vitest exited ${r.code}: ${lastLine(r.stderr)}`,
        }
      : { status: 'ok', seconds: r.seconds };
  const sum = (k: 'passed' | 'failed' | 'skipped') => lines.reduce((a, l) => a + l[k], 0);
  writeJson('kernels.json', {
    variants: 'hardware (tiled, workgroup memory; ROBOTSEG_KERNELS=hardware)',
    mode: args.mode,
    status: step.status,
    ...(step.reason ? { reason: step.reason } : {}),
    seconds: r.seconds,
    tests: { passed: sum('passed'), failed: sum('failed'), skipped: sum('skipped') },
    files: perFile,
  });
  return {
    step,
    figures: {
      kernelFiles: files.length,
      kernelFilesPassing: Object.values(perFile).filter((v) => v.status === 'pass').length,
      kernelTestsFailed: sum('failed'),
    },
  };
}

// -------------------------------------------------------------------------------------------- bench
type Row = Record<string, unknown> & { impl: string; ms: number; wallMs?: number; ok: boolean };

async function bench(
  filter: string,
  precision: 'f32' | 'f16',
  limit: number,
): Promise<{ step: StepResult; rows: Row[] }> {
  const json = join(TMP, `bench-${filter.replace(/\W+/g, '_')}-${precision}.json`);
  rmSync(json, { force: true });
  const argv = [CLI, 'bench', '--full', '--no-peers', '--filter', filter, '--json', json];
  if (software) argv.push('--reps', '2');
  if (precision === 'f16') argv.push('--precision', 'f16');
  const env: Record<string, string> = software ? { ROBOTSEG_BENCH_CONFIG: join(args.root, 'reduced_config.json') } : {};
  const r = await runNode(argv, limitFor(limit), env);
  // `--precision f16` runs each case at f32 and then at f16: keep the rows of the asked precision
  const all = existsSync(json) ? (JSON.parse(readFileSync(json, 'utf8')) as Row[]) : [];
  const rows = all.filter((x) => (x.precision ?? 'f32') === precision);
  if (r.code !== 0 || rows.length === 0) return { step: failure(r, `robotseg bench ${precision}`), rows };
  return { step: { status: 'ok', seconds: r.seconds }, rows };
}

let precisionFlag: boolean | null = null;
async function supportsPrecision(): Promise<boolean> {
  if (precisionFlag === null) {
    const r = await runNode([CLI, 'bench', '--help'], limitFor(30));
    precisionFlag = r.code === 0 && r.stdout.includes('--precision');
  }
  return precisionFlag;
}

const NOT_SUPPORTED = 'not supported by this build';

const rowSummary = (r: Row) => ({
  impl: r.impl.replace(/^ours:/, ''),
  precision: r.precision ?? 'f32',
  shape: r.shape,
  ok: r.ok,
  ms: r.ms,
  wallMs: r.wallMs,
  timing: r.timing,
  reps: r.reps,
  downscaled: r.downscaled,
  ...(r.stages ? { stages: r.stages } : {}),
  ...(r.dispatches !== undefined
    ? { dispatches: r.dispatches, submits: r.submits, uploads: r.uploads, readbacks: r.readbacks }
    : {}),
});

async function stages(): Promise<{ step: StepResult; figures: Record<string, unknown> }> {
  const out: Record<string, unknown> = { filter: 'sam2_image', mode: args.mode };
  const f32 = await bench('sam2_image', 'f32', software ? 100 : 90);
  out.f32 = { status: f32.step.status, reason: f32.step.reason, rows: f32.rows.map(rowSummary) };
  writeJson('stages.json', out);
  let f16: { step: StepResult; rows: Row[] } | null = null;
  if (!(await supportsPrecision())) out.f16 = NOT_SUPPORTED;
  else {
    f16 = await bench('sam2_image', 'f16', software ? 100 : 90);
    out.f16 = { status: f16.step.status, reason: f16.step.reason, rows: f16.rows.map(rowSummary) };
  }
  writeJson('stages.json', out);
  const ms = (rows: Row[] | undefined, impl: string) => rows?.find((r) => r.impl === `ours:${impl}`)?.ms ?? null;
  const worst = [f32.step, f16?.step].find((s) => s && s.status !== 'ok') ?? f32.step;
  return {
    step: worst,
    figures: {
      imageEncoderMsF32: ms(f32.rows, 'image_encoder'),
      promptDecoderMsF32: ms(f32.rows, 'prompt_decoder'),
      imageEncoderMsF16: f16 ? ms(f16.rows, 'image_encoder') : NOT_SUPPORTED,
      promptDecoderMsF16: f16 ? ms(f16.rows, 'prompt_decoder') : NOT_SUPPORTED,
    },
  };
}

/** frame.json's content: written after each bench run (frame, then frameF16). */
const frameOut: Record<string, unknown> = {};

async function frame(): Promise<{ step: StepResult; figures: Record<string, unknown> }> {
  // one bench run per object count, so the 1-object figure survives a 4-object run cut short
  const out = frameOut;
  Object.assign(out, {
    mode: args.mode,
    precision: 'f32',
    what: 'one streamed frame through the VideoPredictor (image encoder + memory attention over a full bank + decoder + memory encoder + output), seeded random weights in the official layout, synthetic frames; msPerFrame = wall clock per frame',
  });
  const rows: ReturnType<typeof rowSummary>[] = [];
  const runs: StepResult[] = [];
  for (const impl of ['track_1obj', 'track_4obj_batched']) {
    const r = await bench(impl, 'f32', software ? 200 : 90);
    runs.push(r.step);
    rows.push(...r.rows.map(rowSummary));
    const step = runs.find((s) => s.status !== 'ok') ?? r.step;
    const one = rows.find((x) => x.impl === 'track_1obj');
    const four = rows.find((x) => x.impl === 'track_4obj_batched');
    Object.assign(out, {
      status: step.status,
      reason: step.reason,
      msPerFrame: { '1obj': one?.wallMs ?? null, '4obj': four?.wallMs ?? null },
      rows,
    });
    writeJson('frame.json', out);
  }
  const one = rows.find((x) => x.impl === 'track_1obj');
  return {
    step: runs.find((s) => s.status !== 'ok') ?? runs[runs.length - 1],
    figures: {
      frameMs1obj: one?.wallMs ?? null,
      frameMs4obj: rows.find((x) => x.impl === 'track_4obj_batched')?.wallMs ?? null,
      frameGpuMs1obj: one?.ms ?? null,
      frameStages1obj: one?.stages ?? null,
      imageSize: one?.shape ?? null,
    },
  };
}

/** Last, with the time left: the 1-object frame with --precision f16, into frame.json's `f16`. */
async function frameF16(): Promise<{ step: StepResult; figures: Record<string, unknown> }> {
  if (software) {
    frameOut.f16 = 'skipped in --software mode (time)';
    writeJson('frame.json', frameOut);
    return { step: { status: 'skipped', seconds: 0, reason: 'software mode' }, figures: {} };
  }
  if (!(await supportsPrecision())) {
    frameOut.f16 = NOT_SUPPORTED;
    writeJson('frame.json', frameOut);
    return { step: { status: 'ok', seconds: 0 }, figures: { frameMs1objF16: NOT_SUPPORTED } };
  }
  const r = await bench('track_1obj', 'f16', software ? 150 : 90);
  const row = r.rows.map(rowSummary).find((x) => x.impl === 'track_1obj');
  frameOut.f16 = {
    status: r.step.status,
    reason: r.step.reason,
    msPerFrame: { '1obj': row?.wallMs ?? null },
    rows: row ? [row] : [],
  };
  writeJson('frame.json', frameOut);
  return { step: r.step, figures: { frameMs1objF16: row?.wallMs ?? null } };
}

// --------------------------------------------------------------------------------------------- main
const steps: Record<string, StepResult> = {};
const figures: Record<string, unknown> = {};
const infoRes = await info();
steps.info = infoRes.step;
const adapter = infoRes.report?.adapter as { software?: boolean; description?: string; device?: string } | undefined;
if (!infoRes.report) {
  log(`no WebGPU device: ${infoRes.step.reason}`);
  rmSync(TMP, { recursive: true, force: true });
  process.exit(infoRes.step.status === 'timeout' ? EXIT.timeout : EXIT.noDevice);
}
if (!software && adapter?.software) {
  log(
    `only a software adapter appeared (${adapter.description || adapter.device}): the NVIDIA Vulkan driver did not load`,
  );
  rmSync(TMP, { recursive: true, force: true });
  process.exit(EXIT.noDevice);
}
writeJson('info.json', {
  mode: args.mode,
  icd: process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? null,
  ...infoRes.report,
});

const summary = () => {
  const statuses = Object.values(steps).map((s) => s.status);
  const code = statuses.includes('timeout')
    ? EXIT.timeout
    : statuses.every((s) => s === 'ok' || s === 'skipped')
      ? EXIT.ok
      : EXIT.failed;
  const frameMs = figures.frameMs1obj;
  writeJson('summary.json', {
    mode: args.mode,
    adapter: adapter?.description || adapter?.device || 'unknown',
    exitCode: code,
    seconds: (Date.now() - T0) / 1000,
    ...figures,
    aim: software
      ? 'the 10 ms aim applies to an H100-class GPU at 1024 px, not to this software run'
      : `tracked frame (1 object, 1024 px, full bank) <= 10 ms: ${typeof frameMs === 'number' ? (frameMs <= 10 ? 'met' : 'not met') : 'not measured'}`,
    steps,
  });
  return code;
};

for (const [name, fn] of [
  ['kernels', kernels],
  ['frame', frame],
  ['stages', stages],
  ['frame_f16', frameF16],
] as const) {
  if (secondsLeft() < 20) {
    // the optional last step is skipped, the others count as out of time
    steps[name] = {
      status: name === 'frame_f16' ? 'skipped' : 'timeout',
      seconds: 0,
      reason: 'no time left in the budget',
    };
    if (name === 'frame_f16') {
      frameOut.f16 = `skipped: ${steps[name].reason}`;
      writeJson('frame.json', frameOut);
    } else writeJson(`${name}.json`, { mode: args.mode, ...steps[name] });
    summary();
    continue;
  }
  log(`${name} (${Math.floor(secondsLeft())} s left)`);
  try {
    const r = await fn();
    steps[name] = r.step;
    Object.assign(figures, r.figures);
  } catch (e) {
    steps[name] = { status: 'failed', seconds: 0, reason: lastLine(String((e as Error).message ?? e)) };
    if (name !== 'frame_f16' && !existsSync(join(args.out, `${name}.json`)))
      writeJson(`${name}.json`, { mode: args.mode, ...steps[name] });
  }
  summary();
}
rmSync(TMP, { recursive: true, force: true });
const code = summary();
for (const [name, s] of Object.entries(steps)) log(`${name}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`);
process.exit(code);
