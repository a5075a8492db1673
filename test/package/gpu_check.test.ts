// The one-command GPU check (docs/gpu-check.md) as CI can run it, so the scripts cannot rot:
//   - `bash bench/gpu-pack.sh ARCHIVE` into a temporary folder; the archive is at most 60 MB and unpacks
//     into an empty folder as the single folder robotseg-gpu/ with gpu-check.sh at its top;
//   - `bash robotseg-gpu/gpu-check.sh --software OUT` from the unpacked folder with a clean environment:
//     PATH holds only links to shell tools (no node, no npm), HOME is an empty folder, the current folder
//     is outside the checkout, and the archive's libvulkan1 .deb is unpacked and used
//     (GPU_CHECK_BUNDLED_LOADER=1); it must pass every step and write well-formed info.json,
//     kernels.json, frame.json, stages.json and summary.json;
//   - the hardware mode on this GPU-less machine stops with its own exit code (4) and a one-line reason.
// Needs bash, tar, xz, apt-get (the libvulkan1 download; GPU_PACK_LIBVULKAN_DEB=FILE instead) and the
// software adapter; no skip under CI=true. Takes several minutes (pack ~1-2 min, the check ~3-4 min on
// 2 idle vCPUs).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTER_CACHE } from '../../src/node/adapter.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const LIMIT = 60 * 1000 * 1000;
/** What gpu-check.sh may call: shell tools only (no node). */
const TOOLS = [
  'bash', 'sh', 'env', 'tar', 'xz', 'mkdir', 'rm', 'cat', 'date', 'dirname', 'basename', 'ls', 'head', 'tail',
  'sed', 'awk', 'grep', 'find', 'tr', 'mktemp', 'timeout', 'stat', 'ldconfig', 'dpkg-deb', 'ar', 'printf',
]; // biome-ignore format: a word list

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeout: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => c.pid && process.kill(-c.pid, 'SIGKILL'), opts.timeout);
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

function which(tool: string): string | null {
  for (const d of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    if (d && existsSync(join(d, tool))) return join(d, tool);
  }
  return null;
}

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;

describe('GPU check archive (bench/gpu-pack.sh, robotseg-gpu/gpu-check.sh --software)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'robotseg-gpucheck-test-'));
  const archive = join(tmp, 'robotseg-gpu.tar.xz');
  const unpacked = join(tmp, 'unpacked');
  const bin = join(tmp, 'bin');
  const home = join(tmp, 'home');
  let pack: Run;
  let cleanEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    pack = await run('bash', [join(ROOT, 'bench', 'gpu-pack.sh'), archive], {
      cwd: tmp,
      env: process.env,
      timeout: 900_000,
    });
    mkdirSync(unpacked);
    mkdirSync(bin);
    mkdirSync(home);
    for (const t of TOOLS) {
      const p = which(t);
      if (p) symlinkSync(p, join(bin, t));
    }
    cleanEnv = {
      PATH: bin,
      HOME: home,
      TMPDIR: tmp,
      // where scripts/install-adapter.sh put lavapipe (the real HOME's cache); the system ICDs are found anyway
      ROBOTSEG_ADAPTER_CACHE: ADAPTER_CACHE,
    };
  }, 960_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('packs at most 60 MB that unpack into robotseg-gpu/ with gpu-check.sh at its top', async () => {
    expect(pack.code, pack.err).toBe(0);
    const size = statSync(archive).size;
    console.log(`gpu-check archive: ${(size / 1e6).toFixed(1)} MB`);
    expect(size).toBeLessThanOrEqual(LIMIT);
    const r = await run('tar', ['-xf', archive], { cwd: unpacked, env: cleanEnv, timeout: 300_000 });
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(unpacked)).toEqual(['robotseg-gpu']);
    for (const f of ['gpu-check.sh', 'node/bin/node', 'app/dist/bench/gpu_check/driver.js', 'tests/reporter.mjs'])
      expect(existsSync(join(unpacked, 'robotseg-gpu', f)), f).toBe(true);
    expect(readdirSync(join(unpacked, 'robotseg-gpu', 'vulkan')).some((f) => /^libvulkan1_.*\.deb$/.test(f))).toBe(
      true,
    );
    expect(existsSync(join(bin, 'node'))).toBe(false);
  }, 300_000);

  it('gpu-check.sh --software passes every step from the unpacked folder alone', async () => {
    const out = join(tmp, 'out');
    const t0 = performance.now();
    const r = await run('bash', ['robotseg-gpu/gpu-check.sh', '--software', out], {
      cwd: unpacked,
      env: { ...cleanEnv, GPU_CHECK_BUNDLED_LOADER: '1' },
      timeout: 600_000,
    });
    console.log(`gpu-check --software: exit ${r.code} after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    expect(r.err).toContain('Vulkan loader from the archive');
    const files = ['info.json', 'kernels.json', 'frame.json', 'stages.json', 'summary.json'];
    for (const f of files) expect(existsSync(join(out, f)), `${f}\n${r.err}`).toBe(true);
    const [info, kernels, frame, stages, summary] = files.map((f) => readJson(join(out, f)));
    expect(summary.steps, r.err).toMatchObject({
      info: { status: 'ok' },
      kernels: { status: 'ok' },
      frame: { status: 'ok' },
      stages: { status: 'ok' },
    });
    expect(r.code, r.err).toBe(0);
    expect(summary.exitCode).toBe(0);
    expect((info.adapter as { software: boolean }).software).toBe(true);
    expect(info.limits).toHaveProperty('maxComputeWorkgroupStorageSize');
    // kernel tests with the hardware variants forced on the software adapter, each file passing
    const kFiles = Object.values(kernels.files as Record<string, { status: string; passed: number }>);
    expect(kFiles.length).toBeGreaterThan(0);
    for (const k of kFiles) expect(k.status).toBe('pass');
    expect((kernels.tests as { failed: number }).failed).toBe(0);
    // a tracked frame with 1 and 4 objects: finite positive ms, the stage split present
    const ms = frame.msPerFrame as Record<string, number>;
    for (const n of ['1obj', '4obj']) expect(ms[n]).toBeGreaterThan(0);
    expect(Object.keys((frame.rows as Array<{ stages: object }>)[0].stages)).toContain('memory_attention');
    // stages in f32, f16 recorded either way
    const f32 = stages.f32 as { rows: Array<{ impl: string; ok: boolean; ms: number }> };
    expect(f32.rows.map((x) => x.impl).sort()).toEqual(['image_encoder', 'prompt_decoder']);
    for (const row of f32.rows) expect(row.ok && row.ms > 0).toBe(true);
    if (typeof stages.f16 === 'string') expect(stages.f16).toBe('not supported by this build');
    else expect((stages.f16 as { rows: unknown[] }).rows.length).toBe(2);
    expect(summary.frameMs1obj).toBe(ms['1obj']);
    expect(existsSync(join(out, '.tmp'))).toBe(false);
  }, 620_000);

  it.skipIf(existsSync('/dev/nvidiactl'))(
    'without an NVIDIA driver the hardware mode stops with exit 4 and one line',
    async () => {
      const r = await run('bash', ['robotseg-gpu/gpu-check.sh', join(tmp, 'out-hw')], {
        cwd: unpacked,
        env: cleanEnv,
        timeout: 60_000,
      });
      expect(r.code).toBe(4);
      const last = r.err.trim().split('\n').pop();
      expect(last).toMatch(/^gpu-check: no NVIDIA Vulkan driver: /);
      const usage = await run('bash', ['robotseg-gpu/gpu-check.sh'], { cwd: unpacked, env: cleanEnv, timeout: 60_000 });
      expect(usage.code).toBe(2);
      expect(usage.err.trim()).toBe('gpu-check: usage: bash robotseg-gpu/gpu-check.sh [--software] OUT_DIR');
    },
    120_000,
  );
});
