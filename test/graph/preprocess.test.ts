// The WGSL preprocessor (src/graph/preprocess.ts) and the shared helpers in shaders/common/: every
// #include names a shader of the library (as Node loads it and as the browser bundle maps it), an
// include is emitted once per file however often it is reached, only from active branches, and the
// common helpers pick their types by define. GPU-free: the kernel tests compile the variants.
import { describe, expect, it } from 'vitest';
import { SHADERS } from '../../src/browser/shader_bundle.js';
import { preprocessWgsl } from '../../src/graph/preprocess.js';
import { loadShaderLibrary } from '../../src/node/shaders.js';

const lib = loadShaderLibrary();
const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('WGSL preprocessor and shaders/common', () => {
  it('every #include names a shader of the library, and the browser map holds the same files', () => {
    const includes = new Set<string>();
    for (const src of Object.values(lib)) {
      for (const m of src.matchAll(/^\s*#include\s+"([^"]+)"/gm)) includes.add(m[1].replace(/\.wgsl$/, ''));
    }
    expect([...includes]).toEqual(expect.arrayContaining(['common/half', 'common/index', 'common/vec4']));
    for (const name of includes) expect(lib, name).toHaveProperty(name);
    expect(Object.keys(SHADERS).sort()).toEqual(Object.keys(lib).sort());
    for (const [name, src] of Object.entries(lib)) expect(SHADERS[name], name).toBe(src);
  });

  it('emits an include once, however often it is reached, and only from active branches', () => {
    const sources = {
      a: '#include "common/x.wgsl"\n#include "b"\n#if LATE\n#include "c"\n#endif\nfn a() {}',
      b: '#include "common/x.wgsl"\nfn b() {}',
      c: 'fn c() {}',
      'common/x': 'fn x() {}',
    };
    const plain = preprocessWgsl('a', sources);
    expect(count(plain, 'fn x()')).toBe(1);
    expect(count(plain, 'fn b()')).toBe(1);
    expect(count(plain, 'fn c()')).toBe(0);
    expect(count(preprocessWgsl('a', sources, { LATE: 1 }), 'fn c()')).toBe(1);
    expect(() => preprocessWgsl('b', { b: '#include "common/missing.wgsl"' })).toThrow(/common\/missing/);
  });

  it('common/half.wgsl: weights WT = f16 (with enable f16) under W_F16, else f32', () => {
    for (const family of ['matmul', 'conv2d', 'conv_transpose2d']) {
      const f16 = preprocessWgsl(family, lib, { W_F16: 1 });
      expect(count(f16, 'enable f16;'), family).toBe(1);
      expect(f16, family).toContain('alias WT = f16;');
      const f32 = preprocessWgsl(family, lib, {});
      expect(count(f32, 'enable f16;'), family).toBe(0);
      expect(f32, family).toContain('alias WT = f32;');
    }
  });

  it('common/vec4.wgsl: VT = vec4<f32> with VW = 4 under VEC4, else f32 with VW = 1', () => {
    for (const family of ['norm', 'softmax', 'optim']) {
      const v4 = preprocessWgsl(family, lib, { VEC4: 1 });
      expect(v4, family).toContain('alias VT = vec4<f32>;');
      expect(v4, family).toContain('const VW: u32 = 4u;');
      const v1 = preprocessWgsl(family, lib, {});
      expect(v1, family).toContain('alias VT = f32;');
      expect(v1, family).toContain('const VW: u32 = 1u;');
    }
  });
});
