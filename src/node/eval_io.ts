// Folder reading for `robotseg eval`: finds sequences in a prediction and a ground-truth folder and
// returns SequenceSpecs with file readers (src/eval/evaluate.ts does the scoring). Layouts:
//   DAVIS style   <seq>/<frame>.png              palette or 8-bit PNG, pixel value = object id
//   per-object    <seq>/<obj>/<frame>.png        obj = 000 | 001 | 002 (arm, gripper, robot) or
//                                                 the category name; one binary mask per PNG
// A DIR is one sequence (PNG files, or object folders) or a dataset root whose subfolders are
// sequences. A root holding `Annotations/` (DAVIS, VRS; `Annotations/480p` for DAVIS 2017) or
// `mask/` + `image/` (RoboEngine test) is read from that folder. Also the VRS and RoboEngine readers
// (images paired with masks) for model-driven evaluation.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { decodeLabelPng, type LabelMap } from '../eval/labels.js';
import { checkInputFile } from './paths.js';
import {
  EvalInputError,
  type Layout,
  type SequenceSpec,
  type VideoSample,
  categoryKey,
  isObjectDirName,
  isPngName,
  objectKey,
  pairFrames,
  sortFrames,
} from '../eval/layout.js';

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function list(dir: string): { files: string[]; dirs: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new EvalInputError(
      `cannot read folder '${dir}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const files: string[] = [];
  const dirs: string[] = [];
  for (const n of names) {
    if (n.startsWith('.')) continue;
    if (isDir(join(dir, n))) dirs.push(n);
    else files.push(n);
  }
  return { files: sortFrames(files), dirs: sortFrames(dirs) };
}

/** Read one mask PNG as a label map; every problem becomes an EvalInputError naming the file. */
export function readLabelFile(path: string): LabelMap {
  let bytes: Buffer;
  try {
    checkInputFile('mask', path); // never read a device or FIFO
  } catch (e) {
    throw new EvalInputError((e as Error).message);
  }
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new EvalInputError(
      `cannot read mask '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    return decodeLabelPng(bytes, path);
  } catch (e) {
    throw new EvalInputError((e as Error).message);
  }
}

/** Dataset roots: descend into Annotations/ (DAVIS, VRS) or mask/ (RoboEngine test). */
export function resolveMaskRoot(dir: string): string {
  const d = resolve(dir);
  if (!isDir(d)) throw new EvalInputError(`'${dir}' is not a folder`);
  const { files, dirs } = list(d);
  if (files.some(isPngName)) return d;
  if (dirs.includes('Annotations')) {
    const a = join(d, 'Annotations');
    return isDir(join(a, '480p')) ? join(a, '480p') : a;
  }
  if (dirs.includes('mask') && dirs.includes('image')) return join(d, 'mask');
  return d;
}

type Kind = { layout: Layout; objects: string[] } | { layout: 'root' };

/** What a folder is: a DAVIS-style sequence, a per-object sequence, or a dataset root. */
function classify(dir: string, force?: Layout): Kind {
  const { files, dirs } = list(dir);
  const pngs = files.filter(isPngName);
  if (force === 'davis') return pngs.length ? { layout: 'davis', objects: [] } : { layout: 'root' };
  const objDirs = dirs.filter(isObjectDirName);
  const objSeq =
    dirs.length > 0 && objDirs.length === dirs.length && objDirs.some((o) => list(join(dir, o)).files.some(isPngName));
  if (force === 'objects') return objSeq ? { layout: 'objects', objects: objDirs } : { layout: 'root' };
  if (pngs.length) return { layout: 'davis', objects: [] };
  if (objSeq) return { layout: 'objects', objects: objDirs };
  return { layout: 'root' };
}

export interface EvalFolders {
  /** True when the GT folder is a dataset root (several sequences). */
  dataset: boolean;
  gtRoot: string;
  predRoot: string;
  sequences: SequenceSpec[];
  /** Notes for stderr (extra prediction folders, …). */
  notes: string[];
}

export interface OpenOptions {
  /** Force the layout instead of guessing (a DAVIS dataset whose sequences are named 000, 001, …). */
  layout?: Layout;
  /** Only this object folder (RobotSeg `--category`): arm | gripper | robot | 3-digit folder. */
  category?: string;
}

/** Pair a prediction folder with a ground-truth folder and list the sequences to score. */
export function openEvalFolders(predDir: string, gtDir: string, opts: OpenOptions = {}): EvalFolders {
  const gtRoot = resolveMaskRoot(gtDir);
  const predRoot = resolve(predDir);
  if (!isDir(predRoot)) throw new EvalInputError(`prediction folder '${predDir}' is not a folder`);
  const notes: string[] = [];
  const only = opts.category ? categoryKey(opts.category) : undefined;
  const kind = classify(gtRoot, opts.layout);
  if (kind.layout !== 'root') {
    let name = basename(gtRoot);
    if (['Annotations', 'mask', '480p'].includes(name))
      name = basename(resolve(gtRoot, name === '480p' ? '../..' : '..'));
    return { dataset: false, gtRoot, predRoot, sequences: [sequence(name, gtRoot, predRoot, kind, only)], notes };
  }
  const { dirs } = list(gtRoot);
  const seqs: SequenceSpec[] = [];
  const missing: string[] = [];
  for (const s of dirs) {
    const k = classify(join(gtRoot, s), opts.layout);
    if (k.layout === 'root') {
      throw new EvalInputError(
        `ground-truth folder '${join(gtRoot, s)}' holds neither PNG masks nor object folders (000, 001, 002, arm, gripper, robot)`,
      );
    }
    if (!isDir(join(predRoot, s))) {
      missing.push(s);
      continue;
    }
    seqs.push(sequence(s, join(gtRoot, s), join(predRoot, s), k, only));
  }
  if (dirs.length === 0)
    throw new EvalInputError(`ground-truth folder '${gtRoot}' has no PNG masks and no sequence folders`);
  if (missing.length) {
    throw new EvalInputError(
      `prediction folder '${predRoot}' lacks ${missing.length} sequence(s) of the ground truth: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`,
    );
  }
  const extra = list(predRoot).dirs.filter((d) => !dirs.includes(d));
  if (extra.length)
    notes.push(
      `prediction folders without ground truth, not scored: ${extra.slice(0, 10).join(', ')}${extra.length > 10 ? ', …' : ''}`,
    );
  return { dataset: true, gtRoot, predRoot, sequences: seqs, notes };
}

function sequence(
  name: string,
  gtDir: string,
  predDir: string,
  kind: Kind & { layout: Layout },
  only?: string,
): SequenceSpec {
  const predFile = (dir: string, frame: string, what: string) => {
    const p = join(dir, frame);
    if (!existsSync(p)) throw new EvalInputError(`missing prediction for ${what} frame ${frame}: ${p} not found`);
    return readLabelFile(p);
  };
  if (kind.layout === 'davis') {
    const pk = classify(predDir);
    if (pk.layout === 'objects') {
      throw new EvalInputError(
        `sequence '${name}': the ground truth holds one label PNG per frame but the prediction '${predDir}' holds object folders; use the same layout for both`,
      );
    }
    return {
      name,
      layout: 'davis',
      frames: list(gtDir).files.filter(isPngName),
      objects: [],
      readGt: (frame) => readLabelFile(join(gtDir, frame)),
      readPred: (frame) => predFile(predDir, frame, `sequence '${name}'`),
    };
  }
  // per-object folders; prediction folders may use category names (robot) for 3-digit keys (002)
  let gtObjs = kind.objects.map((d) => ({ dir: d, key: objectKey(d) }));
  if (only) {
    gtObjs = gtObjs.filter((o) => o.key === only);
    if (gtObjs.length === 0) throw new EvalInputError(`sequence '${name}' has no ground-truth object folder ${only}`);
  }
  const { files: predFiles, dirs: predDirs } = list(predDir);
  const predByKey = new Map(predDirs.filter(isObjectDirName).map((d) => [objectKey(d), join(predDir, d)]));
  // A single selected object may be predicted straight into the sequence folder (PNG files).
  const flatPred = gtObjs.length === 1 && predFiles.some(isPngName) && !predByKey.has(gtObjs[0].key);
  const predPath = (key: string) => {
    if (flatPred) return predDir;
    const p = predByKey.get(key);
    if (!p) {
      throw new EvalInputError(
        `sequence '${name}': prediction folder '${predDir}' has no object folder ${key} ` +
          `(has: ${[...predByKey.keys()].join(', ') || 'none'}); score one object with --category`,
      );
    }
    return p;
  };
  const gtDirOf = new Map(gtObjs.map((o) => [o.key, join(gtDir, o.dir)]));
  return {
    name,
    layout: 'objects',
    frames: [],
    objects: gtObjs
      .map((o) => ({ key: o.key, frames: list(join(gtDir, o.dir)).files.filter(isPngName) }))
      .sort((a, b) => (a.key < b.key ? -1 : 1)),
    readGt: (frame, obj) => readLabelFile(join(gtDirOf.get(obj!)!, frame)),
    readPred: (frame, obj) => predFile(predPath(obj!), frame, `sequence '${name}' object ${obj}`),
  };
}

// ------------------------------------------------------------------ image + mask datasets

const IMAGE_RE = /\.(jpe?g|png)$/i;

/**
 * VRS layout: JPEGImages/<video>/*.jpg and Annotations/<video>/<000|001|002>/*.png (masks matched
 * to frames by file stem; frames without a mask are unannotated).
 */
export function readVrsDataset(root: string): VideoSample[] {
  const img = join(root, 'JPEGImages');
  const ann = join(root, 'Annotations');
  if (!isDir(img) || !isDir(ann))
    throw new EvalInputError(`'${root}' is not a VRS folder (needs JPEGImages/ and Annotations/)`);
  return list(img).dirs.map((v) => videoSample(v, join(img, v), join(ann, v)));
}

/**
 * RoboEngine test layout (as RobotSeg's test/inference_roboengine.py reads it): image/<seq>/<frame>
 * and mask/<seq>/<obj>/<frame>.png. Also RoboEngine's example folder: image_original.png with
 * image_mask_robot.png (robot, object 002).
 */
export function readRoboEngineTest(root: string): VideoSample[] {
  if (existsSync(join(root, 'image_original.png'))) {
    const frame = {
      name: 'image_original',
      image: join(root, 'image_original.png'),
      masks: {} as Record<string, string>,
    };
    if (existsSync(join(root, 'image_mask_robot.png'))) frame.masks['002'] = join(root, 'image_mask_robot.png');
    return [{ name: basename(resolve(root)), frames: [frame] }];
  }
  const img = join(root, 'image');
  const ann = join(root, 'mask');
  if (!isDir(img) || !isDir(ann))
    throw new EvalInputError(
      `'${root}' is not a RoboEngine test folder (needs image/ and mask/, or image_original.png)`,
    );
  return list(img).dirs.map((v) => videoSample(v, join(img, v), join(ann, v)));
}

function videoSample(name: string, imgDir: string, annDir: string): VideoSample {
  const images = list(imgDir).files.filter((f) => IMAGE_RE.test(f));
  const masks: Record<string, string[]> = {};
  if (isDir(annDir)) {
    const { files, dirs } = list(annDir);
    for (const d of dirs.filter(isObjectDirName)) masks[d] = list(join(annDir, d)).files.filter(isPngName);
    // DAVIS-style single-folder annotations count as one object (the robot, 002)
    if (dirs.length === 0 && files.some(isPngName)) masks['002'] = files.filter(isPngName);
  }
  const flat = !Object.keys(masks).some((k) => isDir(join(annDir, k)));
  return pairFrames(name, images, masks, (kind, file, obj) =>
    kind === 'image' ? join(imgDir, file) : flat ? join(annDir, file) : join(annDir, obj!, file),
  );
}

/**
 * The dataset of `robotseg eval DATASET`: a VRS folder (JPEGImages/ + Annotations/) or a RoboEngine
 * test folder (image/ + mask/, or RoboEngine's example image_original.png + image_mask_robot.png).
 * Throws EvalInputError naming what is missing.
 */
export function readModelDataset(root: string): { layout: 'vrs' | 'roboengine'; videos: VideoSample[] } {
  if (!isDir(root)) throw new EvalInputError(`dataset '${root}' is not a folder`);
  if (isDir(join(root, 'JPEGImages')) || isDir(join(root, 'Annotations')))
    return { layout: 'vrs', videos: readVrsDataset(root) };
  if (isDir(join(root, 'image')) || isDir(join(root, 'mask')) || existsSync(join(root, 'image_original.png'))) {
    return { layout: 'roboengine', videos: readRoboEngineTest(root) };
  }
  throw new EvalInputError(
    `dataset '${root}' is neither a VRS folder (JPEGImages/<video>/*.jpg and Annotations/<video>/<000|001|002>/*.png) ` +
      'nor a RoboEngine test folder (image/<seq>/ and mask/<seq>/<obj>/, or image_original.png with image_mask_robot.png)',
  );
}
