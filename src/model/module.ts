// Model modules mirror the checkpoint: a parameter's property path IS its state-dict key
// (tinygrad derives the state dict from attribute paths). `blocks: Block[]` gives keys
// `blocks.0.…`; a Param field `weight` of `attn.qkv` gives `attn.qkv.weight`.
// Loading is strict: unknown, missing or wrong-shape keys are errors naming the key and shapes.

import { shapeStr } from '../graph/dtype.js';
import type { Tensor } from '../graph/tensor.js';
import { strictCheck } from '../graph/weights.js';

/** A learnable tensor (or registered buffer) of a known shape, bound after loading. */
export class Param {
  tensor: Tensor | null = null;
  constructor(
    readonly shape: readonly number[],
    /** A heavy-layer weight (linear / conv / transposed conv) the kernels can read as f16. */
    readonly halfOk = false,
  ) {}
  /** The bound GPU tensor; throws if weights were not loaded. */
  get t(): Tensor {
    if (!this.tensor) throw new Error(`parameter of shape ${shapeStr(this.shape)} used before weights were loaded`);
    return this.tensor;
  }
}

export abstract class Module {
  /** Every Param under this module with its dotted key, in declaration order. */
  namedParams(prefix = ''): Array<[string, Param]> {
    const out: Array<[string, Param]> = [];
    for (const [name, v] of Object.entries(this)) {
      const key = prefix ? `${prefix}.${name}` : name;
      if (v instanceof Param) out.push([key, v]);
      else if (v instanceof Module) out.push(...v.namedParams(key));
      else if (Array.isArray(v)) {
        v.forEach((item, i) => {
          if (item === null) return; // parameter-free slot of an nn.Sequential (activation)
          if (item instanceof Module) out.push(...item.namedParams(`${key}.${i}`));
          else if (item instanceof Param) out.push([`${key}.${i}`, item]);
        });
      }
    }
    return out;
  }
}

/** Numeric precision of the stored weights: 'f16' halves the heavy layers' weights (see docs/precision.md). */
export type Precision = 'f32' | 'f16';

/**
 * The keys a model stores as f16 under `precision` 'f16': the weights of its Linear, Conv2d and
 * ConvTranspose2d layers (Params marked halfOk). Biases, norms, embeddings and buffers stay f32.
 */
export function halfPrecisionKeys(root: Module): Set<string> {
  return new Set(root.namedParams().flatMap(([k, p]) => (p.halfOk ? [k] : [])));
}

/** The per-key storage dtype for uploadWeights under `precision`. */
export function weightDtypes(root: Module, precision: Precision): (key: string) => 'f32' | 'f16' {
  if (precision === 'f32') return () => 'f32';
  const half = halfPrecisionKeys(root);
  return (key) => (half.has(key) ? 'f16' : 'f32');
}

export interface WeightSource {
  /** Key -> shape of every tensor available. */
  shapes(): Map<string, readonly number[]>;
  /** GPU tensor for a key (already uploaded). */
  get(key: string): Tensor;
}

/**
 * The problems of binding a checkpoint's tensors (key -> shape) to a module's Params, in the one
 * strict check every loader uses (graph/weights.ts strictCheck: missing, unexpected, mis-shaped keys).
 */
export function checkStateDict(
  expected: Array<[string, Param]>,
  available: ReadonlyMap<string, readonly number[]>,
): string[] {
  return strictCheck(
    expected.map(([key, p]) => ({ key, shape: p.shape })),
    available,
  );
}

/** Bind weights to a module's Params, strictly. */
export function loadStrict(root: Module, src: WeightSource, what = 'checkpoint'): void {
  const params = root.namedParams();
  const errs = checkStateDict(params, src.shapes());
  if (errs.length) {
    const more = errs.length > 5 ? `\n  … and ${errs.length - 5} more` : '';
    throw new Error(
      `${what} does not fit the model (${errs.length} problem${errs.length > 1 ? 's' : ''}):\n  ${errs.slice(0, 5).join('\n  ')}${more}`,
    );
  }
  for (const [k, p] of params) p.tensor = src.get(k);
  if (params.length !== src.shapes().size)
    throw new Error(`${what}: loaded ${params.length} tensors but it holds ${src.shapes().size}`);
}
