// Pieces of `robotseg dataset` without a GPU: LeRobot's path templates, shard assignment, the shard
// index from Slurm / Kubernetes, LeRobot's frame sampling and the mask statistics.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveShard } from '../../src/cli/dataset.js';
import { formatTemplate } from '../../src/node/lerobot/dataset.js';
import {
  type JobOptions,
  recordMismatch,
  recordOptions,
  type UnitOutput,
  type UnitRecord,
} from '../../src/node/lerobot/job.js';
import { aggregateStats, MaskStats, sampleIndices } from '../../src/node/lerobot/mask_stats.js';
import { assignShards, type Unit } from '../../src/node/lerobot/units.js';

const unit = (id: string, frames: number): Unit => ({
  id,
  camera: 'c',
  source: id,
  kind: 'video',
  chunk: 0,
  file: 0,
  episodes: [],
  frames,
  width: 1,
  height: 1,
  fps: 10,
});

describe('dataset pieces', () => {
  it("formats LeRobot's Python templates", () => {
    const t = 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4';
    expect(formatTemplate(t, { video_key: 'observation.images.front', chunk_index: 1, file_index: 12 })).toBe(
      'videos/observation.images.front/chunk-001/file-012.mp4',
    );
    expect(formatTemplate('data/{chunk_index:d}/{file_index}', { chunk_index: 7, file_index: 1234 })).toBe(
      'data/7/1234',
    );
    expect(() => formatTemplate('{x:03d}', {})).toThrow(/no value for \{x\}/);
  });

  it('assigns units to shards deterministically, balanced by frames, every unit once', () => {
    const units = [unit('a', 14), unit('b', 3), unit('c', 9), unit('d', 8)];
    const shards = assignShards(units, 2);
    expect(shards.map((s) => s.map((u) => u.id))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    const many = Array.from({ length: 50 }, (_, i) => unit(`u${i}`, 10 + ((i * 37) % 91)));
    const s7 = assignShards(many, 7);
    expect(
      s7
        .flat()
        .map((u) => u.id)
        .sort(),
    ).toEqual(many.map((u) => u.id).sort());
    const loads = s7.map((s) => s.reduce((a, u) => a + u.frames, 0));
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(Math.max(...many.map((u) => u.frames)));
    expect(assignShards(many, 7)).toEqual(s7);
    expect(assignShards([unit('x', 5)], 3).map((s) => s.map((u) => u.id))).toEqual([['x'], [], []]);
  });

  it('takes the shard index from the flag, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX; the count only from the flag', () => {
    expect(resolveShard({}, {})).toBeNull();
    expect(resolveShard({}, { SLURM_ARRAY_TASK_ID: '3' })).toBeNull();
    expect(resolveShard({ numShards: '4', shardIndex: '1' }, { SLURM_ARRAY_TASK_ID: '3' })).toEqual({
      index: 1,
      count: 4,
    });
    expect(resolveShard({ numShards: '4' }, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '1' })).toEqual({
      index: 3,
      count: 4,
    });
    expect(resolveShard({ numShards: '4' }, { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 4 });
    expect(() => resolveShard({ numShards: '4' }, { JOB_COMPLETION_INDEX: '4' })).toThrow(
      /JOB_COMPLETION_INDEX 4 >= --num-shards 4/,
    );
    expect(() => resolveShard({ numShards: '0', shardIndex: '0' }, {})).toThrow(/--num-shards '0'/);
    expect(() => resolveShard({ numShards: '2', shardIndex: '-1' }, {})).toThrow(/expected an integer >= 0/);
  });

  it("samples frames as LeRobot's sample_indices (np.round(np.linspace(0, n - 1, k)))", () => {
    expect(sampleIndices(5)).toEqual([0, 1, 2, 3, 4]);
    const s = sampleIndices(141);
    expect(s.length).toBe(100);
    expect(s.slice(0, 6)).toEqual([0, 1, 3, 4, 6, 7]); // 140/99 = 1.414…: 1.41, 2.83, 4.24, 5.66, 7.07
    expect(s.at(-1)).toBe(140);
    expect(sampleIndices(1)).toEqual([0]);
  });

  it('mask statistics: (3,1,1) values in [0,1], numpy quantiles of 0/1 values, LeRobot aggregation', () => {
    const W = 4;
    const H = 2;
    const st = new MaskStats(2, W, H);
    st.add(0, new Uint8Array([1, 1, 0, 0, 0, 0, 0, 0]));
    st.add(1, new Uint8Array([1, 1, 1, 1, 1, 1, 0, 0]));
    const r = st.result();
    expect(r.mean).toEqual([[[0.5]], [[0.5]], [[0.5]]]);
    expect(r.std).toEqual([[[0.5]], [[0.5]], [[0.5]]]);
    expect(r.count).toEqual([2]);
    expect(r.min).toEqual([[[0]], [[0]], [[0]]]);
    expect(r.max).toEqual([[[1]], [[1]], [[1]]]);
    // 8 zeros then 8 ones: q50 position 7.5 -> 0.5, q10 -> 0, q90 -> 1
    expect(r.q50).toEqual([[[0.5]], [[0.5]], [[0.5]]]);
    expect(r.q10).toEqual([[[0]], [[0]], [[0]]]);
    expect(r.q90).toEqual([[[1]], [[1]], [[1]]]);
    const empty = new MaskStats(1, W, H);
    empty.add(0, new Uint8Array(8));
    const agg = aggregateStats([r, empty.result()]);
    expect(agg.count).toEqual([3]);
    expect((agg.mean as number[][][])[0][0][0]).toBeCloseTo(1 / 3, 12);
    // pooled: (2 * (0.25 + (0.5 - 1/3)^2) + 1 * (0 + (1/3)^2)) / 3
    expect((agg.std as number[][][])[1][0][0]).toBeCloseTo(Math.sqrt((2 * (0.25 + 1 / 36) + 1 / 9) / 3), 12);
    expect(agg.q50).toEqual([[[0]], [[0]], [[0]]]);
    expect(agg.max).toEqual([[[1]], [[1]], [[1]]]);
    // downsampling of a long side >= 300: every int(long / 150)-th pixel
    const big = new MaskStats(1, 300, 2);
    const m = new Uint8Array(600);
    m[1] = 1; // skipped by the stride 2
    big.add(0, m);
    expect(big.result().max).toEqual([[[0]], [[0]], [[0]]]);
  });
});

describe('dataset records keep --precision', () => {
  const dir = mkdtempSync(join(tmpdir(), 'robotseg-precision-record-'));
  const src = join(dir, 'v.mp4');
  writeFileSync(src, 'not really a video');
  const u: Unit = { ...unit(src, 3), source: src };
  const out: UnitOutput = { key: 'c.robot_mask', target: 'robot', rel: 'm.mp4', png: false, recordRel: 'm.json' };
  const opts = (precision: 'f32' | 'f16'): JobOptions => ({
    weightsSha256: 'w',
    configSha256: 'c',
    codec: 'lossless',
    auto: ['robot'],
    category: null,
    prompt: null,
    png: false,
    precision,
  });
  const record = (options: Partial<UnitRecord['options']>) =>
    ({
      weights_sha256: 'w',
      source: { path: src, size: -1, sha256: 'old' },
      frames: 3,
      options: { ...recordOptions(u, out, opts('f32')), ...options },
    }) as UnitRecord;

  it('an f16 run does not reuse f32 masks (and the other way round): options mismatch', () => {
    expect(recordOptions(u, out, opts('f16')).precision).toBe('f16');
    expect(recordMismatch(record({}), u, out, opts('f16'), dir)).toEqual({
      kind: 'options',
      why: 'made with precision "f32", this run has "f16"',
    });
    expect(recordMismatch(record({ precision: 'f16' }), u, out, opts('f32'), dir)?.kind).toBe('options');
  });
  it('a record from before --precision counts as f32 (the options match; here the source changed)', () => {
    const old = record({});
    delete old.options.precision;
    expect(recordMismatch(old, u, out, opts('f32'), dir)).toEqual({ kind: 'stale', why: 'its source file changed' });
    expect(recordMismatch(old, u, out, opts('f16'), dir)?.kind).toBe('options');
    rmSync(dir, { recursive: true, force: true });
  });
});
