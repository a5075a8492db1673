// `robotseg train` datasets from disk: the VRS layout (JPEGImages/<video>/*.jpg, Annotations/<video>/
// <000|001|002>/*.png) or one video without the per-video level (JPEGImages/*.jpg, Annotations/*.png
// as RoboEngine's clips ship), of which only the FIRST annotated frame of the target per video is read
// (label-efficient training), plus optional pseudo-label folders (<dir>/<video>/<frame stem>.png).
// Everything is checked before training starts: a bad dataset is a TrainDataError naming the file.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  EvalInputError,
  type VideoSample,
  categoryKey,
  isObjectDirName,
  isPngName,
  objectLabel,
  pairFrames,
  stem,
} from '../eval/layout.js';
import type { TrainVideo } from '../train/data.js';
import { readVrsDataset } from './eval_io.js';
import { imageHeaderSize } from './frame_source.js';
import { readMask } from './image_io.js';

export class TrainDataError extends Error {}

export interface TrainDataset {
  videos: TrainVideo[];
  /** Videos left out (no annotation of the target, empty first mask), with the reason. */
  skipped: string[];
  /** Object key of the target ('000' arm, '001' gripper, '002' robot). */
  target: string;
}

function sizeOf(path: string): { width: number; height: number } {
  const s = imageHeaderSize(path);
  if (!s) throw new TrainDataError(`'${path}' is not a readable PNG or JPEG`);
  return s;
}

/**
 * Read and validate a VRS training dataset for one target category. Frame sizes are checked from
 * the image headers (every frame of a video must match the annotated mask's size); the annotated
 * mask is decoded and must not be empty.
 */
export function readTrainDataset(root: string, target: string, pseudoRoot?: string): TrainDataset {
  let key: string;
  let samples: ReturnType<typeof readVrsDataset>;
  try {
    key = categoryKey(target);
    samples = singleVideo(root) ?? readVrsDataset(root);
  } catch (e) {
    if (e instanceof EvalInputError) throw new TrainDataError(e.message);
    throw e;
  }
  if (samples.length === 0) throw new TrainDataError(`'${root}' has no videos under JPEGImages/`);
  if (pseudoRoot && !(existsSync(pseudoRoot) && statSync(pseudoRoot).isDirectory()))
    throw new TrainDataError(`pseudo-label folder '${pseudoRoot}' does not exist`);
  const videos: TrainVideo[] = [];
  const skipped: string[] = [];
  for (const s of samples) {
    if (s.frames.length === 0) {
      skipped.push(`${s.name}: no frames`);
      continue;
    }
    const anchor = s.frames.findIndex((f) => f.masks[key] !== undefined);
    if (anchor < 0) {
      skipped.push(`${s.name}: no annotation for ${objectLabel(key)}`);
      continue;
    }
    const maskPath = s.frames[anchor].masks[key];
    let mask: ReturnType<typeof readMask>;
    try {
      mask = readMask(maskPath);
    } catch (e) {
      throw new TrainDataError(`${s.name}: ${(e as Error).message}`);
    }
    if (!mask.data.some((v) => v)) {
      skipped.push(`${s.name}: the first annotated mask (${maskPath}) is empty`);
      continue;
    }
    for (const f of s.frames.slice(anchor)) {
      const sz = sizeOf(f.image);
      if (sz.width !== mask.width || sz.height !== mask.height) {
        throw new TrainDataError(
          `${s.name}: frame '${f.image}' is ${sz.width}x${sz.height} but the annotated mask '${maskPath}' is ${mask.width}x${mask.height}`,
        );
      }
    }
    const frames = s.frames.map((f) => f.image);
    const video: TrainVideo = { name: s.name, frames, anchor, mask: maskPath };
    if (pseudoRoot)
      video.pseudo = readPseudo(
        join(pseudoRoot, s.name),
        s.frames.map((f) => f.name),
        mask,
      );
    videos.push(video);
  }
  if (videos.length === 0)
    throw new TrainDataError(`no video of '${root}' can train ${objectLabel(key)}:\n  ${skipped.join('\n  ')}`);
  return { videos, skipped, target: key };
}

/**
 * One video laid out without the per-video level (JPEGImages/*.jpg with Annotations/*.png, or
 * Annotations/<000|001|002>/*.png), as RoboEngine's clips ship: the root is that video. Null when
 * JPEGImages/ holds folders (the VRS layout proper) or is missing.
 */
function singleVideo(root: string): VideoSample[] | null {
  const img = join(root, 'JPEGImages');
  const ann = join(root, 'Annotations');
  if (!existsSync(img) || !statSync(img).isDirectory() || !existsSync(ann)) return null;
  const entries = readdirSync(img).filter((n) => !n.startsWith('.'));
  const images = entries.filter((n) => /\.(jpe?g|png)$/i.test(n));
  if (images.length === 0 || entries.some((n) => statSync(join(img, n)).isDirectory())) return null;
  const annEntries = readdirSync(ann).filter((n) => !n.startsWith('.'));
  const objectDirs = annEntries.filter((n) => isObjectDirName(n) && statSync(join(ann, n)).isDirectory());
  const masks: Record<string, string[]> = {};
  if (objectDirs.length) for (const d of objectDirs) masks[d] = readdirSync(join(ann, d)).filter(isPngName).sort();
  else masks['002'] = annEntries.filter(isPngName).sort(); // a flat folder of masks: the robot
  const name = basename(resolve(root));
  return [
    pairFrames(name, images, masks, (kind, file, obj) =>
      kind === 'image' ? join(img, file) : objectDirs.length ? join(ann, obj!, file) : join(ann, file),
    ),
  ];
}

function readPseudo(dir: string, stems: string[], size: { width: number; height: number }): Map<number, string> {
  const out = new Map<number, string>();
  if (!existsSync(dir)) return out;
  const byStem = new Map(stems.map((s, i) => [s, i]));
  for (const f of readdirSync(dir)
    .filter((n) => /\.png$/i.test(n))
    .sort()) {
    const i = byStem.get(stem(f));
    if (i === undefined) throw new TrainDataError(`pseudo label '${join(dir, f)}' matches no frame of the video`);
    const p = join(dir, f);
    const sz = sizeOf(p);
    if (sz.width !== size.width || sz.height !== size.height)
      throw new TrainDataError(
        `pseudo label '${p}' is ${sz.width}x${sz.height}, the video is ${size.width}x${size.height}`,
      );
    out.set(i, p);
  }
  return out;
}
