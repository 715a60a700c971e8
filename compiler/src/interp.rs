//! The reference interpreter: runs a graph over whole tensors, op by op, in f64.
//!
//! Written to be obviously right rather than fast: it is the oracle every optimisation and every
//! generated kernel is checked against. It shares nothing with code generation but the graph.

use crate::consts::dft::keras_basis;
use crate::consts::{mel, window};
use crate::graph::cepstral::savgol_weights;
use crate::graph::*;
use num_complex::Complex64;
use rustfft::FftPlanner;
use std::f64::consts::PI;

/// A tensor: named, sized axes (the `...` group expanded, each of its axes named `...`) and
/// row-major data.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Axis names.
    pub names: Vec<String>,
    /// Axis sizes.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Data,
}

/// A tensor's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// Real values.
    Real(Vec<f64>),
    /// Complex values.
    Complex(Vec<Complex64>),
}

impl Tensor {
    /// The real values; panics on a complex tensor (graphs are verified, so outputs are real
    /// exactly when their type says so).
    pub fn real(&self) -> &[f64] {
        match &self.data {
            Data::Real(v) => v,
            Data::Complex(_) => panic!("complex tensor where a real one was expected"),
        }
    }
}

/// Why a graph could not run on an input.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct InterpError(pub String);

/// Runs `g` on `input`, whose shape is in the caller's layout (the graph's `user_axes`, `...`
/// standing for any number of leading axes).
pub fn run(g: &Graph, input: &[f64], shape: &[usize]) -> Result<Tensor, InterpError> {
    let mut values: Vec<Option<Tensor>> = vec![None; g.nodes.len()];
    let mut uses = vec![0usize; g.nodes.len()];
    for n in &g.nodes {
        for &i in &n.inputs {
            uses[i] += 1;
        }
    }
    uses[g.output] += 1;
    for (id, node) in g.nodes.iter().enumerate() {
        let t = if let Op::Input { user_axes } = &node.op {
            input_tensor(user_axes, input, shape)?
        } else {
            let x = values[node.inputs[0]].as_ref().expect("operands run first");
            let y = match (&node.op, node.inputs.as_slice()) {
                (Op::Concat { at_end }, [_, b]) => {
                    concat(x, values[*b].as_ref().expect("operands run first"), *at_end)
                }
                (op, _) => eval(op, x)?,
            };
            for &src in &node.inputs {
                uses[src] -= 1;
                if uses[src] == 0 {
                    values[src] = None;
                }
            }
            y
        };
        values[id] = Some(t);
    }
    Ok(values[g.output].take().expect("output computed"))
}

fn input_tensor(user_axes: &[String], data: &[f64], shape: &[usize]) -> Result<Tensor, InterpError> {
    let named = user_axes.iter().filter(|a| *a != "...").count();
    let ell = user_axes.iter().any(|a| a == "...");
    if shape.len() < named || (!ell && shape.len() != named) {
        return Err(InterpError(format!(
            "input has {} axes, the spec expects [{}]",
            shape.len(),
            user_axes.join(", ")
        )));
    }
    if shape.iter().product::<usize>() != data.len() {
        return Err(InterpError(String::from("input data does not match its shape")));
    }
    let mut names = Vec::new();
    for a in user_axes {
        if a == "..." {
            for _ in 0..shape.len() - named {
                names.push(String::from("..."));
            }
        } else {
            names.push(a.clone());
        }
    }
    let t = Tensor { names, shape: shape.to_vec(), data: Data::Real(data.to_vec()) };
    // Move `samples` last, keeping the other axes in order.
    let s = t.names.iter().position(|n| n == "samples").expect("input has samples");
    if s + 1 == t.shape.len() {
        // Already in place: no permuted copy (and its index) of a long input.
        return Ok(t);
    }
    let mut perm: Vec<usize> = (0..t.shape.len()).filter(|&i| i != s).collect();
    perm.push(s);
    Ok(permute(&t, &perm))
}

fn permute(t: &Tensor, perm: &[usize]) -> Tensor {
    let shape: Vec<usize> = perm.iter().map(|&p| t.shape[p]).collect();
    let names: Vec<String> = perm.iter().map(|&p| t.names[p].clone()).collect();
    let mut strides = vec![1usize; t.shape.len()];
    for i in (0..t.shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * t.shape[i + 1];
    }
    let total: usize = shape.iter().product();
    let mut idx = vec![0usize; shape.len()];
    let mut src_index = Vec::with_capacity(total);
    for _ in 0..total {
        src_index.push(idx.iter().zip(perm).map(|(&i, &p)| i * strides[p]).sum::<usize>());
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    let data = match &t.data {
        Data::Real(v) => Data::Real(src_index.iter().map(|&i| v[i]).collect()),
        Data::Complex(v) => Data::Complex(src_index.iter().map(|&i| v[i]).collect()),
    };
    Tensor { names, shape, data }
}

/// NaN-propagating maximum, as numpy / JAX / torch `maximum` behave.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Applies `f` to each slice over the last `k` axes; `f` returns the new slice and the new
/// trailing sizes replace the old ones.
fn rows_real(t: &Tensor, k: usize, tail: &[(&str, usize)], f: impl Fn(&[f64]) -> Vec<f64>) -> Tensor {
    let v = t.real();
    let inner: usize = t.shape[t.shape.len() - k..].iter().product();
    let outer: usize = t.shape[..t.shape.len() - k].iter().product();
    let mut out = Vec::new();
    for r in 0..outer {
        out.extend(f(&v[r * inner..(r + 1) * inner]));
    }
    retail(t, k, tail, Data::Real(out))
}

fn retail(t: &Tensor, k: usize, tail: &[(&str, usize)], data: Data) -> Tensor {
    let keep = t.shape.len() - k;
    let mut names: Vec<String> = t.names[..keep].to_vec();
    let mut shape: Vec<usize> = t.shape[..keep].to_vec();
    for (n, s) in tail {
        names.push(n.to_string());
        shape.push(*s);
    }
    Tensor { names, shape, data }
}

fn complex_rows(t: &Tensor) -> &[Complex64] {
    match &t.data {
        Data::Complex(v) => v,
        Data::Real(_) => panic!("real tensor where a complex one was expected"),
    }
}

fn map_complex(t: &Tensor, f: impl Fn(Complex64) -> f64) -> Tensor {
    let v: Vec<f64> = complex_rows(t).iter().map(|&z| f(z)).collect();
    Tensor { names: t.names.clone(), shape: t.shape.clone(), data: Data::Real(v) }
}

fn map_real(t: &Tensor, f: impl Fn(f64) -> f64) -> Tensor {
    let v: Vec<f64> = t.real().iter().map(|&x| f(x)).collect();
    Tensor { names: t.names.clone(), shape: t.shape.clone(), data: Data::Real(v) }
}

fn last(t: &Tensor) -> usize {
    *t.shape.last().expect("at least one axis")
}

/// numpy `pad(mode="reflect")` index: the signal extended by mirroring without repeating the
/// edge, periodically with period `2 (n - 1)`; a 1-sample signal repeats.
fn reflect_index(j: i64, n: i64) -> usize {
    if n == 1 {
        return 0;
    }
    let p = 2 * (n - 1);
    let m = j.rem_euclid(p);
    (if m < n { m } else { p - m }) as usize
}

/// `a` (`frames x K`) with the per-frame `b` (`frames`) as its first or last column.
fn concat(a: &Tensor, b: &Tensor, at_end: bool) -> Tensor {
    let (t, k) = (a.shape[a.shape.len() - 2], last(a));
    let (av, bv) = (a.real(), b.real());
    let mut out = Vec::with_capacity(av.len() + bv.len());
    for (row, &e) in av.chunks(k.max(1)).zip(bv) {
        if !at_end {
            out.push(e);
        }
        out.extend_from_slice(&row[..k]);
        if at_end {
            out.push(e);
        }
    }
    let name = a.names[a.names.len() - 1].clone();
    retail(a, 2, &[("frames", t), (name.as_str(), k + 1)], Data::Real(out))
}

pub use crate::graph::symmetric_index;

fn eval(op: &Op, x: &Tensor) -> Result<Tensor, InterpError> {
    Ok(match op {
        Op::Input { .. } => unreachable!("handled by run"),
        Op::Pad { amount, mode } => {
            let n = last(x);
            let (l, r) = amount.amounts(n);
            let len = (n as i64 + l + r).max(0) as usize;
            let reach = l.max(r);
            match mode {
                PadMode::Reflect | PadMode::Edge | PadMode::Symmetric if n == 0 && reach > 0 => {
                    return Err(InterpError(String::from("cannot reflect or extend an empty signal")))
                }
                PadMode::ReflectStrict if reach >= n as i64 && reach > 0 => {
                    return Err(InterpError(format!(
                        "reflect padding of {reach} needs a signal longer than that, got {n} samples"
                    )))
                }
                _ => {}
            }
            let mode = *mode;
            rows_real(x, 1, &[("samples", len)], move |s| {
                (0..len)
                    .map(|i| {
                        let j = i as i64 - l;
                        if j >= 0 && (j as usize) < n {
                            return s[j as usize];
                        }
                        match mode {
                            PadMode::Constant(v) => v,
                            PadMode::Reflect | PadMode::ReflectStrict => s[reflect_index(j, n as i64)],
                            PadMode::Edge => s[if j < 0 { 0 } else { n - 1 }],
                            PadMode::Symmetric => s[symmetric_index(j, n as i64)],
                        }
                    })
                    .collect()
            })
        }
        Op::Select { axis, index } => {
            let i = x.names.iter().position(|n| n == axis).expect("verified select");
            let mut perm: Vec<usize> = vec![i];
            perm.extend((0..x.shape.len()).filter(|&j| j != i));
            let t = permute(x, &perm);
            let inner: usize = t.shape[1..].iter().product();
            if *index >= t.shape[0] {
                return Err(InterpError(format!(
                    "{axis} {index} does not exist: the input has {}",
                    t.shape[0]
                )));
            }
            let v = &t.real()[index * inner..(index + 1) * inner];
            Tensor {
                names: t.names[1..].to_vec(),
                shape: t.shape[1..].to_vec(),
                data: Data::Real(v.to_vec()),
            }
        }
        Op::MinSamples { count, why } => {
            let n = last(x);
            if n < *count {
                return Err(InterpError(format!("{n} samples are too few, {count} needed: {why}")));
            }
            x.clone()
        }
        Op::PadRight(k) => {
            let n = last(x);
            rows_real(x, 1, &[("samples", n + k)], |s| {
                let mut v = s.to_vec();
                v.resize(n + k, 0.0);
                v
            })
        }
        Op::Frames { length, hop, drop_last } => {
            let n = last(x);
            let mut t = if n >= *length { (n - length) / hop + 1 } else { 0 };
            if *drop_last {
                t = t.saturating_sub(1);
            }
            if t == 0 {
                return Err(InterpError(format!(
                    "the signal ({n} samples after padding) is too short for one frame of {length}"
                )));
            }
            let (length, hop) = (*length, *hop);
            rows_real(x, 1, &[("frames", t), ("taps", length)], move |s| {
                let mut v = Vec::with_capacity(t * length);
                for f in 0..t {
                    v.extend_from_slice(&s[f * hop..f * hop + length]);
                }
                v
            })
        }
        Op::Window { window: w, scaling } => {
            let wv = window::frame_vector(w, *scaling);
            let k = last(x);
            rows_real(x, 1, &[("taps", k)], |s| s.iter().zip(&wv).map(|(a, b)| a * b).collect())
        }
        Op::LogEnergy { min, floor } => {
            let (t, k) = (x.shape[x.shape.len() - 2], last(x));
            let (min, floor) = (*min, floor.map(f64::ln));
            rows_real(x, 2, &[("frames", t)], move |s| {
                s.chunks(k.max(1))
                    .map(|fr| {
                        let e = nan_max(fr.iter().map(|v| v * v).sum::<f64>(), min).ln();
                        floor.map_or(e, |f| nan_max(e, f))
                    })
                    .collect()
            })
        }
        Op::Concat { .. } => unreachable!("concat has two operands, handled by run"),
        Op::SubtractMean => {
            let (t, k) = (x.shape[x.shape.len() - 2], last(x));
            let name = x.names[x.names.len() - 1].clone();
            rows_real(x, 2, &[("frames", t), (name.as_str(), k)], move |s| {
                let mut out = s.to_vec();
                for c in 0..k {
                    let mean = (0..t).map(|f| s[f * k + c]).sum::<f64>() / t as f64;
                    for f in 0..t {
                        out[f * k + c] -= mean;
                    }
                }
                out
            })
        }
        Op::Cepstral(Cepstral::Dct(d)) => {
            let k = last(x);
            let m = d.matrix(k);
            rows_real(x, 1, &[("coeffs", d.n)], |s| {
                m.chunks(k).map(|row| row.iter().zip(s).map(|(a, b)| a * b).sum()).collect()
            })
        }
        Op::Cepstral(Cepstral::Lifter(l)) => {
            let w = l.weights(last(x));
            let name = x.names[x.names.len() - 1].clone();
            rows_real(x, 1, &[(name.as_str(), w.len())], |s| s.iter().zip(&w).map(|(a, b)| a * b).collect())
        }
        Op::Cepstral(Cepstral::Deltas(d)) => deltas(x, d)?,
        Op::RemoveDc => {
            let k = last(x);
            rows_real(x, 1, &[("taps", k)], |s| {
                let mean = s.iter().sum::<f64>() / s.len() as f64;
                s.iter().map(|v| v - mean).collect()
            })
        }
        Op::Preemphasis(c) => {
            let k = last(x);
            rows_real(x, 1, &[("taps", k)], |s| {
                (0..s.len()).map(|i| s[i] - c * s[i.saturating_sub(1)]).collect()
            })
        }
        Op::Rfft { n, period, basis } => rfft(x, *n, *period, *basis),
        Op::Power => map_complex(x, |z| z.re * z.re + z.im * z.im),
        Op::Magnitude => map_complex(x, |z| (z.re * z.re + z.im * z.im).sqrt()),
        Op::Real => map_complex(x, |z| z.re),
        Op::Imag => map_complex(x, |z| z.im),
        Op::Angle => map_complex(x, |z| z.im.atan2(z.re)),
        Op::ConcatReIm => {
            let f = last(x);
            let v = complex_rows(x);
            let mut out = Vec::with_capacity(v.len() * 2);
            for row in v.chunks(f.max(1)) {
                out.extend(row.iter().map(|z| z.re));
                out.extend(row.iter().map(|z| z.im));
            }
            retail(x, 1, &[("bins", 2 * f)], Data::Real(out))
        }
        Op::Scale(k) => match &x.data {
            Data::Real(_) => map_real(x, |v| v * k),
            Data::Complex(v) => Tensor {
                names: x.names.clone(),
                shape: x.shape.clone(),
                data: Data::Complex(v.iter().map(|z| z * k).collect()),
            },
        },
        Op::Unary(u) => match *u {
            Unary::Sqrt => map_real(x, f64::sqrt),
            Unary::Ln => map_real(x, f64::ln),
            Unary::Log10 => map_real(x, f64::log10),
            Unary::Pow(p) => map_real(x, |v| v.powf(p)),
            Unary::ClampMin(m) => map_real(x, |v| nan_max(v, m)),
            Unary::Affine(a, b) => map_real(x, |v| v * a + b),
        },
        Op::DoubleInterior { last: with_last } => {
            let f = last(x);
            let end = if *with_last { f } else { f.saturating_sub(1) };
            rows_real(x, 1, &[("bins", f)], |s| {
                s.iter().enumerate().map(|(k, &v)| if k >= 1 && k < end { 2.0 * v } else { v }).collect()
            })
        }
        Op::Mel(spec) => {
            let fb = mel::filterbank(spec);
            rows_real(x, 1, &[("mel", spec.bands)], |s| {
                // Dense, as the libraries multiply: a NaN or inf in any bin reaches every band.
                fb.iter().map(|row| row.iter().zip(s).map(|(w, v)| w * v).sum()).collect()
            })
        }
        Op::Db { mult, amin, reference, top_db, scope, nan } => {
            let log = |v: f64| mult * nan_max(v, *amin).log10();
            let k = match scope {
                Scope::Tensor => x.shape.len(),
                Scope::Trailing(k) => (*k).min(x.shape.len()),
            };
            // As librosa's power_to_db: the reference (np.max of the input for `ref: max`),
            // then the clip against the maximum of the result.
            rows_real(x, k, &[], |s| {
                let r = match reference {
                    DbRef::Value(r) => r.abs(),
                    DbRef::Max => scope_max(s, *nan),
                };
                let offset = log(r);
                let y: Vec<f64> = s.iter().map(|&v| log(v) - offset).collect();
                match top_db {
                    None => y,
                    Some(top) => {
                        let m = scope_max(&y, *nan);
                        y.iter().map(|&v| nan_max(v, m - top)).collect()
                    }
                }
            })
            .with_shape(x)
        }
        Op::Layout(out) => layout(x, out),
        Op::WindowTable(t) => {
            let k = last(x);
            rows_real(x, 1, &[("taps", k)], |s| s.iter().zip(t.data.iter()).map(|(a, b)| a * b).collect())
        }
        Op::MelTable(t) => rows_real(x, 1, &[("mel", t.rows)], |s| {
            t.data.chunks(t.cols.max(1)).map(|row| row.iter().zip(s).map(|(w, v)| w * v).sum()).collect()
        }),
        Op::DbFolded { mult, amin, offset, clip } => {
            let y = map_real(x, |v| step(&Step::Log { mult: *mult, amin: *amin, offset: *offset }, v, 0, 1));
            match clip {
                Some(c) => clip_tensor(&y, c),
                None => y,
            }
        }
        Op::FramedLoad { pads, length, hop, drop_last, window } => {
            let mut t = x.clone();
            for p in pads {
                t = eval(&Op::Pad { amount: p.amount, mode: p.mode }, &t)?;
            }
            t = eval(&Op::Frames { length: *length, hop: *hop, drop_last: *drop_last }, &t)?;
            match window {
                Some(w) => eval(&Op::WindowTable(w.clone()), &t)?,
                None => t,
            }
        }
        Op::PowerMel { power, matrix } => {
            let p = match power {
                SpectrumPower::Power => map_complex(x, |z| z.re * z.re + z.im * z.im),
                SpectrumPower::MagnitudePow(e) => {
                    map_complex(x, |z| (z.re * z.re + z.im * z.im).sqrt().powf(*e))
                }
            };
            rows_real(&p, 1, &[("mel", matrix.rows.len())], |s| {
                matrix
                    .rows
                    .iter()
                    .map(|(start, w)| {
                        let end = start + w.len();
                        // The dense product multiplies every other bin by an exact zero: a
                        // non-finite bin there makes the band NaN.
                        if s[..*start].iter().chain(&s[end..]).any(|v| !v.is_finite()) {
                            return f64::NAN;
                        }
                        w.iter().zip(&s[*start..end]).map(|(a, b)| a * b).sum()
                    })
                    .collect()
            })
        }
        Op::Epilogue(e) => {
            let mut y = match e.from {
                None => x.clone(),
                Some(f) => map_complex(x, |z| match f {
                    FromComplex::Power => z.re * z.re + z.im * z.im,
                    FromComplex::Magnitude => (z.re * z.re + z.im * z.im).sqrt(),
                    FromComplex::Real => z.re,
                    FromComplex::Imag => z.im,
                    FromComplex::Angle => z.im.atan2(z.re),
                }),
            };
            y = steps(&y, &e.pre);
            if let Some(c) = &e.clip {
                y = clip_tensor(&y, c);
            }
            steps(&y, &e.post)
        }
        Op::Fft { n, period, basis, plan } => planned_fft(x, *n, *period, *basis, plan),
    })
}

/// `deltas` over the `frames` axis of each column; with `append`, the values and their
/// derivatives of orders 1..=order side by side along the last axis.
fn deltas(x: &Tensor, d: &Deltas) -> Result<Tensor, InterpError> {
    let (t, k) = (x.shape[x.shape.len() - 2], last(x));
    if d.mode == DeltaMode::Interp && t < d.width {
        return Err(InterpError(format!(
            "{t} frames are too few for deltas of width {}: mode interp fits a polynomial to `width` frames (librosa: width cannot exceed the number of frames)",
            d.width
        )));
    }
    let name = x.names[x.names.len() - 1].clone();
    let out_k = if d.append { k * (d.order + 1) } else { k };
    let h = d.width / 2;
    // Interp: the order-o derivative of the degree-o least-squares fit, centre weights inside,
    // the first and last windows' fits at the edges.
    let savgol: Vec<Vec<Vec<f64>>> = (1..=d.order)
        .map(|o| match d.mode {
            DeltaMode::Interp => (0..d.width).map(|p| savgol_weights(d.width, o, o, p)).collect(),
            DeltaMode::Replicate => Vec::new(),
        })
        .collect();
    let derive = |col: &[f64], o: usize, prev: &[f64]| -> Vec<f64> {
        match d.mode {
            DeltaMode::Interp => {
                let w = &savgol[o - 1];
                (0..t)
                    .map(|i| {
                        let (start, pos) = if i < h {
                            (0, i)
                        } else if i + h >= t {
                            (t - d.width, i + d.width - t)
                        } else {
                            (i - h, h)
                        };
                        w[pos].iter().zip(&col[start..start + d.width]).map(|(a, b)| a * b).sum()
                    })
                    .collect()
            }
            DeltaMode::Replicate => {
                let n = ((d.width - 1) / 2) as i64;
                let denom = (n * (n + 1) * (2 * n + 1)) as f64 / 3.0;
                (0..t as i64)
                    .map(|i| {
                        let at = |j: i64| prev[j.clamp(0, t as i64 - 1) as usize];
                        (-n..=n).map(|j| j as f64 * at(i + j)).sum::<f64>() / denom
                    })
                    .collect()
            }
        }
    };
    Ok(rows_real(x, 2, &[("frames", t), (name.as_str(), out_k)], |s| {
        let mut out = vec![0.0; t * out_k];
        for c in 0..k {
            let col: Vec<f64> = (0..t).map(|f| s[f * k + c]).collect();
            let mut cur = col.clone();
            for o in 1..=d.order {
                cur = derive(&col, o, &cur);
                if d.append {
                    (0..t).for_each(|f| out[f * out_k + o * k + c] = cur[f]);
                }
            }
            for f in 0..t {
                out[f * out_k + c] = if d.append { col[f] } else { cur[f] };
            }
        }
        out
    }))
}

/// One elementwise step at bin `k` of `bins`.
fn step(s: &Step, v: f64, k: usize, bins: usize) -> f64 {
    match *s {
        Step::Unary(u) => match u {
            Unary::Sqrt => v.sqrt(),
            Unary::Ln => v.ln(),
            Unary::Log10 => v.log10(),
            Unary::Pow(p) => v.powf(p),
            Unary::ClampMin(m) => nan_max(v, m),
            Unary::Affine(a, b) => v * a + b,
        },
        Step::Scale(f) => v * f,
        Step::DoubleInterior { last } => {
            let end = if last { bins } else { bins.saturating_sub(1) };
            if k >= 1 && k < end {
                2.0 * v
            } else {
                v
            }
        }
        Step::Log { mult, amin, offset } => mult * nan_max(v, amin).log10() - offset,
    }
}

fn steps(x: &Tensor, ss: &[Step]) -> Tensor {
    if ss.is_empty() {
        return x.clone();
    }
    let bins = last(x);
    rows_real(x, 1, &[(x.names.last().map(|s| s.as_str()).unwrap_or("bins"), bins)], |s| {
        s.iter().enumerate().map(|(k, &v)| ss.iter().fold(v, |acc, st| step(st, acc, k, bins))).collect()
    })
    .with_shape(x)
}

/// `max(x - shift, floor)` per scope (see [`Clip`]).
fn clip_tensor(y: &Tensor, c: &Clip) -> Tensor {
    let k = match c.scope {
        Scope::Tensor => y.shape.len(),
        Scope::Trailing(k) => k.min(y.shape.len()),
    };
    rows_real(y, k, &[], |s| {
        let m = scope_max(s, c.nan);
        let (shift, floor) = (c.shift(m), c.floor(m));
        s.iter().map(|&v| nan_max(v - shift, floor)).collect()
    })
    .with_shape(y)
}

/// The maximum of `s` under a NaN rule (`-inf` when empty or all NaN and skipped).
fn scope_max(s: &[f64], nan: NanMax) -> f64 {
    if nan.propagates(s.len()) {
        s.iter().fold(f64::NEG_INFINITY, |a, &b| nan_max(a, b))
    } else {
        s.iter().filter(|v| !v.is_nan()).fold(f64::NEG_INFINITY, |a, &b| a.max(b))
    }
}

/// The DFT through an explicit plan for `period` points: taps past the period wrap onto the
/// start (a DFT of that period sees them there), the rest is zero; bins `0..n/2+1`. Frames
/// holding non-finite samples keep the sum-of-products meaning (see [`rfft`]).
fn planned_fft(x: &Tensor, n: usize, period: usize, basis: Precision, plan: &RealPlan) -> Tensor {
    let taps = last(x);
    let bins = n / 2 + 1;
    let v = x.real();
    let rows = v.len().checked_div(taps).unwrap_or(0);
    let mut out = Vec::with_capacity(rows * bins);
    let mut frame = vec![0.0; period];
    let mut spec = vec![Complex64::new(0.0, 0.0); period / 2 + 1];
    for r in 0..rows {
        let s = &v[r * taps..(r + 1) * taps];
        if !s.iter().all(|v| v.is_finite()) {
            let one =
                Tensor { names: vec![String::from("taps")], shape: vec![taps], data: Data::Real(s.to_vec()) };
            let y = rfft(&one, n, period, basis);
            out.extend_from_slice(complex_rows(&y));
            continue;
        }
        frame.iter_mut().for_each(|f| *f = 0.0);
        for (t, &xv) in s.iter().enumerate() {
            frame[t % period] += xv;
        }
        crate::graph::fft_plan::execute_real(plan, &frame, &mut spec);
        out.extend_from_slice(&spec[..bins]);
    }
    retail(x, 1, &[("bins", bins)], Data::Complex(out))
}

impl Tensor {
    fn with_shape(mut self, like: &Tensor) -> Tensor {
        self.names = like.names.clone();
        self.shape = like.shape.clone();
        self
    }
}

/// The DFT is defined as the sum `X[k] = sum_t x[t] exp(-2 pi i t k / period)` in IEEE
/// arithmetic, as a convolution (Keras's STFT) or a matrix product evaluates it: a NaN, or an
/// inf meeting a zero weight, reaches every bin of its frame. An FFT skips some of those
/// products (it multiplies by +-i exactly), so frames holding non-finite samples, and periods
/// other than `n`, are summed directly (with the float32 basis for `basis: f32`, whose exact
/// zeros and near-zero signs decide where `inf * 0` happens and the sign of an infinite bin);
/// finite frames use an f64 FFT, which differs from a float32 basis only by that basis's
/// rounding.
fn rfft(x: &Tensor, n: usize, period: usize, basis: Precision) -> Tensor {
    let taps = last(x);
    let bins = n / 2 + 1;
    let v = x.real();
    let rows = v.len().checked_div(taps).unwrap_or(0);
    let mut out = Vec::with_capacity(rows * bins);
    let fft = FftPlanner::<f64>::new().plan_fft_forward(n);
    let tw: Vec<Complex64> =
        (0..period).map(|j| Complex64::from_polar(1.0, -2.0 * PI * j as f64 / period as f64)).collect();
    let keras = |t: usize, k: usize| {
        let (c, s) = keras_basis(t, k, period);
        Complex64::new(c, s)
    };
    let mut buf = vec![Complex64::new(0.0, 0.0); n];
    for r in 0..rows {
        let s = &v[r * taps..(r + 1) * taps];
        // A sum of products, in order, with the basis entry for (t, k).
        let direct = |out: &mut Vec<Complex64>, w: &dyn Fn(usize, usize) -> Complex64| {
            for k in 0..bins {
                let (mut re, mut im) = (0.0, 0.0);
                for (t, &xv) in s.iter().enumerate() {
                    let b = w(t, k);
                    re += xv * b.re;
                    im += xv * b.im;
                }
                out.push(Complex64::new(re, im));
            }
        };
        let finite = s.iter().all(|v| v.is_finite());
        if basis == Precision::F32 && !finite {
            direct(&mut out, &keras);
        } else if period == n && finite {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = Complex64::new(if i < taps { s[i] } else { 0.0 }, 0.0);
            }
            fft.process(&mut buf);
            out.extend_from_slice(&buf[..bins]);
        } else {
            direct(&mut out, &|t, k| tw[(t * k) % period]);
        }
    }
    retail(x, 1, &[("bins", bins)], Data::Complex(out))
}

fn layout(x: &Tensor, out: &[OutAxis]) -> Tensor {
    let mut perm = Vec::new();
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for o in out {
        if o.parts == ["..."] {
            for (i, n) in x.names.iter().enumerate() {
                if n == "..." {
                    perm.push(i);
                    groups.push((String::from("..."), vec![x.shape[i]]));
                }
            }
            continue;
        }
        let mut sizes = Vec::new();
        for p in &o.parts {
            let i = x.names.iter().position(|n| n == p).expect("verified layout");
            perm.push(i);
            sizes.push(x.shape[i]);
        }
        groups.push((o.parts.join("*"), sizes));
    }
    let t = permute(x, &perm);
    Tensor {
        names: groups.iter().map(|(n, _)| n.clone()).collect(),
        shape: groups.iter().map(|(_, s)| s.iter().product()).collect(),
        data: t.data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_pad_repeats_the_edge_and_centered_amounts_trim() {
        // numpy.pad([0, 1, 2], 3, mode="symmetric") = [2, 1, 0, 0, 1, 2, 2, 1, 0]
        let idx: Vec<usize> = (-3..6).map(|j| symmetric_index(j, 3)).collect();
        assert_eq!(idx, [2, 1, 0, 0, 1, 2, 2, 1, 0]);
        // torchaudio _get_strided, snip_edges=False: 1000 samples, window 400, shift 160 ->
        // 6 frames, pad 120 left, the last frame ending at 5 * 160 + 400 = 1200.
        assert_eq!(PadAmount::Centered { length: 400, hop: 160 }.amounts(1000), (120, 80));
        // shift 400 > window 160: pad 80 - 200 < 0 trims the front; 1000 samples -> 3 frames
        // ending at 2 * 400 + 160 = 960 of the trimmed signal.
        assert_eq!(PadAmount::Centered { length: 160, hop: 400 }.amounts(1000), (-120, 80));
    }

    #[test]
    fn preemphasis_replicates_the_first_sample() {
        let x = Tensor {
            names: vec!["frames".into(), "taps".into()],
            shape: vec![1, 3],
            data: Data::Real(vec![1.0, 2.0, 4.0]),
        };
        let y = eval(&Op::Preemphasis(0.5), &x).expect("runs");
        assert_eq!(y.real(), &[0.5, 1.5, 3.0]);
    }

    #[test]
    fn reflect_matches_numpy() {
        // np.pad([0, 1, 2], 5, mode="reflect") = [1 0 1 2 1 | 0 1 2 | 1 0 1 2 1]
        let got: Vec<usize> = (-5..8).map(|j| reflect_index(j, 3)).collect();
        assert_eq!(got, vec![1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1]);
        // np.pad([0, 1, 2, 3], 9, mode="reflect")[:6] = [3 2 1 0 1 2]
        let got: Vec<usize> = (-9..-3).map(|j| reflect_index(j, 4)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 1, 2]);
        assert_eq!(reflect_index(-4, 1), 0);
    }
}
