//! The optimizer, reviewed as text and proven by the interpreter.
//!
//! - Snapshots: the graph as lowered and after every pass (`(unchanged)` when a pass changes
//!   nothing), ending with the kernel plan the back end lowers, for every shipped spec and the
//!   `--set` variants the golden cases use. Review changes with `cargo insta review`.
//! - Meaning: for every golden case, the interpreter's output after each pass equals the
//!   output before any pass within 1e-9 of the tensor's largest value (f64; passes change only
//!   rounding: a different FFT algorithm, folded constants, sparse sums).
//! - Idempotence: running the pass list on its own output changes nothing.

mod common;

use common::{fixtures, golden_cases};
use specc::Pipeline;
use specc_compiler::graph::Graph;
use specc_compiler::interp;
use specc_compiler::passes::{optimize, run_until, PASSES};

/// The graph as lowered, then after each pass; a pass that changes nothing shows as
/// `(unchanged)`, so a snapshot diff shows what each pass did.
fn all_passes_text(p: &Pipeline) -> String {
    let mut prev = p.graph().to_string();
    let mut out = format!("== lowered\n{prev}");
    for pass in PASSES {
        let g = p.graph_after(pass.name).expect("pass runs").to_string();
        if g == prev {
            out.push_str(&format!("\n== after {}: (unchanged)\n", pass.name));
        } else {
            out.push_str(&format!("\n== after {}\n{g}", pass.name));
        }
        prev = g;
    }
    out
}

#[test]
fn graph_after_every_pass() {
    insta::glob!(concat!(env!("CARGO_MANIFEST_DIR"), "/specs"), "*.spec", |path| {
        let text = std::fs::read_to_string(path).expect("spec");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("spec");
        let p = Pipeline::compile(name, &text, &[]).expect("compiles");
        insta::assert_snapshot!(all_passes_text(&p));
    });
}

#[test]
fn variants_after_every_pass() {
    let variants: &[(&str, &[&str])] = &[
        ("keras_mel", &["window=none"]),
        ("keras_mel", &["power_to_db=false"]),
        ("keras_mel", &["fft_length=511", "sequence_stride=128"]),
        ("keras_mel", &["fft_length=400", "sequence_length=300", "mag_exp=1.0"]),
        ("keras_stft", &["mode=psd"]),
        ("keras_stft", &["mode=stft", "padding=same", "data_format=channels_first"]),
        ("keras_stft", &["frame_length=255", "fft_length=255", "mode=magnitude"]),
        ("librosa_mel", &["htk=true", "norm=none", "top_db=none"]),
        ("librosa_mel", &["ref=max"]),
        ("librosa_stft", &["power=2.0", "ref=max", "top_db=none"]),
        ("torchaudio_mel", &["top_db=80", "stype=magnitude", "power=1.0"]),
        ("whisper", &["n_mels=128", "padding=480"]),
        ("kaldi_fbank", &["snip_edges=false", "use_energy=true", "subtract_mean=true"]),
        ("kaldi_fbank", &["use_energy=true", "raw_energy=false", "htk_compat=true", "energy_floor=0"]),
    ];
    for (spec, sets) in variants {
        let p = Pipeline::preset(spec, sets).expect("compiles");
        let name = format!("{spec}__{}", sets.join("__").replace(['=', '.'], "_"));
        insta::assert_snapshot!(name, all_passes_text(&p));
    }
}

/// The kernel plan (what the back end lowers, `specc graph --after schedule`'s last lines) of
/// every distinct preset and `--set` variant the golden cases use, in one snapshot.
#[test]
fn kernel_plan_of_every_golden_variant() {
    let mut seen = std::collections::BTreeMap::new();
    for c in golden_cases() {
        let sets = c.sets();
        let key = format!("{} {}", c.spec, sets.join(" "));
        if seen.contains_key(&key) {
            continue;
        }
        let refs: Vec<&str> = sets.iter().map(|s| s.as_str()).collect();
        // Cases the library rejects are rejected at compile time here, with no plan.
        let Ok(p) = Pipeline::preset(&c.spec, &refs) else { continue };
        let plan = p.optimized().schedule.as_ref().expect("the schedule pass ran").to_string();
        seen.insert(key, plan);
    }
    assert!(seen.len() > 30, "only {} variants", seen.len());
    let text: String = seen.iter().map(|(k, plan)| format!("== {k}\n{plan}")).collect();
    insta::assert_snapshot!(text);
}

fn run(g: &Graph, x: &[f64], shape: &[usize]) -> Vec<f64> {
    interp::run(g, x, shape).expect("runs").real().to_vec()
}

#[test]
fn every_pass_preserves_meaning_on_every_golden_input() {
    let dir = fixtures();
    let mut checked = 0;
    // Cases the library answers with an empty tensor (Kaldi's min_duration) are errors here.
    let runs = |c: &&common::Case| c.error.is_none() && !c.shape.as_ref().is_some_and(|s| s.contains(&0));
    for c in golden_cases().iter().filter(runs) {
        let sets = c.sets();
        let refs: Vec<&str> = sets.iter().map(|s| s.as_str()).collect();
        let p = Pipeline::preset(&c.spec, &refs).expect("compiles");
        let input = specc::npy::read(&dir.join(&c.input)).expect("input");
        let (x, shape): (Vec<f64>, Vec<usize>) = match &input {
            specc::npy::Array::F32(a) => (a.iter().map(|&v| v as f64).collect(), a.shape().to_vec()),
            specc::npy::Array::F64(a) => (a.iter().copied().collect(), a.shape().to_vec()),
            specc::npy::Array::I16(a) => (a.iter().map(|&v| v as f64).collect(), a.shape().to_vec()),
        };
        let want = run(p.graph(), &x, &shape);
        let scale = want.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
        for pass in PASSES {
            let g = run_until(p.graph().clone(), Some(pass.name)).expect("pass runs");
            let got = run(&g, &x, &shape);
            assert_eq!(got.len(), want.len(), "{} after {}", c.name, pass.name);
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                let same_nonfinite = (a.is_nan() && b.is_nan()) || (a.is_infinite() && a == b);
                let close = (a - b).abs() <= 1e-9 * (scale + b.abs());
                assert!(
                    same_nonfinite || close,
                    "{} after `{}`: element {i} is {a}, was {b}",
                    c.name,
                    pass.name
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} cases checked");
}

#[test]
fn the_pass_list_is_idempotent() {
    for (name, _) in specc::PRESETS {
        for sets in [&[][..], &["power_to_db=false"][..]] {
            let Ok(p) = Pipeline::preset(name, sets) else { continue };
            let once = p.optimized().clone();
            let twice = optimize(once.clone()).expect("runs");
            assert_eq!(once.to_string(), twice.to_string(), "{name} {sets:?}");
            assert_eq!(once, twice, "{name} {sets:?}");
        }
    }
}
