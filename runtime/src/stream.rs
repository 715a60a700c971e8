//! Streaming: audio pushed in chunks of any size, each frame computed as soon as the samples it
//! reads have arrived, equal bit for bit to the offline run of the whole signal on the JIT.
//!
//! The offline run frames a padded signal: frame `t` reads positions `[t·hop, t·hop + length)`
//! of the signal after the framed load's pad steps. The stream keeps the samples that frames
//! not yet emitted can still read, assembles the padded positions of the frames that became
//! ready (the left pad as soon as enough samples arrived to mirror, the right pad in
//! [`Stream::finish`] once the length is known), and runs the same compiled block kernels on
//! them ([`crate::jit::run_rows`] with no pad steps of its own). A frame's value depends only on
//! the samples it reads and its lane's instructions, so the same samples give the same bits.
//!
//! What needs the whole signal (a clip against the maximum over the tensor, a mean over all
//! frames, a left pad whose amount depends on the length) cannot be streamed exactly; such
//! graphs are refused when the stream is made, never approximated.

use std::sync::Arc;

use ndarray::{concatenate, ArrayD, Axis, IxDyn, Slice};
use specc_compiler::codegen::program::Program;
use specc_compiler::graph::symmetric_index;
use specc_compiler::graph::{
    Clip, DTypeRule, DeltaMode, Deltas, Graph, Op, PadAmount, PadMode, PadStep, Precision, Size,
};
use specc_compiler::kernel::{CrossFrame, Over, StageKind};

use crate::jit::{
    deltas, out_map, reflect_index, row_bases, rows_of, run_clip, run_rows, Float, Programs, ScopeMax,
};
use crate::{Input, Limits, Output, RunError};

/// A streaming run of one graph: [`Stream::push`] chunks, [`Stream::finish`] at the end.
///
/// The concatenation along the time axis ([`Stream::time_axis`]) of every `push` result and
/// the `finish` result equals the offline run of the whole signal on the JIT, bit for bit, for
/// any chunking. Memory stays bounded whatever the stream's length: the samples of about one
/// frame window and the right pad's reach, plus the chunk being pushed.
pub struct Stream {
    g: Graph,
    programs: Arc<Programs>,
    geo: Geometry,
    state: Option<State>,
    /// How a clip against a maximum is streamed, if the graph has one.
    mode: ClipMode,
    /// The clip after the blocks, in the deferred and running modes.
    clip: Option<Clip>,
    /// A `deltas` stage after the blocks: frames come out once the frames after them that
    /// their derivatives read have been computed.
    deltas: Option<Deltas>,
    /// In deferred clip mode, after `finish`: what [`Stream::apply_clip`] needs.
    ended: Option<Ended>,
    /// The time axis of the last signal's output, kept after `finish` for concatenating.
    time_axis: Option<usize>,
    /// Frames are emitted in multiples of this many (1: each as soon as it is ready).
    group: usize,
}

/// How a stream treats a clip against a maximum over the signal (`db` with `top_db` or
/// `ref=max`), which the offline run applies once the whole output is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClipMode {
    /// No clip after the blocks is accepted: every frame equals the offline run's.
    Exact,
    /// Frames come out before the clip; after `finish`, [`Stream::apply_clip`] clips all of
    /// them against the signal's maximum: the offline result, bit for bit.
    Deferred,
    /// Each push's frames are clipped against the maximum of every frame emitted so far
    /// (theirs included), with the same kernel. Differs from the offline run wherever a later
    /// frame raises the maximum: an earlier frame's floor was lower.
    Running,
}

impl std::str::FromStr for ClipMode {
    type Err = String;
    /// `exact`, `deferred` or `running`, as the CLI and Python spell the modes.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "exact" => Ok(ClipMode::Exact),
            "deferred" => Ok(ClipMode::Deferred),
            "running" => Ok(ClipMode::Running),
            other => Err(format!("`{other}` is not a clip mode; the modes are exact, deferred and running")),
        }
    }
}

/// A finished signal's maxima, for the deferred clip.
struct Ended {
    prog: Arc<Program>,
    lead_names: Vec<String>,
    lead_sizes: Vec<usize>,
    frames: usize,
    maxima: Vec<ScopeMax>,
    shape: Vec<usize>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("spec", &self.g.name)
            .field("received", &self.received())
            .field("emitted", &self.emitted())
            .finish()
    }
}

/// Where frames sit in the signal, read from the graph's framed load.
#[derive(Clone, Debug)]
struct Geometry {
    length: usize,
    hop: usize,
    pads: Vec<PadStep>,
    /// Sum of the left pads: frame `t` starts at sample `t·hop - left` of the signal.
    left: i64,
    /// Samples needed before the left pad's values no longer depend on the signal's length
    /// (a reflection of `l` samples reads samples `1..=l`).
    warmup: usize,
    /// Samples kept at the end for the right pad's mirror in `finish`.
    tail_keep: usize,
    /// Index of the time axis among the output type's axes (`...` counted as one).
    time_axis: usize,
    /// The output's frame count as a function of the signal's length.
    frames: Size,
}

/// The stream's state once the first chunk fixed its dtype and leading axes.
struct State {
    dtype: &'static str,
    /// The first chunk's shape with the samples axis set to 0.
    lead_shape: Vec<usize>,
    samples_axis: usize,
    core: Core,
}

enum Core {
    F32(Core1<f32>),
    F64(Core1<f64>),
}

/// The buffered samples and counters, in the compute precision.
struct Core1<T> {
    prog: Arc<Program>,
    /// The (selected) input rows' lead axis names and sizes, as the output map wants them.
    lead_names: Vec<String>,
    lead_sizes: Vec<usize>,
    /// Per row: samples `[base, received)`.
    rows: Vec<Vec<T>>,
    base: usize,
    received: usize,
    emitted: usize,
    /// The padded samples of the frames run in one call, reused.
    seg: Vec<T>,
    /// Per row: the maximum of the values emitted (the deferred clip's).
    maxima: Vec<ScopeMax>,
    /// The signal is long enough for the library (the whole plan's checks passed at some
    /// length, so at every longer one): frame counts come from the frames axis's size alone.
    planned: bool,
    /// The output shape with the time axis at index `out_t` (its size there is a placeholder).
    out_shape: Vec<usize>,
    out_t: usize,
    /// Chunks in standard layout are the rows one after another (samples the last axis, no
    /// axis selected): a push appends them without the general reshaping of `rows_of`.
    rows_direct: bool,
    /// The `deltas` stage's frames held back, if the graph has one.
    deltas: Option<DeltaStream<T>>,
}

/// A `deltas` stage over a stream: the frames the blocks computed, kept until the frames their
/// derivatives read (the lag after them) are computed too, then run through the offline stage
/// over a window holding every frame those derivatives read, so each emitted frame is computed
/// from the same values in the same order as offline (the window's own edges fall only on
/// frames not emitted from it, or on the signal's true ends).
struct DeltaStream<T> {
    d: Deltas,
    /// Frames read past a frame on either side.
    lag: usize,
    /// The blocks' frames `[lo, lo + len)` in the output layout (the derivative columns not
    /// filled yet).
    hist: ArrayD<T>,
    lo: usize,
    /// Frames returned so far.
    emitted: usize,
}

/// Frame counts are planned without a memory limit: the stream never holds the whole signal.
const UNLIMITED: Limits = Limits { max_bytes: u64::MAX };

fn refuse(why: impl Into<String>) -> RunError {
    RunError::Stream(why.into())
}

impl Stream {
    /// A stream over `g` (an optimized graph), run by `programs` (compiled from `g`). Fails when
    /// the graph cannot be streamed exactly: its framed load has a left pad that depends on the
    /// signal's length, its output merges frames with another axis, or its kernel plan has a
    /// phase after the blocks (a clip against a maximum, a mean over frames).
    pub fn new(g: Graph, programs: Arc<Programs>) -> Result<Stream, RunError> {
        Stream::with_mode(g, programs, ClipMode::Exact)
    }

    /// A stream in deferred clip mode: a graph whose only step after the blocks is a clip
    /// against a maximum (`db` with `top_db` or `ref=max`: Whisper, librosa, Keras) streams its
    /// values before the clip, keeping the running maximum; after [`Stream::finish`],
    /// [`Stream::apply_clip`] clips the concatenated frames exactly as the offline run does
    /// (the same clip kernel, the same maximum), giving its result bit for bit.
    pub fn deferred(g: Graph, programs: Arc<Programs>) -> Result<Stream, RunError> {
        Stream::with_mode(g, programs, ClipMode::Deferred)
    }

    /// A stream whose clip against a maximum is handled by `mode` (see [`ClipMode`]). The
    /// deferred and running modes need a graph whose only phase after the blocks is that clip.
    pub fn with_mode(g: Graph, programs: Arc<Programs>, mode: ClipMode) -> Result<Stream, RunError> {
        let geo = geometry(&g)?;
        // Check the JIT plan now for the first accepted dtype's precision (the others compile
        // the same plan), so a graph that cannot stream fails here, not at the first push.
        let dtype = g.accepts.first().map_or("float32", String::as_str);
        let precision = precision_of(&g, dtype)?;
        let prog = programs.get(&g, precision).map_err(|why| {
            refuse(format!("streaming runs the JIT's kernels, and the JIT cannot compile this graph: {why}"))
        })?;
        let (clip, deltas) = check_phases(&prog, mode)?;
        Ok(Stream {
            g,
            programs,
            geo,
            state: None,
            mode,
            clip,
            deltas,
            ended: None,
            time_axis: None,
            group: 1,
        })
    }

    /// How this stream treats a clip against a maximum.
    pub fn mode(&self) -> ClipMode {
        self.mode
    }

    /// The clip each push applies (the running mode's).
    fn running_clip(&self) -> Option<Clip> {
        self.clip.filter(|_| self.mode == ClipMode::Running)
    }

    /// Emits frames in multiples of `frames` (at least 1): a push returns the ready frames
    /// rounded down to a multiple, holding the rest for a later push; `finish` returns all.
    /// The kernels compute a block of frames at once (one per vector lane, see
    /// [`Stream::block_frames`]), so a push that completes one frame pays for a block: grouping
    /// by the block trades up to `frames - 1` hops of extra latency for whole blocks per push.
    /// The values are the same either way.
    pub fn set_group(&mut self, frames: usize) {
        self.group = frames.max(1);
    }

    /// The frames grouped per emission ([`Stream::set_group`]; 1 by default).
    pub fn group(&self) -> usize {
        self.group
    }

    /// Frames the kernels compute per call (the vector lanes: 4 on the 128-bit path, 8 on the
    /// wide AVX2 path, 2 in f64), for the first accepted dtype's precision.
    pub fn block_frames(&self) -> usize {
        let dtype = self.g.accepts.first().map_or("float32", String::as_str);
        precision_of(&self.g, dtype)
            .ok()
            .and_then(|p| self.programs.get(&self.g, p).ok())
            .map_or(1, |prog| prog.info().lanes)
    }

    /// In deferred clip mode, after [`Stream::finish`]: clips `out`, the concatenation of every
    /// frame the signal gave (pushes and finish, in order, along [`Stream::time_axis`]), in
    /// place (in any memory layout; it comes back in the standard one), as the offline run
    /// clips its output: the result is the offline run's.
    pub fn apply_clip(&self, out: &mut Output) -> Result<(), RunError> {
        let (Some(clip), Some(e), ClipMode::Deferred) = (&self.clip, &self.ended, self.mode) else {
            return Err(RunError::Stream(String::from(
                "apply_clip needs a deferred-clip stream after finish() (and before the next push)",
            )));
        };
        if out.shape() != e.shape.as_slice() {
            return Err(RunError::Shape {
                shape: out.shape().to_vec(),
                expected: format!("{:?}", e.shape),
                why: String::from(
                    "apply_clip takes every frame of the signal, concatenated along the time axis",
                ),
            });
        }
        let map = out_map(&self.g, &e.lead_names, &e.lead_sizes, e.frames, e.prog.info().out_bands())
            .map_err(RunError::Engine)?;
        let bad = || RunError::Engine(String::from("the frames are not of the program's precision"));
        // `ndarray::concatenate` may lay its result out axis-first: the clip runs over the
        // standard layout, as offline.
        match out {
            Output::F32(a) if !a.is_standard_layout() => *a = a.as_standard_layout().into_owned(),
            Output::F64(a) if !a.is_standard_layout() => *a = a.as_standard_layout().into_owned(),
            _ => {}
        }
        match out {
            Output::F32(a) if e.prog.info().precision == Precision::F32 => {
                let d = a.as_slice_mut().ok_or_else(bad)?;
                run_clip(&e.prog, clip, d, &e.lead_sizes, &map, &e.maxima, 1)
            }
            Output::F64(a) if e.prog.info().precision == Precision::F64 => {
                let d = a.as_slice_mut().ok_or_else(bad)?;
                run_clip(&e.prog, clip, d, &e.lead_sizes, &map, &e.maxima, 1)
            }
            _ => Err(bad()),
        }
    }

    /// The look-ahead in samples: frame `t` is emitted once the input reaches sample
    /// `t·hop + latency()`, `t·hop` being the sample the library dates the frame at. For
    /// centred specs (a pad of `length / 2` on the left) this is the pad's look-ahead,
    /// `length / 2`; for uncentred framing (Kaldi's `snip_edges`) the whole window. The first
    /// frames also wait for [`Stream::warmup`] samples, to mirror the signal's start.
    pub fn latency(&self) -> usize {
        let lag = self.deltas.as_ref().map_or(0, delta_lag) * self.geo.hop;
        (self.geo.length as i64 - self.geo.left).max(0) as usize + lag
    }

    /// Samples needed before any frame reading the left pad is emitted: a reflect pad of `l`
    /// mirrors samples `1..=l`, so it waits for `l + 1` samples (0 without such a pad).
    pub fn warmup(&self) -> usize {
        self.geo.warmup
    }

    /// The output axis that grows with time, along which results concatenate; known once the
    /// first push fixed the leading axes (a `...` in the layout takes one axis per lead axis),
    /// and still after [`Stream::finish`], until a reset or the next signal's first push.
    pub fn time_axis(&self) -> Option<usize> {
        self.time_axis
    }

    /// Samples pushed since the start (or the last [`Stream::reset`] or [`Stream::finish`]).
    pub fn received(&self) -> usize {
        self.state.as_ref().map_or(0, |s| match &s.core {
            Core::F32(c) => c.received,
            Core::F64(c) => c.received,
        })
    }

    /// Frames emitted since the start.
    pub fn emitted(&self) -> usize {
        self.state.as_ref().map_or(0, |s| match &s.core {
            Core::F32(c) => c.returned(),
            Core::F64(c) => c.returned(),
        })
    }

    /// Samples held in the stream's buffer now (per signal): bounded by about one frame window
    /// and the right pad's reach, plus the last chunk, whatever the stream's length.
    pub fn buffered(&self) -> usize {
        self.state.as_ref().map_or(0, |s| match &s.core {
            Core::F32(c) => c.rows.first().map_or(0, Vec::len),
            Core::F64(c) => c.rows.first().map_or(0, Vec::len),
        })
    }

    /// Forgets every sample pushed: the next push starts a new signal, with any leading axes
    /// and dtype.
    pub fn reset(&mut self) {
        self.state = None;
        self.ended = None;
        self.time_axis = None;
    }

    /// Appends `chunk` (the spec's input layout, any number of samples, 0 included) and returns
    /// the frames it completed, in the spec's output layout with [`Stream::time_axis`] holding
    /// them (possibly none). The first push fixes the dtype and the leading axes; later pushes
    /// must have the same.
    pub fn push(&mut self, chunk: &Input<'_>) -> Result<Output, RunError> {
        self.ended = None;
        if self.state.is_none() {
            let st = self.start(chunk)?;
            let ell = st.lead_shape.len() + 1 - self.g.user_axes().len();
            let before = &self.g.output_type().axes[..self.geo.time_axis];
            self.time_axis = Some(before.iter().map(|a| if a.is_ellipsis() { ell } else { 1 }).sum());
            self.state = Some(st);
        }
        let (running, group) = (self.running_clip(), self.group);
        let Stream { g, geo, state, .. } = self;
        let st = state.as_mut().expect("set above");
        if chunk.dtype_name() != st.dtype {
            return Err(RunError::DType {
                dtype: chunk.dtype_name().to_string(),
                why: format!("this stream started with {}; call reset() to change it", st.dtype),
            });
        }
        let mut lead = chunk.shape().to_vec();
        if lead.len() != st.lead_shape.len() {
            return Err(shape_error(g, chunk.shape(), &st.lead_shape, st.samples_axis));
        }
        lead[st.samples_axis] = 0;
        if lead != st.lead_shape {
            return Err(shape_error(g, chunk.shape(), &st.lead_shape, st.samples_axis));
        }
        if g.finite_only {
            let bad = match chunk {
                Input::F32(a) => a.iter().any(|v| !v.is_finite()),
                Input::F64(a) => a.iter().any(|v| !v.is_finite()),
                Input::I16(_) => false,
            };
            if bad {
                return Err(RunError::NotFinite(String::from(
                    "the chunk holds NaN or inf; this spec's library rejects non-finite audio",
                )));
            }
        }
        let (dtype, lead_shape, axis) = (st.dtype, &st.lead_shape, st.samples_axis);
        match &mut st.core {
            Core::F32(c) => {
                let mut out = c.push(g, geo, chunk, dtype, lead_shape, axis, group)?;
                c.clip_running(g, running.as_ref(), &mut out)?;
                Ok(Output::F32(out))
            }
            Core::F64(c) => {
                let mut out = c.push(g, geo, chunk, dtype, lead_shape, axis, group)?;
                c.clip_running(g, running.as_ref(), &mut out)?;
                Ok(Output::F64(out))
            }
        }
    }

    /// Ends the signal: returns the frames not yet emitted (those reading the right pad, and
    /// the last ones the library keeps), then resets the stream. Fails as the offline run
    /// fails on the whole signal (too short for a frame, nothing pushed), and resets too.
    pub fn finish(&mut self) -> Result<Output, RunError> {
        let Some(mut st) = self.state.take() else {
            return Err(RunError::Empty(vec![0]));
        };
        let (dtype, lead_shape, axis) = (st.dtype, &st.lead_shape, st.samples_axis);
        let running = self.running_clip();
        let out = match &mut st.core {
            Core::F32(c) => {
                let mut out = c.finish(&self.g, &self.geo, dtype, lead_shape, axis)?;
                c.clip_running(&self.g, running.as_ref(), &mut out)?;
                Output::F32(out)
            }
            Core::F64(c) => {
                let mut out = c.finish(&self.g, &self.geo, dtype, lead_shape, axis)?;
                c.clip_running(&self.g, running.as_ref(), &mut out)?;
                Output::F64(out)
            }
        };
        if self.mode == ClipMode::Deferred {
            let ended = match &st.core {
                Core::F32(c) => c.ended(),
                Core::F64(c) => c.ended(),
            };
            self.ended = Some(ended);
        }
        Ok(out)
    }

    /// The state for a first chunk: dtype, precision, program, leading axes.
    fn start(&self, chunk: &Input<'_>) -> Result<State, RunError> {
        let g = &self.g;
        let dtype = chunk.dtype_name();
        if !g.accepts.iter().any(|a| a == dtype) {
            return Err(RunError::DType {
                dtype: dtype.to_string(),
                why: format!("this spec accepts {}, as its library does", g.accepts.join(", ")),
            });
        }
        let precision = precision_of(g, dtype)?;
        let axes = specc_rt::lead_sizes(g, chunk.shape())?;
        let samples_axis = axes
            .iter()
            .position(|(a, _)| a == "samples")
            .ok_or_else(|| RunError::Engine(String::from("the input has no samples axis")))?;
        let mut lead_shape = chunk.shape().to_vec();
        lead_shape[samples_axis] = 0;
        if axes.iter().any(|(a, s)| a != "samples" && *s == 0) {
            return Err(RunError::Empty(chunk.shape().to_vec()));
        }
        let prog = self.programs.get(g, precision).map_err(|why| {
            refuse(format!("streaming runs the JIT's kernels, and the JIT cannot compile this graph: {why}"))
        })?;
        check_phases(&prog, self.mode)?;
        let deltas = self.deltas;
        if let Some((axis, index)) = &prog.info().select {
            let have = axes.iter().find(|(a, _)| a == axis).map_or(0, |(_, s)| *s);
            if *index >= have {
                return Err(RunError::Shape {
                    shape: chunk.shape().to_vec(),
                    expected: g.user_axes().join(", "),
                    why: format!("the spec reads {axis} {index}, the input has {have}"),
                });
            }
        }
        let core = match precision {
            Precision::F32 => Core::F32(Core1::new(g, prog, chunk, &lead_shape, samples_axis, deltas)?),
            Precision::F64 => Core::F64(Core1::new(g, prog, chunk, &lead_shape, samples_axis, deltas)?),
        };
        Ok(State { dtype, lead_shape, samples_axis, core })
    }
}

fn shape_error(g: &Graph, shape: &[usize], lead: &[usize], axis: usize) -> RunError {
    let mut first = lead.to_vec();
    if axis < first.len() {
        first[axis] = 0;
    }
    RunError::Shape {
        shape: shape.to_vec(),
        expected: g.user_axes().join(", "),
        why: format!(
            "a stream's leading axes are fixed by its first chunk, {first:?} (samples as 0); call reset() to change them"
        ),
    }
}

/// The compute precision for an input dtype, by the graph's rule (as [`crate::plan`] decides).
fn precision_of(g: &Graph, dtype: &str) -> Result<Precision, RunError> {
    match (g.dtype, dtype) {
        (DTypeRule::Fixed(p), _) => Ok(p),
        (DTypeRule::FollowInput, "float64") => Ok(Precision::F64),
        (DTypeRule::FollowInput, "float32") => Ok(Precision::F32),
        (DTypeRule::FollowInput, other) => Err(RunError::DType {
            dtype: other.to_string(),
            why: String::from(
                "this spec takes floating-point audio (float32 or float64), as its library does",
            ),
        }),
    }
}

/// Only the phase over blocks streams, and a `deltas` stage after it (each frame's derivatives
/// read a bounded number of frames around it): any other later phase reads the whole output.
/// In the deferred and running clip modes, one clip stage after the blocks is allowed. Returns
/// the clip and the deltas.
fn check_phases(prog: &Program, mode: ClipMode) -> Result<(Option<Clip>, Option<Deltas>), RunError> {
    let mut clip = None;
    let mut found_deltas = None;
    let modal = mode != ClipMode::Exact;
    for ph in &prog.info().plan.phases {
        if let (Over::Signals, None, None, [st]) = (ph.over, &clip, &found_deltas, ph.stages.as_slice()) {
            if let StageKind::CrossFrame(CrossFrame::Deltas(d)) = &st.kind {
                found_deltas = Some(*d);
                continue;
            }
        }
        if let (true, None, [st]) = (modal && ph.over == Over::Output, &clip, ph.stages.as_slice()) {
            if let StageKind::Clip(c) = &st.kind {
                clip = Some(c.clip);
                continue;
            }
        }
        if ph.over != Over::Blocks {
            let names: Vec<&str> = ph.stages.iter().map(|s| s.kind.name()).collect();
            return Err(refuse(format!(
                "the kernel plan's `{}` stage runs over the whole output after the blocks, which a stream never holds",
                names.join(", ")
            )));
        }
    }
    if modal && clip.is_none() {
        let name = if mode == ClipMode::Deferred { "deferred" } else { "running" };
        return Err(refuse(format!(
            "the {name} clip mode needs a clip after the blocks, and this graph has none"
        )));
    }
    Ok((clip, found_deltas))
}

/// Frames a `deltas` stage reads past a frame on either side: its half width (Savitzky-Golay
/// fits read the original values), or the stencil's reach per order (each order reads the
/// last).
fn delta_lag(d: &Deltas) -> usize {
    match d.mode {
        DeltaMode::Interp => d.width / 2,
        DeltaMode::Replicate => d.order * (d.width.saturating_sub(1) / 2),
    }
}

/// Reads the framed load's geometry and checks what streaming needs of the graph.
fn geometry(g: &Graph) -> Result<Geometry, RunError> {
    let mut loads = g.nodes.iter().filter_map(|n| match &n.op {
        Op::FramedLoad { pads, length, hop, .. } => Some((pads, *length, *hop)),
        _ => None,
    });
    let (pads, length, hop) = match (loads.next(), loads.next()) {
        (Some(l), None) => l,
        _ => return Err(refuse("streaming needs one framed load of the signal in the optimized graph")),
    };
    let (mut left, mut warmup, mut tail_keep, mut mirrored) = (0i64, 0i64, 1usize, false);
    for p in pads {
        let (l, r) = match p.amount {
            PadAmount::Fixed(l, r) => (l as i64, r),
            // Kaldi's snip_edges=false: a fixed left amount; the right one bounded by a frame.
            PadAmount::Centered { length, hop } => (length as i64 / 2 - hop as i64 / 2, length),
            PadAmount::Same { .. } => {
                return Err(refuse(
                    "pad_same's left pad depends on the signal's length, known only at its end",
                ))
            }
        };
        left += l;
        mirrored |= l > 0 && !matches!(p.mode, PadMode::Constant(_));
        warmup += l.max(0);
        tail_keep += r;
    }
    let out = g.output_type();
    let time_axis = out
        .axes
        .iter()
        .position(|a| a.name.split('*').any(|p| p == "frames"))
        .ok_or_else(|| refuse("the output has no frames axis to stream along"))?;
    if out.axes[time_axis].name != "frames" {
        return Err(refuse(format!(
            "the output layout merges frames with other axes (`{}`): frames of two chunks would not concatenate",
            out.axes[time_axis].name
        )));
    }
    Ok(Geometry {
        length,
        hop,
        pads: pads.clone(),
        left,
        warmup: if mirrored { (warmup + 1) as usize } else { 0 },
        tail_keep,
        time_axis,
        frames: out.axes[time_axis].size.clone(),
    })
}

/// The value at position `p` of the signal after `k` of `pads` (`lens[i]`: its length after
/// `i` steps), reading sample `j` of the original through `get`; positions past the padded
/// signal read 0. The same rule as the offline run's staging of edge blocks; `None` when
/// `get` no longer holds a sample it needs.
fn pad_value<T: Float>(
    get: &impl Fn(i64) -> Option<T>,
    pads: &[PadStep],
    lens: &[usize],
    k: usize,
    p: i64,
) -> Option<T> {
    if p < 0 || p >= lens[k] as i64 {
        return Some(T::default());
    }
    if k == 0 {
        return get(p);
    }
    let n = lens[k - 1] as i64;
    let (l, _) = pads[k - 1].amount.amounts(lens[k - 1]);
    let j = p - l;
    if (0..n).contains(&j) {
        return pad_value(get, pads, lens, k - 1, j);
    }
    match pads[k - 1].mode {
        PadMode::Constant(c) => Some(T::from_f64(c)),
        PadMode::Reflect | PadMode::ReflectStrict => pad_value(get, pads, lens, k - 1, reflect_index(j, n)),
        PadMode::Edge => pad_value(get, pads, lens, k - 1, if j < 0 { 0 } else { n - 1 }),
        PadMode::Symmetric => pad_value(get, pads, lens, k - 1, symmetric_index(j, n) as i64),
    }
}

/// Lengths of a `n`-sample signal after each pad step.
fn pad_lens(pads: &[PadStep], n: usize) -> Vec<usize> {
    let mut lens = vec![n];
    for p in pads {
        let last = *lens.last().expect("non-empty");
        let (l, r) = p.amount.amounts(last);
        lens.push((last as i64 + l + r).max(0) as usize);
    }
    lens
}

impl<T: Float> Core1<T> {
    fn new(
        g: &Graph,
        prog: Arc<Program>,
        chunk: &Input<'_>,
        lead_shape: &[usize],
        axis: usize,
        deltas: Option<Deltas>,
    ) -> Result<Self, RunError> {
        let (_, lead_names, lead_sizes, _) = rows_of::<T>(g, chunk, prog.info())?;
        let nrows = lead_sizes.iter().product();
        let (out_shape, out_t) = Self::shape_of(g, lead_shape, axis)?;
        let rows_direct = axis + 1 == lead_shape.len() && prog.info().select.is_none();
        let deltas = deltas.map(|d| DeltaStream {
            lag: delta_lag(&d),
            d,
            hist: ArrayD::from_elem(IxDyn(&out_shape), T::default()),
            lo: 0,
            emitted: 0,
        });
        Ok(Core1 {
            prog,
            lead_names,
            lead_sizes,
            rows: vec![Vec::new(); nrows],
            base: 0,
            received: 0,
            emitted: 0,
            seg: Vec::new(),
            maxima: vec![ScopeMax::EMPTY; nrows],
            planned: false,
            out_shape,
            out_t,
            rows_direct,
            deltas,
        })
    }

    /// Appends a chunk whose rows lie one after another (see `rows_direct`), converting each
    /// sample as `rows_of` does; false (nothing appended) when the chunk is not laid out so.
    fn append_direct(&mut self, chunk: &Input<'_>) -> Option<usize> {
        fn go<E: Copy, T: Float>(rows: &mut [Vec<T>], s: &[E], f: impl Fn(E) -> f64) -> usize {
            let c = s.len() / rows.len().max(1);
            if c > 0 {
                for (row, part) in rows.iter_mut().zip(s.chunks_exact(c)) {
                    row.extend(part.iter().map(|&x| T::from_f64(f(x))));
                }
            }
            c
        }
        if !self.rows_direct {
            return None;
        }
        let rows = &mut self.rows;
        match chunk {
            Input::F32(a) => a.as_slice().map(|s| go(rows, s, |x: f32| x as f64)),
            Input::F64(a) => a.as_slice().map(|s| go(rows, s, |x: f64| x)),
            Input::I16(a) => a.as_slice().map(|s| go(rows, s, |x: i16| x as f64)),
        }
    }

    /// The whole signal's input shape if it had `n` samples.
    fn signal_shape(lead_shape: &[usize], axis: usize, n: usize) -> Vec<usize> {
        let mut s = lead_shape.to_vec();
        s[axis] = n;
        s
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        g: &Graph,
        geo: &Geometry,
        chunk: &Input<'_>,
        dtype: &str,
        lead_shape: &[usize],
        axis: usize,
        group: usize,
    ) -> Result<ArrayD<T>, RunError> {
        let c = match self.append_direct(chunk) {
            Some(c) => c,
            None => {
                let (data, _, _, c) = rows_of::<T>(g, chunk, self.prog.info())?;
                for (r, row) in self.rows.iter_mut().enumerate() {
                    row.extend_from_slice(&data[r * c..(r + 1) * c]);
                }
                c
            }
        };
        self.received += c;
        let ready = self.ready(g, geo, dtype, lead_shape, axis)?;
        // With deltas the group applies to the frames they return (the blocks run as soon as
        // their samples are in).
        let ready = match self.deltas {
            Some(_) => ready,
            None => self.emitted + (ready - self.emitted) / group * group,
        };
        let out = self.emit(g, geo, ready, None)?;
        self.trim(geo);
        self.deltas_of(g, out, group, None)
    }

    /// With a `deltas` stage: keeps `base` (the blocks' newest frames) and returns the frames
    /// whose derivatives can now be computed exactly (all of them once the signal's `total`
    /// frames are known), in multiples of `group`. Without one, `base` itself.
    fn deltas_of(
        &mut self,
        g: &Graph,
        base: ArrayD<T>,
        group: usize,
        total: Option<usize>,
    ) -> Result<ArrayD<T>, RunError> {
        let (t, values) = (self.out_t, self.prog.info().out_bands());
        let none = self.shape(0);
        let Some(ds) = &mut self.deltas else { return Ok(base) };
        if base.len_of(Axis(t)) > 0 {
            ds.hist = concatenate(Axis(t), &[ds.hist.view(), base.view()])
                .map_err(|e| RunError::Engine(format!("internal error: joining frames: {e}")))?;
        }
        let frames = ds.hist.len_of(Axis(t));
        let avail = ds.lo + frames;
        let end = match total {
            Some(n) => n,
            None => {
                let end = avail.saturating_sub(ds.lag).max(ds.emitted);
                ds.emitted + (end - ds.emitted) / group * group
            }
        };
        // Savitzky-Golay fits need a whole window of frames (the offline run refuses fewer).
        let short = ds.d.mode == DeltaMode::Interp && frames < ds.d.width;
        if end <= ds.emitted || (short && total.is_none()) {
            return Ok(ArrayD::from_elem(IxDyn(&none), T::default()));
        }
        let mut win = ds.hist.as_standard_layout().into_owned();
        let map =
            out_map(g, &self.lead_names, &self.lead_sizes, frames, self.prog.info().plan.output_values())
                .map_err(RunError::Engine)?;
        let bases = row_bases(&self.lead_sizes, &map);
        let data = win
            .as_slice_mut()
            .ok_or_else(|| RunError::Engine(String::from("internal error: frames not in standard layout")))?;
        deltas(&self.prog, &ds.d, data, &bases, &map, frames, values)?;
        let out = win.slice_axis(Axis(t), Slice::from(ds.emitted - ds.lo..end - ds.lo)).to_owned();
        ds.emitted = end;
        // Keep what the next frames' derivatives read (and a whole fit window at the end).
        let keep_from = end.saturating_sub(ds.lag.max(ds.d.width)).max(ds.lo);
        ds.hist = ds.hist.slice_axis(Axis(t), Slice::from(keep_from - ds.lo..)).to_owned();
        ds.lo = keep_from;
        Ok(out)
    }

    fn finish(
        &mut self,
        g: &Graph,
        geo: &Geometry,
        dtype: &str,
        lead_shape: &[usize],
        axis: usize,
    ) -> Result<ArrayD<T>, RunError> {
        let n = self.received;
        let plan = crate::plan(g, &Self::signal_shape(lead_shape, axis, n), dtype, &UNLIMITED)?;
        if plan.frames < self.emitted {
            return Err(RunError::Engine(format!(
                "internal error: the stream emitted {} frames, the whole signal has {}",
                self.emitted, plan.frames
            )));
        }
        let out = self.emit(g, geo, plan.frames, Some(n))?;
        self.deltas_of(g, out, 1, Some(plan.frames))
    }

    /// Frames returned so far (behind the blocks' by the deltas' lag).
    fn returned(&self) -> usize {
        self.deltas.as_ref().map_or(self.emitted, |d| d.emitted)
    }

    /// Frames whose values no later sample can change: the library keeps them at this length
    /// (so at any longer one), their samples have all arrived, and the left pad can be mirrored.
    fn ready(
        &mut self,
        g: &Graph,
        geo: &Geometry,
        dtype: &str,
        lead_shape: &[usize],
        axis: usize,
    ) -> Result<usize, RunError> {
        let n = self.received;
        if n == 0 || n < geo.warmup {
            return Ok(self.emitted);
        }
        let reach = n as i64 + geo.left - geo.length as i64;
        if reach < 0 {
            return Ok(self.emitted);
        }
        let by_samples = reach as usize / geo.hop + 1;
        if by_samples <= self.emitted {
            return Ok(self.emitted);
        }
        // Planning walks the whole graph: once it has passed, the frames axis's size says the
        // same at a fraction of the cost (a push every 10 ms should cost microseconds).
        let quick = self.planned.then(|| geo.frames.eval(n as i64, &|_| None)).flatten();
        if let (true, Some(f)) = (cfg!(debug_assertions), quick) {
            let full = crate::plan(g, &Self::signal_shape(lead_shape, axis, n), dtype, &UNLIMITED);
            debug_assert_eq!(
                full.map(|p| p.frames as i64),
                Ok(f),
                "the frames axis's size and the plan disagree"
            );
        }
        let planned = match quick {
            Some(f) => f.max(0) as usize,
            None => match crate::plan(g, &Self::signal_shape(lead_shape, axis, n), dtype, &UNLIMITED) {
                Ok(p) => {
                    self.planned = true;
                    p.frames
                }
                // Too short for the library yet; a later push may make it long enough.
                Err(RunError::TooShort(_)) => 0,
                Err(e) => return Err(e),
            },
        };
        Ok(by_samples.min(planned).max(self.emitted))
    }

    /// Runs frames `emitted..end` and returns them in the output layout. `total`: the signal's
    /// length when it ended (the right pad is then known), else `None`.
    fn emit(
        &mut self,
        g: &Graph,
        geo: &Geometry,
        end: usize,
        total: Option<usize>,
    ) -> Result<ArrayD<T>, RunError> {
        let info = self.prog.info();
        let k = end.saturating_sub(self.emitted);
        let shape = self.shape(k);
        let mut out = ArrayD::<T>::from_elem(IxDyn(&shape), T::default());
        if k == 0 {
            return Ok(out);
        }
        let t0 = self.emitted;
        let span = (k - 1) * geo.hop + geo.length;
        let first = (t0 * geo.hop) as i64; // padded position of the first value
        let lens = pad_lens(&geo.pads, total.unwrap_or(self.received));
        let (base, received) = (self.base as i64, self.received as i64);
        self.seg.resize(self.rows.len() * span, T::default());
        for (row, seg) in self.rows.iter().zip(self.seg.chunks_exact_mut(span)) {
            let get = |j: i64| (j >= base && j < received).then(|| row[(j - base) as usize]);
            // Positions whose sample has arrived are that sample, as long as the signal goes
            // on; at its end every position takes the pad rule with the known length.
            let (lo, hi) = match total {
                None => {
                    let lo = (base + geo.left - first).clamp(0, span as i64) as usize;
                    let hi = (received + geo.left - first).clamp(lo as i64, span as i64) as usize;
                    (lo, hi)
                }
                Some(_) => (0, 0),
            };
            for (i, v) in seg.iter_mut().enumerate() {
                if (lo..hi).contains(&i) {
                    continue;
                }
                *v =
                    pad_value(&get, &geo.pads, &lens, geo.pads.len(), first + i as i64).ok_or_else(|| {
                        RunError::Engine(String::from(
                            "internal error: the stream no longer holds a sample a frame reads",
                        ))
                    })?;
            }
            if hi > lo {
                let from = (first + lo as i64 - geo.left - base) as usize;
                seg[lo..hi].copy_from_slice(&row[from..from + (hi - lo)]);
            }
        }
        let map = out_map(g, &self.lead_names, &self.lead_sizes, k, info.plan.output_values())
            .map_err(RunError::Engine)?;
        let slice = out
            .as_slice_mut()
            .ok_or_else(|| RunError::Engine(String::from("output not in standard layout")))?;
        let maxima = run_rows(&self.prog, &self.seg, span, &[], &self.lead_sizes, k, &map, slice, 1)?;
        for (m, new) in self.maxima.iter_mut().zip(maxima) {
            *m = ScopeMax::of(&[*m, new]);
        }
        self.emitted = end;
        Ok(out)
    }

    /// The running clip mode: clips `out` (frames just emitted, whose maxima `emit` has folded
    /// into `self.maxima`) against the maximum of every frame so far, with the offline clip
    /// kernel. Nothing without a clip.
    fn clip_running(&self, g: &Graph, clip: Option<&Clip>, out: &mut ArrayD<T>) -> Result<(), RunError> {
        let Some(clip) = clip else { return Ok(()) };
        if out.is_empty() {
            return Ok(());
        }
        let frames = out.len_of(Axis(self.out_t));
        let map = out_map(g, &self.lead_names, &self.lead_sizes, frames, self.prog.info().out_bands())
            .map_err(RunError::Engine)?;
        let data = out
            .as_slice_mut()
            .ok_or_else(|| RunError::Engine(String::from("output not in standard layout")))?;
        run_clip(&self.prog, clip, data, &self.lead_sizes, &map, &self.maxima, 1)
    }

    /// What the deferred clip needs once the signal has ended.
    fn ended(&self) -> Ended {
        Ended {
            prog: self.prog.clone(),
            lead_names: self.lead_names.clone(),
            lead_sizes: self.lead_sizes.clone(),
            frames: self.emitted,
            maxima: self.maxima.clone(),
            shape: self.shape(self.emitted),
        }
    }

    /// Drops the samples no frame still to come can read: before the next frame's first
    /// sample, keeping the last `tail_keep` for the right pad's mirror.
    fn trim(&mut self, geo: &Geometry) {
        let next = self.emitted as i64 * geo.hop as i64 - geo.left;
        let keep_from = next.min(self.received as i64 - geo.tail_keep as i64).max(0) as usize;
        if keep_from > self.base {
            let drop = keep_from - self.base;
            for row in &mut self.rows {
                row.drain(..drop);
            }
            self.base = keep_from;
        }
    }

    /// The output shape for `k` frames: the spec's layout with the time axis `k` long.
    fn shape(&self, k: usize) -> Vec<usize> {
        let mut s = self.out_shape.clone();
        s[self.out_t] = k;
        s
    }

    /// The output shape (the spec's layout, the time axis 0 long) and the time axis's index.
    fn shape_of(g: &Graph, lead_shape: &[usize], axis: usize) -> Result<(Vec<usize>, usize), RunError> {
        let axes = specc_rt::lead_sizes(g, &Self::signal_shape(lead_shape, axis, 1))?;
        let lead = |name: &str| axes.iter().find(|(a, _)| a == name).map(|(_, s)| *s as i64);
        let (mut shape, mut t) = (Vec::new(), None);
        for a in &g.output_type().axes {
            if a.is_ellipsis() {
                shape.extend(axes.iter().filter(|(n, _)| n == "...").map(|(_, s)| *s));
            } else if a.name == "frames" {
                t = Some(shape.len());
                shape.push(0);
            } else {
                let v = a.size.eval(1 << 20, &lead).filter(|v| *v >= 0).ok_or_else(|| {
                    RunError::Engine(format!("the size of output axis {} is unknown", a.name))
                })?;
                shape.push(v as usize);
            }
        }
        let t = t.ok_or_else(|| RunError::Engine(String::from("the output has no frames axis")))?;
        Ok((shape, t))
    }
}
