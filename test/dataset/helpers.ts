// Shared by the `robotseg dataset` tests: fixture paths, a copy of a dataset to break, the reduced
// RobotSeg checkpoint (init-robotseg from the golden SAM 2.1 weights and the reduced RobotSeg config).
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';

export const TINY = join(ROOT, 'test', 'fixtures', 'lerobot_tiny');
export const SAMPLE = join(ROOT, 'test', 'fixtures', 'lerobot_sample');
export const GOLD = join(ROOT, 'test', 'fixtures', 'golden');
export const RSCFG = join(ROOT, 'test', 'fixtures', 'robotseg', 'config.json');
export const MASK_KEYS = ['observation.images.front.robot_mask', 'observation.images.wrist.robot_mask'];

/** A writable copy of a fixture dataset. */
export function copyDataset(src: string, dst: string): string {
  cpSync(src, dst, { recursive: true });
  return dst;
}

/** The reduced RobotSeg checkpoint at `path` (seeded RobotSeg tensors over the golden SAM 2.1 weights). */
export async function makeRobotSegWeights(path: string): Promise<string> {
  if (existsSync(path)) return path;
  const r = await runCli([
    'init-robotseg',
    '--from',
    join(GOLD, 'weights.safetensors'),
    '--out',
    path,
    '--config',
    RSCFG,
    '--seed',
    '7',
  ]);
  if (r.code !== 0) throw new Error(`init-robotseg failed: ${r.err}`);
  return path;
}

/** Every file under `root` with its bytes (for byte-identical comparisons of two outputs). */
export function treeBytes(root: string, rel = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    if (statSync(join(root, r)).isDirectory()) for (const [k, v] of treeBytes(root, r)) out.set(k, v);
    else out.set(r, readFileSync(join(root, r)));
  }
  return out;
}

/** Names of the files that differ between two trees (missing on either side included). */
export function treeDiff(a: string, b: string): string[] {
  const ta = treeBytes(a);
  const tb = treeBytes(b);
  const names = new Set([...ta.keys(), ...tb.keys()]);
  return [...names].filter((n) => !ta.get(n) || !tb.get(n) || !ta.get(n)!.equals(tb.get(n)!)).sort();
}
