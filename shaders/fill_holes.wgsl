// Small connected components of a thresholded map, replaced by a value — sam2's
// fill_holes_in_mask_scores (8-connected components of `logits <= 0` with area <= max_area are set
// to 0.1) and, with FOREGROUND, the sprinkle removal (components of `logits > 0`, set to -10).
//   x [B, H, W] logits (any leading dims folded into B); y same shape.
// Only the question "is my component's area <= max_area?" matters, so each invocation runs a
// bounded breadth-first search from its own pixel and gives up once it has seen max_area + 1
// pixels: exact, one pass, no iteration to convergence and no host synchronisation.
// MAXA1 (define) = max_area + 1 sizes the per-invocation visited list.
#include "common/index.wgsl"

override WG: u32 = 64;

struct Params { b: u32, h: u32, w: u32, max_area: u32, value: f32, x_off: u32, y_off: u32 };
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn inside(v: f32) -> bool {
#if FOREGROUND
  return v > 0.0;
#else
  return v <= 0.0;
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  let hw = params.h * params.w;
  if (i >= params.b * hw) { return; }
  let v = x[params.x_off + i];
  if (!inside(v)) { y[params.y_off + i] = v; return; }
  let base = (i / hw) * hw;
  var q: array<u32, {{MAXA1}}>;
  q[0] = i - base;
  var count = 1u;
  var head = 0u;
  var big = false;
  loop {
    if (head >= count || big) { break; }
    let p = q[head];
    head++;
    let py = i32(p / params.w);
    let px = i32(p % params.w);
    for (var dy = -1; dy <= 1; dy++) {
      for (var dx = -1; dx <= 1; dx++) {
        if ((dx == 0 && dy == 0) || big) { continue; }
        let ny = py + dy;
        let nx = px + dx;
        if (ny < 0 || nx < 0 || ny >= i32(params.h) || nx >= i32(params.w)) { continue; }
        let np = u32(ny) * params.w + u32(nx);
        if (!inside(x[params.x_off + base + np])) { continue; }
        var seen = false;
        for (var k = 0u; k < count; k++) { if (q[k] == np) { seen = true; break; } }
        if (seen) { continue; }
        if (count > params.max_area) { big = true; continue; }
        q[count] = np;
        count++;
      }
    }
  }
  y[params.y_off + i] = select(params.value, v, big || count > params.max_area);
}
