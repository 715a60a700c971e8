//! Goldens: every case in `tests/golden/fixtures/manifest.json` was computed by the real library
//! (Keras 3.15.1 on JAX, librosa 0.11, torchaudio 2.11, openai-whisper) by
//! `tests/golden/gen.py`. Each runs here through the public API and must match:
//!
//! | compare | what                                   | tolerance                                   |
//! |---------|----------------------------------------|---------------------------------------------|
//! | db      | dB outputs                             | abs <= 2e-3 dB                              |
//! | linear  | power, magnitude, psd, real, imag      | abs <= 1e-4 * |ref| + 1e-5 * max|ref|        |
//! | log     | natural-log magnitude (Keras mode=log) | `linear` on exp(x), the magnitude            |
//! | angle   | phase, modulo 2 pi                     | abs <= 2e-3 rad where magnitude >= 1e-3 max |
//! | whisper | (log10 + 4) / 4                        | abs <= 5e-5 (= 2e-3 dB); 1e-4 within 10 dB of the clip floor |
//! | cepstral | MFCCs and their deltas (DCT of dB or ln) | abs <= 5e-3 + 1e-6 * max|ref|              |
//!
//! The `max|ref|` term of `linear` covers entries that cancel to nearly zero, where the library's
//! own float32 rounding dominates: a float32 sum of L terms (Keras's STFT is a length-L
//! convolution) carries an absolute error of about sqrt(L) * 6e-8 of its largest term, 1e-6 for
//! L = 256, so 1e-5 of the tensor's maximum leaves a margin of ten. Output dtype and shape must
//! equal the library's. Cases with `error` must be rejected with an error, never a panic.
//!
//! Whisper's outputs within 10 dB of its clip floor (70-80 dB below the batch's loudest bin) get
//! 1e-4 (4e-3 dB): there float32 FFT round-off of both implementations is what differs (torch's
//! own result is 4.6e-5 from the exact f64 one at such a bin of `whisper_80`, the JIT's 1.1e-5).
//!
//! `cepstral`: a DCT row sums K dB (or ln) values with weights of norm 1 (ortho; 2 sqrt(K/2)
//! unnormalised), times a lifter of up to 1 + L/2. The library computes in float32: each dB value
//! carries a relative rounding error of a few 2^-24 (`10 log10` of a float32 power, the mel sum),
//! and c0 — the sum itself, up to ~600 for 128 bands of -50 dB — is rounded once more, 2^-24 of
//! its magnitude (6e-5 at 600, as measured on speech). 1e-6 of the largest coefficient covers
//! those roundings with a margin of ten. 5e-3 absolute covers the float32 round-off of the log of
//! quiet bands, which the DCT spreads over every coefficient and a lifter multiplies (Kaldi's
//! `cepstral_lifter=22` weighs c7 by 10.3): on `kaldi_mfcc_default` torchaudio's own float32
//! result is 2.35e-3 from the same call in float64, specc's (f64 interpreter) 2.6e-4 from it.
//!
//! Every case runs on the JIT (both ISAs) as well as on the interpreter, with no fallback: the
//! MFCC presets included (a DCT after a top_db clip as a dense stage over staged values, deltas
//! as a cross-frame stage).
//!
//! One case is compared differently, for a stated reason (see `NOISE_FLOOR_CASES`).

mod common;

use common::{fixtures, golden_cases, Case};
use specc::{npy, Engine, IsaChoice, Pipeline};

fn pipeline(c: &Case, extra: &[String]) -> Result<Pipeline, specc::Error> {
    let mut s = c.sets();
    s.extend(extra.iter().cloned());
    let refs: Vec<&str> = s.iter().map(|x| x.as_str()).collect();
    Pipeline::preset(&c.spec, &refs)
}

/// Cases whose whole output is float32 round-off of the library: exact arithmetic gives the
/// `min_power` floor (-100 dB) where the library's float32 FFT leaves noise 4-10 dB above it.
/// There both must be at or below -90 dB (more than 90 dB below the signal's level).
const NOISE_FLOOR_CASES: &[&str] = &["keras_mel_one_sample"];

/// Worst violation of the tolerance (<= 1 passes) and the worst absolute error.
fn compare(c: &Case, got: &[f64], want: &[f64], magnitude: Option<&[f64]>) -> (f64, f64) {
    let log = c.compare.as_deref() == Some("log");
    let lin = |v: f64| if log { v.exp() } else { v };
    let max_ref = want.iter().fold(0.0f64, |m, v| if v.is_finite() { m.max(lin(*v).abs()) } else { m });
    let floor_case = NOISE_FLOOR_CASES.contains(&c.name.as_str());
    // Whisper clips at max - 8 (log10 units), which is the smallest output.
    let whisper_floor = want.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
    let mut worst = 0.0f64;
    let mut worst_abs = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() || g.is_nan() || w.is_infinite() || g.is_infinite() {
            // Non-finite values must agree exactly (NaN with NaN, inf with the same inf).
            let same = (w.is_nan() && g.is_nan()) || w == g;
            if !same {
                return (f64::INFINITY, f64::INFINITY);
            }
            continue;
        }
        let (err, tol) = match c.compare.as_deref() {
            Some("db") if floor_case => (g.max(w) + 90.0, 90.0),
            Some("db") => ((g - w).abs(), 2e-3),
            Some("linear") | Some("log") => {
                let (g, w) = (lin(g), lin(w));
                ((g - w).abs(), 1e-4 * w.abs() + 1e-5 * max_ref)
            }
            Some("cepstral") => ((g - w).abs(), 5e-3 + 1e-6 * max_ref),
            Some("whisper") => ((g - w).abs(), if w < whisper_floor + 0.25 { 1e-4 } else { 5e-5 }),
            Some("angle") => {
                let m = magnitude.expect("angle cases have magnitudes");
                let mmax = m.iter().fold(0.0f64, |a, &b| a.max(b));
                if m[i] < 1e-3 * mmax {
                    continue;
                }
                let d = (g - w).rem_euclid(2.0 * std::f64::consts::PI);
                (d.min(2.0 * std::f64::consts::PI - d), 2e-3)
            }
            other => panic!("{}: unknown compare kind {other:?}", c.name),
        };
        worst_abs = worst_abs.max(err);
        worst = worst.max(err / tol);
    }
    (worst, worst_abs)
}

fn run_case(c: &Case, engine: Engine, isa: IsaChoice) -> Result<String, String> {
    let input = npy::read(&fixtures().join(&c.input)).map_err(|e| format!("reading input: {e}"))?;
    let result = pipeline(c, &[]).and_then(|p| {
        let p = p.with_engine(engine).with_isa(isa);
        // The JIT must really run every golden case: no silent fallback to the interpreter.
        if let (Engine::Jit, Ok(plan)) = (engine, p.plan(input.view().shape(), input.view().dtype_name())) {
            if let (Engine::Interp, Some(why)) = p.engine_for(plan.precision) {
                return Err(specc::Error::Internal(format!("the JIT cannot run this case: {why}")));
            }
        }
        p.run(&input.view())
    });
    if let Some(err) = &c.error {
        return match result {
            Err(e) => Ok(format!("rejected as the library does: {e}")),
            Ok(y) => Err(format!(
                "the library rejects this ({}) but specc returned {:?}",
                err.lines().next().unwrap_or(""),
                y.shape()
            )),
        };
    }
    if c.shape.as_ref().is_some_and(|s| s.contains(&0)) {
        // An empty result (Kaldi's `min_duration`: torch.empty(0)) has no (frames, mel) layout.
        return match result {
            Err(e) if e.to_string().contains("min_duration") => {
                Ok(format!("rejected, the library returns empty: {e}"))
            }
            Err(e) => Err(format!("the library returns an empty tensor; specc's error must say why: {e}")),
            Ok(y) => Err(format!("the library returns an empty tensor, specc {:?}", y.shape())),
        };
    }
    let y = result.map_err(|e| format!("specc failed: {e:?}"))?;
    let expected = npy::read(&fixtures().join(c.expected.as_ref().expect("expected file")))
        .map_err(|e| format!("reading expected: {e}"))?;
    let want_view = expected.view();
    if y.shape() != want_view.shape() {
        return Err(format!("shape {:?}, library gives {:?}", y.shape(), want_view.shape()));
    }
    let got_dtype = match &y {
        specc::Output::F32(_) => "float32",
        specc::Output::F64(_) => "float64",
    };
    if got_dtype != want_view.dtype_name() {
        return Err(format!("dtype {got_dtype}, library gives {}", want_view.dtype_name()));
    }
    let want: Vec<f64> = match &expected {
        npy::Array::F32(a) => a.iter().map(|&v| v as f64).collect(),
        npy::Array::F64(a) => a.iter().copied().collect(),
        npy::Array::I16(_) => return Err(String::from("int16 expected output")),
    };
    let mag = if c.compare.as_deref() == Some("angle") {
        let mut c2 = c.clone();
        c2.set.insert(String::from("mode"), String::from("magnitude"));
        let p = pipeline(&c2, &[]).map_err(|e| e.to_string())?.with_engine(engine).with_isa(isa);
        Some(p.run(&input.view()).map_err(|e| e.to_string())?.to_f64())
    } else {
        None
    };
    let (worst, worst_abs) = compare(c, &y.to_f64(), &want, mag.as_deref());
    if worst > 1.0 {
        return Err(format!(
            "exceeds tolerance by {worst:.2}x (max abs error {worst_abs:.3e}, compare {})",
            c.compare.as_deref().unwrap_or("?")
        ));
    }
    Ok(format!("max abs error {worst_abs:.2e} ({:.0}% of tolerance)", worst * 100.0))
}

fn run_all(engine: Engine, isa: IsaChoice) {
    let cases = golden_cases();
    assert!(cases.len() > 50, "the manifest should hold the full golden set");
    let mut failures = Vec::new();
    for c in &cases {
        match run_case(c, engine, isa) {
            Ok(msg) => eprintln!("ok   {:<44} {msg}", c.name),
            Err(msg) => {
                eprintln!("FAIL {:<44} {msg}", c.name);
                failures.push(format!("{}: {msg}", c.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn goldens_interpreter() {
    run_all(Engine::Interp, IsaChoice::Native);
}

#[test]
fn goldens_jit() {
    run_all(Engine::Jit, IsaChoice::Native);
}

/// The same cases with machine code for the x86-64 baseline (SSE2, no FMA).
#[test]
fn goldens_jit_baseline_isa() {
    run_all(Engine::Jit, IsaChoice::Baseline);
}

/// The same cases with the FFT on the AVX2+FMA wide kernels (8 frames per block) wherever the
/// kernel plan offers them; on a CPU without AVX2 and FMA this is the host path again.
#[test]
fn goldens_jit_avx2_wide() {
    if specc_compiler::wide::Avx2::detect().is_none() {
        eprintln!("this CPU lacks AVX2 or FMA: IsaChoice::Avx2 runs the 128-bit path");
    }
    run_all(Engine::Jit, IsaChoice::Avx2);
}

/// Every golden case on the wide path against the 128-bit path (but angles): the largest
/// difference, relative to the case's largest magnitude (printed), stays below 1e-4 of it; NaN
/// and inf land on the same elements; and on an AVX2
/// machine the wide kernels really ran (the program says so) for the cases whose plan offers
/// them.
#[test]
fn wide_path_against_the_128_bit_path() {
    let Some(_) = specc_compiler::wide::Avx2::detect() else {
        eprintln!("this CPU lacks AVX2 or FMA: nothing to compare");
        return;
    };
    let (mut worst, mut worst_case, mut wide_cases) = (0.0f64, String::new(), 0);
    for c in golden_cases() {
        // Angles of bins near zero magnitude flip between ±π with any rounding difference:
        // those cases are held to the library's tolerance by the golden tests above.
        if c.error.is_some() || c.compare.as_deref() == Some("angle") {
            continue;
        }
        let input = npy::read(&fixtures().join(&c.input)).expect("input");
        let run = |isa: IsaChoice| {
            let p = pipeline(&c, &[]).ok()?.with_engine(Engine::Jit).with_isa(isa);
            let plan = p.plan(input.view().shape(), input.view().dtype_name()).ok()?;
            let kernels = p.jit_kernels(plan.precision).ok()?;
            Some((p.run(&input.view()).ok()?.to_f64(), kernels))
        };
        let (Some((a, _)), Some((b, kernels))) = (run(IsaChoice::Native), run(IsaChoice::Avx2)) else {
            continue;
        };
        let wide = kernels.contains("wide avx2");
        wide_cases += usize::from(wide);
        let scale = a.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
        let mut diff = 0.0f64;
        for (x, y) in a.iter().zip(&b) {
            if x.is_nan() || y.is_nan() {
                assert!(x.is_nan() && y.is_nan(), "{}: NaN on one path only", c.name);
            } else if x.is_infinite() || y.is_infinite() {
                assert_eq!(x, y, "{}: inf on one path only", c.name);
            } else {
                diff = diff.max((x - y).abs());
            }
        }
        eprintln!(
            "{:<44} {} max |wide - 128| {diff:.2e} (scale {scale:.2e})",
            c.name,
            if wide { "wide" } else { "x4  " }
        );
        if diff / scale > worst {
            worst = diff / scale;
            worst_case = c.name.clone();
        }
    }
    eprintln!(
        "largest relative difference {worst:.2e} ({worst_case}); {wide_cases} cases on the wide kernels"
    );
    assert!(wide_cases > 20, "only {wide_cases} golden cases ran on the wide kernels");
    assert!(worst < 1e-4, "{worst_case}: wide and 128-bit paths differ by {worst:.2e} of the scale");
}
