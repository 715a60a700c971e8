//! The verifier: checks a graph's structure and types, so every pass can be checked.

use super::*;

/// Checks that inputs precede their users, node 0 is the only input, and every node's type is
/// what its op makes of its operands' types.
pub fn verify(g: &Graph) -> Result<(), String> {
    if g.nodes.is_empty() {
        return Err(String::from("empty graph"));
    }
    if !matches!(g.nodes[0].op, Op::Input { .. }) {
        return Err(String::from("node 0 must be the input"));
    }
    if g.output >= g.nodes.len() {
        return Err(format!("output %{} does not exist", g.output));
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let want = match n.op {
            Op::Input { .. } => 0,
            Op::Concat { .. } => 2,
            _ => 1,
        };
        if let (Some(crate::kernel::Schedule::Plan(p)), true) = (&g.schedule, i == 0) {
            if let Some(bad) = p.stages().find(|s| s.node >= g.nodes.len()) {
                return Err(format!("the kernel plan names %{}, which does not exist", bad.node));
            }
        }
        if n.inputs.len() != want {
            return Err(format!("%{i} ({}) has {} inputs, wants {want}", n.op.name(), n.inputs.len()));
        }
        if let Some(&bad) = n.inputs.iter().find(|&&x| x >= i) {
            return Err(format!("%{i} uses %{bad}, which is not defined before it"));
        }
        if i > 0 {
            let operands: Vec<&Type> = n.inputs.iter().map(|&x| &g.nodes[x].ty).collect();
            let expected = infer_all(&n.op, &operands).map_err(|e| format!("%{i} ({}): {e}", n.op.name()))?;
            if expected != n.ty {
                return Err(format!(
                    "%{i} ({}) has type {}, but its op makes {}",
                    n.op.name(),
                    print::type_text(&n.ty),
                    print::type_text(&expected)
                ));
            }
        } else if n.ty.last().name != "samples" {
            return Err(String::from("the input's last internal axis must be samples"));
        }
    }
    Ok(())
}

fn core(t: &Type, names: &[&str], elem: Elem) -> Result<(), String> {
    let k = names.len();
    if t.axes.len() < k {
        return Err(format!("operand has {} axes, needs {:?}", t.axes.len(), names));
    }
    let tail: Vec<&str> = t.axes[t.axes.len() - k..].iter().map(|a| a.name.as_str()).collect();
    if tail != names {
        return Err(format!("operand's trailing axes are {tail:?}, needs {names:?}"));
    }
    if t.elem != elem {
        return Err(format!("operand is {:?}, needs {elem:?}", t.elem));
    }
    Ok(())
}

fn with_tail(t: &Type, drop: usize, tail: Vec<Axis>, elem: Elem) -> Type {
    let mut axes = t.axes[..t.axes.len() - drop].to_vec();
    axes.extend(tail);
    Type { elem, axes }
}

/// The type `op` makes of its operands' types (two for `concat`, one otherwise).
pub fn infer_all(op: &Op, operands: &[&Type]) -> Result<Type, String> {
    match (op, operands) {
        (Op::Concat { .. }, [a, b]) => {
            if a.elem != Elem::Real || a.axes.len() < 2 || a.axes[a.axes.len() - 2].name != "frames" {
                return Err(String::from("concat's first operand must be real frames x values"));
            }
            core(b, &["frames"], Elem::Real)?;
            let (fa, fb) = (&a.axes[a.axes.len() - 2], b.last());
            if fa.size != fb.size || a.axes[..a.axes.len() - 2] != b.axes[..b.axes.len() - 1] {
                return Err(format!(
                    "concat's operands differ in frames or leading axes: {} and {}",
                    print::type_text(a),
                    print::type_text(b)
                ));
            }
            let last = a.last();
            Ok(with_tail(a, 1, vec![Axis::new(&last.name, last.size.clone().plus(1))], Elem::Real))
        }
        (Op::Concat { .. }, _) => Err(String::from("concat takes two operands")),
        (_, [t]) => infer(op, t),
        _ => Err(format!("{} takes one operand", op.name())),
    }
}

/// The type `op` makes of an operand of type `t`.
pub fn infer(op: &Op, t: &Type) -> Result<Type, String> {
    let last_size = || t.last().size.clone();
    Ok(match op {
        Op::Input { .. } => return Err(String::from("input has no operand")),
        Op::Pad { amount, .. } => {
            core(t, &["samples"], Elem::Real)?;
            let n = last_size();
            let size = match *amount {
                PadAmount::Fixed(l, r) => n.plus((l + r) as i64),
                PadAmount::Same { length, hop } => {
                    let frames = n.clone().ceil_div(hop as i64);
                    let span = frames.plus(-1).times(hop as i64).plus(length as i64);
                    if length >= hop {
                        // (ceil(N / hop) - 1) * hop + length >= N whenever length >= hop, so the
                        // padded length is that span (and the frame count simplifies to ceil(N / hop)).
                        span
                    } else {
                        n.clone().add_size(span.sub_size(n).max(0))
                    }
                }
                // ((N + hop/2) // hop - 1) * hop + length: the last frame's end, whatever the
                // signal past it (see `PadAmount::amounts`).
                PadAmount::Centered { length, hop } => n
                    .plus((hop / 2) as i64)
                    .floor_div(hop as i64)
                    .plus(-1)
                    .times(hop as i64)
                    .plus(length as i64),
            };
            with_tail(t, 1, vec![Axis::new("samples", size)], Elem::Real)
        }
        Op::Select { axis, .. } => {
            let i = t.axis(axis).ok_or_else(|| format!("no axis named {axis}"))?;
            if !matches!(t.axes[i].size, Size::Lead(_)) {
                return Err(format!("select takes a leading input axis, not {axis}"));
            }
            let mut axes = t.axes.clone();
            axes.remove(i);
            Type { elem: t.elem, axes }
        }
        Op::MinSamples { .. } => {
            core(t, &["samples"], Elem::Real)?;
            t.clone()
        }
        Op::PadRight(k) => {
            core(t, &["samples"], Elem::Real)?;
            with_tail(t, 1, vec![Axis::new("samples", last_size().plus(*k as i64))], Elem::Real)
        }
        Op::Frames { length, hop, drop_last } => {
            core(t, &["samples"], Elem::Real)?;
            let frames = last_size().plus(-(*length as i64)).floor_div(*hop as i64).plus(1);
            let frames = if *drop_last { frames.plus(-1) } else { frames };
            with_tail(
                t,
                1,
                vec![Axis::new("frames", frames), Axis::new("taps", Size::Const(*length as i64))],
                Elem::Real,
            )
        }
        Op::Window { window, .. } => {
            core(t, &["frames", "taps"], Elem::Real)?;
            if last_size() != Size::Const(window.frame as i64) {
                return Err(format!(
                    "window is placed in {} taps, frames have {}",
                    window.frame,
                    last_size()
                ));
            }
            t.clone()
        }
        Op::LogEnergy { .. } => {
            core(t, &["frames", "taps"], Elem::Real)?;
            with_tail(t, 2, vec![t.axes[t.axes.len() - 2].clone()], Elem::Real)
        }
        Op::Concat { .. } => return Err(String::from("concat takes two operands")),
        Op::SubtractMean => {
            if t.elem != Elem::Real || t.axes.len() < 2 || t.axes[t.axes.len() - 2].name != "frames" {
                return Err(String::from("subtract_mean takes real frames x values"));
            }
            t.clone()
        }
        Op::Cepstral(c) => c.infer(t)?,
        Op::RemoveDc | Op::Preemphasis(_) => {
            core(t, &["frames", "taps"], Elem::Real)?;
            t.clone()
        }
        Op::Rfft { n, .. } => {
            core(t, &["frames", "taps"], Elem::Real)?;
            match last_size().as_const() {
                Some(l) if l as usize <= *n => {}
                _ => return Err(format!("frames of {} taps do not fit an rfft of {n}", last_size())),
            }
            let bins = Size::Const((n / 2 + 1) as i64);
            with_tail(t, 1, vec![Axis::new("bins", bins)], Elem::Complex)
        }
        Op::Power | Op::Magnitude | Op::Real | Op::Imag | Op::Angle => {
            core(t, &["bins"], Elem::Complex)?;
            Type { elem: Elem::Real, axes: t.axes.clone() }
        }
        Op::ConcatReIm => {
            core(t, &["bins"], Elem::Complex)?;
            with_tail(t, 1, vec![Axis::new("bins", last_size().times(2))], Elem::Real)
        }
        Op::Scale(_) => t.clone(),
        Op::Unary(_) => {
            if t.elem != Elem::Real {
                return Err(String::from("elementwise functions take real tensors"));
            }
            t.clone()
        }
        Op::DoubleInterior { .. } => {
            core(t, &["bins"], Elem::Real)?;
            t.clone()
        }
        Op::Mel(m) => {
            core(t, &["bins"], Elem::Real)?;
            if last_size() != Size::Const((m.n_fft / 2 + 1) as i64) {
                return Err(format!(
                    "mel for n_fft {} needs {} bins, got {}",
                    m.n_fft,
                    m.n_fft / 2 + 1,
                    last_size()
                ));
            }
            with_tail(t, 1, vec![Axis::new("mel", Size::Const(m.bands as i64))], Elem::Real)
        }
        Op::Db { .. } => {
            if t.elem != Elem::Real {
                return Err(String::from("db takes a real tensor"));
            }
            t.clone()
        }
        Op::WindowTable(tab) => {
            core(t, &["frames", "taps"], Elem::Real)?;
            if last_size() != Size::Const(tab.cols as i64) || tab.rows != 1 {
                return Err(format!(
                    "window table {}x{} does not fit {} taps",
                    tab.rows,
                    tab.cols,
                    last_size()
                ));
            }
            t.clone()
        }
        Op::MelTable(tab) => {
            core(t, &["bins"], Elem::Real)?;
            if last_size() != Size::Const(tab.cols as i64) {
                return Err(format!("mel table has {} columns, tensor has {} bins", tab.cols, last_size()));
            }
            with_tail(t, 1, vec![Axis::new("mel", Size::Const(tab.rows as i64))], Elem::Real)
        }
        Op::DbFolded { .. } => {
            if t.elem != Elem::Real {
                return Err(String::from("db takes a real tensor"));
            }
            t.clone()
        }
        Op::FramedLoad { pads, length, hop, drop_last, window } => {
            let mut ty = t.clone();
            for p in pads {
                ty = infer(&Op::Pad { amount: p.amount, mode: p.mode }, &ty)?;
            }
            ty = infer(&Op::Frames { length: *length, hop: *hop, drop_last: *drop_last }, &ty)?;
            if let Some(w) = window {
                ty = infer(&Op::WindowTable(w.clone()), &ty)?;
            }
            ty
        }
        Op::PowerMel { matrix, .. } => {
            core(t, &["bins"], Elem::Complex)?;
            if last_size() != Size::Const(matrix.cols as i64) {
                return Err(format!(
                    "filterbank has {} columns, tensor has {} bins",
                    matrix.cols,
                    last_size()
                ));
            }
            with_tail(t, 1, vec![Axis::new("mel", Size::Const(matrix.rows.len() as i64))], Elem::Real)
        }
        Op::Epilogue(e) => {
            let want = if e.from.is_some() { Elem::Complex } else { Elem::Real };
            if t.elem != want {
                return Err(format!("epilogue expects a {want:?} tensor"));
            }
            Type { elem: Elem::Real, axes: t.axes.clone() }
        }
        Op::Fft { n, period, basis, .. } => infer(&Op::Rfft { n: *n, period: *period, basis: *basis }, t)?,
        Op::Layout(out) => {
            let mut used = vec![false; t.axes.len()];
            let mut axes = Vec::new();
            for o in out {
                let mut size: Option<Size> = None;
                let mut names = Vec::new();
                for p in &o.parts {
                    let i = t.axis(p).ok_or_else(|| format!("no axis named {p}"))?;
                    if used[i] {
                        return Err(format!("axis {p} used twice"));
                    }
                    used[i] = true;
                    names.push(p.clone());
                    let s = t.axes[i].size.clone();
                    size = Some(match size {
                        None => s,
                        Some(acc) => acc.mul_size(s),
                    });
                }
                let size = size.ok_or("empty layout axis")?;
                let name = if names.len() == 1 { names[0].clone() } else { names.join("*") };
                axes.push(Axis { name, size });
            }
            if let Some(i) = used.iter().position(|u| !u) {
                return Err(format!("layout leaves out axis {}", t.axes[i].name));
            }
            Type { elem: t.elem, axes }
        }
    })
}
