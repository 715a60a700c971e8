//! The wide kernels against the plan executor (`graph::fft_plan`, f64) for every length the
//! planner emits for the shipped presets and for random lengths; skipped, with a note, on CPUs
//! without AVX2+FMA.
//!
//! Tolerance: max |got − want| over every bin and lane ≤ 1e-5 · max |want| (the spectrum's
//! largest magnitude in that block), as in `codegen/fft/tests.rs` but relative to the spectrum
//! rather than √n·max|x|. f32 rounding in a stable FFT gives about ε·log₂n·‖x‖₂ per bin
//! (ε = 6e-8), and for these noise-plus-tone inputs max|X| is at least about ‖x‖₂, so 1e-5
//! leaves a margin of 10× or more at n = 2048 while any wrong twiddle or index gives an error
//! of the order of max|X|.

use super::*;
use crate::graph::fft_plan::{execute_complex, execute_real, plan_complex, plan_real};
use num_complex::Complex64;

const TOL: f64 = 1e-5;

/// The planner's real lengths for the shipped presets (tests/snapshots, "real N = …").
const PRESET_LENGTHS: &[usize] = &[64, 128, 256, 400, 512, 1000, 1024, 2048];

/// A 64-bit LCG (Knuth's MMIX constants), values in [-1, 1).
struct Lcg(u64);
impl Lcg {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0
    }
    fn next(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f64 / (1u64 << 23) as f64 - 1.0) as f32
    }
}

fn cpu() -> Option<Avx2> {
    let cpu = Avx2::detect();
    if cpu.is_none() {
        println!("note: this CPU lacks AVX2+FMA; the wide FFT kernels are not tested here");
    }
    cpu
}

/// 8 frames of `n` taps: noise plus a different tone per lane.
fn frames(n: usize, rng: &mut Lcg) -> Vec<f32> {
    (0..n * LANES)
        .map(|i| {
            let (t, lane) = (i / LANES, i % LANES);
            rng.next() + 0.5 * ((t * (lane + 1)) as f32 * 0.37).sin()
        })
        .collect()
}

/// Max error relative to the spectrum's max magnitude, over the block's lanes.
fn real_error(fft: &WideFft, plan: &RealPlan, cpu: Avx2, rng: &mut Lcg) -> f64 {
    let n = plan.size();
    let bins = n / 2 + 1;
    let x = frames(n, rng);
    let (mut re, mut im) = (vec![0f32; bins * LANES], vec![0f32; bins * LANES]);
    let mut scratch = vec![f32::NAN; fft.scratch_len()];
    fft.spectrum(cpu, &x, &mut re, &mut im, &mut scratch);
    let mut p = vec![0f32; bins * LANES];
    let mut sum = [0f32; LANES];
    fft.power(cpu, &x, &mut p, &mut sum, &mut scratch);
    let (mut err, mut max) = (0f64, 0f64);
    let mut perr = 0f64;
    for lane in 0..LANES {
        let xs: Vec<f64> = (0..n).map(|t| f64::from(x[t * LANES + lane])).collect();
        let mut want = vec![Complex64::default(); bins];
        execute_real(plan, &xs, &mut want);
        let mut psum = 0f64;
        for (k, w) in want.iter().enumerate() {
            let got = Complex64::new(f64::from(re[k * LANES + lane]), f64::from(im[k * LANES + lane]));
            err = err.max((got - w).norm());
            max = max.max(w.norm());
            let pw = f64::from(p[k * LANES + lane]);
            perr = perr.max((pw - w.norm_sqr()).abs() / (1.0 + w.norm_sqr()));
            psum += pw;
        }
        let s = f64::from(sum[lane]);
        assert!((s - psum).abs() <= 1e-5 * psum.max(1.0), "{plan}: lane {lane} power sum {s} vs {psum}");
    }
    // Power: relative to the bin's own power (plus one), a looser check of the same spectrum.
    assert!(perr <= 1e-3, "{plan}: power error {perr:e}");
    err / max
}

#[test]
fn wide_real_fft_matches_plan_executor_for_preset_lengths() {
    let Some(cpu) = cpu() else { return };
    let mut rng = Lcg(0x5eed);
    for &n in PRESET_LENGTHS {
        let plan = plan_real(n);
        let fft = WideFft::new(&plan).unwrap_or_else(|e| panic!("{plan}: {e}"));
        let rel = real_error(&fft, &plan, cpu, &mut rng);
        println!("{plan}: max error / max |X| = {rel:.2e}");
        assert!(rel <= TOL, "{plan}: max error / max |X| = {rel:e} > {TOL:e}");
    }
}

/// Every length up to 64 and random lengths (fixed seed): real and complex transforms of every
/// plan without Bluestein against the executor.
#[test]
fn wide_fft_matches_plan_executor_for_random_planner_lengths() {
    let Some(cpu) = cpu() else { return };
    let mut rng = Lcg(0x17_17);
    let mut lengths: Vec<usize> = (1..=64).collect();
    // Random 7-smooth lengths (the planner's chains) up to 8192, and random lengths up to 4096
    // (most of which have a prime factor above 7: Bluestein, which the wide kernels reject).
    for _ in 0..60 {
        let mut n = 1usize;
        loop {
            let p = [2, 2, 2, 3, 5, 7][(rng.next_u64() >> 33) as usize % 6];
            if n * p > 8192 || (n > 16 && rng.next_u64() >> 62 == 0) {
                break;
            }
            n *= p;
        }
        lengths.push(n);
    }
    lengths.extend((0..20).map(|_| 1 + (rng.next_u64() >> 33) as usize % 4096));
    let (mut tested, mut skipped, mut worst) = (0, Vec::new(), 0f64);
    for n in lengths {
        let plan = plan_real(n);
        // The target description offers the wide kernels for exactly the plans they run.
        let t = crate::kernel::Transform {
            n,
            period: n,
            basis: crate::graph::Precision::F64,
            plan: plan.clone(),
            power: Some(crate::graph::SpectrumPower::Power),
            wide: None,
        };
        let offered = crate::target::Target::CRANELIFT.wide_for(&t, n);
        assert_eq!(offered.is_ok(), WideFft::new(&plan).is_ok(), "{plan}: target says {offered:?}");
        let fft = match WideFft::new(&plan) {
            Ok(f) => f,
            Err(e) => {
                // Only Bluestein (a prime factor above 7) stays on the 128-bit path.
                assert!(plan.to_string().contains("Bluestein"), "{plan}: {e}");
                skipped.push(n);
                continue;
            }
        };
        let rel = real_error(&fft, &plan, cpu, &mut rng);
        assert!(rel <= TOL, "{plan}: max error / max |X| = {rel:e} > {TOL:e}");
        worst = worst.max(rel);

        let cplan = plan_complex(n);
        if let Ok(c) = WideComplexFft::new(&cplan) {
            assert_eq!(c.len(), n);
            let xr: Vec<f32> = (0..n * LANES).map(|_| rng.next()).collect();
            let xi: Vec<f32> = (0..n * LANES).map(|_| rng.next()).collect();
            let (mut yr, mut yi) = (vec![0f32; n * LANES], vec![0f32; n * LANES]);
            c.run(cpu, &xr, &xi, &mut yr, &mut yi);
            let (mut err, mut max) = (0f64, 0f64);
            for lane in 0..LANES {
                let mut z: Vec<Complex64> = (0..n)
                    .map(|j| Complex64::new(f64::from(xr[j * LANES + lane]), f64::from(xi[j * LANES + lane])))
                    .collect();
                execute_complex(&cplan, &mut z);
                for (j, w) in z.iter().enumerate() {
                    let got =
                        Complex64::new(f64::from(yr[j * LANES + lane]), f64::from(yi[j * LANES + lane]));
                    err = err.max((got - w).norm());
                    max = max.max(w.norm());
                }
            }
            assert!(err / max <= TOL, "{cplan}: max error / max |X| = {:e}", err / max);
            worst = worst.max(err / max);
        }
        tested += 1;
    }
    println!("{tested} lengths, worst max error / max |X| = {worst:.2e}; Bluestein (not run): {skipped:?}");
    assert!(tested >= 90, "too few lengths tested: {tested}");
}

#[test]
fn wide_fft_rejects_bluestein_and_checks_sizes() {
    let plan = plan_real(511);
    assert!(WideFft::new(&plan).is_err(), "{plan}");
    let Some(cpu) = cpu() else { return };
    let fft = WideFft::new(&plan_real(400)).unwrap();
    let x = vec![0f32; 400 * LANES];
    let mut p = vec![0f32; 201 * LANES];
    let mut sum = [0f32; LANES];
    let mut scratch = vec![0f32; fft.scratch_len()];
    fft.power(cpu, &x, &mut p, &mut sum, &mut scratch);
    assert!(p.iter().all(|&v| v == 0.0));
    let short = std::panic::catch_unwind(move || {
        let mut scratch = vec![0f32; fft.scratch_len() - 1];
        fft.power(cpu, &x, &mut p, &mut sum, &mut scratch);
    });
    assert!(short.is_err(), "a short scratch must panic");
}

#[test]
fn wide_isa_override() {
    assert_eq!(choose(None, true), (Isa::Avx2, None));
    assert_eq!(choose(None, false), (Isa::Sse, None));
    assert_eq!(choose(Some("sse"), true), (Isa::Sse, None));
    assert_eq!(choose(Some("avx2"), true), (Isa::Avx2, None));
    let (isa, note) = choose(Some("avx2"), false);
    assert_eq!(isa, Isa::Sse);
    assert!(note.is_some());
    let (isa, note) = choose(Some("avx512"), true);
    assert_eq!(isa, Isa::Avx2);
    assert!(note.unwrap().contains("unknown"));
}
