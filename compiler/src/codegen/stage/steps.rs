//! Elementwise steps (`Step`) of the per-band and clip stages, and the constant [`Pool`] their
//! loops read constants from.

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::super::emit::{data, readonly, Addrs, Emit};
use super::super::math::Consts;
use super::super::vec::Vk;
use super::super::vmath;
use crate::graph::{Step, Unary};

/// Applies elementwise steps; `double` says whether `DoubleInterior` doubles this value.
pub fn emit_steps(
    e: &mut Emit<'_, '_>,
    steps: &[Step],
    mut x: Value,
    double: Option<bool>,
    k: &mut dyn Consts,
) -> Value {
    let vk = e.vk;
    for s in steps {
        x = match *s {
            Step::Unary(u) => match u {
                Unary::Sqrt => e.b.ins().sqrt(x),
                Unary::Ln => vmath::emit_ln(e.b, e.t, vk, x),
                Unary::Log10 => vmath::emit_log10(e.b, e.t, vk, x),
                Unary::Pow(p) => vmath::emit_pow_const(e.b, e.t, vk, x, p),
                Unary::ClampMin(m) => {
                    let mv = e.splat(m);
                    vk.max_nanprop(e.b, x, mv)
                }
                Unary::Affine(a, b) => {
                    let av = e.splat(a);
                    let bv = e.splat(b);
                    let p = e.b.ins().fmul(x, av);
                    e.b.ins().fadd(p, bv)
                }
            },
            Step::Scale(f) => {
                let fv = e.splat(f);
                e.b.ins().fmul(x, fv)
            }
            Step::DoubleInterior { .. } => {
                if double == Some(true) {
                    let two = e.splat(2.0);
                    e.b.ins().fmul(x, two)
                } else {
                    x
                }
            }
            Step::Log { mult, amin, offset } => {
                if vk == Vk::F32X4 && amin as f32 >= f32::MIN_POSITIVE {
                    // The floor leaves only normal floats, +inf and NaN: the short ln, scaled
                    // once by mult / ln 10.
                    let a = k.f32(e.b, amin as f32);
                    let m = vk.max_nanprop(e.b, x, a);
                    let l = super::super::math::emit_ln_normal(e.b, e.t, m, k);
                    let kv = k.f32(e.b, (mult / std::f64::consts::LN_10) as f32);
                    let p = e.b.ins().fmul(l, kv);
                    let ov = k.f32(e.b, offset as f32);
                    e.b.ins().fsub(p, ov)
                } else {
                    let a = e.splat(amin);
                    let m = vk.max_nanprop(e.b, x, a);
                    let ov = e.splat(offset);
                    let l = vmath::emit_log10(e.b, e.t, vk, m);
                    let mv = e.splat(mult);
                    let p = e.b.ins().fmul(l, mv);
                    e.b.ins().fsub(p, ov)
                }
            }
        };
    }
    x
}

/// A loop's `F32X4` constants read from a table instead of held in registers: the dB step's
/// logarithm needs about 16 constants, which with its temporaries exceed the 16 xmm
/// registers, and Cranelift hoists `vconst`s out of the loop and then spills and reloads them
/// (and stores them again on every back edge). Each iteration addresses the table through
/// `pool + (i & zero)`, where `zero` is loaded from the table itself before the loop: the
/// address depends on the loop index, so the loads are not hoisted, and each is a pure,
/// single-use load that x64 folds into its instruction as a memory operand.
#[derive(Default)]
pub struct Pool {
    /// Entry bit patterns; entry 0 is the zero the address trick loads.
    entries: Vec<u32>,
    table: Option<Value>,
    zero: Option<Value>,
    base: Option<Value>,
}

impl Pool {
    /// Before a loop: the table's address and the opaque zero (F32X4 kernels only: the
    /// constants it serves are the f32 logarithm's).
    pub fn enter(&mut self, e: &mut Emit<'_, '_>, addrs: &Addrs, table: usize) {
        if e.vk != Vk::F32X4 {
            return;
        }
        if self.entries.is_empty() {
            self.entries.push(0);
        }
        let t = addrs.get(e.b, e.ptr, table);
        self.table = Some(t);
        self.zero = Some(e.b.ins().load(e.ptr, data(), t, 0));
    }

    /// At the top of an iteration with loop index `i`.
    pub fn iteration(&mut self, e: &mut Emit<'_, '_>, i: Value) {
        let (Some(t), Some(z)) = (self.table, self.zero) else { return };
        let masked = e.b.ins().band(i, z);
        self.base = Some(e.b.ins().iadd(t, masked));
    }

    fn load(&mut self, b: &mut cranelift_frontend::FunctionBuilder<'_>, ty: types::Type, bits: u32) -> Value {
        let idx = match self.entries.iter().skip(1).position(|&x| x == bits) {
            Some(i) => i + 1,
            None => {
                self.entries.push(bits);
                self.entries.len() - 1
            }
        };
        let base = self.base.expect("iteration before a constant");
        b.ins().load(ty, readonly().with_can_move(), base, (idx * Vk::BYTES as usize) as i32)
    }

    /// The table: each entry once per lane.
    pub fn bytes(&self) -> Vec<u8> {
        let entries = if self.entries.is_empty() { &[0u32][..] } else { &self.entries[..] };
        entries.iter().flat_map(|e| std::iter::repeat_n(e.to_le_bytes(), 4).flatten()).collect()
    }
}

impl Consts for Pool {
    fn f32(&mut self, b: &mut cranelift_frontend::FunctionBuilder<'_>, v: f32) -> Value {
        self.load(b, types::F32X4, v.to_bits())
    }
    fn i32(&mut self, b: &mut cranelift_frontend::FunctionBuilder<'_>, v: i32) -> Value {
        self.load(b, types::I32X4, v as u32)
    }
}
