// Pointer input on the view canvas: a click is a point (left = foreground; right or shift = background),
// a drag of more than 5 px is a box; positions go from canvas pixels to source pixels, clamped to the
// source. The page passes in what it needs (no shared module state).
import type { Point } from '../src/browser/index.js';
import { view } from './dom.js';
import type { Box } from './hooks.js';

/** A drag in progress, in CSS pixels of the canvas. */
export interface Drag {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  moved: boolean;
  button: number;
  shift: boolean;
}

export interface PointerInputOptions {
  /** The source's size in pixels; null: no source (input ignored). */
  size: () => [number, number] | null;
  /** Redraw the view (the drag rectangle follows the pointer). */
  redraw: () => void;
  /** A finished click or box, in source pixels. */
  prompt: (p: { point?: Point; box?: Box }) => void;
}

/** Listen on the view canvas; returns the drag in progress, for drawing. */
export function attachPointerInput(o: PointerInputOptions): () => Drag | null {
  let drag: Drag | null = null;
  view.addEventListener('contextmenu', (e) => e.preventDefault());
  view.addEventListener('pointerdown', (e) => {
    if (!o.size()) return;
    const r = view.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    drag = { x0: x, y0: y, x1: x, y1: y, moved: false, button: e.button, shift: e.shiftKey };
    view.setPointerCapture(e.pointerId);
  });
  view.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const r = view.getBoundingClientRect();
    drag.x1 = e.clientX - r.left;
    drag.y1 = e.clientY - r.top;
    if (Math.hypot(drag.x1 - drag.x0, drag.y1 - drag.y0) > 5) drag.moved = true;
    if (drag.moved) o.redraw();
  });
  view.addEventListener('pointerup', (e) => {
    const d = drag;
    drag = null;
    const size = o.size();
    if (!d || !size) return;
    const r = view.getBoundingClientRect();
    d.x1 = e.clientX - r.left;
    d.y1 = e.clientY - r.top;
    const [w, h] = size;
    const toImg = (x: number, y: number): [number, number] => [
      Math.min(w, Math.max(0, (x * w) / r.width)),
      Math.min(h, Math.max(0, (y * h) / r.height)),
    ];
    if (d.moved) {
      const [ax, ay] = toImg(Math.min(d.x0, d.x1), Math.min(d.y0, d.y1));
      const [bx, by] = toImg(Math.max(d.x0, d.x1), Math.max(d.y0, d.y1));
      o.redraw();
      if (bx > ax && by > ay) o.prompt({ box: [ax, ay, bx, by] });
    } else {
      const [x, y] = toImg(d.x1, d.y1);
      o.prompt({ point: { x, y, label: d.button === 2 || d.shift ? 0 : 1 } });
    }
  });
  return () => drag;
}
