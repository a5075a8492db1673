// Text table and JSON for `robotseg eval`. davis protocol: the DAVIS toolkit's columns at 3
// decimals (0-1); sav protocol: the SA-V evaluator's table at 1 decimal (0-100). JSON is 0-1 always.
import type { EvalResult, ObjectResult, SequenceResult, Summary } from './evaluate.js';
import { pyFixed } from './stats.js';

const f3 = (x: number | undefined) => pyFixed(x ?? NaN, 3);

export function formatTable(r: EvalResult): string {
  const frames = r.keepFirstLast ? 'every frame scored (--keep-first-last)' : 'first and last frames not scored';
  const lines: string[] = [];
  if (r.protocol === 'davis') {
    lines.push(
      `J&F, DAVIS 2017 protocol (semi-supervised): ${frames}; bound_th ${r.boundTh}; ${r.objects.length} object(s) in ${r.sequences.length} sequence(s); ${r.backend}`,
    );
    const head = ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay'];
    const vals = [r.JF_mean, r.J_mean, r.J_recall, r.J_decay, r.F_mean, r.F_recall, r.F_decay].map(f3);
    lines.push(head.map((h) => h.padStart(9)).join(''));
    lines.push(vals.map((v) => v.padStart(9)).join(''));
    lines.push('');
    const rows = r.objects.map((o) => [
      `${o.sequence}_${o.object}`,
      o.label === o.object ? '' : o.label,
      String(o.frames.length),
      f3((o.J_mean + o.F_mean) / 2),
      f3(o.J_mean),
      f3(o.F_mean),
    ]);
    lines.push(...table(['Sequence', 'Object', 'Frames', 'J&F-Mean', 'J-Mean', 'F-Mean'], rows));
  } else {
    const s = r.sav!;
    lines.push(
      `J&F, SA-V evaluator protocol (SAM 2 / RobotSeg): ${frames}; bound_th ${r.boundTh}; ${r.objects.length} object(s) in ${r.sequences.length} sequence(s); ${r.backend}`,
    );
    // sav_benchmark.py: f'{name:<{ml}},{obj:03}, {jf:>4.1f}, {j:>4.1f}, {f:>4.1f}' with ',' -> ' '
    const ml = Math.max(...s.objects.map((o) => o.sequence.length), 'Global score'.length);
    const row = (a: string, b: string, c: string, d: string, e: string) =>
      `${a.padEnd(ml)} ${b.padStart(3)}  ${c.padStart(4)}  ${d.padStart(4)}  ${e.padStart(4)}`;
    lines.push(row('sequence', 'obj', 'J&F', 'J', 'F'));
    lines.push(row('Global score', '', pyFixed(s.JF, 1), pyFixed(s.J, 1), pyFixed(s.F, 1)));
    for (const o of s.objects)
      lines.push(
        row(
          o.sequence,
          /^\d+$/.test(o.object) ? o.object.padStart(3, '0') : o.object,
          pyFixed(o.JF, 1),
          pyFixed(o.J, 1),
          pyFixed(o.F, 1),
        ),
      );
    lines.push('');
    lines.push(`Global score: J&F: ${pyFixed(s.JF, 1)} J: ${pyFixed(s.J, 1)} F: ${pyFixed(s.F, 1)}`);
  }
  return lines.join('\n') + '\n';
}

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i])))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)];
}

function summaryJson(s: Summary): Record<string, number> {
  const out: Record<string, number> = { J_mean: s.J_mean, F_mean: s.F_mean, JF_mean: s.JF_mean };
  for (const k of ['J_recall', 'J_decay', 'F_recall', 'F_decay'] as const) if (s[k] !== undefined) out[k] = s[k]!;
  return out;
}

function objectJson(o: ObjectResult): Record<string, unknown> {
  const out: Record<string, unknown> = {
    label: o.label,
    frames: o.frames,
    J: o.J,
    F: o.F,
    J_mean: o.J_mean,
    F_mean: o.F_mean,
  };
  for (const k of ['J_recall', 'J_decay', 'F_recall', 'F_decay'] as const) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function sequenceJson(s: SequenceResult): Record<string, unknown> {
  return { ...summaryJson(s), objects: Object.fromEntries(s.objects.map((o) => [o.object, objectJson(o)])) };
}

/**
 * JSON (0-1 scale): J_mean, F_mean, JF_mean, objects {id: {J: [...], F: [...], frames: [...]}}; for
 * a dataset root the object keys are '<sequence>/<id>' and `sequences: {name: {...}}` is added.
 */
export function resultJson(r: EvalResult, dataset: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    protocol: r.protocol,
    keep_first_last: r.keepFirstLast,
    bound_th: r.boundTh,
    backend: r.backend,
    ...summaryJson(r),
    objects: Object.fromEntries(
      r.objects.map((o) => [dataset ? `${o.sequence}/${o.object}` : o.object, objectJson(o)]),
    ),
  };
  if (dataset) out.sequences = Object.fromEntries(r.sequences.map((s) => [s.name, sequenceJson(s)]));
  if (r.sav) out.sav_table = { scale: '0-100', J: r.sav.J, F: r.sav.F, JF: r.sav.JF };
  return out;
}
