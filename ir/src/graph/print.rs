//! The graph's stable text form: one line per node, the spec's words as a comment.

use super::*;

fn fmt_f(x: f64) -> String {
    format!("{x:?}")
}

/// Writes the type as `real[..., frames=N // 512 + 1, bins=1025]`.
pub fn type_text(t: &Type) -> String {
    let axes: Vec<String> = t
        .axes
        .iter()
        .map(|a| if a.is_ellipsis() { String::from("...") } else { format!("{}={}", a.name, a.size) })
        .collect();
    let elem = match t.elem {
        Elem::Real => "real",
        Elem::Complex => "complex",
    };
    format!("{elem}[{}]", axes.join(", "))
}

/// The op with its attributes, as in the graph text.
pub fn op_text(op: &Op) -> String {
    match op {
        Op::Input { user_axes } => format!("input(layout: [{}])", user_axes.join(", ")),
        Op::Pad { amount, mode } => {
            let m = match mode {
                PadMode::Constant(v) => format!("constant {}", fmt_f(*v)),
                PadMode::Reflect => String::from("reflect"),
                PadMode::ReflectStrict => String::from("reflect, strict"),
                PadMode::Edge => String::from("edge"),
                PadMode::Symmetric => String::from("symmetric"),
            };
            match amount {
                PadAmount::Fixed(l, r) => format!("pad(left: {l}, right: {r}, {m})"),
                PadAmount::Same { length, hop } => {
                    format!("pad(same, length: {length}, hop: {hop}, {m})")
                }
                PadAmount::Centered { length, hop } => {
                    format!("pad(centered, length: {length}, hop: {hop}, {m})")
                }
            }
        }
        Op::PadRight(n) => format!("pad_right({n})"),
        Op::MinSamples { count, .. } => format!("min_samples({count})"),
        Op::Select { axis, index } => format!("select({axis}, index: {index})"),
        Op::Frames { length, hop, drop_last } => {
            let d = if *drop_last { ", drop_last" } else { "" };
            format!("frames(length: {length}, hop: {hop}{d})")
        }
        Op::Window { window: w, scaling } => {
            let p = if w.periodic { "periodic" } else { "symmetric" };
            let pl = match w.placement {
                Placement::Center => "center",
                Placement::Left => "left",
            };
            let s = match scaling {
                WindowScaling::None => "",
                WindowScaling::Density => ", scaling: density",
                WindowScaling::Spectrum => ", scaling: spectrum",
            };
            let b = if w.kind == WindowKind::Blackman && w.blackman != crate::consts::window::BLACKMAN {
                format!(", coeff: {}", fmt_f(w.blackman))
            } else {
                String::new()
            };
            format!("window({} {p}{b}, length: {} in {}, {pl}{s})", w.kind.as_str(), w.length, w.frame)
        }
        Op::RemoveDc => String::from("remove_dc()"),
        Op::LogEnergy { min, floor } => match floor {
            Some(f) => format!("log_energy(min: {}, floor: {})", fmt_f(*min), fmt_f(*f)),
            None => format!("log_energy(min: {})", fmt_f(*min)),
        },
        Op::Concat { at_end } => format!("concat({})", if *at_end { "last" } else { "first" }),
        Op::SubtractMean => String::from("subtract_mean(over: frames)"),
        Op::Cepstral(c) => c.text(),
        Op::Preemphasis(c) => format!("preemphasis({})", fmt_f(*c)),
        Op::Rfft { n, period, basis } => {
            let p = if n == period { String::new() } else { format!(", period: {period}") };
            let b = if *basis == Precision::F32 { ", basis: f32" } else { "" };
            format!("rfft(n: {n}{p}{b})")
        }
        Op::Scale(k) => format!("scale({})", fmt_f(*k)),
        Op::Unary(u) => match u {
            Unary::Pow(p) => format!("pow({})", fmt_f(*p)),
            Unary::ClampMin(v) => format!("clamp(min: {})", fmt_f(*v)),
            Unary::Affine(a, b) => format!("affine(scale: {}, offset: {})", fmt_f(*a), fmt_f(*b)),
            Unary::Sqrt | Unary::Ln | Unary::Log10 => format!("{}()", op.name()),
        },
        Op::DoubleInterior { last } => {
            if *last {
                String::from("double_interior(last: true)")
            } else {
                String::from("double_interior()")
            }
        }
        Op::Mel(m) => {
            let scale = match m.scale {
                MelScale::Htk => "htk",
                MelScale::Slaney => "slaney",
            };
            let tri = match m.triangles {
                TriangleDomain::Mel => "mel",
                TriangleDomain::Hz => "hz",
            };
            let grid = match m.grid {
                BinGrid::Linspace { top } => format!("linspace(0, {})", fmt_f(top)),
                BinGrid::Rfftfreq => String::from("rfftfreq"),
            };
            let norm = match m.norm {
                MelNorm::None => "none",
                MelNorm::Slaney => "slaney",
            };
            format!(
                "mel(bands: {}, rate: {}, n_fft: {}, fmin: {}, fmax: {}, scale: {scale}, \
                 triangles: {tri}, grid: {grid}, norm: {norm}{}{})",
                m.bands,
                fmt_f(m.rate),
                m.n_fft,
                fmt_f(m.fmin),
                fmt_f(m.fmax),
                if m.zero_dc { ", zero_dc" } else { "" },
                match m.table {
                    MelTable::F64 => "",
                    MelTable::XlaF32 => ", table: xla_f32",
                    MelTable::TorchF32 => ", table: torch_f32",
                }
            )
        }
        Op::Db { mult, amin, reference, top_db, scope, nan } => {
            let top = match top_db {
                Some(t) => fmt_f(*t),
                None => String::from("none"),
            };
            let sc = match scope {
                Scope::Tensor => String::from("tensor"),
                Scope::Trailing(k) => format!("trailing({k})"),
            };
            let nan = match nan {
                NanMax::Propagate => String::new(),
                NanMax::Skip { from: 0 } => String::from(", nan: skip"),
                NanMax::Skip { from } => format!(", nan: skip, skip_from: {from}"),
            };
            let reference = match reference {
                DbRef::Value(r) => fmt_f(*r),
                DbRef::Max => String::from("max"),
            };
            format!(
                "db(mult: {}, amin: {}, ref: {reference}, top_db: {top}, over: {sc}{nan})",
                fmt_f(*mult),
                fmt_f(*amin)
            )
        }
        Op::WindowTable(t) => format!("window_table({})", table_text(t)),
        Op::MelTable(t) => format!("mel_table({})", table_text(t)),
        Op::DbFolded { mult, amin, offset, clip } => {
            format!(
                "db_folded({}{})",
                step_text(&Step::Log { mult: *mult, amin: *amin, offset: *offset }),
                clip_text(clip)
            )
        }
        Op::FramedLoad { pads, length, hop, drop_last, window } => {
            let mut parts: Vec<String> = pads.iter().map(pad_text).collect();
            parts.push(format!("frames {length} hop {hop}{}", if *drop_last { " drop_last" } else { "" }));
            if let Some(w) = window {
                parts.push(format!("window {}", table_text(w)));
            }
            format!("framed_load({})", parts.join("; "))
        }
        Op::PowerMel { power, matrix } => {
            let p = match power {
                SpectrumPower::Power => String::from("re^2 + im^2"),
                SpectrumPower::MagnitudePow(e) if *e == 1.0 => String::from("|X|"),
                SpectrumPower::MagnitudePow(e) => format!("|X|^{}", fmt_f(*e)),
            };
            let widths: Vec<usize> = matrix.rows.iter().map(|(_, w)| w.len()).collect();
            let max_w = widths.iter().copied().max().unwrap_or(0);
            format!(
                "power_mel({p}; sparse {}x{}, nnz {}, widest band {max_w} bins, crc {:08x})",
                matrix.rows.len(),
                matrix.cols,
                matrix.nnz(),
                matrix.dense().checksum()
            )
        }
        Op::Epilogue(e) => {
            let mut parts = Vec::new();
            if let Some(f) = e.from {
                parts.push(
                    match f {
                        FromComplex::Power => "re^2 + im^2",
                        FromComplex::Magnitude => "|X|",
                        FromComplex::Real => "re",
                        FromComplex::Imag => "im",
                        FromComplex::Angle => "atan2(im, re)",
                    }
                    .to_string(),
                );
            }
            parts.extend(e.pre.iter().map(step_text));
            if let Some(c) = &e.clip {
                parts.push(clip_text(&Some(*c)).trim_start_matches("; ").to_string());
            }
            parts.extend(e.post.iter().map(step_text));
            format!("epilogue({})", parts.join(" -> "))
        }
        Op::Fft { n, period, basis, plan } => {
            let p = if n == period { String::new() } else { format!(", period {period}") };
            let b = if *basis == Precision::F32 { ", basis f32" } else { "" };
            format!("fft(n {n}{p}{b}: {plan})")
        }
        Op::Layout(axes) => {
            let v: Vec<String> = axes.iter().map(|a| a.parts.join(" * ")).collect();
            format!("layout({})", v.join(", "))
        }
        Op::Power | Op::Magnitude | Op::Real | Op::Imag | Op::Angle | Op::ConcatReIm => {
            format!("{}()", op.name())
        }
    }
}

fn table_text(t: &Table) -> String {
    format!("{}x{}, nnz {}, crc {:08x}", t.rows, t.cols, t.nnz(), t.checksum())
}

fn pad_text(p: &PadStep) -> String {
    let m = match p.mode {
        PadMode::Constant(v) => format!("constant {}", fmt_f(v)),
        PadMode::Reflect => String::from("reflect"),
        PadMode::ReflectStrict => String::from("reflect strict"),
        PadMode::Edge => String::from("edge"),
        PadMode::Symmetric => String::from("symmetric"),
    };
    match p.amount {
        PadAmount::Fixed(l, r) => format!("pad {l}+{r} {m}"),
        PadAmount::Same { length, hop } => format!("pad same({length}, {hop}) {m}"),
        PadAmount::Centered { length, hop } => format!("pad centered({length}, {hop}) {m}"),
    }
}

fn step_text(s: &Step) -> String {
    match s {
        Step::Unary(u) => op_text(&Op::Unary(*u)),
        Step::Scale(k) => format!("scale({})", fmt_f(*k)),
        Step::DoubleInterior { last } => {
            if *last {
                String::from("double_interior(last)")
            } else {
                String::from("double_interior()")
            }
        }
        Step::Log { mult, amin, offset } => {
            format!("{} * log10(max(x, {})) - {}", fmt_f(*mult), fmt_f(*amin), fmt_f(*offset))
        }
    }
}

fn clip_text(c: &Option<Clip>) -> String {
    match c {
        None => String::new(),
        Some(c) => {
            let sc = match c.scope {
                Scope::Tensor => String::from("tensor"),
                Scope::Trailing(k) => format!("last {k} axes"),
            };
            let nan = c.nan.describe();
            match (c.ref_max, c.top) {
                (false, Some(top)) => format!("; clip max(x, max over {sc}{nan} - {})", fmt_f(top)),
                (true, Some(top)) => {
                    format!("; x - max over {sc}{nan}, clip max(x, max(x) - {})", fmt_f(top))
                }
                (_, None) => format!("; x - max over {sc}{nan}"),
            }
        }
    }
}

pub(super) fn write_graph(g: &Graph, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let dtype = match g.dtype {
        DTypeRule::Fixed(p) => p.as_str().to_string(),
        DTypeRule::FollowInput => String::from("float (as input)"),
    };
    write!(f, "graph {} (compute: {dtype}, accepts: {}", g.name, g.accepts.join(" | "))?;
    if g.finite_only {
        write!(f, ", finite")?;
    }
    if let Some(r) = g.rate {
        write!(f, ", rate: {} Hz", fmt_f(r))?;
    }
    writeln!(f, ")")?;
    for (i, n) in g.nodes.iter().enumerate() {
        let ins: Vec<String> = n.inputs.iter().map(|x| format!("%{x}")).collect();
        let lhs = format!("  %{i} = {}", op_text(&n.op));
        let lhs = if ins.is_empty() { lhs } else { format!("{lhs} {}", ins.join(", ")) };
        writeln!(f, "{lhs} : {}", type_text(&n.ty))?;
        if !n.origin.is_empty() {
            writeln!(f, "      # {}", n.origin)?;
        }
    }
    writeln!(f, "  return %{}", g.output)?;
    if let Some(s) = &g.schedule {
        write!(f, "{s}")?;
    }
    Ok(())
}
