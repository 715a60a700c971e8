//! Vector math for both lane kinds ([`Vk::F32X4`] and [`Vk::F64X2`]), emitted inline as
//! branch-free CLIF: no libcalls, no `fma` unless the ISA has it ([`Vk::mul_add`]), and only
//! SSE2-lowerable ops (integer work on `I64X2` is limited to `iadd`/`band`/`bor`/`ushr`/`ishl`;
//! int↔float conversions use the 1.5·2^52 "magic number" instead of `fcvt`).
//!
//! Methods (`trunc32` clears the low 32 bits of an f64, leaving a 21-bit head):
//! - **ln / log2 / log10** — `F32X4`: [`math::emit_log`]. `F64X2`: fdlibm/musl. Denormals
//!   are scaled by 2^54; `x = 2^k·m` with `m ∈ [√½, √2)` by integer ops on the bits; with
//!   `f = m-1`, `s = f/(2+f)`, `ln(1+f) = f - f²/2 + s(f²/2 + R(s²))` (`R` of degree 7); log2 and
//!   log10 split `f - f²/2` into `trunc32` head + tail so that the products with the split
//!   constants are exact. `+inf → +inf`, `±0 → -inf`, `x < 0` or NaN `→ NaN`.
//! - **exp / exp2** — `F64X2`: fdlibm `exp`: `n = round(x/ln2)` (or `round(x)`), `r = z + w`
//!   the reduced argument as a head and a correction, `e^r = 1 + z + z·c/(2-c) + w(1+z)` with
//!   `c` of degree 5 in `z²`, times `2^n` as two exact power-of-two factors (so overflow gives
//!   `inf` and underflow rounds once into denormals or to 0). `F32X4`: the same in two `F64X2`
//!   halves (`fvpromote_low`, `fvdemote`, one `punpckhqdq` and one `punpcklqdq`), then rounded
//!   once to f32.
//! - **atan2** — generic over both kinds: `θ = atan2(|y|, |x|) = C + atan(t)` with
//!   `t = |y|/|x|` if that is ≤ tan ½, `t = -|x|/|y|` if `|x|/|y|` < tan ½, else
//!   `t = (|y|-|x|)/(|y|+|x|)` (exact numerator there, |t| ≤ 0.2934); `C ∈ {0, π/4, π/2}`, or
//!   `π - C` with `-t` when `x` has its sign bit set. `atan(t) = t + t³P(t²)` with `P` fitted
//!   (Chebyshev/Remez in mpmath) on `t² ≤ 0.3`: degree 5 for f32 (polynomial rel. error 4e-9),
//!   degree 12 for f64 (8e-18). `C` is a head + tail pair. Both infinite → computed as (1, 1),
//!   huge pairs scaled by ¼ and pairs of tiny ones by 2^50 / 2^200 first, the sign of `y` is
//!   OR-ed in last, NaN in → NaN out; so all C99 special cases (±0, ±π, ±π/4, ±3π/4, ±π/2) are
//!   exact.
//! - **pow with a constant exponent `p`** (always used at f64 precision, Rust `powf`
//!   semantics): `p = 0 → 1`, `1 → x`, `2 → x·x`, `-1 → 1/x`, `0.5 → |sqrt x|` (so
//!   `(-0)^½ = +0`) with `(-inf)^½ = +inf`, `±inf` or `|p| ≥ 2^63 → 0 / 1 / inf` by `|x|` vs 1.
//!   Everything else on `F32X4` runs in `F64X2` halves and is rounded once. Integers
//!   `|p| ≤ 16` on `F32X4`, `-2 ≤ p ≤ 4` on `F64X2` (each multiply adds up to ½ ulp): binary
//!   powering of `x`, or of `1/x` for `p < 0` (so `x^-n` neither overflows early nor loses
//!   denormal results). `p = -0.5`: `1/|sqrt x|`. Otherwise `2^(p·log2|x|)` with the exp2
//!   above, and for `F64X2` fdlibm `pow`'s extra precision: `log2|x|` as a 21-bit head + tail
//!   (reduction around 1 or 1.5, `s = (m-c)/(m+c)` in double-double, degree-6 polynomial),
//!   `p·log2|x|` as an exact 42-bit product + tail, both parts fed to exp2; for `F32X4` the
//!   plain f64 log2 suffices. Signs, zeros, infinities and NaN are patched by selects.
//!   Accuracy degrades for `2^31 < |p| < 2^63` with `|x|` near 1 (fdlibm uses a series there).
//! - **sqrt**: `sqrt` (`sqrtps`/`sqrtpd`, correctly rounded).
//!
//! Measured max error of finite results, in ulps of the lane type, identical on the native
//! (AVX/FMA) and baseline (SSE2) ISAs. F32X4: against the f64 functions (the tests print it,
//! `cargo test -p specc-compiler --lib vmath -- --nocapture`, ~0.5–0.8M inputs per function:
//! log-uniform denormal..MAX, ±20k ulp around 1, random bit patterns, denormals, specials; for
//! atan2 also same-size pairs at every exponent). F64X2: the tests compare against glibc (which
//! differs from the exact result by up to 0.52 ulp, 1.54 for log10) and assert ≤ 2 ulp; the
//! figures here are exact errors, from re-evaluating in mpmath every input where the two differ.
//!
//! | function | F32X4 | F64X2 |
//! |---|---|---|
//! | ln / log2 / log10 | 0.76 / 0.88 / 0.78 | 0.69 / 0.62 / 0.55 |
//! | exp / exp2 | 0.50 / 0.50 | 0.84 / 0.83 |
//! | atan2 | 1.45 | 1.31 |
//! | pow, general p (2.5, 0.3, 1/3, 17.5; F64X2 also 10, 16, -3) | 0.50 | 0.82 |
//! | pow, integer p (3, 4, -2; F32X4 also -3, 10, 16) | 0.50 | 1.28 / 1.84 / 1.88 |
//! | pow -0.5 | 0.50 | 1.46 |
//! | pow 0.5 / 2 / -1, sqrt | 0.5 (correctly rounded) | 0.5 |
//!
//! Cost, relative to `F32X4` ln (1.9 ns/element on a busy 2-core host where `math`'s dB
//! kernel took 2.6): F32X4 log10 1.3, exp 2.1, atan2 2.0, general pow 8.9, pow 3 0.2;
//! F64X2 ln 2.3, log10 2.9, exp 2.0, atan2 5.2, general pow 11, pow 3 0.3 (per element).
//!
//! Cranelift 0.135 on x86-64, checked while writing this: `sshr`/`icmp` on `I64X2` compile on
//! both ISAs (one AVX-512 instruction natively, 5–9 SSE2 instructions on the baseline);
//! `fcvt_from_sint` from `I64X2` goes lane by lane through GPRs; `fcvt_to_sint_sat` to `I64X2`
//! does not lower at all ("should be implemented in ISLE"); `nearest`/`floor` on `F64X2` are
//! `vroundpd` natively but two libcalls each on the baseline (no SSE4.1), like `fma`.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, ConstantData, Endianness, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

use super::emit::Emit;
use super::jit::TargetInfo;
use super::math::{self, LogBase};
use super::vec::Vk;
use crate::graph::Precision;

const fn h(bits: u64) -> f64 {
    f64::from_bits(bits)
}

/// 1.5·2^52: `(v + MAGIC) - MAGIC` rounds `|v| < 2^51` to an integer, and the low bits of
/// `v + MAGIC` are that integer in two's complement.
const MAGIC: f64 = 6_755_399_441_055_744.0;
const TWO52: f64 = 4_503_599_627_370_496.0;
const TWO54: f64 = 18_014_398_509_481_984.0;

// fdlibm `log`: Lg1..Lg7, and ln 2 with a 32-bit head.
const LG: [f64; 7] = [
    h(0x3FE5_5555_5555_5593),
    h(0x3FD9_9999_9997_FA04),
    h(0x3FD2_4924_9422_9359),
    h(0x3FCC_71C5_1D8E_78AF),
    h(0x3FC7_4664_96CB_03DE),
    h(0x3FC3_9A09_D078_C69F),
    h(0x3FC2_F112_DF3E_5244),
];
const LN2_HI: f64 = h(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = h(0x3DEA_39EF_3579_3C76);
// musl `log2` / `log10`: 1/ln2, 1/ln10 and log10(2) as head + tail.
const IVLN2_HI: f64 = h(0x3FF7_1547_6520_0000);
const IVLN2_LO: f64 = h(0x3DE7_05FC_2EEF_A200);
const IVLN10_HI: f64 = h(0x3FDB_CB7B_1520_0000);
const IVLN10_LO: f64 = h(0x3DBB_9438_CA9A_ADD5);
const LOG10_2_HI: f64 = h(0x3FD3_4413_509F_6000);
const LOG10_2_LO: f64 = h(0x3D59_FEF3_11F1_2B36);

// fdlibm `pow`: L1..L6 (log2 polynomial), P1..P5 (exp polynomial), log2(1.5) and 2/(3 ln2)
// as head + tail, ln 2 with a 21-bit head.
const L: [f64; 6] = [
    h(0x3FE3_3333_3333_3303),
    h(0x3FDB_6DB6_DB6F_ABFF),
    h(0x3FD5_5555_518F_264D),
    h(0x3FD1_7460_A91D_4101),
    h(0x3FCD_864A_93C9_DB65),
    h(0x3FCA_7E28_4A45_4EEF),
];
const P: [f64; 5] = [
    h(0x3FC5_5555_5555_553E),
    h(0xBF66_C16C_16BE_BD93),
    h(0x3F11_566A_AF25_DE2C),
    h(0xBEBB_BD41_C5D2_6BF1),
    h(0x3E66_3769_72BE_A4D0),
];
const DP_H: f64 = h(0x3FE2_B803_4000_0000);
const DP_L: f64 = h(0x3E4C_FDEB_43CF_D006);
const CP: f64 = h(0x3FEE_C709_DC3A_03FD);
const CP_H: f64 = h(0x3FEE_C709_E000_0000);
const CP_L: f64 = h(0xBE3E_2FE0_145B_01F5);
const LG2: f64 = h(0x3FE6_2E42_FEFA_39EF);
const LG2_H: f64 = h(0x3FE6_2E43_0000_0000);
const LG2_L: f64 = h(0xBE20_5C61_0CA8_6C39);

/// atan(t) = t + t·z·P(z), z = t² ≤ 0.3 (lowest degree first).
const ATAN_F32: [f64; 6] =
    [-3.333_332_2e-1, 1.999_899e-1, -1.426_118_2e-1, 1.084_619_7e-1, -7.625_79e-2, 3.380_770_2e-2];
const ATAN_F64: [f64; 13] = [
    -0.333_333_333_333_332_6,
    0.199_999_999_999_727_37,
    -0.142_857_142_826_337_74,
    0.111_111_109_477_390_47,
    -0.090_909_041_692_143_19,
    0.076_922_143_994_976_16,
    -0.066_654_848_522_273_74,
    0.058_719_800_765_879_474,
    -0.051_988_027_989_147_687,
    0.044_774_581_878_342_72,
    -0.034_540_078_830_958_894,
    0.020_209_491_334_215_73,
    -0.006_333_652_930_685_461,
];
/// tan(½): the largest |t| given to the atan polynomial (up to rounding).
const TAN_HALF: f64 = 0.546_302_489_843_790_5;

/// Integer exponents in `-neg..=pos` computed by repeated multiplication: on `F64X2` each
/// multiply adds up to ½ ulp, so only `x³`, `x⁴`, `(1/x)²`; for `F32X4` (done in f64, then
/// rounded) all `|p| ≤ 16`.
const MUL_POW_F64: (f64, f64) = (4.0, 2.0);
const MUL_POW_F32: (f64, f64) = (16.0, 16.0);

/// Scalar-style arithmetic on whole vectors for the math emitters (private to this module).
impl Emit<'_, '_> {
    fn ci(&mut self, v: i64) -> Value {
        self.vk.splat_int(self.b, v)
    }
    fn add(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fadd(a, b)
    }
    fn sub(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fsub(a, b)
    }
    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fmul(a, b)
    }
    fn div(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fdiv(a, b)
    }
    /// `a + k` for a constant `k`.
    fn addk(&mut self, a: Value, k: f64) -> Value {
        let k = self.splat(k);
        self.add(a, k)
    }
    /// `a·k` for a constant `k`.
    fn mulk(&mut self, a: Value, k: f64) -> Value {
        let k = self.splat(k);
        self.mul(a, k)
    }
    /// All-ones lanes where `a cc b` (as floats, for `sel`/`and`/`or`).
    fn cmp(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        let m = self.b.ins().fcmp(cc, a, b);
        self.vk.as_float(self.b, m)
    }
    fn cmpk(&mut self, cc: FloatCC, a: Value, k: f64) -> Value {
        let k = self.splat(k);
        self.cmp(cc, a, k)
    }
    /// `m ? a : b` per lane.
    fn sel(&mut self, m: Value, a: Value, b: Value) -> Value {
        self.b.ins().bitselect(m, a, b)
    }
    fn selk(&mut self, m: Value, a: f64, b: f64) -> Value {
        let (a, b) = (self.splat(a), self.splat(b));
        self.sel(m, a, b)
    }
    fn bits(&mut self, a: Value) -> Value {
        self.vk.as_int(self.b, a)
    }
    fn float(&mut self, a: Value) -> Value {
        self.vk.as_float(self.b, a)
    }
    fn and(&mut self, a: Value, b: Value) -> Value {
        let (a, b) = (self.bits(a), self.bits(b));
        let r = self.b.ins().band(a, b);
        self.float(r)
    }
    fn or(&mut self, a: Value, b: Value) -> Value {
        let (a, b) = (self.bits(a), self.bits(b));
        let r = self.b.ins().bor(a, b);
        self.float(r)
    }
    fn xor(&mut self, a: Value, b: Value) -> Value {
        let (a, b) = (self.bits(a), self.bits(b));
        let r = self.b.ins().bxor(a, b);
        self.float(r)
    }
    /// The sign bit of each lane (`-0.0` or `+0.0`).
    fn sign(&mut self, a: Value) -> Value {
        let m = self.splat(-0.0);
        self.and(a, m)
    }
    fn abs(&mut self, a: Value) -> Value {
        self.b.ins().fabs(a)
    }
    /// `lo ≤ a ≤ hi`, NaN stays NaN (one `maxp*` + one `minp*`).
    fn clamp(&mut self, a: Value, lo: f64, hi: f64) -> Value {
        let (lo, hi) = (self.splat(lo), self.splat(hi));
        let a = self.vk.max_nanprop(self.b, a, lo);
        self.vk.min_nanprop(self.b, a, hi)
    }
    /// Horner's scheme, `coef` from the lowest degree up.
    fn poly(&mut self, x: Value, coef: &[f64]) -> Value {
        let (&last, rest) = coef.split_last().expect("non-empty polynomial");
        let mut p = self.splat(last);
        for &k in rest.iter().rev() {
            let k = self.splat(k);
            p = self.mul_add(p, x, k);
        }
        p
    }
    /// An `F64X2` with the low 32 bits of every lane cleared (a 21-bit head).
    fn trunc32(&mut self, a: Value) -> Value {
        let m = self.ci(0xffff_ffff_0000_0000_u64 as i64);
        let a = self.bits(a);
        let r = self.b.ins().band(a, m);
        self.float(r)
    }
    /// `round(a)` for `|a| < 2^51` (`F64X2`, ties to even).
    fn round(&mut self, a: Value) -> Value {
        let a = self.addk(a, MAGIC);
        self.addk(a, -MAGIC)
    }
}

/// Runs `f` on the two `F64X2` halves of the `F32X4` `x` and rounds the results back to one
/// `F32X4`. All lane moves are SSE2: `cvtps2pd`, `punpckhqdq`, `cvtpd2ps`, `punpcklqdq`.
fn via_f64(e: &mut Emit<'_, '_>, x: Value, mut f: impl FnMut(&mut Emit<'_, '_>, Value) -> Value) -> Value {
    let le = MemFlagsData::new().with_endianness(Endianness::Little);
    let shuffle = |b: &mut FunctionBuilder<'_>, lo: Value, hi: Value, first: u8, second: u8| {
        let mask: Vec<u8> = (first..first + 8).chain(second..second + 8).collect();
        let mask = b.func.dfg.immediates.push(ConstantData::from(mask));
        let lo = b.ins().bitcast(types::I8X16, le, lo);
        let hi = b.ins().bitcast(types::I8X16, le, hi);
        let r = b.ins().shuffle(lo, hi, mask);
        b.ins().bitcast(types::F32X4, le, r)
    };
    let lo = e.b.ins().fvpromote_low(x);
    let upper = shuffle(e.b, x, x, 8, 24);
    let hi = e.b.ins().fvpromote_low(upper);
    let mut e64 = Emit { b: &mut *e.b, t: e.t, ptr: e.ptr, vk: Vk::F64X2 };
    let lo = f(&mut e64, lo);
    let hi = f(&mut e64, hi);
    let lo = e.b.ins().fvdemote(lo);
    let hi = e.b.ins().fvdemote(hi);
    shuffle(e.b, lo, hi, 0, 16)
}

/// Square root (`sqrtps` / `sqrtpd`, correctly rounded, `sqrt(-0) = -0`).
pub fn emit_sqrt(b: &mut FunctionBuilder<'_>, _t: TargetInfo, _vk: Vk, x: Value) -> Value {
    b.ins().sqrt(x)
}

/// Natural logarithm; see the module docs for method and accuracy.
pub fn emit_ln(b: &mut FunctionBuilder<'_>, t: TargetInfo, vk: Vk, x: Value) -> Value {
    emit_log_base(b, t, vk, x, LogBase::E)
}

/// Base-2 logarithm.
pub fn emit_log2(b: &mut FunctionBuilder<'_>, t: TargetInfo, vk: Vk, x: Value) -> Value {
    emit_log_base(b, t, vk, x, LogBase::Two)
}

/// Base-10 logarithm.
pub fn emit_log10(b: &mut FunctionBuilder<'_>, t: TargetInfo, vk: Vk, x: Value) -> Value {
    emit_log_base(b, t, vk, x, LogBase::Ten)
}

/// `log_base(x)` for either lane kind (`F32X4` is [`math::emit_log`]).
pub fn emit_log_base(b: &mut FunctionBuilder<'_>, t: TargetInfo, vk: Vk, x: Value, base: LogBase) -> Value {
    match vk.precision {
        Precision::F32 => math::emit_log(b, t, x, base),
        Precision::F64 => log_f64(&mut Emit { b, t, ptr: t.pointer_type, vk }, x, base),
    }
}

fn log_f64(e: &mut Emit<'_, '_>, x: Value, base: LogBase) -> Value {
    // Denormals: scale by 2^54 (exact) and take 54 off the exponent.
    let tiny = e.cmpk(FloatCC::LessThan, x, f64::MIN_POSITIVE);
    let scaled = e.mulk(x, TWO54);
    let xs = e.sel(tiny, scaled, x);
    // x = 2^k·m, m ∈ [√½, √2): musl's high-word trick on the whole 64-bit lane.
    let bits = e.bits(xs);
    let off = e.ci((0x3ff0_0000 - 0x3fe6_a09e) << 32);
    let bits = e.b.ins().iadd(bits, off);
    let kb = e.b.ins().ushr_imm_u(bits, 52);
    let mant = e.ci(0x000f_ffff_ffff_ffff);
    let mb = e.b.ins().band(bits, mant);
    let base_bits = e.ci(0x3fe6_a09e << 32);
    let mb = e.b.ins().iadd(mb, base_bits);
    let m = e.float(mb);
    let f = e.addk(m, -1.0);
    // k as a float: bits(2^52 + kb) - 2^52 - 1023 (- 54 for denormals).
    let two52 = e.ci(TWO52.to_bits() as i64);
    let kb = e.b.ins().bor(kb, two52);
    let kf = e.float(kb);
    let kf = e.addk(kf, -(TWO52 + 1023.0));
    let adj = e.selk(tiny, 54.0, 0.0);
    let dk = e.sub(kf, adj);

    let hf = e.mulk(f, 0.5);
    let hfsq = e.mul(hf, f);
    let two_f = e.addk(f, 2.0);
    let s = e.div(f, two_f);
    let z = e.mul(s, s);
    let w = e.mul(z, z);
    let odd = e.poly(w, &[LG[1], LG[3], LG[5]]);
    let t1 = e.mul(w, odd);
    let even = e.poly(w, &[LG[0], LG[2], LG[4], LG[6]]);
    let t2 = e.mul(z, even);
    let r = e.add(t2, t1);
    let hr = e.add(hfsq, r);

    let v = match base {
        LogBase::E => {
            // s(hfsq+R) + k·ln2_lo - hfsq + f + k·ln2_hi
            let ln2_lo = e.splat(LN2_LO);
            let klo = e.mul(dk, ln2_lo);
            let v = e.mul_add(s, hr, klo);
            let v = e.sub(v, hfsq);
            let v = e.add(v, f);
            let ln2_hi = e.splat(LN2_HI);
            e.mul_add(dk, ln2_hi, v)
        }
        LogBase::Two | LogBase::Ten => {
            // hi + lo = f - hfsq + s(hfsq+R), hi with 21 bits so hi·IVLN*_HI is exact.
            let hi = e.sub(f, hfsq);
            let hi = e.trunc32(hi);
            let lo = e.sub(f, hi);
            let lo = e.sub(lo, hfsq);
            let lo = e.mul_add(s, hr, lo);
            let (iv_hi, iv_lo) =
                if base == LogBase::Two { (IVLN2_HI, IVLN2_LO) } else { (IVLN10_HI, IVLN10_LO) };
            let val_hi = e.mulk(hi, iv_hi);
            let lohi = e.add(lo, hi);
            let iv_lo = e.splat(iv_lo);
            let val_lo = e.mul(lohi, iv_lo);
            let iv_hi = e.splat(iv_hi);
            let val_lo = e.mul_add(lo, iv_hi, val_lo);
            let (y, val_lo) = if base == LogBase::Two {
                (dk, val_lo)
            } else {
                let k_lo = e.splat(LOG10_2_LO);
                let val_lo = e.mul_add(dk, k_lo, val_lo);
                (e.mulk(dk, LOG10_2_HI), val_lo)
            };
            // w = y + val_hi with its rounding error folded into val_lo.
            let w = e.add(y, val_hi);
            let d = e.sub(y, w);
            let d = e.add(d, val_hi);
            let val_lo = e.add(val_lo, d);
            e.add(val_lo, w)
        }
    };
    log_specials(e, x, v)
}

/// `+inf → +inf`, `±0 → -inf`, `x < 0` or NaN `→ NaN`.
fn log_specials(e: &mut Emit<'_, '_>, x: Value, v: Value) -> Value {
    let is_inf = e.cmpk(FloatCC::Equal, x, f64::INFINITY);
    let inf = e.splat(f64::INFINITY);
    let v = e.sel(is_inf, inf, v);
    let is_zero = e.cmpk(FloatCC::Equal, x, 0.0);
    let ninf = e.splat(f64::NEG_INFINITY);
    let v = e.sel(is_zero, ninf, v);
    // `x >= 0` is false for NaN and negatives: those give NaN. (`UnorderedOrLessThan` would say
    // it directly, but aarch64 has no vector lowering of it.)
    let ok = e.cmpk(FloatCC::GreaterThanOrEqual, x, 0.0);
    let nan = e.splat(f64::NAN);
    e.sel(ok, v, nan)
}

/// `e^x`: overflow gives `+inf`, underflow rounds into denormals / to `+0`, NaN stays NaN.
pub fn emit_exp(b: &mut FunctionBuilder<'_>, t: TargetInfo, vk: Vk, x: Value) -> Value {
    let e = &mut Emit { b, t, ptr: t.pointer_type, vk };
    match vk.precision {
        Precision::F32 => via_f64(e, x, exp_f64),
        Precision::F64 => exp_f64(e, x),
    }
}

/// `2^x`, with the same special values as [`emit_exp`].
pub fn emit_exp2(b: &mut FunctionBuilder<'_>, t: TargetInfo, vk: Vk, x: Value) -> Value {
    let e = &mut Emit { b, t, ptr: t.pointer_type, vk };
    match vk.precision {
        Precision::F32 => via_f64(e, x, |e, x| {
            let x = e.clamp(x, -1100.0, 1100.0);
            let zero = e.splat(0.0);
            exp2_dd(e, x, zero)
        }),
        Precision::F64 => {
            let x = e.clamp(x, -1100.0, 1100.0);
            let zero = e.splat(0.0);
            exp2_dd(e, x, zero)
        }
    }
}

fn exp_f64(e: &mut Emit<'_, '_>, x: Value) -> Value {
    let x = e.clamp(x, -800.0, 800.0);
    let xl = e.mulk(x, std::f64::consts::LOG2_E);
    let n = e.round(xl);
    // r = x - n·ln2 = z + w, with x - n·ln2_hi exact (ln2_hi has 32 bits, |n| < 2^11).
    let ln2_hi = e.splat(-LN2_HI);
    let hi = e.mul_add(n, ln2_hi, x);
    let lo = e.mulk(n, LN2_LO);
    let z = e.sub(hi, lo);
    let w = e.sub(hi, z);
    let w = e.sub(w, lo);
    let y = exp_core(e, z, w);
    scale2(e, y, n)
}

/// `e^(z+w)` for `|z| ≲ 0.35`, `w` a small correction (fdlibm).
fn exp_core(e: &mut Emit<'_, '_>, z: Value, w: Value) -> Value {
    let tt = e.mul(z, z);
    let p = e.poly(tt, &P);
    let tp = e.mul(tt, p);
    let t1 = e.sub(z, tp);
    // r = z·t1/(t1-2) - (w + z·w);  e^(z+w) = 1 - (r - z)
    let zt1 = e.mul(z, t1);
    let t1m2 = e.addk(t1, -2.0);
    let q = e.div(zt1, t1m2);
    let zw = e.mul(z, w);
    let wzw = e.add(w, zw);
    let r = e.sub(q, wzw);
    let rz = e.sub(r, z);
    let one = e.splat(1.0);
    e.sub(one, rz)
}

/// `y·2^n` for integral `|n| ≤ 2200` as two exact power-of-two products, so the result
/// overflows to inf or rounds into denormals exactly once.
fn scale2(e: &mut Emit<'_, '_>, y: Value, n: Value) -> Value {
    let half = e.mulk(n, 0.5);
    let n1 = e.round(half);
    let n2 = e.sub(n, n1);
    let mut r = y;
    for k in [n1, n2] {
        // bits(k + MAGIC + 1023) = 0x4338_0000_0000_0000 + k + 1023; `<< 52` leaves k + 1023
        // in the exponent field (the constant's low 12 bits are zero).
        let biased = e.addk(k, MAGIC + 1023.0);
        let bits = e.bits(biased);
        let p = e.b.ins().ishl_imm_u(bits, 52);
        let p = e.float(p);
        r = e.mul(r, p);
    }
    r
}

/// `2^(ph+pl)` for `|ph| ≤ 1100`, `|pl|` ≪ 1 (fdlibm `pow`'s tail).
fn exp2_dd(e: &mut Emit<'_, '_>, ph: Value, pl: Value) -> Value {
    let z = e.add(ph, pl);
    let n = e.round(z);
    let ph = e.sub(ph, n);
    let s = e.add(pl, ph);
    let tt = e.trunc32(s);
    let u = e.mulk(tt, LG2_H);
    let d = e.sub(tt, ph);
    let d = e.sub(pl, d);
    let lg2_l = e.splat(LG2_L);
    let v = e.mul(tt, lg2_l);
    let lg2 = e.splat(LG2);
    let v = e.mul_add(d, lg2, v);
    let z = e.add(u, v);
    let zu = e.sub(z, u);
    let w = e.sub(v, zu);
    let y = exp_core(e, z, w);
    scale2(e, y, n)
}

/// `log2(a)` as `t1 + t2`, `t1` with 21 significant bits, for finite `a > 0` (fdlibm `pow`).
fn log2_dd(e: &mut Emit<'_, '_>, a: Value) -> (Value, Value) {
    let tiny = e.cmpk(FloatCC::LessThan, a, f64::MIN_POSITIVE);
    let scaled = e.mulk(a, 2f64.powi(53));
    let a = e.sel(tiny, scaled, a);
    let adj = e.selk(tiny, 53.0, 0.0);
    let bits = e.bits(a);
    let kb = e.b.ins().ushr_imm_u(bits, 52);
    let two52 = e.ci(TWO52.to_bits() as i64);
    let kb = e.b.ins().bor(kb, two52);
    let kf = e.float(kb);
    let kf = e.addk(kf, -(TWO52 + 1023.0));
    let nf = e.sub(kf, adj);
    let mant = e.ci(0x000f_ffff_ffff_ffff);
    let mb = e.b.ins().band(bits, mant);
    let one_bits = e.ci(1f64.to_bits() as i64);
    let mb = e.b.ins().bor(mb, one_bits);
    let m = e.float(mb);
    // m ∈ [1, 2): ≥ √3 → m/2 (n+1) around 1; ≥ √1.5 → around 1.5; else around 1.
    let big = e.cmpk(FloatCC::GreaterThanOrEqual, m, h(0x3FFB_B67A_0000_0000));
    let half = e.mulk(m, 0.5);
    let ax = e.sel(big, half, m);
    let inc = e.selk(big, 1.0, 0.0);
    let nf = e.add(nf, inc);
    let k1 = e.cmpk(FloatCC::GreaterThanOrEqual, ax, h(0x3FF3_988F_0000_0000));
    let bp = e.selk(k1, 1.5, 1.0);
    let dp_h = e.selk(k1, DP_H, 0.0);
    let dp_l = e.selk(k1, DP_L, 0.0);

    // ss = s_h + s_l = (ax - bp)/(ax + bp)
    let u = e.sub(ax, bp);
    let sum = e.add(ax, bp);
    let one = e.splat(1.0);
    let v = e.div(one, sum);
    let ss = e.mul(u, v);
    let s_h = e.trunc32(ss);
    let t_h = e.trunc32(sum);
    let th_bp = e.sub(t_h, bp);
    let t_l = e.sub(ax, th_bp);
    let sht = e.mul(s_h, t_h);
    let r1 = e.sub(u, sht);
    let shl = e.mul(s_h, t_l);
    let r1 = e.sub(r1, shl);
    let s_l = e.mul(v, r1);
    // log(ax) ≈ 2s + 2/3 s³ + s⁴·L(s²)
    let s2 = e.mul(ss, ss);
    let s4 = e.mul(s2, s2);
    let lp = e.poly(s2, &L);
    let r = e.mul(s4, lp);
    let shs = e.add(s_h, ss);
    let r = e.mul_add(s_l, shs, r);
    let s2 = e.mul(s_h, s_h);
    let th = e.addk(s2, 3.0);
    let th = e.add(th, r);
    let t_h = e.trunc32(th);
    let tl = e.addk(t_h, -3.0);
    let tl = e.sub(tl, s2);
    let t_l = e.sub(r, tl);
    // u + v = ss·(3 + ...)
    let u = e.mul(s_h, t_h);
    let v1 = e.mul(s_l, t_h);
    let v = e.mul_add(t_l, ss, v1);
    let p_h = e.add(u, v);
    let p_h = e.trunc32(p_h);
    let pu = e.sub(p_h, u);
    let p_l = e.sub(v, pu);
    // log2(ax) = n + dp_h + z_h + z_l, z = (u+v)·2/(3 ln2)
    let z_h = e.mulk(p_h, CP_H);
    let cp_l = e.splat(CP_L);
    let zl = e.mul_add(cp_l, p_h, dp_l);
    let cp = e.splat(CP);
    let z_l = e.mul_add(p_l, cp, zl);
    let t = e.add(z_h, z_l);
    let t = e.add(t, dp_h);
    let t = e.add(t, nf);
    let t1 = e.trunc32(t);
    let t2 = e.sub(t1, nf);
    let t2 = e.sub(t2, dp_h);
    let t2 = e.sub(t2, z_h);
    let t2 = e.sub(z_l, t2);
    (t1, t2)
}

/// `x^p` with Rust `powf` semantics for a compile-time `p` (used at f64 precision on both
/// kinds); see the module docs for the specializations and accuracy.
pub fn emit_pow_const(b: &mut FunctionBuilder<'_>, t: TargetInfo, vk: Vk, x: Value, p: f64) -> Value {
    let e = &mut Emit { b, t, ptr: t.pointer_type, vk };
    if p.is_nan() {
        // 1^NaN = 1, else NaN.
        let one = e.cmpk(FloatCC::Equal, x, 1.0);
        return e.selk(one, 1.0, f64::NAN);
    }
    match p {
        0.0 => e.splat(1.0),
        1.0 => x,
        2.0 => e.mul(x, x),
        -1.0 => {
            let one = e.splat(1.0);
            e.div(one, x)
        }
        0.5 => sqrt_pow(e, x),
        _ => match vk.precision {
            Precision::F32 => via_f64(e, x, |e, x| pow_f64(e, x, p, true)),
            Precision::F64 => pow_f64(e, x, p, false),
        },
    }
}

/// `powf(x, 0.5)`: `sqrt` but `(-0)^½ = +0` and `(-inf)^½ = +inf`.
fn sqrt_pow(e: &mut Emit<'_, '_>, x: Value) -> Value {
    let r = e.b.ins().sqrt(x);
    let r = e.abs(r);
    let ninf = e.cmpk(FloatCC::Equal, x, f64::NEG_INFINITY);
    let inf = e.splat(f64::INFINITY);
    e.sel(ninf, inf, r)
}

/// `x^p` on `F64X2`; `for_f32`: the result will be rounded to f32, so plain f64 accuracy of
/// `p·log2|x|` suffices.
fn pow_f64(e: &mut Emit<'_, '_>, x: Value, p: f64, for_f32: bool) -> Value {
    if p.is_infinite() || p.abs() >= 2f64.powi(63) {
        // |x| vs 1 decides; (±1)^p = 1, and such p are even integers or infinite.
        let a = e.abs(x);
        let (gt, lt) = if p > 0.0 { (f64::INFINITY, 0.0) } else { (0.0, f64::INFINITY) };
        let m_gt = e.cmpk(FloatCC::GreaterThan, a, 1.0);
        let m_lt = e.cmpk(FloatCC::LessThan, a, 1.0);
        let r = e.selk(m_lt, lt, 1.0);
        let gt = e.splat(gt);
        let r = e.sel(m_gt, gt, r);
        let nan = e.cmp(FloatCC::Unordered, x, x);
        return e.sel(nan, x, r);
    }
    let (pos_max, neg_max) = if for_f32 { MUL_POW_F32 } else { MUL_POW_F64 };
    let is_int = p == p.trunc();
    if is_int && (-neg_max..=pos_max).contains(&p) {
        let base = if p < 0.0 {
            let one = e.splat(1.0);
            e.div(one, x)
        } else {
            x
        };
        return int_pow(e, base, p.abs() as u32);
    }
    if p == -0.5 {
        let r = sqrt_pow(e, x);
        let one = e.splat(1.0);
        return e.div(one, r);
    }
    // |x| with 0, inf and NaN replaced by 1 for the computation, patched below.
    let a = e.abs(x);
    let pos = e.cmpk(FloatCC::GreaterThan, a, 0.0);
    let fin = e.cmpk(FloatCC::LessThan, a, f64::INFINITY);
    let ok = e.and(pos, fin);
    let one = e.splat(1.0);
    let a_ok = e.sel(ok, a, one);
    let (ph, pl) = if for_f32 {
        let l = log_f64(e, a_ok, LogBase::Two);
        (e.mulk(l, p), e.splat(0.0))
    } else {
        let (t1, t2) = log2_dd(e, a_ok);
        // p·(t1 + t2) = ph + pl with ph = p_head·t1 exact (21 × 21 bits).
        let p_hi = h(p.to_bits() & 0xffff_ffff_0000_0000);
        let pt1 = e.mulk(t1, p - p_hi);
        let pv = e.splat(p);
        (e.mulk(t1, p_hi), e.mul_add(pv, t2, pt1))
    };
    let ph = e.clamp(ph, -1100.0, 1100.0);
    let r = exp2_dd(e, ph, pl);

    let (at_zero, at_inf) = if p > 0.0 { (0.0, f64::INFINITY) } else { (f64::INFINITY, 0.0) };
    let zero = e.cmpk(FloatCC::Equal, a, 0.0);
    let v = e.splat(at_zero);
    let r = e.sel(zero, v, r);
    let inf = e.cmpk(FloatCC::Equal, a, f64::INFINITY);
    let v = e.splat(at_inf);
    let r = e.sel(inf, v, r);
    let r = if is_int {
        if (p / 2.0).trunc() * 2.0 != p {
            // Odd p: the sign of x (also for -0 and -inf).
            let s = e.sign(x);
            e.or(r, s)
        } else {
            r
        }
    } else {
        // Finite x < 0 with a non-integer p → NaN.
        let neg = e.cmpk(FloatCC::LessThan, x, 0.0);
        let finite = e.cmpk(FloatCC::GreaterThan, x, f64::NEG_INFINITY);
        let bad = e.and(neg, finite);
        let nan = e.splat(f64::NAN);
        e.sel(bad, nan, r)
    };
    let nan = e.cmp(FloatCC::Unordered, x, x);
    e.sel(nan, x, r)
}

/// `x^n` by binary powering, `n ≥ 1`.
fn int_pow(e: &mut Emit<'_, '_>, x: Value, n: u32) -> Value {
    let (mut sq, mut k, mut acc) = (x, n, None);
    loop {
        if k & 1 == 1 {
            acc = Some(match acc {
                Some(a) => e.mul(a, sq),
                None => sq,
            });
        }
        k >>= 1;
        if k == 0 {
            return acc.expect("n ≥ 1");
        }
        sq = e.mul(sq, sq);
    }
}

/// `atan2(y, x)` with C99 / numpy semantics (all ±0, ±inf and NaN cases exact); see the
/// module docs for method and accuracy.
pub fn emit_atan2(b: &mut FunctionBuilder<'_>, t: TargetInfo, vk: Vk, y: Value, x: Value) -> Value {
    let e = &mut Emit { b, t, ptr: t.pointer_type, vk };
    let (poly, huge, tiny, up): (&[f64], f64, f64, f64) = match vk.precision {
        Precision::F32 => (&ATAN_F32, 2f64.powi(125), 2f64.powi(-100), 2f64.powi(50)),
        Precision::F64 => (&ATAN_F64, 2f64.powi(1020), 2f64.powi(-960), 2f64.powi(200)),
    };
    // Head + tail of a constant in the lane type (`lo64`: the f64 tail of `c`).
    let split = |c: f64, lo64: f64| match vk.precision {
        Precision::F32 => {
            let hi = f64::from(c as f32);
            (hi, (c - hi) + lo64)
        }
        Precision::F64 => (c, lo64),
    };
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
    let pi4 = split(FRAC_PI_4, 3.061_616_997_868_383e-17);
    let pi2 = split(FRAC_PI_2, 6.123_233_995_736_766e-17);
    let pi34 = split(3.0 * FRAC_PI_4, 9.184_850_993_605_148e-17);
    let pi = split(PI, 1.224_646_799_147_353_2e-16);

    let mut ay = e.abs(y);
    let mut ax = e.abs(x);
    // Both infinite: the angle of (1, 1).
    let yi = e.cmpk(FloatCC::Equal, ay, f64::INFINITY);
    let xi = e.cmpk(FloatCC::Equal, ax, f64::INFINITY);
    let both = e.and(yi, xi);
    let one = e.splat(1.0);
    ay = e.sel(both, one, ay);
    ax = e.sel(both, one, ax);
    // Keep |y| + |x| finite and the threshold products normal: scale huge pairs down and pairs
    // of tiny ones up (exact either way).
    let yb = e.cmpk(FloatCC::GreaterThan, ay, huge);
    let xb = e.cmpk(FloatCC::GreaterThan, ax, huge);
    let big = e.or(yb, xb);
    let ys = e.cmpk(FloatCC::LessThan, ay, tiny);
    let xs = e.cmpk(FloatCC::LessThan, ax, tiny);
    let small = e.and(ys, xs);
    let s = e.selk(small, up, 1.0);
    let quarter = e.splat(0.25);
    let s = e.sel(big, quarter, s);
    ay = e.mul(ay, s);
    ax = e.mul(ax, s);

    // The three reductions: t = ay/ax, t = -ax/ay, t = (ay-ax)/(ay+ax).
    let xt = e.mulk(ax, TAN_HALF);
    let m_a = e.cmp(FloatCC::LessThanOrEqual, ay, xt);
    let yt = e.mulk(ay, TAN_HALF);
    let m_d = e.cmp(FloatCC::LessThan, ax, yt);
    let diff = e.sub(ay, ax);
    let sum = e.add(ay, ax);
    let nax = e.b.ins().fneg(ax);
    let num = e.sel(m_a, ay, diff);
    let num = e.sel(m_d, nax, num);
    let den = e.sel(m_a, ax, sum);
    let den = e.sel(m_d, ay, den);
    let q = e.div(num, den);
    let zero = e.splat(0.0);
    let den0 = e.cmp(FloatCC::Equal, den, zero);
    let q = e.sel(den0, zero, q);
    // x with its sign bit set: θ = π - θ(|x|), i.e. constant π - C and argument -t.
    let sx = e.sign(x);
    let tq = e.xor(q, sx);
    let sgn1 = e.or(one, sx);
    let xneg = e.cmp(FloatCC::LessThan, sgn1, zero);
    let c_hi = quadrant_const(e, m_a, m_d, xneg, [pi.0, pi34.0, pi4.0, pi2.0]);
    let c_lo = quadrant_const(e, m_a, m_d, xneg, [pi.1, pi34.1, pi4.1, pi2.1]);

    // θ = C_hi + (t + (C_lo + t·z·P(z))), then the sign of y.
    let z = e.mul(tq, tq);
    let p = e.poly(z, poly);
    let tz = e.mul(tq, z);
    let tail = e.mul_add(tz, p, c_lo);
    let s = e.add(tq, tail);
    let th = e.add(c_hi, s);
    let sy = e.sign(y);
    let r = e.or(th, sy);
    let nan = e.cmp(FloatCC::Unordered, x, y);
    let xy = e.add(x, y);
    e.sel(nan, xy, r)
}

/// The constant `C` of [`emit_atan2`] per lane: 0 / π (`|t| = |y|/|x|`), π/4 / 3π/4 (the
/// difference quotient), π/2 (`t = -|x|/|y|`), the second of each pair when `x` is negative.
fn quadrant_const(
    e: &mut Emit<'_, '_>,
    m_a: Value,
    m_d: Value,
    xneg: Value,
    [pi, pi34, pi4, pi2]: [f64; 4],
) -> Value {
    let a = e.selk(xneg, pi, 0.0);
    let b = e.selk(xneg, pi34, pi4);
    let c = e.sel(m_a, a, b);
    let d = e.splat(pi2);
    e.sel(m_d, d, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::jit::{CodeModule, IsaChoice};
    use cranelift_codegen::ir::condcodes::IntCC;
    use cranelift_codegen::ir::{AbiParam, BlockArg};
    use cranelift_module::FuncId;

    const ISAS: [IsaChoice; 2] = [IsaChoice::Native, IsaChoice::Baseline];
    const KINDS: [Vk; 2] = [Vk::F32X4, Vk::F64X2];

    /// An emitter under test: the inputs (1 or 2 vectors) to one result.
    type OpFn = dyn Fn(&mut FunctionBuilder<'_>, TargetInfo, Vk, &[Value]) -> Value;
    type Op<'a> = &'a OpFn;
    /// A named kernel: (name, arity, emitter).
    type Kernel<'a> = (&'a str, usize, Op<'a>);
    /// A one-input kernel and its f64 reference.
    type Checked<'a> = (Kernel<'a>, fn(f64) -> f64);

    /// xorshift64*, reproducible without an RNG dependency.
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
        fn sign(&mut self) -> f64 {
            if self.next() & 1 == 0 {
                1.0
            } else {
                -1.0
            }
        }
        /// Log-uniform over [lo, hi].
        fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
            (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp().clamp(lo, hi)
        }
    }

    /// Compiles `dst[i] = op(in_0[i], ..)` as `extern "C" fn(in_0, .., dst, len)`: whole
    /// vectors, then the tail through lane 0 of a splat.
    fn define(jit: &mut CodeModule, vk: Vk, (name, arity, op): Kernel<'_>) -> FuncId {
        let ptr = jit.target().pointer_type;
        let mut sig = jit.make_signature();
        sig.params.extend(std::iter::repeat_n(AbiParam::new(ptr), arity + 2));
        jit.define(name, sig, |b, t| {
            let flags = MemFlagsData::new().with_notrap();
            let lanes = vk.lanes() as i64;
            let shift = vk.elem_bytes().trailing_zeros() as i64;
            let [entry, head, body, tail_head, tail, exit] = [(); 6].map(|()| b.create_block());
            b.append_block_param(head, ptr);
            b.append_block_param(tail_head, ptr);
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = b.block_params(entry).to_vec();
            let len = params[arity + 1];
            let bulk = b.ins().band_imm_s(len, -lanes);
            let zero = b.ins().iconst(ptr, 0);
            b.ins().jump(head, &[BlockArg::Value(zero)]);
            let step = |b: &mut FunctionBuilder<'_>, i: Value, vector: bool| {
                let off = b.ins().ishl_imm_u(i, shift);
                let args: Vec<Value> = params[..arity]
                    .iter()
                    .map(|&p| {
                        let p = b.ins().iadd(p, off);
                        if vector {
                            b.ins().load(vk.ty(), flags, p, 0)
                        } else {
                            let s = b.ins().load(vk.scalar(), flags, p, 0);
                            b.ins().splat(vk.ty(), s)
                        }
                    })
                    .collect();
                let r = op(b, t, vk, &args);
                let r = if vector { r } else { b.ins().extractlane(r, 0) };
                let pd = b.ins().iadd(params[arity], off);
                b.ins().store(flags, r, pd, 0);
                b.ins().iadd_imm_s(i, if vector { lanes } else { 1 })
            };
            b.switch_to_block(head);
            let i = b.block_params(head)[0];
            let more = b.ins().icmp(IntCC::UnsignedLessThan, i, bulk);
            b.ins().brif(more, body, &[], tail_head, &[BlockArg::Value(i)]);
            b.switch_to_block(body);
            let next = step(b, i, true);
            b.ins().jump(head, &[BlockArg::Value(next)]);
            b.switch_to_block(tail_head);
            let i = b.block_params(tail_head)[0];
            let more = b.ins().icmp(IntCC::UnsignedLessThan, i, len);
            b.ins().brif(more, tail, &[], exit, &[]);
            b.switch_to_block(tail);
            let next = step(b, i, false);
            b.ins().jump(tail_head, &[BlockArg::Value(next)]);
            b.switch_to_block(exit);
            b.ins().return_(&[]);
        })
        .unwrap()
    }

    /// Calls a kernel from [`define`] with lanes of type `T` (f32 for `F32X4`, f64 for `F64X2`).
    fn call<T>(f: *const u8, ins: &[Vec<T>], dst: &mut [T]) {
        let n = dst.len();
        assert!(ins.iter().all(|v| v.len() == n));
        // SAFETY: `f` was compiled by `define` with one pointer per input, then dst and len,
        // for lanes of type `T`; every pointer covers `n` elements and the module is alive.
        unsafe {
            match ins {
                [a] => {
                    let f: extern "C" fn(*const T, *mut T, usize) = std::mem::transmute(f);
                    f(a.as_ptr(), dst.as_mut_ptr(), n);
                }
                [a, b] => {
                    let f: extern "C" fn(*const T, *const T, *mut T, usize) = std::mem::transmute(f);
                    f(a.as_ptr(), b.as_ptr(), dst.as_mut_ptr(), n);
                }
                _ => unreachable!(),
            }
        }
    }

    /// Compiles `kernels` into one module and runs each on f64 inputs (exactly representable
    /// in the lane type).
    fn eval(isa: IsaChoice, vk: Vk, kernels: &[Kernel<'_>], ins: &[&[f64]]) -> Vec<Vec<f64>> {
        let mut jit = CodeModule::new(isa).unwrap();
        let ids: Vec<FuncId> = kernels.iter().map(|&k| define(&mut jit, vk, k)).collect();
        jit.finalize().unwrap();
        let n = ins[0].len();
        ids.iter()
            .zip(kernels)
            .map(|(&id, &(_, arity, _))| {
                let f = jit.function(id).unwrap().as_ptr();
                let ins = &ins[..arity];
                match vk.precision {
                    Precision::F32 => {
                        let ins: Vec<Vec<f32>> =
                            ins.iter().map(|v| v.iter().map(|&x| x as f32).collect()).collect();
                        let mut dst = vec![0.0f32; n];
                        call(f, &ins, &mut dst);
                        dst.into_iter().map(f64::from).collect()
                    }
                    Precision::F64 => {
                        let mut dst = vec![0.0; n];
                        call(f, &ins.iter().map(|v| v.to_vec()).collect::<Vec<_>>(), &mut dst);
                        dst
                    }
                }
            })
            .collect()
    }

    fn lane(vk: Vk, v: f64) -> f64 {
        match vk.precision {
            Precision::F32 => f64::from(v as f32),
            Precision::F64 => v,
        }
    }

    /// (largest finite, smallest normal, smallest denormal, significand bits) of the lane type.
    fn limits(vk: Vk) -> (f64, f64, f64, i32) {
        match vk.precision {
            Precision::F32 => (f32::MAX.into(), f32::MIN_POSITIVE.into(), f32::from_bits(1).into(), 23),
            Precision::F64 => (f64::MAX, f64::MIN_POSITIVE, f64::from_bits(1), 52),
        }
    }

    /// Error of `got` against the reference `want` in ulps of the lane type, or `None` if
    /// they disagree in kind: NaN ↔ NaN, an exact zero needs the same zero (sign included), an
    /// overflow the same infinity (or `±MAX`/`±inf` within an ulp of the boundary).
    fn ulps(vk: Vk, got: f64, want: f64) -> Option<f64> {
        let (max, min_normal, _, mant) = limits(vk);
        let want_l = lane(vk, want);
        if want.is_nan() || got.is_nan() {
            return (want.is_nan() && got.is_nan()).then_some(0.0);
        }
        if want == 0.0 {
            return (got.to_bits() == want_l.to_bits()).then_some(0.0);
        }
        if got.is_infinite() || want_l.is_infinite() {
            let edge = want.abs() >= max * (1.0 - 2f64.powi(-mant)) && got.signum() == want.signum();
            return (got == want_l || (edge && (got.is_infinite() || got.abs() == max))).then_some(0.0);
        }
        // 2^(exponent of want - mant), at least the denormal spacing.
        let e = ((want.abs().to_bits() >> 52) as i32 - 1023).max(min_normal.log2() as i32) - mant;
        let ulp = if e >= -1022 {
            f64::from_bits(((e + 1023) as u64) << 52)
        } else {
            f64::from_bits(1 << (e + 1074))
        };
        Some((got - want).abs() / ulp)
    }

    /// Asserts `got` matches `want` in kind everywhere and within `bound` ulps; prints the max.
    fn check(what: &str, isa: IsaChoice, vk: Vk, ins: &[&[f64]], got: &[f64], want: &[f64], bound: f64) {
        let (mut worst, mut at) = (0.0, 0);
        for i in 0..got.len() {
            let args = || ins.iter().map(|v| v[i]).collect::<Vec<_>>();
            let e = ulps(vk, got[i], want[i]).unwrap_or_else(|| {
                panic!("{what} {vk:?} {isa:?}: f{:?} = {:e}, want {:e}", args(), got[i], want[i])
            });
            if e > worst {
                (worst, at) = (e, i);
            }
        }
        let args: Vec<f64> = if worst > 0.0 { ins.iter().map(|v| v[at]).collect() } else { vec![] };
        println!("{what:>10} {:?} {isa:?}: max {worst:.3} ulp at {args:?}", vk.precision);
        assert!(worst <= bound, "{what} {vk:?} {isa:?}: {worst} ulp at {args:?} (bound {bound})");
    }

    /// ±0, ±1, ±0.5, ±2, ±3, ±10, denormals, the smallest normal, the largest finite, ±inf, NaN.
    fn specials(vk: Vk) -> Vec<f64> {
        let (max, min_normal, tiny, _) = limits(vk);
        let mut v = vec![0.0, 1.0, 0.5, 2.0, 3.0, 10.0, tiny, 3.0 * tiny, min_normal, min_normal * 0.75, max];
        v.extend(v.clone().into_iter().map(|x: f64| -x));
        v.extend([f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN]);
        v
    }

    /// Finite inputs, positive or with random signs: log-uniform magnitudes from the smallest
    /// denormal to the largest finite value, every float within ±20k ulp of 1, random bit
    /// patterns and random denormals; then [`specials`] (which end up in the scalar tail).
    fn inputs(vk: Vk, seed: u64, signed: bool, n: usize) -> Vec<f64> {
        let mut rng = Rng(seed);
        let (max, min_normal, tiny, mant) = limits(vk);
        let mut v: Vec<f64> = (0..n).map(|_| lane(vk, rng.log_uniform(tiny, max))).collect();
        for k in -20_000i32..=20_000 {
            v.push(lane(vk, 1.0 + f64::from(k) * 2f64.powi(-mant)));
        }
        while v.len() < 2 * n {
            let bits = rng.next();
            let x = match vk.precision {
                Precision::F32 => f64::from(f32::from_bits(bits as u32 & 0x7fff_ffff)),
                Precision::F64 => f64::from_bits(bits & 0x7fff_ffff_ffff_ffff),
            };
            if x.is_finite() {
                v.push(x);
            }
            v.push(lane(vk, rng.unit() * min_normal));
        }
        if signed {
            v.iter_mut().for_each(|x| *x *= rng.sign());
        }
        v.extend(specials(vk));
        v
    }

    #[test]
    fn codegen_vmath_log_accuracy() {
        let ops: [Checked<'_>; 3] = [
            (("ln", 1, &|b, t, vk, a| emit_ln(b, t, vk, a[0])), f64::ln),
            (("log2", 1, &|b, t, vk, a| emit_log2(b, t, vk, a[0])), f64::log2),
            (("log10", 1, &|b, t, vk, a| emit_log10(b, t, vk, a[0])), f64::log10),
        ];
        for vk in KINDS {
            let x = inputs(vk, 1, false, 200_000);
            for isa in ISAS {
                let got = eval(isa, vk, &ops.map(|o| o.0), &[&x]);
                for ((k, f), got) in ops.iter().zip(got) {
                    let want: Vec<f64> = x.iter().map(|&x| f(x)).collect();
                    check(k.0, isa, vk, &[&x], &got, &want, if vk == Vk::F32X4 { 1.0 } else { 2.0 });
                }
            }
        }
    }

    #[test]
    fn codegen_vmath_exp_accuracy() {
        let ops: [Checked<'_>; 2] = [
            (("exp", 1, &|b, t, vk, a| emit_exp(b, t, vk, a[0])), f64::exp),
            (("exp2", 1, &|b, t, vk, a| emit_exp2(b, t, vk, a[0])), f64::exp2),
        ];
        for vk in KINDS {
            // Uniform over the whole over/underflow range, small magnitudes, specials.
            let mut rng = Rng(2);
            let lim = if vk == Vk::F32X4 { 160.0 } else { 1100.0 };
            let mut x: Vec<f64> = (0..300_000).map(|_| lane(vk, (2.0 * rng.unit() - 1.0) * lim)).collect();
            x.extend(inputs(vk, 3, true, 200_000).into_iter().filter(|v| v.abs() < 1.0));
            x.extend(specials(vk));
            for isa in ISAS {
                let got = eval(isa, vk, &ops.map(|o| o.0), &[&x]);
                for ((k, f), got) in ops.iter().zip(got) {
                    let want: Vec<f64> = x.iter().map(|&x| f(x)).collect();
                    check(k.0, isa, vk, &[&x], &got, &want, if vk == Vk::F32X4 { 1.0 } else { 2.0 });
                }
            }
        }
    }

    #[test]
    fn codegen_vmath_atan2_accuracy_and_specials() {
        let op: Kernel<'_> = ("atan2", 2, &|b, t, vk, a| emit_atan2(b, t, vk, a[0], a[1]));
        for vk in KINDS {
            // Independent magnitudes (and specials) for y and x ...
            let (mut y, mut x) = (inputs(vk, 5, true, 200_000), inputs(vk, 6, true, 200_000));
            let n = y.len().min(x.len());
            y.truncate(n);
            x.truncate(n);
            // ... pairs of similar size at every exponent, across all three reductions ...
            let mut rng = Rng(4);
            let (max, _, tiny, _) = limits(vk);
            for _ in 0..300_000 {
                let m = rng.log_uniform(tiny, max / 2.0);
                let r = rng.log_uniform(1e-3, 1e3);
                x.push(lane(vk, m * rng.sign()));
                y.push(lane(vk, m * r * rng.sign()));
            }
            // ... and every pair of specials.
            let sp = specials(vk);
            for &a in &sp {
                for &c in &sp {
                    y.push(a);
                    x.push(c);
                }
            }
            let want: Vec<f64> = y.iter().zip(&x).map(|(&y, &x)| y.atan2(x)).collect();
            for isa in ISAS {
                let got = eval(isa, vk, &[op], &[&y, &x]).remove(0);
                check("atan2", isa, vk, &[&y, &x], &got, &want, 2.0);
            }
        }
    }

    /// Exponents with the ulp bound asserted for `F32X4` and for `F64X2` (against glibc,
    /// which is within ~0.5 ulp except log10, so a 1-ulp difference may be glibc's).
    const POW_CASES: [(f64, f64, f64); 19] = [
        (1.0, 0.0, 0.0),
        (2.0, 0.5, 1.0),
        (-1.0, 0.5, 1.0),
        (0.5, 0.5, 1.0),
        (0.0, 0.0, 0.0),
        (3.0, 1.0, 2.0),
        (4.0, 1.0, 2.0),
        (-2.0, 1.0, 2.0),
        (-3.0, 1.0, 2.0),
        (10.0, 1.0, 2.0),
        (16.0, 1.0, 2.0),
        (2.5, 1.0, 2.0),
        (0.3, 1.0, 2.0),
        (1.0 / 3.0, 1.0, 2.0),
        (17.5, 1.0, 2.0),
        (-0.5, 1.0, 2.0),
        (f64::INFINITY, 0.0, 0.0),
        (-1e300, 0.0, 0.0),
        (f64::NAN, 0.0, 0.0),
    ];

    #[test]
    fn codegen_vmath_pow_accuracy_and_specials() {
        let ops: Vec<Box<OpFn>> = POW_CASES
            .iter()
            .map(|&(p, ..)| {
                Box::new(move |b: &mut FunctionBuilder<'_>, t, vk, a: &[Value]| {
                    emit_pow_const(b, t, vk, a[0], p)
                }) as _
            })
            .collect();
        let names: Vec<String> = POW_CASES
            .iter()
            .map(|&(p, ..)| if p.abs() < 1e6 { format!("pow {p:.4}") } else { format!("pow {p:e}") })
            .collect();
        let kernels: Vec<Kernel<'_>> =
            names.iter().zip(&ops).map(|(n, op)| (n.as_str(), 1, &**op as Op<'_>)).collect();
        for vk in KINDS {
            let x = inputs(vk, 7, true, 200_000);
            for isa in ISAS {
                let got = eval(isa, vk, &kernels, &[&x]);
                for ((&(p, b32, b64), name), got) in POW_CASES.iter().zip(&names).zip(got) {
                    let want: Vec<f64> = x.iter().map(|&x| x.powf(p)).collect();
                    check(name, isa, vk, &[&x], &got, &want, if vk == Vk::F32X4 { b32 } else { b64 });
                }
            }
        }
    }

    fn all_kernels() -> [Kernel<'static>; 7] {
        [
            ("ln", 1, &|b, t, vk, a| emit_ln(b, t, vk, a[0])),
            ("log10", 1, &|b, t, vk, a| emit_log10(b, t, vk, a[0])),
            ("exp", 1, &|b, t, vk, a| emit_exp(b, t, vk, a[0])),
            ("atan2", 2, &|b, t, vk, a| emit_atan2(b, t, vk, a[0], a[1])),
            ("pow 0.3", 1, &|b, t, vk, a| emit_pow_const(b, t, vk, a[0], 0.3)),
            ("pow 3", 1, &|b, t, vk, a| emit_pow_const(b, t, vk, a[0], 3.0)),
            ("sqrt", 1, &|b, t, vk, a| emit_sqrt(b, t, vk, a[0])),
        ]
    }

    #[test]
    fn codegen_vmath_kernels_have_no_calls() {
        for isa in ISAS {
            for vk in KINDS {
                let mut jit = CodeModule::new(isa).unwrap();
                jit.set_capture_vcode(true);
                for k in all_kernels() {
                    define(&mut jit, vk, k);
                    let vcode = jit.last_vcode().unwrap();
                    let calls = vcode.lines().any(|l| l.trim_start().starts_with("call"));
                    assert!(!calls, "{isa:?} {vk:?} {} calls out:\n{vcode}", k.0);
                    assert!(jit.has_fma() || !vcode.contains("vfmadd"), "{isa:?} {}", k.0);
                }
            }
        }
    }

    /// Prints ns/element (median of 15 runs over 16k elements); not asserted.
    #[test]
    fn codegen_vmath_timing() {
        fn median_ns<T: Copy>(f: *const u8, ins: &[Vec<T>], dst: &mut [T]) -> f64 {
            let mut t: Vec<f64> = (0..15)
                .map(|_| {
                    let t0 = std::time::Instant::now();
                    call(f, std::hint::black_box(ins), dst);
                    t0.elapsed().as_secs_f64() * 1e9 / dst.len() as f64
                })
                .collect();
            t.sort_by(f64::total_cmp);
            t[7]
        }
        let n = 16_384;
        let mut rng = Rng(8);
        let src: Vec<f64> = (0..2 * n).map(|_| rng.log_uniform(1e-3, 1e3)).collect();
        for isa in ISAS {
            for vk in KINDS {
                let mut jit = CodeModule::new(isa).unwrap();
                let ids: Vec<_> = all_kernels().map(|k| (k.0, k.1, define(&mut jit, vk, k))).into();
                jit.finalize().unwrap();
                let line: Vec<String> = ids
                    .iter()
                    .map(|&(name, arity, id)| {
                        let f = jit.function(id).unwrap().as_ptr();
                        let ns = match vk.precision {
                            Precision::F32 => {
                                let ins: Vec<Vec<f32>> = src
                                    .chunks(n)
                                    .take(arity)
                                    .map(|c| c.iter().map(|&x| x as f32).collect())
                                    .collect();
                                median_ns(f, &ins, &mut vec![0.0f32; n])
                            }
                            Precision::F64 => median_ns(
                                f,
                                &src.chunks(n).take(arity).map(<[f64]>::to_vec).collect::<Vec<_>>(),
                                &mut vec![0.0; n],
                            ),
                        };
                        format!("{name} {ns:.2}")
                    })
                    .collect();
                println!("{isa:?} {:?} ns/element: {}", vk.precision, line.join(", "));
            }
        }
    }
}
