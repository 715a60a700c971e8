//! Code generation with Cranelift: the first, self-contained layer the kernels are built on.
//!
//! What exists:
//! - [`jit`]: [`JitModule`] owns one Cranelift JIT module for an [`IsaChoice`] (the host with
//!   AVX/FMA, or the x86-64 SSE2 baseline used to test the fallback lowering). It compiles
//!   functions from an IR-building closure, turns Cranelift panics into [`JitError`]s, frees the
//!   code on drop, and hands out [`JitFn`] entry points that are `Send + Sync` but borrow the
//!   module. [`TargetInfo`] tells emitters whether `fma` is native.
//! - [`math`]: branch-free vector logarithms on `F32X4` (`ln`, `log2`, `log10`, ~1 ulp,
//!   denormals and special values exact), `emit_max_nanprop` (one `maxps`, NaN from `x`
//!   propagates), `mul_add` (fma only when native), and `define_map_f32`, an element-wise
//!   `extern "C" fn(src, dst, len)` kernel (one `F32X4` per iteration, then a lane-0 tail) with the dB step `mult·log10(max(x, amin)) - offset` as its first user.
//!
//! What the later kernels reuse:
//! - framed load / windowing: `JitModule::define`, `MemFlagsData::new().with_notrap()` unaligned
//!   loads, the loop skeleton of `define_map_f32` (bulk vectors + tail).
//! - FFT codelets: `mul_add` for butterflies and complex multiplies (fma only with native FMA),
//!   `splat_f32` constants; `set_capture_vcode` to check instruction selection and spills.
//! - power → mel: `mul_add`, the frames-in-lanes layout.
//! - epilogue (dB, log, log1p-style offsets): `emit_db` / `emit_log` / `emit_max_nanprop`
//!   directly, inlined into the fused loop instead of as a separate pass.
//!
//! Not yet: `F64X2` logarithms, read-only data objects (windows, twiddles, filterbanks), the
//! `#[repr(C)]` kernel ABI struct, and an `Arc`-owned handle for kernels that outlive a borrow.

pub mod fft;
pub mod jit;
pub mod math;
pub mod program;
pub mod vec;
pub mod vmath;

pub use jit::{IsaChoice, JitError, JitFn, JitModule, TargetInfo};
pub use math::{DbParams, LogBase, MapF32, MapF32Id};
