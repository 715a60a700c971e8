//! The vector a kernel computes in: `F32X4` (four frames per vector) for float32 programs and
//! `F64X2` (two frames) for float64 ones. Emitters take a [`Vk`] and never name a lane type
//! themselves, so one emitter serves both precisions.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;

use super::jit::TargetInfo;
use crate::graph::Precision;

/// A vector kind: lane type, lane count and the matching integer vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vk {
    /// Precision of a lane.
    pub precision: Precision,
}

impl Vk {
    /// Four `f32` lanes.
    pub const F32X4: Vk = Vk { precision: Precision::F32 };
    /// Two `f64` lanes.
    pub const F64X2: Vk = Vk { precision: Precision::F64 };

    /// The vector kind computing in `p`.
    pub fn of(p: Precision) -> Vk {
        Vk { precision: p }
    }
    /// The Cranelift vector type (`F32X4` / `F64X2`).
    pub fn ty(self) -> Type {
        match self.precision {
            Precision::F32 => types::F32X4,
            Precision::F64 => types::F64X2,
        }
    }
    /// The scalar lane type (`F32` / `F64`).
    pub fn scalar(self) -> Type {
        match self.precision {
            Precision::F32 => types::F32,
            Precision::F64 => types::F64,
        }
    }
    /// The integer vector of the same lane width (`I32X4` / `I64X2`): what `fcmp` returns and
    /// what bit tricks work on.
    pub fn int(self) -> Type {
        match self.precision {
            Precision::F32 => types::I32X4,
            Precision::F64 => types::I64X2,
        }
    }
    /// The integer scalar of a lane (`I32` / `I64`).
    pub fn int_scalar(self) -> Type {
        match self.precision {
            Precision::F32 => types::I32,
            Precision::F64 => types::I64,
        }
    }
    /// Lanes per vector: 4 or 2.
    pub fn lanes(self) -> usize {
        match self.precision {
            Precision::F32 => 4,
            Precision::F64 => 2,
        }
    }
    /// Bytes of one lane: 4 or 8.
    pub fn elem_bytes(self) -> usize {
        match self.precision {
            Precision::F32 => 4,
            Precision::F64 => 8,
        }
    }
    /// Bytes of one vector (16 for both kinds).
    pub const BYTES: i64 = 16;

    /// A scalar constant of the lane type, `v` rounded once to it.
    pub fn scalar_const(self, b: &mut FunctionBuilder<'_>, v: f64) -> Value {
        match self.precision {
            Precision::F32 => b.ins().f32const(v as f32),
            Precision::F64 => b.ins().f64const(v),
        }
    }
    /// A vector with `v` (rounded once to the lane type) in every lane.
    pub fn splat(self, b: &mut FunctionBuilder<'_>, v: f64) -> Value {
        let s = self.scalar_const(b, v);
        b.ins().splat(self.ty(), s)
    }
    /// An integer vector with `v` in every lane.
    pub fn splat_int(self, b: &mut FunctionBuilder<'_>, v: i64) -> Value {
        let s = b.ins().iconst(self.int_scalar(), v);
        b.ins().splat(self.int(), s)
    }
    /// Reinterprets an integer vector of this kind (e.g. an `fcmp` mask) as floats.
    pub fn as_float(self, b: &mut FunctionBuilder<'_>, v: Value) -> Value {
        b.ins().bitcast(self.ty(), MemFlagsData::new(), v)
    }
    /// Reinterprets a float vector as integers.
    pub fn as_int(self, b: &mut FunctionBuilder<'_>, v: Value) -> Value {
        b.ins().bitcast(self.int(), MemFlagsData::new(), v)
    }
    /// `a·x + c`: one `fma` when the ISA has it, else `fmul` + `fadd` (never the per-lane
    /// libcalls Cranelift emits for `fma` without FMA).
    pub fn mul_add(self, b: &mut FunctionBuilder<'_>, t: TargetInfo, a: Value, x: Value, c: Value) -> Value {
        if t.has_fma {
            b.ins().fma(a, x, c)
        } else {
            let p = b.ins().fmul(a, x);
            b.ins().fadd(p, c)
        }
    }
    /// `max(x, y)` that returns `x` when either is NaN in the way `np.maximum(x, y)` does for a
    /// NaN `x` (one `maxps`/`maxpd`; a NaN `y` gives `x`).
    pub fn max_nanprop(self, b: &mut FunctionBuilder<'_>, x: Value, y: Value) -> Value {
        let lt = b.ins().fcmp(FloatCC::LessThan, x, y);
        let lt = self.as_float(b, lt);
        b.ins().bitselect(lt, y, x)
    }
    /// `min(x, y)` that returns `x` when `x` is NaN.
    pub fn min_nanprop(self, b: &mut FunctionBuilder<'_>, x: Value, y: Value) -> Value {
        let gt = b.ins().fcmp(FloatCC::GreaterThan, x, y);
        let gt = self.as_float(b, gt);
        b.ins().bitselect(gt, y, x)
    }
}
