//! Ahead-of-time objects, linked into C programs with the system C compiler (`cc`, which Rust
//! needs for linking anyway) and run: `specc aot` writes the object, the header and the static
//! library bundling the C runtime; `tests/aot/check.c` calls the header's API.
//!
//! - Outputs equal the JIT's bit for bit: `--cpu baseline` against
//!   `Pipeline::with_isa(Baseline)`, `--cpu native` against `IsaChoice::Native` (the JIT's
//!   Cranelift kernels; the wide AVX2 FFT kernels are a JIT-only choice), over one signal, a
//!   batch and a float64 input, on one thread and on several.
//! - Bad calls return the documented status codes and write nothing.
//! - The README's demo (`examples/aot/demo.c`) prints the shape `specc run` gives.
//! - Under valgrind, when it is installed, no error and no leak.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{specc, stderr, TmpDir};
use specc::{Input, IsaChoice, Output, Pipeline};

/// `specc aot SPEC --cpu CPU` into `dir`, then `check.c` built against it; the binary's path.
fn build(dir: &Path, spec: &str, cpu: &str, source: &str) -> PathBuf {
    let o = dir.join(format!("{spec}.o"));
    let h = dir.join(format!("{spec}.h"));
    let a = dir.join(format!("lib{spec}.a"));
    let out = specc(&[
        "aot",
        spec,
        "--cpu",
        cpu,
        "-o",
        o.to_str().unwrap(),
        "--header",
        h.to_str().unwrap(),
        "--lib",
        a.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "specc aot {spec}: {}", stderr(&out));
    let bin = dir.join(format!("{spec}-{cpu}-{}", Path::new(source).file_stem().unwrap().to_string_lossy()));
    let root = env!("CARGO_MANIFEST_DIR");
    let cc = Command::new(std::env::var("CC").unwrap_or_else(|_| String::from("cc")))
        .args(["-std=c99", "-Wall", "-Werror", "-O1", "-g"])
        .arg(format!("-DSPEC={spec}"))
        .arg("-include")
        .arg(&h)
        .arg("-I")
        .arg(dir)
        .arg(format!("{root}/{source}"))
        .arg(&a)
        .args(["-lm", "-lpthread", "-ldl", "-o"])
        .arg(&bin)
        .output()
        .expect("runs cc");
    assert!(cc.status.success(), "cc {spec}: {}", String::from_utf8_lossy(&cc.stderr));
    bin
}

fn run_c(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().expect("runs the C program");
    assert!(out.status.success(), "{}: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn read_npy(name: &str) -> specc::npy::Array {
    let p = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
    specc::npy::read(Path::new(&p)).unwrap()
}

/// The input's values as raw little-endian bytes of its own type.
fn raw(a: &specc::npy::Array) -> Vec<u8> {
    match a {
        specc::npy::Array::F32(x) => x.iter().flat_map(|v| v.to_le_bytes()).collect(),
        specc::npy::Array::F64(x) => x.iter().flat_map(|v| v.to_le_bytes()).collect(),
        specc::npy::Array::I16(_) => unreachable!("float inputs only"),
    }
}

#[test]
fn c_programs_equal_the_jit_bit_for_bit() {
    let dir = TmpDir::new("aot");
    let inputs = [
        ("examples/speech.npy", "1"),
        ("tests/golden/fixtures/inputs/mix_2x8000_f32.npy", "2"),
        ("tests/golden/fixtures/inputs/mix_2x16000_f64.npy", "0"),
    ];
    // librosa_mel follows the input's precision: its float64 input runs the f64 program.
    for spec in ["keras_mel", "whisper", "kaldi_fbank", "librosa_mel"] {
        for (cpu, isa) in [("baseline", IsaChoice::Baseline), ("native", IsaChoice::Native)] {
            let bin = build(&dir, spec, cpu, "tests/aot/check.c");
            let p = Pipeline::preset(spec, &[]).unwrap().with_isa(isa);
            for (input, threads) in inputs {
                let a = read_npy(input);
                let inp = dir.join("in.raw");
                std::fs::write(&inp, raw(&a)).unwrap();
                let outp = dir.join("out.raw");
                let _ = std::fs::remove_file(&outp);
                let (ty, view) = match &a {
                    specc::npy::Array::F64(x) => ("f64", Input::F64(x.view())),
                    specc::npy::Array::F32(x) => ("f32", Input::F32(x.view())),
                    specc::npy::Array::I16(_) => unreachable!(),
                };
                let dims: Vec<String> = view.shape().iter().map(|d| d.to_string()).collect();
                let mut args = vec!["run", ty, inp.to_str().unwrap(), outp.to_str().unwrap(), threads];
                args.extend(dims.iter().map(String::as_str));
                let text = run_c(&bin, &args);
                let want = p.run(&view);
                let what = format!("{spec} --cpu {cpu} {input}");
                match want {
                    // A spec computing in f32 writes no float64 output (SPECC_E_DTYPE).
                    Ok(Output::F32(_)) if ty == "f64" => {
                        assert!(text.starts_with("status 3 this spec computes in f32"), "{what}: {text}");
                    }
                    Ok(want) => {
                        let shape: Vec<String> = want.shape().iter().map(|d| d.to_string()).collect();
                        assert_eq!(text.trim(), format!("status 0 shape {}", shape.join(" ")), "{what}");
                        let got = std::fs::read(&outp).unwrap();
                        let want: Vec<u8> = match &want {
                            Output::F32(y) => y.iter().flat_map(|v| v.to_le_bytes()).collect(),
                            Output::F64(y) => y.iter().flat_map(|v| v.to_le_bytes()).collect(),
                        };
                        assert!(got == want, "{what}: the C program's output differs from the JIT's");
                    }
                    // The same refusal: kaldi_fbank's [channels, samples] takes no single signal.
                    Err(specc::Error::Run(e)) => {
                        assert!(text.starts_with(&format!("status {} ", code(&e))), "{what}: {text} vs {e}");
                    }
                    Err(e) => panic!("{what}: {e}"),
                }
            }
        }
    }
}

#[test]
fn bad_calls_return_the_documented_codes_and_write_nothing() {
    let dir = TmpDir::new("aot-errors");
    let a = read_npy("examples/speech.npy");
    let inp = dir.join("speech.raw");
    std::fs::write(&inp, raw(&a)).unwrap();
    let specc::npy::Array::F32(x) = &a else { panic!("speech.npy is float32") };
    // Specs of one signal (`[..., samples]`) with different rules: keras_mel propagates NaN and
    // takes a single sample, whisper pads any length to 30 s.
    for spec in ["keras_mel", "whisper"] {
        let bin = build(&dir, spec, "baseline", "tests/aot/check.c");
        let text = run_c(&bin, &["errors", inp.to_str().unwrap()]);
        let p = Pipeline::preset(spec, &[]).unwrap().with_isa(IsaChoice::Baseline);
        // What the Rust API says of the same inputs, as a status code.
        let code = |r: Result<Output, specc::Error>| match r {
            Ok(_) => 0,
            Err(specc::Error::Run(e)) => code(&e),
            Err(e) => panic!("{e}"),
        };
        let one = x.slice(ndarray::s![..1]).to_owned().into_dyn();
        let mut nan = x.clone();
        let n = nan.len();
        nan[n / 2] = f32::NAN;
        let status = |c: i32| if c == 0 { "written" } else { "untouched" };
        let one_code = code(p.run(&Input::F32(one.view())));
        let nan_code = code(p.run(&Input::F32(nan.view())));
        let want = format!(
            "null_program 1 untouched\nnull_shape 1 untouched\nrank_17 1 untouched\nnull_input 1 untouched\n\
             null_output 1 untouched\nshort_output 1 untouched\nlong_output 1 untouched\nempty 4 untouched\n\
             one_sample {one_code} {}\nnan {nan_code} {}\nplan_rank_17 1\nplan_null_out 1\nplan_ok 0\n\
             strerror the input's shape does not fit the spec\nlast_error 4 input is empty: shape [0]\n",
            status(one_code),
            status(nan_code),
        );
        assert_eq!(text, want, "{spec}");
    }
}

/// The status code the C API documents for a run error.
fn code(e: &specc::RunError) -> i32 {
    match e {
        specc::RunError::Shape { .. } => 2,
        specc::RunError::DType { .. } => 3,
        specc::RunError::Empty(_) => 4,
        specc::RunError::TooShort(_) => 5,
        specc::RunError::NotFinite(_) => 6,
        specc::RunError::TooLarge(_) => 7,
        other => panic!("{other}"),
    }
}

#[test]
fn a_spec_taking_float32_only_refuses_float64() {
    let dir = TmpDir::new("aot-dtype");
    let bin = build(&dir, "whisper", "baseline", "tests/aot/check.c");
    let inp = dir.join("in.raw");
    std::fs::write(&inp, vec![0u8; 8 * 4000]).unwrap();
    let out = dir.join("out.raw");
    let text = run_c(&bin, &["run", "f64", inp.to_str().unwrap(), out.to_str().unwrap(), "1", "4000"]);
    assert!(text.starts_with("status 3 input dtype float64 is not accepted"), "{text}");
    assert!(!out.exists());
}

/// The README's example: `examples/aot/demo.c` against the whisper header, as written there.
#[test]
fn the_readme_demo_prints_the_shape_specc_run_gives() {
    let dir = TmpDir::new("aot-demo");
    let d = dir.to_str().unwrap();
    let out = specc(&[
        "aot",
        "whisper",
        "-o",
        &format!("{d}/whisper.o"),
        "--header",
        &format!("{d}/whisper.h"),
        "--lib",
        &format!("{d}/libwhisper.a"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let root = env!("CARGO_MANIFEST_DIR");
    let cc = Command::new("cc")
        .arg(format!("{root}/examples/aot/demo.c"))
        .arg("-I")
        .arg(d)
        .arg(format!("{d}/libwhisper.a"))
        .args(["-lm", "-lpthread", "-ldl", "-o"])
        .arg(format!("{d}/demo"))
        .output()
        .unwrap();
    assert!(cc.status.success(), "{}", String::from_utf8_lossy(&cc.stderr));
    let a = read_npy("examples/speech.npy");
    std::fs::write(dir.join("speech.raw"), raw(&a)).unwrap();
    let text = run_c(&dir.join("demo"), &[&format!("{d}/speech.raw")]);
    let run = specc(&["run", "whisper", "examples/speech.npy", "-o", &format!("{d}/w.npy")]);
    assert!(run.status.success(), "{}", stderr(&run));
    let y = specc::npy::read(&dir.join("w.npy")).unwrap();
    let specc::npy::Array::F32(y) = y else { panic!("whisper writes float32") };
    let shape: Vec<String> = y.shape().iter().map(|d| d.to_string()).collect();
    assert!(text.starts_with(&format!("shape [{}] float32, sum ", shape.join(", "))), "{text}");
    // The checksum agrees with `specc run`'s features (the JIT's kernels on this CPU may round
    // differently from the baseline object's in the last bits).
    let sum: f64 = text.split("sum ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    let want: f64 = y.iter().map(|&v| f64::from(v)).sum();
    assert!((sum - want).abs() <= 1e-4 * want.abs().max(1.0), "{sum} vs {want}");
}

#[test]
fn no_memory_errors_or_leaks_under_valgrind() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind is not installed: skipped (apt install valgrind)");
        return;
    }
    let dir = TmpDir::new("aot-valgrind");
    let bin = build(&dir, "kaldi_fbank", "baseline", "tests/aot/check.c");
    let inp = dir.join("in.raw");
    let a = read_npy("tests/golden/fixtures/inputs/mix_2x8000_f32.npy");
    std::fs::write(&inp, raw(&a)).unwrap();
    let out = dir.join("out.raw");
    for args in [
        vec!["run", "f32", inp.to_str().unwrap(), out.to_str().unwrap(), "2", "2", "8000"],
        vec!["errors", inp.to_str().unwrap()],
    ] {
        let v = Command::new("valgrind")
            .args([
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "-q",
            ])
            .arg(&bin)
            .args(&args)
            .output()
            .unwrap();
        assert!(v.status.success(), "valgrind {args:?}: {}", String::from_utf8_lossy(&v.stderr));
    }
}

#[test]
fn aot_refuses_bad_arguments_and_writes_nothing() {
    let dir = TmpDir::new("aot-bad");
    let d = dir.to_str().unwrap();
    let o = format!("{d}/x.o");
    let cases: [(&[&str], &str); 6] = [
        (&["aot", "keras_mel", "-o", &o, "--header", &o], "the same file"),
        (&["aot", "keras_mel", "-o", &o, "--target", "sparc-sun-solaris"], "sparc"),
        (&["aot", "keras_mel", "-o", &o, "--target", "aarch64-apple-ios", "--cpu", "native"], "host target"),
        (&["aot", "keras_mel", "-o", &o, "--name", "9lives"], "cannot name C symbols"),
        (&["aot", "keras_mel", "-o", &o, "--cpu", "pentium"], "unknown cpu"),
        // The runtime beside specc is for this machine, not for an iOS object.
        (
            &["aot", "keras_mel", "-o", &o, "--target", "aarch64-apple-ios", "--lib", &format!("{d}/l.a")],
            "runtime library is for",
        ),
    ];
    for (args, why) in cases {
        let out = specc(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
        assert_eq!(std::fs::read_dir(&*dir).unwrap().count(), 0, "{args:?} wrote a file");
    }
    // The spec file itself is never an output.
    let spec = dir.join("mel.spec");
    let text = specc::preset_text("keras_mel").unwrap();
    std::fs::write(&spec, text).unwrap();
    let out = specc(&["aot", spec.to_str().unwrap(), "-o", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), text);
}
