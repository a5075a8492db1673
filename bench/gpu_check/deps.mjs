// `node bench/gpu_check/deps.mjs ROOT [EXTRA...]`: the installed package folders (relative to ROOT, one
// per line) that ROOT's runtime `dependencies` and the EXTRA packages (e.g. vitest) need, following each
// package's dependencies and optionalDependencies (the installed ones) with Node's lookup (nested
// node_modules first, then upwards). Peer dependencies are followed only when installed and not optional.
// bench/gpu-pack.sh copies exactly these into the GPU-check archive (no devDependencies, no network).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const [root, ...extra] = process.argv.slice(2);
if (!root) {
  process.stderr.write('usage: deps.mjs ROOT [EXTRA_PACKAGE...]\n');
  process.exit(2);
}

/** Folder of package `name` as seen from folder `from` (Node's node_modules lookup), or null. */
function lookup(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const p = join(dir, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return p;
    if (dirname(dir) === dir || relative(root, dir).startsWith('..')) return null;
  }
}

const seen = new Set();
const missing = [];
function visit(name, from, optional) {
  const dir = lookup(name, from);
  if (!dir) {
    if (!optional) missing.push(`${name} (needed from ${relative(root, from) || '.'})`);
    return;
  }
  if (seen.has(dir)) return;
  seen.add(dir);
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const d of Object.keys(pj.dependencies ?? {})) visit(d, dir, false);
  for (const d of Object.keys(pj.optionalDependencies ?? {})) visit(d, dir, true);
  const peerMeta = pj.peerDependenciesMeta ?? {};
  for (const d of Object.keys(pj.peerDependencies ?? {})) if (!peerMeta[d]?.optional) visit(d, dir, true);
}

const rootPj = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const d of [...Object.keys(rootPj.dependencies ?? {}), ...extra]) visit(d, root, false);
if (missing.length) {
  process.stderr.write(`deps.mjs: not installed: ${missing.join(', ')} (run npm ci first)\n`);
  process.exit(1);
}
process.stdout.write(
  [...seen]
    .map((d) => relative(root, d))
    .sort()
    .join('\n') + '\n',
);
