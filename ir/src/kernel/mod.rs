//! The kernel plan: the one contract between the optimizer and the back end.
//!
//! The `schedule` pass turns the optimized graph into a [`KernelPlan`]: phases, each a list of
//! typed [`Stage`]s with the buffer each reads and writes. Code generation lowers the plan
//! stage by stage (one emitter per [`StageKind`], `codegen/stage/`), and the runtime runs the
//! phases in order, as the plan lists them. Before lowering, [`check::check`] verifies the plan
//! against a [`crate::target::Target`] (the stage kinds, FFT codelets and vector widths the back end
//! offers): a plan that passes lowers, else the caller gets a typed [`Unsupported`].
//!
//! A graph whose shape has no kernel plan at all (say, a complex output) gets
//! `Schedule::Unsupported` from the schedule pass, which the graph text prints with its reason.

pub mod check;

use std::fmt;

use crate::graph::fft_plan::RealPlan;
use crate::graph::print::op_text;
use crate::graph::{
    Clip, Deltas, Epilogue, FromComplex, NanMax, NodeId, Op, OpDecl, OutAxis, PadStep, Precision, Scope,
    SparseRows, SpectrumPower, Step, Table,
};

/// What the schedule pass attaches to a graph.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Schedule {
    /// The kernel plan the back end lowers.
    Plan(KernelPlan),
    /// Why the graph has no kernel plan (it runs on the interpreter only).
    Unsupported(Unsupported),
}

impl Schedule {
    /// The plan, or why there is none.
    pub fn plan(&self) -> Result<&KernelPlan, &Unsupported> {
        match self {
            Schedule::Plan(p) => Ok(p),
            Schedule::Unsupported(u) => Err(u),
        }
    }
}

/// Why the back end cannot run a graph: the node it cannot lower and the reason. Returned at
/// compile time, by the schedule pass or the target check, never discovered while running.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("%{node}: {reason}")]
pub struct Unsupported {
    /// The graph node (`%N` in the graph text).
    pub node: NodeId,
    /// What the back end lacks.
    pub reason: String,
}

impl Unsupported {
    /// An `Unsupported` for `node`.
    pub fn new(node: NodeId, reason: impl Into<String>) -> Self {
        Unsupported { node, reason: reason.into() }
    }
}

/// Phases in order, and the buffers their stages pass values through.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KernelPlan {
    /// Each buffer the stages name, with its shape, in first-use order.
    pub buffers: Vec<(Buf, String)>,
    /// Phases, run one after another; each starts when the one before it has finished.
    pub phases: Vec<Phase>,
}

/// One phase: stages run over the same domain.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Phase {
    /// What the phase iterates over.
    pub over: Over,
    /// Its stages, in order.
    pub stages: Vec<Stage>,
}

/// What a phase iterates over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Over {
    /// Blocks of consecutive frames of one signal (one frame per vector lane), in parallel.
    Blocks,
    /// The output tensor in place, elementwise, in parallel (after a reduction completed).
    Output,
    /// Each frame of the staged values on its own, in parallel (a per-frame product after a
    /// clip, which needed the whole scope first).
    Frames,
    /// Each signal's output, across its frames.
    Signals,
}

/// A buffer between stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Buf {
    /// The caller's samples (padded on the fly).
    Signal,
    /// One frame per lane, taps in natural order.
    Frame,
    /// Complex bins per lane (real and imaginary regions).
    Spectrum,
    /// The power per bin per lane, and the sum of the powers (non-finite check).
    Power,
    /// One value per band per lane.
    Bands,
    /// One extra value per frame (Kaldi's log energy).
    Column,
    /// The running maximum of a clip's scope (NaN seen, maximum).
    Max,
    /// The block phase's values of every frame, `[..., frames, values]` row-major, kept for a
    /// later phase that needs them all before it can write the output (a `dct` after a clip:
    /// the output holds fewer values per frame than the clip reads).
    Staged,
    /// The output tensor, in the spec's layout.
    Output,
}

impl Buf {
    fn name(self) -> &'static str {
        match self {
            Buf::Signal => "signal",
            Buf::Frame => "frame",
            Buf::Spectrum => "spectrum",
            Buf::Power => "power",
            Buf::Bands => "bands",
            Buf::Column => "column",
            Buf::Max => "max",
            Buf::Staged => "staged",
            Buf::Output => "output",
        }
    }
}

/// One stage: what it computes, the graph node it comes from, and its buffers.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    /// The graph node (for messages and the text form).
    pub node: NodeId,
    /// What it computes.
    pub kind: StageKind,
    /// The buffer it reads.
    pub reads: Buf,
    /// The buffer it writes.
    pub writes: Buf,
}

/// Stage kinds: each has one emitter in `codegen/stage/` (or, for the cross-frame kinds, one
/// runner in the runtime).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum StageKind {
    /// A block's frames from the signal: pads, framing, window.
    Load(Load),
    /// An op on each frame in place (after the load, before the transform).
    PerFrame(FrameOp),
    /// A per-frame value stored as an extra output column (Kaldi's log energy).
    Column(Column),
    /// The real-input DFT of each frame.
    Transform(Transform),
    /// Per-band values from the spectrum: a filterbank, or a per-bin map, with elementwise steps.
    PerBand(PerBand),
    /// A running maximum over a clip's scope of the values stored.
    Reduce(Clip),
    /// Values stored into the output.
    Store(Store),
    /// A clip against the completed reduction, then the steps after it.
    Clip(ClipStage),
    /// A dense product over each frame's staged values, written to the output.
    Dense(Dense),
    /// An op across each signal's frames.
    CrossFrame(CrossFrame),
}

impl StageKind {
    /// The kind's name, as in the text form and in [`crate::target::Target::stages`].
    pub fn name(&self) -> &'static str {
        match self {
            StageKind::Load(_) => "load",
            StageKind::PerFrame(_) => "per_frame",
            StageKind::Column(_) => "column",
            StageKind::Transform(_) => "transform",
            StageKind::PerBand(_) => "per_band",
            StageKind::Reduce(_) => "reduce",
            StageKind::Store(_) => "store",
            StageKind::Clip(_) => "clip",
            StageKind::Dense(_) => "dense",
            StageKind::CrossFrame(_) => "cross_frame",
        }
    }
}

/// The framed load.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Load {
    /// A leading axis reduced to one index first.
    pub select: Option<(String, usize)>,
    /// Pads applied to the signal, in order.
    pub pads: Vec<PadStep>,
    /// Samples per frame.
    pub length: usize,
    /// Samples between frames.
    pub hop: usize,
    /// Whether the last frame is dropped.
    pub drop_last: bool,
    /// The window multiplied in while loading.
    pub window: Option<Table>,
}

/// A per-frame op.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FrameOp {
    /// Subtract the frame's mean.
    RemoveDc,
    /// `x[j] - k·x[j-1]`, `x[-1] = x[0]`.
    Preemphasis(f64),
    /// Multiply by a window.
    Window(Table),
}

/// Kaldi's energy column: `ln(max(Σx², min))`, floored at `ln(floor)`, from the frame as it is
/// at this point of the per-frame stages.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    /// Floor on the sum before the log.
    pub min: f64,
    /// Floor on the energy.
    pub floor: Option<f64>,
    /// The last output column (else the first).
    pub last: bool,
}

/// The real-input DFT.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transform {
    /// Bins `0..=n/2`.
    pub n: usize,
    /// The DFT period (frames longer than it fold onto it).
    pub period: usize,
    /// Precision of Keras's basis for the direct sum (F32), or exact twiddles (F64).
    pub basis: Precision,
    /// The FFT plan, exactly as the `plan` pass printed it.
    pub plan: RealPlan,
    /// With a filterbank next: the power per bin written instead of the spectrum.
    pub power: Option<SpectrumPower>,
    /// The target's wide FFT kernels can run this transform (`Target::wide_for`): f32
    /// programs on a CPU with their instruction set run it on them, over blocks of `lanes`
    /// frames, with the same plan.
    pub wide: Option<Wide>,
}

/// A transform's wide FFT capability: precompiled kernels for `isa`, `lanes` frames per vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Wide {
    /// The instruction set (`avx2`).
    pub isa: &'static str,
    /// f32 frames per vector.
    pub lanes: usize,
}

/// A [`Wide`] as serialized (an ahead-of-time program's descriptor): read back only for the
/// instruction sets wide kernels exist for.
#[derive(serde::Deserialize)]
#[serde(rename = "Wide")]
struct WideText {
    isa: String,
    lanes: usize,
}

// By hand: a derived impl would borrow the `&'static str` from the input.
impl<'de> serde::Deserialize<'de> for Wide {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Wide, D::Error> {
        let w = <WideText as serde::Deserialize>::deserialize(d)?;
        match w.isa.as_str() {
            "avx2" => Ok(Wide { isa: "avx2", lanes: w.lanes }),
            other => Err(serde::de::Error::custom(format!("no wide kernels for `{other}`"))),
        }
    }
}

/// Per-band values.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum PerBand {
    /// A sparse filterbank over the power per bin, then `steps` per band.
    Filterbank {
        /// The filterbank.
        matrix: SparseRows,
        /// Steps per band.
        steps: Vec<Step>,
        /// A dense matrix over the bands after the steps (a `dct`), whose rows are the values
        /// stored.
        dense: Option<Dense>,
    },
    /// A per-bin map of the complex spectrum, then `steps`.
    Bins {
        /// Complex to real.
        from: FromComplex,
        /// Steps per bin.
        steps: Vec<Step>,
    },
    /// Real parts then imaginary parts, as `2·bins` bands.
    ReIm,
}

/// A dense `rows x cols` product over each frame's band values: any linear map of the last
/// axis the schedule folds into a matrix (`dct`'s DCT-II, with a following `lifter` folded in as
/// `diag(lifter) · DCT`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dense {
    /// Values out (coefficients).
    pub rows: usize,
    /// Values in (bands).
    pub cols: usize,
    /// Row-major weights.
    pub weights: Vec<f64>,
    /// The ops folded into the matrix, for the text form (`dct · lifter`).
    pub ops: String,
}

/// Storing into the output.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Store {
    /// The output layout.
    pub layout: Vec<OutAxis>,
    /// Values per frame the per-band stage stores.
    pub bands: usize,
}

impl Store {
    /// Whether consecutive frames are adjacent in the output (whole-vector stores).
    pub fn frames_innermost(&self) -> bool {
        self.layout.last().is_some_and(|a| a.parts == ["frames"])
    }
}

/// A clip and the steps after it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipStage {
    /// The clip.
    pub clip: Clip,
    /// Steps after it.
    pub post: Vec<Step>,
}

/// Ops across frames.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CrossFrame {
    /// Each output column minus its mean over the signal's frames (Kaldi's `subtract_mean`).
    SubtractMean,
    /// Time derivatives of the first output columns along the frames (`deltas`): with
    /// `append`, written into the columns after them; else in their place.
    Deltas(Deltas),
}

impl KernelPlan {
    /// The stages of every phase, in order.
    pub fn stages(&self) -> impl Iterator<Item = &Stage> {
        self.phases.iter().flat_map(|p| p.stages.iter())
    }

    /// Values per frame in the output once every phase has run: what the store writes (with an
    /// energy column), or the rows of a dense stage after a clip, times the orders a `deltas`
    /// stage appends.
    pub fn output_values(&self) -> usize {
        let mut values = 0;
        for s in self.stages() {
            match &s.kind {
                StageKind::Column(_) => values += 1,
                StageKind::Store(st) => values += st.bands,
                StageKind::Dense(d) => values = d.rows,
                StageKind::CrossFrame(CrossFrame::Deltas(d)) if d.append => values *= d.order + 1,
                _ => {}
            }
        }
        values
    }

    /// The block phase's store stage (the plan's first phase ends with it).
    pub fn store(&self) -> Option<&Stage> {
        self.phases.first()?.stages.iter().find(|s| matches!(s.kind, StageKind::Store(_)))
    }
}

/// The graph printer's epilogue form of a complex-to-real step and `steps`.
fn steps_text(from: Option<FromComplex>, steps: &[Step]) -> String {
    let e = Epilogue { from, pre: steps.to_vec(), clip: None, post: vec![] };
    let t = op_text(&Op::Epilogue(e));
    t.strip_prefix("epilogue(").and_then(|s| s.strip_suffix(')')).unwrap_or(&t).to_string()
}

fn scope_text(s: Scope, nan: NanMax) -> String {
    let nan = nan.describe();
    match s {
        Scope::Tensor => format!("over the whole tensor{nan}"),
        Scope::Trailing(k) => format!("per slice of the last {k} axes{nan}"),
    }
}

impl fmt::Display for StageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageKind::Load(l) => {
                let op = Op::FramedLoad {
                    pads: l.pads.clone(),
                    length: l.length,
                    hop: l.hop,
                    drop_last: l.drop_last,
                    window: l.window.clone(),
                };
                let t = op_text(&op);
                let inner = t.strip_prefix("framed_load(").and_then(|s| s.strip_suffix(')')).unwrap_or(&t);
                match &l.select {
                    Some((axis, i)) => write!(f, "load{{select {axis}[{i}]; {inner}}}"),
                    None => write!(f, "load{{{inner}}}"),
                }
            }
            StageKind::PerFrame(op) => {
                let op = match op {
                    FrameOp::RemoveDc => Op::RemoveDc,
                    FrameOp::Preemphasis(k) => Op::Preemphasis(*k),
                    FrameOp::Window(t) => Op::WindowTable(t.clone()),
                };
                write!(f, "per_frame({})", op_text(&op))
            }
            StageKind::Column(c) => {
                write!(
                    f,
                    "column({}, {})",
                    op_text(&Op::LogEnergy { min: c.min, floor: c.floor }),
                    if c.last { "last" } else { "first" }
                )
            }
            StageKind::Transform(t) => {
                write!(f, "transform({}", t.plan)?;
                if t.period != t.n {
                    write!(f, ", period {}", t.period)?;
                }
                if t.basis == Precision::F32 {
                    write!(f, ", f32 basis")?;
                }
                match t.power {
                    None => {}
                    Some(SpectrumPower::Power) => write!(f, "; power re^2 + im^2")?,
                    Some(SpectrumPower::MagnitudePow(p)) => write!(f, "; power |x|^{p:?}")?,
                }
                match t.wide {
                    Some(w) => write!(f, "; wide {} x{} where the CPU has it)", w.isa, w.lanes),
                    None => write!(f, ")"),
                }
            }
            StageKind::PerBand(PerBand::Filterbank { matrix, steps, dense }) => {
                let widest = matrix.rows.iter().map(|(_, w)| w.len()).max().unwrap_or(0);
                write!(
                    f,
                    "per_band(filterbank sparse {}x{}, nnz {}, widest {widest}",
                    matrix.rows.len(),
                    matrix.cols,
                    matrix.nnz()
                )?;
                if !steps.is_empty() {
                    write!(f, "; {}", steps_text(None, steps))?;
                }
                match dense {
                    None => write!(f, ")"),
                    Some(d) => write!(f, "; then dense {}x{} ({}))", d.rows, d.cols, d.ops),
                }
            }
            StageKind::PerBand(PerBand::Bins { from, steps }) => {
                write!(f, "per_band(bins {})", steps_text(Some(*from), steps))
            }
            StageKind::PerBand(PerBand::ReIm) => write!(f, "per_band(re | im)"),
            StageKind::Reduce(c) => write!(f, "reduce(max {})", scope_text(c.scope, c.nan)),
            StageKind::Store(s) => {
                let axes: Vec<String> = s.layout.iter().map(|a| a.parts.join(" * ")).collect();
                write!(f, "store({} values per frame, layout {})", s.bands, axes.join(", "))
            }
            StageKind::Clip(c) => {
                let what = match (c.clip.ref_max, c.clip.top) {
                    (false, Some(top)) => format!("max(x, max - {top:?})"),
                    (true, Some(top)) => format!("x - max, then max(x, max(x) - {top:?})"),
                    (_, None) => String::from("x - max"),
                };
                if c.post.is_empty() {
                    write!(f, "clip({what})")
                } else {
                    write!(f, "clip({what}; then {})", steps_text(None, &c.post))
                }
            }
            StageKind::Dense(d) => write!(f, "dense({}x{} per frame, {})", d.rows, d.cols, d.ops),
            StageKind::CrossFrame(CrossFrame::SubtractMean) => {
                write!(f, "cross_frame(subtract_mean over frames)")
            }
            StageKind::CrossFrame(CrossFrame::Deltas(d)) => {
                write!(f, "cross_frame({} over frames)", d.text())
            }
        }
    }
}

impl fmt::Display for KernelPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  kernel plan:")?;
        let bufs: Vec<String> = self.buffers.iter().map(|(b, s)| format!("{} {s}", b.name())).collect();
        writeln!(f, "    buffers: {}", bufs.join("; "))?;
        for (i, p) in self.phases.iter().enumerate() {
            let staged = p.stages.first().is_some_and(|s| s.reads == Buf::Staged);
            let over = match p.over {
                Over::Blocks => "per block of frames",
                Over::Output if staged => "over the staged values, in place",
                Over::Output => "over the output, in place",
                Over::Frames => "per frame, staged values to the output",
                Over::Signals => "per signal, across frames",
            };
            writeln!(f, "    phase {}: {over}", i + 1)?;
            for s in &p.stages {
                writeln!(f, "      %{} {}: {} -> {}", s.node, s.kind, s.reads.name(), s.writes.name())?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Plan(p) => write!(f, "{p}"),
            Schedule::Unsupported(u) => {
                writeln!(f, "  kernel plan: none, the graph runs on the interpreter only ({u})")
            }
        }
    }
}
