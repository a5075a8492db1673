// Drawing on the view canvas: an RGB frame, a mask (translucent fill, opaque edge) in an object's
// palette colour, the clicks and box of a prompt.
import { PALETTE, type Point, type RgbImage, rgbToImageData } from '../src/browser/index.js';
import { $, ctx, view } from './dom.js';
import type { Box } from './hooks.js';

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
