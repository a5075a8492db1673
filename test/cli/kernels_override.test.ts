// ROBOTSEG_KERNELS=hardware|software (src/node/adapter.ts) picks the kernel variants whatever the adapter
// is: the GPU check (docs/gpu-check.md) runs the tiled, workgroup-memory variants on lavapipe with it.
// `robotseg info --json` shows the choice; a bad value is one line on stderr and exit 2.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('ROBOTSEG_KERNELS', () => {
  it('hardware: info reports the tiled variants and the forced choice', async () => {
    const r = await runCli(['info', '--json'], { env: { ...process.env, ROBOTSEG_KERNELS: 'hardware' } });
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out) as {
      adapter: { software: boolean; kernelsForced?: string };
      kernelVariants: string;
    };
    expect(info.adapter.software).toBe(false);
    expect(info.adapter.kernelsForced).toBe('hardware');
    expect(info.kernelVariants).toMatch(/^hardware/);
  }, 120_000);

  it('software: the register-blocked variants', async () => {
    const r = await runCli(['info', '--json'], { env: { ...process.env, ROBOTSEG_KERNELS: 'software' } });
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out) as {
      adapter: { software: boolean; kernelsForced?: string };
      kernelVariants: string;
    };
    expect(info.adapter.kernelsForced).toBe('software');
    expect(info.kernelVariants).toMatch(/^software/);
  }, 120_000);

  it('a bad value: one line, exit 2', async () => {
    const r = await runCli(['info'], { env: { ...process.env, ROBOTSEG_KERNELS: 'tiled' } });
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain("ROBOTSEG_KERNELS='tiled': use hardware or software");
  }, 120_000);
});
