//! Mel filterbanks: librosa `filters.mel`, torchaudio `melscale_fbanks` and Keras/TF
//! `linear_to_mel_weight_matrix`, each a choice of scale, triangle domain, bin grid and norm.

use crate::graph::{BinGrid, MelNorm, MelScale, MelSpec, MelTable, TriangleDomain};

/// Hz to mel.
pub fn hz_to_mel(f: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 1127.0 * (1.0 + f / 700.0).ln(),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            if f >= 1000.0 {
                15.0 + (f / 1000.0).ln() / (6.4f64.ln() / 27.0)
            } else {
                f / f_sp
            }
        }
    }
}

/// Mel to Hz.
pub fn mel_to_hz(m: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * ((m / 1127.0).exp() - 1.0),
        MelScale::Slaney => {
            if m >= 15.0 {
                1000.0 * ((6.4f64.ln() / 27.0) * (m - 15.0)).exp()
            } else {
                200.0 / 3.0 * m
            }
        }
    }
}

/// numpy's `linspace(start, stop, num)`: `start + k * step`, with the last point exactly `stop`.
pub fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (stop - start) / (num - 1) as f64;
            let mut v: Vec<f64> = (0..num).map(|k| start + k as f64 * step).collect();
            v[num - 1] = stop;
            v
        }
    }
}

/// Frequencies of the `n_fft / 2 + 1` bins.
pub fn bin_frequencies(spec: &MelSpec) -> Vec<f64> {
    let bins = spec.n_fft / 2 + 1;
    match spec.grid {
        BinGrid::Linspace { top } => linspace(0.0, top, bins),
        BinGrid::Rfftfreq => (0..bins).map(|k| k as f64 * spec.rate / spec.n_fft as f64).collect(),
    }
}

/// The filterbank as `bands` rows of `n_fft / 2 + 1` weights.
pub fn filterbank(spec: &MelSpec) -> Vec<Vec<f64>> {
    match spec.table {
        MelTable::XlaF32 => return filterbank_f32(spec),
        MelTable::TorchF32 => return filterbank_torch_f32(spec),
        MelTable::F64 => {}
    }
    let freqs = bin_frequencies(spec);
    let edges_mel =
        linspace(hz_to_mel(spec.fmin, spec.scale), hz_to_mel(spec.fmax, spec.scale), spec.bands + 2);
    let edges_hz: Vec<f64> = edges_mel.iter().map(|&m| mel_to_hz(m, spec.scale)).collect();
    let (edges, points): (&[f64], Vec<f64>) = match spec.triangles {
        TriangleDomain::Mel => (&edges_mel, freqs.iter().map(|&f| hz_to_mel(f, spec.scale)).collect()),
        TriangleDomain::Hz => (&edges_hz, freqs.clone()),
    };
    (0..spec.bands)
        .map(|i| {
            let (lo, c, hi) = (edges[i], edges[i + 1], edges[i + 2]);
            let enorm = match spec.norm {
                MelNorm::None => 1.0,
                MelNorm::Slaney => 2.0 / (edges_hz[i + 2] - edges_hz[i]),
            };
            row(spec, &points, |x| triangle(x, lo, c, hi) * enorm)
        })
        .collect()
}

/// The weight of a point on a triangle rising from `lo` to 1 at `c` and falling to `hi`, in the
/// points' own precision: `max(0, min((x - lo) / (c - lo), (hi - x) / (hi - c)))`.
fn triangle<T>(x: T, lo: T, c: T, hi: T) -> T
where
    T: Copy + Default + PartialOrd + std::ops::Sub<Output = T> + std::ops::Div<Output = T>,
{
    let lower = (x - lo) / (c - lo);
    let upper = (hi - x) / (hi - c);
    let m = if upper < lower { upper } else { lower };
    if m > T::default() {
        m
    } else {
        T::default()
    }
}

/// One filter's weights over the bins' points (DC forced to zero when the spec asks).
fn row<T: Copy>(spec: &MelSpec, points: &[T], weight: impl Fn(T) -> f64) -> Vec<f64> {
    points.iter().enumerate().map(|(k, &x)| if spec.zero_dc && k == 0 { 0.0 } else { weight(x) }).collect()
}

/// JAX's `jnp.linspace` in float32 as XLA compiles it: the division by `num - 1` becomes a
/// multiplication by its float32 reciprocal `c`, `stop * (i * c)` is reassociated to
/// `i * (stop * c)`, and LLVM contracts the rest into FMAs:
/// `fma(i, stop·c, start · fma(-i, c, 1))`, last point `stop` (read from the optimized HLO and
/// checked against `jnp.linspace` on random ranges and lengths).
fn linspace_f32(start: f32, stop: f32, num: usize) -> Vec<f32> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let c = 1.0 / (num - 1) as f32;
            let sc = stop * c;
            let mut v: Vec<f32> = (0..num - 1)
                .map(|i| {
                    let i = i as f32;
                    i.mul_add(sc, start * (-i).mul_add(c, 1.0))
                })
                .collect();
            v.push(stop);
            v
        }
    }
}

/// XLA's float32 `log` on x86-64 CPUs, which Keras on JAX runs (XLA emits it inline: a Cephes
/// polynomial in `x - 1` over `[sqrt(1/2), sqrt(2))`, its products and sums contracted into
/// FMAs by LLVM as below; read from the object code `XLA_FLAGS=--xla_dump_to` writes for
/// `jnp.log` under jax 0.10.2). It is not glibc's `logf` (1 ulp apart on ~5% of inputs), and
/// a mel filterbank's narrow triangles turn that ulp into a visible weight difference (see
/// tests/golden/FINDINGS.md). Equal to `jax.jit(jnp.log)` on 300,000 sampled inputs.
fn xla_log_f32(x: f32) -> f32 {
    // XLA's CPU code flushes subnormals to zero: they are 0 here, and log 0 is -inf.
    if x.abs() < f32::MIN_POSITIVE {
        return f32::NEG_INFINITY;
    }
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == f32::INFINITY {
        return x;
    }
    let c = f32::from_bits;
    let bits = x.to_bits();
    // The mantissa in [0.5, 1) and the exponent that goes with it, then shifted so the
    // mantissa lies in [sqrt(1/2), sqrt(2)) around 1.
    let m = c((bits & 0x807F_FFFF) | 0x3F00_0000);
    let mut e = 1.0 + ((bits >> 23) as i32 - 127) as f32;
    let below = m < c(0x3F35_04F3);
    let x = (m - 1.0) + if below { m } else { 0.0 };
    if below {
        e -= 1.0;
    }
    let x2 = x * x;
    let x3 = x2 * x;
    let half = (-x2).mul_add(0.5, x);
    let y1 = x.mul_add(c(0x3D90_21BB), c(0xBDEB_D1B8)).mul_add(x, c(0x3DEF_251A));
    let y2 = x.mul_add(c(0xBDFE_5D4F), c(0x3E11_E9BF)).mul_add(x, c(0xBE2A_AE50));
    let y = x3.mul_add(y1, y2);
    let y3 = x.mul_add(c(0x3E4C_CEAC), c(0xBE7F_FFFC)).mul_add(x, c(0x3EAA_AAAA));
    let y = x3.mul_add(y, y3);
    let y = x3.mul_add(y, e * c(0xB95E_8083));
    e.mul_add(c(0x3F31_8000), half + y)
}

/// The filterbank computed in float32 the way Keras's `linear_to_mel_weight_matrix` (a port of
/// TF's) computes it on JAX, op by op as XLA runs each: float32 `linspace` bins and band edges,
/// the HTK mel `1127 · log(1 + f / 700)` with the division by the constant 700 done as a
/// multiplication by its float32 reciprocal (XLA's rewrite) and XLA's `log`, float32 slopes.
/// The edges are float32 tensors first (`convert_to_tensor`), like the bins.
fn filterbank_f32(spec: &MelSpec) -> Vec<Vec<f64>> {
    let bins = spec.n_fft / 2 + 1;
    let recip = 1.0f32 / 700.0;
    let mel_t = |f: f32| 1127.0f32 * xla_log_f32(1.0f32 + f * recip);
    let mel_s = |f: f64| mel_t(f as f32);
    let to_mel = |f: f32, s: f64| match spec.scale {
        MelScale::Htk => (mel_t(f), mel_s(s)),
        MelScale::Slaney => (hz_to_mel(f as f64, spec.scale) as f32, hz_to_mel(s, spec.scale) as f32),
    };
    let freqs: Vec<f32> = match spec.grid {
        BinGrid::Linspace { top } => linspace_f32(0.0, top as f32, bins),
        BinGrid::Rfftfreq => (0..bins).map(|k| (k as f64 * spec.rate / spec.n_fft as f64) as f32).collect(),
    };
    let edges = linspace_f32(to_mel(0.0, spec.fmin).1, to_mel(0.0, spec.fmax).1, spec.bands + 2);
    let points: Vec<f32> = freqs.iter().map(|&f| to_mel(f, 0.0).0).collect();
    (0..spec.bands)
        .map(|i| {
            let (lo, c, hi) = (edges[i], edges[i + 1], edges[i + 2]);
            row(spec, &points, |x| triangle(x, lo, c, hi) as f64)
        })
        .collect()
}

/// torch's `linspace(start, stop, num)` for a float32 tensor: the endpoints and the step
/// `(stop - start) / (num - 1)` in float32, then `start + step * i` for the first half and
/// `stop - step * (num - 1 - i)` for the rest, each one fused multiply-add (ATen's vectorized
/// CPU kernel).
fn torch_linspace_f32(start: f64, stop: f64, num: usize) -> Vec<f32> {
    let (a, b) = (start as f32, stop as f32);
    match num {
        0 => Vec::new(),
        1 => vec![a],
        _ => {
            let step = (b - a) / (num - 1) as f32;
            let half = num / 2;
            (0..num)
                .map(|i| {
                    if i < half {
                        step.mul_add(i as f32, a)
                    } else {
                        (-step).mul_add((num - 1 - i) as f32, b)
                    }
                })
                .collect()
        }
    }
}

/// torchaudio's `melscale_fbanks` as torch computes it in float32: `_hz_to_mel` of the band
/// edges in f64 (Python floats), the mel points by [`torch_linspace_f32`], `_mel_to_hz` in
/// float32 tensor arithmetic (Python scalars cast to float32), the bins by
/// `linspace(0, top, n_freqs)`, float32 slopes and the slaney norm in float32. torch's float32
/// `pow` and `exp` are Sleef's, within an ulp but not always rounded correctly; here they are
/// rounded correctly, so a few edges (1-2% of `pow` and `exp` results) can differ by an ulp.
fn filterbank_torch_f32(spec: &MelSpec) -> Vec<Vec<f64>> {
    let bins = spec.n_fft / 2 + 1;
    // torchaudio's own formulas (`2595 log10`, and slaney's constants as it spells them).
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    let hz_to_mel = |f: f64| match spec.scale {
        MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
        MelScale::Slaney if f >= min_log_hz => min_log_mel + (f / min_log_hz).ln() / logstep,
        MelScale::Slaney => f / f_sp,
    };
    let mel_to_hz = |m: f32| -> f32 {
        match spec.scale {
            MelScale::Htk => {
                let q = m / 2595.0f32;
                700.0f32 * (10f64.powf(q as f64) as f32 - 1.0f32)
            }
            MelScale::Slaney if m >= min_log_mel as f32 => {
                let e = ((logstep as f32 * (m - min_log_mel as f32)) as f64).exp() as f32;
                min_log_hz as f32 * e
            }
            MelScale::Slaney => f_sp as f32 * m,
        }
    };
    let top = match spec.grid {
        BinGrid::Linspace { top } => top,
        BinGrid::Rfftfreq => spec.rate / 2.0,
    };
    let freqs = torch_linspace_f32(0.0, top, bins);
    let m_pts = torch_linspace_f32(hz_to_mel(spec.fmin), hz_to_mel(spec.fmax), spec.bands + 2);
    let f_pts: Vec<f32> = m_pts.iter().map(|&m| mel_to_hz(m)).collect();
    (0..spec.bands)
        .map(|i| {
            let (lo, c, hi) = (f_pts[i], f_pts[i + 1], f_pts[i + 2]);
            let enorm = match spec.norm {
                MelNorm::None => None,
                MelNorm::Slaney => Some(2.0f32 / (hi - lo)),
            };
            row(spec, &freqs, |x| {
                let w = triangle(x, lo, c, hi);
                enorm.map_or(w, |e| w * e) as f64
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `jax.jit(jnp.log)` (jax 0.10.2, x86-64) bit for bit: inputs where glibc's `logf` gives
    /// another float32, then special values (a subnormal is flushed to zero: -inf).
    #[test]
    fn xla_log_matches_jax() {
        let pairs: &[(u32, u32)] = &[
            (0x3FCEC000, 0x3EF57E6A),
            (0x402E4000, 0x3F8034B0),
            (0x40ADC000, 0x3FD88F94),
            (0x41336800, 0x401AB12E),
            (0x4150F000, 0x402471D0),
            (0x40CD318E, 0x3FEDDA16),
            (0x40B3AEFB, 0x3FDCDBEA),
            (0x4130DCDF, 0x4019C73C),
            (0x3FA2D2E6, 0x3E7669F0),
            (0x412765B8, 0x4016420E),
            (0x40964BD0, 0x3FC5FFE4),
            (0x3F7A41E9, 0xBCB9DA88),
            (0x0DA24260, 0xC28A27B5),
            (0x0020AAC8, 0xFF800000),
            (0x3F400000, 0xBE934B11),
            (0x3F800000, 0x00000000),
            (0x40000000, 0x3F317218),
            (0x7149F2CA, 0x428A27B5),
        ];
        for &(x, want) in pairs {
            let got = xla_log_f32(f32::from_bits(x));
            assert_eq!(
                got.to_bits(),
                want,
                "log({}) = {got}, XLA {}",
                f32::from_bits(x),
                f32::from_bits(want)
            );
        }
        assert!(xla_log_f32(-1.0).is_nan() && xla_log_f32(f32::NAN).is_nan());
        assert_eq!(xla_log_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(xla_log_f32(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn scales_invert() {
        for f in [0.0, 20.0, 700.0, 999.0, 1000.0, 4000.0, 11025.0] {
            for s in [MelScale::Htk, MelScale::Slaney] {
                assert!((mel_to_hz(hz_to_mel(f, s), s) - f).abs() < 1e-9);
            }
        }
        // librosa.hz_to_mel(1000) == 15 (Slaney), htk hz_to_mel(1000, htk=True) = 999.985...
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
        assert!((2595.0 * (1.0f64 + 1000.0 / 700.0).log10() - 999.9855371396243).abs() < 1e-9);
    }

    #[test]
    fn triangles_peak_at_one_and_cover_band() {
        let spec = MelSpec {
            bands: 10,
            rate: 16000.0,
            n_fft: 512,
            fmin: 0.0,
            fmax: 8000.0,
            scale: MelScale::Htk,
            triangles: TriangleDomain::Hz,
            grid: BinGrid::Rfftfreq,
            norm: MelNorm::None,
            zero_dc: false,
            table: MelTable::F64,
        };
        let fb = filterbank(&spec);
        for row in &fb {
            let peak = row.iter().cloned().fold(0.0, f64::max);
            assert!(peak > 0.5 && peak <= 1.0 + 1e-12);
            assert!(row.iter().all(|&w| w >= 0.0));
        }
    }
}
