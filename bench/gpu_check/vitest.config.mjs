// Vitest config of the GPU-check archive's tests/ folder (copied there by bench/gpu-pack.sh): the
// kernel tests only, GPU_CHECK_FORKS processes at a time (the driver sets 8 on a GPU, 2 on a CPU).
import { defineConfig } from 'vitest/config';

const forks = Number(process.env.GPU_CHECK_FORKS ?? '2');
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: forks, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    include: ['test/kernels/*.test.ts'],
  },
});
