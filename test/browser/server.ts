// A tiny static server for the browser test: the built demo (web/dist) at / and test/fixtures at
// /fixtures/, on 127.0.0.1 (WebGPU needs a secure context; loopback http counts).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
  requests: string[];
}

/** Serve `mounts` (URL prefix -> directory); '/' maps to index.html. */
export async function serveStatic(mounts: Record<string, string>): Promise<StaticServer> {
  const requests: string[] = [];
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(path);
    const prefix = prefixes.find((p) => path.startsWith(p));
    if (prefix !== undefined) {
      const dir = mounts[prefix];
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (file === normalize(dir) || file.endsWith(sep)) file = join(file, 'index.html');
      if ((file + sep).startsWith(normalize(dir) + sep) && existsSync(file) && statSync(file).isFile()) {
        res.writeHead(200, {
          'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
          'Content-Length': statSync(file).size,
          'Cache-Control': 'no-store',
        });
        createReadStream(file).pipe(res);
        return;
      }
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end(`not found: ${path}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
