//! specc's C runtime: runs the programs of ahead-of-time objects (`specc aot`) through a small
//! C API, with the same driver as the JIT (`specc-rt`) and no code generator
//! (`cargo tree -p specc-capi` shows no Cranelift).
//!
//! An object exports a descriptor, `specc_<name>_program` ([`Descriptor`]). The first call
//! that names it decodes its blob (the optimized graph and each precision's program) and keeps
//! it for the life of the process; every call then checks the input exactly as the JIT path
//! does ([`specc_rt::check`]: rank, axes, dtype, emptiness, length, finiteness, the memory
//! limit) before any kernel runs.
//!
//! Errors are status codes ([`SPECC_OK`] and the `SPECC_E_*` constants, which the generated
//! header declares as `enum specc_status`), with the message of the calling thread's last
//! failure in [`specc_last_error`]. No call unwinds into C: a panic becomes
//! [`SPECC_E_INTERNAL`].
#![warn(missing_docs)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use ndarray::{ArrayViewD, IxDyn};
use specc_ir::aot::{status, Blob, Descriptor, FORMAT, MAGIC, STATUSES};
use specc_ir::graph::Precision;
use specc_ir::program::Program;
use specc_rt::driver::{run_slice, Float};
use specc_rt::{Input, Limits, RunError};

// The values and texts come from `specc_ir::aot::STATUSES`, the table the generated header is
// written from.
/// Success.
pub const SPECC_OK: c_int = status::OK;
/// A null pointer, a rank over [`SPECC_MAX_RANK`], or an output length other than the plan's.
pub const SPECC_E_ARGUMENT: c_int = status::ARGUMENT;
/// The input's shape does not fit the spec's input axes.
pub const SPECC_E_SHAPE: c_int = status::SHAPE;
/// The element type is not accepted, or the output's element type is not the spec's precision.
pub const SPECC_E_DTYPE: c_int = status::DTYPE;
/// An axis has length zero.
pub const SPECC_E_EMPTY: c_int = status::EMPTY;
/// Too few samples for what the spec does.
pub const SPECC_E_TOO_SHORT: c_int = status::TOO_SHORT;
/// NaN or inf where the spec's library rejects them.
pub const SPECC_E_NOT_FINITE: c_int = status::NOT_FINITE;
/// The run would need more working memory than the limit.
pub const SPECC_E_TOO_LARGE: c_int = status::TOO_LARGE;
/// The descriptor is corrupt, from another specc version, or lacks the precision asked for.
pub const SPECC_E_PROGRAM: c_int = status::PROGRAM;
/// A bug in specc.
pub const SPECC_E_INTERNAL: c_int = status::INTERNAL;

/// The largest rank of an input or output.
pub const SPECC_MAX_RANK: usize = specc_ir::aot::MAX_RANK;

/// A descriptor's decoded contents, kept for the life of the process.
struct Loaded {
    blob: Blob,
    /// One program per precision, in the blob's order.
    programs: Vec<Program>,
}

/// Descriptors decoded so far, by address (an object's descriptor is a static: one entry per
/// spec linked in).
static LOADED: Mutex<Vec<(usize, Arc<Loaded>)>> = Mutex::new(Vec::new());

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A failed call: its status code and message.
struct Failure(c_int, String);

impl From<RunError> for Failure {
    fn from(e: RunError) -> Failure {
        let code = match &e {
            RunError::Shape { .. } => SPECC_E_SHAPE,
            RunError::DType { .. } => SPECC_E_DTYPE,
            RunError::Empty(_) => SPECC_E_EMPTY,
            RunError::TooShort(_) => SPECC_E_TOO_SHORT,
            RunError::NotFinite(_) => SPECC_E_NOT_FINITE,
            RunError::TooLarge(_) => SPECC_E_TOO_LARGE,
            RunError::Engine(_) | RunError::Stream(_) => SPECC_E_INTERNAL,
        };
        Failure(code, e.to_string())
    }
}

fn argument(what: impl Into<String>) -> Failure {
    Failure(SPECC_E_ARGUMENT, what.into())
}

/// Runs `f`, turning a failure or a panic into its status code and this thread's last error.
fn status(f: impl FnOnce() -> Result<(), Failure>) -> c_int {
    let r = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Failure(SPECC_E_INTERNAL, format!("internal error (a bug in specc, please report it): {msg}")))
    });
    match r {
        Ok(()) => SPECC_OK,
        Err(Failure(code, msg)) => {
            let msg = CString::new(msg.replace('\0', " ")).unwrap_or_default();
            LAST_ERROR.with(|l| *l.borrow_mut() = msg);
            code
        }
    }
}

/// The decoded descriptor at `desc`, decoding it on first use.
///
/// # Safety
/// `desc` must be null or point to a descriptor an object written by `specc aot` exports (its
/// blob and table as the linker resolved them).
unsafe fn load(desc: *const Descriptor) -> Result<Arc<Loaded>, Failure> {
    if desc.is_null() {
        return Err(argument("the program is a null pointer"));
    }
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, l)) = loaded.iter().find(|(a, _)| *a == desc as usize) {
        return Ok(l.clone());
    }
    let bad = |why: String| Failure(SPECC_E_PROGRAM, why);
    // SAFETY: the caller guarantees `desc` points to a descriptor (48 bytes, 8-aligned).
    let d = unsafe { &*desc };
    if d.magic != MAGIC {
        return Err(bad(String::from("not a specc program descriptor (wrong magic bytes)")));
    }
    if d.format != FORMAT || d.pointer_bytes as usize != std::mem::size_of::<usize>() {
        return Err(bad(format!(
            "descriptor format {} for {}-byte pointers; this runtime reads format {FORMAT} for {}-byte pointers",
            d.format,
            d.pointer_bytes,
            std::mem::size_of::<usize>()
        )));
    }
    // SAFETY: the object's blob and table are `blob_len` bytes and `table_len` pointers at the
    // addresses the linker wrote (the caller guarantees a specc-written descriptor).
    let (bytes, table) = unsafe {
        (std::slice::from_raw_parts(d.blob, d.blob_len), std::slice::from_raw_parts(d.table, d.table_len))
    };
    let blob = Blob::decode(bytes).map_err(bad)?;
    let mut programs = Vec::new();
    for p in &blob.programs {
        let entries = p.layout.slots().len();
        let slice = p
            .first
            .checked_add(entries)
            .and_then(|end| table.get(p.first..end))
            .ok_or_else(|| bad(String::from("the kernel table is shorter than the programs need")))?;
        // SAFETY: the table entries of this program are its kernels in slot order, compiled by
        // `specc aot` with their slots' signatures, in the object linked into this process
        // (code that stays mapped for its whole life).
        let kernels = unsafe { p.layout.kernels(slice) }
            .ok_or_else(|| bad(String::from("a kernel entry is missing")))?;
        // SAFETY: as above; the code is static, so nothing needs to own it, and `info` is the
        // one the kernels were emitted for (written next to them by `specc aot`).
        programs.push(unsafe { Program::new(Box::new(()), kernels, None, p.info.clone()) });
    }
    let l = Arc::new(Loaded { blob, programs });
    loaded.push((desc as usize, l.clone()));
    Ok(l)
}

/// The shape at `shape` (`rank` sizes).
///
/// # Safety
/// `shape` must be valid for reading `rank` sizes when it is not null.
unsafe fn shape_of<'a>(shape: *const usize, rank: usize) -> Result<&'a [usize], Failure> {
    if rank > SPECC_MAX_RANK {
        return Err(argument(format!("rank {rank} is over SPECC_MAX_RANK ({SPECC_MAX_RANK})")));
    }
    if rank == 0 {
        return Ok(&[]);
    }
    if shape.is_null() {
        return Err(argument("the shape is a null pointer"));
    }
    // SAFETY: the caller guarantees `rank` sizes at `shape`.
    Ok(unsafe { std::slice::from_raw_parts(shape, rank) })
}

/// The output shape for an input of `shape` (`rank` axes), written to `out_shape` (room for
/// [`SPECC_MAX_RANK`] sizes) with its rank in `out_rank`. Everything a run checks but the
/// samples' values is checked (for a float32 input).
///
/// # Safety
/// `program` must be a descriptor `specc aot` wrote (`&specc_<name>_program`); `shape` valid
/// for `rank` reads; `out_shape` for [`SPECC_MAX_RANK`] writes; `out_rank` for one.
#[no_mangle]
pub unsafe extern "C" fn specc_plan(
    program: *const Descriptor,
    shape: *const usize,
    rank: usize,
    out_shape: *mut usize,
    out_rank: *mut usize,
) -> c_int {
    status(|| {
        // SAFETY: the caller's contract, passed on.
        let (l, shape) = unsafe { (load(program)?, shape_of(shape, rank)?) };
        if out_shape.is_null() || out_rank.is_null() {
            return Err(argument("out_shape or out_rank is a null pointer"));
        }
        let p = specc_rt::plan(&l.blob.graph, shape, "float32", &Limits::default())?;
        if p.output_shape.len() > SPECC_MAX_RANK {
            return Err(Failure(SPECC_E_INTERNAL, String::from("the output's rank is over SPECC_MAX_RANK")));
        }
        // SAFETY: the caller guarantees room for SPECC_MAX_RANK sizes at `out_shape` and one
        // at `out_rank`.
        unsafe {
            std::ptr::copy_nonoverlapping(p.output_shape.as_ptr(), out_shape, p.output_shape.len());
            *out_rank = p.output_shape.len();
        }
        Ok(())
    })
}

/// Element types of the C API's runs.
trait Element: Float {
    fn input(a: ArrayViewD<'_, Self>) -> Input<'_>;
    const FUNCTION: &'static str;
}

impl Element for f32 {
    fn input(a: ArrayViewD<'_, f32>) -> Input<'_> {
        Input::F32(a)
    }
    const FUNCTION: &'static str = "specc_run_f32";
}

impl Element for f64 {
    fn input(a: ArrayViewD<'_, f64>) -> Input<'_> {
        Input::F64(a)
    }
    const FUNCTION: &'static str = "specc_run_f64";
}

/// One run: checks, then the kernels into the caller's output.
///
/// # Safety
/// As for [`specc_run_f32`], with `T` the element type.
unsafe fn run<T: Element>(
    program: *const Descriptor,
    input: *const T,
    shape: *const usize,
    rank: usize,
    output: *mut T,
    output_len: usize,
    threads: usize,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract, passed on.
    let (l, shape) = unsafe { (load(program)?, shape_of(shape, rank)?) };
    let g = &l.blob.graph;
    let dtype = if T::PRECISION == Precision::F32 { "float32" } else { "float64" };
    let limits = Limits::default();
    // Shape and dtype first: the input pointer is only read once the shape is known good.
    let plan = specc_rt::plan(g, shape, dtype, &limits)?;
    if input.is_null() || output.is_null() {
        return Err(argument("input or output is a null pointer"));
    }
    let expected: usize = plan.output_shape.iter().product();
    if output_len != expected {
        return Err(argument(format!(
            "output_len is {output_len}; the output of shape {:?} has {expected} elements",
            plan.output_shape
        )));
    }
    if plan.precision != T::PRECISION {
        return Err(Failure(
            SPECC_E_DTYPE,
            format!(
                "this spec computes in {} for a {dtype} input, so its output is not {}: call the run function of that type",
                plan.precision.as_str(),
                T::FUNCTION
            ),
        ));
    }
    // SAFETY: the caller guarantees `input` holds the product of `shape` elements, row-major
    // (`plan` checked the shape: no zero axis, the element count fits the memory limit).
    let view = unsafe { ArrayViewD::from_shape_ptr(IxDyn(shape), input) };
    let input = T::input(view);
    specc_rt::check_finite(g, &input)?;
    let prog = l
        .blob
        .programs
        .iter()
        .position(|p| p.info.precision == plan.precision)
        .map(|i| &l.programs[i])
        .ok_or_else(|| {
            Failure(SPECC_E_PROGRAM, format!("the object has no {} program", plan.precision.as_str()))
        })?;
    // SAFETY: the caller guarantees `output_len` writable elements at `output` (checked to be
    // the planned output's size), not aliasing the input.
    let out = unsafe { std::slice::from_raw_parts_mut(output, output_len) };
    run_slice(g, prog, &input, &plan, threads, out)?;
    Ok(())
}

/// Runs the spec on a row-major float32 input of `shape` (`rank` axes), writing the planned
/// output (`output_len` elements) to `output`, on `threads` threads (0: one per core).
///
/// # Safety
/// `program` must be a descriptor `specc aot` wrote; `shape` valid for `rank` reads; `input`
/// for reading the product of `shape` elements; `output` for writing `output_len` elements,
/// not overlapping `input`.
#[no_mangle]
pub unsafe extern "C" fn specc_run_f32(
    program: *const Descriptor,
    input: *const f32,
    shape: *const usize,
    rank: usize,
    output: *mut f32,
    output_len: usize,
    threads: usize,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    status(|| unsafe { run(program, input, shape, rank, output, output_len, threads) })
}

/// [`specc_run_f32`] for float64 inputs and outputs.
///
/// # Safety
/// As for [`specc_run_f32`].
#[no_mangle]
pub unsafe extern "C" fn specc_run_f64(
    program: *const Descriptor,
    input: *const f64,
    shape: *const usize,
    rank: usize,
    output: *mut f64,
    output_len: usize,
    threads: usize,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    status(|| unsafe { run(program, input, shape, rank, output, output_len, threads) })
}

/// A static description of a status code.
#[no_mangle]
pub extern "C" fn specc_strerror(status: c_int) -> *const c_char {
    let s: &'static CStr =
        STATUSES.iter().find(|s| s.code == status).map_or(c"unknown status code", |s| s.text);
    s.as_ptr()
}

/// The message of the calling thread's last failed call (empty if none), valid until its next
/// call into this API.
#[no_mangle]
pub extern "C" fn specc_last_error() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}
