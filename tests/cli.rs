//! The command line, run as a user runs it: real files in, real files out, clear errors.

mod common;

use common::{specc, stderr};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("specc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn readme_command_gives_keras_mel_of_speech() {
    let out = tmp("speech_mel.npy");
    let o = specc(&["run", "specs/keras_mel.spec", "examples/speech.npy", "-o", out.to_str().unwrap_or("")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("[128, 82] f32 (82 frames)"), "{}", stderr(&o));
    let y = specc::npy::read(&out).expect("output is .npy");
    let specc::npy::Array::F32(y) = y else { panic!("float32 output") };
    assert_eq!(y.shape(), &[128, 82]);
    // Keras golden for the same clip, computed by keras 3.15.1.
    let want =
        specc::npy::read(Path::new("tests/golden/fixtures/expected/keras_mel_speech.npy")).expect("golden");
    let specc::npy::Array::F32(want) = want else { panic!("float32 golden") };
    let worst = y.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 2e-3, "max dB error {worst}");
}

#[test]
fn preset_by_name_and_set() {
    let out = tmp("set.npy");
    let o = specc(&[
        "run",
        "keras_mel",
        "tests/golden/fixtures/inputs/mix_2x8000_f32.npy",
        "-o",
        out.to_str().unwrap_or(""),
        "--set",
        "num_mel_bins=64",
        "--set",
        "sampling_rate=8000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("[2, 64, 16]"), "{}", stderr(&o));
}

#[test]
fn check_graph_fmt_presets() {
    let o = specc(&["check", "keras_stft", "--set", "mode=psd"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("mode") && text.contains("= psd  (set)"), "{text}");
    let o = specc(&["graph", "specs/whisper.spec"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("frames(length: 400, hop: 160, drop_last)"), "{text}");
    assert!(text.contains("db(mult: 1.0, amin: 1e-10, ref: 1.0, top_db: 8.0, over: tensor)"), "{text}");
    let o = specc(&["fmt", "specs/librosa_mel.spec"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("spec librosa_mel"));
    let o = specc(&["presets"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for p in ["keras_mel", "keras_stft", "librosa_mel", "torchaudio_mel", "whisper", "kaldi_fbank"] {
        assert!(text.contains(p), "{text}");
    }
}

/// Every bad input exits non-zero with a message naming the problem, and writes no output.
#[test]
fn bad_inputs_are_named_errors() {
    let out = tmp("never.npy");
    let o_str = out.to_str().unwrap_or("");
    let garbage = tmp("garbage.npy");
    std::fs::write(&garbage, b"\x93NUMPY this is not a header").expect("write");
    let cases: &[(&[&str], &str)] = &[
        (&["run", "keras_mel", "tests/golden/fixtures/inputs/empty_f32.npy", "-o", o_str], "input is empty"),
        (
            &["run", "keras_stft", "tests/golden/fixtures/inputs/mix_2x4000_f32.npy", "-o", o_str],
            "needs exactly 3 axes",
        ),
        (
            &["run", "keras_stft", "tests/golden/fixtures/inputs/mix_2x4000x1_i16.npy", "-o", o_str],
            "dtype int16 is not accepted",
        ),
        (
            &["run", "keras_stft", "tests/golden/fixtures/inputs/short_2x100x1_f32.npy", "-o", o_str],
            "input too short",
        ),
        (
            &["run", "whisper", "tests/golden/fixtures/inputs/tiny_2x1_f32.npy", "-o", o_str],
            "reflect padding",
        ),
        (&["run", "keras_mel", "no/such/file.npy", "-o", o_str], "cannot read no/such/file.npy"),
        (&["run", "keras_mel", garbage.to_str().unwrap_or(""), "-o", o_str], "not a valid .npy"),
        (&["run", "no_such_spec", "examples/speech.npy", "-o", o_str], "no preset of that name"),
        (
            &["run", "keras_mel", "examples/speech.npy", "-o", o_str, "--set", "num_mel_bin=3"],
            "did you mean `num_mel_bins`",
        ),
        (
            &["run", "keras_mel", "examples/speech.npy", "-o", o_str, "--set", "fft_length=1e40"],
            "bad value for `fft_length`",
        ),
        (
            &["run", "keras_mel", "examples/speech.npy", "-o", o_str, "--set", "fft_length=1099511627776"],
            "absurdly large",
        ),
        (
            &["run", "keras_mel", "examples/speech.npy", "-o", o_str, "--set", "num_mel_bins=1000000000"],
            "absurd",
        ),
        (&["run", "keras_mel", "examples/speech.npy", "-o", "/nonexistent-dir/out.npy"], "cannot write"),
        (&["check", "keras_mel", "--set", "min_freq=9000"], "must be below the highest"),
    ];
    for (args, want) in cases {
        let o = specc(args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: expected `{want}` in:\n{err}");
        assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    }
    assert!(!out.exists(), "a failed run left an output file");
}

#[test]
fn graph_after_and_passes() {
    let o = specc(&["graph", "--passes"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for p in ["fold", "fuse", "plan", "schedule", "dce"] {
        assert!(text.contains(p), "{text}");
    }
    let o = specc(&["graph", "keras_mel", "--after", "schedule", "--set", "fft_length=400"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        text.contains("framed_load(") && text.contains("power_mel(") && text.contains("epilogue("),
        "{text}"
    );
    assert!(text.contains("real 400 = half 200 [8 x 5 x 5] + post-twiddle"), "{text}");
    assert!(text.contains("phase 2:"), "{text}");
    let o = specc(&["graph", "keras_mel", "--after", "fusion"]);
    assert!(!o.status.success() && stderr(&o).contains("no pass named `fusion`"), "{}", stderr(&o));
}

#[test]
fn bench_reports_json() {
    let o = specc(&["bench", "keras_stft", "--batch", "2", "--seconds", "0.5", "--runs", "2", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["input_shape"], serde_json::json!([2, 8000, 1]));
    assert_eq!(v["output_shape"], serde_json::json!([2, 61, 129]));
    assert_eq!(v["frames"], 122);
    for k in ["compile_ms", "median_ms", "min_ms", "frames_per_s", "realtime_factor"] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
    let o = specc(&["bench", "whisper", "--batch", "3", "--seconds", "1", "--runs", "1", "--threads", "2"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("frames/s"), "{}", stderr(&o));
}

/// `SPECC_PERF_MAP=1` makes the JIT list its kernels in `/tmp/perf-<pid>.map` (perf's format:
/// hex address, hex size, name), so profiles of a run name the JIT code.
#[cfg(target_os = "linux")]
#[test]
fn perf_map_names_the_jit_kernels() {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["bench", "keras_mel", "--batch", "1", "--seconds", "1", "--runs", "1"])
        .env("SPECC_PERF_MAP", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs specc");
    let pid = child.id();
    let o = child.wait_with_output().expect("specc finishes");
    assert!(o.status.success(), "{}", stderr(&o));
    let path = PathBuf::from(format!("/tmp/perf-{pid}.map"));
    let text = std::fs::read_to_string(&path).expect("the perf map is written");
    let _ = std::fs::remove_file(&path);
    for kernel in ["load", "fft", "dft", "tail", "clip"] {
        let line = text
            .lines()
            .find(|l| l.ends_with(&format!("specc_jit::{kernel}")))
            .unwrap_or_else(|| panic!("no {kernel} in {text}"));
        let mut f = line.split(' ');
        let addr = u64::from_str_radix(f.next().unwrap_or(""), 16).expect("hex address");
        let size = u64::from_str_radix(f.next().unwrap_or(""), 16).expect("hex size");
        assert!(addr > 0 && size > 0, "{line}");
    }
}

#[test]
fn svg_figure_names_the_input_preset_axes_and_unit() {
    let out = tmp("speech_fig.svg");
    let o = specc(&[
        "run",
        "librosa_mel",
        "examples/music.flac",
        "-o",
        out.to_str().unwrap_or(""),
        "--set",
        "n_mels=64",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&out).expect("svg written");
    assert!(
        svg.starts_with("<svg") && svg.contains("data:image/png;base64,"),
        "{}",
        &svg[..200.min(svg.len())]
    );
    for text in
        ["music.flac — librosa_mel (n_mels=64)", "time (s)", "frequency (Hz, mel bands)", "mel power [dB]"]
    {
        assert!(svg.contains(text), "`{text}` missing from the SVG");
    }
    // --format svg when the extension does not say.
    let out2 = tmp("speech_fig_fmt");
    let o = specc(&[
        "run",
        "whisper",
        "examples/speech.wav",
        "-o",
        out2.to_str().unwrap_or(""),
        "--format",
        "svg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&out2).expect("svg written");
    assert!(svg.contains("0.25·log10(mel power) + 1"), "whisper's unit");
}

#[test]
fn png_scale_chooses_db_or_linear_display_of_linear_outputs() {
    let run = |name: &str, extra: &[&str]| -> String {
        let out = tmp(name);
        let mut args = vec!["run", "librosa_mel", "examples/music.flac", "-o", out.to_str().unwrap_or("")];
        args.extend(["--set", "power_to_db=false"]);
        args.extend(extra);
        let o = specc(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(&out).expect("svg written")
    };
    let db = run("scale_default.svg", &[]);
    assert!(db.contains("10·log10(mel power) [dB]"), "linear power is shown in dB by default");
    let lin = run("scale_linear.svg", &["--png-scale", "linear"]);
    assert!(lin.contains("mel power") && !lin.contains("[dB]"));
    assert_eq!(run("scale_db.svg", &["--png-scale", "db"]), db);
    // The PNG changes with the scale too.
    let png = |name: &str, scale: &str| {
        let out = tmp(name);
        let args = [
            "run",
            "librosa_mel",
            "examples/music.flac",
            "-o",
            out.to_str().unwrap_or(""),
            "--set",
            "power_to_db=false",
            "--png-scale",
            scale,
        ];
        assert!(specc(&args).status.success());
        std::fs::read(&out).expect("png written")
    };
    assert_ne!(png("scale_db.png", "db"), png("scale_lin.png", "linear"));
    let o = specc(&[
        "run",
        "librosa_mel",
        "examples/music.flac",
        "-o",
        tmp("x.png").to_str().unwrap_or(""),
        "--png-scale",
        "log",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("db, linear"), "{}", stderr(&o));
}
