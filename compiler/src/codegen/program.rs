//! A whole scheduled graph compiled into kernels that each process one vector of frames
//! (`lanes` = 4 for f32, 2 for f64; lane k is frame t+k of one signal).
//!
//! A [`Program`] holds, per stage, one `extern "C" fn(*const BlockArgs)`:
//! - `load`: the framed load straight from the signal: lane k reads samples
//!   `src + k·hop + j`, `j < length`, transposes them into one vector per tap, applies the
//!   window, then the per-frame ops the graph keeps after it (`remove_dc`, `preemphasis`,
//!   `window_table`), and writes the natural-order frame `x` to scratch. It also sums the frame
//!   into a flag vector: a non-finite flag lane means that frame needs the sum-of-products DFT.
//! - `fft`: the real-input FFT of the plan (half-length complex FFT + post-twiddle, Bluestein
//!   where planned) from `x` to the spectrum `y`; before a power filterbank, the post-twiddle
//!   pass writes the power per bin `p` and its sum instead (the spectrum never reaches memory).
//! - `dft`: the same bins (or powers and sum) as a direct sum of products (the interpreter's
//!   meaning for frames with NaN or inf, where `inf·0` decides which bins become NaN), used
//!   only for such blocks.
//! - `tail`: everything after the spectrum up to the clip: the sparse power-filterbank over `p`
//!   (fast path: each band's products unrolled, one loop per run of bands of equal padded
//!   length; the dense product's NaN meaning for non-finite bins on a slow path taken only when
//!   the power sum is not finite) into a scratch vector per band, then a second loop applying
//!   the epilogue's steps (so the sums' branches and the steps' long dependency chains do not
//!   serialize); or a per-bin epilogue. Values are stored straight into the output at
//!   `out + band·out_band + lane·out_time`.
//! - `clip` (only with a `top_db`-style clip): phase 2, in place over the output:
//!   `max(x, threshold)` (NaN threshold makes NaN), then the steps after the clip.
//!
//! Kernels never check bounds: the runtime validates every pointer and stride against its
//! buffers before calling (see the `# Safety` sections). Windows, twiddles and filterbanks are
//! read-only data objects of the module.

use std::sync::Mutex;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use cranelift_module::{DataId, FuncId};
use std::mem::offset_of;

use super::fft::{data, readonly, Addrs, DataSet, Emit, FftError, PowerSink, RealFft};
use super::jit::{IsaChoice, JitError, JitModule};
use super::math::Consts;
use super::vec::Vk;
use super::vmath;
use crate::graph::*;

/// Why a graph could not be compiled to machine code.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The graph has a form the code generator does not emit.
    #[error("the JIT does not support this graph: {0}")]
    Unsupported(String),
    /// FFT planning failed.
    #[error(transparent)]
    Fft(#[from] FftError),
    /// Cranelift failed.
    #[error(transparent)]
    Jit(#[from] JitError),
}

fn unsupported<T>(why: impl Into<String>) -> Result<T, CodegenError> {
    Err(CodegenError::Unsupported(why.into()))
}

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
#[derive(Clone, Debug)]
pub struct ProgramInfo {
    /// Compute precision.
    pub precision: Precision,
    /// Frames per block.
    pub lanes: usize,
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
    /// The clip of phase 2, if any.
    pub clip: Option<Clip>,
    /// Whether consecutive frames are adjacent in the output (vector stores).
    pub time_contiguous: bool,
    /// Scratch bytes per block.
    pub scratch_bytes: usize,
    /// Byte offset in scratch of the non-finite flag vector the `load` stage writes.
    pub flag_offset: usize,
    /// With a clip: byte offset in scratch of two vectors the `tail` updates with every value
    /// it stores, the running maximum (NaN skipped; starts at `-inf`) and a NaN mask (all ones
    /// in a lane that stored a NaN; starts at 0). The runtime sets them before a task's first
    /// block and reads them after its last, so the clip's maximum needs no pass of its own.
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
    /// Each output column minus its mean over frames, per signal (Kaldi's `subtract_mean`),
    /// after every block has run.
    pub subtract_mean: bool,
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
#[derive(Clone, Copy, Debug, PartialEq)]
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

type StageFn = unsafe extern "C" fn(*const BlockArgs);
type ClipFn = unsafe extern "C" fn(*mut u8, usize, *const u8);

struct Fns {
    load: StageFn,
    fft: StageFn,
    dft: StageFn,
    tail: StageFn,
    clip: Option<ClipFn>,
}

/// A compiled program: its JIT module (freed on drop) and the stage entry points.
pub struct Program {
    /// Owns the code. Never locked after construction: the mutex only makes the `!Sync` module
    /// shareable, since threads use nothing but the function pointers.
    _module: Mutex<JitModule>,
    fns: Fns,
    info: ProgramInfo,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Program {
    /// What the runtime needs to drive it.
    pub fn info(&self) -> &ProgramInfo {
        &self.info
    }

    /// Runs the framed load (and per-frame ops) for one block.
    ///
    /// # Safety
    /// `args.src` must be valid for reads of `(lanes-1)·hop + length` elements of the program's
    /// precision; `args.scratch` must be valid for `scratch_bytes` bytes, 16-byte aligned, not
    /// shared with another thread during the call.
    pub unsafe fn load(&self, args: &BlockArgs) {
        // SAFETY: the caller guarantees the buffers (see above); the kernel was compiled with
        // the `fn(*const BlockArgs)` signature in the module `self` owns.
        unsafe { (self.fns.load)(args) }
    }

    /// Runs the FFT stage (scratch `x` to the per-bin regions of `spectrum_offsets`).
    ///
    /// # Safety
    /// As for [`load`](Self::load), for `args.scratch` only, after a `load` into it.
    pub unsafe fn fft(&self, args: &BlockArgs) {
        // SAFETY: as above.
        unsafe { (self.fns.fft)(args) }
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

    /// Phase 2 over `data` in place: `max(x - shift, threshold)` (see [`Clip`]; the shift is
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

    /// `args`: the threshold and the shift, `esz` bytes each.
    fn clip_bytes(&self, ptr: *mut u8, len: usize, args: &[u8], esz: usize) -> bool {
        let Some(f) = self.fns.clip else { return false };
        let thr = args;
        let lanes = self.info.lanes;
        let bulk = len / lanes * lanes;
        // SAFETY: `ptr` points to `len` elements of the program's precision (from a `&mut`
        // slice); the kernel processes exactly `bulk` elements (a multiple of the vector
        // width) and reads at most two scalars through the `thr` pointer, which holds two.
        unsafe { f(ptr, bulk, thr.as_ptr()) };
        if bulk < len {
            // The last partial vector goes through the same kernel on a padded copy.
            let mut tmp = [0u8; 16];
            let rest = (len - bulk) * esz;
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

/// The graph's stages, recognised from its optimized chain.
struct Chain {
    select: Option<(String, usize)>,
    pads: Vec<PadStep>,
    length: usize,
    hop: usize,
    drop_last: bool,
    window: Option<Table>,
    per_frame: Vec<Op>,
    n: usize,
    period: usize,
    basis: Precision,
    plan: RealPlan,
    power_mel: Option<(SpectrumPower, SparseRows)>,
    epilogue: Option<Epilogue>,
    concat: bool,
    /// Energy column: per-frame ops applied before its sum of squares, min, floor, last.
    energy: Option<(usize, f64, Option<f64>, bool)>,
    subtract_mean: bool,
    layout: Vec<OutAxis>,
}

fn chain_of(g: &Graph) -> Result<Chain, CodegenError> {
    // The main chain from the output back to the input; a `concat` adds a per-frame column
    // computed from a node of the chain (Kaldi's energy).
    let mut ids = vec![g.output];
    let mut column: Option<(NodeId, bool)> = None;
    loop {
        let n = &g.nodes[*ids.last().expect("non-empty")];
        match (&n.op, n.inputs.as_slice()) {
            (_, []) => break,
            (Op::Concat { at_end }, [main, col]) if column.is_none() => {
                column = Some((*col, *at_end));
                ids.push(*main);
            }
            (_, [one]) => ids.push(*one),
            _ => return unsupported("a node with several operands"),
        }
    }
    ids.reverse();
    let ops: Vec<&Op> = ids.iter().map(|&i| &g.nodes[i].op).collect();
    let mut it = ops.into_iter().peekable();
    if !matches!(it.next(), Some(Op::Input { .. })) {
        return unsupported("the chain does not start at the input");
    }
    // Length checks (`min_samples`) are the runtime's plan's; the kernels skip them.
    let mut select = None;
    loop {
        match it.peek() {
            Some(Op::Select { axis, index }) if select.is_none() => select = Some((axis.clone(), *index)),
            Some(Op::MinSamples { .. }) => {}
            _ => break,
        }
        it.next();
    }
    let Some(Op::FramedLoad { pads, length, hop, drop_last, window }) = it.next() else {
        return unsupported("expected a framed load after the input (run the optimizer first)");
    };
    let mut per_frame = Vec::new();
    while let Some(op @ (Op::RemoveDc | Op::Preemphasis(_) | Op::WindowTable(_))) = it.peek() {
        per_frame.push((*op).clone());
        it.next();
    }
    // The energy's source: the framed load (0) or after the k-th per-frame op (k).
    let energy = match column {
        None => None,
        Some((col, last)) => {
            let Op::LogEnergy { min, floor } = g.nodes[col].op else {
                return unsupported("a concatenated column other than a per-frame log energy");
            };
            let load_at = ids.iter().position(|&i| matches!(g.nodes[i].op, Op::FramedLoad { .. }));
            let src_at = ids.iter().position(|&i| i == g.nodes[col].inputs[0]);
            match (load_at, src_at) {
                (Some(l), Some(s)) if s >= l && s - l <= per_frame.len() => Some((s - l, min, floor, last)),
                _ => return unsupported("a log energy not taken from the framed load or a per-frame op"),
            }
        }
    };
    let Some(Op::Fft { n, period, basis, plan }) = it.next() else {
        return unsupported("expected an FFT after the framed load");
    };
    let mut chain = Chain {
        select,
        pads: pads.clone(),
        length: *length,
        hop: *hop,
        drop_last: *drop_last,
        window: window.clone(),
        per_frame,
        n: *n,
        period: *period,
        basis: *basis,
        plan: plan.clone(),
        power_mel: None,
        epilogue: None,
        concat: false,
        energy,
        subtract_mean: false,
        layout: Vec::new(),
    };
    if let Some(Op::PowerMel { power, matrix }) = it.peek() {
        chain.power_mel = Some((*power, matrix.clone()));
        it.next();
    }
    match it.peek() {
        Some(Op::Epilogue(e)) => {
            chain.epilogue = Some(e.clone());
            it.next();
        }
        Some(Op::ConcatReIm) if chain.power_mel.is_none() => {
            chain.concat = true;
            it.next();
        }
        _ => {}
    }
    if let Some(Op::Concat { .. }) = it.peek() {
        it.next();
    }
    if let Some(Op::SubtractMean) = it.peek() {
        chain.subtract_mean = true;
        it.next();
    }
    if (chain.energy.is_some() || chain.subtract_mean)
        && chain.epilogue.as_ref().is_some_and(|e| e.clip.is_some())
    {
        return unsupported("an energy column or mean subtraction with a top_db clip");
    }
    match it.next() {
        Some(Op::Layout(out)) => chain.layout = out.clone(),
        other => return unsupported(format!("expected the layout, found {:?}", other.map(|o| o.name()))),
    }
    if it.next().is_some() {
        return unsupported("ops after the layout");
    }
    if chain.power_mel.is_none() && !chain.concat && chain.epilogue.as_ref().is_none_or(|e| e.from.is_none())
    {
        return unsupported("a complex spectrum without a complex-to-real step");
    }
    if chain.power_mel.is_some() && chain.epilogue.as_ref().is_some_and(|e| e.from.is_some()) {
        return unsupported("a complex-to-real step after the filterbank");
    }
    if let Some(e) = &chain.epilogue {
        if e.post.iter().any(|s| matches!(s, Step::DoubleInterior { .. })) {
            return unsupported("bin-dependent steps after a clip");
        }
        if e.clip.is_none() && !e.post.is_empty() {
            return unsupported("steps after a missing clip");
        }
    }
    Ok(chain)
}

/// Whether frames are the innermost output axis.
fn frames_innermost(layout: &[OutAxis]) -> bool {
    layout.last().is_some_and(|a| a.parts == ["frames"])
}

/// Largest Keras float32 DFT basis built for the direct-sum path (taps × bins entries).
const MAX_F32_BASIS: usize = 1 << 22;

/// Largest filterbank (weights, before replication per lane) the JIT takes; larger ones run
/// on the interpreter instead of making a table of `lanes` times their size.
const MAX_JIT_WEIGHTS: usize = 1 << 22;

/// Compiles an optimized, scheduled graph for `precision` on `isa`.
pub fn compile(g: &Graph, precision: Precision, isa: IsaChoice) -> Result<Program, CodegenError> {
    let c = chain_of(g)?;
    let vk = Vk::of(precision);
    let lanes = vk.lanes();
    let esz = vk.elem_bytes();
    let mut jit = JitModule::new(isa)?;
    #[cfg(test)]
    jit.set_capture_vcode(std::env::var_os("SPECC_DUMP_STAGE").is_some());
    let ptr = jit.target().pointer_type;
    let mut tables = DataSet::default();
    let fft = RealFft::new(&c.plan, vk, &mut tables)?;
    if fft.len() != c.period {
        return unsupported("the FFT plan's length is not the DFT period");
    }
    let bins = c.n / 2 + 1;
    // The frame the FFT reads: the load's taps (zero-padded to the period), or the taps folded
    // onto the period when they are longer (Keras's odd-length basis).
    let taps = c.length;
    let x_points = taps.max(c.period).next_multiple_of(lanes);
    let wrap = taps > c.period;

    // With a filterbank, the fft and dft stages write the power per bin `p` and its sum (the
    // tail's non-finite check) themselves; the complex bins never reach scratch for even n.
    let power = c.power_mel.as_ref().map(|(pw, _)| *pw);
    let fused = power.is_some();
    let even = fft.spectrum_points() == bins;
    // Scratch layout (bytes, each region 16-aligned): x | xw (wrapped) | y_re | y_im | fft
    // scratch | p (power per bin) | m (band sums) | flag. Fused: point 0 of y_re holds the power
    // sum, and y is workspace for odd n only (y_im is not allocated for even n).
    let v = Vk::BYTES as usize;
    let mut off = 0usize;
    let mut region = |points: usize| {
        let o = off;
        off += points * v;
        o
    };
    let x_off = region(x_points);
    let xw_off = if wrap { region(c.period) } else { x_off };
    let spec_points = fft.spectrum_points().max(bins);
    let y_re = region(spec_points);
    let y_im = if fused && even { y_re } else { region(spec_points) };
    let fft_scratch = region(2 * fft.scratch_points());
    let p_off = region(bins + 4);
    let m_off = region(c.power_mel.as_ref().map_or(0, |(_, m)| m.rows.len()));
    let flag_offset = region(1);
    let energy_offset = c.energy.map(|_| region(1));
    let max_offset = c.epilogue.as_ref().and_then(|e| e.clip.as_ref()).map(|_| region(2));
    let scratch_bytes = off.max(v);

    // Tables.
    // The fused window is stored as whole vectors (each tap once per lane), so the load stage
    // multiplies by a memory operand instead of broadcasting a scalar on the shuffle port,
    // which the transpose already keeps busy.
    let window = c.window.as_ref().map(|w| tables.push_per_lane(vk, w.data.iter().copied()));
    let frame_tables: Vec<Option<usize>> = c
        .per_frame
        .iter()
        .map(|op| match op {
            Op::WindowTable(t) => Some(tables.push_floats(vk, t.data.iter().copied())),
            _ => None,
        })
        .collect();
    // Direct DFT basis: per-period twiddles (index t·k mod period), or Keras's float32 basis.
    let dft_table = if c.basis == Precision::F32 {
        if taps * bins > MAX_F32_BASIS {
            return unsupported(format!("a float32 DFT basis of {taps}x{bins} entries"));
        }
        let mut t = Vec::with_capacity(2 * taps * bins);
        for k in 0..bins {
            for tt in 0..taps {
                let freq = k as f32 / c.period as f32;
                let arg = ((-2.0f32 * tt as f32) * freq * std::f32::consts::PI) as f64;
                t.extend([arg.cos() as f32 as f64, arg.sin() as f32 as f64]);
            }
        }
        tables.push_floats(vk, t)
    } else {
        tables.push_floats(
            vk,
            (0..c.period).flat_map(|j| {
                let a = -2.0 * std::f64::consts::PI * j as f64 / c.period as f64;
                [a.cos(), a.sin()]
            }),
        )
    };
    // Sparse filterbank: per band (start, exact length, padded length, weight offset).
    if let Some((_, m)) = &c.power_mel {
        let total: usize = m.rows.iter().map(|(_, w)| w.len().next_multiple_of(4)).sum();
        if total > MAX_JIT_WEIGHTS {
            return unsupported(format!("a filterbank of {total} weights"));
        }
    }
    let mel = c.power_mel.as_ref().map(|(power, m)| {
        let mut weights = Vec::new();
        let mut rows = Vec::new();
        for (start, w) in &m.rows {
            let padded = w.len().next_multiple_of(4);
            rows.extend([*start as u32, w.len() as u32, padded as u32, weights.len() as u32]);
            weights.extend(w.iter().copied());
            weights.extend(std::iter::repeat_n(0.0, padded - w.len()));
        }
        // Runs of consecutive bands with the same padded length: the fast path unrolls each
        // band's products, one loop per run (no data-dependent branch per band).
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        for (b, (_, w)) in m.rows.iter().enumerate() {
            let padded = w.len().next_multiple_of(4);
            match runs.last_mut() {
                Some((_, end, len)) if *len == padded => *end = b + 1,
                _ => runs.push((b, b + 1, padded)),
            }
        }
        // Weights as whole vectors: the products take them as memory operands instead of a
        // scalar load plus a broadcast on the shuffle port each.
        (*power, m.rows.len(), tables.push_u32(rows), tables.push_per_lane(vk, weights), runs)
    });
    let bands = match (&mel, c.concat) {
        (Some((_, b, _, _, _)), _) => *b,
        (None, true) => 2 * bins,
        (None, false) => bins,
    };
    let mut ids = tables.register(&mut jit, "p")?;
    // The tail's constant pool: filled while the tail is built, defined right after it.
    let pool_id = jit.declare_data("p.pool")?;
    ids.push(pool_id);
    let pool_table = ids.len() - 1;
    let mut pool = Pool::default();
    let time_contiguous = frames_innermost(&c.layout);
    let epi = c.epilogue.clone().unwrap_or(Epilogue { from: None, pre: vec![], clip: None, post: vec![] });

    // ---- load ----
    let load = define_stage(&mut jit, "load", &ids, vk, |e, addrs, args| {
        let ptr = e.ptr;
        let src = arg(e, args, offset_of!(BlockArgs, src));
        let scratch = arg(e, args, offset_of!(BlockArgs, scratch));
        let x = e.b.ins().iadd_imm_s(scratch, x_off as i64);
        let flag = e.b.declare_var(vk.ty());
        let z = e.splat(0.0);
        e.b.def_var(flag, z);
        // Taps past the frame are the FFT's zero padding. Scratch is reused across blocks and
        // programs, so they are written on every call.
        e.range_loop(taps, x_points, |e, j| {
            let z = e.splat(0.0);
            let a = e.index(x, j, v as i64);
            e.vstore(z, a, 0);
        });
        let fuse_flag = c.per_frame.is_empty();
        let win = window.map(|w| addrs.get(e.b, ptr, w));
        emit_gather(e, src, x, taps, c.hop, win, if fuse_flag { Some(flag) } else { None });
        let energy_at = c.energy.map(|(after, ..)| after);
        let energy_dst = energy_offset.map(|o| e.b.ins().iadd_imm_s(scratch, o as i64));
        if let (Some(0), Some(d)) = (energy_at, energy_dst) {
            emit_sum_of_squares(e, x, taps, d);
        }
        for (i, (op, table)) in c.per_frame.iter().zip(&frame_tables).enumerate() {
            match op {
                Op::RemoveDc => {
                    let sum = e.b.declare_var(vk.ty());
                    let z = e.splat(0.0);
                    e.b.def_var(sum, z);
                    e.counted_loop(taps, |e, j| {
                        let a = e.index(x, j, v as i64);
                        let xv = e.vload(a, 0);
                        let s = e.b.use_var(sum);
                        let s = e.b.ins().fadd(s, xv);
                        e.b.def_var(sum, s);
                    });
                    let s = e.b.use_var(sum);
                    let inv = e.splat(1.0 / taps as f64);
                    let mean = e.b.ins().fmul(s, inv);
                    e.counted_loop(taps, |e, j| {
                        let a = e.index(x, j, v as i64);
                        let xv = e.vload(a, 0);
                        let y = e.b.ins().fsub(xv, mean);
                        e.vstore(y, a, 0);
                    });
                }
                Op::Preemphasis(coef) => {
                    let k = e.splat(*coef);
                    // Downwards, so x[j-1] is still the old value; x[-1] = x[0].
                    e.counted_loop(taps.saturating_sub(1), |e, i| {
                        let n1 = e.b.ins().iconst(ptr, taps as i64 - 1);
                        let j = e.b.ins().isub(n1, i);
                        let a = e.index(x, j, v as i64);
                        let cur = e.vload(a, 0);
                        let prev = e.vload(a, -(v as i64));
                        let p = e.b.ins().fmul(k, prev);
                        let y = e.b.ins().fsub(cur, p);
                        e.vstore(y, a, 0);
                    });
                    let x0 = e.vload(x, 0);
                    let p = e.b.ins().fmul(k, x0);
                    let y = e.b.ins().fsub(x0, p);
                    e.vstore(y, x, 0);
                }
                Op::WindowTable(_) => {
                    let w = addrs.get(e.b, ptr, table.expect("window tables are pushed"));
                    e.counted_loop(taps, |e, j| {
                        let a = e.index(x, j, v as i64);
                        let xv = e.vload(a, 0);
                        let wa = e.index(w, j, esz as i64);
                        let wv = e.splat_load(wa, 0);
                        let y = e.b.ins().fmul(xv, wv);
                        e.vstore(y, a, 0);
                    });
                }
                _ => unreachable!("only per-frame ops are collected"),
            }
            if let (Some(at), Some(d)) = (energy_at, energy_dst) {
                if at == i + 1 {
                    emit_sum_of_squares(e, x, taps, d);
                }
            }
        }
        if !fuse_flag {
            e.counted_loop(taps, |e, j| {
                let a = e.index(x, j, v as i64);
                let xv = e.vload(a, 0);
                let f = e.b.use_var(flag);
                let f = e.b.ins().fadd(f, xv);
                e.b.def_var(flag, f);
            });
        }
        let f = e.b.use_var(flag);
        let fa = e.b.ins().iadd_imm_s(scratch, flag_offset as i64);
        e.vstore(f, fa, 0);
    })?;

    // ---- fft ----
    let fft_fn = define_stage(&mut jit, "fft", &ids, vk, |e, addrs, args| {
        let ptr = e.ptr;
        let scratch = arg(e, args, offset_of!(BlockArgs, scratch));
        let x = e.b.ins().iadd_imm_s(scratch, x_off as i64);
        let xw = e.b.ins().iadd_imm_s(scratch, xw_off as i64);
        if wrap {
            // Fold taps past the period onto its start, as a DFT of that period sees them.
            e.counted_loop(c.period, |e, j| {
                let a = e.index(x, j, v as i64);
                let xv = e.vload(a, 0);
                let d = e.index(xw, j, v as i64);
                e.vstore(xv, d, 0);
            });
            e.range_loop(c.period, taps, |e, j| {
                let a = e.index(x, j, v as i64);
                let xv = e.vload(a, 0);
                let p = e.b.ins().iconst(ptr, c.period as i64);
                let jj = e.b.ins().isub(j, p);
                let d = e.index(xw, jj, v as i64);
                let old = e.vload(d, 0);
                let s = e.b.ins().fadd(old, xv);
                e.vstore(s, d, 0);
            });
        }
        let yr = e.b.ins().iadd_imm_s(scratch, y_re as i64);
        let yi = e.b.ins().iadd_imm_s(scratch, y_im as i64);
        let fs = e.b.ins().iadd_imm_s(scratch, fft_scratch as i64);
        match power {
            Some(pw) => {
                let f = move |e: &mut Emit<'_, '_>, re: Value, im: Value| power_of(e, pw, re, im);
                let p = e.b.ins().iadd_imm_s(scratch, p_off as i64);
                let sink = PowerSink { p, sum: yr, f: &f };
                fft.emit(e, addrs, xw, yr, yi, fs, Some(&sink));
                zero_power_padding(e, p, bins);
            }
            None => fft.emit(e, addrs, xw, yr, yi, fs, None),
        }
    })?;

    // ---- dft (direct sum, for non-finite frames) ----
    let dft_fn = define_stage(&mut jit, "dft", &ids, vk, |e, addrs, args| {
        let ptr = e.ptr;
        let scratch = arg(e, args, offset_of!(BlockArgs, scratch));
        let x = e.b.ins().iadd_imm_s(scratch, x_off as i64);
        let yr = e.b.ins().iadd_imm_s(scratch, y_re as i64);
        let yi = e.b.ins().iadd_imm_s(scratch, y_im as i64);
        let table = addrs.get(e.b, ptr, dft_table);
        let re = e.b.declare_var(vk.ty());
        let im = e.b.declare_var(vk.ty());
        let idx = e.b.declare_var(ptr);
        let p = e.b.ins().iadd_imm_s(scratch, p_off as i64);
        let psum = e.b.declare_var(vk.ty());
        let z = e.splat(0.0);
        e.b.def_var(psum, z);
        let keras = c.basis == Precision::F32;
        e.counted_loop(bins, |e, k| {
            let z = e.splat(0.0);
            e.b.def_var(re, z);
            e.b.def_var(im, z);
            let zero = e.b.ins().iconst(ptr, 0);
            e.b.def_var(idx, zero);
            // Keras: row k of the taps x bins basis; else twiddle (t·k mod period).
            let row = if keras { e.index(table, k, (2 * taps * esz) as i64) } else { table };
            e.counted_loop(taps, |e, tt| {
                let a = e.index(x, tt, v as i64);
                let xv = e.vload(a, 0);
                let ba = if keras {
                    e.index(row, tt, 2 * esz as i64)
                } else {
                    let i = e.b.use_var(idx);
                    e.index(row, i, 2 * esz as i64)
                };
                let cr = e.splat_load(ba, 0);
                let ci = e.splat_load(ba, esz as i64);
                let pr = e.b.ins().fmul(xv, cr);
                let pi = e.b.ins().fmul(xv, ci);
                let r = e.b.use_var(re);
                let r = e.b.ins().fadd(r, pr);
                e.b.def_var(re, r);
                let m = e.b.use_var(im);
                let m = e.b.ins().fadd(m, pi);
                e.b.def_var(im, m);
                if !keras {
                    let i = e.b.use_var(idx);
                    let i = e.b.ins().iadd(i, k);
                    let p = e.b.ins().iconst(ptr, c.period as i64);
                    let w = e.b.ins().isub(i, p);
                    let ge = e.b.ins().icmp(
                        cranelift_codegen::ir::condcodes::IntCC::UnsignedGreaterThanOrEqual,
                        i,
                        p,
                    );
                    let i = e.b.ins().select(ge, w, i);
                    e.b.def_var(idx, i);
                }
            });
            let r = e.b.use_var(re);
            let m = e.b.use_var(im);
            match power {
                Some(pw) => {
                    let pv = power_of(e, pw, r, m);
                    let d = e.index(p, k, v as i64);
                    e.vstore(pv, d, 0);
                    let s = e.b.use_var(psum);
                    let s = e.b.ins().fadd(s, pv);
                    e.b.def_var(psum, s);
                }
                None => {
                    let dr = e.index(yr, k, v as i64);
                    e.vstore(r, dr, 0);
                    let di = e.index(yi, k, v as i64);
                    e.vstore(m, di, 0);
                }
            }
        });
        if fused {
            let s = e.b.use_var(psum);
            e.vstore(s, yr, 0);
            let p = e.b.ins().iadd_imm_s(scratch, p_off as i64);
            zero_power_padding(e, p, bins);
        }
    })?;

    // ---- tail ----
    let tail = define_stage(&mut jit, "tail", &ids, vk, |e, addrs, args| {
        let ptr = e.ptr;
        let scratch = arg(e, args, offset_of!(BlockArgs, scratch));
        let out = arg(e, args, offset_of!(BlockArgs, out));
        let out_band = arg(e, args, offset_of!(BlockArgs, out_band));
        let out_time = arg(e, args, offset_of!(BlockArgs, out_time));
        let yr = e.b.ins().iadd_imm_s(scratch, y_re as i64);
        let yi = e.b.ins().iadd_imm_s(scratch, y_im as i64);
        // The clip's running maximum and NaN mask, in variables while the tail runs.
        let running = max_offset.map(|o| {
            let a = e.b.ins().iadd_imm_s(scratch, o as i64);
            let (mx, nan) = (e.b.declare_var(vk.ty()), e.b.declare_var(vk.ty()));
            let m0 = e.vload(a, 0);
            e.b.def_var(mx, m0);
            let n0 = e.vload(a, v as i64);
            e.b.def_var(nan, n0);
            (a, mx, nan)
        });
        let store = |e: &mut Emit<'_, '_>, val: Value, band: Value| {
            if let Some((_, mx, nan)) = running {
                // `maxps` keeps the first operand when either is NaN: NaN never wins.
                let m = e.b.use_var(mx);
                let m = vk.max_nanprop(e.b, m, val);
                e.b.def_var(mx, m);
                let isnan = e.b.ins().fcmp(FloatCC::Unordered, val, val);
                let isnan = vk.as_float(e.b, isnan);
                let n = e.b.use_var(nan);
                let n = e.b.ins().bor(n, isnan);
                e.b.def_var(nan, n);
            }
            let base = e.b.ins().imul(band, out_band);
            let base = e.b.ins().iadd(out, base);
            if time_contiguous {
                e.vstore(val, base, 0);
            } else {
                let mut at = base;
                for lane in 0..lanes {
                    let s = e.b.ins().extractlane(val, lane as u8);
                    e.b.ins().store(data(), s, at, 0);
                    if lane + 1 < lanes {
                        at = e.b.ins().iadd(at, out_time);
                    }
                }
            }
        };
        match &mel {
            Some((_, nbands, rows, weights, runs)) => {
                let p = e.b.ins().iadd_imm_s(scratch, p_off as i64);
                // The fft or dft stage left the power per bin in `p` and its sum in point 0 of
                // y_re (non-finite iff some bin is, or the sum overflows: either way the exact
                // path below is right).
                // The fft or dft stage zeroed the padding after the last bin (padded weights
                // read up to 3 past it): the tail never writes `p`, so its loads of `p` are
                // read-only and can be memory operands of the multiply-adds.
                let s = e.vload(yr, 0);
                let bad = e.b.ins().fcmp(FloatCC::Unordered, s, s);
                let z2 = e.splat(0.0);
                let s0 = e.b.ins().fmul(s, z2);
                let bad2 = e.b.ins().fcmp(FloatCC::Unordered, s0, s0);
                let bad = e.b.ins().bor(bad, bad2);
                let any = e.b.ins().vany_true(bad);
                let fast = e.b.create_block();
                let slow = e.b.create_block();
                let done = e.b.create_block();
                let rows_a = addrs.get(e.b, ptr, *rows);
                let w_a = addrs.get(e.b, ptr, *weights);
                // Band sums go to scratch first, the epilogue's steps run in a second loop: the
                // sums' branches and the steps' long dependency chains do not serialize.
                let mb = e.b.ins().iadd_imm_s(scratch, m_off as i64);
                e.b.ins().brif(any, slow, &[], fast, &[]);
                e.b.switch_to_block(fast);
                for &(first, end, plen) in runs {
                    e.range_loop(first, end, |e, band| {
                        let ra = e.index(rows_a, band, 16);
                        let start = e.b.ins().uload32(readonly(), ra, 0);
                        let woff = e.b.ins().uload32(readonly(), ra, 12);
                        let pa = e.index(p, start, v as i64);
                        let wa = e.index(w_a, woff, v as i64);
                        let acc = mel_unrolled(e, pa, wa, plen);
                        let d = e.index(mb, band, v as i64);
                        e.vstore(acc, d, 0);
                    });
                }
                e.b.ins().jump(done, &[]);
                e.b.switch_to_block(slow);
                e.counted_loop(*nbands, |e, band| {
                    let ra = e.index(rows_a, band, 16);
                    let start = e.b.ins().uload32(readonly(), ra, 0);
                    let len = e.b.ins().uload32(readonly(), ra, 4);
                    let woff = e.b.ins().uload32(readonly(), ra, 12);
                    let acc = mel_band(e, p, w_a, start, len, woff, false, bins);
                    let acc = outside_nan(e, p, start, len, bins, acc);
                    let d = e.index(mb, band, v as i64);
                    e.vstore(acc, d, 0);
                });
                e.b.ins().jump(done, &[]);
                e.b.switch_to_block(done);
                pool.enter(e, addrs, pool_table);
                e.counted_loop(*nbands, |e, band| {
                    pool.iteration(e, band);
                    let a = e.index(mb, band, v as i64);
                    let acc = e.vload(a, 0);
                    let val = emit_steps(e, &epi.pre, acc, None, bins, &mut pool);
                    store(e, val, band);
                });
            }
            None => {
                let from = epi.from;
                let segments = double_segments(&epi.pre, bins);
                pool.enter(e, addrs, pool_table);
                for (lo, hi, double) in segments {
                    e.range_loop(lo, hi, |e, k| {
                        pool.iteration(e, k);
                        let ar = e.index(yr, k, v as i64);
                        let ai = e.index(yi, k, v as i64);
                        let re = e.vload(ar, 0);
                        let im = e.vload(ai, 0);
                        if c.concat {
                            store(e, re, k);
                            let kb = e.b.ins().iadd_imm_s(k, bins as i64);
                            store(e, im, kb);
                            return;
                        }
                        let val = from_complex(e, from.expect("checked by chain_of"), re, im);
                        let val = emit_steps(e, &epi.pre, val, Some(double), bins, &mut pool);
                        store(e, val, k);
                    });
                }
            }
        }
        if let Some((a, mx, nan)) = running {
            let m = e.b.use_var(mx);
            e.vstore(m, a, 0);
            let n = e.b.use_var(nan);
            e.vstore(n, a, v as i64);
        }
    })?;

    jit.define_declared_data("p.pool", pool_id, pool.bytes(), 16)?;

    // ---- clip (phase 2) ----
    let clip_fn = match &epi.clip {
        None => None,
        Some(c) => {
            let ref_max = c.ref_max;
            let mut s = jit.make_signature();
            s.params.extend([AbiParam::new(ptr); 3]);
            let post = epi.post.clone();
            Some(jit.define("clip", s, |b, t| {
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
                e.b.ins().jump(lp, &[cranelift_codegen::ir::BlockArg::Value(zero)]);
                e.b.switch_to_block(lp);
                let i = e.b.block_params(lp)[0];
                let more = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan, i, len);
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
                let y = emit_steps(&mut e, &post, m, None, bins, &mut super::math::Inline);
                e.vstore(y, a, 0);
                let next = e.b.ins().iadd_imm_s(i, lanes as i64);
                e.b.ins().jump(lp, &[cranelift_codegen::ir::BlockArg::Value(next)]);
                e.b.switch_to_block(exit);
                e.b.ins().return_(&[]);
            })?)
        }
    };
    jit.finalize()?;
    let get = |id: FuncId| -> Result<*const u8, JitError> { Ok(jit.function(id)?.as_ptr()) };
    // SAFETY: each pointer is the finalized code of a function defined above with exactly the
    // signature it is cast to (one pointer argument for stages; pointer, usize, pointer for the
    // clip), and the module that owns the code moves into the same `Program`.
    let fns = unsafe {
        Fns {
            load: std::mem::transmute::<*const u8, StageFn>(get(load)?),
            fft: std::mem::transmute::<*const u8, StageFn>(get(fft_fn)?),
            dft: std::mem::transmute::<*const u8, StageFn>(get(dft_fn)?),
            tail: std::mem::transmute::<*const u8, StageFn>(get(tail)?),
            clip: match clip_fn {
                Some(id) => Some(std::mem::transmute::<*const u8, ClipFn>(get(id)?)),
                None => None,
            },
        }
    };
    let description = format!(
        "{} x{lanes}: load {taps} taps, fft {}, tail {bands} values{}",
        precision.as_str(),
        c.plan,
        if epi.clip.is_some() { ", clip" } else { "" }
    );
    let info = ProgramInfo {
        precision,
        lanes,
        length: c.length,
        hop: c.hop,
        pads: c.pads,
        drop_last: c.drop_last,
        select: c.select,
        bands,
        clip: epi.clip,
        time_contiguous,
        scratch_bytes,
        flag_offset,
        max_offset,
        spectrum_offsets: if fused { (p_off, y_re) } else { (y_re, y_im) },
        bins,
        energy: c.energy.zip(energy_offset).map(|((_, min, floor, last), offset)| EnergyColumn {
            offset,
            min,
            floor,
            last,
        }),
        subtract_mean: c.subtract_mean,
        description,
    };
    Ok(Program { _module: Mutex::new(jit), fns, info })
}

/// Stores at `dst` each lane's sum of squares of the frame's `taps` vectors at `x` (Kaldi's
/// energy, before its log).
fn emit_sum_of_squares(e: &mut Emit<'_, '_>, x: Value, taps: usize, dst: Value) {
    let v = Vk::BYTES;
    let sum = e.b.declare_var(e.vk.ty());
    let z = e.splat(0.0);
    e.b.def_var(sum, z);
    e.counted_loop(taps, |e, j| {
        let a = e.index(x, j, v);
        let xv = e.vload(a, 0);
        let sq = e.b.ins().fmul(xv, xv);
        let s = e.b.use_var(sum);
        let s = e.b.ins().fadd(s, sq);
        e.b.def_var(sum, s);
    });
    let s = e.b.use_var(sum);
    e.vstore(s, dst, 0);
}

/// Zeroes the 4 power vectors after the last bin, which the tail's padded filterbank rows read
/// (with zero weights).
fn zero_power_padding(e: &mut Emit<'_, '_>, p: Value, bins: usize) {
    for j in 0..4 {
        let z = e.splat(0.0);
        e.vstore(z, p, (j + bins) as i64 * Vk::BYTES);
    }
}

/// A loop's `F32X4` constants read from a table instead of held in registers: the dB step's
/// logarithm needs about 16 constants, which with its temporaries exceed the 16 xmm
/// registers, and Cranelift hoists `vconst`s out of the loop and then spills and reloads them
/// (and stores them again on every back edge). Each iteration addresses the table through
/// `pool + (i & zero)`, where `zero` is loaded from the table itself before the loop: the
/// address depends on the loop index, so the loads are not hoisted, and each is a pure,
/// single-use load that x64 folds into its instruction as a memory operand.
#[derive(Default)]
struct Pool {
    /// Entry bit patterns; entry 0 is the zero the address trick loads.
    entries: Vec<u32>,
    table: Option<Value>,
    zero: Option<Value>,
    base: Option<Value>,
}

impl Pool {
    /// Before a loop: the table's address and the opaque zero (F32X4 kernels only: the
    /// constants it serves are the f32 logarithm's).
    fn enter(&mut self, e: &mut Emit<'_, '_>, addrs: &Addrs, table: usize) {
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
    fn iteration(&mut self, e: &mut Emit<'_, '_>, i: Value) {
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
    fn bytes(&self) -> Vec<u8> {
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

/// Defines one stage kernel, `extern "C" fn(*const BlockArgs)`: `body` gets the emitter, the
/// addresses of the program's tables and the argument block's address; the kernel returns
/// after it.
fn define_stage(
    jit: &mut JitModule,
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

/// A pointer-sized field of the [`BlockArgs`] at `args`.
fn arg(e: &mut Emit<'_, '_>, args: Value, offset: usize) -> Value {
    e.b.ins().load(e.ptr, data(), args, offset as i32)
}

/// The framed load: `x[j] = (lane k: src[k·hop + j]) · w[j]` for `j < taps`, full vectors
/// through a transpose of `lanes` consecutive taps, the remainder lane by lane. Adds each
/// stored vector to `flag` when given.
fn emit_gather(
    e: &mut Emit<'_, '_>,
    src: Value,
    x: Value,
    taps: usize,
    hop: usize,
    win: Option<Value>,
    flag: Option<Variable>,
) {
    let vk = e.vk;
    let lanes = vk.lanes();
    let esz = vk.elem_bytes() as i64;
    let v = Vk::BYTES;
    let hop_bytes = hop as i64 * esz;
    // Windows and stores one vector of taps; returns the stored value.
    let finish = |e: &mut Emit<'_, '_>, val: Value, j: Value, jo: i64| {
        let val = match win {
            Some(w) => {
                let wa = e.index(w, j, v);
                let wv = e.vload_ro(wa, jo * v);
                e.b.ins().fmul(val, wv)
            }
            None => val,
        };
        let d = e.index(x, j, v);
        e.vstore(val, d, jo * v);
        val
    };
    let add_flag = |e: &mut Emit<'_, '_>, val: Value| {
        if let Some(f) = flag {
            let acc = e.b.use_var(f);
            let acc = e.b.ins().fadd(acc, val);
            e.b.def_var(f, acc);
        }
    };
    let full = taps / lanes;
    e.counted_loop(full, |e, blk| {
        let j = e.b.ins().imul_imm_s(blk, lanes as i64);
        let base = e.index(src, j, esz);
        let rows: Vec<Value> = (0..lanes).map(|k| e.vload(base, k as i64 * hop_bytes)).collect();
        let cols = transpose(e, &rows);
        let mut stored: Vec<Value> =
            cols.into_iter().enumerate().map(|(o, col)| finish(e, col, j, o as i64)).collect();
        if flag.is_some() {
            // A pairwise sum, so the loop-carried chain is one add per iteration instead of
            // one per vector (the chain's latency bounded the whole stage).
            while stored.len() > 1 {
                stored = stored
                    .chunks(2)
                    .map(|p| if p.len() == 2 { e.b.ins().fadd(p[0], p[1]) } else { p[0] })
                    .collect();
            }
            add_flag(e, stored[0]);
        }
    });
    for jj in full * lanes..taps {
        let mut val = e.splat(0.0);
        for k in 0..lanes {
            let s = e.b.ins().load(vk.scalar(), data(), src, (k as i64 * hop_bytes + jj as i64 * esz) as i32);
            val = e.b.ins().insertlane(val, s, k as u8);
        }
        let j = e.b.ins().iconst(e.ptr, jj as i64);
        let stored = finish(e, val, j, 0);
        add_flag(e, stored);
    }
}

/// Transposes `lanes` vectors (row k = lanes of frame k) into columns (column j = tap j of
/// every frame).
fn transpose(e: &mut Emit<'_, '_>, rows: &[Value]) -> Vec<Value> {
    let le = MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little);
    let to8 = |e: &mut Emit<'_, '_>, x: Value| e.b.ins().bitcast(types::I8X16, le, x);
    let ty = e.vk.ty();
    let from8 = |e: &mut Emit<'_, '_>, x: Value| e.b.ins().bitcast(ty, le, x);
    // Byte-shuffle masks selecting 32- or 64-bit lanes from (a, b).
    let mask = |lanes: &[usize], width: usize| -> Vec<u8> {
        lanes.iter().flat_map(|&l| (0..width).map(move |b| (l * width + b) as u8)).collect()
    };
    let shuf = |e: &mut Emit<'_, '_>, a: Value, b: Value, m: Vec<u8>| {
        let a8 = to8(e, a);
        let b8 = to8(e, b);
        let imm = e.b.func.dfg.immediates.push(cranelift_codegen::ir::ConstantData::from(m));
        let r = e.b.ins().shuffle(a8, b8, imm);
        from8(e, r)
    };
    match rows.len() {
        2 => {
            let lo = shuf(e, rows[0], rows[1], mask(&[0, 2], 8));
            let hi = shuf(e, rows[0], rows[1], mask(&[1, 3], 8));
            vec![lo, hi]
        }
        4 => {
            // unpcklps / unpckhps, then movlhps / movhlps.
            let t0 = shuf(e, rows[0], rows[1], mask(&[0, 4, 1, 5], 4));
            let t1 = shuf(e, rows[2], rows[3], mask(&[0, 4, 1, 5], 4));
            let t2 = shuf(e, rows[0], rows[1], mask(&[2, 6, 3, 7], 4));
            let t3 = shuf(e, rows[2], rows[3], mask(&[2, 6, 3, 7], 4));
            let c0 = shuf(e, t0, t1, mask(&[0, 1, 4, 5], 4));
            let c1 = shuf(e, t0, t1, mask(&[2, 3, 6, 7], 4));
            let c2 = shuf(e, t2, t3, mask(&[0, 1, 4, 5], 4));
            let c3 = shuf(e, t2, t3, mask(&[2, 3, 6, 7], 4));
            vec![c0, c1, c2, c3]
        }
        _ => unreachable!("2 or 4 lanes"),
    }
}

fn power_of(e: &mut Emit<'_, '_>, power: SpectrumPower, re: Value, im: Value) -> Value {
    let rr = e.b.ins().fmul(re, re);
    let p = e.mul_add(im, im, rr);
    match power {
        SpectrumPower::Power => p,
        SpectrumPower::MagnitudePow(2.0) => p,
        SpectrumPower::MagnitudePow(x) => {
            let m = e.b.ins().sqrt(p);
            vmath::emit_pow_const(e.b, e.t, e.vk, m, x)
        }
    }
}

fn from_complex(e: &mut Emit<'_, '_>, f: FromComplex, re: Value, im: Value) -> Value {
    match f {
        FromComplex::Power => power_of(e, SpectrumPower::Power, re, im),
        FromComplex::Magnitude => {
            let p = power_of(e, SpectrumPower::Power, re, im);
            e.b.ins().sqrt(p)
        }
        FromComplex::Real => re,
        FromComplex::Imag => im,
        FromComplex::Angle => vmath::emit_atan2(e.b, e.t, e.vk, im, re),
    }
}

/// Bin ranges `[lo, hi)` with whether `DoubleInterior` doubles them (one segment when the
/// steps have none).
fn double_segments(steps: &[Step], bins: usize) -> Vec<(usize, usize, bool)> {
    let last = steps.iter().find_map(|s| match s {
        Step::DoubleInterior { last } => Some(*last),
        _ => None,
    });
    match last {
        None => vec![(0, bins, false)],
        Some(last) => {
            let end = if last { bins } else { bins.saturating_sub(1) };
            let mut v = vec![(0, 1.min(bins), false)];
            if end > 1 {
                v.push((1, end, true));
            }
            v.push((end.max(1), bins, false));
            v.retain(|(a, b, _)| a < b);
            v
        }
    }
}

/// Applies elementwise steps; `double` says whether `DoubleInterior` doubles this value.
fn emit_steps(
    e: &mut Emit<'_, '_>,
    steps: &[Step],
    mut x: Value,
    double: Option<bool>,
    _bins: usize,
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
                    let l = super::math::emit_ln_normal(e.b, e.t, m, k);
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

/// One band of the sparse filterbank: `Σ_{i < len} w[woff + i] · p[start + i]`. With `padded`,
/// `len` is a multiple of 4 and the loop is unrolled by 4 over two accumulators (the padding
/// weights are zero and the power buffer is finite on this path).
#[allow(clippy::too_many_arguments)]
fn mel_band(
    e: &mut Emit<'_, '_>,
    p: Value,
    w: Value,
    start: Value,
    len: Value,
    woff: Value,
    padded: bool,
    _bins: usize,
) -> Value {
    let vk = e.vk;
    let v = Vk::BYTES;
    let ptr = e.ptr;
    let pa = e.index(p, start, v);
    let wa = e.index(w, woff, v);
    let step = if padded { 4 } else { 1 };
    let lp = e.b.create_block();
    let body = e.b.create_block();
    let exit = e.b.create_block();
    e.b.append_block_param(lp, ptr);
    e.b.append_block_param(lp, vk.ty());
    e.b.append_block_param(lp, vk.ty());
    e.b.append_block_param(exit, vk.ty());
    e.b.append_block_param(exit, vk.ty());
    let zero = e.b.ins().iconst(ptr, 0);
    let z = e.splat(0.0);
    use cranelift_codegen::ir::BlockArg;
    e.b.ins().jump(lp, &[BlockArg::Value(zero), BlockArg::Value(z), BlockArg::Value(z)]);
    e.b.switch_to_block(lp);
    let i = e.b.block_params(lp)[0];
    let a0 = e.b.block_params(lp)[1];
    let a1 = e.b.block_params(lp)[2];
    let more = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan, i, len);
    e.b.ins().brif(more, body, &[], exit, &[BlockArg::Value(a0), BlockArg::Value(a1)]);
    e.b.switch_to_block(body);
    let pi = e.index(pa, i, v);
    let wi = e.index(wa, i, v);
    let (mut a0, mut a1) = (a0, a1);
    for u in 0..step {
        let pv = e.vload(pi, u * v);
        let wv = e.vload_ro(wi, u * v);
        if u % 2 == 0 {
            a0 = e.mul_add(wv, pv, a0);
        } else {
            a1 = e.mul_add(wv, pv, a1);
        }
    }
    let next = e.b.ins().iadd_imm_s(i, step);
    e.b.ins().jump(lp, &[BlockArg::Value(next), BlockArg::Value(a0), BlockArg::Value(a1)]);
    e.b.switch_to_block(exit);
    let r0 = e.b.block_params(exit)[0];
    let r1 = e.b.block_params(exit)[1];
    e.b.ins().fadd(r0, r1)
}

/// One band of the sparse filterbank on the fast path: `Σ_{i < len} w[i] · p[i]` from the
/// band's first power vector `pa` and weight `wa`, straight line over four accumulators
/// (`len` is the padded length: the padding weights are zero and the powers finite here).
fn mel_unrolled(e: &mut Emit<'_, '_>, pa: Value, wa: Value, len: usize) -> Value {
    let mut acc: Vec<Value> = Vec::with_capacity(4);
    for i in 0..len {
        let pv = e.vload_ro(pa, i as i64 * Vk::BYTES);
        let wv = e.vload_ro(wa, i as i64 * Vk::BYTES);
        if i < 4 {
            acc.push(e.b.ins().fmul(wv, pv));
        } else {
            acc[i % 4] = e.mul_add(wv, pv, acc[i % 4]);
        }
    }
    match acc.len() {
        0 => e.splat(0.0),
        1 => acc[0],
        2 | 3 => {
            let s = e.b.ins().fadd(acc[0], acc[1]);
            if acc.len() == 3 {
                e.b.ins().fadd(s, acc[2])
            } else {
                s
            }
        }
        _ => {
            let s0 = e.b.ins().fadd(acc[0], acc[2]);
            let s1 = e.b.ins().fadd(acc[1], acc[3]);
            e.b.ins().fadd(s0, s1)
        }
    }
}

/// `acc` plus `0·p[k]` for every bin outside `[start, start + len)`: NaN when such a bin is not
/// finite, as the dense product's zero weights make it.
fn outside_nan(e: &mut Emit<'_, '_>, p: Value, start: Value, len: Value, bins: usize, acc: Value) -> Value {
    let ptr = e.ptr;
    let v = Vk::BYTES;
    let end = e.b.ins().iadd(start, len);
    let nb = e.b.ins().iconst(ptr, bins as i64);
    use cranelift_codegen::ir::BlockArg;
    let lp = e.b.create_block();
    let body = e.b.create_block();
    let exit = e.b.create_block();
    e.b.append_block_param(lp, ptr);
    e.b.append_block_param(lp, e.vk.ty());
    e.b.append_block_param(exit, e.vk.ty());
    let zero = e.b.ins().iconst(ptr, 0);
    let z = e.splat(0.0);
    e.b.ins().jump(lp, &[BlockArg::Value(zero), BlockArg::Value(z)]);
    e.b.switch_to_block(lp);
    let k = e.b.block_params(lp)[0];
    let o = e.b.block_params(lp)[1];
    let more = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan, k, nb);
    e.b.ins().brif(more, body, &[], exit, &[BlockArg::Value(o)]);
    e.b.switch_to_block(body);
    let lt = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan, k, start);
    let ge = e.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::UnsignedGreaterThanOrEqual, k, end);
    let outside = e.b.ins().bor(lt, ge);
    let a = e.index(p, k, v);
    let pv = e.vload(a, 0);
    let zero_v = e.splat(0.0);
    let prod = e.b.ins().fmul(pv, zero_v);
    let sum = e.b.ins().fadd(o, prod);
    let o2 = e.b.ins().select(outside, sum, o);
    let next = e.b.ins().iadd_imm_s(k, 1);
    e.b.ins().jump(lp, &[BlockArg::Value(next), BlockArg::Value(o2)]);
    e.b.switch_to_block(exit);
    let o = e.b.block_params(exit)[0];
    e.b.ins().fadd(acc, o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(spec: &str, sets: &[&str]) -> Graph {
        let text =
            std::fs::read_to_string(format!("{}/../specs/{spec}.spec", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let c = crate::compile(spec, &text, &sets).unwrap();
        crate::passes::optimize(c.graph).unwrap()
    }

    /// `SPECC_DUMP_STAGE=tail cargo test -p specc-compiler --release --lib dump_stage_vcode --
    /// --ignored --nocapture` prints the tail kernel (or `load`, `fft`, `dft`) of keras_mel
    /// (`SPEC` picks another spec).
    #[test]
    #[ignore]
    fn dump_stage_vcode() {
        let spec = std::env::var("SPEC").unwrap_or_else(|_| String::from("keras_mel"));
        compile(&graph(&spec, &[]), Precision::F32, IsaChoice::Native).unwrap();
    }

    #[test]
    fn program_compiles_every_preset() {
        for spec in ["keras_mel", "whisper", "keras_stft", "librosa_mel", "torchaudio_mel", "kaldi_fbank"] {
            for p in [Precision::F32, Precision::F64] {
                let g = graph(spec, &[]);
                let r = compile(&g, p, IsaChoice::Native);
                assert!(r.is_ok(), "{spec} {p:?}: {:?}", r.err());
            }
        }
    }
}
