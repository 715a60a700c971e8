//! The `per_band` stage, the body of the `tail` kernel: the spectrum (or the power per bin) to
//! values per band, each through the stage's elementwise steps and into the `store` stage's
//! [`Sink`].
//! - A filterbank over the power per bin: fast path with each band's products unrolled, one
//!   loop per run of bands of equal padded length, into a scratch vector per band; the dense
//!   product's NaN meaning for non-finite bins on a slow path taken only when the power sum is
//!   not finite; then a second loop applying the steps (so the sums' branches and the steps'
//!   long dependency chains do not serialize).
//! - Per bin: complex to real, then the steps (bin-dependent doubling by segments).
//! - `re | im`: both parts stored as `2·bins` bands.

use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::super::emit::{readonly, Addrs, DataSet, Emit};
use super::super::program::BlockArgs;
use super::super::vec::Vk;
use super::super::vmath;
use super::steps::{emit_steps, Pool};
use super::store::Sink;
use super::transform::power_of;
use super::{arg, at, Scratch};
use crate::graph::{FromComplex, SpectrumPower, Step};
use crate::kernel::PerBand;

/// A filterbank's tables: per band (start, exact length, padded length, weight offset) as
/// `u32`s, the weights (padded per band to a multiple of 4, each once per lane), and runs of
/// consecutive bands with the same padded length `(first, end, padded length)`.
pub struct Tables {
    rows: usize,
    weights: usize,
    runs: Vec<(usize, usize, usize)>,
    /// A dense product's weights (each once per lane), row-major.
    dense: Option<usize>,
}

/// Pushes the stage's tables (a filterbank's; none otherwise).
pub fn tables(stage: &PerBand, vk: Vk, set: &mut DataSet) -> Option<Tables> {
    let PerBand::Filterbank { matrix: m, dense, .. } = stage else { return None };
    let mut weights = Vec::new();
    let mut rows = Vec::new();
    for (start, w) in &m.rows {
        let padded = w.len().next_multiple_of(4);
        rows.extend([*start as u32, w.len() as u32, padded as u32, weights.len() as u32]);
        weights.extend(w.iter().copied());
        weights.extend(std::iter::repeat_n(0.0, padded - w.len()));
    }
    // Runs of consecutive bands with the same padded length: the fast path unrolls each
    // band's products, one loop per run (no data-dependent branch per band).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (b, (_, w)) in m.rows.iter().enumerate() {
        let padded = w.len().next_multiple_of(4);
        match runs.last_mut() {
            Some((_, end, len)) if *len == padded => *end = b + 1,
            _ => runs.push((b, b + 1, padded)),
        }
    }
    // Weights as whole vectors: the products take them as memory operands instead of a
    // scalar load plus a broadcast on the shuffle port each.
    let dense = dense.as_ref().map(|d| set.push_per_lane(vk, d.weights.clone()));
    Some(Tables { rows: set.push_u32(rows), weights: set.push_per_lane(vk, weights), runs, dense })
}

/// The tail kernel: the per-band stage into the store stage (and the reduce stage it
/// carries). `pool` is the kernel's constant pool (table index `pool_table`).
#[allow(clippy::too_many_arguments)]
pub fn emit(
    e: &mut Emit<'_, '_>,
    addrs: &Addrs,
    args: Value,
    stage: &PerBand,
    tables: Option<&Tables>,
    s: &Scratch,
    time_contiguous: bool,
    pool: &mut Pool,
    pool_table: usize,
) {
    let ptr = e.ptr;
    // Scratch vectors are `pitch` apart, table vectors `v`.
    let v = Vk::BYTES;
    let pitch = s.pitch;
    let bins = s.bins;
    let scratch = arg(e, args, offset_of!(BlockArgs, scratch));
    let sink = Sink::new(e, args, scratch, s, time_contiguous);
    let yr = at(e, scratch, s.y_re);
    let yi = at(e, scratch, s.y_im);
    match (stage, tables) {
        (PerBand::Filterbank { matrix, steps, dense }, Some(t)) => {
            let nbands = matrix.rows.len();
            let p = at(e, scratch, s.p);
            // The transform left the power per bin in `p` and its sum in point 0 of y_re
            // (non-finite iff some bin is, or the sum overflows: either way the exact path
            // below is right), and zeroed the padding after the last bin (padded weights read
            // up to 3 past it): the tail never writes `p`, so its loads of `p` are read-only
            // and can be memory operands of the multiply-adds.
            let sum = e.vload(yr, 0);
            let bad = e.b.ins().fcmp(FloatCC::Unordered, sum, sum);
            let z2 = e.splat(0.0);
            let s0 = e.b.ins().fmul(sum, z2);
            let bad2 = e.b.ins().fcmp(FloatCC::Unordered, s0, s0);
            let bad = e.b.ins().bor(bad, bad2);
            let any = e.b.ins().vany_true(bad);
            let fast = e.b.create_block();
            let slow = e.b.create_block();
            let done = e.b.create_block();
            let rows_a = addrs.get(e.b, ptr, t.rows);
            let w_a = addrs.get(e.b, ptr, t.weights);
            // Band sums go to scratch first, the steps run in a second loop: the sums'
            // branches and the steps' long dependency chains do not serialize.
            let mb = at(e, scratch, s.m);
            e.b.ins().brif(any, slow, &[], fast, &[]);
            e.b.switch_to_block(fast);
            for &(first, end, plen) in &t.runs {
                e.range_loop(first, end, |e, band| {
                    let ra = e.index(rows_a, band, 16);
                    let start = e.b.ins().uload32(readonly(), ra, 0);
                    let woff = e.b.ins().uload32(readonly(), ra, 12);
                    let pa = e.index(p, start, pitch);
                    let wa = e.index(w_a, woff, v);
                    let acc = mel_unrolled(e, pa, wa, plen, pitch);
                    let d = e.index(mb, band, pitch);
                    e.vstore(acc, d, 0);
                });
            }
            e.b.ins().jump(done, &[]);
            e.b.switch_to_block(slow);
            e.counted_loop(nbands, |e, band| {
                let ra = e.index(rows_a, band, 16);
                let start = e.b.ins().uload32(readonly(), ra, 0);
                let len = e.b.ins().uload32(readonly(), ra, 4);
                let woff = e.b.ins().uload32(readonly(), ra, 12);
                let acc = mel_band(e, p, w_a, start, len, woff, false, pitch);
                let acc = outside_nan(e, p, start, len, bins, acc, pitch);
                let d = e.index(mb, band, pitch);
                e.vstore(acc, d, 0);
            });
            e.b.ins().jump(done, &[]);
            e.b.switch_to_block(done);
            pool.enter(e, addrs, pool_table);
            e.counted_loop(nbands, |e, band| {
                pool.iteration(e, band);
                let a = e.index(mb, band, pitch);
                let acc = e.vload(a, 0);
                let val = emit_steps(e, steps, acc, None, pool);
                if dense.is_some() {
                    e.vstore(val, a, 0);
                } else {
                    sink.store(e, val, band);
                }
            });
            // The dense product (the DCT): each row's dot product with the stepped bands.
            if let (Some(d), Some(off)) = (dense, t.dense) {
                let da = addrs.get(e.b, ptr, off);
                let cols = d.cols;
                e.counted_loop(d.rows, |e, r| {
                    let wa = e.index(da, r, cols as i64 * v);
                    let acc = dense_row(e, mb, wa, cols, pitch);
                    sink.store(e, acc, r);
                });
            }
        }
        (PerBand::Filterbank { .. }, None) => unreachable!("a filterbank's tables are pushed by `tables`"),
        (PerBand::Bins { from, steps }, _) => {
            pool.enter(e, addrs, pool_table);
            for (lo, hi, double) in double_segments(steps, bins) {
                e.range_loop(lo, hi, |e, k| {
                    pool.iteration(e, k);
                    let ar = e.index(yr, k, pitch);
                    let ai = e.index(yi, k, pitch);
                    let re = e.vload(ar, 0);
                    let im = e.vload(ai, 0);
                    let val = from_complex(e, *from, re, im);
                    let val = emit_steps(e, steps, val, Some(double), pool);
                    sink.store(e, val, k);
                });
            }
        }
        (PerBand::ReIm, _) => {
            pool.enter(e, addrs, pool_table);
            e.range_loop(0, bins, |e, k| {
                pool.iteration(e, k);
                let ar = e.index(yr, k, pitch);
                let ai = e.index(yi, k, pitch);
                let re = e.vload(ar, 0);
                let im = e.vload(ai, 0);
                sink.store(e, re, k);
                let kb = e.b.ins().iadd_imm_s(k, bins as i64);
                sink.store(e, im, kb);
            });
        }
    }
    sink.finish(e);
}

fn from_complex(e: &mut Emit<'_, '_>, f: FromComplex, re: Value, im: Value) -> Value {
    match f {
        FromComplex::Power => power_of(e, SpectrumPower::Power, re, im),
        FromComplex::Magnitude => {
            let p = power_of(e, SpectrumPower::Power, re, im);
            e.b.ins().sqrt(p)
        }
        FromComplex::Real => re,
        FromComplex::Imag => im,
        FromComplex::Angle => vmath::emit_atan2(e.b, e.t, e.vk, im, re),
    }
}

/// Bin ranges `[lo, hi)` with whether `DoubleInterior` doubles them (one segment when the
/// steps have none).
fn double_segments(steps: &[Step], bins: usize) -> Vec<(usize, usize, bool)> {
    let last = steps.iter().find_map(|s| match s {
        Step::DoubleInterior { last } => Some(*last),
        _ => None,
    });
    match last {
        None => vec![(0, bins, false)],
        Some(last) => {
            let end = if last { bins } else { bins.saturating_sub(1) };
            let mut v = vec![(0, 1.min(bins), false)];
            if end > 1 {
                v.push((1, end, true));
            }
            v.push((end.max(1), bins, false));
            v.retain(|(a, b, _)| a < b);
            v
        }
    }
}

/// One band of the sparse filterbank: `Σ_{i < len} w[woff + i] · p[start + i]` (power vectors
/// `pitch` bytes apart). With `padded`, `len` is a multiple of 4 and the loop is unrolled by 4
/// over two accumulators (the padding weights are zero and the power buffer is finite on this
/// path).
#[allow(clippy::too_many_arguments)]
fn mel_band(
    e: &mut Emit<'_, '_>,
    p: Value,
    w: Value,
    start: Value,
    len: Value,
    woff: Value,
    padded: bool,
    pitch: i64,
) -> Value {
    let vk = e.vk;
    let v = Vk::BYTES;
    let ptr = e.ptr;
    let pa = e.index(p, start, pitch);
    let wa = e.index(w, woff, v);
    let step = if padded { 4 } else { 1 };
    let lp = e.b.create_block();
    let body = e.b.create_block();
    let exit = e.b.create_block();
    e.b.append_block_param(lp, ptr);
    e.b.append_block_param(lp, vk.ty());
    e.b.append_block_param(lp, vk.ty());
    e.b.append_block_param(exit, vk.ty());
    e.b.append_block_param(exit, vk.ty());
    let zero = e.b.ins().iconst(ptr, 0);
    let z = e.splat(0.0);
    use cranelift_codegen::ir::BlockArg;
    e.b.ins().jump(lp, &[BlockArg::Value(zero), BlockArg::Value(z), BlockArg::Value(z)]);
    e.b.switch_to_block(lp);
    let i = e.b.block_params(lp)[0];
    let a0 = e.b.block_params(lp)[1];
    let a1 = e.b.block_params(lp)[2];
    let more = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan, i, len);
    e.b.ins().brif(more, body, &[], exit, &[BlockArg::Value(a0), BlockArg::Value(a1)]);
    e.b.switch_to_block(body);
    let pi = e.index(pa, i, pitch);
    let wi = e.index(wa, i, v);
    let (mut a0, mut a1) = (a0, a1);
    for u in 0..step {
        let pv = e.vload(pi, u * pitch);
        let wv = e.vload_ro(wi, u * v);
        if u % 2 == 0 {
            a0 = e.mul_add(wv, pv, a0);
        } else {
            a1 = e.mul_add(wv, pv, a1);
        }
    }
    let next = e.b.ins().iadd_imm_s(i, step);
    e.b.ins().jump(lp, &[BlockArg::Value(next), BlockArg::Value(a0), BlockArg::Value(a1)]);
    e.b.switch_to_block(exit);
    let r0 = e.b.block_params(exit)[0];
    let r1 = e.b.block_params(exit)[1];
    e.b.ins().fadd(r0, r1)
}

/// One band of the sparse filterbank on the fast path: `Σ_{i < len} w[i] · p[i]` from the
/// band's first power vector `pa` and weight `wa` (`len` is the padded length: the padding
/// weights are zero and the powers finite here). The powers were written by an earlier stage,
/// `pitch` bytes apart.
fn mel_unrolled(e: &mut Emit<'_, '_>, pa: Value, wa: Value, len: usize, pitch: i64) -> Value {
    dot(e, pa, Loads::ReadOnly, pitch, wa, len)
}

/// `Σ_j w[j]·m[j]` over `cols` vectors `pitch` bytes apart; `m` was written by this kernel, so
/// its loads stay ordered with those stores.
fn dense_row(e: &mut Emit<'_, '_>, m: Value, wa: Value, cols: usize, pitch: i64) -> Value {
    dot(e, m, Loads::Written, pitch, wa, cols)
}

/// How a dot product reads its data vectors: as read-only memory (free to reorder), or as
/// memory the same kernel stores to.
#[derive(Clone, Copy)]
enum Loads {
    ReadOnly,
    Written,
}

/// `Σ_{i < len} w[i]·x[i]` straight line over four accumulators (a single chain would be
/// bound by the FMA latency); `x[i]` at `i · pitch` bytes, `w` a read-only table of vectors.
fn dot(e: &mut Emit<'_, '_>, x: Value, loads: Loads, pitch: i64, wa: Value, len: usize) -> Value {
    let mut acc: Vec<Value> = Vec::with_capacity(4);
    for i in 0..len {
        let at = i as i64 * pitch;
        let xv = match loads {
            Loads::ReadOnly => e.vload_ro(x, at),
            Loads::Written => e.vload(x, at),
        };
        let wv = e.vload_ro(wa, i as i64 * Vk::BYTES);
        if i < 4 {
            acc.push(e.b.ins().fmul(wv, xv));
        } else {
            acc[i % 4] = e.mul_add(wv, xv, acc[i % 4]);
        }
    }
    match acc.len() {
        0 => e.splat(0.0),
        1 => acc[0],
        2 | 3 => {
            let s = e.b.ins().fadd(acc[0], acc[1]);
            if acc.len() == 3 {
                e.b.ins().fadd(s, acc[2])
            } else {
                s
            }
        }
        _ => {
            let s0 = e.b.ins().fadd(acc[0], acc[2]);
            let s1 = e.b.ins().fadd(acc[1], acc[3]);
            e.b.ins().fadd(s0, s1)
        }
    }
}

/// `acc` plus `0·p[k]` for every bin outside `[start, start + len)`: NaN when such a bin is not
/// finite, as the dense product's zero weights make it.
fn outside_nan(
    e: &mut Emit<'_, '_>,
    p: Value,
    start: Value,
    len: Value,
    bins: usize,
    acc: Value,
    pitch: i64,
) -> Value {
    let ptr = e.ptr;
    let v = pitch;
    let end = e.b.ins().iadd(start, len);
    let nb = e.b.ins().iconst(ptr, bins as i64);
    use cranelift_codegen::ir::BlockArg;
    let lp = e.b.create_block();
    let body = e.b.create_block();
    let exit = e.b.create_block();
    e.b.append_block_param(lp, ptr);
    e.b.append_block_param(lp, e.vk.ty());
    e.b.append_block_param(exit, e.vk.ty());
    let zero = e.b.ins().iconst(ptr, 0);
    let z = e.splat(0.0);
    e.b.ins().jump(lp, &[BlockArg::Value(zero), BlockArg::Value(z)]);
    e.b.switch_to_block(lp);
    let k = e.b.block_params(lp)[0];
    let o = e.b.block_params(lp)[1];
    let more = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan, k, nb);
    e.b.ins().brif(more, body, &[], exit, &[BlockArg::Value(o)]);
    e.b.switch_to_block(body);
    let lt = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan, k, start);
    let ge = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedGreaterThanOrEqual, k, end);
    let outside = e.b.ins().bor(lt, ge);
    let a = e.index(p, k, v);
    let pv = e.vload(a, 0);
    let zero_v = e.splat(0.0);
    let prod = e.b.ins().fmul(pv, zero_v);
    let sum = e.b.ins().fadd(o, prod);
    let o2 = e.b.ins().select(outside, sum, o);
    let next = e.b.ins().iadd_imm_s(k, 1);
    e.b.ins().jump(lp, &[BlockArg::Value(next), BlockArg::Value(o2)]);
    e.b.switch_to_block(exit);
    let o = e.b.block_params(exit)[0];
    e.b.ins().fadd(acc, o)
}
