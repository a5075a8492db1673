// A restricted pickle virtual machine: enough of protocols 2-5 to read what torch.save emits.
//
// Nothing is ever executed. GLOBAL / STACK_GLOBAL ask `hooks.findClass`, which returns a marker
// for allow-listed names and throws (naming the global) for everything else; REDUCE, NEWOBJ, BUILD
// and BINPERSID are likewise delegated to the hooks, which only build plain data. Python values map
// to: None -> null, bool, int -> number (bigint beyond 2^53), float -> number, str -> string,
// bytes -> Uint8Array, list and tuple -> array, dict -> Map. Each opcode consumes at least one
// byte, so the loop is bounded by the input length.

import { WeightsFormatError } from '../graph/weights_io.js';

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | Map<PyValue, PyValue>
  | object;

export interface PickleHooks {
  /** Resolve module.name to an allow-listed marker; throw for anything else. */
  findClass(module: string, name: string): PyValue;
  /** REDUCE: callable(*args). */
  call(fn: PyValue, args: PyValue[]): PyValue;
  /** NEWOBJ: cls.__new__(cls, *args). */
  newObj(cls: PyValue, args: PyValue[]): PyValue;
  /** BUILD: obj.__setstate__(state); returns the object to leave on the stack. */
  build(obj: PyValue, state: PyValue): PyValue;
  /** BINPERSID: persistent_load(pid). */
  persistentLoad(pid: PyValue): PyValue;
}

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

const OP_NAMES: Record<number, string> = {};

export class PickleError extends WeightsFormatError {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

/** Byte cursor with bounds checks. */
class Reader {
  pos = 0;
  private dv: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number): number {
    if (n < 0 || this.pos + n > this.bytes.byteLength) {
      throw new PickleError(
        `pickle is truncated: needs ${n} bytes at offset ${this.pos} but only ${this.bytes.byteLength - this.pos} remain`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(): number {
    return this.bytes[this.need(1)];
  }
  u16(): number {
    return this.dv.getUint16(this.need(2), true);
  }
  u32(): number {
    return this.dv.getUint32(this.need(4), true);
  }
  i32(): number {
    return this.dv.getInt32(this.need(4), true);
  }
  u64(): number {
    const lo = this.u32();
    const hi = this.u32();
    if (hi >= 0x200000) throw new PickleError(`pickle: 64-bit length ${hi} * 2^32 is not plausible`);
    return hi * 2 ** 32 + lo;
  }
  f64be(): number {
    return this.dv.getFloat64(this.need(8), false);
  }
  take(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw new PickleError(`pickle is truncated: unterminated text line at offset ${this.pos}`);
    const s = latin1(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

const utf8 = new TextDecoder('utf-8');
function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Two's-complement little-endian integer (LONG1 / LONG4). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  if (b.length > 64) throw new PickleError(`pickle: ${b.length}-byte integer is too large for a checkpoint`);
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Run the pickle in `bytes` and return the unpickled root object. */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks): PyValue {
  const vm = new Machine(new Reader(bytes), hooks);
  return vm.run();
}

class Machine {
  private stack: Slot[] = [];
  private memo = new Map<number, PyValue>();
  private op = 0;
  private opAt = 0;

  constructor(
    private r: Reader,
    private hooks: PickleHooks,
  ) {}

  run(): PyValue {
    while (this.r.pos < this.r.bytes.byteLength) {
      this.opAt = this.r.pos;
      this.op = this.r.u8();
      if (this.op === 0x2e /* STOP */) return this.popValue();
      this.step(this.op);
    }
    throw new PickleError(`pickle is truncated: no STOP opcode before the end (${this.r.bytes.byteLength} bytes)`);
  }

  private fail(msg: string): never {
    throw new PickleError(
      `pickle: ${msg} (opcode ${OP_NAMES[this.op] ?? '0x' + this.op.toString(16)} at offset ${this.opAt})`,
    );
  }

  private push(v: Slot): void {
    this.stack.push(v);
  }

  private pop(): Slot {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack.pop()!;
  }

  private popValue(): PyValue {
    const v = this.pop();
    if (v === MARK) this.fail('unexpected MARK on the stack');
    return v as PyValue;
  }

  private top(): PyValue {
    const v = this.stack[this.stack.length - 1];
    if (this.stack.length === 0 || v === MARK) this.fail('stack underflow');
    return v as PyValue;
  }

  /** Items above the topmost MARK (which is removed). */
  private popMark(): PyValue[] {
    const at = this.stack.lastIndexOf(MARK);
    if (at < 0) this.fail('no MARK on the stack');
    const items = this.stack.splice(at) as PyValue[];
    items.shift();
    return items;
  }

  private memoGet(i: number): PyValue {
    if (!this.memo.has(i)) this.fail(`memo slot ${i} is empty`);
    return this.memo.get(i)!;
  }

  private dictOf(v: PyValue): Map<PyValue, PyValue> {
    if (!(v instanceof Map)) this.fail('SETITEM on something that is not a dict');
    return v as Map<PyValue, PyValue>;
  }

  private listOf(v: PyValue): PyValue[] {
    if (!Array.isArray(v)) this.fail('APPEND on something that is not a list');
    return v as PyValue[];
  }

  private setItems(dict: Map<PyValue, PyValue>, items: PyValue[]): void {
    if (items.length % 2) this.fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  }

  private step(op: number): void {
    const r = this.r;
    switch (op) {
      case 0x80: {
        const v = r.u8();
        if (v > 5) this.fail(`unsupported protocol ${v}`);
        return;
      } // PROTO
      case 0x95:
        r.u64();
        return; // FRAME: a framing hint; the data follows inline
      case 0x28:
        return this.push(MARK); // MARK
      case 0x4e:
        return this.push(null); // NONE
      case 0x88:
        return this.push(true); // NEWTRUE
      case 0x89:
        return this.push(false); // NEWFALSE
      case 0x4a:
        return this.push(r.i32()); // BININT
      case 0x4b:
        return this.push(r.u8()); // BININT1
      case 0x4d:
        return this.push(r.u16()); // BININT2
      case 0x8a:
        return this.push(decodeLong(r.take(r.u8()))); // LONG1
      case 0x8b: {
        const n = r.i32();
        if (n < 0) this.fail('negative LONG4 length');
        return this.push(decodeLong(r.take(n)));
      } // LONG4
      case 0x47:
        return this.push(r.f64be()); // BINFLOAT
      case 0x58:
        return this.push(utf8.decode(r.take(r.u32()))); // BINUNICODE
      case 0x8c:
        return this.push(utf8.decode(r.take(r.u8()))); // SHORT_BINUNICODE
      case 0x8d:
        return this.push(utf8.decode(r.take(r.u64()))); // BINUNICODE8
      case 0x54: {
        const n = r.i32();
        if (n < 0) this.fail('negative BINSTRING length');
        return this.push(latin1(r.take(n)));
      } // BINSTRING
      case 0x55:
        return this.push(latin1(r.take(r.u8()))); // SHORT_BINSTRING
      case 0x42:
        return this.push(r.take(r.u32()).slice()); // BINBYTES
      case 0x43:
        return this.push(r.take(r.u8()).slice()); // SHORT_BINBYTES
      case 0x7d:
        return this.push(new Map()); // EMPTY_DICT
      case 0x5d:
        return this.push([]); // EMPTY_LIST
      case 0x29:
        return this.push([]); // EMPTY_TUPLE
      case 0x74:
        return this.push(this.popMark()); // TUPLE
      case 0x85:
        return this.push([this.popValue()]); // TUPLE1
      case 0x86: {
        const b = this.popValue();
        const a = this.popValue();
        return this.push([a, b]);
      } // TUPLE2
      case 0x87: {
        const c = this.popValue();
        const b = this.popValue();
        const a = this.popValue();
        return this.push([a, b, c]);
      } // TUPLE3
      case 0x6c:
        return this.push(this.popMark()); // LIST
      case 0x64: {
        const items = this.popMark();
        const d = new Map();
        this.setItems(d, items);
        return this.push(d);
      } // DICT
      case 0x73: {
        const v = this.popValue();
        const k = this.popValue();
        this.dictOf(this.top()).set(k, v);
        return;
      } // SETITEM
      case 0x75: {
        const items = this.popMark();
        this.setItems(this.dictOf(this.top()), items);
        return;
      } // SETITEMS
      case 0x61: {
        const v = this.popValue();
        this.listOf(this.top()).push(v);
        return;
      } // APPEND
      case 0x65: {
        const items = this.popMark();
        const list = this.listOf(this.top());
        for (const v of items) list.push(v);
        return;
      } // APPENDS
      case 0x71:
        this.memo.set(r.u8(), this.top());
        return; // BINPUT
      case 0x72:
        this.memo.set(r.u32(), this.top());
        return; // LONG_BINPUT
      case 0x94:
        this.memo.set(this.memo.size, this.top());
        return; // MEMOIZE
      case 0x68:
        return this.push(this.memoGet(r.u8())); // BINGET
      case 0x6a:
        return this.push(this.memoGet(r.u32())); // LONG_BINGET
      case 0x30:
        this.pop();
        return; // POP
      case 0x31:
        this.popMark();
        return; // POP_MARK
      case 0x32:
        return this.push(this.top()); // DUP
      case 0x63: {
        const module = r.line();
        const name = r.line();
        return this.push(this.hooks.findClass(module, name));
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = this.popValue();
        const module = this.popValue();
        if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
        return this.push(this.hooks.findClass(module as string, name as string));
      }
      case 0x52: {
        const args = this.popValue();
        const fn = this.popValue();
        return this.push(this.hooks.call(fn, this.tuple(args)));
      } // REDUCE
      case 0x81: {
        const args = this.popValue();
        const cls = this.popValue();
        return this.push(this.hooks.newObj(cls, this.tuple(args)));
      } // NEWOBJ
      case 0x62: {
        const state = this.popValue();
        const obj = this.popValue();
        return this.push(this.hooks.build(obj, state));
      } // BUILD
      case 0x51:
        return this.push(this.hooks.persistentLoad(this.popValue())); // BINPERSID
      default:
        this.fail('unsupported opcode');
    }
  }

  private tuple(v: PyValue): PyValue[] {
    if (!Array.isArray(v)) this.fail('argument list is not a tuple');
    return v as PyValue[];
  }
}

Object.assign(OP_NAMES, {
  0x80: 'PROTO',
  0x95: 'FRAME',
  0x28: 'MARK',
  0x4e: 'NONE',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4d: 'BININT2',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x47: 'BINFLOAT',
  0x58: 'BINUNICODE',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x7d: 'EMPTY_DICT',
  0x5d: 'EMPTY_LIST',
  0x29: 'EMPTY_TUPLE',
  0x74: 'TUPLE',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x6c: 'LIST',
  0x64: 'DICT',
  0x73: 'SETITEM',
  0x75: 'SETITEMS',
  0x61: 'APPEND',
  0x65: 'APPENDS',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x94: 'MEMOIZE',
  0x68: 'BINGET',
  0x6a: 'LONG_BINGET',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x63: 'GLOBAL',
  0x93: 'STACK_GLOBAL',
  0x52: 'REDUCE',
  0x81: 'NEWOBJ',
  0x62: 'BUILD',
  0x51: 'BINPERSID',
  0x2e: 'STOP',
});
