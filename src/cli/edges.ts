// `robotseg edges IMAGE --out EDGES.png [--low L --high H] [--blur SIGMA] [--robotseg [--size N] [--stretch]]`
//
// Default: OpenCV's Canny on the GPU, with cv2.Canny(cv2.cvtColor(img, RGB2GRAY), low, high,
// apertureSize=3, L2gradient=False) semantics (bit-exact): gray 0..255, 3x3 Sobel, L1 magnitude,
// thresholds in those units (defaults 100 / 200, as in OpenCV's examples), no blur unless --blur SIGMA
// (= cv2.GaussianBlur(gray, (0,0), SIGMA) first). Writes a 0/255 PNG at the image size.
//
// --robotseg: the map RobotSeg's SEMA uses: the image as the model sees it (RGB/255, bilinear
// antialiased resize to SIZE x SIZE, ImageNet mean/std), the fork's `_safe_to_gray`, kornia canny's
// first output (NMS-thinned L2 magnitude after a 5x5 sigma-1 blur), clamped to [0, 1], times 255.
// Thresholds and hysteresis do not change that map, so --low/--high/--blur are refused with it.
import type { Command } from 'commander';
import type { RgbImage } from '../image/rgb.js';
import type { Runtime } from '../graph/runtime.js';
import { cannyBands, DEFAULT_THRESHOLDS } from '../kernels/canny.js';
import { robotsegImageEdgeMap } from '../model/sema.js';
import { readImage, writeMaskPng } from '../node/image_io.js';
import { cliRuntime, UserError } from './errors.js';
import { checkDistinct, checkInputFile, checkOutputFile } from '../node/paths.js';

interface EdgesOpts {
  out: string;
  low?: string;
  high?: string;
  blur?: string;
  robotseg?: boolean;
  size: string;
  stretch?: boolean;
}

function num(name: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UserError(`${name} ${v}: not a number`);
  return x;
}

export function registerEdges(program: Command): void {
  const { low, high } = DEFAULT_THRESHOLDS.opencv;
  program
    .command('edges')
    .description(
      "Canny edge map of an image on the GPU (OpenCV cv2.Canny semantics; --robotseg for RobotSeg's SEMA map)",
    )
    .argument('<image>', 'input PNG or JPEG')
    .requiredOption('--out <file>', 'output PNG (8-bit gray)')
    .option('--low <L>', `low threshold, in OpenCV units (L1 Sobel gradient of the 0-255 gray; default ${low})`)
    .option(
      '--high <H>',
      `high threshold (default ${high}); pixels above it start edges, weak pixels (> low) joined to them are kept`,
    )
    .option(
      '--blur <sigma>',
      'Gaussian blur before Canny, as cv2.GaussianBlur(gray, (0,0), sigma) (default: none, like cv2.Canny)',
    )
    .option(
      '--robotseg',
      "write RobotSeg's SEMA edge map instead (kornia canny NMS magnitude of the normalised model input, clamped to [0,1], x255)",
    )
    .option(
      '--size <N>',
      'with --robotseg: model input size, the image is resized to N x N as RobotSeg does (0 keeps the image size)',
      '1024',
    )
    .option(
      '--stretch',
      'with --robotseg: scale the map so its maximum is 255 (the raw map is dark: about 0.05 at most on normal images)',
    )
    .action(async (image: string, opts: EdgesOpts) => {
      if (opts.robotseg && (opts.low !== undefined || opts.high !== undefined || opts.blur !== undefined)) {
        throw new UserError(
          '--low/--high/--blur do not apply to --robotseg: its map is the NMS magnitude, which thresholds and hysteresis do not change (and the 5x5 sigma-1 blur is fixed)',
        );
      }
      if (!opts.robotseg && opts.stretch) throw new UserError('--stretch applies to --robotseg only');
      const lo = opts.low !== undefined ? num('--low', opts.low) : low;
      const hi = opts.high !== undefined ? num('--high', opts.high) : high;
      let blur: number | undefined;
      if (opts.blur !== undefined) {
        blur = num('--blur', opts.blur);
        if (!(blur > 0 && blur <= 100)) throw new UserError(`--blur ${opts.blur}: sigma must be in (0, 100]`);
      }
      const size = num('--size', opts.size);
      if (!Number.isInteger(size) || size < 0 || size > 8192)
        throw new UserError(`--size ${opts.size}: must be an integer in [0, 8192]`);

      checkInputFile('image', image);
      checkOutputFile('--out', opts.out);
      checkDistinct([{ what: 'the image', path: image }], [{ what: '--out', path: opts.out }]);
      let img: RgbImage;
      try {
        const d = readImage(image);
        for (const w of d.warnings) process.stderr.write(`warning: ${w}\n`);
        img = d;
      } catch (e) {
        throw new UserError((e as Error).message);
      }
      const rt = await cliRuntime();
      try {
        const { width, height, values, summary } = opts.robotseg
          ? await robotsegMap(rt, img, size, !!opts.stretch)
          : await opencvEdges(rt, img, lo, hi, blur);
        writeMaskPng(opts.out, width, height, values, 1); // errno errors: one line, exit 2 (main.ts)
        process.stdout.write(`${opts.out}: ${width}x${height}, ${summary}\n`);
      } finally {
        rt.destroy();
      }
    });
}

async function opencvEdges(rt: Runtime, img: RgbImage, low: number, high: number, blur?: number) {
  // in bands of rows that fit the binding limit (photos of any size; one band for small images)
  const { edges, bands, runs } = await cannyBands(rt, img, { low, high, blur });
  let n = 0;
  for (let i = 0; i < edges.length; i++) if (edges[i]) n++;
  const how = bands > 1 ? `${bands} bands, ${runs} hysteresis band runs` : 'one band';
  return { width: img.width, height: img.height, values: edges, summary: `${n} edge pixels (${how})` };
}

async function robotsegMap(rt: Runtime, img: RgbImage, size: number, stretch: boolean) {
  const [h, w] = size > 0 ? [size, size] : [img.height, img.width];
  if (size === 0 && 12 * h * w > rt.maxBinding)
    throw new UserError(
      `--size 0: the full-resolution map of a ${w}x${h} image needs ${12 * h * w}-byte bindings, over this adapter's limit ${rt.maxBinding}; use --size N (e.g. the default 1024)`,
    );
  // banded upload and resize inside: photos of any size
  const edges = robotsegImageEdgeMap(rt, img, size);
  const map = await rt.read(edges);
  edges.dispose();
  let max = 0;
  for (const v of map) max = Math.max(max, v);
  const scale = stretch && max > 0 ? 255 / max : 255;
  const values = Float32Array.from(map, (v) => v * scale);
  return { width: w, height: h, values, summary: `edge map max ${max.toPrecision(4)} (x${scale.toPrecision(4)})` };
}
