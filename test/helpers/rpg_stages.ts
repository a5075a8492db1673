// Every stage of one RPG call read back (rpgObjectTokens / RobotSeg RPG with `keep: true`):
// integer stages as number arrays, float stages as Float32Array.
import type { Runtime } from '../../src/graph/runtime.js';
import type { Tensor } from '../../src/graph/tensor.js';
import type { RpgIntermediates } from '../../src/kernels/rpg.js';

export interface RpgStagesHost {
  macroCentres: number[];
  macroCount: number[];
  macroAssign: number[];
  macroProtos: Float32Array;
  regionSupport: Float32Array;
  microCentres: number[];
  microCount: number[];
  microAssign: number[];
  microProtos: Float32Array;
  microCounts: number[];
}

export async function readRpgStages(rt: Runtime, st: RpgIntermediates): Promise<RpgStagesHost> {
  const ints = async (t: Tensor) => Array.from((await rt.read(t, 'raw')) as Int32Array);
  const [macroCentres, macroCount, macroAssign, macroProtos, regionSupport] = await Promise.all([
    ints(st.macroCentres),
    ints(st.macroCount),
    ints(st.macroAssign),
    rt.read(st.macroProtos),
    rt.read(st.regionSupport),
  ]);
  const [microCentres, microCount, microAssign, microProtos, microCounts] = await Promise.all([
    ints(st.microCentres),
    ints(st.microCount),
    ints(st.microAssign),
    rt.read(st.microProtos),
    ints(st.microCounts),
  ]);
  return {
    macroCentres,
    macroCount,
    macroAssign,
    macroProtos,
    regionSupport,
    microCentres,
    microCount,
    microAssign,
    microProtos,
    microCounts,
  };
}
