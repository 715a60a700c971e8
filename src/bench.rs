//! `specc bench`: compile once, warm up, time repeated runs, report medians — the measurement
//! every speed claim quotes. Timing lives here and in `benches/`, never in tests.

use crate::out::{errln, outln};
use ndarray::{ArrayD, IxDyn};
use specc::{npy, Engine, Error, Pipeline};
use std::time::Instant;

/// What to measure.
pub struct BenchOptions {
    /// Clips in the generated batch.
    pub batch: usize,
    /// Seconds per generated clip.
    pub seconds: f64,
    /// Timed runs.
    pub runs: usize,
    /// Threads: 1 runs the batch in one call; more run its clips as separate inputs in parallel.
    pub threads: usize,
    /// Run this audio file or array instead of generated audio.
    pub input: Option<std::path::PathBuf>,
    /// How an audio `input` becomes the spec's input, as in `run`.
    pub audio: crate::files::AudioOptions,
    /// Print JSON instead of text.
    pub json: bool,
    /// The memory limit (`--max-memory`), when not the default.
    pub max_bytes: Option<u64>,
}

/// The most timed runs `--runs` takes: far beyond any useful median, and a bound on the list of
/// times kept.
const MAX_RUNS: usize = 1_000_000;

/// The input shape for a generated batch: `(batch, samples)` for `[..., samples]`, with a
/// channel axis of one where the spec has one.
fn batch_shape(p: &Pipeline, batch: usize, samples: usize) -> Result<Vec<usize>, Error> {
    let axes: Vec<&str> = p.graph().user_axes().iter().map(String::as_str).collect();
    Ok(match axes.as_slice() {
        ["...", "samples"] => vec![batch, samples],
        ["batch", "samples", "channels"] => vec![batch, samples, 1],
        ["batch", "channels", "samples"] => vec![batch, 1, samples],
        other => {
            return Err(Error::Io(format!(
                "cannot generate a bench input for layout {other:?}; pass --input"
            )))
        }
    })
}

/// A seeded batch of noise plus two tones per clip, in the shape [`batch_shape`] gives, after
/// checking it against the pipeline's memory limit: the size comes from the command line, so it
/// is planned (input and working memory) before anything is allocated.
fn generate(p: &Pipeline, batch: usize, samples: usize) -> Result<ArrayD<f32>, Error> {
    let total = batch.checked_mul(samples).filter(|t| *t <= isize::MAX as usize / 4).ok_or_else(|| {
        Error::Io(format!(
            "--batch {batch} clips of {samples} samples is more samples than memory can address"
        ))
    })?;
    let shape = batch_shape(p, batch, samples)?;
    p.plan(&shape, "float32")?;
    let rate = p.graph().rate.unwrap_or(16000.0);
    let mut state: u64 = 0x5eed_cafe;
    let mut noise = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 40) as f64 / (1u64 << 24) as f64) * 2.0 - 1.0
    };
    let mut data = Vec::with_capacity(total);
    for b in 0..batch {
        let (f1, f2) = (220.0 * (1.0 + b as f64 * 0.25), 1234.5 + 97.0 * b as f64);
        for i in 0..samples {
            let t = i as f64 / rate;
            let v = 0.1 * noise()
                + 0.5 * (2.0 * std::f64::consts::PI * f1 * t).sin()
                + 0.3 * (2.0 * std::f64::consts::PI * f2 * t).sin();
            data.push(v as f32);
        }
    }
    ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| Error::Io(e.to_string()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs the benchmark and prints the report.
pub fn run(spec: &str, sets: &[String], engine: specc::Engine, opts: &BenchOptions) -> Result<(), Error> {
    let refs: Vec<&str> = sets.iter().map(String::as_str).collect();
    let t = Instant::now();
    let mut p = Pipeline::open(spec, &refs)?.with_engine(engine).with_threads(opts.threads);
    if let Some(max_bytes) = opts.max_bytes {
        p = p.with_limits(specc::Limits { max_bytes });
    }
    // What runs: 0 is one per core, and more than the cores is capped to them.
    let threads = specc_runtime::pool::threads(opts.threads);
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;
    let rate = p.graph().rate.unwrap_or(16000.0);
    if opts.runs > MAX_RUNS {
        return Err(Error::Usage(format!("--runs {} is more than the {MAX_RUNS} a median needs", opts.runs)));
    }
    let x: npy::Array = match &opts.input {
        Some(path) => crate::files::load(&p, path, &opts.audio).map_err(Error::Io)?.0,
        None => {
            if opts.batch == 0 || opts.seconds.is_nan() || opts.seconds <= 0.0 || opts.seconds * rate > 1e9 {
                return Err(Error::Io(String::from("--batch must be >= 1 and --seconds positive and sane")));
            }
            npy::Array::F32(generate(&p, opts.batch, (opts.seconds * rate).round() as usize)?)
        }
    };
    let view = x.view();
    let plan = p.plan(view.shape(), view.dtype_name())?;
    // Signals in the input: every axis but `samples` (named axes align from the end, after `...`).
    let named: Vec<&str> = p.graph().user_axes().iter().map(String::as_str).filter(|a| *a != "...").collect();
    let s_pos = named.iter().position(|a| *a == "samples").unwrap_or(0);
    let s_axis = (view.shape().len() + s_pos).saturating_sub(named.len());
    let lead: usize =
        view.shape().iter().enumerate().filter(|(i, _)| *i != s_axis).map(|(_, d)| *d).product();
    let samples_total: usize = view.shape().iter().product();
    let audio_seconds = samples_total as f64 / rate;
    // Machine code is compiled on first use: time it as part of compiling.
    let t = Instant::now();
    let (used, why) = p.engine_for(plan.precision);
    let compile_ms = compile_ms + t.elapsed().as_secs_f64() * 1e3;
    if let Some(why) = &why {
        errln!("warning: the JIT cannot compile this graph, running on the interpreter: {why}");
    }
    let once = || -> Result<(), Error> { p.run(&view).map(|_| ()) };
    once()?; // warm-up
    let mut times = Vec::with_capacity(opts.runs.max(1));
    for _ in 0..opts.runs.max(1) {
        let t = Instant::now();
        once()?;
        times.push(t.elapsed().as_secs_f64());
    }
    let med = median(times.clone());
    let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let frames = plan.frames * lead.max(1);
    if opts.json {
        outln!(
            "{{\"spec\": \"{}\", \"engine\": \"{}\", \"input_shape\": {:?}, \"output_shape\": {:?}, \
             \"threads\": {}, \"runs\": {}, \"compile_ms\": {:.3}, \"median_ms\": {:.3}, \"min_ms\": {:.3}, \
             \"frames\": {}, \"frames_per_s\": {:.1}, \"audio_s\": {:.3}, \"realtime_factor\": {:.2}}}",
            p.graph().name,
            used.as_str(),
            view.shape(),
            plan.output_shape,
            threads,
            times.len(),
            compile_ms,
            med * 1e3,
            min * 1e3,
            frames,
            frames as f64 / med,
            audio_seconds,
            audio_seconds / med
        );
    } else {
        outln!("spec {} ({} engine, {} thread(s))", p.graph().name, used.as_str(), threads);
        outln!("  input {:?} -> output {:?}", view.shape(), plan.output_shape);
        outln!("  compile      {compile_ms:9.3} ms   (parse, lower, optimize, machine code)");
        if used == Engine::Jit {
            if let Ok(k) = p.jit_kernels(plan.precision) {
                outln!("  kernels      {k}");
            }
        }
        outln!(
            "  compute      {:9.3} ms median, {:.3} ms min over {} runs",
            med * 1e3,
            min * 1e3,
            times.len()
        );
        outln!("  frames/s     {:12.0}   ({frames} frames)", frames as f64 / med);
        outln!("  real time    {:9.1}x   ({audio_seconds:.2} s of audio)", audio_seconds / med);
    }
    Ok(())
}
