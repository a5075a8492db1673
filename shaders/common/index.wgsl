// Shared helpers. Dispatches over 65535 workgroups per dimension are folded into 2-D by
// Runtime.groups1d; kernels recover the linear invocation index with linear_id().
fn linear_id(gid: vec3<u32>, nwg: vec3<u32>, wg_size: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg_size;
}

// Exact-erf GELU as torch.nn.GELU() (approximate='none'). erf from Abramowitz-Stegun 7.1.26 is
// not accurate enough (1.5e-7 abs) for 1e-6 parity, so use a rational Chebyshev-type erf (W. J. Cody).
fn erf_f32(x: f32) -> f32 {
  let ax = abs(x);
  if (ax < 0.5) {
    // erf(x) = x * P(x^2)/Q(x^2)
    let t = x * x;
    let p = ((( -3.5609843701815385e-2 * t + 6.9963834886191355) * t + 2.1979261618294152e1) * t + 2.4266795523053175e2);
    let q = ((( t + 1.5082797630407787e1) * t + 9.1164905404514901e1) * t + 2.1505887586986120e2);
    return x * p / q;
  }
  var r: f32;
  if (ax < 4.0) {
    let p = (((((((-1.368648573827167e-7 * ax + 5.641955174789740e-1) * ax + 7.211758250883094) * ax + 4.316222722205674e1) * ax + 1.529892850469404e2) * ax + 3.393208167343437e2) * ax + 4.519189537118729e2) * ax + 3.004592610201616e2);
    let q = (((((((ax + 1.278272731962942e1) * ax + 7.700015293522947e1) * ax + 2.775854447439876e2) * ax + 6.389802644656312e2) * ax + 9.313540948506096e2) * ax + 7.909509253278980e2) * ax + 3.004592600616113e2);
    r = exp(-ax * ax) * p / q;
  } else {
    let z = 1.0 / (ax * ax);
    let p = (((( 2.23192459734184686e-2 * z + 2.78661308609647788e-1) * z + 2.26956593539686930e-1) * z + 4.94730910623250734e-2) * z + 2.99610707703542174e-3);
    let q = (((( z + 1.98733201817135256) * z + 1.05167510706793207) * z + 1.91308926107829841e-1) * z + 1.06209230528467918e-2);
    r = exp(-ax * ax) / ax * (0.5641895835477563 - z * p / q);
  }
  let v = 1.0 - r;
  return select(v, -v, x < 0.0);
}

fn gelu_erf(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476));
}

fn sigmoid_f32(x: f32) -> f32 {
  // Stable for large |x| (no exp overflow to inf/inf).
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
