//! The `clip` stage: a kernel over the output in place, run once the reduce stage's maximum is
//! complete: `max(x - shift, threshold)` (a NaN threshold makes NaN), then the steps after the
//! clip. Signature `extern "C" fn(data, len, params)`, `len` a multiple of the vector width,
//! `params` the threshold and the shift as two scalars.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{AbiParam, BlockArg, InstBuilder};
use cranelift_module::FuncId;

use super::super::emit::{readonly, Emit};
use super::super::jit::{CodeModule, JitError};
use super::super::math::Inline;
use super::super::vec::Vk;
use super::steps::emit_steps;
use crate::kernel::ClipStage;

/// Defines the clip kernel of `stage`.
pub fn define(jit: &mut CodeModule, stage: &ClipStage, vk: Vk) -> Result<FuncId, JitError> {
    let ptr = jit.target().pointer_type;
    let esz = vk.elem_bytes();
    let lanes = vk.lanes();
    let ref_max = stage.clip.ref_max;
    let mut s = jit.make_signature();
    s.params.extend([AbiParam::new(ptr); 3]);
    let post = stage.post.clone();
    jit.define("clip", s, |b, t| {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let mut e = Emit { b, t, ptr, vk };
        let (base, len, thr_ptr) = (p[0], p[1], p[2]);
        let thr = e.b.ins().load(vk.scalar(), readonly(), thr_ptr, 0);
        let thr = e.b.ins().splat(vk.ty(), thr);
        // librosa's ref=np.max: the scope's maximum, after the threshold, is subtracted.
        let shift = ref_max.then(|| {
            let s = e.b.ins().load(vk.scalar(), readonly(), thr_ptr, esz as i32);
            e.b.ins().splat(vk.ty(), s)
        });
        let thr_nan = e.b.ins().fcmp(FloatCC::Unordered, thr, thr);
        let thr_nan = vk.as_float(e.b, thr_nan);
        let lp = e.b.create_block();
        let body = e.b.create_block();
        let exit = e.b.create_block();
        e.b.append_block_param(lp, ptr);
        let zero = e.b.ins().iconst(ptr, 0);
        e.b.ins().jump(lp, &[BlockArg::Value(zero)]);
        e.b.switch_to_block(lp);
        let i = e.b.block_params(lp)[0];
        let more = e.b.ins().icmp(IntCC::UnsignedLessThan, i, len);
        e.b.ins().brif(more, body, &[], exit, &[]);
        e.b.switch_to_block(body);
        let a = e.index(base, i, esz as i64);
        let x = e.vload(a, 0);
        let x = match shift {
            Some(sh) => e.b.ins().fsub(x, sh),
            None => x,
        };
        let m = vk.max_nanprop(e.b, x, thr);
        let m = e.b.ins().bitselect(thr_nan, thr, m);
        let y = emit_steps(&mut e, &post, m, None, &mut Inline);
        e.vstore(y, a, 0);
        let next = e.b.ins().iadd_imm_s(i, lanes as i64);
        e.b.ins().jump(lp, &[BlockArg::Value(next)]);
        e.b.switch_to_block(exit);
        e.b.ins().return_(&[]);
    })
}
