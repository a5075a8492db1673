// Embedding robotseg in a web page built by a bundler (here Vite; esbuild, webpack and Rollup resolve the
// same `browser` entry). `npm install robotseg vite`, then `npx vite` (dev) or `npx vite build` (dist/).
// Open the page with ?weights=URL (a .safetensors or .pt checkpoint; default
// /sam2.1_hiera_tiny.safetensors from public/), optionally &config=NAME-or-URL and &image=URL. Click
// on the image to segment: left click = foreground, shift click = background.
// Needs WebGPU and a secure context (https or localhost).
// (test/package/consumer.test.ts type-checks this file with tsc --strict and builds it with Vite against
// the installed package.)
import {
  createBrowserRuntime,
  drawOverlay,
  type ImagePrediction,
  ImagePredictor,
  type LoadProgress,
  loadSam2,
  type Point,
  type RgbImage,
  rgbFromUrl,
  rgbToImageData,
} from 'robotseg';

const params = new URLSearchParams(location.search);
const weightsUrl = params.get('weights') ?? '/sam2.1_hiera_tiny.safetensors';
const imageUrl = params.get('image') ?? '/robot.jpg';
const status = document.querySelector<HTMLParagraphElement>('#status')!;
const canvas = document.querySelector<HTMLCanvasElement>('#view')!;

async function configArg(): Promise<string | undefined> {
  const c = params.get('config');
  // a built-in name (sam2.1_hiera_t) or the URL of a config JSON; none: from the checkpoint's metadata
  return c === null || !c.endsWith('.json') ? (c ?? undefined) : (await fetch(c)).text();
}

function show(image: RgbImage, result: ImagePrediction | null, points: Point[]): void {
  const drawn = result ? drawOverlay(image, [result.masks[result.best]], { points }) : image;
  canvas.getContext('2d')!.putImageData(rgbToImageData(drawn), 0, 0);
}

async function main(): Promise<void> {
  const rt = await createBrowserRuntime(); // navigator.gpu, limits at the adapter's maximum
  status.textContent = `adapter: ${rt.adapter.description || rt.adapter.vendor}`;
  const { model, source } = await loadSam2(rt, weightsUrl, {
    config: await configArg(),
    onProgress: (p: LoadProgress) => (status.textContent = `weights: ${p.phase} ${(100 * p.fraction).toFixed(0)} %`),
  });
  const image = await rgbFromUrl(imageUrl);
  canvas.width = image.width;
  canvas.height = image.height;
  const predictor = new ImagePredictor(rt, model);
  predictor.setImage(image); // the image encoder runs once
  show(image, null, []);
  status.textContent = `config from ${source}; click on the image`;

  const points: Point[] = [];
  canvas.addEventListener('click', async (ev: MouseEvent) => {
    const r = canvas.getBoundingClientRect();
    points.push({
      x: ((ev.clientX - r.left) * image.width) / r.width,
      y: ((ev.clientY - r.top) * image.height) / r.height,
      label: ev.shiftKey ? 0 : 1,
    });
    const t0 = performance.now();
    const result = await predictor.predict({ points });
    show(image, result, points);
    status.textContent = `${points.length} click(s): predicted IoU ${result.iou[result.best].toFixed(3)}, ${(performance.now() - t0).toFixed(0)} ms`;
  });
}

main().catch((e: unknown) => {
  status.textContent = `error: ${(e as Error).message}`;
  throw e;
});
