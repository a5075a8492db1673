// Masks as COCO annotations: area, bbox [x, y, width, height] and uncompressed RLE. COCO's RLE runs over
// the mask in column-major (Fortran) order and always starts with a background run (0 when the first
// pixel is foreground), so pycocotools' `frPyObjects(rle, h, w)` / `decode` read it as is.

/** COCO's uncompressed RLE: size [height, width], alternating background / foreground run lengths. */
export interface CocoRle {
  size: [number, number];
  counts: number[];
}

/** Column-major run lengths of a row-major 0/1 mask [H*W], starting with background. */
export function maskToRle(mask: ArrayLike<number>, width: number, height: number): CocoRle {
  if (mask.length !== width * height) throw new Error(`maskToRle: ${mask.length} values for ${width}x${height}`);
  const counts: number[] = [];
  let cur = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let i = x; i < mask.length; i += width) {
      const v = mask[i] ? 1 : 0;
      if (v !== cur) {
        counts.push(run);
        run = 0;
        cur = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [height, width], counts };
}

/** Row-major 0/1 mask [H*W] from COCO's uncompressed RLE (the inverse of maskToRle). */
export function rleToMask(rle: CocoRle): Uint8Array {
  const [h, w] = rle.size;
  const out = new Uint8Array(h * w);
  let k = 0;
  rle.counts.forEach((n, j) => {
    if (j % 2 === 1) for (let e = k + n; k < e; k++) out[(k % h) * w + Math.floor(k / h)] = 1;
    else k += n;
  });
  if (k !== h * w) throw new Error(`rleToMask: runs cover ${k} pixels, the mask has ${h * w}`);
  return out;
}

/** Foreground pixel count and COCO bbox [x, y, width, height] (null for an empty mask). */
export function maskStats(
  mask: ArrayLike<number>,
  width: number,
  height: number,
): { area: number; bbox: [number, number, number, number] | null } {
  let area = 0;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!mask[row + x]) continue;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return { area, bbox: area === 0 ? null : [x0, y0, x1 - x0 + 1, y1 - y0 + 1] };
}
