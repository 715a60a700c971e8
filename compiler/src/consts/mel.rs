//! Mel filterbanks: librosa `filters.mel`, torchaudio `melscale_fbanks` and Keras/TF
//! `linear_to_mel_weight_matrix`, each a choice of scale, triangle domain, bin grid and norm.

use crate::graph::{BinGrid, MelNorm, MelScale, MelSpec, Precision, TriangleDomain};

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
    if spec.table == Precision::F32 {
        return filterbank_f32(spec);
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

/// JAX's `jnp.linspace` in float32: `start * (1 - i/div) + stop * (i/div)`, last point `stop`.
fn linspace_f32(start: f32, stop: f32, num: usize) -> Vec<f32> {
    match num {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let div = (num - 1) as f32;
            let mut v: Vec<f32> = (0..num - 1)
                .map(|i| {
                    let step = i as f32 / div;
                    start * (1.0 - step) + stop * step
                })
                .collect();
            v.push(stop);
            v
        }
    }
}

/// The filterbank computed in float32 the way Keras's `linear_to_mel_weight_matrix` (a port of
/// TF's) computes it: float32 `linspace` bins and band edges, float32 HTK mel, float32 slopes.
/// Scalar edges go through Python floats first (`1 + f / 700` in float64), as in Keras.
fn filterbank_f32(spec: &MelSpec) -> Vec<Vec<f64>> {
    let bins = spec.n_fft / 2 + 1;
    let mel_t = |f: f32| 1127.0f32 * (1.0f32 + f / 700.0f32).ln();
    let mel_s = |f: f64| 1127.0f32 * ((1.0 + f / 700.0) as f32).ln();
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

#[cfg(test)]
mod tests {
    use super::*;

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
            table: Precision::F64,
        };
        let fb = filterbank(&spec);
        for row in &fb {
            let peak = row.iter().cloned().fold(0.0, f64::max);
            assert!(peak > 0.5 && peak <= 1.0 + 1e-12);
            assert!(row.iter().all(|&w| w >= 0.0));
        }
    }
}
