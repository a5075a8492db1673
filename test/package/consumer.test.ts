// The package as a user gets it (they catch what a checkout hides): `npm pack` (prepack runs
// `npm run build`), the tarball installed into a fresh project in a temporary folder (dependencies from
// the npm cache that `npm ci` filled: --prefer-offline), then, against that installed copy only:
//   - the tarball: < 2 MB, only dist/, shaders/, bin/robotseg.js, README, LICENSE, CHANGELOG, package.json;
//     publint --strict and @arethetypeswrong/cli --profile esm-only report nothing;
//   - plain Node (no tsx, no TypeScript) runs examples/embed-node.mjs, the README's Node example: the
//     reduced golden model, a click on the golden image, 3 tracked frames; its masks equal those of the
//     installed CLI (`robotseg segment` / `robotseg track`) on the same inputs, and are not empty;
//   - `npx robotseg --version [--verbose]` and `npx robotseg info` from the installed package;
//   - the public API: the names below exist in the node and browser entries; internal modules are not
//     importable (ERR_PACKAGE_PATH_NOT_EXPORTED);
//   - tsc --strict --noEmit of test/package/project/node-types.ts (nodenext) and of the README's bundler
//     example examples/embed-vite/main.ts (bundler resolution), then a Vite build of that example;
//   - the Chromium demo test (test/browser/demo.test.ts, its image and automatic-mode cases) with the demo
//     page built against the installed package (ROBOTSEG_WEB_ENGINE=APP/node_modules/robotseg): the
//     same masks as the Node engine, as the source-tree run asserts (Chromium needed under CI=true).
// To extend: add names to NODE_API / BROWSER_API, a use to node-types.ts, or a step below.
// Needs npm and tar (always there with Node on Debian); no skip under CI=true or elsewhere.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const GOLDEN = join(ROOT, 'test', 'fixtures', 'golden');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const MAX_TARBALL = 2 * 1024 * 1024;
const CLICK = '100,75';

/** Public names each entry must export (a superset check: new exports need no change here). */
const COMMON_API = [
  'Runtime',
  'SAM2',
  'RobotSeg',
  'ImagePredictor',
  'VideoPredictor',
  'RobotSegImagePredictor',
  'ROBOT_TARGETS',
  'Trainer',
  'evaluate',
  'cpuBackend',
  'GpuCountBackend',
  'BUILTIN_CONFIGS',
  'parseConfig',
  'uploadWeights',
  'openSafetensors',
  'readCheckpoint',
  'drawOverlay',
  'decodeImageBytes',
];
const NODE_API = [
  ...COMMON_API,
  'createNodeRuntime',
  'loadModel',
  'readImage',
  'writeMaskPng',
  'openFrameSource',
  'convertCheckpoint',
  'readTrainDataset',
  'McapTopicSource',
  'startServer',
  'readLeRobotDataset',
  'runDataset',
];
const BROWSER_API = [
  ...COMMON_API,
  'createBrowserRuntime',
  'bundledShaders',
  'loadSam2',
  'loadWeightsFromUrl',
  'loadWeightsFromFile',
  'rgbFromSource',
  'rgbFromUrl',
];

/** The demo test's cases run against the installed package (CI time: about a minute and a half). */
const BROWSER_CASES = '(image|automatic mode): ';
const CHROMIUM = process.env.ROBOTSEG_CHROMIUM ?? '/usr/bin/chromium';

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Run a command without blocking the worker (see test/helpers/cli.ts); never throws on exit codes. */
function run(cmd: string, args: string[], cwd: string, timeout = 300_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, timeout, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1', ...env } },
      (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

async function ok(cmd: string, args: string[], cwd: string, timeout?: number, env?: NodeJS.ProcessEnv): Promise<Run> {
  const r = await run(cmd, args, cwd, timeout, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.code}\n${r.out}\n${r.err}`);
  return r;
}

function version(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;
}

function pixels(path: string): Uint8Array {
  return new Uint8Array(PNG.sync.read(readFileSync(path)).data);
}

let tmp = '';
let tarball = '';
let app = '';

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'robotseg-consumer-'));
  const packed = await ok('npm', ['pack', '--json', '--pack-destination', tmp], ROOT, 400_000);
  const info = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as Array<{ filename: string }>;
  tarball = join(tmp, info[0].filename);
  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // the user's own tools, at the versions this repository locks (so the npm cache has them)
  const tools = ['typescript', '@types/node', 'vite'].map((n) => `${n}@${version(n)}`);
  await ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, ...tools], app, 400_000);
}, 900_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('is small and holds only the built package', async () => {
    expect(statSync(tarball).size).toBeLessThan(MAX_TARBALL);
    const files = (await ok('tar', ['-tzf', tarball], tmp)).out.trim().split('\n');
    const allowed =
      /^package\/(dist\/.+\.(js|d\.ts|js\.map)|shaders\/.+\.wgsl|bin\/robotseg\.js|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(files.some((f) => f.includes('fixtures') || /\.ts$/.test(f.replace(/\.d\.ts$/, '')))).toBe(false);
    expect(files).toContain('package/dist/src/node/index.d.ts');
    expect(files).toContain('package/dist/src/browser/index.js');
    // the browser shader module holds the WGSL itself (no Vite-only import.meta.glob left)
    const bundle = readFileSync(
      join(app, 'node_modules', 'robotseg', 'dist', 'src', 'browser', 'shader_bundle.js'),
      'utf8',
    );
    expect(bundle).not.toContain('import.meta.glob');
    expect(bundle).toContain('@compute');
  });

  it('publint --strict and arethetypeswrong (esm-only) report no problem', { timeout: 300_000 }, async () => {
    const lint = await ok('npx', ['publint', 'run', tarball, '--strict'], ROOT);
    expect(lint.out + lint.err).toContain('All good');
    await ok('npx', ['attw', tarball, '--profile', 'esm-only', '--format', 'table-flipped'], ROOT);
  });

  it('installs no benchmark peer (onnxruntime) and no tsx', () => {
    const installed = readdirSync(join(app, 'node_modules'));
    expect(installed.filter((n) => /onnxruntime|^tsx$/.test(n))).toEqual([]);
  });
});

describe('the installed package', () => {
  // Timeouts: minutes, not seconds; a shared 2-core machine runs these processes at a fraction of a core.
  it('plain Node runs the README example; its masks equal the CLI masks', { timeout: 600_000 }, async () => {
    const frames = join(tmp, 'frames');
    mkdirSync(frames);
    for (const i of [0, 1, 2]) cpSync(join(GOLDEN, `video_frame${i}.png`), join(frames, `video_frame${i}.png`));
    cpSync(join(ROOT, 'examples', 'embed-node.mjs'), join(app, 'embed-node.mjs'));
    const weights = join(GOLDEN, 'weights.safetensors');
    const config = join(GOLDEN, 'config.json');
    const image = join(GOLDEN, 'image_200x150.png');
    const api = join(tmp, 'api');
    const cli = join(tmp, 'cli');
    mkdirSync(cli);
    const ex = await ok('node', ['embed-node.mjs', weights, config, image, CLICK, frames, api], app);
    expect(ex.out).toContain('frame 2:');
    const bin = join(app, 'node_modules', '.bin', 'robotseg');
    const m = ['--weights', weights, '--config', config];
    await ok(bin, ['segment', image, ...m, '--point', CLICK, '--out', join(cli, 'image.png')], app);
    await ok(bin, ['track', frames, ...m, '--point', `0:${CLICK}`, '--out', join(cli, 'frames')], app);
    const pairs = [['image.png'], ...[0, 1, 2].map((i) => ['frames', `video_frame${i}.png`])];
    for (const p of pairs) {
      const a = pixels(join(api, ...p));
      expect(a.some((v) => v === 255)).toBe(true); // a real mask, not an empty one
      expect(Buffer.from(a).equals(Buffer.from(pixels(join(cli, ...p)))), p.join('/')).toBe(true);
    }
  });

  it('npx robotseg --version [--verbose] and npx robotseg info', { timeout: 300_000 }, async () => {
    expect((await ok('npx', ['robotseg', '--version'], app)).out.trim()).toBe(PKG.version);
    const verbose = (await ok('npx', ['robotseg', '--version', '--verbose'], app)).out;
    expect(verbose.split('\n')[0]).toBe(PKG.version);
    expect(verbose).toMatch(/adapter: .+\n.*backend: /);
    expect((await ok('npx', ['robotseg', 'info'], app)).out).toMatch(/adapter: .+[\s\S]*limits:/);
  });

  it('exports the public API per host and hides internal modules', async () => {
    const keys = async (conditions: string[]) =>
      JSON.parse(
        (
          await ok(
            'node',
            [...conditions, '-e', "import('robotseg').then((m) => console.log(JSON.stringify(Object.keys(m))))"],
            app,
          )
        ).out,
      ) as string[];
    const node = await keys([]);
    expect(NODE_API.filter((n) => !node.includes(n))).toEqual([]);
    expect(node).not.toContain('createBrowserRuntime');
    const browser = await keys(['--conditions=browser']);
    expect(BROWSER_API.filter((n) => !browser.includes(n))).toEqual([]);
    expect(browser).not.toContain('createNodeRuntime');
    const internal = await run('node', ['-e', "import('robotseg/dist/src/graph/tensor.js')"], app);
    expect(internal.code).not.toBe(0);
    expect(internal.err).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('TypeScript users compile with --strict (node and bundler resolution); Vite builds the bundler example', {
    timeout: 600_000,
  }, async () => {
    cpSync(join(ROOT, 'test', 'package', 'project'), join(app, 'types'), { recursive: true });
    cpSync(join(ROOT, 'examples', 'embed-vite'), join(app, 'web'), { recursive: true });
    const tsc = join(app, 'node_modules', '.bin', 'tsc');
    await Promise.all([
      ok(tsc, ['-p', join(app, 'types', 'tsconfig.json')], app),
      ok(tsc, ['-p', join(app, 'web', 'tsconfig.json')], app),
    ]);
    await ok(join(app, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], join(app, 'web'));
    const assets = join(app, 'web', 'dist', 'assets');
    const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
    const code = js.map((f) => readFileSync(join(assets, f), 'utf8')).join('\n');
    expect(code).toContain('@compute'); // the shaders are in the bundle
    expect(code).toContain('navigator.gpu');
  });

  it.skipIf(!existsSync(CHROMIUM) && process.env.CI !== 'true')(
    'the Chromium demo test passes with the page built against the installed package',
    { timeout: 600_000 },
    async () => {
      const engine = join(app, 'node_modules', 'robotseg');
      const report = join(tmp, 'browser-report.json');
      const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
      const args = [vitest, 'run', 'test/browser/demo.test.ts', '-t', BROWSER_CASES];
      await ok('node', [...args, '--reporter=json', `--outputFile=${report}`], ROOT, 590_000, {
        ROBOTSEG_WEB_ENGINE: engine,
      });
      // the cases ran (none skipped: a missing Chromium fails under CI=true) and passed
      const r = JSON.parse(readFileSync(report, 'utf8')) as {
        numPassedTests: number;
        numFailedTests: number;
        testResults: Array<{ assertionResults: Array<{ title: string; status: string }> }>;
      };
      const ran = r.testResults.flatMap((f) => f.assertionResults).filter((a) => a.status !== 'skipped');
      expect(ran.map((a) => [a.title.split(':')[0], a.status])).toEqual([
        ['image', 'passed'],
        ['automatic mode', 'passed'],
      ]);
      expect(r.numFailedTests).toBe(0);
      // the page was built from the installed copy (the demo test checks its module list)
      const stats = JSON.parse(readFileSync(join(ROOT, 'test-artifacts', 'browser-package', 'stats.json'), 'utf8'));
      expect(stats.engine).toMatchObject({ engine });
    },
  );
});
