// `robotseg convert` end to end: spawned as a user would run it (node bin/robotseg.js).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { sharedFile } from '../helpers/shared.js';
import { afterAll, describe, expect, it } from 'vitest';
import { f16ToF32Array, f32ToF16Array } from '../../src/graph/dtype.js';
import { BUILTIN_CONFIGS } from '../../src/model/config.js';
import { openSafetensorsFile } from '../../src/node/safetensors_file.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures', 'io');
const GOLDEN_PT = sharedFile('golden/weights.pt');
const GOLDEN_ST = join(ROOT, 'test', 'fixtures', 'golden', 'weights.safetensors');
const tmp = mkdtempSync(join(tmpdir(), 'robotseg-convert-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  return runCli(['convert', ...args]);
}

describe('robotseg convert', () => {
  it('converts a checkpoint with metadata (f32: exact bits) and f16', async () => {
    const out = join(tmp, 'tiny.safetensors');
    // a --config is embedded only when the tensors fit it (issue 12): the 8-tensor toy checkpoint fits none
    const configName = Object.keys(BUILTIN_CONFIGS)[0];
    const refused = await cli(join(FIX, 'tiny_p2.pt'), out, '--config', configName);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(new RegExp(`^robotseg: --config ${configName}: .*does not fit`));
    expect(existsSync(out)).toBe(false);
    const r = await cli(join(FIX, 'tiny_p2.pt'), out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/8 tensors/);
    const got = await openSafetensorsFile(out);
    const want = await openSafetensorsFile(join(FIX, 'tiny_expected.safetensors'));
    expect(got.metadata.format).toBe('pt');
    expect(got.metadata.source).toBe('tiny_p2.pt');
    expect(got.metadata.config).toBeUndefined();
    for (const [key, info] of want.header) {
      expect(got.header.get(key)!.shape, key).toEqual(info.shape);
      expect(got.header.get(key)!.dtype, key).toBe('F32');
      if (info.dtype === 'F32') expect(await got.readRaw(key), key).toEqual(await want.readRaw(key));
      else expect(await got.readTensor(key), key).toEqual(await want.readTensor(key)); // F16/BF16 widen exactly
    }
    const out16 = join(tmp, 'tiny16.safetensors');
    expect((await cli(join(FIX, 'tiny_p2.pt'), out16, '--dtype', 'f16')).code).toBe(0);
    const h = await openSafetensorsFile(out16);
    expect(h.header.get('a.weight')!.dtype).toBe('F16');
    expect(h.metadata.config).toBeUndefined();
    expect(await h.readTensor('a.weight')).toEqual(f16ToF32Array(f32ToF16Array(await want.readTensor('a.weight'))));
    for (const f of [got, want, h]) await f.close();
  });

  it('exits 2 with one line for bad input', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        [join(FIX, 'sam2.1_hiera_tiny.truncated.pt'), join(tmp, 'x.safetensors')],
        /checkpoint is truncated: zip central directory missing; .* 471 keys/,
      ],
      [[join(tmp, 'missing.pt'), join(tmp, 'x.safetensors')], /cannot read checkpoint .*missing\.pt': no such file/],
      [[join(FIX, 'tiny_p2.pt'), join(tmp, 'x.safetensors'), '--dtype', 'f8'], /--dtype must be f32 or f16, got 'f8'/],
      [[join(FIX, 'tiny_expected.safetensors'), join(tmp, 'x.safetensors')], /not a PyTorch zip checkpoint/],
      [[join(FIX, 'tiny_p2.pt'), join(tmp, 'x.safetensors'), '--config', 'no_such_config'], /--config no_such_config:/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
      expect(r.err).toMatch(re);
    }
    expect(existsSync(join(tmp, 'x.safetensors'))).toBe(false);
  });

  it.skipIf(!GOLDEN_PT)('converts the shared golden weights.pt bit-exactly', async () => {
    const out = join(tmp, 'golden.safetensors');
    expect((await cli(GOLDEN_PT!, out)).code).toBe(0);
    const got = await openSafetensorsFile(out);
    const want = await openSafetensorsFile(GOLDEN_ST);
    expect(got.header.size).toBe(want.header.size);
    for (const key of want.header.keys())
      expect(Buffer.from(await got.readRaw(key)).equals(Buffer.from(await want.readRaw(key))), key).toBe(true);
    await got.close();
    await want.close();
  });
});
