// Vectorised variants (define VEC4): a unit VT is vec4<f32> holding VW = 4 consecutive elements, else
// f32 (VW = 1); element offsets and counts divided by VW index units. Lane folds of one unit: hmax
// (largest lane), first (lane x), and two sums whose order differs in the last bit, so each kernel
// keeps the one it was validated with: hsum_pairs = (x + y) + (z + w), hsum_seq = ((x + y) + z) + w.
#if VEC4
alias VT = vec4<f32>;
const VW: u32 = 4u;
fn hmax(v: VT) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
fn first(v: VT) -> f32 { return v.x; }
fn hsum_pairs(v: VT) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn hsum_seq(v: VT) -> f32 { return v.x + v.y + v.z + v.w; }
#else
alias VT = f32;
const VW: u32 = 1u;
fn hmax(v: VT) -> f32 { return v; }
fn first(v: VT) -> f32 { return v; }
fn hsum_pairs(v: VT) -> f32 { return v; }
fn hsum_seq(v: VT) -> f32 { return v; }
#endif
