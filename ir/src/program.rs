//! A compiled program as the driver sees it: the kernels' entry points behind one
//! `#[repr(C)]` argument block ([`BlockArgs`]), what the driver needs to know to run them
//! ([`ProgramInfo`]: the kernel plan, the scratch layout, lanes), and their owner. No code
//! generator here: `specc_compiler::codegen::program::compile` builds a [`Program`] around a
//! JIT module; an ahead-of-time runtime can build one around an object file's symbols.
//!
//! Kernels never check bounds: the driver validates every pointer and stride against its
//! buffers before calling (see the `# Safety` sections).

use std::any::Any;
use std::sync::Mutex;

use crate::graph::*;
use crate::kernel::{CrossFrame, KernelPlan};

/// The argument block of every stage kernel. Pointers are byte addresses; strides are bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockArgs {
    /// First sample of lane 0's frame (lane k's frame starts `k·hop` samples later).
    pub src: *const u8,
    /// The block's scratch ([`ProgramInfo::scratch_bytes`] bytes, 16-byte aligned).
    pub scratch: *mut u8,
    /// Output element of band 0, lane 0.
    pub out: *mut u8,
    /// Bytes between bands.
    pub out_band: isize,
    /// Bytes between lanes (consecutive frames).
    pub out_time: isize,
}

/// What the runtime needs to know to drive a program.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ProgramInfo {
    /// Compute precision.
    pub precision: Precision,
    /// Frames per block: the vector's lanes, or 8 in a wide program (see `halves`).
    pub lanes: usize,
    /// Calls of the `load`, `dft` and `tail` kernels per block: 1, or 2 in a wide program, whose
    /// FFT runs on the wide kernels over 8 frames while those kernels run 4 frames each. Call
    /// `h` of a block takes its frames `h·lanes/halves ..`: `src` moved on by
    /// `h·(lanes/halves)·hop` samples, `out` by as many `out_time` strides, and the scratch
    /// address by `16·h` bytes (every scratch region is in the 8-lane layout: vector `j` of
    /// frame `lane` at `j·32 + 4·lane` bytes, so per-lane values such as the flag, the energy
    /// sums, the running maximum and the spectrum read as `lanes` consecutive elements per
    /// vector, as in a 4-lane program). `fft` runs once per block.
    pub halves: usize,
    /// The wide FFT kernels the `fft` stage runs on, if any.
    pub wide: Option<crate::kernel::Wide>,
    /// Samples each frame reads.
    pub length: usize,
    /// Samples between frames.
    pub hop: usize,
    /// Pads applied to the signal, in order.
    pub pads: Vec<PadStep>,
    /// Whether the last frame is dropped.
    pub drop_last: bool,
    /// A leading axis reduced to one index before framing.
    pub select: Option<(String, usize)>,
    /// Values per frame in the output (mel bands, bins, or 2·bins for re|im).
    pub bands: usize,
    /// Whether consecutive frames are adjacent in the output (vector stores).
    pub time_contiguous: bool,
    /// Scratch bytes per block (the runtime aligns scratch to 32 bytes, which a wide
    /// program's FFT kernels run fastest on; 16 is required).
    pub scratch_bytes: usize,
    /// Byte offset in scratch of the non-finite flag vector the `load` stage writes.
    pub flag_offset: usize,
    /// With a reduce stage: byte offset in scratch of two vectors the `tail` updates with every value
    /// it stores, the running maximum (NaN skipped; starts at `-inf`) and a NaN mask (all ones
    /// in a lane that stored a NaN; starts at 0). The runtime sets them before a task's first
    /// block and reads them after its last, so the reduction needs no pass of its own.
    pub max_offset: Option<usize>,
    /// Byte offsets in scratch of the two per-bin regions (`bins` vectors each) that the `fft`
    /// and `dft` stages write and the `tail` reads: the spectrum's real and imaginary parts,
    /// or, for a power filterbank, the power per bin and a region whose vector 0 holds the sum
    /// of the powers (its other vectors are workspace). Either way a block's result for a lane
    /// is that lane of both regions, so lanes can be copied between runs of the two stages.
    pub spectrum_offsets: (usize, usize),
    /// Bins of the spectrum (vectors in each region of `spectrum_offsets`).
    pub bins: usize,
    /// Kaldi's energy column, when the graph concatenates one.
    pub energy: Option<EnergyColumn>,
    /// The kernel plan the program lowers: the runtime runs its phases in order (the first
    /// through the block kernels, then each later phase's stages).
    pub plan: KernelPlan,
    /// Stage kernels and their sizes, for reports.
    pub description: String,
}

impl ProgramInfo {
    /// Values per frame in the output: the tail's bands and the energy column.
    pub fn out_bands(&self) -> usize {
        self.bands + usize::from(self.energy.is_some())
    }
}

/// A per-frame log energy stored as an extra output column (Kaldi's `use_energy`): the `load`
/// stage writes each frame's sum of squares to scratch, and the runtime stores
/// `ln(max(sum, min))`, floored at `ln(floor)`, as the column.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnergyColumn {
    /// Byte offset in scratch of the vector of sums (one lane per frame).
    pub offset: usize,
    /// Floor on the sum before the log.
    pub min: f64,
    /// Floor on the energy, applied after the log as `ln(floor)`.
    pub floor: Option<f64>,
    /// The last column (Kaldi `htk_compat`), else the first; the tail's bands take the others.
    pub last: bool,
}

/// A block kernel: `load`, `fft`, `dft` or `tail` over one [`BlockArgs`].
pub type StageFn = unsafe extern "C" fn(*const BlockArgs);
/// The clip kernel: `(data, len, params)`, `len` a multiple of its vector, `params` the
/// threshold and the shift.
pub type ClipFn = unsafe extern "C" fn(*mut u8, usize, *const u8);
/// The dense kernel: `(src, frames, dst)`.
pub type DenseFn = unsafe extern "C" fn(*const u8, usize, *mut u8);
/// A `deltas` kernel: `(x, frames, y)` over f64 columns.
pub type DeltasFn = unsafe extern "C" fn(*const f64, usize, *mut f64);
/// A `subtract_mean` kernel: `(data, frames, stride in bytes)`, in place.
pub type MeanFn = unsafe extern "C" fn(*mut u8, usize, usize);

/// A cross-frame stage's kernel, by the signature its kind has.
#[derive(Clone, Copy, Debug)]
pub enum CrossFn {
    /// For a `deltas` stage.
    Deltas(DeltasFn),
    /// For a `subtract_mean` stage.
    Mean(MeanFn),
}

/// A program's kernels: the entry points a code generator (the JIT, or an object file's
/// symbols) hands over, and what the driver calls.
#[derive(Clone, Debug)]
pub struct Kernels {
    /// The framed load and per-frame stages.
    pub load: StageFn,
    /// The code generator's FFT stage (none in a wide program).
    pub fft: Option<StageFn>,
    /// The direct DFT of frames with NaN or inf.
    pub dft: StageFn,
    /// The per-band stage and the store.
    pub tail: StageFn,
    /// The clip kernel and the bytes of the vector it works on (its length unit).
    pub clip: Option<(ClipFn, usize)>,
    /// The dense kernel, with its rows and columns.
    pub dense: Option<(DenseFn, usize, usize)>,
    /// The cross-frame stages' kernels, in plan order.
    pub cross: Vec<(CrossFrame, CrossFn)>,
}

/// A compiled program: what owns its code (freed on drop), its kernels and what the driver
/// needs to know. It names no code generator: the JIT builds one around its module, an
/// ahead-of-time runtime around an object's symbols.
pub struct Program {
    /// Owns the code. Never locked after construction: the mutex only makes a `!Sync` owner
    /// (a JIT module) shareable, since threads use nothing but the function pointers.
    _code: Mutex<Box<dyn Any + Send>>,
    fns: Kernels,
    /// The FFT stage on the wide kernels (a wide program).
    wide: Option<WideStage>,
    info: ProgramInfo,
}

/// A wide program's FFT stage: the precompiled kernels for the plan, and where in scratch
/// (8-lane layout) they read the frame and write the spectrum, or the power and its sum.
#[derive(Clone, Debug)]
pub struct WideStage {
    /// The CPU feature token the kernels need.
    pub cpu: crate::wide::Avx2,
    /// The kernels for the plan.
    pub fft: crate::wide::WideFft,
    /// Byte offset in scratch of the frame.
    pub x: usize,
    /// Byte offset in scratch of the spectrum's real parts (or the power per bin).
    pub re: usize,
    /// Byte offset in scratch of the spectrum's imaginary parts (or the sum's vector).
    pub im: usize,
    /// Byte offset in scratch of the kernels' own workspace.
    pub work: usize,
    /// Whether the power (and its sum) is written instead of the spectrum.
    pub power: bool,
}

impl WideStage {
    /// Runs the FFT of the 8 frames in `scratch`.
    ///
    /// # Safety
    /// `scratch` must be valid for reads and writes of the program's `scratch_bytes` bytes,
    /// 4-byte aligned, and not be accessed by anything else during the call.
    unsafe fn run(&self, scratch: *mut u8) {
        use crate::wide::LANES;
        let (n, bins) = (self.fft.len(), self.fft.bins());
        // SAFETY: the regions lie inside scratch (laid out by `lower` with these sizes: the
        // frame `x_points ≥ n` vectors, `re` and `im` `bins` (+ 4 zero padding for the power)
        // vectors of 32 bytes, `work` `scratch_len` floats) and are pairwise disjoint (`re` and
        // `im` differ when the spectrum is written; with the power, `im` is not used), so the
        // slices do not alias; the caller guarantees the rest.
        unsafe {
            let at =
                |off: usize, len: usize| std::slice::from_raw_parts_mut(scratch.add(off).cast::<f32>(), len);
            let x = std::slice::from_raw_parts(scratch.add(self.x).cast::<f32>(), n * LANES);
            let work = at(self.work, self.fft.scratch_len());
            if self.power {
                let p = at(self.re, (bins + 4) * LANES);
                let sum: &mut [f32; LANES] = at(self.im, LANES).try_into().expect("8 floats");
                self.fft.power(self.cpu, x, &mut p[..bins * LANES], sum, work);
                // The 4 vectors after the last bin, which the tail's padded filterbank rows read.
                p[bins * LANES..].fill(0.0);
            } else {
                let re = at(self.re, bins * LANES);
                let im = at(self.im, bins * LANES);
                self.fft.spectrum(self.cpu, x, re, im, work);
            }
        }
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Program {
    /// A program from its parts.
    ///
    /// # Safety
    /// Every function pointer in `kernels` must be code that lives as long as `code` is not
    /// dropped, with the signature of its type and the contract its stage kind documents
    /// (`codegen::stage`): it reads and writes only what the arguments the methods below pass
    /// describe. `info` and `wide` must describe that code (scratch layout, lanes, halves).
    pub unsafe fn new(
        code: Box<dyn Any + Send>,
        kernels: Kernels,
        wide: Option<WideStage>,
        info: ProgramInfo,
    ) -> Program {
        Program { _code: Mutex::new(code), fns: kernels, wide, info }
    }

    /// What the runtime needs to drive it.
    pub fn info(&self) -> &ProgramInfo {
        &self.info
    }

    /// Runs the framed load (and per-frame ops) for one block (one half of it in a wide
    /// program, see [`ProgramInfo::halves`]).
    ///
    /// # Safety
    /// `args.src` must be valid for reads of `(lanes/halves-1)·hop + length` elements of the
    /// program's precision; `args.scratch` must be valid for `scratch_bytes` bytes, 16-byte
    /// aligned (plus `16·h` for half `h`), not shared with another thread during the call.
    pub unsafe fn load(&self, args: &BlockArgs) {
        // SAFETY: the caller guarantees the buffers (see above); the kernel was compiled with
        // the `fn(*const BlockArgs)` signature in the code `self` owns (`Program::new`).
        unsafe { (self.fns.load)(args) }
    }

    /// Runs the FFT stage (scratch `x` to the per-bin regions of `spectrum_offsets`), once
    /// per block (the whole 8-lane block in a wide program: `args.scratch` of half 0).
    ///
    /// # Safety
    /// As for [`load`](Self::load), for `args.scratch` only, after a `load` into it.
    pub unsafe fn fft(&self, args: &BlockArgs) {
        match (&self.wide, self.fns.fft) {
            // SAFETY: as above (the wide stage reads and writes only inside scratch).
            (Some(w), _) => unsafe { w.run(args.scratch) },
            // SAFETY: as above.
            (None, Some(f)) => unsafe { f(args) },
            (None, None) => unreachable!("a program has a Cranelift or a wide FFT stage"),
        }
    }

    /// Runs the direct DFT stage (as [`fft`](Self::fft)), for blocks whose flag is not
    /// finite.
    ///
    /// # Safety
    /// As for [`fft`](Self::fft).
    pub unsafe fn dft(&self, args: &BlockArgs) {
        // SAFETY: as above.
        unsafe { (self.fns.dft)(args) }
    }

    /// Runs the tail stage: the per-bin regions of scratch (see
    /// [`ProgramInfo::spectrum_offsets`]) to the output.
    ///
    /// # Safety
    /// As for [`fft`](Self::fft), and `args.out + b·out_band + k·out_time` must be valid for
    /// writing one element for every band `b < bands` and lane `k < lanes`, and not be written
    /// by another thread during the call.
    pub unsafe fn tail(&self, args: &BlockArgs) {
        // SAFETY: as above.
        unsafe { (self.fns.tail)(args) }
    }

    /// The clip stage over `data` in place: `max(x - shift, threshold)` (see [`Clip`]; the shift is
    /// used only by a `ref_max` clip), then the steps after it. Returns false (doing nothing)
    /// when the program has no clip.
    pub fn clip_f32(&self, data: &mut [f32], threshold: f32, shift: f32) -> bool {
        assert_eq!(self.info.precision, Precision::F32, "an f32 program");
        let mut args = [0u8; 8];
        args[..4].copy_from_slice(&threshold.to_le_bytes());
        args[4..].copy_from_slice(&shift.to_le_bytes());
        self.clip_bytes(data.as_mut_ptr().cast(), data.len(), &args, 4)
    }

    /// [`clip_f32`](Self::clip_f32) for f64 programs.
    pub fn clip_f64(&self, data: &mut [f64], threshold: f64, shift: f64) -> bool {
        assert_eq!(self.info.precision, Precision::F64, "an f64 program");
        let mut args = [0u8; 16];
        args[..8].copy_from_slice(&threshold.to_le_bytes());
        args[8..].copy_from_slice(&shift.to_le_bytes());
        self.clip_bytes(data.as_mut_ptr().cast(), data.len(), &args, 8)
    }

    /// The dense stage over `frames = src.len() / cols` frames: `src` row-major `frames x
    /// cols`, `dst` frame-major `frames x rows` (see [`Dense`](crate::kernel::Dense)). Returns
    /// false (doing nothing) when the program has no dense stage.
    ///
    /// # Panics
    /// When the slices' lengths are not whole frames of the stage's columns and rows.
    pub fn dense_f32(&self, src: &[f32], dst: &mut [f32]) -> bool {
        assert_eq!(self.info.precision, Precision::F32, "an f32 program");
        self.dense_bytes(src.as_ptr().cast(), src.len(), dst.as_mut_ptr().cast(), dst.len())
    }

    /// [`dense_f32`](Self::dense_f32) for f64 programs.
    pub fn dense_f64(&self, src: &[f64], dst: &mut [f64]) -> bool {
        assert_eq!(self.info.precision, Precision::F64, "an f64 program");
        self.dense_bytes(src.as_ptr().cast(), src.len(), dst.as_mut_ptr().cast(), dst.len())
    }

    /// The `deltas` kernel of stage `c` over one column of `frames = x.len()` values: `y`
    /// receives [`outputs`](super::stage::cross_frame::outputs)`(c)` blocks of `frames` values
    /// (see [`cross_frame`](super::stage::cross_frame)). Returns false (doing nothing) when the
    /// program has no such stage.
    ///
    /// # Panics
    /// When `c` is not a `deltas` stage, `y` does not hold those blocks, or an interp `deltas`
    /// gets fewer frames than its width (the runtime's plan refuses such inputs first).
    pub fn deltas(&self, c: &CrossFrame, x: &[f64], y: &mut [f64]) -> bool {
        let CrossFrame::Deltas(d) = c else { panic!("a deltas stage") };
        let Some(&(_, CrossFn::Deltas(f))) = self.fns.cross.iter().find(|(k, _)| k == c) else {
            return false;
        };
        let frames = x.len();
        assert_eq!(y.len(), frames * d.order, "whole output blocks");
        assert!(d.mode != DeltaMode::Interp || frames >= d.width, "a whole Savitzky-Golay window");
        if frames == 0 {
            return true;
        }
        // SAFETY: the kernel reads `frames` values at `x` (and, for an interp `deltas`, windows
        // of `width <= frames` values inside them, checked above) and writes `order` blocks of
        // `frames` values at `y`, which holds exactly that (checked above); `x` and `y` come
        // from a `&` and a `&mut` slice, so they do not overlap.
        unsafe { f(x.as_ptr(), frames, y.as_mut_ptr()) };
        true
    }

    /// The `subtract_mean` kernel in place over the column of `frames` values `data[start]`,
    /// `data[start + stride]`, ... Returns false (doing nothing) when the program has no such
    /// stage.
    ///
    /// # Panics
    /// When the column does not lie inside `data`.
    pub fn subtract_mean_f32(&self, data: &mut [f32], start: usize, stride: usize, frames: usize) -> bool {
        assert_eq!(self.info.precision, Precision::F32, "an f32 program");
        self.subtract_mean_bytes(data.as_mut_ptr().cast(), data.len(), start, stride, frames, 4)
    }

    /// [`subtract_mean_f32`](Self::subtract_mean_f32) for f64 programs.
    pub fn subtract_mean_f64(&self, data: &mut [f64], start: usize, stride: usize, frames: usize) -> bool {
        assert_eq!(self.info.precision, Precision::F64, "an f64 program");
        self.subtract_mean_bytes(data.as_mut_ptr().cast(), data.len(), start, stride, frames, 8)
    }

    fn subtract_mean_bytes(
        &self,
        data: *mut u8,
        len: usize,
        start: usize,
        stride: usize,
        frames: usize,
        esz: usize,
    ) -> bool {
        let c = CrossFrame::SubtractMean;
        let Some(&(_, CrossFn::Mean(f))) = self.fns.cross.iter().find(|(k, _)| *k == c) else { return false };
        if frames == 0 {
            return true;
        }
        let last = (frames - 1).checked_mul(stride).and_then(|o| o.checked_add(start));
        assert!(last.is_some_and(|l| l < len), "the column lies inside the data");
        // SAFETY: the kernel reads and writes the `frames` elements at `start + i * stride`,
        // `i < frames`, of the slice `data` points to (`len` elements of `esz` bytes from a
        // `&mut` slice); the last of them is inside it (checked above).
        unsafe { f(data.add(start * esz), frames, stride * esz) };
        true
    }

    fn dense_bytes(&self, src: *const u8, src_len: usize, dst: *mut u8, dst_len: usize) -> bool {
        let Some((f, rows, cols)) = self.fns.dense else { return false };
        let frames = src_len / cols;
        assert!(src_len == frames * cols && dst_len == frames * rows, "whole frames in and out");
        // SAFETY: `src` holds `frames * cols` and `dst` `frames * rows` elements of the
        // program's precision (from slices, checked above), which is all the kernel reads and
        // writes; the two come from a `&` and a `&mut` slice, so they do not overlap.
        unsafe { f(src, frames, dst) };
        true
    }

    /// `args`: the threshold and the shift, `esz` bytes each.
    fn clip_bytes(&self, ptr: *mut u8, len: usize, args: &[u8], esz: usize) -> bool {
        let Some((f, vector_bytes)) = self.fns.clip else { return false };
        let thr = args;
        // The clip kernel works on one 128-bit vector at a time, whatever the block's frames
        // (8 in a wide program): its tail must fit `tmp`.
        let lanes = vector_bytes / esz;
        let bulk = len / lanes * lanes;
        // SAFETY: `ptr` points to `len` elements of the program's precision (from a `&mut`
        // slice); the kernel processes exactly `bulk` elements (a multiple of the vector
        // width) and reads at most two scalars through the `thr` pointer, which holds two.
        unsafe { f(ptr, bulk, thr.as_ptr()) };
        if bulk < len {
            // The last partial vector goes through the same kernel on a padded copy.
            let mut tmp = [0u8; 16];
            let rest = (len - bulk) * esz;
            assert!(rest < tmp.len(), "a clip tail is shorter than one vector");
            // SAFETY: `bulk..len` lies inside the caller's slice; `tmp` holds one vector.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr.add(bulk * esz), tmp.as_mut_ptr(), rest);
                f(tmp.as_mut_ptr(), lanes, thr.as_ptr());
                std::ptr::copy_nonoverlapping(tmp.as_ptr(), ptr.add(bulk * esz), rest);
            }
        }
        true
    }
}
