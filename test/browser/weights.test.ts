// Browser weight loaders (src/browser/weights.ts) run in Node: Node 20 has fetch, ReadableStream,
// Blob and File, so the same code paths the page uses are checked here on lavapipe — a URL streamed
// from a local http server (safetensors: streamed; .pt: read whole), a picked File / Blob (random
// access), progress reporting, config resolution before the upload, and clear errors.
// Tolerance: exact — uploaded F32 weights are copied bit for bit.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSam2,
  type LoadedWeights,
  type LoadProgress,
  loadSam2,
  loadWeightsFromFile,
  loadWeightsFromUrl,
} from '../../src/browser/weights.js';
import { ConfigError } from '../../src/model/resolve_config.js';
import { RobotSeg } from '../../src/model/robotseg.js';
import { openWeights } from '../../src/node/weights_file.js';
import { GOLDEN } from '../helpers/golden.js';
import { testRuntime } from '../helpers/gpu.js';
import { ROBOTSEG_FIX } from '../helpers/robotseg.js';
import { goldenPtBytes, robotsegGoldenSafetensors } from './golden_files.js';
import { serveStatic, type StaticServer } from './server.js';

const rt = await testRuntime();
const ST = join(GOLDEN, 'weights.safetensors');
const CONFIG = readFileSync(join(GOLDEN, 'config.json'), 'utf8');
const SAMPLE_KEYS = [
  'image_encoder.trunk.patch_embed.proj.weight',
  'sam_mask_decoder.iou_prediction_head.layers.2.bias',
  'memory_encoder.fuser.layers.1.pwconv2.weight',
];

describe.skipIf(!rt)('browser weight loaders (in Node)', () => {
  let server: StaticServer;
  let dir: string;
  const stBytes = readFileSync(ST);
  let ptBytes: Uint8Array<ArrayBuffer>;
  const stored: LoadedWeights[] = [];

  beforeAll(async () => {
    ptBytes = new Uint8Array(await goldenPtBytes());
    dir = mkdtempSync(join(tmpdir(), 'robotseg-weights-'));
    writeFileSync(join(dir, 'golden.pt'), ptBytes);
    writeFileSync(join(dir, 'half.safetensors'), stBytes.subarray(0, stBytes.length >> 1));
    server = await serveStatic({ '/golden/': GOLDEN, '/tmp/': dir });
  });
  afterAll(async () => {
    for (const w of stored) w.store.destroy();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The uploaded tensors equal the file's (a few sampled keys, bit for bit). */
  async function expectSameAsFile(w: LoadedWeights) {
    stored.push(w);
    expect(w.store.entries.size).toBe(371);
    const f = await openWeights(ST);
    for (const k of SAMPLE_KEYS) expect(await rt!.read(w.store.get(k)), k).toEqual(await f.readTensor(k));
    await f.close();
  }

  function progressLog() {
    const events: LoadProgress[] = [];
    return { events, cb: (p: LoadProgress) => events.push({ ...p }) };
  }

  function expectProgress(events: LoadProgress[], phases: string[]) {
    expect(events.length).toBeGreaterThan(2);
    for (let i = 1; i < events.length; i++)
      expect(events[i].fraction, `fraction at event ${i}`).toBeGreaterThanOrEqual(events[i - 1].fraction);
    const last = events[events.length - 1];
    expect(last.phase).toBe('done');
    expect(last.fraction).toBe(1);
    expect(last.tensorsDone).toBe(371);
    expect([...new Set(events.map((e) => e.phase))]).toEqual(phases);
  }

  it('URL, safetensors: streamed, progress in bytes and tensors', async () => {
    const { events, cb } = progressLog();
    const w = await loadWeightsFromUrl(rt!, `${server.url}/golden/weights.safetensors`, cb);
    expect(w.format).toBe('safetensors');
    expect(w.bytes).toBe(stBytes.length);
    expect(w.hasRobotSeg).toBe(false);
    await expectSameAsFile(w);
    // download and upload interleave (the stream is consumed tensor by tensor)
    const firstUpload = events.findIndex((e) => e.phase === 'upload');
    expect(events.slice(firstUpload).some((e) => e.phase === 'download')).toBe(true);
    expectProgress(events, ['download', 'upload', 'done']);
    expect(events.filter((e) => e.phase === 'download').at(-1)!.bytesLoaded).toBe(stBytes.length);
    const model = await createSam2(rt!, CONFIG, w);
    expect(model.cfg.name).toBe('sam2.1_hiera_reduced_test');
  });

  it('URL, .pt: downloaded whole (random access), then uploaded', async () => {
    const { events, cb } = progressLog();
    const w = await loadWeightsFromUrl(rt!, `${server.url}/tmp/golden.pt`, cb);
    expect(w.format).toBe('pt');
    await expectSameAsFile(w);
    expectProgress(events, ['download', 'upload', 'done']);
    // all downloading happens before the first upload
    const firstUpload = events.findIndex((e) => e.phase === 'upload');
    expect(events.slice(firstUpload).some((e) => e.phase === 'download')).toBe(false);
    expect(events[firstUpload - 1].bytesLoaded).toBe(ptBytes.length);
  });

  it('File and Blob (.pt and safetensors) and ArrayBuffer', async () => {
    const { events, cb } = progressLog();
    const pt = await loadWeightsFromFile(rt!, new File([ptBytes], 'golden.pt'), cb);
    expect(pt.format).toBe('pt');
    expect(pt.name).toBe('golden.pt');
    await expectSameAsFile(pt);
    expectProgress(events, ['upload', 'done']);
    const st = await loadWeightsFromFile(rt!, new Blob([stBytes]));
    expect(st.format).toBe('safetensors');
    await expectSameAsFile(st);
    const ab = await loadWeightsFromFile(
      rt!,
      stBytes.buffer.slice(stBytes.byteOffset, stBytes.byteOffset + stBytes.byteLength),
    );
    await expectSameAsFile(ab);
  });

  it('loadSam2: the config is resolved from the header before any upload', async () => {
    const { events, cb } = progressLog();
    // the golden file names a config that is not built in and matches no built-in layout
    await expect(loadSam2(rt!, `${server.url}/golden/weights.safetensors`, { onProgress: cb })).rejects.toThrow(
      ConfigError,
    );
    expect(events.some((e) => e.phase === 'upload')).toBe(false);
    await expect(loadSam2(rt!, new Blob([stBytes]), { config: 'sam2.1_hiera_t' })).rejects.toThrow(
      /does not fit the checkpoint/,
    );
    let resolved = '';
    const ok = await loadSam2(rt!, new Blob([stBytes]), {
      config: CONFIG,
      onConfig: (r) => {
        resolved = `${r.config.name} ${r.source}`;
      },
    });
    stored.push(ok.weights);
    expect(resolved).toBe('sam2.1_hiera_reduced_test argument');
    expect(ok.model.cfg.name).toBe('sam2.1_hiera_reduced_test');
    expect(ok.model).not.toBeInstanceOf(RobotSeg);
  });

  it('RobotSeg weights (SAM 2.1 part + RobotSeg additions) build a RobotSeg model', async () => {
    const bytes = await robotsegGoldenSafetensors();
    const config = readFileSync(join(ROBOTSEG_FIX, 'config.json'), 'utf8');
    const r = await loadSam2(rt!, new Blob([bytes]), { config });
    stored.push(r.weights);
    expect(r.weights.hasRobotSeg).toBe(true);
    expect(r.model).toBeInstanceOf(RobotSeg);
    // the SAM 2.1 config does not fit a RobotSeg checkpoint: said before any upload
    await expect(loadSam2(rt!, new Blob([bytes]), { config: CONFIG })).rejects.toThrow(/RobotSeg/);
  });

  it('clear errors: HTTP 404, a truncated download, not a weights file', async () => {
    await expect(loadWeightsFromUrl(rt!, `${server.url}/golden/missing.safetensors`)).rejects.toThrow(/HTTP 404/);
    await expect(loadWeightsFromUrl(rt!, `${server.url}/tmp/half.safetensors`)).rejects.toThrow(/truncated/);
    await expect(loadWeightsFromUrl(rt!, `${server.url}/golden/config.json`)).rejects.toThrow(
      /header length .* not plausible|not a safetensors/,
    );
    await expect(loadWeightsFromFile(rt!, new Blob([ptBytes.subarray(0, 1000)]))).rejects.toThrow(
      /truncat|incomplete|zip/i,
    );
  });
});
