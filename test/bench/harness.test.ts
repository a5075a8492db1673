// The benchmark harness (bench/harness.ts) on tiny cases with peers off: JSON row format, failing
// checks and throwing setups become ok:false rows, discovery finds the case modules. Then the ONNX
// builder (bench/onnx_builder.ts) against onnxruntime-node when it is installed, and the ort-node
// peer path of bench/peers.ts on a tiny case.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unary } from '../../src/kernels/elementwise.js';
import {
  allClose,
  discoverCases,
  FIXTURES_DIR,
  fixture,
  formatTable,
  peerRatios,
  runBench,
  SkipCase,
  type BenchRow,
  type BenchRunWithOutput,
} from '../../bench/harness.js';
import { buildOnnxModel, encodeModel, type OnnxOpDesc } from '../../bench/onnx_builder.js';
import { loadPeers } from '../../bench/peers.js';
import type { BenchCase } from '../../bench/types.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { UNARY } from '../ref/elementwise.js';
import { rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';

const rt = await testRuntime();
afterAll(() => rt?.destroy());

/** GELU over n values (tiny); `broken` makes the check fail on purpose. */
function tinyGelu(n: number, broken = false): BenchCase {
  return {
    kernel: 'tiny',
    impl: broken ? 'broken' : undefined,
    setup(r): BenchRunWithOutput {
      const xs = rng(1).array(n, 3);
      const x = r.upload(xs, [n]);
      let y: Tensor | null = null;
      return {
        shape: `gelu ${n}`,
        run: () => {
          y?.dispose();
          y = unary(r, x, 'gelu');
        },
        async check() {
          const got = await r.read(y!);
          const want = Array.from(xs, (v) => UNARY.gelu(v) + (broken ? 1 : 0));
          return allClose(got, want, { atol: 1e-6, rtol: 1e-5 }).ok;
        },
        output: () => r.read(y!),
        bytes: 8 * n,
        downscaled: false,
        onnx: { op: 'Gelu', inputs: { X: { shape: [n], data: xs } }, outputShape: [n] },
        dispose() {
          y?.dispose();
          x.dispose();
        },
      };
    },
  };
}

const throwing: BenchCase = {
  kernel: 'tiny',
  impl: 'throws',
  setup() {
    throw new Error('setup exploded');
  },
};

describe.skipIf(!rt)('bench harness', () => {
  it('runs a tiny case and emits JSON rows in the documented format', async () => {
    const logs: string[] = [];
    const rows = await runBench(rt!, { cases: [tinyGelu(1000)], peers: false, reps: 2, log: (s) => logs.push(s) });
    expect(rows).toHaveLength(1);
    const row = JSON.parse(JSON.stringify(rows))[0] as BenchRow;
    expect(row).toMatchObject({
      kernel: 'tiny',
      impl: 'ours',
      shape: 'gelu 1000',
      ok: true,
      downscaled: false,
      reps: 2,
    });
    expect(typeof row.adapter).toBe('string');
    expect(row.adapter.length).toBeGreaterThan(0);
    expect(row.ms).toBeGreaterThan(0);
    expect(row.gbps).toBeCloseTo(8000 / (row.ms * 1e6), 9);
    expect(row.gflops).toBeUndefined();
    expect(['gpu-timestamp', 'wall']).toContain(row.timing);
    const table = formatTable(rows, rt!);
    expect(table).toContain(row.adapter);
    expect(table).toMatch(/tiny\s+ours\s+gelu 1000/);
  });

  it('marks a failing check and a throwing setup ok:false, keeps going, and filters cases', async () => {
    const rows = await runBench(rt!, {
      cases: [tinyGelu(10, true), throwing, tinyGelu(7)],
      peers: false,
      reps: 1,
      log: () => {},
    });
    expect(rows.map((r) => [r.impl, r.ok])).toEqual([
      ['ours:broken', false],
      ['ours:throws', false],
      ['ours', true],
    ]);
    expect(rows[1].note).toContain('setup exploded');
    const filtered = await runBench(rt!, {
      cases: [tinyGelu(10, true), tinyGelu(7)],
      filter: 'nomatch,BROKEN',
      peers: false,
      reps: 1,
      log: () => {},
    });
    expect(filtered.map((r) => r.impl)).toEqual(['ours:broken']);
  });

  it('skips (no row, a note) a case whose fixture is absent, as from an installed package', async () => {
    expect(fixture('golden', 'config.json')).toBe(join(FIXTURES_DIR, 'golden', 'config.json'));
    expect(() => fixture('golden', 'no_such_file.bin')).toThrow(SkipCase);
    const needsFixture: BenchCase = {
      kernel: 'needs_fixture',
      setup: () => {
        fixture('no_such_dir', 'x.png');
        throw new Error('unreachable');
      },
    };
    const log: string[] = [];
    const rows = await runBench(rt!, {
      cases: [needsFixture, tinyGelu(7)],
      peers: false,
      reps: 1,
      log: (l) => log.push(l),
    });
    expect(rows.map((r) => [r.kernel, r.ok])).toEqual([['tiny', true]]);
    expect(log.join('\n')).toMatch(
      /needs_fixture skipped: needs test\/fixtures\/no_such_dir\/x\.png .*ROBOTSEG_FIXTURES/,
    );
  });

  it('discovers the bench/<family>.ts case modules', async () => {
    const { cases } = await discoverCases();
    const files = new Set(cases.map((c) => c.file));
    expect(files.has('elementwise')).toBe(true);
    expect(files.has('reduce')).toBe(true);
    for (const c of cases) expect(typeof c.setup).toBe('function');
    expect([...files].some((f) => ['types', 'harness', 'peers', 'onnx_builder'].includes(f))).toBe(false);
  });
});

// ---------------------------------------------------------------- ONNX builder + onnxruntime-node
type OrtNode = {
  InferenceSession: {
    create(
      b: Uint8Array,
      o?: object,
    ): Promise<{ run(f: object): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> }>;
  };
  Tensor: new (t: 'float32', d: Float32Array, dims: number[]) => object;
};
const ortNode = (await import(/* @vite-ignore */ 'onnxruntime-node' as string).catch(() => null)) as OrtNode | null;

async function runOnnx(desc: OnnxOpDesc): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const m = buildOnnxModel(desc);
  const s = await ortNode!.InferenceSession.create(m.bytes, { intraOpNumThreads: 1 });
  const feeds = Object.fromEntries(
    Object.entries(m.feeds).map(([k, v]) => [k, new ortNode!.Tensor('float32', v.data, v.shape)]),
  );
  return (await s.run(feeds))[m.outputName];
}

describe('peer ratios', () => {
  it('divides the faster onnxruntime-web figure by ours: wall ms for stages, GPU ms for kernels', () => {
    const row = (impl: string, ms: number, extra: Partial<BenchRow> = {}): BenchRow => ({
      kernel: 'k',
      impl,
      shape: 's',
      ms,
      ok: true,
      adapter: 'a',
      downscaled: false,
      ...extra,
    });
    const rows = [
      row('ours:image_encoder', 190, { stage: 'image_encoder', wallMs: 200 }),
      row('ort-web', 700, { stage: 'image_encoder' }),
      row('ort-web:gpu', 650, { stage: 'image_encoder' }),
      row('ort-node', 10, { stage: 'image_encoder' }),
      row('ours:software', 20, { shape: 'slow op' }),
      row('ours:tiled', 12, { shape: 'slow op' }),
      row('ort-web:gpu', 10, { shape: 'slow op' }),
      row('ours', 2, { shape: 'fast op' }),
      row('ort-web:gpu', 9, { shape: 'fast op' }),
      row('ort-web:gpu', 1, { shape: 'fast op', ok: false }), // a failed peer check does not count
      row('ours:software:f16w', 1, { shape: 'slow op' }), // f16 weights: not compared with the f32 peer
    ];
    const lines = peerRatios(rows);
    expect(rows[0].vsOrtWeb).toBeCloseTo(650 / 200);
    expect(rows[4].vsOrtWeb).toBeCloseTo(0.5);
    expect(rows[7].vsOrtWeb).toBeCloseTo(4.5);
    expect(rows[3].vsOrtWeb).toBeUndefined();
    expect(rows[10].vsOrtWeb).toBeUndefined();
    expect(lines).toEqual([
      'stage image_encoder: 3.25x onnxruntime-web (650 ms vs ours 200 ms wall)',
      'slower than onnxruntime-web: k slow op: 0.83x (10.0 ms vs ours 12.0 ms GPU)',
      'kernel cases with peers: 2, slower than onnxruntime-web: 1',
    ]);
  });
});

describe('onnx builder', () => {
  it('encodes a ModelProto (ir_version 8, opset 17 import)', () => {
    const b = encodeModel({
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
      inputs: [{ name: 'x', shape: [2] }],
      initializers: [],
      outputs: [{ name: 'y', shape: [2] }],
    });
    expect([...b.slice(0, 2)]).toEqual([0x08, 0x08]); // field 1 (ir_version) varint 8
    expect(new TextDecoder().decode(b)).toContain('Relu');
  });

  it.skipIf(!ortNode)('builds models onnxruntime-node runs with the right result', async () => {
    const g = rng(7);
    // Broadcast Add: [2,3,4] + [3,1]; results are exact f32 sums.
    const a = g.array(24),
      b = g.array(3);
    const add = await runOnnx({
      op: 'Add',
      inputs: { a: { shape: [2, 3, 4], data: a }, b: { shape: [3, 1], data: b } },
      outputShape: [2, 3, 4],
    });
    expect(add.dims).toEqual([2, 3, 4]);
    expect(
      allClose(
        add.data,
        Array.from(a, (v, i) => Math.fround(v + b[Math.floor(i / 4) % 3])),
        { atol: 0, rtol: 0 },
      ).ok,
    ).toBe(true);
    // Composite GELU (erf form) vs the float64 reference: ORT's erf is within ~1e-7.
    const x = g.array(50, 4);
    const gelu = await runOnnx({ op: 'Gelu', inputs: { X: { shape: [5, 10], data: x } }, outputShape: [5, 10] });
    expect(allClose(gelu.data, Array.from(x, UNARY.gelu), { atol: 1e-6, rtol: 1e-5 }).ok).toBe(true);
    // ReduceSum with an int64 'axes' initializer and keepdims attribute.
    const r = await runOnnx({
      op: 'ReduceSum',
      inputs: {
        X: { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i) },
        axes: { shape: [1], data: Float32Array.of(1) },
      },
      attributes: { keepdims: 0 },
      outputShape: [3],
    });
    expect(Array.from(r.data)).toEqual([6, 22, 38]);
    // MaskedMean composite: x [1,2,3], m [1,3].
    const mm = await runOnnx({
      op: 'MaskedMean',
      inputs: {
        x: { shape: [1, 2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
        m: { shape: [1, 3], data: Float32Array.of(1, 0, 0.5) },
      },
      attributes: { eps: 1e-6 },
      outputShape: [1, 2],
    });
    expect(allClose(mm.data, [(1 + 1.5) / 1.5, (4 + 3) / 1.5], { atol: 1e-6, rtol: 1e-6 }).ok).toBe(true);
    // Conv with W/B initializers, float and int attributes: 1x1x3x3 input, 2x1x2x2 kernel.
    const conv = await runOnnx({
      op: 'Conv',
      inputs: {
        X: { shape: [1, 1, 3, 3], data: Float32Array.from({ length: 9 }, (_, i) => i) },
        W: { shape: [2, 1, 2, 2], data: Float32Array.of(1, 0, 0, 1, 0, 1, 1, 0) },
        B: { shape: [2], data: Float32Array.of(0.5, -1) },
      },
      attributes: { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 0, 0] },
      outputShape: [1, 2, 2, 2],
    });
    expect(Array.from(conv.data)).toEqual([4.5, 6.5, 10.5, 12.5, 3, 5, 9, 11]);
    // Attention subgraph: softmax(q kT * scale) v against a float64 reference.
    const [S, L, D] = [3, 5, 4];
    const q = g.array(S * D),
      k = g.array(L * D),
      v = g.array(L * D);
    const att = await runOnnx({
      op: 'Attention',
      inputs: { q: { shape: [1, S, D], data: q }, k: { shape: [1, L, D], data: k }, v: { shape: [1, L, D], data: v } },
      attributes: { scale: 0.5 },
      outputShape: [1, S, D],
    });
    const want: number[] = [];
    for (let i = 0; i < S; i++) {
      const s = Array.from(
        { length: L },
        (_, j) => 0.5 * Array.from({ length: D }, (_, d) => q[i * D + d] * k[j * D + d]).reduce((p, c) => p + c, 0),
      );
      const mx = Math.max(...s);
      const e = s.map((t) => Math.exp(t - mx));
      const z = e.reduce((p, c) => p + c, 0);
      for (let d = 0; d < D; d++) want.push(e.reduce((p, w, j) => p + (w / z) * v[j * D + d], 0));
    }
    expect(allClose(att.data, want, { atol: 1e-6, rtol: 1e-5 }).ok).toBe(true);
  });
});

describe.skipIf(!rt || !ortNode)('ort-node peer', () => {
  it('adds a checked ort-node row and runs each ONNX description once', async () => {
    const logs: string[] = [];
    const peerSet = await loadPeers(rt!, (s) => logs.push(s), ['ort-node']);
    expect(peerSet.names).toEqual(['ort-node']);
    const rows = await runBench(rt!, {
      cases: [tinyGelu(300), { ...tinyGelu(300), impl: 'again' }],
      peerSet,
      reps: 2,
      log: (s) => logs.push(s),
    });
    expect(rows.map((r) => r.impl)).toEqual(['ours', 'ort-node', 'ours:again']);
    const peer = rows[1];
    expect(peer).toMatchObject({
      kernel: 'tiny',
      shape: 'gelu 300',
      ok: true,
      ref: 'ours',
      timing: 'wall-e2e',
      downscaled: false,
    });
    expect(peer.ms).toBeGreaterThan(0);
    expect(logs.some((l) => /ort-node: session created in \d+ ms/.test(l))).toBe(true);
    await peerSet.dispose();
  });
});
