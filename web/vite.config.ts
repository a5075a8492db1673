// Demo page (web/): `npm run web` serves it, `npm run web:build` builds web/dist.
// - The engine is imported from src/browser (the package's browser entry); shaders are bundled by
//   import.meta.glob there.
// - Guard: the build fails if anything reachable from the page imports a Node module (src/node/*,
//   node:*, fs, path…): the browser entry must stay host-agnostic.
// - Dev and preview servers also serve /fixtures/* (test/fixtures: the reduced golden model and its
//   images) and /weights/* (the repo's weights/ folder, where scripts/get-weights.sh puts checkpoints).
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const WEB = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(WEB, '..');
const NODE_BUILTINS = new Set(builtinModules);
// ROBOTSEG_WEB_ENGINE picks the engine the page imports in place of the TypeScript sources
// (../src/browser/index.js):
//   dist  the repo's built package (dist/src/browser/index.js: run `npm run build` first);
//   DIR   an installed copy of the package (e.g. APP/node_modules/robotseg from `npm install robotseg-*.tgz`),
//         resolved through its package.json `exports` (browser condition) as a bundler resolves
//         `import … from 'robotseg'`; its dependencies come from the installing project's node_modules.
// `ROBOTSEG_WEB_ENGINE=dist npx vitest run test/browser/demo.test.ts` runs the browser test that way;
// test/package/consumer.test.ts runs it against the installed tarball.
const ENGINE = process.env.ROBOTSEG_WEB_ENGINE;
function engineAlias(): Array<{ find: RegExp; replacement: string }> {
  if (ENGINE === undefined || ENGINE === '' || ENGINE === 'src') return [];
  let target: string;
  if (ENGINE === 'dist') {
    target = join(ROOT, 'dist', 'src', 'browser', 'index.js');
    if (!existsSync(target))
      throw new Error('ROBOTSEG_WEB_ENGINE=dist: no dist/src/browser/index.js; run npm run build first');
  } else {
    target = resolve(ENGINE);
    const pkg = join(target, 'package.json');
    if (!existsSync(pkg) || (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name !== 'robotseg')
      throw new Error(
        `ROBOTSEG_WEB_ENGINE=${ENGINE}: expected src, dist or the folder of an installed robotseg package (its package.json)`,
      );
  }
  return [{ find: /^\.\.\/src\/browser\/index\.js$/, replacement: target }];
}
const ENGINE_ALIAS = engineAlias();

function noNodeModules(): Plugin {
  return {
    name: 'robotseg-no-node-modules',
    enforce: 'pre',
    resolveId(id, importer) {
      const bare = id.startsWith('node:') ? id.slice(5) : id;
      if (id.startsWith('node:') || NODE_BUILTINS.has(bare.split('/')[0])) {
        this.error(
          `browser bundle imports the Node module '${id}' (from ${importer ?? '?'}): the browser entry must not reach src/node or Node APIs`,
        );
      }
      if (importer && /[\\/]src[\\/]node[\\/]/.test(resolve(dirname(importer), id))) {
        this.error(`browser bundle imports ${id} from ${importer}: src/node/* is Node-only`);
      }
      return null;
    },
  };
}

const MOUNTS: Array<[string, string]> = [
  ['/fixtures/', join(ROOT, 'test', 'fixtures')],
  ['/weights/', join(ROOT, 'weights')],
];

export function serveMounts(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const url = decodeURIComponent((req.url ?? '').split('?')[0]);
  for (const [prefix, dir] of MOUNTS) {
    if (!url.startsWith(prefix)) continue;
    const file = normalize(join(dir, url.slice(prefix.length)));
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) break;
    res.setHeader(
      'Content-Type',
      file.endsWith('.json') ? 'application/json' : file.endsWith('.png') ? 'image/png' : 'application/octet-stream',
    );
    res.setHeader('Content-Length', String(statSync(file).size));
    createReadStream(file).pipe(res);
    return;
  }
  next();
}

function mounts(): Plugin {
  return {
    name: 'robotseg-mounts',
    configureServer(server) {
      server.middlewares.use(serveMounts);
    },
    configurePreviewServer(server) {
      server.middlewares.use(serveMounts);
    },
  };
}

export default defineConfig({
  root: WEB,
  base: './',
  plugins: [noNodeModules(), mounts()],
  resolve: { alias: ENGINE_ALIAS },
  build: { outDir: join(WEB, 'dist'), emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2048 },
  server: { fs: { allow: [ROOT] } },
  logLevel: 'warn',
});
