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
    /// Also stream the input in chunks of this many samples (`--stream`), timing each push.
    pub stream: Option<StreamChunk>,
    /// Frames per emission while streaming.
    pub stream_group: crate::streamcmd::Group,
    /// How the stream treats a clip at a maximum.
    pub stream_clip: specc::ClipMode,
}

/// A chunk size for `bench --stream`: samples, or milliseconds at the spec's rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StreamChunk {
    /// This many samples per push.
    Samples(usize),
    /// This many milliseconds of audio per push.
    Millis(f64),
}

impl std::str::FromStr for StreamChunk {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a chunk size; give samples (160) or milliseconds (10ms)");
        match s.trim().strip_suffix("ms") {
            Some(ms) => ms
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| *v > 0.0 && v.is_finite())
                .map(StreamChunk::Millis)
                .ok_or_else(bad),
            None => {
                s.trim().parse().ok().filter(|v: &usize| *v > 0).map(StreamChunk::Samples).ok_or_else(bad)
            }
        }
    }
}

/// The samples `a..b` of `x` along `axis`, as a pipeline input.
fn slice(x: &npy::Array, axis: usize, a: usize, b: usize) -> specc::Input<'_> {
    use ndarray::{Axis, Slice};
    let s = Slice::from(a..b);
    match x {
        npy::Array::F32(v) => specc::Input::F32(v.slice_axis(Axis(axis), s)),
        npy::Array::F64(v) => specc::Input::F64(v.slice_axis(Axis(axis), s)),
        npy::Array::I16(v) => specc::Input::I16(v.slice_axis(Axis(axis), s)),
    }
}

/// Per-push latencies and whole-stream times of streaming `x` in chunks of `chunk` samples,
/// over `runs` streams (after one warm-up): (push times, stream times) in seconds, and the
/// frames per emission the streams used.
fn time_stream(
    p: &Pipeline,
    x: &npy::Array,
    axis: usize,
    chunk: usize,
    runs: usize,
    opts: &BenchOptions,
) -> Result<(Vec<f64>, Vec<f64>, usize), Error> {
    let n = x.view().shape()[axis];
    let mut pushes = Vec::new();
    let mut totals = Vec::new();
    let mut group = 1;
    let deferred = opts.stream_clip == specc::ClipMode::Deferred;
    for run in 0..=runs {
        let mut st = p.stream_with(opts.stream_clip)?;
        opts.stream_group.apply(&mut st);
        group = st.group();
        let start = Instant::now();
        let mut at = 0;
        let mut parts = Vec::new();
        while at < n {
            let b = (at + chunk).min(n);
            let t = Instant::now();
            let out = st.push(&slice(x, axis, at, b))?;
            if run > 0 {
                pushes.push(t.elapsed().as_secs_f64());
            }
            if deferred {
                parts.push(out);
            }
            at = b;
        }
        let out = st.finish()?;
        if deferred {
            // The deferred clip's cost: the frames kept, joined and clipped at the end.
            parts.push(out);
            let axis = st.time_axis().unwrap_or(0);
            let mut all = crate::streamcmd::concat(&parts, axis)?;
            st.apply_clip(&mut all)?;
        }
        if run > 0 {
            totals.push(start.elapsed().as_secs_f64());
        }
    }
    Ok((pushes, totals, group))
}

/// The most timed runs `--runs` takes: far beyond any useful median, and a bound on the list of
/// times kept.
const MAX_RUNS: usize = 1_000_000;

/// The input shape for a generated batch: `(batch, samples)` for `[..., samples]`, with a
/// channel axis of one where the spec has one (Kaldi's one channel holds the clips in a row).
fn batch_shape(p: &Pipeline, batch: usize, samples: usize) -> Result<Vec<usize>, Error> {
    let axes: Vec<&str> = p.graph().user_axes().iter().map(String::as_str).collect();
    Ok(match axes.as_slice() {
        ["...", "samples"] => vec![batch, samples],
        ["batch", "samples", "channels"] => vec![batch, samples, 1],
        ["batch", "channels", "samples"] => vec![batch, 1, samples],
        // Kaldi's (channels, samples) computes one channel: the clips one after another in it,
        // so the whole batch is computed.
        ["channels", "samples"] => vec![1, batch * samples],
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
    if let Some(chunk) = opts.stream {
        let chunk = match chunk {
            StreamChunk::Samples(s) => s,
            StreamChunk::Millis(ms) => ((ms * rate / 1000.0).round() as usize).max(1),
        };
        let (pushes, totals, group) = time_stream(&p, &x, s_axis, chunk, opts.runs.max(1), opts)?;
        let mut sorted = pushes.clone();
        sorted.sort_by(f64::total_cmp);
        let pct = |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
        let total = median(totals);
        let (p50, p99, max) = (median(pushes), pct(0.99), pct(1.0));
        if opts.json {
            outln!(
                "{{\"stream_chunk\": {chunk}, \"stream_group\": {group}, \"pushes\": {}, \"push_median_us\": {:.2}, \"push_p99_us\": {:.2}, \
                 \"push_max_us\": {:.2}, \"stream_median_ms\": {:.3}, \"stream_frames_per_s\": {:.1}, \"vs_offline\": {:.3}}}",
                sorted.len(),
                p50 * 1e6,
                p99 * 1e6,
                max * 1e6,
                total * 1e3,
                frames as f64 / total,
                med / total
            );
        } else {
            outln!(
                "stream in chunks of {chunk} samples ({:.2} ms), one thread, frames in groups of {group}, clip {:?}",
                chunk as f64 / rate * 1e3,
                opts.stream_clip
            );
            outln!(
                "  per push     {:9.2} us median, {:.2} us p99, {:.2} us max over {} pushes",
                p50 * 1e6,
                p99 * 1e6,
                max * 1e6,
                sorted.len()
            );
            outln!("  whole stream {:9.3} ms median", total * 1e3);
            outln!("  frames/s     {:12.0}   ({:.2}x the offline run's)", frames as f64 / total, med / total);
        }
    }
    Ok(())
}
