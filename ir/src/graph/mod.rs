//! The typed op graph: what to compute, with every library knob explicit.
//!
//! Tensors have named axes. Leading axes (`...`, `batch`, `channels`) are carried through every
//! op; ops act on the trailing "core" axes (`samples`; then `frames` x `taps`; then `frames` x
//! `bins`/`mel`). Sizes are symbolic in `N`, the input's sample count.

pub mod cepstral;
pub mod fft_plan;
pub mod print;
mod shape;
mod verify;

pub use cepstral::*;
pub use print::type_text;
pub use shape::Size;
pub use verify::{infer, infer_all, verify};

use std::fmt;
use std::sync::Arc;

pub use fft_plan::RealPlan;

/// An op declared in its family's module: its name, type rule and graph text in one place.
/// `Op`'s central matches (`name`, `verify::infer`, `print::op_text`) hold one delegating arm
/// per family, so an op added to a family touches only that module (see docs/ARCHITECTURE.md,
/// "How to add an op").
pub trait OpDecl {
    /// Short op name, as in the graph text.
    fn name(&self) -> &'static str;
    /// The result type of an operand of type `t`, or why `t` does not fit.
    fn infer(&self, t: &Type) -> Result<Type, String>;
    /// The op with its attributes, as in the graph text.
    fn text(&self) -> String;
    /// Whether a result value depends on several values of its frame (a transform across the
    /// last axis), so a clip before it must be final before it runs (streaming refuses a
    /// deferred or running clip ahead of such an op).
    fn mixes_frame(&self) -> bool {
        false
    }
}

/// numpy `symmetric` padding's source index for position `j` of an `n`-sample signal: the
/// mirror with the edge repeated, periodic with period `2n`.
pub fn symmetric_index(j: i64, n: i64) -> usize {
    let m = j.rem_euclid(2 * n);
    (if m < n { m } else { 2 * n - 1 - m }) as usize
}

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// Floating-point precision of a computation or a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

impl Precision {
    /// `f32` / `f64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// How the runtime chooses the compute precision from the caller's array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DTypeRule {
    /// Always this precision; float and int16 inputs are cast to it (as Keras casts).
    Fixed(Precision),
    /// The input's own float precision; integer inputs are rejected (as librosa rejects them).
    FollowInput,
}

/// Element kind of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Elem {
    /// Real numbers.
    Real,
    /// Complex numbers.
    Complex,
}

/// One axis: a name and a symbolic size.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axis {
    /// `...`, `batch`, `channels`, `samples`, `frames`, `taps`, `bins`, `mel`.
    pub name: String,
    /// Its size. `...` has no single size.
    pub size: Size,
}

impl Axis {
    /// An axis.
    pub fn new(name: &str, size: Size) -> Self {
        Axis { name: name.to_string(), size }
    }
    /// Whether this is the variadic `...` group of leading axes.
    pub fn is_ellipsis(&self) -> bool {
        self.name == "..."
    }
}

/// Type of a tensor value: element kind and named, sized axes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Type {
    /// Real or complex.
    pub elem: Elem,
    /// Axes, outermost first.
    pub axes: Vec<Axis>,
}

impl Type {
    /// Position of the axis named `name`.
    pub fn axis(&self, name: &str) -> Option<usize> {
        self.axes.iter().position(|a| a.name == name)
    }
    /// The last axis.
    pub fn last(&self) -> &Axis {
        self.axes.last().expect("tensor types have at least one axis")
    }
}

/// Window functions, as scipy / torch define them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WindowKind {
    /// Hann: `0.5 - 0.5 cos(2 pi n / M)`.
    Hann,
    /// Hamming: `0.54 - 0.46 cos(2 pi n / M)`.
    Hamming,
    /// Blackman: `0.42 - 0.5 cos(2 pi n / M) + 0.08 cos(4 pi n / M)`.
    Blackman,
    /// Bartlett (triangular with zero ends).
    Bartlett,
    /// All ones.
    Boxcar,
    /// Kaldi's povey: symmetric Hann to the power 0.85.
    Povey,
}

impl WindowKind {
    /// Every window name the language accepts, with the kind it names. Library spellings
    /// (`hann_window`, `hanning`, `rect`) are aliases.
    pub const NAMES: &'static [(&'static str, WindowKind)] = &[
        ("hann", WindowKind::Hann),
        ("hamming", WindowKind::Hamming),
        ("blackman", WindowKind::Blackman),
        ("bartlett", WindowKind::Bartlett),
        ("boxcar", WindowKind::Boxcar),
        ("povey", WindowKind::Povey),
        ("hann_window", WindowKind::Hann),
        ("hanning", WindowKind::Hann),
        ("hamming_window", WindowKind::Hamming),
        ("blackman_window", WindowKind::Blackman),
        ("bartlett_window", WindowKind::Bartlett),
        ("rect", WindowKind::Boxcar),
        ("rectangular", WindowKind::Boxcar),
        ("ones", WindowKind::Boxcar),
    ];
    /// Looks a window up by name.
    pub fn from_name(name: &str) -> Option<WindowKind> {
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
    /// Canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowKind::Hann => "hann",
            WindowKind::Hamming => "hamming",
            WindowKind::Blackman => "blackman",
            WindowKind::Bartlett => "bartlett",
            WindowKind::Boxcar => "boxcar",
            WindowKind::Povey => "povey",
        }
    }
}

/// Where a window shorter than the frame sits in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Placement {
    /// Zero-padded on both sides, `(frame - length) / 2` zeros on the left (librosa, torch, Keras
    /// `ops.stft`).
    Center,
    /// At the start of the frame, zeros after it (TF `signal.stft`, Keras `STFTSpectrogram`).
    Left,
}

/// A window vector, described rather than stored (the fold pass turns it into a constant).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WindowSpec {
    /// Which function.
    pub kind: WindowKind,
    /// Its length (non-zero part).
    pub length: usize,
    /// Periodic (DFT-even, scipy `fftbins=True`) or symmetric.
    pub periodic: bool,
    /// Where it sits in the frame.
    pub placement: Placement,
    /// The frame length it is placed in.
    pub frame: usize,
    /// Blackman's constant term `a`: `a - 0.5 cos x + (0.5 - a) cos 2x` (0.42 as scipy and
    /// torch; Kaldi's `blackman_coeff`). Other windows ignore it.
    pub blackman: f64,
}

/// Divide the windowed frame by a norm of the window (scipy `scaling`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WindowScaling {
    /// No scaling.
    None,
    /// `/ sqrt(sum w^2)` (scipy/Keras "density" with fs = 1, torch `normalized=True`).
    Density,
    /// `/ sum |w|` (scipy/Keras "spectrum").
    Spectrum,
}

/// Padding modes for the signal's ends.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum PadMode {
    /// A constant value.
    Constant(f64),
    /// Mirror without repeating the edge, extended periodically when the pad is longer than the
    /// signal (numpy / JAX `mode="reflect"`); a 1-sample signal repeats its sample.
    Reflect,
    /// Like `Reflect` but, as torch does, the pad must be shorter than the signal.
    ReflectStrict,
    /// Repeat the edge sample (numpy `edge`, torch `replicate`).
    Edge,
    /// Mirror with the edge sample repeated, `[2, 1, 0, 0, 1, 2]` (numpy `symmetric`, Kaldi's
    /// `snip_edges=false`), extended with period `2N` when the pad is longer than the signal.
    Symmetric,
}

/// How much to pad: fixed amounts, or TF's "SAME" rule that depends on the signal length.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum PadAmount {
    /// Fixed left and right amounts.
    Fixed(usize, usize),
    /// `frames = ceil(N / hop)`, total `max(0, (frames - 1) * hop + length - N)`, the odd
    /// sample on the right.
    Same {
        /// Frame length.
        length: usize,
        /// Hop.
        hop: usize,
    },
    /// Kaldi's `snip_edges=false`: frame t is centred on sample `t * hop + hop / 2`, so
    /// `frames = (N + hop / 2) / hop`; the left amount is `length / 2 - hop / 2` (negative
    /// trims the front) and the right one ends the signal where the last frame ends (negative
    /// trims the end).
    Centered {
        /// Frame length.
        length: usize,
        /// Hop.
        hop: usize,
    },
}

impl PadAmount {
    /// Left and right amounts for an `n`-sample signal; negative amounts trim.
    pub fn amounts(&self, n: usize) -> (i64, i64) {
        match *self {
            PadAmount::Fixed(l, r) => (l as i64, r as i64),
            PadAmount::Same { length, hop } => {
                let frames = n.div_ceil(hop);
                let total = ((frames.saturating_sub(1)) * hop + length).saturating_sub(n) as i64;
                (total / 2, total - total / 2)
            }
            PadAmount::Centered { length, hop } => {
                let (n, length, hop) = (n as i64, length as i64, hop as i64);
                let frames = (n + hop / 2) / hop;
                let left = length / 2 - hop / 2;
                // With no frame the padded length is shorter than a frame (framing gives 0).
                let end = ((frames - 1) * hop + length).max(0);
                (left, end - n - left)
            }
        }
    }
}

/// Mel scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MelScale {
    /// HTK / O'Shaughnessy: `2595 log10(1 + f/700)` = `1127 ln(1 + f/700)`.
    Htk,
    /// Slaney's auditory toolbox: linear below 1 kHz, logarithmic above (librosa default).
    Slaney,
}

/// Domain in which filter triangles are linear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TriangleDomain {
    /// Linear in mel (TF, Keras, Kaldi).
    Mel,
    /// Linear in Hz between mel-spaced edges (librosa, torchaudio, Whisper).
    Hz,
}

/// Frequencies assigned to FFT bins.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum BinGrid {
    /// `linspace(0, top, F)` (Keras/TF with top = rate/2; torchaudio with top = rate // 2).
    Linspace {
        /// The last bin's frequency.
        top: f64,
    },
    /// `k * rate / n_fft` (librosa `fft_frequencies`, numpy `rfftfreq`).
    Rfftfreq,
}

/// Filter normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MelNorm {
    /// Peak 1.
    None,
    /// Slaney area normalisation: `2 / (f[i+2] - f[i])`.
    Slaney,
}

/// A mel filterbank, described rather than stored.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MelSpec {
    /// Number of mel bands.
    pub bands: usize,
    /// Sample rate, Hz.
    pub rate: f64,
    /// FFT length the bins come from.
    pub n_fft: usize,
    /// Lowest band edge, Hz.
    pub fmin: f64,
    /// Highest band edge, Hz.
    pub fmax: f64,
    /// Mel formula.
    pub scale: MelScale,
    /// Where triangles are linear.
    pub triangles: TriangleDomain,
    /// Bin frequencies.
    pub grid: BinGrid,
    /// Filter normalisation.
    pub norm: MelNorm,
    /// Force the DC bin's weights to zero (TF/Keras `bands_to_zero = 1`).
    pub zero_dc: bool,
    /// Arithmetic the library builds the table in. Keras builds it in float32 whatever the
    /// layer's dtype; near triangle edges its weights differ from exact ones by ~1e-5, which a
    /// strong tone at an edge turns into dB differences of 5e-3, so we build it the same way.
    pub table: MelTable,
}

/// How a mel filterbank's weights are computed (see `consts::mel::filterbank`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MelTable {
    /// Exactly, in f64 (librosa computes in float64).
    F64,
    /// In float32 as XLA compiles Keras's `linear_to_mel_weight_matrix` on CPU.
    XlaF32,
    /// In float32 as torch computes torchaudio's `melscale_fbanks`.
    TorchF32,
}

/// How the `top_db` maximum treats NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NanMax {
    /// A NaN makes the maximum NaN, and so every clipped value (numpy, torch).
    Propagate,
    /// NaNs are passed over in a scope of at least `from` values; in a smaller scope a NaN
    /// makes the maximum NaN. XLA's CPU `reduce_max` (Keras on JAX) does this with `from` 4096:
    /// below it XLA rewrites the reduction into a tree of reduce-windows whose `maximum`
    /// propagates NaN; from it the reduction goes to YNNPACK, whose vector maximum passes NaN
    /// over.
    Skip {
        /// The fewest values for which NaN is passed over (0: always).
        from: usize,
    },
}

impl NanMax {
    /// Whether a NaN among `values` values makes the maximum NaN.
    pub fn propagates(self, values: usize) -> bool {
        match self {
            NanMax::Propagate => true,
            NanMax::Skip { from } => values < from,
        }
    }

    /// How a kernel plan describes the rule: nothing for propagation (the default).
    pub fn describe(self) -> String {
        match self {
            NanMax::Propagate => String::new(),
            NanMax::Skip { from: 0 } => String::from(", NaN skipped"),
            NanMax::Skip { from } => format!(", NaN skipped from {from} values"),
        }
    }
}

/// Over which axes `top_db` takes its maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    /// The whole tensor, batch included (Keras, librosa 0.11, Whisper).
    Tensor,
    /// Each slice over the last `k` axes of the output (torchaudio: 3).
    Trailing(usize),
}

/// Elementwise real functions.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Unary {
    /// `sqrt(x)`
    Sqrt,
    /// `ln(x)`
    Ln,
    /// `log10(x)`
    Log10,
    /// `x ^ p`
    Pow(f64),
    /// `max(x, v)` (a NaN `x` stays NaN)
    ClampMin(f64),
    /// `x * a + b`
    Affine(f64, f64),
}

/// One axis of a layout's output: a product of internal axes (`channels * bins`), or `...`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutAxis {
    /// Internal axis names, outermost first; the output axis is their flattening.
    pub parts: Vec<String>,
}

/// A constant table folded at compile time: `rows x cols` values in f64, row-major. Code
/// generation stores them in the kernel's dtype.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Table {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Values.
    pub data: Arc<Vec<f64>>,
}

impl Table {
    /// Number of non-zero entries.
    pub fn nnz(&self) -> usize {
        self.data.iter().filter(|v| **v != 0.0).count()
    }
    /// FNV-1a over the values' bits: a stable fingerprint for the graph text.
    pub fn checksum(&self) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        for v in self.data.iter() {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
        }
        h
    }
}

/// A filterbank stored by rows as one contiguous non-zero range each (triangular filters touch
/// a few bins each).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SparseRows {
    /// Number of input bins.
    pub cols: usize,
    /// Per row: first bin and the weights from there.
    pub rows: Vec<(usize, Vec<f64>)>,
}

impl SparseRows {
    /// Non-zero weights stored.
    pub fn nnz(&self) -> usize {
        self.rows.iter().map(|(_, w)| w.len()).sum()
    }
    /// The same matrix, dense.
    pub fn dense(&self) -> Table {
        let mut data = vec![0.0; self.rows.len() * self.cols];
        for (r, (start, w)) in self.rows.iter().enumerate() {
            data[r * self.cols + start..r * self.cols + start + w.len()].copy_from_slice(w);
        }
        Table { rows: self.rows.len(), cols: self.cols, data: Arc::new(data) }
    }
}

/// Complex bins to real values, the first step of a fused tail.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FromComplex {
    /// `re^2 + im^2`
    Power,
    /// `sqrt(re^2 + im^2)`
    Magnitude,
    /// `re`
    Real,
    /// `im`
    Imag,
    /// `atan2(im, re)`
    Angle,
}

/// One elementwise step of a fused tail.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Step {
    /// A real function.
    Unary(Unary),
    /// Multiply.
    Scale(f64),
    /// Double bins 1..F-1 (and the last when `last`): depends on the bin index only.
    DoubleInterior {
        /// Double the last bin too.
        last: bool,
    },
    /// `mult * log10(max(x, amin)) - offset`, the reference folded into `offset`.
    Log {
        /// 10, 20 or 1.
        mult: f64,
        /// Floor.
        amin: f64,
        /// `mult * log10(max(|ref|, amin))`.
        offset: f64,
    },
}

/// The dynamic-range clip `max(x, max_over_scope(x) - top)`; with `ref_max`, first
/// `x - max_over_scope(x)` (librosa's `ref=np.max`: the dB are relative to the loudest value),
/// then the clip against the maximum of that.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clip {
    /// Range below the maximum (`None`: no clip, only the `ref_max` shift).
    pub top: Option<f64>,
    /// Where the maximum is taken.
    pub scope: Scope,
    /// How NaN enters the maximum.
    pub nan: NanMax,
    /// Subtract the scope's maximum before clipping.
    pub ref_max: bool,
}

impl Clip {
    /// The clip of a `db` op, if it needs one: a `top_db`, or a reference that is the
    /// maximum over the scope.
    pub fn of_db(reference: DbRef, top_db: Option<f64>, scope: Scope, nan: NanMax) -> Option<Clip> {
        let ref_max = reference == DbRef::Max;
        (top_db.is_some() || ref_max).then_some(Clip { top: top_db, scope, nan, ref_max })
    }

    /// What the clip subtracts from every value, given the scope's maximum `m`.
    pub fn shift(&self, m: f64) -> f64 {
        if self.ref_max {
            m
        } else {
            0.0
        }
    }

    /// The floor `max(x - shift, floor)` applies, given the scope's maximum `m` (before the
    /// shift). With `ref_max` the shifted values' maximum is `m - m` (0, or NaN when `m` is
    /// not finite, as numpy's `log_spec.max()` is then); without a `top` the floor is `-inf`.
    pub fn floor(&self, m: f64) -> f64 {
        match self.top {
            None => f64::NEG_INFINITY,
            Some(top) => (m - self.shift(m)) - top,
        }
    }
}

/// The reference of a `db` op.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DbRef {
    /// A fixed value (its absolute value is used, as librosa and Keras do).
    Value(f64),
    /// The maximum of the input over the op's scope (librosa's `ref=np.max`).
    Max,
}

/// A fused elementwise tail: complex-to-real, steps, an optional clip against a reduction, steps.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Epilogue {
    /// Complex-to-real first step, when the input is complex.
    pub from: Option<FromComplex>,
    /// Steps before the clip.
    pub pre: Vec<Step>,
    /// The clip, which needs the maximum of `pre`'s result over its scope.
    pub clip: Option<Clip>,
    /// Steps after the clip.
    pub post: Vec<Step>,
}

/// What the sparse power-filterbank takes of each bin.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SpectrumPower {
    /// `re^2 + im^2`.
    Power,
    /// `sqrt(re^2 + im^2) ^ p` (Keras `mag_exp`, librosa/torchaudio `power`).
    MagnitudePow(f64),
}

/// One padding step of a framed load.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PadStep {
    /// Amounts.
    pub amount: PadAmount,
    /// Mode.
    pub mode: PadMode,
}

/// Operations. Each acts on the trailing axes named in its doc and keeps leading axes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// The input signal. `user_axes` is the caller's axis order; the node's type has the same
    /// axes with `samples` moved last.
    Input {
        /// Axis names as the caller lays them out.
        user_axes: Vec<String>,
    },
    /// Pads `samples`.
    Pad {
        /// Amounts.
        amount: PadAmount,
        /// Mode.
        mode: PadMode,
    },
    /// Keeps one index of a leading input axis and drops the axis (Kaldi's `channel`).
    Select {
        /// The axis (`channels` or `batch`).
        axis: String,
        /// The index kept.
        index: usize,
    },
    /// Passes `samples` through; a signal of fewer than `count` samples is an error saying
    /// `why` (a library's length check, e.g. Kaldi's `min_duration`).
    MinSamples {
        /// Fewest samples accepted.
        count: usize,
        /// The library's reason, for the error.
        why: String,
    },
    /// Right-pads `samples` with zeros (e.g. Whisper's `padding`).
    PadRight(usize),
    /// `samples` -> `frames x taps`: frame t is samples `[t*hop, t*hop + length)`.
    Frames {
        /// Frame length.
        length: usize,
        /// Hop.
        hop: usize,
        /// Drop the last frame (Whisper's `stft[..., :-1]`).
        drop_last: bool,
    },
    /// Multiplies each frame by a window and divides by the window's norm.
    Window {
        /// Which window, where.
        window: WindowSpec,
        /// Norm division.
        scaling: WindowScaling,
    },
    /// Removes each frame's mean (Kaldi `remove_dc_offset`).
    RemoveDc,
    /// Per frame `y[i] = x[i] - coeff * x[i - 1]`, with `x[-1] = x[0]` (Kaldi
    /// `preemphasis_coefficient`).
    Preemphasis(f64),
    /// `taps` -> complex `bins`: `X[k] = sum_t x[t] exp(-2 pi i t k / period)`,
    /// `k < n/2 + 1`, frame zero-padded to `n`. `period` is `n` except to reproduce Keras's
    /// odd-length basis.
    Rfft {
        /// Transform length.
        n: usize,
        /// DFT period.
        period: usize,
        /// Arithmetic of the basis: `F32` reproduces a library that builds its DFT kernels in
        /// float32 (Keras's STFT convolution), which decides where `inf * 0` makes NaN.
        basis: Precision,
    },
    /// `re^2 + im^2`.
    Power,
    /// `sqrt(re^2 + im^2)`.
    Magnitude,
    /// Real part.
    Real,
    /// Imaginary part.
    Imag,
    /// `atan2(im, re)`.
    Angle,
    /// Complex `bins` -> real `2 bins`: all real parts, then all imaginary parts.
    ConcatReIm,
    /// Multiplies every element by a constant.
    Scale(f64),
    /// Elementwise function of a real tensor.
    Unary(Unary),
    /// Doubles bins `1 .. F-1` (and the last one too when `last`), as one-sided PSDs do.
    DoubleInterior {
        /// Double the last bin too.
        last: bool,
    },
    /// `bins` -> `mel` through a filterbank.
    Mel(MelSpec),
    /// `mult * log10(max(x, amin)) - mult * log10(max(|ref|, amin))`, then
    /// `max(x, max_over_scope(x) - top_db)`.
    Db {
        /// 10 for power, 20 for amplitude, 1 for plain log10.
        mult: f64,
        /// Floor.
        amin: f64,
        /// Reference.
        reference: DbRef,
        /// Dynamic range below the maximum, if clipped.
        top_db: Option<f64>,
        /// Where the maximum is taken.
        scope: Scope,
        /// How the maximum treats NaN.
        nan: NanMax,
    },
    /// Permutes and merges axes into the output layout.
    Layout(Vec<OutAxis>),
    /// `frames x taps` -> `frames`: each frame's log energy `ln(max(sum x^2, min))` (NaN
    /// propagates), then `max(.., ln(floor))` when a floor is given (Kaldi's `_get_log_energy`).
    LogEnergy {
        /// Floor on the energy before the log (float32 epsilon in Kaldi).
        min: f64,
        /// Floor on the energy, applied after the log as `ln(floor)`.
        floor: Option<f64>,
    },
    /// Two operands, `frames x K` and a per-frame `frames`: the second becomes a column of the
    /// first's last axis, `frames x (K + 1)` (Kaldi's energy column).
    Concat {
        /// At the end of the last axis (Kaldi `htk_compat`), else at its start.
        at_end: bool,
    },
    /// `frames x K`: each column minus its mean over frames, per signal (Kaldi's
    /// `subtract_mean`).
    SubtractMean,
    /// The cepstral family (`dct`, `lifter`, `deltas`), declared in `graph/cepstral.rs`.
    Cepstral(Cepstral),

    // Forms made by the passes.
    /// `window` folded: multiply taps by a `1 x taps` table.
    WindowTable(Table),
    /// `mel` folded: a dense `bands x bins` table.
    MelTable(Table),
    /// `db` with its reference folded: `mult * log10(max(x, amin)) - offset`, then the clip.
    DbFolded {
        /// 10, 20 or 1.
        mult: f64,
        /// Floor.
        amin: f64,
        /// `mult * log10(max(|ref|, amin))`.
        offset: f64,
        /// The clip, if any.
        clip: Option<Clip>,
    },
    /// Pads, framing and windowing in one load straight from the signal: samples -> frames x
    /// taps, no padded copy of the signal.
    FramedLoad {
        /// Pads applied in order.
        pads: Vec<PadStep>,
        /// Frame length.
        length: usize,
        /// Hop.
        hop: usize,
        /// Drop the last frame.
        drop_last: bool,
        /// Window table, if any.
        window: Option<Table>,
    },
    /// Complex bins -> mel through a sparse filterbank, the power computed on the fly. Keeps the
    /// dense product's meaning: a non-finite bin makes NaN every band it has a zero weight in.
    PowerMel {
        /// What of each bin.
        power: SpectrumPower,
        /// The filterbank.
        matrix: SparseRows,
    },
    /// A fused elementwise tail.
    Epilogue(Epilogue),
    /// `rfft` with an explicit plan.
    Fft {
        /// Transform length.
        n: usize,
        /// DFT period.
        period: usize,
        /// Basis arithmetic.
        basis: Precision,
        /// The plan for `period` points.
        plan: RealPlan,
    },
}

impl Op {
    /// Whether a result value depends on several values of its frame (see
    /// [`OpDecl::mixes_frame`]): a filterbank or an op that declares it.
    pub fn mixes_frame(&self) -> bool {
        match self {
            Op::Cepstral(c) => c.mixes_frame(),
            Op::Mel(_) | Op::MelTable(_) | Op::PowerMel { .. } | Op::Rfft { .. } | Op::Fft { .. } => true,
            _ => false,
        }
    }
    /// Short op name, as in the graph text.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Pad { .. } => "pad",
            Op::PadRight(_) => "pad_right",
            Op::MinSamples { .. } => "min_samples",
            Op::Select { .. } => "select",
            Op::Frames { .. } => "frames",
            Op::Window { .. } => "window",
            Op::RemoveDc => "remove_dc",
            Op::Preemphasis(_) => "preemphasis",
            Op::Rfft { .. } => "rfft",
            Op::Power => "power",
            Op::Magnitude => "magnitude",
            Op::Real => "real",
            Op::Imag => "imag",
            Op::Angle => "angle",
            Op::ConcatReIm => "concat_re_im",
            Op::Scale(_) => "scale",
            Op::Unary(u) => match u {
                Unary::Sqrt => "sqrt",
                Unary::Ln => "ln",
                Unary::Log10 => "log10",
                Unary::Pow(_) => "pow",
                Unary::ClampMin(_) => "clamp",
                Unary::Affine(..) => "affine",
            },
            Op::DoubleInterior { .. } => "double_interior",
            Op::Mel(_) => "mel",
            Op::Db { .. } => "db",
            Op::Layout(_) => "layout",
            Op::LogEnergy { .. } => "log_energy",
            Op::Concat { .. } => "concat",
            Op::SubtractMean => "subtract_mean",
            Op::Cepstral(c) => c.name(),
            Op::WindowTable(_) => "window_table",
            Op::MelTable(_) => "mel_table",
            Op::DbFolded { .. } => "db_folded",
            Op::FramedLoad { .. } => "framed_load",
            Op::PowerMel { .. } => "power_mel",
            Op::Epilogue(_) => "epilogue",
            Op::Fft { .. } => "fft",
        }
    }
}

/// A node: an op, its inputs, its result type, and the spec text it came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Operand nodes.
    pub inputs: Vec<NodeId>,
    /// Result type.
    pub ty: Type,
    /// The spec's words for it (`rfft(fft_length)`), shown as a comment in the graph text.
    pub origin: String,
}

/// A whole program: one input, one output.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Graph {
    /// The spec's name.
    pub name: String,
    /// Nodes in topological order; node 0 is the input.
    pub nodes: Vec<Node>,
    /// The result.
    pub output: NodeId,
    /// How the compute precision is chosen.
    pub dtype: DTypeRule,
    /// Array dtypes callers may pass (numpy names).
    pub accepts: Vec<String>,
    /// NaN and inf samples are rejected.
    pub finite_only: bool,
    /// Declared sample rate, Hz, when the spec names one.
    pub rate: Option<f64>,
    /// The kernel plan (or why there is none), once the schedule pass has run.
    pub schedule: Option<crate::kernel::Schedule>,
}

impl Graph {
    /// The input node's type (axes in internal order, `samples` last).
    pub fn input_type(&self) -> &Type {
        &self.nodes[0].ty
    }
    /// The caller-facing axis names of the input.
    pub fn user_axes(&self) -> &[String] {
        match &self.nodes[0].op {
            Op::Input { user_axes } => user_axes,
            _ => unreachable!("node 0 is the input"),
        }
    }
    /// The output node's type.
    pub fn output_type(&self) -> &Type {
        &self.nodes[self.output].ty
    }
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print::write_graph(self, f)
    }
}
