// `robotseg segment IMAGE --weights FILE [--config NAME|FILE] [--point X,Y[,LABEL]]... [--box X0,Y0,X1,Y1]
//   [--mask-input FILE] [--multimask|--no-multimask] [--out MASK.png] [--out-all PREFIX]
//   [--overlay FILE.png] [--save-tensors FILE.safetensors] [--refine]`
//
// SAM 2.1 image prediction (SAM2ImagePredictor: set_image + predict). Prompts are in original-image
// pixels; LABEL 1 = foreground (default), 0 = background. Multimask defaults to SAM 2's rule (3 masks
// for no prompt or one click, else 1). Outputs: --out the mask with the highest predicted IoU,
// --out-all PREFIX every returned mask in decoder order (PREFIX0.png, …), both 8-bit 0/255 PNGs at the
// image size; --overlay the best mask and the prompts over the image; --save-tensors low_res_logits
// [N, h, w] (clamped to ±32 like the official predictor), iou_scores [N], object_score_logits [1],
// logits [N, H, W]. --mask-input takes such a file: its best low_res_logits row is the mask prompt.
// --exif-rotate: apply the image's EXIF orientation first (PIL's ImageOps.exif_transpose); prompts,
// masks and the overlay are then in displayed pixels. Default off: the official code ignores EXIF.
// --refine: RobotSeg's guided-filter boundary refinement (src/model/refine.ts) of the written masks
// (not of --save-tensors). Everything the user can get wrong is checked before the GPU work starts
// (exit code 2, one line).
// RobotSeg weights (src/model/robotseg_image_predictor.ts): `--target robot|arm|gripper[,…]`; the image runs as a
// one-frame video; no prompt = automatic mode (default target robot); several targets are batched on
// one image-encoder pass and written as PREFIX<target>.png by --out-all (--out: the first target).
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { drawOverlay } from '../image/overlay.js';
import type { RgbImage } from '../image/rgb.js';
import { formatBytes } from '../graph/weights_io.js';
import {
  ImagePredictor,
  type ImagePrediction,
  type ImagePrompt,
  type Point,
  validatePrompt,
} from '../model/image_predictor.js';
import { argmax } from '../model/select.js';
import { readImage, writeMaskPng, writeRgbPng } from '../node/image_io.js';
import { loadOpenedModel, openModelWeights } from '../node/load_model.js';
import { writeSafetensorsFile } from '../node/safetensors_file.js';
import { openWeights } from '../node/weights_file.js';
import {
  checkFiniteOutput,
  cliRuntime,
  oneLine,
  PRECISION_HELP,
  parsePrecision,
  UserError,
  userErrors,
} from './errors.js';
import { checkDistinct, checkInputFile, checkOutputFile } from '../node/paths.js';
import { RobotSeg } from '../model/robotseg.js';
import { isRobotSegConfig } from '../model/robotseg_config.js';
import { RobotSegImagePredictor } from '../model/robotseg_image_predictor.js';
import { checkTargetPrompt, DEFAULT_TARGET, parseTargets } from './robot_targets.js';
import type { Runtime } from '../graph/runtime.js';
import type { SAM2 } from '../model/sam2.js';
import { RefineStats, guidedRefineDetailed } from '../model/refine.js';

interface SegmentOpts {
  precision?: string;
  weights: string;
  config?: string;
  point: string[];
  box?: string;
  maskInput?: string;
  multimask?: boolean;
  out?: string;
  outAll?: string;
  overlay?: string;
  saveTensors?: string;
  quiet?: boolean;
  target?: string;
  refine?: boolean;
  exifRotate?: boolean;
}

const collect = (v: string, acc: string[]) => [...acc, v];

export function registerSegment(program: Command): void {
  program
    .command('segment')
    .description('segment an image with SAM 2.1 from clicks, a box and/or a previous mask')
    .argument('<image>', 'input PNG or JPEG')
    .requiredOption('--weights <file>', 'checkpoint: .safetensors or official .pt')
    .option(
      '--config <name|file>',
      'model config: built-in name (sam2.1_hiera_t) or JSON file (default: embedded in the weights, else inferred)',
    )
    .option(
      '--point <x,y[,label]>',
      'click in image pixels; label 1 = foreground (default), 0 = background (repeatable)',
      collect,
      [],
    )
    .option('--box <x0,y0,x1,y1>', 'box in image pixels (one)', (v: string, prev?: string) => {
      if (prev !== undefined)
        throw new UserError(`--box '${v}': a second box (the first is '${prev}'); segment takes one box`);
      return v;
    })
    .option(
      '--mask-input <file>',
      'mask prompt: a .safetensors written by --save-tensors (its best low_res_logits row)',
    )
    .option('--multimask', 'return 3 masks (default: with no prompt or a single click)')
    .option('--no-multimask', 'return one mask')
    .option('--out <mask.png>', 'the mask with the highest predicted IoU (8-bit PNG, 0/255, image size)')
    .option('--out-all <prefix>', 'every returned mask in decoder order: PREFIX0.png, PREFIX1.png, …')
    .option('--overlay <file.png>', 'the best mask and the prompts drawn over the image')
    .option('--save-tensors <file>', 'low_res_logits, iou_scores, object_score_logits, logits as .safetensors')
    .option('--precision <p>', PRECISION_HELP)
    .option('--quiet', 'print nothing on success (no progress, no summary line)')
    .option(
      '--target <list>',
      'RobotSeg weights: robot, arm or gripper, comma-separated for several (default robot with no prompt)',
    )
    .option(
      '--refine',
      "RobotSeg's guided-filter boundary refinement of the written masks (--out, --out-all, --overlay)",
    )
    .option(
      '--exif-rotate',
      'apply the EXIF orientation tag (as a photo viewer shows the image); prompts and outputs are then in displayed pixels (default: ignored, as the official code)',
    )
    .action(async (image: string, opts: SegmentOpts) => {
      const summary = await runSegment(image, opts);
      if (!opts.quiet) process.stdout.write(`${summary}\n`); // --quiet: nothing at all on success
    });
}

// ----------------------------------------------------------------------------- argument parsing

function numbers(flag: string, v: string, counts: number[]): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (!counts.includes(parts.length))
    throw new UserError(`${flag} '${v}': expected ${counts.join(' or ')} comma-separated numbers`);
  return parts.map((s) => {
    const x = s === '' ? NaN : Number(s);
    if (!Number.isFinite(x)) throw new UserError(`${flag} '${v}': '${s}' is not a finite number`);
    return x;
  });
}

export function parsePoint(v: string): Point {
  const [x, y, label = 1] = numbers('--point', v, [2, 3]);
  if (label !== 0 && label !== 1)
    throw new UserError(`--point '${v}': label must be 1 (foreground) or 0 (background), got ${label}`);
  return { x, y, label };
}

export function parseBox(v: string): [number, number, number, number] {
  const [x0, y0, x1, y1] = numbers('--box', v, [4]);
  if (!(x1 > x0 && y1 > y0)) throw new UserError(`--box '${v}': empty or inverted box (need x1 > x0 and y1 > y0)`);
  return [x0, y0, x1, y1];
}

function checkWritable(flag: string, path: string | undefined): void {
  if (path !== undefined) checkOutputFile(flag, path);
}

const checkReadable = checkInputFile;

/** A --config argument that names a file (not a built-in name or JSON text), for the distinct-paths check. */
export function configFile(arg: string | undefined): string | undefined {
  return arg !== undefined && !arg.trimStart().startsWith('{') && existsSync(arg) ? arg : undefined;
}

/** The best low_res_logits row of a --save-tensors file: [h*w] and its side. */
export async function readMaskInput(path: string): Promise<{ logits: Float32Array; side: number; row: number }> {
  checkReadable('mask input', path);
  return userErrors(`--mask-input ${path}`, async () => {
    const f = await openWeights(path);
    try {
      const info = f.header.get('low_res_logits');
      if (!info)
        throw new UserError(`--mask-input ${path}: no 'low_res_logits' tensor (write one with --save-tensors)`);
      const [n, h, w] = info.shape;
      if (info.shape.length !== 3 || h !== w || n < 1)
        throw new UserError(`--mask-input ${path}: low_res_logits must be [N, h, h], got [${info.shape.join(', ')}]`);
      const all = await f.readTensor('low_res_logits');
      let row = 0;
      if (n > 1) {
        if (!f.header.has('iou_scores'))
          throw new UserError(`--mask-input ${path}: ${n} masks but no 'iou_scores' to pick the best`);
        const iou = await f.readTensor('iou_scores');
        if (iou.length !== n)
          throw new UserError(`--mask-input ${path}: iou_scores has ${iou.length} values for ${n} masks`);
        row = argmax(iou);
      }
      const logits = all.slice(row * h * w, (row + 1) * h * w);
      if (logits.some((v) => !Number.isFinite(v)))
        throw new UserError(`--mask-input ${path}: low_res_logits holds non-finite values`);
      return { logits, side: h, row };
    } finally {
      await f.close();
    }
  });
}

// ----------------------------------------------------------------------------------- the command

function log(quiet: boolean | undefined, s: string): void {
  if (!quiet) process.stderr.write(s);
}

/** Run the command; returns the summary line for stdout. User errors throw UserError. */
export async function runSegment(imagePath: string, opts: SegmentOpts): Promise<string> {
  // 1. arguments and paths (no file is read yet)
  const precision = parsePrecision(opts.precision);
  const points = opts.point.map(parsePoint);
  const targets = parseTargets(opts.target);
  const box = opts.box === undefined ? undefined : parseBox(opts.box);
  checkWritable('--out', opts.out);
  checkWritable('--out-all', opts.outAll && `${opts.outAll}0.png`);
  checkWritable('--overlay', opts.overlay);
  checkWritable('--save-tensors', opts.saveTensors);
  checkInputFile('image', imagePath);
  const outAll = opts.outAll
    ? [...[0, 1, 2].map(String), ...(targets ?? [DEFAULT_TARGET])].map((s) => ({
        what: '--out-all',
        path: `${opts.outAll}${s}.png`,
      }))
    : [];
  checkDistinct(
    [
      { what: 'the image', path: imagePath },
      { what: 'the weights', path: opts.weights },
      { what: '--mask-input', path: opts.maskInput },
      { what: '--config', path: configFile(opts.config) },
    ],
    [
      { what: '--out', path: opts.out },
      { what: '--overlay', path: opts.overlay },
      { what: '--save-tensors', path: opts.saveTensors },
      ...outAll,
    ],
  );
  if (!existsSync(opts.weights)) {
    throw new UserError(
      `cannot read weights '${opts.weights}': no such file (the official SAM 2.1 tiny checkpoint: bash scripts/get-weights.sh downloads and converts it into weights/)`,
    );
  }
  checkReadable('weights', opts.weights);

  // 2. the image and the prompt against it
  let img: RgbImage;
  try {
    const d = readImage(imagePath, { exifRotate: opts.exifRotate });
    for (const w of d.warnings) log(opts.quiet, `warning: ${w}\n`);
    if (d.orientation > 1 && !opts.exifRotate)
      log(
        opts.quiet,
        `note: ${imagePath} has EXIF orientation ${d.orientation}, ignored as the official code does (pixels as stored, ${d.width}x${d.height}); --exif-rotate applies it\n`,
      );
    img = d;
  } catch (e) {
    throw new UserError(oneLine((e as Error).message));
  }
  const prompt: ImagePrompt = { points, box, multimask: opts.multimask };
  try {
    validatePrompt(prompt, img.width, img.height);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const mask = opts.maskInput === undefined ? undefined : await readMaskInput(opts.maskInput);

  // 3. weights header + config (cheap), then the mask size against the config. The checkpoint is
  // opened once: it stays open for the upload in step 4.
  const opened = await userErrors(`weights ${opts.weights}`, () => openModelWeights(opts.weights, opts.config));
  let rt: Runtime | null = null;
  try {
    const { config } = opened;
    const robot = isRobotSegConfig(config);
    if (targets && !robot)
      throw new UserError(`--target needs RobotSeg weights; '${opts.weights}' is SAM 2.1 (config ${config.name})`);
    if (robot && (mask || opts.saveTensors || opts.multimask !== undefined))
      throw new UserError(
        'RobotSeg weights: --mask-input, --save-tensors and --(no-)multimask are SAM 2.1 image-predictor options (RobotSeg runs the image as a one-frame video)',
      );
    const wanted = targets ?? [DEFAULT_TARGET];
    if (robot) checkTargetPrompt(wanted, Boolean(points.length || box));
    const lowSide = (4 * config.image_size) / config.backbone_stride;
    if (mask) {
      if (mask.side !== lowSide)
        throw new UserError(
          `--mask-input ${opts.maskInput}: low_res_logits are ${mask.side}x${mask.side}, config '${config.name}' needs ${lowSide}x${lowSide}`,
        );
      prompt.maskInput = mask.logits;
    }

    // 4. GPU: runtime, weights, then the model's predictor
    const gpu = await cliRuntime({ precision }); // what to install is in the message
    rt = gpu;
    const t0 = performance.now();
    const tty = process.stderr.isTTY;
    const loaded = await userErrors(`weights ${opts.weights}`, () =>
      loadOpenedModel(gpu, opts.weights, opened, {
        precision,
        onProgress: tty ? (d, n) => log(opts.quiet, `\rloading weights: ${d}/${n} tensors`) : undefined,
      }),
    );
    log(
      opts.quiet,
      `${tty ? '\r' : ''}weights: ${loaded.store.entries.size} tensors, ${formatBytes(loaded.store.bytes)} (${loaded.format}), config ${config.name} (${opened.source}), loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    try {
      const seg =
        loaded.model instanceof RobotSeg
          ? await segmentRobotSeg(gpu, loaded.model, img, wanted, prompt, opts)
          : await segmentSam(gpu, loaded.model, img, prompt, opts);
      // 5. outputs: one path for both models
      if (opts.refine) {
        const stats = new RefineStats();
        for (const m of seg.masks) {
          const g = await guidedRefineDetailed(gpu, img, m.mask);
          m.mask = g.mask;
          stats.add(g.status);
        }
        log(opts.quiet, `${stats}\n`);
      }
      const written = await writeOutputs(img, prompt, seg, opts, { image: basename(imagePath), config: config.name });
      return `${basename(imagePath)} ${img.width}x${img.height}: ${seg.summary()}${written.length ? `; wrote ${written.join(', ')}` : ''}`;
    } finally {
      loaded.store.destroy();
    }
  } finally {
    await opened.file.close();
    rt?.destroy();
  }
}

/** What either model returns for the image, in the form the outputs are written from. */
interface Segmented {
  /** Masks at the image size: `name` is the --out-all suffix (decoder index or target). */
  masks: Array<{ name: string; mask: Uint8Array }>;
  /** Index of the mask --out writes. */
  best: number;
  /** Indices of the masks the overlay draws. */
  overlay: number[];
  /** --out-all's written-files label, e.g. `{0..2}` or `{robot,arm}`. */
  outAllLabel: string;
  /** The result line after `IMAGE WxH: ` (computed after --refine). */
  summary: () => string;
  /** SAM 2.1 only: the prediction for --save-tensors. */
  prediction?: ImagePrediction;
}

/** RobotSeg: the image as a one-frame video, one mask per target. */
async function segmentRobotSeg(
  rt: Runtime,
  model: RobotSeg,
  img: RgbImage,
  wanted: readonly string[],
  prompt: ImagePrompt,
  opts: SegmentOpts,
): Promise<Segmented> {
  const t1 = performance.now();
  const res = await new RobotSegImagePredictor(rt, model).predict(img, wanted, prompt);
  for (const r of res) {
    checkFiniteOutput(`the ${r.target} low-res logits`, r.result.lowRes);
    checkFiniteOutput(`the ${r.target} logits`, r.result.logits);
    checkFiniteOutput(`the ${r.target} object score`, [r.result.objectScore]);
  }
  const size = `${model.cfg.image_size}x${model.cfg.image_size}`;
  log(
    opts.quiet,
    `RobotSeg one-frame video, ${res.length} target${res.length > 1 ? 's' : ''}: ${(performance.now() - t1).toFixed(0)} ms (${size})\n`,
  );
  const masks = res.map((r) => ({ name: r.target, mask: r.result.mask }));
  return {
    masks,
    best: 0,
    overlay: masks.map((_, i) => i),
    outAllLabel: `{${res.map((r) => r.target).join(',')}}`,
    summary: () =>
      res
        .map((r, i) => `${r.target} ${count(masks[i].mask)} px (object score ${r.result.objectScore.toFixed(2)})`)
        .join(', '),
  };
}

/** SAM 2.1: set_image + predict, the decoder's masks in order, the highest predicted IoU first written. */
async function segmentSam(
  rt: Runtime,
  model: SAM2,
  img: RgbImage,
  prompt: ImagePrompt,
  opts: SegmentOpts,
): Promise<Segmented> {
  const pred = new ImagePredictor(rt, model);
  try {
    const t1 = performance.now();
    pred.setImage(img);
    await rt.sync();
    const tEnc = performance.now() - t1;
    const t2 = performance.now();
    const res = await pred.predict(prompt, undefined, { logits: !!opts.saveTensors });
    const tDec = performance.now() - t2;
    res.logits.forEach((l, i) => checkFiniteOutput(`logits of mask ${i}`, l));
    checkFiniteOutput('iou_scores', res.iou);
    checkFiniteOutput('object_score_logits', [res.objectScore]);
    const size = `${model.cfg.image_size}x${model.cfg.image_size}`;
    log(opts.quiet, `image encoder ${tEnc.toFixed(0)} ms (${size}), prompt + decoder ${tDec.toFixed(0)} ms\n`);
    const masks = res.masks.map((mask, i) => ({ name: String(i), mask }));
    const n = res.logits.length;
    return {
      masks,
      best: res.best,
      overlay: [res.best],
      outAllLabel: `{0..${masks.length - 1}}`,
      prediction: res,
      summary: () =>
        `${n} mask${n > 1 ? 's' : ''} (iou ${Array.from(res.iou, (v) => v.toFixed(3)).join(', ')}), best ${res.best}, ` +
        `${count(masks[res.best].mask)} px, object score ${res.objectScore.toFixed(2)}`,
    };
  } finally {
    pred.dispose();
  }
}

async function writeOutputs(
  img: RgbImage,
  prompt: ImagePrompt,
  seg: Segmented,
  opts: SegmentOpts,
  meta: Record<string, string>,
): Promise<string[]> {
  const { width: W, height: H } = img;
  const written: string[] = [];
  if (opts.out) {
    writeMaskPng(opts.out, W, H, seg.masks[seg.best].mask);
    written.push(opts.out);
  }
  if (opts.outAll) {
    for (const m of seg.masks) writeMaskPng(`${opts.outAll}${m.name}.png`, W, H, m.mask);
    written.push(`${opts.outAll}${seg.outAllLabel}.png`);
  }
  if (opts.overlay) {
    const drawn = seg.overlay.map((i) => seg.masks[i].mask);
    writeRgbPng(opts.overlay, drawOverlay(img, drawn, { points: prompt.points, box: prompt.box }));
    written.push(opts.overlay);
  }
  const res = seg.prediction;
  if (opts.saveTensors && res) {
    const n = res.logits.length;
    const [h, w] = res.lowResSize;
    const cat = (rows: Float32Array[]) => {
      const out = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
      let o = 0;
      for (const r of rows) {
        out.set(r, o);
        o += r.length;
      }
      return out;
    };
    const data: Record<string, Float32Array> = {
      low_res_logits: cat(res.lowRes),
      iou_scores: res.iou,
      object_score_logits: Float32Array.of(res.objectScore),
      logits: cat(res.logits),
    };
    const entries = [
      { name: 'low_res_logits', dtype: 'F32' as const, shape: [n, h, w] },
      { name: 'iou_scores', dtype: 'F32' as const, shape: [n] },
      { name: 'object_score_logits', dtype: 'F32' as const, shape: [1] },
      { name: 'logits', dtype: 'F32' as const, shape: [n, H, W] },
    ];
    const metadata = {
      ...meta,
      format: 'robotseg-segment',
      multimask: String(res.multimask),
      best: String(res.best),
      prompt: JSON.stringify({
        points: prompt.points ?? [],
        box: prompt.box ?? null,
        mask_input: Boolean(prompt.maskInput),
      }),
    };
    await writeSafetensorsFile(opts.saveTensors, entries, async (e) => data[e.name], { metadata });
    written.push(opts.saveTensors);
  }
  return written;
}

const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);
