// Half-precision storage (--precision f16; needs shader-f16). Arithmetic is f32 in every case: a
// shader widens each load with f32(...) / vec4<f32>(...) (the identity for f32) and narrows a store
// with CT(...).
//   W_F16: weights stored f16. The weight binding is array<WT> (or array<vec4<WT>>).
//   A_F16: activation inputs stored f16 (the memory tokens of the memory bank). array<AT>.
//   C_F16: the output stored f16. array<CT>; a store of a finite f32 beyond the f16 range saturates at
//          +-65504 (half_sat), so a large activation never becomes Inf.
#if W_F16
enable f16;
alias WT = f16;
#else
alias WT = f32;
#endif
#if A_F16
enable f16;
alias AT = f16;
#else
alias AT = f32;
#endif
#if C_F16
enable f16;
alias CT = f16;
fn half_sat(v: f32) -> f32 { return clamp(v, -65504.0, 65504.0); }
fn half_sat4(v: vec4<f32>) -> vec4<f32> { return clamp(v, vec4<f32>(-65504.0), vec4<f32>(65504.0)); }
#else
alias CT = f32;
fn half_sat(v: f32) -> f32 { return v; }
fn half_sat4(v: vec4<f32>) -> vec4<f32> { return v; }
#endif
