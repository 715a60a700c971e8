//! The `store` stage (values into the output at `out + band·out_band + lane·out_time`: whole
//! vectors when frames are innermost, else lane by lane) and the `reduce` stage it carries: the
//! clip scope's running maximum (NaN skipped, starts at `-inf`) and NaN mask (all ones in a
//! lane that stored a NaN), kept in variables while the tail runs and in scratch between blocks,
//! so the reduction needs no pass of its own.

use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::Variable;

use super::super::emit::{data, Emit};
use super::super::program::BlockArgs;
use super::{arg, at, Scratch};

/// The store's addresses and the reduce stage's running values, for one tail kernel.
pub struct Sink {
    out: Value,
    out_band: Value,
    out_time: Value,
    time_contiguous: bool,
    /// The reduce stage: scratch address, maximum, NaN mask.
    running: Option<(Value, Variable, Variable)>,
    /// Bytes from the maximum to the NaN mask in scratch.
    pitch: i64,
}

impl Sink {
    /// Reads the output pointer and strides from the argument block, and the running
    /// maximum from scratch when the plan has a reduce stage.
    pub fn new(
        e: &mut Emit<'_, '_>,
        args: Value,
        scratch: Value,
        s: &Scratch,
        time_contiguous: bool,
    ) -> Sink {
        let vk = e.vk;
        let out = arg(e, args, offset_of!(BlockArgs, out));
        let out_band = arg(e, args, offset_of!(BlockArgs, out_band));
        let out_time = arg(e, args, offset_of!(BlockArgs, out_time));
        let running = s.max.map(|o| {
            let a = at(e, scratch, o);
            let (mx, nan) = (e.b.declare_var(vk.ty()), e.b.declare_var(vk.ty()));
            let m0 = e.vload(a, 0);
            e.b.def_var(mx, m0);
            let n0 = e.vload(a, s.pitch);
            e.b.def_var(nan, n0);
            (a, mx, nan)
        });
        Sink { out, out_band, out_time, time_contiguous, running, pitch: s.pitch }
    }

    /// Stores `val` as band `band` of the block's frames (and folds it into the maximum).
    pub fn store(&self, e: &mut Emit<'_, '_>, val: Value, band: Value) {
        let vk = e.vk;
        if let Some((_, mx, nan)) = self.running {
            // `maxps` keeps the first operand when either is NaN: NaN never wins.
            let m = e.b.use_var(mx);
            let m = vk.max_nanprop(e.b, m, val);
            e.b.def_var(mx, m);
            let isnan = e.b.ins().fcmp(FloatCC::Unordered, val, val);
            let isnan = vk.as_float(e.b, isnan);
            let n = e.b.use_var(nan);
            let n = e.b.ins().bor(n, isnan);
            e.b.def_var(nan, n);
        }
        let base = e.b.ins().imul(band, self.out_band);
        let base = e.b.ins().iadd(self.out, base);
        if self.time_contiguous {
            e.vstore(val, base, 0);
        } else {
            let lanes = vk.lanes();
            let mut at = base;
            for lane in 0..lanes {
                let s = e.b.ins().extractlane(val, lane as u8);
                e.b.ins().store(data(), s, at, 0);
                if lane + 1 < lanes {
                    at = e.b.ins().iadd(at, self.out_time);
                }
            }
        }
    }

    /// After the last store: the running maximum back to scratch.
    pub fn finish(&self, e: &mut Emit<'_, '_>) {
        if let Some((a, mx, nan)) = self.running {
            let m = e.b.use_var(mx);
            e.vstore(m, a, 0);
            let n = e.b.use_var(nan);
            e.vstore(n, a, self.pitch);
        }
    }
}
