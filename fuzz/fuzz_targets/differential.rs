//! Target (b): valid parameters and arbitrary inputs, JIT against the interpreter. The bytes
//! choose a preset and one of 32 param sets for it (each drawn within the params' valid ranges
//! from a fixed seed, so compiled pipelines are reused: see `SETS`), a batch shape, a length (capped
//! so that one input is at most `WORK` FFT input samples a row), and the samples (16-bit values
//! scaled by 1, 1e-6 or 1e6, optionally with NaN or ±inf at a position).
//! Both engines must accept or reject alike; outputs must agree in shape, NaN positions and
//! infinities, and in value within the tolerances of `tests/differential.rs` (dB 2e-3 within
//! 60 dB of the maximum, 0.05 dB down to 100 dB below it; linear 1e-4·|ref| + 1e-5·max|ref|;
//! a real or imaginary part 1e-4·|ref| + 1e-5·max|X|, the complex spectrum's largest magnitude;
//! natural log on exp(x); cepstra 2e-3 + 1e-4·max|ref|). Angles are not drawn here (the property
//! test covers them). The cepstral presets (torchaudio, librosa and Kaldi MFCCs with lifters,
//! deltas and mean subtraction) exercise the dense and cross-frame kernels.
#![no_main]

use std::collections::HashMap;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use specc::{Engine, Input, Pipeline};

/// Pipelines already compiled, by preset and `--set` values: libFuzzer's mutations mostly
/// change the samples and keep the leading bytes that choose the params, so most inputs reuse
/// a compiled pipeline (its JIT program and interpreter graph) instead of compiling again.
/// Bounded: cleared when it reaches `CACHED` entries.
static PIPELINES: Mutex<Option<HashMap<(&'static str, Vec<String>), Option<Pipelines>>>> = Mutex::new(None);
const CACHED: usize = 256;

/// One param set's JIT and interpreter pipelines, and for a real or imaginary part the
/// interpreter's pipeline of the other part (for the spectrum's magnitude).
#[derive(Clone)]
struct Pipelines {
    jit: Pipeline,
    interp: Pipeline,
    other_part: Option<Pipeline>,
}

/// The pipelines of `preset` with `sets`, or None if it does not compile.
fn pipelines(preset: &'static str, sets: &[String]) -> Option<Pipelines> {
    let mut guard = PIPELINES.lock().unwrap_or_else(|e| e.into_inner());
    let cache = guard.get_or_insert_with(HashMap::new);
    if cache.len() >= CACHED {
        cache.clear();
    }
    cache
        .entry((preset, sets.to_vec()))
        .or_insert_with(|| {
            let refs: Vec<&str> = sets.iter().map(String::as_str).collect();
            let p = Pipeline::preset(preset, &refs).ok()?;
            let other = match refs.iter().find(|s| s.starts_with("mode=")) {
                Some(&"mode=real") => Some("mode=imag"),
                Some(&"mode=imag") => Some("mode=real"),
                _ => None,
            };
            let other_part = other.map(|mode| {
                let sets: Vec<&str> =
                    refs.iter().map(|s| if s.starts_with("mode=") { mode } else { s }).collect();
                Pipeline::preset(preset, &sets).expect("the other part compiles").with_engine(Engine::Interp)
            });
            Some(Pipelines {
                jit: p.clone().with_engine(Engine::Jit),
                interp: p.with_engine(Engine::Interp),
                other_part,
            })
        })
        .clone()
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        let v = u16::from_le_bytes([self.byte(), self.byte()]) as usize;
        lo + v % (hi - lo + 1)
    }
}

/// Param sets per preset: 7 × 32 pipelines fit the cache (`CACHED`), so after the first
/// input of each set every input runs compiled code instead of compiling (a JIT program and
/// an interpreter graph per new param set held the target to 4–46 executions a second).
/// tests/differential.rs draws params freely; this target explores inputs against many fixed
/// programs.
const SETS: u8 = 32;

/// The bytes params are drawn from for menu `set` of `preset` (splitmix64 of both).
fn menu(preset: u8, set: u8) -> [u8; 64] {
    let mut x = (u64::from(preset) << 8 | u64::from(set % SETS)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut out = [0u8; 64];
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

/// FFT input samples one input may cost (frames × FFT length, per batch row).
const WORK: usize = 1 << 13;

/// `n` samples, or fewer where `n` would cost more than `WORK` at this FFT length and hop: the
/// f64 interpreter's odd-length DFTs (Bluestein, under the fuzzer's comparison tracing) take
/// ~0.4 ms a frame: a stride-1 input of 6000 samples took seconds, and 2^16 still held the
/// target to ~30 executions a second (`perf`: 80% in `fft_plan::run`). Lengths below the cap (and
/// every hop and FFT length) are still drawn; long inputs are `tests/differential.rs`'s.
fn capped(n: usize, fft: usize, hop: usize) -> usize {
    n.min(WORK / fft * hop + fft)
}

#[derive(Clone, Copy)]
enum Kind {
    Db(f64),
    Linear,
    /// The real or imaginary part of a complex spectrum: float32 FFT round-off is relative to the
    /// spectrum's magnitude, and one part can be near zero where the other is not (finding 8).
    Part,
    Ln,
    /// Cepstra (and their deltas): linear maps of log mels, within 2e-3 + 1e-4 of the largest
    /// (`tests/differential.rs`, `jit_cepstral_stages_match_the_interpreter`).
    Cepstra,
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    // The params come from one of `SETS` menus per preset (the bytes pick which); the lengths,
    // shapes and samples from the input itself.
    let preset_byte = b.byte();
    let seed = menu(preset_byte % 7, b.byte());
    let mut p = Bytes(&seed);
    let (preset, sets, kind, shape): (&str, Vec<String>, Kind, Vec<usize>) = match preset_byte % 7 {
        0 => {
            let db = p.byte() % 2 == 0;
            let (fft, hop) = (p.range(2, 600), p.range(1, 300));
            (
                "keras_mel",
                vec![
                    format!("fft_length={fft}"),
                    format!("sequence_stride={hop}"),
                    format!("num_mel_bins={}", p.range(1, 40)),
                    String::from("min_freq=0"),
                    format!("power_to_db={db}"),
                ],
                if db { Kind::Db(10.0) } else { Kind::Linear },
                vec![b.range(1, 3), capped(b.range(1, 6000), fft, hop)],
            )
        }
        1 => {
            let (mode, kind) = [
                ("log", Kind::Ln),
                ("magnitude", Kind::Linear),
                ("psd", Kind::Linear),
                ("real", Kind::Part),
                ("imag", Kind::Part),
                ("stft", Kind::Linear),
            ][p.byte() as usize % 6];
            let frame = p.range(4, 300);
            let (step, fft) = (p.range(1, frame), frame + p.range(0, 64));
            (
                "keras_stft",
                vec![
                    format!("mode={mode}"),
                    format!("frame_length={frame}"),
                    format!("frame_step={step}"),
                    format!("fft_length={fft}"),
                    format!("padding={}", if p.byte() % 2 == 0 { "same" } else { "valid" }),
                ],
                kind,
                vec![b.range(1, 2), capped(b.range(1, 5000), fft, step), b.range(1, 2)],
            )
        }
        2 => {
            let (fft, hop) = (p.range(2, 600), p.range(1, 300));
            (
                "librosa_mel",
                vec![
                    format!("n_fft={fft}"),
                    format!("hop_length={hop}"),
                    format!("n_mels={}", p.range(1, 40)),
                    String::from("pad_mode=reflect"),
                    // librosa's ref=np.max: a whole-tensor shift before the top_db clip.
                    format!("ref={}", if p.byte() % 2 == 0 { "max" } else { "1.0" }),
                ],
                Kind::Db(10.0),
                vec![capped(b.range(1, 6000), fft, hop)],
            )
        }
        3 => {
            let (fft, hop) = (p.range(2, 600), p.range(1, 300));
            (
                "torchaudio_mel",
                vec![
                    format!("n_fft={fft}"),
                    format!("hop_length={hop}"),
                    format!("n_mels={}", p.range(1, 40)),
                ],
                Kind::Db(10.0),
                vec![b.range(1, 2), capped(b.range(1, 6000), fft, hop)],
            )
        }
        4 => ("whisper", vec![], Kind::Db(0.25), vec![b.range(1, 8000)]),
        5 => {
            // The cepstral stages: the dense DCT (in the blocks or after a clip), lifters,
            // deltas in both modes, Kaldi's mean subtraction.
            let bands = p.range(2, 48);
            let ceps = p.range(1, bands);
            let deltas = p.range(0, 2);
            match p.byte() % 3 {
                0 => (
                    "torchaudio_mfcc",
                    vec![
                        format!("n_mels={bands}"),
                        format!("n_mfcc={ceps}"),
                        format!("log_mels={}", p.byte() % 2 == 0),
                        format!("norm={}", if p.byte() % 2 == 0 { "ortho" } else { "none" }),
                        format!("deltas={deltas}"),
                        format!("delta_win_length={}", p.range(3, 9)),
                    ],
                    Kind::Cepstra,
                    vec![b.range(1, 2), b.range(400, 6000)],
                ),
                1 => {
                    let hop = p.range(64, 256);
                    (
                        "librosa_mfcc",
                        vec![
                            String::from("sr=16000"),
                            String::from("n_fft=512"),
                            format!("hop_length={hop}"),
                            format!("n_mels={bands}"),
                            format!("n_mfcc={ceps}"),
                            format!("lifter={}", [0, 22, 7][p.byte() as usize % 3]),
                            format!("deltas={deltas}"),
                            format!("delta_width={}", [3, 5, 9][p.byte() as usize % 3]),
                        ],
                        Kind::Cepstra,
                        vec![capped(b.range(1, 6000), 512, hop)],
                    )
                }
                _ => (
                    "kaldi_mfcc",
                    vec![
                        format!("num_mel_bins={bands}"),
                        format!("num_ceps={}", ceps.max(2).min(bands)),
                        format!("cepstral_lifter={}", [0, 22, 7][p.byte() as usize % 3]),
                        format!("use_energy={}", p.byte() % 2 == 0),
                        format!("subtract_mean={}", p.byte() % 2 == 0),
                    ],
                    Kind::Cepstra,
                    vec![1, b.range(400, 6000)],
                ),
            }
        }
        _ => {
            let log = p.byte() % 2 == 0;
            (
                "kaldi_fbank",
                vec![format!("num_mel_bins={}", p.range(1, 30)), format!("use_log_fbank={log}")],
                if log { Kind::Ln } else { Kind::Linear },
                vec![2, b.range(1, 6000)],
            )
        }
    };
    let scale = [1.0f64, 1e-6, 1e6][b.byte() as usize % 3];
    let special = b.byte();
    let len: usize = shape.iter().product();
    let mut x: Vec<f32> = (0..len)
        .map(|_| (i16::from_le_bytes([b.byte(), b.byte()]) as f64 / 32768.0 * scale) as f32)
        .collect();
    if special % 4 == 1 {
        let i = b.range(0, len - 1);
        x[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][special as usize / 4 % 3];
    }
    let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), x).expect("shape");
    let Some(pipes) = pipelines(preset, &sets) else { return };
    let run = |p: &Pipeline| p.run(&Input::F32(a.view())).map(|o| o.to_f64());
    let (got, want) = (run(&pipes.jit), run(&pipes.interp));
    let (got, want) = match (got, want) {
        (Ok(g), Ok(w)) => (g, w),
        (Err(_), Err(_)) => return,
        (g, w) => panic!("{preset} {sets:?} {shape:?}: JIT {:?}, interpreter {:?}", g.err(), w.err()),
    };
    assert_eq!(got.len(), want.len());
    let top = want.iter().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let abs_max = want.iter().filter(|v| v.is_finite()).fold(0f64, |m, &v| m.max(v.abs()));
    let lin_max = want
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f64, |m, &v| m.max(if matches!(kind, Kind::Ln) { v.exp() } else { v.abs() }));
    let mag_max = pipes.other_part.as_ref().map_or(0.0, |p| {
        let other = run(p).expect("the other part runs where this one did");
        want.iter().zip(other.iter()).map(|(a, b)| a.hypot(*b)).filter(|v| v.is_finite()).fold(0f64, f64::max)
    });
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        if !g.is_finite() || !w.is_finite() {
            assert!(
                (g.is_nan() && w.is_nan()) || g == w,
                "{preset} {sets:?} {shape:?} element {i}: JIT {g}, interpreter {w}"
            );
            continue;
        }
        let ok = match kind {
            Kind::Db(unit) => {
                let below = (top - w) * 10.0 / unit;
                let tol = if below <= 60.0 { 2e-3 } else { 0.05 } * unit / 10.0;
                (g - w).abs() <= tol || (below > 100.0 && (top - g) * 10.0 / unit >= 90.0)
            }
            Kind::Linear => (g - w).abs() <= 1e-4 * w.abs() + 1e-5 * lin_max,
            Kind::Part => (g - w).abs() <= 1e-4 * w.abs() + 1e-5 * mag_max,
            Kind::Ln => (g.exp() - w.exp()).abs() <= 1e-4 * w.exp() + 1e-5 * lin_max,
            Kind::Cepstra => (g - w).abs() <= 2e-3 + 1e-4 * abs_max,
        };
        assert!(ok, "{preset} {sets:?} {shape:?} element {i}: JIT {g}, interpreter {w} (max {top})");
    }
});
