// Host-agnostic parts of the dataset readers: folder naming rules, frame selection, and the
// sequence description the evaluator consumes (the Node reader in src/node/eval_io.ts fills it).
import type { LabelMap } from './labels.js';

/** Bad or inconsistent input (missing frames, size mismatch, not a mask): the CLI prints it and exits 2. */
export class EvalInputError extends Error {}

/** RobotSeg / VRS object folders: category -> 3-digit folder (tools/benchmark.py category2dir). */
export const CATEGORY_DIRS: Readonly<Record<string, string>> = { arm: '000', gripper: '001', robot: '002' };
const DIR_CATEGORIES: Record<string, string> = Object.fromEntries(
  Object.entries(CATEGORY_DIRS).map(([k, v]) => [v, k]),
);

/** A per-object folder: 3 digits (SA-V / VRS) or a category name. */
export function isObjectDirName(name: string): boolean {
  return /^\d{3}$/.test(name) || name in CATEGORY_DIRS;
}

/** Folder name -> object key: category names map to their 3-digit folder, so `robot` matches `002`. */
export function objectKey(name: string): string {
  return CATEGORY_DIRS[name] ?? name;
}

/** Display label: '002 (robot)' for the robot categories, else the key. */
export function objectLabel(key: string): string {
  return DIR_CATEGORIES[key] ? `${key} (${DIR_CATEGORIES[key]})` : key;
}

/** A category name or folder name given on the command line -> object key; throws on unknown. */
export function categoryKey(cat: string): string {
  if (cat in CATEGORY_DIRS) return CATEGORY_DIRS[cat];
  if (/^\d{3}$/.test(cat)) return cat;
  throw new EvalInputError(
    `unknown category '${cat}' (use ${Object.keys(CATEGORY_DIRS).join(', ')} or a 3-digit object folder)`,
  );
}

export function isPngName(name: string): boolean {
  return /\.png$/i.test(name) && !name.startsWith('.');
}

/** Frame file names in evaluation order: sorted by code point (Python's sorted(os.listdir)). */
export function sortFrames(names: readonly string[]): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Frames that are scored: the first and last are dropped unless keepFirstLast (DAVIS semi-supervised). */
export function selectFrames(frames: readonly string[], keepFirstLast: boolean): string[] {
  return keepFirstLast ? [...frames] : frames.slice(1, -1);
}

export type Layout = 'davis' | 'objects';

/** Reads one mask; `object` is the object key for per-object layouts. May be async (browsers). */
export type MaskReader = (frame: string, object?: string) => LabelMap | Promise<LabelMap>;

export interface SequenceSpec {
  name: string;
  layout: Layout;
  /** davis layout: the GT PNG names of the sequence, sorted. */
  frames: string[];
  /** objects layout: one entry per GT object folder (sorted by key), with its GT PNG names. */
  objects: Array<{ key: string; frames: string[] }>;
  readGt: MaskReader;
  readPred: MaskReader;
}

/** One video of an image + mask dataset (VRS, RoboEngine test): frames with their images and masks. */
export interface VideoSample {
  name: string;
  frames: Array<{
    /** File stem, e.g. '00012'. */
    name: string;
    /** Path of the RGB frame. */
    image: string;
    /** Object key ('000', '001', '002', …) -> mask path, only where that frame is annotated. */
    masks: Record<string, string>;
  }>;
}

/** File stem (name without the last extension). */
export function stem(name: string): string {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(0, i) : name;
}

/**
 * Pair frame images with per-object mask files by stem (VRS: JPEGImages/<v>/00012.jpg with
 * Annotations/<v>/002/00012.png). `imageNames` and mask names are file names, joined by `join`.
 */
export function pairFrames(
  name: string,
  imageNames: readonly string[],
  maskNames: Record<string, readonly string[]>,
  join: (kind: 'image' | 'mask', file: string, object?: string) => string,
): VideoSample {
  const frames = sortFrames(imageNames).map((img) => ({
    name: stem(img),
    image: join('image', img),
    masks: {} as Record<string, string>,
  }));
  const byStem = new Map(frames.map((f) => [f.name, f]));
  for (const [obj, files] of Object.entries(maskNames)) {
    for (const f of files) {
      const fr = byStem.get(stem(f));
      if (!fr) throw new EvalInputError(`${name}: mask ${obj}/${f} has no frame image named ${stem(f)}.*`);
      fr.masks[objectKey(obj)] = join('mask', f, obj);
    }
  }
  return { name, frames };
}
