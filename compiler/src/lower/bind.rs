//! Op binding: pipelines applied stage by stage, arguments bound to each op's signature.

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn stages(&mut self, mut id: NodeId, ss: &[Stage]) -> Result<NodeId, Diag> {
        for s in ss {
            id = self.stage(id, s)?;
        }
        Ok(id)
    }

    pub(super) fn stage(&mut self, id: NodeId, s: &Stage) -> Result<NodeId, Diag> {
        match s {
            Stage::Call(c) => self.op(id, c),
            Stage::If { cond, then, otherwise, .. } => {
                if self.bool_of(cond)? {
                    self.stages(id, then)
                } else if let Some(o) = otherwise {
                    self.stages(id, o)
                } else {
                    Ok(id)
                }
            }
            Stage::Match { scrutinee, arms, .. } => {
                let v = self.eval(scrutinee)?;
                match arms.iter().find(|a| a.patterns.iter().any(|p| pattern_matches(p, &v))) {
                    Some(a) => self.stages(id, &a.body),
                    None => Err(no_arm(scrutinee, &v)),
                }
            }
        }
    }

    pub(super) fn push(&mut self, op: Op, input: NodeId, c: &Call) -> Result<NodeId, Diag> {
        self.push_all(op, vec![input], c)
    }

    pub(super) fn push_all(&mut self, op: Op, inputs: Vec<NodeId>, c: &Call) -> Result<NodeId, Diag> {
        let operands: Vec<&Type> = inputs.iter().map(|&i| &self.nodes[i].ty).collect();
        let ty = crate::graph::infer_all(&op, &operands).map_err(|e| {
            Diag::new(ErrorKind::Type, c.span, format!("`{}` cannot apply here", c.name)).label(e).help(
                "check the order of stages: pad -> frames -> window -> rfft -> power -> mel -> db -> layout",
            )
        })?;
        self.nodes.push(Node {
            op,
            inputs,
            ty,
            // One line per node in the graph text, whatever the spec's layout.
            origin: printer::expr(&Expr { kind: ExprKind::Call(c.clone()), span: c.span })
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        });
        Ok(self.nodes.len() - 1)
    }

    pub(super) fn op(&mut self, input: NodeId, c: &Call) -> Result<NodeId, Diag> {
        let sig = op_sig(&c.name.name).expect("checked statically");
        let args = bind(sig, c)?;
        (sig.lower)(&mut Args { lw: self, args, call: c }, input)
    }
}

/// Checks every op name and argument name in the spec, in every branch, before any value is
/// computed: a typo in a branch the current params skip is still an error.
pub(super) fn check_static(spec: &Spec) -> Result<(), Diag> {
    pub(super) fn stages(ss: &[Stage]) -> Result<(), Diag> {
        for s in ss {
            match s {
                Stage::Call(c) => {
                    let sig = op_sig(&c.name.name).ok_or_else(|| unknown_op(c))?;
                    bind(sig, c)?;
                    for a in &c.args {
                        expr(&a.value)?;
                    }
                }
                Stage::If { cond, then, otherwise, .. } => {
                    expr(cond)?;
                    stages(then)?;
                    if let Some(o) = otherwise {
                        stages(o)?;
                    }
                }
                Stage::Match { scrutinee, arms, .. } => {
                    expr(scrutinee)?;
                    for a in arms {
                        stages(&a.body)?;
                    }
                }
            }
        }
        Ok(())
    }
    pub(super) fn expr(e: &Expr) -> Result<(), Diag> {
        match &e.kind {
            ExprKind::Pipe(h, ss) => {
                expr(h)?;
                stages(ss)
            }
            ExprKind::Unary(_, x) => expr(x),
            ExprKind::Binary(_, a, b) => {
                expr(a)?;
                expr(b)
            }
            ExprKind::If(c, t, f) => {
                expr(c)?;
                expr(t)?;
                expr(f)
            }
            ExprKind::Match(s, arms) => {
                expr(s)?;
                arms.iter().try_for_each(|a| expr(&a.body))
            }
            ExprKind::Call(c) => c.args.iter().try_for_each(|a| expr(&a.value)),
            _ => Ok(()),
        }
    }
    for item in &spec.items {
        match item {
            Item::Let(l) => expr(&l.value)?,
            Item::Require(r) => expr(&r.cond)?,
            Item::Output(e) => expr(e)?,
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn unknown_op(c: &Call) -> Diag {
    let help = match closest(&c.name.name, OPS.iter().map(|o| o.name)) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("ops are: {}", OPS.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")),
    };
    Diag::new(ErrorKind::UnknownOp, c.name.span, format!("unknown op `{}`", c.name))
        .label("no such op")
        .help(help)
}
/// Arguments bound to parameter names (layout keeps its positional list).
pub(super) struct Bound {
    pub(super) named: Vec<(&'static str, usize)>,
}

pub(super) fn bind(sig: &'static OpSig, c: &Call) -> Result<Bound, Diag> {
    if sig.name == "layout" {
        if let Some(a) = c.args.iter().find(|a| a.name.is_some()) {
            let sp = a.name.as_ref().map(|n| n.span).unwrap_or(c.span);
            return Err(Diag::new(ErrorKind::UnknownArgument, sp, "layout takes axis names only")
                .label("named argument")
                .help("e.g. layout(..., mel, frames)"));
        }
        return Ok(Bound { named: Vec::new() });
    }
    let mut named: Vec<(&'static str, usize)> = Vec::new();
    let mut seen_named = false;
    for (i, a) in c.args.iter().enumerate() {
        let pname = match &a.name {
            Some(n) => {
                seen_named = true;
                match sig.params.iter().find(|p| **p == n.name) {
                    Some(p) => *p,
                    None => {
                        let help = match closest(&n.name, sig.params.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`? {}", sig.doc),
                            None => sig.doc.to_string(),
                        };
                        return Err(Diag::new(
                            ErrorKind::UnknownArgument,
                            n.span,
                            format!("`{}` takes no argument `{}`", sig.name, n.name),
                        )
                        .label("unknown argument")
                        .help(help));
                    }
                }
            }
            None => {
                if seen_named {
                    return Err(Diag::new(
                        ErrorKind::UnknownArgument,
                        a.value.span,
                        "positional argument after a named one",
                    )
                    .label("positional")
                    .help(sig.doc));
                }
                match sig.params.get(i) {
                    Some(p) => *p,
                    None => {
                        return Err(Diag::new(
                            ErrorKind::UnknownArgument,
                            a.value.span,
                            format!(
                                "`{}` takes at most {} positional argument(s)",
                                sig.name,
                                sig.params.len()
                            ),
                        )
                        .label("extra argument")
                        .help(sig.doc))
                    }
                }
            }
        };
        if named.iter().any(|(p, _)| *p == pname) {
            let sp = a.name.as_ref().map(|n| n.span).unwrap_or(a.value.span);
            return Err(Diag::new(
                ErrorKind::DuplicateArgument,
                sp,
                format!("argument `{pname}` given twice"),
            )
            .label("again here")
            .help(sig.doc));
        }
        named.push((pname, i));
    }
    for p in &sig.params[..sig.required] {
        if !named.iter().any(|(q, _)| q == p) {
            return Err(Diag::new(
                ErrorKind::MissingArgument,
                c.span,
                format!("`{}` needs argument `{p}`", sig.name),
            )
            .label(format!("`{p}` missing"))
            .help(sig.doc));
        }
    }
    Ok(Bound { named })
}

/// Typed access to one call's bound arguments.
pub(super) struct Args<'l, 'a, 'c> {
    pub(super) lw: &'l mut Lowerer<'a>,
    pub(super) args: Bound,
    pub(super) call: &'c Call,
}

impl Args<'_, '_, '_> {
    /// Adds `op` applied to `input`, typed, with this call as its origin.
    pub(super) fn push(&mut self, op: Op, input: NodeId) -> Result<NodeId, Diag> {
        self.lw.push(op, input, self.call)
    }
    /// The frame length of `input` (its last axis), 0 when it is not a known constant.
    pub(super) fn frame_len(&self, input: NodeId) -> usize {
        self.lw.nodes[input].ty.last().size.as_const().unwrap_or(0) as usize
    }
    pub(super) fn expr(&self, name: &str) -> Option<&Expr> {
        self.args.named.iter().find(|(p, _)| *p == name).map(|(_, i)| &self.call.args[*i].value)
    }
    pub(super) fn get(&mut self, name: &str) -> Result<Option<Value>, Diag> {
        match self.expr(name) {
            Some(e) => {
                let e = e.clone();
                self.lw.eval(&e).map(Some)
            }
            None => Ok(None),
        }
    }
    /// The params argument `name`'s value came from (see [`Lowerer::sources`]).
    pub(super) fn sources(&self, name: &str) -> Vec<String> {
        self.expr(name).map(|e| self.lw.sources(e)).unwrap_or_default()
    }
    pub(super) fn sig(&self) -> &'static OpSig {
        op_sig(&self.call.name.name).expect("known op")
    }
    pub(super) fn at(&self, name: &str) -> (Origin, Span) {
        match self.expr(name) {
            Some(e) => self.lw.origin_of(e),
            None => (Origin::Spec, self.call.span),
        }
    }
    pub(super) fn bad(&self, name: &str, want: &str) -> Diag {
        let (origin, span) = self.at(name);
        Diag::new(ErrorKind::Type, span, format!("bad `{name}` for `{}`", self.call.name))
            .origin(origin)
            .label(format!("expected {want}"))
            .help(self.sig().doc)
    }
    pub(super) fn range(&self, name: &str, label: &str, help: &str) -> Diag {
        let (origin, span) = self.at(name);
        Diag::new(ErrorKind::Range, span, format!("`{}`: {label}", self.call.name))
            .origin(origin)
            .label(label.to_string())
            .help(help.to_string())
    }
    pub(super) fn bad_window(&self, name: &str, s: &str) -> Diag {
        let names: Vec<&str> = WindowKind::NAMES.iter().map(|(n, _)| *n).collect();
        let (origin, span) = self.at(name);
        let help = match closest(s, names.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!("windows are {} (or none)", names.join(", ")),
        };
        Diag::new(ErrorKind::Range, span, format!("unknown window `{s}`"))
            .origin(origin)
            .label("not a window")
            .help(help)
    }
    pub(super) fn typed(&mut self, name: &str, want: &str) -> Result<Value, Diag> {
        let e = self.expr(name).expect("argument present").clone();
        let v = self.lw.eval(&e)?;
        if let Value::Sym(_) = v {
            if let ExprKind::Ident(_) = e.kind {
                if !want.starts_with("one of") {
                    return Err(self.lw.type_error(&e, &v, want));
                }
            }
        }
        Ok(v)
    }
    /// A non-negative sample count at least `min`; durations convert with the input's rate.
    pub(super) fn count(&mut self, name: &str, min: usize) -> Result<usize, Diag> {
        let v = self.typed(name, "a whole number of samples")?;
        let n = match v {
            Value::Int(i) => i,
            Value::Time(t) => {
                let rate = self.lw.rate.ok_or_else(|| {
                    let (origin, span) = self.at(name);
                    Diag::new(ErrorKind::Type, span, "a duration needs a sample rate")
                        .origin(origin)
                        .label("a duration")
                        .help(
                            "declare the rate on the input, e.g. `input audio: f32[..., samples] at 16 kHz`",
                        )
                })?;
                let s = t * rate;
                if float_to_int(s.round()).is_none() {
                    return Err(self.range(
                        name,
                        &format!("{t:?} s at {rate:?} Hz is {s:?} samples, which does not fit 64 bits"),
                        "sizes are limited to 2^30 samples",
                    ));
                }
                if (s - s.round()).abs() > 1e-6 {
                    return Err(self.range(
                        name,
                        &format!("{t:?} s at {rate:?} Hz is {s} samples, not a whole number"),
                        "choose a duration that is a whole number of samples",
                    ));
                }
                s.round() as i64
            }
            Value::Float(x) if x.fract() == 0.0 && x.abs() < 9e15 => x as i64,
            v => return Err(self.bad(name, &format!("a whole number of samples, found {}", v.describe()))),
        };
        if n < min as i64 {
            let from = self.sources(name);
            let help = if from.is_empty() {
                self.sig().doc.to_string()
            } else {
                format!(
                    "{} gives `{}`'s `{name}`, which must be at least {min}",
                    or_list(&from),
                    self.call.name
                )
            };
            return Err(self.range(name, &format!("{name} is {n}, must be at least {min}"), &help));
        }
        if n > MAX_FFT as i64 * 64 {
            return Err(self.range(
                name,
                &format!("{name} is {n}, which is absurdly large"),
                "sizes are limited to 2^30 samples",
            ));
        }
        Ok(n as usize)
    }
    /// [`Args::count`], or `d` when the argument is not given.
    pub(super) fn count_or(&mut self, name: &str, min: usize, d: usize) -> Result<usize, Diag> {
        if self.expr(name).is_none() {
            return Ok(d);
        }
        self.count(name, min)
    }
    pub(super) fn float(&mut self, name: &str) -> Result<f64, Diag> {
        let v = self.typed(name, "a number")?;
        v.as_f64().ok_or_else(|| self.bad(name, &format!("a number, found {}", v.describe())))
    }
    pub(super) fn float_or(&mut self, name: &str, d: f64) -> Result<f64, Diag> {
        if self.expr(name).is_none() {
            return Ok(d);
        }
        self.float(name)
    }
    pub(super) fn freq(&mut self, name: &str) -> Result<f64, Diag> {
        let v = self.typed(name, "a frequency")?;
        match v {
            Value::Freq(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            Value::Float(f) => Ok(f),
            v => Err(self.bad(name, &format!("a frequency, found {}", v.describe()))),
        }
    }
    pub(super) fn bool_or(&mut self, name: &str, d: bool) -> Result<bool, Diag> {
        if self.expr(name).is_none() {
            return Ok(d);
        }
        match self.typed(name, "a bool")? {
            Value::Bool(b) => Ok(b),
            v => Err(self.bad(name, &format!("true or false, found {}", v.describe()))),
        }
    }
    pub(super) fn word(&mut self, name: &str, d: &str, choices: &[&str]) -> Result<String, Diag> {
        if self.expr(name).is_none() {
            return Ok(d.to_string());
        }
        let want = format!("one of {}", choices.join(", "));
        let e = self.expr(name).expect("present").clone();
        let v = if matches!(&e.kind, ExprKind::Ident(n) if choices.contains(&n.as_str())) {
            self.lw.eval_word(&e, &|w| choices.contains(&w))?
        } else {
            self.typed(name, &want)?
        };
        match v {
            Value::Sym(s) if choices.contains(&s.as_str()) => Ok(s),
            Value::None if choices.contains(&"none") => Ok(String::from("none")),
            v => Err(self.bad(name, &format!("{want}, found {}", v.describe()))),
        }
    }
    pub(super) fn layout(&mut self, ty: &Type) -> Result<Vec<OutAxis>, Diag> {
        let mut out = Vec::new();
        for a in &self.call.args {
            let mut parts = Vec::new();
            collect_axes(&a.value, &mut parts).map_err(|sp| {
                Diag::new(ErrorKind::Type, sp, "layout takes axis names, `...` and products `a * b`")
                    .label("not an axis")
                    .help(format!("this tensor's axes are {}", axes_list(ty)))
            })?;
            for (p, sp) in &parts {
                if ty.axis(p).is_none() {
                    let names: Vec<&str> = ty.axes.iter().map(|x| x.name.as_str()).collect();
                    let help = match closest(p, names.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`? this tensor's axes are {}", axes_list(ty)),
                        None => format!("this tensor's axes are {}", axes_list(ty)),
                    };
                    return Err(Diag::new(ErrorKind::Type, *sp, format!("no axis `{p}` here"))
                        .label("unknown axis")
                        .help(help));
                }
            }
            out.push(OutAxis { parts: parts.into_iter().map(|(p, _)| p).collect() });
        }
        Ok(out)
    }
}
pub(super) fn axes_list(ty: &Type) -> String {
    ty.axes.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
}

pub(super) fn collect_axes(e: &Expr, out: &mut Vec<(String, Span)>) -> Result<(), Span> {
    match &e.kind {
        ExprKind::Ellipsis => {
            out.push((String::from("..."), e.span));
            Ok(())
        }
        ExprKind::Ident(n) => {
            out.push((n.clone(), e.span));
            Ok(())
        }
        ExprKind::Binary(BinOp::Mul, a, b) => {
            collect_axes(a, out)?;
            collect_axes(b, out)
        }
        _ => Err(e.span),
    }
}
