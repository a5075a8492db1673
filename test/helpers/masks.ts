// Mask PNGs the CLI wrote, read back and checked the same way by every test that reads them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readImage } from '../../src/node/image_io.js';

/**
 * The masks `<dir>/<name>.png` for `names`, and no other PNG in dir: each `width` x `height`,
 * values 0/255 only; returned as 0/1 (row-major, one byte a pixel).
 */
export function readBinaryMasks(dir: string, names: readonly string[], width: number, height: number): Uint8Array[] {
  expect(
    readdirSync(dir)
      .filter((f) => f.endsWith('.png'))
      .sort(),
  ).toEqual(names.map((s) => `${s}.png`));
  return names.map((s) => {
    const m = readImage(join(dir, `${s}.png`));
    expect([m.width, m.height], s).toEqual([width, height]);
    const out = new Uint8Array(m.width * m.height);
    for (let i = 0; i < out.length; i++) {
      const v = m.data[3 * i];
      if (v !== 0 && v !== 255) expect.fail(`${dir}/${s}.png: value ${v} at ${i}`);
      out[i] = v ? 1 : 0;
    }
    return out;
  });
}
