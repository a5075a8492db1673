// Host-agnostic device setup: given any GPU (navigator.gpu or Dawn's), pick features and the
// adapter's real limits instead of the spec defaults, and describe the adapter.

import type { AdapterDescription } from './runtime.js';

/** Features the engine uses when present. */
export const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/** Limits requested at the adapter's maximum (the defaults are far lower on most adapters). */
export const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
  'maxBindGroups',
] as const;

const SOFTWARE_RE = /llvmpipe|lavapipe|swiftshader|warp|software|cpu/i;

export function describeAdapter(adapter: GPUAdapter, backend: string, source?: string): AdapterDescription {
  const info = (adapter as unknown as { info?: GPUAdapterInfo }).info;
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  const isFallbackAdapter = Boolean(
    (info as unknown as { isFallbackAdapter?: boolean })?.isFallbackAdapter ??
      (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
  const software = isFallbackAdapter || SOFTWARE_RE.test(`${vendor} ${architecture} ${device} ${description}`);
  return { vendor, architecture, device, description, backend, isFallbackAdapter, software, source };
}

export async function requestDevice(adapter: GPUAdapter, label = 'robotseg'): Promise<GPUDevice> {
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const device = await adapter.requestDevice({ label, requiredFeatures, requiredLimits });
  if (!device) throw new Error('adapter.requestDevice returned no device');
  return device;
}

/** The limits worth printing, in a stable order. */
export function limitsReport(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of [...WANTED_LIMITS, 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment']) {
    out[k] = Number((limits as unknown as Record<string, number>)[k]);
  }
  return out;
}
