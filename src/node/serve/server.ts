// The `robotseg serve` server (docs/serve.md): node:http for `/healthz`, `/metrics` and
// `POST /v1/segment`, `ws` for the `/v1/stream` WebSocket sessions (src/serve/session.ts). One
// runtime, one copy of the weights, one GpuQueue that runs every session's GPU work in turn.
// Nothing a client sends can stop the server: every handler answers its own client with an error
// code and closes that connection only.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isIP } from 'node:net';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { Runtime } from '../../graph/runtime.js';
import type { SAM2 } from '../../model/sam2.js';
import { GpuQueue } from '../../serve/gpu_queue.js';
import { readImageHeader } from '../../serve/image_header.js';
import { ServeMetrics } from '../../serve/metrics.js';
import { closeCodeFor, type ErrorCode, errorMessage, LIMITS, ProtocolError } from '../../serve/protocol.js';
import { parseSegmentQuery } from '../../serve/segment_query.js';
import { type SessionHooks, StreamSession } from '../../serve/session.js';
import { decodeImage } from '../image_io.js';
import { type SegmentEvent, checkSegmentQuery, maskPngBytes, segmentImage } from './segment.js';

export interface ServeOptions {
  rt: Runtime;
  model: SAM2;
  /** Interface to bind (default 127.0.0.1). Anything but loopback needs a token. */
  host?: string;
  /** Port (default 8765; 0 = any free port). */
  port?: number;
  /** Required on every endpoint but /healthz when set. */
  token?: string | null;
  /** Open streaming connections at most (default 8). */
  maxSessions?: number;
  /** Pixels per frame or image at most (default 3840x2160). */
  maxFramePixels?: number;
  /** Per-session and per-frame callbacks (a recorder of what was served hooks in here). */
  hooks?: SessionHooks;
  /** After a `POST /v1/segment` answer was sent (a recorder); awaited, a throw is only logged. */
  onSegment?: (ev: SegmentEvent) => void | Promise<void>;
  /** Frame preprocessing of the streaming predictor (default 'image'). */
  resize?: 'image' | 'official-video';
  /** Server-side log lines (internal errors). */
  log?: (line: string) => void;
  /** The queue that serializes GPU work; pass one to share the device with other users of `rt` (default: a new one). */
  gpu?: GpuQueue;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  readonly metrics: ServeMetrics;
  readonly gpu: GpuQueue;
  /** Open streaming sessions. */
  sessions(): number;
  /** Resolves once every session closed so far has freed its GPU memory. */
  settled(): Promise<void>;
  /** Stop listening, close every session (`shutting_down`), wait for their memory to be freed. */
  close(): Promise<void>;
}

export const DEFAULT_PORT = 8765;
export const DEFAULT_MAX_SESSIONS = 8;
export const DEFAULT_MAX_FRAME_PIXELS = 3840 * 2160;

/** Largest binary message or request body: enough for any PNG of maxFramePixels pixels (16-bit RGBA). */
export const maxFrameBytes = (maxFramePixels: number) => 8 * maxFramePixels + 1024 * 1024;

/** 127.0.0.0/8, ::1, ::ffff:127.x.x.x and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time token check of `Authorization: Bearer T` or `?token=T`. */
function tokenOk(token: string | null, req: IncomingMessage, url: URL): boolean {
  if (!token) return true;
  const auth = req.headers.authorization;
  const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : url.searchParams.get('token');
  return given !== null && given !== undefined && timingSafeEqual(digest(given), digest(token));
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  too_large: 413,
  needs_robotseg: 422,
  shutting_down: 503,
  internal: 500,
};

function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendError(res: ServerResponse, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, HTTP_STATUS[code] ?? 400, errorMessage(code, message), headers);
}

/** The request body, refusing more than `limit` bytes (too_large) without reading the rest. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new ProtocolError('too_large', `body of ${declared} bytes (at most ${limit})`));
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new ProtocolError('too_large', `body over ${limit} bytes`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Start listening; resolves once the port is bound. Errors while binding (port in use, …) reject. */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const token = o.token || null;
  if (!token && !isLoopback(host))
    throw new Error(`binding to ${host} (not loopback) needs a token (--token or ROBOTSEG_TOKEN)`);
  const maxSessions = o.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const maxPixels = o.maxFramePixels ?? DEFAULT_MAX_FRAME_PIXELS;
  const maxBytes = maxFrameBytes(maxPixels);
  const gpu = o.gpu ?? new GpuQueue();
  const metrics = new ServeMetrics();
  const live = new Set<StreamSession>();
  const releasing = new Set<Promise<void>>();
  let closing = false;
  const log = o.log ?? (() => {});

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxBytes,
    perMessageDeflate: false,
    skipUTF8Validation: true, // checked per message, so that bad UTF-8 gets a bad_json error
  });
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  const closeWs = (ws: WebSocket, code: number, reason: string) => {
    ws.close(code, reason);
    // a client that does not read its socket must not keep the connection forever
    setTimeout(() => ws.terminate(), 5000).unref();
  };

  const refuse = (ws: WebSocket, code: ErrorCode, message: string) => {
    metrics.error(code);
    ws.send(errorMessage(code, message));
    closeWs(ws, closeCodeFor(code), code);
  };

  const onConnection = (ws: WebSocket, req: IncomingMessage, url: URL) => {
    ws.on('error', () => {}); // protocol violations: ws closes the connection itself (1002/1007/1009)
    if (!tokenOk(token, req, url))
      return refuse(ws, 'unauthorized', 'missing or wrong token (Authorization: Bearer T or ?token=T)');
    if (closing) return refuse(ws, 'shutting_down', 'the server is shutting down');
    if (live.size >= maxSessions)
      return refuse(ws, 'too_many_sessions', `${live.size} sessions are open (at most ${maxSessions}); retry later`);
    const session: StreamSession = new StreamSession({
      id: randomUUID(),
      rt: o.rt,
      model: o.model,
      gpu,
      metrics,
      decode: (b) => decodeImage(b, 'frame'),
      maxFramePixels: maxPixels,
      maxFrameBytes: maxBytes,
      send: (t) => {
        if (ws.readyState === ws.OPEN) ws.send(t);
      },
      close: (code, reason) => closeWs(ws, code, reason),
      buffered: () => ws.bufferedAmount,
      hooks: o.hooks,
      resize: o.resize,
      log,
    });
    live.add(session);
    const released = session.released.then(() => {
      releasing.delete(released);
    });
    releasing.add(released);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) return session.onBinary(buf);
      if (buf.length > LIMITS.textBytes)
        return session.reject(
          new ProtocolError('too_large', `text message of ${buf.length} bytes (at most ${LIMITS.textBytes})`),
        );
      let text: string;
      try {
        text = utf8.decode(buf);
      } catch {
        return session.reject(new ProtocolError('bad_json', 'text message is not valid UTF-8'));
      }
      session.onText(text);
    });
    ws.on('close', () => {
      live.delete(session);
      session.onDisconnect();
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const only = (m: string[]) => {
      if (m.includes(method)) return true;
      sendError(res, 'method_not_allowed', `${method} ${url.pathname}: use ${m.join(' or ')}`, { allow: m.join(', ') });
      return false;
    };
    const authorized = () => {
      if (tokenOk(token, req, url)) return true;
      metrics.error('unauthorized');
      sendError(res, 'unauthorized', 'missing or wrong token (Authorization: Bearer T or ?token=T)', {
        'www-authenticate': 'Bearer',
      });
      return false;
    };
    switch (url.pathname) {
      case '/healthz':
        if (only(['GET', 'HEAD'])) sendJson(res, 200, '{"status":"ok"}');
        return;
      case '/metrics': {
        if (!only(['GET']) || !authorized()) return;
        const body = metrics.render({
          sessions: live.size,
          gpuQueueDepth: gpu.depth,
          gpuPoolLiveBytes: o.rt.pool.liveBytes,
          gpuPoolCachedBytes: o.rt.pool.cachedBytes,
          residentBytes: process.memoryUsage.rss(),
        });
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(body);
        return;
      }
      case '/v1/segment':
        if (!only(['POST']) || !authorized()) return;
        return segment(req, res, url);
      case '/v1/stream':
        sendError(res, 'bad_message', '/v1/stream is a WebSocket endpoint (send an Upgrade: websocket request)');
        return;
      default:
        sendError(res, 'not_found', `no endpoint ${url.pathname} (/v1/stream, /v1/segment, /healthz, /metrics)`);
    }
  };

  const segment = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    try {
      if (closing) throw new ProtocolError('shutting_down', 'the server is shutting down');
      const q = parseSegmentQuery(url.searchParams);
      const receivedAt = Date.now();
      const body = await readBody(req, maxBytes);
      const td = performance.now();
      const hdr = readImageHeader(body);
      if (!hdr) throw new ProtocolError('bad_frame', 'the body is not a PNG or JPEG image');
      if (hdr.width * hdr.height > maxPixels)
        throw new ProtocolError('too_large', `image of ${hdr.width}x${hdr.height} pixels (at most ${maxPixels})`);
      if (hdr.width === 0 || hdr.height === 0) throw new ProtocolError('bad_frame', `empty ${hdr.format} image`);
      let img: ReturnType<typeof decodeImage>;
      try {
        img = decodeImage(body, 'image');
      } catch (e) {
        throw new ProtocolError('bad_frame', (e as Error).message);
      }
      if (img.width * img.height > maxPixels || img.width === 0 || img.height === 0)
        throw new ProtocolError(
          'bad_frame',
          `decoded ${img.width}x${img.height}, the header said ${hdr.width}x${hdr.height}`,
        );
      const decode = performance.now() - td;
      checkSegmentQuery(o.model, img, q);
      const tq = performance.now();
      let start = 0;
      const out = await gpu.run(() => {
        start = performance.now();
        return segmentImage(o.rt, o.model, img, q);
      });
      const gpuMs = performance.now() - start;
      metrics.segmentRequests++;
      const te = performance.now();
      const objects = JSON.stringify(out.objects);
      const r = (x: number) => Math.round(x * 100) / 100;
      const latency = { decode: r(decode), queue: r(start - tq), gpu: r(gpuMs), encode: 0 };
      const result = () =>
        `{"type":"result","frame":0,"skipped":0,"objects":${objects},"best":${out.best},"latency_ms":${JSON.stringify(latency)}}`;
      if (q.format === 'png') {
        const png = maskPngBytes(out.masks[out.best], img.width, img.height);
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
        res.end(png);
      } else {
        latency.encode = r(performance.now() - te);
        sendJson(res, 200, result());
      }
      if (o.onSegment) {
        const ev: SegmentEvent = {
          receivedAt,
          bytes: body,
          width: img.width,
          height: img.height,
          objects: out.objects,
          masks: out.masks,
          result: result(),
        };
        try {
          await o.onSegment(ev);
        } catch (e) {
          log(`POST /v1/segment hook: ${(e as Error).message}`);
        }
      }
    } catch (e) {
      const err =
        e instanceof ProtocolError
          ? e
          : new ProtocolError('internal', `internal server error: ${(e as Error).message}`);
      if (err.code === 'internal') log(`POST /v1/segment: ${(e as Error).stack ?? String(e)}`);
      metrics.error(err.code);
      // an oversized body is not read to the end: close the connection after the answer
      sendError(res, err.code, err.message, err.code === 'too_large' ? { connection: 'close' } : {});
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      log(`${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      metrics.error('internal');
      sendError(res, 'internal', 'internal server error');
    });
  });
  server.on('clientError', (_e, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/v1/stream') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req, url));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log(`server error: ${(e as Error).message}`));
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  return {
    host: addr.address,
    port: addr.port,
    url: `http://${urlHost}:${addr.port}`,
    metrics,
    gpu,
    sessions: () => live.size,
    settled: async () => {
      while (releasing.size > 0) await Promise.all([...releasing]);
      await gpu.idle();
    },
    close: async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of [...live]) s.shutdown();
      while (releasing.size > 0) await Promise.all([...releasing]);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await stopped;
      await gpu.idle();
    },
  };
}
