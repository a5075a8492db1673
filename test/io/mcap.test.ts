// MCAP in and out (`robotseg track FILE.mcap --topic T --out OUT.mcap`) on a synthetic ROS 2 recording
// built here from test/fixtures/video_clip (test/helpers/mcap_fixture.ts): every supported image message
// type on its own topic, plus /chatter (std_msgs/msg/String), an attachment and a metadata record.
//  - frames: each topic gives back the clip's decoded pixels exactly (so the tracker sees the same
//    input as `robotseg track` on the folder), from an indexed zstd-chunked file and from an unindexed one;
//  - CLI on the GPU: masks equal `robotseg track` on the folder, the output keeps every original
//    schema, channel and message byte for byte (same times, sequences), masks carry the frames' stamps;
//  - user errors: exit 2, one line, before any GPU work.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseRosMsg } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { McapIndexedReader, type McapTypes, TempBuffer } from '@mcap/core';
import { loadDecompressHandlers } from '@mcap/support';
import { afterAll, describe, expect, it } from 'vitest';
import { maskTopic } from '../../src/node/mcap/annotate.js';
import { encodeMaskMessage, ROS2_IMAGE_SCHEMA } from '../../src/node/mcap/image_messages.js';
import { mcapRecords } from '../../src/node/mcap/records.js';
import { McapTopicSource } from '../../src/node/mcap/topic_source.js';
import { McapMaskWriter } from '../../src/node/mcap/writer.js';
import { readMask } from '../../src/node/image_io.js';
import { type TrackOpts, runTrack } from '../../src/cli/track.js';
import { type CliResult, runCli } from '../helpers/cli.js';
import {
  CLIP,
  CLIP_FILES,
  FRAME_ID,
  FRAME_NS,
  T0,
  TOPICS,
  clipFrames,
  grey,
  stampOf,
  writeMcap,
} from '../helpers/mcap_fixture.js';
import { testRuntime } from '../helpers/gpu.js';

const ROOT = join(import.meta.dirname, '..', '..');
const GOLD = join(ROOT, 'test', 'fixtures', 'golden');
const MODEL = ['--weights', join(GOLD, 'weights.safetensors'), '--config', join(GOLD, 'config.json')];
const N = 3; // frames per topic
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-mcap-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const BAG = join(tmp, 'bag.mcap');
await writeMcap(BAG, { frames: N });
const rt = await testRuntime();

/** Every record of a file with the library's indexed reader (the output must be indexed). */
async function readIndexed(path: string): Promise<{
  reader: McapIndexedReader;
  messages: McapTypes.TypedMcapRecords['Message'][];
}> {
  const bytes = readFileSync(path);
  const buf = new TempBuffer(new Uint8Array(bytes));
  const reader = await McapIndexedReader.Initialize({
    readable: buf,
    decompressHandlers: await loadDecompressHandlers(),
  });
  const messages = [];
  for await (const m of reader.readMessages()) messages.push(m);
  return { reader, messages };
}

describe('MCAP frames: every supported message type gives the clip back', () => {
  const { rgb } = clipFrames(N);
  const check = async (path: string) => {
    for (const { topic, kind } of TOPICS) {
      const src = await McapTopicSource.open(path, { topic });
      try {
        expect([src.numFrames, src.width, src.height], topic).toEqual([N, 240, 136]);
        for (let i = 0; i < N; i++) {
          const img = await src.frame(i);
          let want = rgb[i].data;
          if (kind === 'mono8') {
            want = new Uint8Array(want.length);
            for (let p = 0; p < want.length; p += 3)
              want.fill(grey(rgb[i].data[p], rgb[i].data[p + 1], rgb[i].data[p + 2]), p, p + 3);
          }
          expect(Buffer.from(img.data).equals(Buffer.from(want)), `${topic} frame ${i}`).toBe(true);
          const f = src.frames[i];
          expect([f.stamp, f.frameId, f.logTime], topic).toEqual([stampOf(i), FRAME_ID, T0 + BigInt(i) * FRAME_NS]);
        }
      } finally {
        src.close();
      }
    }
  };

  it('indexed, zstd chunks', async () => {
    await check(BAG);
  });

  it('unindexed, unchunked; --max-frames keeps the first frames in log-time order', async () => {
    const plain = join(tmp, 'plain.mcap');
    await writeMcap(plain, { frames: N, indexed: false });
    await check(plain);
    const src = await McapTopicSource.open(plain, { topic: '/cam/bgr', maxFrames: 2 });
    expect(src.numFrames).toBe(2);
    expect(src.frames.map((f) => f.logTime)).toEqual([T0, T0 + FRAME_NS]);
    src.close();
  });

  it('the writer module alone: masks readable back as mono8 sensor_msgs/msg/Image', async () => {
    const out = join(tmp, 'record.mcap');
    const w = await McapMaskWriter.open(out);
    const frames = await w.addCompressedFrameChannel('/camera/image/compressed');
    const robot = await w.addMaskChannel('/camera/image/robot_mask');
    const jpeg = readFileSync(join(CLIP, CLIP_FILES[0]));
    const mask = new Uint8Array(6).fill(1, 2, 5);
    const header = { stamp: { sec: 12, nanosec: 34 }, frameId: 'cam' };
    await w.writeCompressedFrame(frames, { logTime: 5n, header, format: 'jpeg', data: jpeg });
    await w.writeMask(robot, { logTime: 5n, header, width: 3, height: 2, mask });
    await w.close();
    const { reader, messages } = await readIndexed(out);
    expect(messages.map((m) => reader.channelsById.get(m.channelId)!.topic)).toEqual([
      '/camera/image/compressed',
      '/camera/image/robot_mask',
    ]);
    const img = new MessageReader(parseRosMsg(ROS2_IMAGE_SCHEMA, { ros2: true })).readMessage<{
      header: unknown;
      encoding: string;
      data: Uint8Array;
    }>(messages[1].data);
    expect(img.header).toEqual({ stamp: { sec: 12, nanosec: 34 }, frame_id: 'cam' });
    expect(img.encoding).toBe('mono8');
    expect(Array.from(img.data)).toEqual([0, 0, 255, 255, 255, 0]);
    // abort leaves nothing behind
    const w2 = await McapMaskWriter.open(join(tmp, 'aborted.mcap'));
    await w2.addMaskChannel('/x_mask');
    w2.abort();
    expect(() => readFileSync(join(tmp, 'aborted.mcap'))).toThrow();
    expect(encodeMaskMessage(header, 3, 2, mask)).toEqual(messages[1].data);
  });
});

describe('robotseg track FILE.mcap: user errors (exit 2, one line, before any GPU work)', () => {
  // two spawned as a user runs them (exit code, the one stderr line); the rest through runTrack, the
  // function the command calls (a UserError or PathError (exitCode 2) is what main.ts prints as that line with exit code 2)
  const expectCliError = async (p: Promise<CliResult>, re: RegExp) => {
    const r = await p;
    expect(r.code, r.err).toBe(2);
    expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
    expect(r.err).toMatch(/^robotseg: /);
    expect(r.err).toMatch(re);
  };
  const expectUserError = async (src: string, opts: Partial<TrackOpts>, re: RegExp, prompts = ['0:100,60']) => {
    const args = prompts.map((value) => ({ kind: 'point' as const, value }));
    const run = runTrack(src, { weights: MODEL[1], config: MODEL[3], out: join(tmp, 'err.mcap'), ...opts }, args);
    const e = await run.then(
      () => expect.fail('no error'),
      (err: Error) => err,
    );
    expect((e as Error & { exitCode?: number }).exitCode, e.message).toBe(2); // UserError or PathError
    expect(e.message).not.toMatch(/\n/);
    expect(e.message).toMatch(re);
  };

  it('spawned: not MCAP, a missing topic', async () => {
    const jpg = join(tmp, 'frame.mcap');
    copyFileSync(join(CLIP, CLIP_FILES[0]), jpg);
    const out = join(tmp, 'err.mcap');
    await expectCliError(
      runCli(['track', jpg, ...MODEL, '--point', '0:5,5', '--topic', '/cam/compressed', '--out', out]),
      /'.*frame\.mcap' is not an MCAP file/,
    );
    await expectCliError(
      runCli(['track', BAG, ...MODEL, '--point', '0:5,5', '--topic', '/nope', '--out', out]),
      /has no topic '\/nope' \(its topics: \/chatter \(std_msgs\/msg\/String\), \/cam\/compressed \(sensor_msgs\/msg\/CompressedImage\)/,
    );
  }, 60_000);

  it('truncated, corrupt', async () => {
    const bytes = readFileSync(BAG);
    const cut = join(tmp, 'cut.mcap');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expectUserError(cut, { topic: '/cam/compressed' }, /'.*cut\.mcap' is truncated/);
    const bad = Buffer.from(bytes);
    bad[Math.floor(bad.length / 3)] ^= 0xff; // inside a compressed chunk
    const corrupt = join(tmp, 'corrupt.mcap');
    writeFileSync(corrupt, bad);
    await expectUserError(
      corrupt,
      { topic: '/cam/compressed' },
      /corrupt\.mcap.*(not a valid MCAP|CRC|zstd|decompress)/i,
    );
  });

  it('a topic that is not an image, a missing --topic, a bad --out, a prompt past the end', async () => {
    await expectUserError(
      BAG,
      { topic: '/chatter' },
      /topic '\/chatter' has schema 'std_msgs\/msg\/String' \(ros2msg, messages cdr\): expected sensor_msgs\/msg\/CompressedImage/,
    );
    await expectUserError(BAG, {}, /--topic TOPIC is required with an MCAP source/);
    await expectUserError(BAG, { topic: '/cam/rgb', out: tmp }, /with an MCAP source the output is an MCAP file/);
    await expectUserError(
      BAG,
      { topic: '/cam/rgb', out: BAG },
      /--out '.*bag\.mcap' is the same path as the recording/,
    );
    await expectUserError(BAG, { topic: '/cam/rgb' }, /frame 5 does not exist .* has 3 frames/, ['5:1,1']);
    await expectUserError(BAG, { topic: '/cam/rgb', maxFrames: '2' }, /frame 2 does not exist .* has 2 frames/, [
      '2:1,1',
    ]);
  });

  it('unknown encodings and schemas', async () => {
    const path = join(tmp, 'odd.mcap');
    const cdrImage = (await buildMcapBytesOfImage()).data;
    await writeMcap(path, {
      frames: 1,
      topics: [],
      extra: [
        { topic: '/rgba', ...cdrImage, encoding: 'cdr' },
        {
          topic: '/idl',
          schema: 'sensor_msgs/msg/Image',
          schemaEncoding: 'ros2idl',
          schemaData: 'module sensor_msgs {};',
          encoding: 'cdr',
          data: new Uint8Array(4),
        },
        {
          topic: '/fox/flat',
          schema: 'foxglove.CompressedImage',
          schemaEncoding: 'flatbuffer',
          schemaData: 'x',
          encoding: 'flatbuffer',
          data: new Uint8Array(4),
        },
      ],
    });
    await expectUserError(
      path,
      { topic: '/rgba' },
      /image encoding 'rgba16' is not supported \(expected rgb8, bgr8, mono8\)/,
    );
    await expectUserError(
      path,
      { topic: '/idl' },
      /sensor_msgs\/msg\/Image with schema encoding 'ros2idl' and message encoding 'cdr' is not supported/,
    );
    await expectUserError(
      path,
      { topic: '/fox/flat' },
      /foxglove\.CompressedImage with schema encoding 'flatbuffer' and message encoding 'flatbuffer' is not supported/,
    );
  });
});

/** An Image message with an encoding robotseg does not read (rgba16). */
async function buildMcapBytesOfImage(): Promise<{
  data: { schema: string; schemaEncoding: string; schemaData: string; data: Uint8Array };
}> {
  const { MessageWriter } = await import('@foxglove/rosmsg2-serialization');
  const w = new MessageWriter(parseRosMsg(ROS2_IMAGE_SCHEMA, { ros2: true }));
  const data = w.writeMessage({
    header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'x' },
    height: 2,
    width: 2,
    encoding: 'rgba16',
    is_bigendian: 0,
    step: 16,
    data: new Uint8Array(32),
  });
  return { data: { schema: 'sensor_msgs/msg/Image', schemaEncoding: 'ros2msg', schemaData: ROS2_IMAGE_SCHEMA, data } };
}

describe.skipIf(!rt)('robotseg track FILE.mcap on the GPU (reduced golden weights)', () => {
  const PROMPTS = ['--point', '0:120,70', '--obj', '2', '--box', '1:20,10,110,90'];
  let folderMasks: Map<number, Uint8Array[]>;

  it('the folder reference', async () => {
    const frames = join(tmp, 'frames');
    mkdirSync(frames);
    for (const f of CLIP_FILES.slice(0, N)) copyFileSync(join(CLIP, f), join(frames, f));
    const r = await runCli(['track', frames, ...MODEL, ...PROMPTS, '--out', join(tmp, 'ref'), '--quiet']);
    expect(r.code, r.err).toBe(0);
    folderMasks = new Map(
      [1, 2].map((obj) => [
        obj,
        CLIP_FILES.slice(0, N).map((f) => readMask(join(tmp, 'ref', String(obj), f.replace('.jpg', '.png'))).data),
      ]),
    );
    // the prompts give real masks (not empty everywhere)
    expect(folderMasks.get(1)!.every((m) => m.some((v) => v))).toBe(true);
  }, 120_000);

  const input = (async () => {
    const records = [];
    for await (const r of mcapRecords(BAG)) records.push(r);
    return records;
  })();

  for (const topic of ['/cam/compressed', '/cam/bgr', '/fox/proto', '/fox/json']) {
    it(`${topic}: masks equal the folder's, the input copied byte for byte`, async () => {
      const out = join(tmp, `${topic.replaceAll('/', '_')}.mcap`);
      const r = await runCli(['track', BAG, ...MODEL, ...PROMPTS, '--topic', topic, '--out', out, '--quiet']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(new RegExp(`${N} frames 240x136, 2 objects \\(1, 2\\)`));
      const { reader, messages } = await readIndexed(out);
      const inRecords = await input;
      const inChannels = new Map(
        inRecords.filter((x) => x.type === 'Channel').map((c) => [c.id, c as McapTypes.TypedMcapRecords['Channel']]),
      );
      const inSchemas = new Map(
        inRecords.filter((x) => x.type === 'Schema').map((s) => [s.id, s as McapTypes.TypedMcapRecords['Schema']]),
      );
      const inMessages = inRecords.filter((x) => x.type === 'Message') as McapTypes.TypedMcapRecords['Message'][];
      // schemas and channels: same ids, topics, encodings, metadata, schema bytes
      for (const [id, c] of inChannels) {
        const o = reader.channelsById.get(id)!;
        expect([o.topic, o.messageEncoding, [...o.metadata]], c.topic).toEqual([
          c.topic,
          c.messageEncoding,
          [...c.metadata],
        ]);
        const si = inSchemas.get(c.schemaId)!;
        const so = reader.schemasById.get(o.schemaId)!;
        expect([so.name, so.encoding, Buffer.from(so.data).equals(Buffer.from(si.data))]).toEqual([
          si.name,
          si.encoding,
          true,
        ]);
      }
      // every input message, byte for byte, same times and sequence, same order per channel
      const key = (m: McapTypes.Message) =>
        `${m.channelId}|${m.sequence}|${m.logTime}|${m.publishTime}|${Buffer.from(m.data).toString('base64')}`;
      for (const id of inChannels.keys())
        expect(messages.filter((m) => m.channelId === id).map(key), inChannels.get(id)!.topic).toEqual(
          inMessages.filter((m) => m.channelId === id).map(key),
        );
      expect(messages.length).toBe(inMessages.length + 2 * N);
      // in file order, each frame's masks follow its message
      const order: string[] = [];
      for await (const rec of mcapRecords(out))
        if (rec.type === 'Message') order.push(reader.channelsById.get(rec.channelId)!.topic);
      const at = order.indexOf(topic);
      expect(order.slice(at, at + 3)).toEqual([topic, maskTopic(topic, 'obj1'), maskTopic(topic, 'obj2')]);
      // mask channels: one per object, mono8 Image, the frame's stamp / frame_id / log time
      const imgReader = new MessageReader(parseRosMsg(ROS2_IMAGE_SCHEMA, { ros2: true }));
      for (const obj of [1, 2]) {
        const ch = [...reader.channelsById.values()].find((c) => c.topic === maskTopic(topic, `obj${obj}`));
        expect(ch, `${topic} obj${obj}`).toBeDefined();
        expect(reader.schemasById.get(ch!.schemaId)!.name).toBe('sensor_msgs/msg/Image');
        const ms = messages.filter((m) => m.channelId === ch!.id);
        expect(ms.map((m) => m.logTime)).toEqual([0, 1, 2].map((i) => T0 + BigInt(i) * FRAME_NS));
        for (const [i, m] of ms.entries()) {
          const img = imgReader.readMessage<{
            header: { stamp: unknown; frame_id: string };
            width: number;
            height: number;
            encoding: string;
            step: number;
            data: Uint8Array;
          }>(m.data);
          expect([img.header.stamp, img.header.frame_id, img.width, img.height, img.encoding, img.step]).toEqual([
            stampOf(i),
            FRAME_ID,
            240,
            136,
            'mono8',
            240,
          ]);
          const want = folderMasks.get(obj)![i];
          const got = img.data;
          let diff = 0;
          for (let p = 0; p < want.length; p++) if ((got[p] === 255 ? 1 : got[p] === 0 ? 0 : 9) !== want[p]) diff++;
          expect(diff, `${topic} obj${obj} frame ${i}: pixels differing from the folder's mask`).toBe(0);
        }
      }
    }, 120_000);
  }
});
