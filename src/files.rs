//! `specc run` over files: audio or `.npy` in, `.npy`, `.npz`, `.png` or `.svg` out, many inputs in
//! parallel, a progress bar on a terminal, and a summary that counts what really happened.

use crate::out::errln;
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

/// Output file formats. The accepted output extensions are listed from these variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
    /// Every format's extension, as users type them: `.npy .npz .png`.
    fn extensions() -> String {
        use clap::ValueEnum;
        Format::value_variants().iter().map(|f| format!(".{}", f.ext())).collect::<Vec<_>>().join(" ")
    }
}

/// The scale decoded audio is given to the spec in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AudioScale {
    /// Floats in [-1, 1), as soundfile, librosa and torchaudio.load give them.
    Float,
    /// Multiplied by 32768: the int16 values Kaldi's own tools read from a 16-bit file.
    Int16,
}

/// How a decoded audio file becomes the spec's input (shared by `run` and `bench`).
#[derive(Clone, Copy, Debug)]
pub struct AudioOptions {
    /// How multi-channel audio becomes the spec's input.
    pub channels: ChannelMode,
    /// Resample audio whose rate differs from the spec's.
    pub resample: bool,
    /// The scale of the samples.
    pub scale: AudioScale,
}

/// What `specc run` was asked to do.
pub struct RunOptions {
    /// Input files and folders.
    pub inputs: Vec<PathBuf>,
    /// Output file, or folder for several inputs.
    pub output: PathBuf,
    /// Format, when not given by the output's extension.
    pub format: Option<Format>,
    /// How audio files become the spec's input.
    pub audio: AudioOptions,
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
    Stdout,
}

/// Where a run's results go, decided from `-o`, `--format` and the inputs before any input is
/// read, so a command line that cannot work fails at once and writes nothing.
#[derive(Debug, PartialEq)]
enum Dest {
    /// `-o -`: one `.npy` to stdout.
    Stdout,
    /// One file.
    File(PathBuf, Format),
    /// One `<name>.<fmt>` per input in this folder.
    Dir(PathBuf, Format),
    /// One `.npz`, one array per input.
    Npz(PathBuf),
}

/// Resolves `-o`: `-` is stdout (one input); a trailing `/`, or an existing folder whose name
/// has no output extension, is a folder;
/// a known extension is that format (several inputs need `.npz`); an unknown extension is an
/// error; a name without extension is a folder for several inputs, and otherwise needs
/// `--format`.
fn destination(output: &Path, format: Option<Format>, inputs: usize, single: bool) -> Result<Dest, Error> {
    let text = output.to_string_lossy();
    let usage = |m: String| Err(Error::Usage(m));
    if text == "-" {
        if !single {
            return usage(format!(
                "`-o -` writes one .npy to stdout, so it takes one input, not {inputs}; give a folder (-o out/) or an .npz (-o out.npz)"
            ));
        }
        if let Some(f) = format.filter(|f| *f != Format::Npy) {
            return usage(format!("`-o -` writes .npy to stdout; for --format {} name a file", f.ext()));
        }
        return Ok(Dest::Stdout);
    }
    // An existing folder named like a file (`all.npz/`) stays a file name: writing it then fails
    // rather than filling a folder the name did not ask for.
    let folder = output.is_dir() && Format::from_path(output).is_none();
    if text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) || folder {
        return match format.unwrap_or(Format::Npy) {
            Format::Npz => usage(format!(
                "an .npz holds every input in one file: name it (e.g. -o {}) rather than a folder",
                output.join("features.npz").display()
            )),
            f => Ok(Dest::Dir(output.to_path_buf(), f)),
        };
    }
    let stem = output.with_extension("");
    match output.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()) {
        Some(ext) => {
            let Some(f) = Format::from_path(output) else {
                return usage(format!(
                    "unknown output extension `.{ext}` in {}; accepted: {} (or a folder: end the name with /)",
                    output.display(),
                    Format::extensions()
                ));
            };
            if let Some(asked) = format.filter(|a| *a != f) {
                return usage(format!(
                    "-o {} is a .{} file but --format says {}; drop one",
                    output.display(),
                    f.ext(),
                    asked.ext()
                ));
            }
            match f {
                Format::Npz => Ok(Dest::Npz(output.to_path_buf())),
                f if single => Ok(Dest::File(output.to_path_buf(), f)),
                _ => usage(format!(
                    "{inputs} inputs cannot all go to one .{} file {}: give a folder (-o {}/) or an .npz (-o {}.npz)",
                    f.ext(),
                    output.display(),
                    stem.display(),
                    stem.display()
                )),
            }
        }
        None => match format {
            Some(Format::Npz) => Ok(Dest::Npz(output.to_path_buf())),
            Some(f) if single => Ok(Dest::File(output.to_path_buf(), f)),
            f if !single => Ok(Dest::Dir(output.to_path_buf(), f.unwrap_or(Format::Npy))),
            _ => usage(format!(
                "-o {} has no extension: name the file ({}), pass --format, or end a folder name with /",
                output.display(),
                Format::extensions()
                    .split(' ')
                    .map(|e| format!("{}{e}", output.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
    }
}

/// `name=value` given where an input was expected: a forgotten `--set`.
fn looks_like_set(arg: &Path) -> bool {
    let text = arg.to_string_lossy();
    match text.split_once('=') {
        Some((name, _)) => {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !arg.exists()
        }
        None => false,
    }
}

fn is_npy(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// A file's identity (device and inode on Unix): two paths name the same file when these agree,
/// whatever the spelling, symlinks or hard links. `None` when the path does not exist.
fn file_id(p: &Path) -> Option<(u64, u64)> {
    let m = std::fs::metadata(p).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        let c = std::fs::canonicalize(p).ok()?;
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        c.hash(&mut h);
        Some((0, h.finish()))
    }
}

/// Refuses outputs that name the same file twice, or the spec file (`specc aot`): existing paths
/// are compared by [`file_id`], new ones by their absolute path.
pub fn check_distinct_outputs(spec: &str, outputs: &[&PathBuf]) -> Result<(), Error> {
    #[derive(PartialEq)]
    enum Key {
        Id((u64, u64)),
        Path(PathBuf),
    }
    let key = |p: &Path| match file_id(p) {
        Some(id) => Key::Id(id),
        None => Key::Path(std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())),
    };
    let spec_key = Path::new(spec).is_file().then(|| key(Path::new(spec)));
    for (i, a) in outputs.iter().enumerate() {
        let ka = key(a);
        if spec_key.as_ref() == Some(&ka) {
            return Err(Error::Usage(format!("{} is the spec file: refusing to overwrite it", a.display())));
        }
        if let Some(b) = outputs[..i].iter().find(|b| key(b) == ka) {
            return Err(Error::Usage(format!("{} and {} are the same file", b.display(), a.display())));
        }
    }
    Ok(())
}

/// Files to run: given files as they are, folders recursed (sorted) for audio and `.npy` files;
/// other files in folders are skipped with a warning. Links to files are followed, links to
/// folders are not (a link to `.` would loop), and each file is run once however many paths
/// lead to it.
fn collect(inputs: &[PathBuf], warnings: &mut Vec<String>) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashMap::new();
    // Files found in folders run once; files named on the command line run as named.
    type Seen = std::collections::HashMap<(u64, u64), PathBuf>;
    let once = |seen: &mut Seen, p: &Path, warnings: &mut Vec<String>| match file_id(p) {
        Some(id) => match seen.get(&id) {
            Some(first) => {
                warnings.push(format!("skipping {}: the same file as {}", p.display(), first.display()));
                false
            }
            None => {
                seen.insert(id, p.to_path_buf());
                true
            }
        },
        None => true,
    };
    for root in inputs {
        if root.is_dir() {
            let mut found = Vec::new();
            for entry in walkdir::WalkDir::new(root).follow_links(false) {
                let e = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        let at = e.path().map(|p| p.display().to_string()).unwrap_or_default();
                        warnings.push(format!("skipping {at}: {e}"));
                        continue;
                    }
                };
                let p = e.path();
                if e.file_type().is_dir() {
                    continue;
                }
                if e.file_type().is_symlink() {
                    match std::fs::metadata(p) {
                        Ok(m) if m.is_dir() => {
                            warnings.push(format!(
                                "skipping {}: a link to a folder (links to folders are not followed)",
                                p.display()
                            ));
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            warnings
                                .push(format!("skipping {}: a link that leads nowhere ({e})", p.display()));
                            continue;
                        }
                    }
                }
                if audio::is_audio_path(p) || is_npy(p) {
                    found.push(p.to_path_buf());
                } else {
                    warnings.push(format!("skipping {}: not an audio or .npy file", p.display()));
                }
            }
            found.sort();
            for p in found {
                if !once(&mut seen, &p, warnings) {
                    continue;
                }
                let rel = p.strip_prefix(root).unwrap_or(&p).with_extension("");
                let name = rel.to_string_lossy().replace(['/', '\\'], "_");
                out.push((p, name));
            }
        } else if is_stdin(root) {
            out.push((root.clone(), String::from("stdin")));
        } else {
            if let Some(id) = file_id(root) {
                seen.entry(id).or_insert_with(|| root.clone());
            }
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

fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// An input as messages name it: `stdin` for `-`.
fn shown(p: &Path) -> String {
    if is_stdin(p) {
        String::from("stdin")
    } else {
        p.display().to_string()
    }
}

/// Input `-`: stdin, told apart by its first bytes: a `.npy` (read header first, its data
/// checked against `max_bytes`) or audio (at most `max_bytes`, decoded from memory).
fn read_stdin(max_bytes: u64, check: audio::DeclaredCheck<'_>) -> Result<Loaded, String> {
    use std::io::Read;
    let mut stdin = std::io::stdin().lock();
    let mut head = Vec::new();
    stdin.by_ref().take(12).read_to_end(&mut head).map_err(|e| format!("cannot read stdin: {e}"))?;
    let rest = std::io::Cursor::new(head.clone()).chain(stdin);
    match audio::sniff(&head) {
        Some("npy") => {
            let bytes = npy::stream_bytes("stdin", rest, max_bytes).map_err(|e| e.to_string())?;
            Ok(Loaded::Array(npy::read_bytes("stdin", &bytes).map_err(|e| e.to_string())?))
        }
        Some(ext) => {
            let name = Path::new("stdin");
            let bytes = audio::read_stream(name, rest, max_bytes).map_err(|e| e.to_string())?;
            audio::decode_bytes(name, ext, &bytes, max_bytes, check)
                .map(Loaded::Audio)
                .map_err(|e| e.to_string())
        }
        None if head.is_empty() => Err(String::from("stdin is empty")),
        None => Err(String::from(
            "stdin holds neither a .npy array nor WAV, FLAC, MP3 or OGG audio (by its first bytes)",
        )),
    }
}

/// An input as read: an array, or decoded audio still to be laid out.
enum Loaded {
    Array(npy::Array),
    Audio(audio::Audio),
}

/// Reads an input (a file, or `-` for stdin) as an array in the spec's input layout, with its
/// audio duration. `run` and `bench` both read through here.
pub fn load(p: &Pipeline, path: &Path, opts: &AudioOptions) -> Result<(npy::Array, f64), String> {
    let g = p.graph();
    let max_bytes = p.limits().max_bytes;
    // What an audio header declares is checked against the program before any sample is
    // decoded: a short file that declares (or decodes to) ten hours is refused up front if its
    // spectrogram would not fit the memory limit. Other errors of the plan are reported after
    // decoding, in their own words.
    let check = |d: audio::Declared| -> Result<(), String> {
        let channels = if opts.channels == ChannelMode::All { d.channels } else { 1 };
        let mut frames = usize::try_from(d.frames).unwrap_or(usize::MAX);
        if let Some(rate) =
            g.rate.filter(|r| opts.resample && d.rate > 0 && (*r - d.rate as f64).abs() > 1e-9)
        {
            frames = (frames as f64 * rate / d.rate as f64).round() as usize;
        }
        let Ok(shape) = audio_layout(g.user_axes(), channels, frames, opts.channels).map(|(s, _)| s) else {
            return Ok(());
        };
        match p.plan(&shape, "float32") {
            Err(Error::Run(e @ specc::RunError::TooLarge(_))) => Err(e.to_string()),
            _ => Ok(()),
        }
    };
    let loaded = if is_stdin(path) {
        read_stdin(max_bytes, &check)?
    } else if is_npy(path) || !audio::is_audio_path(path) {
        // Check the header against the program (dtype, rank, empty, too short, the memory limit)
        // before reading the data: a huge array is refused without allocating for it.
        // (A pipe or device is read header first, its data size checked against the memory
        // limit before the data is read; the plan is checked after.)
        if path.is_file() {
            let info = npy::read_header(path).map_err(|e| e.to_string())?;
            p.plan(&info.shape, info.dtype).map_err(|e| e.to_string())?;
        }
        Loaded::Array(npy::read_within(path, max_bytes).map_err(|e| e.to_string())?)
    } else {
        Loaded::Audio(audio::decode_checked(path, max_bytes, &check).map_err(|e| e.to_string())?)
    };
    let a = match loaded {
        Loaded::Array(a) => {
            let seconds = match (g.rate, a.view().shape().last()) {
                (Some(r), Some(&n)) if g.user_axes().last().map(String::as_str) == Some("samples") => {
                    let rows: usize = a.view().shape().iter().rev().skip(1).product();
                    rows as f64 * n as f64 / r
                }
                _ => 0.0,
            };
            return Ok((a, seconds));
        }
        Loaded::Audio(a) => a,
    };
    let mut a = a.select(opts.channels);
    let seconds = a.duration_seconds();
    if let Some(rate) = g.rate {
        if (a.rate() as f64 - rate).abs() > 1e-9 {
            if !opts.resample {
                let set = match p.rate_param() {
                    Some(param) => format!(", or compute at the file's rate with --set {param}={}", a.rate()),
                    None => format!(" (this spec runs at {rate} Hz only)"),
                };
                return Err(format!(
                    "{} is sampled at {} Hz but the spec expects {rate} Hz; pass --resample{set}",
                    shown(path),
                    a.rate()
                ));
            }
            if rate.fract() != 0.0 || rate <= 0.0 || rate > u32::MAX as f64 {
                return Err(format!("cannot resample to {rate} Hz: not a whole number of Hz"));
            }
            a = a.resample_within(rate as u32, max_bytes).map_err(|e| e.in_file(path).to_string())?;
        }
    }
    if opts.scale == AudioScale::Int16 {
        a.data_mut().iter_mut().for_each(|v| *v *= 32768.0);
    }
    Ok((npy::Array::F32(shape_audio(g.user_axes(), a, opts.channels)?), seconds))
}

/// The input shape `c` channels of `t` samples take in the spec's layout: `[..., samples]` gets
/// `(samples)` or `(channels, samples)`; `[batch, samples, channels]` and `[batch, channels,
/// samples]` get a batch of one. The flag says whether the samples are interleaved (the
/// channel axis last).
pub(crate) fn audio_layout(
    user_axes: &[String],
    c: usize,
    t: usize,
    mode: ChannelMode,
) -> Result<(Vec<usize>, bool), String> {
    let keep_axis = mode == ChannelMode::All;
    let axes: Vec<&str> = user_axes.iter().map(String::as_str).collect();
    Ok(match axes.as_slice() {
        ["...", "samples"] if keep_axis => (vec![c, t], false),
        ["...", "samples"] | ["samples"] if c == 1 => (vec![t], false),
        ["batch", "channels", "samples"] => (vec![1, c, t], false),
        // Kaldi's (channels, samples): the selected channel(s), one row for mix and first, every
        // channel for all, of which the spec's `channel` param picks one as torchaudio does.
        ["channels", "samples"] => (vec![c, t], false),
        ["batch", "samples", "channels"] => (vec![1, t, c], true),
        _ => {
            return Err(format!(
                "cannot lay out {c}-channel audio as this spec's input [{}]; try --channels mix",
                user_axes.join(", ")
            ))
        }
    })
}

/// Lays decoded audio out as the spec's input (see [`audio_layout`]). Takes the audio by value
/// so that its samples move into the array (a long recording is not held twice).
fn shape_audio(user_axes: &[String], a: audio::Audio, mode: ChannelMode) -> Result<ArrayD<f32>, String> {
    let (c, t) = (a.channels(), a.frames());
    let (shape, interleave) = audio_layout(user_axes, c, t, mode)?;
    let data = if interleave {
        let mut d = vec![0.0; c * t];
        for ch in 0..c {
            for (i, v) in a.channel(ch).iter().enumerate() {
                d[i * c + ch] = *v;
            }
        }
        d
    } else {
        a.into_data()
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
    if opts.audio.channels == ChannelMode::All && audio::is_audio_path(input) && !is_npy(input) {
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

/// Writes `out` as one `.npy` to stdout (`-o -`), encoded whole first so that a failure
/// writes nothing.
pub fn write_stdout(out: &Output) -> Result<(), String> {
    use ndarray_npy::WriteNpyExt;
    let mut bytes = Vec::new();
    match out {
        Output::F32(a) => a.write_npy(&mut bytes),
        Output::F64(a) => a.write_npy(&mut bytes),
    }
    .map_err(|e| format!("cannot encode .npy: {e}"))?;
    crate::out::stdout_bytes(&bytes)
}

/// Refuses, before anything is written, a run whose output would replace one of its inputs:
/// `-o .` in the input's folder, `-o` naming an input by another spelling, a symlink or a hard
/// link, or a folder written into itself. Files are compared by identity (device and inode).
fn refuse_clobbering(inputs: &[(PathBuf, String)], dest: &Dest) -> Result<(), Error> {
    let ids: Vec<((u64, u64), &Path)> = inputs
        .iter()
        .filter(|(p, _)| !is_stdin(p))
        .filter_map(|(p, _)| Some((file_id(p)?, p.as_path())))
        .collect();
    let outputs: Vec<PathBuf> = match dest {
        Dest::Stdout => Vec::new(),
        Dest::File(p, _) | Dest::Npz(p) => vec![p.clone()],
        Dest::Dir(dir, f) => inputs.iter().map(|(_, name)| dir.join(format!("{name}.{}", f.ext()))).collect(),
    };
    for out in &outputs {
        let Some(id) = file_id(out) else { continue };
        if let Some((_, input)) = ids.iter().find(|(i, _)| *i == id) {
            return Err(Error::Usage(format!(
                "refusing to write {}: it is the input {} (the same file), which would be lost; choose another output",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// What happens on SIGINT or SIGTERM during a run: the temporaries of outputs being written are
/// removed (no `.specc-*.tmp` is left behind), folders the run created and left empty are
/// removed, the count of outputs written completely is printed, and the process exits with
/// 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as a shell reports it.
mod interrupt {
    use crate::out::errln;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    static DONE: AtomicUsize = AtomicUsize::new(0);
    static TOTAL: AtomicUsize = AtomicUsize::new(0);
    static ARMED: AtomicBool = AtomicBool::new(false);
    static CREATED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// Starts counting a run of `total` outputs that may create the folders `created` (deepest
    /// first); installs the handler on first use.
    pub fn arm(total: usize, created: &[PathBuf]) {
        DONE.store(0, Ordering::SeqCst);
        TOTAL.store(total, Ordering::SeqCst);
        *CREATED.lock().unwrap_or_else(|e| e.into_inner()) = created.to_vec();
        if !ARMED.swap(true, Ordering::SeqCst) {
            use signal_hook::consts::{SIGINT, SIGTERM};
            // The handler runs on its own thread (signal-hook's self-pipe), so it may lock and
            // remove files; if it cannot be installed the default action (exit) stays.
            if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
                std::thread::spawn(move || {
                    if let Some(sig) = signals.forever().next() {
                        on_signal(sig);
                    }
                });
            }
        }
    }

    /// One more output was written completely.
    pub fn complete() {
        DONE.fetch_add(1, Ordering::SeqCst);
    }

    /// The run is over: a signal from now on finds nothing to clean.
    pub fn disarm() {
        TOTAL.store(0, Ordering::SeqCst);
        CREATED.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn on_signal(sig: i32) -> ! {
        let removed = specc::remove_temporaries();
        let done = DONE.load(Ordering::SeqCst);
        let total = TOTAL.load(Ordering::SeqCst);
        if done == 0 {
            for dir in CREATED.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                if std::fs::remove_dir(dir).is_err() {
                    break;
                }
            }
        }
        let name = if sig == signal_hook::consts::SIGINT { "SIGINT" } else { "SIGTERM" };
        let partial =
            if removed > 0 { format!("; {removed} unfinished output(s) removed") } else { String::new() };
        errln!("\ninterrupted by {name}: {done} of {total} output(s) written completely{partial}");
        std::process::exit(128 + sig);
    }
}

/// Runs every input; prints a summary; returns whether all succeeded.
pub fn run(p: &Pipeline, opts: &RunOptions) -> Result<bool, Error> {
    if let Some(arg) = opts.inputs.iter().find(|a| looks_like_set(a)) {
        let arg = arg.display();
        return Err(Error::Usage(format!("input `{arg}` does not exist; did you mean --set {arg}?")));
    }
    if opts.inputs.iter().filter(|a| is_stdin(a)).count() > 1 {
        return Err(Error::Usage(String::from("stdin (`-`) can be read once: give it as one input")));
    }
    let mut warnings = Vec::new();
    let inputs = collect(&opts.inputs, &mut warnings);
    for w in &warnings {
        errln!("warning: {w}");
    }
    if inputs.is_empty() {
        return Err(Error::Io(String::from("no input files to run")));
    }
    let single = inputs.len() == 1 && !opts.inputs[0].is_dir();
    let dest = destination(&opts.output, opts.format, inputs.len(), single)?;
    let to_dir = matches!(dest, Dest::Dir(..));
    refuse_clobbering(&inputs, &dest)?;
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
    let outputs = if to_dir { inputs.len() } else { 1 };
    interrupt::arm(outputs, &created);
    if to_dir {
        std::fs::create_dir_all(&opts.output)
            .map_err(|e| Error::Io(format!("cannot create output folder {}: {e}", opts.output.display())))?;
    }
    let sink = |name: &str| -> Sink {
        match &dest {
            Dest::Npz(_) => Sink::Npz(name.to_string()),
            Dest::Dir(dir, f) => Sink::File(dir.join(format!("{name}.{}", f.ext())), *f),
            Dest::File(path, f) => Sink::File(path.clone(), *f),
            Dest::Stdout => Sink::Stdout,
        }
    };
    // The JIT's refusal of a graph is reported once per precision, never silently.
    let warned: Mutex<Vec<Precision>> = Mutex::new(Vec::new());
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
            let (x, s) = load(p, path, &opts.audio)?;
            let read_ms = ms(t);
            seconds = s;
            let view = x.view();
            // An audio file reduced to one channel cannot feed a spec that picks another one
            // (kaldi_fbank's `channel`): say how to keep them all.
            let hint = |e: Error| {
                let from_audio = !is_npy(path) && (audio::is_audio_path(path) || is_stdin(path));
                let picks = p.graph().user_axes().iter().any(|a| a == "channels");
                match opts.audio.channels {
                    ChannelMode::Mix | ChannelMode::First if from_audio && picks => {
                        format!("{e}; --channels mix and first give one channel: pass --channels all to keep every channel")
                    }
                    _ => e.to_string(),
                }
            };
            let plan = p.plan(view.shape(), view.dtype_name()).map_err(hint)?;
            // Compiles (once per pipeline and precision) outside the compute time.
            let t = Instant::now();
            let (_, why) = p.engine_for(plan.precision);
            let compile_ms = ms(t);
            if let Some(why) = why {
                let mut w = warned.lock().map_err(|_| "internal error: lock poisoned")?;
                if !w.contains(&plan.precision) {
                    w.push(plan.precision);
                    bar.suspend(|| {
                        errln!(
                            "warning: the JIT cannot compile this graph, running on the interpreter: {why}"
                        )
                    });
                }
            }
            let t = Instant::now();
            let y = p.run(&view).map_err(hint)?;
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
                    interrupt::complete();
                    let what = format!("{what}, write {:.1} ms)", ms(t));
                    Ok(format!("{} -> {}: {what}", shown(path), dest.display()))
                }
                Sink::Stdout => {
                    write_stdout(&y)?;
                    interrupt::complete();
                    Ok(format!("{} -> stdout: {what})", shown(path)))
                }
                Sink::Npz(n) => {
                    npz_arrays.lock().map_err(|_| "internal error: lock poisoned")?.push((n.clone(), y));
                    Ok(format!("{} -> {}[{n}]: {what})", shown(path), opts.output.display()))
                }
            }
        })();
        bar.inc(1);
        Done { input: path.clone(), audio_seconds: seconds, result }
    };
    let results: Vec<Done> = std::thread::scope(|s| {
        // Audio decodes to f32: the f32 program compiles on its own thread while the first
        // file is read (the first run waits for it if it is not done).
        if inputs.iter().any(|(path, _)| !is_npy(path) && !is_stdin(path)) {
            s.spawn(|| p.engine_for(Precision::F32));
        }
        // More jobs than cores or inputs bring nothing (`--jobs 1e9` must not start a
        // billion threads); the pool lives for this run only.
        let jobs = specc_runtime::pool::threads(opts.jobs).min(inputs.len()).max(1);
        match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
            Ok(pool) if jobs > 1 => pool.install(|| inputs.par_iter().map(one).collect()),
            _ => inputs.iter().map(one).collect(),
        }
    });
    bar.finish_and_clear();
    let failed = results.iter().filter(|d| d.result.is_err()).count();
    let mut npz_note = None;
    if let Dest::Npz(npz_path) = &dest {
        let mut arrays = npz_arrays.into_inner().unwrap_or_default();
        arrays.sort_by(|a, b| a.0.cmp(&b.0));
        // An existing archive is replaced only by one holding every input: a run with failures
        // must not turn a full all.npz into a partial one.
        let exists = std::fs::symlink_metadata(npz_path).is_ok();
        if !arrays.is_empty() && failed > 0 && exists {
            npz_note = Some(format!(
                "{} was not replaced: {failed} of {} inputs failed, and it keeps its previous arrays",
                npz_path.display(),
                results.len()
            ));
        } else if !arrays.is_empty() {
            npy::write_npz(npz_path, &arrays)?;
            interrupt::complete();
            if failed > 0 {
                let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
                npz_note = Some(format!(
                    "{} holds {} of {} arrays ({}); the failed inputs have none",
                    npz_path.display(),
                    arrays.len(),
                    results.len(),
                    names.join(", ")
                ));
            }
        }
    }
    interrupt::disarm();
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
    let note = || {
        if let Some(note) = &npz_note {
            errln!("note: {note}");
        }
    };
    if results.len() == 1 {
        match &results[0].result {
            Ok(line) => errln!("{line}"),
            Err(e) => errln!("error: {e}"),
        }
        note();
        return Ok(ok == 1);
    }
    for d in results.iter().filter(|d| d.result.is_err()) {
        if let Err(e) = &d.result {
            errln!("failed: {}: {e}", shown(&d.input));
        }
    }
    let rtf =
        if wall > 0.0 && audio > 0.0 { format!(", {:.1}x real time", audio / wall) } else { String::new() };
    errln!(
        "{} files: {ok} done, {} failed; {:.1} s of audio in {:.2} s{rtf}",
        results.len(),
        results.len() - ok,
        audio,
        wall
    );
    note();
    Ok(ok == results.len())
}
