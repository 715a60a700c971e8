//! The `specc` command line.
// All output goes through `out` (a closed pipe or a full disk is not a panic).
#![deny(clippy::print_stdout, clippy::print_stderr)]

use clap::{Parser, Subcommand};
mod bench;
mod files;
mod out;
mod streamcmd;

use out::{errln, out, outln};

use specc::{Engine, Pipeline};
use specc_runtime::audio::ChannelMode;
use specc_runtime::figure::{FigureOptions, ValueScale};
use specc_runtime::image::Colormap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "specc",
    version,
    about = "Compile and run audio feature pipelines (spectrograms, mel, STFT modes)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a spec over audio files (WAV, FLAC, MP3, OGG), .npy arrays or folders of them.
    Run {
        /// Spec file, or the name of a shipped preset (see `specc presets`).
        spec: String,
        /// Inputs: audio files, .npy arrays (float32, float64, int16), folders (recursed), or `-`
        /// for a .npy or audio file on stdin.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output: a file (.npy, .png; .npz for many inputs), a folder (ends in `/` or exists:
        /// one output per input), or `-` for .npy on stdout.
        #[arg(short, long)]
        output: PathBuf,
        /// Override a param: `--set name=value` (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Engine: jit (Cranelift machine code) or interp (the reference interpreter).
        #[arg(long, default_value = "jit")]
        engine: Engine,
        /// Output format when the output's extension does not say (a folder, a name without one).
        #[arg(long, value_enum)]
        format: Option<files::Format>,
        #[command(flatten)]
        audio: AudioArgs,
        /// Figure size (.png, .svg) as WIDTHxHEIGHT, margins included (default: a 1000x400 plot
        /// plus axes, title and colorbar).
        #[arg(long, value_name = "WxH")]
        png_size: Option<String>,
        /// Figure colormap: magma, viridis, inferno, gray.
        #[arg(long, default_value = "magma")]
        colormap: Colormap,
        /// How a figure shows linear power or magnitude: db (10·log10 / 20·log10, 80 dB below the
        /// maximum; the data written is unchanged) or linear.
        #[arg(long, default_value = "db")]
        png_scale: ValueScale,
        /// Files processed in parallel (0: one per core; more than the cores or the inputs is
        /// capped to them).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Time a spec: compile once, warm up, report compile time, median/min compute, frames/s.
    Bench {
        /// Spec file or preset name.
        spec: String,
        /// Override a param.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Clips in the generated batch (seeded noise + tones).
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// Seconds per clip.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Timed runs (after one warm-up).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Threads one run splits the batch over (0: one per core).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Engine: jit or interp.
        #[arg(long, default_value = "jit")]
        engine: Engine,
        /// Time this audio file or .npy instead of a generated batch.
        #[arg(long)]
        input: Option<PathBuf>,
        #[command(flatten)]
        audio: AudioArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Also stream the input in chunks of this many samples (or `10ms`): per-push latency
        /// (median, p99) and throughput against the offline run.
        #[arg(long, value_name = "CHUNK")]
        stream: Option<bench::StreamChunk>,
        /// With --stream: frames per emission (as `specc stream --group`).
        #[arg(long, value_name = "N|block", default_value = "1", requires = "stream")]
        stream_group: streamcmd::Group,
        /// With --stream: stream a clip at a maximum in this mode (deferred includes the clip
        /// of the concatenated frames at the end).
        #[arg(long, value_name = "exact|deferred|running", default_value = "exact", requires = "stream")]
        stream_clip: specc::ClipMode,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Stream raw PCM (or a WAV) from stdin: each frame to stdout as little-endian f32 as soon
    /// as its samples have arrived (or all to a .npy at the end), equal to `specc run` on the
    /// whole recording. Specs that need the whole signal are refused (a top_db clip streams
    /// with --defer-clip or --running-clip).
    Stream {
        /// Spec file or preset name.
        spec: String,
        /// Override a param.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Sample rate of the raw PCM in Hz (a WAV on stdin gives its own).
        #[arg(long)]
        rate: Option<f64>,
        /// Sample encoding of the raw PCM (a WAV on stdin gives its own).
        #[arg(long, value_enum)]
        format: Option<streamcmd::PcmFormat>,
        /// Interleaved channels in the raw PCM (default 1; a WAV on stdin gives its own).
        #[arg(long)]
        channels: Option<usize>,
        /// Several channels: mix (mean, as `specc run`), first, or all (keeps a channel axis).
        #[arg(long, default_value = "mix")]
        channel_mode: ChannelMode,
        /// Sample scale, as `specc run --audio-scale`: float or int16 (times 32768, for Kaldi).
        #[arg(long, value_enum, default_value = "float")]
        audio_scale: files::AudioScale,
        /// Write every frame to this .npy at the end (atomically) instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// For specs that clip at a maximum (top_db, Whisper): compute frames as they arrive and
        /// clip them against the signal's maximum when it ends (needs -o); equal to `run`.
        #[arg(long, conflicts_with = "running_clip")]
        defer_clip: bool,
        /// For specs that clip at a maximum: clip each frame as it comes out against the
        /// maximum so far (for live use; differs from `run` wherever a later frame raises the
        /// maximum).
        #[arg(long)]
        running_clip: bool,
        /// Emit frames in groups of N (or `block`: the frames the kernels compute per call),
        /// for throughput at up to N-1 hops of extra latency; the values do not change.
        #[arg(long, value_name = "N|block", default_value = "1")]
        group: streamcmd::Group,
    },
    /// Compile a spec ahead of time: an object file, a C header and (with --lib) a static
    /// library bundling the C runtime, for C programs that run it without a JIT.
    Aot {
        /// Spec file or preset name.
        spec: String,
        /// Override a param.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// The object file to write.
        #[arg(short, long, value_name = "FILE.o")]
        output: PathBuf,
        /// Also write the C header declaring the API (specc_NAME_plan, specc_NAME_run_f32, ...).
        #[arg(long, value_name = "FILE.h")]
        header: Option<PathBuf>,
        /// Also write a static library holding the object and the C runtime
        /// (`cc app.c libNAME.a -lm -lpthread -ldl`).
        #[arg(long, value_name = "LIBNAME.a")]
        lib: Option<PathBuf>,
        /// The C identifier the symbols carry (specc_NAME_...); default: the spec's name.
        #[arg(long)]
        name: Option<String>,
        /// Target triple (x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu,
        /// aarch64-apple-darwin, aarch64-apple-ios, ...); default: this machine's.
        #[arg(long, value_name = "TRIPLE")]
        target: Option<String>,
        /// CPU level: baseline (x86-64 SSE2, any aarch64), x86-64-v3 (AVX2, FMA) or native
        /// (this machine's CPU).
        #[arg(long, default_value = "baseline")]
        cpu: specc::aot::Cpu,
        /// The C runtime static library to bundle with --lib (built for the target); default:
        /// the one built beside this specc, or $SPECC_RUNTIME_LIB.
        #[arg(long, value_name = "FILE.a")]
        runtime: Option<PathBuf>,
    },
    /// Check a spec: parse, resolve params, build and verify its graph.
    Check {
        /// Spec file or preset name.
        spec: String,
        /// Override a param.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
    },
    /// Print a spec's op graph, as lowered or after a pass.
    Graph {
        /// Spec file or preset name (optional with --passes).
        #[arg(required_unless_present = "passes")]
        spec: Option<String>,
        /// Override a param.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Print the graph after this pass (see --passes); `all` for the fully optimized graph.
        #[arg(long, value_name = "PASS")]
        after: Option<String>,
        /// List the passes in order.
        #[arg(long)]
        passes: bool,
    },
    /// Print a spec in canonical form.
    Fmt {
        /// Spec file or preset name.
        spec: String,
    },
    /// List the shipped presets, or print one's full signature.
    Presets {
        /// A preset to describe: the library call, every param with its type and default.
        name: Option<String>,
    },
    /// Write a spec's mel filterbank, laid out as its library returns it (see README).
    Filters {
        /// Spec file or preset name.
        spec: String,
        /// Override a param.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Output .npy file, or `-` for stdout.
        #[arg(short, long)]
        output: PathBuf,
        /// Layout instead of the library's: mel-bins, bins-mel or mel-bins-no-nyquist.
        #[arg(long)]
        layout: Option<specc::FilterLayout>,
    },
}

/// How audio files become a spec's input (`run` and `bench --input`).
#[derive(clap::Args)]
struct AudioArgs {
    /// Multi-channel audio: mix (mean, as librosa), first, or all (keeps a channel axis).
    #[arg(long, default_value = "mix")]
    channels: ChannelMode,
    /// Resample audio whose rate differs from the spec's (sinc, see README).
    #[arg(long)]
    resample: bool,
    /// Sample scale of decoded audio: float ([-1, 1), as librosa and torchaudio.load) or int16
    /// (times 32768, as Kaldi's own tools read 16-bit files). Does not apply to .npy inputs.
    #[arg(long, value_enum, default_value = "float")]
    audio_scale: files::AudioScale,
}

/// Resource limits (`run` and `bench`).
#[derive(clap::Args)]
struct LimitArgs {
    /// Memory a run may use, e.g. 512M, 2G, 1.5GiB or a number of bytes (default 8G): the
    /// working memory of the computation, the decoded and resampled audio, and any input read
    /// from a pipe or device are each checked against it before allocating.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
}

impl LimitArgs {
    fn apply(&self, p: Pipeline) -> Pipeline {
        match self.max_memory {
            Some(max_bytes) => p.with_limits(specc::Limits { max_bytes }),
            None => p,
        }
    }
}

/// A size in bytes: a number with an optional binary unit (`K`, `M`, `G`, `T`, also spelled
/// `KB`/`KiB`...; all powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("unknown unit `{other}`; give e.g. 512M, 2G or a number of bytes")),
    };
    let v: f64 =
        num.parse().map_err(|_| format!("`{s}` is not a size; give e.g. 512M, 2G or a number of bytes"))?;
    let bytes = v * (1u64 << shift) as f64;
    if !(1.0..=u64::MAX as f64).contains(&bytes) {
        return Err(format!("`{s}` is not a usable memory size (at least 1 byte)"));
    }
    Ok(bytes as u64)
}

impl AudioArgs {
    fn options(&self) -> files::AudioOptions {
        files::AudioOptions { channels: self.channels, resample: self.resample, scale: self.audio_scale }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Failures were reported as they happened.
        Err(specc::Error::Failed) => ExitCode::FAILURE,
        // As clap exits for its own usage errors.
        Err(e @ specc::Error::Usage(_)) => {
            errln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            errln!("{:?}", miette::Report::new(e));
            ExitCode::FAILURE
        }
    }
}

fn open(spec: &str, sets: &[String]) -> Result<Pipeline, specc::Error> {
    let sets: Vec<&str> = sets.iter().map(|s| s.as_str()).collect();
    Pipeline::open(spec, &sets)
}

fn real_main(cli: Cli) -> Result<(), specc::Error> {
    match cli.cmd {
        Cmd::Run {
            spec,
            inputs,
            output,
            sets,
            engine,
            format,
            audio,
            png_size,
            colormap,
            png_scale,
            jobs,
            limits,
        } => {
            let p = limits.apply(open(&spec, &sets)?.with_engine(engine));
            let (width, height) = match png_size {
                None => (None, None),
                Some(s) => {
                    let parsed =
                        s.split_once(['x', 'X']).and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)));
                    match parsed {
                        Some((w, h)) => (Some(w), Some(h)),
                        None => {
                            return Err(specc::Error::Usage(format!(
                                "--png-size `{s}` is not WIDTHxHEIGHT, e.g. 800x400"
                            )))
                        }
                    }
                }
            };
            let opts = files::RunOptions {
                inputs,
                output,
                format,
                audio: audio.options(),
                png: FigureOptions { width, height, colormap, scale: png_scale },
                jobs,
            };
            if files::run(&p, &opts)? {
                Ok(())
            } else {
                Err(specc::Error::Failed)
            }
        }
        Cmd::Stream {
            spec,
            sets,
            rate,
            format,
            channels,
            channel_mode,
            audio_scale,
            output,
            defer_clip,
            running_clip,
            group,
        } => {
            let p = open(&spec, &sets)?;
            let opts = streamcmd::StreamOptions {
                rate,
                format,
                channels,
                mode: channel_mode,
                scale: audio_scale,
                output,
                clip: if defer_clip {
                    specc::ClipMode::Deferred
                } else if running_clip {
                    specc::ClipMode::Running
                } else {
                    specc::ClipMode::Exact
                },
                group,
            };
            streamcmd::run(&p, &opts).map(|_| ())
        }
        Cmd::Bench {
            spec,
            sets,
            batch,
            seconds,
            runs,
            threads,
            engine,
            input,
            audio,
            json,
            stream,
            stream_group,
            stream_clip,
            limits,
        } => bench::run(
            &spec,
            &sets,
            engine,
            &bench::BenchOptions {
                batch,
                seconds,
                runs,
                threads,
                input,
                audio: audio.options(),
                json,
                max_bytes: limits.max_memory,
                stream,
                stream_group,
                stream_clip,
            },
        ),
        Cmd::Aot { spec, sets, output, header, lib, name, target, cpu, runtime } => {
            let p = open(&spec, &sets)?;
            let name = name.unwrap_or_else(|| specc::aot::default_name(&spec));
            let command: Vec<String> =
                std::iter::once(String::from("specc")).chain(std::env::args().skip(1)).collect();
            let target = specc::aot::ObjectTarget { triple: target, cpu };
            let outputs: Vec<&PathBuf> =
                [Some(&output), header.as_ref(), lib.as_ref()].into_iter().flatten().collect();
            files::check_distinct_outputs(&spec, &outputs)?;
            let out = specc::aot::compile(&p, &name, &target, &command.join(" "))?;
            // Everything is built before anything is written, so a failure leaves no file.
            let archive = match &lib {
                Some(_) => {
                    let path = specc::aot::find_runtime(runtime.as_deref())?;
                    let bytes = std::fs::read(&path)
                        .map_err(|e| specc::Error::Io(format!("cannot read {}: {e}", path.display())))?;
                    let member = output
                        .file_name()
                        .map_or_else(|| format!("{name}.o"), |n| n.to_string_lossy().into());
                    Some(specc::aot::bundle(&out.object, &member, &bytes)?)
                }
                None => None,
            };
            let write = |path: &PathBuf, bytes: &[u8]| {
                specc_runtime::write_file(path, bytes).map_err(specc::Error::Io)
            };
            write(&output, &out.object)?;
            if let Some(h) = &header {
                write(h, out.header.as_bytes())?;
            }
            if let (Some(l), Some(a)) = (&lib, &archive) {
                write(l, a)?;
            }
            errln!(
                "specc aot: {} for {} ({} symbols, specc_{name}_program): {}",
                outputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                out.triple,
                out.symbols.len(),
                out.programs.join("; ")
            );
            Ok(())
        }
        Cmd::Check { spec, sets } => {
            let p = open(&spec, &sets)?;
            outln!("spec {}: ok", p.graph().name);
            print_params(&p);
            let out = p.graph().output_type();
            outln!("  output: {}", specc_compiler::graph::type_text(out));
            Ok(())
        }
        Cmd::Graph { spec, sets, after, passes } => {
            if passes {
                for (i, p) in specc_compiler::passes::PASSES.iter().enumerate() {
                    outln!("{}. {:<9} {}", i + 1, p.name, p.doc);
                }
                return Ok(());
            }
            let p = open(spec.as_deref().unwrap_or_default(), &sets)?;
            match after.as_deref() {
                None => out!("{}", p.graph()),
                Some("all") => out!("{}", p.optimized()),
                Some(pass) => out!("{}", p.graph_after(pass)?),
            }
            Ok(())
        }
        Cmd::Fmt { spec } => {
            let (_, text) = specc::spec_text(&spec)?;
            let parsed = specc_compiler::syntax::parse_spec(&text).map_err(|d| {
                let src = specc_compiler::diag::Source {
                    name: spec.clone(),
                    text: text.as_str().into(),
                    sets: vec![],
                };
                specc::Error::from(Box::new(d.into_error(&src)))
            })?;
            out!("{}", specc_compiler::syntax::print_spec(&parsed));
            Ok(())
        }
        Cmd::Presets { name: None } => {
            for (name, text) in specc::PRESETS {
                outln!("{name:<16} {}", specc::library_call_short(text));
            }
            Ok(())
        }
        Cmd::Presets { name: Some(name) } => {
            let p = specc::Pipeline::preset(&name, &[])?;
            let text = specc::preset_text(&name).unwrap_or_default();
            outln!("{name}: {}", specc::library_call(text));
            for note in specc::library_notes(text) {
                outln!("  {note}");
            }
            outln!("params (--set name=value):");
            print_params(&p);
            let rate = match (p.rate_param(), p.graph().rate) {
                (Some(param), _) => format!(" at {param}"),
                (None, Some(hz)) => format!(" at {hz} Hz"),
                (None, None) => String::new(),
            };
            outln!("input: [{}]{rate}", p.graph().user_axes().join(", "));
            outln!("output: {}", specc_compiler::graph::type_text(p.graph().output_type()));
            Ok(())
        }
        Cmd::Filters { spec, sets, output, layout } => {
            let p = open(&spec, &sets)?;
            let fb = p.filterbank(layout)?;
            let out = specc::Output::F32(fb.into_dyn());
            if output.as_os_str() == "-" {
                files::write_stdout(&out).map_err(specc::Error::Io)?;
            } else {
                let ext = output.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
                if ext.as_deref() != Some("npy") {
                    return Err(specc::Error::Usage(format!(
                        "filters writes .npy: name the output e.g. {}",
                        output.with_extension("npy").display()
                    )));
                }
                specc::npy::write(&output, &out)?;
            }
            let (_, function) = p.filter_layout();
            let what = function.map(|f| format!(" (as {f} returns it)")).unwrap_or_default();
            errln!("{} -> {}: {:?} float32{what}", p.graph().name, output.display(), out.shape());
            Ok(())
        }
    }
}

/// Params in force: name, type, value, and whether a `--set` gave it.
fn print_params(p: &Pipeline) {
    let params = p.params();
    // An optional union reads `(hann | hamming)?`, as the spec writes it, not `hann | hamming?`.
    let ty = |param: &specc::ParamInfo| match (param.ty.text(), param.optional) {
        (t, true) if t.contains(' ') => format!("({t})?"),
        (t, true) => t + "?",
        (t, false) => t,
    };
    // Columns as wide as the longest entry, so one long name or enum does not shear the table.
    let name_w = params.iter().map(|q| q.name.len()).max().unwrap_or(0).max(21) + 1;
    let ty_w = params.iter().map(|q| ty(q).len()).max().unwrap_or(0).max(27) + 1;
    for param in params {
        let set = if param.overridden { "  (set)" } else { "" };
        outln!(
            "  {:<name_w$} {:<ty_w$} = {}{}",
            param.name,
            ty(param),
            specc_compiler::lower::value_text(&param.value),
            set
        );
    }
}
