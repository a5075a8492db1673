// Drawing on the view canvas: an RGB frame, a mask (translucent fill, opaque edge) in an object's
// palette colour, the clicks and box of a prompt; redraw() draws the current source (state.ts) with its
// masks and prompts, and the box drag in progress (input.ts, registered by showDrag).
import { PALETTE, type Point, type RgbImage, rgbToImageData } from '../src/browser/index.js';
import { $, ctx, view } from './dom.js';
import type { Box } from './hooks.js';
import type { Drag } from './input.js';
import { source } from './state.js';

export interface Prompts {
  points: Point[];
  box: Box | null;
}

/** Size the canvas to show a w x h source as large as the stage allows (device pixels for sharpness). */
export function fitCanvas(w: number, h: number): void {
  const maxW = Math.max(320, $('stage').clientWidth - 4);
  const maxH = Math.max(240, window.innerHeight - 140);
  const scale = Math.min(maxW / w, maxH / h);
  const cw = Math.round(w * scale);
  const ch = Math.round(h * scale);
  const dpr = window.devicePixelRatio || 1;
  view.style.width = `${cw}px`;
  view.style.height = `${ch}px`;
  view.width = Math.round(cw * dpr);
  view.height = Math.round(ch * dpr);
}

const maskCanvas = document.createElement('canvas');
export function drawMask(mask: Uint8Array, w: number, h: number, color: [number, number, number]): void {
  maskCanvas.width = w;
  maskCanvas.height = h;
  const mctx = maskCanvas.getContext('2d')!;
  const id = mctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    if (!mask[i]) continue;
    const edge =
      (i % w > 0 && !mask[i - 1]) ||
      (i % w < w - 1 && !mask[i + 1]) ||
      (i >= w && !mask[i - w]) ||
      (i < w * (h - 1) && !mask[i + w]);
    id.data.set([color[0], color[1], color[2], edge ? 255 : 120], 4 * i);
  }
  mctx.putImageData(id, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(maskCanvas, 0, 0, view.width, view.height);
  ctx.imageSmoothingEnabled = true;
}

const imgCanvas = document.createElement('canvas');
export function drawRgb(img: RgbImage): void {
  imgCanvas.width = img.width;
  imgCanvas.height = img.height;
  imgCanvas.getContext('2d')!.putImageData(rgbToImageData(img), 0, 0);
  ctx.drawImage(imgCanvas, 0, 0, view.width, view.height);
}

export function drawPrompts(pr: Prompts | undefined, w: number): void {
  if (!pr) return;
  const k = view.width / w;
  for (const p of pr.points) {
    ctx.beginPath();
    ctx.arc(p.x * k, p.y * k, 6 * (window.devicePixelRatio || 1), 0, 2 * Math.PI);
    ctx.fillStyle = p.label ? '#22c55e' : '#ef4444';
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#fff';
    ctx.stroke();
  }
  if (pr.box) {
    const [x0, y0, x1, y1] = pr.box;
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#22c55e';
    ctx.strokeRect(x0 * k, y0 * k, (x1 - x0) * k, (y1 - y0) * k);
  }
}

export const color = (id: number) => PALETTE[(id - 1) % PALETTE.length];

let dragInProgress: () => Drag | null = () => null;
/** Where redraw finds the drag in progress (attachPointerInput's result). */
export function showDrag(current: () => Drag | null): void {
  dragInProgress = current;
}

/** Draw the current source: its frame on screen, every object's mask, the prompts, the drag. */
export function redraw(): void {
  ctx.fillStyle = '#111';
  ctx.fillRect(0, 0, view.width, view.height);
  const s = source;
  if (!s) return;
  if (s.kind === 'image') {
    drawRgb(s.img);
    if (s.result) drawMask(s.result.masks[s.result.best], s.img.width, s.img.height, color(1));
    else if (s.auto) drawMask(s.auto.mask, s.img.width, s.img.height, color(1));
    drawPrompts(s.prompts, s.img.width);
  } else if (s.kind === 'frames') {
    const img = s.imgs[s.shown];
    drawRgb(img);
    for (const [id, r] of s.masks.get(s.shown) ?? []) drawMask(r.mask, img.width, img.height, color(id));
    for (const pr of s.prompts.get(s.shown)?.values() ?? []) drawPrompts(pr, img.width);
  } else if (s.frame) {
    drawRgb(s.frame);
    for (const r of s.results) drawMask(r.mask, s.frame.width, s.frame.height, color(r.objId));
    for (const pr of s.prompts.values()) drawPrompts(pr, s.frame.width);
  }
  const drag = dragInProgress();
  if (drag) {
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = '#facc15';
    ctx.lineWidth = 2;
    const k = view.width / view.clientWidth;
    ctx.strokeRect(drag.x0 * k, drag.y0 * k, (drag.x1 - drag.x0) * k, (drag.y1 - drag.y0) * k);
    ctx.setLineDash([]);
  }
}
