//! The `specc` command line.

use clap::{Parser, Subcommand};
use specc::{npy, Engine, Pipeline};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

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
    /// Run a spec over an input .npy and write the result as .npy.
    Run {
        /// Spec file, or the name of a shipped preset (see `specc presets`).
        spec: String,
        /// Input array (.npy: float32, float64 or int16).
        input: PathBuf,
        /// Output file (.npy).
        #[arg(short, long)]
        output: PathBuf,
        /// Override a param: `--set name=value` (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Engine: interp (the reference interpreter).
        #[arg(long, default_value = "interp")]
        engine: Engine,
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
    /// List the shipped presets.
    Presets,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
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
        Cmd::Run { spec, input, output, sets, engine } => {
            let p = open(&spec, &sets)?.with_engine(engine);
            let x = npy::read(&input)?;
            let view = x.view();
            let plan = p.plan(view.shape(), view.dtype_name())?;
            let t0 = Instant::now();
            let y = p.run(&view)?;
            let dt = t0.elapsed();
            npy::write(&output, &y)?;
            eprintln!(
                "{} -> {}: {:?} {} ({} frames) in {:.1} ms [{:?}]",
                input.display(),
                output.display(),
                y.shape(),
                plan.precision.as_str(),
                plan.frames,
                dt.as_secs_f64() * 1e3,
                engine
            );
            Ok(())
        }
        Cmd::Check { spec, sets } => {
            let p = open(&spec, &sets)?;
            println!("spec {}: ok", p.graph().name);
            for param in p.params() {
                let set = if param.overridden { "  (set)" } else { "" };
                println!(
                    "  {:<18} {:<28} = {}{}",
                    param.name,
                    param.ty.text() + if param.optional { "?" } else { "" },
                    specc_compiler::lower::value_text(&param.value),
                    set
                );
            }
            let out = p.graph().output_type();
            println!("  output: {}", specc_compiler::graph::type_text(out));
            Ok(())
        }
        Cmd::Graph { spec, sets, after, passes } => {
            if passes {
                for (i, p) in specc_compiler::passes::PASSES.iter().enumerate() {
                    println!("{}. {:<9} {}", i + 1, p.name, p.doc);
                }
                return Ok(());
            }
            let p = open(spec.as_deref().unwrap_or_default(), &sets)?;
            match after.as_deref() {
                None => print!("{}", p.graph()),
                Some("all") => print!("{}", p.optimized()),
                Some(pass) => print!("{}", p.graph_after(pass)?),
            }
            Ok(())
        }
        Cmd::Fmt { spec } => {
            let text = match std::fs::read_to_string(&spec) {
                Ok(t) => t,
                Err(_) => specc::preset_text(&spec)
                    .ok_or_else(|| specc::Error::Io(format!("no spec file or preset `{spec}`")))?
                    .to_string(),
            };
            let parsed = specc_compiler::syntax::parse_spec(&text).map_err(|d| {
                let src = specc_compiler::diag::Source {
                    name: spec.clone(),
                    text: text.as_str().into(),
                    sets: vec![],
                };
                specc::Error::from(Box::new(d.into_error(&src)))
            })?;
            print!("{}", specc_compiler::syntax::print_spec(&parsed));
            Ok(())
        }
        Cmd::Presets => {
            for (name, text) in specc::PRESETS {
                let first = text.lines().next().unwrap_or("").trim_start_matches('#').trim();
                println!("{name:<16} {first}");
            }
            Ok(())
        }
    }
}
