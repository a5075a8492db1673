// The output of `robotseg track FILE.mcap --topic T --out OUT.mcap`: the input recording with one mask
// channel per tracked object added. Node only.
//
// While the tracker runs, write(t, results) keeps each frame's masks in a spool file (W*H bytes per
// object and frame, at a fixed slot: frames may arrive in any order, e.g. --reverse). finish() then
// reads the input a second time and writes OUT.mcap (writer.ts, atomic): every schema and channel of the
// input first, in the input's order (ids kept when the input numbers them 1, 2, … / s, s+1, … as
// rosbag2 and @mcap/core do, else renumbered in that order), then every message, attachment and
// metadata record in file order with the same bytes, sequence, log and publish times, and right after
// each of the first N frame messages of T its masks: `sensor_msgs/msg/Image` mono8 (0/255) with the
// frame's header.stamp and frame_id and the frame message's log and publish times.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { McapTypes } from '@mcap/core';
import { McapFormatError } from './image_messages.js';
import { mcapRecords } from './records.js';
import { makeSpoolDir, removeSpoolDir } from './spool.js';
import type { McapTopicSource } from './topic_source.js';
import { McapMaskWriter } from './writer.js';

/** One mask channel: the tracked object it carries. */
export interface MaskChannelSpec {
  objId: number;
  topic: string;
  /** Channel metadata (e.g. the RobotSeg target). */
  metadata?: Map<string, string>;
}

/** `<topic>/<name>_mask`, with name a RobotSeg target or `obj<id>`. */
export function maskTopic(topic: string, name: string): string {
  return `${topic.replace(/\/+$/, '')}/${name}_mask`;
}

export class McapMaskOutput {
  private fd: number | null;
  private readonly dir: string;
  private readonly written: Uint8Array;
  private readonly pixels: number;

  constructor(
    readonly src: McapTopicSource,
    readonly outPath: string,
    readonly channels: readonly MaskChannelSpec[],
  ) {
    const taken = new Set(src.summary.channels.map((c) => c.topic));
    for (const c of channels)
      if (taken.has(c.topic))
        throw new McapFormatError(
          `'${src.path}' already has a topic '${c.topic}' (the mask topic of object ${c.objId})`,
        );
    if (new Set(channels.map((c) => c.topic)).size !== channels.length)
      throw new Error(`mask topics repeat: ${channels.map((c) => c.topic).join(', ')}`);
    this.pixels = src.width * src.height;
    this.written = new Uint8Array(src.numFrames);
    this.dir = makeSpoolDir('robotseg-masks-');
    this.fd = openSync(join(this.dir, 'masks.bin'), 'w+');
  }

  /** Frame t's masks (objects without a result get an empty mask). */
  async write(t: number, results: ReadonlyArray<{ objId: number; mask: Uint8Array }>): Promise<void> {
    const byObj = new Map(results.map((r) => [r.objId, r.mask]));
    const empty = new Uint8Array(this.pixels);
    for (const [k, c] of this.channels.entries()) {
      const m = byObj.get(c.objId) ?? empty;
      if (m.length !== this.pixels)
        throw new Error(`object ${c.objId}: mask of ${m.length} pixels, frame has ${this.pixels}`);
      writeAll(this.spoolFd(), m, this.slot(t, k));
    }
    this.written[t] = 1;
  }

  private slot(t: number, k: number): number {
    return (t * this.channels.length + k) * this.pixels;
  }

  private spoolFd(): number {
    if (this.fd === null) throw new Error('McapMaskOutput: used after finish() or abort()');
    return this.fd;
  }

  /** Write OUT.mcap (second read of the input); returns the number of mask messages written. */
  async finish(): Promise<number> {
    const missing = this.written.indexOf(0);
    if (missing >= 0) throw new Error(`McapMaskOutput: no masks for frame ${missing}`);
    const { summary, frames } = this.src;
    const frameOf = new Map(frames.map((f, t) => [f.fileIndex, t]));
    const startChannelId = summary.channels.length ? Math.min(...summary.channels.map((c) => c.id)) : 0;
    const w = await McapMaskWriter.open(this.outPath, {
      profile: summary.header?.profile ?? '',
      startChannelId,
    });
    let masks = 0;
    try {
      const channelIds = await copyDefinitions(w, summary.schemas, summary.channels);
      const maskIds = [];
      for (const c of this.channels) maskIds.push(await w.addMaskChannel(c.topic, c.metadata));
      const seenChannels = new Set<number>();
      let messages = 0;
      let topicIndex = 0;
      const changed = () =>
        new McapFormatError(`'${this.src.path}' changed while it was being read (second read differs from the first)`);
      const buf = new Uint8Array(this.pixels);
      for await (const rec of mcapRecords(this.src.path)) {
        if (rec.type === 'Channel') seenChannels.add(rec.id);
        else if (rec.type === 'Message') {
          const id = channelIds.get(rec.channelId);
          if (id === undefined || !seenChannels.has(rec.channelId)) throw changed();
          await w.addMessage({
            channelId: id,
            sequence: rec.sequence,
            logTime: rec.logTime,
            publishTime: rec.publishTime,
            data: rec.data,
          });
          messages++;
          if (!this.src.topicChannelIds.has(rec.channelId)) continue;
          const t = frameOf.get(topicIndex++);
          if (t === undefined) continue; // beyond --max-frames
          const f = frames[t];
          if (f.logTime !== rec.logTime || f.length !== rec.data.length) throw changed();
          for (const [k, chId] of maskIds.entries()) {
            readAll(this.spoolFd(), buf, this.slot(t, k));
            await w.writeMask(chId, {
              logTime: f.logTime,
              publishTime: f.publishTime,
              header: f,
              width: this.src.width,
              height: this.src.height,
              mask: buf,
            });
            masks++;
          }
        } else if (rec.type === 'Attachment') {
          const { type: _t, ...a } = rec;
          await w.addAttachment(a);
        } else if (rec.type === 'Metadata') {
          const { type: _t, ...m } = rec;
          await w.addMetadata(m);
        }
      }
      if (messages !== summary.messageCount || topicIndex !== summary.topicMessageCount) throw changed();
      await w.close();
    } catch (e) {
      w.abort();
      throw e;
    } finally {
      this.dispose();
    }
    return masks;
  }

  /** Remove the spool (the output file is not started before finish()). */
  abort(): void {
    this.dispose();
  }

  private dispose(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    removeSpoolDir(this.dir);
  }
}

/** Register the input's schemas and channels in order; maps from input ids to output ids. */
async function copyDefinitions(
  w: McapMaskWriter,
  schemas: readonly McapTypes.Schema[],
  channels: readonly McapTypes.Channel[],
): Promise<Map<number, number>> {
  const schemaIds = new Map<number, number>([[0, 0]]); // 0 = no schema
  for (const s of [...schemas].sort((a, b) => a.id - b.id))
    schemaIds.set(s.id, await w.registerSchema({ name: s.name, encoding: s.encoding, data: s.data }));
  const channelIds = new Map<number, number>();
  for (const c of [...channels].sort((a, b) => a.id - b.id)) {
    const schemaId = schemaIds.get(c.schemaId);
    if (schemaId === undefined)
      throw new McapFormatError(
        `channel ${c.id} (topic '${c.topic}') refers to schema ${c.schemaId}, which the file lacks`,
      );
    channelIds.set(
      c.id,
      await w.registerChannel({
        topic: c.topic,
        schemaId,
        messageEncoding: c.messageEncoding,
        metadata: c.metadata,
      }),
    );
  }
  return channelIds;
}

function writeAll(fd: number, b: Uint8Array, pos: number): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off, pos + off);
}

function readAll(fd: number, b: Uint8Array, pos: number): void {
  let got = 0;
  while (got < b.length) {
    const n = readSync(fd, b, got, b.length - got, pos + got);
    if (n === 0) throw new Error('McapMaskOutput: spool ends early');
    got += n;
  }
}
