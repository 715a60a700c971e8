//! The driver: runs a compiled [`Program`]'s kernel plan, phase by phase, as the
//! plan lists them ([`ProgramInfo::plan`]): the phase over blocks as (signal, block of frames)
//! tasks on a thread pool, then each later phase's stages on the buffers they name (a clip
//! kernel against the completed reduction, a dense product per frame from values the blocks
//! staged, a cross-frame stage per signal: mean subtraction, deltas), and the output written in
//! the spec's layout.
//!
//! Per block of `lanes` frames of one signal:
//! 1. interior blocks read straight from the caller's signal; blocks that touch the padding (or
//!    run past the last frame) read a small staged copy of just the samples they need, with the
//!    pad applied: the whole signal is never copied;
//! 2. `load`, then `fft`, or `dft` when the block's flag says a frame holds NaN or inf (in a
//!    wide program, `ProgramInfo::halves` = 2, a block is 8 frames: `load`, `dft` and `tail`
//!    run once per 4-frame half, `fft` once on the wide kernels; `dft` only for a half holding
//!    such a frame, whose lanes then keep its result, as in a 4-lane block);
//! 3. `tail` stores straight into the output; the last, partial block of a signal goes through
//!    a one-block tile so no kernel writes past the output.
//!
//! Results do not depend on the thread count: a frame's lane position is fixed (blocks start at
//! multiples of `lanes` in each signal), every lane computes the same instructions, the
//! reduction runs in one fixed order, and each value of a later stage is one fixed sum.

use std::cell::RefCell;

use ndarray::{ArrayViewD, Axis, IxDyn};
use specc_ir::graph::{
    symmetric_index, Clip, DeltaMode, Deltas, Graph, NanMax, Op, PadMode, PadStep, Precision, Scope,
};
use specc_ir::kernel::{Buf, CrossFrame, Dense, Over, Stage, StageKind};
use specc_ir::program::{BlockArgs, EnergyColumn, Program, ProgramInfo};

use crate::{Input, Output, Plan, RunError};

/// A float the engine computes in.
pub trait Float: bytemuck::Pod + Default + Send + Sync + PartialOrd + 'static {
    /// The program precision of this element type.
    const PRECISION: Precision;
    /// `v` rounded to this precision.
    fn from_f64(v: f64) -> Self;
    /// The value widened to f64.
    fn to_f64(self) -> f64;
    /// The program's clip kernel for this precision.
    fn clip(prog: &Program, data: &mut [Self], threshold: Self, shift: Self);
    /// The program's dense kernel for this precision; false when it has none.
    fn dense(prog: &Program, src: &[Self], dst: &mut [Self]) -> bool;
    /// The program's subtract_mean kernel over a strided column; false when it has none.
    fn subtract_mean(prog: &Program, data: &mut [Self], start: usize, stride: usize, frames: usize) -> bool;
}

impl Float for f32 {
    const PRECISION: Precision = Precision::F32;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn clip(prog: &Program, data: &mut [f32], threshold: f32, shift: f32) {
        prog.clip_f32(data, threshold, shift);
    }
    fn dense(prog: &Program, src: &[f32], dst: &mut [f32]) -> bool {
        prog.dense_f32(src, dst)
    }
    fn subtract_mean(prog: &Program, data: &mut [f32], start: usize, stride: usize, frames: usize) -> bool {
        prog.subtract_mean_f32(data, start, stride, frames)
    }
}

impl Float for f64 {
    const PRECISION: Precision = Precision::F64;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn clip(prog: &Program, data: &mut [f64], threshold: f64, shift: f64) {
        prog.clip_f64(data, threshold, shift);
    }
    fn dense(prog: &Program, src: &[f64], dst: &mut [f64]) -> bool {
        prog.dense_f64(src, dst)
    }
    fn subtract_mean(prog: &Program, data: &mut [f64], start: usize, stride: usize, frames: usize) -> bool {
        prog.subtract_mean_f64(data, start, stride, frames)
    }
}

/// The input as rows of samples in compute precision, with the lead axes' names and sizes:
/// borrowed when the caller's array already is (standard layout, samples last, same dtype), else
/// one cast copy.
#[allow(clippy::type_complexity)]
pub fn rows_of<'a, T: Float>(
    g: &Graph,
    input: &'a Input<'_>,
    info: &ProgramInfo,
) -> Result<(std::borrow::Cow<'a, [T]>, Vec<String>, Vec<usize>, usize), RunError> {
    let axes = crate::lead_sizes(g, input.shape())?;
    let samples = axes
        .iter()
        .position(|(a, _)| a == "samples")
        .ok_or_else(|| RunError::Engine(String::from("no samples axis")))?;
    let mut perm: Vec<usize> = (0..axes.len()).filter(|&i| i != samples).collect();
    perm.push(samples);
    let mut names: Vec<String> = perm.iter().map(|&i| axes[i].0.clone()).collect();
    let select = match &info.select {
        Some((axis, index)) => {
            let pos = names
                .iter()
                .position(|n| n == axis)
                .ok_or_else(|| RunError::Engine(format!("no axis {axis} to select")))?;
            names.remove(pos);
            Some((pos, *index))
        }
        None => None,
    };
    fn prepare<'v, E: Copy>(
        a: &ArrayViewD<'v, E>,
        perm: &[usize],
        select: Option<(usize, usize)>,
    ) -> ArrayViewD<'v, E> {
        let mut v = a.clone().permuted_axes(IxDyn(perm));
        if let Some((pos, index)) = select {
            v = v.index_axis_move(Axis(pos), index);
        }
        v
    }
    fn cast<E: Copy, T: Float>(v: ArrayViewD<'_, E>, f: impl Fn(E) -> f64) -> Vec<T> {
        v.iter().map(|&x| T::from_f64(f(x))).collect()
    }
    let (data, shape): (std::borrow::Cow<'a, [T]>, Vec<usize>) = match input {
        Input::F32(a) => {
            let v = prepare(a, &perm, select);
            let shape = v.shape().to_vec();
            if std::mem::size_of::<T>() == 4 {
                match v.to_slice() {
                    // SAFETY: T is f32 here (the only 4-byte Float), so the slice reinterprets
                    // f32 as f32.
                    Some(s) => (
                        std::borrow::Cow::Borrowed(unsafe {
                            std::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len())
                        }),
                        shape,
                    ),
                    None => (std::borrow::Cow::Owned(cast(v, |x: f32| x as f64)), shape),
                }
            } else {
                (std::borrow::Cow::Owned(cast(v, |x: f32| x as f64)), shape)
            }
        }
        // Keras casts float64 to float32 by rounding once: from_f64 does exactly that.
        Input::F64(a) => {
            let v = prepare(a, &perm, select);
            let shape = v.shape().to_vec();
            (std::borrow::Cow::Owned(cast(v, |x: f64| x)), shape)
        }
        Input::I16(a) => {
            let v = prepare(a, &perm, select);
            let shape = v.shape().to_vec();
            (std::borrow::Cow::Owned(cast(v, |x: i16| x as f64)), shape)
        }
    };
    let n = *shape.last().unwrap_or(&0);
    names.pop();
    let lead: Vec<usize> = shape[..shape.len() - 1].to_vec();
    Ok((data, names, lead, n))
}

/// Output strides (in elements) of the tail's axes, and whether reductions over trailing axes
/// are contiguous.
pub struct OutMap {
    /// Per lead axis of the (selected) input rows: stride.
    pub lead: Vec<usize>,
    /// Stride between frames.
    pub frames: usize,
    /// Stride between values (bands) of a frame.
    pub band: usize,
}

/// The output strides of a graph's layout for rows with these lead axes, `frames` frames and
/// `bands` values per frame.
pub fn out_map(
    g: &Graph,
    lead_names: &[String],
    lead_sizes: &[usize],
    frames: usize,
    bands: usize,
) -> Result<OutMap, String> {
    let out_node = &g.nodes[g.output];
    let Op::Layout(axes) = &out_node.op else { return Err(String::from("the output is not a layout")) };
    let band_name = g.nodes[out_node.inputs[0]].ty.last().name.clone();
    // Expand `...` into one output dim per ellipsis lead axis.
    let mut dims: Vec<Vec<(String, usize)>> = Vec::new();
    let size_of = |name: &str, nth_ellipsis: usize| -> Option<usize> {
        if name == "frames" {
            Some(frames)
        } else if name == band_name {
            Some(bands)
        } else if name == "..." {
            lead_names.iter().zip(lead_sizes).filter(|(n, _)| *n == "...").nth(nth_ellipsis).map(|(_, s)| *s)
        } else {
            lead_names.iter().zip(lead_sizes).find(|(n, _)| *n == name).map(|(_, s)| *s)
        }
    };
    let n_ell = lead_names.iter().filter(|n| *n == "...").count();
    for a in axes {
        if a.parts == ["..."] {
            for i in 0..n_ell {
                dims.push(vec![(format!("...{i}"), size_of("...", i).unwrap_or(1))]);
            }
        } else {
            let mut d = Vec::new();
            for p in &a.parts {
                let s = size_of(p, 0).ok_or_else(|| format!("layout names unknown axis {p}"))?;
                d.push((p.clone(), s));
            }
            dims.push(d);
        }
    }
    let mut stride = 1usize;
    let mut strides: Vec<(String, usize)> = Vec::new();
    for d in dims.iter().rev() {
        for (name, size) in d.iter().rev() {
            strides.push((name.clone(), stride));
            stride *= size;
        }
    }
    let find = |name: &str| strides.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
    let mut lead = Vec::new();
    let mut ell = 0;
    for name in lead_names {
        if name == "..." {
            lead.push(find(&format!("...{ell}")).unwrap_or(0));
            ell += 1;
        } else {
            lead.push(find(name).ok_or_else(|| format!("the layout drops axis {name}"))?);
        }
    }
    Ok(OutMap {
        lead,
        frames: find("frames").ok_or("the layout drops frames")?,
        band: find(&band_name).ok_or("the layout drops the band axis")?,
    })
}

/// numpy `reflect` padding's source index for position `j` of an `n`-sample signal.
pub fn reflect_index(j: i64, n: i64) -> i64 {
    if n == 1 {
        return 0;
    }
    let p = 2 * (n - 1);
    let m = j.rem_euclid(p);
    if m < n {
        m
    } else {
        p - m
    }
}

/// The value at position `p` of the signal after `k` pad steps (`lens[i]` = length after `i`
/// steps, `lefts[i]` = the left amount of step `i`); positions outside the padded signal read 0
/// (only lanes past the last frame do).
fn padded<T: Float>(row: &[T], pads: &[PadStep], lens: &[usize], lefts: &[i64], k: usize, p: i64) -> T {
    if p < 0 || p >= lens[k] as i64 {
        return T::default();
    }
    if k == 0 {
        return row[p as usize];
    }
    let n = lens[k - 1] as i64;
    let j = p - lefts[k - 1];
    if (0..n).contains(&j) {
        return padded(row, pads, lens, lefts, k - 1, j);
    }
    let at = |j: i64| padded(row, pads, lens, lefts, k - 1, j);
    match pads[k - 1].mode {
        PadMode::Constant(c) => T::from_f64(c),
        PadMode::Reflect | PadMode::ReflectStrict => at(reflect_index(j, n)),
        PadMode::Edge => at(if j < 0 { 0 } else { n - 1 }),
        PadMode::Symmetric => at(symmetric_index(j, n) as i64),
    }
}

/// Raw output pointer shared by tasks that write disjoint elements.
#[derive(Clone, Copy)]
struct OutPtr(*mut u8);
// SAFETY: tasks write disjoint elements (distinct (signal, frame) pairs), and the buffer
// outlives the parallel section that uses the pointer.
unsafe impl Send for OutPtr {}
// SAFETY: as for Send.
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The address (a method, so closures capture the `Send` wrapper, not the raw field).
    fn get(self) -> *mut u8 {
        self.0
    }
}

/// A worker's buffers, kept between calls so a run allocates nothing in steady state: kernel
/// scratch, the staged samples of edge blocks, the tile of a last partial block, and the
/// spectra of blocks holding non-finite frames. `u128` words keep them 16-byte aligned.
#[derive(Default)]
struct Buffers {
    scratch: Vec<u128>,
    stage: Vec<u128>,
    tile: Vec<u128>,
    spare: Vec<u128>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// The first `len` elements of `words` as `T`, growing it when needed.
fn typed<T: Float>(words: &mut Vec<u128>, len: usize) -> &mut [T] {
    let need = (len * std::mem::size_of::<T>()).div_ceil(16);
    if words.len() < need {
        words.resize(need, 0);
    }
    &mut bytemuck::cast_slice_mut::<u128, T>(&mut words[..need])[..len]
}

/// Frames per task: a few blocks, so tasks balance over threads but each amortizes its setup.
const TASK_FRAMES: usize = 64;

/// Runs the plan's phase over blocks of frames on `rows` (each `n` samples) into `out` (the
/// planned output, row-major); returns each row's running maximum (the reduce stage's).
/// `pads` are the pad steps applied to each row before framing: the program's own for a
/// whole signal, none for the stream (`crate::stream`), whose rows are already padded frames.
#[allow(clippy::too_many_arguments)]
pub fn run_rows<T: Float>(
    prog: &Program,
    rows: &[T],
    n: usize,
    pads: &[PadStep],
    lead_sizes: &[usize],
    frames: usize,
    map: &OutMap,
    out: &mut [T],
    threads: usize,
) -> Result<Vec<ScopeMax>, RunError> {
    let info = prog.info();
    let lanes = info.lanes;
    // A wide program's block is two halves for the load, dft and tail kernels.
    let halves = info.halves;
    let half_lanes = lanes / halves;
    let esz = std::mem::size_of::<T>();
    let nrows = rows.len().checked_div(n).unwrap_or(0);
    let bands = info.out_bands();
    // The tail writes its bands after the energy column when that comes first.
    let tail_shift = usize::from(info.energy.is_some_and(|e| !e.last));
    let energy_band = info.energy.map(|e| if e.last { info.bands } else { 0 });
    // Pad lengths.
    let mut lens = vec![n];
    // Position 0 of the padded signal is sample -pad_left of the original (for the interior
    // test): the sum of left pads (a negative one trims).
    let mut pad_left: i64 = 0;
    let mut lefts = Vec::with_capacity(pads.len());
    for p in pads {
        let last = *lens.last().expect("non-empty");
        let (l, r) = p.amount.amounts(last);
        pad_left += l;
        lefts.push(l);
        lens.push((last as i64 + l + r).max(0) as usize);
    }
    // Positions of the padded signal that read row sample `p - pad_left` unchanged through
    // every pad step: `[direct.0, direct.1)` (staged edge blocks copy them in one piece).
    let direct = {
        let (mut s, mut lo, mut hi) = (0i64, 0i64, *lens.last().expect("non-empty") as i64);
        for k in (1..lens.len()).rev() {
            s += lefts[k - 1];
            lo = lo.max(s);
            hi = hi.min(s + lens[k - 1] as i64);
        }
        (lo, hi.max(lo))
    };
    let row_base = row_bases(lead_sizes, map);
    let blocks_per_row = frames.div_ceil(lanes);
    let blocks_per_task = (TASK_FRAMES / lanes).max(1);
    let tasks_per_row = blocks_per_row.div_ceil(blocks_per_task);
    let total_tasks = nrows * tasks_per_row;
    let out_ptr = OutPtr(out.as_mut_ptr().cast());
    let out_len = out.len();
    let hop = info.hop;
    let length = info.length;
    let span = (lanes - 1) * hop + length;
    // Every index the tail can write for a full block must lie inside `out`.
    let max_index =
        |base: usize, t0: usize| base + t0 * map.frames + (lanes - 1) * map.frames + (bands - 1) * map.band;
    let task = |ti: usize| {
        let r = ti / tasks_per_row;
        let b0 = (ti % tasks_per_row) * blocks_per_task;
        let b1 = (b0 + blocks_per_task).min(blocks_per_row);
        let row = &rows[r * n..(r + 1) * n];
        BUFFERS.with(|b| {
            let mut b = b.borrow_mut();
            let Buffers { scratch: s, stage: stage_words, tile: tile_words, spare: spare_words } = &mut *b;
            // One word more than the program needs, so the scratch can start 32-byte aligned
            // (the wide FFT kernels' 256-bit loads and stores then never split a cache line).
            let words = info.scratch_bytes.div_ceil(16) + 1;
            if s.len() < words {
                s.resize(words, 0);
            }
            let base = s.as_mut_ptr().cast::<u8>();
            // `base` is 16-byte aligned (u128 words), so the offset is 0 or 16, inside the
            // extra word: `scratch_bytes` bytes from `scratch` stay inside the buffer.
            let scratch = base.wrapping_add(base.align_offset(32));
            // The clip's running maximum (see `ProgramInfo::max_offset`): reset per task.
            let mut task_max = ScopeMax::EMPTY;
            if let Some(o) = info.max_offset {
                // SAFETY: the two vectors at `o` lie inside this thread's scratch of
                // `scratch_bytes` bytes (the program placed them there), 16-byte aligned.
                let acc = unsafe { std::slice::from_raw_parts_mut(scratch.add(o).cast::<T>(), 2 * lanes) };
                acc[..lanes].fill(T::from_f64(f64::NEG_INFINITY));
                acc[lanes..].fill(T::default());
            }
            for blk in b0..b1 {
                let t0 = blk * lanes;
                let start = (t0 * hop) as i64 - pad_left;
                let interior = start >= 0 && start as usize + span <= n && t0 + lanes <= frames;
                let src: *const u8 = if interior {
                    row[start as usize..start as usize + span].as_ptr().cast()
                } else {
                    let stage = typed::<T>(stage_words, span);
                    let p0 = (t0 * hop) as i64;
                    let a = (direct.0 - p0).clamp(0, span as i64) as usize;
                    let b = ((direct.1 - p0).clamp(0, span as i64) as usize).max(a);
                    // Positions outside the padded signal are zeros (the lanes past the last
                    // frame of a short or streamed row read mostly those): filled, not walked.
                    let last = *lens.last().expect("non-empty") as i64;
                    let lo = (-p0).clamp(0, a as i64) as usize;
                    let hi = ((last - p0).clamp(b as i64, span as i64)) as usize;
                    stage[..lo].fill(T::default());
                    stage[hi..span].fill(T::default());
                    for i in (lo..a).chain(b..hi) {
                        stage[i] = padded(row, pads, &lens, &lefts, lens.len() - 1, p0 + i as i64);
                    }
                    if a < b {
                        let from = (p0 + a as i64 - pad_left) as usize;
                        stage[a..b].copy_from_slice(&row[from..from + (b - a)]);
                    }
                    stage.as_ptr().cast()
                };
                let full = t0 + lanes <= frames;
                let (dst, band_stride, time_stride) = if full {
                    assert!(max_index(row_base[r], t0) < out_len, "output block in bounds");
                    // SAFETY: the block's highest index is inside `out` (asserted above).
                    let p = unsafe { out_ptr.get().add((row_base[r] + t0 * map.frames) * esz) };
                    (p, map.band * esz, map.frames * esz)
                } else {
                    let tile = typed::<T>(tile_words, lanes * bands);
                    tile.fill(T::default());
                    if info.time_contiguous {
                        (tile.as_mut_ptr().cast::<u8>(), lanes * esz, esz)
                    } else {
                        (tile.as_mut_ptr().cast::<u8>(), esz, bands * esz)
                    }
                };
                // Band `tail_shift` (0 or 1) of the block lies inside `out` or the tile (the block
                // holds `bands` = the tail's bands + the energy column).
                let tail_dst = dst.wrapping_add(tail_shift * band_stride);
                // The arguments of the kernels' call for half `h` of the block (the whole
                // block when `halves` is 1): its frames, its lanes of scratch, its outputs.
                let half = |h: usize| BlockArgs {
                    src: src.wrapping_add(h * half_lanes * hop * esz),
                    scratch: scratch.wrapping_add(16 * h),
                    out: tail_dst.wrapping_add(h * half_lanes * time_stride),
                    out_band: band_stride as isize,
                    out_time: time_stride as isize,
                };
                let args = half(0);
                // A partial block runs the load, dft and tail only on the halves holding a
                // frame: the other half's lanes are not output (the wide FFT still transforms
                // them, from whatever its scratch held: lanes never mix).
                let used = if full { halves } else { (frames - t0).div_ceil(half_lanes) };
                // SAFETY: `src` covers `span = (lanes-1)·hop + length` elements (a slice of the
                // row or the staged copy); scratch holds `scratch_bytes`, 32-byte aligned, and
                // is this thread's; `dst` with the strides addresses `bands × lanes` elements
                // inside `out` (full blocks: frames t0..t0+lanes of this signal, which no other
                // task writes) or inside `tile`. The energy sums are `lanes` values the load
                // stage wrote inside this scratch (at `EnergyColumn::offset`). In a wide program
                // half `h` reads samples from `h·half_lanes·hop` on (inside the span), writes
                // frames `h·half_lanes ..` of the block (inside the same outputs) and its lanes
                // of scratch from byte `16·h` (the program laid scratch out for that).
                let mut energy = [0.0f64; 8];
                unsafe {
                    for h in 0..used {
                        prog.load(&half(h));
                    }
                    if let Some(e) = &info.energy {
                        let sums = std::slice::from_raw_parts(scratch.add(e.offset).cast::<T>(), lanes);
                        for (v, s) in energy.iter_mut().zip(sums) {
                            *v = log_energy(s.to_f64(), e);
                        }
                    }
                    let flag = std::slice::from_raw_parts(scratch.add(info.flag_offset).cast::<T>(), lanes);
                    let mut finite = [true; 8];
                    for (f, v) in finite.iter_mut().zip(flag).take(used * half_lanes) {
                        *f = v.to_f64().is_finite();
                    }
                    if finite.iter().all(|&f| f) {
                        prog.fft(&args);
                    } else {
                        // Frames with NaN or inf take the sum-of-products DFT; the block's other
                        // frames keep the FFT's result, as they would in any other block.
                        for h in 0..used {
                            if finite[h * half_lanes..(h + 1) * half_lanes].iter().any(|f| !f) {
                                prog.dft(&half(h));
                            }
                        }
                        let (re, im) = info.spectrum_offsets;
                        let words = info.bins * lanes;
                        let spare = typed::<T>(spare_words, 2 * words);
                        spare[..words]
                            .copy_from_slice(std::slice::from_raw_parts(scratch.add(re).cast::<T>(), words));
                        spare[words..]
                            .copy_from_slice(std::slice::from_raw_parts(scratch.add(im).cast::<T>(), words));
                        prog.fft(&args);
                        let yr = std::slice::from_raw_parts_mut(scratch.add(re).cast::<T>(), words);
                        let yi = std::slice::from_raw_parts_mut(scratch.add(im).cast::<T>(), words);
                        for (lane, _) in finite.iter().enumerate().filter(|(_, f)| !**f) {
                            for k in 0..info.bins {
                                yr[k * lanes + lane] = spare[k * lanes + lane];
                                yi[k * lanes + lane] = spare[words + k * lanes + lane];
                            }
                        }
                    }
                    if full {
                        for h in 0..halves {
                            prog.tail(&half(h));
                        }
                    } else {
                        // The tile's lanes past the last frame are not output: keep them out of
                        // the running maximum (the valid ones are folded in below).
                        let saved = info.max_offset.map(|o| {
                            let mut keep = [T::default(); 16];
                            keep[..2 * lanes].copy_from_slice(std::slice::from_raw_parts(
                                scratch.add(o).cast::<T>(),
                                2 * lanes,
                            ));
                            keep
                        });
                        for h in 0..used {
                            prog.tail(&half(h));
                        }
                        if let (Some(o), Some(keep)) = (info.max_offset, saved) {
                            std::slice::from_raw_parts_mut(scratch.add(o).cast::<T>(), 2 * lanes)
                                .copy_from_slice(&keep[..2 * lanes]);
                        }
                    }
                }
                if let Some(eb) = energy_band {
                    for (lane, &v) in energy.iter().enumerate().take(lanes) {
                        if full {
                            let idx = row_base[r] + (t0 + lane) * map.frames + eb * map.band;
                            assert!(idx < out_len, "output index in bounds");
                            // SAFETY: idx < out_len; only this task writes frame t0+lane of row r.
                            unsafe { *out_ptr.get().cast::<T>().add(idx) = T::from_f64(v) };
                        } else {
                            let tile = typed::<T>(tile_words, lanes * bands);
                            let at = if info.time_contiguous { eb * lanes + lane } else { lane * bands + eb };
                            tile[at] = T::from_f64(v);
                        }
                    }
                }
                if !full {
                    let tile = typed::<T>(tile_words, lanes * bands);
                    for lane in 0..frames - t0 {
                        for b in 0..bands {
                            let v = if info.time_contiguous {
                                tile[b * lanes + lane]
                            } else {
                                tile[lane * bands + b]
                            };
                            let idx = row_base[r] + (t0 + lane) * map.frames + b * map.band;
                            task_max.add(v.to_f64());
                            assert!(idx < out_len, "output index in bounds");
                            // SAFETY: idx < out_len; only this task writes frame t0+lane of row r.
                            unsafe { *out_ptr.get().cast::<T>().add(idx) = v };
                        }
                    }
                }
            }
            if let Some(o) = info.max_offset {
                // SAFETY: as at the reset above; the tail stages have returned.
                let acc = unsafe { std::slice::from_raw_parts(scratch.add(o).cast::<T>(), 2 * lanes) };
                for &m in &acc[..lanes] {
                    task_max.add(m.to_f64());
                }
                // A lane's NaN mask is all ones (a NaN pattern) or zero.
                task_max.nan |= acc[lanes..].iter().any(|n| n.to_f64() != 0.0);
            }
            task_max
        })
    };
    let maxima: Vec<ScopeMax> = if threads == 1 || total_tasks <= 1 {
        (0..total_tasks).map(task).collect()
    } else {
        // Runs inside the pool `run_into` installed.
        use rayon::prelude::*;
        (0..total_tasks).into_par_iter().map(task).collect()
    };
    // Per row; neither the split into tasks nor their order changes the result. A row's
    // maximum covers its frames' bands (the tasks' maxima include no count).
    Ok((0..nrows)
        .map(|r| ScopeMax {
            values: frames * bands,
            ..ScopeMax::of(&maxima[r * tasks_per_row..(r + 1) * tasks_per_row])
        })
        .collect())
}

/// A clip scope's running maximum: the largest non-NaN value seen (`-inf` if none) and
/// whether a NaN was seen.
#[derive(Clone, Copy, Debug)]
pub struct ScopeMax {
    max: f64,
    nan: bool,
    /// How many values the maximum covers (NaN included): [`NanMax::Skip`] depends on it.
    values: usize,
}

impl ScopeMax {
    /// Nothing seen yet.
    pub const EMPTY: ScopeMax = ScopeMax { max: f64::NEG_INFINITY, nan: false, values: 0 };

    fn add(&mut self, v: f64) {
        if v.is_nan() {
            self.nan = true;
        } else if v > self.max {
            self.max = v;
        }
    }

    /// The maximum of several parts (maxima combine exactly, in any order).
    pub fn of(parts: &[ScopeMax]) -> ScopeMax {
        parts.iter().fold(ScopeMax::EMPTY, |a, b| ScopeMax {
            max: a.max.max(b.max),
            nan: a.nan || b.nan,
            values: a.values + b.values,
        })
    }

    /// The maximum under the clip's NaN rule.
    pub fn value(self, rule: NanMax) -> f64 {
        if self.nan && rule.propagates(self.values) {
            f64::NAN
        } else {
            self.max
        }
    }
}

/// The clip stage: the reduce stage's maximum per scope, then the clip kernel over each
/// scope's elements.
#[allow(clippy::too_many_arguments)]
pub fn run_clip<T: Float>(
    prog: &Program,
    clip: &Clip,
    out: &mut [T],
    lead_sizes: &[usize],
    map: &OutMap,
    row_max: &[ScopeMax],
    threads: usize,
) -> Result<(), RunError> {
    let nlead = lead_sizes.len();
    // The epilogue's tensor is [lead..., frames, band]: a scope over its trailing k axes is
    // indexed by the first `nlead + 2 - k` lead axes.
    let keep = match clip.scope {
        Scope::Tensor => 0,
        Scope::Trailing(k) => (nlead + 2).saturating_sub(k),
    };
    if keep > nlead {
        return Err(RunError::Engine(String::from("JIT: a clip scope inside a frame is not supported")));
    }
    let slices: usize = lead_sizes[..keep].iter().product();
    let len = out.len() / slices.max(1);
    // Slices must be contiguous: the kept lead axes are the outermost output axes, in order.
    let mut expect = len;
    for i in (0..keep).rev() {
        if map.lead[i] != expect {
            return Err(RunError::Engine(String::from(
                "JIT: clip scope not contiguous in the output layout",
            )));
        }
        expect *= lead_sizes[i];
    }
    // The tail kept each row's maximum; a scope's rows are consecutive.
    let rows_per_slice = row_max.len() / slices.max(1);
    for s in 0..slices {
        let chunk = &mut out[s * len..(s + 1) * len];
        let m = ScopeMax::of(&row_max[s * rows_per_slice..(s + 1) * rows_per_slice]).value(clip.nan);
        let (threshold, shift) = (T::from_f64(clip.floor(m)), T::from_f64(clip.shift(m)));
        if threads == 1 || chunk.len() <= CLIP_PIECE {
            T::clip(prog, chunk, threshold, shift);
        } else {
            // On the pool `run_into` installed.
            use rayon::prelude::*;
            chunk.par_chunks_mut(CLIP_PIECE).for_each(|c| T::clip(prog, c, threshold, shift));
        }
    }
    Ok(())
}

/// Elements per parallel piece of the clip stage: big enough that a piece outweighs the
/// pool's scheduling, small enough to split a spectrogram batch between cores.
const CLIP_PIECE: usize = 1 << 16;

/// What `run` needs from the caller's output buffer: a row-major slice of the planned shape.
fn run_typed<T: Float>(
    g: &Graph,
    prog: &Program,
    input: &Input<'_>,
    plan: &Plan,
    threads: usize,
    out: &mut [T],
) -> Result<(), RunError> {
    let info = prog.info();
    let (rows, lead_names, lead_sizes, n) = rows_of::<T>(g, input, info)?;
    let map = out_map(g, &lead_names, &lead_sizes, plan.frames, info.plan.output_values())
        .map_err(RunError::Engine)?;
    let expected: usize = plan.output_shape.iter().product();
    if out.len() != expected {
        return Err(RunError::Engine(format!(
            "output buffer holds {} values, the plan {expected}",
            out.len()
        )));
    }
    // The block phase stores into the output, or into staged values (see `Buf::Staged`) that a
    // later stage reads back: `[rows, frames, values]` row-major.
    let stored = info.plan.store().map_or(Buf::Output, |s| s.writes);
    let mut staged: Vec<T> = Vec::new();
    let staged_map = if stored == Buf::Staged {
        let per_row = plan.frames * info.out_bands();
        let nrows: usize = lead_sizes.iter().product();
        staged = vec![T::default(); nrows * per_row];
        let mut lead = vec![0; lead_sizes.len()];
        let mut stride = per_row;
        for (l, s) in lead.iter_mut().zip(&lead_sizes).rev() {
            *l = stride;
            stride *= s;
        }
        Some(OutMap { lead, frames: info.out_bands(), band: 1 })
    } else {
        None
    };
    let ctx = Ctx { lead_sizes: &lead_sizes, frames: plan.frames, threads };
    // The phases in the plan's order, each stage on the buffers it names; the verifier admits
    // exactly one phase over blocks, first. `values`: the output's values per frame written
    // so far.
    let mut row_max: Vec<ScopeMax> = Vec::new();
    let mut values = 0;
    for ph in &info.plan.phases {
        match ph.over {
            Over::Blocks => {
                let (dst, m) = match &staged_map {
                    Some(m) => (&mut staged[..], m),
                    None => (&mut out[..], &map),
                };
                row_max = run_rows(prog, &rows, n, &info.pads, &lead_sizes, plan.frames, m, dst, threads)?;
                values = info.out_bands();
            }
            Over::Output | Over::Frames | Over::Signals => {
                for st in &ph.stages {
                    let bufs = Bufs {
                        out: &mut *out,
                        map: &map,
                        staged: &mut staged,
                        staged_map: staged_map.as_ref(),
                    };
                    values = run_stage(prog, st, bufs, &ctx, values, &row_max)?;
                }
            }
        }
    }
    Ok(())
}

/// The buffers a stage after the blocks may read or write, with their index maps.
struct Bufs<'a, T> {
    out: &'a mut [T],
    map: &'a OutMap,
    staged: &'a mut [T],
    staged_map: Option<&'a OutMap>,
}

impl<'a, T> Bufs<'a, T> {
    /// The buffer `b` names, and its map.
    fn get(self, b: Buf) -> Result<(&'a mut [T], &'a OutMap), RunError> {
        match (b, self.staged_map) {
            (Buf::Output, _) => Ok((self.out, self.map)),
            (Buf::Staged, Some(m)) => Ok((self.staged, m)),
            _ => Err(RunError::Engine(format!("internal error: no `{b:?}` buffer after the blocks"))),
        }
    }
}

/// What every stage after the blocks shares: the rows' lead sizes, frames per row, threads.
struct Ctx<'a> {
    lead_sizes: &'a [usize],
    frames: usize,
    threads: usize,
}

/// Runs one stage of a phase after the blocks on the buffers it names; `values` is the output's
/// values per frame before it, the result the values after it.
fn run_stage<T: Float>(
    prog: &Program,
    st: &Stage,
    bufs: Bufs<'_, T>,
    ctx: &Ctx<'_>,
    values: usize,
    row_max: &[ScopeMax],
) -> Result<usize, RunError> {
    match &st.kind {
        StageKind::Clip(c) => {
            let (data, map) = bufs.get(st.reads)?;
            run_clip(prog, &c.clip, data, ctx.lead_sizes, map, row_max, ctx.threads)?;
            Ok(values)
        }
        StageKind::Dense(d) => {
            if st.reads != Buf::Staged || st.writes != Buf::Output {
                return Err(RunError::Engine(String::from(
                    "internal error: a dense stage not staged -> output",
                )));
            }
            let (out, map) = (bufs.out, bufs.map);
            let staged = &*bufs.staged;
            dense(prog, d, staged, out, map, ctx)?;
            Ok(d.rows)
        }
        StageKind::CrossFrame(c) => {
            let (data, map) = bufs.get(st.writes)?;
            let bases = row_bases(ctx.lead_sizes, map);
            match c {
                CrossFrame::SubtractMean => {
                    subtract_mean(prog, data, &bases, map, ctx.frames, values)?;
                    Ok(values)
                }
                CrossFrame::Deltas(d) => deltas(prog, d, data, &bases, map, ctx.frames, values),
            }
        }
        other => Err(RunError::Engine(format!(
            "internal error: the runtime has no runner for a `{}` stage after the blocks",
            other.name()
        ))),
    }
}

/// Frames per parallel piece of the dense stage.
const DENSE_FRAMES: usize = 256;

/// The dense stage: the program's dense kernel over the staged values (row-major `[rows,
/// frames, cols]`), in pieces of frames over the pool, then the coefficients into the output's
/// first `rows` columns. The kernel sums each product in f64 in column order and rounds once,
/// so the split into pieces changes no value.
fn dense<T: Float>(
    prog: &Program,
    d: &Dense,
    staged: &[T],
    out: &mut [T],
    map: &OutMap,
    ctx: &Ctx<'_>,
) -> Result<(), RunError> {
    let (rows, cols, frames, threads) = (d.rows, d.cols, ctx.frames, ctx.threads);
    let bases = row_bases(ctx.lead_sizes, map);
    let mut coeffs = vec![T::default(); bases.len() * frames * rows];
    let Some(staged) = staged.get(..bases.len() * frames * cols) else {
        return Err(RunError::Engine(String::from(
            "internal error: fewer staged values than the dense stage reads",
        )));
    };
    let ran = if threads == 1 || coeffs.len() <= DENSE_FRAMES * rows {
        T::dense(prog, staged, &mut coeffs)
    } else {
        use rayon::prelude::*;
        coeffs
            .par_chunks_mut(DENSE_FRAMES * rows)
            .zip(staged.par_chunks(DENSE_FRAMES * cols))
            .map(|(y, x)| T::dense(prog, x, y))
            .reduce(|| true, |a, b| a && b)
    };
    if !ran {
        return Err(RunError::Engine(String::from("internal error: a dense stage without its kernel")));
    }
    for (r, &base) in bases.iter().enumerate() {
        for t in 0..frames {
            let y = &coeffs[(r * frames + t) * rows..][..rows];
            for (i, &v) in y.iter().enumerate() {
                out[base + t * map.frames + i * map.band] = v;
            }
        }
    }
    Ok(())
}

/// The `deltas` stage over each signal's first `values` columns, across its frames: the
/// program's kernel gives the derivatives of orders `1..=order` of each column in f64, rounded
/// once when stored (with `append`, order `o` into columns `o·values ..`; else the last order in
/// place). Returns the values per frame after it.
pub fn deltas<T: Float>(
    prog: &Program,
    d: &Deltas,
    out: &mut [T],
    bases: &[usize],
    map: &OutMap,
    frames: usize,
    values: usize,
) -> Result<usize, RunError> {
    if d.mode == DeltaMode::Interp && frames < d.width {
        // `plan` rejects such inputs before any phase runs.
        return Err(RunError::Engine(format!(
            "internal error: deltas of width {} over {frames} frames reached the runner",
            d.width
        )));
    }
    let c = CrossFrame::Deltas(*d);
    let mut col = vec![0.0f64; frames];
    let mut ys = vec![0.0f64; frames * d.order];
    for &base in bases {
        for v in 0..values {
            let at = |f: usize, c: usize| base + f * map.frames + c * map.band;
            for (f, x) in col.iter_mut().enumerate() {
                *x = out[at(f, v)].to_f64();
            }
            if !prog.deltas(&c, &col, &mut ys) {
                return Err(RunError::Engine(String::from(
                    "internal error: a deltas stage without its kernel",
                )));
            }
            for (o, y) in ys.chunks_exact(frames.max(1)).enumerate().take(d.order) {
                // Order o + 1 into its columns, or the last order in place.
                let dst = if d.append {
                    (o + 1) * values + v
                } else if o + 1 == d.order {
                    v
                } else {
                    continue;
                };
                for (f, &y) in y.iter().enumerate() {
                    out[at(f, dst)] = T::from_f64(y);
                }
            }
        }
    }
    Ok(if d.append { values * (d.order + 1) } else { values })
}

/// Each signal's output columns minus their means over frames (Kaldi's `subtract_mean`), by
/// the program's kernel in place (the mean summed in f64; a NaN or inf in a column makes the
/// whole column NaN, as in torch).
fn subtract_mean<T: Float>(
    prog: &Program,
    out: &mut [T],
    bases: &[usize],
    map: &OutMap,
    frames: usize,
    bands: usize,
) -> Result<(), RunError> {
    for &base in bases {
        for b in 0..bands {
            if !T::subtract_mean(prog, out, base + b * map.band, map.frames, frames) {
                return Err(RunError::Engine(String::from(
                    "internal error: a subtract_mean stage without its kernel",
                )));
            }
        }
    }
    Ok(())
}

/// Kaldi's log energy of a frame from its sum of squares (see `EnergyColumn`), NaN propagating.
fn log_energy(sum: f64, e: &EnergyColumn) -> f64 {
    let nan_max = |a: f64, b: f64| if a.is_nan() { a } else { a.max(b) };
    let v = nan_max(sum, e.min).ln();
    e.floor.map_or(v, |f| nan_max(v, f.ln()))
}

/// Output index of frame 0, band 0 of each row of the (selected) input, rows in row-major
/// order of the lead axes.
pub fn row_bases(lead_sizes: &[usize], map: &OutMap) -> Vec<usize> {
    let nrows: usize = lead_sizes.iter().product();
    (0..nrows)
        .map(|r| {
            let mut rem = r;
            let mut base = 0;
            for (i, &s) in lead_sizes.iter().enumerate().rev() {
                base += (rem % s) * map.lead[i];
                rem /= s;
            }
            base
        })
        .collect()
}

/// Runs `prog` (compiled from `g`) on `input` into `out`, which must have the planned shape and
/// precision. `threads`: 0 = one per core.
pub fn run_into(
    g: &Graph,
    prog: &Program,
    input: &Input<'_>,
    plan: &Plan,
    threads: usize,
    out: &mut Output,
) -> Result<(), RunError> {
    let layout = || RunError::Engine(String::from("output not in standard layout"));
    match out {
        Output::F32(a) => run_slice(g, prog, input, plan, threads, a.as_slice_mut().ok_or_else(layout)?),
        Output::F64(a) => run_slice(g, prog, input, plan, threads, a.as_slice_mut().ok_or_else(layout)?),
    }
}

/// [`run_into`] a row-major slice of the planned output's length, whose element type is the
/// program's precision.
pub fn run_slice<T: Float>(
    g: &Graph,
    prog: &Program,
    input: &Input<'_>,
    plan: &Plan,
    threads: usize,
    out: &mut [T],
) -> Result<(), RunError> {
    if T::PRECISION != prog.info().precision {
        return Err(RunError::Engine(String::from("output precision differs from the program's")));
    }
    let threads = crate::pool::threads(threads);
    if threads == 1 {
        run_typed(g, prog, input, plan, threads, out)
    } else {
        crate::pool::pool(threads)
            .map_err(RunError::Engine)?
            .install(|| run_typed(g, prog, input, plan, threads, out))
    }
}
