//! The cepstral ops (`dct`, `lifter`, `deltas`): each op's attributes, type rule and text in
//! one place. The central `Op` matches (name, inference, printing) delegate here.

use super::{Axis, Elem, Size, Type};

/// Normalisation of a DCT-II (scipy's `norm`, torchaudio's `create_dct(norm)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DctNorm {
    /// `y[k] = 2 sum_j x[j] cos(pi k (2j + 1) / 2K)` (scipy `norm=None`).
    None,
    /// The orthonormal scaling: row 0 times `sqrt(1 / 4K)`, the others `sqrt(1 / 2K)`.
    Ortho,
}

/// `dct`: a DCT-II over the last axis, keeping coefficients `first .. first + n`
/// (`scipy.fftpack.dct(type=2)[:n]`, torchaudio's `create_dct`, Kaldi's cepstra).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dct {
    /// Coefficients kept.
    pub n: usize,
    /// Index of the first coefficient kept (Kaldi's energy replaces c0: it keeps 1..).
    pub first: usize,
    /// Scaling.
    pub norm: DctNorm,
}

impl Dct {
    /// `... x K` real -> `... x coeffs=n`.
    pub fn infer(&self, t: &Type) -> Result<Type, String> {
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
    /// Graph text.
    pub fn text(&self) -> String {
        let norm = match self.norm {
            DctNorm::None => "none",
            DctNorm::Ortho => "ortho",
        };
        let first = if self.first == 0 { String::new() } else { format!(", first: {}", self.first) };
        format!("dct(n: {}, type: 2, norm: {norm}{first})", self.n)
    }
}

/// `lifter`: coefficient `j` of the last axis times `1 + coeff / 2 * sin(pi (j + base) / coeff)`
/// (librosa's `lifter` with `base` 1, Kaldi's `cepstral_lifter` with `base` 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lifter {
    /// `L`, non-zero.
    pub coeff: f64,
    /// Index of the first coefficient.
    pub base: usize,
}

impl Lifter {
    /// Real `... x coeffs` -> the same.
    pub fn infer(&self, t: &Type) -> Result<Type, String> {
        last_real(t, "lifter")?;
        Ok(t.clone())
    }
    /// Graph text.
    pub fn text(&self) -> String {
        format!("lifter({:?}, base: {})", self.coeff, self.base)
    }
}

/// How `deltas` treats the first and last frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq)]
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

impl Deltas {
    /// Real `... x frames x K` -> `... x frames x K`, or `K * (order + 1)` with `append`.
    pub fn infer(&self, t: &Type) -> Result<Type, String> {
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
    /// Graph text.
    pub fn text(&self) -> String {
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
