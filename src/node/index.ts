// Node entry (package condition `node`): the host-agnostic API (src/index.ts) plus what needs Node:
// a Runtime on Dawn (the `webgpu` package; hardware adapter, else lavapipe / SwiftShader, see
// src/node/adapter.ts), shaders read from the installed package, and file-based loaders and writers.
// Add a line here to publish a Node-only module; everything else in src/node stays internal.
export * from '../index.js';

// --- Runtime on Dawn
export { createNodeRuntime } from './runtime.js';
export { loadShaderLibrary } from './shaders.js';
export { type PackageInfo, packageInfo } from './package_info.js';

// --- Models and weights from files (.safetensors or .pt, recognised by content)
export {
  adapterName,
  type LoadedModel,
  type LoadModelOptions,
  loadModel,
  loadModelWithStore,
  PrecisionError,
  readConfigArg,
} from './load_model.js';
export { openWeights, readCheckpointFile } from './weights_file.js';
export { openSafetensorsFile, writeSafetensorsFile } from './safetensors_file.js';
export { type ConvertOptions, convertCheckpoint } from '../cli/convert.js';

// --- Images, masks and frame sources (PNG / JPEG; a folder of frames or a video through ffmpeg)
export { decodeImage, readImage, readMask, writeMaskPng, writeRgbPng } from './image_io.js';
export { FrameSourceError, type FrameSourceOptions, type OpenedFrameSource, openFrameSource } from './frame_source.js';
export { VideoWriter } from './video_writer.js';

// --- MCAP recordings (ROS 2 / Foxglove image topics) as frame sources; masks written as ROS 2 images
export { McapTopicSource, type McapTopicSourceOptions } from './mcap/topic_source.js';
export { McapFormatError } from './mcap/image_messages.js';
export { type MaskMessage, McapMaskWriter, type McapMaskWriterOptions } from './mcap/writer.js';

// --- HTTP / WebSocket server (`robotseg serve`)
export { DEFAULT_PORT, type RunningServer, type ServeOptions, startServer } from './serve/server.js';

// --- Datasets for training and evaluation
export { readTrainDataset, type TrainDataset, TrainDataError } from './train_data.js';
export { type EvalFolders, openEvalFolders, readModelDataset } from './eval_io.js';
// LeRobot v3 datasets: read one, or mask every episode's camera videos (`robotseg dataset`)
export { DatasetError, isLeRobotDataset, type LeRobotDataset, readLeRobotDataset } from './lerobot/dataset.js';
export { type DatasetOpts, type DatasetSummary, runDataset } from '../cli/dataset.js';
