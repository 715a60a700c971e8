//! Stage emitters: one module per [`StageKind`](crate::kernel::StageKind) of the kernel plan.
//!
//! The phase over blocks of frames becomes four `extern "C" fn(*const BlockArgs)` kernels,
//! each the concatenation of consecutive stages' code:
//! - `load`: [`load`] (the framed load), then each [`per_frame`] op and [`per_frame::column`]
//!   in plan order;
//! - `fft` and `dft`: [`transform`] (the FFT the plan names, and the direct sum for frames with
//!   NaN or inf);
//! - `tail`: [`per_band`], whose values go through [`store`] (which also runs the `reduce`
//!   stage's running maximum).
//!
//! Stages of later phases, a kernel each, which the driver (`specc_rt::driver`) calls as it
//! walks the plan's phases: [`clip`] over the output in place, [`dense`] over the staged
//! values, [`cross_frame`] over one column of a signal's frames.
//!
//! Every emitter reads the scratch layout from [`Scratch`], decided once in
//! [`program::compile`](super::program::compile).

pub mod clip;
pub mod cross_frame;
pub mod dense;
pub mod load;
pub mod per_band;
pub mod per_frame;
pub mod steps;
pub mod store;
pub mod transform;

use cranelift_codegen::ir::{AbiParam, InstBuilder, Value};
use cranelift_module::{DataId, FuncId};

use super::emit::{data, Addrs, Emit};
use super::jit::{CodeModule, JitError};
use super::vec::Vk;

/// Byte offsets of the block kernels' scratch regions (each 16-byte aligned) and the sizes the
/// emitters share.
#[derive(Clone, Copy, Debug)]
pub struct Scratch {
    /// The frame: `x_points` vectors.
    pub x: usize,
    /// The frame folded onto the DFT period (Keras's odd-length basis), else `x`.
    pub xw: usize,
    /// The spectrum's real parts; with a filterbank, vector 0 holds the power sum.
    pub y_re: usize,
    /// The spectrum's imaginary parts (`y_re` for a fused filterbank and even n).
    pub y_im: usize,
    /// The FFT's own scratch.
    pub fft: usize,
    /// The power per bin (plus 4 zero vectors of padding).
    pub p: usize,
    /// The filterbank's band sums.
    pub m: usize,
    /// The non-finite flag vector.
    pub flag: usize,
    /// The energy column's sums of squares.
    pub energy: Option<usize>,
    /// The reduce stage's running maximum and NaN mask.
    pub max: Option<usize>,
    /// Total bytes.
    pub bytes: usize,
    /// Taps each frame reads.
    pub taps: usize,
    /// Vectors of `x` (taps, zero-padded to the period and to whole vectors).
    pub x_points: usize,
    /// Bins of the spectrum.
    pub bins: usize,
    /// Bytes between consecutive vectors of every region ([`Vk::BYTES`], or twice that in a
    /// wide program: there the block's 8 frames are two 4-lane halves, run as two calls of each
    /// kernel with the scratch address 16 bytes apart, so vector `j` of half `h` sits at
    /// `j·pitch + 16·h` and a region holds the 8-lane layout the wide FFT kernels read and
    /// write).
    pub pitch: i64,
}

/// Defines one block kernel, `extern "C" fn(*const BlockArgs)`: `body` gets the emitter, the
/// addresses of the program's tables and the argument block's address; the kernel returns
/// after it.
pub fn define_block_kernel(
    jit: &mut CodeModule,
    name: &str,
    ids: &[DataId],
    vk: Vk,
    body: impl FnOnce(&mut Emit<'_, '_>, &Addrs, Value),
) -> Result<FuncId, JitError> {
    let ptr = jit.target().pointer_type;
    let mut sig = jit.make_signature();
    sig.params.push(AbiParam::new(ptr));
    let id = jit.define_with_data(name, sig, ids, |b, t, gvs| {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let args = b.block_params(entry)[0];
        let addrs = Addrs::new(gvs);
        let mut e = Emit { b, t, ptr, vk };
        body(&mut e, &addrs, args);
        e.b.ins().return_(&[]);
    })?;
    #[cfg(test)]
    if std::env::var("SPECC_DUMP_STAGE").is_ok_and(|s| s == name) {
        println!("{}", jit.last_vcode().unwrap_or_default());
    }
    Ok(id)
}

/// A pointer-sized field of the [`BlockArgs`](super::program::BlockArgs) at `args`.
pub fn arg(e: &mut Emit<'_, '_>, args: Value, offset: usize) -> Value {
    e.b.ins().load(e.ptr, data(), args, offset as i32)
}

/// The address `scratch + offset`.
pub fn at(e: &mut Emit<'_, '_>, scratch: Value, offset: usize) -> Value {
    e.b.ins().iadd_imm_s(scratch, offset as i64)
}
