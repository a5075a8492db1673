// Reverse-mode autograd on the GPU. While `rt.tape` is set, every op whose inputs need gradients
// records a Node: its inputs, the tensors its backward needs (retained until the tape is disposed)
// and a backward function that launches the backward kernels. Tape.backward walks the nodes in
// reverse order and accumulates gradients per tensor. Training (issue 7) builds on this directly.

import { pad } from '../kernels/layout.js';
import type { Runtime } from './runtime.js';
import { deferred, pinned, type Tensor } from './tensor.js';

export interface Node {
  /** Op name, e.g. 'linear', 'layer_norm'. */
  op: string;
  inputs: Tensor[];
  outputs: Tensor[];
  /** Tensors kept alive for backward (released by Tape.dispose). */
  saved: Tensor[];
  /** Given d(loss)/d(output_k) (null where an output got no gradient), returns d(loss)/d(input_i) (null where not needed). */
  backward(gradOutputs: Array<Tensor | null>): Array<Tensor | null>;
}

/** Adds b into a (returns a new tensor); provided by the elementwise kernels to avoid an import cycle. */
export type Accumulate = (rt: Runtime, a: Tensor, b: Tensor) => Tensor;

export class Tape {
  readonly nodes: Node[] = [];
  constructor(private rt: Runtime) {}

  /** True if the op with these inputs must be recorded. */
  wants(inputs: readonly (Tensor | null | undefined)[]): boolean {
    return inputs.some((t) => t && (t.requiresGrad || t.gradFn !== null));
  }

  record(node: Node): void {
    for (const s of node.saved) s.storage.retain();
    for (const t of [...node.inputs, ...node.outputs, ...node.saved]) pinned.add(t);
    for (const o of node.outputs) o.gradFn = node;
    this.nodes.push(node);
  }

  /**
   * A view (reshape, or rows [start, start+count) of dim 0 via narrow0) of a tensor that needs a
   * gradient: the gradient of the view is reshaped back (or zero-padded back to all rows).
   */
  recordView(src: Tensor, view: Tensor, rows?: { start: number; total: number }): void {
    const rt = this.rt;
    this.record({
      op: rows ? 'narrow0' : 'reshape',
      inputs: [src],
      outputs: [view],
      saved: [],
      backward: ([dy]) => {
        if (!dy) return [null];
        if (!rows) return [dy.reshape(src.shape)];
        const before = [rows.start, ...src.shape.slice(1).map(() => 0)];
        const after = [rows.total - rows.start - view.shape[0], ...src.shape.slice(1).map(() => 0)];
        return [pad(rt, dy.reshape(view.shape), before, after)];
      },
    });
  }

  /**
   * Back-propagate from `loss` (seeded with `seed`, default ones of loss's shape made by `ones`).
   * Leaves with requiresGrad get `.grad` (accumulated if already set).
   */
  backward(loss: Tensor, seed: Tensor, accumulate: Accumulate): void {
    // backward kernels must not record onto the tape they are walking (no double backward)
    const active = this.rt.tape;
    this.rt.tape = null;
    try {
      this.walk(loss, seed, accumulate);
    } finally {
      this.rt.tape = active;
    }
  }

  private walk(loss: Tensor, seed: Tensor, accumulate: Accumulate): void {
    const grads = new Map<Tensor, Tensor>();
    grads.set(loss, seed);
    const add = (t: Tensor, g: Tensor) => {
      const prev = grads.get(t);
      if (prev) {
        grads.set(t, accumulate(this.rt, prev, g));
        prev.dispose();
        g.dispose();
      } else grads.set(t, g);
    };
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      const gouts = node.outputs.map((o) => grads.get(o) ?? null);
      if (gouts.every((g) => g === null)) continue;
      const gins = node.backward(gouts);
      node.outputs.forEach((o) => {
        const g = grads.get(o);
        if (g && o !== loss && !o.requiresGrad) {
          g.dispose();
          grads.delete(o);
        }
      });
      node.inputs.forEach((inp, k) => {
        const g = gins[k];
        if (!g) return;
        if (!(inp.requiresGrad || inp.gradFn)) {
          g.dispose();
          return;
        }
        if (g.size !== inp.size)
          throw new Error(
            `backward of ${node.op}: gradient for input ${k} has ${g.size} elements, input has ${inp.size}`,
          );
        add(inp, g);
      });
    }
    for (const [t, g] of grads) {
      if (t.requiresGrad) {
        if (t.grad) {
          const sum = accumulate(this.rt, t.grad, g);
          t.grad.dispose();
          g.dispose();
          t.grad = sum;
        } else if (g.shape.join() === t.shape.join()) t.grad = g;
        else {
          t.grad = g.reshape(t.shape);
          g.dispose();
        }
      } else if (t !== loss || g !== seed) g.dispose();
    }
  }

  /** Release everything the tape kept for backward. */
  dispose(): void {
    for (const n of this.nodes) {
      for (const s of n.saved) s.storage.release();
      for (const o of n.outputs) o.gradFn = null;
    }
    this.nodes.length = 0;
    pinned.clear();
    for (const t of deferred.splice(0)) t.dispose();
  }
}
