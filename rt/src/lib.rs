//! specc's runtime core without a code generator: the input and output types, the checks and
//! output plan of an input against a graph ([`plan`]), the thread pools ([`pool`]) and the
//! driver that runs a compiled [`Program`](specc_ir::program::Program)'s kernel plan
//! ([`driver`]). `cargo tree -p specc-rt` shows no Cranelift: the JIT (`specc-runtime`) and an
//! ahead-of-time runtime share this driver, so there is one block loop.
#![warn(missing_docs)]

use ndarray::{ArrayD, ArrayViewD};
use specc_ir::graph::{
    infer, Cepstral, DTypeRule, DeltaMode, Graph, Op, PadAmount, PadMode, PadStep, Precision, Size,
};

pub mod driver;
pub mod pool;

/// An input array of any supported element type, any layout.
#[derive(Clone, Debug)]
pub enum Input<'a> {
    /// float32 samples.
    F32(ArrayViewD<'a, f32>),
    /// float64 samples.
    F64(ArrayViewD<'a, f64>),
    /// int16 samples (cast by value, as Keras casts; not scaled).
    I16(ArrayViewD<'a, i16>),
}

impl Input<'_> {
    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Input::F32(a) => a.shape(),
            Input::F64(a) => a.shape(),
            Input::I16(a) => a.shape(),
        }
    }
    /// The element type's numpy name.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Input::F32(_) => "float32",
            Input::F64(_) => "float64",
            Input::I16(_) => "int16",
        }
    }
}

/// A result array in the program's output precision.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// float32 values.
    F32(ArrayD<f32>),
    /// float64 values.
    F64(ArrayD<f64>),
}

impl Output {
    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Output::F32(a) => a.shape(),
            Output::F64(a) => a.shape(),
        }
    }
    /// Values widened to f64, in row-major order.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Output::F32(a) => a.iter().map(|&v| v as f64).collect(),
            Output::F64(a) => a.iter().copied().collect(),
        }
    }
}

/// Limits that protect the machine from absurd inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest working memory a run may need, in bytes.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 8 << 30 }
    }
}

/// Why an input could not be run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The input's rank does not fit the spec's input declaration.
    #[error("input shape {shape:?} does not fit the spec's input [{expected}]: {why}")]
    Shape {
        /// The input's shape.
        shape: Vec<usize>,
        /// The declared axes.
        expected: String,
        /// What is wrong.
        why: String,
    },
    /// The element type is not accepted.
    #[error("input dtype {dtype} is not accepted: {why}")]
    DType {
        /// The input's dtype.
        dtype: String,
        /// What is accepted.
        why: String,
    },
    /// An axis has length zero.
    #[error("input is empty: shape {0:?}")]
    Empty(Vec<usize>),
    /// Too few samples for what the spec does.
    #[error("input too short: {0}")]
    TooShort(String),
    /// The input holds NaN or inf and the spec's library rejects that.
    #[error("input is not finite: {0}")]
    NotFinite(String),
    /// The run would need more memory than allowed.
    #[error("input too large: {0}")]
    TooLarge(String),
    /// The engine failed.
    #[error("engine error: {0}")]
    Engine(String),
    /// The graph cannot be streamed exactly (see `specc_runtime::stream::Stream`): what needs
    /// the whole signal.
    #[error("cannot stream: {0}")]
    Stream(String),
}

/// What the runtime derived from an input shape before running.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Output shape, in the spec's layout.
    pub output_shape: Vec<usize>,
    /// Number of frames per signal.
    pub frames: usize,
    /// Output precision.
    pub precision: Precision,
    /// The memory the run may need, in bytes: an upper bound of the peak on either engine (see
    /// [`plan`]), checked against [`Limits::max_bytes`].
    pub memory: u64,
}

/// The input's axes as the spec names them (`...` once per extra leading axis) with their sizes,
/// or the shape error.
pub fn lead_sizes(g: &Graph, shape: &[usize]) -> Result<Vec<(String, usize)>, RunError> {
    let user = g.user_axes();
    let named = user.iter().filter(|a| *a != "...").count();
    let ell = user.iter().any(|a| a == "...");
    let expected = user.join(", ");
    if shape.len() < named || (!ell && shape.len() != named) {
        let why = if ell {
            format!("needs at least {named} axes, has {}", shape.len())
        } else {
            format!("needs exactly {named} axes, has {}", shape.len())
        };
        return Err(RunError::Shape { shape: shape.to_vec(), expected, why });
    }
    let extra = shape.len() - named;
    let mut out = Vec::new();
    let mut i = 0;
    for a in user {
        if a == "..." {
            for _ in 0..extra {
                out.push((String::from("..."), shape[i]));
                i += 1;
            }
        } else {
            out.push((a.clone(), shape[i]));
            i += 1;
        }
    }
    Ok(out)
}

/// Checks `shape` and `dtype` against the program and derives the output shape, without running
/// anything. Every error an input can cause is found here.
pub fn plan(g: &Graph, shape: &[usize], dtype: &str, limits: &Limits) -> Result<Plan, RunError> {
    if !g.accepts.iter().any(|a| a == dtype) {
        return Err(RunError::DType {
            dtype: dtype.to_string(),
            why: format!("this spec accepts {}, as its library does", g.accepts.join(", ")),
        });
    }
    let precision = match (g.dtype, dtype) {
        (DTypeRule::Fixed(p), "float32" | "float64" | "int16") => p,
        (DTypeRule::FollowInput, "float32") => Precision::F32,
        (DTypeRule::FollowInput, "float64") => Precision::F64,
        (DTypeRule::FollowInput, other) => {
            return Err(RunError::DType {
                dtype: other.to_string(),
                why: String::from(
                    "this spec takes floating-point audio (float32 or float64), as its library does",
                ),
            })
        }
        (_, other) => {
            return Err(RunError::DType {
                dtype: other.to_string(),
                why: String::from("accepted dtypes are float32, float64 and int16"),
            })
        }
    };
    let axes = lead_sizes(g, shape)?;
    if shape.contains(&0) {
        return Err(RunError::Empty(shape.to_vec()));
    }
    let too_large = |what: &str| RunError::TooLarge(format!("{what} of shape {shape:?} overflows"));
    let n = axes.iter().find(|(a, _)| a == "samples").map(|(_, s)| *s).unwrap_or(0);
    let n = i64::try_from(n).map_err(|_| too_large("the sample count"))?;
    let lead = |name: &str| axes.iter().find(|(a, _)| a == name).map(|(_, s)| *s as i64);
    let size = |s: &Size| s.eval(n, &lead);
    let mut frames = 0usize;
    let mut work: u64 = 0;
    let outer: u64 = axes
        .iter()
        .filter(|(a, _)| a != "samples")
        .try_fold(1u64, |acc, (_, s)| acc.checked_mul(*s as u64))
        .ok_or_else(|| too_large("the number of signals"))?;
    for node in &g.nodes {
        if let Op::MinSamples { count, why } = &node.op {
            let have = size(&g.nodes[node.inputs[0]].ty.last().size).unwrap_or(0);
            if have < *count as i64 {
                return Err(RunError::TooShort(format!("{have} samples are too few, {count} needed: {why}")));
            }
        }
        if let Op::Cepstral(Cepstral::Deltas(d)) = &node.op {
            // librosa.feature.delta(mode='interp') fits its edge polynomials to `width` frames.
            let frames = node.ty.axes.iter().find(|a| a.name == "frames").and_then(|a| size(&a.size));
            if let (DeltaMode::Interp, Some(t)) = (d.mode, frames) {
                if (1..d.width as i64).contains(&t) {
                    return Err(RunError::TooShort(format!(
                        "{t} frames are too few for deltas of width {} (mode interp fits a polynomial to `width` frames; librosa: width cannot exceed the number of frames)",
                        d.width
                    )));
                }
            }
        }
        if let Op::Select { axis, index } = &node.op {
            let have = lead(axis).unwrap_or(0);
            if *index as i64 >= have {
                return Err(RunError::Shape {
                    shape: shape.to_vec(),
                    expected: g.user_axes().join(", "),
                    why: format!("the spec reads {axis} {index}, the input has {have}"),
                });
            }
        }
        // torch's reflect padding must be shorter than the signal it pads: check each pad step,
        // standalone or inside a framed load, against the length it sees.
        let pads: Vec<PadStep> = match &node.op {
            Op::Pad { amount, mode } => vec![PadStep { amount: *amount, mode: *mode }],
            Op::FramedLoad { pads, .. } => pads.clone(),
            _ => Vec::new(),
        };
        if !pads.is_empty() {
            // Each step's input length comes from the graph's own shape rules.
            let mut ty = g.nodes[node.inputs[0]].ty.clone();
            for p in pads {
                let len = size(&ty.last().size).unwrap_or(0);
                if let (PadMode::ReflectStrict, PadAmount::Fixed(l, r)) = (p.mode, p.amount) {
                    if l.max(r) as i64 >= len {
                        return Err(RunError::TooShort(format!(
                            "reflect padding of {} samples needs a longer signal than {len} samples (as torch requires)",
                            l.max(r)
                        )));
                    }
                }
                ty = infer(&Op::Pad { amount: p.amount, mode: p.mode }, &ty).map_err(RunError::Engine)?;
            }
        }
        let mut elems: u64 = outer;
        for a in node.ty.axes.iter().filter(|a| !a.is_ellipsis()) {
            if matches!(a.size, Size::Lead(_)) {
                continue;
            }
            let v = size(&a.size).unwrap_or(-1);
            if a.name == "frames" {
                if v < 1 {
                    let need = min_samples(g, n);
                    return Err(RunError::TooShort(format!(
                        "{n} samples give no complete frame{}",
                        need.map(|m| format!("; this spec needs at least {m} samples")).unwrap_or_default()
                    )));
                }
                frames = v as usize;
            }
            if v < 0 {
                return Err(RunError::TooShort(format!("{n} samples are too few for `{}`", node.origin)));
            }
            elems = elems.saturating_mul(v as u64);
        }
        let bytes = if node.ty.elem == specc_ir::graph::Elem::Complex { 16 } else { 8 };
        work = work.saturating_add(elems.saturating_mul(bytes));
    }
    // Beyond the graph's values: the caller's input array (at most 8 bytes a sample), the
    // interpreter's f64 cast of it and its input tensor (8 + 8), a permutation index when the
    // samples axis is not last (8), and the output's conversion to the result's precision.
    // The graph's values are all counted as if alive at once, which neither engine does, so
    // this is an upper bound of both engines' peak (measured: keras_mel on 9.6M samples, 855 MiB
    // peak RSS on the interpreter, 63 MiB on the JIT, estimate 1026 MiB).
    let samples_total = outer.saturating_mul(n as u64);
    let out_elems = g.nodes.get(g.output).map_or(0, |node| {
        node.ty
            .axes
            .iter()
            .filter(|a| !a.is_ellipsis() && !matches!(a.size, Size::Lead(_)))
            .fold(outer, |acc, a| acc.saturating_mul(size(&a.size).unwrap_or(0).max(0) as u64))
    });
    work = work.saturating_add(samples_total.saturating_mul(32)).saturating_add(out_elems.saturating_mul(8));
    if work > limits.max_bytes {
        return Err(RunError::TooLarge(format!(
            "running this input needs about {} MiB of working memory, over the limit of {} MiB",
            work.div_ceil(1 << 20),
            limits.max_bytes >> 20
        )));
    }
    let out_ty = g.output_type();
    let mut output_shape = Vec::new();
    for a in &out_ty.axes {
        if a.is_ellipsis() {
            output_shape.extend(axes.iter().filter(|(n, _)| n == "...").map(|(_, s)| *s));
        } else {
            let v = size(&a.size).ok_or_else(|| RunError::TooLarge(String::from("output size overflows")))?;
            output_shape.push(v as usize);
        }
    }
    Ok(Plan { output_shape, frames, precision, memory: work })
}

/// Plans and checks an input (dtype, shape, finiteness where the library requires it).
pub fn check(g: &Graph, input: &Input<'_>, limits: &Limits) -> Result<Plan, RunError> {
    let p = plan(g, input.shape(), input.dtype_name(), limits)?;
    check_finite(g, input)?;
    Ok(p)
}

/// The finiteness part of [`check`]: NaN or inf samples are an error where the spec's library
/// rejects them (for callers that planned the shape already).
pub fn check_finite(g: &Graph, input: &Input<'_>) -> Result<(), RunError> {
    if g.finite_only {
        let bad = match input {
            Input::F32(a) => a.iter().position(|v| !v.is_finite()),
            Input::F64(a) => a.iter().position(|v| !v.is_finite()),
            Input::I16(_) => None,
        };
        if let Some(i) = bad {
            return Err(RunError::NotFinite(format!(
                "sample {i} (in row-major order) is NaN or inf; this spec's library rejects non-finite audio"
            )));
        }
    }
    Ok(())
}

/// The smallest sample count that yields a frame, if one exists below a bound.
fn min_samples(g: &Graph, n: i64) -> Option<i64> {
    let out = g.output_type();
    let frames = out.axes.iter().find(|a| a.name.split('*').any(|p| p == "frames"))?;
    let ok = |m: i64| frames.size.eval(m, &|_| Some(1)).is_some_and(|f| f >= 1);
    (n.max(1)..=(1 << 26)).find(|&m| ok(m))
}
