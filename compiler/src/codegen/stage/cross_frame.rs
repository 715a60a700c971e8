//! `cross_frame` stages, a kernel each over one column of a signal's values across its frames.
//!
//! - `subtract_mean`: in place in the output, `x - mean(x)`, the mean summed in f64 in frame
//!   order, each value rounded once. Signature `extern "C" fn(data, frames, stride)`: the
//!   column's `frames` values (the program's precision) `stride` bytes apart.
//! - `deltas`: signature `extern "C" fn(x, frames, y)`: the column's `frames` values in f64 at
//!   `x` (the runtime gathers it from the output's layout, and stores the results rounded once:
//!   replicate's next order reads the unrounded previous one); at `y`, [`outputs`] blocks of
//!   `frames` values: block `o - 1` holds the order-`o` derivative, `o = 1..=order`. Interp: the
//!   Savitzky-Golay weights of each window position over the original column (the centre row
//!   inside, the first and last windows' fits at the edges, as `scipy.signal.savgol_filter(mode=
//!   'interp')`); the runtime guarantees `frames >= width`. Replicate: `sum_k k (c[t+k] -
//!   c[t-k])` written as `sum_{j=-n..n} j c[clamp(t+j)]` over the previous order's column `c`,
//!   divided by `2 sum k²` (torchaudio `compute_deltas`).
//!
//! Each sum runs in the interpreter's order with `fmul` and `fadd`, never fused, so the JIT and
//! the interpreter agree bit for bit.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, BlockArg, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::FuncId;

use super::super::emit::{data, for_count, readonly};
use super::super::jit::{CodeModule, JitError};
use crate::graph::cepstral::savgol_weights;
use crate::graph::{DeltaMode, Precision};
use crate::kernel::CrossFrame;

/// Blocks of `frames` f64 values the `deltas` kernel of `c` writes.
pub fn outputs(c: &CrossFrame) -> usize {
    match c {
        CrossFrame::SubtractMean => 0,
        CrossFrame::Deltas(d) => d.order,
    }
}

/// The Savitzky-Golay weights an interp `deltas` kernel reads: per order, per window position,
/// `width` weights.
pub fn interp_weights(width: usize, order: usize) -> usize {
    order * width * width
}

/// Defines the kernel of cross-frame stage number `k` of the plan, for programs of `precision`.
pub fn define(
    jit: &mut CodeModule,
    c: &CrossFrame,
    k: usize,
    precision: Precision,
) -> Result<FuncId, JitError> {
    let ptr = jit.target().pointer_type;
    let mut sig = jit.make_signature();
    sig.params.extend([AbiParam::new(ptr); 3]);
    let name = format!("cross_frame{k}");
    match c {
        CrossFrame::SubtractMean => jit.define(&name, sig, |b, _| {
            let (x, t, stride) = entry(b);
            let elem = |b: &mut FunctionBuilder<'_>, i: Value| {
                let off = b.ins().imul(i, stride);
                b.ins().iadd(x, off)
            };
            let (ty, f32) = match precision {
                Precision::F32 => (types::F32, true),
                Precision::F64 => (types::F64, false),
            };
            let sum = sum_over(b, ptr, t, |b, i| {
                let a = elem(b, i);
                let v = b.ins().load(ty, readonly(), a, 0);
                if f32 {
                    b.ins().fpromote(types::F64, v)
                } else {
                    v
                }
            });
            let tf = b.ins().fcvt_from_uint(types::F64, t);
            let mean = b.ins().fdiv(sum, tf);
            for_count(b, ptr, t, |b, i| {
                let a = elem(b, i);
                let v = b.ins().load(ty, data(), a, 0);
                let v = if f32 { b.ins().fpromote(types::F64, v) } else { v };
                let v = b.ins().fsub(v, mean);
                let v = if f32 { b.ins().fdemote(types::F32, v) } else { v };
                b.ins().store(data(), v, a, 0);
            });
            b.ins().return_(&[]);
        }),
        CrossFrame::Deltas(d) if d.mode == DeltaMode::Interp => {
            let w = d.width;
            let mut bytes = Vec::with_capacity(interp_weights(w, d.order) * 8);
            for o in 1..=d.order {
                for pos in 0..w {
                    for v in savgol_weights(w, o, o, pos) {
                        bytes.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            let table = jit.define_data(&format!("{name}.savgol"), bytes, 8)?;
            let (order, h) = (d.order, w / 2);
            jit.define_with_data(&name, sig, &[table], |b, _, gvs| {
                let (x, t, y) = entry(b);
                let wt = b.ins().symbol_value(ptr, gvs[0]);
                for o in 0..order {
                    let yo = offset_block(b, y, t, o);
                    for_count(b, ptr, t, |b, i| {
                        // pos, start: (i, 0) at the left edge, (i + w - t, t - w) at the right
                        // edge, (h, i - h) inside.
                        let left = b.ins().icmp_imm_u(IntCC::UnsignedLessThan, i, h as i64);
                        let ih = b.ins().iadd_imm_s(i, h as i64);
                        let right = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, ih, t);
                        let iw = b.ins().iadd_imm_s(i, w as i64);
                        let right_pos = b.ins().isub(iw, t);
                        let right_start = b.ins().iadd_imm_s(t, -(w as i64));
                        let hv = b.ins().iconst(ptr, h as i64);
                        let mid_start = b.ins().iadd_imm_s(i, -(h as i64));
                        let zero = b.ins().iconst(ptr, 0);
                        let pos = b.ins().select(right, right_pos, hv);
                        let pos = b.ins().select(left, i, pos);
                        let start = b.ins().select(right, right_start, mid_start);
                        let start = b.ins().select(left, zero, start);
                        let row = b.ins().iadd_imm_s(pos, (o * w) as i64);
                        let row = b.ins().imul_imm_s(row, (w * 8) as i64);
                        let row = b.ins().iadd(wt, row);
                        let xs = b.ins().imul_imm_s(start, 8);
                        let xs = b.ins().iadd(x, xs);
                        let wc = b.ins().iconst(ptr, w as i64);
                        let acc = sum_over(b, ptr, wc, |b, p| {
                            let wp = load_at(b, row, p);
                            let xp = load_at(b, xs, p);
                            b.ins().fmul(wp, xp)
                        });
                        store_at(b, acc, yo, i);
                    });
                }
                b.ins().return_(&[]);
            })
        }
        CrossFrame::Deltas(d) => {
            let n = (d.width.saturating_sub(1) / 2) as i64;
            let denom = (n * (n + 1) * (2 * n + 1)) as f64 / 3.0;
            let order = d.order;
            jit.define(&name, sig, |b, _| {
                let (x, t, y) = entry(b);
                let last = b.ins().iadd_imm_s(t, -1);
                let zero = b.ins().iconst(ptr, 0);
                let den = b.ins().f64const(denom);
                let taps = b.ins().iconst(ptr, 2 * n + 1);
                for o in 0..order {
                    let src = if o == 0 { x } else { offset_block(b, y, t, o - 1) };
                    let yo = offset_block(b, y, t, o);
                    for_count(b, ptr, t, |b, i| {
                        let acc = sum_over(b, ptr, taps, |b, p| {
                            // j = p - n; the frame i + j clamped to 0..t
                            let j = b.ins().iadd_imm_s(p, -n);
                            let at = b.ins().iadd(i, j);
                            let at = b.ins().smax(at, zero);
                            let at = b.ins().smin(at, last);
                            let v = load_at(b, src, at);
                            let jf = b.ins().fcvt_from_sint(types::F64, j);
                            b.ins().fmul(jf, v)
                        });
                        let v = b.ins().fdiv(acc, den);
                        store_at(b, v, yo, i);
                    });
                }
                b.ins().return_(&[]);
            })
        }
    }
}

/// Opens the entry block; returns `(x, frames, y)`.
fn entry(b: &mut FunctionBuilder<'_>) -> (Value, Value, Value) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    (p[0], p[1], p[2])
}

/// `base + 8 * i`.
fn addr(b: &mut FunctionBuilder<'_>, base: Value, i: Value) -> Value {
    let off = b.ins().imul_imm_s(i, 8);
    b.ins().iadd(base, off)
}

fn load_at(b: &mut FunctionBuilder<'_>, base: Value, i: Value) -> Value {
    let a = addr(b, base, i);
    b.ins().load(types::F64, readonly(), a, 0)
}

fn store_at(b: &mut FunctionBuilder<'_>, v: Value, base: Value, i: Value) {
    let a = addr(b, base, i);
    b.ins().store(data(), v, a, 0);
}

/// Block `o` of `frames` values after `y`.
fn offset_block(b: &mut FunctionBuilder<'_>, y: Value, t: Value, o: usize) -> Value {
    let off = b.ins().imul_imm_s(t, (o * 8) as i64);
    b.ins().iadd(y, off)
}

/// `term(0) + term(1) + ... + term(count - 1)` in that order (`count >= 1` at run time): the
/// first term starts the sum, as Rust's float `sum` (from `-0.0`) gives the same bits.
fn sum_over(
    b: &mut FunctionBuilder<'_>,
    ptr: types::Type,
    count: Value,
    term: impl Fn(&mut FunctionBuilder<'_>, Value) -> Value,
) -> Value {
    let zero = b.ins().iconst(ptr, 0);
    let first = term(b, zero);
    let head = b.create_block();
    let lp = b.create_block();
    let exit = b.create_block();
    b.append_block_param(head, ptr);
    b.append_block_param(head, types::F64);
    b.append_block_param(exit, types::F64);
    let one = b.ins().iconst(ptr, 1);
    b.ins().jump(head, &[BlockArg::Value(one), BlockArg::Value(first)]);
    b.switch_to_block(head);
    let (i, acc) = (b.block_params(head)[0], b.block_params(head)[1]);
    let more = b.ins().icmp(IntCC::UnsignedLessThan, i, count);
    b.ins().brif(more, lp, &[], exit, &[BlockArg::Value(acc)]);
    b.switch_to_block(lp);
    let v = term(b, i);
    let acc2 = b.ins().fadd(acc, v);
    let next = b.ins().iadd_imm_s(i, 1);
    b.ins().jump(head, &[BlockArg::Value(next), BlockArg::Value(acc2)]);
    b.switch_to_block(exit);
    b.block_params(exit)[0]
}
