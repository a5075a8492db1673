// Fuzzing the readers: seeded byte flips, insertions, deletions, overwrites and truncations of
// small valid .pt and .safetensors files. Every case must end in a successful parse or a
// WeightsFormatError with a message: no RangeError/TypeError escaping unwrapped, no hang (each
// case races a timeout; all decoding loops are bounded by the input length).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/convert/pt.js';
import { openSafetensors, openSafetensorsStream, serializeSafetensors } from '../../src/graph/safetensors.js';
import { type WeightsFile, WeightsFormatError } from '../../src/graph/weights_io.js';
import { rng } from '../helpers/compare.js';
import { type PtTensor, buildPt, f32Bytes, statePickle } from './pt_builder.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'io');
const CASE_TIMEOUT_MS = 2000;

type Rand = ReturnType<typeof rng>;
const int = (r: Rand, n: number) => Math.floor(r.uniform() * n);

/** One random mutation; positions favour the first `hot` bytes (header / pickle) half the time. */
function mutate(r: Rand, src: Uint8Array, hot: number): Uint8Array {
  const pos = () => int(r, r.uniform() < 0.5 ? Math.min(hot, src.length) : src.length);
  const b = src.slice();
  switch (int(r, 5)) {
    case 0: {
      for (let k = 1 + int(r, 4); k > 0; k--) b[pos()] ^= 1 << int(r, 8);
      return b;
    }
    case 1: {
      const at = pos();
      const ins = Uint8Array.from({ length: 1 + int(r, 8) }, () => int(r, 256));
      return concat(b.subarray(0, at), ins, b.subarray(at));
    }
    case 2: {
      const at = pos();
      return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 16))));
    }
    case 3: {
      const at = pos();
      b.fill(r.uniform() < 0.5 ? 0xff : 0, at, at + 1 + int(r, 8));
      return b;
    }
    default:
      return b.subarray(0, pos());
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function readAll(open: () => Promise<WeightsFile>): Promise<string> {
  const f = await open();
  for (const k of f.header.keys()) {
    await f.readRaw(k);
    await f.readTensor(k);
  }
  return 'ok';
}

/** Run one case; resolves 'ok' | 'error', rejects with a description on any other outcome. */
async function runCase(what: string, open: () => Promise<WeightsFile>): Promise<'ok' | 'error'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: timed out`)), CASE_TIMEOUT_MS);
  });
  try {
    await Promise.race([readAll(open), timeout]);
    return 'ok';
  } catch (e) {
    if (e instanceof WeightsFormatError && e.message.length > 0) return 'error';
    throw new Error(`${what}: escaped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  } finally {
    clearTimeout(timer);
  }
}

async function fuzz(
  name: string,
  seed: number,
  n: number,
  valid: Uint8Array,
  hot: number,
  open: (b: Uint8Array) => Promise<WeightsFile>,
) {
  const r = rng(seed);
  const tally = { ok: 0, error: 0 };
  expect(await runCase(`${name} (unmutated)`, () => open(valid))).toBe('ok');
  for (let i = 0; i < n; i++) {
    const bytes = mutate(r, valid, hot);
    tally[await runCase(`${name} seed ${seed} case ${i}`, () => open(bytes))]++;
  }
  if (process.env.FUZZ_VERBOSE) console.log(name, tally);
  expect(tally.error).toBeGreaterThan(n / 4); // the mutations do reach the validators
  return tally;
}

const ptTensors: PtTensor[] = [
  { key: 'w', data: f32Bytes(Array.from({ length: 12 }, (_, i) => i)), shape: [3, 4] },
  {
    key: 'w_t',
    data: f32Bytes(Array.from({ length: 12 }, (_, i) => i)),
    shape: [4, 3],
    stride: [1, 4],
    storageKey: '0',
  },
  { key: 'h', storage: 'Half', data: new Uint8Array(new Uint16Array([0x3c00, 0x4000, 0x4200]).buffer), shape: [3] },
];
const ptValid = buildPt(ptTensors);
const pickleValid = statePickle(ptTensors);
const stValid = serializeSafetensors(
  [
    { name: 'a', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'b', dtype: 'F16', shape: [4], data: Float32Array.from([1, -1, 0.5, 2]) },
    { name: 'c', dtype: 'BF16', shape: [1, 2], data: Float32Array.from([3, 4]) },
  ],
  { m: 'x' },
);

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) c.close();
      else {
        c.enqueue(bytes.slice(at, at + 13));
        at += 13;
      }
    },
  });
}

describe('fuzz (deterministic seeds)', () => {
  it('torch-style .pt (builder): 300 mutations', async () => {
    await fuzz('pt', 1, 300, ptValid, 700, (b) => readCheckpoint(b));
  });
  it('pickle index inside an intact zip (CRC recomputed): 300 mutations', async () => {
    await fuzz('pickle', 5, 300, pickleValid, pickleValid.length, (b) =>
      readCheckpoint(buildPt(ptTensors, { pickle: b })),
    );
  });
  it('CPython .pt with deflate (fixture): 150 mutations', async () => {
    const valid = new Uint8Array(readFileSync(join(FIX, 'tiny_p4_deflate_bare.pt')));
    await fuzz('pt-deflate', 2, 150, valid, valid.length, (b) => readCheckpoint(b));
  });
  it('safetensors from bytes: 300 mutations', async () => {
    await fuzz('safetensors', 3, 300, stValid, 200, (b) => openSafetensors(b));
  });
  it('safetensors from a stream: 150 mutations', async () => {
    await fuzz('safetensors-stream', 4, 150, stValid, 200, (b) => openSafetensorsStream(streamOf(b)));
  });
});
