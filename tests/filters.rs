//! `specc filters`: each preset's mel filterbank, in its library's layout, against the matrix
//! the real library returns (tests/golden/gen.py writes them: fixtures/filters.json).

mod common;

use common::{specc, stderr};
use serde::Deserialize;
use specc::Pipeline;
use std::path::Path;

#[derive(Deserialize)]
struct Filters {
    cases: Vec<FilterCase>,
}

#[derive(Deserialize)]
struct FilterCase {
    name: String,
    spec: String,
    sets: Vec<String>,
    call: String,
    expected: String,
}

const FIX: &str = "tests/golden/fixtures";

fn cases() -> Vec<FilterCase> {
    let text = std::fs::read_to_string(Path::new(FIX).join("filters.json")).expect("filters.json");
    serde_json::from_str::<Filters>(&text).expect("filters.json parses").cases
}

fn expected(c: &FilterCase) -> ndarray::ArrayD<f32> {
    match specc::npy::read(&Path::new(FIX).join("expected").join(&c.expected)).expect("golden") {
        specc::npy::Array::F32(a) => a,
        _ => panic!("{}: the libraries return float32", c.name),
    }
}

/// The worst difference, relative to the matrix's largest weight.
fn worst(got: &ndarray::ArrayD<f32>, want: &ndarray::ArrayD<f32>) -> f64 {
    let top = want.iter().fold(0.0f64, |m, &w| m.max(w.abs() as f64));
    got.iter().zip(want.iter()).map(|(&g, &w)| (g as f64 - w as f64).abs()).fold(0.0, f64::max) / top
}

/// librosa (and Whisper's stored librosa tables) compute in float64 and round once, as specc
/// does: within 2e-7 of the largest weight (measured: <= 1e-7). torch and Keras compute the
/// triangles in float32 (torch's linspace and slopes, Keras's float32 mel grid, which specc's
/// Keras table follows but JAX orders differently): within 5e-5 (measured: <= 2.7e-5, at
/// triangle edges).
fn tolerance(spec: &str) -> f64 {
    match spec {
        "librosa_mel" | "whisper" => 2e-7,
        _ => 5e-5,
    }
}

#[test]
fn filterbanks_match_the_libraries() {
    let cases = cases();
    assert_eq!(cases.len(), 10, "a default and a --set case per preset with a mel op");
    for c in &cases {
        let sets: Vec<&str> = c.sets.iter().map(String::as_str).collect();
        let p = Pipeline::preset(&c.spec, &sets).expect("compiles");
        let got = p.filterbank(None).expect("has a filterbank").into_dyn();
        let want = expected(c);
        assert_eq!(got.shape(), want.shape(), "{}: shape of {}", c.name, c.call);
        let e = worst(&got, &want);
        assert!(e <= tolerance(&c.spec), "{}: {} differs by {e:e} of its largest weight", c.name, c.call);
    }
}

#[test]
fn filters_command_writes_the_library_layout() {
    let c = cases().into_iter().find(|c| c.name == "torchaudio_mel_slaney").expect("case");
    let dir = std::env::temp_dir().join(format!("specc-filters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("fb.npy");
    let mut args = vec!["filters", "torchaudio_mel", "-o", out.to_str().unwrap_or("")];
    for s in &c.sets {
        args.extend(["--set", s.as_str()]);
    }
    let o = specc(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).ends_with("[513, 64] float32 (as torchaudio.functional.melscale_fbanks returns it)\n"),
        "{}",
        stderr(&o)
    );
    let specc::npy::Array::F32(got) = specc::npy::read(&out).expect("npy") else { panic!("float32") };
    assert!(worst(&got, &expected(&c)) <= tolerance(&c.spec));
    // A spec without a mel op has no filterbank; a non-.npy output is a usage error.
    let o = specc(&["filters", "keras_stft", "-o", out.to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("spec keras_stft has no mel op: it has no filterbank"), "{}", stderr(&o));
    let o = specc(&["filters", "whisper", "-o", dir.join("fb.png").to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("filters writes .npy"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
