// The family chain (docs/architecture.md "Adding a kernel family"): every shaders/<family>.wgsl has a
// wrapper src/kernels/<family>.ts, a CPU reference test/ref/<family>.ts, a test
// test/kernels/<family>.test.ts and a bench row (a case with kernel: '<family>' in bench/*.ts).
// GPU-free: it reads the file tree only.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/**
 * Exceptions, each with its reason. A link missing from the chain and not listed here fails the test;
 * a listed exception that is no longer needed fails it too, so the list only shrinks.
 */
const ALLOW: Record<string, { ref?: string; test?: string; bench?: string }> = {
  // Empty today: every family has all its links (reduce got its reference and test, fill_holes and
  // rope their bench rows with this test). An exception reads e.g.
  //   family: { bench: 'why it has no bench row' },
};

const families = readdirSync(join(ROOT, 'shaders'))
  .filter((f) => f.endsWith('.wgsl'))
  .map((f) => f.slice(0, -'.wgsl'.length))
  .sort();

const benchSources = readdirSync(join(ROOT, 'bench'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(join(ROOT, 'bench', f), 'utf8'))
  .join('\n');

function missing(family: string): Record<'wrapper' | 'ref' | 'test' | 'bench', boolean> {
  return {
    wrapper: !existsSync(join(ROOT, 'src', 'kernels', `${family}.ts`)),
    ref: !existsSync(join(ROOT, 'test', 'ref', `${family}.ts`)),
    test: !existsSync(join(ROOT, 'test', 'kernels', `${family}.test.ts`)),
    bench: !benchSources.includes(`kernel: '${family}'`),
  };
}

describe('family chain: shader -> wrapper -> CPU reference -> test -> bench', () => {
  it('finds the shader families', () => {
    expect(families.length).toBeGreaterThan(10);
    expect(families).toContain('reduce');
  });
  for (const family of families) {
    it(family, () => {
      const m = missing(family);
      const allow = ALLOW[family] ?? {};
      expect(m.wrapper, `src/kernels/${family}.ts (a wrapper has no exception)`).toBe(false);
      for (const link of ['ref', 'test', 'bench'] as const) {
        if (allow[link])
          expect(m[link], `${family}: allowlisted ${link} is present now; drop the exception`).toBe(true);
        else expect(m[link], `${family}: missing ${link}`).toBe(false);
      }
    });
  }
  it('every allowlisted family exists', () => {
    for (const f of Object.keys(ALLOW)) expect(families, f).toContain(f);
  });
});

// docs/architecture.md "Layers": the runtime imports nothing outside itself (no kernels, model or host
// code), so that no kernel can become a dependency of the tensor / tape machinery again.
describe('layering', () => {
  it('src/graph imports only src/graph and packages', () => {
    const dir = join(ROOT, 'src', 'graph');
    const bad: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(join(dir, f), 'utf8');
      for (const m of src.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']*)'/g))
        if (!m[1].startsWith('./')) bad.push(`src/graph/${f} imports ${m[1]}`);
    }
    expect(bad).toEqual([]);
  });
});
