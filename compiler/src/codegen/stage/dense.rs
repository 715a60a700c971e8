//! The `dense` stage of a phase over frames: each frame's `cols` staged values times the
//! `rows x cols` weights (a DCT with its lifter folded in), into `rows` values. Signature
//! `extern "C" fn(src, frames, dst)`: `frames` frames of `cols` values at `src` (row-major, the
//! program's precision) in, `frames x rows` values at `dst` out (frame-major).
//!
//! Every product is summed in f64 in column order and rounded once to the program's precision
//! (`fmul` then `fadd`, never fused): the interpreter's order, so the result does not depend on
//! how the runtime splits frames between threads. The accumulators are `F64X2` vectors over
//! pairs of rows, carried through a loop over the columns in passes of at most `GROUP`
//! vectors, so they stay in registers whatever the matrix's size.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, BlockArg, InstBuilder, MemFlagsData, Value};
use cranelift_module::FuncId;

use super::super::emit::{data, for_count, readonly};
use super::super::jit::{CodeModule, JitError};
use crate::graph::Precision;
use crate::kernel::Dense;

/// Most accumulator vectors (pairs of rows) per pass over the columns: 24 rows in 12 of the 16
/// SSE registers, the rest for a weight and the splatted value. Each accumulator is a chain of
/// dependent `fadd`s, so a pass needs about six of them to keep both adders busy (3 cycles of
/// latency on Zen 4): the pairs are split into passes of equal size (20 rows: one pass of 10,
/// not 8 + 2).
const GROUP: usize = 12;

/// Defines the dense kernel of `d` for `precision`.
pub fn define(jit: &mut CodeModule, d: &Dense, precision: Precision) -> Result<FuncId, JitError> {
    let (rows, cols) = (d.rows, d.cols);
    let pairs = rows.div_ceil(2);
    // Column-major, each column padded to whole pairs: the pair loaded for rows (2k, 2k+1) of
    // column j is at `(j * pairs + k) * 16` bytes.
    let mut bytes = Vec::with_capacity(cols * pairs * 16);
    for j in 0..cols {
        for i in 0..pairs * 2 {
            let w = if i < rows { d.weights[i * cols + j] } else { 0.0 };
            bytes.extend_from_slice(&w.to_le_bytes());
        }
    }
    let table = jit.define_data("dense.weights", bytes, 16)?;
    let ptr = jit.target().pointer_type;
    let esz = match precision {
        Precision::F32 => 4,
        Precision::F64 => 8,
    };
    let scalar = match precision {
        Precision::F32 => types::F32,
        Precision::F64 => types::F64,
    };
    let mut sig = jit.make_signature();
    sig.params.extend([AbiParam::new(ptr); 3]);
    jit.define_with_data("dense", sig, &[table], |b, _t, gvs| {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let (src, frames, dst) = (p[0], p[1], p[2]);
        let wt = b.ins().symbol_value(ptr, gvs[0]);
        for_count(b, ptr, frames, |b, f| {
            let x = b.ins().imul_imm_s(f, (cols * esz) as i64);
            let x = b.ins().iadd(src, x);
            let y = b.ins().imul_imm_s(f, (rows * esz) as i64);
            let y = b.ins().iadd(dst, y);
            let passes = pairs.div_ceil(GROUP);
            let per = pairs.div_ceil(passes);
            for first in (0..pairs).step_by(per) {
                let n = per.min(pairs - first);
                let accs = columns(b, ptr, cols, n, x, wt, first, pairs, esz, scalar);
                for (k, acc) in accs.into_iter().enumerate() {
                    for lane in 0..2u8 {
                        let row = 2 * (first + k) + lane as usize;
                        if row >= rows {
                            break;
                        }
                        let v = b.ins().extractlane(acc, lane);
                        let v = if precision == Precision::F32 { b.ins().fdemote(types::F32, v) } else { v };
                        b.ins().store(data(), v, y, (row * esz) as i32);
                    }
                }
            }
        });
        b.ins().return_(&[]);
    })
}

/// The loop over the `cols` values of the frame at `x` for `n` accumulator pairs starting at
/// pair `first`; returns the accumulators after the last column.
#[allow(clippy::too_many_arguments)]
fn columns(
    b: &mut cranelift_frontend::FunctionBuilder<'_>,
    ptr: types::Type,
    cols: usize,
    n: usize,
    x: Value,
    wt: Value,
    first: usize,
    pairs: usize,
    esz: usize,
    scalar: types::Type,
) -> Vec<Value> {
    let lp = b.create_block();
    let done = b.create_block();
    b.append_block_param(lp, ptr);
    for _ in 0..n {
        b.append_block_param(lp, types::F64X2);
        b.append_block_param(done, types::F64X2);
    }
    let zero = b.ins().f64const(0.0);
    let zero = b.ins().splat(types::F64X2, zero);
    let j0 = b.ins().iconst(ptr, 0);
    let mut init = vec![BlockArg::Value(j0)];
    init.extend((0..n).map(|_| BlockArg::Value(zero)));
    b.ins().jump(lp, &init);
    b.switch_to_block(lp);
    let params = b.block_params(lp).to_vec();
    let j = params[0];
    let xj = b.ins().imul_imm_s(j, esz as i64);
    let xj = b.ins().iadd(x, xj);
    let v = b.ins().load(scalar, readonly(), xj, 0);
    let v = if scalar == types::F32 { b.ins().fpromote(types::F64, v) } else { v };
    let v = b.ins().splat(types::F64X2, v);
    let col = b.ins().imul_imm_s(j, (pairs * 16) as i64);
    let col = b.ins().iadd(wt, col);
    let flags = MemFlagsData::new().with_notrap().with_readonly().with_aligned();
    let accs: Vec<Value> = (0..n)
        .map(|k| {
            let w = b.ins().load(types::F64X2, flags, col, ((first + k) * 16) as i32);
            let prod = b.ins().fmul(w, v);
            b.ins().fadd(params[1 + k], prod)
        })
        .collect();
    let next = b.ins().iadd_imm_s(j, 1);
    let more = b.ins().icmp_imm_u(IntCC::UnsignedLessThan, next, cols as i64);
    let mut again = vec![BlockArg::Value(next)];
    again.extend(accs.iter().map(|&a| BlockArg::Value(a)));
    let out: Vec<BlockArg> = accs.iter().map(|&a| BlockArg::Value(a)).collect();
    b.ins().brif(more, lp, &again, done, &out);
    b.switch_to_block(done);
    b.block_params(done).to_vec()
}
