//! Streaming: for every streamable preset (and variants of its params), the frames pushed out
//! chunk by chunk plus `finish` equal the offline JIT run of the whole signal bit for bit, for
//! random chunkings (0, 1, primes, a chunk larger than the signal); and every op that needs
//! the whole signal is refused by name.

use std::sync::OnceLock;

use ndarray::{concatenate, ArrayD, Axis, IxDyn, Slice};
use proptest::prelude::*;
use specc::{Input, Output, Pipeline};

/// Whisper without its clip at the tensor's maximum (the part that streams).
fn whisper_unclipped() -> String {
    let text = specc::preset_text("whisper").unwrap();
    let clipped = "db(amin: 1e-10, mult: 1, top_db: 8, over: tensor)";
    assert!(text.contains(clipped), "the whisper preset changed; update this test");
    text.replace(clipped, "db(amin: 1e-10, mult: 1)")
}

/// (name, preset or spec text, sets, input dtype is f64): the streamable variants tried.
fn variants() -> &'static [(String, Pipeline, bool)] {
    static V: OnceLock<Vec<(String, Pipeline, bool)>> = OnceLock::new();
    V.get_or_init(|| {
        let presets: &[(&str, &[&str], bool)] = &[
            ("kaldi_fbank", &[], false),
            ("kaldi_fbank", &["snip_edges=false"], false),
            (
                "kaldi_fbank",
                &["use_energy=true", "htk_compat=true", "snip_edges=false", "frame_shift=7.5"],
                true,
            ),
            (
                "kaldi_fbank",
                &["use_energy=true", "raw_energy=false", "round_to_power_of_two=false", "frame_length=20"],
                false,
            ),
            (
                "kaldi_fbank",
                &[
                    "window_type=hamming",
                    "preemphasis_coefficient=0",
                    "remove_dc_offset=false",
                    "frame_shift=30",
                    "frame_length=12.5",
                    "snip_edges=false",
                ],
                false,
            ),
            ("kaldi_mfcc", &[], false),
            ("kaldi_mfcc", &["use_energy=true", "snip_edges=false"], false),
            ("torchaudio_mel", &[], false),
            ("torchaudio_mel", &["pad_mode=constant", "pad=37", "hop_length=97", "n_mels=40"], false),
            ("torchaudio_mel", &["center=false", "n_fft=512", "power=1.0", "normalized=true"], false),
            (
                "torchaudio_mel",
                &["pad_mode=replicate", "amplitude_to_db=false", "win_length=300", "hop_length=1"],
                false,
            ),
            ("torchaudio_mfcc", &["log_mels=true"], false),
            ("librosa_mel", &["top_db=none", "sr=16000", "n_fft=512", "hop_length=128"], false),
            (
                "librosa_mel",
                &["power_to_db=false", "pad_mode=reflect", "sr=16000", "n_fft=256", "hop_length=100"],
                true,
            ),
            (
                "librosa_mel",
                &["top_db=none", "center=false", "sr=8000", "n_fft=400", "hop_length=160"],
                false,
            ),
            (
                "librosa_mel",
                &["top_db=none", "pad_mode=edge", "sr=16000", "n_fft=512", "hop_length=50"],
                true,
            ),
            ("librosa_stft", &["top_db=none", "n_fft=256"], false),
            (
                "librosa_stft",
                &["to_db=false", "power=2.0", "n_fft=400", "hop_length=160", "pad_mode=reflect"],
                false,
            ),
            (
                "keras_mel",
                &["power_to_db=false", "fft_length=512", "sequence_stride=160", "num_mel_bins=40"],
                false,
            ),
            (
                "keras_mel",
                &["power_to_db=false", "fft_length=256", "sequence_stride=64", "dtype=float64"],
                true,
            ),
            ("keras_stft", &[], false),
            ("keras_stft", &["mode=stft", "frame_length=200", "frame_step=80"], false),
            ("keras_stft", &["mode=psd", "data_format=channels_first", "expand_dims=true"], true),
        ];
        let mut v: Vec<(String, Pipeline, bool)> = presets
            .iter()
            .map(|(name, sets, f64)| {
                let p = Pipeline::preset(name, sets).unwrap_or_else(|e| panic!("{name} {sets:?}: {e}"));
                (format!("{name} {sets:?}"), p, *f64)
            })
            .collect();
        // Deltas: torchaudio's replicate stencil (orders iterate), and librosa's interp fits on
        // Kaldi MFCCs (a spec line appended: the edge windows at both ends of the signal).
        for sets in [&["log_mels=true", "deltas=2"][..], &["log_mels=true", "deltas=1", "delta_win_length=9"]]
        {
            let p = Pipeline::preset("torchaudio_mfcc", sets).unwrap();
            v.push((format!("torchaudio_mfcc {sets:?}"), p, false));
        }
        let kaldi = specc::preset_text("kaldi_mfcc").unwrap();
        let last = "  |> layout(frames, coeffs)";
        assert!(kaldi.contains(last), "the kaldi_mfcc preset changed; update this test");
        for (w, order) in [(9, 2), (5, 1)] {
            let text = kaldi.replace(
                last,
                &format!("  |> deltas(width: {w}, order: {order}, mode: interp, append: true)\n{last}"),
            );
            let p = Pipeline::compile("kaldi_mfcc_deltas.spec", &text, &[]).unwrap();
            v.push((format!("kaldi_mfcc + interp deltas width {w} order {order}"), p, false));
        }
        let w = Pipeline::compile("whisper_unclipped.spec", &whisper_unclipped(), &[]).unwrap();
        v.push((String::from("whisper without clip"), w, false));
        let w =
            Pipeline::compile("whisper_unclipped.spec", &whisper_unclipped(), &["padding=123", "n_mels=128"])
                .unwrap();
        v.push((String::from("whisper without clip, padding=123"), w, false));
        v
    })
}

/// A deterministic pseudo-random sequence (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// The input shape for `n` samples with `lead` signals, in the spec's user layout.
fn shape_of(p: &Pipeline, lead: usize, n: usize) -> (Vec<usize>, usize) {
    let user = p.graph().user_axes();
    let mut shape = Vec::new();
    let mut axis = 0;
    for a in user {
        match a.as_str() {
            "samples" => {
                axis = shape.len();
                shape.push(n)
            }
            "..." => {
                if lead > 1 {
                    shape.push(lead)
                }
            }
            // Kaldi selects channel 0 of 2; Keras's batch and channels.
            _ => shape.push(lead),
        }
    }
    (shape, axis)
}

fn bits(o: &Output) -> Vec<u64> {
    match o {
        Output::F32(a) => a.iter().map(|v| v.to_bits() as u64).collect(),
        Output::F64(a) => a.iter().map(|v| v.to_bits()).collect(),
    }
}

fn concat(parts: &[Output], axis: usize) -> Output {
    match &parts[0] {
        Output::F32(_) => {
            let v: Vec<_> = parts
                .iter()
                .map(|o| if let Output::F32(a) = o { a.view() } else { unreachable!() })
                .collect();
            Output::F32(concatenate(Axis(axis), &v).unwrap())
        }
        Output::F64(_) => {
            let v: Vec<_> = parts
                .iter()
                .map(|o| if let Output::F64(a) = o { a.view() } else { unreachable!() })
                .collect();
            Output::F64(concatenate(Axis(axis), &v).unwrap())
        }
    }
}

/// Streams a random signal of `n` samples through variant `vi` in random chunks and compares
/// with the offline run.
fn check(vi: usize, n: usize, lead: usize, seed: u64, nan: bool) -> Result<(), TestCaseError> {
    check_variant(&variants()[vi], n, lead, seed, nan, false)
}

/// [`check`] for one variant; `deferred`: in deferred clip mode, clipping the concatenation.
fn check_variant(
    (name, p, f64in): &(String, Pipeline, bool),
    n: usize,
    lead: usize,
    seed: u64,
    nan: bool,
    deferred: bool,
) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let (shape, axis) = shape_of(p, lead, n);
    let scale = if name.starts_with("kaldi") { 32768.0 } else { 1.0 };
    let mut x = ArrayD::<f64>::from_shape_fn(IxDyn(&shape), |_| rng.unit() * scale);
    let nan = nan && n > 0 && !p.graph().finite_only;
    if nan {
        let at = rng.below(x.len());
        x.as_slice_mut().unwrap()[at] = if rng.below(2) == 0 { f64::NAN } else { f64::INFINITY };
    }
    let x32 = x.mapv(|v| v as f32);
    let input = |a: usize, b: usize| -> Input<'_> {
        if *f64in {
            Input::F64(x.slice_axis(Axis(axis), Slice::from(a..b)))
        } else {
            Input::F32(x32.slice_axis(Axis(axis), Slice::from(a..b)))
        }
    };
    let offline = p.run(&input(0, n));
    let st = if deferred { p.stream_deferred() } else { p.stream() };
    let mut st = st.map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
    let mut parts = Vec::new();
    let mut at = 0;
    let sizes = [0usize, 1, 2, 3, 5, 7, 13, 97, 160, 401, 997, n + 1];
    // At least one push, so an empty signal fixes its leading axes as the offline input does.
    while at < n || parts.is_empty() {
        let want = sizes[rng.below(sizes.len())];
        let b = (at + want).min(n);
        let out = st.push(&input(at, b)).map_err(|e| TestCaseError::fail(format!("{name}: push: {e}")))?;
        parts.push(out);
        at = b;
    }
    let pushed: usize = parts.iter().map(|o| o.shape()[st.time_axis().unwrap_or(0)]).sum();
    // Memory stays bounded: the buffer holds about a frame window, the right pad's reach and
    // the last chunk.
    prop_assert!(st.buffered() <= 2 * 2048 + 2 * 997 + 2, "{name}: {} samples buffered", st.buffered());
    let axis_t = st.time_axis();
    let tail = st.finish();
    match (offline, tail) {
        (Ok(off), Ok(tail)) => {
            parts.push(tail);
            let mut got = concat(&parts, axis_t.expect("pushed at least once"));
            if deferred {
                st.apply_clip(&mut got).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            }
            prop_assert_eq!(got.shape(), off.shape(), "{}: shape", name);
            if nan {
                // The kernels take their exact NaN path for a whole block of frames when one
                // frame holds NaN or inf, which can move a finite block-mate by an ulp; the
                // stream's blocks hold other frames. NaN and inf land where they do offline.
                let (a, b) = (got.to_f64(), off.to_f64());
                for (x, y) in a.iter().zip(&b) {
                    prop_assert!(
                        (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                        "{name}: {x} vs {y} (n={n}, lead={lead}, seed={seed})"
                    );
                }
            } else {
                prop_assert!(
                    bits(&got) == bits(&off),
                    "{name}: values differ (n={n}, lead={lead}, seed={seed})"
                );
            }
        }
        (Err(a), Err(b)) => {
            prop_assert_eq!(a.to_string(), b.to_string(), "{}: different errors", name);
            prop_assert_eq!(pushed, 0, "{}: frames emitted for a signal the library refuses", name);
        }
        (a, b) => prop_assert!(
            false,
            "{name} n={n}: offline {:?}, stream {:?}",
            a.map(|o| o.shape().to_vec()),
            b.map(|o| o.shape().to_vec())
        ),
    }
    Ok(())
}

/// Cases of the bit-identity property: 600 in CI, `SPECC_STREAM_CASES=N` for a longer run.
fn stream_cases() -> u32 {
    std::env::var("SPECC_STREAM_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(600)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: stream_cases(), failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn streaming_equals_the_offline_run_bit_for_bit(
        vi in 0..variants().len(),
        n in prop_oneof![0usize..700, 700usize..6000],
        lead in 1usize..3,
        seed in any::<u64>(),
        nan in proptest::bool::weighted(0.15),
    ) {
        check(vi, n, lead, seed, nan)?;
    }
}

/// Specs whose `db` clips at a maximum, for the deferred clip mode.
fn deferred_variants() -> &'static [(String, Pipeline, bool)] {
    static V: OnceLock<Vec<(String, Pipeline, bool)>> = OnceLock::new();
    V.get_or_init(|| {
        let presets: &[(&str, &[&str], bool)] = &[
            ("whisper", &[], false),
            ("whisper", &["n_mels=128", "padding=77"], false),
            ("librosa_mel", &["sr=16000", "n_fft=512", "hop_length=128"], false),
            ("librosa_mel", &["ref=max", "top_db=none", "n_fft=256", "hop_length=100"], true),
            ("librosa_mel", &["ref=max", "pad_mode=reflect", "n_fft=256", "hop_length=64"], false),
            ("librosa_stft", &["n_fft=256"], false),
            ("keras_mel", &["fft_length=512", "sequence_stride=160", "num_mel_bins=40"], false),
            // 128 bands: the long signals cross the 4096 values from which Keras's maximum
            // skips NaN (the deferred clip counts every pushed frame).
            ("keras_mel", &["fft_length=512", "sequence_stride=160"], false),
            ("torchaudio_mel", &["top_db=80"], false),
        ];
        presets
            .iter()
            .map(|(name, sets, f64)| {
                let p = Pipeline::preset(name, sets).unwrap_or_else(|e| panic!("{name} {sets:?}: {e}"));
                (format!("{name} {sets:?} deferred"), p, *f64)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]
    /// The deferred clip mode: frames before the clip as they come, then `apply_clip` on their
    /// concatenation gives the offline run's result bit for bit.
    #[test]
    fn the_deferred_clip_gives_the_offline_result(
        vi in 0..deferred_variants().len(),
        n in prop_oneof![0usize..700, 700usize..6000],
        lead in 1usize..3,
        seed in any::<u64>(),
        nan in proptest::bool::weighted(0.1),
    ) {
        check_variant(&deferred_variants()[vi], n, lead, seed, nan, true)?;
    }
}

#[test]
fn apply_clip_needs_a_finished_deferred_stream() {
    let p = Pipeline::preset("whisper", &[]).unwrap();
    let x = ndarray::Array1::<f32>::zeros(4000);
    let mut st = p.stream_deferred().unwrap();
    let mut part = st.push(&Input::F32(x.view().into_dyn())).unwrap();
    assert!(st.apply_clip(&mut part).unwrap_err().to_string().contains("after finish"));
    st.finish().unwrap();
    // Not every frame: refused, not clipped against a wrong shape.
    assert!(st.apply_clip(&mut part).unwrap_err().to_string().contains("every frame"));
    // A spec without a clip has no deferred mode; nor does one whose other ops need the end.
    assert!(Pipeline::preset("kaldi_fbank", &[]).unwrap().stream_deferred().is_err());
    let e = Pipeline::preset("kaldi_fbank", &[]).unwrap().stream_with(specc::ClipMode::Running).unwrap_err();
    assert!(e.to_string().contains("running clip mode needs a clip"), "{e}");
    // A running stream has nothing to apply afterwards.
    let mut st = p.stream_with(specc::ClipMode::Running).unwrap();
    let mut part = st.push(&Input::F32(x.view().into_dyn())).unwrap();
    st.finish().unwrap();
    assert!(st.apply_clip(&mut part).is_err());
    let e = Pipeline::preset("torchaudio_mfcc", &["deltas=1"]).unwrap().stream_deferred().unwrap_err();
    assert!(e.to_string().contains("cannot stream exactly"), "{e}");
    let e =
        Pipeline::preset("torchaudio_mfcc", &[]).unwrap().stream_with(specc::ClipMode::Running).unwrap_err();
    assert!(format!("{e:?}").contains("before `dct`"), "{e:?}");
}

#[test]
fn every_variant_streams_a_long_signal_in_10ms_chunks() {
    for vi in 0..variants().len() {
        check(vi, 48_000, 2, vi as u64, false).unwrap();
    }
}

/// Each op that needs the whole signal is refused by name, pointing at the op in the spec, with
/// the `--set` values that remove it when the spec has them.
#[test]
fn what_needs_the_whole_signal_is_refused_by_name() {
    let cases: &[(&str, &[&str], &str, &str)] = &[
        (
            "whisper",
            &[],
            "db(amin: 1e-10, mult: 1, top_db: 8, over: tensor)",
            "maximum over the whole tensor",
        ),
        ("librosa_mel", &[], "db(amin: amin", "--set power_to_db=false or --set top_db=none"),
        ("librosa_mel", &["top_db=none", "ref=max"], "db(amin: amin", "ref=max"),
        ("keras_mel", &[], "db(amin: min_power", "--set power_to_db=false"),
        (
            "torchaudio_mfcc",
            &[],
            "db(amin: 1e-10, ref: 1.0, mult: 10, top_db: 80.0, over: 3)",
            "each item's last 3 axes",
        ),
        ("kaldi_fbank", &["subtract_mean=true"], "subtract_mean()", "--set subtract_mean=false"),
        ("kaldi_mfcc", &["subtract_mean=true"], "subtract_mean()", "mean over all"),
        ("keras_stft", &["padding=same"], "pad_same(length: frame_length, hop: hop)", "length"),
    ];
    for (preset, sets, at, says) in cases {
        let p = Pipeline::preset(preset, sets).unwrap();
        let err = p.stream().expect_err(preset);
        let specc::Error::Spec(e) = &err else { panic!("{preset} {sets:?}: not a spec error: {err}") };
        let text = specc::preset_text(preset).unwrap();
        let start = e.span.offset();
        assert!(text[start..].starts_with(at), "{preset} {sets:?}: points at {:?}", &text[start..start + 20]);
        let shown = format!("{} {}", e.message, e.help.clone().unwrap_or_default());
        assert!(shown.contains("cannot stream exactly"), "{shown}");
        assert!(shown.contains(says), "{preset} {sets:?}: {shown}");
    }
    // A pipeline set to the interpreter does not stream (the stream runs the JIT's kernels).
    let p = Pipeline::preset("kaldi_fbank", &[]).unwrap().with_engine(specc::Engine::Interp);
    assert!(p.stream().unwrap_err().to_string().contains("interpreter"));
}

/// Chunks must keep the first chunk's leading axes and dtype; finish with nothing pushed, or
/// too little for a frame, fails as the offline run does; reset starts over.
#[test]
fn bad_chunks_are_errors_and_reset_starts_over() {
    let p = Pipeline::preset("torchaudio_mel", &["n_mels=16"]).unwrap();
    let mut st = p.stream().unwrap();
    assert!(matches!(st.finish(), Err(specc::Error::Run(specc::RunError::Empty(_)))));
    let two = ndarray::Array2::<f32>::zeros((2, 100));
    st.push(&Input::F32(two.view().into_dyn())).unwrap();
    let three = ndarray::Array2::<f32>::zeros((3, 100));
    let e = st.push(&Input::F32(three.view().into_dyn())).unwrap_err();
    assert!(e.to_string().contains("fixed by its first chunk"), "{e}");
    let f64s = ndarray::Array2::<f64>::zeros((2, 100));
    assert!(st.push(&Input::F64(f64s.view().into_dyn())).is_err());
    // 100 samples: too short for torch's reflect pad of 200, as offline.
    let off = p.run(&Input::F32(two.view().into_dyn())).unwrap_err();
    assert_eq!(st.finish().unwrap_err().to_string(), off.to_string());
    // After finish (or reset) any leading axes start a new signal.
    let one = ndarray::Array1::<f32>::zeros(16000);
    let a = st.push(&Input::F32(one.view().into_dyn())).unwrap();
    st.reset();
    let b = st.push(&Input::F32(one.view().into_dyn())).unwrap();
    assert_eq!(a, b);
    assert_eq!(st.time_axis(), Some(1));
    st.finish().unwrap();
    assert_eq!(st.time_axis(), Some(1), "kept after finish, for concatenating");
    st.reset();
    assert_eq!(st.time_axis(), None);
    assert!(st.latency() == 200 && st.warmup() == 201);
}

/// `specc stream` fed by a pipe in small writes: frames come out (flushed) before the input
/// ends, and the whole output equals `specc run` on the WAV bit for bit; `-o` writes the same
/// `.npy` as `run`, from raw PCM and from a WAV on stdin.
#[test]
fn the_cli_streams_a_pipe_in_small_writes_like_run() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(format!("specc-stream-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/speech.wav");
    let ran = dir.join("run.npy");
    let st = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["run", "kaldi_fbank", wav, "-o"])
        .arg(&ran)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let specc::npy::Array::F32(expected) = specc::npy::read(&ran).unwrap() else { panic!("f32") };
    let samples: Vec<i16> =
        hound::WavReader::open(wav).unwrap().samples::<i16>().map(Result::unwrap).collect();
    let raw: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();

    let mut child = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["stream", "kaldi_fbank", "--rate", "16000", "--format", "s16le"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    all.extend_from_slice(&buf[..k]);
                    let _ = tx.send(all.len());
                }
            }
        }
        all
    });
    // The first second in writes of 1, 3, 7, 101 and 640 bytes (a sample split across writes).
    let sizes = [1usize, 3, 7, 101, 640];
    let (mut at, mut i) = (0, 0);
    while at < 32000 {
        let b = (at + sizes[i % sizes.len()]).min(32000);
        stdin.write_all(&raw[at..b]).unwrap();
        stdin.flush().unwrap();
        (at, i) = (b, i + 1);
    }
    // 1 s gives (16000 - 400) / 160 + 1 = 98 frames of 23 values: they arrive before the end.
    let frame = 23 * 4;
    let mut got = 0;
    while got < 98 * frame {
        got = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("frames arrive before stdin ends");
    }
    stdin.write_all(&raw[at..]).unwrap();
    drop(stdin);
    let all = reader.join().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let values: Vec<f32> =
        all.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(values.len(), expected.len());
    assert!(values.iter().zip(expected.iter()).all(|(a, b)| a.to_bits() == b.to_bits()));

    // -o: the same file as run, from raw PCM and from the WAV itself on stdin.
    for (i, (args, input)) in
        [(vec!["--rate", "16000", "--format", "s16le"], raw.clone()), (vec![], std::fs::read(wav).unwrap())]
            .into_iter()
            .enumerate()
    {
        let out = dir.join(format!("stream{i}.npy"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_specc"))
            .args(["stream", "kaldi_fbank"])
            .args(&args)
            .arg("-o")
            .arg(&out)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&ran).unwrap(), "{args:?}");
    }

    // A layout with frames last (torchaudio's) and deltas: the same file as run, byte for byte
    // (C order, as run writes); Whisper's clip deferred to the end: the same file as run.
    same_file_as_run(&dir, wav, "torchaudio_mfcc", &["--set", "log_mels=true", "--set", "deltas=2"], &[]);
    same_file_as_run(&dir, wav, "whisper", &[], &["--defer-clip"]);
    let (streamed, whole) = (dir.join("whisper_stream.npy"), dir.join("whisper_run.npy"));

    // The running clip: frames on stdout as they come, as many as run gives; the last frame
    // (clipped against the whole recording's maximum) equals run's.
    let o = stream_wav(wav, &["stream", "whisper", "--running-clip"]);
    let whole_f32 = match specc::npy::read(&whole).unwrap() {
        specc::npy::Array::F32(a) => a,
        _ => panic!("whisper writes f32"),
    };
    let (mels, frames) = (whole_f32.shape()[0], whole_f32.shape()[1]);
    assert_eq!(o.stdout.len(), mels * frames * 4, "one f32 per value");
    let stdout_frame = |t: usize| -> Vec<u8> { o.stdout[t * mels * 4..(t + 1) * mels * 4].to_vec() };
    let run_frame: Vec<u8> =
        whole_f32.index_axis(Axis(1), frames - 1).iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(stdout_frame(frames - 1), run_frame, "the last frame");
    let o = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["stream", "whisper", "--running-clip", "--defer-clip", "-o"])
        .arg(&streamed)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "the two clip modes conflict");

    // A spec that cannot stream says so, pointing at the op; raw PCM needs a rate.
    let o = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["stream", "whisper", "--rate", "16000", "--format", "s16le"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("cannot stream exactly") && err.contains("top_db: 8"),
        "{err}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["stream", "kaldi_fbank", "--format", "s16le"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(&raw[..3200])?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `specc ARGS` with the file `wav` on stdin; asserts it succeeds.
fn stream_wav(wav: &str, args: &[&str]) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(wav).unwrap()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

/// `specc stream SPEC SETS FLAGS -o` fed `wav` on stdin writes the same bytes as
/// `specc run SPEC wav SETS`.
fn same_file_as_run(dir: &std::path::Path, wav: &str, spec: &str, sets: &[&str], flags: &[&str]) {
    use std::process::Command;
    let (streamed, whole) = (dir.join(format!("{spec}_stream.npy")), dir.join(format!("{spec}_run.npy")));
    let o = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["run", spec, wav, "-o"])
        .arg(&whole)
        .args(sets)
        .output();
    let o = o.unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = streamed.to_str().unwrap();
    stream_wav(wav, &[&["stream", spec, "-o", out], sets, flags].concat());
    assert_eq!(
        std::fs::read(&streamed).unwrap(),
        std::fs::read(&whole).unwrap(),
        "{spec} {sets:?} {flags:?}"
    );
}

/// The README's table of which presets stream (with their defaults, and with the `--set`
/// values it names), with each one's latency and warm-up in samples.
#[test]
fn which_presets_stream_as_the_readme_says() {
    // (preset, sets, Some((latency, warm-up)) when it streams)
    type Row<'a> = (&'a str, &'a [&'a str], Option<(usize, usize)>);
    let table: &[Row] = &[
        ("kaldi_fbank", &[], Some((400, 0))),
        ("kaldi_fbank", &["snip_edges=false"], Some((280, 121))),
        ("kaldi_fbank", &["subtract_mean=true"], None),
        ("kaldi_mfcc", &[], Some((400, 0))),
        ("torchaudio_mel", &[], Some((200, 201))),
        ("torchaudio_mfcc", &[], None),
        ("torchaudio_mfcc", &["log_mels=true"], Some((200, 201))),
        // deltas=2 of width 5 read 2·2 frames ahead, 200 samples each.
        ("torchaudio_mfcc", &["log_mels=true", "deltas=2"], Some((200 + 4 * 200, 201))),
        ("librosa_mel", &[], None),
        ("librosa_mel", &["top_db=none"], Some((1024, 0))),
        ("librosa_mel", &["power_to_db=false"], Some((1024, 0))),
        ("librosa_stft", &[], None),
        ("librosa_stft", &["top_db=none"], Some((1024, 0))),
        ("librosa_mfcc", &[], None),
        ("keras_mel", &[], None),
        ("keras_mel", &["power_to_db=false"], Some((1024, 1025))),
        ("keras_stft", &[], Some((256, 0))),
        ("keras_stft", &["padding=same"], None),
        ("whisper", &[], None),
    ];
    for (preset, sets, expect) in table {
        let p = Pipeline::preset(preset, sets).unwrap();
        let got = p.stream().ok().map(|s| (s.latency(), s.warmup()));
        assert_eq!(got, *expect, "{preset} {sets:?}");
    }
}

/// `specc bench --stream` reports per-push latency and throughput (timing itself is not
/// checked here: tests do not time).
#[test]
fn bench_streams_in_chunks() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
        .args([
            "bench",
            "torchaudio_mel",
            "--batch",
            "1",
            "--seconds",
            "0.5",
            "--runs",
            "1",
            "--stream",
            "10ms",
            "--json",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("\"stream_chunk\": 160, \"stream_group\": 1, \"pushes\": 50,")
            && out.contains("push_p99_us"),
        "{out}"
    );
    // Grouped by the kernels' block, with Whisper's clip running: the same pushes.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["bench", "whisper", "--batch", "1", "--seconds", "0.5", "--runs", "1", "--json"])
        .args(["--stream", "10ms", "--stream-group", "block", "--stream-clip", "running"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("\"stream_chunk\": 160, \"stream_group\": ") && out.contains("\"pushes\": 50,"),
        "{out}"
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["bench", "whisper", "--stream", "10ms", "--stream-group", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "a group of 0 frames is a usage error");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["bench", "kaldi_fbank", "--stream", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Kaldi fbank streamed against an independent online implementation: kaldi-native-fbank's
/// `OnlineFbank` (tests/golden/gen_stream.py) fed the same samples in the same chunks. Each push
/// must emit exactly the frames `OnlineFbank` had ready after that chunk (a frame comes out in
/// the push that completes it), and the frames must match within the Kaldi goldens' "log"
/// tolerance: |e^got - e^want| <= 1e-4 e^want + 1e-5 max e^want.
#[test]
fn kaldi_fbank_streams_as_kaldi_native_fbank_online() {
    let dir = std::path::Path::new("tests/golden/fixtures");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("stream/manifest.json")).unwrap()).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let sets: Vec<String> = case["set"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let p = Pipeline::preset(case["spec"].as_str().unwrap(), &sets).unwrap();
        let x = match specc::npy::read(&dir.join(case["input"].as_str().unwrap())).unwrap() {
            specc::npy::Array::F32(a) => a,
            _ => panic!("{name}: float32 input expected"),
        };
        let want = match specc::npy::read(&dir.join(case["expected"].as_str().unwrap())).unwrap() {
            specc::npy::Array::F32(a) => a,
            _ => panic!("{name}: float32 frames expected"),
        };
        let mut st = p.stream().unwrap();
        let mut parts = Vec::new();
        let mut at = 0;
        let chunks = case["chunks"].as_array().unwrap();
        let ready = case["frames_ready"].as_array().unwrap();
        for (c, r) in chunks.iter().zip(ready) {
            let b = at + c.as_u64().unwrap() as usize;
            let out = st.push(&Input::F32(x.slice_axis(Axis(1), Slice::from(at..b)))).unwrap();
            parts.push(out);
            at = b;
            assert_eq!(st.emitted() as u64, r.as_u64().unwrap(), "{name}: frames out after {at} samples");
        }
        assert_eq!(at, x.shape()[1], "{name}: the chunks cover the input");
        let axis = st.time_axis().unwrap();
        parts.push(st.finish().unwrap());
        let Output::F32(got) = concat(&parts, axis) else { panic!("{name}: f32 output") };
        assert_eq!(
            got.shape()[axis] as u64,
            case["frames_at_finish"].as_u64().unwrap(),
            "{name}: frames at finish"
        );
        assert_eq!(got.shape(), want.shape(), "{name}");
        let max = want.iter().map(|&v| (v as f64).exp()).fold(0.0, f64::max);
        for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
            let (g, w) = ((g as f64).exp(), (w as f64).exp());
            assert!((g - w).abs() <= 1e-4 * w + 1e-5 * max, "{name}: value {i}: {g} vs {w}");
        }
    }
}

/// Pushes `x` (f32, samples on `axis`) in the given chunk sizes (cycled), then finishes: the
/// parts, the finish part last.
fn push_all(st: &mut specc::Stream, x: &ArrayD<f32>, axis: usize, sizes: &[usize]) -> Vec<Output> {
    let n = x.shape()[axis];
    let (mut parts, mut at, mut i) = (Vec::new(), 0, 0);
    while at < n {
        let b = (at + sizes[i % sizes.len()]).min(n);
        parts.push(st.push(&Input::F32(x.slice_axis(Axis(axis), Slice::from(at..b)))).unwrap());
        at = b;
        i += 1;
    }
    parts.push(st.finish().unwrap());
    parts
}

/// Keras's top_db maximum propagates NaN below 4096 values and skips it from 4096 (XLA's CPU
/// `reduce_max`): the deferred clip counts every frame pushed, not the last push's, so a NaN
/// frame in a long stream clips as offline. One clip of 8000 samples is 16 frames x 128 bands
/// (2048 values: every value NaN); two are 4096 (only the NaN frames).
#[test]
fn the_deferred_keras_clip_counts_every_pushed_frame_for_nan() {
    let p = Pipeline::preset("keras_mel", &[]).unwrap();
    for (clips, nan_values) in [(1usize, 2048usize), (2, 4 * 128)] {
        let mut rng = Rng(11);
        let mut x = ArrayD::<f32>::from_shape_fn(IxDyn(&[clips, 8000]), |_| rng.unit() as f32);
        x[[0, 3000]] = f32::NAN;
        let offline = p.run(&Input::F32(x.view())).unwrap().to_f64();
        assert_eq!(offline.iter().filter(|v| v.is_nan()).count(), nan_values, "{clips} clips offline");
        let mut st = p.stream_deferred().unwrap();
        let mut got = concat(&push_all(&mut st, &x, 1, &[700, 1, 160]), st.time_axis().unwrap());
        st.apply_clip(&mut got).unwrap();
        let got = got.to_f64();
        assert_eq!(got.len(), offline.len());
        for (g, o) in got.iter().zip(&offline) {
            assert!(
                (g.is_nan() && o.is_nan()) || (g - o).abs() <= 1e-4 * (1.0 + o.abs()),
                "{clips}: {g} vs {o}"
            );
        }
    }
}

/// The running clip mode: each push's frames are clipped against the maximum of every frame so
/// far. When the loudest frames come in the first push, that maximum is the signal's from the
/// start and the stream equals the offline run bit for bit, for every spec with such a clip;
/// the frames of `finish` are clipped against the whole signal's maximum, as offline.
#[test]
fn the_running_clip_clips_against_the_maximum_so_far() {
    for (name, p, _) in deferred_variants() {
        let (shape, axis) = shape_of(p, 2, 9000);
        let mut rng = Rng(7);
        // Loud for the first 3000 samples (inside the first push), quiet after.
        let x = ArrayD::<f32>::from_shape_fn(IxDyn(&shape), |ix| {
            let t = ix[axis];
            let a = if t < 3000 { 1.0 } else { 1e-3 };
            (a * rng.unit()) as f32
        });
        let offline = p.run(&Input::F32(x.view())).unwrap();
        let mut st = p.stream_with(specc::ClipMode::Running).unwrap();
        assert_eq!(st.mode(), specc::ClipMode::Running);
        let parts = push_all(&mut st, &x, axis, &[4000, 1, 160, 997, 13]);
        let got = concat(&parts, st.time_axis().unwrap());
        assert!(bits(&got) == bits(&offline), "{name}: loud first, running clip differs from offline");
        // Quiet first: the early frames had a lower maximum, so they differ; the frames of
        // `finish` (the last ones) are clipped as offline.
        let x = x.slice_axis(Axis(axis), Slice::from(3000..)).to_owned();
        let x = concatenate(Axis(axis), &[x.view(), x.view(), (x.mapv(|v| v * 1000.0)).view()]).unwrap();
        let offline = p.run(&Input::F32(x.view())).unwrap();
        let parts = push_all(&mut st, &x, axis, &[1000, 7, 160]);
        let t = st.time_axis().unwrap();
        let got = concat(&parts, t);
        assert_eq!(got.shape(), offline.shape(), "{name}");
        let last = parts.last().unwrap().shape()[t];
        let frames = got.shape()[t];
        let tail = |o: &Output| match o {
            Output::F32(a) => Output::F32(a.slice_axis(Axis(t), Slice::from(frames - last..)).to_owned()),
            Output::F64(a) => Output::F64(a.slice_axis(Axis(t), Slice::from(frames - last..)).to_owned()),
        };
        assert!(bits(&tail(&got)) == bits(&tail(&offline)), "{name}: finish's frames differ from offline");
        assert!(bits(&got) != bits(&offline), "{name}: quiet first, the running clip should differ");
    }
}

/// Whisper's running clip by hand: each push's frames are `(max(u, m - 8) + 4) / 4` of the
/// unclipped values `u` (the deferred mode's), `m` the maximum of `u` over every frame so far.
#[test]
fn whisper_running_clip_by_hand() {
    let p = Pipeline::preset("whisper", &[]).unwrap();
    let mut rng = Rng(11);
    // Rising loudness, with near-silent stretches that fall under the rising floor.
    let x = ArrayD::<f32>::from_shape_fn(IxDyn(&[16000]), |ix| {
        let t = ix[0];
        let a = if (t / 800) % 2 == 0 { 10f64.powf(-6.0 + 6.0 * t as f64 / 16000.0) } else { 1e-7 };
        (a * rng.unit()) as f32
    });
    let sizes = [320, 1, 2000, 161];
    let running = push_all(&mut p.stream_with(specc::ClipMode::Running).unwrap(), &x, 0, &sizes);
    let raw = push_all(&mut p.stream_deferred().unwrap(), &x, 0, &sizes);
    let mut m = f64::NEG_INFINITY;
    let mut differs = 0;
    for (r, u) in running.iter().zip(&raw) {
        let (Output::F32(r), Output::F32(u)) = (r, u) else { panic!("f32 out") };
        m = u.iter().fold(m, |m, &v| m.max(v as f64));
        let floor = (m - 8.0) as f32;
        for (a, &b) in r.iter().zip(u) {
            let want = b.max(floor) * 0.25 + 1.0;
            assert_eq!(a.to_bits(), want.to_bits(), "{a} vs {want} (u {b}, max {m})");
        }
        differs += usize::from(u.iter().any(|&v| v < floor));
    }
    assert!(differs > 1, "the test signal should clip in several pushes");
}

/// `set_group(n)`: every push returns a multiple of `n` frames (holding the rest), `finish` the
/// remainder, and the concatenation is still the offline run bit for bit.
#[test]
fn grouped_frames_come_out_in_multiples_and_equal_offline() {
    for (spec, sets) in [
        ("kaldi_fbank", &[][..]),
        ("torchaudio_mel", &["n_mels=40"][..]),
        ("torchaudio_mfcc", &["log_mels=true", "deltas=2"][..]),
    ] {
        let p = Pipeline::preset(spec, sets).unwrap();
        let (shape, axis) = shape_of(&p, 2, 7001);
        let mut rng = Rng(3);
        let scale = if spec.starts_with("kaldi") { 32768.0 } else { 1.0 };
        let x = ArrayD::<f32>::from_shape_fn(IxDyn(&shape), |_| (rng.unit() * scale) as f32);
        let offline = p.run(&Input::F32(x.view())).unwrap();
        let block = p.stream().unwrap().block_frames();
        assert!([2, 4, 8].contains(&block), "{spec}: block of {block}");
        for group in [block, 3] {
            let mut st = p.stream().unwrap();
            st.set_group(group);
            assert_eq!(st.group(), group);
            let parts = push_all(&mut st, &x, axis, &[160, 1, 997, 0, 5]);
            let t = st.time_axis().unwrap();
            for part in &parts[..parts.len() - 1] {
                assert_eq!(part.shape()[t] % group, 0, "{spec}: group {group}");
            }
            assert!(
                parts[..parts.len() - 1].iter().any(|p| p.shape()[t] > 0),
                "{spec}: frames before finish"
            );
            assert!(bits(&concat(&parts, t)) == bits(&offline), "{spec}: group {group} differs from offline");
        }
    }
}
