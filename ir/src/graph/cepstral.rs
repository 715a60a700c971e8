//! The cepstral ops (`dct`, `lifter`, `deltas`), one op family: each op's attributes, type
//! rule, text and defining constants (the DCT matrix, lifter and Savitzky-Golay weights) in one
//! place. The graph holds them as `Op::Cepstral`, whose name, inference and printing delegate
//! to [`OpDecl`] here, so an op added to this family touches no central match.

use std::f64::consts::PI;

use super::{Axis, Elem, OpDecl, Size, Type};

/// The cepstral family: what `Op::Cepstral` holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Cepstral {
    /// `... x K` -> `... x coeffs`: a DCT-II of each row.
    Dct(Dct),
    /// Weights each coefficient of the last axis.
    Lifter(Lifter),
    /// Time derivatives along `frames`.
    Deltas(Deltas),
}

impl Cepstral {
    fn decl(&self) -> &dyn OpDecl {
        match self {
            Cepstral::Dct(d) => d,
            Cepstral::Lifter(l) => l,
            Cepstral::Deltas(d) => d,
        }
    }
}

impl OpDecl for Cepstral {
    fn name(&self) -> &'static str {
        self.decl().name()
    }
    fn infer(&self, t: &Type) -> Result<Type, String> {
        self.decl().infer(t)
    }
    fn text(&self) -> String {
        self.decl().text()
    }
    fn mixes_frame(&self) -> bool {
        self.decl().mixes_frame()
    }
}

/// Normalisation of a DCT-II (scipy's `norm`, torchaudio's `create_dct(norm)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DctNorm {
    /// `y[k] = 2 sum_j x[j] cos(pi k (2j + 1) / 2K)` (scipy `norm=None`).
    None,
    /// The orthonormal scaling: row 0 times `sqrt(1 / 4K)`, the others `sqrt(1 / 2K)`.
    Ortho,
}

/// `dct`: a DCT-II over the last axis, keeping coefficients `first .. first + n`
/// (`scipy.fftpack.dct(type=2)[:n]`, torchaudio's `create_dct`, Kaldi's cepstra).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dct {
    /// Coefficients kept.
    pub n: usize,
    /// Index of the first coefficient kept (Kaldi's energy replaces c0: it keeps 1..).
    pub first: usize,
    /// Scaling.
    pub norm: DctNorm,
}

impl OpDecl for Dct {
    fn name(&self) -> &'static str {
        "dct"
    }
    /// `... x K` real -> `... x coeffs=n`.
    fn infer(&self, t: &Type) -> Result<Type, String> {
        let k = last_real(t, "dct")?;
        if self.first + self.n > k {
            return Err(format!(
                "dct keeps coefficients {}..{} of a {k}-point transform",
                self.first,
                self.first + self.n
            ));
        }
        Ok(with_last(t, Axis::new("coeffs", Size::Const(self.n as i64))))
    }
    fn text(&self) -> String {
        let norm = match self.norm {
            DctNorm::None => "none",
            DctNorm::Ortho => "ortho",
        };
        let first = if self.first == 0 { String::new() } else { format!(", first: {}", self.first) };
        format!("dct(n: {}, type: 2, norm: {norm}{first})", self.n)
    }
    fn mixes_frame(&self) -> bool {
        true
    }
}

impl Dct {
    /// The `n x k` row-major matrix of this DCT over `k` points: row `r` is coefficient
    /// `first + r`, `2 cos(pi c (2j + 1) / 2k)` scaled by the norm (scipy.fftpack's DCT-II;
    /// torchaudio's `create_dct` is its transpose), in f64.
    pub fn matrix(&self, k: usize) -> Vec<f64> {
        let mut m = Vec::with_capacity(self.n * k);
        for c in self.first..self.first + self.n {
            let scale = match self.norm {
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
}

/// `lifter`: coefficient `j` of the last axis times `1 + coeff / 2 * sin(pi (j + base) / coeff)`
/// (librosa's `lifter` with `base` 1, Kaldi's `cepstral_lifter` with `base` 0).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lifter {
    /// `L`, non-zero.
    pub coeff: f64,
    /// Index of the first coefficient.
    pub base: usize,
}

impl OpDecl for Lifter {
    fn name(&self) -> &'static str {
        "lifter"
    }
    /// Real `... x coeffs` -> the same.
    fn infer(&self, t: &Type) -> Result<Type, String> {
        last_real(t, "lifter")?;
        Ok(t.clone())
    }
    fn text(&self) -> String {
        format!("lifter({:?}, base: {})", self.coeff, self.base)
    }
}

impl Lifter {
    /// The weight of each of `n` coefficients.
    pub fn weights(&self, n: usize) -> Vec<f64> {
        (0..n).map(|j| 1.0 + self.coeff / 2.0 * (PI * (j + self.base) as f64 / self.coeff).sin()).collect()
    }
}

/// How `deltas` treats the first and last frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeltaMode {
    /// Savitzky-Golay with `polyorder = order`, the edges from a polynomial fit to the first
    /// and last `width` frames (`librosa.feature.delta`, scipy `savgol_filter(mode='interp')`);
    /// needs at least `width` frames.
    Interp,
    /// `sum_k k (x[t+k] - x[t-k]) / (2 sum_k k^2)`, `k = 1..(width-1)/2`, frames past the ends
    /// repeat the edge frame (torchaudio `compute_deltas(mode='replicate')`); order 2 applies it
    /// twice.
    Replicate,
}

/// `deltas`: the `order`-th time derivative of every value along `frames`, or (with `append`)
/// the values followed by their derivatives of orders 1..=order along the last axis.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Deltas {
    /// Frames in the window (odd for `Interp`).
    pub width: usize,
    /// Derivative order.
    pub order: usize,
    /// Edge rule.
    pub mode: DeltaMode,
    /// Stack `[x, d1 x, .., d_order x]` along the last axis instead of returning `d_order x`.
    pub append: bool,
}

impl OpDecl for Deltas {
    fn name(&self) -> &'static str {
        "deltas"
    }
    /// Real `... x frames x K` -> `... x frames x K`, or `K * (order + 1)` with `append`.
    fn infer(&self, t: &Type) -> Result<Type, String> {
        last_real(t, "deltas")?;
        if t.axes.len() < 2 || t.axes[t.axes.len() - 2].name != "frames" {
            return Err(String::from("deltas takes real frames x values"));
        }
        if !self.append {
            return Ok(t.clone());
        }
        let last = t.last();
        Ok(with_last(t, Axis::new(&last.name, last.size.clone().times(self.order as i64 + 1))))
    }
    fn text(&self) -> String {
        let mode = match self.mode {
            DeltaMode::Interp => "interp",
            DeltaMode::Replicate => "replicate",
        };
        let append = if self.append { ", append" } else { "" };
        format!("deltas(width: {}, order: {}, mode: {mode}{append})", self.width, self.order)
    }
}

/// The size of a real tensor's last axis, which must be a known constant.
fn last_real(t: &Type, op: &str) -> Result<usize, String> {
    if t.elem != Elem::Real {
        return Err(format!("{op} takes a real tensor"));
    }
    match t.axes.last().map(|a| a.size.as_const()) {
        Some(Some(k)) if k > 0 => Ok(k as usize),
        _ => Err(format!("{op} needs a last axis of known size, e.g. mel bands")),
    }
}

fn with_last(t: &Type, last: Axis) -> Type {
    let mut axes = t.axes[..t.axes.len() - 1].to_vec();
    axes.push(last);
    Type { elem: t.elem, axes }
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
        let m = Dct { n: k, first: 0, norm: DctNorm::Ortho }.matrix(k);
        for r in 0..k {
            for s in 0..k {
                let dot: f64 = (0..k).map(|j| m[r * k + j] * m[s * k + j]).sum();
                assert!((dot - f64::from(u8::from(r == s))).abs() < 1e-14);
            }
        }
    }
}
