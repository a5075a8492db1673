// Node adapter discovery (Dawn through the `webgpu` package). Order:
//   1. ROBOTSEG_ADAPTER=hardware|lavapipe|swiftshader forces a choice; VK_ICD_FILENAMES set by
//      the user is respected as given.
//   2. A hardware adapter, when Dawn finds one.
//   3. A software Vulkan driver: lavapipe from Mesa >= 23 (our cache from scripts/install-adapter.sh,
//      then the system's ICD files), then SwiftShader from Debian's chromium package.
//   4. Otherwise an error that says exactly what to install.
// ROBOTSEG_KERNELS=hardware|software picks the kernel variants whatever the adapter is (default: by
// the adapter): `hardware` runs the tiled, workgroup-memory variants on lavapipe too, so CI exercises
// them (bench/gpu-check.sh --software). The description's `software` then follows the choice and
// `kernelsForced` records it.

import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAdapter, requestDevice } from '../graph/device.js';
import type { AdapterDescription } from '../graph/runtime.js';
import { filterNativeStderr } from './native_stderr.js';

export interface NodeAdapter {
  adapter: GPUAdapter;
  device: GPUDevice;
  description: AdapterDescription;
}

/** ROBOTSEG_ADAPTER names no adapter kind: a user error (exit code 2), never a reason to fall back. */
export class AdapterChoiceError extends Error {
  readonly exitCode = 2;
}

export const ADAPTER_CACHE = process.env.ROBOTSEG_ADAPTER_CACHE ?? join(homedir(), '.cache', 'robotseg-webgpu');

export const INSTALL_HINT = [
  'No WebGPU adapter found. This machine has no usable GPU driver and no software Vulkan driver.',
  'Install one of:',
  '  - lavapipe (fastest software adapter): `bash scripts/install-adapter.sh` (downloads Mesa 25',
  '    mesa-vulkan-drivers from Debian bookworm-backports into ~/.cache/robotseg-webgpu; needs',
  '    the Vulkan loader: `apt-get install libvulkan1`), or system-wide:',
  '    `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`',
  '  - SwiftShader: `apt-get install chromium libvulkan1` (ships /usr/lib/chromium/vk_swiftshader_icd.json)',
  "Or point VK_ICD_FILENAMES at a Vulkan ICD json. Mesa < 23 lavapipe (Debian bookworm's own) is rejected by Dawn.",
].join('\n');

let webgpuModule: typeof import('webgpu') | null = null;
async function dawn(): Promise<typeof import('webgpu')> {
  if (!webgpuModule) {
    // Mesa's WSI complains on stderr when XDG_RUNTIME_DIR is unset (headless servers, CI).
    if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'robotseg-xdg-'));
    webgpuModule = await import('webgpu');
    Object.assign(globalThis, webgpuModule.globals);
  }
  return webgpuModule;
}

/** Candidate software ICD files, best first. */
export function softwareIcds(kind?: 'lavapipe' | 'swiftshader'): string[] {
  const lvp: string[] = [];
  const cacheIcd = join(ADAPTER_CACHE, 'lavapipe', 'lvp_icd.json');
  if (existsSync(cacheIcd)) lvp.push(cacheIcd);
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d']) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (/^lvp_icd.*\.json$/.test(f)) lvp.push(join(dir, f));
  }
  const ss: string[] = [];
  for (const f of [
    '/usr/lib/chromium/vk_swiftshader_icd.json',
    '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
    '/opt/google/chrome/vk_swiftshader_icd.json',
  ]) {
    if (existsSync(f)) ss.push(f);
  }
  if (kind === 'lavapipe') return lvp;
  if (kind === 'swiftshader') return ss;
  return [...lvp, ...ss];
}

function hasVulkanLoader(): boolean {
  for (const d of [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
  ]) {
    if (existsSync(join(d, 'libvulkan.so.1'))) return true;
  }
  return Boolean(process.env.LD_LIBRARY_PATH?.split(':').some((d) => d && existsSync(join(d, 'libvulkan.so.1'))));
}

// Dawn instances must outlive their devices: a collected instance tears down state that live
// devices still use (seen as random pthread assertion crashes). Keep every instance we create.
const instances: GPU[] = [];

async function tryAdapter(
  flags: string[],
  backend: string,
  source?: string,
  wantHardware = false,
): Promise<NodeAdapter | null> {
  const { create } = await dawn();
  const gpu = create(flags);
  instances.push(gpu);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await filterNativeStderr(() => gpu.requestAdapter({ powerPreference: 'high-performance' }));
  } catch {
    return null;
  }
  if (!adapter) return null;
  const description = describeAdapter(adapter, backend, source);
  if (wantHardware && description.software) return null;
  const device = await requestDevice(adapter);
  return { adapter, device, description };
}

/** System Vulkan ICD files of hardware drivers (everything but software rasterisers). */
function hardwareIcds(): string[] {
  const out: string[] = [];
  for (const dir of [
    '/usr/share/vulkan/icd.d',
    '/etc/vulkan/icd.d',
    '/usr/local/share/vulkan/icd.d',
    '/usr/local/nvidia/share/vulkan/icd.d',
  ]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort())
      if (f.endsWith('.json') && !/lvp|swiftshader/i.test(f)) out.push(join(dir, f));
  }
  return out;
}

/**
 * Find the best adapter on this machine (see header). On Linux one Dawn instance sees the hardware
 * ICDs and one software ICD together (VK_ICD_FILENAMES), and requestAdapter('high-performance')
 * prefers the hardware: creating several Dawn instances in one process can crash it at exit.
 */
export async function acquireNodeAdapter(): Promise<NodeAdapter> {
  const kernels = process.env.ROBOTSEG_KERNELS;
  if (kernels && kernels !== 'hardware' && kernels !== 'software')
    throw new AdapterChoiceError(`ROBOTSEG_KERNELS='${kernels}': use hardware or software`);
  const a = await findAdapter();
  if (kernels) {
    a.description.software = kernels === 'software';
    a.description.kernelsForced = kernels as 'hardware' | 'software';
  }
  return a;
}

async function findAdapter(): Promise<NodeAdapter> {
  const force = process.env.ROBOTSEG_ADAPTER;
  if (force && !['hardware', 'lavapipe', 'swiftshader'].includes(force))
    throw new AdapterChoiceError(`ROBOTSEG_ADAPTER='${force}': use hardware, lavapipe or swiftshader`);
  const userIcd = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
  if (userIcd && !force) {
    const a = await tryAdapter(['backend=vulkan'], 'vulkan', userIcd);
    if (a) return a;
    throw new Error(`VK_ICD_FILENAMES=${userIcd} gave no WebGPU adapter.\n${INSTALL_HINT}`);
  }
  if (process.platform !== 'linux') {
    const a = await tryAdapter([], 'default', 'system', force === 'hardware');
    if (a) return a;
    throw new Error(`no WebGPU adapter found on ${process.platform}`);
  }
  if (!hasVulkanLoader())
    throw new Error(`The Vulkan loader libvulkan.so.1 is missing (apt-get install libvulkan1).\n${INSTALL_HINT}`);
  const hw = force === 'lavapipe' || force === 'swiftshader' ? [] : hardwareIcds();
  const sw =
    force === 'hardware'
      ? []
      : softwareIcds(force === 'lavapipe' || force === 'swiftshader' ? force : undefined).filter(icdLibraryExists);
  // First try hardware + the best software ICD in one instance; then the other software ICDs.
  const attempts = sw.length ? sw.map((icd, i) => (i === 0 ? [...hw, icd] : [icd])) : [hw];
  for (const icds of attempts) {
    if (icds.length === 0) continue;
    process.env.VK_ICD_FILENAMES = icds.join(':');
    const a = await tryAdapter(['backend=vulkan'], 'vulkan', undefined, force === 'hardware');
    if (a) {
      a.description.source = a.description.software ? icds[icds.length - 1] : 'system Vulkan driver';
      return a;
    }
  }
  delete process.env.VK_ICD_FILENAMES;
  throw new Error(force === 'hardware' ? 'ROBOTSEG_ADAPTER=hardware: no hardware WebGPU adapter found' : INSTALL_HINT);
}

function icdLibraryExists(icd: string): boolean {
  try {
    const lib: string = JSON.parse(readFileSync(icd, 'utf8'))?.ICD?.library_path ?? '';
    return !lib.startsWith('/') || existsSync(lib);
  } catch {
    return false;
  }
}
