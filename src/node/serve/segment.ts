// `POST /v1/segment`: one image, the masks of one prompt. SAM 2.1 weights run the image predictor (one
// entry per returned mask, `best` = highest predicted IoU); RobotSeg weights run RobotSegImagePredictor (the
// image as a one-frame video, as `robotseg segment --target` does; one entry per target, `best` = the
// first target).
import { PNG } from 'pngjs';
import type { RgbImage } from '../../image/rgb.js';
import type { Runtime } from '../../graph/runtime.js';
import { ImagePredictor, validatePrompt } from '../../model/image_predictor.js';
import { RobotSeg } from '../../model/robotseg.js';
import { DEFAULT_TARGET, RobotSegImagePredictor } from '../../model/robotseg_image_predictor.js';
import type { SAM2 } from '../../model/sam2.js';
import { ProtocolError } from '../../serve/protocol.js';
import { maskStats, maskToRle } from '../../serve/rle.js';
import type { ResultObject } from '../../serve/session.js';
import type { SegmentQuery } from '../../serve/segment_query.js';

/** An entry of a segment result: a stream result's object plus which mask or target it is. */
export interface SegmentObject extends ResultObject {
  /** SAM 2.1: index of the mask in decoder order. */
  mask?: number;
  /** RobotSeg: the target of this entry. */
  target?: string;
}

export interface SegmentOutput {
  objects: SegmentObject[];
  /** The 0/1 masks of `objects`, row-major [H*W]. */
  masks: Uint8Array[];
  /** Index of the best entry (what `format=png` returns). */
  best: number;
}

/** Check the query against the model and the image (before any GPU work). Throws ProtocolError. */
export function checkSegmentQuery(model: SAM2, img: RgbImage, q: SegmentQuery): void {
  if (q.targets) {
    if (!(model instanceof RobotSeg))
      throw new ProtocolError(
        'needs_robotseg',
        `target=${q.targets.join(',')} needs RobotSeg weights; this server runs SAM 2.1 (${model.cfg.name})`,
      );
    const vocab = model.spec.classVocab;
    for (const t of q.targets)
      if (!vocab.includes(t))
        throw new ProtocolError('bad_message', `unknown target '${t}' (expected one of ${vocab.join(', ')})`);
    if ((q.points.length > 0 || q.box) && q.targets.length > 1)
      throw new ProtocolError(
        'bad_prompt',
        `points or a box go with one target (got ${q.targets.length}); give no prompt for several targets`,
      );
  }
  try {
    validatePrompt({ points: q.points, box: q.box }, img.width, img.height);
  } catch (e) {
    throw new ProtocolError('bad_prompt', (e as Error).message);
  }
}

function entry(mask: Uint8Array, W: number, H: number): Pick<ResultObject, 'area' | 'bbox' | 'rle'> {
  return { ...maskStats(mask, W, H), rle: maskToRle(mask, W, H) };
}

/** Run the model on one image (the caller holds the GPU queue). */
export async function segmentImage(rt: Runtime, model: SAM2, img: RgbImage, q: SegmentQuery): Promise<SegmentOutput> {
  const { width: W, height: H } = img;
  if (model instanceof RobotSeg) {
    const targets = q.targets ?? [DEFAULT_TARGET];
    const res = await new RobotSegImagePredictor(rt, model).predict(img, targets, { points: q.points, box: q.box });
    return {
      objects: res.map((r, k) => ({
        obj: k + 1,
        target: r.target,
        iou: Number.isFinite(r.result.iou) ? r.result.iou : null,
        object_score: r.result.objectScore,
        ...entry(r.result.mask, W, H),
      })),
      masks: res.map((r) => r.result.mask),
      best: 0,
    };
  }
  const pred = new ImagePredictor(rt, model);
  try {
    pred.setImage(img);
    const r = await pred.predict({ points: q.points, box: q.box });
    return {
      objects: r.masks.map((m, i) => ({
        obj: 1,
        mask: i,
        iou: r.iou[i],
        object_score: r.objectScore,
        ...entry(m, W, H),
      })),
      masks: r.masks,
      best: r.best,
    };
  } finally {
    pred.dispose();
  }
}

/** What the server hands its onSegment hook for one answered `POST /v1/segment` request (a recorder). */
export interface SegmentEvent {
  /** Wall-clock arrival time, ms since the epoch. */
  receivedAt: number;
  /** The image as received (PNG or JPEG bytes). */
  bytes: Uint8Array;
  width: number;
  height: number;
  objects: SegmentObject[];
  /** The 0/1 masks of `objects`. */
  masks: Uint8Array[];
  /** The JSON result body (what `format=json` answers). */
  result: string;
}

/** An 8-bit grayscale PNG (0 / 255) of a 0/1 mask. */
export function maskPngBytes(mask: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const data = Buffer.alloc(width * height);
  for (let i = 0; i < data.length; i++) data[i] = mask[i] ? 255 : 0;
  (png as unknown as { data: Buffer }).data = data;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}
