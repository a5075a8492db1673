import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { beginAtomic, tempPathFor, writeFileAtomic } from '../../src/node/atomic_write.js';

describe('atomic output files', () => {
  it('writes through a unique temporary name and leaves only the final file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    const p = join(dir, 'out.png');
    writeFileSync(p, 'old');
    writeFileAtomic(p, 'new contents');
    expect(readFileSync(p, 'utf8')).toBe('new contents');
    expect(readdirSync(dir)).toEqual(['out.png']);
    expect(tempPathFor(p)).not.toBe(tempPathFor(p));
  });

  it('abort leaves the old file untouched and no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    const p = join(dir, 'mask.png');
    writeFileSync(p, 'keep');
    const f = beginAtomic(p);
    writeFileSync(f.tempPath, 'partial');
    f.abort();
    expect(readFileSync(p, 'utf8')).toBe('keep');
    expect(readdirSync(dir)).toEqual(['mask.png']);
  });

  it('refuses device nodes and folders as outputs', () => {
    expect(() => writeFileAtomic('/dev/null', 'x')).toThrow(/not a regular file/);
    expect(() => writeFileAtomic(tmpdir(), 'x')).toThrow(/is a folder/);
  });

  it('a missing folder fails without leaving anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    expect(() => writeFileAtomic(join(dir, 'nope', 'a.png'), 'x')).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
