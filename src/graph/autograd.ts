// Reverse-mode autograd on the GPU. While `rt.tape` is set, every op whose inputs need gradients
// records a Node: its inputs, the tensors its backward needs (retained until the tape is disposed)
// and a backward function that launches the backward kernels. Tape.backward walks the nodes in
// reverse order and accumulates gradients per tensor. Training (docs/train.md) builds on this.
// The runtime knows no kernel: each op records its own backward, and the two ops the tape itself
// needs (gradient accumulation, the nodes of views) come in once, at construction (TapeOps; the
// kernels' set is TAPE_OPS in src/kernels/tape.ts).

import type { Runtime } from './runtime.js';
import type { Tensor } from './tensor.js';

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

/** The kernels the tape itself launches. */
export interface TapeOps {
  /** a + b as a new tensor: gradient accumulation. */
  accumulate(rt: Runtime, a: Tensor, b: Tensor): Tensor;
  /**
   * The node of a view (reshape, or rows [start, start+count) of dim 0 via narrow0) of `src`:
   * its backward reshapes the gradient back (or zero-pads it back to all rows).
   */
  viewNode(rt: Runtime, src: Tensor, view: Tensor, rows?: { start: number; total: number }): Node;
}

export class Tape {
  readonly nodes: Node[] = [];
  /** Tensors this tape pinned (one pin each in rt.tensors; released by dispose). */
  private pinned = new Set<Tensor>();
  constructor(
    private rt: Runtime,
    private ops: TapeOps,
  ) {}

  /** True if the op with these inputs must be recorded. */
  wants(inputs: readonly (Tensor | null | undefined)[]): boolean {
    return inputs.some((t) => t && (t.requiresGrad || t.gradFn !== null));
  }

  record(node: Node): void {
    for (const s of node.saved) s.storage.retain();
    for (const t of [...node.inputs, ...node.outputs, ...node.saved]) {
      if (this.pinned.has(t)) continue;
      this.pinned.add(t);
      t.storage.scopes?.pin(t);
    }
    for (const o of node.outputs) o.gradFn = node;
    this.nodes.push(node);
  }

  /** Record a view of a tensor that needs a gradient (called by Tensor.reshape / narrow0). */
  recordView(src: Tensor, view: Tensor, rows?: { start: number; total: number }): void {
    this.record(this.ops.viewNode(this.rt, src, view, rows));
  }

  /**
   * Back-propagate from `loss`, seeded with `seed` (d(loss)/d(loss), loss's shape).
   * Leaves with requiresGrad get `.grad` (accumulated if already set).
   */
  backward(loss: Tensor, seed: Tensor): void {
    // backward kernels must not record onto the tape they are walking (no double backward)
    const active = this.rt.tape;
    this.rt.tape = null;
    try {
      this.walk(loss, seed);
    } finally {
      this.rt.tape = active;
    }
  }

  private walk(loss: Tensor, seed: Tensor): void {
    const accumulate = this.ops.accumulate;
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
    // only this tape's pins: another live tape keeps what it references
    for (const t of this.pinned) t.storage.scopes?.unpin(t);
    this.pinned.clear();
  }
}
