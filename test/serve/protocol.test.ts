// GPU-free parts of `robotseg serve`: COCO RLE / bbox against a plain reference, PNG/JPEG header sizes,
// strict message parsing with its error codes, the segment query, the GPU queue's order, the metrics
// text, and which addresses count as loopback.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/node/serve/server.js';
import { GpuQueue } from '../../src/serve/gpu_queue.js';
import { readImageHeader } from '../../src/serve/image_header.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { ERROR_CODES, type ProtocolError, parseClientMessage } from '../../src/serve/protocol.js';
import { maskStats, maskToRle, rleToMask } from '../../src/serve/rle.js';
import { parseSegmentQuery } from '../../src/serve/segment_query.js';
import { GOLDEN } from '../helpers/golden.js';
import { rng } from '../helpers/rng.js';

/** Reference RLE: flatten column-major, then count runs of equal values, first run of 0s. */
function rleRef(mask: Uint8Array, w: number, h: number): number[] {
  const flat: number[] = [];
  for (let x = 0; x < w; x++) for (let y = 0; y < h; y++) flat.push(mask[y * w + x]);
  const counts: number[] = [];
  let v = 0;
  let n = 0;
  for (const p of flat) {
    if (p !== v) {
      counts.push(n);
      v = p;
      n = 0;
    }
    n++;
  }
  counts.push(n);
  return counts;
}

describe('COCO RLE and bbox', () => {
  it('hand-checked 3x2 mask (column-major, starts with background)', () => {
    // rows [0 1 1] / [0 0 1]; column by column: 0 0 | 1 0 | 1 1 -> runs 0x2, 1x1, 0x1, 1x2
    const m = Uint8Array.from([0, 1, 1, 0, 0, 1]);
    expect(maskToRle(m, 3, 2)).toEqual({ size: [2, 3], counts: [2, 1, 1, 2] });
    expect(maskStats(m, 3, 2)).toEqual({ area: 3, bbox: [1, 0, 2, 2] });
    // foreground first: a leading 0-length background run
    expect(maskToRle(Uint8Array.from([1, 0, 0, 0]), 2, 2).counts).toEqual([0, 1, 3]);
    expect(maskStats(new Uint8Array(4), 2, 2)).toEqual({ area: 0, bbox: null });
    expect(maskToRle(new Uint8Array(4), 2, 2).counts).toEqual([4]);
  });
  it('random masks: equal to the reference, decode back, runs sum to H*W', () => {
    const r = rng(3);
    for (let k = 0; k < 50; k++) {
      const w = 1 + Math.floor(r.uniform() * 40);
      const h = 1 + Math.floor(r.uniform() * 40);
      const p = r.uniform();
      const m = Uint8Array.from({ length: w * h }, () => (r.uniform() < p ? 1 : 0));
      const rle = maskToRle(m, w, h);
      expect(rle.counts).toEqual(rleRef(m, w, h));
      expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(w * h);
      expect(rleToMask(rle)).toEqual(m);
      const { area, bbox } = maskStats(m, w, h);
      expect(area).toBe(m.reduce((a, b) => a + b, 0));
      if (bbox) {
        const [x, y, bw, bh] = bbox;
        for (let i = 0; i < m.length; i++) {
          if (!m[i]) continue;
          const px = i % w;
          const py = Math.floor(i / w);
          expect(px >= x && px < x + bw && py >= y && py < y + bh).toBe(true);
        }
        // tight: every side touches a foreground pixel
        expect([...m.keys()].some((i) => m[i] && i % w === x)).toBe(true);
        expect([...m.keys()].some((i) => m[i] && i % w === x + bw - 1)).toBe(true);
        expect([...m.keys()].some((i) => m[i] && Math.floor(i / w) === y + bh - 1)).toBe(true);
      }
    }
  });
});

describe('image headers', () => {
  it('PNG and JPEG sizes from their headers; anything else is null', () => {
    const png = readFileSync(join(GOLDEN, 'video_frame0.png'));
    expect(readImageHeader(png)).toEqual({ format: 'png', width: 200, height: 150 });
    const jpg = readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'panda.jpg'));
    expect(readImageHeader(jpg)).toEqual({ format: 'jpeg', width: 640, height: 480 });
    expect(readImageHeader(png.subarray(0, 20))).toBeNull();
    expect(readImageHeader(jpg.subarray(0, 3))).toBeNull();
    expect(readImageHeader(new TextEncoder().encode('GIF89a........................'))).toBeNull();
    // a JPEG whose only marker is end-of-image
    expect(readImageHeader(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9, 0, 0]))).toBeNull();
  });
});

const code = (text: string) => {
  try {
    parseClientMessage(text);
    return 'ok';
  } catch (e) {
    return (e as ProtocolError).code;
  }
};

describe('client messages', () => {
  it('start: targets take ids 1..n, objects name theirs; points default to label 1', () => {
    expect(parseClientMessage('{"type":"start","targets":["robot","gripper"]}')).toEqual({
      type: 'start',
      objects: [
        { obj: 1, points: [], target: 'robot' },
        { obj: 2, points: [], target: 'gripper' },
      ],
    });
    expect(
      parseClientMessage(
        '{"type":"start","targets":["robot"],"objects":[{"obj":5,"points":[[1,2],[3,4,0]]},{"obj":9,"target":"arm"}]}',
      ),
    ).toEqual({
      type: 'start',
      objects: [
        { obj: 1, points: [], target: 'robot' },
        {
          obj: 5,
          points: [
            { x: 1, y: 2, label: 1 },
            { x: 3, y: 4, label: 0 },
          ],
        },
        { obj: 9, points: [], target: 'arm' },
      ],
    });
    expect(parseClientMessage('{"type":"prompt","obj":0,"box":[1,2,3,4]}')).toEqual({
      type: 'prompt',
      prompt: { obj: 0, points: [], box: [1, 2, 3, 4] },
    });
    expect(parseClientMessage('{"type":"remove","obj":3}')).toEqual({ type: 'remove', obj: 3 });
    expect(parseClientMessage('{"type":"stop"}')).toEqual({ type: 'stop' });
  });
  it('every malformed message gets its stable code', () => {
    const cases: Array<[string, string]> = [
      ['{"type":"start"', 'bad_json'],
      ['', 'bad_json'],
      ['[1]', 'bad_message'],
      ['"start"', 'bad_message'],
      ['{"type":"go"}', 'bad_message'],
      ['{"type":"start"}', 'bad_message'],
      ['{"type":"start","targets":[]}', 'bad_message'],
      ['{"type":"start","targets":["robot","robot"]}', 'bad_message'],
      ['{"type":"start","targets":["robot"],"objects":[{"obj":1,"points":[[1,1]]}]}', 'bad_message'],
      ['{"type":"start","objects":[{"obj":1}]}', 'bad_message'],
      ['{"type":"start","objects":[{"obj":-1,"points":[[1,1]]}]}', 'bad_message'],
      ['{"type":"start","objects":[{"obj":1.5,"points":[[1,1]]}]}', 'bad_message'],
      ['{"type":"start","objects":[{"obj":"1","points":[[1,1]]}]}', 'bad_message'],
      ['{"type":"start","objects":[{"obj":1,"points":[[1,1,2]]}]}', 'bad_message'],
      ['{"type":"start","objects":[{"obj":1,"points":[[1,null]]}]}', 'bad_message'],
      ['{"type":"start","objects":[{"obj":1,"points":[[1,1]],"extra":1}]}', 'bad_message'],
      ['{"type":"start","objects":[{"obj":1,"box":[5,5,1,1]}]}', 'bad_prompt'],
      ['{"type":"start","objects":[{"obj":1,"points":[[1,1]]},{"obj":1,"points":[[2,2]]}]}', 'bad_message'],
      [
        JSON.stringify({
          type: 'start',
          objects: Array.from({ length: 33 }, (_, i) => ({ obj: i, points: [[1, 1]] })),
        }),
        'too_large',
      ],
      [JSON.stringify({ type: 'prompt', obj: 1, points: Array.from({ length: 65 }, () => [1, 1]) }), 'too_large'],
      ['{"type":"prompt","obj":1}', 'bad_message'],
      ['{"type":"remove"}', 'bad_message'],
      ['{"type":"stop","now":true}', 'bad_message'],
    ];
    for (const [text, want] of cases) expect(code(text), text.slice(0, 80)).toBe(want);
    expect(ERROR_CODES).toContain('too_many_sessions');
  });
});

describe('segment query', () => {
  it('points, box, targets and format; errors with codes', () => {
    expect(parseSegmentQuery(new URLSearchParams('points=1,2;3,4,0&box=0,0,5,5&format=png&token=x'))).toEqual({
      points: [
        { x: 1, y: 2, label: 1 },
        { x: 3, y: 4, label: 0 },
      ],
      box: [0, 0, 5, 5],
      format: 'png',
    });
    expect(parseSegmentQuery(new URLSearchParams('target=robot,arm'))).toEqual({
      points: [],
      targets: ['robot', 'arm'],
      format: 'json',
    });
    const bad = (q: string) => {
      try {
        parseSegmentQuery(new URLSearchParams(q));
        return 'ok';
      } catch (e) {
        return (e as ProtocolError).code;
      }
    };
    expect(bad('points=1')).toBe('bad_message');
    expect(bad('points=1,2,5')).toBe('bad_message');
    expect(bad('points=a,b')).toBe('bad_message');
    expect(bad('box=3,3,1,1')).toBe('bad_prompt');
    expect(bad('format=gif')).toBe('bad_message');
    expect(bad('target=robot,robot')).toBe('bad_message');
    expect(bad('points=1,1&points=2,2')).toBe('bad_message');
    expect(bad('mask=1')).toBe('bad_message');
  });
});

describe('GPU queue, metrics, loopback', () => {
  it('runs jobs one at a time in arrival order; a failing job does not stop the queue', async () => {
    const q = new GpuQueue();
    const log: string[] = [];
    const job = (name: string, ms: number, fail = false) =>
      q.run(async () => {
        log.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${name}-`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([job('a', 20), job('b', 1, true), job('c', 5)]);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(q.depth).toBe(0);
  });
  it('Prometheus text: counters, labelled errors, cumulative histogram', () => {
    const m = new ServeMetrics();
    m.framesReceived = 5;
    m.error('bad_json');
    m.error('bad_json');
    m.observeLatency(0.02);
    m.observeLatency(3);
    const t = m.render({
      sessions: 2,
      gpuQueueDepth: 1,
      gpuPoolLiveBytes: 10,
      gpuPoolCachedBytes: 20,
      residentBytes: 30,
    });
    expect(t).toContain('# TYPE robotseg_frame_latency_seconds histogram\n');
    expect(t).toContain('\nrobotseg_frames_received_total 5\n');
    expect(t).toContain('\nrobotseg_errors_total{code="bad_json"} 2\n');
    expect(t).toContain('\nrobotseg_frame_latency_seconds_bucket{le="0.01"} 0\n');
    expect(t).toContain('\nrobotseg_frame_latency_seconds_bucket{le="0.025"} 1\n');
    expect(t).toContain('\nrobotseg_frame_latency_seconds_bucket{le="5"} 2\n');
    expect(t).toContain('\nrobotseg_frame_latency_seconds_bucket{le="+Inf"} 2\n');
    expect(t).toContain('\nrobotseg_frame_latency_seconds_count 2\n');
    expect(t).toContain('\nrobotseg_sessions 2\n');
    expect(t).toContain('\nprocess_resident_memory_bytes 30\n');
    // every sample line is `name{labels} value`
    for (const line of t.trim().split('\n'))
      if (!line.startsWith('#')) expect(line).toMatch(/^[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9.e+-]+$/);
  });
  it('loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1', 'example.com', '128.0.0.1'])
      expect(isLoopback(h), h).toBe(false);
  });
});
