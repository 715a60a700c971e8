//! `specc run` over files: audio or `.npy` in, `.npy`, `.npz`, `.png` or `.svg` out, many inputs in
//! parallel, a progress bar on a terminal, and a summary that counts what really happened.

use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;
use specc::{npy, Error, Output, Pipeline};
use specc_compiler::graph::Precision;
use specc_runtime::audio::{self, ChannelMode};
use specc_runtime::figure::{self, FigureOptions};
use specc_runtime::image;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// Output file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One `.npy` per input.
    Npy,
    /// One `.npz` holding one array per input.
    Npz,
    /// One `.png` figure per input.
    Png,
    /// One `.svg` figure per input.
    Svg,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "npy" => Ok(Format::Npy),
            "npz" => Ok(Format::Npz),
            "png" => Ok(Format::Png),
            "svg" => Ok(Format::Svg),
            other => Err(format!("unknown format `{other}`; formats: npy, npz, png, svg")),
        }
    }
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::Npy => "npy",
            Format::Npz => "npz",
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }
    fn from_path(p: &Path) -> Option<Format> {
        p.extension().and_then(|e| e.to_str()).and_then(|e| e.to_ascii_lowercase().parse().ok())
    }
}

/// What `specc run` was asked to do.
pub struct RunOptions {
    /// Input files and folders.
    pub inputs: Vec<PathBuf>,
    /// Output file, or folder for several inputs.
    pub output: PathBuf,
    /// Format, when not given by the output's extension.
    pub format: Option<Format>,
    /// How multi-channel audio becomes the spec's input.
    pub channels: ChannelMode,
    /// Resample audio whose rate differs from the spec's.
    pub resample: bool,
    /// Figure size, colormap and scale (`.png`, `.svg`).
    pub png: FigureOptions,
    /// Parallel jobs (0: one per core).
    pub jobs: usize,
}

/// One input's outcome.
struct Done {
    input: PathBuf,
    audio_seconds: f64,
    result: Result<String, String>,
}

/// Where one input's result goes.
enum Sink {
    File(PathBuf, Format),
    Npz(String),
}

fn is_npy(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Files to run: given files as they are, folders recursed (sorted) for audio and `.npy` files;
/// other files in folders are skipped with a warning.
fn collect(inputs: &[PathBuf], warnings: &mut Vec<String>) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for root in inputs {
        if root.is_dir() {
            let mut stack = vec![root.clone()];
            let mut found = Vec::new();
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) => {
                        warnings.push(format!("skipping {}: {e}", dir.display()));
                        continue;
                    }
                };
                for e in entries.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if audio::is_audio_path(&p) || is_npy(&p) {
                        found.push(p);
                    } else {
                        warnings.push(format!("skipping {}: not an audio or .npy file", p.display()));
                    }
                }
            }
            found.sort();
            for p in found {
                let rel = p.strip_prefix(root).unwrap_or(&p).with_extension("");
                let name = rel.to_string_lossy().replace(['/', '\\'], "_");
                out.push((p, name));
            }
        } else {
            let name = root.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            out.push((root.clone(), name));
        }
    }
    // Two inputs with one name would overwrite each other: the later ones get their extension
    // (`speech.wav`, `speech.ogg` -> `speech`, `speech_ogg`), then a number if still taken.
    let mut taken = std::collections::HashSet::new();
    for (path, name) in out.iter_mut() {
        if !taken.insert(name.clone()) {
            let ext = path.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
            let base = format!("{name}_{ext}");
            let mut candidate = base.clone();
            let mut k = 2;
            while !taken.insert(candidate.clone()) {
                candidate = format!("{base}_{k}");
                k += 1;
            }
            *name = candidate;
        }
    }
    out
}

/// Reads an input as an array in the spec's input layout, with its audio duration.
fn load(p: &Pipeline, path: &Path, opts: &RunOptions) -> Result<(npy::Array, f64), String> {
    let g = p.graph();
    if is_npy(path) || !audio::is_audio_path(path) {
        // Check the header against the program (dtype, rank, empty, too short, the memory limit)
        // before reading the data: a huge array is refused without allocating for it.
        // (A pipe can be read only once: it is checked after reading.)
        if path.is_file() {
            let info = npy::read_header(path).map_err(|e| e.to_string())?;
            p.plan(&info.shape, info.dtype).map_err(|e| e.to_string())?;
        }
        let a = npy::read(path).map_err(|e| e.to_string())?;
        let seconds = match (g.rate, a.view().shape().last()) {
            (Some(r), Some(&n)) if g.user_axes().last().map(String::as_str) == Some("samples") => {
                let rows: usize = a.view().shape().iter().rev().skip(1).product();
                rows as f64 * n as f64 / r
            }
            _ => 0.0,
        };
        return Ok((a, seconds));
    }
    let mut a = audio::decode(path).map_err(|e| e.to_string())?.select(opts.channels);
    let seconds = a.duration_seconds();
    if let Some(rate) = g.rate {
        if (a.rate as f64 - rate).abs() > 1e-9 {
            if !opts.resample {
                return Err(format!(
                    "{} is sampled at {} Hz but the spec expects {} Hz; pass --resample, or set the spec's rate param",
                    path.display(),
                    a.rate,
                    rate
                ));
            }
            if rate.fract() != 0.0 || rate <= 0.0 || rate > u32::MAX as f64 {
                return Err(format!("cannot resample to {rate} Hz: not a whole number of Hz"));
            }
            a = a.resample(rate as u32).map_err(|e| e.in_file(path).to_string())?;
        }
    }
    Ok((npy::Array::F32(shape_audio(g.user_axes(), a, opts.channels)?), seconds))
}

/// Lays decoded audio out as the spec's input: `[..., samples]` gets `(samples)` or
/// `(channels, samples)`; `[batch, samples, channels]` and `[batch, channels, samples]` get a batch
/// of one. Takes the audio by value so that its samples move into the array (a long recording
/// is not held twice).
fn shape_audio(user_axes: &[String], a: audio::Audio, mode: ChannelMode) -> Result<ArrayD<f32>, String> {
    let c = a.channels;
    let t = a.frames;
    let keep_axis = mode == ChannelMode::All;
    let axes: Vec<&str> = user_axes.iter().map(String::as_str).collect();
    let (shape, data): (Vec<usize>, Vec<f32>) = match axes.as_slice() {
        ["...", "samples"] if keep_axis => (vec![c, t], a.data),
        ["...", "samples"] | ["samples"] if c == 1 => (vec![t], a.data),
        ["batch", "channels", "samples"] => (vec![1, c, t], a.data),
        ["batch", "samples", "channels"] => {
            let mut d = vec![0.0; c * t];
            for ch in 0..c {
                for (i, v) in a.channel(ch).iter().enumerate() {
                    d[i * c + ch] = *v;
                }
            }
            (vec![1, t, c], d)
        }
        _ => {
            return Err(format!(
                "cannot lay out {c}-channel audio as this spec's input [{}]; try --channels mix",
                user_axes.join(", ")
            ))
        }
    };
    ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| e.to_string())
}

/// Draws a figure of `out`, computed from an input of `input_shape` read from `input`.
fn draw(
    p: &Pipeline,
    out: &Output,
    input: &Path,
    input_shape: &[usize],
    opts: &RunOptions,
) -> Result<Figure, String> {
    let mut info = p.figure_info(input_shape).map_err(|e| e.to_string())?;
    let name =
        input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned());
    info.title = format!("{name} — {}", info.title);
    // `--channels all` lays audio out as (channels, samples): the leading axis is the channels.
    if opts.channels == ChannelMode::All && audio::is_audio_path(input) && !is_npy(input) {
        for a in info.axes.iter_mut().filter(|a| a.kind == figure::AxisKind::Panels) {
            a.label = String::from("channel");
        }
    }
    let values = ndarray::Array::from_shape_vec(
        IxDyn(out.shape()),
        out.to_f64().into_iter().map(|v| v as f32).collect(),
    )
    .map_err(|e| e.to_string())?;
    Ok(Figure { values, info })
}

/// A figure's values and description.
struct Figure {
    values: ArrayD<f32>,
    info: figure::FigureInfo,
}

fn write(
    out: &Output,
    fig: Option<Figure>,
    path: &Path,
    format: Format,
    opts: &FigureOptions,
) -> Result<(), String> {
    let fig = || fig.ok_or_else(|| String::from("internal error: no figure to draw"));
    match format {
        Format::Npy => npy::write(path, out).map_err(|e| e.to_string()),
        Format::Png => {
            let f = fig()?;
            let img = figure::render_png(f.values.view(), &f.info, opts).map_err(|e| e.to_string())?;
            image::write_png(path, &img).map_err(|e| e.to_string())
        }
        Format::Svg => {
            let f = fig()?;
            let svg = figure::render_svg(f.values.view(), &f.info, opts).map_err(|e| e.to_string())?;
            figure::write_svg(path, &svg).map_err(|e| e.to_string())
        }
        Format::Npz => unreachable!("npz outputs are gathered and written once"),
    }
}

/// Runs every input; prints a summary; returns whether all succeeded.
pub fn run(p: &Pipeline, opts: &RunOptions) -> Result<bool, Error> {
    let mut warnings = Vec::new();
    let inputs = collect(&opts.inputs, &mut warnings);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if inputs.is_empty() {
        return Err(Error::Io(String::from("no input files to run")));
    }
    let single = inputs.len() == 1 && !opts.inputs[0].is_dir();
    let out_fmt = Format::from_path(&opts.output);
    let format = opts.format.or(out_fmt).unwrap_or(Format::Npy);
    let to_dir = !(single || format == Format::Npz) || opts.output.is_dir();
    // The folders this run creates, deepest first, removed again if nothing is written into them.
    let created: Vec<PathBuf> = if to_dir {
        opts.output
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .map(Path::to_path_buf)
            .collect()
    } else {
        Vec::new()
    };
    if to_dir {
        std::fs::create_dir_all(&opts.output)
            .map_err(|e| Error::Io(format!("cannot create output folder {}: {e}", opts.output.display())))?;
    }
    let sink = |name: &str| -> Sink {
        match format {
            Format::Npz => Sink::Npz(name.to_string()),
            f if to_dir => Sink::File(opts.output.join(format!("{name}.{}", f.ext())), f),
            f => Sink::File(opts.output.clone(), f),
        }
    };
    let npz_arrays: Mutex<Vec<(String, Output)>> = Mutex::new(Vec::new());
    let bar = ProgressBar::new(inputs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files  {elapsed_precise}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let t0 = Instant::now();
    let one = |(path, name): &(PathBuf, String)| -> Done {
        let mut seconds = 0.0;
        let result = (|| {
            let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let (x, s) = load(p, path, opts)?;
            let read_ms = ms(t);
            seconds = s;
            let view = x.view();
            let plan = p.plan(view.shape(), view.dtype_name()).map_err(|e| e.to_string())?;
            // Compiles (once per pipeline and precision) outside the compute time.
            let t = Instant::now();
            p.engine_for(plan.precision);
            let compile_ms = ms(t);
            let t = Instant::now();
            let y = p.run(&view).map_err(|e| e.to_string())?;
            let what = format!(
                "{:?} {} ({} frames) in {:.1} ms (read {read_ms:.1} ms, compile {compile_ms:.1} ms",
                y.shape(),
                plan.precision.as_str(),
                plan.frames,
                ms(t)
            );
            match sink(name) {
                Sink::File(dest, f) => {
                    let t = Instant::now();
                    let fig = match f {
                        Format::Png | Format::Svg => Some(draw(p, &y, path, view.shape(), opts)?),
                        _ => None,
                    };
                    write(&y, fig, &dest, f, &opts.png)?;
                    let what = format!("{what}, write {:.1} ms)", ms(t));
                    Ok(format!("{} -> {}: {what}", path.display(), dest.display()))
                }
                Sink::Npz(n) => {
                    npz_arrays.lock().map_err(|_| "internal error: lock poisoned")?.push((n.clone(), y));
                    Ok(format!("{} -> {}[{n}]: {what})", path.display(), opts.output.display()))
                }
            }
        })();
        bar.inc(1);
        Done { input: path.clone(), audio_seconds: seconds, result }
    };
    let results: Vec<Done> = std::thread::scope(|s| {
        // Audio decodes to f32: the f32 program compiles on its own thread while the first
        // file is read (the first run waits for it if it is not done).
        if inputs.iter().any(|(path, _)| !is_npy(path)) {
            s.spawn(|| p.engine_for(Precision::F32));
        }
        match rayon::ThreadPoolBuilder::new().num_threads(opts.jobs).build() {
            Ok(pool) => pool.install(|| inputs.par_iter().map(one).collect()),
            Err(_) => inputs.iter().map(one).collect(),
        }
    });
    bar.finish_and_clear();
    if format == Format::Npz {
        let mut arrays = npz_arrays.into_inner().unwrap_or_default();
        arrays.sort_by(|a, b| a.0.cmp(&b.0));
        if !arrays.is_empty() {
            npy::write_npz(&opts.output, &arrays)?;
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let ok = results.iter().filter(|d| d.result.is_ok()).count();
    if ok == 0 {
        // A failed run leaves no output behind, not even an empty folder (remove_dir refuses a
        // folder that is not empty).
        for dir in &created {
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
    let audio: f64 = results.iter().filter(|d| d.result.is_ok()).map(|d| d.audio_seconds).sum();
    if results.len() == 1 {
        match &results[0].result {
            Ok(line) => eprintln!("{line}"),
            Err(e) => eprintln!("error: {e}"),
        }
        return Ok(ok == 1);
    }
    for d in results.iter().filter(|d| d.result.is_err()) {
        if let Err(e) = &d.result {
            eprintln!("failed: {}: {e}", d.input.display());
        }
    }
    let rtf =
        if wall > 0.0 && audio > 0.0 { format!(", {:.1}x real time", audio / wall) } else { String::new() };
    eprintln!(
        "{} files: {ok} done, {} failed; {:.1} s of audio in {:.2} s{rtf}",
        results.len(),
        results.len() - ok,
        audio,
        wall
    );
    Ok(ok == results.len())
}
