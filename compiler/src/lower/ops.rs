//! The op table: every op's signature and lowering.

use super::*;

/// An op's signature: parameter names in positional order; the first `required` must be given.
#[derive(Debug)]
pub struct OpSig {
    /// Op name.
    pub name: &'static str,
    /// Argument names, positional order.
    pub params: &'static [&'static str],
    /// How many leading params are required.
    pub required: usize,
    /// One line for `specc ops` and hints.
    pub doc: &'static str,
    /// Checks the bound arguments and adds the op's node (or returns its input for an op that
    /// does nothing with these arguments).
    pub(super) lower: Lower,
}

/// An op's lowering: its arguments' checks and the node it makes.
pub(super) type Lower = fn(&mut Args<'_, '_, '_>, NodeId) -> Result<NodeId, Diag>;

/// Every op the language has: its signature, documentation and lowering, in one entry.
pub const OPS: &[OpSig] = &[
    OpSig { name: "pad", params: &["left", "right", "mode", "value", "strict"], required: 1,
        doc: "pad(left, right: left, mode: constant|reflect|edge|symmetric, value: 0, strict: false) pads samples; strict reflect needs pad < signal, as torch; symmetric repeats the edge sample", lower: pad },
    OpSig { name: "pad_centered", params: &["length", "hop", "mode"], required: 2,
        doc: "pad_centered(length, hop, mode: symmetric) pads for frames centred on t*hop + hop/2: (N + hop/2) // hop frames, left length/2 - hop/2 (negative trims), as Kaldi's snip_edges=false", lower: pad_centered },
    OpSig { name: "min_samples", params: &["count", "why"], required: 1,
        doc: "min_samples(count, why: \"message\") passes samples through; fewer than count samples is an error saying why", lower: min_samples },
    OpSig { name: "pad_same", params: &["length", "hop"], required: 2,
        doc: "pad_same(length, hop) zero-pads by TF's SAME rule (odd sample on the right)", lower: pad_same },
    OpSig { name: "pad_right", params: &["amount"], required: 1, doc: "pad_right(amount) appends zeros", lower: pad_right },
    OpSig { name: "select", params: &["axis", "index"], required: 2,
        doc: "select(channels|batch, index) keeps one index of a leading input axis", lower: select },
    OpSig { name: "frames", params: &["length", "hop", "drop_last"], required: 2,
        doc: "frames(length, hop, drop_last: false) slices samples into frames x taps", lower: frames },
    OpSig { name: "window", params: &["name", "length", "periodic", "placement", "scaling", "coeff"], required: 1,
        doc: "window(name|none, length: frame, periodic: true, placement: center|left, scaling: none|density|spectrum, coeff: 0.42 (Blackman's a))", lower: window },
    OpSig { name: "remove_dc", params: &[], required: 0, doc: "remove_dc() subtracts each frame's mean", lower: |a, input| a.push(Op::RemoveDc, input) },
    OpSig { name: "preemphasis", params: &["coeff"], required: 1,
        doc: "preemphasis(coeff) per frame y[i] = x[i] - coeff * x[i-1], x[-1] = x[0] (Kaldi)", lower: |a, input| {
        let op = Op::Preemphasis(a.float("coeff")?);
        a.push(op, input)
    } },
    OpSig { name: "log_energy", params: &["min", "floor"], required: 0,
        doc: "log_energy(min: 0, floor: none) per frame ln(max(sum x^2, min)), then max with ln(floor) (Kaldi's energy)", lower: log_energy },
    OpSig { name: "concat", params: &["column", "last"], required: 1,
        doc: "concat(column, last: false) adds a per-frame tensor as the first value of each frame (the last with last: true)", lower: concat },
    OpSig { name: "subtract_mean", params: &[], required: 0,
        doc: "subtract_mean() subtracts each column's mean over frames, per signal (Kaldi's subtract_mean)", lower: |a, input| a.push(Op::SubtractMean, input) },
    OpSig { name: "rfft", params: &["n", "period", "basis"], required: 1,
        doc: "rfft(n, period: n, basis: f64|f32) real DFT of frames zero-padded to n; bins n/2+1", lower: rfft },
    OpSig { name: "power", params: &[], required: 0, doc: "power() = re^2 + im^2", lower: |a, input| a.push(Op::Power, input) },
    OpSig { name: "magnitude", params: &[], required: 0, doc: "magnitude() = sqrt(re^2 + im^2)", lower: |a, input| a.push(Op::Magnitude, input) },
    OpSig { name: "real", params: &[], required: 0, doc: "real() real part", lower: |a, input| a.push(Op::Real, input) },
    OpSig { name: "imag", params: &[], required: 0, doc: "imag() imaginary part", lower: |a, input| a.push(Op::Imag, input) },
    OpSig { name: "angle", params: &[], required: 0, doc: "angle() = atan2(im, re)", lower: |a, input| a.push(Op::Angle, input) },
    OpSig { name: "concat_re_im", params: &[], required: 0, doc: "concat_re_im() real parts then imaginary parts along bins", lower: |a, input| a.push(Op::ConcatReIm, input) },
    OpSig { name: "sqrt", params: &[], required: 0, doc: "sqrt()", lower: |a, input| a.push(Op::Unary(Unary::Sqrt), input) },
    OpSig { name: "ln", params: &[], required: 0, doc: "ln() natural log", lower: |a, input| a.push(Op::Unary(Unary::Ln), input) },
    OpSig { name: "log", params: &[], required: 0, doc: "log() natural log (alias of ln)", lower: |a, input| a.push(Op::Unary(Unary::Ln), input) },
    OpSig { name: "log10", params: &[], required: 0, doc: "log10()", lower: |a, input| a.push(Op::Unary(Unary::Log10), input) },
    OpSig { name: "pow", params: &["exponent"], required: 1, doc: "pow(exponent)", lower: |a, input| {
        let op = Op::Unary(Unary::Pow(a.float("exponent")?));
        a.push(op, input)
    } },
    OpSig { name: "clamp", params: &["min"], required: 1, doc: "clamp(min) = max(x, min)", lower: |a, input| {
        let op = Op::Unary(Unary::ClampMin(a.float("min")?));
        a.push(op, input)
    } },
    OpSig { name: "scale", params: &["factor"], required: 1, doc: "scale(factor) multiplies", lower: |a, input| {
        let op = Op::Scale(a.float("factor")?);
        a.push(op, input)
    } },
    OpSig { name: "affine", params: &["scale", "offset"], required: 0, doc: "affine(scale: 1, offset: 0) = x * scale + offset", lower: |a, input| {
        let op = Op::Unary(Unary::Affine(a.float_or("scale", 1.0)?, a.float_or("offset", 0.0)?));
        a.push(op, input)
    } },
    OpSig { name: "double_interior", params: &["last"], required: 0,
        doc: "double_interior(last: false) doubles bins 1..F-1 (one-sided PSD)", lower: |a, input| {
        let op = Op::DoubleInterior { last: a.bool_or("last", false)? };
        a.push(op, input)
    } },
    OpSig { name: "mel", params: &["bands", "rate", "fmin", "fmax", "scale", "triangles", "grid", "top", "norm", "zero_dc", "n_fft", "table"], required: 4,
        doc: "mel(bands, rate, fmin, fmax, scale: htk|slaney, triangles: mel|hz, grid: linspace|rfftfreq, top: rate/2, norm: none|slaney, zero_dc: false, table: f64|xla_f32|torch_f32)", lower: mel },
    OpSig { name: "db", params: &["amin", "ref", "top_db", "mult", "over", "nan", "skip_from"], required: 0,
        doc: "db(amin: 1e-10, ref: 1, top_db: none, mult: 10, over: tensor|K trailing axes, nan: propagate|skip, skip_from: 0) the top_db maximum propagates NaN, or skips it in scopes of at least skip_from values", lower: db },
    OpSig { name: "dct", params: &["n", "type", "norm", "first"], required: 1,
        doc: "dct(n, type: 2, norm: ortho|none, first: 0) DCT-II of the last axis, coefficients first..first+n (scipy.fft.dct, torchaudio create_dct)", lower: dct },
    OpSig { name: "lifter", params: &["coeff", "base"], required: 1,
        doc: "lifter(coeff, base: 0) multiplies coefficient j by 1 + coeff/2 sin(pi (j + base) / coeff); 0 does nothing (librosa: base 1, Kaldi: base 0)", lower: lifter },
    OpSig { name: "deltas", params: &["width", "order", "mode", "append"], required: 0,
        doc: "deltas(width: 9, order: 1, mode: interp|replicate, append: false) derivative along frames: interp = librosa.feature.delta (Savitzky-Golay), replicate = torchaudio compute_deltas; append stacks [x, d1, .., d_order] along the last axis", lower: deltas },
    OpSig { name: "layout", params: &[], required: 0,
        doc: "layout(axis, ...) orders output axes; `a * b` merges; e.g. layout(..., mel, frames)", lower: |a, input| {
        let ty = a.lw.nodes[input].ty.clone();
        let op = Op::Layout(a.layout(&ty)?);
        a.push(op, input)
    } },
];

/// The signature of op `name`.
pub fn op_sig(name: &str) -> Option<&'static OpSig> {
    OPS.iter().find(|o| o.name == name)
}

/// The widest delta window, in frames.
pub(super) const MAX_DELTA_WIDTH: usize = 1025;
/// The highest delta order (Savitzky-Golay fits of higher degree are ill-conditioned).
pub(super) const MAX_DELTA_ORDER: usize = 8;
pub(super) const MAX_FFT: usize = 1 << 24;
pub(super) const MAX_BANDS: usize = 1 << 16;
/// The largest mel filterbank, in weights (1 GiB as the dense f64 table it is folded from).
pub(super) const MAX_MEL_WEIGHTS: usize = 1 << 27;

pub(super) fn upstream_fft(nodes: &[Node], mut id: NodeId) -> Option<usize> {
    loop {
        match &nodes[id].op {
            Op::Rfft { n, .. } => return Some(*n),
            Op::Input { .. } => return None,
            _ => id = nodes[id].inputs[0],
        }
    }
}

fn pad(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let left = a.count("left", 0)?;
    let right = match a.get("right")? {
        Some(_) => a.count("right", 0)?,
        None => left,
    };
    let mode = a.word("mode", "constant", &["constant", "reflect", "edge", "replicate", "symmetric"])?;
    let value = a.float_or("value", 0.0)?;
    let strict = a.bool_or("strict", false)?;
    let mode = match mode.as_str() {
        "constant" => PadMode::Constant(value),
        "reflect" if strict => PadMode::ReflectStrict,
        "reflect" => PadMode::Reflect,
        "symmetric" => PadMode::Symmetric,
        _ => PadMode::Edge,
    };
    if left == 0 && right == 0 {
        return Ok(input);
    }
    a.push(Op::Pad { amount: PadAmount::Fixed(left, right), mode }, input)
}

fn pad_same(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let length = a.count("length", 1)?;
    let hop = a.count("hop", 1)?;
    a.push(Op::Pad { amount: PadAmount::Same { length, hop }, mode: PadMode::Constant(0.0) }, input)
}

fn pad_centered(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let length = a.count("length", 1)?;
    let hop = a.count("hop", 1)?;
    let mode = match a.word("mode", "symmetric", &["symmetric", "reflect", "edge", "constant"])?.as_str() {
        "constant" => PadMode::Constant(0.0),
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        _ => PadMode::Symmetric,
    };
    a.push(Op::Pad { amount: PadAmount::Centered { length, hop }, mode }, input)
}

fn min_samples(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let count = a.count("count", 0)?;
    let why = match a.get("why")? {
        Some(Value::Sym(s)) => s,
        None => format!("this spec needs at least {count} samples"),
        Some(v) => return Err(a.bad("why", &format!("a quoted message, found {}", v.describe()))),
    };
    if count == 0 {
        return Ok(input);
    }
    a.push(Op::MinSamples { count, why }, input)
}

fn select(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let axis = a.word("axis", "channels", &["channels", "batch"])?;
    let index = a.count("index", 0)?;
    a.push(Op::Select { axis, index }, input)
}

fn pad_right(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let n = a.count("amount", 0)?;
    if n == 0 {
        return Ok(input);
    }
    a.push(Op::PadRight(n), input)
}

fn frames(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let c = a.call;
    let length = a.count("length", 1)?;
    // Every frame becomes a constant window table and an FFT: no longer than the
    // longest FFT specc plans.
    if length > MAX_FFT {
        return Err(a.range(
            "length",
            &format!("a frame of {length} samples is absurdly long"),
            "specc accepts frames up to 2^24 samples, the longest FFT",
        ));
    }
    let hop = a.count("hop", 1)?;
    let drop_last = a.bool_or("drop_last", false)?;
    let from = a.sources("length");
    let id = a.lw.push(Op::Frames { length, hop, drop_last }, input, c)?;
    a.lw.frame_from.insert(id, from);
    Ok(id)
}

fn window(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let e = a.expr("name").expect("required").clone();
    let name = a.lw.eval_word(&e, &|w| WindowKind::from_name(w).is_some())?;
    let kind = match &name {
        Value::None => return Ok(input),
        Value::Sym(s) => match WindowKind::from_name(s) {
            Some(k) => k,
            None => return Err(a.bad_window("name", s)),
        },
        v => return Err(a.bad("name", &format!("a window name, found {}", v.describe()))),
    };
    let frame = a.frame_len(input);
    let length = match a.get("length")? {
        Some(Value::None) | None => frame,
        Some(_) => a.count("length", 1)?,
    };
    if length > frame {
        let len_from = a.sources("length");
        let help = relation_hint(
            &len_from,
            "must not exceed",
            &a.lw.frame_sources(input),
            "the window length must not exceed the frame length",
        );
        return Err(a.range(
            "length",
            &format!("the window ({length}) is longer than the frame ({frame})"),
            &help,
        ));
    }
    let periodic = a.bool_or("periodic", true)?;
    let placement = match a.word("placement", "center", &["center", "left"])?.as_str() {
        "left" => Placement::Left,
        _ => Placement::Center,
    };
    let scaling = match a.get("scaling")? {
        None | Some(Value::None) => WindowScaling::None,
        Some(_) => match a.word("scaling", "none", &["density", "spectrum", "none"])?.as_str() {
            "density" => WindowScaling::Density,
            "spectrum" => WindowScaling::Spectrum,
            _ => WindowScaling::None,
        },
    };
    let blackman = a.float_or("coeff", crate::consts::window::BLACKMAN)?;
    if !blackman.is_finite() {
        return Err(a.range(
            "coeff",
            &format!("the Blackman coefficient must be finite, got {blackman:?}"),
            "blackman_coeff is the window's constant term, e.g. 0.42",
        ));
    }
    a.push(
        Op::Window { window: WindowSpec { kind, length, periodic, placement, frame, blackman }, scaling },
        input,
    )
}

fn log_energy(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let min = a.float_or("min", 0.0)?;
    let floor = match a.get("floor")? {
        None | Some(Value::None) => None,
        Some(_) => Some(a.float("floor")?),
    };
    if let Some(f) = floor.filter(|f| f.is_nan() || *f <= 0.0) {
        return Err(a.range(
            "floor",
            &format!("the energy floor must be positive, got {f:?}"),
            "its log is the floor; give none (or energy_floor=0) for no floor",
        ));
    }
    a.push(Op::LogEnergy { min, floor }, input)
}

fn concat(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let c = a.call;
    let other = match a.get("column")? {
        Some(Value::Tensor(id)) => id,
        Some(v) => return Err(a.bad("column", &format!("a per-frame tensor, found {}", v.describe()))),
        None => return Err(a.bad("column", "a per-frame tensor")),
    };
    let at_end = a.bool_or("last", false)?;
    a.lw.push_all(Op::Concat { at_end }, vec![input, other], c)
}

fn rfft(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let n = a.count("n", 1)?;
    let frame = a.frame_len(input);
    if n < frame {
        let n_from = a.sources("n");
        let help = relation_hint(
            &n_from,
            "must be at least",
            &a.lw.frame_sources(input),
            "the FFT length must be at least the frame length",
        );
        return Err(a.range(
            "n",
            &format!("the FFT length ({n}) is shorter than the frame ({frame})"),
            &help,
        ));
    }
    if n > MAX_FFT {
        return Err(a.range(
            "n",
            &format!("the FFT length ({n}) is absurdly large"),
            "specc accepts FFT lengths up to 2^24",
        ));
    }
    let period = match a.get("period")? {
        None => n,
        Some(_) => a.count("period", 1)?,
    };
    let basis = match a.word("basis", "f64", &["f32", "f64"])?.as_str() {
        "f32" => Precision::F32,
        _ => Precision::F64,
    };
    a.push(Op::Rfft { n, period, basis }, input)
}

fn mel(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let c = a.call;
    let bands = a.count("bands", 1)?;
    if bands > MAX_BANDS {
        return Err(a.range(
            "bands",
            &format!("{bands} mel bands is absurd"),
            "specc accepts up to 65536 mel bands",
        ));
    }
    let rate = a.freq("rate")?;
    if rate <= 0.0 {
        let from = a.sources("rate");
        let help = if from.is_empty() {
            String::from("e.g. 16000 Hz")
        } else {
            format!("{} must be positive, e.g. 16000 Hz", or_list(&from))
        };
        return Err(a.range("rate", "the sample rate must be positive", &help));
    }
    let fmin = a.freq("fmin")?;
    let fmax = a.freq("fmax")?;
    if fmin.partial_cmp(&fmax) != Some(std::cmp::Ordering::Less) {
        let names = |arg: &str| {
            let from = a.sources(arg);
            if from.is_empty() {
                format!("the mel stage's `{arg}`")
            } else {
                or_list(&from)
            }
        };
        let help = format!("lower {} or raise {}", names("fmin"), names("fmax"));
        return Err(a.range(
            "fmin",
            &format!("the lowest frequency ({fmin:?} Hz) must be below the highest ({fmax:?} Hz)"),
            &help,
        ));
    }
    if fmin < 0.0 {
        return Err(a.range(
            "fmin",
            &format!("the lowest frequency ({fmin:?} Hz) is negative"),
            "frequencies start at 0 Hz",
        ));
    }
    let scale = match a.word("scale", "htk", &["htk", "slaney"])?.as_str() {
        "slaney" => MelScale::Slaney,
        _ => MelScale::Htk,
    };
    let triangles = match a.word("triangles", "hz", &["mel", "hz"])?.as_str() {
        "mel" => TriangleDomain::Mel,
        _ => TriangleDomain::Hz,
    };
    let grid = match a.word("grid", "rfftfreq", &["linspace", "rfftfreq"])?.as_str() {
        "linspace" => {
            let top = match a.get("top")? {
                None => rate / 2.0,
                Some(_) => a.freq("top")?,
            };
            BinGrid::Linspace { top }
        }
        _ => BinGrid::Rfftfreq,
    };
    let norm = match a.get("norm")? {
        None | Some(Value::None) => MelNorm::None,
        Some(_) => match a.word("norm", "none", &["slaney", "none"])?.as_str() {
            "slaney" => MelNorm::Slaney,
            _ => MelNorm::None,
        },
    };
    let zero_dc = a.bool_or("zero_dc", false)?;
    let table = match a.word("table", "f64", &["f64", "xla_f32", "torch_f32"])?.as_str() {
        "xla_f32" => MelTable::XlaF32,
        "torch_f32" => MelTable::TorchF32,
        _ => MelTable::F64,
    };
    // Each float32 table reproduces one library's construction (`consts::mel`): Keras's
    // triangles in mel with no norm, torchaudio's in Hz over its linspace bins. Any other
    // shape would be built as that library's, silently.
    let modelled = match table {
        MelTable::F64 => None,
        MelTable::XlaF32 => (triangles != TriangleDomain::Mel || norm != MelNorm::None)
            .then_some("Keras's table: triangles: mel and no norm"),
        MelTable::TorchF32 => (triangles != TriangleDomain::Hz || !matches!(grid, BinGrid::Linspace { .. }))
            .then_some("torchaudio's table: triangles: hz and grid: linspace"),
    };
    if let Some(what) = modelled {
        return Err(a.range(
            "table",
            &format!("this float32 table builds {what}"),
            "use those arguments with it, or table: f64",
        ));
    }
    let n_fft = match a.get("n_fft")? {
        Some(_) => a.count("n_fft", 1)?,
        None => upstream_fft(&a.lw.nodes, input).ok_or_else(|| {
            Diag::new(ErrorKind::MissingArgument, c.span, "mel cannot tell the FFT length")
                .label("no rfft before this stage")
                .help("pass `n_fft:` explicitly")
        })?,
    };
    // The filterbank is folded into a dense table of bands x bins weights before
    // it is made sparse: refuse one that would take gigabytes and minutes to build.
    let weights = bands.saturating_mul(n_fft / 2 + 1);
    if weights > MAX_MEL_WEIGHTS {
        return Err(a.range(
            "bands",
            &format!(
                "a filterbank of {bands} bands over {} FFT bins ({weights} weights) is absurdly large",
                n_fft / 2 + 1
            ),
            "specc builds filterbanks of up to 2^27 weights (bands x (n_fft / 2 + 1)): lower the number of bands or the FFT length",
        ));
    }
    a.push(
        Op::Mel(MelSpec { bands, rate, n_fft, fmin, fmax, scale, triangles, grid, norm, zero_dc, table }),
        input,
    )
}

fn db(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let mult = a.float_or("mult", 10.0)?;
    let amin = a.float_or("amin", 1e-10)?;
    if amin <= 0.0 || amin.is_nan() {
        let from = a.sources("amin");
        let help = if from.is_empty() {
            String::from("the floor `amin` must be > 0")
        } else {
            format!("{} must be > 0", or_list(&from))
        };
        return Err(a.range("amin", &format!("the floor must be positive, got {amin:?}"), &help));
    }
    let reference = match a.expr("ref").cloned() {
        None => DbRef::Value(1.0),
        Some(e) => match a.lw.eval_word(&e, &|w| w == "max")? {
            Value::Sym(s) if s == "max" => DbRef::Max,
            v => DbRef::Value(
                v.as_f64()
                    .ok_or_else(|| a.bad("ref", &format!("a number or `max`, found {}", v.describe())))?,
            ),
        },
    };
    let top_db = match a.get("top_db")? {
        None | Some(Value::None) => None,
        Some(_) => {
            let t = a.float("top_db")?;
            if t < 0.0 || t.is_nan() {
                return Err(a.range(
                    "top_db",
                    &format!("top_db must be non-negative, got {t:?}"),
                    "top_db is a range in dB below the peak",
                ));
            }
            Some(t)
        }
    };
    let scope = match a.expr("over").map(|e| matches!(&e.kind, ExprKind::Ident(n) if n == "tensor")) {
        Some(true) => Some(Value::Sym(String::from("tensor"))),
        _ => a.get("over")?,
    };
    let scope = match scope {
        None => Scope::Tensor,
        Some(Value::Int(k)) if k >= 1 => Scope::Trailing(k as usize),
        Some(Value::Sym(s)) if s == "tensor" => Scope::Tensor,
        Some(_) => return Err(a.bad("over", "`tensor` or a positive number of trailing axes")),
    };
    let skip = a.word("nan", "propagate", &["propagate", "skip"])? == "skip";
    let from = match a.get("skip_from")? {
        None => 0,
        Some(Value::Int(n)) if n >= 0 => n as usize,
        Some(_) => return Err(a.bad("skip_from", "a non-negative whole number of values")),
    };
    let nan = if skip {
        NanMax::Skip { from }
    } else if a.expr("skip_from").is_some() {
        return Err(a.range(
            "skip_from",
            "`skip_from` applies to `nan: skip` only",
            "add `nan: skip`, or drop `skip_from`",
        ));
    } else {
        NanMax::Propagate
    };
    if reference == DbRef::Max {
        // The maximum of the dB values is the dB of the maximum only for a rising
        // log; numpy's max propagates NaN.
        if mult <= 0.0 || mult.is_nan() {
            return Err(a.range(
                "mult",
                &format!("`ref: max` needs a positive mult, got {mult:?}"),
                "use mult: 10 (power) or 20 (amplitude)",
            ));
        }
        if skip {
            return Err(a.range(
                "nan",
                "`ref: max` takes the maximum as numpy does, NaN propagating",
                "drop `nan: skip` or give a fixed `ref`",
            ));
        }
    }
    a.push(Op::Db { mult, amin, reference, top_db, scope, nan }, input)
}

fn dct(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let n = a.count("n", 1)?;
    let kind = a.count_or("type", 1, 2)?;
    if kind != 2 {
        return Err(a.range(
            "type",
            &format!("DCT type {kind} is not supported"),
            "specc implements the DCT-II, the one MFCCs use (librosa dct_type=2, torchaudio, Kaldi)",
        ));
    }
    let norm = match a.word("norm", "ortho", &["ortho", "none"])?.as_str() {
        "none" => DctNorm::None,
        _ => DctNorm::Ortho,
    };
    let first = a.count_or("first", 0, 0)?;
    let points = a.frame_len(input);
    if first + n > points {
        let help = relation_hint(
            &a.sources("n"),
            "must not exceed",
            &[],
            "the DCT keeps at most as many coefficients as it has points (the mel bands)",
        );
        return Err(a.range(
            "n",
            &format!("{} coefficients from c{first} do not fit a {points}-point DCT", n),
            &help,
        ));
    }
    a.push(Op::Cepstral(Cepstral::Dct(Dct { n, first, norm })), input)
}

fn lifter(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let coeff = a.float("coeff")?;
    let base = a.count_or("base", 0, 0)?;
    if coeff == 0.0 {
        return Ok(input);
    }
    a.push(Op::Cepstral(Cepstral::Lifter(Lifter { coeff, base })), input)
}

fn deltas(a: &mut Args<'_, '_, '_>, input: NodeId) -> Result<NodeId, Diag> {
    let mode = match a.word("mode", "interp", &["interp", "replicate"])?.as_str() {
        "replicate" => DeltaMode::Replicate,
        _ => DeltaMode::Interp,
    };
    let width = a.count_or("width", 0, 9)?;
    if width < 3 || (mode == DeltaMode::Interp && width % 2 == 0) || width > MAX_DELTA_WIDTH {
        let want = if mode == DeltaMode::Interp { "an odd integer >= 3" } else { "an integer >= 3" };
        return Err(a.range(
            "width",
            &format!("the delta width must be {want}, got {width}"),
            "librosa.feature.delta takes an odd width >= 3 (default 9), torchaudio's compute_deltas a win_length >= 3 (default 5); at most 1025",
        ));
    }
    let order = a.count_or("order", 1, 1)?;
    if order > MAX_DELTA_ORDER || (mode == DeltaMode::Interp && order >= width) {
        return Err(a.range(
            "order",
            &format!("a delta of order {order} over {width} frames is not supported"),
            "the order must be below the width (Savitzky-Golay's polyorder < window_length) and at most 8",
        ));
    }
    let append = a.bool_or("append", false)?;
    a.push(Op::Cepstral(Cepstral::Deltas(Deltas { width, order, mode, append })), input)
}
