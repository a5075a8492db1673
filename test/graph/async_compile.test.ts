// Asynchronous pipeline compilation (issue 12 item 8): a dispatch of a variant that is still compiling
// is queued at once and its batch is submitted when the pipeline is ready; writes and readbacks after
// it keep program order; only the variants dispatched are compiled, each once, and the progress
// callback counts them; a compile error surfaces at the next sync with the kernel's name.
import { describe, expect, it } from 'vitest';
import { Runtime } from '../../src/graph/runtime.js';
import { binary, unary } from '../../src/kernels/elementwise.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();

describe.skipIf(!rt)('async pipeline compilation', () => {
  it('a write after a batch that waits for its pipeline does not overtake it', async () => {
    expect(rt!.asyncCompile).toBe(true);
    const seen: Array<[number, number]> = [];
    rt!.onCompileProgress = (done, total) => seen.push([done, total]);
    const before = rt!.compileTotal;
    const x = rt!.upload([1, 2, 3, 4], [4]);
    const y = binary(rt!, x, x, 'mul'); // first use of this variant in this runtime: compiling
    rt!.flush();
    const pending = rt!.compileDone < rt!.compileTotal;
    rt!.write(x, [10, 20, 30, 40]); // must reach the queue after the dispatch above
    const z = binary(rt!, x, x, 'mul'); // same variant: no second compilation
    expect(Array.from(await rt!.read(y))).toEqual([1, 4, 9, 16]);
    expect(Array.from(await rt!.read(z))).toEqual([100, 400, 900, 1600]);
    expect(rt!.compileTotal - before).toBe(1);
    expect(seen.at(-1)).toEqual([rt!.compileTotal, rt!.compileTotal]);
    // the case this test is about happened (on lavapipe compilation always outlasts the JS above)
    expect(pending).toBe(true);
    for (const t of [x, y, z]) t.dispose();
    rt!.onCompileProgress = null;
  });

  it('a kernel that fails to compile is named at the next sync', async () => {
    // a second runtime on the same device with one broken shader (valid syntax, a type error);
    // never destroyed here, that would destroy the shared device
    const bad = new Runtime({
      device: rt!.device,
      adapter: rt!.adapter,
      shaders: {
        ...rt!.shaders,
        broken: `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let k: u32 = 1.5;
  y[g.x] = f32(k);
}`,
      },
    });
    const y = bad.empty([4], 'f32', 'y');
    bad.kernel('broken').run({ bindings: { y }, groups: [1] });
    await expect(bad.sync()).rejects.toThrow(/kernel broken\.main failed to compile/);
    // the runtime keeps working for kernels that compile
    const z = unary(bad, bad.upload([4, 9], [2]), 'sqrt');
    expect(Array.from(await bad.read(z))).toEqual([2, 3]);
  });
});
