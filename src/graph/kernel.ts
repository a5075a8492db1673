// Kernel families: one WGSL file per family (shaders/<family>.wgsl), compiled per variant.
// Bind-group layouts and the Params uniform layout come from the shader via wgsl_reflect, never by
// hand. The pipeline cache key holds compile-time facts only (entry point, defines, override
// constants); shapes travel in the Params uniform so one pipeline serves every shape.

import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { BYTES } from './dtype.js';
import { type Defines, preprocessWgsl } from './preprocess.js';
import type { Runtime } from './runtime.js';
import type { Tensor } from './tensor.js';

export type ParamValue = number | boolean | readonly number[];
export type Params = Record<string, ParamValue>;

interface BindingInfo {
  name: string;
  binding: number;
  kind: 'read-only-storage' | 'storage' | 'uniform';
}

interface MemberInfo {
  name: string;
  offset: number;
  /** scalar type: f32 | u32 | i32 | f16 */
  scalar: string;
  /** number of scalars (1 for scalars, N for vecN, count*N for arrays) */
  count: number;
  /** scalars per element (1 or the vector width) */
  comps: number;
  /** byte stride between elements (array stride; the scalar size for non-arrays) */
  stride: number;
}

export interface Variant {
  key: string;
  label: string;
  /** null while an asynchronous compilation is running (see `ready`). */
  pipeline: GPUComputePipeline | null;
  /** Resolves when `pipeline` is set (rejects with the compiler's messages); null for blocking compiles. */
  ready: Promise<void> | null;
  layout: GPUBindGroupLayout;
  bindings: Map<string, BindingInfo>;
  /** Params uniform: binding name, byte size, members by name (null if the entry has no uniform). */
  params: { name: string; binding: number; size: number; members: Map<string, MemberInfo> } | null;
  workgroupSize: [number, number, number];
}

export interface VariantSpec {
  entry?: string;
  defines?: Defines;
  /** WGSL `override` constants (e.g. workgroup sizes). */
  constants?: Record<string, number>;
}

export interface RunSpec extends VariantSpec {
  /** Buffers by WGSL variable name. Tensors are bound at their (aligned) offset. */
  bindings: Record<string, Tensor>;
  params?: Params;
  /** Workgroup counts; use Runtime.groups1d to fold large counts into 2-D. */
  groups: readonly [number, number?, number?];
  label?: string;
}

const ENABLE_RE = /^\s*enable\s+[A-Za-z0-9_,\s]+;\s*$/;

/** Hoist `enable` directives (possibly from includes) to the top, as WGSL requires. */
function hoistEnables(text: string): string {
  const enables = new Set<string>();
  const body: string[] = [];
  for (const line of text.split('\n')) {
    if (ENABLE_RE.test(line)) enables.add(line.trim());
    else body.push(line);
  }
  return [...enables, ...body].join('\n');
}

function scalarOf(typeName: string, formatName: string | undefined): { scalar: string; count: number } {
  const vec = /^vec([234])([fiuh]?)$/.exec(typeName);
  if (vec) {
    const fmt = formatName ?? ({ f: 'f32', i: 'i32', u: 'u32', h: 'f16' } as Record<string, string>)[vec[2]];
    return { scalar: fmt, count: Number(vec[1]) };
  }
  if (['f32', 'u32', 'i32', 'f16'].includes(typeName)) return { scalar: typeName, count: 1 };
  throw new Error(`unsupported Params member type '${typeName}'`);
}

export class KernelFamily {
  private variants = new Map<string, Variant>();

  constructor(
    private rt: Runtime,
    readonly name: string,
  ) {
    if (!(name in rt.shaders)) throw new Error(`no shader 'shaders/${name}.wgsl' in the shader library`);
  }

  /** Compile (or fetch from cache) one variant of this family. */
  variant(spec: VariantSpec = {}): Variant {
    const entry = spec.entry ?? 'main';
    const defines = spec.defines ?? {};
    const constants = spec.constants ?? {};
    const key = `${this.name}:${entry}:${JSON.stringify(Object.entries(defines).sort())}:${JSON.stringify(Object.entries(constants).sort())}`;
    const hit = this.variants.get(key);
    if (hit) return hit;

    const label = `${this.name}.${entry}${Object.keys(defines).length ? JSON.stringify(defines) : ''}`;
    const code = hoistEnables(preprocessWgsl(this.name, this.rt.shaders, { ...this.rt.builtinDefines, ...defines }));
    let reflect: WgslReflect;
    try {
      reflect = new WgslReflect(code);
    } catch (e) {
      throw new Error(`kernel ${label}: WGSL reflection failed: ${(e as Error).message}`);
    }
    const fn = reflect.entry.compute.find((f) => f.name === entry);
    if (!fn) throw new Error(`kernel ${label}: no @compute entry point '${entry}'`);

    const bindings = new Map<string, BindingInfo>();
    let params: Variant['params'] = null;
    for (const r of fn.resources) {
      if (r.group !== 0) throw new Error(`kernel ${label}: only @group(0) is supported (got ${r.group} for ${r.name})`);
      if (r.resourceType === 0 /* Uniform */) {
        const members = new Map<string, MemberInfo>();
        const struct = r.type as unknown as {
          members?: Array<{
            name: string;
            offset: number;
            size: number;
            type: { name: string; format?: { name: string }; isArray?: boolean; count?: number; stride?: number };
          }>;
        };
        for (const m of struct.members ?? []) {
          if (m.type.isArray) {
            const inner = scalarOf(
              m.type.format!.name,
              (m.type.format as unknown as { format?: { name: string } }).format?.name,
            );
            members.set(m.name, {
              name: m.name,
              offset: m.offset,
              scalar: inner.scalar,
              count: (m.type.count ?? 0) * inner.count,
              comps: inner.count,
              stride: m.type.stride ?? 16,
            });
          } else {
            const s = scalarOf(m.type.name, m.type.format?.name);
            members.set(m.name, {
              name: m.name,
              offset: m.offset,
              scalar: s.scalar,
              count: s.count,
              comps: s.count,
              stride: 4 * s.count,
            });
          }
        }
        if (params) throw new Error(`kernel ${label}: more than one uniform binding`);
        params = { name: r.name, binding: r.binding, size: Math.ceil(r.type.size / 16) * 16, members };
        bindings.set(r.name, { name: r.name, binding: r.binding, kind: 'uniform' });
      } else if (r.resourceType === 1 /* Storage */) {
        bindings.set(r.name, {
          name: r.name,
          binding: r.binding,
          kind: r.access === 'read' ? 'read-only-storage' : 'storage',
        });
      } else {
        throw new Error(`kernel ${label}: unsupported resource ${r.name}`);
      }
    }

    const device = this.rt.device;
    const layout = device.createBindGroupLayout({
      label,
      entries: [...bindings.values()].map((b) => ({
        binding: b.binding,
        visibility: 4 /* COMPUTE */,
        buffer: { type: b.kind },
      })),
    });
    const wg = fn.workgroupSize ?? null;
    const workgroupSize = resolveWorkgroupSize(code, entry, constants, wg, label);
    this.rt.beginCompileCheck();
    const module = device.createShaderModule({ label, code });
    const desc: GPUComputePipelineDescriptor = {
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: entry, constants },
    };
    const v: Variant = { key, label, pipeline: null, ready: null, layout, bindings, params, workgroupSize };
    if (this.rt.asyncCompile) {
      // only the variants a run dispatches are compiled, each as soon as it is first queued; the
      // batches that use it wait for it (Runtime.flush), the host goes on building the graph
      v.ready = device.createComputePipelineAsync(desc).then(
        (p) => {
          v.pipeline = p;
        },
        async (e: Error) => {
          this.variants.delete(key);
          throw new Error(await compileMessage(label, module, code, e.message));
        },
      );
      this.rt.trackCompile(v.ready);
    } else {
      v.pipeline = device.createComputePipeline(desc);
    }
    this.rt.endCompileCheck(label, module, code);
    this.variants.set(key, v);
    return v;
  }

  /** Queue one dispatch of a variant (encoded at the next flush, in order). */
  run(spec: RunSpec): void {
    const v = this.variant(spec);
    const label = spec.label ?? v.label;
    const given = { ...(spec.params ?? {}) };
    const entries: Array<{ binding: number; tensor: Tensor; offset: number; size: number }> = [];
    const align = this.rt.limits.minStorageBufferOffsetAlignment;
    const maxBind = this.rt.maxBinding;
    for (const [name, b] of v.bindings) {
      if (b.kind === 'uniform') continue;
      const t = spec.bindings[name];
      if (!t) throw new Error(`kernel ${label}: binding '${name}' not given`);
      if (t.isDisposed) throw new Error(`kernel ${label}: binding '${name}' uses disposed tensor ${t}`);
      const aligned = Math.floor(t.byteOffset / align) * align;
      const extra = t.byteOffset - aligned;
      const offName = `${name}_off`;
      if (v.params?.members.has(offName)) {
        if (offName in given)
          throw new Error(`kernel ${label}: '${offName}' is set from the tensor view, not by the caller`);
        given[offName] = extra / BYTES[t.dtype];
      } else if (extra !== 0) {
        throw new Error(
          `kernel ${label}: '${name}' is a view at byte offset ${t.byteOffset}, not ${align}-aligned, and the shader has no '${offName}' param`,
        );
      }
      const size = Math.max(4, Math.ceil((extra + t.byteLength) / 4) * 4);
      if (size > maxBind) {
        throw new Error(
          `kernel ${label}: '${name}' needs a ${size}-byte binding, over the binding limit ${maxBind} (maxStorageBufferBindingSize); split the tensor`,
        );
      }
      if (aligned + size > t.storage.byteLength)
        throw new Error(`kernel ${label}: binding '${name}' overruns its buffer`);
      entries.push({ binding: b.binding, tensor: t, offset: aligned, size });
    }
    for (const name of Object.keys(spec.bindings)) {
      if (!v.bindings.has(name))
        throw new Error(`kernel ${label}: shader has no binding '${name}' (has ${[...v.bindings.keys()].join(', ')})`);
    }
    let uniform: Uint8Array | null = null;
    if (v.params) uniform = packParams(v.params, given, label);
    else if (Object.keys(given).length) throw new Error(`kernel ${label}: params given but the shader has no uniform`);

    const [gx, gy = 1, gz = 1] = spec.groups;
    const maxDim = this.rt.limits.maxComputeWorkgroupsPerDimension;
    if (gx > maxDim || gy > maxDim || gz > maxDim)
      throw new Error(
        `kernel ${label}: ${gx}x${gy}x${gz} workgroups exceed ${maxDim} per dimension; fold with groups1d`,
      );
    this.rt.enqueue({
      kind: 'dispatch',
      variant: v,
      label,
      entries,
      uniform,
      uniformBinding: v.params?.binding ?? -1,
      groups: [gx, gy, gz],
    });
  }
}

/** The compiler's error messages with the offending source lines. */
async function compileMessage(label: string, module: GPUShaderModule, code: string, message: string): Promise<string> {
  const info = await module.getCompilationInfo();
  const lines = code.split('\n');
  const detail = info.messages
    .filter((m) => m.type === 'error')
    .map((m) => `  line ${m.lineNum}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`)
    .join('\n');
  return `kernel ${label} failed to compile: ${message}\n${detail}`;
}

function resolveWorkgroupSize(
  code: string,
  entry: string,
  constants: Record<string, number>,
  reflected: unknown,
  label: string,
): [number, number, number] {
  // Read @workgroup_size(...) of the entry and substitute override constants and their defaults.
  const re = new RegExp(`@workgroup_size\\(([^)]*)\\)\\s*fn\\s+${entry}\\b`);
  const m = re.exec(code);
  if (!m) {
    if (Array.isArray(reflected)) return [reflected[0] ?? 1, reflected[1] ?? 1, reflected[2] ?? 1];
    throw new Error(`kernel ${label}: cannot read @workgroup_size`);
  }
  const dims = m[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((tok) => {
      if (/^\d+u?$/.test(tok)) return parseInt(tok, 10);
      if (tok in constants) return constants[tok];
      const d = new RegExp(`override\\s+${tok}\\s*(?::\\s*\\w+)?\\s*=\\s*(\\d+)`).exec(code);
      if (d) return parseInt(d[1], 10);
      const c = new RegExp(`const\\s+${tok}\\s*(?::\\s*\\w+)?\\s*=\\s*(\\d+)`).exec(code);
      if (c) return parseInt(c[1], 10);
      throw new Error(`kernel ${label}: workgroup size '${tok}' has no value`);
    });
  return [dims[0] ?? 1, dims[1] ?? 1, dims[2] ?? 1];
}

/** Pack named values at the offsets wgsl_reflect reports for the Params struct. */
export function packParams(p: NonNullable<Variant['params']>, values: Params, label: string): Uint8Array {
  const buf = new ArrayBuffer(p.size);
  const dv = new DataView(buf);
  for (const [name, m] of p.members) {
    if (!(name in values)) {
      if (name.startsWith('_pad')) continue;
      throw new Error(`kernel ${label}: param '${name}' not given`);
    }
    const val = values[name];
    const arr: readonly number[] = typeof val === 'number' ? [val] : typeof val === 'boolean' ? [val ? 1 : 0] : val;
    if (arr.length !== m.count)
      throw new Error(`kernel ${label}: param '${name}' needs ${m.count} values, got ${arr.length}`);
    arr.forEach((x, i) => {
      const at = m.offset + Math.floor(i / m.comps) * m.stride + (i % m.comps) * 4;
      switch (m.scalar) {
        case 'f32':
          dv.setFloat32(at, x, true);
          break;
        case 'u32':
          if (!Number.isInteger(x) || x < 0 || x > 0xffffffff)
            throw new Error(`kernel ${label}: param '${name}' = ${x} is not a u32`);
          dv.setUint32(at, x, true);
          break;
        case 'i32':
          if (!Number.isInteger(x) || x < -0x80000000 || x > 0x7fffffff)
            throw new Error(`kernel ${label}: param '${name}' = ${x} is not an i32`);
          dv.setInt32(at, x, true);
          break;
        default:
          throw new Error(`kernel ${label}: param '${name}' has unsupported type ${m.scalar}`);
      }
    });
  }
  for (const name of Object.keys(values)) {
    if (!p.members.has(name)) throw new Error(`kernel ${label}: shader Params has no member '${name}'`);
  }
  return new Uint8Array(buf);
}
