// The package's own root folder and package.json, found from this module's location: src/node/ in a
// checkout (tsx, vitest), dist/src/node/ in the built package (node_modules/robotseg/dist/src/node/ once
// installed). Shaders, `robotseg --version` and the bench fixtures are looked up from here, so they work
// from both layouts and from any working directory.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fields of package.json that the engine reads. */
export interface PackageInfo {
  name: string;
  version: string;
  description?: string;
}

const NAME = 'robotseg';

/** Nearest folder at or above `from` whose package.json is named 'robotseg'. Throws if there is none. */
export function findPackageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; ) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name === NAME) return dir;
      } catch {
        // an unreadable package.json of some other project: keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`robotseg: no package.json named '${NAME}' above ${from}`);
    dir = up;
  }
}

/** The package root (the folder holding package.json, shaders/, dist/). */
export const PACKAGE_ROOT = findPackageRoot();

let info: PackageInfo | null = null;

/** name, version and description from the package's own package.json. */
export function packageInfo(): PackageInfo {
  info ??= JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as PackageInfo;
  return info;
}
