// conv2d family: y = conv2d(x, w) + bias as torch.nn.functional.conv2d (NCHW, zero padding,
// stride / padding / dilation per axis, groups G), plus the weight and bias gradients for autograd
// (the input gradient is a transposed convolution: shaders/conv_transpose2d.wgsl).
//   x    [B, Cin, H, W]            f32 at element offset x_off
//   w    [Cout, Cin/G, KH, KW]     f32 at w_off
//   bias [Cout]                    f32 at bias_off (only with HAS_BIAS)
//   y    [B, Cout, OH, OW]         f32 at y_off, OH = floor((H + 2 ph - dh (KH-1) - 1) / sh) + 1 (same for OW)
// Indices: ih = oh*sh - ph + kh*dh, iw = ow*sw - pw + kw*dw; taps outside the image read 0.
// Variants (one define each):
//   DIRECT     any geometry. One invocation = DCO output channels of one group (8, or 4 for small groups)
//              x 4*DPV consecutive output columns of one row: DCO*DPV vec4 accumulators (vec4 over columns).
//              Per (ci, kh, kw) tap it loads the columns' inputs once and one weight per channel: inputs
//              are reused by DCO channels, weights by 4*DPV pixels. Invocations whose columns all lie
//              inside the image skip the per-load bounds checks. Invocation order: column block fastest,
//              then output row, channel block, batch (a SIMD batch shares its weights).
//   ROWS       any geometry (software adapters, from 16 channels per group up). One workgroup = RC
//              output channels x 4*WG consecutive output pixels, one invocation 4 pixels of them: the
//              weight loads depend on the workgroup alone (uniform: loaded once, broadcast to the SIMD
//              lanes on CPU drivers); the inputs of the 4 pixels are loaded per tap, zero outside.
//   DEPTHWISE  Cin/G == Cout/G == 1. One invocation = PX consecutive output columns of one (b, c, row).
//              With DW_FIXED (stride 1, dilation 1, kernel width DW_K compiled in, PX = DW_PX = 8) the
//              loops unroll: per kernel row the PX + DW_K - 1 inputs are loaded once into registers and
//              reused by every tap (14 loads for 56 taps at k7). Otherwise PX = 4 with one load per tap.
//   POINTWISE  1x1, stride 1, no padding, G == 1: per batch a GEMM y[b] = w [Cout, Cin] @ x[b] [Cin, H*W].
//              One invocation = PCO channels x 4*PPV consecutive pixels (8 x 8); with VEC4 (H*W and
//              x_off multiples of 4) x and y are read / written as vec4.
//   TILED      any geometry, for real GPUs: implicit GEMM per (batch, group) with M = Cout/G, N = OH*OW,
//              K = Cin/G*KH*KW. A 128-invocation workgroup owns a 32 (channels) x 64 (pixels) tile; K steps
//              of 16 are staged in workgroup memory (weights and im2col'd inputs); 4x4 outputs per invocation.
//   DWEIGHT    dw [Cout, Cin/G, KH, KW] = sum_{b, oh, ow} dy[b, co, oh, ow] * x[b, g*Cin/G + c, ih, iw]:
//              one invocation = CB (4, or 1 with CO1) output channels at one (c, kh, kw), looping only over
//              the output pixels whose tap lands inside the image. Bindings dy, x, dw.
//   W_F16      (with DIRECT / DEPTHWISE / POINTWISE / TILED) w is stored f16 (needs shader-f16); each
//              weight is widened to f32 on load, so products and sums stay f32.
//   DBIAS      db [Cout] = sum_{b, p} dy[b, co, p]: one invocation per channel. Bindings dy, db.
// Block sizes (DCO, DPV, RC, PCO, PPV, DW_K, DW_PX) are compile-time template values chosen by the wrapper.
// 1-D dispatches are folded to 2-D above 65535 workgroups (linear_id); TILED folds its workgroup ids.
#include "common/index.wgsl"
#include "common/half.wgsl"

override WG: u32 = 64;

#if DBIAS
struct Params { B: u32, Cout: u32, P: u32, dy_off: u32, db_off: u32 };
#else
struct Params {
  B: u32, Cin: u32, H: u32, W: u32,
  Cout: u32, OH: u32, OW: u32, KH: u32, KW: u32,
  sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32,
  G: u32, cin_g: u32, cout_g: u32,
  // number of invocations (DIRECT / DEPTHWISE / POINTWISE / DWEIGHT) or workgroups (TILED)
  n: u32,
#if DWEIGHT
  dy_off: u32, x_off: u32, dw_off: u32,
#else
  x_off: u32, w_off: u32, bias_off: u32, y_off: u32,
#endif
};
#endif

@group(0) @binding(0) var<uniform> params: Params;

#if DBIAS
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;
#elif DWEIGHT
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
#elif VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#endif
#if !DBIAS
#if !DWEIGHT
@group(0) @binding(2) var<storage, read> w: array<WT>; // f32, or f16 under W_F16 (common/half.wgsl)
fn wl(i: u32) -> f32 { return f32(w[i]); }
#endif
#endif
#if HAS_BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
fn bias_at(co: u32) -> f32 { return bias[params.bias_off + co]; }
#else
fn bias_at(co: u32) -> f32 { return 0.0; }
#endif

#if !DBIAS
#if !VEC4
// x at column iw of the row starting at element `row`; 0 outside [0, W) (index clamped so the load stays in bounds).
fn x_at(row: u32, iw: i32) -> f32 {
  let inside = iw >= 0 && iw < i32(params.W);
  return select(0.0, x[row + u32(clamp(iw, 0, i32(params.W) - 1))], inside);
}
#endif
#endif

#if DIRECT
const DCO: u32 = {{DCO}}u; // channels per invocation
const DPV: u32 = {{DPV}}u; // groups of 4 columns per invocation

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.n) { return; }
  let owb = (params.OW + 4u * DPV - 1u) / (4u * DPV);
  let cob = (params.cout_g + DCO - 1u) / DCO;
  var t = id;
  let ob = t % owb; t = t / owb;
  let oh = t % params.OH; t = t / params.OH;
  let cbt = t % (cob * params.G);
  let b = t / (cob * params.G);
  let g = cbt / cob;
  let co0 = g * params.cout_g + (cbt % cob) * DCO;
  let nco = min(DCO, (g + 1u) * params.cout_g - co0);
  let ow0 = ob * 4u * DPV;

  let taps = params.KH * params.KW;
  let wrow = params.cin_g * taps;
  // weight rows of the channels; missing channels (nco < DCO) repeat the last one and are not written
  var wr: array<u32, DCO>;
  for (var j = 0u; j < DCO; j++) { wr[j] = params.w_off + (co0 + min(j, nco - 1u)) * wrow; }
  let plane = params.H * params.W;
  let xb = params.x_off + (b * params.Cin + g * params.cin_g) * plane;
  let iwb = i32(ow0 * params.sw) - i32(params.pw);
  let s = i32(params.sw);
  // every column this invocation reads is inside the image: loads need no bounds checks
  let interior = iwb >= 0 && iwb + i32((4u * DPV - 1u) * params.sw + (params.KW - 1u) * params.dw) < i32(params.W);
  var acc: array<vec4<f32>, DCO * DPV>;
  for (var c = 0u; c < params.cin_g; c++) {
    let xc = xb + c * plane;
    let wc = c * taps;
    for (var kh = 0u; kh < params.KH; kh++) {
      let ih = i32(oh * params.sh + kh * params.dh) - i32(params.ph);
      if (ih < 0 || ih >= i32(params.H)) { continue; }
      let xr = xc + u32(ih) * params.W;
      let wk = wc + kh * params.KW;
      for (var kw = 0u; kw < params.KW; kw++) {
        let iw = iwb + i32(kw * params.dw);
        var xv: array<vec4<f32>, DPV>;
        if (interior) {
          let i0 = xr + u32(iw);
          for (var v = 0u; v < DPV; v++) {
            let iv = i0 + 4u * v * params.sw;
            xv[v] = vec4<f32>(x[iv], x[iv + params.sw], x[iv + 2u * params.sw], x[iv + 3u * params.sw]);
          }
        } else {
          for (var v = 0u; v < DPV; v++) {
            let i0 = iw + i32(4u * v) * s;
            xv[v] = vec4<f32>(x_at(xr, i0), x_at(xr, i0 + s), x_at(xr, i0 + 2 * s), x_at(xr, i0 + 3 * s));
          }
        }
        let wi = wk + kw;
        for (var j = 0u; j < DCO; j++) {
          let wv = vec4<f32>(wl(wr[j] + wi));
          for (var v = 0u; v < DPV; v++) { acc[j * DPV + v] = fma(wv, xv[v], acc[j * DPV + v]); }
        }
      }
    }
  }
  let nw = min(4u * DPV, params.OW - ow0);
  for (var j = 0u; j < nco; j++) {
    let co = co0 + j;
    let bv = bias_at(co);
    let yr = params.y_off + ((b * params.Cout + co) * params.OH + oh) * params.OW + ow0;
    for (var i = 0u; i < nw; i++) { y[yr + i] = acc[j * DPV + i / 4u][i % 4u] + bv; }
  }
}
#endif

#if ROWS
// ROWS (software adapters): one workgroup = RC output channels of one group x 4 * WG consecutive
// output pixels (oh * OW + ow) of one image; one invocation = those RC channels at 4 pixels. The
// weight addresses depend on the workgroup alone (a CPU driver loads each weight once and broadcasts
// it to its SIMD lanes); per tap: RC uniform weight loads, 4 per-lane input loads, 4 * RC fma.
// Taps outside the image read 0 (index clamped, value selected away). params.n = workgroups.
const RC: u32 = {{RC}}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let wi = wid.x + wid.y * nwg.x;
  if (wi >= params.n) { return; }
  let P = params.OH * params.OW;
  let npb = (P + 4u * WG - 1u) / (4u * WG);
  let cob = (params.cout_g + RC - 1u) / RC;
  var t = wi;
  let pbi = t % npb; t = t / npb;
  let cbt = t % (cob * params.G);
  let b = t / (cob * params.G);
  let g = cbt / cob;
  let co0 = g * params.cout_g + (cbt % cob) * RC;
  let nco = min(RC, (g + 1u) * params.cout_g - co0);
  let p0 = pbi * 4u * WG + 4u * li;
  let pix = min(vec4<u32>(p0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(P - 1u));
  let ihb = vec4<i32>((pix / params.OW) * params.sh) - vec4<i32>(i32(params.ph));
  let iwb = vec4<i32>((pix % params.OW) * params.sw) - vec4<i32>(i32(params.pw));
  let taps = params.KH * params.KW;
  let wrow = params.cin_g * taps;
  // weight rows of the channels; missing channels (nco < RC) repeat the last one and are not written
  var wr: array<u32, RC>;
  var acc: array<vec4<f32>, RC>;
  for (var j = 0u; j < RC; j++) {
    wr[j] = params.w_off + (co0 + min(j, nco - 1u)) * wrow;
    acc[j] = vec4<f32>(0.0);
  }
  let plane = params.H * params.W;
  let xb = params.x_off + (b * params.Cin + g * params.cin_g) * plane;
  let Hi = i32(params.H);
  let Wi = i32(params.W);
  for (var c = 0u; c < params.cin_g; c++) {
    let xc = xb + c * plane;
    let wc = c * taps;
    for (var kh = 0u; kh < params.KH; kh++) {
      let ih = ihb + vec4<i32>(i32(kh * params.dh));
      let okh = (ih >= vec4<i32>(0)) & (ih < vec4<i32>(Hi));
      let xr = vec4<u32>(clamp(ih, vec4<i32>(0), vec4<i32>(Hi - 1))) * params.W + vec4<u32>(xc);
      let wk = wc + kh * params.KW;
      for (var kw = 0u; kw < params.KW; kw++) {
        let iw = iwb + vec4<i32>(i32(kw * params.dw));
        let ok = okh & (iw >= vec4<i32>(0)) & (iw < vec4<i32>(Wi));
        let xi = xr + vec4<u32>(clamp(iw, vec4<i32>(0), vec4<i32>(Wi - 1)));
        let xv = select(vec4<f32>(0.0), vec4<f32>(x[xi.x], x[xi.y], x[xi.z], x[xi.w]), ok);
        let wt = wk + kw;
        for (var j = 0u; j < RC; j++) { acc[j] = fma(vec4<f32>(wl(wr[j] + wt)), xv, acc[j]); }
      }
    }
  }
  for (var j = 0u; j < nco; j++) {
    let co = co0 + j;
    let bv = bias_at(co);
    let yr = params.y_off + (b * params.Cout + co) * P;
    for (var i = 0u; i < 4u; i++) {
      if (p0 + i < P) { y[yr + p0 + i] = acc[j][i] + bv; }
    }
  }
}
#endif

#if DEPTHWISE
#if DW_FIXED
const PX: u32 = {{DW_PX}}u;
const KWC: u32 = {{DW_K}}u;
#else
const PX: u32 = 4u;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.n) { return; }
  let owb = (params.OW + PX - 1u) / PX;
  var t = id;
  let ob = t % owb; t = t / owb;
  let oh = t % params.OH; t = t / params.OH;
  let c = t % params.Cout;
  let b = t / params.Cout;
  let ow0 = ob * PX;
  let plane = params.H * params.W;
  let xc = params.x_off + (b * params.Cin + c) * plane; // Cin == Cout here
  let wc = params.w_off + c * params.KH * params.KW;
  let iwb = i32(ow0 * params.sw) - i32(params.pw);
  var acc: array<f32, PX>;
  for (var kh = 0u; kh < params.KH; kh++) {
    let ih = i32(oh * params.sh + kh * params.dh) - i32(params.ph);
    if (ih < 0 || ih >= i32(params.H)) { continue; }
    let xr = xc + u32(ih) * params.W;
    let wk = wc + kh * params.KW;
#if DW_FIXED
    // stride 1, dilation 1, KW known at compile time: loops unroll and the row segment stays in registers
    var seg: array<f32, PX + KWC - 1u>;
    for (var k = 0u; k < PX + KWC - 1u; k++) { seg[k] = x_at(xr, iwb + i32(k)); }
    for (var kw = 0u; kw < KWC; kw++) {
      let wv = wl(wk + kw);
      for (var i = 0u; i < PX; i++) { acc[i] = fma(wv, seg[kw + i], acc[i]); }
    }
#else
    for (var kw = 0u; kw < params.KW; kw++) {
      let wv = wl(wk + kw);
      let iw = iwb + i32(kw * params.dw);
      for (var i = 0u; i < PX; i++) { acc[i] = fma(wv, x_at(xr, iw + i32(i * params.sw)), acc[i]); }
    }
#endif
  }
  let bv = bias_at(c);
  let yr = params.y_off + ((b * params.Cout + c) * params.OH + oh) * params.OW + ow0;
  let nw = min(PX, params.OW - ow0);
  for (var i = 0u; i < nw; i++) { y[yr + i] = acc[i] + bv; }
}
#endif

#if POINTWISE
const PCO: u32 = {{PCO}}u;  // channels per invocation
const PPV: u32 = {{PPV}}u;  // vec4 pixel groups per invocation

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.n) { return; }
  let P = params.H * params.W;
  let pb = (P + 4u * PPV - 1u) / (4u * PPV);
  let cob = (params.Cout + PCO - 1u) / PCO;
  var t = id;
  let pblk = t % pb; t = t / pb;
  let cb = t % cob;
  let b = t / cob;
  let p0 = pblk * 4u * PPV;
  let co0 = cb * PCO;
  let nco = min(PCO, params.Cout - co0);
  let K = params.Cin;
  var wr: array<u32, PCO>;
  for (var j = 0u; j < PCO; j++) { wr[j] = params.w_off + (co0 + min(j, nco - 1u)) * K; }
  var acc: array<vec4<f32>, PCO * PPV>;
#if VEC4
  let P4 = P / 4u;
  var xi = params.x_off / 4u + b * K * P4 + pblk * PPV;
  var q: array<u32, PPV>;
  for (var v = 0u; v < PPV; v++) { q[v] = min(v, P4 - 1u - pblk * PPV); }
  for (var k = 0u; k < K; k++) {
    var xv: array<vec4<f32>, PPV>;
    for (var v = 0u; v < PPV; v++) { xv[v] = x[xi + q[v]]; }
    xi += P4;
#else
  let xb = params.x_off + b * K * P;
  // columns past the end repeat the last pixel (not written)
  var q: array<u32, 4 * PPV>;
  for (var i = 0u; i < 4u * PPV; i++) { q[i] = min(p0 + i, P - 1u); }
  for (var k = 0u; k < K; k++) {
    let xr = xb + k * P;
    var xv: array<vec4<f32>, PPV>;
    for (var v = 0u; v < PPV; v++) {
      xv[v] = vec4<f32>(x[xr + q[4u * v]], x[xr + q[4u * v + 1u]], x[xr + q[4u * v + 2u]], x[xr + q[4u * v + 3u]]);
    }
#endif
    for (var j = 0u; j < PCO; j++) {
      let wv = vec4<f32>(wl(wr[j] + k));
      for (var v = 0u; v < PPV; v++) { acc[j * PPV + v] = fma(wv, xv[v], acc[j * PPV + v]); }
    }
  }
  for (var j = 0u; j < nco; j++) {
    let co = co0 + j;
    let bv = vec4<f32>(bias_at(co));
    for (var v = 0u; v < PPV; v++) {
      let pv = p0 + 4u * v;
      if (pv >= P) { break; }
      let o = acc[j * PPV + v] + bv;
#if VEC4
      y[params.y_off / 4u + (b * params.Cout + co) * (P / 4u) + pv / 4u] = o;
#else
      let yr = params.y_off + (b * params.Cout + co) * P + pv;
      let np = min(4u, P - pv);
      for (var i = 0u; i < np; i++) { y[yr + i] = o[i]; }
#endif
    }
  }
}
#endif

#if TILED
const TM: u32 = 32u; // output channels per tile
const TN: u32 = 64u; // output pixels per tile
const TK: u32 = 16u; // reduction step
// As[k][m], Bs[k][n] as vec4 rows so the inner loop reads 4 channels / 4 pixels at once
var<workgroup> As: array<vec4<f32>, 128>; // TK * TM / 4
var<workgroup> Bs: array<vec4<f32>, 256>; // TK * TN / 4

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wgi = wid.x + wid.y * nwg.x;
  if (wgi >= params.n) { return; } // whole workgroup leaves together (uniform)
  let P = params.OH * params.OW;
  let ntn = (P + TN - 1u) / TN;
  let ntm = (params.cout_g + TM - 1u) / TM;
  var t = wgi;
  let tn = t % ntn; t = t / ntn;
  let tm = t % ntm; t = t / ntm;
  let g = t % params.G;
  let b = t / params.G;
  let n0 = tn * TN;
  let m0 = tm * TM;
  let tx = lid % 16u; // pixel quad
  let ty = lid / 16u; // channel quad
  let taps = params.KH * params.KW;
  let K = params.cin_g * taps;
  let wg0 = params.w_off + (g * params.cout_g) * K;
  let plane = params.H * params.W;
  let xb = params.x_off + (b * params.Cin + g * params.cin_g) * plane;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K; k0 += TK) {
    // weights: 512 values, 4 per invocation; consecutive invocations read consecutive k
    for (var r = 0u; r < 4u; r++) {
      let e = lid + r * 128u;
      let m = e / TK;
      let kk = e % TK;
      let co = m0 + m;
      let k = k0 + kk;
      let ok = co < params.cout_g && k < K;
      let v = select(0.0, wl(wg0 + min(co, params.cout_g - 1u) * K + min(k, K - 1u)), ok);
      As[(kk * TM + m) / 4u][m % 4u] = v;
    }
    // im2col'd inputs: 1024 values, 8 per invocation; consecutive invocations read consecutive pixels
    for (var r = 0u; r < 8u; r++) {
      let e = lid + r * 128u;
      let kk = e / TN;
      let nn = e % TN;
      let k = k0 + kk;
      let p = n0 + nn;
      let c = k / taps;
      let kr = k % taps;
      let oh = p / params.OW;
      let ow = p % params.OW;
      let ih = i32(oh * params.sh + (kr / params.KW) * params.dh) - i32(params.ph);
      let iw = i32(ow * params.sw + (kr % params.KW) * params.dw) - i32(params.pw);
      let ok = k < K && p < P && ih >= 0 && ih < i32(params.H) && iw >= 0 && iw < i32(params.W);
      let xi = xb + min(c, params.cin_g - 1u) * plane + u32(clamp(ih, 0, i32(params.H) - 1)) * params.W + u32(clamp(iw, 0, i32(params.W) - 1));
      Bs[(kk * TN + nn) / 4u][nn % 4u] = select(0.0, x[xi], ok);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = As[(kk * TM) / 4u + ty];
      let bv = Bs[(kk * TN) / 4u + tx];
      acc[0] = fma(vec4<f32>(a.x), bv, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), bv, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), bv, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), bv, acc[3]);
    }
    workgroupBarrier();
  }
  for (var j = 0u; j < 4u; j++) {
    let col = m0 + ty * 4u + j;
    if (col >= params.cout_g) { break; }
    let co = g * params.cout_g + col;
    let bv = bias_at(co);
    let yr = params.y_off + (b * params.Cout + co) * P;
    for (var i = 0u; i < 4u; i++) {
      let p = n0 + tx * 4u + i;
      if (p < P) { y[yr + p] = acc[j][i] + bv; }
    }
  }
}
#endif

#if DWEIGHT
#if CO1
const CB: u32 = 1u;
#else
const CB: u32 = 4u;
#endif

// First output index o with o*s + k*d - p >= 0, and one past the last with o*s + k*d - p < n (clamped to [0, O]).
fn out_range(k: u32, s: u32, p: u32, d: u32, n: u32, O: u32) -> vec2<u32> {
  let lo_num = i32(p) - i32(k * d);
  let lo = select(0u, u32((lo_num + i32(s) - 1) / i32(s)), lo_num > 0);
  let top = i32(n) - 1 + i32(p) - i32(k * d);
  let hi = select(0u, min(O, u32(top / i32(s)) + 1u), top >= 0);
  return vec2<u32>(lo, max(lo, hi));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  if (id >= params.n) { return; }
  let cob = (params.cout_g + CB - 1u) / CB;
  var t = id;
  let kw = t % params.KW; t = t / params.KW;
  let kh = t % params.KH; t = t / params.KH;
  let c = t % params.cin_g;
  let cbt = t / params.cin_g;
  let g = cbt / cob;
  let co0 = g * params.cout_g + (cbt % cob) * CB;
  let nco = min(CB, (g + 1u) * params.cout_g - co0);
  let rh = out_range(kh, params.sh, params.ph, params.dh, params.H, params.OH);
  let rw = out_range(kw, params.sw, params.pw, params.dw, params.W, params.OW);
  let plane = params.H * params.W;
  let oplane = params.OH * params.OW;
  var acc = vec4<f32>(0.0);
  for (var b = 0u; b < params.B; b++) {
    let xc = params.x_off + (b * params.Cin + g * params.cin_g + c) * plane;
    let d0 = params.dy_off + (b * params.Cout + co0) * oplane;
    let d1 = d0 + min(1u, nco - 1u) * oplane;
    let d2 = d0 + min(2u, nco - 1u) * oplane;
    let d3 = d0 + min(3u, nco - 1u) * oplane;
    for (var oh = rh.x; oh < rh.y; oh++) {
      let ih = oh * params.sh + kh * params.dh - params.ph;
      let xr = xc + ih * params.W + kw * params.dw - params.pw;
      let orow = oh * params.OW;
      for (var ow = rw.x; ow < rw.y; ow++) {
        let xv = x[xr + ow * params.sw];
        let o = orow + ow;
#if CO1
        acc.x = fma(dy[d0 + o], xv, acc.x);
#else
        acc = fma(vec4<f32>(dy[d0 + o], dy[d1 + o], dy[d2 + o], dy[d3 + o]), vec4<f32>(xv), acc);
#endif
      }
    }
  }
  let taps = params.KH * params.KW;
  for (var j = 0u; j < nco; j++) {
    dw[params.dw_off + ((co0 + j) * params.cin_g + c) * taps + kh * params.KW + kw] = acc[j];
  }
}
#endif

#if DBIAS
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let co = linear_id(gid, nwg, WG);
  if (co >= params.Cout) { return; }
  var s = 0.0;
  for (var b = 0u; b < params.B; b++) {
    let base = params.dy_off + (b * params.Cout + co) * params.P;
    for (var p = 0u; p < params.P; p++) { s += dy[base + p]; }
  }
  db[params.db_off + co] = s;
}
#endif
