// `robotseg serve` as a user runs it: start-up errors are UserErrors (exit 2, one line; two spawned); the Python client
// of docs/serve.md, run verbatim with python3 + websockets (Debian's python3-websockets in CI) against
// the running server, gets the masks in-process push gives (its RLE decoding checked by SHA-1); SIGTERM
// closes the server (exit 143, as every command). `--record FILE.mcap`: a session over WebSocket and one
// /v1/segment request, then SIGTERM; the MCAP file read back with @mcap/core's indexed reader holds the
// frame bytes as sent and masks equal to the RLEs the server answered; a bad --record path exits 2.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseRosMsg } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { McapIndexedReader, type McapTypes, TempBuffer } from '@mcap/core';
import { loadDecompressHandlers } from '@mcap/support';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServeOpts, runServe } from '../../src/cli/serve.js';
import { decodeImage } from '../../src/node/image_io.js';
import { loadModelWithStore } from '../../src/node/load_model.js';
import { ROS2_COMPRESSED_IMAGE_SCHEMA, ROS2_IMAGE_SCHEMA } from '../../src/node/mcap/image_messages.js';
import { maskToRle } from '../../src/serve/rle.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { connect, inProcessStream, type Msg } from '../helpers/serve_client.js';

const W = join(GOLDEN, 'weights.safetensors');
const CFG = join(GOLDEN, 'config.json');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-serve-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
mkdirSync(join(tmp, 'dir.mcap'));

/** A python3 that imports websockets: ROBOTSEG_PYTHON, python3 on PATH, then Debian's /usr/bin/python3. */
function findPython(): string | null {
  for (const py of [process.env.ROBOTSEG_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', 'import websockets'], { stdio: 'ignore' });
      return py;
    } catch {
      // not this one
    }
  }
  return null;
}

/** Start `robotseg serve` and wait for its `listening on` line; resolves with the base URL. */
function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string; err: () => string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'robotseg.js'), 'serve', ...args], { cwd: ROOT, env });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'listening on' line in 120 s; stderr: ${err}`)), 120_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+) /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], err: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`robotseg serve exited with ${code}: ${err}`));
    });
  });
}

describe('robotseg serve: start-up errors', () => {
  // flags and paths are checked before the device or the weights are touched: in-process, exit code 2
  const cases: Array<[string, ServeOpts, NodeJS.ProcessEnv, RegExp]> = [
    ['IPv6 any without a token', { host: '::' }, {}, /--host :: is not loopback: set a token/],
    ['bad port', { port: '70000' }, {}, /--port '70000': expected an integer from 0 to 65535/],
    ['bad max sessions', { maxSessions: '0' }, {}, /--max-sessions '0'/],
    ['bad max frame pixels', { maxFramePixels: 'lots' }, {}, /--max-frame-pixels 'lots'/],
    ['empty token', {}, { ROBOTSEG_TOKEN: '' }, /ROBOTSEG_TOKEN is empty/],
    ['bad resize', { resize: 'nearest' }, {}, /--resize 'nearest'/],
    ['missing weights', { weights: join(tmp, 'none.safetensors') }, {}, /cannot read weights .*no such file/],
    ['record not *.mcap', { record: join(tmp, 'rec.bag') }, {}, /--record '.*rec\.bag': the recording is an MCAP file/],
    ['record in a missing folder', { record: join(tmp, 'no', 'r.mcap') }, {}, /cannot write --record .*does not exist/],
    ['record is a folder', { record: join(tmp, 'dir.mcap') }, {}, /cannot write --record .*a folder/],
  ];
  for (const [name, opts, env, re] of cases) {
    it(name, async () => {
      const saved = process.env.ROBOTSEG_TOKEN;
      delete process.env.ROBOTSEG_TOKEN;
      Object.assign(process.env, env);
      try {
        const run = runServe({ weights: W, config: CFG, quiet: true, ...opts }, () => {});
        // a user error (UserError or PathError): exit 2 with its one line
        await expect(run).rejects.toMatchObject({ exitCode: 2 });
        await expect(run).rejects.toThrow(re);
      } finally {
        if (saved === undefined) delete process.env.ROBOTSEG_TOKEN;
        else process.env.ROBOTSEG_TOKEN = saved;
      }
    });
  }
  it('spawned: a non-loopback address without a token exits 2 with one line', async () => {
    const r = await runCli(['serve', '--weights', W, '--config', CFG, '--host', '0.0.0.0'], {
      env: { ...process.env, ROBOTSEG_TOKEN: undefined },
    });
    expect(r.code, r.err).toBe(2);
    expect(r.err.trim()).toMatch(
      /^robotseg: --host 0\.0\.0\.0 is not loopback: set a token \(--token T or ROBOTSEG_TOKEN\) before serving on the network$/,
    );
  });
  it('spawned: a port in use exits 2 after loading the weights', async () => {
    const busy = createServer();
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', res));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runCli(['serve', '--weights', W, '--config', CFG, '--port', String(port), '--quiet'], {
        env: { ...process.env, ROBOTSEG_TOKEN: 'tok' },
      });
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    } finally {
      busy.close();
    }
  });
});

const rt = await testRuntime();
const python = findPython();

describe.skipIf(!rt || (!python && process.env.CI !== 'true'))('the Python client of docs/serve.md', () => {
  it('streams the clip through robotseg serve and gets the in-process masks', { timeout: 300_000 }, async () => {
    expect(python, 'python3 with websockets (apt-get install python3-websockets)').not.toBeNull();
    const doc = readFileSync(join(ROOT, 'docs', 'serve.md'), 'utf8');
    const block = /```python\n([\s\S]*?)```/.exec(doc);
    expect(block, 'a ```python block in docs/serve.md').not.toBeNull();
    const script = join(tmp, 'serve_client.py');
    writeFileSync(script, block![1]);
    const token = 'py-token-42';
    const env = { ...process.env, ROBOTSEG_TOKEN: token };
    const srv = await startCli(['--weights', W, '--config', CFG, '--port', '0', '--quiet'], env);
    try {
      const frames = [0, 1, 2].map((i) => join(GOLDEN, `video_frame${i}.png`));
      const ws = `${srv.url.replace(/^http/, 'ws')}/v1/stream`;
      const r = await runPython(python!, [script, ws, '90,82.5', ...frames], env);
      expect(r.code, r.err).toBe(0);
      const lines = r.out.trim().split('\n');
      expect(lines).toHaveLength(frames.length + 1);
      const got = lines.slice(0, -1).map((l) => JSON.parse(l));
      const stopped = JSON.parse(lines.at(-1)!);
      expect(stopped).toMatchObject({ type: 'stopped', frames_received: 3, frames_processed: 3, frames_dropped: 0 });
      // the in-process reference on this process's own device
      const { model } = await loadModelWithStore(rt!, W, CFG);
      const images = frames.map((f) => decodeImage(readFileSync(f)));
      const want = await inProcessStream(
        rt!,
        model,
        images.map((image, i) => ({
          image,
          prompts: i === 0 ? [{ obj: 1, points: [{ x: 90, y: 82.5, label: 1 }] }] : undefined,
        })),
      );
      got.forEach((g, i) => {
        const o = want[i].objects[0];
        const { width, height } = images[i];
        const rows = Buffer.alloc(width * height);
        // the mask the RLE encodes, row-major 0/1, as the Python client hashes it
        let k = 0;
        o.rle.counts.forEach((n, j) => {
          for (let e = k + n; k < e; k++) if (j % 2 === 1) rows[(k % height) * width + Math.floor(k / height)] = 1;
        });
        expect(g).toEqual({
          frame: i,
          obj: 1,
          area: o.area,
          bbox: o.bbox,
          object_score: o.object_score,
          pixels: o.area,
          sha1: createHash('sha1').update(rows).digest('hex'),
        });
      });
      expect(got.every((g) => g.area > 0)).toBe(true);
      // healthz needs no token, metrics does
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${srv.url}/metrics`)).status).toBe(401);
      const metrics = await (await fetch(`${srv.url}/metrics?token=${token}`)).text();
      expect(metrics).toMatch(/\nrobotseg_frames_processed_total 3\n/);
    } finally {
      const exited = new Promise<number | null>((res) => srv.child.on('exit', (code) => res(code)));
      srv.child.kill('SIGTERM');
      // sessions closed and the device released first, then the CLI's usual exit for SIGTERM
      expect(await exited, srv.err()).toBe(143);
      expect(srv.err()).toMatch(/robotseg: interrupted \(SIGTERM\)/);
    }
  });
});

describe.skipIf(!rt && process.env.CI !== 'true')('robotseg serve --record FILE.mcap', () => {
  it('spawned: an unwritable --record path exits 2 with one line', async () => {
    const r = await runCli(
      ['serve', '--weights', W, '--config', CFG, '--record', join(tmp, 'missing', 'rec.mcap'), '--quiet'],
      {},
    );
    expect(r.code, r.err).toBe(2);
    expect(r.err.trim()).toMatch(/^robotseg: cannot write --record '.*rec\.mcap': folder '.*missing' does not exist$/);
  });

  it('a stream and a /v1/segment request, then SIGTERM: the MCAP file holds what was served', {
    timeout: 300_000,
  }, async () => {
    expect(rt, 'a WebGPU adapter').not.toBeNull();
    const dir = mkdtempSync(join(tmp, 'rec-'));
    const rec = join(dir, 'served.mcap');
    const env = { ...process.env, ROBOTSEG_TOKEN: undefined };
    const srv = await startCli(['--weights', W, '--config', CFG, '--port', '0', '--record', rec], env);
    let exited: Promise<number | null> | null = new Promise((res) => srv.child.on('exit', (code) => res(code)));
    const frames = ['00000.jpg', '00001.jpg', '00002.jpg'].map((f) =>
      readFileSync(join(ROOT, 'test', 'fixtures', 'video_clip', f)),
    );
    const results: Msg[] = [];
    let ready: Msg;
    let segment: Msg;
    try {
      const c = await connect(`${srv.url.replace(/^http/, 'ws')}/v1/stream`);
      c.json({
        type: 'start',
        objects: [
          { obj: 1, points: [[120, 68, 1]] },
          { obj: 4, box: [20, 10, 110, 100] },
        ],
      });
      ready = await c.next();
      expect(ready.type, JSON.stringify(ready)).toBe('ready');
      // one frame at a time (each answered before the next is sent): none is dropped
      for (const f of frames) {
        c.frame(f);
        results.push(await c.next());
      }
      c.json({ type: 'stop' });
      expect((await c.next()).type).toBe('stopped');
      await c.closed;
      const r = await fetch(`${srv.url}/v1/segment?points=60,40,1`, { method: 'POST', body: frames[1] });
      expect(r.status).toBe(200);
      segment = (await r.json()) as Msg;
      // nothing under the final name before the shutdown
      expect(readdirSync(dir).filter((f) => f === 'served.mcap')).toEqual([]);
      srv.child.kill('SIGTERM');
      expect(await exited, srv.err()).toBe(143);
      exited = null;
    } finally {
      if (exited) {
        srv.child.kill('SIGKILL');
        await exited;
      }
    }
    expect(srv.err()).toMatch(/recorded 4 frames and 9 masks to /);
    expect(readdirSync(dir), 'no temporary file left').toEqual(['served.mcap']);

    const reader = await McapIndexedReader.Initialize({
      readable: new TempBuffer(new Uint8Array(readFileSync(rec))),
      decompressHandlers: await loadDecompressHandlers(),
    });
    const messages: McapTypes.TypedMcapRecords['Message'][] = [];
    for await (const m of reader.readMessages()) messages.push(m);
    const on = (topic: string) => messages.filter((m) => reader.channelsById.get(m.channelId)!.topic === topic);
    const base = '/robotseg/session1';
    const imageCh = [...reader.channelsById.values()].find((ch) => ch.topic === `${base}/image`)!;
    expect(imageCh.metadata.get('session')).toBe(ready.session);
    expect(reader.schemasById.get(imageCh.schemaId)!.name).toBe('sensor_msgs/msg/CompressedImage');
    const compressed = new MessageReader(parseRosMsg(ROS2_COMPRESSED_IMAGE_SCHEMA, { ros2: true }));
    const image = new MessageReader(parseRosMsg(ROS2_IMAGE_SCHEMA, { ros2: true }));
    type Img = { header: { stamp: unknown }; width: number; height: number; encoding: string; data: Uint8Array };
    type Jpg = { header: { stamp: unknown }; format: string; data: Uint8Array };

    const sent = on(`${base}/image`).map((m) => compressed.readMessage<Jpg>(m.data));
    expect(sent.map((f) => f.format)).toEqual(['jpeg', 'jpeg', 'jpeg']);
    sent.forEach((f, i) => expect(Buffer.from(f.data).equals(frames[i]), `frame ${i} bytes`).toBe(true));
    const times = on(`${base}/image`).map((m) => m.logTime);
    expect(on(`${base}/results`).map((m) => JSON.parse(new TextDecoder().decode(m.data)))).toEqual(results);
    expect(on(`${base}/results`).map((m) => m.logTime)).toEqual(times);
    let area = 0;
    for (const obj of [1, 4]) {
      const masks = on(`${base}/image/obj${obj}_mask`);
      expect(
        masks.map((m) => m.logTime),
        `obj ${obj}`,
      ).toEqual(times);
      masks.forEach((m, i) => {
        const img = image.readMessage<Img>(m.data);
        expect([img.encoding, img.width, img.height]).toEqual(['mono8', 240, 136]);
        expect(img.header.stamp).toEqual(sent[i].header.stamp);
        const want = results[i].objects.find((o: Msg) => o.obj === obj);
        expect(maskToRle(img.data, 240, 136), `obj ${obj} frame ${i}`).toEqual(want.rle);
        area += want.area;
      });
    }
    expect(area, 'some mask is not empty').toBeGreaterThan(0);

    // the /v1/segment request: its image and one mask channel per returned entry
    const seg = on('/robotseg/segment/image').map((m) => compressed.readMessage<Jpg>(m.data));
    expect(seg).toHaveLength(1);
    expect(Buffer.from(seg[0].data).equals(frames[1])).toBe(true);
    segment.objects.forEach((o: Msg, i: number) => {
      const m = on(`/robotseg/segment/image/mask${o.mask}_mask`);
      expect(m, `segment mask ${i}`).toHaveLength(1);
      expect(maskToRle(image.readMessage<Img>(m[0].data).data, 240, 136)).toEqual(o.rle);
    });
    expect(JSON.parse(new TextDecoder().decode(on('/robotseg/segment/results')[0].data)).objects).toEqual(
      segment.objects,
    );
  });
});

function runPython(
  py: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(py, args, { env });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
