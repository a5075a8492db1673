// The page's DOM: element lookup, the status line (errors are reported to the test hooks too), the
// prompt mode and the timings table.
import { hooks } from './hooks.js';

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
export const view = $<HTMLCanvasElement>('view');
export const ctx = view.getContext('2d')!;
export const statusEl = $('status');
export const progressEl = $<HTMLProgressElement>('weights-progress');

export function setStatus(text: string, error = false): void {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', error);
}

export function fail(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  console.error(e);
  hooks.status = 'error';
  hooks.error = msg;
  hooks.errors.push(msg);
  setStatus(msg, true);
}

/** The prompt mode is 'automatic' (RobotSeg targets) rather than clicks / box. */
export const autoMode = () => (document.querySelector('input[name=mode]:checked') as HTMLInputElement).value === 'auto';

const timingRows = new Map<string, HTMLTableCellElement>();
export function timing(name: string, ms: number, unit = 'ms'): void {
  hooks.timings[name] = ms;
  let cell = timingRows.get(name);
  if (!cell) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${name}</td><td></td>`;
    $('timings').querySelector('tbody')!.append(tr);
    cell = tr.lastElementChild as HTMLTableCellElement;
    timingRows.set(name, cell);
  }
  cell.textContent = unit === 'ms' ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ${unit}`;
}
