//! The spec language: canonical printing round-trips, and every kind of mistake in a spec or a
//! `--set` value gets a diagnostic with file:line:col, the source line, a caret and a hint.

use miette::{GraphicalReportHandler, GraphicalTheme};
use specc::{ErrorKind, Pipeline, PRESETS};
use specc_compiler::syntax::{parse_spec, print_spec};

#[test]
fn every_preset_round_trips_through_the_printer() {
    for (name, text) in PRESETS {
        let spec = parse_spec(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let printed = print_spec(&spec);
        let again = parse_spec(&printed).unwrap_or_else(|e| panic!("{name} printed:\n{printed}\n{e}"));
        assert_eq!(spec, again, "{name}: parse(print(spec)) != spec\n{printed}");
        // The canonical form is a fixed point.
        assert_eq!(print_spec(&again), printed, "{name}");
    }
}

#[test]
fn printer_keeps_precedence_and_literals() {
    let src = "spec t\nparam a: int = 2\nparam b: float = 1e-10\nparam w: (x | y)? = none\n\
               input s: f32[..., samples]\n\
               let c = (a + 1) * 3 // 2 - -a\nlet d = not (a > 1 and a < 3) or a == 2\n\
               let e = if a == 2 { \"x\" } else { 3 kHz }\n\
               s |> frames(length: 4, hop: 2) |> if d { window(hann) } else if w == none { } |> rfft(4)\n\
                 |> match w { x | y => power(), _ => magnitude() } |> layout(..., frames, bins)\n";
    let spec = parse_spec(src).expect("parses");
    let printed = print_spec(&spec);
    assert_eq!(parse_spec(&printed).expect("reparses"), spec, "{printed}");
    assert!(printed.contains("(a + 1) * 3 // 2 - -a"), "{printed}");
    assert!(printed.contains("1e-10"), "{printed}");
}

fn render(spec: &str, sets: &[&str]) -> (ErrorKind, String) {
    let err = match Pipeline::compile("test.spec", spec, sets) {
        Ok(_) => panic!("expected an error for:\n{spec}\nsets {sets:?}"),
        Err(specc::Error::Spec(e)) => e,
        Err(other) => panic!("expected a spec error, got {other}"),
    };
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, err.as_ref())
        .expect("renders");
    (err.kind, out)
}

const BASE: &str = "spec t
param fft: int = 512
param hop: int = 128
param bins: int = 40
param win: window? = hann
param mode: power | magnitude = power

input audio: f32[..., samples] at 16 kHz

audio
  |> frames(length: fft, hop: hop)
  |> window(win)
  |> rfft(fft)
  |> match mode { power => power(), magnitude => magnitude() }
  |> mel(bands: bins, rate: 16 kHz, fmin: 0 Hz, fmax: 8 kHz)
  |> layout(..., mel, frames)
";

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

#[test]
fn base_spec_compiles() {
    Pipeline::compile("test.spec", BASE, &[]).expect("base compiles");
}

macro_rules! diag {
    ($name:ident, $kind:expr, $spec:expr, $sets:expr) => {
        #[test]
        fn $name() {
            let spec: String = $spec.into();
            let (kind, text) = render(&spec, $sets);
            assert_eq!(kind, $kind, "{text}");
            assert!(text.contains("help:"), "every diagnostic has a hint:\n{text}");
            insta::assert_snapshot!(text);
        }
    };
}

diag!(syntax_error, ErrorKind::Syntax, with("|> rfft(fft)", "|> rfft(fft"), &[]);
diag!(unknown_op, ErrorKind::UnknownOp, with("|> rfft(fft)", "|> rfftt(fft)"), &[]);
diag!(
    unknown_op_in_untaken_branch,
    ErrorKind::UnknownOp,
    with("magnitude => magnitude()", "magnitude => magnitud()"),
    &[]
);
diag!(unknown_argument, ErrorKind::UnknownArgument, with("hop: hop)", "hopp: hop)"), &[]);
diag!(
    missing_argument,
    ErrorKind::MissingArgument,
    with("frames(length: fft, hop: hop)", "frames(length: fft)"),
    &[]
);
diag!(duplicate_argument, ErrorKind::DuplicateArgument, with("rfft(fft)", "rfft(fft, n: 1024)"), &[]);
diag!(unknown_name, ErrorKind::UnknownName, with("rfft(fft)", "rfft(ftt)"), &[]);
diag!(wrong_unit, ErrorKind::Type, with("fmin: 0 Hz", "fmin: 20 ms"), &[]);
diag!(fft_shorter_than_frame, ErrorKind::Range, with("rfft(fft)", "rfft(256)"), &[]);
diag!(hop_zero, ErrorKind::Range, BASE, &["hop=0"]);
diag!(zero_bins, ErrorKind::Range, BASE, &["bins=0"]);
diag!(fmin_above_fmax, ErrorKind::Range, with("fmin: 0 Hz", "fmin: 9 kHz"), &[]);
diag!(set_unknown_param, ErrorKind::UnknownParam, BASE, &["bin=64"]);
diag!(set_wrong_type, ErrorKind::Type, BASE, &["fft=fast"]);
diag!(set_unknown_window, ErrorKind::Type, BASE, &["win=kaiser"]);
diag!(set_bad_enum, ErrorKind::Type, BASE, &["mode=phase"]);
diag!(set_syntax, ErrorKind::Syntax, BASE, &["fft=512)"]);
diag!(set_no_equals, ErrorKind::Syntax, BASE, &["fft"]);
diag!(set_twice, ErrorKind::DuplicateArgument, BASE, &["fft=512", "fft=1024"]);
diag!(set_none_for_required, ErrorKind::Type, BASE, &["bins=none"]);
diag!(
    duplicate_param,
    ErrorKind::Duplicate,
    with("param hop: int = 128", "param hop: int = 128\nparam hop: int = 64"),
    &[]
);
diag!(unknown_type, ErrorKind::Type, with("param bins: int = 40", "param bins: integer = 40"), &[]);
diag!(no_output, ErrorKind::Structure, BASE.split("\naudio\n").next().unwrap_or(""), &[]);
diag!(stage_order, ErrorKind::Type, with("|> rfft(fft)", "|> rfft(fft) |> rfft(fft)"), &[]);
diag!(
    keras_stft_require,
    ErrorKind::Range,
    specc::preset_text("keras_stft").unwrap_or(""),
    &["frame_length=128", "frame_step=200"]
);
diag!(
    keras_mel_window_longer_than_fft,
    ErrorKind::Range,
    specc::preset_text("keras_mel").unwrap_or(""),
    &["fft_length=512", "sequence_length=1024"]
);
diag!(
    mel_table_of_another_shape,
    ErrorKind::Range,
    with("fmax: 8 kHz)", "fmax: 8 kHz, triangles: mel, table: torch_f32)"),
    &[]
);
diag!(
    db_skip_from_without_nan_skip,
    ErrorKind::Range,
    with("|> layout(..., mel, frames)", "|> db(top_db: 80, skip_from: 4096)\n  |> layout(..., mel, frames)"),
    &[]
);
diag!(
    db_skip_from_negative,
    ErrorKind::Type,
    with(
        "|> layout(..., mel, frames)",
        "|> db(top_db: 80, nan: skip, skip_from: -1)\n  |> layout(..., mel, frames)"
    ),
    &[]
);
diag!(
    keras_mel_top_db_none,
    ErrorKind::Type,
    specc::preset_text("keras_mel").unwrap_or(""),
    &["top_db=none"]
);

#[test]
fn units_resolve_against_the_input_rate() {
    let spec = with("frames(length: fft, hop: hop)", "frames(length: 32 ms, hop: 8 ms)");
    let p = Pipeline::compile("t.spec", &spec, &[]).expect("compiles");
    let text = p.graph().to_string();
    assert!(text.contains("frames(length: 512, hop: 128)"), "{text}");
    // 1.01 ms at 16 kHz is 16.16 samples: not a whole number.
    let spec = with("frames(length: fft, hop: hop)", "frames(length: 32 ms, hop: 1.01 ms)");
    assert!(Pipeline::compile("t.spec", &spec, &[]).is_err());
}

#[test]
fn keras_docstring_stft_vector() {
    // keras.ops.stft([0, 1, 2, 3, 4], sequence_length=3, sequence_stride=2, fft_length=3)
    // real [[0.75, -0.375], [3.75, -1.875], [5.25, -2.625]],
    // imag [[0, 0.6495], [0, 0.6495], [0, -0.6495]] (from the Keras docstring).
    let spec = "spec t
input x: f64[..., samples]
x |> pad(1, mode: reflect) |> frames(length: 3, hop: 2) |> window(hann, periodic: true)
  |> rfft(3) |> concat_re_im() |> layout(..., frames, bins)
";
    let p = Pipeline::compile("t.spec", spec, &[]).expect("compiles");
    let x = ndarray::ArrayD::from_shape_vec(vec![5], vec![0.0f64, 1.0, 2.0, 3.0, 4.0]).expect("shape");
    let y = p.run(&specc::Input::F64(x.view())).expect("runs").to_f64();
    let want = [0.75, -0.375, 0.0, 0.6495, 3.75, -1.875, 0.0, 0.6495, 5.25, -2.625, 0.0, -0.6495];
    for (g, w) in y.iter().zip(want) {
        assert!((g - w).abs() < 1e-4, "{y:?}");
    }
}

/// A per-frame column shared through a `let`, concatenated and mean-subtracted (Kaldi's energy
/// and `subtract_mean`), by hand on both engines: frames [1,1,1,1] and [2,2,2,2] have power
/// spectra [16,0,0] and [64,0,0] and energies ln 4 and ln 16; minus the column means
/// (40, 0, 0, ln 8) that is [-24,0,0,-ln 2] and [24,0,0,ln 2].
#[test]
fn let_shared_column_concat_and_subtract_mean() {
    let src = "spec t\ninput s: f32[samples]\nlet f = s |> frames(length: 4, hop: 4)\n\
               let e = f |> log_energy()\n\
               f |> rfft(4) |> power() |> concat(e, last: true) |> subtract_mean() |> layout(frames, bins)\n";
    let x = ndarray::ArrayD::from_shape_vec(vec![8], vec![1.0f32, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0])
        .expect("shape");
    let l2 = std::f64::consts::LN_2;
    let want = [-24.0, 0.0, 0.0, -l2, 24.0, 0.0, 0.0, l2];
    for engine in [specc::Engine::Interp, specc::Engine::Jit] {
        let p = Pipeline::compile("t.spec", src, &[]).expect("compiles").with_engine(engine);
        // The JIT runs it itself (the load kernel's energy sums, the runtime's mean pass).
        assert_eq!(p.engine_for(specc_compiler::graph::Precision::F32), (engine, None));
        let y = p.run(&specc::Input::F32(x.view())).expect("runs");
        assert_eq!(y.shape(), &[2, 4]);
        for (g, w) in y.to_f64().iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{engine:?}: {:?}", y.to_f64());
        }
    }
    let (kind, text) =
        render("spec t\ninput s: f32[samples]\ns |> frames(length: 4, hop: 4) |> concat(3)\n", &[]);
    assert!(text.contains("a per-frame tensor"), "{kind:?}: {text}");
}

/// The spec of README.md's "The language by example" section, as written there.
#[test]
fn readme_language_example_checks() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let section = readme.split("## The language by example").nth(1).expect("the section");
    let block = section.split("```").nth(1).expect("its first code block");
    let p = Pipeline::compile("README.md", block.trim_start_matches('\n'), &[])
        .unwrap_or_else(|e| panic!("the README's language example fails `specc check`: {e:?}"));
    assert_eq!(p.graph().name, "keras_mel");
    // Its `float | max` param takes librosa's spelling too.
    Pipeline::compile("README.md", block, &["ref=np.max"]).expect("ref=np.max");
}

fn help_of(preset: &str, sets: &[&str]) -> (ErrorKind, String, std::ops::Range<usize>) {
    match Pipeline::preset(preset, sets) {
        Err(specc::Error::Spec(e)) => {
            let span = e.span.offset()..e.span.offset() + e.span.len();
            (e.kind, e.help.clone().unwrap_or_default(), span)
        }
        Err(other) => panic!("{preset} {sets:?}: expected a spec error, got {other}"),
        Ok(_) => panic!("{preset} {sets:?}: expected an error"),
    }
}

/// Hints speak the preset's own argument names: no Keras names in torchaudio or librosa errors.
#[test]
fn hints_name_the_presets_own_params() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "keras_mel",
            &["fft_length=512", "sequence_length=1024"],
            "`sequence_length` must not exceed `fft_length`",
        ),
        ("keras_mel", &["min_freq=9000"], "lower `min_freq` or raise `sampling_rate`"),
        ("keras_mel", &["min_freq=3000", "max_freq=2000"], "lower `min_freq` or raise `max_freq`"),
        ("keras_mel", &["min_power=0.0"], "`min_power` must be > 0"),
        (
            "keras_stft",
            &["frame_length=256", "fft_length=128"],
            "`fft_length` must be at least `frame_length`",
        ),
        ("librosa_mel", &["n_fft=512", "win_length=600"], "`win_length` must not exceed `n_fft`"),
        ("librosa_mel", &["fmin=12000"], "lower `fmin` or raise `sr`"),
        ("librosa_mel", &["fmin=3000", "fmax=2000"], "lower `fmin` or raise `fmax`"),
        ("librosa_mel", &["amin=0"], "`amin` must be > 0"),
        ("librosa_stft", &["n_fft=512", "win_length=600"], "`win_length` must not exceed `n_fft`"),
        ("librosa_stft", &["amin=-1.0"], "`amin` must be > 0"),
        ("torchaudio_mel", &["win_length=500"], "`win_length` must not exceed `n_fft`"),
        ("torchaudio_mel", &["f_min=9000"], "lower `f_min` or raise `sample_rate`"),
        ("torchaudio_mel", &["f_min=3000", "f_max=2000"], "lower `f_min` or raise `f_max`"),
        ("kaldi_fbank", &["low_freq=9000"], "lower `low_freq`"),
        ("keras_stft", &["frame_length=128", "frame_step=200"], "with `hop` from `frame_step`"),
        ("librosa_stft", &["power=3"], "the spec requires `power == 1.0 or power == 2.0`"),
        (
            "torchaudio_mel",
            &["hop_length=0"],
            "`hop_length` gives `frames`'s `hop`, which must be at least 1",
        ),
        ("librosa_mel", &["sr=0"], "`sr` must be positive"),
        ("torchaudio_mel", &["n_fft"], "`--set sample_rate=16000 Hz`"),
    ];
    let keras_names = ["fft_length", "sequence_length", "min_freq", "max_freq", "min_power", "sampling_rate"];
    for (preset, sets, want) in cases {
        let (_, help, _) = help_of(preset, sets);
        assert!(help.contains(want), "{preset} {sets:?}: hint {help:?} lacks {want:?}");
        if !preset.starts_with("keras") {
            for k in keras_names {
                assert!(!help.contains(k), "{preset} {sets:?}: Keras name `{k}` in {help:?}");
            }
        }
    }
}

/// `--set` takes the spellings users paste from Python, mapped to the same values as the
/// language's own words; other Python-looking values get the spellings the param accepts.
#[test]
fn python_spellings_in_set_values() {
    // (preset, Python spelling, the language's spelling)
    let same: &[(&str, &str, &str)] = &[
        ("librosa_mel", "ref=np.max", "ref=max"),
        ("librosa_mel", "ref=numpy.max", "ref=max"),
        ("librosa_mel", "ref='max'", "ref=max"),
        ("librosa_stft", "ref=np.max", "ref=max"),
        ("librosa_mel", "top_db=None", "top_db=none"),
        ("librosa_mel", "norm=None", "norm=none"),
        ("librosa_mel", "center=False", "center=false"),
        ("librosa_mel", "htk=True", "htk=true"),
        ("librosa_mel", "window='hamming'", "window=hamming"),
        ("librosa_mel", "window=\"hamming\"", "window=hamming"),
        ("librosa_stft", "pad_mode='reflect'", "pad_mode=reflect"),
        ("librosa_stft", "hop_length=None", "hop_length=none"),
        ("torchaudio_mel", "window_fn=torch.hann_window", "window_fn=hann_window"),
        ("torchaudio_mel", "window_fn=torch.hamming_window", "window_fn=hamming_window"),
        ("torchaudio_mel", "window_fn=torch.blackman_window", "window_fn=blackman_window"),
        ("torchaudio_mel", "window_fn=torch.bartlett_window", "window_fn=bartlett_window"),
        ("torchaudio_mel", "f_max=None", "f_max=none"),
        ("torchaudio_mel", "norm='slaney'", "norm=slaney"),
        ("keras_mel", "window=None", "window=none"),
        ("keras_stft", "scaling=None", "scaling=none"),
    ];
    for (preset, py, word) in same {
        let a = Pipeline::preset(preset, &[py]).unwrap_or_else(|e| panic!("{preset} {py}: {e:?}"));
        let b = Pipeline::preset(preset, &[word]).unwrap_or_else(|e| panic!("{preset} {word}: {e:?}"));
        assert_eq!(a.params(), b.params(), "{preset}: {py} vs {word}");
        assert_eq!(a.graph().to_string(), b.graph().to_string(), "{preset}: {py} vs {word}");
    }
    // (preset, value, kind, words the hint must hold)
    let refused: &[(&str, &str, ErrorKind, &[&str])] = &[
        ("librosa_mel", "ref=np.mean", ErrorKind::Type, &["`ref` accepts a number", "`max`", "`np.max`"]),
        ("librosa_mel", "ref=lambda x: x", ErrorKind::Syntax, &["`np.max`"]),
        ("librosa_mel", "n_mels=[1, 2]", ErrorKind::Syntax, &["`n_mels` accepts an integer"]),
        ("librosa_mel", "window=torch.hann_window", ErrorKind::Type, &["`hann`", "`'hann'`"]),
        ("librosa_mel", "window=scipy.signal.windows.hann", ErrorKind::Type, &["periodic", "`hann`"]),
        ("keras_mel", "ref_power=np.max", ErrorKind::Type, &["`ref_power` accepts a number"]),
        (
            "torchaudio_mel",
            "window_fn=torch.kaiser_window",
            ErrorKind::Type,
            &["`torch.hann_window`", "`torch.bartlett_window`"],
        ),
        ("torchaudio_mel", "center=Flase", ErrorKind::Type, &["`True`/`False`"]),
    ];
    for (preset, set, kind, words) in refused {
        let (k, help, span) = help_of(preset, &[set]);
        assert_eq!(k, *kind, "{preset} {set}: {help}");
        let value = set.find('=').map(|i| i + 1).unwrap_or(0);
        assert_eq!(span, value..set.len(), "{preset} {set}: the caret is under the value");
        for w in *words {
            assert!(help.contains(w), "{preset} {set}: hint {help:?} lacks {w:?}");
        }
        assert!(!help.contains("a spec is"), "{preset} {set}: the spec-file hint in {help:?}");
    }
}
diag!(
    undeclared_condition,
    ErrorKind::UnknownName,
    with("|> window(win)", "|> if windowed { window(win) }"),
    &[]
);
