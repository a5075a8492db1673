// Weights stored f16 (--precision f16, define W_F16; needs shader-f16) or f32. A shader declares its
// weight binding as array<WT> (or array<vec4<WT>>) and widens every load with f32(...) /
// vec4<f32>(...) (the identity when WT is f32): products, sums and epilogues stay f32.
#if W_F16
enable f16;
alias WT = f16;
#else
alias WT = f32;
#endif
