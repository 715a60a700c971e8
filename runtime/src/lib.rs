//! specc's runtime: checks an input against a compiled program, casts it as the reproduced
//! library casts, runs an engine, and returns the output in the spec's layout and dtype.
//!
//! The runtime knows graphs, never spec syntax.
#![warn(missing_docs)]

use ndarray::{ArrayD, IxDyn};
use specc_compiler::graph::{Graph, Precision};
use specc_compiler::interp;

mod atomic;
pub mod audio;
pub mod figure;
pub mod image;
pub mod jit;
pub mod npy;
pub mod stream;

// The runtime core (types, input checks, the driver, the pools) is `specc-rt`, which has no
// code generator; re-exported so `specc_runtime::...` paths stay as they were.
pub use specc_rt::{check, driver, plan, pool, Input, Limits, Output, Plan, RunError};

pub use atomic::{remove_temporaries, write_file};
pub use jit::Programs;
pub use specc_compiler::codegen::jit::IsaChoice;

/// Which engine runs the program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// Machine code compiled with Cranelift (the default): SIMD kernels over blocks of frames,
    /// in the compute precision.
    #[default]
    Jit,
    /// The reference interpreter (f64, whole tensors): slow, obviously right, the oracle.
    Interp,
}

impl Engine {
    /// `jit` or `interp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Jit => "jit",
            Engine::Interp => "interp",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "jit" => Ok(Engine::Jit),
            "interp" => Ok(Engine::Interp),
            other => Err(format!("unknown engine `{other}`; engines: jit, interp")),
        }
    }
}

/// How to run: the engine, the JIT's compiled programs, and the thread count.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions<'a> {
    /// The engine asked for.
    pub engine: Engine,
    /// Compiled programs of the graph (used by [`Engine::Jit`]).
    pub programs: Option<&'a Programs>,
    /// Worker threads for one run; 0 = one per core.
    pub threads: usize,
}

/// Runs `g` on `input` with `opts`. Graphs the JIT cannot compile run on the interpreter (see
/// [`jit_support`]).
pub fn run_with(
    g: &Graph,
    input: &Input<'_>,
    limits: &Limits,
    opts: RunOptions<'_>,
) -> Result<Output, RunError> {
    let p = check(g, input, limits)?;
    if let (Engine::Jit, Some(programs)) = (opts.engine, opts.programs) {
        if let Ok(prog) = programs.get(g, p.precision) {
            let mut out = match p.precision {
                Precision::F32 => Output::F32(ArrayD::zeros(IxDyn(&p.output_shape))),
                Precision::F64 => Output::F64(ArrayD::zeros(IxDyn(&p.output_shape))),
            };
            jit::run_into(g, &prog, input, &p, opts.threads, &mut out)?;
            return Ok(out);
        }
    }
    interp_run(g, input, &p)
}

/// Runs `g` on `input` into `out` (planned shape and precision, standard layout) with `opts`,
/// allocating nothing beyond scratch on the JIT path.
pub fn run_into(
    g: &Graph,
    input: &Input<'_>,
    limits: &Limits,
    opts: RunOptions<'_>,
    out: &mut Output,
) -> Result<(), RunError> {
    let p = check(g, input, limits)?;
    if let (Engine::Jit, Some(programs)) = (opts.engine, opts.programs) {
        if let Ok(prog) = programs.get(g, p.precision) {
            return jit::run_into(g, &prog, input, &p, opts.threads, out);
        }
    }
    *out = interp_run(g, input, &p)?;
    Ok(())
}

/// `Ok` when the JIT compiles `g` for `precision`, else why it does not (such graphs run on
/// the interpreter).
pub fn jit_support(programs: &Programs, g: &Graph, precision: Precision) -> Result<(), String> {
    programs.get(g, precision).map(|_| ())
}

/// What the JIT program for `precision` runs (lanes, FFT plan, wide kernels), compiling it if
/// it was not yet; `Err` says why the JIT cannot run this graph.
pub fn jit_description(programs: &Programs, g: &Graph, precision: Precision) -> Result<String, String> {
    programs.get(g, precision).map(|p| p.info().description.clone())
}

fn interp_run(g: &Graph, input: &Input<'_>, p: &Plan) -> Result<Output, RunError> {
    // Cast as the library casts: to the compute precision first, then compute.
    let data: Vec<f64> = match (input, p.precision) {
        (Input::F32(a), _) => a.iter().map(|&v| v as f64).collect(),
        (Input::F64(a), Precision::F32) => a.iter().map(|&v| v as f32 as f64).collect(),
        (Input::F64(a), Precision::F64) => a.iter().copied().collect(),
        (Input::I16(a), _) => a.iter().map(|&v| v as f64).collect(),
    };
    let t = interp::run(g, &data, input.shape()).map_err(|e| RunError::Engine(e.0))?;
    let values = t.real();
    let shape = IxDyn(&p.output_shape);
    if t.shape != p.output_shape {
        return Err(RunError::Engine(format!(
            "internal error: engine produced {:?}, planned {:?}",
            t.shape, p.output_shape
        )));
    }
    Ok(match p.precision {
        Precision::F32 => Output::F32(
            ArrayD::from_shape_vec(shape, values.iter().map(|&v| v as f32).collect())
                .map_err(|e| RunError::Engine(e.to_string()))?,
        ),
        Precision::F64 => Output::F64(
            ArrayD::from_shape_vec(shape, values.to_vec()).map_err(|e| RunError::Engine(e.to_string()))?,
        ),
    })
}
