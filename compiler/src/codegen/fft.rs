//! FFT code emitted inline into kernels that transform one vector of frames at once (lane k of
//! every vector is frame k, DESIGN §4), so butterflies need no shuffles. Generic over the lane
//! kind ([`Vk`]): four `f32` frames per `F32X4` or two `f64` frames per `F64X2`.
//!
//! Layout: split complex, frame-interleaved: point j is one vector of re and one of im, at byte
//! `j * stride` of the re and im base pointers (stride 16 for contiguous points; the real-input
//! trick reads `x[2j]` and `x[2j+1]` of a natural-order frame with stride 32).
//!
//! The plan is chosen by the `plan` pass from [`Target::CRANELIFT`] (radix order included) and
//! emitted exactly as printed: this module only checks it against that target description
//! ([`FftTarget::check`](crate::target::FftTarget::check)) and never re-plans.
//!
//! [`ComplexFft`] emits a codelet or mixed-radix plan, out of place. For factors `r₀ … r_{L-1}` (outermost first, the plan's decimation-in-time order):
//! 1. The innermost pass reads each `r_{L-1}`-point block straight from the input at stride
//!    `n / r_{L-1}` (the digit-reversed start of each block comes from a small `u32` table),
//!    runs the codelet and writes the block contiguously into `out`: the permutation costs no
//!    separate pass.
//! 2. Every further pass `l = L-2 … 0` works in place on `out`: for each block of `r_l·m`
//!    points (`m` = product of the inner radices) and each `k < m`, it loads the `r_l` points at
//!    stride `m`, multiplies point `s ≥ 1` by `W_{r_l·m}^{s·k}` (whole vectors from a table,
//!    loaded as pure values so they are placed at their use), runs the codelet and stores back.
//!    Both levels are loops over byte offsets (no multiplies), so code size is O(Σ codelet
//!    sizes), not O(n). A radix-4 butterfly finishes its three complex multiplies before a
//!    [`Emit::barrier`]: Cranelift would otherwise sink that arithmetic below all the loads and
//!    spill.
//!
//! [`RealFft`] is the whole real-input transform of a [`RealPlan`]: the half-length complex FFT
//! plus a vectorized post-twiddle pass for even n (bins k and h-k per iteration, the ½ folded
//! into vector twiddles `½W^k` and one fma per output), the full complex FFT of the real input
//! for odd n, and Bluestein (chirp, two inline FFTs of the convolution length, chirp) wherever
//! the plan says so. With a [`PowerSink`] the post-twiddle pass writes a function of each bin
//! (the power a filterbank reads) and the sum of those values instead of the complex bins. Its
//! tables (gather offsets, twiddles, chirps, the convolution kernel's spectrum) are
//! read-only data objects of the JIT module.
//!
//! The codelets themselves are in [`codelets`]; the shared toolkit ([`Emit`], [`DataSet`]) is
//! `codegen::emit`, whose `mul_add` emits `fma` only on ISAs with native FMA. The stand-alone
//! kernels and tests are in `tests` (test builds only).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{BlockArg, InstBuilder, Value};
use num_complex::Complex64;

use super::emit::{readonly, Addrs, DataSet, Emit};
use super::jit::JitError;
use super::vec::Vk;
use crate::graph::fft_plan::{execute_complex, ComplexPlan, RealPlan};
use crate::target::Target;

mod codelets;
#[cfg(test)]
mod tests;

use codelets::{codelet, w};

/// Bytes of one point (one vector).
const POINT: i64 = Vk::BYTES;

/// Why an FFT kernel could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum FftError {
    /// The plan contains a node this code generator does not emit.
    #[error("unsupported plan for the FFT JIT: {0}")]
    Unsupported(String),
    /// Cranelift failed.
    #[error(transparent)]
    Jit(#[from] JitError),
}

/// One complex vector (one point of `lanes` frames).
#[derive(Clone, Copy)]
pub struct C {
    /// Real parts.
    pub re: Value,
    /// Imaginary parts.
    pub im: Value,
}

/// Complex arithmetic on split re/im vectors, for the FFT emitters.
impl Emit<'_, '_> {
    fn load(&mut self, re: Value, im: Value, off: i64) -> C {
        C { re: self.vload(re, off), im: self.vload(im, off) }
    }

    fn store(&mut self, re: Value, im: Value, off: i64, v: C) {
        self.vstore(v.re, re, off);
        self.vstore(v.im, im, off);
    }

    fn cadd(&mut self, a: C, b: C) -> C {
        C { re: self.b.ins().fadd(a.re, b.re), im: self.b.ins().fadd(a.im, b.im) }
    }

    fn csub(&mut self, a: C, b: C) -> C {
        C { re: self.b.ins().fsub(a.re, b.re), im: self.b.ins().fsub(a.im, b.im) }
    }

    /// `v · (c + i·s)` with vector `c`, `s`.
    pub fn cmul(&mut self, v: C, c: Value, s: Value) -> C {
        let ys = self.b.ins().fmul(v.im, s);
        let nys = self.b.ins().fneg(ys);
        let re = self.mul_add(v.re, c, nys);
        let yc = self.b.ins().fmul(v.im, c);
        let im = self.mul_add(v.re, s, yc);
        C { re, im }
    }

    fn conj(&mut self, v: C) -> C {
        C { re: v.re, im: self.b.ins().fneg(v.im) }
    }
}

/// The codelet radices of `plan`, outermost first, after checking it against the JIT's target
/// description (the plan pass chose it from the same description, so a failure here means a
/// plan from elsewhere).
fn radices_of(plan: &ComplexPlan) -> Result<Vec<usize>, FftError> {
    Target::CRANELIFT.fft.check(plan).map_err(FftError::Unsupported)?;
    match plan {
        ComplexPlan::Codelet(r) => Ok(vec![*r]),
        ComplexPlan::MixedRadix { factors } => Ok(factors.iter().map(ComplexPlan::size).collect()),
        other => Err(FftError::Unsupported(format!("{other} is not a codelet chain"))),
    }
}

/// For factors outermost first: which input index each storage position holds before the first
/// pass (the mixed-radix digit reversal of decimation in time).
fn input_order(radices: &[usize]) -> Vec<usize> {
    let Some((&r, rest)) = radices.split_first() else {
        return vec![0];
    };
    let inner = input_order(rest);
    (0..r).flat_map(|s| inner.iter().map(move |&q| r * q + s)).collect()
}

/// Largest transform the emitter accepts: byte offsets of points must fit the `i32`
/// displacements of loads and stores.
const MAX_POINTS: usize = (i32::MAX as usize) / (2 * POINT as usize);

/// Where an inline complex FFT reads and writes.
#[derive(Clone, Copy)]
pub struct Io {
    /// Base of the input's real parts.
    pub in_re: Value,
    /// Base of the input's imaginary parts; `None` for real input (imaginary parts zero).
    pub in_im: Option<Value>,
    /// Bytes between consecutive input points.
    pub in_stride: i64,
    /// Base of the output's real parts (contiguous points).
    pub out_re: Value,
    /// Base of the output's imaginary parts.
    pub out_im: Value,
}

/// A codelet or mixed-radix complex FFT, ready to be emitted inline.
pub struct ComplexFft {
    n: usize,
    radices: Vec<usize>,
    /// Pass l: (radix, m).
    passes: Vec<(usize, usize)>,
    gather: usize,
    /// Per pass, its twiddle table.
    twiddles: Vec<usize>,
}

impl ComplexFft {
    /// Plans the tables of `plan` into `data`; fails for plans that are not codelet chains.
    pub fn new(plan: &ComplexPlan, vk: Vk, data: &mut DataSet) -> Result<Self, FftError> {
        // Exactly the plan's factors: radix order and pass widths were chosen by the planner.
        let radices = radices_of(plan)?;
        let n: usize = radices.iter().product();
        if n > MAX_POINTS {
            return Err(FftError::Unsupported(format!("length {n} too large")));
        }
        let last = *radices.last().expect("a plan has at least one factor");
        let order = input_order(&radices);
        let gather = data.push_u32(order.iter().step_by(last).map(|&i| i as u32));
        let passes: Vec<(usize, usize)> =
            (0..radices.len() - 1).map(|l| (radices[l], radices[l + 1..].iter().product())).collect();
        // Twiddles as whole vectors: the butterflies take them as memory operands.
        let twiddles = passes
            .iter()
            .map(|&(r, m)| {
                let t = (0..m).flat_map(|k| {
                    (1..r).flat_map(move |s| {
                        let (c, si) = w(s * k, r * m);
                        [c, si]
                    })
                });
                data.push_per_lane(vk, t)
            })
            .collect();
        Ok(ComplexFft { n, radices, passes, gather, twiddles })
    }

    /// The transform length.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false (a plan has length ≥ 1).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Emits the transform reading `io`'s input and writing its output (out of place: the input
    /// is not modified, and must not overlap the output).
    pub fn emit(&self, e: &mut Emit<'_, '_>, addrs: &Addrs, io: Io) {
        let n = self.n;

        let last = *self.radices.last().expect("at least one factor");
        // Innermost pass: gather at stride n/last, codelet, contiguous store.
        let stride = (n / last) as i64 * io.in_stride;
        let gather = addrs.get(e.b, e.ptr, self.gather);
        e.counted_loop(n / last, |e, blk| {
            let ga = e.index(gather, blk, 4);
            let src = e.b.ins().uload32(readonly(), ga, 0);
            let src_off = e.b.ins().imul_imm_s(src, io.in_stride);
            let sre = e.b.ins().iadd(io.in_re, src_off);
            let sim = io.in_im.map(|im| e.b.ins().iadd(im, src_off));
            let zero = if sim.is_none() { Some(e.splat(0.0)) } else { None };
            let point = |e: &mut Emit<'_, '_>, j: i64| -> C {
                let re = e.vload(sre, j * stride);
                let im = match sim {
                    Some(sim) => e.vload(sim, j * stride),
                    None => zero.expect("real input"),
                };
                C { re, im }
            };
            let dre = e.index(io.out_re, blk, last as i64 * POINT);
            let dim = e.index(io.out_im, blk, last as i64 * POINT);
            let store = |e: &mut Emit<'_, '_>, k: usize, v: C| e.store(dre, dim, k as i64 * POINT, v);
            // `src_off` is a byte offset, never -1: the codelet's barrier guard.
            codelet(e, last, src_off, &point, &store);
        });
        // Outer passes, in place on `out`, innermost remaining factor first.
        for (l, &(r, m)) in self.passes.iter().enumerate().rev() {
            let tw_table = self.twiddles[l];
            let block_bytes = (r * m) as i64 * POINT;
            let step = m as i64 * POINT;
            let tbase = addrs.get(e.b, e.ptr, tw_table);
            let tw_step = (r as i64 - 1) * 2 * POINT;
            e.offset_loop(n / (r * m), &[block_bytes], |e, bo| {
                let bre = e.b.ins().iadd(io.out_re, bo[0]);
                let bim = e.b.ins().iadd(io.out_im, bo[0]);
                e.offset_loop(m, &[POINT, tw_step], |e, ko| {
                    let pre = e.b.ins().iadd(bre, ko[0]);
                    let pim = e.b.ins().iadd(bim, ko[0]);
                    let ta = e.b.ins().iadd(tbase, ko[1]);
                    butterfly(e, r, pre, pim, ta, step);
                });
            });
        }
    }
}

/// One butterfly of a pass: the `r` points at `p + s·step` (`s < r`), point `s ≥ 1` times
/// the twiddle at `ta + (s-1)·2·POINT` (re, im vectors), the codelet, stored back in place.
fn butterfly(e: &mut Emit<'_, '_>, r: usize, pre: Value, pim: Value, ta: Value, step: i64) {
    let point = |e: &mut Emit<'_, '_>, s: i64| -> C {
        let v = e.load(pre, pim, s * step);
        if s == 0 {
            return v;
        }
        let off = (s - 1) * 2 * POINT;
        let tr = e.vload_ro(ta, off);
        let ti = e.vload_ro(ta, off + POINT);
        e.cmul(v, tr, ti)
    };
    let store = |e: &mut Emit<'_, '_>, k: usize, v: C| e.store(pre, pim, k as i64 * step, v);
    codelet(e, r, ta, &point, &store);
}

/// The complex transform inside a real one: a codelet chain, or Bluestein around one.
enum Inner {
    Direct(ComplexFft),
    /// `X[k] = c̄[k]·conj(FFT_m(conj(FFT_m(a)·Ĥ)))` with `a[j] = x[j]·c̄[j]` zero-padded to `m`,
    /// `c[j] = e^{iπj²/n}`, `Ĥ = FFT_m(h)/m`, `h[j] = h[m-j] = c[j]` for `j < n`.
    Bluestein {
        n: usize,
        m: usize,
        fft: ComplexFft,
        /// `(re, im)` of `e^{-iπj²/n}`, `j < n`.
        chirp: usize,
        /// `(re, im)` of `Ĥ`, `m` points.
        kernel: usize,
    },
}

impl Inner {
    fn new(plan: &ComplexPlan, vk: Vk, data: &mut DataSet) -> Result<Self, FftError> {
        let ComplexPlan::Bluestein { n, m, inner } = plan else {
            return Ok(Inner::Direct(ComplexFft::new(plan, vk, data)?));
        };
        let (n, m) = (*n, *m);
        let fft = ComplexFft::new(inner, vk, data)?;
        // j² mod 2n keeps the angle exact for large j.
        let chirp_at = |j: usize| {
            let e = ((j as u128 * j as u128) % (2 * n as u128)) as f64;
            Complex64::from_polar(1.0, -std::f64::consts::PI * e / n as f64)
        };
        let chirp: Vec<Complex64> = (0..n).map(chirp_at).collect();
        let mut h = vec![Complex64::new(0.0, 0.0); m];
        for (j, c) in chirp.iter().enumerate() {
            h[j] = c.conj();
            if j > 0 {
                h[m - j] = c.conj();
            }
        }
        execute_complex(inner, &mut h);
        let scale = 1.0 / m as f64;
        let chirp = data.push_floats(vk, chirp.iter().flat_map(|c| [c.re, c.im]));
        let kernel = data.push_floats(vk, h.iter().flat_map(|c| [c.re * scale, c.im * scale]));
        Ok(Inner::Bluestein { n, m, fft, chirp, kernel })
    }

    /// Scratch points this transform needs beyond its output.
    fn scratch_points(&self) -> usize {
        match self {
            Inner::Direct(_) => 0,
            Inner::Bluestein { m, .. } => 3 * m,
        }
    }

    /// Emits the transform; `scratch` holds `scratch_points()` points of re then im.
    fn emit(&self, e: &mut Emit<'_, '_>, addrs: &Addrs, io: Io, scratch: Value) {
        match self {
            Inner::Direct(fft) => fft.emit(e, addrs, io),
            Inner::Bluestein { n, m, fft, chirp, kernel } => {
                let (n, m) = (*n, *m);
                let esz = e.vk.elem_bytes() as i64;
                let plane = 3 * m as i64 * POINT;
                let buf = |e: &mut Emit<'_, '_>, i: i64| {
                    let re = e.b.ins().iadd_imm_s(scratch, i * m as i64 * POINT);
                    let im = e.b.ins().iadd_imm_s(scratch, plane + i * m as i64 * POINT);
                    (re, im)
                };
                let (a_re, a_im) = buf(e, 0);
                let (b_re, b_im) = buf(e, 1);
                let (c_re, c_im) = buf(e, 2);
                // a = x · chirp, zero-padded (the tail of `a` is written once per call too, so
                // the kernel needs no zeroed scratch).
                let chirp_base = addrs.get(e.b, e.ptr, *chirp);
                e.counted_loop(n, |e, j| {
                    let xr = e.index(io.in_re, j, io.in_stride);
                    let re = e.vload(xr, 0);
                    let im = match io.in_im {
                        Some(base) => {
                            let xi = e.index(base, j, io.in_stride);
                            e.vload(xi, 0)
                        }
                        None => e.splat(0.0),
                    };
                    let ca = e.index(chirp_base, j, 2 * esz);
                    let cr = e.splat_load(ca, 0);
                    let ci = e.splat_load(ca, esz);
                    let v = e.cmul(C { re, im }, cr, ci);
                    let dr = e.index(a_re, j, POINT);
                    let di = e.index(a_im, j, POINT);
                    e.store(dr, di, 0, v);
                });
                e.range_loop(n, m, |e, j| {
                    let z = e.splat(0.0);
                    let dr = e.index(a_re, j, POINT);
                    let di = e.index(a_im, j, POINT);
                    e.store(dr, di, 0, C { re: z, im: z });
                });
                fft.emit(
                    e,
                    addrs,
                    Io { in_re: a_re, in_im: Some(a_im), in_stride: POINT, out_re: b_re, out_im: b_im },
                );
                // b = conj(b · Ĥ), so the second forward FFT is an inverse one up to conjugation.
                let kbase = addrs.get(e.b, e.ptr, *kernel);
                e.counted_loop(m, |e, k| {
                    let pr = e.index(b_re, k, POINT);
                    let pi = e.index(b_im, k, POINT);
                    let v = e.load(pr, pi, 0);
                    let ka = e.index(kbase, k, 2 * esz);
                    let kr = e.splat_load(ka, 0);
                    let ki = e.splat_load(ka, esz);
                    let p = e.cmul(v, kr, ki);
                    let p = e.conj(p);
                    e.store(pr, pi, 0, p);
                });
                fft.emit(
                    e,
                    addrs,
                    Io { in_re: b_re, in_im: Some(b_im), in_stride: POINT, out_re: c_re, out_im: c_im },
                );
                // X[k] = conj(c[k]) · chirp[k].
                e.counted_loop(n, |e, k| {
                    let pr = e.index(c_re, k, POINT);
                    let pi = e.index(c_im, k, POINT);
                    let v = e.load(pr, pi, 0);
                    let v = e.conj(v);
                    let ca = e.index(chirp_base, k, 2 * esz);
                    let cr = e.splat_load(ca, 0);
                    let ci = e.splat_load(ca, esz);
                    let x = e.cmul(v, cr, ci);
                    let dr = e.index(io.out_re, k, POINT);
                    let di = e.index(io.out_im, k, POINT);
                    e.store(dr, di, 0, x);
                });
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Inner::Direct(f) => f.len(),
            Inner::Bluestein { n, .. } => *n,
        }
    }
}

/// Where [`RealFft::emit`] can send `f(re, im)` of every bin instead of the complex bins (the
/// power a filterbank reads): one vector per bin at `p`, and the sum of those values over the
/// bins (finite iff every value is and the sum does not overflow) in the vector at `sum`.
pub struct PowerSink<'f> {
    /// Base of the per-bin values (`bins()` points).
    pub p: Value,
    /// Address of the sum vector.
    pub sum: Value,
    /// The per-bin function of the bin's real and imaginary parts.
    pub f: &'f dyn Fn(&mut Emit<'_, '_>, Value, Value) -> Value,
}

/// The real-input transform of a [`RealPlan`], emitted inline: natural-order frames in,
/// bins `0..=n/2` out.
pub struct RealFft {
    n: usize,
    inner: Inner,
    /// Even n: the post-twiddle table, whole vectors `(½·re, ½·im)` of `W_n^k`, `1 ≤ k ≤ n/4`.
    post: Option<usize>,
}

impl RealFft {
    /// Plans `plan`'s tables into `data`.
    pub fn new(plan: &RealPlan, vk: Vk, data: &mut DataSet) -> Result<Self, FftError> {
        match plan {
            RealPlan::HalfComplex { n, half } => {
                let inner = Inner::new(half, vk, data)?;
                let h = n / 2;
                let post = data.push_per_lane(
                    vk,
                    (1..=(h / 2).max(1)).flat_map(|k| {
                        let (c, s) = w(k, *n);
                        [0.5 * c, 0.5 * s]
                    }),
                );
                Ok(RealFft { n: *n, inner, post: Some(post) })
            }
            RealPlan::Full { n, plan } => {
                Ok(RealFft { n: *n, inner: Inner::new(plan, vk, data)?, post: None })
            }
        }
    }

    /// The real length.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Bins produced: `n/2 + 1`.
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// Scratch points (each one vector of re and one of im) the transform needs.
    pub fn scratch_points(&self) -> usize {
        let z = if self.post.is_some() { self.inner.len() } else { 0 };
        z + self.inner.scratch_points()
    }

    /// Emits the transform of the natural-order frame at `x` (point `t` = one vector of taps
    /// `t`, `n` of them) into `y_re`/`y_im` (`spectrum_points()` points each). `scratch` holds
    /// `2·scratch_points()` vectors. With a `sink`, the bins go through its function into its
    /// buffers instead, and `y_re`/`y_im` are only workspace (odd n).
    #[allow(clippy::too_many_arguments)]
    pub fn emit(
        &self,
        e: &mut Emit<'_, '_>,
        addrs: &Addrs,
        x: Value,
        y_re: Value,
        y_im: Value,
        scratch: Value,
        sink: Option<&PowerSink<'_>>,
    ) {
        let Some(post) = self.post else {
            // Odd n: the full complex FFT of the real input; its first bins are the answer
            // (Direct plans write all n points, so y holds n points: see `spectrum_points`).
            let io = Io { in_re: x, in_im: None, in_stride: POINT, out_re: y_re, out_im: y_im };
            self.inner.emit(e, addrs, io, scratch);
            if let Some(s) = sink {
                let acc = e.b.declare_var(e.vk.ty());
                let z = e.splat(0.0);
                e.b.def_var(acc, z);
                e.counted_loop(self.bins(), |e, k| {
                    let off = e.b.ins().imul_imm_s(k, POINT);
                    let ar = e.b.ins().iadd(y_re, off);
                    let ai = e.b.ins().iadd(y_im, off);
                    let re = e.vload(ar, 0);
                    let im = e.vload(ai, 0);
                    let pw = (s.f)(e, re, im);
                    let d = e.b.ins().iadd(s.p, off);
                    e.vstore(pw, d, 0);
                    let a = e.b.use_var(acc);
                    let a = e.b.ins().fadd(a, pw);
                    e.b.def_var(acc, a);
                });
                let a = e.b.use_var(acc);
                e.vstore(a, s.sum, 0);
            }
            return;
        };
        let h = self.inner.len() as i64;
        let z_re = scratch;
        let z_im = e.b.ins().iadd_imm_s(scratch, h * POINT);
        let rest = e.b.ins().iadd_imm_s(scratch, 2 * h * POINT);
        let x_odd = e.b.ins().iadd_imm_s(x, POINT);
        let io = Io { in_re: x, in_im: Some(x_odd), in_stride: 2 * POINT, out_re: z_re, out_im: z_im };
        self.inner.emit(e, addrs, io, rest);
        // Post-twiddle: with E = (Z[k] + conj Z[h-k])/2 and O = -i(Z[k] - conj Z[h-k])/2,
        // X[k] = E + W^k·O and X[h-k] = conj(E - W^k·O).
        //
        // k = 0 pairs with itself: X[0] = Re + Im, X[h] = Re - Im (through the same formulas,
        // so the zeros' signs are those of the general case).
        let half = e.splat(0.5);
        let a = e.load(z_re, z_im, 0);
        let er = e.b.ins().fadd(a.re, a.re);
        let ei = e.b.ins().fsub(a.im, a.im);
        let dr = e.b.ins().fsub(a.re, a.re);
        let di = e.b.ins().fadd(a.im, a.im);
        let ndr = e.b.ins().fneg(dr);
        let x0 = {
            let r = e.b.ins().fadd(er, di);
            let i = e.b.ins().fadd(ei, ndr);
            C { re: e.b.ins().fmul(r, half), im: e.b.ins().fmul(i, half) }
        };
        let xh = {
            let r = e.b.ins().fsub(er, di);
            let i = e.b.ins().fsub(ndr, ei);
            C { re: e.b.ins().fmul(r, half), im: e.b.ins().fmul(i, half) }
        };
        let mut sums = None;
        match sink {
            None => {
                e.store(y_re, y_im, 0, x0);
                e.store(y_re, y_im, h * POINT, xh);
            }
            Some(s) => {
                let p0 = (s.f)(e, x0.re, x0.im);
                let ph = (s.f)(e, xh.re, xh.im);
                e.vstore(p0, s.p, 0);
                e.vstore(ph, s.p, h * POINT);
                sums = Some((p0, ph));
            }
        }
        if h < 2 {
            if let (Some(s), Some((p0, ph))) = (sink, sums) {
                let t = e.b.ins().fadd(p0, ph);
                e.vstore(t, s.sum, 0);
            }
            return;
        }
        // k = 1 ..= h/2 with k counting up and h - k down (the middle k = h/2 pairs with
        // itself and is written twice, the second time correctly). The ½ is folded into the
        // twiddles and into the final fma: X[k] = ½E' + (½W)·O', E' and O' unscaled, which
        // rounds exactly as the scaled formula.
        let tw = addrs.get(e.b, e.ptr, post);
        let lp = e.b.create_block();
        let exit = e.b.create_block();
        let vt = e.vk.ty();
        for ty in [e.ptr, e.ptr, vt, vt] {
            e.b.append_block_param(lp, ty);
        }
        let up0 = e.b.ins().iconst(e.ptr, POINT);
        let dn0 = e.b.ins().iconst(e.ptr, (h - 1) * POINT);
        let (s0, s1) = match sums {
            Some(p) => p,
            None => {
                let z = e.splat(0.0);
                (z, z)
            }
        };
        e.b.ins().jump(
            lp,
            &[BlockArg::Value(up0), BlockArg::Value(dn0), BlockArg::Value(s0), BlockArg::Value(s1)],
        );
        e.b.switch_to_block(lp);
        let ps = e.b.block_params(lp).to_vec();
        let (up, dn) = (ps[0], ps[1]);
        let ar = e.b.ins().iadd(z_re, up);
        let ai = e.b.ins().iadd(z_im, up);
        let a = C { re: e.vload(ar, 0), im: e.vload(ai, 0) };
        let cr = e.b.ins().iadd(z_re, dn);
        let ci = e.b.ins().iadd(z_im, dn);
        let c = C { re: e.vload(cr, 0), im: e.vload(ci, 0) };
        // E' = (a.re + c.re) + i(a.im - c.im); D = a - conj c = (a.re - c.re) + i(a.im + c.im).
        let er = e.b.ins().fadd(a.re, c.re);
        let ei = e.b.ins().fsub(a.im, c.im);
        let dr = e.b.ins().fsub(a.re, c.re);
        let di = e.b.ins().fadd(a.im, c.im);
        // ½W·O with O = -i·D = di - i·dr: re = di·c + dr·s, im = di·s - dr·c.
        let two = e.b.ins().iadd(up, up);
        let ta = e.b.ins().iadd(tw, two);
        let wc = e.vload_ro(ta, -2 * POINT);
        let ws = e.vload_ro(ta, -POINT);
        let drs = e.b.ins().fmul(dr, ws);
        let wo_re = e.mul_add(di, wc, drs);
        let drc = e.b.ins().fmul(dr, wc);
        let ndrc = e.b.ins().fneg(drc);
        let wo_im = e.mul_add(di, ws, ndrc);
        // X[k] = ½E' + ½W·O; X[h-k] = conj(½E' - ½W·O).
        let xr = e.mul_add(er, half, wo_re);
        let xi = e.mul_add(ei, half, wo_im);
        let nwo_re = e.b.ins().fneg(wo_re);
        let yr = e.mul_add(er, half, nwo_re);
        let nei = e.b.ins().fneg(ei);
        let yi = e.mul_add(nei, half, wo_im);
        let (n0, n1) = match sink {
            None => {
                let d = e.b.ins().iadd(y_re, dn);
                e.vstore(yr, d, 0);
                let d = e.b.ins().iadd(y_im, dn);
                e.vstore(yi, d, 0);
                let d = e.b.ins().iadd(y_re, up);
                e.vstore(xr, d, 0);
                let d = e.b.ins().iadd(y_im, up);
                e.vstore(xi, d, 0);
                (ps[2], ps[3])
            }
            Some(s) => {
                let pc = (s.f)(e, yr, yi);
                let d = e.b.ins().iadd(s.p, dn);
                e.vstore(pc, d, 0);
                let pk = (s.f)(e, xr, xi);
                let d = e.b.ins().iadd(s.p, up);
                e.vstore(pk, d, 0);
                (e.b.ins().fadd(ps[2], pk), e.b.ins().fadd(ps[3], pc))
            }
        };
        let up2 = e.b.ins().iadd_imm_s(up, POINT);
        let dn2 = e.b.ins().iadd_imm_s(dn, -POINT);
        let more = e.b.ins().icmp_imm_u(IntCC::SignedLessThanOrEqual, up2, (h / 2) * POINT);
        e.b.ins().brif(
            more,
            lp,
            &[BlockArg::Value(up2), BlockArg::Value(dn2), BlockArg::Value(n0), BlockArg::Value(n1)],
            exit,
            &[],
        );
        e.b.switch_to_block(exit);
        if let Some(s) = sink {
            let t = e.b.ins().fadd(n0, n1);
            e.vstore(t, s.sum, 0);
        }
    }

    /// Points the output buffers must hold: `bins()`, or `n` when odd n writes the whole
    /// complex transform.
    pub fn spectrum_points(&self) -> usize {
        if self.post.is_some() {
            self.bins()
        } else {
            self.n
        }
    }
}
