//! Vector math emitted inline as CLIF: logarithms on `F32X4` and a NaN-propagating max,
//! plus an element-wise map kernel (`dst[i] = op(src[i])`) used to test and time them.
//!
//! Logarithms never call out per lane (a libcall costs ~4.5–6 ns/element against ~0.5 ns
//! inline). The method, branch-free on all four lanes:
//! 1. Denormal inputs (`x < f32::MIN_POSITIVE`) are multiplied by 2^23, exactly, and 23 is
//!    subtracted from their exponent later.
//! 2. With `t = bits(x) - bits(√½)`, `e = t >> 23` (arithmetic) and `m = from_bits(bits(x) -
//!    (e << 23))` lies in [√½, √2), so `f = m - 1` is exact and `|f| ≤ 0.415`.
//! 3. `ln(1 + f) = f + c` with `c = f³·P(f) - f²/2`, `P` of degree 8: the cephes `logf`
//!    minimax fit for exactly this interval (relative error of the polynomial ~1e-8, well below
//!    f32 rounding). Keeping `f` as a separate, exact term is what makes the result accurate
//!    relative to `ln(x)` near `x = 1`.
//! 4. `log_b(x) = e·K + ln(1 + f)·M` with `M = 1/ln b`, `K = ln 2·M`. The constants are split
//!    into a 12-bit head and a tail so the big products `f_head·M_head` and `e·K_head` are exact,
//!    and the small terms are summed first (the cephes trick, generalized to log2/log10).
//! 5. Special cases by compare + bitselect: `+inf → +inf`, `±0 → -inf`, `x < 0 or NaN → NaN`.
//!
//! Measured against f64 (`codegen_log_accuracy`, ~1M inputs: log-uniform 1e-38..3e38, ±50k ulp
//! around 1.0, random normal bit patterns, denormals), max relative error, native AVX/FMA and
//! baseline SSE2 alike: ln 8.0e-8 (7.5e-8 without FMA), log2 1.02e-7, log10 7.8e-8; on
//! denormals ≤ 6e-8. That is below one f32 ulp (≤ 1.19e-7) and the test asserts ≤ 2e-7.
//! The dB kernel's max abs error is 3.4e-5 dB, the f32 rounding of results up to ±385 dB.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, AbiParam, BlockArg, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::FuncId;

use super::jit::{CodeModule, JitError, JitFn, TargetInfo};
use super::vec::Vk;

/// The lane kind of every kernel here: `mul_add` and `max_nanprop` are [`Vk`]'s, shared with
/// the f64 math of [`super::vmath`] and the stage emitters.
const V: Vk = Vk::F32X4;

/// cephes `logf` polynomial P (highest degree first): `ln(1+f) ≈ f - f²/2 + f³·P(f)` on
/// `f ∈ [√½-1, √2-1]`.
const LOGF_P: [f32; 9] = [
    7.037_683_6e-2,
    -1.151_461e-1,
    1.167_699_84e-1,
    -1.242_014_1e-1,
    1.424_932_3e-1,
    -1.666_805_8e-1,
    2.000_071_4e-1,
    -2.499_999_4e-1,
    3.333_333e-1,
];

/// bits of √½ in f32: the split point that puts the reduced mantissa in [√½, √2).
const SQRT_HALF_BITS: i32 = 0x3f35_04f3;

/// The base of a logarithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogBase {
    /// Natural logarithm.
    E,
    /// Base 2.
    Two,
    /// Base 10 (dB).
    Ten,
}

impl LogBase {
    /// (M, K) with log_b(x) = e·K + ln(1+f)·M.
    fn factors(self) -> (f64, f64) {
        match self {
            LogBase::E => (1.0, std::f64::consts::LN_2),
            LogBase::Two => (std::f64::consts::LOG2_E, 1.0),
            LogBase::Ten => (std::f64::consts::LOG10_E, std::f64::consts::LOG10_2),
        }
    }
}

/// `v` as an f32 with only its 12 leading significand bits (so products with ≤12-bit factors
/// are exact), and the f32 remainder.
fn split12(v: f64) -> (f32, f32) {
    let hi = f32::from_bits((v as f32).to_bits() & 0xffff_f000);
    (hi, (v - f64::from(hi)) as f32)
}

fn mem() -> MemFlagsData {
    MemFlagsData::new()
}

/// An `F32X4` with `v` in every lane (LICM hoists these out of loops).
pub fn splat_f32(b: &mut FunctionBuilder<'_>, v: f32) -> Value {
    let s = b.ins().f32const(v);
    b.ins().splat(types::F32X4, s)
}

/// An `I32X4` with `v` in every lane.
pub fn splat_i32(b: &mut FunctionBuilder<'_>, v: i32) -> Value {
    let s = b.ins().iconst(types::I32, i64::from(v));
    b.ins().splat(types::I32X4, s)
}

/// Where an emitter's constant vectors come from: inline `vconst`s ([`Inline`]), or a table
/// the caller provides (a loop whose constants would not fit in registers next to its
/// temporaries reads them from memory instead of spilling them).
pub trait Consts {
    /// An `F32X4` with `v` in every lane.
    fn f32(&mut self, b: &mut FunctionBuilder<'_>, v: f32) -> Value;
    /// An `I32X4` with `v` in every lane.
    fn i32(&mut self, b: &mut FunctionBuilder<'_>, v: i32) -> Value;
}

/// Constants as `vconst`s, which Cranelift hoists out of loops into registers.
pub struct Inline;

impl Consts for Inline {
    fn f32(&mut self, b: &mut FunctionBuilder<'_>, v: f32) -> Value {
        splat_f32(b, v)
    }
    fn i32(&mut self, b: &mut FunctionBuilder<'_>, v: i32) -> Value {
        splat_i32(b, v)
    }
}

/// Lane mask (from a vector `fcmp`, typed `I32X4`) as `F32X4`, for `bitselect` on floats.
fn mask_f32(b: &mut FunctionBuilder<'_>, m: Value) -> Value {
    b.ins().bitcast(types::F32X4, mem(), m)
}

/// Steps 2-3 of the method for a normal positive `x` (or garbage lanes the caller replaces):
/// the exponent `e` (`I32X4`) with the mantissa reduced to [√½, √2), `f = m - 1`, and
/// `c = f³·P(f) - f²/2 ≈ ln(1+f) - f`.
fn split_and_poly(
    b: &mut FunctionBuilder<'_>,
    t: TargetInfo,
    x: Value,
    k: &mut dyn Consts,
) -> (Value, Value, Value) {
    let bits = b.ins().bitcast(types::I32X4, mem(), x);
    let sqrt_half = k.i32(b, SQRT_HALF_BITS);
    let tb = b.ins().isub(bits, sqrt_half);
    let e = b.ins().sshr_imm_u(tb, 23);
    let e_shifted = b.ins().ishl_imm_u(e, 23);
    let m_bits = b.ins().isub(bits, e_shifted);
    let m = b.ins().bitcast(types::F32X4, mem(), m_bits);
    let one = k.f32(b, 1.0);
    let f = b.ins().fsub(m, one);
    let z = b.ins().fmul(f, f);
    // p(f) = Σ a_i f^i with a_i = LOGF_P[8 - i], by Estrin's scheme: four multiply-add
    // levels instead of Horner's eight. In a loop over bands the chain's latency, not the
    // operation count, bounded the dB step (Horner: ~17 cycles per vector, the scheduler full
    // of waiting multiply-adds).
    let a = |i: usize| LOGF_P[8 - i];
    let mut pair = |b: &mut FunctionBuilder<'_>, lo: usize| {
        let c0 = k.f32(b, a(lo));
        let c1 = k.f32(b, a(lo + 1));
        V.mul_add(b, t, c1, f, c0)
    };
    let b0 = pair(b, 0);
    let b1 = pair(b, 2);
    let b2 = pair(b, 4);
    let b3 = pair(b, 6);
    let c0 = V.mul_add(b, t, b1, z, b0);
    let c1 = V.mul_add(b, t, b3, z, b2);
    let z2 = b.ins().fmul(z, z);
    let d0 = V.mul_add(b, t, c1, z2, c0);
    let z4 = b.ins().fmul(z2, z2);
    let a8 = k.f32(b, a(8));
    let p = V.mul_add(b, t, a8, z4, d0);
    let pf = b.ins().fmul(p, f);
    let y = b.ins().fmul(pf, z);
    let minus_half = k.f32(b, -0.5);
    let c = V.mul_add(b, t, z, minus_half, y);
    (e, f, c)
}

/// `log_base(x)` on `F32X4`, see the module docs for method and accuracy.
pub fn emit_log(b: &mut FunctionBuilder<'_>, t: TargetInfo, x: Value, base: LogBase) -> Value {
    // 1. Denormals: scale by 2^23 (exact) and remember to subtract 23 from the exponent.
    let min_normal = splat_f32(b, f32::MIN_POSITIVE);
    let tiny = b.ins().fcmp(FloatCC::LessThan, x, min_normal);
    let tiny_f = mask_f32(b, tiny);
    let two23 = splat_f32(b, 8_388_608.0);
    let scaled = b.ins().fmul(x, two23);
    let xs = b.ins().bitselect(tiny_f, scaled, x);

    // 2-3. Exponent, reduced mantissa and the polynomial.
    let (e, f, c) = split_and_poly(b, t, xs, &mut Inline);
    let minus23 = splat_i32(b, -23);
    let corr = b.ins().band(tiny, minus23);
    let e = b.ins().iadd(e, corr);
    let fe = b.ins().fcvt_from_sint(types::F32X4, e);

    // 4. Combine, small terms first.
    let (m_factor, k_factor) = base.factors();
    let (k_hi, k_lo) = split12(k_factor);
    let r = if base == LogBase::E {
        // cephes: ln x = ((c + e·ln2_lo) + f) + e·ln2_hi.
        let k_lo = splat_f32(b, k_lo);
        let s = V.mul_add(b, t, fe, k_lo, c);
        let s = b.ins().fadd(f, s);
        let k_hi = splat_f32(b, k_hi);
        V.mul_add(b, t, fe, k_hi, s)
    } else {
        let (m_hi, m_lo) = split12(m_factor);
        let head_mask = splat_i32(b, 0xffff_f000_u32 as i32);
        let f_bits = b.ins().bitcast(types::I32X4, mem(), f);
        let f_hi_bits = b.ins().band(f_bits, head_mask);
        let f_hi = b.ins().bitcast(types::F32X4, mem(), f_hi_bits);
        let f_lo = b.ins().fsub(f, f_hi);
        let m_full = splat_f32(b, m_factor as f32);
        let m_lo = splat_f32(b, m_lo);
        let m_hi = splat_f32(b, m_hi);
        let s = b.ins().fmul(c, m_full);
        let s = V.mul_add(b, t, f, m_lo, s);
        let s = V.mul_add(b, t, f_lo, m_hi, s);
        let s = if k_lo != 0.0 {
            let k_lo = splat_f32(b, k_lo);
            V.mul_add(b, t, fe, k_lo, s)
        } else {
            s
        };
        let s = V.mul_add(b, t, f_hi, m_hi, s);
        if k_hi == 1.0 {
            b.ins().fadd(fe, s)
        } else {
            let k_hi = splat_f32(b, k_hi);
            V.mul_add(b, t, fe, k_hi, s)
        }
    };

    // 5. Special cases.
    let inf = splat_f32(b, f32::INFINITY);
    let is_inf = b.ins().fcmp(FloatCC::Equal, x, inf);
    let is_inf = mask_f32(b, is_inf);
    let r = b.ins().bitselect(is_inf, inf, r);
    let zero = splat_f32(b, 0.0);
    let is_zero = b.ins().fcmp(FloatCC::Equal, x, zero);
    let is_zero = mask_f32(b, is_zero);
    let neg_inf = splat_f32(b, f32::NEG_INFINITY);
    let r = b.ins().bitselect(is_zero, neg_inf, r);
    // `x >= 0` is false for NaN and negatives: those give NaN (aarch64 has no vector lowering
    // of `UnorderedOrLessThan`).
    let ok = b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, zero);
    let ok = mask_f32(b, ok);
    let nan = splat_f32(b, f32::NAN);
    b.ins().bitselect(ok, r, nan)
}

/// `ln(x)` on `F32X4` for `x` that is a normal positive float, `+inf` or NaN — what a floor
/// `max(x, amin)` with a normal `amin` leaves — as the dB epilogue needs it: the denormal,
/// zero and negative cases of [`emit_log`] are dropped (about 20 of its 50 operations). Same
/// polynomial and accuracy as [`emit_log`] on that domain (`codegen_fast_ln_accuracy`).
/// Constants come from `k`.
pub fn emit_ln_normal(b: &mut FunctionBuilder<'_>, t: TargetInfo, x: Value, k: &mut dyn Consts) -> Value {
    let (e, f, c) = split_and_poly(b, t, x, k);
    let fe = b.ins().fcvt_from_sint(types::F32X4, e);
    let (k_hi, k_lo) = split12(std::f64::consts::LN_2);
    let k_lo = k.f32(b, k_lo);
    let s = V.mul_add(b, t, fe, k_lo, c);
    let s = b.ins().fadd(f, s);
    let k_hi = k.f32(b, k_hi);
    let r = V.mul_add(b, t, fe, k_hi, s);
    // +inf -> +inf; NaN -> NaN (the bit arithmetic above leaves garbage for both).
    let inf = k.f32(b, f32::INFINITY);
    let is_inf = b.ins().fcmp(FloatCC::Equal, x, inf);
    let is_inf = mask_f32(b, is_inf);
    let r = b.ins().bitselect(is_inf, inf, r);
    let is_nan = b.ins().fcmp(FloatCC::Unordered, x, x);
    let is_nan = mask_f32(b, is_nan);
    b.ins().bitselect(is_nan, x, r)
}

/// Natural logarithm on `F32X4`.
pub fn emit_ln(b: &mut FunctionBuilder<'_>, t: TargetInfo, x: Value) -> Value {
    emit_log(b, t, x, LogBase::E)
}

/// Base-2 logarithm on `F32X4`.
pub fn emit_log2(b: &mut FunctionBuilder<'_>, t: TargetInfo, x: Value) -> Value {
    emit_log(b, t, x, LogBase::Two)
}

/// Base-10 logarithm on `F32X4` (the dB step).
pub fn emit_log10(b: &mut FunctionBuilder<'_>, t: TargetInfo, x: Value) -> Value {
    emit_log(b, t, x, LogBase::Ten)
}

/// Constants of the dB step `mult·log10(max(x, amin)) - offset`, baked into the code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DbParams {
    /// 10 for power, 20 for amplitude.
    pub mult: f32,
    /// Clamp floor before the logarithm (e.g. 1e-10).
    pub amin: f32,
    /// Subtracted at the end (`mult·log10(max(amin, ref))`).
    pub offset: f32,
}

/// `mult·log10(max(x, amin)) - offset` on `F32X4`; NaN inputs stay NaN.
pub fn emit_db(b: &mut FunctionBuilder<'_>, t: TargetInfo, x: Value, p: DbParams) -> Value {
    let amin = splat_f32(b, p.amin);
    let clamped = V.max_nanprop(b, x, amin);
    let l = emit_log10(b, t, clamped);
    let mult = splat_f32(b, p.mult);
    let neg_offset = splat_f32(b, -p.offset);
    V.mul_add(b, t, l, mult, neg_offset)
}

/// A compiled `extern "C" fn(src: *const f32, dst: *mut f32, len: usize)`, tied to the module
/// that compiled it so only a matching function can be called through [`MapF32`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapF32Id {
    func: FuncId,
    module: u64,
}

impl MapF32Id {
    /// The callable kernel, once `jit` has been finalized.
    pub fn get(self, jit: &CodeModule) -> Result<MapF32<'_>, JitError> {
        if jit.uid() != self.module {
            return Err(JitError::ForeignFunction);
        }
        Ok(MapF32 { f: jit.function(self.func)? })
    }
}

/// An element-wise f32 kernel, safe to call from any thread while its module is borrowed.
#[derive(Clone, Copy, Debug)]
pub struct MapF32<'m> {
    f: JitFn<'m>,
}

impl MapF32<'_> {
    /// Runs `dst[i] = op(src[i])` for all i.
    ///
    /// # Panics
    /// If the slices differ in length.
    pub fn run(&self, src: &[f32], dst: &mut [f32]) {
        assert_eq!(src.len(), dst.len(), "map kernel: src and dst lengths differ");
        // SAFETY: `MapF32` is only built from a `MapF32Id`, which `define_map_f32` returns for
        // a function compiled with exactly this C signature in the module `JitFn<'m>` borrows,
        // so the code is alive. The kernel reads `len` f32 from `src` and writes `len` to
        // `dst` with unaligned-safe loads/stores, both in bounds by the assert above.
        unsafe {
            let f: extern "C" fn(*const f32, *mut f32, usize) = std::mem::transmute(self.f.as_ptr());
            f(src.as_ptr(), dst.as_mut_ptr(), src.len());
        }
    }
}

/// Compiles `dst[i] = op(src[i])`: `F32X4` over the bulk and the 0–3 element tail through
/// lane 0 of a splatted vector, so `op` is the same code on every element. One vector per
/// iteration: iterations are independent, so out-of-order execution overlaps them already, and
/// unrolling ×2 made the log kernels spill (56 stack accesses per iteration) without a
/// measurable gain.
pub fn define_map_f32<F>(jit: &mut CodeModule, name: &str, op: F) -> Result<MapF32Id, JitError>
where
    F: Fn(&mut FunctionBuilder<'_>, TargetInfo, Value) -> Value,
{
    let ptr = jit.target().pointer_type;
    let mut sig = jit.make_signature();
    sig.params.extend([AbiParam::new(ptr), AbiParam::new(ptr), AbiParam::new(ptr)]);
    let func = jit.define(name, sig, |b, t| {
        let flags = MemFlagsData::new().with_notrap();
        let entry = b.create_block();
        let head4 = b.create_block();
        let body4 = b.create_block();
        let head1 = b.create_block();
        let body1 = b.create_block();
        let exit = b.create_block();
        for blk in [head4, head1] {
            b.append_block_param(blk, ptr);
        }

        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let (src, dst, len) = (b.block_params(entry)[0], b.block_params(entry)[1], b.block_params(entry)[2]);
        let n4 = b.ins().band_imm_s(len, !3);
        let zero = b.ins().iconst(ptr, 0);
        b.ins().jump(head4, &[BlockArg::Value(zero)]);

        // Bulk: one vector per iteration.
        b.switch_to_block(head4);
        let i = b.block_params(head4)[0];
        let more = b.ins().icmp(IntCC::UnsignedLessThan, i, n4);
        b.ins().brif(more, body4, &[], head1, &[BlockArg::Value(i)]);
        b.switch_to_block(body4);
        let off = b.ins().ishl_imm_u(i, 2);
        let ps = b.ins().iadd(src, off);
        let pd = b.ins().iadd(dst, off);
        let v = b.ins().load(types::F32X4, flags, ps, 0);
        let r = op(b, t, v);
        b.ins().store(flags, r, pd, 0);
        let next = b.ins().iadd_imm_s(i, 4);
        b.ins().jump(head4, &[BlockArg::Value(next)]);

        // Scalar tail through lane 0.
        b.switch_to_block(head1);
        let i = b.block_params(head1)[0];
        let more = b.ins().icmp(IntCC::UnsignedLessThan, i, len);
        b.ins().brif(more, body1, &[], exit, &[]);
        b.switch_to_block(body1);
        let off = b.ins().ishl_imm_u(i, 2);
        let ps = b.ins().iadd(src, off);
        let pd = b.ins().iadd(dst, off);
        let s = b.ins().load(types::F32, flags, ps, 0);
        let v = b.ins().splat(types::F32X4, s);
        let r = op(b, t, v);
        let s = b.ins().extractlane(r, 0);
        b.ins().store(flags, s, pd, 0);
        let next = b.ins().iadd_imm_s(i, 1);
        b.ins().jump(head1, &[BlockArg::Value(next)]);

        b.switch_to_block(exit);
        b.ins().return_(&[]);
    })?;
    Ok(MapF32Id { func, module: jit.uid() })
}

/// Compiles the dB kernel `dst[i] = mult·log10(max(src[i], amin)) - offset`.
pub fn define_db_kernel(jit: &mut CodeModule, name: &str, p: DbParams) -> Result<MapF32Id, JitError> {
    define_map_f32(jit, name, move |b, t, x| emit_db(b, t, x, p))
}

#[cfg(test)]
mod fast_tests {
    use super::*;
    use crate::codegen::jit::IsaChoice;

    /// `emit_ln_normal` against f64 on normal positive floats, +inf and NaN.
    #[test]
    fn codegen_fast_ln_accuracy() {
        for isa in [IsaChoice::Native, IsaChoice::Baseline] {
            let mut jit = CodeModule::new(isa).unwrap();
            let id = define_map_f32(&mut jit, "lnn", |b, t, x| emit_ln_normal(b, t, x, &mut Inline)).unwrap();
            jit.finalize().unwrap();
            let k = id.get(&jit).unwrap();
            let mut xs: Vec<f32> = (0..200_000).map(|i| f32::MIN_POSITIVE * 1.000_37f32.powi(i)).collect();
            xs.retain(|v| v.is_finite());
            xs.extend((0..100_000).map(|i| f32::from_bits(0x3f00_0000 + i * 97)));
            xs.extend([f32::INFINITY, f32::NAN, f32::MAX, 1.0, f32::MIN_POSITIVE]);
            let mut ys = vec![0f32; xs.len()];
            k.run(&xs, &mut ys);
            let mut worst = 0f64;
            for (&x, &y) in xs.iter().zip(&ys) {
                if x.is_nan() {
                    assert!(y.is_nan());
                    continue;
                }
                if x.is_infinite() {
                    assert_eq!(y, f32::INFINITY);
                    continue;
                }
                let want = (x as f64).ln();
                let err = (y as f64 - want).abs() / want.abs().max(1e-30);
                // Near x = 1 the result is tiny: judge it in absolute terms there.
                let err = if want.abs() < 1e-3 { (y as f64 - want).abs() / 1e-3 } else { err };
                worst = worst.max(err);
            }
            assert!(worst < 2e-7, "{isa:?}: worst {worst:e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::jit::IsaChoice;

    const ISAS: [IsaChoice; 2] = [IsaChoice::Native, IsaChoice::Baseline];

    /// xorshift64*, so the suite needs no RNG dependency and is reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Positive finite inputs: log-uniform 1e-38..3e38, every float within ±50k ulp of 1.0,
    /// random normal bit patterns, and denormals (every 97th plus random ones).
    fn positive_inputs() -> Vec<f32> {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut v = Vec::with_capacity(1_200_000);
        let (lo, hi) = (1e-38f64.ln(), 3e38f64.ln());
        for _ in 0..500_000 {
            v.push((lo + (hi - lo) * rng.unit()).exp() as f32);
        }
        let one = 1.0f32.to_bits();
        for k in -50_000i32..=50_000 {
            v.push(f32::from_bits(one.wrapping_add_signed(k)));
        }
        for _ in 0..300_000 {
            let bits = 0x0080_0000 + (rng.next() % (0x7f80_0000 - 0x0080_0000)) as u32;
            v.push(f32::from_bits(bits));
        }
        for bits in (1..0x0080_0000u32).step_by(97) {
            v.push(f32::from_bits(bits));
        }
        for _ in 0..20_000 {
            v.push(f32::from_bits(1 + (rng.next() % 0x007f_ffff) as u32));
        }
        v.extend([f32::MIN_POSITIVE, f32::MAX, f32::from_bits(1), f32::from_bits(0x007f_ffff), 1.0]);
        v
    }

    fn specials() -> Vec<f32> {
        vec![
            0.0,
            -0.0,
            -1.0,
            -1e-40,
            -f32::MIN_POSITIVE,
            -f32::MAX,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7fc0_0001),
            f32::from_bits(0xffff_ffff),
        ]
    }

    fn run(k: MapF32<'_>, src: &[f32]) -> Vec<f32> {
        let mut dst = vec![0.0f32; src.len()];
        k.run(src, &mut dst);
        dst
    }

    fn ref_log(x: f64, base: LogBase) -> f64 {
        match base {
            LogBase::E => x.ln(),
            LogBase::Two => x.log2(),
            LogBase::Ten => x.log10(),
        }
    }

    #[test]
    fn codegen_log_accuracy() {
        let pos = positive_inputs();
        for isa in ISAS {
            let mut jit = CodeModule::new(isa).unwrap();
            let ids: Vec<_> = [LogBase::E, LogBase::Two, LogBase::Ten]
                .into_iter()
                .map(|base| {
                    let id = define_map_f32(&mut jit, &format!("{base:?}"), move |b, t, x| {
                        emit_log(b, t, x, base)
                    })
                    .unwrap();
                    (base, id)
                })
                .collect();
            jit.finalize().unwrap();
            for (base, id) in ids {
                let k = id.get(&jit).unwrap();
                let got = run(k, &pos);
                let (mut worst, mut worst_x, mut worst_denorm) = (0.0f64, 0.0f32, 0.0f64);
                for (&x, &g) in pos.iter().zip(&got) {
                    let r = ref_log(f64::from(x), base);
                    if r == 0.0 {
                        assert_eq!(g, 0.0, "{isa:?} {base:?}({x:e})");
                        continue;
                    }
                    let rel = ((f64::from(g) - r) / r).abs();
                    if x < f32::MIN_POSITIVE {
                        worst_denorm = worst_denorm.max(rel);
                    } else if rel > worst {
                        (worst, worst_x) = (rel, x);
                    }
                }
                println!(
                    "{isa:?} {base:?}: max rel err {worst:.3e} (at {worst_x:e}), denormals {worst_denorm:.3e}, \
                     fma={}",
                    jit.has_fma()
                );
                assert!(worst <= 2e-7, "{isa:?} {base:?}: {worst:e} at {worst_x:e}");
                assert!(worst_denorm <= 2e-7, "{isa:?} {base:?} denormals: {worst_denorm:e}");

                let sp = specials();
                let got = run(k, &sp);
                for (&x, &g) in sp.iter().zip(&got) {
                    let want = if x.is_nan() || x < 0.0 {
                        f32::NAN
                    } else if x == 0.0 {
                        f32::NEG_INFINITY
                    } else {
                        f32::INFINITY
                    };
                    assert!(
                        g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                        "{isa:?} {base:?}({x:e}) = {g:e}, want {want:e}"
                    );
                }
            }
        }
    }

    fn ref_db(x: f32, p: DbParams) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        f64::from(p.mult) * f64::from(x).max(f64::from(p.amin)).log10() - f64::from(p.offset)
    }

    fn check_db(isa: IsaChoice, p: DbParams, src: &[f32], got: &[f32]) -> f64 {
        let mut worst = 0.0f64;
        for (&x, &g) in src.iter().zip(got) {
            let r = ref_db(x, p);
            if r.is_nan() || r.is_infinite() {
                assert!(
                    (r.is_nan() && g.is_nan()) || f64::from(g) == r,
                    "{isa:?} {p:?}: dB({x:e}) = {g:e}, want {r:e}"
                );
                continue;
            }
            let err = (f64::from(g) - r).abs();
            assert!(err <= 1e-4, "{isa:?} {p:?}: dB({x:e}) = {g:e}, want {r:e}");
            worst = worst.max(err);
        }
        worst
    }

    #[test]
    fn codegen_db_kernel_accuracy_and_tail() {
        let mut src = positive_inputs();
        src.extend(specials());
        let mut rng = Rng(42);
        for _ in 0..50_000 {
            src.push(-(rng.unit() * 1e3) as f32);
        }
        for isa in ISAS {
            for amin in [1e-10f32, 1e-45] {
                let p = DbParams { mult: 10.0, amin, offset: 0.0 };
                let mut jit = CodeModule::new(isa).unwrap();
                let id = define_db_kernel(&mut jit, "db", p).unwrap();
                jit.finalize().unwrap();
                let k = id.get(&jit).unwrap();
                let worst = check_db(isa, p, &src, &run(k, &src));
                println!("{isa:?} dB amin={amin:e}: max abs err {worst:.3e} dB over {} inputs", src.len());

                // Every length 0..=9 at every start alignment, and nothing written past the end.
                let sp = specials();
                let probe: Vec<f32> = sp.iter().copied().chain([3.0, 1e-20, 7e20, 1.0, 0.5]).collect();
                for len in 0..=9 {
                    for start in 0..4 {
                        let s = &probe[start..start + len];
                        let mut dst = vec![-123.0f32; len + 4];
                        k.run(s, &mut dst[..len]);
                        check_db(isa, p, s, &dst[..len]);
                        assert!(dst[len..].iter().all(|&v| v == -123.0), "{isa:?}: wrote past len {len}");
                    }
                }
            }
        }
        // A non-trivial mult/offset, e.g. 20·log10 relative to ref = 2.
        let p = DbParams { mult: 20.0, amin: 1e-5, offset: 20.0 * 2f32.log10() };
        let mut jit = CodeModule::new(IsaChoice::Native).unwrap();
        let id = define_db_kernel(&mut jit, "db20", p).unwrap();
        jit.finalize().unwrap();
        let x: Vec<f32> = (0..1000).map(|i| i as f32 * 0.37 - 10.0).collect();
        check_db(IsaChoice::Native, p, &x, &run(id.get(&jit).unwrap(), &x));
    }

    #[test]
    fn codegen_max_nanprop_is_one_maxps_and_propagates_x() {
        for isa in ISAS {
            let mut jit = CodeModule::new(isa).unwrap();
            jit.set_capture_vcode(true);
            let id = define_map_f32(&mut jit, "max", |b, _, x| {
                let a = splat_f32(b, 0.25);
                V.max_nanprop(b, x, a)
            })
            .unwrap();
            let vcode = jit.last_vcode().unwrap().to_string();
            // Bulk and tail: two maxps, no compare-and-blend.
            assert_eq!(vcode.matches("maxps").count(), 2, "{isa:?}:\n{vcode}");
            assert!(!vcode.contains("cmpps") && !vcode.contains("blend"), "{isa:?}:\n{vcode}");
            jit.finalize().unwrap();
            let k = id.get(&jit).unwrap();
            let src = [f32::NAN, -1.0, 0.0, 0.1, 0.25, 3.0, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN];
            let got = run(k, &src);
            for (&x, &g) in src.iter().zip(&got) {
                if x.is_nan() {
                    assert!(g.is_nan(), "{isa:?}: max({x}, 0.25) = {g}");
                } else {
                    assert_eq!(g, x.max(0.25), "{isa:?}: max({x}, 0.25)");
                }
            }
        }
    }

    #[test]
    fn codegen_db_kernel_has_no_calls() {
        for isa in ISAS {
            let mut jit = CodeModule::new(isa).unwrap();
            jit.set_capture_vcode(true);
            define_db_kernel(&mut jit, "db", DbParams { mult: 10.0, amin: 1e-10, offset: 0.0 }).unwrap();
            let vcode = jit.last_vcode().unwrap();
            // ("caller" appears in unwind pseudo-instructions, so match the mnemonic.)
            let calls = vcode.lines().any(|l| l.trim_start().starts_with("call"));
            assert!(!calls, "{isa:?} dB kernel calls out:\n{vcode}");
            let has_fma = vcode.contains("vfmadd");
            assert_eq!(has_fma, jit.has_fma(), "{isa:?}: fma use must follow has_fma");
        }
    }

    #[test]
    fn codegen_foreign_id_is_rejected() {
        let mut a = CodeModule::new(IsaChoice::Native).unwrap();
        let mut b = CodeModule::new(IsaChoice::Native).unwrap();
        let id = define_map_f32(&mut a, "ln", emit_ln).unwrap();
        a.finalize().unwrap();
        b.finalize().unwrap();
        assert!(matches!(id.get(&b), Err(JitError::ForeignFunction)));
        assert!(id.get(&a).is_ok());
    }

    /// Prints ns/element; run with `--nocapture`. Timings are not asserted (noisy machines).
    #[test]
    fn codegen_db_kernel_timing() {
        let n = 65_536;
        let mut rng = Rng(7);
        let src: Vec<f32> = (0..n).map(|_| (rng.unit() * 1e3) as f32).collect();
        let mut dst = vec![0.0f32; n];
        for isa in ISAS {
            let mut jit = CodeModule::new(isa).unwrap();
            let t0 = std::time::Instant::now();
            let id =
                define_db_kernel(&mut jit, "db", DbParams { mult: 10.0, amin: 1e-10, offset: 0.0 }).unwrap();
            jit.finalize().unwrap();
            let compile = t0.elapsed();
            let k = id.get(&jit).unwrap();
            let mut times: Vec<f64> = (0..31)
                .map(|_| {
                    let t = std::time::Instant::now();
                    for _ in 0..4 {
                        k.run(std::hint::black_box(&src), &mut dst);
                    }
                    t.elapsed().as_secs_f64() * 1e9 / (4 * n) as f64
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!(
                "{isa:?} dB kernel, {n} floats: {:.3} ns/element (median of 31; min {:.3}); compile {:.2} ms",
                times[15],
                times[0],
                compile.as_secs_f64() * 1e3
            );
        }
    }
}
