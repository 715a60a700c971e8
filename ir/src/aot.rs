//! The program descriptor of an ahead-of-time object file: the one contract between
//! `specc aot` (which writes it, `specc_compiler::codegen::aot`) and the C runtime
//! (`specc-capi`, which reads it). No code generator here.
//!
//! An object exports one descriptor, `specc_<name>_program`, a [`Descriptor`] whose pointers
//! the linker resolves:
//! - `blob`: a [`Blob`] in postcard: the optimized graph the runtime plans and checks inputs
//!   against, and for each precision the object holds, its [`ProgramInfo`] and the layout of
//!   its kernels in the table;
//! - `table`: the kernels' entry points, one pointer each, in the order [`Layout::slots`]
//!   gives.
//!
//! The blob is only read back by the same specc version that wrote it ([`Blob::version`]): the
//! graph's encoding follows its Rust types, which change between versions.

use crate::graph::{Graph, Precision};
use crate::kernel::CrossFrame;
use crate::program::{ClipFn, CrossFn, DeltasFn, DenseFn, Kernels, MeanFn, ProgramInfo, StageFn};

/// The descriptor's first bytes.
pub const MAGIC: [u8; 8] = *b"SPECCAOT";
/// The descriptor's layout version; the runtime refuses others.
pub const FORMAT: u32 = 1;

/// The C API's status codes. [`STATUSES`] describes each; the C runtime returns them and the
/// generated header declares them as `enum specc_status`.
pub mod status {
    /// Success.
    pub const OK: i32 = 0;
    /// A null pointer, a rank over [`MAX_RANK`](super::MAX_RANK), or an output length other
    /// than the plan's.
    pub const ARGUMENT: i32 = 1;
    /// The input's shape does not fit the spec's input axes.
    pub const SHAPE: i32 = 2;
    /// The element type is not accepted, or the output's element type is not the spec's
    /// precision.
    pub const DTYPE: i32 = 3;
    /// An axis has length zero.
    pub const EMPTY: i32 = 4;
    /// Too few samples for what the spec does.
    pub const TOO_SHORT: i32 = 5;
    /// NaN or inf where the spec's library rejects them.
    pub const NOT_FINITE: i32 = 6;
    /// The run would need more working memory than the limit.
    pub const TOO_LARGE: i32 = 7;
    /// The descriptor is corrupt, from another specc version, or lacks the precision asked for.
    pub const PROGRAM: i32 = 8;
    /// A bug in specc.
    pub const INTERNAL: i32 = 9;
}

/// One status code of the C API, as C sees it.
#[derive(Debug)]
pub struct Status {
    /// The value.
    pub code: i32,
    /// The C enumerator, `SPECC_OK` or `SPECC_E_*`.
    pub name: &'static str,
    /// What `specc_strerror` returns for it.
    pub text: &'static std::ffi::CStr,
    /// When it is returned: the header's comment on the enumerator.
    pub detail: &'static str,
}

/// Every status code, in order: the one table both the C runtime (`specc_strerror`) and the
/// header `specc aot` writes read, so they cannot disagree.
pub const STATUSES: [Status; 10] = [
    Status { code: status::OK, name: "SPECC_OK", text: c"success", detail: "" },
    Status {
        code: status::ARGUMENT,
        name: "SPECC_E_ARGUMENT",
        text: c"invalid argument",
        detail: "a null pointer, a rank over SPECC_MAX_RANK, a wrong output length",
    },
    Status {
        code: status::SHAPE,
        name: "SPECC_E_SHAPE",
        text: c"the input's shape does not fit the spec",
        detail: "the input's shape does not fit the spec's input axes",
    },
    Status {
        code: status::DTYPE,
        name: "SPECC_E_DTYPE",
        text: c"element type not accepted",
        detail: "the element type is not accepted, or the output's differs",
    },
    Status {
        code: status::EMPTY,
        name: "SPECC_E_EMPTY",
        text: c"the input is empty",
        detail: "an axis has length zero",
    },
    Status {
        code: status::TOO_SHORT,
        name: "SPECC_E_TOO_SHORT",
        text: c"the input is too short",
        detail: "too few samples for what the spec does",
    },
    Status {
        code: status::NOT_FINITE,
        name: "SPECC_E_NOT_FINITE",
        text: c"the input is not finite",
        detail: "NaN or inf where the spec's library rejects them",
    },
    Status {
        code: status::TOO_LARGE,
        name: "SPECC_E_TOO_LARGE",
        text: c"the input is too large",
        detail: "the run would need more memory than the limit (8 GiB)",
    },
    Status {
        code: status::PROGRAM,
        name: "SPECC_E_PROGRAM",
        text: c"not a program of this specc runtime",
        detail: "the object's descriptor is corrupt or from another specc version",
    },
    Status {
        code: status::INTERNAL,
        name: "SPECC_E_INTERNAL",
        text: c"internal error",
        detail: "a bug in specc: please report it with specc_last_error()",
    },
];

/// The largest rank of an input or output the C API takes (`SPECC_MAX_RANK`).
pub const MAX_RANK: usize = 16;

/// The exported descriptor, as the C runtime reads it (`#[repr(C)]`, 48 bytes on 64-bit
/// targets, the only ones objects are written for).
#[repr(C)]
#[derive(Debug)]
pub struct Descriptor {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`FORMAT`].
    pub format: u32,
    /// `size_of::<usize>()` of the target the object was written for.
    pub pointer_bytes: u32,
    /// The postcard-encoded [`Blob`].
    pub blob: *const u8,
    /// Its length in bytes.
    pub blob_len: usize,
    /// The kernel table: entry points in [`Layout::slots`] order, program after program.
    pub table: *const *const u8,
    /// Its length in pointers.
    pub table_len: usize,
}

/// Byte offsets of [`Descriptor`]'s pointer fields, for the code generator's relocations.
pub mod offsets {
    /// `blob`.
    pub const BLOB: usize = 16;
    /// `blob_len`.
    pub const BLOB_LEN: usize = 24;
    /// `table`.
    pub const TABLE: usize = 32;
    /// `table_len`.
    pub const TABLE_LEN: usize = 40;
    /// The whole descriptor.
    pub const SIZE: usize = 48;
}

/// What a descriptor's blob holds.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Blob {
    /// The specc version that wrote it ([`VERSION`]).
    pub version: String,
    /// The name the object's symbols carry (`specc_<name>_...`).
    pub name: String,
    /// The optimized graph, with its kernel plan.
    pub graph: Graph,
    /// One program per precision the graph can run in.
    pub programs: Vec<AotProgram>,
}

/// One precision's program in an object.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AotProgram {
    /// What the driver needs to know to run it.
    pub info: ProgramInfo,
    /// Which kernels it has.
    pub layout: Layout,
    /// Index in the table of its first kernel.
    pub first: usize,
}

/// Which kernels a program has, which fixes their order in the table.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    /// Whether it has a code-generated FFT stage (always, in an object: wide kernels are
    /// chosen at run time by the JIT only).
    pub fft: bool,
    /// The clip kernel's vector bytes, if it has one.
    pub clip: Option<usize>,
    /// The dense kernel's rows and columns, if it has one.
    pub dense: Option<(usize, usize)>,
    /// Its cross-frame stages, in plan order.
    pub cross: Vec<CrossFrame>,
}

/// A kernel's slot in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The `load` kernel.
    Load,
    /// The `fft` kernel.
    Fft,
    /// The `dft` kernel.
    Dft,
    /// The `tail` kernel.
    Tail,
    /// The clip kernel.
    Clip,
    /// The dense kernel.
    Dense,
    /// The kernel of cross-frame stage `i` of [`Layout::cross`].
    Cross(usize),
}

/// The version [`Blob::version`] must equal.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

impl Layout {
    /// The program's kernels in table order.
    pub fn slots(&self) -> Vec<Slot> {
        let mut s = vec![Slot::Load];
        if self.fft {
            s.push(Slot::Fft);
        }
        s.extend([Slot::Dft, Slot::Tail]);
        if self.clip.is_some() {
            s.push(Slot::Clip);
        }
        if self.dense.is_some() {
            s.push(Slot::Dense);
        }
        s.extend((0..self.cross.len()).map(Slot::Cross));
        s
    }

    /// The kernels of a program from its table entries (`entries.len()` must be
    /// `self.slots().len()`, else `None`; a null entry is `None` too).
    ///
    /// # Safety
    /// Each entry must be the entry point of the kernel its slot names, compiled for this
    /// layout's program with the signature of its type ([`StageFn`] for the block kernels,
    /// [`ClipFn`], [`DenseFn`], and [`DeltasFn`] or [`MeanFn`] by the cross-frame stage's
    /// kind), and stay mapped for as long as the returned kernels are used.
    pub unsafe fn kernels(&self, entries: &[*const u8]) -> Option<Kernels> {
        let slots = self.slots();
        if entries.len() != slots.len() || entries.iter().any(|p| p.is_null()) {
            return None;
        }
        let at = |slot: Slot| entries[slots.iter().position(|&s| s == slot).expect("a slot of the layout")];
        // SAFETY: the caller guarantees each entry is the code of its slot's kernel with the
        // signature it is cast to, and that it outlives the kernels.
        unsafe {
            let stage = |slot| std::mem::transmute::<*const u8, StageFn>(at(slot));
            Some(Kernels {
                load: stage(Slot::Load),
                fft: self.fft.then(|| stage(Slot::Fft)),
                dft: stage(Slot::Dft),
                tail: stage(Slot::Tail),
                clip: self
                    .clip
                    .map(|bytes| (std::mem::transmute::<*const u8, ClipFn>(at(Slot::Clip)), bytes)),
                dense: self.dense.map(|(rows, cols)| {
                    (std::mem::transmute::<*const u8, DenseFn>(at(Slot::Dense)), rows, cols)
                }),
                cross: self
                    .cross
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let f = at(Slot::Cross(i));
                        let k = match c {
                            CrossFrame::Deltas(_) => {
                                CrossFn::Deltas(std::mem::transmute::<*const u8, DeltasFn>(f))
                            }
                            CrossFrame::SubtractMean => {
                                CrossFn::Mean(std::mem::transmute::<*const u8, MeanFn>(f))
                            }
                        };
                        (*c, k)
                    })
                    .collect(),
            })
        }
    }
}

impl Blob {
    /// The blob's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        postcard::to_allocvec(self).map_err(|e| format!("could not encode the program descriptor: {e}"))
    }

    /// The blob from its bytes, refused unless this specc version wrote it.
    pub fn decode(bytes: &[u8]) -> Result<Blob, String> {
        // The version is the first field: read it alone first, so a blob of another version
        // gets this error rather than a decoding error from a changed type.
        let (version, _) = postcard::take_from_bytes::<String>(bytes)
            .map_err(|e| format!("not a specc program descriptor: {e}"))?;
        if version != VERSION {
            return Err(format!(
                "the object was written by specc {version}, this runtime is specc {VERSION}: write it again with this version's `specc aot`"
            ));
        }
        postcard::from_bytes(bytes).map_err(|e| format!("corrupt program descriptor: {e}"))
    }

    /// The program for `precision`, if the object has one.
    pub fn program(&self, precision: Precision) -> Option<&AotProgram> {
        self.programs.iter().find(|p| p.info.precision == precision)
    }
}
