//! Code generation with Cranelift: scheduled graphs become SIMD machine code.
//!
//! - [`jit`]: [`CodeModule`] owns one Cranelift module: a JIT module for an [`IsaChoice`] (the
//!   host with AVX/FMA, or the x86-64 SSE2 baseline used to test the fallback lowering), or an
//!   object file for an [`ObjectTarget`]. It compiles functions from IR-building closures,
//!   holds read-only data objects (windows, twiddles, filterbanks), turns Cranelift panics into
//!   [`JitError`]s and frees JIT code on drop.
//! - [`aot`]: a graph's programs as an object file with a program descriptor, and its C header.
//! - [`emit`]: the emission toolkit every emitter shares: [`emit::Emit`] (builder, target,
//!   pointer type, lane kind; loops, vector loads and stores, constants, `mul_add`), a kernel's
//!   read-only tables ([`emit::DataSet`], [`emit::Addrs`]) and the memory flags.
//! - [`vec`]: [`vec::Vk`], the lane kind a kernel computes in (`F32X4` or `F64X2`), so one
//!   emitter serves both precisions.
//! - [`math`] and [`vmath`]: vector logarithms, exp, pow and atan2 as inline polynomials (no
//!   per-lane libcalls), special values exact, accuracy stated and tested against f64.
//! - [`fft`]: inline FFT emitters that execute the plan pass's plan exactly as given (codelet
//!   chains, Bluestein, the real-input half-length trick) over frames-in-lanes vectors, with
//!   complex arithmetic on [`emit::Emit`]; the codelets are in `fft::codelets`.
//! - [`program`]: a graph's kernel plan checked against the target description and lowered
//!   into kernels (`load`, `fft`, `dft`, `tail` behind one `#[repr(C)]` argument block; `clip`,
//!   `dense` and the cross-frame kernels of the later phases), which the runtime drives and
//!   validates.
//! - [`stage`]: one emitter per stage kind of the kernel plan (load, per_frame and column,
//!   transform, per_band, store and reduce, clip, dense, cross_frame) and the elementwise steps
//!   they share.

pub mod aot;
pub mod emit;
pub mod fft;
pub mod jit;
pub mod math;
pub mod program;
pub mod stage;
pub mod vec;
pub mod vmath;

pub use jit::{CodeModule, Cpu, IsaChoice, JitError, JitFn, ObjectTarget, TargetInfo};
pub use math::{DbParams, LogBase, MapF32, MapF32Id};
