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
    ("librosa_stft", include_str!("../specs/librosa_stft.spec")),
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
        let text = preset_text(name).ok_or_else(|| {
            let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            Error::Io(format!("no preset named `{name}`; presets: {}", names.join(", ")))
        })?;
        Pipeline::compile(&format!("{name}.spec"), text, sets)
    }

    /// Compiles a spec file, or a preset by name when no such file exists.
    pub fn open(spec: &str, sets: &[&str]) -> Result<Pipeline, Error> {
        let path = Path::new(spec);
        if path.exists() {
            let text =
                std::fs::read_to_string(path).map_err(|e| Error::Io(format!("cannot read {spec}: {e}")))?;
            return Pipeline::compile(spec, &text, sets);
        }
        let stem = spec.strip_suffix(".spec").unwrap_or(spec);
        let stem = stem.rsplit('/').next().unwrap_or(stem);
        if preset_text(stem).is_some() && !spec.contains('/') {
            return Pipeline::preset(stem, sets);
        }
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        Err(Error::Io(format!(
            "no spec file `{spec}`, and no preset of that name; presets: {}",
            names.join(", ")
        )))
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

/// The text of a shipped spec.
pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
