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
    for p in
        ["keras_mel", "keras_stft", "librosa_mel", "librosa_stft", "torchaudio_mel", "whisper", "kaldi_fbank"]
    {
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

/// Python spellings pasted into `--set`: accepted ones run, others name the accepted spellings.
#[test]
fn set_takes_python_spellings() {
    let o = specc(&[
        "check",
        "librosa_mel",
        "--set",
        "ref=np.max",
        "--set",
        "top_db=None",
        "--set",
        "center=False",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("= max  (set)") && text.contains("= none  (set)") && text.contains("= false  (set)"),
        "{text}"
    );

    let o = specc(&["check", "librosa_mel", "--set", "ref=np.mean"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "  × `np.mean` is not a value of `ref`
   ╭─[--set:1:5]
 1 │ ref=np.mean
   ·     ───┬───
   ·        ╰── not a spelling this param accepts
   ╰────
  help: `ref` accepts a number (e.g. `1.0`, `1e-10`), `max`, `np.max` or
        `numpy.max`; words may be quoted, e.g. `'max'`

"
    );

    let o = specc(&["check", "torchaudio_mel", "--set", "window_fn=torch.kaiser_window"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "  × `torch.kaiser_window` is not a value of `window_fn`
   ╭─[--set:1:11]
 1 │ window_fn=torch.kaiser_window
   ·           ─────────┬─────────
   ·                    ╰── not a spelling this param accepts
   ╰────
  help: `window_fn` accepts `hann_window`, `torch.hann_window`,
        `hamming_window`, `torch.hamming_window`, `blackman_window`,
        `torch.blackman_window`, `bartlett_window` or `torch.bartlett_window`;
        words may be quoted, e.g. `'hann_window'`

"
    );
}

/// `librosa_stft` with `ref=np.max` equals librosa's `amplitude_to_db(np.abs(stft), ref=np.max)`.
#[test]
fn librosa_stft_ref_max_matches_librosa() {
    let out = tmp("stft_ref_max.npy");
    let o = specc(&[
        "run",
        "librosa_stft",
        "tests/golden/fixtures/inputs/loudquiet_2x8000_f32.npy",
        "-o",
        out.to_str().unwrap_or(""),
        "--set",
        "n_fft=512",
        "--set",
        "ref=np.max",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let specc::npy::Array::F32(y) = specc::npy::read(&out).expect("output") else { panic!("float32") };
    let want = specc::npy::read(Path::new("tests/golden/fixtures/expected/librosa_stft_ref_max.npy"))
        .expect("golden");
    let specc::npy::Array::F32(want) = want else { panic!("float32 golden") };
    assert_eq!(y.shape(), want.shape());
    let worst = y.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 2e-3, "max dB error {worst}");
}
