// In-memory ONNX models for the benchmark peers (onnxruntime-web / onnxruntime-node).
//
// A small hand-written protobuf encoder instead of a dependency: the subset of onnx.proto needed here
// (ModelProto, OperatorSetIdProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto, TypeProto.Tensor, TensorShapeProto) is ~20 fields, all of them varints,
// length-delimited bytes or packed repeated numbers. Field numbers are those of
// https://github.com/onnx/onnx/blob/main/onnx/onnx.proto (IR version 8, default opset 17).
//
// `buildOnnxModel(desc)` turns a BenchRun.onnx description { op, inputs, attributes, outputShape }
// into model bytes plus the feeds to run it with. Conventions (see also bench/peers.ts):
//   * `inputs` keys, in insertion order, are the node's inputs in ONNX order. A key bound to an
//     empty tensor (shape [0] or data.length 0 with shape []) is an omitted optional input ('').
//   * Inputs named like weights (W, weight, B, bias, Scale, gamma, beta, roi, scales) become
//     initializers (constant, not fed per run), as in a real exported model.
//   * Inputs ONNX wants as int64 (axes, sizes, shape, pads, starts, ends, steps, K, split, repeats)
//     become int64 initializers; their Float32Array data holds the integer values.
//   * `attributes`: number -> INT if an integer, else FLOAT (force with { float: v } / { int: v });
//     string -> STRING; number[] -> INTS (FLOATS if any is fractional, or { floats: [...] }).
//   * Composite ops (not ONNX op types) expand into small subgraphs, see COMPOSITES below:
//     'Attention' (q, k, v; attribute scale), 'MaskedMean' (x [B,C,N], m [B,N]; eps), 'Gelu'
//     (erf form; onnxruntime fuses it back into one Gelu kernel).

export type OnnxAttr =
  | number
  | string
  | number[]
  | { float: number }
  | { int: number }
  | { floats: number[] }
  | { ints: number[] };

export interface OnnxOpDesc {
  op: string;
  inputs: Record<string, { shape: number[]; data: Float32Array }>;
  attributes?: Record<string, unknown>;
  outputShape: number[];
}

export interface BuiltModel {
  bytes: Uint8Array;
  /** Runtime inputs (graph inputs) in order, name -> tensor. */
  feeds: Record<string, { shape: number[]; data: Float32Array }>;
  outputName: string;
  /** ONNX op types in the graph (for labels and notes). */
  ops: string[];
}

// ------------------------------------------------------------------ protobuf wire format
class Writer {
  private chunks: number[] = [];
  private bufs: Uint8Array[] = [];
  private flushChunks(): void {
    if (this.chunks.length) {
      this.bufs.push(Uint8Array.from(this.chunks));
      this.chunks = [];
    }
  }
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.chunks.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.chunks.push(Number(x));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  raw(b: Uint8Array): this {
    this.flushChunks();
    this.bufs.push(b);
    return this;
  }
  /** Field of wire type 0 (int32/int64/enum). */
  int(field: number, v: number | bigint): this {
    return this.tag(field, 0).varint(v);
  }
  /** Field of wire type 5 (float). */
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.tag(field, 5).raw(b);
  }
  bytes(field: number, b: Uint8Array): this {
    return this.tag(field, 2).varint(b.byteLength).raw(b);
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  message(field: number, m: Writer): this {
    return this.bytes(field, m.finish());
  }
  packedInts(field: number, vs: ArrayLike<number>): this {
    const w = new Writer();
    for (let i = 0; i < vs.length; i++) w.varint(vs[i]);
    return this.bytes(field, w.finish());
  }
  packedFloats(field: number, vs: ArrayLike<number>): this {
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < vs.length; i++) dv.setFloat32(4 * i, vs[i], true);
    return this.bytes(field, b);
  }
  finish(): Uint8Array {
    this.flushChunks();
    const n = this.bufs.reduce((a, b) => a + b.byteLength, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const b of this.bufs) {
      out.set(b, o);
      o += b.byteLength;
    }
    return out;
  }
}

// ------------------------------------------------------------------ onnx.proto messages
const DT_FLOAT = 1;
const DT_INT64 = 7;
const AT = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

interface Tensor64 {
  name: string;
  dims: number[];
  dtype: 'f32' | 'i64';
  data: ArrayLike<number>;
}

function tensorProto(t: Tensor64): Writer {
  const w = new Writer();
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dtype === 'f32' ? DT_FLOAT : DT_INT64);
  w.string(8, t.name);
  // raw_data (field 9), little endian
  if (t.dtype === 'f32') {
    const f = Float32Array.from(t.data);
    w.bytes(9, new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
  } else {
    const b = new Uint8Array(t.data.length * 8);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < t.data.length; i++) dv.setBigInt64(8 * i, BigInt(Math.round(t.data[i])), true);
    w.bytes(9, b);
  }
  return w;
}

function valueInfo(name: string, shape: number[], elem = DT_FLOAT): Writer {
  const dims = new Writer();
  for (const d of shape) dims.message(1, new Writer().int(1, d)); // Dimension.dim_value
  const tensorType = new Writer().int(1, elem).message(2, dims); // TypeProto.Tensor{elem_type, shape}
  const type = new Writer().message(1, tensorType); // TypeProto.tensor_type
  return new Writer().string(1, name).message(2, type);
}

function attribute(name: string, v: unknown): Writer {
  const w = new Writer().string(1, name);
  const isInt = (x: number) => Number.isInteger(x);
  if (typeof v === 'number') {
    return isInt(v) ? w.int(3, v).int(20, AT.INT) : w.float(2, v).int(20, AT.FLOAT);
  }
  if (typeof v === 'string') return w.string(4, v).int(20, AT.STRING);
  if (Array.isArray(v)) {
    return v.every((x) => isInt(x)) ? w.packedInts(8, v).int(20, AT.INTS) : w.packedFloats(7, v).int(20, AT.FLOATS);
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.float === 'number') return w.float(2, o.float).int(20, AT.FLOAT);
    if (typeof o.int === 'number') return w.int(3, o.int).int(20, AT.INT);
    if (Array.isArray(o.floats)) return w.packedFloats(7, o.floats as number[]).int(20, AT.FLOATS);
    if (Array.isArray(o.ints)) return w.packedInts(8, o.ints as number[]).int(20, AT.INTS);
  }
  throw new Error(`onnx attribute '${name}': unsupported value ${JSON.stringify(v)}`);
}

interface NodeDesc {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, unknown>;
  domain?: string;
}

function nodeProto(n: NodeDesc, i: number): Writer {
  const w = new Writer();
  for (const x of n.inputs) w.string(1, x);
  for (const y of n.outputs) w.string(2, y);
  w.string(3, `${n.op}_${i}`);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attributes ?? {})) if (v !== undefined) w.message(5, attribute(k, v));
  if (n.domain) w.string(7, n.domain);
  return w;
}

export interface GraphDesc {
  nodes: NodeDesc[];
  inputs: Array<{ name: string; shape: number[] }>;
  initializers: Tensor64[];
  outputs: Array<{ name: string; shape: number[] }>;
  opset?: number;
}

/** Serialise a graph into ModelProto bytes. */
export function encodeModel(g: GraphDesc): Uint8Array {
  const graph = new Writer();
  g.nodes.forEach((n, i) => graph.message(1, nodeProto(n, i)));
  graph.string(2, 'robotseg_bench');
  for (const t of g.initializers) graph.message(5, tensorProto(t));
  for (const x of g.inputs) graph.message(11, valueInfo(x.name, x.shape));
  for (const y of g.outputs) graph.message(12, valueInfo(y.name, y.shape));
  const model = new Writer();
  model.int(1, 8); // ir_version
  model.string(2, 'robotseg-bench');
  model.string(3, '0.1');
  model.message(7, graph);
  model.message(8, new Writer().string(1, '').int(2, g.opset ?? 17)); // opset_import (default domain)
  return model.finish();
}

// ------------------------------------------------------------------ op descriptions -> graphs
const CONST_FLOAT = new Set(['W', 'weight', 'B', 'bias', 'Scale', 'gamma', 'beta', 'roi', 'scales']);
const CONST_INT64 = new Set(['axes', 'sizes', 'shape', 'pads', 'starts', 'ends', 'steps', 'K', 'split', 'repeats']);

type Composite = (
  x: string[],
  desc: OnnxOpDesc,
  out: string,
  add: (n: NodeDesc) => void,
  konst: (name: string, dtype: 'f32' | 'i64', dims: number[], data: number[]) => string,
) => void;

/** Small subgraphs for ops that ONNX (opset 17) spells with several nodes. */
const COMPOSITES: Record<string, Composite> = {
  // softmax(q @ k^T * scale) @ v over the last two axes; q [.., S, D], k [.., L, D], v [.., L, Dv].
  Attention: ([q, k, v], desc, out, add, konst) => {
    const rank = desc.inputs[Object.keys(desc.inputs)[1]].shape.length;
    const perm = [...Array(rank).keys()];
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
    const d = desc.inputs[Object.keys(desc.inputs)[0]].shape.at(-1)!;
    const scale = Number(desc.attributes?.scale ?? 1 / Math.sqrt(d));
    add({ op: 'Transpose', inputs: [k], outputs: ['kT'], attributes: { perm } });
    add({ op: 'MatMul', inputs: [q, 'kT'], outputs: ['scores'] });
    add({ op: 'Mul', inputs: ['scores', konst('scale', 'f32', [], [scale])], outputs: ['scaled'] });
    add({ op: 'Softmax', inputs: ['scaled'], outputs: ['probs'], attributes: { axis: -1 } });
    add({ op: 'MatMul', inputs: ['probs', v], outputs: [out] });
  },
  // x [B, C, N], m [B, N] -> sum_n x*m / max(sum_n m, eps): [B, C]
  MaskedMean: ([x, m], desc, out, add, konst) => {
    const eps = Number(desc.attributes?.eps ?? 1e-6);
    add({ op: 'Unsqueeze', inputs: [m, konst('axis1', 'i64', [1], [1])], outputs: ['m3'] });
    add({ op: 'Mul', inputs: [x, 'm3'], outputs: ['xm'] });
    add({
      op: 'ReduceSum',
      inputs: ['xm', konst('axis2', 'i64', [1], [2])],
      outputs: ['num'],
      attributes: { keepdims: 0 },
    });
    add({
      op: 'ReduceSum',
      inputs: [m, konst('axis1b', 'i64', [1], [1])],
      outputs: ['den0'],
      attributes: { keepdims: 1 },
    });
    add({ op: 'Max', inputs: ['den0', konst('eps', 'f32', [], [eps])], outputs: ['den'] });
    add({ op: 'Div', inputs: ['num', 'den'], outputs: [out] });
  },
  // 0.5 * x * (1 + erf(x / sqrt 2))
  Gelu: ([x], _desc, out, add, konst) => {
    add({ op: 'Div', inputs: [x, konst('sqrt2', 'f32', [], [Math.SQRT2])], outputs: ['xs'] });
    add({ op: 'Erf', inputs: ['xs'], outputs: ['e'] });
    add({ op: 'Add', inputs: ['e', konst('one', 'f32', [], [1])], outputs: ['e1'] });
    add({ op: 'Mul', inputs: [x, 'e1'], outputs: ['xe'] });
    add({ op: 'Mul', inputs: ['xe', konst('half', 'f32', [], [0.5])], outputs: [out] });
  },
};

export const COMPOSITE_OPS = Object.keys(COMPOSITES);

/** Build the model for one BenchRun.onnx description. */
export function buildOnnxModel(desc: OnnxOpDesc, opts: { opset?: number } = {}): BuiltModel {
  const feeds: BuiltModel['feeds'] = {};
  const initializers: Tensor64[] = [];
  const graphInputs: GraphDesc['inputs'] = [];
  const names: string[] = [];
  for (const [name, t] of Object.entries(desc.inputs)) {
    const empty = t.data.length === 0 && (t.shape.length === 0 || t.shape.some((d) => d === 0));
    if (empty) {
      names.push('');
      continue;
    }
    if (CONST_INT64.has(name)) initializers.push({ name, dims: t.shape, dtype: 'i64', data: t.data });
    else if (CONST_FLOAT.has(name)) initializers.push({ name, dims: t.shape, dtype: 'f32', data: t.data });
    else {
      feeds[name] = t;
      graphInputs.push({ name, shape: t.shape });
    }
    names.push(name);
  }
  while (names.length && names[names.length - 1] === '') names.pop(); // trailing omitted inputs
  const out = 'Y';
  const nodes: NodeDesc[] = [];
  const composite = COMPOSITES[desc.op];
  if (composite) {
    const konst = (name: string, dtype: 'f32' | 'i64', dims: number[], data: number[]) => {
      initializers.push({ name, dims, dtype, data });
      return name;
    };
    composite(names, desc, out, (n) => nodes.push(n), konst);
  } else {
    nodes.push({ op: desc.op, inputs: names, outputs: [out], attributes: desc.attributes });
  }
  const bytes = encodeModel({
    nodes,
    inputs: graphInputs,
    initializers,
    outputs: [{ name: out, shape: desc.outputShape }],
    opset: opts.opset,
  });
  return { bytes, feeds, outputName: out, ops: nodes.map((n) => n.op) };
}
