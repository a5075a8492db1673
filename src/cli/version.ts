// The package version, read from package.json at run time (two folders above this file), so
// `robotseg --version` is right from any working directory and after `npm version` without a rebuild.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'));
  return String(pkg.version);
}
