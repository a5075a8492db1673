// The --record recorder alone (no GPU, no server): topics, times and bytes of two sessions and a segment
// request read back with @mcap/core; a write that fails drops the recording with one log line and leaves
// nothing behind (neither the file nor its temporary sibling). The served end to end run is in cli.test.ts.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McapIndexedReader, type McapTypes, TempBuffer } from '@mcap/core';
import { loadDecompressHandlers } from '@mcap/support';
import { afterAll, describe, expect, it } from 'vitest';
import { ServeRecorder } from '../../src/node/serve/recorder.js';
import { maskStats, maskToRle } from '../../src/serve/rle.js';
import type { FrameEvent } from '../../src/serve/session.js';

const tmp = mkdtempSync(join(tmpdir(), 'robotseg-recorder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const PNG_HEAD = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
const W = 4;
const H = 3;

function frame(session: string, index: number, masks: Uint8Array[]): FrameEvent {
  const objects = masks.map((m, k) => ({
    obj: k + 1,
    iou: 0.5,
    object_score: 1,
    ...maskStats(m, W, H),
    rle: maskToRle(m, W, H),
  }));
  return {
    session,
    frame: index,
    receivedAt: 1_700_000_000_000 + index * 100.5,
    bytes: new Uint8Array([...PNG_HEAD, index]),
    image: { width: W, height: H, data: new Uint8Array(W * H * 3) },
    results: masks.map((mask, k) => ({ objId: k + 1, mask, iou: 0.5, objectScore: 1 }) as FrameEvent['results'][0]),
    objects,
    skipped: 0,
    latency: { decode: 1, queue: 0, gpu: 2, encode: 0 },
  };
}

describe('ServeRecorder', () => {
  it('two sessions: one channel set each, log times = arrival times, masks as sent', async () => {
    const path = join(tmp, 'two.mcap');
    const r = await ServeRecorder.open(path, (l) => expect.fail(l));
    await r.hooks.onStart!({ session: 'a', objects: [] });
    await r.hooks.onStart!({ session: 'b', objects: [] });
    const m1 = new Uint8Array(W * H).fill(1, 2, 7);
    const m2 = new Uint8Array(W * H).fill(1, 5, 12);
    await r.hooks.onFrame!(frame('a', 0, [m1, m2]));
    await r.hooks.onFrame!(frame('b', 0, [m2]));
    await r.hooks.onFrame!(frame('a', 1, [m2, m1]));
    r.hooks.onEnd!({ session: 'a', framesReceived: 2, framesProcessed: 2 });
    await r.hooks.onFrame!(frame('a', 2, [m1, m1])); // after its end: not recorded
    expect(readdirSync(tmp).includes('two.mcap'), 'nothing under the final name before close').toBe(false);
    await r.close();
    expect([r.frames, r.masks]).toEqual([3, 5]);

    const reader = await McapIndexedReader.Initialize({
      readable: new TempBuffer(new Uint8Array(readFileSync(path))),
      decompressHandlers: await loadDecompressHandlers(),
    });
    const msgs: McapTypes.TypedMcapRecords['Message'][] = [];
    for await (const m of reader.readMessages()) msgs.push(m);
    const topic = (m: McapTypes.Message) => reader.channelsById.get(m.channelId)!.topic;
    const count = (t: string) => msgs.filter((m) => topic(m) === t).length;
    expect([...reader.channelsById.values()].map((c) => [c.topic, c.metadata.get('session')]).sort()).toEqual(
      [
        ['/robotseg/session1/image', 'a'],
        ['/robotseg/session1/results', 'a'],
        ['/robotseg/session1/image/obj1_mask', 'a'],
        ['/robotseg/session1/image/obj2_mask', 'a'],
        ['/robotseg/session2/image', 'b'],
        ['/robotseg/session2/results', 'b'],
        ['/robotseg/session2/image/obj1_mask', 'b'],
      ].sort(),
    );
    expect(count('/robotseg/session1/image')).toBe(2);
    expect(count('/robotseg/session1/image/obj2_mask')).toBe(2);
    expect(count('/robotseg/session2/image/obj1_mask')).toBe(1);
    const a1 = msgs.filter(
      (m) => topic(m).startsWith('/robotseg/session1/') && m.logTime === 1_700_000_000_100_500_000n,
    );
    expect(a1.map(topic).sort()).toEqual(
      [
        '/robotseg/session1/image',
        '/robotseg/session1/image/obj1_mask',
        '/robotseg/session1/image/obj2_mask',
        '/robotseg/session1/results',
      ].sort(),
    );
    const result = JSON.parse(new TextDecoder().decode(a1.find((m) => topic(m).endsWith('/results'))!.data));
    expect(result).toMatchObject({ type: 'result', frame: 1, skipped: 0 });
    expect(result.objects.map((o: { rle: unknown }) => o.rle)).toEqual([maskToRle(m2, W, H), maskToRle(m1, W, H)]);
    // per-channel sequences
    expect(msgs.filter((m) => topic(m) === '/robotseg/session1/image').map((m) => m.sequence)).toEqual([0, 1]);
  });

  it('a write that fails drops the recording: one log line, nothing left, close() says so', async () => {
    const dir = mkdtempSync(join(tmp, 'fail-'));
    const logs: string[] = [];
    const r = await ServeRecorder.open(join(dir, 'x.mcap'), (l) => logs.push(l));
    await r.hooks.onStart!({ session: 's', objects: [] });
    const bad = frame('s', 0, [new Uint8Array(W * H)]);
    bad.results[0] = { ...bad.results[0], mask: new Uint8Array(5) }; // not W*H values: the encoder throws
    await r.hooks.onFrame!(bad); // the session goes on: the hook does not throw
    await r.hooks.onFrame!(frame('s', 1, [new Uint8Array(W * H)]));
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^--record .*x\.mcap: mask has 5 values.*; recording stopped \(serving goes on\)$/);
    await expect(r.close()).rejects.toThrow(/a write failed earlier/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('abort leaves nothing', async () => {
    const dir = mkdtempSync(join(tmp, 'abort-'));
    const r = await ServeRecorder.open(join(dir, 'y.mcap'), () => {});
    await r.hooks.onStart!({ session: 's', objects: [] });
    await r.hooks.onFrame!(frame('s', 0, [new Uint8Array(W * H).fill(1)]));
    r.abort();
    expect(readdirSync(dir)).toEqual([]);
  });
});
