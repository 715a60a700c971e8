//! Window functions, as `scipy.signal.get_window(name, M, fftbins=periodic)` computes them.

use crate::graph::{Placement, WindowKind, WindowScaling, WindowSpec};
use std::f64::consts::PI;

/// The window's `length` values (scipy: a periodic window is the symmetric one of `length + 1`
/// points without its last point).
pub fn values(kind: WindowKind, length: usize, periodic: bool) -> Vec<f64> {
    values_with(kind, length, periodic, BLACKMAN)
}

/// scipy's and torch's Blackman constant term.
pub const BLACKMAN: f64 = 0.42;

/// [`values`] with Blackman's constant term `a` (Kaldi's `blackman_coeff`):
/// `a - 0.5 cos x + (0.5 - a) cos 2x`.
pub fn values_with(kind: WindowKind, length: usize, periodic: bool, a: f64) -> Vec<f64> {
    if length == 0 {
        return Vec::new();
    }
    if length == 1 {
        // scipy returns [1.0] for M == 1 whatever the window.
        return vec![1.0];
    }
    let m = if periodic { length + 1 } else { length };
    let denom = (m - 1) as f64;
    let mut w: Vec<f64> = (0..m)
        .map(|n| {
            let x = 2.0 * PI * n as f64 / denom;
            match kind {
                WindowKind::Hann => 0.5 - 0.5 * x.cos(),
                WindowKind::Hamming => 0.54 - 0.46 * x.cos(),
                // scipy's literal 0.08 for the default keeps its tables bit-identical.
                WindowKind::Blackman if a == BLACKMAN => 0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos(),
                WindowKind::Blackman => a - 0.5 * x.cos() + (0.5 - a) * (2.0 * x).cos(),
                WindowKind::Bartlett => {
                    let r = 2.0 * n as f64 / denom;
                    if n as f64 <= denom / 2.0 {
                        r
                    } else {
                        2.0 - r
                    }
                }
                WindowKind::Boxcar => 1.0,
                WindowKind::Povey => (0.5 - 0.5 * x.cos()).powf(0.85),
            }
        })
        .collect();
    w.truncate(length);
    w
}

/// The full frame-length vector: the window placed in the frame, zeros elsewhere, divided by
/// its norm when `scaling` asks.
pub fn frame_vector(spec: &WindowSpec, scaling: WindowScaling) -> Vec<f64> {
    let w = values_with(spec.kind, spec.length, spec.periodic, spec.blackman);
    let offset = match spec.placement {
        Placement::Center => (spec.frame - spec.length) / 2,
        Placement::Left => 0,
    };
    let s = match scaling {
        WindowScaling::None => 1.0,
        WindowScaling::Density => w.iter().map(|x| x * x).sum::<f64>().sqrt(),
        WindowScaling::Spectrum => w.iter().map(|x| x.abs()).sum::<f64>(),
    };
    let mut v = vec![0.0; spec.frame];
    for (i, x) in w.iter().enumerate() {
        v[offset + i] = x / s;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_matches_scipy() {
        // scipy.signal.get_window("hann", 4) (periodic) = [0, 0.5, 1, 0.5]
        let w = values(WindowKind::Hann, 4, true);
        for (a, b) in w.iter().zip([0.0, 0.5, 1.0, 0.5]) {
            assert!((a - b).abs() < 1e-15, "{w:?}");
        }
        // scipy.signal.get_window("hann", 5, fftbins=False) = [0, 0.5, 1, 0.5, 0]
        let w = values(WindowKind::Hann, 5, false);
        for (a, b) in w.iter().zip([0.0, 0.5, 1.0, 0.5, 0.0]) {
            assert!((a - b).abs() < 1e-15, "{w:?}");
        }
    }

    #[test]
    fn hamming_and_blackman_ends() {
        let w = values(WindowKind::Hamming, 8, false);
        assert!((w[0] - 0.08).abs() < 1e-15 && (w[7] - 0.08).abs() < 1e-15);
        let b = values(WindowKind::Blackman, 9, false);
        assert!(b[0].abs() < 1e-15 && (b[4] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn centered_placement_and_density() {
        let spec = WindowSpec {
            kind: WindowKind::Boxcar,
            length: 4,
            periodic: true,
            placement: Placement::Center,
            frame: 9,
            blackman: BLACKMAN,
        };
        let v = frame_vector(&spec, WindowScaling::Density);
        assert_eq!(v[..2], [0.0, 0.0]);
        assert!((v[2] - 0.5).abs() < 1e-15 && (v[5] - 0.5).abs() < 1e-15);
        assert_eq!(v[6..], [0.0, 0.0, 0.0]);
    }
}
