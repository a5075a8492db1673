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
import { encodeMaskMessage, ROS2_IMAGE_SCHEMA, rosTimeFromNs } from '../../src/node/mcap/image_messages.js';
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
import { GOLDEN, GOLDEN_MODEL_ARGS as MODEL } from '../helpers/golden.js';

const ROOT = join(import.meta.dirname, '..', '..');
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
    expect(rosTimeFromNs(1_700_000_000_500_000_007n)).toEqual({ sec: 1_700_000_000, nanosec: 500_000_007 });
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
    await expectUserError(CLIP, { topic: '/cam' }, /--topic is for MCAP recordings; '.*video_clip' is a folder/);
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

  it('frames of different sizes, a topic without messages (a file written by McapMaskWriter)', async () => {
    const path = join(tmp, 'sizes.mcap');
    const w = await McapMaskWriter.open(path, { compression: 'none' });
    const cam = await w.addCompressedFrameChannel('/cam');
    await w.addCompressedFrameChannel('/silent');
    const header = { stamp: { sec: 1, nanosec: 0 }, frameId: 'cam' };
    await w.writeCompressedFrame(cam, {
      logTime: 1n,
      header,
      format: 'jpeg',
      data: readFileSync(join(CLIP, CLIP_FILES[0])),
    });
    await w.writeCompressedFrame(cam, {
      logTime: 2n,
      header,
      format: 'png',
      data: readFileSync(join(GOLDEN, 'video_frame0.png')),
    });
    await w.close();
    await expectUserError(
      path,
      { topic: '/cam' },
      /frame 1 of topic '\/cam' \(log time 2 ns\) is 200x150, frame 0 is 240x136: all frames must have the same size/,
    );
    await expectUserError(path, { topic: '/silent' }, /topic '\/silent' in '.*sizes\.mcap' has no messages/);
    // the first frame alone is fine
    const src = await McapTopicSource.open(path, { topic: '/cam', maxFrames: 1 });
    expect([src.numFrames, src.width, src.height]).toEqual([1, 240, 136]);
    src.close();
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
  // SAM 2.1 with prompts on three topics (CDR JPEG, CDR bgr8, protobuf), RobotSeg's automatic mode on the
  // JSON one; the other topics give the same pixels (first describe), hence the same masks
  const PROMPTS = ['--point', '0:120,70', '--obj', '2', '--box', '1:20,10,110,90'];
  const frameFolder = join(tmp, 'frames');
  mkdirSync(frameFolder);
  for (const f of CLIP_FILES.slice(0, N)) copyFileSync(join(CLIP, f), join(frameFolder, f));
  /** `robotseg track` on the folder: masks per sub-folder, per frame (0/1). */
  const folderTrack = async (args: string[], dirs: string[]) => {
    const out = join(tmp, `ref_${dirs.join('_')}`);
    const r = await runCli(['track', frameFolder, ...args, '--out', out, '--quiet']);
    expect(r.code, r.err).toBe(0);
    return dirs.map((d) => CLIP_FILES.slice(0, N).map((f) => readMask(join(out, d, f.replace('.jpg', '.png'))).data));
  };
  const input = (async () => {
    const records = [];
    for await (const r of mcapRecords(BAG)) records.push(r);
    return records;
  })();

  /** The output holds the input unchanged and one mask channel per name, equal to `want` [name][frame]. */
  async function checkOutput(out: string, topic: string, names: string[], want: Uint8Array[][]): Promise<void> {
    const { reader, messages } = await readIndexed(out);
    const inRecords = await input;
    const inChannels = new Map(
      inRecords.filter((x) => x.type === 'Channel').map((c) => [c.id, c as McapTypes.TypedMcapRecords['Channel']]),
    );
    const inSchemas = new Map(
      inRecords.filter((x) => x.type === 'Schema').map((s) => [s.id, s as McapTypes.TypedMcapRecords['Schema']]),
    );
    const inMessages = inRecords.filter((x) => x.type === 'Message') as McapTypes.TypedMcapRecords['Message'][];
    expect(reader.header.profile).toBe('ros2');
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
      expect([so.id, so.name, so.encoding, Buffer.from(so.data).equals(Buffer.from(si.data))]).toEqual([
        si.id,
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
    expect(messages.length).toBe(inMessages.length + names.length * N);
    // attachment and metadata copied
    const att = [];
    for await (const a of reader.readAttachments()) att.push([a.name, a.mediaType, Buffer.from(a.data).toString()]);
    expect(att).toEqual([['calibration.yaml', 'application/yaml', 'fx: 200\nfy: 200\n']]);
    const meta = [];
    for await (const m of reader.readMetadata()) meta.push([m.name, [...m.metadata]]);
    expect(meta).toEqual([['rosbag2', [['serialized_bag_info', 'synthetic']]]]);
    // in file order, each frame's masks follow its message
    const order: string[] = [];
    for await (const rec of mcapRecords(out))
      if (rec.type === 'Message') order.push(reader.channelsById.get(rec.channelId)!.topic);
    const at = order.indexOf(topic);
    expect(order.slice(at, at + 1 + names.length)).toEqual([topic, ...names.map((n) => maskTopic(topic, n))]);
    // mask channels: mono8 Image with the frame's stamp, frame_id, log time and publish time
    const imgReader = new MessageReader(parseRosMsg(ROS2_IMAGE_SCHEMA, { ros2: true }));
    const source = inMessages.filter((m) => inChannels.get(m.channelId)!.topic === topic);
    for (const [k, name] of names.entries()) {
      const ch = [...reader.channelsById.values()].find((c) => c.topic === maskTopic(topic, name));
      expect(ch, `${topic} ${name}`).toBeDefined();
      expect([reader.schemasById.get(ch!.schemaId)!.name, ch!.messageEncoding]).toEqual([
        'sensor_msgs/msg/Image',
        'cdr',
      ]);
      const ms = messages.filter((m) => m.channelId === ch!.id);
      expect(ms.map((m) => [m.logTime, m.publishTime])).toEqual(source.map((m) => [m.logTime, m.publishTime]));
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
        let diff = 0;
        for (let p = 0; p < want[k][i].length; p++)
          if ((img.data[p] === 255 ? 1 : img.data[p] === 0 ? 0 : 9) !== want[k][i][p]) diff++;
        expect(diff, `${topic} ${name} frame ${i}: pixels differing from the folder's mask`).toBe(0);
      }
    }
  }

  let sam: Promise<Uint8Array[][]> | null = null;
  for (const topic of ['/cam/compressed', '/cam/bgr', '/fox/proto']) {
    it(`${topic}: masks equal the folder's (SAM 2.1, prompts), the input copied byte for byte`, async () => {
      sam ??= folderTrack([...MODEL, ...PROMPTS], ['1', '2']);
      const want = await sam;
      expect(want[0].every((m) => m.some((v) => v))).toBe(true); // real masks, not empty everywhere
      const out = join(tmp, `${topic.replaceAll('/', '_')}.mcap`);
      const r = await runCli(['track', BAG, ...MODEL, ...PROMPTS, '--topic', topic, '--out', out]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(new RegExp(`${N} frames 240x136, 2 objects \\(1, 2\\)`));
      await checkOutput(out, topic, ['obj1', 'obj2'], want);
    }, 180_000);
  }

  it("/fox/json: RobotSeg --target robot,arm -> <topic>/robot_mask and <topic>/arm_mask equal the folder's", async () => {
    const RS = join(tmp, 'RS.safetensors');
    const init = await runCli([
      'init-robotseg',
      '--from',
      join(GOLDEN, 'weights.safetensors'),
      '--out',
      RS,
      '--config',
      join(ROOT, 'test', 'fixtures', 'robotseg', 'config.json'),
      '--seed',
      '7',
    ]);
    expect(init.code, init.err).toBe(0);
    const args = ['--weights', RS, '--target', 'robot,arm'];
    const want = await folderTrack(args, ['robot', 'arm']);
    const out = join(tmp, 'fox_json_rs.mcap');
    const r = await runCli(['track', BAG, ...args, '--topic', '/fox/json', '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/wrote .*fox_json_rs\.mcap: .* masks on \/fox\/json\/robot_mask, \/fox\/json\/arm_mask/);
    await checkOutput(out, '/fox/json', ['robot', 'arm'], want);
    const { reader } = await readIndexed(out);
    const robot = [...reader.channelsById.values()].find((c) => c.topic === '/fox/json/robot_mask')!;
    expect(Object.fromEntries(robot.metadata)).toEqual({ source_topic: '/fox/json', object_id: '1', target: 'robot' });
  }, 240_000);
});
