// CPU reference: label 8-connected components with a flood fill, then replace small ones.
export function fillHolesRef(
  x: Float32Array,
  b: number,
  h: number,
  w: number,
  maxArea: number,
  value: number,
  foreground = false,
): Float32Array {
  const y = Float32Array.from(x);
  const inside = (v: number) => (foreground ? v > 0 : v <= 0);
  for (let bi = 0; bi < b; bi++) {
    const base = bi * h * w;
    const label = new Int32Array(h * w).fill(-1);
    let next = 0;
    for (let s = 0; s < h * w; s++) {
      if (label[s] >= 0 || !inside(x[base + s])) continue;
      const comp: number[] = [s];
      label[s] = next;
      for (let k = 0; k < comp.length; k++) {
        const p = comp[k];
        const py = Math.floor(p / w),
          px = p % w;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const ny = py + dy,
              nx = px + dx;
            if (ny < 0 || nx < 0 || ny >= h || nx >= w) continue;
            const np = ny * w + nx;
            if (label[np] < 0 && inside(x[base + np])) {
              label[np] = next;
              comp.push(np);
            }
          }
      }
      if (comp.length <= maxArea) for (const p of comp) y[base + p] = value;
      next++;
    }
  }
  return y;
}
