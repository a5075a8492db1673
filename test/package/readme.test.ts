// The README's "Embedding" examples are the files the consumer test runs (test/package/consumer.test.ts):
// each fenced block there must equal its file in examples/ byte for byte, so the documentation cannot
// drift from what is tested. No GPU, no build: milliseconds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = README.slice(
  README.indexOf('## Embedding'),
  README.indexOf('\n## ', README.indexOf('## Embedding') + 1),
);

/** The fenced code blocks of the Embedding section, in order. */
function blocks(lang: string): string[] {
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

describe('README Embedding section', () => {
  it('exists', () => {
    expect(section.length).toBeGreaterThan(1000);
  });
  it.each([
    ['js', 'examples/embed-node.mjs'],
    ['html', 'examples/embed-vite/index.html'],
    ['ts', 'examples/embed-vite/main.ts'],
  ])('shows the %s example %s verbatim', (lang, file) => {
    expect(blocks(lang)).toContain(readFileSync(join(ROOT, file), 'utf8'));
  });
});
