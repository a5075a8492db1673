import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { Tape } from '../../src/graph/autograd.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { add, binary } from '../../src/kernels/elementwise.js';
import { permute, tile } from '../../src/kernels/layout.js';
import { resize, resizeAxisTable, type ResizeMode } from '../../src/kernels/resize.js';
import { expectClose, rng } from '../helpers/compare.js';
import { testRuntime } from '../helpers/gpu.js';
import { resizeGradFD, resizeRef } from '../ref/resize.js';
import { TAPE_OPS } from '../../src/kernels/tape.js';

const rt = await testRuntime();

/** Minimal safetensors reader (F32 only): 8-byte LE header length, JSON header, raw data. */
function readSafetensors(path: URL): Record<string, { shape: number[]; data: Float32Array }> {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    if (v.dtype !== 'F32') throw new Error(`${k}: dtype ${v.dtype}`);
    const [s, e] = v.data_offsets;
    const bytes = b.subarray(8 + n + s, 8 + n + e);
    out[k] = {
      shape: v.shape,
      data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
    };
  }
  return out;
}

// Subset of the golden tensors (SAM 2.1 reduced config, torch 1.13 CPU), see its __metadata__.
const FIXTURES = new URL('../fixtures/', import.meta.url);
const golden = readSafetensors(new URL('resize_golden.safetensors', FIXTURES));

/** Gradient of sum(fwd(x) * g) w.r.t. x through the autograd tape. */
async function tapeGrad(x: Tensor, fwd: (x: Tensor) => Tensor, g: Float32Array): Promise<Float32Array> {
  const tape = new Tape(rt!, TAPE_OPS);
  x.requiresGrad = true;
  rt!.tape = tape;
  let y: Tensor;
  try {
    y = fwd(x);
  } finally {
    rt!.tape = null;
  }
  tape.backward(y, rt!.upload(g, y.shape));
  const dx = await rt!.read(x.grad!);
  tape.dispose();
  return dx;
}

type Case = { shape: [number, number, number, number]; size: [number, number] };
const CASES: Case[] = [
  { shape: [1, 1, 4, 4], size: [8, 8] }, // FPN x2
  { shape: [2, 3, 5, 7], size: [3, 4] }, // downscale
  { shape: [1, 2, 5, 3], size: [7, 11] }, // upscale, odd ratios
  { shape: [1, 1, 6, 6], size: [6, 6] }, // same size
  { shape: [1, 1, 1, 1], size: [3, 2] }, // 1x1 source
  { shape: [1, 1, 4, 5], size: [1, 1] }, // 1x1 output
  { shape: [1, 3, 30, 40], size: [8, 9] }, // strong downscale: many antialias taps
  { shape: [1, 2, 17, 23], size: [5, 31] }, // down in H, up in W
  { shape: [1, 2, 9, 13], size: [17, 19] }, // 646 outputs: not a multiple of the workgroup
  { shape: [1, 1, 7, 7], size: [16, 16] }, // pos_embed-like
  { shape: [0, 3, 4, 4], size: [2, 2] }, // empty batch
];
const MODES: Array<{ mode: ResizeMode; antialias: boolean }> = [
  { mode: 'nearest', antialias: false },
  { mode: 'bilinear', antialias: false },
  { mode: 'bicubic', antialias: false },
  { mode: 'bilinear', antialias: true },
  { mode: 'bicubic', antialias: true },
];
// Same taps and weights as the float64 reference; the only difference is float32 accumulation of at
// most ~30 products of values in [-1, 1] (bicubic weights can exceed 1 in magnitude).
const TOL = { atol: 2e-6, rtol: 1e-5 };

describe.skipIf(!rt)('resize', () => {
  const r = rng(7);
  for (const { mode, antialias } of MODES) {
    // antialias windows always run the generic kernel; the other modes also have the fixed-tap one
    for (const variant of antialias ? (['auto'] as const) : (['auto', 'generic'] as const)) {
      for (const { shape, size } of CASES) {
        it(`${mode}${antialias ? ' antialias' : ''} (${variant}) ${shape.join('x')} -> ${size.join('x')}`, async () => {
          const xs = r.array(
            shape.reduce((a, b) => a * b, 1),
            1,
          );
          const y = resize(rt!, rt!.upload(xs, shape), size, { mode, antialias, variant });
          expect(y.shape).toEqual([shape[0], shape[1], ...size]);
          const ref = resizeRef(xs, shape, size, mode, antialias);
          if (mode === 'nearest')
            expect(Array.from(await rt!.read(y))).toEqual(Array.from(ref)); // a pure gather
          else expectClose(await rt!.read(y), ref, TOL, mode);
        });
      }
    }
  }

  it('nearest x2 is pixel replication (FPN top-down)', async () => {
    const xs = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const y = await rt!.read(resize(rt!, rt!.upload(xs, [1, 1, 2, 3]), [4, 6], { mode: 'nearest' }));
    expect(Array.from(y)).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6]);
  });

  it('picks the float32 nearest index where the exact ratio lands on an integer', () => {
    // in/out = 1/3 rounds up in float32, so dst 3 maps to src 1 (floor(1.0000000298)), as in PyTorch
    expect(Array.from(resizeAxisTable('nearest', false, 3, 9).idx)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
  });

  it('reads views at unaligned offsets', async () => {
    const xs = r.array(2 * 3 * 5 * 5, 1);
    const x = rt!
      .upload(xs, [2 * 3, 5, 5])
      .narrow0(1, 3)
      .reshape([1, 3, 5, 5]); // byte offset 100
    const y = resize(rt!, x, [7, 4], { mode: 'bilinear' });
    expectClose(await rt!.read(y), resizeRef(xs.slice(25, 100), [1, 3, 5, 5], [7, 4], 'bilinear'), TOL, 'view');
  });

  it('rejects bad input with the shapes in the message', () => {
    expect(() => resize(rt!, rt!.zeros([3, 4, 4]), [2, 2], { mode: 'bilinear' })).toThrow(/\[3, 4, 4\]/);
    expect(() => resize(rt!, rt!.zeros([1, 1, 4, 4]), [0, 2], { mode: 'bilinear' })).toThrow(/positive/);
    expect(() => resize(rt!, rt!.zeros([1, 1, 4, 4]), [2, 2], { mode: 'nearest', antialias: true })).toThrow(
      /antialias/,
    );
    expect(() => resize(rt!, rt!.zeros([1, 1, 0, 4]), [2, 2], { mode: 'bilinear' })).toThrow(/empty spatial/);
    expect(() => resize(rt!, rt!.zeros([1, 1, 4, 4], 'u32'), [2, 2])).toThrow(/f32/);
  });

  // ------------------------------------------------------------------ golden (PyTorch)
  it('reproduces SAM 2 preprocessing of the golden image (antialiased bilinear 150x200 -> 256x256)', async () => {
    const png = PNG.sync.read(readFileSync(new URL('image_200x150.png', FIXTURES)));
    const [H, W] = [png.height, png.width];
    const xs = new Float32Array(3 * H * W); // ToTensor: HWC uint8 -> CHW float / 255
    for (let c = 0; c < 3; c++) for (let i = 0; i < H * W; i++) xs[c * H * W + i] = png.data[4 * i + c] / 255;
    const x = rt!.upload(xs, [1, 3, H, W]);
    const resized = resize(rt!, x, [256, 256], { mode: 'bilinear', antialias: true });
    const mean = rt!.upload([0.485, 0.456, 0.406], [1, 3, 1, 1]);
    const std = rt!.upload([0.229, 0.224, 0.225], [1, 3, 1, 1]);
    const y = binary(rt!, binary(rt!, resized, mean, 'sub'), std, 'div');
    const g = golden['image/input_image'];
    expect(y.shape).toEqual(g.shape);
    // PyTorch (CPU, float32) agrees with the float64 reference to 6e-7 (2-3 ulp of values up to 2.6).
    expectClose(await rt!.read(y), g.data, { atol: 2e-6, rtol: 0 }, 'input_image');
  });

  it('reproduces the golden mask upsampling (bilinear 64x64 -> 150x200)', async () => {
    const m = golden['image/click3/decoder.out_masks'];
    const y = resize(rt!, rt!.upload(m.data, m.shape), [150, 200], { mode: 'bilinear' });
    // Values ~0.2; PyTorch's float32 sums differ from ours by 1-2 ulp (3e-8).
    expectClose(
      await rt!.read(y),
      golden['image/click3/out.mask_logits_orig_res'].data,
      { atol: 1e-7, rtol: 1e-6 },
      'mask_logits_orig_res',
    );
  });

  it('reproduces the golden Hiera pos_embed (bicubic 7x7 -> 64x64 + tiled window embed, NHWC)', async () => {
    const pe = golden['image_encoder.trunk.pos_embed'];
    const pw = golden['image_encoder.trunk.pos_embed_window'];
    const up = resize(rt!, rt!.upload(pe.data, pe.shape), [64, 64], { mode: 'bicubic' });
    const win = tile(rt!, rt!.upload(pw.data, pw.shape), [1, 1, 8, 8]);
    const y = permute(rt!, add(rt!, up, win), [0, 2, 3, 1]);
    // 1 ulp of values ~0.02-0.1 (PyTorch's float32 sums in another order).
    expectClose(await rt!.read(y), golden['image/trunk.pos_embed_NHWC'].data, { atol: 5e-8, rtol: 1e-6 }, 'pos_embed');
  });

  // ------------------------------------------------------------------ backward
  const GRAD_CASES: Array<{
    mode: ResizeMode;
    antialias: boolean;
    shape: [number, number, number, number];
    size: [number, number];
  }> = [
    { mode: 'nearest', antialias: false, shape: [1, 2, 3, 3], size: [6, 6] },
    { mode: 'nearest', antialias: false, shape: [1, 1, 7, 5], size: [3, 4] },
    { mode: 'bilinear', antialias: false, shape: [1, 2, 5, 7], size: [8, 4] },
    { mode: 'bilinear', antialias: false, shape: [2, 1, 6, 6], size: [3, 3] },
    { mode: 'bicubic', antialias: false, shape: [1, 1, 4, 5], size: [9, 3] },
    { mode: 'bilinear', antialias: true, shape: [1, 1, 12, 9], size: [4, 5] },
  ];
  for (const { mode, antialias, shape, size } of GRAD_CASES) {
    // nearest x2 backward has 2 taps per input pixel on both axes: 'auto' runs the fixed-tap kernel
    for (const variant of ['auto', 'generic'] as const) {
      it(`backward ${mode}${antialias ? ' antialias' : ''} (${variant}) ${shape.join('x')} -> ${size.join('x')} matches finite differences`, async () => {
        const xs = r.array(
          shape.reduce((a, b) => a * b, 1),
          1,
        );
        const g = r.array(shape[0] * shape[1] * size[0] * size[1], 1);
        const dx = await tapeGrad(rt!.upload(xs, shape), (x) => resize(rt!, x, size, { mode, antialias, variant }), g);
        // float64 central differences of a linear map are exact to ~1e-12; the GPU sums a few f32 products.
        expectClose(dx, resizeGradFD(xs, shape, size, mode, antialias, g), { atol: 2e-6, rtol: 1e-5 }, 'dx');
      });
    }
  }
});
