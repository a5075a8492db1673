import type { Runtime } from '../src/graph/runtime.js';
import type { Precision } from '../src/model/module.js';
export interface BenchRun {
  /** Human-readable shape, e.g. '4096x384 @ 384x1152'. */
  shape: string;
  /**
   * Enqueue one run on the GPU (no readback). A model-level case whose run needs readbacks (host-side
   * choices, e.g. a tracked video frame) returns a promise; it is awaited inside the timed region.
   */
  run(): void | Promise<void>;
  /** Compare the last run's output with the CPU reference; resolve true when within tolerance. */
  check(): Promise<boolean>;
  /** Work per run, for GFLOP/s and GB/s. */
  flops?: number;
  bytes?: number;
  /** True when the shape was reduced from SAM 2.1 tiny's 1024-px shape to keep the software adapter fast. */
  downscaled: boolean;
  /** Peer ops for side-by-side rows: an ONNX op description (see bench/peers.ts when it exists). */
  onnx?: {
    op: string;
    inputs: Record<string, { shape: number[]; data: Float32Array }>;
    attributes?: Record<string, unknown>;
    outputShape: number[];
    /** A whole ONNX model (e.g. ../shared/peers/sam21_reduced) instead of a generated one: every `inputs` entry is fed. */
    model?: Uint8Array;
    /** The model output compared and timed (with `model`). */
    outputName?: string;
  };
  /** Model stage of a model-level row (e.g. 'image_encoder'), copied to the JSON row. */
  stage?: string;
  /** Fields merged into the row after timing (e.g. a per-stage split; a `note` is shown in the table). */
  extra?(): Record<string, unknown> | Promise<Record<string, unknown>>;
  dispose(): void;
}
export interface BenchCase {
  kernel: string; // family name
  impl?: string; // variant name, e.g. 'software' | 'tiled'
  /**
   * A model-stage case that loads its weights at `precision` (`robotseg bench --precision f16` runs it
   * at f32 and at f16: rows side by side, each with `precision`). Other cases always run at f32.
   */
  precisions?: boolean;
  /**
   * Build inputs for this adapter; `full` = true means use the real 1024-px SAM 2.1 tiny shape;
   * `precision` (default f32) only for cases with `precisions`.
   */
  setup(rt: Runtime, opts: { full: boolean; precision?: Precision }): BenchRun | Promise<BenchRun>;
}
