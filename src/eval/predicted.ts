// Predictions held in memory as a SequenceSpec, so model-driven evaluation (`robotseg eval DATASET`)
// scores them with the same evaluator code as saved masks: one per-object sequence whose ground
// truth is read from files and whose prediction is a 0/1 mask per GT frame (missing = empty).
// Host-agnostic: no Node APIs.
import type { LabelMap } from './labels.js';
import type { MaskReader, SequenceSpec } from './layout.js';

export interface PredictedObject {
  /** Object folder key ('000', '001', '002'). */
  key: string;
  /** GT PNG names of this object, sorted (the frames the evaluator scores). */
  gtFrames: string[];
  /** The prediction for a GT file name: 0/1 [H*W], or null where nothing was predicted (empty mask). */
  pred: (gtFile: string) => Uint8Array | null;
}

export function predictedSequence(
  name: string,
  width: number,
  height: number,
  objects: PredictedObject[],
  readGt: MaskReader,
): SequenceSpec {
  const byKey = new Map(objects.map((o) => [o.key, o]));
  return {
    name,
    layout: 'objects',
    frames: [],
    objects: objects.map((o) => ({ key: o.key, frames: o.gtFrames })).sort((a, b) => (a.key < b.key ? -1 : 1)),
    readGt,
    readPred: (frame, object): LabelMap => {
      const m = byKey.get(object!)?.pred(frame) ?? null;
      const data = new Uint16Array(width * height);
      if (m) {
        if (m.length !== width * height)
          throw new Error(
            `prediction of ${name}/${object} ${frame} has ${m.length} pixels, expected ${width}x${height}`,
          );
        for (let i = 0; i < m.length; i++) data[i] = m[i] ? 1 : 0;
      }
      return { width, height, data, fromPalette: false };
    },
  };
}
