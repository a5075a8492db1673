// Gradients through the engine's autograd tape, for the kernel tests' backward checks.
import { Tape } from '../../src/graph/autograd.js';
import type { Runtime } from '../../src/graph/runtime.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

/**
 * Run f under a tape with loss = sum(y * dy) and read back the gradient of each leaf (marked
 * requiresGrad here; each must receive one). The tape is removed and disposed afterwards.
 */
export async function tapeGrads(
  rt: Runtime,
  leaves: Tensor[],
  f: () => Tensor,
  dy: Float32Array,
): Promise<Float32Array[]> {
  const tape = new Tape(rt, TAPE_OPS);
  rt.tape = tape;
  try {
    for (const t of leaves) t.requiresGrad = true;
    const y = f();
    tape.backward(y, rt.upload(dy, y.shape));
    return await Promise.all(
      leaves.map((t, i) => {
        if (!t.grad) throw new Error(`leaf ${i} (${t}) received no gradient`);
        return rt.read(t.grad);
      }),
    );
  } finally {
    rt.tape = null;
    tape.dispose();
  }
}
