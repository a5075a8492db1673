// The demo page (web/) in a real browser: Debian's Chromium, headless, WebGPU on SwiftShader, driven
// by playwright-core; the page is built with Vite and served from 127.0.0.1 together with the golden
// fixtures. It loads the reduced golden weights by URL, then
//   - image: clicks (left, right) and a box drag on the golden image;
//   - video: opens the 3 golden frames (file picker), reloads the weights as a .pt through the weights
//     file picker, clicks on frame 0, tracks the 3 frames;
//   - webcam: Chromium's fake camera plays the golden frames (a .y4m written here); the page streams
//     them live (VideoPredictor.push) with a click on the current frame, recording the RGB of every
//     frame it pushed, and the Node engine replays the same pushes and prompt;
//   - automatic mode: RobotSeg golden weights (SAM part + RobotSeg additions, one safetensors file
//     written here) enable the target selector; 'Find' on the golden image (RobotSeg's add_new_robot on
//     a one-frame video) matches VideoPredictor.addTarget in Node;
// and every result the page reports (window.__robotseg) must equal the Node engine's (lavapipe) on
// the same inputs and prompts. Screenshots go to test-artifacts/browser/ (CI keeps them).
//
// Tolerances: the two adapters (SwiftShader in Chromium, lavapipe in Node) run the same WGSL but
// compile and round differently (fma contraction, exp/erf approximations): low-res logits within
// 1e-4 absolute, binary masks at the image size with IoU >= 0.999 (a pixel whose logit is within
// rounding of 0 may flip), IoU / object scores within 1e-4.
//
// Engine: the page imports the TypeScript sources (src/browser) unless ROBOTSEG_WEB_ENGINE says otherwise
// (web/vite.config.ts): `dist` (the repo's build) or the folder of an installed package, which
// test/package/consumer.test.ts passes to run this file against the packed tarball. The build's module
// list is checked: the engine comes from there and nothing from src/. Screenshots of such a run go to
// test-artifacts/browser-package/.
//
// Chromium: /usr/bin/chromium (apt-get install chromium) or ROBOTSEG_CHROMIUM. Without it the test
// skips with a message, except under CI=true, where it fails.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/image/rgb.js';
import { ImagePredictor } from '../../src/model/image_predictor.js';
import type { SAM2 } from '../../src/model/sam2.js';
import { VideoPredictor } from '../../src/model/video_predictor.js';
import { readImage } from '../../src/node/image_io.js';
import { GOLDEN, goldenModel } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { robotsegGoldenModel } from '../helpers/robotseg.js';
import { goldenPtBytes, robotsegGoldenSafetensors } from './golden_files.js';
import { serveStatic, type StaticServer } from './server.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const ENGINE = process.env.ROBOTSEG_WEB_ENGINE || 'src';
const ENGINE_DIR =
  ENGINE === 'src' ? join(ROOT, 'src') : ENGINE === 'dist' ? join(ROOT, 'dist', 'src') : resolve(ENGINE);
const ARTIFACTS = join(
  ROOT,
  'test-artifacts',
  ENGINE === 'src' ? 'browser' : `browser-${ENGINE === 'dist' ? 'dist' : 'package'}`,
);
const CHROMIUM = process.env.ROBOTSEG_CHROMIUM ?? '/usr/bin/chromium';
const CI = process.env.CI === 'true';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (CI)
    throw new Error(
      `CI=true but ${CHROMIUM} is missing: the browser test needs Debian's chromium (apt-get install chromium)`,
    );
  console.warn(
    `[browser test skipped] ${CHROMIUM} not found: apt-get install chromium (or set ROBOTSEG_CHROMIUM) to run it`,
  );
}
const rt = haveChromium ? await testRuntime() : null;

const LOGIT_ATOL = 1e-4;
const MIN_IOU = 0.999;
const SCORE_ATOL = 1e-4;
const G = '/fixtures/golden/';
const FRAMES = [0, 1, 2].map((i) => join(GOLDEN, `video_frame${i}.png`));

/** A .y4m clip (I420, 5 fps) of RGB frames, for Chromium's --use-file-for-fake-video-capture. */
function writeY4m(path: string, frames: RgbImage[]): void {
  const { width: w, height: h } = frames[0];
  const parts: Buffer[] = [Buffer.from(`YUV4MPEG2 W${w} H${h} F5:1 Ip A1:1 C420jpeg\n`)];
  const cw = Math.ceil(w / 2);
  const ch = Math.ceil(h / 2);
  for (const f of frames) {
    const y = Buffer.alloc(w * h);
    const u = Buffer.alloc(cw * ch);
    const v = Buffer.alloc(cw * ch);
    const px = (x: number, yy: number) =>
      f.data.subarray(
        3 * (Math.min(yy, h - 1) * w + Math.min(x, w - 1)),
        3 * (Math.min(yy, h - 1) * w + Math.min(x, w - 1)) + 3,
      );
    for (let yy = 0; yy < h; yy++)
      for (let x = 0; x < w; x++) {
        const [r, g, b] = px(x, yy);
        y[yy * w + x] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      }
    for (let yy = 0; yy < ch; yy++) {
      for (let x = 0; x < cw; x++) {
        let r = 0,
          g = 0,
          b = 0;
        for (const [dx, dy] of [
          [0, 0],
          [1, 0],
          [0, 1],
          [1, 1],
        ]) {
          const p = px(2 * x + dx, 2 * yy + dy);
          r += p[0] / 4;
          g += p[1] / 4;
          b += p[2] / 4;
        }
        u[yy * cw + x] = Math.max(0, Math.min(255, Math.round(-0.168736 * r - 0.331264 * g + 0.5 * b + 128)));
        v[yy * cw + x] = Math.max(0, Math.min(255, Math.round(0.5 * r - 0.418688 * g - 0.081312 * b + 128)));
      }
    }
    parts.push(Buffer.from('FRAME\n'), y, u, v);
  }
  writeFileSync(path, Buffer.concat(parts));
}

interface Pt {
  x: number;
  y: number;
  label: number;
}
type Box = [number, number, number, number];
interface ImageReport {
  kind: 'image';
  prompt: { points: Pt[]; box: Box | null };
  multimask: boolean;
  best: number;
  iou: number[];
  objectScore: number;
  lowRes: Float32Array[];
  masks: Uint8Array[];
  decodeMs: number;
}
interface FrameReport {
  kind: 'frame';
  via: 'click' | 'track' | 'stream' | 'auto';
  category?: string;
  frame: number;
  objId: number;
  prompt: { points: Pt[]; box: Box | null } | null;
  lowRes: Float32Array;
  mask: Uint8Array;
  objectScore: number;
  ms: number;
}
type Report = ImageReport | FrameReport;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maskIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) inter++;
    if (a[i] || b[i]) union++;
  }
  return union === 0 ? 1 : inter / union;
}

function hashRgb(img: RgbImage): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < img.data.length; i++) h = Math.imul(h ^ img.data[i], 0x01000193);
  return (h >>> 0).toString(16);
}

/** Compare one page mask result with the engine's: logits, mask IoU; returns the numbers for the log. */
function compareMask(
  what: string,
  page: { lowRes: ArrayLike<number>; mask: ArrayLike<number> },
  node: { lowRes: Float32Array; mask: Uint8Array },
) {
  const d = maxAbsDiff(page.lowRes, node.lowRes);
  const iou = maskIou(page.mask, node.mask);
  expect(d, `${what}: max |low-res logit difference|`).toBeLessThanOrEqual(LOGIT_ATOL);
  expect(iou, `${what}: mask IoU`).toBeGreaterThanOrEqual(MIN_IOU);
  expect(
    node.mask.some((v) => v === 1),
    `${what}: empty mask (degenerate case)`,
  ).toBe(true);
  return { d, iou };
}

describe.skipIf(!haveChromium || !rt)(
  'demo page in headless Chromium (WebGPU on SwiftShader) vs the Node engine',
  () => {
    let server: StaticServer;
    let browser: Browser;
    let page: Page;
    let model: SAM2;
    let tmp: string;
    const consoleLines: string[] = [];
    const stats: Record<string, unknown> = {};
    const t0 = Date.now();

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      tmp = mkdtempSync(join(tmpdir(), 'robotseg-browser-'));
      const tb = Date.now();
      const { build } = await import('vite');
      // the source-tree page goes to web/dist (npm run web:build's place), any other to a temporary folder
      const outDir = ENGINE === 'src' ? join(ROOT, 'web', 'dist') : join(tmp, 'page');
      const built = await build({
        configFile: join(ROOT, 'web', 'vite.config.ts'),
        logLevel: 'warn',
        build: { outDir, emptyOutDir: true },
      });
      stats.buildMs = Date.now() - tb;
      // which engine the page was built from: every engine module from ENGINE_DIR, none from src/ otherwise
      const ids = (Array.isArray(built) ? built : [built]).flatMap((o) =>
        'output' in o ? o.output.flatMap((c) => (c.type === 'chunk' ? c.moduleIds : [])) : [],
      );
      const engineIds = ids.filter((id) => id.startsWith(ENGINE_DIR + sep));
      stats.engine = { engine: ENGINE, modules: engineIds.length };
      expect(engineIds.length, `modules from ${ENGINE_DIR}`).toBeGreaterThan(30);
      expect(engineIds.some((id) => /[\\/]browser[\\/]index\.(ts|js)$/.test(id))).toBe(true);
      if (ENGINE !== 'src') expect(ids.filter((id) => id.startsWith(join(ROOT, 'src') + sep))).toEqual([]);
      server = await serveStatic({
        '/': outDir,
        '/fixtures/': join(ROOT, 'test', 'fixtures'),
        '/tmp/': tmp,
      });
      writeFileSync(join(tmp, 'golden.pt'), await goldenPtBytes());
      writeFileSync(join(tmp, 'robotseg.safetensors'), await robotsegGoldenSafetensors());
      const y4m = join(tmp, 'fake-camera.y4m');
      writeY4m(
        y4m,
        FRAMES.map((f) => readImage(f)),
      );
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // a fresh profile per launch (playwright's default); no network: keep Chromium from trying.
        // The fake camera plays fake-camera.y4m in a loop and is granted without a prompt.
        args: [
          '--enable-unsafe-webgpu',
          '--no-sandbox',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          '--disable-quic',
          '--use-fake-device-for-media-stream',
          '--use-fake-ui-for-media-stream',
          `--use-file-for-fake-video-capture=${y4m}`,
        ],
      });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
      model = await goldenModel(rt!);
    }, 180_000);

    afterAll(async () => {
      stats.totalMs = Date.now() - t0;
      if (existsSync(ARTIFACTS)) {
        writeFileSync(join(ARTIFACTS, 'console.log'), consoleLines.join('\n') + '\n');
        writeFileSync(join(ARTIFACTS, 'stats.json'), JSON.stringify(stats, null, 2) + '\n');
      }
      const cmps = ['imageCompare', 'videoCompare', 'streamCompare', 'autoCompare'].flatMap(
        (k) => (stats[k] as Array<{ d: number; iou: number }> | undefined) ?? [],
      );
      const worst = cmps.length
        ? `; ${cmps.length} masks, max low-res logit diff ${Math.max(...cmps.map((c) => c.d)).toExponential(2)}, min IoU ${Math.min(...cmps.map((c) => c.iou))}`
        : '';
      console.log(
        `browser test: ${((stats.totalMs as number) / 1000).toFixed(1)} s (vite build ${((stats.buildMs as number) / 1000).toFixed(1)} s)${worst}; details in ${relative(ROOT, ARTIFACTS)}/stats.json`,
      );
      await browser?.close();
      await server?.close();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    /** Wait for a page condition; fail at once with the page's error if it reports one. */
    async function waitFor(what: string, cond: string, timeout = 240_000): Promise<void> {
      const t = Date.now();
      const handle = await page.waitForFunction(
        `(() => { const h = window.__robotseg; return h && (h.errors.length > 0 || (${cond})); })()`,
        null,
        { timeout, polling: 100 },
      );
      await handle.dispose();
      const errors = await hooks<string[]>('errors');
      if (errors.length) {
        const err = errors.join('\n');
        await shot('error.png');
        throw new Error(`page error while waiting for ${what}: ${err}`);
      }
      stats[`wait ${what} ms`] = Date.now() - t;
    }

    const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
    const results = () =>
      page.evaluate(() => (window as unknown as { __robotseg: { results: Report[] } }).__robotseg.results);
    const hooks = <T>(key: string) =>
      page.evaluate(
        (k) => (window as unknown as { __robotseg: Record<string, unknown> }).__robotseg[k],
        key,
      ) as Promise<T>;

    /** Page position of an image pixel on the canvas. */
    async function at(x: number, y: number, w: number, h: number): Promise<[number, number]> {
      const box = (await page.locator('#view').boundingBox())!;
      return [box.x + (x * box.width) / w, box.y + (y * box.height) / h];
    }

    it('image: left click, right click and a box on the golden image match the Node engine', async () => {
      await page.goto(
        `${server.url}/?weights=${G}weights.safetensors&config=${G}config.json&image=${G}image_200x150.png`,
      );
      await waitFor('image encoded', 'h.encoded >= 1');
      const src = await hooks<{ width: number; height: number; rgbHash: string[] }>('source');
      const img = readImage(join(GOLDEN, 'image_200x150.png'));
      expect(src.rgbHash[0], 'the page decodes the PNG to the same RGB bytes as Node').toBe(hashRgb(img));
      const adapter = await hooks<{
        architecture: string;
        software: boolean;
        features: string[];
        maxStorageBuffersPerShaderStage: number;
      }>('adapter');
      stats.adapter = adapter;
      const weights = await hooks<{ tensors: number; config: string }>('weights');
      expect(weights.tensors).toBe(371);
      expect(weights.config).toBe('sam2.1_hiera_reduced_test');
      // automatic mode needs RobotSeg heads: disabled, with the reason as tooltip
      expect(await page.locator('#auto-target').isDisabled()).toBe(true);
      expect(await page.locator('#mode-auto').isDisabled()).toBe(true);
      expect(await page.locator('#auto-wrap').getAttribute('title')).toBe('needs RobotSeg weights');
      await shot('image-loaded.png');

      // 1. left click at (90, 82.5) (the golden click), 2. right click (background) at (20, 135),
      // 3. a box dragged from (30, 30) to (170, 120)
      await page.mouse.click(...(await at(90, 82.5, 200, 150)));
      await waitFor('image click', 'h.results.length >= 1');
      await shot('image-click.png');
      await page.mouse.click(...(await at(20, 135, 200, 150)), { button: 'right' });
      await waitFor('image right click', 'h.results.length >= 2');
      await shot('image-click-right.png');
      await page.mouse.move(...(await at(30, 30, 200, 150)));
      await page.mouse.down();
      await page.mouse.move(...(await at(100, 80, 200, 150)), { steps: 3 });
      await page.mouse.move(...(await at(170, 120, 200, 150)), { steps: 3 });
      await page.mouse.up();
      await waitFor('image box', 'h.results.length >= 3');
      await shot('image-box.png');
      stats.imageTimings = await hooks('timings');

      const got = (await results()) as ImageReport[];
      expect(got.map((r) => r.kind)).toEqual(['image', 'image', 'image']);
      expect(got[0].lowRes[0]).toBeInstanceOf(Float32Array); // playwright passes typed arrays through
      // the page turned the clicks into these prompts (canvas pixels -> image pixels)
      const p0 = got[0].prompt.points;
      expect(p0).toHaveLength(1);
      expect(Math.abs(p0[0].x - 90) + Math.abs(p0[0].y - 82.5)).toBeLessThan(0.5);
      expect(p0[0].label).toBe(1);
      expect(got[1].prompt.points.map((p) => p.label)).toEqual([1, 0]);
      expect(got[2].prompt.box).not.toBeNull();
      got[2].prompt.box!.forEach((v, i) => expect(Math.abs(v - [30, 30, 170, 120][i])).toBeLessThan(0.5));

      const pred = new ImagePredictor(rt!, model);
      pred.setImage(img);
      const cmp: unknown[] = [];
      for (const [k, r] of got.entries()) {
        const mine = await pred.predict({ points: r.prompt.points, box: r.prompt.box ?? undefined });
        expect(r.multimask).toBe(mine.multimask);
        expect(r.lowRes.length).toBe(mine.lowRes.length);
        expect(maxAbsDiff(r.iou, mine.iou), `prompt ${k}: predicted IoUs`).toBeLessThanOrEqual(SCORE_ATOL);
        expect(Math.abs(r.objectScore - mine.objectScore)).toBeLessThanOrEqual(SCORE_ATOL);
        for (let m = 0; m < mine.lowRes.length; m++)
          cmp.push(
            compareMask(
              `image prompt ${k} mask ${m}`,
              { lowRes: r.lowRes[m], mask: r.masks[m] },
              { lowRes: mine.lowRes[m], mask: mine.masks[m] },
            ),
          );
        expect(r.best).toBe(mine.best);
      }
      pred.dispose();
      stats.imageCompare = cmp;
    }, 300_000);

    it('video: 3 golden frames (file picker), a click on frame 0 and tracking match the Node engine', async () => {
      const before = (await results()).length;
      await page.locator('#open-file').setInputFiles(FRAMES);
      await waitFor('frames opened', "h.source && h.source.kind === 'frames'");
      const src = await hooks<{ frames: number; rgbHash: string[] }>('source');
      const imgs = FRAMES.map((f) => readImage(f));
      expect(src.frames).toBe(3);
      expect(src.rgbHash).toEqual(imgs.map(hashRgb));
      // the same weights as a .pt checkpoint through the file picker (random access on the File)
      await page.locator('#weights-file').setInputFiles(join(tmp, 'golden.pt'));
      await waitFor('weights from the .pt file', "h.weights && h.weights.format === 'pt' && h.status === 'ready'");
      expect(await hooks<{ name: string; tensors: number }>('weights')).toMatchObject({
        name: 'golden.pt',
        tensors: 371,
      });
      await page.mouse.click(...(await at(90, 82.5, 200, 150)));
      await waitFor('frame 0 click', `h.results.length >= ${before + 1}`);
      await shot('video-click-frame0.png');
      await page.click('#track');
      await waitFor('tracking 3 frames', `h.results.filter((r) => r.via === 'track').length >= 3`);
      stats.videoTimings = await hooks('timings');
      for (let f = 0; f < 3; f++) {
        await page.locator('#frame-slider').fill(String(f));
        await shot(`video-frame${f}.png`);
      }

      const got = (await results()).slice(before) as FrameReport[];
      const click = got.find((r) => r.via === 'click')!;
      const tracked = got.filter((r) => r.via === 'track');
      expect(click.frame).toBe(0);
      expect(click.prompt!.points).toHaveLength(1);
      expect(tracked.map((r) => r.frame)).toEqual([0, 1, 2]);

      const vp = new VideoPredictor(rt!, model, {
        numFrames: 3,
        width: imgs[0].width,
        height: imgs[0].height,
        frame: async (i) => imgs[i],
      });
      const cmp: unknown[] = [];
      const first = await vp.addPoints(0, 1, { points: click.prompt!.points });
      cmp.push(compareMask('frame 0 click', click, first));
      expect(Math.abs(click.objectScore - first.objectScore)).toBeLessThanOrEqual(SCORE_ATOL);
      let k = 0;
      for await (const { frame, results: rs } of vp.propagate()) {
        const r = tracked[k++];
        expect(r.frame).toBe(frame);
        expect(rs).toHaveLength(1);
        cmp.push(compareMask(`tracked frame ${frame}`, r, rs[0]));
        expect(Math.abs(r.objectScore - rs[0].objectScore), `frame ${frame} object score`).toBeLessThanOrEqual(
          SCORE_ATOL,
        );
      }
      expect(k).toBe(3);
      vp.reset();
      stats.videoCompare = cmp;
    }, 300_000);
    it('webcam: live streaming (push) with a click on the current frame matches the Node engine replaying it', async () => {
      const before = (await results()).length;
      await page.evaluate(() => {
        (window as unknown as { __robotseg: { recordStream: boolean } }).__robotseg.recordStream = true;
      });
      await page.click('#webcam');
      await waitFor('first live frame', "h.source && h.source.kind === 'webcam' && h.framesShown >= 2");
      const src = await hooks<{ kind: string; width: number; height: number }>('source');
      expect(src.kind).toBe('webcam');
      await page.mouse.click(...(await at(90, 82.5, src.width, src.height)));
      // two live frames after the prompted one, then pause
      await waitFor('2 live frames after the click', `h.results.filter((r) => r.via === 'stream').length >= 2`);
      await page.click('#play');
      await page.evaluate(() => (window as unknown as { __robotseg: { idle(): Promise<void> } }).__robotseg.idle());
      await shot('webcam-live.png');
      stats.streamTimings = await hooks('timings');

      type Ev =
        | { type: 'push'; frame: number; width: number; height: number; rgbBase64: string }
        | { type: 'prompt'; frame: number; objId: number; points: Pt[]; box: Box | null };
      const events = await hooks<Ev[]>('stream');
      const got = ((await results()).slice(before) as FrameReport[]).filter(
        (r) => r.via === 'stream' || r.via === 'click',
      );
      expect(events.filter((e) => e.type === 'prompt')).toHaveLength(1);
      const first = events.find((e) => e.type === 'push') as Extract<Ev, { type: 'push' }>;
      const vp = new VideoPredictor(rt!, model, {
        numFrames: null,
        width: first.width,
        height: first.height,
        frame: async () => {
          throw new Error('gone');
        },
      });
      const cmp: unknown[] = [];
      let k = 0;
      for (const e of events) {
        if (e.type === 'push') {
          const img: RgbImage = {
            width: e.width,
            height: e.height,
            data: new Uint8Array(Buffer.from(e.rgbBase64, 'base64')),
          };
          const { frame, results: rs } = await vp.push(img);
          expect(frame).toBe(e.frame);
          for (const r of rs) {
            const p = got[k++];
            expect([p.via, p.frame, p.objId]).toEqual(['stream', frame, r.objId]);
            cmp.push(compareMask(`live frame ${frame}`, p, r));
            expect(Math.abs(p.objectScore - r.objectScore)).toBeLessThanOrEqual(SCORE_ATOL);
          }
        } else {
          const r = await vp.addPoints(e.frame, e.objId, e.box ? { box: e.box } : { points: e.points });
          const p = got[k++];
          expect([p.via, p.frame]).toEqual(['click', e.frame]);
          cmp.push(compareMask(`live click on frame ${e.frame}`, p, r));
        }
      }
      expect(k).toBe(got.length);
      expect(got.filter((r) => r.via === 'stream').length).toBeGreaterThanOrEqual(2);
      vp.reset();
      stats.streamFrames = events.filter((e) => e.type === 'push').length;
      stats.streamCompare = cmp;
    }, 300_000);
    it('automatic mode: RobotSeg weights enable the target selector; Find on the golden image matches the Node engine', async () => {
      const before = (await results()).length;
      await page.fill('#weights-url', '/tmp/robotseg.safetensors');
      await page.fill('#config-url', '/fixtures/robotseg/config.json');
      await page.click('#load-url');
      await waitFor('RobotSeg weights', "h.weights && h.weights.hasRobotSeg && h.status === 'ready'");
      expect(await hooks<{ config: string }>('weights')).toMatchObject({ config: 'robotseg_hiera_reduced_test' });
      expect(await page.locator('#auto-target').isDisabled()).toBe(false);
      expect(
        await page.locator('#auto-target option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)),
      ).toEqual(['arm', 'gripper', 'robot']);
      await page.check('#mode-auto');
      await page.selectOption('#auto-target', 'robot');
      await page.locator('#open-file').setInputFiles(join(GOLDEN, 'image_200x150.png'));
      await waitFor('image opened', "h.source && h.source.kind === 'image'");
      await page.click('#auto-run');
      await waitFor(
        'automatic robot mask',
        `h.results.length >= ${before + 1} && h.results[h.results.length - 1].via === 'auto'`,
      );
      await shot('auto-robot.png');
      const got = (await results())
        .slice(before)
        .filter((r) => r.kind === 'frame' && r.via === 'auto') as FrameReport[];
      expect(got).toHaveLength(1);
      expect(got[0].category).toBe('robot');

      const robot = await robotsegGoldenModel(rt!);
      const img = readImage(join(GOLDEN, 'image_200x150.png'));
      const vp = new VideoPredictor(rt!, robot, {
        numFrames: 1,
        width: img.width,
        height: img.height,
        frame: async () => img,
      });
      const mine = await vp.addTarget(0, 1, 'robot');
      stats.autoCompare = [compareMask('automatic robot', got[0], mine)];
      expect(Math.abs(got[0].objectScore - mine.objectScore)).toBeLessThanOrEqual(SCORE_ATOL);
      vp.reset();
    }, 300_000);
  },
);
