// Type-checked by test/package/consumer.test.ts with `tsc --strict --noEmit` in a fresh project that
// installed the packed tarball (module/moduleResolution nodenext, so the `node` export condition and
// its .d.ts are what TypeScript sees). Never run: it only has to compile. It touches every part of the
// Node surface with its public types; an API change that breaks users breaks this file.
import {
  BUILTIN_CONFIGS,
  type ConvertOptions,
  type convertCheckpoint,
  createNodeRuntime,
  DEFAULT_TRAIN_OPTIONS,
  type EvalResult,
  type evaluate,
  type FrameResult,
  type ImagePrediction,
  ImagePredictor,
  type ImagePrompt,
  loadModel,
  openFrameSource,
  packageInfo,
  type RgbImage,
  ROBOT_TARGETS,
  RobotSeg,
  RobotSegImagePredictor,
  type RobotImageResult,
  type Runtime,
  type SAM2,
  type Sam2Config,
  type Trainer,
  type TrainOptions,
  VideoPredictor,
  readImage,
  writeMaskPng,
} from 'robotseg';

// @ts-expect-error internal modules are not part of the package's exports
import type { Tensor as InternalTensor } from 'robotseg/dist/src/graph/tensor.js';

export type Unused = InternalTensor;

export async function segment(path: string): Promise<ImagePrediction> {
  const rt: Runtime = await createNodeRuntime();
  const config: Sam2Config = BUILTIN_CONFIGS['sam2.1_hiera_t'];
  const model: SAM2 = await loadModel(rt, 'weights.safetensors', config);
  const image: RgbImage = readImage(path);
  const predictor = new ImagePredictor(rt, model);
  predictor.setImage(image);
  const prompt: ImagePrompt = { points: [{ x: 10, y: 20, label: 1 }], box: [0, 0, 50, 50] };
  const res = await predictor.predict(prompt);
  writeMaskPng('mask.png', res.width, res.height, res.masks[res.best]);
  if (model instanceof RobotSeg) {
    const targets: RobotImageResult[] = await new RobotSegImagePredictor(rt, model).predict(image, [...ROBOT_TARGETS]);
    const first: FrameResult = targets[0].result;
    first.mask satisfies Uint8Array;
  }
  rt.destroy();
  return res;
}

export async function track(dir: string, rt: Runtime, model: SAM2): Promise<number> {
  const source = await openFrameSource(dir);
  const video = new VideoPredictor(rt, model, source);
  await video.addPoints(0, 1, { points: [{ x: 1, y: 2, label: 1 }] });
  let n = 0;
  for await (const { results } of video.propagate()) n += results.length;
  // streaming: a live source has numFrames null; push returns the frame's masks
  const live = new VideoPredictor(rt, model, {
    numFrames: null,
    width: 8,
    height: 8,
    frame: async () => readImage(dir),
  });
  const pushed: { frame: number; results: FrameResult[] } = await live.push(readImage(dir));
  if (model instanceof RobotSeg) await live.addTarget(pushed.frame, 2, 'gripper');
  return n;
}

export function trainOptions(): TrainOptions {
  return { ...DEFAULT_TRAIN_OPTIONS, steps: 3 };
}

export type Api = [typeof Trainer, typeof evaluate, EvalResult, ConvertOptions, typeof convertCheckpoint];
export const version: string = packageInfo().version;
