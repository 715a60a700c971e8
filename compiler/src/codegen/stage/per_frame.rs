//! `per_frame` stages (an op on each frame in place, inside the load kernel) and the `column`
//! stage (a per-frame value for an extra output column: Kaldi's energy, whose sum of squares
//! the kernel leaves in scratch and the runtime turns into `ln` with its floors).

use cranelift_codegen::ir::{InstBuilder, Value};

use super::super::emit::{DataSet, Emit};
use super::super::vec::Vk;
use super::{at, Scratch};
use crate::kernel::{FrameOp, StageKind};

/// Pushes the table a per-frame stage reads, if it has one.
pub fn table(kind: &StageKind, vk: Vk, set: &mut DataSet) -> Option<usize> {
    match kind {
        StageKind::PerFrame(FrameOp::Window(t)) => Some(set.push_floats(vk, t.data.iter().copied())),
        _ => None,
    }
}

/// Emits one per-frame or column stage over the frame `x` (`table`: its table's address).
pub fn emit(
    e: &mut Emit<'_, '_>,
    kind: &StageKind,
    x: Value,
    s: &Scratch,
    scratch: Value,
    table: Option<Value>,
) {
    let taps = s.taps;
    let v = s.pitch;
    let vk = e.vk;
    let esz = vk.elem_bytes() as i64;
    match kind {
        StageKind::PerFrame(FrameOp::RemoveDc) => {
            let sum = e.b.declare_var(vk.ty());
            let z = e.splat(0.0);
            e.b.def_var(sum, z);
            e.counted_loop(taps, |e, j| {
                let a = e.index(x, j, v);
                let xv = e.vload(a, 0);
                let s = e.b.use_var(sum);
                let s = e.b.ins().fadd(s, xv);
                e.b.def_var(sum, s);
            });
            let s = e.b.use_var(sum);
            let inv = e.splat(1.0 / taps as f64);
            let mean = e.b.ins().fmul(s, inv);
            e.counted_loop(taps, |e, j| {
                let a = e.index(x, j, v);
                let xv = e.vload(a, 0);
                let y = e.b.ins().fsub(xv, mean);
                e.vstore(y, a, 0);
            });
        }
        StageKind::PerFrame(FrameOp::Preemphasis(coef)) => {
            let k = e.splat(*coef);
            let ptr = e.ptr;
            // Downwards, so x[j-1] is still the old value; x[-1] = x[0].
            e.counted_loop(taps.saturating_sub(1), |e, i| {
                let n1 = e.b.ins().iconst(ptr, taps as i64 - 1);
                let j = e.b.ins().isub(n1, i);
                let a = e.index(x, j, v);
                let cur = e.vload(a, 0);
                let prev = e.vload(a, -v);
                let p = e.b.ins().fmul(k, prev);
                let y = e.b.ins().fsub(cur, p);
                e.vstore(y, a, 0);
            });
            let x0 = e.vload(x, 0);
            let p = e.b.ins().fmul(k, x0);
            let y = e.b.ins().fsub(x0, p);
            e.vstore(y, x, 0);
        }
        StageKind::PerFrame(FrameOp::Window(_)) => {
            let w = table.expect("window tables are pushed by `table`");
            e.counted_loop(taps, |e, j| {
                let a = e.index(x, j, v);
                let xv = e.vload(a, 0);
                let wa = e.index(w, j, esz);
                let wv = e.splat_load(wa, 0);
                let y = e.b.ins().fmul(xv, wv);
                e.vstore(y, a, 0);
            });
        }
        StageKind::Column(_) => {
            let dst = at(e, scratch, s.energy.expect("a column has its scratch"));
            column(e, x, taps, dst, v);
        }
        other => unreachable!("the load kernel holds per-frame and column stages only, not {}", other.name()),
    }
}

/// Stores at `dst` each lane's sum of squares of the frame's `taps` vectors at `x`, `v` bytes
/// apart (Kaldi's energy, before its log).
pub fn column(e: &mut Emit<'_, '_>, x: Value, taps: usize, dst: Value, v: i64) {
    let sum = e.b.declare_var(e.vk.ty());
    let z = e.splat(0.0);
    e.b.def_var(sum, z);
    e.counted_loop(taps, |e, j| {
        let a = e.index(x, j, v);
        let xv = e.vload(a, 0);
        let sq = e.b.ins().fmul(xv, xv);
        let s = e.b.use_var(sum);
        let s = e.b.ins().fadd(s, sq);
        e.b.def_var(sum, s);
    });
    let s = e.b.use_var(sum);
    e.vstore(s, dst, 0);
}
