// Draw masks and prompts over an image (CPU, for --overlay outputs and the demo's snapshots).
import type { RgbImage } from './rgb.js';

export const PALETTE: Array<[number, number, number]> = [
  [30, 144, 255],
  [255, 99, 71],
  [60, 179, 113],
  [255, 215, 0],
  [186, 85, 211],
  [0, 206, 209],
];

export interface OverlayPrompt {
  points?: Array<{ x: number; y: number; label: number }>;
  box?: [number, number, number, number];
}

/** Blend each mask (H*W 0/1) in its palette colour at alpha, outline it, and draw the prompts. */
export function drawOverlay(img: RgbImage, masks: Uint8Array[], prompt: OverlayPrompt = {}, alpha = 0.5): RgbImage {
  const { width: w, height: h } = img;
  const out = new Uint8Array(img.data);
  masks.forEach((m, k) => {
    const [r, g, b] = PALETTE[k % PALETTE.length];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (!m[i]) continue;
        const edge =
          (x > 0 && !m[i - 1]) || (x < w - 1 && !m[i + 1]) || (y > 0 && !m[i - w]) || (y < h - 1 && !m[i + w]);
        const a = edge ? 1 : alpha;
        out[3 * i] = Math.round(out[3 * i] * (1 - a) + r * a);
        out[3 * i + 1] = Math.round(out[3 * i + 1] * (1 - a) + g * a);
        out[3 * i + 2] = Math.round(out[3 * i + 2] * (1 - a) + b * a);
      }
    }
  });
  const put = (x: number, y: number, c: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    const i = 3 * (y * w + x);
    out[i] = c[0];
    out[i + 1] = c[1];
    out[i + 2] = c[2];
  };
  const rad = Math.max(3, Math.round(Math.min(w, h) / 100));
  for (const p of prompt.points ?? []) {
    const c: [number, number, number] = p.label === 0 ? [255, 0, 0] : [0, 255, 0];
    for (let dy = -rad - 1; dy <= rad + 1; dy++) {
      for (let dx = -rad - 1; dx <= rad + 1; dx++) {
        const d2 = dx * dx + dy * dy;
        if (d2 <= rad * rad) put(Math.round(p.x) + dx, Math.round(p.y) + dy, c);
        else if (d2 <= (rad + 1) * (rad + 1)) put(Math.round(p.x) + dx, Math.round(p.y) + dy, [255, 255, 255]);
      }
    }
  }
  if (prompt.box) {
    const [x0, y0, x1, y1] = prompt.box.map(Math.round);
    for (let t = 0; t < 2; t++) {
      for (let x = x0; x <= x1; x++) {
        put(x, y0 + t, [0, 255, 0]);
        put(x, y1 - t, [0, 255, 0]);
      }
      for (let y = y0; y <= y1; y++) {
        put(x0 + t, y, [0, 255, 0]);
        put(x1 - t, y, [0, 255, 0]);
      }
    }
  }
  return { width: w, height: h, data: out };
}
