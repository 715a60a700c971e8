//! # specc
//!
//! A compiler for audio feature pipelines. A short spec describes a pipeline (frame -> window
//! -> FFT -> power -> mel -> dB, or an STFT output mode); specc parses it into an op graph and
//! runs it, with results equal to the library the spec reproduces (Keras, librosa, torchaudio,
//! Whisper).
//!
//! ```
//! use specc::{Pipeline, Input};
//! use ndarray::ArrayD;
//!
//! // Keras MelSpectrogram(num_mel_bins=64, sampling_rate=8000) on two 1 s clips.
//! let p = Pipeline::preset("keras_mel", &["num_mel_bins=64", "sampling_rate=8000"])?;
//! let x = ArrayD::<f32>::zeros(vec![2, 8000]);
//! let y = p.run(&Input::F32(x.view()))?;
//! assert_eq!(y.shape(), &[2, 64, 16]);
//! # Ok::<(), specc::Error>(())
//! ```
#![warn(missing_docs)]

use std::path::Path;

pub use specc_compiler::diag::{ErrorKind, SpecError};
pub use specc_compiler::graph::Graph;
pub use specc_compiler::{Compiled, ParamInfo};
pub use specc_runtime::{audio, figure, image, npy, pool, remove_temporaries};
pub use specc_runtime::{Engine, Input, IsaChoice, Limits, Output, Plan, RunError};

use specc_runtime::{Programs, RunOptions};
use std::sync::Arc;

pub mod aot;
mod stream;
pub use stream::{ClipMode, Stream};

/// The shipped specs, embedded so they work from any directory: (name, text).
pub const PRESETS: &[(&str, &str)] = &[
    ("keras_mel", include_str!("../specs/keras_mel.spec")),
    ("keras_stft", include_str!("../specs/keras_stft.spec")),
    ("librosa_mel", include_str!("../specs/librosa_mel.spec")),
    ("librosa_stft", include_str!("../specs/librosa_stft.spec")),
    ("torchaudio_mel", include_str!("../specs/torchaudio_mel.spec")),
    ("whisper", include_str!("../specs/whisper.spec")),
    ("kaldi_fbank", include_str!("../specs/kaldi_fbank.spec")),
    ("librosa_mfcc", include_str!("../specs/librosa_mfcc.spec")),
    ("torchaudio_mfcc", include_str!("../specs/torchaudio_mfcc.spec")),
    ("kaldi_mfcc", include_str!("../specs/kaldi_mfcc.spec")),
];

/// Every error specc reports.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    /// The spec or a `--set` value is wrong; carries the source span.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Spec(Box<SpecError>),
    /// The input does not fit the program.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A file could not be read or written.
    #[error(transparent)]
    Npy(#[from] npy::NpyError),
    /// A spec file could not be read, or names no file nor preset.
    #[error("{0}")]
    Io(String),
    /// The command line asks for something impossible (an output path that cannot hold the
    /// inputs, a malformed option value); the CLI exits with status 2 for these, as for the
    /// argument parser's own errors.
    #[error("{0}")]
    Usage(String),
    /// Some inputs of a run failed; each was reported with its reason.
    #[error("some inputs failed")]
    Failed,
    /// A bug in specc: a pass produced an invalid graph.
    #[error("{0}")]
    Internal(String),
    /// The spec could not be compiled ahead of time, or its files not written.
    #[error("{0}")]
    Aot(String),
}

impl From<Box<SpecError>> for Error {
    fn from(e: Box<SpecError>) -> Self {
        Error::Spec(e)
    }
}

/// A compiled pipeline, ready to run on inputs of any batch shape.
#[derive(Clone, Debug)]
pub struct Pipeline {
    compiled: Compiled,
    optimized: Graph,
    engine: Engine,
    limits: Limits,
    threads: usize,
    /// Machine code per precision, compiled on first use and shared by clones.
    programs: Arc<Programs>,
    /// The spec text and `--set` values, for diagnostics that point into them after
    /// compilation (a spec that cannot stream).
    source: Arc<specc_compiler::diag::Source>,
}

impl Pipeline {
    /// Compiles spec `text` (called `name` in diagnostics) with `name=value` overrides.
    pub fn compile(name: &str, text: &str, sets: &[&str]) -> Result<Pipeline, Error> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let compiled = specc_compiler::compile(name, text, &sets)?;
        let source = Arc::new(specc_compiler::diag::Source {
            name: name.to_string(),
            text: Arc::from(text),
            sets: sets.iter().map(|s| Arc::from(s.as_str())).collect(),
        });
        let optimized = specc_compiler::passes::optimize(compiled.graph.clone()).map_err(Error::Internal)?;
        Ok(Pipeline {
            compiled,
            optimized,
            engine: Engine::default(),
            limits: Limits::default(),
            threads: 0,
            programs: Arc::new(Programs::new(IsaChoice::process_default())),
            source,
        })
    }

    /// Compiles a shipped spec by name (see [`PRESETS`]).
    pub fn preset(name: &str, sets: &[&str]) -> Result<Pipeline, Error> {
        let text = preset_text(name).ok_or_else(|| unknown_spec(name, false))?;
        Pipeline::compile(&format!("{name}.spec"), text, sets)
    }

    /// Compiles a spec file, or a preset by name when no such file exists.
    pub fn open(spec: &str, sets: &[&str]) -> Result<Pipeline, Error> {
        let (name, text) = spec_text(spec)?;
        Pipeline::compile(&name, &text, sets)
    }

    /// The param that sets the input's sample rate (the `NAME` of the spec's `input ... at
    /// NAME`), e.g. `sr` for librosa_mel; `None` when the rate is a fixed number (Whisper's
    /// 16 kHz) or the spec declares none.
    pub fn rate_param(&self) -> Option<&str> {
        use specc_compiler::syntax::ast::{ExprKind, Item};
        self.compiled.spec.items.iter().find_map(|item| match item {
            Item::Input(input) => match &input.rate.as_ref()?.kind {
                ExprKind::Ident(name) if self.params().iter().any(|p| &p.name == name) => Some(name.as_str()),
                _ => None,
            },
            _ => None,
        })
    }

    /// Chooses the engine.
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// Sets how many threads a run uses (a batch is split over (signal, block of frames) tasks,
    /// and [`Pipeline::run_many`] runs inputs in parallel); 0 (the default) means one per core,
    /// and more than the core count is capped to it. The threads belong to one pool per process,
    /// reused by every run and rebuilt in a `fork()`ed child (see [`pool`]).
    /// Results are identical for every thread count.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Chooses the instruction set the JIT compiles for: the host's (with AVX and FMA where
    /// present), the host's with the FFT on the AVX2+FMA wide kernels (`IsaChoice::Avx2`, 8
    /// frames per block; the host's alone on a CPU without them), or the x86-64 baseline (SSE2,
    /// no FMA), e.g. to check results on each. The default is `IsaChoice::process_default()`:
    /// `Avx2` on CPUs with AVX2 and FMA unless `SPECC_ISA=sse`.
    pub fn with_isa(mut self, isa: IsaChoice) -> Self {
        self.programs = Arc::new(Programs::new(isa));
        self
    }

    /// The engine that runs inputs of `precision` (`f32` or `f64`) and why, when the JIT was
    /// asked for but cannot compile this graph (it then runs on the interpreter). Compiles the
    /// JIT program if it was not yet (its compile time is part of the first run otherwise).
    pub fn engine_for(&self, precision: specc_compiler::graph::Precision) -> (Engine, Option<String>) {
        match self.engine {
            Engine::Interp => (Engine::Interp, None),
            Engine::Jit => match specc_runtime::jit_support(&self.programs, &self.optimized, precision) {
                Ok(()) => (Engine::Jit, None),
                Err(why) => (Engine::Interp, Some(why)),
            },
        }
    }

    /// What the JIT runs for inputs of `precision`: frames per block, the FFT plan and whether
    /// it runs on the wide kernels (e.g. `f32 x8 (kernels x4 twice): load 400 taps, fft real
    /// 400 = ... on the wide avx2 kernels, tail 80 values, clip`); `Err` says why the JIT cannot
    /// run this graph. Compiles the program if it was not yet.
    pub fn jit_kernels(&self, precision: specc_compiler::graph::Precision) -> Result<String, String> {
        specc_runtime::jit_description(&self.programs, &self.optimized, precision)
    }

    fn options(&self, threads: usize) -> RunOptions<'_> {
        RunOptions { engine: self.engine, programs: Some(&self.programs), threads }
    }

    /// Sets resource limits: [`Limits::max_bytes`] bounds a run's working memory (checked in
    /// [`Pipeline::plan`]) and, in the CLI, the audio decoded and resampled for it and any input
    /// read from a pipe or device.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The resource limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The op graph as lowered from the spec, before any pass.
    pub fn graph(&self) -> &Graph {
        &self.compiled.graph
    }

    /// The graph after every pass: what runs.
    pub fn optimized(&self) -> &Graph {
        &self.optimized
    }

    /// The graph after the passes up to and including `pass` (see
    /// [`specc_compiler::passes::PASSES`]).
    pub fn graph_after(&self, pass: &str) -> Result<Graph, Error> {
        specc_compiler::passes::run_until(self.compiled.graph.clone(), Some(pass)).map_err(Error::Io)
    }

    /// The params in force.
    pub fn params(&self) -> &[ParamInfo] {
        &self.compiled.params
    }

    /// The output shape and frame count for an input shape and dtype, without running.
    pub fn plan(&self, shape: &[usize], dtype: &str) -> Result<Plan, Error> {
        Ok(specc_runtime::plan(&self.optimized, shape, dtype, &self.limits)?)
    }

    /// Runs the pipeline on `input`.
    pub fn run(&self, input: &Input<'_>) -> Result<Output, Error> {
        Ok(specc_runtime::run_with(&self.optimized, input, &self.limits, self.options(self.threads))?)
    }

    /// Runs the pipeline on `input` into a caller's buffer, which must have the planned output
    /// shape (see [`Pipeline::plan`]) and the output's precision.
    ///
    /// ```
    /// use specc::{Input, Output, Pipeline};
    /// let p = Pipeline::preset("whisper", &[])?;
    /// let x = ndarray::ArrayD::<f32>::zeros(vec![16000]);
    /// let shape = p.plan(x.shape(), "float32")?.output_shape;
    /// let mut out = Output::F32(ndarray::ArrayD::zeros(shape));
    /// p.run_into(&Input::F32(x.view()), &mut out)?;
    /// assert_eq!(out.shape(), &[80, 100]);
    /// # Ok::<(), specc::Error>(())
    /// ```
    pub fn run_into(&self, input: &Input<'_>, out: &mut Output) -> Result<(), Error> {
        let plan = self.plan(input.shape(), input.dtype_name())?;
        let fits = match (&*out, plan.precision) {
            (Output::F32(a), specc_compiler::graph::Precision::F32) => a.shape() == plan.output_shape,
            (Output::F64(a), specc_compiler::graph::Precision::F64) => a.shape() == plan.output_shape,
            _ => false,
        };
        if !fits {
            return Err(Error::Run(RunError::Shape {
                shape: out.shape().to_vec(),
                expected: format!("{:?} {}", plan.output_shape, plan.precision.as_str()),
                why: String::from("the output buffer must have the planned shape and precision"),
            }));
        }
        Ok(specc_runtime::run_into(&self.optimized, input, &self.limits, self.options(self.threads), out)?)
    }

    /// Runs the pipeline on several inputs in parallel (see [`Pipeline::with_threads`]); one
    /// result per input, in order. A failing input does not stop the others.
    pub fn run_many(&self, inputs: &[Input<'_>]) -> Vec<Result<Output, Error>> {
        use rayon::prelude::*;
        // Inputs run in parallel, each on one thread.
        let one = |x: &Input<'_>| -> Result<Output, Error> {
            Ok(specc_runtime::run_with(&self.optimized, x, &self.limits, self.options(1))?)
        };
        // The process's shared pool (see `specc::pool`): no threads are started per call.
        match specc_runtime::pool::pool(self.threads) {
            Ok(pool) if inputs.len() > 1 => pool.install(|| inputs.par_iter().map(one).collect()),
            _ => inputs.iter().map(one).collect(),
        }
    }
}

/// What the values are while walking the graph from its input to its output.
enum Values {
    /// Samples or frames of samples.
    Signal,
    /// Complex FFT bins.
    Complex,
    /// A linear power-like quantity, turned into dB by `mult * log10`.
    Linear(String, f64),
    /// Anything else (logarithmic, signed, phases): named only.
    Other(String),
}

impl Values {
    fn name(&self) -> String {
        match self {
            Values::Signal => String::from("amplitude"),
            Values::Complex => String::from("complex FFT bins"),
            Values::Linear(n, _) | Values::Other(n) => n.clone(),
        }
    }
}

/// A number as an axis or title shows it (`0.25`, `4`, not `4.0`).
fn short_num(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Pipeline {
    /// What the output for an input of shape `input_shape` shows, for drawing it with
    /// [`figure::render_png`] or [`figure::render_svg`]: one [`figure::FigureAxis`] per output
    /// axis (frames as time in seconds from the hop, the rate and the padding before framing;
    /// mel bands with their centre frequencies in Hz; FFT bins with their frequencies; leading
    /// axes as panels), the value's unit (dB, power, magnitude, ln, ...) and a title naming the
    /// spec and the params that were set (`librosa_mel (n_mels=64)`).
    ///
    /// Everything is read from the graph the spec lowers to, so a spec file of your own gets
    /// the same treatment as a preset. Without a sample rate in the spec, time is in frames and
    /// FFT bins are numbered.
    ///
    /// ```
    /// use specc::{figure, Input, Pipeline};
    /// let p = Pipeline::preset("librosa_mel", &["n_mels=64"])?;
    /// let x = ndarray::ArrayD::<f32>::zeros(vec![22050]);
    /// let y = p.run(&Input::F32(x.view()))?;
    /// let info = p.figure_info(x.shape())?;
    /// assert_eq!(info.title, "librosa_mel (n_mels=64)");
    /// let opts = figure::FigureOptions { width: Some(600), height: Some(300), ..Default::default() };
    /// let values = ndarray::ArrayD::from_shape_vec(y.shape(), y.to_f64().iter().map(|&v| v as f32).collect())?;
    /// let png = figure::render_png(values.view(), &info, &opts)?;
    /// assert_eq!((png.width, png.height), (600, 300));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn figure_info(&self, input_shape: &[usize]) -> Result<figure::FigureInfo, Error> {
        use figure::{AxisKind, FigureAxis};
        use specc_compiler::consts::mel::{hz_to_mel, linspace, mel_to_hz};
        use specc_compiler::graph::{Op, Unary};
        let g = self.graph();
        let dtype = g.accepts.first().map_or("float32", String::as_str);
        let out_shape = self.plan(input_shape, dtype)?.output_shape;
        // The signal's length: `samples` counted from the end when the layout has `...`.
        let user = g.user_axes();
        let s_pos = user.iter().position(|a| a == "samples").unwrap_or(user.len().saturating_sub(1));
        let samples = if user.iter().any(|a| a == "...") {
            input_shape.len().checked_sub(user.len() - s_pos).map(|i| input_shape[i])
        } else {
            input_shape.get(s_pos).copied()
        }
        .unwrap_or(0) as f64;
        // The op chain from input to output (every op has its data operand first).
        let mut chain = vec![g.output];
        while let Some(&i) = g.nodes[*chain.last().unwrap_or(&0)].inputs.first() {
            chain.push(i);
        }
        chain.reverse();
        let rate = g.rate;
        let (mut n, mut left) = (samples, 0.0);
        let mut time: Option<(f64, f64)> = None;
        let mut bins: Option<(usize, usize)> = None; // (n_fft, bins)
        let mut concat = false;
        let mut mel: Option<Vec<f64>> = None;
        let mut v = Values::Signal;
        for &id in &chain {
            v = match &g.nodes[id].op {
                Op::Pad { amount, .. } if time.is_none() => {
                    let (l, r) = amount.amounts(n as usize);
                    let (l, r) = (l as f64, r as f64);
                    n += l + r;
                    left += l;
                    v
                }
                Op::PadRight(k) => {
                    n += *k as f64;
                    v
                }
                Op::Frames { length, hop, .. } => {
                    time = Some((*length as f64 / 2.0 - left, *hop as f64));
                    v
                }
                Op::Rfft { n, .. } | Op::Fft { n, .. } => {
                    bins = Some((*n, n / 2 + 1));
                    Values::Complex
                }
                Op::Power => Values::Linear(String::from("power"), 10.0),
                Op::Magnitude => Values::Linear(String::from("magnitude"), 20.0),
                Op::Real => Values::Other(String::from("real part")),
                Op::Imag => Values::Other(String::from("imaginary part")),
                Op::Angle => Values::Other(String::from("phase (rad)")),
                Op::ConcatReIm => {
                    concat = true;
                    Values::Other(String::from("real part | imaginary part"))
                }
                Op::Mel(m) => {
                    let edges = linspace(hz_to_mel(m.fmin, m.scale), hz_to_mel(m.fmax, m.scale), m.bands + 2);
                    mel = Some(edges[1..=m.bands].iter().map(|&e| mel_to_hz(e, m.scale)).collect());
                    match v {
                        Values::Linear(name, mult) => Values::Linear(format!("mel {name}"), mult),
                        other => Values::Other(format!("mel {}", other.name())),
                    }
                }
                Op::Unary(u) => match (u, v) {
                    (Unary::Pow(p), Values::Linear(name, mult)) => match (name.as_str(), *p) {
                        (_, 1.0) => Values::Linear(name, mult),
                        ("magnitude", 2.0) => Values::Linear(String::from("power"), 10.0),
                        (_, p) => Values::Linear(format!("{name}^{}", short_num(p)), mult / p),
                    },
                    (Unary::Sqrt, Values::Linear(name, mult)) if name.ends_with("power") => {
                        Values::Linear(name.replace("power", "magnitude"), mult * 2.0)
                    }
                    (Unary::Sqrt, Values::Linear(name, mult)) => {
                        Values::Linear(format!("sqrt({name})"), mult * 2.0)
                    }
                    (Unary::ClampMin(_), v) => v,
                    (Unary::Ln, v) => Values::Other(format!("ln({})", v.name())),
                    (Unary::Log10, v) => Values::Other(format!("log10({})", v.name())),
                    (Unary::Sqrt, v) => Values::Other(format!("sqrt({})", v.name())),
                    (Unary::Pow(p), v) => Values::Other(format!("({})^{}", v.name(), short_num(*p))),
                    (Unary::Affine(a, b), v) => {
                        let sign = if *b < 0.0 { "-" } else { "+" };
                        Values::Other(format!("{}·{} {sign} {}", short_num(*a), v.name(), short_num(b.abs())))
                    }
                },
                Op::Db { mult, .. } => match *mult {
                    1.0 => Values::Other(format!("log10({})", v.name())),
                    m if m == 10.0 || m == 20.0 => Values::Other(format!("{} [dB]", v.name())),
                    m => Values::Other(format!("{}·log10({})", short_num(m), v.name())),
                },
                _ => v,
            };
        }
        let value = match v {
            Values::Linear(label, mult) => figure::ValueInfo { label, db_mult: Some(mult) },
            other => figure::ValueInfo { label: other.name(), db_mult: None },
        };
        // Output axes, `...` expanded to as many axes as the output has beyond the named ones.
        let ty = self.optimized().output_type();
        let named = ty.axes.iter().filter(|a| !a.is_ellipsis()).count();
        let mut names: Vec<&str> = Vec::new();
        for a in &ty.axes {
            if a.is_ellipsis() {
                names.extend(std::iter::repeat_n("...", out_shape.len().saturating_sub(named)));
            } else {
                names.push(a.name.as_str());
            }
        }
        let freq_axis = |size: usize, parts: &[&str]| -> FigureAxis {
            let rows = |label: String| FigureAxis { label, kind: AxisKind::Rows };
            let of_one = |what: &str| parts.contains(&what);
            let (rows_per, kind, label) = if of_one("mel") {
                let hz = mel.clone().unwrap_or_default();
                (hz.len(), AxisKind::Frequency { hz, mel: true }, String::from("frequency (Hz, mel bands)"))
            } else {
                let (n_fft, f) = bins.unwrap_or((0, size));
                if concat {
                    let last = f.saturating_sub(1);
                    return rows(format!(
                        "FFT bin (rows 0-{last} real, {}-{} imaginary)",
                        last + 1,
                        2 * last + 1
                    ));
                }
                match rate {
                    Some(r) if n_fft > 0 => {
                        let hz = (0..f).map(|k| k as f64 * r / n_fft as f64).collect();
                        (f, AxisKind::Frequency { hz, mel: false }, String::from("frequency (Hz)"))
                    }
                    _ => return rows(String::from("FFT bin")),
                }
            };
            if rows_per == size {
                FigureAxis { label, kind }
            } else {
                rows(parts.join(" × "))
            }
        };
        let axes = names
            .iter()
            .zip(&out_shape)
            .map(|(name, &size)| {
                let parts: Vec<&str> = name.split('*').collect();
                match parts.as_slice() {
                    ["frames"] => match (time, rate) {
                        (Some((first, hop)), Some(r)) => FigureAxis {
                            label: String::from("time (s)"),
                            kind: AxisKind::Time { first: first / r, step: hop / r },
                        },
                        _ => FigureAxis {
                            label: String::from("frame"),
                            kind: AxisKind::Time { first: 0.0, step: 1.0 },
                        },
                    },
                    p if p.iter().any(|p| *p == "mel" || *p == "bins") => freq_axis(size, p),
                    ["channels"] => FigureAxis { label: String::from("channel"), kind: AxisKind::Panels },
                    _ => FigureAxis { label: String::from("item"), kind: AxisKind::Panels },
                }
            })
            .collect();
        let set: Vec<String> = self
            .params()
            .iter()
            .filter(|p| p.overridden)
            .map(|p| format!("{}={}", p.name, specc_compiler::lower::value_text(&p.value)))
            .collect();
        let title = if set.is_empty() { g.name.clone() } else { format!("{} ({})", g.name, set.join(", ")) };
        Ok(figure::FigureInfo { title, axes, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figure::AxisKind;

    #[test]
    fn figure_info_reads_axes_and_units_from_the_graph() {
        // librosa: centred frames at i * hop / sr; mel bands with their centre frequencies.
        let p = Pipeline::preset("librosa_mel", &["n_mels=40", "sr=16000"]).unwrap();
        let f = p.figure_info(&[2, 16000]).unwrap();
        assert_eq!(f.title, "librosa_mel (sr=16000.0 Hz, n_mels=40)");
        assert_eq!(f.axes.len(), 3);
        assert_eq!(f.axes[0].kind, AxisKind::Panels);
        let AxisKind::Frequency { hz, mel: true } = &f.axes[1].kind else { panic!("{:?}", f.axes[1]) };
        assert_eq!(hz.len(), 40);
        assert!(hz.windows(2).all(|w| w[1] > w[0]) && hz[0] > 0.0 && hz[39] < 8000.0);
        assert_eq!(f.axes[2].kind, AxisKind::Time { first: 0.0, step: 512.0 / 16000.0 });
        assert_eq!((f.value.label.as_str(), f.value.db_mult), ("mel power [dB]", None));
        let p = Pipeline::preset("librosa_mel", &["power_to_db=false", "power=1.0"]).unwrap();
        let f = p.figure_info(&[22050]).unwrap();
        assert_eq!((f.value.label.as_str(), f.value.db_mult), ("mel magnitude", Some(20.0)));

        // Kaldi: (frames, mel), no padding, frame 0 centred at 200 samples; ln of power.
        let p = Pipeline::preset("kaldi_fbank", &[]).unwrap();
        let f = p.figure_info(&[1, 16000]).unwrap();
        assert_eq!(f.axes[0].kind, AxisKind::Time { first: 200.0 / 16000.0, step: 0.01 });
        assert!(matches!(f.axes[1].kind, AxisKind::Frequency { mel: true, .. }));
        assert_eq!(f.value.label, "ln(mel power)");

        // Whisper's scaling is spelled out.
        let f = Pipeline::preset("whisper", &[]).unwrap().figure_info(&[16000]).unwrap();
        assert_eq!(f.value.label, "0.25·log10(mel power) + 1");

        // keras_stft has no rate: frames and FFT bins; magnitude shows in dB by 20·log10;
        // the re|im concatenation is rows, not frequencies.
        let p = Pipeline::preset("keras_stft", &["mode=magnitude"]).unwrap();
        let f = p.figure_info(&[1, 4000, 1]).unwrap();
        assert_eq!(f.axes[1].label, "frame");
        assert_eq!(f.axes[2].kind, AxisKind::Rows);
        assert_eq!((f.value.label.as_str(), f.value.db_mult), ("magnitude", Some(20.0)));
        let f = Pipeline::preset("keras_stft", &["mode=stft"]).unwrap().figure_info(&[1, 4000, 1]).unwrap();
        assert_eq!(f.axes[2].label, "FFT bin (rows 0-128 real, 129-257 imaginary)");
        assert_eq!(f.value.db_mult, None);

        // A rate and an STFT: bins at k * rate / n_fft.
        let text = "spec s\ninput x: f32[..., samples] at 8 kHz\nx |> frames(length: 256, hop: 64) \
                    |> window(hann) |> rfft(256) |> power()";
        let f = Pipeline::compile("s.spec", text, &[]).unwrap().figure_info(&[8000]).unwrap();
        // No layout: (frames, bins).
        let AxisKind::Frequency { hz, mel: false } = &f.axes[1].kind else { panic!("{:?}", f.axes[1]) };
        assert_eq!((hz.len(), hz[1], hz[128]), (129, 31.25, 4000.0));
        assert_eq!(f.axes[0].kind, AxisKind::Time { first: 128.0 / 8000.0, step: 64.0 / 8000.0 });
        assert_eq!(f.title, "s");
        // Shapes the spec refuses are the run's error.
        assert!(p.figure_info(&[4000]).is_err());
    }
}
/// How a library lays out the mel filterbank it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterLayout {
    /// `(n_mels, n_fft / 2 + 1)`: `librosa.filters.mel`, `whisper.audio.mel_filters`.
    MelBins,
    /// `(n_fft / 2 + 1, n_mels)`: `torchaudio.functional.melscale_fbanks`, Keras's
    /// `MelSpectrogram.linear_to_mel_weight_matrix`.
    BinsMel,
    /// `(n_mels, n_fft / 2)`: `torchaudio.compliance.kaldi.get_mel_banks`, which has no Nyquist
    /// column (`fbank` pads a zero one before multiplying).
    MelBinsNoNyquist,
}

impl std::str::FromStr for FilterLayout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mel-bins" => Ok(FilterLayout::MelBins),
            "bins-mel" => Ok(FilterLayout::BinsMel),
            "mel-bins-no-nyquist" => Ok(FilterLayout::MelBinsNoNyquist),
            other => {
                Err(format!("unknown layout `{other}`; layouts: mel-bins, bins-mel, mel-bins-no-nyquist"))
            }
        }
    }
}

/// For each shipped spec (by its `spec NAME`): the library function that returns its mel
/// filterbank, and that function's layout. A spec not listed gets `mel-bins` unless the caller
/// says otherwise. Every entry is checked against the real library's matrix in the goldens.
pub const FILTER_LAYOUTS: &[(&str, FilterLayout, &str)] = &[
    ("librosa_mel", FilterLayout::MelBins, "librosa.filters.mel"),
    ("whisper", FilterLayout::MelBins, "whisper.audio.mel_filters"),
    ("torchaudio_mel", FilterLayout::BinsMel, "torchaudio.functional.melscale_fbanks"),
    ("keras_mel", FilterLayout::BinsMel, "keras.layers.MelSpectrogram.linear_to_mel_weight_matrix"),
    ("kaldi_fbank", FilterLayout::MelBinsNoNyquist, "torchaudio.compliance.kaldi.get_mel_banks"),
];

impl Pipeline {
    /// The layout this spec's library returns its filterbank in, and that library function
    /// (see [`FILTER_LAYOUTS`]); `mel-bins` and `None` for a spec not listed.
    pub fn filter_layout(&self) -> (FilterLayout, Option<&'static str>) {
        FILTER_LAYOUTS
            .iter()
            .find(|(n, _, _)| *n == self.graph().name)
            .map(|(_, l, f)| (*l, Some(*f)))
            .unwrap_or((FilterLayout::MelBins, None))
    }

    /// The spec's mel filterbank as float32 in `layout` (the library's, from
    /// [`Pipeline::filter_layout`], when `None`): the same table the fold pass builds for the
    /// spec's `mel` op, with the params in force.
    ///
    /// ```
    /// let p = specc::Pipeline::preset("whisper", &[])?;
    /// assert_eq!(p.filterbank(None)?.shape(), &[80, 201]);
    /// # Ok::<(), specc::Error>(())
    /// ```
    pub fn filterbank(&self, layout: Option<FilterLayout>) -> Result<ndarray::Array2<f32>, Error> {
        use specc_compiler::graph::Op;
        let mels: Vec<_> = self
            .graph()
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::Mel(m) => Some(m),
                _ => None,
            })
            .collect();
        let spec = match mels.as_slice() {
            [m] => *m,
            [] => {
                return Err(Error::Io(format!(
                    "spec {} has no mel op: it has no filterbank",
                    self.graph().name
                )))
            }
            _ => {
                return Err(Error::Io(format!(
                    "spec {} has {} mel ops; filters writes a spec with one",
                    self.graph().name,
                    mels.len()
                )))
            }
        };
        let rows = specc_compiler::consts::mel::filterbank(spec);
        let (bands, bins) = (rows.len(), spec.n_fft / 2 + 1);
        let fb = ndarray::Array2::from_shape_fn((bands, bins), |(m, k)| rows[m][k] as f32);
        let layout = layout.unwrap_or(self.filter_layout().0);
        Ok(match layout {
            FilterLayout::MelBins => fb,
            FilterLayout::BinsMel => fb.reversed_axes().as_standard_layout().into_owned(),
            FilterLayout::MelBinsNoNyquist => {
                if fb.column(bins - 1).iter().any(|&w| w != 0.0) {
                    return Err(Error::Io(String::from(
                        "this filterbank has weight at the Nyquist bin, which the mel-bins-no-nyquist layout drops",
                    )));
                }
                fb.slice(ndarray::s![.., ..bins - 1]).to_owned()
            }
        })
    }
}

/// The text of a shipped spec.
pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A spec's name for diagnostics and its text: the file `spec` if it exists, else the preset of
/// that name (`whisper`, `whisper.spec`); otherwise an error listing the presets, with a "did
/// you mean" for a near miss.
pub fn spec_text(spec: &str) -> Result<(String, String), Error> {
    let path = Path::new(spec);
    if path.exists() {
        return Ok((spec.to_string(), read_spec_file(path)?));
    }
    let stem = spec.strip_suffix(".spec").unwrap_or(spec);
    match preset_text(stem) {
        Some(text) if !spec.contains('/') => Ok((format!("{stem}.spec"), text.to_string())),
        _ => Err(unknown_spec(spec, true)),
    }
}

/// The largest spec file read: a spec is a few kilobytes of text, and `/dev/zero` or a
/// recording passed by mistake must not be read without end.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

fn read_spec_file(path: &Path) -> Result<String, Error> {
    use std::io::Read;
    let spec = path.display();
    let file = std::fs::File::open(path).map_err(|e| Error::Io(format!("cannot read {spec}: {e}")))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Error::Io(format!("cannot read {spec}: it is a folder, not a spec file")));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Io(format!("cannot read {spec}: {e}")))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(Error::Io(format!(
            "{spec} is larger than {} MiB: not a spec file (specs are short text)",
            MAX_SPEC_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| Error::Io(format!("{spec} is not UTF-8 text: not a spec file")))
}

/// The presets a misspelled name may have meant: the nearest one within an edit distance of a
/// third of the name (`librosa_mle`, `whipser`), else every preset that starts with the name
/// (`kaldi` -> `kaldi_fbank`, `kaldi_mfcc`); empty when nothing is close.
pub fn closest_presets(name: &str) -> Vec<&'static str> {
    let name = name.rsplit('/').next().unwrap_or(name);
    let name = name.strip_suffix(".spec").unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() {
        return Vec::new();
    }
    let by_distance = PRESETS
        .iter()
        .map(|(n, _)| (strsim::damerau_levenshtein(&name, n), *n))
        .filter(|(d, n)| *d <= (n.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n);
    match by_distance {
        Some(n) => vec![n],
        // A library's name alone (`kaldi`, `librosa`) may start several presets: name them all.
        None => PRESETS.iter().map(|(n, _)| *n).filter(|n| n.starts_with(&name)).collect(),
    }
}

fn unknown_spec(spec: &str, file_too: bool) -> Error {
    let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
    let what = if file_too {
        format!("no spec file `{spec}`, and no preset of that name")
    } else {
        format!("no preset named `{spec}`")
    };
    let hint = match closest_presets(spec).as_slice() {
        [] => String::new(),
        [one] => format!("did you mean `{one}`? "),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(|n| format!("`{n}`")).collect();
            format!("did you mean {} or `{last}`? ", rest.join(", "))
        }
    };
    Error::Io(format!("{what}; {hint}presets: {}", names.join(", ")))
}

/// The library call a shipped spec reproduces, from its header comment: the comment lines up
/// to the one that closes the call's parentheses, joined, e.g.
/// `torchaudio.compliance.kaldi.fbank(waveform, channel=-1, ...)`.
pub fn library_call(text: &str) -> String {
    header(text).0
}

/// The header comment's lines after the library call: library version and notes.
pub fn library_notes(text: &str) -> Vec<String> {
    header(text).1
}

fn header(text: &str) -> (String, Vec<String>) {
    let mut call = String::new();
    let mut notes = Vec::new();
    let mut depth = 0i32;
    let mut closed = false;
    for line in text.lines() {
        let Some(c) = line.trim_start().strip_prefix('#') else { break };
        let c = c.trim();
        if closed {
            notes.push(c.to_string());
            continue;
        }
        if !call.is_empty() && !call.ends_with('(') {
            call.push(' ');
        }
        call.push_str(c);
        depth += c.matches('(').count() as i32 - c.matches(')').count() as i32;
        closed = depth <= 0 && call.contains('(');
    }
    (call, notes)
}

/// [`library_call`] with long argument lists shortened to `(...)` so that it fits on one
/// line; lists holding a call (the wrapped call) and short ones (`(x)`, under 32 characters) are kept:
/// `librosa.power_to_db(librosa.feature.melspectrogram(...), ref=1.0, amin=1e-10, top_db=80.0)`.
pub fn library_call_short(text: &str) -> String {
    fn shorten(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(open) = rest.find('(') {
            out.push_str(&rest[..=open]);
            let after = &rest[open + 1..];
            let mut depth = 1usize;
            let close = after.char_indices().find_map(|(j, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(j)
            });
            let Some(close) = close else {
                out.push_str(after);
                return out;
            };
            let inner = &after[..close];
            if inner.contains('(') {
                out.push_str(&shorten(inner));
            } else if inner.len() <= 32 {
                out.push_str(inner);
            } else {
                out.push_str("...");
            }
            out.push(')');
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }
    shorten(&library_call(text))
}
