//! The FFT codelets: straight-line small DFTs over frames-in-lanes vectors, generated at
//! compile time, which the driver ([`super::ComplexFft`]) runs as the passes of a plan.
//!
//! Even lengths come from a radix-2 split with the trivial twiddles (`1`, `-i`, `(±1-i)/√2`)
//! specialised, odd lengths from the symmetric pair formula (`(r-1)/2` cosine and sine chains);
//! radices 4, 8 and the odd ones are emitted in a register-friendly order with barriers
//! (see [`codelet`]). Constants are f64 rounded once to the lane type.

use cranelift_codegen::ir::{InstBuilder, Value};

use super::{Emit, C};

impl Emit<'_, '_> {
    /// `v · W_r^k`, with the trivial factors specialised.
    fn twiddle(&mut self, v: C, k: usize, r: usize) -> C {
        let k = k % r;
        if k == 0 {
            v
        } else if 4 * k == r {
            // (x + iy)(-i) = y - ix
            C { re: v.im, im: self.b.ins().fneg(v.re) }
        } else if 8 * k == r || 8 * k == 3 * r {
            let h = self.splat(std::f64::consts::FRAC_1_SQRT_2);
            let sum = self.b.ins().fadd(v.re, v.im);
            let diff = self.b.ins().fsub(v.im, v.re);
            if 8 * k == r {
                // (x + iy)(1 - i)/√2 = ((x + y) + i(y - x))/√2
                C { re: self.b.ins().fmul(sum, h), im: self.b.ins().fmul(diff, h) }
            } else {
                // (x + iy)(-1 - i)/√2 = ((y - x) - i(x + y))/√2
                let nh = self.splat(-std::f64::consts::FRAC_1_SQRT_2);
                C { re: self.b.ins().fmul(diff, h), im: self.b.ins().fmul(sum, nh) }
            }
        } else {
            let (c, s) = w(k, r);
            let c = self.splat(c);
            let s = self.splat(s);
            self.cmul(v, c, s)
        }
    }

    /// The forward DFT of `x`, straight line.
    fn dft(&mut self, x: &[C]) -> Vec<C> {
        let r = x.len();
        if r == 1 {
            return x.to_vec();
        }
        if r.is_multiple_of(2) {
            let h = r / 2;
            let even: Vec<C> = x.iter().step_by(2).copied().collect();
            let odd: Vec<C> = x.iter().skip(1).step_by(2).copied().collect();
            let ev = self.dft(&even);
            let od = self.dft(&odd);
            let mut out = x.to_vec();
            for k in 0..h {
                if 4 * k == r {
                    // e ± (-i)·o without materialising the negation.
                    let (e, o) = (ev[k], od[k]);
                    out[k] = C { re: self.b.ins().fadd(e.re, o.im), im: self.b.ins().fsub(e.im, o.re) };
                    out[k + h] = C { re: self.b.ins().fsub(e.re, o.im), im: self.b.ins().fadd(e.im, o.re) };
                } else {
                    let tw = self.twiddle(od[k], k, r);
                    out[k] = self.cadd(ev[k], tw);
                    out[k + h] = self.csub(ev[k], tw);
                }
            }
            return out;
        }
        // Odd r: pairs a_j = x_j + x_{r-j}, b_j = x_j - x_{r-j}.
        let h = (r - 1) / 2;
        let a: Vec<C> = (1..=h).map(|j| self.cadd(x[j], x[r - j])).collect();
        let bd: Vec<C> = (1..=h).map(|j| self.csub(x[j], x[r - j])).collect();
        self.odd_from_pairs(x[0], &a, &bd)
    }

    /// The DFT of odd length `r = 2·a.len() + 1` from `x_0` and the pairs
    /// `a_j = x_j + x_{r-j}`, `b_j = x_j - x_{r-j}`: `X_k = T_k + (U_k.im, -U_k.re)`,
    /// `X_{r-k} = T_k - (U_k.im, -U_k.re)` with `T_k = x_0 + Σ a_j cos(2πjk/r)`,
    /// `U_k = Σ b_j sin(2πjk/r)`.
    fn odd_from_pairs(&mut self, x0: C, a: &[C], bd: &[C]) -> Vec<C> {
        let h = a.len();
        let r = 2 * h + 1;
        let mut out = vec![x0; r];
        let mut sum = x0;
        for &aj in a {
            sum = self.cadd(sum, aj);
        }
        out[0] = sum;
        for k in 1..=h {
            let mut tre = x0.re;
            let mut tim = x0.im;
            let mut ure: Option<Value> = None;
            let mut uim: Option<Value> = None;
            for j in 1..=h {
                let ang = 2.0 * std::f64::consts::PI * ((j * k) % r) as f64 / r as f64;
                let c = self.splat(ang.cos());
                let s = self.splat(ang.sin());
                tre = self.mul_add(a[j - 1].re, c, tre);
                tim = self.mul_add(a[j - 1].im, c, tim);
                ure = Some(match ure {
                    None => self.b.ins().fmul(bd[j - 1].re, s),
                    Some(acc) => self.mul_add(bd[j - 1].re, s, acc),
                });
                uim = Some(match uim {
                    None => self.b.ins().fmul(bd[j - 1].im, s),
                    Some(acc) => self.mul_add(bd[j - 1].im, s, acc),
                });
            }
            let (ure, uim) = (ure.expect("h >= 1"), uim.expect("h >= 1"));
            out[k] = C { re: self.b.ins().fadd(tre, uim), im: self.b.ins().fsub(tim, ure) };
            out[r - k] = C { re: self.b.ins().fsub(tre, uim), im: self.b.ins().fadd(tim, ure) };
        }
        out
    }
}

/// `W_n^e = e^{-2πi e/n}` in f64, with the exponent reduced exactly.
pub(super) fn w(e: usize, n: usize) -> (f64, f64) {
    let a = -2.0 * std::f64::consts::PI * (e % n) as f64 / n as f64;
    (a.cos(), a.sin())
}

/// One codelet of radix `r`: `point(e, s)` gives input `s` (loaded, twiddled), `store(e, k, v)`
/// puts output `k`. `guard` is any integer that is never -1 at run time (see
/// [`Emit::barrier`]). Radices 4 and 8 and odd radices are emitted in register-friendly order.
pub(super) fn codelet(
    e: &mut Emit<'_, '_>,
    r: usize,
    guard: Value,
    point: &dyn Fn(&mut Emit<'_, '_>, i64) -> C,
    store: &dyn Fn(&mut Emit<'_, '_>, usize, C),
) {
    if r == 4 {
        // Radix 4 in register-friendly order: each half-butterfly as soon as its two inputs
        // are loaded, each output stored once computed. Block boundaries keep Cranelift from
        // sinking the arithmetic below all the loads (the generic order spills).
        let x0 = point(e, 0);
        let x2 = point(e, 2);
        let a = e.cadd(x0, x2);
        let bb = e.csub(x0, x2);
        let x1 = point(e, 1);
        let x3 = point(e, 3);
        let v = e.barrier(&[a.re, a.im, bb.re, bb.im, x1.re, x1.im, x3.re, x3.im], guard);
        let (a, bb) = (C { re: v[0], im: v[1] }, C { re: v[2], im: v[3] });
        let (x1, x3) = (C { re: v[4], im: v[5] }, C { re: v[6], im: v[7] });
        let y = radix4_outputs(e, a, bb, x1, x3);
        for k in [0, 2, 1, 3] {
            store(e, k, y[k]);
        }
        return;
    }
    if r == 8 {
        // Radix 8 as two radix-4 halves (evens, then odds) with barriers between the pairs, and
        // the W8 combine last; the generic order loaded all 16 vectors first and spilled ~90
        // times per butterfly.
        let half = |e: &mut Emit<'_, '_>, s: [i64; 4], live: &mut Vec<Value>| -> [C; 4] {
            let y0 = point(e, s[0]);
            let y2 = point(e, s[2]);
            let a = e.cadd(y0, y2);
            let bb = e.csub(y0, y2);
            live.extend([a.re, a.im, bb.re, bb.im]);
            *live = e.barrier(live, guard);
            let n = live.len();
            let (a, bb) = (C { re: live[n - 4], im: live[n - 3] }, C { re: live[n - 2], im: live[n - 1] });
            let y1 = point(e, s[1]);
            let y3 = point(e, s[3]);
            let [z0, z1, z2, z3] = radix4_outputs(e, a, bb, y1, y3);
            live.truncate(n - 4);
            live.extend([z0.re, z0.im, z1.re, z1.im, z2.re, z2.im, z3.re, z3.im]);
            *live = e.barrier(live, guard);
            let m = live.len();
            let g = |i: usize| C { re: live[m - 8 + 2 * i], im: live[m - 7 + 2 * i] };
            [g(0), g(1), g(2), g(3)]
        };
        let mut live = Vec::new();
        half(e, [0, 2, 4, 6], &mut live);
        let od = half(e, [1, 3, 5, 7], &mut live);
        // The evens went through the odds' barriers: their current values are live[..8].
        let ev: [C; 4] = std::array::from_fn(|i| C { re: live[2 * i], im: live[2 * i + 1] });
        for k in 0..4 {
            let t = e.twiddle(od[k], k, 8);
            let x = e.cadd(ev[k], t);
            store(e, k, x);
            let y = e.csub(ev[k], t);
            store(e, k + 4, y);
        }
        return;
    }
    if r % 2 == 1 && r > 1 {
        // Odd radix in register-friendly order: each pair (x_j, x_{r-j}) loaded, twiddled and
        // folded to a_j, b_j before the next pair is loaded, a barrier after each, so Cranelift
        // cannot hoist every load to the top and spill (the generic order spilled ~40 times per
        // radix-5 butterfly).
        let h = (r - 1) / 2;
        let x0 = point(e, 0);
        let mut live = vec![x0.re, x0.im];
        for j in 1..=h {
            let xj = point(e, j as i64);
            let xr = point(e, (r - j) as i64);
            let a = e.cadd(xj, xr);
            let b = e.csub(xj, xr);
            live.extend([a.re, a.im, b.re, b.im]);
            live = e.barrier(&live, guard);
        }
        let x0 = C { re: live[0], im: live[1] };
        let a: Vec<C> = (0..h).map(|j| C { re: live[2 + 4 * j], im: live[3 + 4 * j] }).collect();
        let bd: Vec<C> = (0..h).map(|j| C { re: live[4 + 4 * j], im: live[5 + 4 * j] }).collect();
        let y = e.odd_from_pairs(x0, &a, &bd);
        for (k1, v) in y.iter().enumerate() {
            store(e, k1, *v);
        }
        return;
    }
    let x: Vec<C> = (0..r as i64).map(|s| point(e, s)).collect();
    let y = e.dft(&x);
    for (k1, v) in y.iter().enumerate() {
        store(e, k1, *v);
    }
}

/// The 4-point DFT from `a = x0 + x2`, `bb = x0 - x2` and the (twiddled) `x1`, `x3`.
fn radix4_outputs(e: &mut Emit<'_, '_>, a: C, bb: C, x1: C, x3: C) -> [C; 4] {
    let c = e.cadd(x1, x3);
    let d = e.csub(x1, x3);
    let y0 = e.cadd(a, c);
    let y2 = e.csub(a, c);
    // X1 = b - i·d, X3 = b + i·d.
    let y1 = C { re: e.b.ins().fadd(bb.re, d.im), im: e.b.ins().fsub(bb.im, d.re) };
    let y3 = C { re: e.b.ins().fsub(bb.re, d.im), im: e.b.ins().fadd(bb.im, d.re) };
    [y0, y1, y2, y3]
}
