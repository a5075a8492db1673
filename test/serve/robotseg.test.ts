// `robotseg serve` with RobotSeg weights (the reduced RobotSeg of test/fixtures: golden SAM 2.1 part +
// RobotSeg tensors): a session started with `targets` (automatic mode, ids 1..n) and an object naming
// its own id with a target and a box returns what in-process push + addTarget / addPoints return; POST
// /v1/segment?target=… returns what RobotSegImagePredictor returns.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RobotSeg } from '../../src/model/robotseg.js';
import { type RobotImagePrompt, RobotSegImagePredictor } from '../../src/model/robotseg_image_predictor.js';
import { decodeImage } from '../../src/node/image_io.js';
import { type RunningServer, startServer } from '../../src/node/serve/server.js';
import { GpuQueue } from '../../src/serve/gpu_queue.js';
import type { ObjectPrompt } from '../../src/serve/protocol.js';
import { maskStats, maskToRle } from '../../src/serve/rle.js';
import { GOLDEN } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { robotsegGoldenModel } from '../helpers/robotseg.js';
import { connect, inProcessStream, type Msg } from '../helpers/serve_client.js';

const rt = await testRuntime();
const FRAMES = [0, 1].map((i) => readFileSync(join(GOLDEN, `video_frame${i}.png`)));
const IMAGES = FRAMES.map((b) => decodeImage(b));
const viaJson = (x: unknown) => JSON.parse(JSON.stringify(x));
let model: RobotSeg;
let server: RunningServer;
const gpu = new GpuQueue();

describe.skipIf(!rt)('robotseg serve with RobotSeg weights', () => {
  beforeAll(async () => {
    model = await robotsegGoldenModel(rt!);
    server = await startServer({ rt: rt!, model, port: 0, gpu });
  }, 300_000);
  afterAll(async () => {
    await server?.close();
  });

  it('targets and a target with a box: results equal in-process push', { timeout: 300_000 }, async () => {
    const c = await connect(`${server.url.replace(/^http/, 'ws')}/v1/stream`);
    c.json({ type: 'start', targets: ['robot'], objects: [{ obj: 4, target: 'gripper', box: [20, 20, 120, 100] }] });
    expect(await c.next()).toEqual({ type: 'ready', session: expect.any(String), objects: [1, 4] });
    const got: Msg[] = [];
    for (const f of FRAMES) {
      c.frame(f);
      got.push(await c.next());
    }
    c.ws.close();
    const start: ObjectPrompt[] = [
      { obj: 1, points: [], target: 'robot' },
      { obj: 4, points: [], box: [20, 20, 120, 100], target: 'gripper' },
    ];
    const want = await gpu.run(() =>
      inProcessStream(
        rt!,
        model,
        IMAGES.map((image, i) => ({ image, prompts: i === 0 ? start : undefined })),
      ),
    );
    got.forEach((m, i) => {
      expect(m).toMatchObject({ type: 'result', frame: i, skipped: 0 });
      expect(m.objects.map((o: Msg) => o.obj)).toEqual([1, 4]);
      expect(m.objects).toEqual(viaJson(want[i].objects));
    });
  });

  it('POST /v1/segment?target=robot,gripper; a click with two targets and an unknown target are refused', {
    timeout: 300_000,
  }, async () => {
    const cases: Array<[string, string[], RobotImagePrompt]> = [['target=robot,gripper', ['robot', 'gripper'], {}]];
    for (const [query, targets, prompt] of cases) {
      const res = await fetch(`${server.url}/v1/segment?${query}`, {
        method: 'POST',
        body: FRAMES[0] as unknown as BodyInit,
      });
      expect(res.status, query).toBe(200);
      const body = (await res.json()) as Msg;
      const ref = await gpu.run(() => new RobotSegImagePredictor(rt!, model).predict(IMAGES[0], targets, prompt));
      const { width: W, height: H } = IMAGES[0];
      expect(body).toMatchObject({ type: 'result', frame: 0, best: 0 });
      expect(body.objects).toEqual(
        viaJson(
          ref.map((r, k) => ({
            obj: k + 1,
            target: r.target,
            iou: r.result.iou,
            object_score: r.result.objectScore,
            ...maskStats(r.result.mask, W, H),
            rle: maskToRle(r.result.mask, W, H),
          })),
        ),
      );
    }
    const bad = await fetch(`${server.url}/v1/segment?target=robot,arm&points=1,1`, {
      method: 'POST',
      body: FRAMES[0] as unknown as BodyInit,
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'bad_prompt' });
    const unknown = await fetch(`${server.url}/v1/segment?target=tail`, {
      method: 'POST',
      body: FRAMES[0] as unknown as BodyInit,
    });
    expect(await unknown.json()).toMatchObject({ code: 'bad_message' });
  });
});
