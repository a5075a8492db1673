// Photos of any size (docs/robustness.md): `npx tsx bench/scripts/big_image.ts [--mp 50] [--json FILE]
// [--keep DIR]`. Generates a photo of about N megapixels (default 50: 8160x6120) by upscaling the
// bundled Panda photo, then runs the CLI on it as a user would, each command in its own process:
//   segment --out --overlay --refine (reduced golden model), edges (OpenCV Canny), edges --robotseg.
// Correctness first: the segment mask sampled at the 640x480 pixel centres must agree with the mask of
// the original photo (IoU >= 0.95; the model sees nearly the same input). Reports wall time and the
// process's peak RSS (VmHWM from /proc, polled) per command, and the adapter.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMask } from '../../src/node/image_io.js';
import { createNodeRuntime } from '../../src/node/runtime.js';
import { writeUpscaledPng } from '../../test/helpers/big_image.js';
import { ROOT } from '../../test/helpers/cli.js';
import { GOLDEN } from '../../test/helpers/golden.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const MP = Number(arg('--mp', '50'));
// 4:3 like the source; width a multiple of 640 / 8 so the prompt scales exactly
const scale = Math.round(Math.sqrt((MP * 1e6) / (640 * 480)) * 8) / 8;
const [W, H] = [640 * scale, 480 * scale];
const keep = arg('--keep', '');
const dir = keep || mkdtempSync(join(tmpdir(), 'robotseg-bigimg-'));
const PANDA = join(ROOT, 'test', 'fixtures', 'images', 'panda.jpg');
const MODEL = ['--weights', join(GOLDEN, 'weights.safetensors'), '--config', join(GOLDEN, 'config.json')];
const prompt = (s: number) => [
  '--box',
  [110, 110, 375, 475].map((v) => v * s).join(','),
  '--point',
  `${200 * s},${250 * s}`,
];

/** Run the CLI; wall seconds and peak RSS (MB) of the child. */
function cli(args: string[]): Promise<{ code: number | null; secs: number; peakMB: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'robotseg.js'), ...args], { cwd: ROOT });
    let out = '';
    let err = '';
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // exited
      }
    }, 100);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, secs: (performance.now() - t0) / 1000, peakMB: Math.round(peak), out, err });
    });
  });
}

const rt = await createNodeRuntime();
const adapter = rt.adapter.description;
rt.destroy();
const photo = join(dir, `panda_${W}x${H}.png`);
let t = performance.now();
writeUpscaledPng(PANDA, W, H, photo);
console.error(
  `generated ${photo} (${((W * H) / 1e6).toFixed(1)} MP) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
);

const small = await cli(['segment', PANDA, ...MODEL, ...prompt(1), '--out', join(dir, 'small.png'), '--quiet']);
if (small.code !== 0) throw new Error(`segment of the original photo failed: ${small.err}`);
const rows: Array<Record<string, unknown>> = [];
const run = async (name: string, args: string[]) => {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}): ${r.err}`);
  const row = { name, width: W, height: H, seconds: Number(r.secs.toFixed(1)), peakRssMB: r.peakMB };
  rows.push(row);
  console.log(JSON.stringify(row));
  return r;
};
t = performance.now();
await run('segment --overlay --refine', [
  'segment',
  photo,
  ...MODEL,
  ...prompt(scale),
  '--out',
  join(dir, 'mask.png'),
  '--overlay',
  join(dir, 'overlay.png'),
  '--refine',
  '--quiet',
]);
// correctness: the big mask at the original pixel centres vs the original photo's mask
const s = readMask(join(dir, 'small.png'));
const m = readMask(join(dir, 'mask.png'));
let inter = 0;
let union = 0;
for (let y = 0; y < 480; y++)
  for (let x = 0; x < 640; x++) {
    const a = s.data[y * 640 + x];
    const b = m.data[Math.floor((y + 0.5) * scale) * W + Math.floor((x + 0.5) * scale)];
    inter += a & b;
    union += a | b;
  }
const iou = inter / Math.max(union, 1);
console.error(`mask agreement with the 640x480 original: IoU ${iou.toFixed(4)}`);
if (!(iou >= 0.95)) throw new Error(`the ${W}x${H} mask does not agree with the original's (IoU ${iou})`);
await run('segment --quiet', [
  'segment',
  photo,
  ...MODEL,
  ...prompt(scale),
  '--out',
  join(dir, 'mask2.png'),
  '--quiet',
]);
await run('edges', ['edges', photo, '--out', join(dir, 'edges.png')]);
await run('edges --robotseg', ['edges', photo, '--robotseg', '--out', join(dir, 'edges_robotseg.png')]);
const json = arg('--json', '');
if (json) writeFileSync(json, JSON.stringify({ adapter, megapixels: (W * H) / 1e6, iou, rows }, null, 2));
if (!keep) rmSync(dir, { recursive: true, force: true });
