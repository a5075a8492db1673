// The bad-input classes that need the GPU (issue 12, items 3-6), with the reduced golden model:
//   - NaN in the weights: found at load on the GPU, exit 2 naming the tensor, nothing written;
//   - a video that turns out truncated midway: `track` stops with exit 2 and says how many frames'
//     masks it wrote and where;
//   - --quiet prints nothing on success, through a shell pipe (fd 2 a FIFO, as in `cmd 2>&1 | less`):
//     Dawn's adapter warnings included (src/node/native_stderr.ts).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, ROOT, runCli, runCliInShell } from '../helpers/cli.js';
import { testRuntime } from '../helpers/gpu.js';
import { encodeClipMp4 } from '../helpers/video.js';

const GOLD = join(ROOT, 'test', 'fixtures', 'golden');
const WEIGHTS = join(GOLD, 'weights.safetensors');
const IMAGE = join(GOLD, 'image_200x150.png');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-errors-gpu-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const rt = await testRuntime(); // fails under CI=true without an adapter
const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
if (!hasFfmpeg && process.env.CI === 'true') throw new Error('CI=true but ffmpeg is missing (apt-get install ffmpeg)');

function lastLine(r: CliResult): string {
  const lines = r.err.trimEnd().split('\n');
  return lines[lines.length - 1];
}

/** A copy of the golden weights with one NaN in the third tensor (file order); returns its key. */
function poisonedWeights(path: string): string {
  const bytes = readFileSync(WEIGHTS);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const keys = Object.keys(header)
    .filter((k) => k !== '__metadata__' && header[k].dtype === 'F32')
    .sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
  const key = keys[2];
  bytes.writeFloatLE(Number.NaN, 8 + n + header[key].data_offsets[0] + 4);
  writeFileSync(path, bytes);
  return key;
}

describe.skipIf(!rt)('bad input found on the GPU', () => {
  it('NaN in the weights: exit 2 naming the first offending tensor, no output', async () => {
    const d = join(tmp, 'nan');
    mkdirSync(d);
    const key = poisonedWeights(join(d, 'w.safetensors'));
    const r = await runCli([
      'segment',
      IMAGE,
      '--weights',
      join(d, 'w.safetensors'),
      '--config',
      join(GOLD, 'config.json'),
      '--point',
      '100,70',
      '--out',
      join(d, 'm.png'),
    ]);
    expect(r.code, r.err).toBe(2);
    expect(lastLine(r)).toMatch(
      new RegExp(`^robotseg: weights .*: tensor '${key.replace(/\./g, '\\.')}' holds 1 NaN or Inf value`),
    );
    expect(readdirSync(d)).toEqual(['w.safetensors']);
  });

  it.skipIf(!hasFfmpeg)('a video truncated midway: exit 2 saying how many frames were written and where', async () => {
    const d = join(tmp, 'trunc');
    const frames = join(d, 'frames');
    mkdirSync(frames, { recursive: true });
    for (let i = 0; i < 5; i++)
      copyFileSync(join(ROOT, 'test', 'fixtures', 'video_clip', `0000${i}.jpg`), join(frames, `0000${i}.jpg`));
    const full = join(d, 'full.mp4');
    encodeClipMp4(frames, full);
    const bytes = readFileSync(full);
    writeFileSync(join(d, 'v.mp4'), bytes.subarray(0, Math.floor(bytes.length * 0.6))); // index says 5 frames
    const out = join(d, 'o');
    const r = await runCli([
      'track',
      join(d, 'v.mp4'),
      '--weights',
      WEIGHTS,
      '--point',
      '0:50,50',
      '--out',
      out,
      '--quiet',
    ]);
    expect(r.code, r.err).toBe(2);
    const m = /stopped after writing the masks of (\d+) of 5 frames to (.*)\/ \(an incomplete set\)$/.exec(lastLine(r));
    expect(m, r.err).not.toBeNull();
    expect(m![2]).toBe(out);
    expect(readdirSync(out).length).toBe(Number(m![1])); // exactly what it says, no temporary file
  });

  it('--quiet prints nothing on success (stderr a pipe: no Dawn warnings either)', async () => {
    const d = join(tmp, 'quiet');
    mkdirSync(d);
    const cmd = `set -o pipefail; "$0" "$1" segment "$2" --weights "$3" --point 100,70 --out "$4" --quiet 2>&1 | cat`;
    const r = await runCliInShell(cmd, [IMAGE, WEIGHTS, join(d, 'm.png')]);
    expect({ code: r.code, printed: r.out }).toEqual({ code: 0, printed: '' });
    expect(readdirSync(d)).toEqual(['m.png']);
  });
});
