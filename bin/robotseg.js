#!/usr/bin/env node
// `robotseg` launcher.
// - Installed package: runs the compiled CLI (dist/src/cli/main.js) with plain Node.
// - Repository checkout (src/ next to bin/): runs the TypeScript sources through tsx (a devDependency), so
//   a dist/ left by an earlier `npm run build` never shadows the code being edited.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/src/cli/main.js');
}
