// conv_transpose2d family: y = conv_transpose2d(x, w) + bias as torch.nn.functional.conv_transpose2d
// (NCHW; stride, padding, output padding, dilation and groups G per axis). Also the input gradient of conv2d.
//   x    [B, Cin, H, W]            f32 at x_off
//   w    [Cin, Cout/G, KH, KW]     f32 at w_off
//   bias [Cout]                    f32 at bias_off (only with HAS_BIAS)
//   y    [B, Cout, OH, OW]         f32 at y_off, OH = (H-1) sh - 2 ph + dh (KH-1) + oph + 1 (same for OW)
// y[b, co, oh, ow] = bias[co] + sum over ci in co's group and taps (kh, kw) with oh = ih*sh - ph + kh*dh,
// ow = iw*sw - pw + kw*dw (0 <= ih < H, 0 <= iw < W) of x[b, ci, ih, iw] * w[ci, co - g*Cout/G, kh, kw].
// Variants:
//   GENERAL  gather form. One invocation = CB output channels (4, or 1 with CO1) x 4 output columns of
//            one row that share their phase modulo sw: ow_i = r + sw*(q0 + i). Those 4 columns need
//            the same taps kw (those with (r + pw - kw*dw) divisible by sw) and read 4 consecutive input
//            columns, so only contributing taps are visited (1/(sh*sw) of the kernel) and each input value
//            is reused by CB channels. Invocation order: column block, phase r, row, channel block, batch.
//   K2S2     kernel 2x2 = stride, no padding / dilation / output padding (SAM's upscaling): each output
//            pixel reads exactly one input pixel, so per output row oh (kernel row oh % 2) it is a GEMM.
//            One invocation = KCO output channels x 4*KPV input columns of input row oh / 2 x both kernel
//            columns (4 x 8 x 2: 16 vec4 accumulators), writing 8*KPV consecutive outputs per channel.
//            KCO / KPV are template values chosen by the wrapper.
// W_F16: w is stored f16 (needs shader-f16); each weight is widened to f32 on load, sums stay f32.
// 1-D dispatch, folded to 2-D above 65535 workgroups (linear_id).
#include "common/index.wgsl"
#include "common/half.wgsl"

override WG: u32 = 64;

struct Params {
  B: u32, Cin: u32, H: u32, W: u32,
  Cout: u32, OH: u32, OW: u32, KH: u32, KW: u32,
  sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32,
  G: u32, cin_g: u32, cout_g: u32,
  n: u32,  // invocations
  qb: u32, // GENERAL: column blocks per phase, ceil(ceil(OW / sw) / 4)
  x_off: u32, w_off: u32, bias_off: u32, y_off: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<WT>; // f32, or f16 under W_F16 (common/half.wgsl)
fn wl(i: u32) -> f32 { return f32(w[i]); }
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#if HAS_BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
fn bias_at(co: u32) -> f32 { return bias[params.bias_off + co]; }
#else
fn bias_at(co: u32) -> f32 { return 0.0; }
#endif

#if CO1
const CB: u32 = 1u;
#else
const CB: u32 = 4u;
#endif

#if GENERAL
fn x_at(row: u32, iw: i32) -> f32 {
  let inside = iw >= 0 && iw < i32(params.W);
  return select(0.0, x[row + u32(clamp(iw, 0, i32(params.W) - 1))], inside);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.n) { return; }
  let cob = (params.cout_g + CB - 1u) / CB;
  var t = id;
  let qi = t % params.qb; t = t / params.qb;
  let r = t % params.sw; t = t / params.sw;
  let oh = t % params.OH; t = t / params.OH;
  let cbt = t % (cob * params.G);
  let b = t / (cob * params.G);
  let g = cbt / cob;
  let col0 = (cbt % cob) * CB; // channel inside the group
  let nco = min(CB, params.cout_g - col0);
  let q0 = qi * 4u;
  let taps = params.KH * params.KW;
  let wstep = params.cout_g * taps; // weight stride between input channels
  let wb = params.w_off + (g * params.cin_g * params.cout_g + col0) * taps;
  let w1 = wb + min(1u, nco - 1u) * taps;
  let w2 = wb + min(2u, nco - 1u) * taps;
  let w3 = wb + min(3u, nco - 1u) * taps;
  let plane = params.H * params.W;
  let xb = params.x_off + (b * params.Cin + g * params.cin_g) * plane;
  let s = i32(params.sw);
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var kh = 0u; kh < params.KH; kh++) {
    let th = i32(oh + params.ph) - i32(kh * params.dh);
    if (th < 0 || th % i32(params.sh) != 0) { continue; }
    let ih = u32(th / i32(params.sh));
    if (ih >= params.H) { continue; }
    for (var kw = 0u; kw < params.KW; kw++) {
      let tw = i32(r + params.pw) - i32(kw * params.dw);
      if (tw % s != 0) { continue; } // truncated remainder: 0 exactly when divisible, also for tw < 0
      let iw = tw / s + i32(q0);
      let tap = kh * params.KW + kw;
      var xr = xb + ih * params.W;
      var wo = tap;
      for (var c = 0u; c < params.cin_g; c++) {
        let xv = vec4<f32>(x_at(xr, iw), x_at(xr, iw + 1), x_at(xr, iw + 2), x_at(xr, iw + 3));
        a0 = fma(vec4<f32>(wl(wb + wo)), xv, a0);
#if !CO1
        a1 = fma(vec4<f32>(wl(w1 + wo)), xv, a1);
        a2 = fma(vec4<f32>(wl(w2 + wo)), xv, a2);
        a3 = fma(vec4<f32>(wl(w3 + wo)), xv, a3);
#endif
        xr += plane;
        wo += wstep;
      }
    }
  }
  let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
  for (var j = 0u; j < nco; j++) {
    let co = g * params.cout_g + col0 + j;
    let bv = bias_at(co);
    let yr = params.y_off + ((b * params.Cout + co) * params.OH + oh) * params.OW;
    for (var i = 0u; i < 4u; i++) {
      let ow = r + params.sw * (q0 + i);
      if (ow < params.OW) { y[yr + ow] = acc[j][i] + bv; }
    }
  }
}
#endif

#if K2S2
const KCO: u32 = {{KCO}}u; // output channels per invocation
const KPV: u32 = {{KPV}}u; // groups of 4 input columns per invocation

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.n) { return; }
  let cob = (params.cout_g + KCO - 1u) / KCO;
  let wbk = (params.W + 4u * KPV - 1u) / (4u * KPV);
  var t = id;
  let ib = t % wbk; t = t / wbk;
  let oh = t % params.OH; t = t / params.OH;
  let cbt = t % (cob * params.G);
  let b = t / (cob * params.G);
  let g = cbt / cob;
  let col0 = (cbt % cob) * KCO;
  let nco = min(KCO, params.cout_g - col0);
  let ih = oh / 2u;
  let kh = oh % 2u;
  let iw0 = ib * 4u * KPV;
  // input columns; those past the edge repeat the last one (not written)
  var cols: array<u32, 4u * KPV>;
  for (var i = 0u; i < 4u * KPV; i++) { cols[i] = min(iw0 + i, params.W - 1u); }
  let wstep = params.cout_g * 4u;
  // w[ci, col, kh, kw] for kw = 0, 1 sits at wr[j] + 2 kh + kw
  var wr: array<u32, KCO>;
  for (var j = 0u; j < KCO; j++) { wr[j] = params.w_off + (g * params.cin_g * params.cout_g + col0 + min(j, nco - 1u)) * 4u + 2u * kh; }
  let plane = params.H * params.W;
  var xr = params.x_off + (b * params.Cin + g * params.cin_g) * plane + ih * params.W;
  // acc[(j * 2 + kw) * KPV + v]: channel j, tap column kw, input columns 4v..4v+3
  var acc: array<vec4<f32>, 2u * KCO * KPV>;
  var wo = 0u;
  for (var c = 0u; c < params.cin_g; c++) {
    var xv: array<vec4<f32>, KPV>;
    for (var v = 0u; v < KPV; v++) {
      xv[v] = vec4<f32>(x[xr + cols[4u * v]], x[xr + cols[4u * v + 1u]], x[xr + cols[4u * v + 2u]], x[xr + cols[4u * v + 3u]]);
    }
    for (var j = 0u; j < KCO; j++) {
      let w0 = vec4<f32>(wl(wr[j] + wo));
      let w1 = vec4<f32>(wl(wr[j] + wo + 1u));
      for (var v = 0u; v < KPV; v++) {
        acc[2u * j * KPV + v] = fma(w0, xv[v], acc[2u * j * KPV + v]);
        acc[(2u * j + 1u) * KPV + v] = fma(w1, xv[v], acc[(2u * j + 1u) * KPV + v]);
      }
    }
    xr += plane;
    wo += wstep;
  }
  let nw = min(4u * KPV, params.W - iw0);
  for (var j = 0u; j < nco; j++) {
    let co = g * params.cout_g + col0 + j;
    let bv = bias_at(co);
    let yr = params.y_off + ((b * params.Cout + co) * params.OH + oh) * params.OW + 2u * iw0;
    for (var i = 0u; i < nw; i++) {
      y[yr + 2u * i] = acc[2u * j * KPV + i / 4u][i % 4u] + bv;
      y[yr + 2u * i + 1u] = acc[(2u * j + 1u) * KPV + i / 4u][i % 4u] + bv;
    }
  }
}
#endif
