//! specc's intermediate representations, shared by the compiler, the code generator and the
//! runtime, and free of any code generator (`cargo tree -p specc-ir` shows no Cranelift): what
//! an ahead-of-time runtime needs to know about a compiled spec.
//!
//! - [`graph`]: the typed op graph (named axes, symbolic sizes), its op declarations, printer
//!   and verifier, and the FFT plans ([`graph::fft_plan`]).
//! - [`consts`]: windows and mel filterbanks, computed in f64 as the reference libraries do.
//! - [`kernel`]: the kernel plan the `schedule` pass produces (phases of typed stages over named
//!   buffers) and its check against a target ([`kernel::check`]).
//! - [`target`]: the back end's target description (stage kinds, FFT codelets, vector widths).
//! - [`wide`]: the precompiled AVX2 FFT kernels (8 frames per 256-bit vector).
//! - [`program`]: a compiled program as the driver sees it: kernel entry points, the argument
//!   block, the scratch layout and the plan, and whatever owns the code.
//! - [`aot`]: the program descriptor an ahead-of-time object exports and the C runtime reads.
#![warn(missing_docs)]

pub mod aot;
pub mod consts;
pub mod graph;
pub mod kernel;
pub mod program;
pub mod target;
pub mod wide;

pub use graph::Graph;
