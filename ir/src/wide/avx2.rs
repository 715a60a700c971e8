//! The intrinsics layer: AVX2+FMA kernels over blocks of 8 frames, one frame per lane of a
//! `__m256`, split re/im (point `j` of a buffer is the 8 floats at `j·8` of its re array and
//! the 8 at `j·8` of its im array).
//!
//! The entry points (`chain`, `post_twiddle`) and the loops they run (`leaves`, `combine`) are
//! `#[target_feature(enable = "avx2,fma")] unsafe fn`s whose callers promise the buffer extents
//! stated in their `# Safety` sections. The only caller is the safe wrapper in the parent
//! module, which checks the sizes and holds an [`Avx2`](super::Avx2) token proving the CPU has
//! the features. The small helpers (arithmetic, loads, codelets) are `#[inline(always)] unsafe
//! fn`s without target features of their own, so they are always inlined into those loops (a
//! `#[target_feature]` helper is only `#[inline]`, and LLVM kept the odd-radix codelet out of
//! line, passing its points through the stack); their one safety condition beyond any stated is
//! that they run inside an `avx2,fma` function, which is true of every call site here.
//!
//! The transform is the plan's decimation in time, run depth-first: [`chain`] transforms the
//! `r₀` interleaved subsequences one after the other (each recursively, so a sub-transform's
//! points stay in L1 while its own passes run), then combines them with one pass of radix `r₀`
//! in place. The innermost level reads its points straight from the input at their stride, so
//! the digit-reversal permutation costs no pass of its own.

use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_fmsub_ps, _mm256_fnmadd_ps, _mm256_loadu_ps,
    _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps, _mm256_sub_ps,
};

use super::{Level, LANES};

/// One point of 8 frames: 8 real parts and 8 imaginary parts.
#[derive(Clone, Copy)]
struct C {
    re: __m256,
    im: __m256,
}

#[inline(always)]
unsafe fn zero() -> C {
    C { re: _mm256_setzero_ps(), im: _mm256_setzero_ps() }
}

#[inline(always)]
unsafe fn add(a: C, b: C) -> C {
    C { re: _mm256_add_ps(a.re, b.re), im: _mm256_add_ps(a.im, b.im) }
}

#[inline(always)]
unsafe fn sub(a: C, b: C) -> C {
    C { re: _mm256_sub_ps(a.re, b.re), im: _mm256_sub_ps(a.im, b.im) }
}

/// `a · (wr + i·wi)` with the twiddle broadcast to every lane.
#[inline(always)]
unsafe fn cmul(a: C, wr: __m256, wi: __m256) -> C {
    C {
        re: _mm256_fmsub_ps(a.re, wr, _mm256_mul_ps(a.im, wi)),
        im: _mm256_fmadd_ps(a.re, wi, _mm256_mul_ps(a.im, wr)),
    }
}

/// `-i·a`.
#[inline(always)]
unsafe fn mul_neg_i(a: C) -> C {
    C { re: a.im, im: _mm256_sub_ps(_mm256_setzero_ps(), a.re) }
}

/// Loads point `j` (8 frames) of the split buffers `re`/`im`.
///
/// # Safety
/// `re` and `im` must be valid for reads of `(j + 1)·8` floats.
#[inline(always)]
unsafe fn load(re: *const f32, im: *const f32, j: usize) -> C {
    // SAFETY: the caller guarantees both arrays hold point `j` (8 floats at `j·8`); the loads
    // are unaligned.
    unsafe { C { re: _mm256_loadu_ps(re.add(j * LANES)), im: _mm256_loadu_ps(im.add(j * LANES)) } }
}

/// Stores `v` as point `j` of the split buffers `re`/`im`.
///
/// # Safety
/// `re` and `im` must be valid for writes of `(j + 1)·8` floats.
#[inline(always)]
unsafe fn store(re: *mut f32, im: *mut f32, j: usize, v: C) {
    // SAFETY: as `load`, for writes.
    unsafe {
        _mm256_storeu_ps(re.add(j * LANES), v.re);
        _mm256_storeu_ps(im.add(j * LANES), v.im);
    }
}

// Odd-radix constants: cos and sin of 2πm/r for m in 0..r, symmetric by construction.
const C3: f64 = -0.5;
const S3: f64 = 0.8660254037844386;
const COS3: [f64; 3] = [1.0, C3, C3];
const SIN3: [f64; 3] = [0.0, S3, -S3];
const C5A: f64 = 0.30901699437494745;
const C5B: f64 = -0.8090169943749475;
const S5A: f64 = 0.9510565162951535;
const S5B: f64 = 0.5877852522924731;
const COS5: [f64; 5] = [1.0, C5A, C5B, C5B, C5A];
const SIN5: [f64; 5] = [0.0, S5A, S5B, -S5B, -S5A];
const C7A: f64 = 0.6234898018587336;
const C7B: f64 = -0.22252093395631434;
const C7C: f64 = -0.900968867902419;
const S7A: f64 = 0.7818314824680298;
const S7B: f64 = 0.9749279121818236;
const S7C: f64 = 0.43388373911755823;
const COS7: [f64; 7] = [1.0, C7A, C7B, C7C, C7C, C7B, C7A];
const SIN7: [f64; 7] = [0.0, S7A, S7B, S7C, -S7C, -S7B, -S7A];

/// Radix 2 in place.
#[inline(always)]
unsafe fn r2(x: &mut [C]) {
    let (a, b) = (x[0], x[1]);
    x[0] = add(a, b);
    x[1] = sub(a, b);
}

/// Radix 4 of `(a, b, c, d)`, returned in natural order.
#[inline(always)]
unsafe fn dft4(a: C, b: C, c: C, d: C) -> [C; 4] {
    let (t0, t1) = (add(a, c), sub(a, c));
    let (t2, t3) = (add(b, d), sub(b, d));
    // X1 = t1 - i·t3, X3 = t1 + i·t3.
    let m = mul_neg_i(t3);
    [add(t0, t2), add(t1, m), sub(t0, t2), sub(t1, m)]
}

/// Radix 4 in place.
#[inline(always)]
unsafe fn r4(x: &mut [C]) {
    let y = dft4(x[0], x[1], x[2], x[3]);
    x[..4].copy_from_slice(&y);
}

/// Radix 8 in place: radix 4 over the even and the odd points, then the `W_8^k` combine.
#[inline(always)]
unsafe fn r8(x: &mut [C]) {
    let e = dft4(x[0], x[2], x[4], x[6]);
    let o = dft4(x[1], x[3], x[5], x[7]);
    let h = _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2);
    // W8 = (1 - i)/√2: (a + ib)·W8 = ((a + b) + i(b - a))/√2.
    let o1 = C {
        re: _mm256_mul_ps(_mm256_add_ps(o[1].re, o[1].im), h),
        im: _mm256_mul_ps(_mm256_sub_ps(o[1].im, o[1].re), h),
    };
    let o2 = mul_neg_i(o[2]);
    // W8³ = -(1 + i)/√2: (a + ib)·W8³ = ((b - a) - i(a + b))/√2.
    let o3 = C {
        re: _mm256_mul_ps(_mm256_sub_ps(o[3].im, o[3].re), h),
        im: _mm256_mul_ps(_mm256_add_ps(o[3].re, o[3].im), _mm256_sub_ps(_mm256_setzero_ps(), h)),
    };
    let o = [o[0], o1, o2, o3];
    for k in 0..4 {
        x[k] = add(e[k], o[k]);
        x[k + 4] = sub(e[k], o[k]);
    }
}

/// An odd radix `r = x.len()` in place, by the pairs `x_j ± x_{r-j}`:
/// `X_k = x_0 + Σ_j cos(2πjk/r)·(x_j + x_{r-j}) - i·Σ_j sin(2πjk/r)·(x_j - x_{r-j})`.
#[inline(always)]
unsafe fn odd(x: &mut [C], cos: &[f64], sin: &[f64]) {
    let r = x.len();
    let h = r / 2;
    let mut s = [zero(); 3];
    let mut d = [zero(); 3];
    let mut x0 = x[0];
    for j in 1..=h {
        s[j - 1] = add(x[j], x[r - j]);
        d[j - 1] = sub(x[j], x[r - j]);
        x0 = add(x0, s[j - 1]);
    }
    let first = x[0];
    for k in 1..=h {
        let mut a = first;
        let mut b = C { re: _mm256_setzero_ps(), im: _mm256_setzero_ps() };
        for j in 1..=h {
            let m = (j * k) % r;
            let c = _mm256_set1_ps(cos[m] as f32);
            let sn = _mm256_set1_ps(sin[m] as f32);
            a = C { re: _mm256_fmadd_ps(s[j - 1].re, c, a.re), im: _mm256_fmadd_ps(s[j - 1].im, c, a.im) };
            b = C { re: _mm256_fmadd_ps(d[j - 1].re, sn, b.re), im: _mm256_fmadd_ps(d[j - 1].im, sn, b.im) };
        }
        // X_k = a - i·b, X_{r-k} = a + i·b.
        let m = mul_neg_i(b);
        x[k] = add(a, m);
        x[r - k] = sub(a, m);
    }
    x[0] = x0;
}

/// The DFT of the `R` points in place (radices the planner emits inside chains; 1 is a copy).
#[inline(always)]
unsafe fn butterfly<const R: usize>(x: &mut [C; R]) {
    match R {
        1 => {}
        2 => r2(x),
        3 => odd(x, &COS3, &SIN3),
        4 => r4(x),
        5 => odd(x, &COS5, &SIN5),
        7 => odd(x, &COS7, &SIN7),
        8 => r8(x),
        _ => unreachable!("radix {R} is rejected when the wide plan is built"),
    }
}

/// Innermost level: `count` transforms of `R` points; transform `t` reads its points
/// `in + t·step + j·stride` (`j < R`, in floats) and writes points `t·out_step + k` (`k < R`,
/// `out_step ≥ R`) of `out`.
///
/// # Safety
/// Every point read must lie inside the input arrays and every point written inside the output
/// arrays; input and output must not overlap.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn leaves<const R: usize>(
    count: usize,
    in_re: *const f32,
    in_im: *const f32,
    step: usize,
    stride: usize,
    out_step: usize,
    out_re: *mut f32,
    out_im: *mut f32,
) {
    // SAFETY (helpers): this function has avx2 and fma.
    for t in 0..count {
        let mut x = unsafe { [zero(); R] };
        for (j, v) in x.iter_mut().enumerate() {
            let off = t * step + j * stride;
            // SAFETY: the caller guarantees the point at `off` floats lies inside the input.
            *v = unsafe { C { re: _mm256_loadu_ps(in_re.add(off)), im: _mm256_loadu_ps(in_im.add(off)) } };
        }
        // SAFETY: avx2 and fma (this function's features).
        unsafe { butterfly::<R>(&mut x) };
        for (k, v) in x.iter().enumerate() {
            // SAFETY: point `t·out_step + k` lies inside the output (caller's guarantee).
            unsafe { store(out_re, out_im, t * out_step + k, *v) };
        }
    }
}

/// One decimation-in-time pass in place over `R` blocks of `m` points, block `s` at point
/// `s·bs` (`bs ≥ m`; `bs > m` pads the blocks apart so that a power-of-two `m` does not put all
/// `R` points of a butterfly in one L1 set): for each `k < m` the points `s·bs + k` times
/// `W^{s·k}` (from `tw`, `(k·(R-1) + s-1)·2` = re, im) go through radix `R` into points
/// `k₁·bs + k`.
///
/// # Safety
/// `re`/`im` must hold `(R-1)·bs + m` points, `tw` `2·m·(R-1)` floats.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)] // `s` is the point's block as well as its index
unsafe fn combine<const R: usize>(re: *mut f32, im: *mut f32, m: usize, bs: usize, tw: *const f32) {
    for k in 0..m {
        // SAFETY: avx2 and fma (this function's features).
        let mut x = unsafe { [zero(); R] };
        // SAFETY: point `k < m` lies inside the blocks.
        x[0] = unsafe { load(re, im, k) };
        for s in 1..R {
            // SAFETY: point `s·bs + k` is inside; twiddle `k·(R-1) + s-1 < m·(R-1)`.
            unsafe {
                let w = tw.add((k * (R - 1) + s - 1) * 2);
                x[s] = cmul(load(re, im, s * bs + k), _mm256_set1_ps(*w), _mm256_set1_ps(*w.add(1)));
            }
        }
        // SAFETY: avx2 and fma (this function's features).
        unsafe { butterfly::<R>(&mut x) };
        for (k1, v) in x.iter().enumerate() {
            // SAFETY: point `k₁·bs + k` is inside.
            unsafe { store(re, im, k1 * bs + k, *v) };
        }
    }
}

macro_rules! by_radix {
    ($r:expr, $f:ident, ($($arg:expr),*)) => {
        match $r {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            r => unreachable!("radix {r} is rejected when the wide plan is built"),
        }
    };
}

/// The complex DFT of the chain `levels` (outermost first): input point `j` at float offset
/// `j·stride` of `in_re`/`in_im`; output point `j` at point `(j / m)·bs + j % m` of
/// `out_re`/`out_im`, where `m` is the first level's `m` and `bs ≥ m` its block stride (`bs = m`:
/// contiguous; a larger `bs` pads the outermost blocks apart, see [`combine`]).
///
/// # Safety
/// `n = Π radices`; input points `0..n` at the stride must be readable, output points up to
/// `(r₀-1)·bs + m` writable, input and output disjoint; every level's `tw` must hold
/// `2·m·(r-1)` floats.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn chain(
    levels: &[Level],
    in_re: *const f32,
    in_im: *const f32,
    stride: usize,
    out_re: *mut f32,
    out_im: *mut f32,
    bs: usize,
) {
    let Some((first, rest)) = levels.split_first() else { return };
    let (r, m) = (first.radix, first.m);
    // SAFETY (whole body): the caller's extents, split exactly as the plan splits the points.
    unsafe {
        match rest {
            [] => by_radix!(r, leaves, (1, in_re, in_im, 0, stride, r, out_re, out_im)),
            [leaf] => {
                // The innermost level for all `r` subsequences in one loop: subsequence `s`
                // starts at input point `s`, its points are `r·stride` apart, and its output
                // block at point `s·bs`.
                by_radix!(leaf.radix, leaves, (r, in_re, in_im, stride, r * stride, bs, out_re, out_im))
            }
            _ => {
                for s in 0..r {
                    chain(
                        rest,
                        in_re.add(s * stride),
                        in_im.add(s * stride),
                        r * stride,
                        out_re.add(s * bs * LANES),
                        out_im.add(s * bs * LANES),
                        rest[0].m,
                    );
                }
            }
        }
        if !rest.is_empty() {
            by_radix!(r, combine, (out_re, out_im, m, bs, first.tw.as_ptr()));
        }
    }
}

/// Where the post-twiddle sends bin `k`: complex bins, or their power `re² + im²` and its sum.
pub(super) enum Sink {
    /// Bins `0..=h` as split complex points.
    Bins { re: *mut f32, im: *mut f32 },
    /// `re² + im²` of bins `0..=h`, and their sum over bins into `sum` (8 floats).
    Power { p: *mut f32, sum: *mut f32 },
}

/// Sends bin `k` to the sink (its power also into `acc`).
///
/// # Safety
/// Bin `k` must lie inside the sink's buffers.
#[inline(always)]
unsafe fn put(sink: &Sink, k: usize, v: C, acc: &mut __m256) {
    match *sink {
        // SAFETY: the caller guarantees point `k` lies inside the sink.
        Sink::Bins { re, im } => unsafe { store(re, im, k, v) },
        Sink::Power { p, .. } => {
            let pw = power(v);
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(p.add(k * LANES), pw) };
            *acc = _mm256_add_ps(*acc, pw);
        }
    }
}

#[inline(always)]
unsafe fn power(v: C) -> __m256 {
    _mm256_fmadd_ps(v.re, v.re, _mm256_mul_ps(v.im, v.im))
}

/// The real-input post-twiddle over the half-length spectrum `z` (`h` points, point `j` at
/// `(j / m)·bs + j % m` as [`chain`] leaves it): bins `0..=h` of the `2h`-point real DFT.
/// `post` holds `(½cos, ½sin)` of `W_{2h}^k`, `1 ≤ k ≤ h/2`.
///
/// # Safety
/// `z_re`/`z_im` hold the `h ≥ 1` points so placed (`m ≥ 1`, `bs ≥ m`), `post` `2·(h/2)` floats, the sink `h + 1` points (or, for
/// power, `h + 1` points at `p` and 8 floats at `sum`), not overlapping `z`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn post_twiddle(
    z_re: *const f32,
    z_im: *const f32,
    h: usize,
    (m, bs): (usize, usize),
    post: *const f32,
    sink: &Sink,
) {
    let at = |j: usize| (j / m) * bs + j % m;
    let half = _mm256_set1_ps(0.5);
    // Two running sums (bins counting up, bins counting down), so the loop carries one add per
    // sum per iteration rather than a chain of two.
    let (mut acc, mut acc_c) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    // SAFETY: point 0 < h.
    let a = unsafe { load(z_re, z_im, 0) };
    // X_0 = Re + Im, X_h = Re - Im (both real).
    let zero = _mm256_setzero_ps();
    // SAFETY (every `put`): bins `0..=h` lie inside the sink (caller's guarantee).
    unsafe {
        put(sink, 0, C { re: _mm256_add_ps(a.re, a.im), im: zero }, &mut acc);
        put(sink, h, C { re: _mm256_sub_ps(a.re, a.im), im: zero }, &mut acc_c);
    }
    // Positions of k (counting up from 1) and c = h - k (counting down), kept without divisions.
    let (mut kp, mut cp) = (at(1 % h), at(h - 1));
    let (mut ko, mut co) = (1 % m, (h - 1) % m);
    for k in 1..=h / 2 {
        let c = h - k;
        if k > 1 {
            ko += 1;
            kp += if ko == m {
                ko = 0;
                bs - m + 1
            } else {
                1
            };
            cp -= if co == 0 {
                co = m - 1;
                bs - m + 1
            } else {
                co -= 1;
                1
            };
        }
        // SAFETY: `1 ≤ k ≤ c < h`; twiddle `k - 1 < h/2`.
        let (a, b, wc, ws) = unsafe {
            let w = post.add((k - 1) * 2);
            (load(z_re, z_im, kp), load(z_re, z_im, cp), _mm256_set1_ps(*w), _mm256_set1_ps(*w.add(1)))
        };
        // E' = (a.re + b.re) + i(a.im - b.im); D = a - conj b = (a.re - b.re) + i(a.im + b.im).
        let er = _mm256_add_ps(a.re, b.re);
        let ei = _mm256_sub_ps(a.im, b.im);
        let dr = _mm256_sub_ps(a.re, b.re);
        let di = _mm256_add_ps(a.im, b.im);
        // ½W·O with O = -i·D = di - i·dr: re = di·c + dr·s, im = di·s - dr·c.
        let wo_re = _mm256_fmadd_ps(di, wc, _mm256_mul_ps(dr, ws));
        let wo_im = _mm256_fmsub_ps(di, ws, _mm256_mul_ps(dr, wc));
        // X_k = ½E' + ½W·O; X_{h-k} = conj(½E' - ½W·O).
        let xk = C { re: _mm256_fmadd_ps(er, half, wo_re), im: _mm256_fmadd_ps(ei, half, wo_im) };
        let xc = C { re: _mm256_fmsub_ps(er, half, wo_re), im: _mm256_fnmadd_ps(ei, half, wo_im) };
        // SAFETY: as above (`k, c ≤ h`); the middle bin `k == c` is put once.
        unsafe {
            if c != k {
                put(sink, c, xc, &mut acc_c);
            }
            put(sink, k, xk, &mut acc);
        }
    }
    if let Sink::Power { sum, .. } = *sink {
        // SAFETY: `sum` holds 8 floats.
        unsafe { _mm256_storeu_ps(sum, _mm256_add_ps(acc, acc_c)) };
    }
}

/// The outermost radix-`R` pass fused with the post-twiddle (even n, `h = R·m`): the butterflies
/// at `k` and `m - k` together produce both points of every post-twiddle pair
/// (`Z[k + m·k₁]` pairs with `Z[h - k - m·k₁] = Z[(m - k) + m·(R-1-k₁)]`), so the outer pass's
/// outputs go straight to the sink and the half spectrum is never stored and reread (at
/// n = 2048 it is 64 KB, twice L1d).
///
/// # Safety
/// As [`combine`] for `re`/`im`/`tw` (read only here), and as [`post_twiddle`] for `post` and the
/// sink.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn outer_post<const R: usize>(
    re: *const f32,
    im: *const f32,
    m: usize,
    bs: usize,
    tw: *const f32,
    post: *const f32,
    sink: &Sink,
) {
    let h = R * m;
    let half = _mm256_set1_ps(0.5);
    let (mut acc, mut acc_c) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for k in 0..=m / 2 {
        let k2 = (m - k) % m;
        // SAFETY: points `s·bs + k` and `s·bs + k2` (`k, k2 < m`) are inside; twiddles as in
        // `combine`; avx2 and fma are this function's features.
        let (x, y) = unsafe {
            let x = outer_butterfly::<R>(re, im, k, bs, tw);
            let y = if k2 == k { x } else { outer_butterfly::<R>(re, im, k2, bs, tw) };
            (x, y)
        };
        for k1 in 0..R {
            let j = k + m * k1;
            let (pj, pv) = if k == 0 {
                if k1 == 0 {
                    // X_0 = Re + Im, X_h = Re - Im (both real).
                    let a = x[0];
                    let zero = _mm256_setzero_ps();
                    // SAFETY: bins 0 and h lie inside the sink (caller's guarantee).
                    unsafe {
                        put(sink, 0, C { re: _mm256_add_ps(a.re, a.im), im: zero }, &mut acc);
                        put(sink, h, C { re: _mm256_sub_ps(a.re, a.im), im: zero }, &mut acc_c);
                    }
                    continue;
                }
                (m * (R - k1), x[R - k1])
            } else {
                (k2 + m * (R - 1 - k1), y[R - 1 - k1])
            };
            // Within one butterfly (k = 0 or m/2) every pair shows up twice: take it once.
            if k2 == k && pj < j {
                continue;
            }
            let ((lo, a), (hi, b)) = if j <= pj { ((j, x[k1]), (pj, pv)) } else { ((pj, pv), (j, x[k1])) };
            // SAFETY: `1 ≤ lo ≤ h/2` (lo + hi = h), so twiddle `lo - 1 < h/2`; bins `lo, hi ≤ h`
            // lie inside the sink.
            unsafe {
                let w = post.add((lo - 1) * 2);
                let (xk, xc) = post_pair(a, b, _mm256_set1_ps(*w), _mm256_set1_ps(*w.add(1)), half);
                if hi != lo {
                    put(sink, hi, xc, &mut acc_c);
                }
                put(sink, lo, xk, &mut acc);
            }
        }
    }
    if let Sink::Power { sum, .. } = *sink {
        // SAFETY: `sum` holds 8 floats.
        unsafe { _mm256_storeu_ps(sum, _mm256_add_ps(acc, acc_c)) };
    }
}

/// The outer butterfly at `k`: points `s·bs + k` times `W^{s·k}`, radix `R`, in natural order.
///
/// # Safety
/// As [`combine`]; inside an `avx2,fma` function.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // `s` is the point's block as well as its index
unsafe fn outer_butterfly<const R: usize>(
    re: *const f32,
    im: *const f32,
    k: usize,
    bs: usize,
    tw: *const f32,
) -> [C; R] {
    let mut x = [zero(); R];
    x[0] = load(re, im, k);
    for s in 1..R {
        let w = tw.add((k * (R - 1) + s - 1) * 2);
        x[s] = cmul(load(re, im, s * bs + k), _mm256_set1_ps(*w), _mm256_set1_ps(*w.add(1)));
    }
    butterfly::<R>(&mut x);
    x
}

/// One post-twiddle pair: `a = Z[k]`, `b = Z[h-k]`, `(wc, ws) = ½W_n^k`; returns `(X_k, X_{h-k})`.
#[inline(always)]
unsafe fn post_pair(a: C, b: C, wc: __m256, ws: __m256, half: __m256) -> (C, C) {
    // E' = (a.re + b.re) + i(a.im - b.im); D = a - conj b = (a.re - b.re) + i(a.im + b.im).
    let er = _mm256_add_ps(a.re, b.re);
    let ei = _mm256_sub_ps(a.im, b.im);
    let dr = _mm256_sub_ps(a.re, b.re);
    let di = _mm256_add_ps(a.im, b.im);
    // ½W·O with O = -i·D = di - i·dr: re = di·c + dr·s, im = di·s - dr·c.
    let wo_re = _mm256_fmadd_ps(di, wc, _mm256_mul_ps(dr, ws));
    let wo_im = _mm256_fmsub_ps(di, ws, _mm256_mul_ps(dr, wc));
    // X_k = ½E' + ½W·O; X_{h-k} = conj(½E' - ½W·O).
    let xk = C { re: _mm256_fmadd_ps(er, half, wo_re), im: _mm256_fmadd_ps(ei, half, wo_im) };
    let xc = C { re: _mm256_fmsub_ps(er, half, wo_re), im: _mm256_fnmadd_ps(ei, half, wo_im) };
    (xk, xc)
}

/// The whole real-input transform for even n: the half-length chain `levels` over the packed
/// input (`x_{2j}` at float `j·stride`, `x_{2j+1}` one point later), its outermost pass fused
/// with the post-twiddle ([`outer_post`]) when the chain has two levels or more; a lone codelet
/// runs [`chain`] then [`post_twiddle`].
///
/// # Safety
/// As [`chain`] for the input, `z_re`/`z_im` (scratch for the half spectrum, blocks of `m₀` at
/// stride `bs`) and the tables, and as [`post_twiddle`] for `post` and the sink.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn real(
    levels: &[Level],
    x: *const f32,
    stride: usize,
    z_re: *mut f32,
    z_im: *mut f32,
    bs: usize,
    post: *const f32,
    sink: &Sink,
) {
    let x_odd = x.wrapping_add(LANES);
    // SAFETY (whole body): the caller's extents, split exactly as `chain` splits them.
    unsafe {
        match levels {
            [] => {}
            [first] => {
                chain(levels, x, x_odd, stride, z_re, z_im, bs);
                post_twiddle(z_re, z_im, first.radix, (first.radix, bs), post, sink);
            }
            [first, rest @ ..] => {
                let (r, m) = (first.radix, first.m);
                match rest {
                    [leaf] => {
                        by_radix!(leaf.radix, leaves, (r, x, x_odd, stride, r * stride, bs, z_re, z_im))
                    }
                    _ => {
                        for s in 0..r {
                            chain(
                                rest,
                                x.add(s * stride),
                                x_odd.add(s * stride),
                                r * stride,
                                z_re.add(s * bs * LANES),
                                z_im.add(s * bs * LANES),
                                rest[0].m,
                            );
                        }
                    }
                }
                by_radix!(r, outer_post, (z_re, z_im, m, bs, first.tw.as_ptr(), post, sink));
            }
        }
    }
}
