// `robotseg dataset` user errors: exit 2, one line on stderr, before any GPU work (no weights loaded,
// nothing written to OUT). Spawned as a user runs it; no adapter needed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readParquet, writeParquetBuffer } from '../../src/node/lerobot/parquet.js';
import { runCli } from '../helpers/cli.js';
import { copyDataset, GOLD, TINY } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'robotseg-ds-err-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SAM = ['--weights', join(GOLD, 'weights.safetensors'), '--config', join(GOLD, 'config.json')];

let n = 0;
/** Runs the command with a fresh OUT; checks exit 2, one line, no GPU work, nothing written. */
async function userError(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const out = join(tmp, `out${n++}`);
  const r = await runCli(['dataset', ...args, '--out', out], { env: { ...process.env, ...env } });
  expect(r.code, r.err).toBe(2);
  const lines = r.err.trim().split('\n');
  expect(lines.length, r.err).toBe(1);
  expect(r.err).not.toMatch(/weights: \d+ tensors/); // the model was never loaded
  expect(!existsSync(out) || readdirSync(out).length === 0).toBe(true);
  return lines[0];
}

describe('robotseg dataset: bad datasets and flags exit 2 before any GPU work', () => {
  it('a v2.1 dataset points to LeRobot converter', async () => {
    const d = join(tmp, 'v21');
    mkdirSync(join(d, 'meta'), { recursive: true });
    mkdirSync(join(d, 'data', 'chunk-000'), { recursive: true });
    writeFileSync(join(d, 'meta', 'info.json'), JSON.stringify({ codebase_version: 'v2.1', fps: 10, features: {} }));
    writeFileSync(join(d, 'meta', 'episodes.jsonl'), '{"episode_index": 0, "tasks": ["x"], "length": 3}\n');
    writeFileSync(join(d, 'meta', 'tasks.jsonl'), '{"task_index": 0, "task": "x"}\n');
    writeFileSync(join(d, 'data', 'chunk-000', 'episode_000000.parquet'), '');
    expect(await userError([d, ...SAM])).toMatch(/v2\.1 dataset.*convert_dataset_v21_to_v30/);
  });

  it('a missing video file', async () => {
    const d = copyDataset(TINY, join(tmp, 'novideo'));
    rmSync(join(d, 'videos', 'observation.images.wrist', 'chunk-000', 'file-001.mp4'));
    expect(await userError([d, ...SAM])).toMatch(
      /video file videos\/observation\.images\.wrist\/chunk-000\/file-001\.mp4 is missing \(episodes 2, 3/,
    );
  });

  it('an inconsistent episodes table (index ranges, video from/to)', async () => {
    const d = copyDataset(TINY, join(tmp, 'badeps'));
    const p = join(d, 'meta', 'episodes', 'chunk-000', 'file-000.parquet');
    const t = await readParquet(p);
    t.rows[2].dataset_from_index = BigInt(Number(t.rows[2].dataset_from_index) + 1);
    writeFileSync(p, writeParquetBuffer(t.columns, t.rows));
    expect(await userError([d, ...SAM])).toMatch(/inconsistent episodes table: episode 2 covers frames/);
    const t2 = await readParquet(join(TINY, 'meta', 'episodes', 'chunk-000', 'file-000.parquet'));
    t2.rows[1]['videos/observation.images.front/to_timestamp'] = 0.95;
    writeFileSync(p, writeParquetBuffer(t2.columns, t2.rows));
    expect(await userError([d, ...SAM])).toMatch(/episode 1 of observation\.images\.front: to - from/);
  });

  it('an unknown camera key', async () => {
    expect(await userError([TINY, ...SAM, '--cameras', 'observation.images.top'])).toMatch(
      /--cameras: 'observation\.images\.top' is not a camera of .*\(observation\.images\.front, observation\.images\.wrist\)/,
    );
  });

  it('an episode without a prompt (SAM 2.1 weights)', async () => {
    const prompts = join(tmp, 'prompts.json');
    writeFileSync(
      prompts,
      JSON.stringify({
        'observation.images.wrist': { '0': { frame: 0, points: [[80, 60, 1]] }, '1': { box: [10, 10, 100, 100] } },
      }),
    );
    expect(await userError([TINY, ...SAM, '--cameras', 'observation.images.wrist', '--prompts', prompts])).toMatch(
      /observation\.images\.wrist episode 2 has no prompt/,
    );
    expect(await userError([TINY, ...SAM, '--cameras', 'observation.images.wrist'])).toMatch(
      /SAM 2\.1 weights need --prompts/,
    );
    writeFileSync(
      prompts,
      JSON.stringify({ 'observation.images.wrist': { default: { frame: 9, points: [[80, 60]] } } }),
    );
    expect(await userError([TINY, ...SAM, '--cameras', 'observation.images.wrist', '--prompts', prompts])).toMatch(
      /episode 0: frame 9 is not a frame of the episode \(0 to 4\)/,
    );
  });

  it('shard flags (the rest in dataset_units.test.ts), --finalize without shards run', async () => {
    expect(await userError([TINY, ...SAM, '--num-shards', '2'], { SLURM_ARRAY_TASK_ID: '5' })).toMatch(
      /SLURM_ARRAY_TASK_ID 5 >= --num-shards 2/,
    );
    expect(await userError([TINY, ...SAM, '--shard-index', '0'])).toMatch(/--shard-index 0 without --num-shards/);
    expect(await userError([TINY, '--finalize'])).toMatch(/does not exist \(run the shards first\)/);
  });
});
