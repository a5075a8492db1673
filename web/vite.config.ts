// Demo page (web/): `npm run web` serves it, `npm run web:build` builds web/dist.
// - The engine is imported from src/browser (the package's browser entry); shaders are bundled by
//   import.meta.glob there.
// - Guard: the build fails if anything reachable from the page imports a Node module (src/node/*,
//   node:*, fs, path…): the browser entry must stay host-agnostic.
// - Dev and preview servers also serve /fixtures/* (test/fixtures: the reduced golden model and its
//   images) and /weights/* (the repo's weights/ folder, where scripts/get-weights.sh puts checkpoints).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const WEB = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(WEB, '..');
const NODE_BUILTINS = new Set(builtinModules);
// ROBOTSEG_WEB_ENGINE=dist: the page imports the built package (dist/src/browser/index.js: run `npm run build`
// first) instead of the TypeScript sources, i.e. what a bundler gets from an installed copy of the package
// (`ROBOTSEG_WEB_ENGINE=dist npx vitest run test/browser/demo.test.ts` runs the browser test that way).
const ENGINE_DIST = process.env.ROBOTSEG_WEB_ENGINE === 'dist';
if (ENGINE_DIST && !existsSync(join(ROOT, 'dist', 'src', 'browser', 'index.js')))
  throw new Error('ROBOTSEG_WEB_ENGINE=dist: no dist/src/browser/index.js; run npm run build first');
const ENGINE_ALIAS = ENGINE_DIST
  ? [{ find: /^\.\.\/src\/browser\/index\.js$/, replacement: join(ROOT, 'dist', 'src', 'browser', 'index.js') }]
  : [];

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
