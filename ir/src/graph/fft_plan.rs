//! FFT plans for any length: the planner's decisions as plain data, a one-line printed form, and
//! an f64 executor.
//!
//! Code generation emits straight-line codelets only for a few small lengths, so every other
//! length has to be decomposed into those. Making the decomposition an explicit tree (rather than
//! a decision buried in a code generator) lets it appear in graph snapshots, where a reviewer can
//! see which algorithm a spec's `n_fft` ends up with, and lets the reference interpreter run the
//! *same* tree in f64: if [`execute_complex`] agrees with a naive DFT for a plan, the plan's
//! structure (factor order, twiddle indices, Rader's generator, Bluestein's chirp length) is
//! right, independently of how codegen later schedules it.
//!
//! This is the only place an FFT's decomposition is chosen: the `plan` pass calls
//! [`plan_real_for`] with the back end's [`FftTarget`] (crate::target), the plan is printed in
//! the graph, the interpreter runs it with [`execute_real`], and the JIT emits exactly its
//! factors (it only checks them against the same target, [`FftTarget::check`]). The decisions
//! follow RustFFT 6.4's planner, simplified to the codelets a target offers
//! (see `reference-and-ecosystem.md` §5.5), plus the target's measured cost rules:
//!
//! * a length with a codelet ([`FftTarget::codelets`]) is that codelet;
//! * a length with a prime factor without a codelet (above 7 on the JIT) is one Bluestein
//!   convolution of the whole length, of length `2^k` or `3·2^k` (what the JIT emits; RustFFT
//!   would use Rader for primes with smooth `p - 1` and nest them in mixed-radix chains, which
//!   our kernels do not do — the executor still runs [`ComplexPlan::Rader`] plans, and the
//!   tests keep it right);
//! * a length with a measured radix order ([`FftTarget::chain_orders`]: 1024 as 8·4·4·8 on the
//!   JIT) is that chain;
//! * any other (smooth) length is a flat mixed-radix (Cooley–Tukey) chain: its power-of-two part
//!   as digits of the widest power-of-two codelet (16), then one 8, 4 or 2 for the leftover (a
//!   leftover 2 after at least one 16 becomes 8·4, so no radix-2 pass appears unless the whole
//!   power of two is 2), followed by its odd prime factors in ascending order; then every digit
//!   wider than [`FftTarget::max_pass_radix`] (8 on the JIT, where a radix-16 butterfly
//!   spills) is split into radix-4 passes. A lone codelet of 16 stays one codelet.
//!
//! Real input of even length uses the half-length complex FFT plus a post-twiddle pass
//! (realfft's trick, about twice as fast); odd lengths transform the real input as complex.

use num_complex::Complex64;
use std::f64::consts::FRAC_PI_2;
use std::fmt;

use crate::target::{FftTarget, Target};

/// A plan for a complex DFT of length n (forward, `e^{-2πi jk/n}`, unnormalised).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ComplexPlan {
    /// A straight-line codelet of this length (one the target offers, [`FftTarget::codelets`]).
    Codelet(usize),
    /// Cooley–Tukey decimation in time over `n = r₀·r₁·…`, factors outermost first. The first
    /// factor splits the input into `r₀` interleaved subsequences, each transformed by the rest
    /// of the chain; then `n/r₀` butterflies of the first factor's plan combine them, each input
    /// pre-multiplied by the twiddle `W_n^{s·k}`. Factors are codelets or Rader/Bluestein
    /// sub-plans for prime factors above 7; the planner never nests a `MixedRadix` directly
    /// inside another (it would only hide the flat factorization), though the executor allows it.
    MixedRadix {
        /// The factors, outermost (first split) first; their sizes multiply to the length.
        factors: Vec<ComplexPlan>,
    },
    /// Rader's algorithm for a prime `n`: reordering the inputs and outputs by powers of a
    /// primitive root turns the DFT of the nonzero indices into an `(n-1)`-point cyclic
    /// convolution, done with `inner` (forward transforms of both operands and an inverse one).
    Rader {
        /// The prime length.
        n: usize,
        /// The plan for length `n - 1`.
        inner: Box<ComplexPlan>,
    },
    /// Bluestein's algorithm for a prime `n` whose `n - 1` is not smooth: `jk = (j² + k² -
    /// (k-j)²)/2` turns the DFT into a chirp-multiplied linear convolution, done as a cyclic one
    /// of length `m >= 2n - 1` with `inner`.
    Bluestein {
        /// The transform length.
        n: usize,
        /// The convolution length (`2^k` or `3·2^k`, the smallest such `>= 2n - 1`).
        m: usize,
        /// The plan for length `m`.
        inner: Box<ComplexPlan>,
    },
}

/// A plan for the real-input DFT that returns bins `0..=n/2`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RealPlan {
    /// Even `n`: the input packed as `n/2` complex pairs `x[2j] + i·x[2j+1]`, one complex FFT of
    /// `n/2`, then a post-twiddle pass separating the even and odd halves.
    HalfComplex {
        /// The real length.
        n: usize,
        /// The plan for length `n / 2`.
        half: ComplexPlan,
    },
    /// Odd `n` (including 1): the full complex FFT of the real input, keeping bins `0..=n/2`.
    Full {
        /// The real length.
        n: usize,
        /// The plan for length `n`.
        plan: ComplexPlan,
    },
}

impl ComplexPlan {
    /// The transform length.
    pub fn size(&self) -> usize {
        match self {
            ComplexPlan::Codelet(n) => *n,
            ComplexPlan::MixedRadix { factors } => factors.iter().map(ComplexPlan::size).product(),
            ComplexPlan::Rader { n, .. } | ComplexPlan::Bluestein { n, .. } => *n,
        }
    }

    /// Nesting depth of the plan tree (a codelet is 1); bounds the executor's and codegen's
    /// recursion.
    pub fn depth(&self) -> usize {
        match self {
            ComplexPlan::Codelet(_) => 1,
            ComplexPlan::MixedRadix { factors } => {
                1 + factors.iter().map(ComplexPlan::depth).max().unwrap_or(0)
            }
            ComplexPlan::Rader { inner, .. } | ComplexPlan::Bluestein { inner, .. } => 1 + inner.depth(),
        }
    }

    /// The body of the printed form, without the leading `complex n`.
    fn fmt_body(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComplexPlan::Codelet(n) => write!(f, "[{n}]"),
            ComplexPlan::MixedRadix { factors } => {
                f.write_str("[")?;
                for (i, factor) in factors.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" x ")?;
                    }
                    match factor {
                        ComplexPlan::Codelet(r) => write!(f, "{r}")?,
                        other => other.fmt_body(f)?,
                    }
                }
                f.write_str("]")
            }
            ComplexPlan::Rader { n, inner } => {
                write!(f, "Rader({n}, {} = ", inner.size())?;
                inner.fmt_body(f)?;
                f.write_str(")")
            }
            ComplexPlan::Bluestein { n, m, inner } => {
                write!(f, "Bluestein({n}, {m} = ")?;
                inner.fmt_body(f)?;
                f.write_str(")")
            }
        }
    }
}

impl RealPlan {
    /// The real input length.
    pub fn size(&self) -> usize {
        match self {
            RealPlan::HalfComplex { n, .. } | RealPlan::Full { n, .. } => *n,
        }
    }
}

/// One line: `complex N BODY`, where a body is `[r₀ x r₁ x …]` (codelet radices, outermost first),
/// `Rader(p, p-1 = BODY)` or `Bluestein(p, m = BODY)`; e.g.
/// `complex 511 [7 x Rader(73, 72 = [8 x 3 x 3])]`.
impl fmt::Display for ComplexPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "complex {} ", self.size())?;
        self.fmt_body(f)
    }
}

/// One line: `real N = half N/2 BODY + post-twiddle` or `real N = complex N BODY`.
impl fmt::Display for RealPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RealPlan::HalfComplex { n, half } => {
                write!(f, "real {n} = half {} ", half.size())?;
                half.fmt_body(f)?;
                f.write_str(" + post-twiddle")
            }
            RealPlan::Full { n, plan } => write!(f, "real {n} = {plan}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------------------------

/// Plans a complex DFT of length `n` for the crate's back end ([`Target::CRANELIFT`]).
///
/// # Panics
/// If `n == 0`.
pub fn plan_complex(n: usize) -> ComplexPlan {
    plan_complex_for(n, &Target::CRANELIFT.fft)
}

/// Plans the real-input DFT of length `n` for the crate's back end ([`Target::CRANELIFT`]).
///
/// # Panics
/// If `n == 0`.
pub fn plan_real(n: usize) -> RealPlan {
    plan_real_for(n, &Target::CRANELIFT.fft)
}

/// Plans a complex DFT of length `n` from what `target` offers (see the module docs for the
/// rules).
///
/// # Panics
/// If `n == 0`, or the target lacks the codelets every plan needs (2, 3, 4 and 8).
pub fn plan_complex_for(n: usize, target: &FftTarget) -> ComplexPlan {
    assert!(n >= 1, "an FFT needs a length of at least 1");
    assert!(
        [2, 3, 4, 8].iter().all(|r| target.codelets.contains(r)),
        "an FFT target needs codelets 2, 3, 4 and 8"
    );
    if target.codelets.contains(&n) {
        return ComplexPlan::Codelet(n);
    }
    let primes = factorize(n);
    if primes.iter().any(|&(p, _)| !target.codelets.contains(&p)) {
        // One Bluestein convolution over the whole length: the JIT emits it as two inline
        // power-of-two (or 3·2^k) FFTs, where a Rader or Bluestein factor nested inside a
        // mixed-radix chain would need a strided sub-transform per butterfly.
        let m = bluestein_length(n);
        return ComplexPlan::Bluestein { n, m, inner: Box::new(plan_complex_for(m, target)) };
    }
    let radices = match target.chain_orders.iter().find(|(len, _)| *len == n) {
        Some((_, order)) => {
            debug_assert_eq!(order.iter().product::<usize>(), n, "a measured order multiplies to its length");
            order.to_vec()
        }
        None => {
            let mut digits: Vec<usize> = Vec::new();
            for (p, e) in primes {
                if p == 2 {
                    digits.extend(power_of_two_digits(e, target.max_codelet()));
                } else {
                    digits.extend((0..e).map(|_| p));
                }
            }
            // Only a codelet length yields a single digit, and it returned above, so this is a
            // chain: digits wider than a pass split into radix-4 passes.
            debug_assert!(digits.len() >= 2);
            digits.into_iter().flat_map(|r| split_pass(r, target.max_pass_radix)).collect()
        }
    };
    ComplexPlan::MixedRadix { factors: radices.into_iter().map(ComplexPlan::Codelet).collect() }
}

/// Plans the real-input DFT of length `n` from what `target` offers: the half-length complex
/// plan for even `n` (realfft's trick: about half the work of the full transform, and every
/// back end emits its post-twiddle), the full complex plan for odd `n`.
///
/// # Panics
/// As [`plan_complex_for`].
pub fn plan_real_for(n: usize, target: &FftTarget) -> RealPlan {
    assert!(n >= 1, "an FFT needs a length of at least 1");
    if n.is_multiple_of(2) {
        RealPlan::HalfComplex { n, half: plan_complex_for(n / 2, target) }
    } else {
        RealPlan::Full { n, plan: plan_complex_for(n, target) }
    }
}

/// Power-of-two digits of `2^e` with the widest power-of-two codelet `2^b <= max_codelet`: as
/// many `2^b` as fit (fewest passes), then the leftover; a leftover single 2 after at least one
/// digit turns that digit into `2^(b-1)·4`, so no radix-2 pass appears unless `2^e == 2`.
fn power_of_two_digits(e: u32, max_codelet: usize) -> Vec<usize> {
    let b = max_codelet.max(2).ilog2();
    let mut digits = vec![1usize << b; (e / b) as usize];
    match (e % b, digits.is_empty()) {
        (0, _) => {}
        (1, false) if b >= 3 => {
            digits.pop();
            digits.extend([1 << (b - 1), 4]);
        }
        (rest, _) => digits.push(1 << rest),
    }
    digits
}

/// A chain pass of power-of-two radix `r` wider than `max_pass` as radix-4 passes (and one
/// radix 2 for an odd exponent); other radices unchanged.
fn split_pass(r: usize, max_pass: usize) -> Vec<usize> {
    if r <= max_pass || !r.is_power_of_two() {
        return vec![r];
    }
    let k = r.ilog2();
    let mut passes = vec![4; (k / 2) as usize];
    if k % 2 == 1 {
        passes.push(2);
    }
    passes
}

/// The smallest `2^k` or `3·2^k` that is at least `2n - 1` (RustFFT's choice): both are made of
/// codelet radices only, and `3·2^k` saves up to a quarter of the work when it fits.
fn bluestein_length(n: usize) -> usize {
    let need = 2 * n - 1;
    let pow2 = need.next_power_of_two();
    let three_quarters = pow2 / 4 * 3;
    if three_quarters >= need {
        three_quarters
    } else {
        pow2
    }
}

/// Prime factorization by trial division, ascending, as (prime, exponent); fine for FFT lengths.
fn factorize(mut n: usize) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let mut p = 2;
    while p * p <= n {
        if n.is_multiple_of(p) {
            let mut e = 0;
            while n.is_multiple_of(p) {
                n /= p;
                e += 1;
            }
            out.push((p, e));
        }
        p += if p == 2 { 1 } else { 2 };
    }
    if n > 1 {
        out.push((n, 1));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Execution (f64 reference)
// ---------------------------------------------------------------------------------------------

/// Runs `plan` on `data` in place (forward, unnormalised).
///
/// This executes the plan's own structure — codelets as direct small DFTs, mixed-radix steps as
/// decimation-in-time butterflies with twiddles, Rader and Bluestein as FFT convolutions through
/// their inner plans — so agreement with a naive DFT validates the plan. It allocates scratch
/// freely; it is the oracle, not the fast path.
///
/// # Panics
/// If `data.len()` is not the plan's length, or the plan is malformed (a Rader inner length other
/// than `n - 1`, a Bluestein `m` below `2n - 1` or different from its inner length).
pub fn execute_complex(plan: &ComplexPlan, data: &mut [Complex64]) {
    assert_eq!(data.len(), plan.size(), "FFT data length does not match the plan");
    let input = data.to_vec();
    run(plan, &input, 1, data);
}

/// Runs a real-input plan: `input` has the plan's length `n`, `out` receives bins `0..=n/2`.
///
/// # Panics
/// If the lengths do not match the plan, or the inner plan's length does not match `n`.
pub fn execute_real(plan: &RealPlan, input: &[f64], out: &mut [Complex64]) {
    let n = plan.size();
    assert_eq!(input.len(), n, "real FFT input length does not match the plan");
    assert_eq!(out.len(), n / 2 + 1, "real FFT output must hold n/2 + 1 bins");
    match plan {
        RealPlan::Full { plan, .. } => {
            assert_eq!(plan.size(), n, "full real plan needs an inner plan of length n");
            let mut buf: Vec<Complex64> = input.iter().map(|&x| Complex64::new(x, 0.0)).collect();
            execute_complex(plan, &mut buf);
            out.copy_from_slice(&buf[..=n / 2]);
        }
        RealPlan::HalfComplex { half, .. } => {
            let h = n / 2;
            assert!(
                n.is_multiple_of(2) && half.size() == h,
                "half-complex plan needs even n and an n/2 plan"
            );
            let mut z: Vec<Complex64> =
                input.chunks_exact(2).map(|pair| Complex64::new(pair[0], pair[1])).collect();
            execute_complex(half, &mut z);
            let tw = table(n);
            // With z = e + i·o (e, o the even and odd samples), E_k = (Z_k + conj Z_{h-k}) / 2 and
            // O_k = (Z_k - conj Z_{h-k}) / 2i are their h-point DFTs; X_k = E_k + W_n^k · O_k.
            for (k, bin) in out.iter_mut().enumerate() {
                let a = z[k % h];
                let b = z[(h - k % h) % h].conj();
                let even = (a + b) * 0.5;
                let odd = (a - b) * Complex64::new(0.0, -0.5);
                *bin = even + tw[k % n] * odd;
            }
        }
    }
}

/// `out[k] = Σ_j input[j·stride] · W_N^{jk}` for the plan's length `N == out.len()`.
fn run(plan: &ComplexPlan, input: &[Complex64], stride: usize, out: &mut [Complex64]) {
    match plan {
        ComplexPlan::Codelet(r) => codelet(*r, input, stride, out),
        ComplexPlan::MixedRadix { factors } => run_factors(factors, input, stride, out),
        ComplexPlan::Rader { n, inner } => rader(*n, inner, input, stride, out),
        ComplexPlan::Bluestein { n, m, inner } => bluestein(*n, *m, inner, input, stride, out),
    }
}

/// A codelet stands for a straight-line small DFT; the reference computes that DFT directly.
fn codelet(r: usize, input: &[Complex64], stride: usize, out: &mut [Complex64]) {
    let tw = table(r);
    for (k, o) in out.iter_mut().enumerate() {
        *o = (0..r).map(|j| input[j * stride] * tw[(j * k) % r]).sum();
    }
}

/// One decimation-in-time step for `factors[0] = r`, `m = n / r`:
/// `X[k + m·k₁] = Σ_s W_r^{s·k₁} · (W_n^{s·k} · Y_s[k])`, where `Y_s` is the `m`-point DFT (the
/// rest of the chain) of the subsequence `x[r·j + s]`.
fn run_factors(factors: &[ComplexPlan], input: &[Complex64], stride: usize, out: &mut [Complex64]) {
    let Some((first, rest)) = factors.split_first() else {
        // An empty chain is the length-1 transform.
        out[0] = input[0];
        return;
    };
    if rest.is_empty() {
        return run(first, input, stride, out);
    }
    let n = out.len();
    let r = first.size();
    let m = n / r;
    let mut sub = vec![Complex64::default(); n];
    for (s, y) in sub.chunks_exact_mut(m).enumerate() {
        run_factors(rest, &input[s * stride..], r * stride, y);
    }
    let mut column = vec![Complex64::default(); r];
    let mut butterfly = vec![Complex64::default(); r];
    let tw = table(n);
    for k in 0..m {
        for (s, c) in column.iter_mut().enumerate() {
            *c = sub[s * m + k] * tw[(s * k) % n];
        }
        run(first, &column, 1, &mut butterfly);
        for (k1, &b) in butterfly.iter().enumerate() {
            out[k + m * k1] = b;
        }
    }
}

/// Rader for prime `p`, with `g` a primitive root: `X[0] = Σ x`, and for `l in 0..p-1`,
/// `X[g^l] = x[0] + Σ_q x[g^{-q}] · W_p^{g^{l-q}}`, a cyclic convolution of length `p - 1`.
fn rader(p: usize, inner: &ComplexPlan, input: &[Complex64], stride: usize, out: &mut [Complex64]) {
    let len = p - 1;
    assert_eq!(inner.size(), len, "Rader's inner plan must have length n - 1");
    let g = primitive_root(p);
    let g_inv = pow_mod(g, p - 2, p);
    let x0 = input[0];
    let mut a = vec![Complex64::default(); len];
    let mut c = vec![Complex64::default(); len];
    let (mut down, mut up) = (1, 1);
    let tw = table(p);
    for (a_q, c_q) in a.iter_mut().zip(&mut c) {
        *a_q = input[down * stride];
        *c_q = tw[up];
        down = mul_mod(down, g_inv, p);
        up = mul_mod(up, g, p);
    }
    let conv = cyclic_convolution(inner, &a, &c);
    out[0] = x0 + a.iter().sum::<Complex64>();
    let mut idx = 1;
    for v in conv {
        out[idx] = x0 + v;
        idx = mul_mod(idx, g, p);
    }
}

/// Bluestein with the chirp `h_j = e^{-πi j²/n}`: `X[k] = h_k · Σ_j (x_j h_j) · conj(h_{k-j})`,
/// the linear convolution computed cyclically over `m >= 2n - 1` points so it does not wrap.
fn bluestein(
    n: usize,
    m: usize,
    inner: &ComplexPlan,
    input: &[Complex64],
    stride: usize,
    out: &mut [Complex64],
) {
    assert!(m >= 2 * n - 1 && inner.size() == m, "Bluestein needs m >= 2n - 1 and an m-point plan");
    // e^{-πi j²/n} = W_{2n}^{j² mod 2n}: reducing the exponent exactly keeps the angle small.
    let tw = table(2 * n);
    let chirp: Vec<Complex64> = (0..n).map(|j| tw[mul_mod(j, j, 2 * n)]).collect();
    let mut a = vec![Complex64::default(); m];
    let mut b = vec![Complex64::default(); m];
    for (j, &h) in chirp.iter().enumerate() {
        a[j] = input[j * stride] * h;
        b[j] = h.conj();
        if j > 0 {
            b[m - j] = h.conj();
        }
    }
    let conv = cyclic_convolution(inner, &a, &b);
    for ((o, &h), v) in out.iter_mut().zip(&chirp).zip(conv) {
        *o = h * v;
    }
}

/// The forward transform of `x` through `plan`, out of place.
fn forward(plan: &ComplexPlan, x: &[Complex64]) -> Vec<Complex64> {
    let mut out = vec![Complex64::default(); x.len()];
    run(plan, x, 1, &mut out);
    out
}

/// Cyclic convolution `(a ⊛ b)[l] = Σ_q a[q] b[l-q]` via `plan`: forward both, multiply, and
/// invert as `conj(FFT(conj(·))) / len`, so only forward plans are ever needed.
fn cyclic_convolution(plan: &ComplexPlan, a: &[Complex64], b: &[Complex64]) -> Vec<Complex64> {
    let len = a.len();
    let fa = forward(plan, a);
    let fb = forward(plan, b);
    let product: Vec<Complex64> = fa.iter().zip(&fb).map(|(x, y)| (x * y).conj()).collect();
    let scale = 1.0 / len as f64;
    forward(plan, &product).into_iter().map(|v| v.conj() * scale).collect()
}

/// All `n` twiddles `W_n^e`, computed once per length and thread: the interpreter runs the same
/// plan for every frame, and recomputing `sin_cos` per butterfly dominated its time.
fn table(n: usize) -> std::rc::Rc<Vec<Complex64>> {
    thread_local! {
        static TABLES: std::cell::RefCell<std::collections::HashMap<usize, std::rc::Rc<Vec<Complex64>>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    TABLES.with(|t| {
        t.borrow_mut()
            .entry(n)
            .or_insert_with(|| std::rc::Rc::new((0..n).map(|e| twiddle(e, n)).collect()))
            .clone()
    })
}

/// `W_n^e = e^{-2πi e/n}`, from the exponent reduced mod `n` and folded into the first half
/// quadrant, so the angle passed to `sin_cos` is at most π/4 and quarter turns are exact.
pub(crate) fn twiddle(e: usize, n: usize) -> Complex64 {
    let e = e % n;
    // 4e/n = quadrant + rem/n, rem in [0, n): the angle is quadrant·π/2 + (π/2)·rem/n.
    let four_e = 4 * e as u128;
    let quadrant = (four_e / n as u128) as u32;
    let rem = (four_e % n as u128) as f64;
    let nf = n as f64;
    let (c, s) = if 2.0 * rem <= nf {
        let (s, c) = (FRAC_PI_2 * rem / nf).sin_cos();
        (c, s)
    } else {
        // cos φ = sin(π/2 - φ), computed from the small complementary angle.
        let (s, c) = (FRAC_PI_2 * (nf - rem) / nf).sin_cos();
        (s, c)
    };
    // e^{+iθ} = i^quadrant · (c + i s); the forward twiddle is its conjugate.
    let (re, im) = match quadrant {
        0 => (c, s),
        1 => (-s, c),
        2 => (-c, -s),
        _ => (s, -c),
    };
    Complex64::new(re, -im)
}

fn mul_mod(a: usize, b: usize, m: usize) -> usize {
    (a as u128 * b as u128 % m as u128) as usize
}

fn pow_mod(mut base: usize, mut exp: usize, m: usize) -> usize {
    let mut acc = 1 % m;
    base %= m;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul_mod(acc, base, m);
        }
        base = mul_mod(base, base, m);
        exp >>= 1;
    }
    acc
}

/// The smallest primitive root of the prime `p`: `g` whose powers `g^((p-1)/q)` differ from 1 for
/// every prime `q | p - 1`.
fn primitive_root(p: usize) -> usize {
    let qs = factorize(p - 1);
    // For p == 2 the range is empty, and 1 generates the one nonzero residue.
    (2..p).find(|&g| qs.iter().all(|&(q, _)| pow_mod(g, (p - 1) / q, p) != 1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustfft::FftPlanner;

    /// A tiny LCG (Knuth's MMIX constants) giving values in [-1, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    fn naive_dft(x: &[Complex64]) -> Vec<Complex64> {
        let n = x.len();
        (0..n).map(|k| x.iter().enumerate().map(|(j, &v)| v * twiddle(j * k, n)).sum()).collect()
    }

    /// The oracle: a naive O(n²) DFT with exact twiddles up to 600 points, RustFFT above.
    fn oracle(x: &[Complex64]) -> Vec<Complex64> {
        if x.len() <= 600 {
            naive_dft(x)
        } else {
            let mut y = x.to_vec();
            FftPlanner::new().plan_fft_forward(x.len()).process(&mut y);
            y
        }
    }

    /// Tolerance: 1e-12 · sqrt(n) · max|x|, absolute, per bin. A stable FFT's error per bin is
    /// about eps · log2(n) · ‖x‖₂ <= eps · log2(n) · sqrt(n) · max|x|, with eps ≈ 1.1e-16; Rader and
    /// Bluestein add a few transforms' worth. For the n here (log2 n <= 17) that is below
    /// 2e-15 · sqrt(n) · max|x|, so the bound leaves a margin of more than two orders of magnitude
    /// while still catching any wrong twiddle or index (those give errors of order max|x|).
    fn tolerance(n: usize, max_abs: f64) -> f64 {
        1e-12 * (n as f64).sqrt() * max_abs
    }

    fn assert_close(what: &str, n: usize, got: &[Complex64], want: &[Complex64], max_abs: f64) {
        assert_eq!(got.len(), want.len(), "{what} n={n}: length");
        let tol = tolerance(n, max_abs);
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            let err = (g - w).norm();
            assert!(err <= tol, "{what} n={n} bin {k}: got {g}, want {w}, error {err:e} > {tol:e}");
        }
    }

    fn check_length(n: usize, rng: &mut Lcg) {
        let x: Vec<Complex64> = (0..n).map(|_| Complex64::new(rng.next(), rng.next())).collect();
        let max_abs = x.iter().map(|v| v.norm()).fold(0.0, f64::max);
        let plan = plan_complex(n);
        let mut got = x.clone();
        execute_complex(&plan, &mut got);
        assert_close(&plan.to_string(), n, &got, &oracle(&x), max_abs);

        let xr: Vec<f64> = (0..n).map(|_| rng.next()).collect();
        let max_abs = xr.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let plan = plan_real(n);
        let mut got = vec![Complex64::default(); n / 2 + 1];
        execute_real(&plan, &xr, &mut got);
        let full = oracle(&xr.iter().map(|&v| Complex64::new(v, 0.0)).collect::<Vec<_>>());
        assert_close(&plan.to_string(), n, &got, &full[..=n / 2], max_abs);
    }

    #[test]
    fn fft_plan_matches_dft_for_every_length_up_to_512() {
        let mut rng = Lcg(0x5eed);
        for n in 1..=512 {
            check_length(n, &mut rng);
        }
    }

    #[test]
    fn fft_plan_matches_dft_for_selected_lengths() {
        let mut rng = Lcg(0xfeed_f00d);
        for n in [1000, 1024, 1536, 2039, 2048, 2205, 4096, 400, 511, 257, 509, 1019, 65537] {
            check_length(n, &mut rng);
        }
    }

    /// The planner no longer picks Rader, but the executor keeps running such plans right.
    #[test]
    fn fft_plan_rader_plans_still_execute() {
        let mut rng = Lcg(0xabc);
        for (p, inner) in [(257, 256), (11, 10), (73, 72)] {
            let plan = ComplexPlan::Rader { n: p, inner: Box::new(plan_complex(inner)) };
            let x: Vec<Complex64> = (0..p).map(|_| Complex64::new(rng.next(), rng.next())).collect();
            let mut got = x.clone();
            execute_complex(&plan, &mut got);
            let want = oracle(&x);
            let max_abs = x.iter().fold(0f64, |m, v| m.max(v.norm()));
            assert_close(&plan.to_string(), p, &got, &want, max_abs);
        }
    }

    #[test]
    fn fft_plan_display_is_stable() {
        let cases = [
            (
                2048,
                "complex 2048 [4 x 4 x 4 x 4 x 8]",
                "real 2048 = half 1024 [8 x 4 x 4 x 8] + post-twiddle",
            ),
            (400, "complex 400 [4 x 4 x 5 x 5]", "real 400 = half 200 [8 x 5 x 5] + post-twiddle"),
            (1000, "complex 1000 [8 x 5 x 5 x 5]", "real 1000 = half 500 [4 x 5 x 5 x 5] + post-twiddle"),
            (
                1536,
                "complex 1536 [4 x 4 x 8 x 4 x 3]",
                "real 1536 = half 768 [4 x 4 x 4 x 4 x 3] + post-twiddle",
            ),
            (2205, "complex 2205 [3 x 3 x 5 x 7 x 7]", "real 2205 = complex 2205 [3 x 3 x 5 x 7 x 7]"),
            (
                2039,
                "complex 2039 Bluestein(2039, 4096 = [4 x 4 x 4 x 4 x 4 x 4])",
                "real 2039 = complex 2039 Bluestein(2039, 4096 = [4 x 4 x 4 x 4 x 4 x 4])",
            ),
            (
                511,
                "complex 511 Bluestein(511, 1024 = [8 x 4 x 4 x 8])",
                "real 511 = complex 511 Bluestein(511, 1024 = [8 x 4 x 4 x 8])",
            ),
        ];
        for (n, complex, real) in cases {
            assert_eq!(plan_complex(n).to_string(), complex);
            assert_eq!(plan_real(n).to_string(), real);
        }
        assert_eq!(plan_real(1).to_string(), "real 1 = complex 1 [1]");
        assert_eq!(plan_real(2).to_string(), "real 2 = half 1 [1] + post-twiddle");
        assert_eq!(plan_complex(16).to_string(), "complex 16 [16]");
        assert_eq!(plan_complex(32).to_string(), "complex 32 [8 x 4]");
        assert_eq!(plan_complex(512).to_string(), "complex 512 [4 x 4 x 8 x 4]");
        assert_eq!(
            plan_complex(2038).to_string(),
            "complex 2038 Bluestein(2038, 4096 = [4 x 4 x 4 x 4 x 4 x 4])"
        );
        assert_eq!(plan_complex(23).to_string(), "complex 23 Bluestein(23, 48 = [4 x 4 x 3])");
    }

    /// The target drives the plan: with radix-16 passes allowed and no measured orders, the
    /// rule-based chains keep their 16s; with only codelets up to 8, 16 is never a digit.
    #[test]
    fn fft_plan_follows_the_target() {
        let wide = FftTarget { max_pass_radix: 16, chain_orders: &[], ..Target::CRANELIFT.fft };
        assert_eq!(
            plan_real_for(2048, &wide).to_string(),
            "real 2048 = half 1024 [16 x 16 x 4] + post-twiddle"
        );
        assert_eq!(plan_complex_for(400, &wide).to_string(), "complex 400 [16 x 5 x 5]");
        let small = FftTarget { codelets: &[1, 2, 3, 4, 5, 8], max_pass_radix: 8, chain_orders: &[] };
        assert_eq!(plan_complex_for(1024, &small).to_string(), "complex 1024 [8 x 8 x 4 x 4]");
        assert_eq!(plan_complex_for(7, &small).to_string(), "complex 7 Bluestein(7, 16 = [4 x 4])");
        assert_eq!(plan_complex_for(16, &small).to_string(), "complex 16 [4 x 4]");
        for n in 1..=300 {
            for t in [&wide, &small] {
                let plan = plan_complex_for(n, t);
                assert_eq!(plan.size(), n);
                t.check(&plan).unwrap_or_else(|e| panic!("{plan}: {e}"));
            }
        }
    }

    /// Checks the planner's invariants: sizes multiply out, inner lengths are right, codelets are
    /// from the emitted set, mixed-radix chains are flat.
    fn check_structure(plan: &ComplexPlan) {
        match plan {
            ComplexPlan::Codelet(r) => assert!(Target::CRANELIFT.fft.codelets.contains(r), "codelet {r}"),
            ComplexPlan::MixedRadix { factors } => {
                assert!(factors.len() >= 2, "{plan}");
                for f in factors {
                    assert!(!matches!(f, ComplexPlan::MixedRadix { .. }), "nested chain in {plan}");
                    assert!(f.size() > 1, "{plan}");
                    check_structure(f);
                }
            }
            ComplexPlan::Rader { n, inner } => {
                assert_eq!(inner.size(), n - 1, "{plan}");
                check_structure(inner);
            }
            ComplexPlan::Bluestein { n, m, inner } => {
                assert!(*m >= 2 * n - 1 && inner.size() == *m, "{plan}");
                check_structure(inner);
            }
        }
    }

    #[test]
    fn fft_plan_never_panics_and_stays_shallow_up_to_2_pow_20() {
        let sample = (1..=70_000).chain((70_001..=1 << 20).step_by(997)).chain([
            65537,
            65521,
            131071,
            524287,
            1048573,
            1048571,
            1 << 20,
            (1 << 20) - 1,
            786432,
        ]);
        let mut deepest = (0, 0);
        for n in sample {
            let plan = plan_complex(n);
            assert_eq!(plan.size(), n);
            check_structure(&plan);
            Target::CRANELIFT.fft.check(&plan).unwrap_or_else(|e| panic!("{plan}: {e}"));
            deepest = deepest.max((plan.depth(), n));
            let real = plan_real(n);
            assert_eq!(real.size(), n);
        }
        // Bluestein's inner lengths are 2^k or 3·2^k: at most Bluestein -> chain -> codelet.
        assert!(deepest.0 <= 3, "plan for {} has depth {}", deepest.1, deepest.0);
    }

    #[test]
    fn fft_plan_twiddles_are_exact_at_quarter_turns() {
        assert_eq!(twiddle(0, 8), Complex64::new(1.0, 0.0));
        assert_eq!(twiddle(2, 8), Complex64::new(0.0, -1.0));
        assert_eq!(twiddle(4, 8), Complex64::new(-1.0, 0.0));
        assert_eq!(twiddle(6, 8), Complex64::new(0.0, 1.0));
        assert_eq!(twiddle(13, 8), twiddle(5, 8));
        for (e, n) in [(1, 7), (3, 16), (5, 12), (1000, 4093)] {
            let want = Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * e as f64 / n as f64);
            assert!((twiddle(e, n) - want).norm() < 4e-16, "W_{n}^{e}");
        }
    }
}
