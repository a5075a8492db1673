// Reads shaders/**/*.wgsl from the package (located at run time, src/node/package_info.ts) into the name -> source map the Runtime takes.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PACKAGE_ROOT } from './package_info.js';

export { PACKAGE_ROOT };
/** shaders/ of the package (the checkout's, or node_modules/robotseg/shaders once installed). */
export const SHADER_DIR = join(PACKAGE_ROOT, 'shaders');

let cache: Record<string, string> | null = null;

export function loadShaderLibrary(dir = SHADER_DIR): Record<string, string> {
  if (cache && dir === SHADER_DIR) return cache;
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.wgsl'))
        out[
          relative(dir, p)
            .replace(/\\/g, '/')
            .replace(/\.wgsl$/, '')
        ] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  if (dir === SHADER_DIR) cache = out;
  return out;
}
