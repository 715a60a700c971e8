//! Bad inputs, through the command line and the library alike: malformed and unsupported `.npy`
//! files, odd shapes, non-finite signals, absurd `--set` values, unreadable inputs, unwritable
//! outputs, corrupt audio and resource limits.
//!
//! Every case must end in a named error: exit status 1 with a message that names the problem
//! (the file, the dtype, the param...), never a panic, and no output file (nor a temporary) left
//! behind. Non-finite audio is either rejected by name (librosa's presets, as librosa rejects it)
//! or propagates to the output as NaN/inf (Keras, torchaudio, Whisper, Kaldi propagate).
//!
//! The fixtures are written into a temporary folder by each test; nothing large is committed.

mod common;

use common::{specc, stderr};
use specc::audio::AudioError;
use specc::npy::NpyError;
use specc::{Engine, Input, Limits, Pipeline, RunError};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A fresh, empty folder for one test.
fn tmpdir(name: &str) -> common::TmpDir {
    common::TmpDir::new(&format!("bad-{name}"))
}

/// A version-1 `.npy` whose header dict is `dict` (any text), padded as numpy pads it.
fn npy_with_header(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut h = dict.as_bytes().to_vec();
    let pad = (64 - (10 + h.len() + 1) % 64) % 64;
    h.extend(std::iter::repeat_n(b' ', pad));
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend(h);
    out.extend_from_slice(data);
    out
}

/// A `.npy` of dtype `descr` (numpy's descriptor text), shape `shape` (a Python tuple).
fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    npy_with_header(&format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}"), data)
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A deterministic test signal: two tones and a little noise, in [-1, 1).
fn signal(n: usize) -> Vec<f32> {
    let mut seed = 0x2545f4914f6cdd1du64;
    (0..n)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let t = i as f32 / 16000.0;
            0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                + 0.2 * (2.0 * std::f32::consts::PI * 3000.0 * t).sin()
                + 0.05 * noise
        })
        .collect()
}

/// Deterministic bytes that are no format in particular.
fn noise_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 56) as u8
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(path, bytes).expect("write fixture");
    path.to_path_buf()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The engines this build has (the interpreter always; the JIT where it exists).
fn engines() -> Vec<&'static str> {
    ["interp", "jit"].into_iter().filter(|e| e.parse::<Engine>().is_ok()).collect()
}

// ---------------------------------------------------------------------------------------------
// Checks

/// A folder for one failing run's output, empty, so leftovers (the output or a temporary) show.
fn out_dir(d: &Path) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let o = d.join(format!("out{}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&o).expect("out dir");
    o
}

fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Asserts a CLI failure: exit status 1 (not a panic's 101 nor an abort), no "panicked", and a
/// message containing `want`. Returns stderr.
fn assert_named_failure(args: &[&str], o: &Output, want: &str) -> String {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    assert_eq!(o.status.code(), Some(1), "{args:?}: status {:?}, expected 1:\n{err}", o.status);
    assert!(err.contains(want), "{args:?}: expected `{want}` in:\n{err}");
    err
}

/// Runs `specc run SPEC INPUT -o <fresh folder>/result.npy [--set ...]` and asserts a named
/// failure containing `want` that leaves the folder empty.
fn cli_run_fails(d: &Path, spec: &str, input: &Path, sets: &[&str], want: &str) -> String {
    let o_dir = out_dir(d);
    let out = o_dir.join("result.npy");
    let mut args = vec!["run", spec, s(input), "-o", s(&out)];
    for set in sets {
        args.extend(["--set", set]);
    }
    let o = specc(&args);
    let err = assert_named_failure(&args, &o, want);
    assert_eq!(entries(&o_dir), Vec::<String>::new(), "{args:?} left files behind");
    err
}

/// What kind of error the library returned, for the matrix.
fn kind(e: &specc::Error) -> &'static str {
    match e {
        specc::Error::Spec(_) => "spec",
        specc::Error::Npy(NpyError::Io { .. }) => "npy-io",
        specc::Error::Npy(NpyError::DType { .. }) => "npy-dtype",
        specc::Error::Npy(NpyError::Malformed { .. }) => "npy-malformed",
        specc::Error::Npy(NpyError::Write { .. }) => "npy-write",
        specc::Error::Npy(NpyError::TooLarge { .. }) => "npy-too-large",
        specc::Error::Run(RunError::Shape { .. }) => "run-shape",
        specc::Error::Run(RunError::DType { .. }) => "run-dtype",
        specc::Error::Run(RunError::Empty(_)) => "run-empty",
        specc::Error::Run(RunError::TooShort(_)) => "run-too-short",
        specc::Error::Run(RunError::NotFinite(_)) => "run-not-finite",
        specc::Error::Run(RunError::TooLarge(_)) => "run-too-large",
        specc::Error::Run(_) => "run-other",
        specc::Error::Io(_) => "io",
        specc::Error::Usage(_) => "usage",
        specc::Error::Failed | specc::Error::Internal(_) | specc::Error::Aot(_) => "other",
    }
}

/// The library's path: read the file, compile the preset, run it.
fn api_run_file(path: &Path, spec: &str, sets: &[&str]) -> Result<specc::Output, specc::Error> {
    let a = specc::npy::read(path)?;
    Pipeline::preset(spec, sets)?.run(&a.view())
}

fn audio_kind(e: &AudioError) -> &'static str {
    match e {
        AudioError::Read { .. } => "audio-read",
        AudioError::NotAudio { .. } => "audio-not-audio",
        AudioError::Corrupt { .. } => "audio-corrupt",
        AudioError::NoTrack { .. } => "audio-no-track",
        AudioError::Empty { .. } => "audio-empty",
        AudioError::SampleFormat { .. } => "audio-sample-format",
        AudioError::Resample { .. } => "audio-resample",
        AudioError::TooLarge { .. } => "audio-too-large",
        AudioError::Inconsistent(_) => "audio-inconsistent",
    }
}

// ---------------------------------------------------------------------------------------------
// .npy files: malformed, unsupported dtypes, odd shapes

/// (name, file bytes, error kind through the library, text the message must contain)
fn npy_cases() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    let good = npy("<f4", false, "(4000,)", &le_f32(&signal(4000)));
    vec![
        ("bad_magic", [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 120]].concat(), "npy-malformed", "magic"),
        ("empty_file", Vec::new(), "npy-malformed", "ends inside its header"),
        ("magic_only", b"\x93NUMPY\x01".to_vec(), "npy-malformed", "ends inside its header"),
        (
            "truncated_header",
            good[..40].to_vec(),
            "npy-malformed",
            "the header declares 128 bytes but the file holds 40",
        ),
        ("truncated_prefix", good[..9].to_vec(), "npy-malformed", "ends inside its header"),
        (
            "header_len_past_eof",
            {
                let mut b = good[..64].to_vec();
                b[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
                b
            },
            "npy-malformed",
            "the header declares 65545 bytes",
        ),
        // Fuzz finding (npy, a timeout): 14 unclosed `{` in a 128-byte file took ndarray-npy's
        // Python-literal parser minutes of backtracking; brackets are checked before it runs.
        ("unclosed_brackets", b"\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x7b\x20\x28\x35\x2c\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x7b\x7b\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x7b\x7b\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x7b\x7b\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x7b\x7b\x20\x20\x20\x20\x7b\x7b\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x1c\x20\x20\x5b\x7b\x27\x20\x20\x20\x28\x20\x00\x00\x20\x20\x20\x20\x20\x20\x20\x0a".to_vec(), "npy-malformed", "not a header numpy writes"),
        (
            "deep_brackets",
            npy("<f4", false, "((((((4000,),),),),)", &le_f32(&signal(4000))),
            "npy-malformed",
            "more than 4 deep",
        ),
        // Fuzz finding (npy): a version-2 header declaring a 2.7 GB header in an 87-byte file;
        // ndarray-npy allocated the declared length before reading it.
        (
            "v2_header_len_past_eof",
            [b"\x93NUMPY\x02\x00\x00\x9f\x9f\x9f".as_slice(), &[0x9f; 73], b"v<"].concat(),
            "npy-malformed",
            "the header declares 2678038284 bytes but the file holds 87",
        ),
        // Fuzz finding (npy, session 2026-12-04): a version-1 header whose length field is 0;
        // the header check subtracted the 12 bytes it had read from the declared 10 (an
        // overflow panic with overflow checks on, a read of the whole file without).
        (
            "v1_header_len_zero",
            [b"\x93NUMPY\x01\x80\x00\x00\x00\x00\x00\x00\x00pe': '<f4', 'fortran_order': False, 'shape': (0,), }".as_slice(), &[b' '; 60], b"\n"].concat(),
            "npy-malformed",
            "the header's length field says 0 bytes",
        ),
        ("data_too_short", npy("<f4", false, "(4000,)", &le_f32(&signal(100))), "npy-malformed", "truncated"),
        (
            "data_too_long",
            npy("<f4", false, "(4000,)", &le_f32(&signal(4001))),
            "npy-malformed",
            "trailing bytes",
        ),
        (
            "garbage_dict",
            npy_with_header("{'descr': <f4, 'shape': ((((}", &[]),
            "npy-malformed",
            "not a header numpy writes",
        ),
        ("not_a_dict", npy_with_header("[1, 2, 3]", &[]), "npy-malformed", "not a dict"),
        ("missing_keys", npy_with_header("{}", &[]), "npy-malformed", "missing key"),
        ("bad_header_value", npy_with_header("{'descr': <f4, 'shape': (), }", &[]), "npy-malformed", "bad header"),
        ("negative_dim", npy("<f4", false, "(-5,)", &[]), "npy-malformed", "illegal value for key shape"),
        ("dim_beyond_u64", npy("<f4", false, "(100000000000000000000000,)", &[]), "npy-malformed", "shape"),
        (
            "unknown_version",
            {
                let mut b = good.clone();
                b[6] = 9;
                b
            },
            "npy-malformed",
            "version",
        ),
        (
            "non_ascii_header",
            npy_with_header(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (4000,), 'é': 1}",
                &le_f32(&signal(4000)),
            ),
            "npy-malformed",
            "bad header",
        ),
        ("complex64", npy("<c8", false, "(4000,)", &[0; 32000]), "npy-dtype", "unsupported dtype '<c8'"),
        ("bool", npy("|b1", false, "(4000,)", &[0; 4000]), "npy-dtype", "unsupported dtype '|b1'"),
        ("int64", npy("<i8", false, "(4000,)", &[0; 32000]), "npy-dtype", "unsupported dtype '<i8'"),
        ("uint8", npy("|u1", false, "(4000,)", &[0; 4000]), "npy-dtype", "unsupported dtype '|u1'"),
        ("float16", npy("<f2", false, "(4000,)", &[0; 8000]), "npy-dtype", "unsupported dtype '<f2'"),
        (
            "native_order_f4",
            npy("=f4", false, "(4000,)", &le_f32(&signal(4000))),
            "npy-dtype",
            "unsupported dtype '=f4'",
        ),
        (
            "structured",
            npy_with_header(
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4000,), }",
                &[0; 16000],
            ),
            "npy-dtype",
            "unsupported dtype",
        ),
        ("zero_d", npy("<f4", false, "()", &le_f32(&[0.5])), "run-shape", "needs at least 1 axes, has 0"),
        ("zero_length", npy("<f4", false, "(0,)", &[]), "run-empty", "input is empty: shape [0]"),
        ("zero_rows", npy("<f4", false, "(0, 4000)", &[]), "run-empty", "input is empty: shape [0, 4000]"),
        ("zero_samples", npy("<f4", false, "(3, 0)", &[]), "run-empty", "input is empty: shape [3, 0]"),
        // No element, but the other axes multiply past isize::MAX, which ndarray refuses: this
        // panicked inside ndarray-npy before the header check counted the non-zero axes.
        (
            "zero_axis_huge_other",
            npy("<f4", false, "(0, 18446744073709551615)", &[]),
            "npy-malformed",
            "more elements than",
        ),
        // 2^32 * 2^32 * 16 elements: overflows usize before any byte is read.
        (
            "count_overflows_usize",
            npy("<f4", false, "(4294967296, 4294967296, 16)", &[]),
            "npy-malformed",
            "more elements than",
        ),
        (
            "bytes_overflow_usize",
            npy("<f8", false, "(2305843009213693952, 2)", &[]),
            "npy-malformed",
            "more elements than",
        ),
        // Fits in usize but not in the file: an error, not an attempt to allocate 256 TiB (this
        // aborted the process before the header was checked against the file size).
        (
            "huge_shape_small_file",
            npy("<f4", false, "(4294967296, 16000)", &[]),
            "npy-malformed",
            "truncated",
        ),
        (
            "int16_for_librosa",
            npy("<i2", false, "(4000,)", &[0; 8000]),
            "run-dtype",
            "dtype int16 is not accepted",
        ),
        ("too_short", npy("<f4", false, "(1,)", &le_f32(&[0.5])), "run-too-short", "input too short"),
    ]
}

/// Every malformed or unsupported `.npy` is a named error from `specc::npy::read`, from
/// `Pipeline::run`, and from `specc run`, which writes nothing.
#[test]
fn npy_matrix_cli_and_api() {
    let d = tmpdir("npy");
    for (name, bytes, want_kind, want) in npy_cases() {
        let path = write(&d.join(format!("{name}.npy")), &bytes);
        // librosa takes float input only and rejects int16; torch's strict reflect padding needs
        // more than one sample; the others run on keras_mel.
        let spec = match name {
            "int16_for_librosa" => "librosa_mel",
            "too_short" => "torchaudio_mel",
            _ => "keras_mel",
        };
        let e = api_run_file(&path, spec, &[]).expect_err(name);
        assert_eq!(kind(&e), want_kind, "{name}: {e}");
        assert!(e.to_string().contains(want), "{name}: expected `{want}` in `{e}`");
        if want_kind.starts_with("npy") {
            assert!(e.to_string().contains(&format!("{name}.npy")), "{name}: the error names no file: {e}");
            // The in-memory reader (the fuzz target's entry) says the same.
            let m = specc::npy::read_bytes("mem.npy", &bytes).expect_err(name);
            assert!(m.to_string().contains(want), "{name} (bytes): {m}");
        }
        let err = cli_run_fails(&d, spec, &path, &[], want);
        if want_kind.starts_with("npy") {
            assert!(err.contains(&format!("{name}.npy")), "{name}: the CLI error names no file: {err}");
        }
    }
}

/// Big-endian data and Fortran order are read as numpy writes them: the same array, the same
/// spectrogram as the little-endian C-order file.
#[test]
fn big_endian_and_fortran_order_are_the_same_array() {
    let d = tmpdir("layouts");
    let x = signal(8000);
    let c_order = write(&d.join("c.npy"), &npy("<f4", false, "(2, 4000)", &le_f32(&x)));
    let be: Vec<u8> = x.iter().flat_map(|v| v.to_be_bytes()).collect();
    let big = write(&d.join("be.npy"), &npy(">f4", false, "(2, 4000)", &be));
    // Column-major: element (i, j) at j * 2 + i.
    let mut f = vec![0.0f32; 8000];
    for i in 0..2 {
        for j in 0..4000 {
            f[j * 2 + i] = x[i * 4000 + j];
        }
    }
    let fortran = write(&d.join("f.npy"), &npy("<f4", true, "(2, 4000)", &le_f32(&f)));
    let want = api_run_file(&c_order, "keras_mel", &[]).expect("c order");
    assert_eq!(want.shape(), &[2, 128, 8]);
    for p in [&big, &fortran] {
        let got = api_run_file(p, "keras_mel", &[]).expect("reads");
        assert_eq!(got, want, "{}", p.display());
        let out = d.join("out.npy");
        let o = specc(&["run", "keras_mel", s(p), "-o", s(&out)]);
        assert!(o.status.success(), "{}", stderr(&o));
        let y = specc::npy::read(&out).expect("output");
        let specc::npy::Array::F32(y) = y else { panic!("float32 output") };
        let specc::Output::F32(w) = &want else { panic!("float32") };
        assert_eq!(&y, w, "{}", p.display());
    }
}

/// A `.npy` from a pipe has no length to check its header against: it is read whole first, so a
/// good one runs and a truncated one is the same named error as a truncated file.
#[test]
fn npy_from_a_pipe() {
    let d = tmpdir("pipe");
    let good = npy("<f4", false, "(4000,)", &le_f32(&signal(4000)));
    for (bytes, ok) in [(good.clone(), true), (good[..100].to_vec(), false)] {
        let o_dir = out_dir(&d);
        let out = o_dir.join("r.npy");
        let mut child = Command::new(env!("CARGO_BIN_EXE_specc"))
            .args(["run", "keras_mel", "/dev/stdin", "-o", s(&out)])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs specc");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            let _ = stdin.write_all(&bytes);
        }
        let o = child.wait_with_output().expect("waits");
        if ok {
            assert!(o.status.success(), "{}", stderr(&o));
            assert!(out.exists());
        } else {
            assert_named_failure(&["run", "keras_mel", "/dev/stdin"], &o, "the header declares 128 bytes");
            assert!(entries(&o_dir).is_empty());
        }
    }
}

/// 0-d and empty arrays through the library without a file.
#[test]
fn zero_d_and_empty_arrays_through_the_api() {
    let p = Pipeline::preset("keras_mel", &[]).expect("preset");
    let cases: Vec<(Vec<usize>, &str)> = vec![
        (vec![], "run-shape"),
        (vec![0], "run-empty"),
        (vec![2, 0], "run-empty"),
        (vec![0, 16000], "run-empty"),
    ];
    for (shape, want) in cases {
        let x = ndarray::ArrayD::<f32>::zeros(shape.clone());
        let e = p.run(&Input::F32(x.view())).expect_err("fails");
        assert_eq!(kind(&e), want, "{shape:?}: {e}");
        let e = p.plan(&shape, "float32").expect_err("plan fails");
        assert_eq!(kind(&e), want, "{shape:?}: {e}");
    }
    // A dtype no spec accepts, by name.
    let e = p.plan(&[16000], "complex64").expect_err("dtype");
    assert_eq!(kind(&e), "run-dtype", "{e}");
}

/// Views that are not in standard layout (reversed, strided, transposed) run as the values they
/// show, on every engine: the same output as a standard-layout copy.
#[test]
fn non_standard_views_run_as_their_values() {
    use ndarray::{s, Axis};
    let base = ndarray::Array2::from_shape_vec((4, 8000), signal(32000)).expect("shape");
    let reversed = base.slice(s![..;-1, ..]);
    let strided = base.slice(s![.., ..;2]);
    let transposed = base.t().to_owned();
    let fortran_view = transposed.t();
    for engine in engines() {
        let p =
            Pipeline::preset("keras_mel", &[]).expect("preset").with_engine(engine.parse().expect("engine"));
        for (name, v) in [("reversed", reversed), ("strided", strided), ("fortran", fortran_view)] {
            let copy = v.as_standard_layout().to_owned().into_dyn();
            let want = p.run(&Input::F32(copy.view())).expect("copy runs");
            let got = p.run(&Input::F32(v.into_dyn())).unwrap_or_else(|e| panic!("{engine} {name}: {e}"));
            assert_eq!(got, want, "{engine} {name}");
        }
        // A broadcast view (stride 0) too.
        let row = base.index_axis(Axis(0), 0);
        let b = row.broadcast((3, 8000)).expect("broadcast");
        let copy = b.to_owned().into_dyn();
        let want = p.run(&Input::F32(copy.view())).expect("copy runs");
        assert_eq!(p.run(&Input::F32(b.into_dyn())).expect("broadcast runs"), want, "{engine} broadcast");
    }
}

// ---------------------------------------------------------------------------------------------
// NaN and inf in the signal

/// Each preset, with an input in its layout holding one NaN, +inf or -inf sample: librosa's
/// preset rejects it by name (`librosa.util.valid_audio`); the others propagate it, as Keras,
/// torchaudio, Whisper and Kaldi do. Checked on every engine, through the API and the CLI.
#[test]
fn non_finite_samples_are_rejected_by_name_or_propagate() {
    let d = tmpdir("nonfinite");
    let presets: &[(&str, &[usize], bool)] = &[
        ("keras_mel", &[2, 4000], true),
        ("keras_stft", &[1, 4000, 1], true),
        ("torchaudio_mel", &[2, 4000], true),
        ("whisper", &[4000], true),
        ("kaldi_fbank", &[1, 4000], true),
        ("librosa_mel", &[2, 4000], false),
    ];
    for &(preset, shape, propagates) in presets {
        for (label, bad) in [("nan", f32::NAN), ("inf", f32::INFINITY), ("neginf", f32::NEG_INFINITY)] {
            let n: usize = shape.iter().product();
            let mut x = signal(n);
            x[n / 2 + 17] = bad;
            let arr = ndarray::ArrayD::from_shape_vec(shape.to_vec(), x.clone()).expect("shape");
            let tuple = format!("({},)", shape.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "));
            let path =
                write(&d.join(format!("{preset}_{label}.npy")), &npy("<f4", false, &tuple, &le_f32(&x)));
            for engine in engines() {
                let what = format!("{preset} {label} --engine {engine}");
                let p = Pipeline::preset(preset, &[])
                    .expect("preset")
                    .with_engine(engine.parse().expect("engine"));
                let r = p.run(&Input::F32(arr.view()));
                if propagates {
                    let y = r.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert!(
                        y.to_f64().iter().any(|v| !v.is_finite()),
                        "{what}: the non-finite sample vanished"
                    );
                    let out = d.join(format!("{preset}_{label}_{engine}_out.npy"));
                    let o = specc(&["run", preset, s(&path), "-o", s(&out), "--engine", engine]);
                    assert!(o.status.success(), "{what}: {}", stderr(&o));
                    assert!(out.exists());
                } else {
                    let e = r.expect_err(&what);
                    assert_eq!(kind(&e), "run-not-finite", "{what}: {e}");
                    let err = cli_run_fails(&d, preset, &path, &[], "input is not finite");
                    assert!(err.contains(&format!("sample {}", n / 2 + 17)), "{what}: {err}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Absurd params

/// What specc does with each absurd `--set`: rejected with a message naming the value, or
/// accepted because the reproduced library accepts it.
#[test]
fn absurd_params_are_rejected_or_follow_the_library() {
    let d = tmpdir("params");
    let input = write(&d.join("x.npy"), &npy("<f4", false, "(16000,)", &le_f32(&signal(16000))));
    // (preset, sets, None = accepted as the library accepts it, Some(message) = rejected)
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("keras_mel", &["fft_length=1099511627776"], Some("absurdly large")),
        ("keras_mel", &["fft_length=0"], Some("length is 0, must be at least 1")),
        ("keras_mel", &["fft_length=-1"], Some("must be at least 0")),
        ("keras_mel", &["num_mel_bins=1000000000"], Some("mel bands is absurd")),
        ("keras_mel", &["num_mel_bins=0"], Some("bands is 0, must be at least 1")),
        ("keras_mel", &["sequence_stride=0"], Some("hop is 0, must be at least 1")),
        ("keras_mel", &["sequence_stride=-1"], Some("hop is -1, must be at least 1")),
        ("keras_mel", &["sequence_stride=-512"], Some("hop is -512, must be at least 1")),
        ("keras_mel", &["min_freq=9000"], Some("must be below the highest")),
        ("keras_mel", &["min_freq=5000", "max_freq=4000"], Some("must be below the highest")),
        ("keras_mel", &["min_freq=-10"], Some("is negative")),
        ("keras_mel", &["sampling_rate=0"], Some("must be a positive frequency")),
        ("keras_mel", &["sequence_length=4096"], Some("longer than the frame")),
        ("keras_mel", &["top_db=-1"], Some("top_db must be non-negative")),
        ("keras_mel", &["min_power=0"], Some("the floor must be positive")),
        ("keras_mel", &["top_db=nan"], Some("bad value for `top_db`")),
        // Keras accepts max_freq above Nyquist silently (tests/golden/FINDINGS.md).
        ("keras_mel", &["max_freq=9000"], None),
        ("keras_mel", &["max_freq=100000"], None),
        ("librosa_mel", &["n_fft=1099511627776"], Some("absurdly large")),
        ("librosa_mel", &["hop_length=0"], Some("must be at least 1")),
        ("librosa_mel", &["fmin=12000"], Some("must be below the highest")),
        // librosa warns about empty filters above Nyquist but computes.
        ("librosa_mel", &["fmax=12000"], None),
        ("torchaudio_mel", &["n_mels=1000000000"], Some("mel bands is absurd")),
        ("torchaudio_mel", &["hop_length=0"], Some("must be at least 1")),
        ("torchaudio_mel", &["f_min=9000"], Some("must be below the highest")),
        ("keras_stft", &["frame_length=1099511627776"], Some("absurdly")),
        ("keras_stft", &["frame_step=0"], Some("must be at least 1")),
        ("whisper", &["n_mels=64"], Some("n_mels")),
    ];
    for &(preset, sets, outcome) in cases {
        let what = format!("{preset} {sets:?}");
        let r = Pipeline::preset(preset, sets);
        match outcome {
            Some(want) => {
                let e = r.err().unwrap_or_else(|| panic!("{what} compiled"));
                assert_eq!(kind(&e), "spec", "{what}: {e}");
                let text = format!("{:?}", miette::Report::new(e));
                assert!(text.contains(want), "{what}: expected `{want}` in:\n{text}");
                if preset != "keras_stft" {
                    cli_run_fails(&d, preset, &input, sets, want);
                } else {
                    let mut args = vec!["check", preset];
                    for s in sets {
                        args.extend(["--set", s]);
                    }
                    assert_named_failure(&args, &specc(&args), want);
                }
            }
            None => {
                let p = r.unwrap_or_else(|e| panic!("{what}: {e}"));
                let x = ndarray::ArrayD::from_shape_vec(vec![16000], signal(16000)).expect("shape");
                p.run(&Input::F32(x.view())).unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    }
}

/// Constant tables are built at compile time: one that would take gigabytes is refused there,
/// at once, naming its size. `fft_length=2^24` with Keras's 128 bands took 84 s and 17 GB to
/// compile (debug build), and librosa's `n_fft=2^20, n_mels=4096` aborted on allocation.
#[test]
fn compile_refuses_absurd_constant_tables() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("keras_mel", &["fft_length=16777216"], "128 bands over 8388609 FFT bins"),
        ("keras_mel", &["fft_length=16384", "num_mel_bins=65536"], "absurdly large"),
        ("librosa_mel", &["n_fft=1048576", "n_mels=4096"], "absurdly large"),
        ("torchaudio_mel", &["n_fft=16777216", "win_length=400"], "absurdly large"),
    ];
    for &(preset, sets, want) in cases {
        // Refused from the table's size, before building it (the message names the size).
        let e = Pipeline::preset(preset, sets).err().unwrap_or_else(|| panic!("{preset} {sets:?} compiled"));
        let text = format!("{:?}", miette::Report::new(e));
        assert!(text.contains(want), "{preset} {sets:?}: {text}");
        let mut args = vec!["check", preset];
        for s in sets {
            args.extend(["--set", s]);
        }
        assert_named_failure(&args, &specc(&args), want);
    }
    // A frame longer than any FFT would be a window table of gigabytes.
    let text = "spec long\ninput x: f32[..., samples] at 16000 Hz\nx |> frames(length: 1073741824, hop: 1) \
                |> window(hann) |> rfft(1073741824) |> power()\n";
    let e = Pipeline::compile("long.spec", text, &[]).expect_err("refused");
    assert!(format!("{:?}", miette::Report::new(e)).contains("absurdly long"));
    // The largest accepted table compiles.
    Pipeline::preset("keras_mel", &["fft_length=65536"]).expect("2^15 bins x 128 bands compiles");
}

// ---------------------------------------------------------------------------------------------
// Resource limits

/// The working-memory limit (8 GiB by default) is checked when planning, before any
/// allocation, through `Pipeline::plan`, `Pipeline::run` and `specc run`.
#[test]
fn working_memory_limit() {
    assert_eq!(Limits::default().max_bytes, 8 << 30);
    let p = Pipeline::preset("keras_mel", &[]).expect("preset");
    // Fine under the default limit.
    p.plan(&[2, 16000], "float32").expect("small input");
    // 2^34 samples: about 1 TiB of frames; refused by the plan, nothing allocated.
    let e = p.plan(&[1 << 14, 1 << 20], "float32").expect_err("too large");
    assert_eq!(kind(&e), "run-too-large", "{e}");
    assert!(e.to_string().contains("over the limit of 8192 MiB"), "{e}");

    // A tight limit refuses what the default accepts, in plan and in run.
    let tight =
        Pipeline::preset("keras_mel", &[]).expect("preset").with_limits(Limits { max_bytes: 1 << 20 });
    let x = ndarray::ArrayD::from_shape_vec(vec![2, 16000], signal(32000)).expect("shape");
    let e = tight.run(&Input::F32(x.view())).expect_err("over 1 MiB");
    assert_eq!(kind(&e), "run-too-large", "{e}");
    assert!(e.to_string().contains("over the limit of 1 MiB"), "{e}");
    assert_eq!(kind(&tight.plan(&[2, 16000], "float32").expect_err("plan")), "run-too-large");
    let mut out = specc::Output::F32(ndarray::ArrayD::zeros(vec![2, 128, 32]));
    assert_eq!(
        kind(&tight.run_into(&Input::F32(x.view()), &mut out).expect_err("run_into")),
        "run-too-large"
    );
    for r in tight.run_many(&[Input::F32(x.view())]) {
        assert_eq!(kind(&r.expect_err("run_many")), "run-too-large");
    }
    let roomy =
        Pipeline::preset("keras_mel", &[]).expect("preset").with_limits(Limits { max_bytes: 1 << 30 });
    roomy.run(&Input::F32(x.view())).expect("fits in 1 GiB");
}

/// The CLI checks a `.npy` input's header against the program and the memory limit before it
/// reads the data: an 8 GiB (sparse) file is refused at once. Run under a 4 GiB address-space
/// limit where `prlimit` exists, so reading it first would fail loudly.
#[test]
fn cli_refuses_a_too_large_npy_before_reading_it() {
    let d = tmpdir("limit");
    let path = d.join("huge.npy");
    let header = npy("<f4", false, "(2147483648,)", &[]);
    let f = std::fs::File::create(&path).expect("create");
    use std::io::Write;
    (&f).write_all(&header).expect("header");
    f.set_len(header.len() as u64 + (1u64 << 33)).expect("sparse file");
    drop(f);
    let o_dir = out_dir(&d);
    let out = o_dir.join("r.npy");
    let args = ["run", "keras_mel", s(&path), "-o", s(&out)];
    let has_prlimit = Command::new("prlimit").arg("--version").output().is_ok_and(|o| o.status.success());
    let o = if has_prlimit {
        Command::new("prlimit")
            .arg("--as=4294967296")
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_specc"))
            .args(args)
            .env("NO_COLOR", "1")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("runs specc")
    } else {
        specc(&args)
    };
    assert_named_failure(&args, &o, "input too large");
    assert!(entries(&o_dir).is_empty());
    let _ = std::fs::remove_file(&path);
}

// ---------------------------------------------------------------------------------------------
// Unreadable inputs and unwritable outputs

/// Whether this process writes through mode bits (root does).
fn privileged(d: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let ro = d.join("probe-ro");
    std::fs::create_dir_all(&ro).expect("dir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let writable = std::fs::write(ro.join("x"), b"x").is_ok();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    writable
}

/// `specc ARGS` as a process that mode bits apply to: itself when unprivileged, else as `nobody`
/// through `setpriv`; `None` when neither is possible.
fn specc_unprivileged(d: &Path, args: &[&str]) -> Option<Output> {
    if !privileged(d) {
        return Some(specc(args));
    }
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_specc"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    // setpriv itself failing (not permitted here) is no result about specc.
    let err = stderr(&o);
    (!err.starts_with("setpriv:")).then_some(o)
}

#[test]
fn unreadable_inputs() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("unreadable");
    let missing = d.join("missing.npy");
    cli_run_fails(&d, "keras_mel", &missing, &[], "cannot read");
    assert_eq!(kind(&api_run_file(&missing, "keras_mel", &[]).expect_err("missing")), "npy-io");
    let missing_wav = d.join("missing.wav");
    cli_run_fails(&d, "keras_mel", &missing_wav, &[], "missing.wav");
    assert_eq!(audio_kind(&specc::audio::decode(&missing_wav).expect_err("missing")), "audio-read");

    // A directory named like an input: the library names it; the CLI takes folders as folders,
    // and an empty one has nothing to run.
    let dir = d.join("folder.npy");
    std::fs::create_dir_all(&dir).expect("dir");
    let e = api_run_file(&dir, "keras_mel", &[]).expect_err("a directory");
    assert!(kind(&e) == "npy-io" && e.to_string().contains("directory"), "{e}");
    let e = specc::audio::decode(&d.join("folder.npy")).expect_err("dir");
    assert_eq!(audio_kind(&e), "audio-read");
    cli_run_fails(&d, "keras_mel", &dir, &[], "no input files to run");
    // A folder with one bad file: the file is named and the run fails. (A folder input goes to
    // a folder or an .npz, never to one .npy.)
    write(&dir.join("bad.npy"), b"not an npy");
    let o_dir = out_dir(&d);
    let npz = o_dir.join("all.npz");
    let args = ["run", "keras_mel", s(&dir), "-o", s(&npz)];
    let err = assert_named_failure(&args, &specc(&args), "bad.npy");
    assert!(err.contains("magic"), "{err}");
    assert!(entries(&o_dir).is_empty(), "{:?}", entries(&o_dir));

    // A run that writes nothing leaves no folders it created behind either.
    let nested = d.join("new/a/b");
    let args = ["run", "keras_mel", s(&dir), "-o", s(&nested)];
    assert_named_failure(&args, &specc(&args), "bad.npy");
    assert!(!d.join("new").exists(), "a failed run left its output folders behind");

    // No permission to read.
    let locked = write(&d.join("locked.npy"), &npy("<f4", false, "(4000,)", &le_f32(&signal(4000))));
    let locked_wav = write(&d.join("locked.wav"), b"RIFF");
    for p in [&locked, &locked_wav] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        let o_dir = out_dir(&d);
        std::fs::set_permissions(&o_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let out = o_dir.join("r.npy");
        let args = ["run", "keras_mel", s(p), "-o", s(&out)];
        match specc_unprivileged(&d, &args) {
            Some(o) => {
                assert_named_failure(&args, &o, "Permission denied");
                assert!(entries(&o_dir).is_empty(), "{:?}", entries(&o_dir));
            }
            None => eprintln!("note: running privileged without setpriv; permission cases skipped"),
        }
    }
}

#[test]
fn unwritable_outputs() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("unwritable");
    let input = write(&d.join("x.npy"), &npy("<f4", false, "(4000,)", &le_f32(&signal(4000))));
    let run = |out: &Path, extra: &[&str], want: &str| {
        let mut args = vec!["run", "keras_mel", s(&input), "-o", s(out)];
        args.extend(extra);
        assert_named_failure(&args, &specc(&args), want)
    };
    // The folder is missing (npy, png, npz).
    for (name, want) in [
        ("missing/out.npy", "cannot write"),
        ("missing/out.png", "cannot create"),
        ("missing/out.npz", "cannot write"),
    ] {
        run(&d.join(name), &[], want);
    }
    assert!(!d.join("missing").exists());
    // The folder is a file.
    let file = write(&d.join("file"), b"x");
    run(&file.join("out.npy"), &[], "Not a directory");
    // The output is an existing folder: the result goes inside it, named after the input...
    let folder = out_dir(&d);
    let o = specc(&["run", "keras_mel", s(&input), "-o", s(&folder)]);
    assert!(o.status.success() && folder.join("x.npy").exists(), "{}", stderr(&o));
    // ... and when that name is taken by a folder, nothing is written.
    let folder = out_dir(&d);
    std::fs::create_dir_all(folder.join("x.npy")).expect("dir");
    run(&folder, &[], "Is a directory");
    assert_eq!(entries(&folder), vec![String::from("x.npy")]);
    // An .npz path that is a folder.
    let npz = d.join("all.npz");
    std::fs::create_dir_all(&npz).expect("dir");
    let args = ["run", "keras_mel", s(&input), s(&input), "-o", s(&npz)];
    assert_named_failure(&args, &specc(&args), "cannot write");
    assert!(entries(&npz).is_empty());
    assert!(!entries(&d).iter().any(|n| n.contains(".tmp")), "{:?}", entries(&d));

    // A read-only folder.
    let ro = out_dir(&d);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    for name in ["out.npy", "out.png"] {
        let out = ro.join(name);
        let args = ["run", "keras_mel", s(&input), "-o", s(&out)];
        match specc_unprivileged(&d, &args) {
            Some(o) => {
                let err = assert_named_failure(&args, &o, "Permission denied");
                assert!(err.contains(name), "{err}");
            }
            None => eprintln!("note: running privileged without setpriv; read-only folder case skipped"),
        }
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert!(entries(&ro).is_empty(), "{:?}", entries(&ro));
}

// ---------------------------------------------------------------------------------------------
// Corrupt audio

fn wav_bytes(channels: u16, rate: u32, bits: u16, format: u16, block_align: u16, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&format.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate.wrapping_mul(block_align as u32)).to_le_bytes());
    b.extend_from_slice(&block_align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    b
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)).expect("example")
}

/// (file name, bytes, error kind from `audio::decode`, text the CLI's message must contain)
fn audio_cases() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    let pcm: Vec<u8> = signal(2000).iter().flat_map(|v| ((v * 32767.0) as i16).to_le_bytes()).collect();
    let good = wav_bytes(1, 16000, 16, 1, 2, &pcm);
    let half = |name: &str| {
        let b = example(name);
        b[..b.len() / 2].to_vec()
    };
    vec![
        ("random.wav", noise_bytes(4096, 1), "audio-not-audio", "is not audio that specc reads"),
        ("random.flac", noise_bytes(4096, 2), "audio-not-audio", "is not audio that specc reads"),
        ("random.mp3", noise_bytes(4096, 3), "audio-not-audio", "is not audio that specc reads"),
        ("random.ogg", noise_bytes(4096, 4), "audio-not-audio", "is not audio that specc reads"),
        ("empty.wav", Vec::new(), "audio-empty", "holds no audio samples"),
        ("truncated.wav", good[..good.len() - 1001].to_vec(), "audio-corrupt", "is corrupt or truncated"),
        ("header_only.wav", good[..30].to_vec(), "audio-corrupt", "is corrupt or truncated"),
        ("no_samples.wav", wav_bytes(1, 16000, 16, 1, 2, &[]), "audio-empty", "holds no audio samples"),
        (
            "zero_channels.wav",
            wav_bytes(0, 16000, 16, 1, 2, &pcm),
            "audio-corrupt",
            "is corrupt or truncated",
        ),
        ("zero_rate.wav", wav_bytes(1, 0, 16, 1, 2, &pcm), "audio-sample-format", "sample rate is 0 Hz"),
        ("zero_bits.wav", wav_bytes(1, 16000, 0, 1, 2, &pcm), "audio-corrupt", "is corrupt or truncated"),
        ("bits_12.wav", wav_bytes(1, 16000, 12, 1, 2, &pcm), "audio-corrupt", "bits per sample"),
        (
            "bad_codec.wav",
            wav_bytes(1, 16000, 16, 0x1234, 2, &pcm),
            "audio-sample-format",
            "unsupported sample format",
        ),
        // Fuzz finding (audio): 44033 channels of 24-bit PCM, which hound refuses; symphonia
        // multiplied channels by bytes per sample in 16 bits and panicked on the overflow.
        (
            "frame_overflow.wav",
            b"\x52\x49\x46\x46\xe4\x00\x00\x00\x57\x41\x56\x45\x66\x6d\x74\x20\x10\x00\x00\x00\x01\x00\x01\xac\x44\x00\x00\x00\xcc\x04\x02\x00\x03\x00\x18\x00\x64\x61\x74\x61\xc0\x00\x00\x25\x00\x00\x4a\x6f\x40\x65\x8a\xad\xd4\xf9\x1e\x43\x68\x6d\x92\xb7\xdc\x01\x22\x4b\x70\x95\xba\xdf\xff\xff\xff\xff\xff\xff\x01\x3c\x04\x29\x4e\x73\x98\xbd\xe2\x07\x2c\x51\x76\x9b".to_vec(),
            "audio-sample-format",
            "44033 channels of 24-bit samples",
        ),
        ("truncated.flac", half("speech.flac"), "audio-corrupt", "is corrupt or truncated"),
        ("truncated.ogg", half("speech.ogg"), "audio-corrupt", "is corrupt or truncated"),
        ("truncated.mp3", half("speech.mp3"), "audio-corrupt", "is corrupt or truncated"),
        (
            "text.mp3",
            b"ID3 this is not audio at all, only text".repeat(20),
            "audio-not-audio",
            "is not audio",
        ),
    ]
}

#[test]
fn corrupt_audio_matrix_cli_and_api() {
    let d = tmpdir("audio");
    for (name, bytes, want_kind, want) in audio_cases() {
        let path = write(&d.join(name), &bytes);
        let e = specc::audio::decode(&path).err().unwrap_or_else(|| panic!("{name} decoded"));
        assert_eq!(audio_kind(&e), want_kind, "{name}: {e}");
        assert!(e.to_string().contains(name), "{name}: the error names no file: {e}");
        let err = cli_run_fails(&d, "keras_mel", &path, &[], want);
        assert!(err.contains(name), "{name}: {err}");
    }
    // The contents decide, not the extension: a good WAV named .flac is read as the WAV it is.
    let pcm: Vec<u8> = signal(2000).iter().flat_map(|v| ((v * 32767.0) as i16).to_le_bytes()).collect();
    let path = write(&d.join("wav_named.flac"), &wav_bytes(1, 16000, 16, 1, 2, &pcm));
    let a = specc::audio::decode(&path).expect("a WAV with another extension");
    assert_eq!((a.rate(), a.channels(), a.frames()), (16000, 1, 2000));
}

/// `Pipeline::plan` takes any shape, also one no array can have: it must answer with an error.
/// Today the product of the leading axes overflows (a panic in debug builds) and a sample count
/// past i64::MAX reads as -1 ("too short"); both are in runtime/src/lib.rs `plan`. Unreachable
/// from the CLI (the `.npy` header check refuses such shapes first) and from `run` (no array
/// has such a shape).
#[test]
fn plan_of_an_impossible_shape_is_an_error() {
    let p = Pipeline::preset("keras_mel", &[]).expect("preset");
    for shape in
        [vec![1usize << 40, 1 << 40, 16000], vec![usize::MAX / 2, usize::MAX / 2, 2], vec![1, usize::MAX]]
    {
        let r = std::panic::catch_unwind(|| p.plan(&shape, "float32").map_err(|e| kind(&e)));
        assert_eq!(r.ok(), Some(Err("run-too-large")), "{shape:?}");
    }
}

/// Output paths that cannot work are usage errors (status 2) that say what to write instead,
/// decided before any input is read: nothing is created, an existing file is not touched.
#[test]
fn impossible_output_paths() {
    let d = tmpdir("paths");
    let input = write(&d.join("x.npy"), &npy("<f4", false, "(4000,)", &le_f32(&signal(4000))));
    let existing = write(&d.join("keep.npy"), b"precious");
    let p = |n: &str| d.join(n).display().to_string();
    let x = s(&input);
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![x.into(), x.into(), "-o".into(), p("two.png")],
            format!("2 inputs cannot all go to one .png file {}: give a folder (-o {}/) or an .npz (-o {}.npz)", p("two.png"), p("two"), p("two")),
        ),
        (
            vec![x.into(), x.into(), "-o".into(), s(&existing).into()],
            format!("2 inputs cannot all go to one .npy file {}: give a folder (-o {}/) or an .npz (-o {}.npz)", p("keep.npy"), p("keep"), p("keep")),
        ),
        (
            vec![x.into(), "-o".into(), p("out.jpg")],
            format!("unknown output extension `.jpg` in {}; accepted: .npy .npz .png", p("out.jpg")),
        ),
        (
            vec![x.into(), "-o".into(), p("out")],
            format!("-o {} has no extension: name the file ({}.npy, {}.npz, {}.png", p("out"), p("out"), p("out"), p("out")),
        ),
        (
            vec![x.into(), x.into(), "-o".into(), "-".into()],
            String::from("`-o -` writes one .npy to stdout, so it takes one input, not 2; give a folder (-o out/) or an .npz (-o out.npz)"),
        ),
        (
            vec![x.into(), "-o".into(), p("y.npy"), "--format".into(), "png".into()],
            format!("-o {} is a .npy file but --format says png; drop one", p("y.npy")),
        ),
        (
            vec![x.into(), "-o".into(), p("folder/"), "--format".into(), "npz".into()],
            format!("an .npz holds every input in one file: name it (e.g. -o {}) rather than a folder", p("folder/features.npz")),
        ),
        (
            vec![x.into(), "num_mel_bins=64".into(), "-o".into(), p("o.npy")],
            String::from("input `num_mel_bins=64` does not exist; did you mean --set num_mel_bins=64?"),
        ),
        (vec!["-".into(), "-".into(), "-o".into(), p("o.npz")], String::from("stdin (`-`) can be read once")),
    ];
    for (rest, want) in &cases {
        let mut args = vec!["run", "keras_mel"];
        args.extend(rest.iter().map(String::as_str));
        let o = specc(&args);
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
        assert_eq!(o.status.code(), Some(2), "{args:?}: status {:?}:\n{err}", o.status);
        assert!(err.starts_with(&format!("error: {want}")), "{args:?}: expected `{want}` in:\n{err}");
    }
    assert_eq!(entries(&d), vec![String::from("keep.npy"), String::from("x.npy")]);
    assert_eq!(std::fs::read(&existing).expect("read"), b"precious");
    // Stdin that is neither .npy nor audio is a failure naming it.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["run", "keras_mel", "-", "-o", &p("o.npy")])
        .stdin(std::fs::File::open(&existing).expect("open"))
        .output()
        .expect("runs");
    assert_eq!(child.status.code(), Some(1));
    assert!(
        stderr(&child).contains("stdin holds neither a .npy array nor WAV, FLAC, MP3 or OGG audio"),
        "{}",
        stderr(&child)
    );
    assert!(!d.join("o.npy").exists());
}

/// Kaldi options specc cannot reproduce are refused with the library's reason, and signals
/// torchaudio rejects (shorter than a frame) or answers with an empty tensor (`min_duration`)
/// are errors that say which, on every engine.
#[test]
fn kaldi_refusals_name_the_reason() {
    for (sets, want) in [
        (&["dither=1.0"][..], "random"),
        (&["vtln_warp=0.9"][..], "VTLN"),
        (&["energy_floor=-1"][..], "energy_floor"),
    ] {
        let e = Pipeline::preset("kaldi_fbank", sets).expect_err("refused").to_string();
        assert!(e.contains(want), "{sets:?}: {e}");
    }
    for (n, sets, want) in [
        (399, &["snip_edges=false"][..], "400 needed: torchaudio's kaldi fbank needs at least frame_length"),
        (8000, &["min_duration=0.6"][..], "9600 needed: the signal is shorter than min_duration"),
    ] {
        let x = ndarray::ArrayD::from_shape_vec(vec![1, n], signal(n)).expect("shape");
        for engine in engines() {
            let p = Pipeline::preset("kaldi_fbank", sets)
                .expect("preset")
                .with_engine(engine.parse().expect("engine"));
            let e = p.run(&Input::F32(x.view())).expect_err("too short").to_string();
            assert!(e.contains(want), "{sets:?} on {engine}: {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The constant evaluator: checked arithmetic, Python's floor division, bounded nesting

/// A spec with an int and a float param, to read back what a `--set` expression evaluates to.
const EVAL_SPEC: &str = "spec t
param i: int = 0
param f: float = 0.0
input audio: f32[..., samples] at 16 kHz
audio |> frames(length: 4, hop: 2)
";

/// What an expression must give: an integer, a float (by its bits, so `-0.0` and the last
/// digit count), or an error whose message contains the text.
#[derive(Debug)]
enum Want {
    Int(i64),
    Bits(u64),
    Err(&'static str),
}

/// Python 3's results for the same expression text (generated by `python3` evaluating each
/// string: `eval(e)`; ZeroDivisionError is "division by zero", an int outside 64 bits or a
/// non-finite float "out of range").
const PYTHON_TABLE: &[(&str, Want)] = &{
    use Want::*;
    [
        ("7 // 2", Int(3)),
        ("7 // -2", Int(-4)),
        ("7 // 3", Int(2)),
        ("7 // -3", Int(-3)),
        ("7 // 1", Int(7)),
        ("7 // -1", Int(-7)),
        ("7 // 7", Int(1)),
        ("7 // -7", Int(-1)),
        ("7 // 0", Err("division by zero")),
        ("7 // 9223372036854775807", Int(0)),
        ("7 // (-9223372036854775807 - 1)", Int(-1)),
        ("-7 // 2", Int(-4)),
        ("-7 // -2", Int(3)),
        ("-7 // 3", Int(-3)),
        ("-7 // -3", Int(2)),
        ("-7 // 1", Int(-7)),
        ("-7 // -1", Int(7)),
        ("-7 // 7", Int(-1)),
        ("-7 // -7", Int(1)),
        ("-7 // 0", Err("division by zero")),
        ("-7 // 9223372036854775807", Int(-1)),
        ("-7 // (-9223372036854775807 - 1)", Int(0)),
        ("0 // 2", Int(0)),
        ("0 // -2", Int(0)),
        ("0 // 3", Int(0)),
        ("0 // -3", Int(0)),
        ("0 // 1", Int(0)),
        ("0 // -1", Int(0)),
        ("0 // 7", Int(0)),
        ("0 // -7", Int(0)),
        ("0 // 0", Err("division by zero")),
        ("0 // 9223372036854775807", Int(0)),
        ("0 // (-9223372036854775807 - 1)", Int(0)),
        ("1 // 2", Int(0)),
        ("1 // -2", Int(-1)),
        ("1 // 3", Int(0)),
        ("1 // -3", Int(-1)),
        ("1 // 1", Int(1)),
        ("1 // -1", Int(-1)),
        ("1 // 7", Int(0)),
        ("1 // -7", Int(-1)),
        ("1 // 0", Err("division by zero")),
        ("1 // 9223372036854775807", Int(0)),
        ("1 // (-9223372036854775807 - 1)", Int(-1)),
        ("-1 // 2", Int(-1)),
        ("-1 // -2", Int(0)),
        ("-1 // 3", Int(-1)),
        ("-1 // -3", Int(0)),
        ("-1 // 1", Int(-1)),
        ("-1 // -1", Int(1)),
        ("-1 // 7", Int(-1)),
        ("-1 // -7", Int(0)),
        ("-1 // 0", Err("division by zero")),
        ("-1 // 9223372036854775807", Int(-1)),
        ("-1 // (-9223372036854775807 - 1)", Int(0)),
        ("6 // 2", Int(3)),
        ("6 // -2", Int(-3)),
        ("6 // 3", Int(2)),
        ("6 // -3", Int(-2)),
        ("6 // 1", Int(6)),
        ("6 // -1", Int(-6)),
        ("6 // 7", Int(0)),
        ("6 // -7", Int(-1)),
        ("6 // 0", Err("division by zero")),
        ("6 // 9223372036854775807", Int(0)),
        ("6 // (-9223372036854775807 - 1)", Int(-1)),
        ("-6 // 2", Int(-3)),
        ("-6 // -2", Int(3)),
        ("-6 // 3", Int(-2)),
        ("-6 // -3", Int(2)),
        ("-6 // 1", Int(-6)),
        ("-6 // -1", Int(6)),
        ("-6 // 7", Int(-1)),
        ("-6 // -7", Int(0)),
        ("-6 // 0", Err("division by zero")),
        ("-6 // 9223372036854775807", Int(-1)),
        ("-6 // (-9223372036854775807 - 1)", Int(0)),
        ("9223372036854775807 // 2", Int(4611686018427387903)),
        ("9223372036854775807 // -2", Int(-4611686018427387904)),
        ("9223372036854775807 // 3", Int(3074457345618258602)),
        ("9223372036854775807 // -3", Int(-3074457345618258603)),
        ("9223372036854775807 // 1", Int(9223372036854775807)),
        ("9223372036854775807 // -1", Int(-9223372036854775807)),
        ("9223372036854775807 // 7", Int(1317624576693539401)),
        ("9223372036854775807 // -7", Int(-1317624576693539401)),
        ("9223372036854775807 // 0", Err("division by zero")),
        ("9223372036854775807 // 9223372036854775807", Int(1)),
        ("9223372036854775807 // (-9223372036854775807 - 1)", Int(-1)),
        ("(-9223372036854775807 - 1) // 2", Int(-4611686018427387904)),
        ("(-9223372036854775807 - 1) // -2", Int(4611686018427387904)),
        ("(-9223372036854775807 - 1) // 3", Int(-3074457345618258603)),
        ("(-9223372036854775807 - 1) // -3", Int(3074457345618258602)),
        ("(-9223372036854775807 - 1) // 1", Int(-9223372036854775808)),
        ("(-9223372036854775807 - 1) // -1", Err("out of range")),
        ("(-9223372036854775807 - 1) // 7", Int(-1317624576693539402)),
        ("(-9223372036854775807 - 1) // -7", Int(1317624576693539401)),
        ("(-9223372036854775807 - 1) // 0", Err("division by zero")),
        ("(-9223372036854775807 - 1) // 9223372036854775807", Int(-2)),
        ("(-9223372036854775807 - 1) // (-9223372036854775807 - 1)", Int(1)),
        ("7.5 // 2.0", Bits(0x4008000000000000)),
        ("7.5 // -2.0", Bits(0xc010000000000000)),
        ("7.5 // 0.3", Bits(0x4039000000000000)),
        ("7.5 // -0.3", Bits(0xc03a000000000000)),
        ("7.5 // 0.0", Err("division by zero")),
        ("7.5 // -0.0", Err("division by zero")),
        ("7.5 // 1e-300", Bits(0x7e6665f8bf806e42)),
        ("7.5 // 3", Bits(0x4000000000000000)),
        ("-7.5 // 2.0", Bits(0xc010000000000000)),
        ("-7.5 // -2.0", Bits(0x4008000000000000)),
        ("-7.5 // 0.3", Bits(0xc03a000000000000)),
        ("-7.5 // -0.3", Bits(0x4039000000000000)),
        ("-7.5 // 0.0", Err("division by zero")),
        ("-7.5 // -0.0", Err("division by zero")),
        ("-7.5 // 1e-300", Bits(0xfe6665f8bf806e42)),
        ("-7.5 // 3", Bits(0xc008000000000000)),
        ("0.0 // 2.0", Bits(0x0000000000000000)),
        ("0.0 // -2.0", Bits(0x8000000000000000)),
        ("0.0 // 0.3", Bits(0x0000000000000000)),
        ("0.0 // -0.3", Bits(0x8000000000000000)),
        ("0.0 // 0.0", Err("division by zero")),
        ("0.0 // -0.0", Err("division by zero")),
        ("0.0 // 1e-300", Bits(0x0000000000000000)),
        ("0.0 // 3", Bits(0x0000000000000000)),
        ("-0.0 // 2.0", Bits(0x8000000000000000)),
        ("-0.0 // -2.0", Bits(0x0000000000000000)),
        ("-0.0 // 0.3", Bits(0x8000000000000000)),
        ("-0.0 // -0.3", Bits(0x0000000000000000)),
        ("-0.0 // 0.0", Err("division by zero")),
        ("-0.0 // -0.0", Err("division by zero")),
        ("-0.0 // 1e-300", Bits(0x8000000000000000)),
        ("-0.0 // 3", Bits(0x8000000000000000)),
        ("1e308 // 2.0", Bits(0x7fd1ccf385ebc8a0)),
        ("1e308 // -2.0", Bits(0xffd1ccf385ebc8a0)),
        ("1e308 // 0.3", Err("out of range")),
        ("1e308 // -0.3", Err("out of range")),
        ("1e308 // 0.0", Err("division by zero")),
        ("1e308 // -0.0", Err("division by zero")),
        ("1e308 // 1e-300", Err("out of range")),
        ("1e308 // 3", Bits(0x7fc7bbef5d3a60d5)),
        ("-2.5 // 2.0", Bits(0xc000000000000000)),
        ("-2.5 // -2.0", Bits(0x3ff0000000000000)),
        ("-2.5 // 0.3", Bits(0xc022000000000000)),
        ("-2.5 // -0.3", Bits(0x4020000000000000)),
        ("-2.5 // 0.0", Err("division by zero")),
        ("-2.5 // -0.0", Err("division by zero")),
        ("-2.5 // 1e-300", Bits(0xfe4ddd4baa009302)),
        ("-2.5 // 3", Bits(0xbff0000000000000)),
        ("0.1 // 2.0", Bits(0x0000000000000000)),
        ("0.1 // -2.0", Bits(0xbff0000000000000)),
        ("0.1 // 0.3", Bits(0x0000000000000000)),
        ("0.1 // -0.3", Bits(0xbff0000000000000)),
        ("0.1 // 0.0", Err("division by zero")),
        ("0.1 // -0.0", Err("division by zero")),
        ("0.1 // 1e-300", Bits(0x7e031cfd3999f7b0)),
        ("0.1 // 3", Bits(0x0000000000000000)),
        ("7 % 2", Int(1)),
        ("7 % -2", Int(-1)),
        ("7 % 3", Int(1)),
        ("7 % -3", Int(-2)),
        ("7 % 1", Int(0)),
        ("7 % -1", Int(0)),
        ("7 % 7", Int(0)),
        ("7 % -7", Int(0)),
        ("7 % 0", Err("division by zero")),
        ("7 % 9223372036854775807", Int(7)),
        ("7 % (-9223372036854775807 - 1)", Int(-9223372036854775801)),
        ("-7 % 2", Int(1)),
        ("-7 % -2", Int(-1)),
        ("-7 % 3", Int(2)),
        ("-7 % -3", Int(-1)),
        ("-7 % 1", Int(0)),
        ("-7 % -1", Int(0)),
        ("-7 % 7", Int(0)),
        ("-7 % -7", Int(0)),
        ("-7 % 0", Err("division by zero")),
        ("-7 % 9223372036854775807", Int(9223372036854775800)),
        ("-7 % (-9223372036854775807 - 1)", Int(-7)),
        ("0 % 2", Int(0)),
        ("0 % -2", Int(0)),
        ("0 % 3", Int(0)),
        ("0 % -3", Int(0)),
        ("0 % 1", Int(0)),
        ("0 % -1", Int(0)),
        ("0 % 7", Int(0)),
        ("0 % -7", Int(0)),
        ("0 % 0", Err("division by zero")),
        ("0 % 9223372036854775807", Int(0)),
        ("0 % (-9223372036854775807 - 1)", Int(0)),
        ("1 % 2", Int(1)),
        ("1 % -2", Int(-1)),
        ("1 % 3", Int(1)),
        ("1 % -3", Int(-2)),
        ("1 % 1", Int(0)),
        ("1 % -1", Int(0)),
        ("1 % 7", Int(1)),
        ("1 % -7", Int(-6)),
        ("1 % 0", Err("division by zero")),
        ("1 % 9223372036854775807", Int(1)),
        ("1 % (-9223372036854775807 - 1)", Int(-9223372036854775807)),
        ("-1 % 2", Int(1)),
        ("-1 % -2", Int(-1)),
        ("-1 % 3", Int(2)),
        ("-1 % -3", Int(-1)),
        ("-1 % 1", Int(0)),
        ("-1 % -1", Int(0)),
        ("-1 % 7", Int(6)),
        ("-1 % -7", Int(-1)),
        ("-1 % 0", Err("division by zero")),
        ("-1 % 9223372036854775807", Int(9223372036854775806)),
        ("-1 % (-9223372036854775807 - 1)", Int(-1)),
        ("6 % 2", Int(0)),
        ("6 % -2", Int(0)),
        ("6 % 3", Int(0)),
        ("6 % -3", Int(0)),
        ("6 % 1", Int(0)),
        ("6 % -1", Int(0)),
        ("6 % 7", Int(6)),
        ("6 % -7", Int(-1)),
        ("6 % 0", Err("division by zero")),
        ("6 % 9223372036854775807", Int(6)),
        ("6 % (-9223372036854775807 - 1)", Int(-9223372036854775802)),
        ("-6 % 2", Int(0)),
        ("-6 % -2", Int(0)),
        ("-6 % 3", Int(0)),
        ("-6 % -3", Int(0)),
        ("-6 % 1", Int(0)),
        ("-6 % -1", Int(0)),
        ("-6 % 7", Int(1)),
        ("-6 % -7", Int(-6)),
        ("-6 % 0", Err("division by zero")),
        ("-6 % 9223372036854775807", Int(9223372036854775801)),
        ("-6 % (-9223372036854775807 - 1)", Int(-6)),
        ("9223372036854775807 % 2", Int(1)),
        ("9223372036854775807 % -2", Int(-1)),
        ("9223372036854775807 % 3", Int(1)),
        ("9223372036854775807 % -3", Int(-2)),
        ("9223372036854775807 % 1", Int(0)),
        ("9223372036854775807 % -1", Int(0)),
        ("9223372036854775807 % 7", Int(0)),
        ("9223372036854775807 % -7", Int(0)),
        ("9223372036854775807 % 0", Err("division by zero")),
        ("9223372036854775807 % 9223372036854775807", Int(0)),
        ("9223372036854775807 % (-9223372036854775807 - 1)", Int(-1)),
        ("(-9223372036854775807 - 1) % 2", Int(0)),
        ("(-9223372036854775807 - 1) % -2", Int(0)),
        ("(-9223372036854775807 - 1) % 3", Int(1)),
        ("(-9223372036854775807 - 1) % -3", Int(-2)),
        ("(-9223372036854775807 - 1) % 1", Int(0)),
        ("(-9223372036854775807 - 1) % -1", Int(0)),
        ("(-9223372036854775807 - 1) % 7", Int(6)),
        ("(-9223372036854775807 - 1) % -7", Int(-1)),
        ("(-9223372036854775807 - 1) % 0", Err("division by zero")),
        ("(-9223372036854775807 - 1) % 9223372036854775807", Int(9223372036854775806)),
        ("(-9223372036854775807 - 1) % (-9223372036854775807 - 1)", Int(0)),
        ("7.5 % 2.0", Bits(0x3ff8000000000000)),
        ("7.5 % -2.0", Bits(0xbfe0000000000000)),
        ("7.5 % 0.3", Bits(0x3cb4000000000000)),
        ("7.5 % -0.3", Bits(0xbfd333333333332e)),
        ("7.5 % 0.0", Err("division by zero")),
        ("7.5 % -0.0", Err("division by zero")),
        ("7.5 % 1e-300", Bits(0x019ef63dbeb6f3ce)),
        ("7.5 % 3", Bits(0x3ff8000000000000)),
        ("-7.5 % 2.0", Bits(0x3fe0000000000000)),
        ("-7.5 % -2.0", Bits(0xbff8000000000000)),
        ("-7.5 % 0.3", Bits(0x3fd333333333332e)),
        ("-7.5 % -0.3", Bits(0xbcb4000000000000)),
        ("-7.5 % 0.0", Err("division by zero")),
        ("-7.5 % -0.0", Err("division by zero")),
        ("-7.5 % 1e-300", Bits(0x0187cc038e75e5c8)),
        ("-7.5 % 3", Bits(0x3ff8000000000000)),
        ("0.0 % 2.0", Bits(0x0000000000000000)),
        ("0.0 % -2.0", Bits(0x8000000000000000)),
        ("0.0 % 0.3", Bits(0x0000000000000000)),
        ("0.0 % -0.3", Bits(0x8000000000000000)),
        ("0.0 % 0.0", Err("division by zero")),
        ("0.0 % -0.0", Err("division by zero")),
        ("0.0 % 1e-300", Bits(0x0000000000000000)),
        ("0.0 % 3", Bits(0x0000000000000000)),
        ("-0.0 % 2.0", Bits(0x0000000000000000)),
        ("-0.0 % -2.0", Bits(0x8000000000000000)),
        ("-0.0 % 0.3", Bits(0x0000000000000000)),
        ("-0.0 % -0.3", Bits(0x8000000000000000)),
        ("-0.0 % 0.0", Err("division by zero")),
        ("-0.0 % -0.0", Err("division by zero")),
        ("-0.0 % 1e-300", Bits(0x0000000000000000)),
        ("-0.0 % 3", Bits(0x0000000000000000)),
        ("1e308 % 2.0", Bits(0x0000000000000000)),
        ("1e308 % -2.0", Bits(0x8000000000000000)),
        ("1e308 % 0.3", Bits(0x3faf6e405a083290)),
        ("1e308 % -0.3", Bits(0xbfce8ad64fe459c2)),
        ("1e308 % 0.0", Err("division by zero")),
        ("1e308 % -0.0", Err("division by zero")),
        ("1e308 % 1e-300", Bits(0x0189e2240f9c9620)),
        ("1e308 % 3", Bits(0x4000000000000000)),
        ("-2.5 % 2.0", Bits(0x3ff8000000000000)),
        ("-2.5 % -2.0", Bits(0xbfe0000000000000)),
        ("-2.5 % 0.3", Bits(0x3fc9999999999996)),
        ("-2.5 % -0.3", Bits(0xbfb99999999999a0)),
        ("-2.5 % 0.0", Err("division by zero")),
        ("-2.5 % -0.0", Err("division by zero")),
        ("-2.5 % 1e-300", Bits(0x01a045157885200c)),
        ("-2.5 % 3", Bits(0x3fe0000000000000)),
        ("0.1 % 2.0", Bits(0x3fb999999999999a)),
        ("0.1 % -2.0", Bits(0xbffe666666666666)),
        ("0.1 % 0.3", Bits(0x3fb999999999999a)),
        ("0.1 % -0.3", Bits(0xbfc9999999999999)),
        ("0.1 % 0.0", Err("division by zero")),
        ("0.1 % -0.0", Err("division by zero")),
        ("0.1 % 1e-300", Bits(0x0177350d4134aec0)),
        ("0.1 % 3", Bits(0x3fb999999999999a)),
        ("-(7 // -2)", Int(4)),
        ("7 % -2", Int(-1)),
        ("-7 % 2", Int(1)),
        ("-(-7 // 2)", Int(4)),
        ("1 / 0", Err("division by zero")),
        ("1.0 / 0", Err("division by zero")),
        ("0 / 0", Err("division by zero")),
        ("1e308 * 10", Err("out of range")),
        ("-1e308 - 1e308", Err("out of range")),
        ("9223372036854775807 + 1", Err("out of range")),
        ("(-9223372036854775807 - 1) - 1", Err("out of range")),
        ("-(-9223372036854775807 - 1)", Err("out of range")),
        ("abs((-9223372036854775807 - 1))", Err("out of range")),
        ("3037000500 * 3037000500", Err("out of range")),
        ("-3037000499 * 3037000500", Int(-9223372033963249500)),
        ("int(1e300)", Err("out of range")),
        ("int(-9.3e18)", Err("out of range")),
        ("int(9.2e18)", Int(9200000000000000000)),
        ("int(-2.5)", Int(-2)),
        ("abs(-9223372036854775807)", Int(9223372036854775807)),
        ("round(2.5)", Int(2)),
        ("round(-3.5)", Int(-4)),
        ("7 / 2", Bits(0x400c000000000000)),
        ("-7 // 2.0", Bits(0xc010000000000000)),
    ]
};

/// Evaluates `expr` as `--set i=expr` (an int result) or `f=expr` (a float result).
fn eval_set(expr: &str, float: bool) -> Result<specc_compiler::Value, specc::Error> {
    let set = format!("{}={expr}", if float { "f" } else { "i" });
    let p = Pipeline::compile("t.spec", EVAL_SPEC, &[&set])?;
    Ok(p.params().iter().find(|q| q.name == if float { "f" } else { "i" }).expect("param").value.clone())
}

#[test]
fn integer_and_float_floor_division_follow_python() {
    use specc_compiler::Value;
    for (expr, want) in PYTHON_TABLE {
        match want {
            Want::Int(n) => match eval_set(expr, false) {
                Ok(Value::Int(got)) => assert_eq!(got, *n, "{expr}"),
                other => panic!("{expr}: want {n}, got {other:?}"),
            },
            Want::Bits(b) => match eval_set(expr, true) {
                Ok(Value::Float(got)) => {
                    assert_eq!(got.to_bits(), *b, "{expr}: want {}, got {got:?}", f64::from_bits(*b))
                }
                other => panic!("{expr}: want {}, got {other:?}", f64::from_bits(*b)),
            },
            Want::Err(msg) => {
                for float in [false, true] {
                    match eval_set(expr, float) {
                        Err(specc::Error::Spec(e)) => {
                            assert_eq!(e.kind, specc::ErrorKind::Range, "{expr}: {e}");
                            assert!(e.to_string().contains(msg), "{expr}: want `{msg}`, got `{e}`");
                        }
                        other => panic!("{expr}: want error `{msg}`, got {other:?}"),
                    }
                }
            }
        }
    }
}

#[test]
fn out_of_range_constants_are_named_errors_with_a_caret() {
    // Each, through the CLI: exit 1, the named error, the caret under the offending operation.
    for (set, msg, caret) in [
        (
            "fft_length=(-9223372036854775807 - 1) // -1",
            "value out of range",
            "(-9223372036854775807 - 1) // -1",
        ),
        ("fft_length=(-9223372036854775807 - 1) % -1 + 512", "", ""),
        ("fft_length=-(-9223372036854775807 - 1)", "value out of range", "-(-9223372036854775807 - 1)"),
        ("fft_length=abs(-9223372036854775807 - 1)", "value out of range", "abs(-9223372036854775807 - 1)"),
        ("fft_length=int(1e300)", "value out of range", "int(1e300)"),
        ("fft_length=9223372036854775808", "integer out of range", "9223372036854775808"),
        ("fft_length=1024 samples * 9223372036854775807", "value out of range", ""),
        ("top_db=1/0", "division by zero", "0"),
        ("top_db=1e308 * 10", "value out of range", "1e308 * 10"),
        ("top_db=1e400", "number out of range", "1e400"),
        ("max_freq=1e308 kHz", "value out of range", "1e308 kHz"),
    ] {
        let o = specc(&["check", "keras_mel", "--set", set]);
        let err = stderr(&o);
        if msg.is_empty() {
            // -2^63 % -1 is 0 in Python: a value, not an error.
            assert!(o.status.success(), "{set}: {err}");
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{set}: {err}");
        assert!(err.contains(msg), "{set}: want `{msg}` in {err}");
        let caret_line = err.lines().find(|l| l.contains('┬') || l.contains('^')).unwrap_or_default();
        let arg_line =
            err.lines().find(|l| l.contains(set.split('=').nth(1).unwrap_or(set))).unwrap_or_default();
        if !caret.is_empty() {
            let chars = |l: &str, b: usize| l[..b].chars().count();
            let a = chars(arg_line, arg_line.find(caret).expect("caret text on the source line"));
            let c = chars(caret_line, caret_line.find(['┬', '^']).expect("a caret"));
            // miette draws `─┬─` under the span: the caret sits within the operation's text.
            assert!(c >= a && c < a + caret.chars().count(), "{set}: caret at {c}, span at {a}\n{err}");
        }
    }
    // Integer literals are exact past 2^53 (an f64 would round 9007199254740993 down).
    match eval_set("9007199254740993", false) {
        Ok(specc_compiler::Value::Int(n)) => assert_eq!(n, 9007199254740993),
        other => panic!("{other:?}"),
    }
    match eval_set("int(9007199254740993)", false) {
        Ok(specc_compiler::Value::Int(n)) => assert_eq!(n, 9007199254740993),
        other => panic!("{other:?}"),
    }
}

/// Runs `f` on a thread with a 256 KiB stack (a test thread has 2 MiB, the main thread 8 MiB),
/// so a walk whose depth the nesting bound does not cover would overflow it.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new().stack_size(256 << 10).spawn(f).expect("thread").join().expect("no panic")
}

fn nesting_error(r: Result<Pipeline, specc::Error>) -> String {
    match r {
        Err(specc::Error::Spec(e)) => {
            assert_eq!(e.kind, specc::ErrorKind::Nesting, "{e}");
            format!("{:?}", miette::Report::new(specc::Error::Spec(e)))
        }
        Err(e) => panic!("want a nesting error, got {e}"),
        Ok(_) => panic!("want a nesting error, got a pipeline"),
    }
}

#[test]
fn deep_text_is_a_nesting_error_not_a_stack_overflow() {
    let deep = specc_compiler::syntax::MAX_NESTING + 1;
    let spec = |e: &str| {
        format!("spec t\nparam f: float = {e}\ninput audio: f32[..., samples]\naudio |> frames(length: 4, hop: 2)\n")
    };
    let cases: Vec<(&str, String)> = vec![
        ("700 parentheses in --set", format!("max_freq={}8000{}", "(".repeat(700), ")".repeat(700))),
        ("10k +", spec(&format!("{}1", "1 + ".repeat(10_000)))),
        ("100k ??", spec(&format!("{}1", "none ?? ".repeat(100_000)))),
        ("100k not", spec(&format!("if {}true {{ 1 }} else {{ 2 }}", "not ".repeat(100_000)))),
        ("30k unary minus", spec(&format!("{}1", "- ".repeat(30_000)))),
        ("one past the bound", spec(&format!("{}1{}", "(".repeat(deep), ")".repeat(deep)))),
        ("else-if chain", spec(&format!("{}1{}", "if true { 1 } else { ".repeat(deep), " }".repeat(deep)))),
        (
            "if in if conditions",
            spec(&format!(
                "{}true{} 1 }} else {{ 2 }}",
                "if ".repeat(deep),
                " { true } else { false }".repeat(deep - 1) + " {"
            )),
        ),
        ("nested calls", spec(&format!("{}1{}", "max(1, ".repeat(deep), ")".repeat(deep)))),
        (
            "a pipeline of blocks",
            format!(
                "spec t\ninput audio: f32[..., samples]\naudio |> {}frames(length: 4, hop: 2){}",
                "if true { ".repeat(deep),
                " }".repeat(deep)
            ),
        ),
    ];
    for (what, text) in cases {
        let report = on_small_stack(move || {
            let r = if what.contains("--set") {
                Pipeline::preset("keras_mel", &[&text])
            } else {
                Pipeline::compile("t.spec", &text, &[])
            };
            nesting_error(r)
        });
        assert!(report.contains("nested too deeply") && report.contains("let"), "{what}: {report}");
        // A megabyte of one-line text is shown as an excerpt, not in full.
        assert!(report.len() < 20_000, "{what}: {} bytes of report", report.len());
    }
    // An error 70000 columns into a line (miette's padding panics past 65535) is shown from a
    // little before it, with the real line and column.
    let far = format!("top_db={}1/0", " ".repeat(70_000));
    let o = specc(&["check", "keras_mel", "--set", &far]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{}", &err[..err.len().min(2000)]);
    assert!(err.contains("division by zero") && err.contains("column 70010"), "{err}");
    assert!(err.len() < 20_000);
    // The CLI: exit 1 with the named error, for a --set and for `fmt` (the printer) of a file.
    let o = specc(&[
        "check",
        "keras_mel",
        "--set",
        &format!("max_freq={}8000{}", "(".repeat(700), ")".repeat(700)),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nested too deeply"), "{}", stderr(&o));
    let d = tmpdir("deep");
    let f = write(&d.join("deep.spec"), spec(&format!("{}1", "- ".repeat(30_000))).as_bytes());
    for cmd in ["check", "fmt", "graph"] {
        let o = specc(&[cmd, s(&f)]);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("nested too deeply"), "{cmd}: {}", stderr(&o));
    }
    assert!(Pipeline::open(s(&f), &[]).is_err());
}

/// Fuzz findings 6 and 7: words that start with a keyword (`ifq`, `matchq`) were first tried as `if` +
/// `q...`, and that attempt was undone only after parsing everything nested in its condition,
/// so each level was parsed twice: 18 levels of `ifq - (` took 3.6 s, 40 would take days. They
/// are identifiers first now; an unclosed text of 40 levels is a plain syntax error (exponential
/// parsing would never finish this test), and the identifiers work as such.
#[test]
fn keyword_prefixed_words_are_parsed_once() {
    for word in ["ifq", "matchq", "iffy"] {
        // 40 levels: 80 by the pre-parse depth count (a keyword inside a word counts), under
        // the bound of 100, so the text reaches the parser.
        let text = format!("spec t\nlet a = {}z\n", format!("{word} - (").repeat(40));
        let e = Pipeline::compile("t.spec", &text, &[]).expect_err("an unclosed parenthesis");
        assert!(format!("{e:?}").contains("syntax error"), "{word}: {e:?}");
        // Finding 7: the same word as a stage, an unclosed call whose argument pipes into the
        // next (`match_stage` tried `match` + `q(...` after the call failed).
        let text = format!(
            "spec t\ninput audio: f32[..., samples]\naudio |> {}z\n",
            format!("{word}(a |> ").repeat(40)
        );
        let e = Pipeline::compile("t.spec", &text, &[]).expect_err("an unclosed call");
        assert!(format!("{e:?}").contains("syntax error"), "{word} stages: {e:?}");
    }
    let ok = "spec t\nparam iffy: int = 3\nparam matchy: int = 4\ninput audio: f32[..., samples]\n\
              audio |> frames(length: if iffy > 2 { matchy } else { 2 }, hop: match iffy > 2 { true => 2, _ => 1 })\n";
    let p = Pipeline::compile("t.spec", ok, &[]).expect("keyword-prefixed identifiers");
    assert!(p.graph().to_string().contains("frames(length: 4, hop: 2)"), "{}", p.graph());
}

#[test]
fn nesting_up_to_the_bound_compiles_on_a_small_stack() {
    // MAX_NESTING levels of every kind compile, print and lower on a 256 KiB thread: the bound
    // is enforced by depth, and the walks get the stack it needs wherever they run.
    let n = specc_compiler::syntax::MAX_NESTING - 2;
    let spec = |e: &str| {
        format!("spec t\nparam f: float = {e}\ninput audio: f32[..., samples]\naudio |> frames(length: 4, hop: 2)\n")
    };
    let texts = vec![
        spec(&format!("{}1{}", "(".repeat(n), ")".repeat(n))),
        spec(&format!("{}1", "1 + ".repeat(n))),
        spec(&format!("{}1", "- ".repeat(n))),
        spec(&format!("{}1{}", "max(1, ".repeat(n / 2), ")".repeat(n / 2))),
        spec(&format!("{}1{}", "if true { 1 } else { ".repeat(n / 2), " }".repeat(n / 2))),
    ];
    for text in texts {
        on_small_stack(move || {
            let p = Pipeline::compile("t.spec", &text, &[]).unwrap_or_else(|e| panic!("{e}"));
            let parsed = specc_compiler::syntax::parse_spec(&text).expect("parses");
            let printed = specc_compiler::syntax::print_spec(&parsed);
            assert_eq!(specc_compiler::syntax::parse_spec(&printed).expect("reparses"), parsed);
            p.params()[0].value.clone()
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Closed and full output streams; bench sizes

/// Runs specc with stdout into a pipe whose reader is already gone (so every write fails with
/// EPIPE, as after `| head -1` has read its line) and stderr captured.
fn specc_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("runs specc")
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let d = tmpdir("pipe");
    let x = write(&d.join("x.npy"), &npy("<f4", false, "(16000,)", &le_f32(&signal(16000))));
    for args in [
        &["graph", "keras_mel", "--after", "all"][..],
        &["graph", "--passes", "keras_mel"],
        &["presets"],
        &["presets", "whisper"],
        &["check", "keras_mel"],
        &["fmt", "specs/keras_mel.spec"],
        &["bench", "keras_mel", "--batch", "1", "--seconds", "0.1", "--runs", "1"],
        &["run", "keras_mel", s(&x), "-o", "-"],
        &["filters", "keras_mel", "-o", "-"],
        &["--help"],
    ] {
        let o = specc_closed_stdout(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[test]
fn a_full_stdout_is_an_error_and_a_full_stderr_is_not_a_crash() {
    let full = || std::fs::File::options().write(true).open("/dev/full").expect("/dev/full");
    let run = |args: &[&str], stdout_full: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_specc"));
        c.args(args).env("NO_COLOR", "1").current_dir(env!("CARGO_MANIFEST_DIR"));
        if stdout_full {
            c.stdout(full()).stderr(std::process::Stdio::piped());
        } else {
            c.stdout(std::process::Stdio::null()).stderr(full());
        }
        c.output().expect("runs specc")
    };
    // stdout on a full disk: exit 1, and the reason on stderr.
    for args in [&["presets"][..], &["graph", "keras_mel"]] {
        let o = run(args, true);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains("cannot write stdout: No space left"), "{args:?}: {}", stderr(&o));
    }
    // stderr on a full disk: the command's own status, no panic (101).
    let d = tmpdir("full");
    let x = write(&d.join("x.npy"), &npy("<f4", false, "(16000,)", &le_f32(&signal(16000))));
    let bad = write(&d.join("bad.npy"), b"not an npy");
    for (args, code) in [
        (vec!["check", "no_such_spec"], 1),
        (vec!["check", "keras_mel", "--set", "fft_length=1/0"], 1),
        (vec!["run", "keras_mel", s(&bad), "-o", "-"], 1),
        (vec!["run", "keras_mel", s(&x), "-o", "-"], 0),
        (vec!["run", "keras_mel", "--bogus"], 2),
    ] {
        let o = run(&args, false);
        assert_eq!(o.status.code(), Some(code), "{args:?}");
    }
}

#[test]
fn bench_sizes_are_checked_before_allocating() {
    for (args, code, want) in [
        // 100000 clips of 60 s at 16 kHz: 384 GB of input alone.
        (&["bench", "keras_mel", "--batch", "100000", "--seconds", "60"][..], 1, "over the limit"),
        (&["bench", "keras_mel", "--batch", "18446744073709551615"], 1, "more samples than"),
        (&["bench", "keras_mel", "--batch", "18446744073709551615", "--seconds", "60"], 1, "more samples"),
        (&["bench", "keras_mel", "--runs", "18446744073709551615"], 2, "--runs 18446744073709551615"),
    ] {
        let o = specc(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want `{want}` in {err}");
    }
}
