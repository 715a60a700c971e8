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
    // An optional union is shown as the spec writes it.
    assert!(text.contains(" (density | spectrum)? "), "{text}");
    let o = specc(&["graph", "specs/whisper.spec"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("frames(length: 400, hop: 160, drop_last)"), "{text}");
    assert!(text.contains("db(mult: 1.0, amin: 1e-10, ref: 1.0, top_db: 8.0, over: tensor)"), "{text}");
    let o = specc(&["fmt", "specs/librosa_mel.spec"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("spec librosa_mel"));
    let o = specc(&["presets"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for p in [
        "keras_mel",
        "keras_stft",
        "librosa_mel",
        "librosa_stft",
        "torchaudio_mel",
        "whisper",
        "kaldi_fbank",
        "librosa_mfcc",
        "torchaudio_mfcc",
        "kaldi_mfcc",
    ] {
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
    // The kernel plan, with the FFT exactly as planned and the clip in a phase of its own.
    assert!(
        text.contains("kernel plan:") && text.contains("transform(real 400 = half 200 [8 x 5 x 5]"),
        "{text}"
    );
    assert!(text.contains("phase 2: over the output") && text.contains("clip(max(x, max - 80.0)"), "{text}");
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
    // Every preset benches without --input; Kaldi's one channel holds the clips in a row.
    for spec in specc::PRESETS.iter().map(|(n, _)| *n) {
        let o = specc(&["bench", spec, "--batch", "2", "--seconds", "0.5", "--runs", "1", "--json"]);
        assert!(o.status.success(), "{spec}: {}", stderr(&o));
    }
    let o = specc(&["bench", "kaldi_fbank", "--batch", "2", "--seconds", "0.5", "--runs", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["input_shape"], serde_json::json!([1, 16000]));
    assert_eq!(v["frames"], 98);
}

/// `SPECC_PERF_MAP=1` makes the JIT list its kernels in `/tmp/perf-<pid>.map` (perf's format:
/// hex address, hex size, name), so profiles of a run name the JIT code.
#[cfg(target_os = "linux")]
#[test]
fn perf_map_names_the_jit_kernels() {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["bench", "keras_mel", "--batch", "1", "--seconds", "1", "--runs", "1"])
        .env("SPECC_PERF_MAP", "1")
        // The 128-bit path, whose FFT is a JIT kernel too (on the wide path it is precompiled
        // code perf names from the binary's own symbols).
        .env("SPECC_ISA", "sse")
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

/// stderr with miette's line wrapping undone, for matching whole messages.
fn flat(o: &std::process::Output) -> String {
    stderr(o).replace("\n  │ ", " ")
}

fn read_f32(p: &Path) -> ndarray::ArrayD<f32> {
    match specc::npy::read(p).expect("npy") {
        specc::npy::Array::F32(a) => a,
        _ => panic!("float32 expected"),
    }
}

/// The shape a spec's input gives a mono signal of `n` samples.
fn mono_shape(p: &specc::Pipeline, n: usize) -> Vec<usize> {
    let axes: Vec<&str> = p.graph().user_axes().iter().map(String::as_str).collect();
    match axes.as_slice() {
        ["...", "samples"] => vec![n],
        ["channels", "samples"] => vec![1, n],
        ["batch", "samples", "channels"] => vec![1, n, 1],
        ["batch", "channels", "samples"] => vec![1, 1, n],
        other => panic!("unexpected input layout {other:?}"),
    }
}

/// Every shipped preset runs on every audio format the CLI reads. The lossless files hold the
/// samples of examples/speech.npy, so their result is the API's on that array.
#[test]
fn every_preset_runs_on_every_audio_format() {
    let specc::npy::Array::F32(speech) = specc::npy::read(Path::new("examples/speech.npy")).expect("npy")
    else {
        panic!("float32 speech")
    };
    for (name, _) in specc::PRESETS {
        // A preset whose default rate is not the recording's runs at 16 kHz through its own
        // rate param.
        let probe = specc::Pipeline::preset(name, &[]).expect("preset");
        let sets: Vec<String> = match (probe.graph().rate, probe.rate_param()) {
            (Some(r), Some(param)) if r != 16000.0 => vec![format!("{param}=16000")],
            _ => vec![],
        };
        let set_refs: Vec<&str> = sets.iter().map(String::as_str).collect();
        let p = specc::Pipeline::preset(name, &set_refs).expect("preset at 16 kHz");
        let x = speech.clone().into_shape_with_order(mono_shape(&p, speech.len())).expect("reshape");
        let specc::Output::F32(want) = p.run(&specc::Input::F32(x.view())).expect("api run") else {
            panic!("float32 output")
        };
        for ext in ["wav", "flac", "mp3", "ogg"] {
            let out = tmp(&format!("every_{name}_{ext}.npy"));
            let input = format!("examples/speech.{ext}");
            let mut args = vec!["run", name, input.as_str(), "-o", out.to_str().unwrap_or("")];
            for s in &sets {
                args.extend(["--set", s.as_str()]);
            }
            let o = specc(&args);
            assert!(o.status.success(), "{name} on {ext}: {}", stderr(&o));
            let got = read_f32(&out);
            assert_eq!(got.ndim(), want.ndim(), "{name} on {ext}");
            if ext == "wav" || ext == "flac" {
                assert_eq!(got, want, "{name} on {ext} differs from the API on speech.npy");
            }
        }
    }
}

/// `specc run kaldi_fbank speech.wav` equals torchaudio.compliance.kaldi.fbank on the
/// torchaudio.load-scaled samples, and `--audio-scale int16` equals it on samples times 32768
/// (tests/golden/gen.py, write_speech_file_goldens). Log energies, compared as the golden
/// suite compares them: on exp(x), within 1e-4 of each value plus 1e-5 of the largest.
#[test]
fn kaldi_fbank_on_a_wav_matches_torchaudio_in_both_scales() {
    for (scale, golden) in [("float", "kaldi_fbank_speech_wav"), ("int16", "kaldi_fbank_speech_wav_int16")] {
        let out = tmp(&format!("kaldi_{scale}.npy"));
        let o = specc(&[
            "run",
            "kaldi_fbank",
            "examples/speech.wav",
            "-o",
            out.to_str().unwrap_or(""),
            "--audio-scale",
            scale,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let got = read_f32(&out);
        let want = read_f32(&PathBuf::from(format!("tests/golden/fixtures/expected/{golden}.npy")));
        assert_eq!(got.shape(), want.shape());
        let top = want.iter().fold(0.0f64, |m, &w| m.max((w as f64).exp()));
        for (g, w) in got.iter().zip(want.iter()) {
            let (g, w) = ((*g as f64).exp(), (*w as f64).exp());
            assert!((g - w).abs() <= 1e-4 * w + 1e-5 * top, "{scale}: {g} vs {w}");
        }
    }
}

/// `specc run librosa_mfcc speech.wav --set sr=16000` equals librosa.feature.mfcc(y=y, sr=16000)
/// on soundfile's float32 samples (gen.py, write_mfcc_speech_goldens), within the golden suite's
/// `cepstral` tolerance, on the JIT (the DCT after the top_db clip as a dense stage over the
/// staged log mels): no warning.
#[test]
fn librosa_mfcc_on_a_wav_matches_librosa_on_the_jit() {
    let out = tmp("librosa_mfcc_speech.npy");
    let o = specc(&[
        "run",
        "librosa_mfcc",
        "examples/speech.wav",
        "--set",
        "sr=16000",
        "-o",
        out.to_str().unwrap_or(""),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("warning"), "{err}");
    let got = read_f32(&out);
    let want = read_f32(&PathBuf::from("tests/golden/fixtures/expected/librosa_mfcc_speech_wav.npy"));
    assert_eq!(got.shape(), want.shape());
    let top = want.iter().fold(0.0f64, |m, &w| m.max((w as f64).abs()));
    for (g, w) in got.iter().zip(want.iter()) {
        let (g, w) = (*g as f64, *w as f64);
        assert!((g - w).abs() <= CEPSTRAL_ABS + CEPSTRAL_REL * top, "{g} vs {w}");
    }
}

/// `kaldi_mfcc` runs on the JIT (the DCT and lifter as a dense product after the filterbank):
/// no warning, and the same values as the interpreter within the cepstral tolerance.
#[test]
fn kaldi_mfcc_runs_on_the_jit_without_a_warning() {
    let (jit, interp) = (tmp("kaldi_mfcc_jit.npy"), tmp("kaldi_mfcc_interp.npy"));
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec!["run", "kaldi_mfcc", "examples/speech.wav", "--audio-scale", "int16", "-o"];
        args.push(out.to_str().unwrap_or(""));
        args.extend_from_slice(extra);
        specc(&args)
    };
    let o = run(&jit, &[]);
    assert!(o.status.success() && !stderr(&o).contains("warning"), "{}", stderr(&o));
    let o = run(&interp, &["--engine", "interp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (read_f32(&jit), read_f32(&interp));
    assert_eq!(a.shape(), b.shape());
    let top = b.iter().fold(0.0f64, |m, &w| m.max((w as f64).abs()));
    for (g, w) in a.iter().zip(b.iter()) {
        assert!(((*g - *w) as f64).abs() <= CEPSTRAL_ABS + CEPSTRAL_REL * top, "{g} vs {w}");
    }
}

/// The golden suite's `cepstral` tolerance (tests/golden.rs).
const CEPSTRAL_ABS: f64 = 5e-3;
const CEPSTRAL_REL: f64 = 1e-6;

fn write_wav(path: &Path, rate: u32, channels: &[Vec<i16>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    for i in 0..channels[0].len() {
        for c in channels {
            w.write_sample(c[i]).expect("sample");
        }
    }
    w.finalize().expect("wav");
}

/// kaldi_fbank's `[channels, samples]` takes the `--channels` rules: mix and first give one
/// row, all gives every channel and the `channel` param picks one, as torchaudio does.
#[test]
fn kaldi_fbank_channels() {
    let n = 4000;
    let left: Vec<i16> = (0..n).map(|i| ((i as f64 * 0.05).sin() * 8000.0) as i16).collect();
    let right: Vec<i16> = (0..n).map(|i| ((i as f64 * 0.31).sin() * 3000.0) as i16).collect();
    let wav = tmp("stereo.wav");
    write_wav(&wav, 16000, &[left.clone(), right.clone()]);
    let api = |rows: Vec<Vec<i16>>, sets: &[&str]| {
        let data: Vec<f32> = rows.iter().flatten().map(|&v| v as f32 / 32768.0).collect();
        let x = ndarray::ArrayD::from_shape_vec(vec![rows.len(), n], data).expect("shape");
        let p = specc::Pipeline::preset("kaldi_fbank", sets).expect("preset");
        match p.run(&specc::Input::F32(x.view())).expect("run") {
            specc::Output::F32(y) => y,
            _ => panic!("float32"),
        }
    };
    let cli = |extra: &[&str]| {
        let out = tmp("stereo_kaldi.npy");
        let mut args =
            vec!["run", "kaldi_fbank", wav.to_str().unwrap_or(""), "-o", out.to_str().unwrap_or("")];
        args.extend(extra);
        let o = specc(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        read_f32(&out)
    };
    assert_eq!(cli(&["--channels", "first"]), api(vec![left.clone()], &[]));
    assert_eq!(
        cli(&["--channels", "all", "--set", "channel=1"]),
        api(vec![left.clone(), right.clone()], &["channel=1"])
    );
    assert_eq!(cli(&["--channels", "all"]), api(vec![left.clone()], &[]));
    // A channel the selected rows do not have: the error says how to keep every channel.
    let out = tmp("stereo_kaldi_bad.npy");
    let o = specc(&[
        "run",
        "kaldi_fbank",
        wav.to_str().unwrap_or(""),
        "-o",
        out.to_str().unwrap_or(""),
        "--set",
        "channel=1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).ends_with(
            "; --channels mix and first give one channel: pass --channels all to keep every channel\n"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // mix: one row, the mean of the channels (not either channel).
    let m = cli(&[]);
    assert_eq!(m.shape(), cli(&["--channels", "first"]).shape());
    assert_ne!(m, api(vec![left], &[]));
    assert_ne!(m, api(vec![right], &[]));
}

/// Output paths that work: a folder (existing, or named with a trailing `/`), stdout, stdin,
/// several inputs into a folder named without an extension.
#[test]
fn output_paths_do_the_obvious_thing() {
    let d = std::env::temp_dir().join(format!("specc-cli-paths-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let want = {
        let out = d.join("want.npy");
        let o = specc(&["run", "whisper", "examples/speech.wav", "-o", out.to_str().unwrap_or("")]);
        assert!(o.status.success(), "{}", stderr(&o));
        read_f32(&out)
    };
    let existing = d.join("existing");
    std::fs::create_dir_all(&existing).expect("dir");
    for (out, file) in [
        (format!("{}/", existing.display()), existing.join("speech.npy")),
        (existing.display().to_string(), existing.join("speech.npy")),
        (format!("{}/", d.join("new").display()), d.join("new/speech.npy")),
        (format!("{}/", d.join("pics").display()), d.join("pics/speech.png")),
    ] {
        let _ = std::fs::remove_file(&file);
        let mut args = vec!["run", "whisper", "examples/speech.wav", "-o", out.as_str()];
        if file.extension().is_some_and(|e| e == "png") {
            args.extend(["--format", "png"]);
        }
        let o = specc(&args);
        assert!(o.status.success(), "{out}: {}", stderr(&o));
        assert!(file.is_file(), "{out} should write {}", file.display());
    }
    assert_eq!(read_f32(&existing.join("speech.npy")), want);
    // Several inputs, an extensionless name: a folder of one file per input.
    let o = specc(&[
        "run",
        "whisper",
        "examples/speech.wav",
        "examples/speech.flac",
        "-o",
        d.join("feats").to_str().unwrap_or(""),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("feats/speech.npy").is_file() && d.join("feats/speech_flac.npy").is_file());

    // `-o -`: the .npy bytes on stdout, the summary on stderr.
    let o = specc(&["run", "whisper", "examples/speech.wav", "-o", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("examples/speech.wav -> stdout: [80, 262] f32"), "{}", stderr(&o));
    let specc::npy::Array::F32(y) = specc::npy::read_bytes("stdout", &o.stdout).expect("npy on stdout")
    else {
        panic!("float32")
    };
    assert_eq!(y, want);
    assert!(!Path::new("-").exists(), "`-o -` must not create a file named -");

    // Input `-`: a .npy or an audio file on stdin, told apart by their first bytes.
    for file in ["examples/speech.wav", "examples/speech.npy", "examples/speech.flac"] {
        let out = d.join("stdin/");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
            .args(["run", "whisper", "-", "-o", out.to_str().unwrap_or("")])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(std::fs::File::open(file).expect("open"))
            .output()
            .expect("runs specc");
        assert!(child.status.success(), "{file}: {}", stderr(&child));
        assert_eq!(read_f32(&d.join("stdin/stdin.npy")), want, "{file} on stdin");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// Usage errors exit with status 2, as the argument parser's own do; failures with 1.
#[test]
fn exit_codes_follow_the_readme() {
    let o = specc(&["run", "keras_mel", "examples/speech.wav"]);
    assert_eq!(o.status.code(), Some(2), "a missing -o: {}", stderr(&o));
    let o = specc(&["run", "keras_mel", "examples/speech.wav", "-o", "x.npy", "--channels", "left"]);
    assert_eq!(o.status.code(), Some(2), "a bad flag value: {}", stderr(&o));
    let o = specc(&["run", "keras_mel", "examples/speech.wav", "-o", "x.jpg"]);
    assert_eq!(o.status.code(), Some(2), "an impossible output: {}", stderr(&o));
    let o = specc(&["run", "keras_mel", "no/such.wav", "-o", tmp("never2.npy").to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(1), "a failed run: {}", stderr(&o));
}

#[test]
fn presets_list_and_signature() {
    let o = specc(&["presets"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for line in [
        "keras_mel        keras.layers.MelSpectrogram(...)(x)",
        "librosa_mel      librosa.power_to_db(librosa.feature.melspectrogram(...), ref=1.0, amin=1e-10, top_db=80.0)",
        "torchaudio_mel   torchaudio.transforms.AmplitudeToDB(stype=\"power\", top_db=None)(torchaudio.transforms.MelSpectrogram(...)(x))",
        "whisper          whisper.audio.log_mel_spectrogram(audio, n_mels=80, padding=0)",
        "kaldi_fbank      torchaudio.compliance.kaldi.fbank(...)",
        "librosa_mfcc     librosa.feature.mfcc(...)",
        "torchaudio_mfcc  torchaudio.transforms.MFCC(...)(x)",
        "kaldi_mfcc       torchaudio.compliance.kaldi.mfcc(...)",
    ] {
        assert!(text.lines().any(|l| l == line), "no line `{line}` in:\n{text}");
    }
    // Every line is one whole call: parentheses balance.
    for l in text.lines() {
        assert_eq!(l.matches('(').count(), l.matches(')').count(), "{l}");
    }
    let o = specc(&["presets", "kaldi_fbank"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        text.starts_with(
            "kaldi_fbank: torchaudio.compliance.kaldi.fbank(waveform, blackman_coeff=0.42, channel=-1,"
        ),
        "{text}"
    );
    assert!(text.contains(", use_power=True, window_type=\"povey\")\n"), "{text}");
    assert!(
        text.lines().any(
            |l| l.split_whitespace().collect::<Vec<_>>() == ["sample_frequency", "float", "=", "16000.0"]
        ),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "input: [channels, samples] at sample_frequency"), "{text}");
    let o = specc(&["presets", "kaldi_fbnk"]);
    assert!(flat(&o).contains("no preset named `kaldi_fbnk`; did you mean `kaldi_fbank`?"), "{}", stderr(&o));
    // A library's name alone starts several presets: all of them are offered.
    let o = specc(&["presets", "kaldi"]);
    assert!(
        flat(&o).contains("no preset named `kaldi`; did you mean `kaldi_fbank` or `kaldi_mfcc`?"),
        "{}",
        stderr(&o)
    );
}

/// A misspelled preset gets a "did you mean" in every command that takes a spec.
#[test]
fn misspelled_presets_get_a_suggestion() {
    let out = tmp("never3.npy");
    let cases: &[&[&str]] = &[
        &["run", "whipser", "examples/speech.wav", "-o", out.to_str().unwrap_or("")],
        &["check", "librosa_mle"],
        &["graph", "keras_mels"],
        &["fmt", "torchaudio-mel"],
        &["bench", "kaldi_fbnak", "--runs", "1"],
        &["filters", "Whisper", "-o", out.to_str().unwrap_or("")],
    ];
    let want = ["whisper", "librosa_mel", "keras_mel", "torchaudio_mel", "kaldi_fbank", "whisper"];
    for (args, want) in cases.iter().zip(want) {
        let o = specc(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(flat(&o).contains(&format!("did you mean `{want}`?")), "{args:?}: {}", stderr(&o));
    }
    assert!(!out.exists());
}

/// The rate-mismatch hint names the preset's own rate param with the exact `--set`.
#[test]
fn rate_mismatch_names_the_rate_param() {
    let out = tmp("never4.npy");
    let o_str = out.to_str().unwrap_or("");
    for (preset, set, param) in [
        ("librosa_mel", None, "sr"),
        ("keras_mel", Some("sampling_rate=8000"), "sampling_rate"),
        ("torchaudio_mel", Some("sample_rate=8000"), "sample_rate"),
        ("kaldi_fbank", Some("sample_frequency=8000"), "sample_frequency"),
    ] {
        let mut args = vec!["run", preset, "examples/speech.wav", "-o", o_str];
        if let Some(s) = set {
            args.extend(["--set", s]);
        }
        let o = specc(&args);
        let expects = if set.is_some() { "8000" } else { "22050" };
        let want = format!(
            "error: examples/speech.wav is sampled at 16000 Hz but the spec expects {expects} Hz; pass --resample, or compute at the file's rate with --set {param}=16000\n"
        );
        assert_eq!(stderr(&o), want, "{preset}");
    }
    // Whisper has no rate param: only --resample.
    let wav = tmp("tone_8k.wav");
    write_wav(&wav, 8000, &[(0..8000).map(|i| ((i as f64 * 0.1).sin() * 5000.0) as i16).collect()]);
    let o = specc(&["run", "whisper", wav.to_str().unwrap_or(""), "-o", o_str]);
    assert_eq!(
        stderr(&o),
        format!(
            "error: {} is sampled at 8000 Hz but the spec expects 16000 Hz; pass --resample (this spec runs at 16000 Hz only)\n",
            wav.display()
        )
    );
    assert!(!out.exists());
}

/// `bench --input` takes audio as `run` does, and says when the JIT cannot run a graph.
#[test]
fn bench_takes_audio_and_warns_of_the_interpreter() {
    let o = specc(&["bench", "kaldi_fbank", "--input", "examples/speech.wav", "--runs", "1", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["input_shape"], serde_json::json!([1, 41955]));
    assert_eq!(v["engine"], "jit");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // A spec with no FFT has no JIT kernel: both commands say so, once.
    let spec = tmp("frames_only.spec");
    std::fs::write(
        &spec,
        "spec frames_only\ninput x: f32[..., samples] at 16 kHz\nx\n  |> frames(length: 4, hop: 2)\n  |> layout(..., frames, taps)\n",
    )
    .expect("spec");
    let warning = "warning: the JIT cannot compile this graph, running on the interpreter: %2: expected an FFT after the framed load and per-frame ops, found layout\n";
    let o = specc(&["bench", spec.to_str().unwrap_or(""), "--input", "examples/speech.npy", "--runs", "1"]);
    assert!(o.status.success() && stderr(&o) == warning, "{}", stderr(&o));
    let out = tmp("frames_only.npy");
    let o =
        specc(&["run", spec.to_str().unwrap_or(""), "examples/speech.npy", "-o", out.to_str().unwrap_or("")]);
    assert!(o.status.success() && stderr(&o).starts_with(warning), "{}", stderr(&o));
    let o = specc(&[
        "run",
        spec.to_str().unwrap_or(""),
        "examples/speech.npy",
        "-o",
        out.to_str().unwrap_or(""),
        "--engine",
        "interp",
    ]);
    assert!(o.status.success() && !stderr(&o).contains("warning"), "{}", stderr(&o));
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
