//! The `transform` stage: the real-input DFT of each frame, as two kernels.
//! - `fft`: the FFT exactly as the plan prints it (emitted by [`super::super::fft`]) from `x`
//!   to the spectrum; with a filterbank next, its post-twiddle pass writes the power per bin
//!   and their sum instead (the spectrum never reaches memory).
//! - `dft`: the same bins (or powers and sum) as a direct sum of products (the interpreter's
//!   meaning for frames with NaN or inf, where `inf·0` decides which bins become NaN), run
//!   only for such blocks.

use std::mem::offset_of;

use crate::consts::dft::keras_basis;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::super::emit::{Addrs, DataSet, Emit};
use super::super::fft::{FftError, PowerSink, RealFft};
use super::super::program::BlockArgs;
use super::super::vec::Vk;
use super::super::vmath;
use super::{arg, at, Scratch};
use crate::graph::{Precision, SpectrumPower};
use crate::kernel::Transform;

/// The stage's emitters, with their tables pushed.
pub struct Prepared {
    /// The Cranelift FFT (none in a wide program, whose FFT runs on the wide kernels).
    fft: Option<RealFft>,
    dft_table: usize,
}

impl Prepared {
    /// Points of the spectrum the FFT writes (bins, or more for its workspace).
    pub fn spectrum_points(&self) -> usize {
        self.fft.as_ref().map_or(0, RealFft::spectrum_points)
    }
    /// Points of the FFT's own scratch.
    pub fn scratch_points(&self) -> usize {
        self.fft.as_ref().map_or(0, RealFft::scratch_points)
    }
}

/// Pushes the FFT's (`with_fft`: the Cranelift FFT stage is emitted) and the direct sum's
/// tables; `taps` is the frame length.
pub fn prepare(
    t: &Transform,
    taps: usize,
    vk: Vk,
    set: &mut DataSet,
    with_fft: bool,
) -> Result<Prepared, FftError> {
    // The one call into the FFT emitter: it builds exactly the plan the `plan` pass printed.
    let fft = if with_fft {
        let fft = RealFft::new(&t.plan, vk, set)?;
        if fft.len() != t.period {
            return Err(FftError::Unsupported(String::from("the FFT plan's length is not the DFT period")));
        }
        Some(fft)
    } else {
        None
    };
    let bins = t.n / 2 + 1;
    // Direct DFT basis: per-period twiddles (index t·k mod period), or Keras's float32 basis
    // (its size is bounded by the target check).
    let dft_table = if t.basis == Precision::F32 {
        let mut tab = Vec::with_capacity(2 * taps * bins);
        for k in 0..bins {
            for tt in 0..taps {
                let (c, s) = keras_basis(tt, k, t.period);
                tab.extend([c, s]);
            }
        }
        set.push_floats(vk, tab)
    } else {
        set.push_floats(
            vk,
            (0..t.period).flat_map(|j| {
                let a = -2.0 * std::f64::consts::PI * j as f64 / t.period as f64;
                [a.cos(), a.sin()]
            }),
        )
    };
    Ok(Prepared { fft, dft_table })
}

/// The `fft` kernel.
pub fn emit_fft(e: &mut Emit<'_, '_>, addrs: &Addrs, args: Value, t: &Transform, p: &Prepared, s: &Scratch) {
    let v = Vk::BYTES;
    assert_eq!(s.pitch, v, "the Cranelift FFT stage runs on the 4-lane layout only");
    let fft = p.fft.as_ref().expect("a program with a Cranelift FFT stage prepared it");
    let ptr = e.ptr;
    let scratch = arg(e, args, offset_of!(BlockArgs, scratch));
    let x = at(e, scratch, s.x);
    let xw = at(e, scratch, s.xw);
    if s.xw != s.x {
        // Fold taps past the period onto its start, as a DFT of that period sees them.
        e.counted_loop(t.period, |e, j| {
            let a = e.index(x, j, v);
            let xv = e.vload(a, 0);
            let d = e.index(xw, j, v);
            e.vstore(xv, d, 0);
        });
        e.range_loop(t.period, s.taps, |e, j| {
            let a = e.index(x, j, v);
            let xv = e.vload(a, 0);
            let pe = e.b.ins().iconst(ptr, t.period as i64);
            let jj = e.b.ins().isub(j, pe);
            let d = e.index(xw, jj, v);
            let old = e.vload(d, 0);
            let sum = e.b.ins().fadd(old, xv);
            e.vstore(sum, d, 0);
        });
    }
    let yr = at(e, scratch, s.y_re);
    let yi = at(e, scratch, s.y_im);
    let fs = at(e, scratch, s.fft);
    match t.power {
        Some(pw) => {
            let f = move |e: &mut Emit<'_, '_>, re: Value, im: Value| power_of(e, pw, re, im);
            let pp = at(e, scratch, s.p);
            let sink = PowerSink { p: pp, sum: yr, f: &f };
            fft.emit(e, addrs, xw, yr, yi, fs, Some(&sink));
            zero_power_padding(e, pp, s.bins, v);
        }
        None => fft.emit(e, addrs, xw, yr, yi, fs, None),
    }
}

/// The `dft` kernel (direct sum, for blocks holding non-finite frames).
pub fn emit_dft(e: &mut Emit<'_, '_>, addrs: &Addrs, args: Value, t: &Transform, p: &Prepared, s: &Scratch) {
    let vk = e.vk;
    // Scratch vectors are `pitch` apart (see `Scratch::pitch`).
    let v = s.pitch;
    let esz = vk.elem_bytes() as i64;
    let (taps, bins) = (s.taps, s.bins);
    let ptr = e.ptr;
    let scratch = arg(e, args, offset_of!(BlockArgs, scratch));
    let x = at(e, scratch, s.x);
    let yr = at(e, scratch, s.y_re);
    let yi = at(e, scratch, s.y_im);
    let table = addrs.get(e.b, ptr, p.dft_table);
    let re = e.b.declare_var(vk.ty());
    let im = e.b.declare_var(vk.ty());
    let idx = e.b.declare_var(ptr);
    let pp = at(e, scratch, s.p);
    let psum = e.b.declare_var(vk.ty());
    let z = e.splat(0.0);
    e.b.def_var(psum, z);
    let keras = t.basis == Precision::F32;
    e.counted_loop(bins, |e, k| {
        let z = e.splat(0.0);
        e.b.def_var(re, z);
        e.b.def_var(im, z);
        let zero = e.b.ins().iconst(ptr, 0);
        e.b.def_var(idx, zero);
        // Keras: row k of the taps x bins basis; else twiddle (t·k mod period).
        let row = if keras { e.index(table, k, 2 * taps as i64 * esz) } else { table };
        e.counted_loop(taps, |e, tt| {
            let a = e.index(x, tt, v);
            let xv = e.vload(a, 0);
            let ba = if keras {
                e.index(row, tt, 2 * esz)
            } else {
                let i = e.b.use_var(idx);
                e.index(row, i, 2 * esz)
            };
            let cr = e.splat_load(ba, 0);
            let ci = e.splat_load(ba, esz);
            let pr = e.b.ins().fmul(xv, cr);
            let pi = e.b.ins().fmul(xv, ci);
            let r = e.b.use_var(re);
            let r = e.b.ins().fadd(r, pr);
            e.b.def_var(re, r);
            let m = e.b.use_var(im);
            let m = e.b.ins().fadd(m, pi);
            e.b.def_var(im, m);
            if !keras {
                let i = e.b.use_var(idx);
                let i = e.b.ins().iadd(i, k);
                let pe = e.b.ins().iconst(ptr, t.period as i64);
                let w = e.b.ins().isub(i, pe);
                let ge = e.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, pe);
                let i = e.b.ins().select(ge, w, i);
                e.b.def_var(idx, i);
            }
        });
        let r = e.b.use_var(re);
        let m = e.b.use_var(im);
        match t.power {
            Some(pw) => {
                let pv = power_of(e, pw, r, m);
                let d = e.index(pp, k, v);
                e.vstore(pv, d, 0);
                let s = e.b.use_var(psum);
                let s = e.b.ins().fadd(s, pv);
                e.b.def_var(psum, s);
            }
            None => {
                let dr = e.index(yr, k, v);
                e.vstore(r, dr, 0);
                let di = e.index(yi, k, v);
                e.vstore(m, di, 0);
            }
        }
    });
    if t.power.is_some() {
        let sum = e.b.use_var(psum);
        e.vstore(sum, yr, 0);
        let pp = at(e, scratch, s.p);
        zero_power_padding(e, pp, bins, v);
    }
}

/// `re² + im²`, or `|x|^p`.
pub fn power_of(e: &mut Emit<'_, '_>, power: SpectrumPower, re: Value, im: Value) -> Value {
    let rr = e.b.ins().fmul(re, re);
    let p = e.mul_add(im, im, rr);
    match power {
        SpectrumPower::Power => p,
        SpectrumPower::MagnitudePow(2.0) => p,
        SpectrumPower::MagnitudePow(x) => {
            let m = e.b.ins().sqrt(p);
            vmath::emit_pow_const(e.b, e.t, e.vk, m, x)
        }
    }
}

/// Zeroes the 4 power vectors after the last bin (`pitch` bytes apart), which the per-band
/// stage's padded filterbank rows read (with zero weights).
fn zero_power_padding(e: &mut Emit<'_, '_>, p: Value, bins: usize, pitch: i64) {
    for j in 0..4 {
        let z = e.splat(0.0);
        e.vstore(z, p, (j + bins) as i64 * pitch);
    }
}
