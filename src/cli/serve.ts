// `robotseg serve --weights FILE [--config NAME|FILE] [--host 127.0.0.1] [--port 8765] [--token T]
//   [--max-sessions N] [--max-frame-pixels P] [--resize image|official-video] [--record FILE.mcap] [--quiet]`
//
// One process, one WebGPU device, one copy of the weights, many streaming sessions (docs/serve.md):
// WebSocket /v1/stream, POST /v1/segment, GET /healthz, GET /metrics (src/node/serve/server.ts).
// The token comes from --token or ROBOTSEG_TOKEN (which keeps it out of `ps`); binding to anything
// but loopback without one is refused. Start-up errors (flags, weights, port in use): one line, exit 2.
// Prints `listening on http://HOST:PORT …` on stdout once the port is bound; SIGINT / SIGTERM close
// every session and release the device, then exit as every command does on a signal (130 / 143).
// --record FILE.mcap writes every answered frame and /v1/segment request (src/node/serve/recorder.ts);
// the file is finished on that shutdown and appears under its name only then (atomic rename).
import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { formatBytes, WeightsFormatError } from '../graph/weights_io.js';
import { isRobotSegConfig } from '../model/robotseg_config.js';
import { ConfigError } from '../model/resolve_config.js';
import { loadModelWithStore } from '../node/load_model.js';
import { checkDistinct, checkOutputFile, errnoText } from '../node/paths.js';
import { ServeRecorder } from '../node/serve/recorder.js';
import {
  DEFAULT_MAX_FRAME_PIXELS,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_PORT,
  isLoopback,
  type RunningServer,
  startServer,
} from '../node/serve/server.js';
import { cliRuntime, oneLine, PRECISION_HELP, parsePrecision, UserError } from './errors.js';

export interface ServeOpts {
  weights?: string;
  precision?: string;
  config?: string;
  host?: string;
  port?: string;
  token?: string;
  maxSessions?: string;
  maxFramePixels?: string;
  resize?: string;
  record?: string;
  quiet?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve masks to other processes: WebSocket streams (/v1/stream) and one-shot images (/v1/segment)')
    .option('--weights <file>', 'checkpoint: .safetensors or official .pt, SAM 2.1 or RobotSeg (required)')
    .option(
      '--config <name|file>',
      'model config: built-in name or JSON file (default: embedded in the weights, else inferred)',
    )
    .option('--host <addr>', 'interface to bind; anything but loopback needs a token', '127.0.0.1')
    .option('--port <n>', `TCP port (0 = any free port)`, String(DEFAULT_PORT))
    .option('--token <t>', 'required on every endpoint but /healthz (or set ROBOTSEG_TOKEN, which keeps it out of ps)')
    .option('--max-sessions <n>', 'open streaming sessions at most', String(DEFAULT_MAX_SESSIONS))
    .option('--max-frame-pixels <p>', 'pixels per frame or image at most', String(DEFAULT_MAX_FRAME_PIXELS))
    .option('--resize <mode>', 'stream frame preprocessing: image (default) or official-video')
    .option('--precision <p>', PRECISION_HELP)
    .option(
      '--record <file.mcap>',
      'write every served frame, its masks and results to an MCAP file (finished on SIGINT / SIGTERM)',
    )
    .option('--quiet', 'no log lines on stderr')
    .action(async (opts: ServeOpts) => {
      const served = await runServe(opts, (line) => process.stdout.write(`${line}\n`));
      await waitForSignal(served.stop);
    });
}

function intArg(flag: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new UserError(`${flag} '${v}': expected an integer from ${min} to ${max}`);
  return n;
}

/** Check the flags, load the weights, bind the port. `out` gets the `listening on …` line. */
export async function runServe(
  opts: ServeOpts,
  out: (line: string) => void,
): Promise<{ server: RunningServer; stop: () => Promise<void> }> {
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };
  // 1. flags (nothing is read or bound yet)
  const precision = parsePrecision(opts.precision);
  const host = opts.host ?? '127.0.0.1';
  if (host.trim() === '') throw new UserError('--host: empty address');
  const port = intArg('--port', opts.port ?? String(DEFAULT_PORT), 0, 65535);
  const maxSessions = intArg('--max-sessions', opts.maxSessions ?? String(DEFAULT_MAX_SESSIONS), 1, 10_000);
  const maxFramePixels = intArg(
    '--max-frame-pixels',
    opts.maxFramePixels ?? String(DEFAULT_MAX_FRAME_PIXELS),
    1,
    268_435_456,
  );
  if (opts.resize !== undefined && opts.resize !== 'image' && opts.resize !== 'official-video')
    throw new UserError(`--resize '${opts.resize}': expected image or official-video`);
  const token = opts.token ?? process.env.ROBOTSEG_TOKEN;
  if (token !== undefined && token.trim() === '')
    throw new UserError(`${opts.token !== undefined ? '--token' : 'ROBOTSEG_TOKEN'} is empty`);
  if (!token && !isLoopback(host))
    throw new UserError(
      `--host ${host} is not loopback: set a token (--token T or ROBOTSEG_TOKEN) before serving on the network`,
    );
  if (opts.weights === undefined) throw new UserError('--weights FILE is required (a .safetensors or .pt checkpoint)');
  if (!existsSync(opts.weights)) throw new UserError(`cannot read weights '${opts.weights}': no such file`);
  if (!statSync(opts.weights).isFile()) throw new UserError(`cannot read weights '${opts.weights}': not a file`);
  if (opts.record !== undefined) {
    if (extname(opts.record).toLowerCase() !== '.mcap')
      throw new UserError(`--record '${opts.record}': the recording is an MCAP file (name it *.mcap)`);
    checkOutputFile('--record', opts.record);
    checkDistinct(
      [
        { what: '--weights', path: opts.weights },
        { what: '--config', path: opts.config !== undefined && existsSync(opts.config) ? opts.config : undefined },
      ],
      [{ what: '--record', path: opts.record }],
    );
  }

  // 2. the recording (its temporary file: a path that cannot be written fails here), the device, the weights
  let recorder: ServeRecorder | null = null;
  if (opts.record !== undefined) {
    const path = opts.record;
    recorder = await ServeRecorder.open(path, (line) => process.stderr.write(`robotseg serve: ${line}\n`)).catch(
      (e) => {
        throw new UserError(`cannot write --record '${path}': ${errnoText(e)}`);
      },
    );
  }
  const rt = await cliRuntime({ precision }).catch((e) => {
    recorder?.abort();
    throw e;
  });
  let server: RunningServer;
  try {
    const t0 = performance.now();
    const loaded = await loadModelWithStore(rt, opts.weights, opts.config, { precision }).catch(
      (e: Error & { code?: string }) => {
        if (e instanceof ConfigError) throw new UserError(oneLine(e.message));
        if (e instanceof WeightsFormatError || typeof e.code === 'string')
          throw new UserError(`weights ${opts.weights}: ${oneLine(e.message)}`);
        throw e;
      },
    );
    log(
      `weights: ${loaded.store.entries.size} tensors, ${formatBytes(loaded.store.bytes)} (${loaded.format}), config ${loaded.config.name} (${loaded.source}${isRobotSegConfig(loaded.config) ? ', RobotSeg' : ''}), loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    // 3. the port
    server = await startServer({
      rt,
      model: loaded.model,
      host,
      port,
      token: token ?? null,
      maxSessions,
      maxFramePixels,
      resize: opts.resize === 'official-video' ? 'official-video' : 'image',
      hooks: recorder?.hooks,
      onSegment: recorder ? (ev) => recorder.recordSegment(ev) : undefined,
      log: (line) => process.stderr.write(`robotseg serve: ${line}\n`),
    }).catch((e: Error & { code?: string }) => {
      throw new UserError(`cannot listen on ${host}:${port}: ${e.code ?? oneLine(e.message)}`);
    });
  } catch (e) {
    recorder?.abort();
    rt.destroy();
    throw e;
  }
  const ws = server.url.replace(/^http/, 'ws');
  out(
    `listening on ${server.url} (${ws}/v1/stream, ${server.url}/v1/segment, /healthz, /metrics), ${token ? 'token required' : 'no token'}, at most ${maxSessions} sessions${recorder ? `, recording to ${recorder.path}` : ''}, adapter ${rt.adapter.description || rt.adapter.device || 'WebGPU'}`,
  );
  const finishRecording = async () => {
    if (!recorder) return;
    try {
      await recorder.close();
      log(`recorded ${recorder.frames} frames and ${recorder.masks} masks to ${recorder.path}`);
    } catch (e) {
      recorder.abort();
      process.stderr.write(`robotseg: cannot write --record '${recorder.path}': ${errnoText(e)}\n`);
    }
  };
  const stop = async () => {
    try {
      await server.close();
    } finally {
      await finishRecording();
      rt.destroy();
    }
  };
  return { server, stop };
}

/**
 * Serve until SIGINT / SIGTERM / SIGHUP: close every session (`shutting_down`) and release the device
 * first (at most 5 s), then hand the signal to the handlers registered before (main.ts: exit 130 / 143
 * with its one line); with none, return. A second signal during the close kills at once.
 */
function waitForSignal(close: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const previous = new Map(sigs.map((sig) => [sig, process.listeners(sig)] as const));
    const onSignal = (sig: NodeJS.Signals) => {
      for (const s of sigs) process.removeAllListeners(s);
      const done = () => {
        const handlers = previous.get(sig as (typeof sigs)[number]) ?? [];
        for (const h of handlers) h(sig);
        resolve();
      };
      const timer = setTimeout(done, 5000);
      close().finally(() => {
        clearTimeout(timer);
        done();
      });
    };
    for (const sig of sigs) {
      process.removeAllListeners(sig);
      process.once(sig, onSignal);
    }
  });
}
