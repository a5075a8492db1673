// PyTorch checkpoint (.pt, torch.save zip format) reader, no Python involved.
//
// Archive layout: `<archive>/data.pkl` (the pickled object; tensors appear as
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) whose storage is a
// persistent id ('storage', torch.FloatStorage, '<key>', 'cpu', numel)), `<archive>/data/<key>`
// (raw little-endian storage bytes), `<archive>/version`, `<archive>/byteorder`. The pickle runs on
// a restricted VM (pickle.ts) with the allow-list below; the state dict is the top-level 'model'
// entry (official SAM 2 checkpoints) or the root dict itself. Tensors are then read one at a time
// from their storage entries, materialising non-contiguous strides.

import { numel, shapeStr } from '../graph/dtype.js';
import {
  type ByteSource,
  type TensorInfo,
  type WeightDType,
  type WeightsFile,
  WeightsFormatError,
  asFormatError,
  bytesSource,
  formatBytes,
  rawToF32,
} from '../graph/weights_io.js';
import { type PickleHooks, type PyValue, unpickle } from './pickle.js';
import { ZipArchive, type ZipEntry, ZipError, readLocalHeader } from './zip.js';

/** torch.<X>Storage -> dtype name (only F32/F16/BF16 can be loaded; the rest are named in errors). */
const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};
const ELEMENT_BYTES: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};
const LOADABLE = new Set(['F32', 'F16', 'BF16']);
/** Largest data.pkl we read (the SAM 2.1 large index is well under 1 MB). */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
/** Largest single tensor (a JS typed array of one tensor must hold it). */
const MAX_TENSOR_BYTES = 2 ** 31 - 1;

/** Globals the checkpoint may name; everything else is refused without being executed. */
const ALLOWED_FUNCTIONS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch.Size',
]);

class TorchGlobal {
  constructor(readonly qualname: string) {}
}
class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: string,
    readonly numel: number,
  ) {}
}
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const isCount = (v: PyValue): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isCounts = (v: PyValue): v is number[] => Array.isArray(v) && v.every(isCount);

function fail(msg: string): never {
  throw new WeightsFormatError(`checkpoint: ${msg}`);
}

/** Pickle hooks that build TensorRefs and refuse every global not on the allow-list. */
function torchHooks(): PickleHooks {
  const storages = new Map<string, StorageRef>();
  return {
    findClass(module, name) {
      const q = `${module}.${name}`.replace(/[^\x20-\x7e]/g, '?');
      if (module === 'torch' && name in STORAGE_DTYPES) return new TorchGlobal(q);
      if (ALLOWED_FUNCTIONS.has(q)) return new TorchGlobal(q);
      return fail(
        `refuses global '${q}': only tensors and state dicts are loaded (allowed: ${[...ALLOWED_FUNCTIONS].join(', ')}, torch.*Storage); nothing is executed`,
      );
    },
    call: (fn, args) => callAllowed(fn, args),
    newObj(cls, args) {
      if (cls instanceof TorchGlobal && cls.qualname === 'collections.OrderedDict') return new Map();
      return callAllowed(cls, args);
    },
    build(obj, _state) {
      // OrderedDict state (a state dict's `_metadata` attribute) and parameter state carry nothing we need.
      if (obj instanceof Map || obj instanceof TensorRef) return obj;
      return fail('BUILD on an unsupported object');
    },
    persistentLoad(pid) {
      if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage')
        fail(`unsupported persistent id ${describe(pid)}`);
      const [, type, key, , n] = pid as PyValue[];
      if (
        !(type instanceof TorchGlobal) ||
        !type.qualname.startsWith('torch.') ||
        !(type.qualname.slice(6) in STORAGE_DTYPES)
      )
        fail(`persistent id names no storage type: ${describe(type)}`);
      if (typeof key !== 'string' || !isCount(n)) fail(`bad storage reference ${describe(pid)}`);
      const dtype = STORAGE_DTYPES[(type as TorchGlobal).qualname.slice(6)];
      const old = storages.get(key as string);
      if (old && (old.dtype !== dtype || old.numel !== n))
        fail(`storage '${key}' is referenced with two different types or sizes`);
      const ref = old ?? new StorageRef(key as string, dtype, n as number);
      storages.set(key as string, ref);
      return ref;
    },
  };
}

function callAllowed(fn: PyValue, args: PyValue[]): PyValue {
  if (!(fn instanceof TorchGlobal)) return fail(`call of a non-callable ${describe(fn)}`);
  switch (fn.qualname) {
    case 'collections.OrderedDict':
      return orderedDict(args);
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2':
      return rebuildTensor(args);
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      if (!(args[0] instanceof TensorRef)) fail('_rebuild_parameter without a tensor');
      return args[0];
    case 'torch.Size':
      if (!isCounts(args[0] ?? null)) fail('torch.Size of non-integers');
      return args[0];
    default:
      return fail(`'${fn.qualname}' cannot be called`);
  }
}

function orderedDict(args: PyValue[]): Map<PyValue, PyValue> {
  const m = new Map<PyValue, PyValue>();
  const items = args[0];
  if (items === undefined) return m;
  if (!Array.isArray(items)) fail('OrderedDict argument is not a list of pairs');
  for (const kv of items as PyValue[]) {
    if (!Array.isArray(kv) || kv.length !== 2) fail('OrderedDict argument is not a list of pairs');
    m.set((kv as PyValue[])[0], (kv as PyValue[])[1]);
  }
  return m;
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, ...). */
function rebuildTensor(args: PyValue[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) fail('_rebuild_tensor_v2 without a storage');
  if (!isCount(offset) || !isCounts(size) || !isCounts(stride) || size.length !== stride.length) {
    fail(`_rebuild_tensor_v2 with bad offset/size/stride ${describe(offset)} ${describe(size)} ${describe(stride)}`);
  }
  return new TensorRef(storage as StorageRef, offset as number, [...(size as number[])], [...(stride as number[])]);
}

/** Short text for an unpickled value in messages (depth-limited: values may be cyclic). */
function describe(v: PyValue, depth = 0): string {
  if (v instanceof TorchGlobal) return v.qualname;
  if (v instanceof Map) return `dict(${v.size})`;
  if (Array.isArray(v)) {
    if (depth > 2) return '(…)';
    return `(${v
      .slice(0, 6)
      .map((x) => describe(x, depth + 1))
      .join(', ')}${v.length > 6 ? ', …' : ''})`;
  }
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (v === null || typeof v !== 'object') return String(v);
  return v.constructor?.name ?? 'object';
}

/** The state dict: root['model'] (official SAM 2) / root['state_dict'], or the root dict itself. */
function findStateDict(root: PyValue): Map<string, TensorRef> {
  if (!(root instanceof Map)) fail(`top-level object is ${describe(root)}, not a dict`);
  let sd = root as Map<PyValue, PyValue>;
  for (const k of ['model', 'state_dict']) {
    if (!sd.has(k)) continue;
    const inner = sd.get(k);
    if (!(inner instanceof Map)) fail(`top-level '${k}' is ${describe(inner ?? null)}, not a state dict`);
    sd = inner as Map<PyValue, PyValue>;
    break;
  }
  const out = new Map<string, TensorRef>();
  for (const [k, v] of sd) {
    if (typeof k !== 'string') fail(`state dict key ${describe(k)} is not a string`);
    if (!(v instanceof TensorRef)) fail(`state dict entry '${k}' is ${describe(v)}, not a tensor`);
    out.set(k as string, v as TensorRef);
  }
  return out;
}

/** Unpickle data.pkl bytes into the state dict's tensor references. */
function parseIndex(pkl: Uint8Array): Map<string, TensorRef> {
  return findStateDict(unpickle(pkl, torchHooks()));
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) return false;
    expect *= shape[i];
  }
  return true;
}

/** Elements of the storage a view touches: 1 + the largest linear index (0 when empty). */
function viewSpan(t: TensorRef): number {
  if (numel(t.shape) === 0) return 0;
  return 1 + t.shape.reduce((a, d, i) => a + (d - 1) * t.stride[i], 0);
}

/** Copy a strided view (element size `el`, strides in elements, starting at 0 of `src`) into contiguous bytes. */
export function gatherStrided(src: Uint8Array, shape: number[], stride: number[], el: number): Uint8Array {
  const n = numel(shape);
  const out = new Uint8Array(n * el);
  const idx = new Array(shape.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    out.set(src.subarray(off * el, off * el + el), i * el);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      off += stride[d];
      if (idx[d] < shape[d]) break;
      off -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** An opened checkpoint: same interface as a safetensors file. */
export class CheckpointFile implements WeightsFile {
  readonly format = 'pt' as const;
  readonly header: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(
    private zip: ZipArchive,
    private prefix: string,
    private tensors: Map<string, TensorRef>,
    header: Map<string, TensorInfo>,
  ) {
    this.header = header;
    this.metadata = { format: 'pt', archive: prefix.replace(/\/$/, '') };
  }

  private ref(key: string): TensorRef {
    const t = this.tensors.get(key);
    if (!t) throw new WeightsFormatError(`${this.zip.source.name}: no tensor '${key}'`);
    return t;
  }

  async readRaw(key: string): Promise<Uint8Array> {
    return asFormatError(this.zip.source.name, () => this.materialize(this.ref(key)));
  }

  private async materialize(t: TensorRef): Promise<Uint8Array> {
    const el = ELEMENT_BYTES[t.storage.dtype];
    const entry = this.zip.get(`${this.prefix}data/${t.storage.key}`)!;
    const span = viewSpan(t);
    if (span === 0) return new Uint8Array(0);
    const bytes = await this.zip.read(entry, t.offset * el, span * el);
    return isContiguous(t.shape, t.stride) ? bytes : gatherStrided(bytes, t.shape, t.stride, el);
  }

  async readTensor(key: string): Promise<Float32Array> {
    return rawToF32(await this.readRaw(key), this.header.get(key)!.dtype);
  }

  close(): Promise<void> {
    return this.zip.source.close();
  }
}

/** Check every tensor against its storage entry and describe it (dtype, shape, file range). */
function buildHeader(zip: ZipArchive, prefix: string, tensors: Map<string, TensorRef>): Map<string, TensorInfo> {
  const rows: Array<[string, TensorInfo]> = [];
  for (const [key, t] of tensors) {
    const s = t.storage;
    if (!LOADABLE.has(s.dtype)) fail(`tensor '${key}' has unsupported dtype ${s.dtype} (supported: F32, F16, BF16)`);
    const el = ELEMENT_BYTES[s.dtype];
    const entry: ZipEntry | undefined = zip.get(`${prefix}data/${s.key}`);
    if (!entry) fail(`tensor '${key}': storage '${prefix}data/${s.key}' is missing from the archive`);
    if (entry!.size < s.numel * el)
      fail(
        `tensor '${key}': storage '${s.key}' holds ${entry!.size} bytes but ${s.numel} ${s.dtype} elements need ${s.numel * el}`,
      );
    if (viewSpan(t) > 0 && t.offset + viewSpan(t) > s.numel) {
      fail(
        `tensor '${key}' ${shapeStr(t.shape)} (offset ${t.offset}, stride ${shapeStr(t.stride)}) reaches past its storage of ${s.numel} elements`,
      );
    }
    if (numel(t.shape) * el > MAX_TENSOR_BYTES)
      fail(`tensor '${key}' ${shapeStr(t.shape)} is too large to materialise (${numel(t.shape) * el} bytes)`);
    const begin = entry!.localHeaderOffset + t.offset * el;
    rows.push([key, { dtype: s.dtype as WeightDType, shape: t.shape, begin, end: begin + numel(t.shape) * el }]);
  }
  return new Map(rows.sort((a, b) => a[1].begin - b[1].begin));
}

/** The `<archive>/` prefix: the directory that holds data.pkl. */
function findPrefix(zip: ZipArchive): string {
  const pkl = [...zip.entries.keys()]
    .filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'))
    .sort((a, b) => a.length - b.length)[0];
  if (!pkl) fail('no data.pkl in the archive: not a torch.save checkpoint');
  return pkl.slice(0, pkl.length - 'data.pkl'.length);
}

async function checkByteOrder(zip: ZipArchive, prefix: string): Promise<void> {
  const e = zip.get(`${prefix}byteorder`);
  if (!e) return; // older torch versions omit it: little-endian
  const text = new TextDecoder().decode(await zip.read(e)).trim();
  if (text !== 'little') fail(`byteorder is '${text.slice(0, 20)}'; only little-endian checkpoints are supported`);
}

/** Reject formats that are not a zip checkpoint with a precise hint. */
async function sniff(src: ByteSource): Promise<void> {
  if (src.size < 4) fail(`${src.name} is ${src.size} bytes: too small to be a checkpoint`);
  const head = await src.read(0, Math.min(9, src.size));
  if (head.length === 9 && head[8] === 0x7b && head[0] !== 0x50)
    fail(
      `${src.name} is a safetensors file, not a PyTorch zip checkpoint (nothing to convert: pass it as --weights directly)`,
    );
  if (head[0] === 0x80 && head[1] <= 5)
    fail(`${src.name} uses the legacy (pre-1.6, non-zip) torch.save format; re-save it with a current PyTorch`);
  if (head[0] !== 0x50 || head[1] !== 0x4b) fail(`${src.name} is not a PyTorch zip checkpoint (no zip signature)`);
}

/**
 * An archive without a central directory: usually a checkpoint cut off during download. Parse the
 * pickle index from the first local entry to say how much data the checkpoint should have had.
 */
async function diagnoseTruncated(src: ByteSource, cause: ZipError): Promise<never> {
  const base = `checkpoint is truncated: zip central directory missing; file ends at ${src.size} bytes`;
  let lh: Awaited<ReturnType<typeof readLocalHeader>>;
  try {
    lh = await readLocalHeader(src, 0);
  } catch {
    throw new WeightsFormatError(`${src.name}: ${base} (${cause.message})`);
  }
  if (!lh.name.endsWith('data.pkl') || lh.method !== 0)
    throw new WeightsFormatError(`${src.name}: ${base} (${cause.message})`);
  const known = lh.compressedSize > 0 && !(lh.flags & 8) ? lh.compressedSize : Infinity;
  const avail = Math.min(src.size - lh.dataStart, known, MAX_PICKLE_BYTES);
  let tensors: Map<string, TensorRef>;
  try {
    tensors = parseIndex(await src.read(lh.dataStart, avail));
  } catch {
    throw new WeightsFormatError(`${src.name}: ${base}, inside its pickle index (incomplete checkpoint)`);
  }
  const storages = new Map([...tensors.values()].map((t) => [t.storage.key, t.storage]));
  const need = [...storages.values()].reduce((a, s) => a + s.numel * (ELEMENT_BYTES[s.dtype] ?? 1), 0);
  throw new WeightsFormatError(
    `${src.name}: ${base} but tensor data for ${tensors.size} keys needs ~${formatBytes(need)} (incomplete download?)`,
  );
}

async function openArchive(src: ByteSource): Promise<ZipArchive> {
  try {
    return await ZipArchive.open(src);
  } catch (e) {
    if (e instanceof ZipError && e.code === 'no-eocd') return diagnoseTruncated(src, e);
    if (e instanceof ZipError && e.code === 'truncated')
      throw new WeightsFormatError(`${src.name}: checkpoint is truncated: ${e.message}`);
    throw e;
  }
}

async function open(src: ByteSource): Promise<CheckpointFile> {
  await sniff(src);
  const zip = await openArchive(src);
  const prefix = findPrefix(zip);
  await checkByteOrder(zip, prefix);
  const pkl = zip.get(`${prefix}data.pkl`)!;
  if (pkl.size > MAX_PICKLE_BYTES) fail(`data.pkl of ${pkl.size} bytes is too large`);
  const tensors = parseIndex(await zip.read(pkl));
  return new CheckpointFile(zip, prefix, tensors, buildHeader(zip, prefix, tensors));
}

/**
 * Open a PyTorch checkpoint for tensor-by-tensor reading. Node paths: see src/node/weights_file.ts
 * (`openWeights`), which passes a positional-read file source.
 */
export async function readCheckpoint(
  source: ByteSource | Uint8Array | ArrayBuffer,
  name?: string,
): Promise<CheckpointFile> {
  const src = source instanceof Uint8Array || source instanceof ArrayBuffer ? bytesSource(source, name) : source;
  return asFormatError(src.name, () => open(src));
}
