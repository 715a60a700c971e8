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
pub use specc_runtime::{audio, image, npy};
pub use specc_runtime::{Engine, Input, IsaChoice, Limits, Output, Plan, RunError};

use specc_runtime::{Programs, RunOptions};
use std::sync::Arc;

/// The shipped specs, embedded so they work from any directory: (name, text).
pub const PRESETS: &[(&str, &str)] = &[
    ("keras_mel", include_str!("../specs/keras_mel.spec")),
    ("keras_stft", include_str!("../specs/keras_stft.spec")),
    ("librosa_mel", include_str!("../specs/librosa_mel.spec")),
    ("torchaudio_mel", include_str!("../specs/torchaudio_mel.spec")),
    ("whisper", include_str!("../specs/whisper.spec")),
    ("kaldi_fbank", include_str!("../specs/kaldi_fbank.spec")),
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
}

impl Pipeline {
    /// Compiles spec `text` (called `name` in diagnostics) with `name=value` overrides.
    pub fn compile(name: &str, text: &str, sets: &[&str]) -> Result<Pipeline, Error> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let compiled = specc_compiler::compile(name, text, &sets)?;
        let optimized = specc_compiler::passes::optimize(compiled.graph.clone()).map_err(Error::Internal)?;
        Ok(Pipeline {
            compiled,
            optimized,
            engine: Engine::default(),
            limits: Limits::default(),
            threads: 0,
            programs: Arc::new(Programs::new(IsaChoice::Native)),
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
    /// and [`Pipeline::run_many`] runs inputs in parallel); 0 (the default) means one per core.
    /// Results are identical for every thread count.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Chooses the instruction set the JIT compiles for: the host's (default, with AVX and FMA
    /// where present) or the x86-64 baseline (SSE2, no FMA), e.g. to check results on both.
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

    fn options(&self, threads: usize) -> RunOptions<'_> {
        RunOptions { engine: self.engine, programs: Some(&self.programs), threads }
    }

    /// Sets resource limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
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
        let work = || inputs.par_iter().map(one).collect();
        match rayon::ThreadPoolBuilder::new().num_threads(self.threads).build() {
            Ok(pool) => pool.install(work),
            Err(_) => inputs.iter().map(one).collect(),
        }
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
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::Io(format!("cannot read {spec}: {e}")))?;
        return Ok((spec.to_string(), text));
    }
    let stem = spec.strip_suffix(".spec").unwrap_or(spec);
    match preset_text(stem) {
        Some(text) if !spec.contains('/') => Ok((format!("{stem}.spec"), text.to_string())),
        _ => Err(unknown_spec(spec, true)),
    }
}

/// The preset nearest to a misspelled name, if one is near enough to be what was meant:
/// an edit distance of at most a third of the name (`librosa_mle`, `whipser`), or a preset that
/// starts with the name (`kaldi` -> `kaldi_fbank`).
pub fn closest_preset(name: &str) -> Option<&'static str> {
    let name = name.rsplit('/').next().unwrap_or(name);
    let name = name.strip_suffix(".spec").unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    let by_distance = PRESETS
        .iter()
        .map(|(n, _)| (strsim::damerau_levenshtein(&name, n), *n))
        .filter(|(d, n)| *d <= (n.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n);
    by_distance.or_else(|| {
        let mut prefixed = PRESETS.iter().map(|(n, _)| *n).filter(|n| n.starts_with(&name));
        match (prefixed.next(), prefixed.next()) {
            (Some(n), None) => Some(n),
            _ => None,
        }
    })
}

fn unknown_spec(spec: &str, file_too: bool) -> Error {
    let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
    let what = if file_too {
        format!("no spec file `{spec}`, and no preset of that name")
    } else {
        format!("no preset named `{spec}`")
    };
    let hint = closest_preset(spec).map(|n| format!("did you mean `{n}`? ")).unwrap_or_default();
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
