// Embedding robotseg in a Node program: plain ESM JavaScript, no TypeScript, no build step.
// `npm install robotseg`, then
//
//   node embed-node.mjs WEIGHTS CONFIG IMAGE X,Y FRAMES_DIR OUT_DIR
//
// WEIGHTS: a SAM 2.1 / RobotSeg checkpoint (.safetensors or .pt); CONFIG: a built-in config name
// (sam2.1_hiera_t), a JSON file, or '-' to take it from the checkpoint's metadata. The click X,Y (image
// pixels) segments IMAGE (best of SAM 2's 3 masks -> OUT_DIR/image.png) and, on the first frame of
// FRAMES_DIR (a folder of PNG/JPEG frames), starts a track through all its frames
// (-> OUT_DIR/frames/<frame name>.png). Masks are 8-bit PNGs, 0 or 255: exactly what
// `robotseg segment IMAGE --point X,Y --out …` and `robotseg track FRAMES_DIR --point 0:X,Y --out …` write.
// (test/package/consumer.test.ts runs this file against the installed package.)
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  createNodeRuntime,
  ImagePredictor,
  loadModel,
  openFrameSource,
  readImage,
  VideoPredictor,
  writeMaskPng,
} from 'robotseg';

const [weights, config, imagePath, click, framesDir, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node embed-node.mjs WEIGHTS CONFIG|- IMAGE X,Y FRAMES_DIR OUT_DIR');
  process.exit(2);
}
const [x, y] = click.split(',').map(Number);
const points = [{ x, y, label: 1 }]; // label 1: foreground, 0: background
mkdirSync(join(outDir, 'frames'), { recursive: true });

// A hardware GPU through Dawn when there is one, else a software Vulkan adapter (lavapipe / SwiftShader).
const rt = await createNodeRuntime();
try {
  console.log(`adapter: ${rt.adapter.description || rt.adapter.device} (${rt.adapter.backend})`);
  // Config: explicit, else the checkpoint's metadata, else inferred from the tensor shapes.
  const model = await loadModel(rt, weights, config === '-' ? undefined : config);

  // 1. Image: one click -> 3 candidate masks with predicted IoUs; keep the best.
  const image = readImage(imagePath); // { width, height, data: RGB bytes }
  const predictor = new ImagePredictor(rt, model);
  predictor.setImage(image); // the image encoder runs once; predict() may then be called per prompt
  const res = await predictor.predict({ points });
  writeMaskPng(join(outDir, 'image.png'), image.width, image.height, res.masks[res.best]);
  console.log(`image: ${res.masks.length} masks, best ${res.best} (predicted IoU ${res.iou[res.best].toFixed(3)})`);

  // 2. Video: the same click on frame 0, then propagate through the frames (memory attention).
  const source = await openFrameSource(framesDir); // also a video file, decoded by ffmpeg
  try {
    const video = new VideoPredictor(rt, model, source);
    await video.addPoints(0, 1, { points }); // frame 0, object id 1
    for await (const { frame, results } of video.propagate()) {
      const [obj] = results; // one result per object
      writeMaskPng(join(outDir, 'frames', `${source.names[frame]}.png`), source.width, source.height, obj.mask);
      console.log(`frame ${frame}: object score ${obj.objectScore.toFixed(2)}`);
    }
  } finally {
    source.close();
  }
} finally {
  rt.destroy();
}
