//! Constants of the cepstral ops: the DCT-II matrix, lifter weights and Savitzky-Golay
//! derivative weights, built in f64.

use crate::graph::{Dct, DctNorm, Lifter};
use std::f64::consts::PI;

/// The `n x k` row-major matrix of `dct` over `k` points: row `r` is coefficient `first + r`,
/// `2 cos(pi c (2j + 1) / 2k)` scaled by the norm (scipy.fftpack's DCT-II; torchaudio's
/// `create_dct` is its transpose).
pub fn dct_matrix(d: &Dct, k: usize) -> Vec<f64> {
    let mut m = Vec::with_capacity(d.n * k);
    for c in d.first..d.first + d.n {
        let scale = match d.norm {
            DctNorm::None => 2.0,
            DctNorm::Ortho if c == 0 => 2.0 * (1.0 / (4.0 * k as f64)).sqrt(),
            DctNorm::Ortho => 2.0 * (1.0 / (2.0 * k as f64)).sqrt(),
        };
        for j in 0..k {
            m.push(scale * (PI * c as f64 * (2 * j + 1) as f64 / (2 * k) as f64).cos());
        }
    }
    m
}

/// The lifter's weight for each of `n` coefficients.
pub fn lifter_weights(l: &Lifter, n: usize) -> Vec<f64> {
    (0..n).map(|j| 1.0 + l.coeff / 2.0 * (PI * (j + l.base) as f64 / l.coeff).sin()).collect()
}

/// Savitzky-Golay weights: the `deriv`-th derivative at position `pos` (`0 .. width`) of the
/// least-squares polynomial of degree `polyorder` through `width` equally spaced samples, as a
/// linear combination of those samples (scipy's `savgol_coeffs` for the window centre,
/// `_fit_edge` for the edges). `polyorder < width`.
pub fn savgol_weights(width: usize, polyorder: usize, deriv: usize, pos: usize) -> Vec<f64> {
    // Positions are centred so the normal equations stay well conditioned.
    let c = (width as f64 - 1.0) / 2.0;
    let t: Vec<f64> = (0..width).map(|j| j as f64 - c).collect();
    let m = polyorder + 1;
    // Normal matrix A = V^T V, V[j][p] = t_j^p.
    let mut a = vec![vec![0.0; m]; m];
    for (p, row) in a.iter_mut().enumerate() {
        for (q, v) in row.iter_mut().enumerate() {
            *v = t.iter().map(|x| x.powi((p + q) as i32)).sum();
        }
    }
    // e: the derivative of each monomial at the position, d^deriv/dx^deriv x^p.
    let x = pos as f64 - c;
    let e: Vec<f64> = (0..m)
        .map(|p| {
            if p < deriv {
                0.0
            } else {
                let falling: f64 = ((p - deriv + 1)..=p).map(|f| f as f64).product();
                falling * x.powi((p - deriv) as i32)
            }
        })
        .collect();
    // Weights w = V A^-1 e (A is symmetric): solve A z = e, then w_j = sum_p z_p t_j^p.
    let z = solve(a, e);
    t.iter().map(|tj| z.iter().enumerate().map(|(p, zp)| zp * tj.powi(p as i32)).sum()).collect()
}

/// Solves `a z = b` by Gaussian elimination with partial pivoting (`a` is small and
/// non-singular: a Vandermonde normal matrix with more distinct points than unknowns).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let m = b.len();
    for col in 0..m {
        let piv = (col..m).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap_or(col);
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..m {
            let f = a[r][col] / a[col][col];
            let pivot = a[col].clone();
            for (x, p) in a[r][col..].iter_mut().zip(&pivot[col..]) {
                *x -= f * p;
            }
            b[r] -= f * b[col];
        }
    }
    let mut z = vec![0.0; m];
    for r in (0..m).rev() {
        let s: f64 = (r + 1..m).map(|k| a[r][k] * z[k]).sum();
        z[r] = (b[r] - s) / a[r][r];
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savgol_first_derivative_is_the_regression_slope() {
        // scipy.signal.savgol_coeffs(5, 1, deriv=1, use='dot') = [-0.2, -0.1, 0, 0.1, 0.2]
        let w = savgol_weights(5, 1, 1, 2);
        for (got, want) in w.iter().zip([-0.2, -0.1, 0.0, 0.1, 0.2]) {
            assert!((got - want).abs() < 1e-15, "{w:?}");
        }
        // scipy.signal.savgol_coeffs(5, 2, deriv=2, use='dot') = [2, -1, -2, -1, 2] / 7
        let w = savgol_weights(5, 2, 2, 0);
        for (got, want) in w.iter().zip([2.0, -1.0, -2.0, -1.0, 2.0]) {
            assert!((got - want / 7.0).abs() < 1e-14, "{w:?}");
        }
    }

    #[test]
    fn ortho_dct_is_orthonormal() {
        let k = 6;
        let m = dct_matrix(&Dct { n: k, first: 0, norm: DctNorm::Ortho }, k);
        for r in 0..k {
            for s in 0..k {
                let dot: f64 = (0..k).map(|j| m[r * k + j] * m[s * k + j]).sum();
                assert!((dot - f64::from(u8::from(r == s))).abs() < 1e-14);
            }
        }
    }
}
