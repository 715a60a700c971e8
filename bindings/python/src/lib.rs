//! `specc._specc`: the native half of the Python package `specc`.
//!
//! It wraps [`specc::Pipeline`] for numpy arrays and nothing more: keyword arguments, torch
//! tensors, thread-count defaults, pickling and the library-shaped wrappers live in the pure
//! Python package (`python/specc/`), where they are easy to read and change. Every run releases
//! the GIL ([`Python::detach`]), so Python threads (a DataLoader's, Ray's) keep running while
//! the kernels do, and one compiled pipeline may be called from many threads at once.

use ndarray::ArrayViewD;
use numpy::{
    Element, IntoPyArray, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use specc::{Engine, Error, Input, Output, Pipeline as Core, RunError};
use specc_compiler::graph::Precision;
use std::path::Path;

pyo3::create_exception!(
    specc,
    SpecError,
    PyValueError,
    "A spec or parameter value is wrong. The message is the diagnostic `specc run` prints: the \
     line and column with a caret under the culprit, and a hint."
);

/// The diagnostic as the CLI prints it with colours off (`NO_COLOR=1 specc run ...`).
fn caret_text(e: &dyn miette::Diagnostic) -> String {
    let mut s = String::new();
    let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    if handler.render_report(&mut s, e).is_err() {
        return e.to_string();
    }
    // As the CLI's stderr reads once stripped: no leading indent before the `×` either.
    s.trim().to_string()
}

/// Maps specc's errors to the Python exceptions a numpy user expects: spec and value errors
/// to `SpecError` (a `ValueError`), a wrong dtype to `TypeError`, a wrong shape or too short an
/// input to `ValueError`, files to `OSError`.
fn py_err(e: Error) -> PyErr {
    match e {
        Error::Spec(_) => SpecError::new_err(caret_text(&e)),
        Error::Run(RunError::DType { .. }) => PyTypeError::new_err(e.to_string()),
        Error::Run(_) => PyValueError::new_err(e.to_string()),
        Error::Npy(_) | Error::Io(_) => PyOSError::new_err(e.to_string()),
        Error::Usage(_) => PyValueError::new_err(e.to_string()),
        Error::Failed | Error::Internal(_) | Error::Aot(_) => PyRuntimeError::new_err(e.to_string()),
    }
}

/// A compiled pipeline (the Python class `specc.Pipeline` wraps it).
#[pyclass(module = "specc._specc", name = "Pipeline", frozen)]
struct PyPipeline {
    core: Core,
    name: String,
    text: String,
    sets: Vec<String>,
    threads: usize,
}

/// An input array borrowed from numpy, in one of the dtypes specc reads.
enum Borrowed<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
    I16(PyReadonlyArrayDyn<'py, i16>),
}

impl Borrowed<'_> {
    fn input(&self) -> Input<'_> {
        match self {
            Borrowed::F32(a) => Input::F32(a.as_array()),
            Borrowed::F64(a) => Input::F64(a.as_array()),
            Borrowed::I16(a) => Input::I16(a.as_array()),
        }
    }
}

fn typed<'py, T: Element>(a: &Bound<'py, PyUntypedArray>) -> Option<PyReadonlyArrayDyn<'py, T>> {
    a.cast::<PyArrayDyn<T>>().ok().map(|a| a.readonly())
}

impl PyPipeline {
    /// Borrows `x` (a numpy array) as specc's input; any other dtype is refused with the ones
    /// this spec accepts, as the CLI refuses an `.npy` of another dtype.
    fn borrow<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Borrowed<'py>> {
        let a = x.cast::<PyUntypedArray>().map_err(|_| {
            PyTypeError::new_err(format!(
                "expected a numpy array, got {}",
                x.get_type().name().map_or_else(|_| String::from("?"), |n| n.to_string())
            ))
        })?;
        if let Some(a) = typed::<f32>(a) {
            return Ok(Borrowed::F32(a));
        }
        if let Some(a) = typed::<f64>(a) {
            return Ok(Borrowed::F64(a));
        }
        if let Some(a) = typed::<i16>(a) {
            return Ok(Borrowed::I16(a));
        }
        let dtype = a.dtype().str().map_or_else(|_| String::from("?"), |s| s.to_string());
        Err(PyTypeError::new_err(format!(
            "input dtype {dtype} is not accepted: {} takes {}",
            self.name,
            self.core.graph().accepts.join(", ")
        )))
    }
}

/// numpy's name of an output precision.
fn numpy_name(p: Precision) -> &'static str {
    match p {
        Precision::F32 => "float32",
        Precision::F64 => "float64",
    }
}

fn to_py<'py>(py: Python<'py>, y: Output) -> Bound<'py, PyAny> {
    match y {
        Output::F32(a) => a.into_pyarray(py).into_any(),
        Output::F64(a) => a.into_pyarray(py).into_any(),
    }
}

/// Copies `y` into the caller's array `out` (dtype and shape were checked against the plan).
fn copy_into<T: Element + Copy>(out: &Bound<'_, PyAny>, y: ArrayViewD<'_, T>) -> PyResult<()> {
    let out = out.cast::<PyArrayDyn<T>>().map_err(|_| PyTypeError::new_err("out has the wrong dtype"))?;
    let mut rw =
        out.try_readwrite().map_err(|e| PyValueError::new_err(format!("out is not writeable: {e}")))?;
    rw.as_array_mut().assign(&y);
    Ok(())
}

#[pymethods]
impl PyPipeline {
    /// Compiles spec `text` (named `name` in diagnostics) with `name=value` overrides; runs
    /// use `threads` threads (0: one per core) on `engine` (`jit` or `interp`).
    #[new]
    #[pyo3(signature = (name, text, sets, threads=0, engine="jit"))]
    fn new(
        py: Python<'_>,
        name: String,
        text: String,
        sets: Vec<String>,
        threads: usize,
        engine: &str,
    ) -> PyResult<Self> {
        let engine = match engine {
            "jit" => Engine::Jit,
            "interp" => Engine::Interp,
            other => {
                return Err(PyValueError::new_err(format!("unknown engine `{other}`; engines: jit, interp")))
            }
        };
        let core = py.detach(|| {
            let refs: Vec<&str> = sets.iter().map(String::as_str).collect();
            Core::compile(&name, &text, &refs)
        });
        let core = core.map_err(py_err)?.with_engine(engine).with_threads(threads);
        Ok(PyPipeline { core, name, text, sets, threads })
    }

    /// The spec's name as diagnostics show it (`keras_mel.spec`).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The spec's text.
    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    /// The `name=value` overrides it was compiled with.
    #[getter]
    fn sets(&self) -> Vec<String> {
        self.sets.clone()
    }

    /// The thread count asked for (0: one per core).
    #[getter]
    fn threads(&self) -> usize {
        self.threads
    }

    /// The param that sets the input's sample rate, if any.
    #[getter]
    fn rate_param(&self) -> Option<&str> {
        self.core.rate_param()
    }

    /// The dtypes the spec accepts, as numpy names.
    #[getter]
    fn accepts(&self) -> Vec<String> {
        self.core.graph().accepts.clone()
    }

    /// The params in force: one dict per param (name, type, optional, default, value,
    /// overridden), in declaration order.
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for p in self.core.params() {
            let d = PyDict::new(py);
            d.set_item("name", &p.name)?;
            d.set_item("type", p.ty.text())?;
            d.set_item("optional", p.optional)?;
            d.set_item("default", &p.default_text)?;
            d.set_item("value", specc_compiler::lower::value_text(&p.value))?;
            d.set_item("overridden", p.overridden)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// The op graph as text: as lowered (`after=None`), after every pass (`"all"`), or after
    /// the passes up to and including the one named.
    #[pyo3(signature = (after=None))]
    fn graph(&self, after: Option<&str>) -> PyResult<String> {
        Ok(match after {
            None => self.core.graph().to_string(),
            Some("all") => self.core.optimized().to_string(),
            Some(pass) => self.core.graph_after(pass).map_err(py_err)?.to_string(),
        })
    }

    /// Compiles the pipeline ahead of time (README, "Ahead of time"): the object file's bytes,
    /// its C header, the exported symbols and the target triple. `name` defaults to the spec's
    /// name as a C identifier; `target` to this machine's triple.
    #[pyo3(signature = (name=None, target=None, cpu="baseline"))]
    fn compile_object<'py>(
        &self,
        py: Python<'py>,
        name: Option<&str>,
        target: Option<String>,
        cpu: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let cpu: specc::aot::Cpu = cpu.parse().map_err(PyValueError::new_err)?;
        let name = name.map_or_else(|| specc::aot::default_name(&self.name), str::to_string);
        let target = specc::aot::ObjectTarget { triple: target, cpu };
        let command = format!("specc.Pipeline({:?}).compile_object()", self.name);
        let out = py.detach(|| specc::aot::compile(&self.core, &name, &target, &command)).map_err(py_err)?;
        let d = PyDict::new(py);
        d.set_item("object", pyo3::types::PyBytes::new(py, &out.object))?;
        d.set_item("header", out.header)?;
        d.set_item("symbols", out.symbols)?;
        d.set_item("triple", out.triple)?;
        Ok(d)
    }

    /// Output shape, frames per signal, output dtype and working memory for an input of
    /// `shape` and `dtype`, without running.
    fn plan<'py>(&self, py: Python<'py>, shape: Vec<usize>, dtype: &str) -> PyResult<Bound<'py, PyDict>> {
        let plan = self.core.plan(&shape, dtype).map_err(py_err)?;
        let d = PyDict::new(py);
        d.set_item("shape", PyTuple::new(py, &plan.output_shape)?)?;
        d.set_item("frames", plan.frames)?;
        d.set_item("dtype", numpy_name(plan.precision))?;
        d.set_item("memory", plan.memory)?;
        Ok(d)
    }

    /// Runs on numpy array `x` (float32, float64 or int16; any strides) and returns a new
    /// array. The GIL is released while it runs.
    fn run<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let b = self.borrow(x)?;
        let input = b.input();
        let y = py.detach(|| self.core.run(&input)).map_err(py_err)?;
        Ok(to_py(py, y))
    }

    /// Runs on `x` and writes the result into `out`, which must have the planned shape and
    /// dtype (checked before running).
    fn run_into(&self, py: Python<'_>, x: &Bound<'_, PyAny>, out: &Bound<'_, PyAny>) -> PyResult<()> {
        let b = self.borrow(x)?;
        let input = b.input();
        let plan = self.core.plan(input.shape(), input.dtype_name()).map_err(py_err)?;
        let o =
            out.cast::<PyUntypedArray>().map_err(|_| PyTypeError::new_err("out must be a numpy array"))?;
        let dtype = o.dtype().str().map_or_else(|_| String::from("?"), |s| s.to_string());
        let want = numpy_name(plan.precision);
        let dtype_ok = match plan.precision {
            Precision::F32 => o.dtype().is_equiv_to(&numpy::dtype::<f32>(py)),
            Precision::F64 => o.dtype().is_equiv_to(&numpy::dtype::<f64>(py)),
        };
        if !dtype_ok || o.shape() != plan.output_shape.as_slice() {
            return Err(PyValueError::new_err(format!(
                "out has shape {:?} and dtype {dtype}; this input needs shape {:?} and dtype {want}",
                o.shape(),
                plan.output_shape
            )));
        }
        let y = py.detach(|| self.core.run(&input)).map_err(py_err)?;
        match &y {
            Output::F32(a) => copy_into(out, a.view()),
            Output::F64(a) => copy_into(out, a.view()),
        }
    }

    /// Runs on several arrays in parallel (one thread each, on the process's pool); one
    /// result per input. The first failing input raises, naming its index.
    fn run_many<'py>(&self, py: Python<'py>, xs: Vec<Bound<'py, PyAny>>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let borrowed = xs.iter().map(|x| self.borrow(x)).collect::<PyResult<Vec<_>>>()?;
        let inputs: Vec<Input<'_>> = borrowed.iter().map(Borrowed::input).collect();
        let results = py.detach(|| self.core.run_many(&inputs));
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(y) => Ok(to_py(py, y)),
                Err(e) => {
                    let err = py_err(e);
                    let msg = format!("input {i}: {}", err.value(py));
                    Err(PyErr::from_type(err.get_type(py), msg))
                }
            })
            .collect()
    }
    /// Times `runs` runs on `x` in Rust, as `specc bench` does (one warm-up run, then each run
    /// timed alone, the GIL released throughout); returns the seconds of each timed run. The
    /// difference from timing `pipeline(x)` in Python is the Python call's overhead.
    fn time_runs(&self, py: Python<'_>, x: &Bound<'_, PyAny>, runs: usize) -> PyResult<Vec<f64>> {
        let b = self.borrow(x)?;
        let input = b.input();
        py.detach(|| {
            self.core.run(&input)?;
            (0..runs)
                .map(|_| {
                    let t = std::time::Instant::now();
                    self.core.run(&input).map(|_| t.elapsed().as_secs_f64())
                })
                .collect::<Result<Vec<f64>, Error>>()
        })
        .map_err(py_err)
    }

    /// A stream of this pipeline (see `specc::Pipeline::stream_with`); `clip`: how a clip at a
    /// maximum streams, "exact" (refused), "deferred" or "running". Raises `SpecError` at the
    /// op when the spec needs the whole signal, `ValueError` for an unknown mode.
    #[pyo3(signature = (clip="exact"))]
    fn stream(slf: &Bound<'_, Self>, clip: &str) -> PyResult<PyStream> {
        let mode: specc::ClipMode =
            clip.parse().map_err(|why: String| PyValueError::new_err(format!("clip={clip:?}: {why}")))?;
        let me = slf.get();
        let st = me.core.stream_with(mode).map_err(py_err)?;
        Ok(PyStream { st: std::sync::Mutex::new(st), pipeline: slf.clone().unbind() })
    }
}

/// A pipeline's stream over numpy chunks (the Python class `specc.Stream` wraps it): push
/// chunks of any length, get the frames they complete; equal to the offline run bit for bit.
#[pyclass(module = "specc._specc", name = "Stream", frozen)]
struct PyStream {
    /// One push at a time; pushes release the GIL.
    st: std::sync::Mutex<specc::Stream>,
    /// For reading chunks as the pipeline reads arrays.
    pipeline: Py<PyPipeline>,
}

impl PyStream {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, specc::Stream>> {
        self.st.lock().map_err(|_| PyRuntimeError::new_err("a push on this stream panicked"))
    }
}

#[pymethods]
impl PyStream {
    /// Appends chunk `x` (the spec's input layout, any number of samples) and returns the
    /// frames it completed (the time axis may be 0 long).
    fn push<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let b = self.pipeline.get().borrow(x)?;
        let input = b.input();
        let mut guard = self.lock()?;
        // The guard stays on this thread; the stream itself is Send.
        let st: &mut specc::Stream = &mut guard;
        let y = py.detach(|| st.push(&input)).map_err(py_err)?;
        Ok(to_py(py, y))
    }

    /// Ends the signal: the remaining frames; the stream then starts over.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut guard = self.lock()?;
        let st: &mut specc::Stream = &mut guard;
        let y = py.detach(|| st.finish()).map_err(py_err)?;
        Ok(to_py(py, y))
    }

    /// Forgets every sample pushed.
    fn reset(&self) -> PyResult<()> {
        self.lock()?.reset();
        Ok(())
    }

    /// Deferred clip mode, after finish: `frames` (every frame of the signal, concatenated
    /// along the time axis) clipped as the offline run clips, as a new array.
    fn apply_clip<'py>(&self, py: Python<'py>, frames: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let mut out = match self.pipeline.get().borrow(frames)? {
            Borrowed::F32(a) => Output::F32(a.as_array().to_owned()),
            Borrowed::F64(a) => Output::F64(a.as_array().to_owned()),
            Borrowed::I16(_) => return Err(PyTypeError::new_err("frames are float32 or float64")),
        };
        self.lock()?.apply_clip(&mut out).map_err(py_err)?;
        Ok(to_py(py, out))
    }

    /// Look-ahead in samples: frame t comes out once sample t*hop + latency has arrived.
    #[getter]
    fn latency(&self) -> PyResult<usize> {
        Ok(self.lock()?.latency())
    }

    /// Samples the first frames wait for, to mirror the signal's start.
    #[getter]
    fn warmup(&self) -> PyResult<usize> {
        Ok(self.lock()?.warmup())
    }

    /// The output axis frames grow along (None before the first push).
    #[getter]
    fn time_axis(&self) -> PyResult<Option<usize>> {
        Ok(self.lock()?.time_axis())
    }

    /// Frames per emission (see `specc::Stream::set_group`).
    #[getter]
    fn group(&self) -> PyResult<usize> {
        Ok(self.lock()?.group())
    }

    #[setter]
    fn set_group(&self, frames: usize) -> PyResult<()> {
        if frames == 0 {
            return Err(PyValueError::new_err("group: at least 1 frame"));
        }
        self.lock()?.set_group(frames);
        Ok(())
    }

    /// Frames the kernels compute per call (the group that makes pushes whole blocks).
    #[getter]
    fn block_frames(&self) -> PyResult<usize> {
        Ok(self.lock()?.block_frames())
    }
}

/// The text of a shipped spec, or None.
#[pyfunction]
fn preset_text(name: &str) -> Option<&'static str> {
    specc::preset_text(name)
}

/// The shipped specs' names.
#[pyfunction]
fn presets() -> Vec<&'static str> {
    specc::PRESETS.iter().map(|(n, _)| *n).collect()
}

/// (name, text) of a spec file, or of a preset by name when no such file exists.
#[pyfunction]
fn spec_text(spec: &str) -> PyResult<(String, String)> {
    specc::spec_text(spec).map_err(py_err)
}

/// Decodes an audio file (WAV, FLAC, MP3, Ogg Vorbis), mixes it to mono (`mono=True`, as
/// librosa) and resamples it to `sr` when given. Returns (float32 array, sample rate): shape
/// (samples,) when mono, else (channels, samples).
#[pyfunction]
#[pyo3(signature = (path, sr=None, mono=true))]
fn load_audio<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    sr: Option<u32>,
    mono: bool,
) -> PyResult<(Bound<'py, PyAny>, u32)> {
    audio_to_py(py, py.detach(|| specc::audio::load(&path, channel_mode(mono), sr)), mono)
}

/// Decodes audio held in memory (`data`, the bytes of a file of type `ext`: wav, flac, mp3,
/// ogg), as [`load_audio`]; `name` stands for it in errors.
#[pyfunction]
#[pyo3(signature = (data, ext, sr=None, mono=true, name="<bytes>"))]
fn decode_audio<'py>(
    py: Python<'py>,
    data: &[u8],
    ext: &str,
    sr: Option<u32>,
    mono: bool,
    name: &str,
) -> PyResult<(Bound<'py, PyAny>, u32)> {
    let decoded = py.detach(|| {
        let path = Path::new(name);
        let a = specc::audio::decode_bytes(path, ext, data, specc::Limits::default().max_bytes, &|_| Ok(()))?
            .select(channel_mode(mono));
        match sr {
            Some(r) if r != a.rate() => a.resample(r).map_err(|e| e.in_file(path)),
            _ => Ok(a),
        }
    });
    audio_to_py(py, decoded, mono)
}

fn channel_mode(mono: bool) -> specc::audio::ChannelMode {
    if mono {
        specc::audio::ChannelMode::Mix
    } else {
        specc::audio::ChannelMode::All
    }
}

fn audio_to_py(
    py: Python<'_>,
    decoded: Result<specc::audio::Audio, specc::audio::AudioError>,
    mono: bool,
) -> PyResult<(Bound<'_, PyAny>, u32)> {
    let a = decoded.map_err(|e| PyOSError::new_err(e.to_string()))?;
    let rate = a.rate();
    let (channels, frames) = (a.channels(), a.frames());
    let arr = if mono {
        ndarray::Array1::from(a.into_data()).into_pyarray(py).into_any()
    } else {
        let planar: Vec<f32> = (0..channels).flat_map(|c| a.channel(c).to_vec()).collect();
        let arr = ndarray::Array2::from_shape_vec((channels, frames), planar)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        arr.into_pyarray(py).into_any()
    };
    Ok((arr, rate))
}

/// The number of threads a run uses when `requested` are asked for (0: one per core).
#[pyfunction]
fn threads(requested: usize) -> usize {
    specc::pool::threads(requested)
}

/// The native module.
#[pymodule]
fn _specc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPipeline>()?;
    m.add_class::<PyStream>()?;
    m.add("SpecError", m.py().get_type::<SpecError>())?;
    m.add_function(wrap_pyfunction!(preset_text, m)?)?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    m.add_function(wrap_pyfunction!(spec_text, m)?)?;
    m.add_function(wrap_pyfunction!(load_audio, m)?)?;
    m.add_function(wrap_pyfunction!(decode_audio, m)?)?;
    m.add_function(wrap_pyfunction!(threads, m)?)?;
    Ok(())
}
