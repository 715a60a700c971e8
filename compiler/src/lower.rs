//! Syntax tree -> graph: resolves params (defaults and `--set` overrides), units, conditionals
//! and `let`s, binds op arguments, validates ranges, and infers every node's type.

use crate::diag::{closest, Diag, ErrorKind, Origin};
use crate::graph::*;
use crate::syntax::ast::*;
use crate::syntax::printer;
use std::collections::HashMap;

/// A `--set name=value` override: the whole argument text is diagnostics' source `Set(index)`.
#[derive(Clone, Debug)]
pub struct Override {
    /// Param name.
    pub name: String,
    /// Parsed value; its spans are offsets into the whole `name=value` text.
    pub value: Expr,
    /// Span of the name in the `name=value` text.
    pub name_span: Span,
    /// Position among the overrides.
    pub index: usize,
}

/// A compile-time value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer (also sample counts).
    Int(i64),
    /// A real number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// `none`.
    None,
    /// A bare word: a window name, mode, enum member.
    Sym(String),
    /// A frequency in Hz.
    Freq(f64),
    /// A duration in seconds.
    Time(f64),
    /// A tensor: a graph node.
    Tensor(NodeId),
    /// `...`.
    Ellipsis,
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Int(i) => format!("the integer {i}"),
            Value::Float(x) => format!("the number {x:?}"),
            Value::Bool(b) => format!("the bool {b}"),
            Value::None => String::from("none"),
            Value::Sym(s) => format!("the word `{s}`"),
            Value::Freq(f) => format!("the frequency {f:?} Hz"),
            Value::Time(t) => format!("the duration {t:?} s"),
            Value::Tensor(_) => String::from("a tensor"),
            Value::Ellipsis => String::from("`...`"),
        }
    }
    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }
}

/// The declared type of a param.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamType {
    /// Integers.
    Int,
    /// Reals (integers accepted).
    Float,
    /// Booleans.
    Bool,
    /// Frequencies (a bare number is Hz).
    Hz,
    /// Window names.
    Window,
    /// One of these words.
    Enum(Vec<String>),
    /// A number or one of these words (`float | max`: librosa's `ref`, a value or `np.max`).
    FloatOr(Vec<String>),
}

impl ParamType {
    fn describe(&self) -> String {
        match self {
            ParamType::Int => String::from("an integer"),
            ParamType::Float => String::from("a number"),
            ParamType::Bool => String::from("`true` or `false`"),
            ParamType::Hz => String::from("a frequency (e.g. `8000` or `8 kHz`)"),
            ParamType::Window => String::from("a window name"),
            ParamType::Enum(v) => format!("one of {}", v.join(", ")),
            ParamType::FloatOr(v) => format!("a number or {}", v.join(", ")),
        }
    }
    /// How the type is written in a spec.
    pub fn text(&self) -> String {
        match self {
            ParamType::Int => String::from("int"),
            ParamType::Float => String::from("float"),
            ParamType::Bool => String::from("bool"),
            ParamType::Hz => String::from("Hz"),
            ParamType::Window => String::from("window"),
            ParamType::Enum(v) => v.join(" | "),
            ParamType::FloatOr(v) => format!("float | {}", v.join(" | ")),
        }
    }
}

/// A param as resolved for one compilation.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: ParamType,
    /// Accepts `none`.
    pub optional: bool,
    /// The default as written.
    pub default_text: String,
    /// The value in force.
    pub value: Value,
    /// Whether a `--set` gave it.
    pub overridden: bool,
}

/// Lowering's result: the graph and the params in force.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The op graph.
    pub graph: Graph,
    /// Params in declaration order.
    pub params: Vec<ParamInfo>,
}

/// The printed form of a value, as it would be written in a spec.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(x) => format!("{x:?}"),
        Value::Bool(b) => b.to_string(),
        Value::None => String::from("none"),
        Value::Sym(s) => s.clone(),
        Value::Freq(f) => format!("{f:?} Hz"),
        Value::Time(t) => format!("{t:?} s"),
        Value::Tensor(n) => format!("%{n}"),
        Value::Ellipsis => String::from("..."),
    }
}

struct Lowerer<'a> {
    env: HashMap<String, Value>,
    /// Params given by `--set`: name -> (override index, span of the value in its text).
    set_origin: HashMap<String, (usize, Span)>,
    nodes: Vec<Node>,
    rate: Option<f64>,
    input_name: Option<String>,
    /// Let bindings' expressions, so errors can be traced to the params they use.
    lets: HashMap<String, &'a Expr>,
    /// Declared param names, so hints can name the params a value came from.
    param_names: Vec<String>,
    /// `frames` nodes and the params their frame length came from.
    frame_from: HashMap<NodeId, Vec<String>>,
}

/// Lowers a parsed spec with overrides to a verified graph.
pub fn lower(spec: &Spec, overrides: &[Override]) -> Result<Lowered, Diag> {
    check_static(spec)?;
    let mut lw = Lowerer {
        env: HashMap::new(),
        set_origin: HashMap::new(),
        nodes: Vec::new(),
        rate: None,
        input_name: None,
        lets: HashMap::new(),
        param_names: Vec::new(),
        frame_from: HashMap::new(),
    };
    let params = lw.params(spec, overrides)?;

    // The input: exactly one declaration must apply.
    let mut active: Option<&InputDecl> = None;
    let mut any_input = None;
    for item in &spec.items {
        if let Item::Input(d) = item {
            any_input = Some(d);
            let applies = match &d.when {
                None => true,
                Some(c) => lw.bool_of(c)?,
            };
            if applies {
                if let Some(prev) = active {
                    return Err(Diag::new(ErrorKind::Structure, d.span, "two input declarations apply")
                        .label("this one applies too")
                        .help(format!(
                            "the declaration at byte {} already applies; make their `when` conditions exclusive",
                            prev.span.start
                        )));
                }
                active = Some(d);
            }
        }
    }
    let decl = match (active, any_input) {
        (Some(d), _) => d,
        (None, Some(d)) => {
            return Err(Diag::new(ErrorKind::Structure, d.span, "no input declaration applies")
                .label("its `when` is false")
                .help("add an input declaration for the params in force"))
        }
        (None, None) => {
            return Err(Diag::new(ErrorKind::Structure, spec.name.span, "the spec declares no input")
                .label("in this spec")
                .help("declare the signal, e.g. `input audio: f32[..., samples]`"))
        }
    };
    let dtype = lw.input(decl)?;
    let mut accepts = Vec::new();
    for a in &decl.accepts {
        let name = match a.name.as_str() {
            "f32" | "float32" => "float32",
            "f64" | "float64" => "float64",
            "i16" | "int16" => "int16",
            other => {
                return Err(Diag::new(ErrorKind::Type, a.span, format!("unknown dtype `{other}`"))
                    .label("not an array dtype")
                    .help("accepted dtypes are float32, float64 and int16"))
            }
        };
        if dtype == DTypeRule::FollowInput && name == "int16" {
            return Err(Diag::new(ErrorKind::Type, a.span, "a `float` input cannot accept int16")
                .label("integer dtype")
                .help(
                    "the compute type follows the input's float type; give a fixed dtype to accept int16",
                ));
        }
        accepts.push(name.to_string());
    }
    if accepts.is_empty() {
        accepts = match dtype {
            DTypeRule::FollowInput => vec![String::from("float32"), String::from("float64")],
            DTypeRule::Fixed(_) => {
                vec![String::from("float32"), String::from("float64"), String::from("int16")]
            }
        };
    }

    // Lets and the output, in order.
    let mut output: Option<(NodeId, Span)> = None;
    for item in &spec.items {
        match item {
            Item::Let(l) => {
                if lw.env.contains_key(&l.name.name) {
                    return Err(Diag::new(
                        ErrorKind::Duplicate,
                        l.name.span,
                        format!("`{}` is already defined", l.name),
                    )
                    .label("defined again here")
                    .help("choose another name for this binding"));
                }
                let v = lw.eval(&l.value)?;
                lw.env.insert(l.name.name.clone(), v);
                lw.lets.insert(l.name.name.clone(), &l.value);
            }
            Item::Require(r) => {
                let holds = lw.bool_of(&r.cond)?;
                if !holds {
                    // Point at a --set value involved, if any: that is what the user wrote.
                    let (origin, span) = lw.blame(&r.cond);
                    // `let`s in the condition are named by the params they came from.
                    let mut lets = Vec::new();
                    collect_lets(&r.cond, &lw.lets, &mut lets);
                    let from: Vec<String> = lets
                        .iter()
                        .filter_map(|(name, e)| {
                            let src = lw.sources(e);
                            (!src.is_empty()).then(|| format!("`{name}` from {}", or_list(&src)))
                        })
                        .collect();
                    let with =
                        if from.is_empty() { String::new() } else { format!(", with {}", from.join(", ")) };
                    return Err(Diag::new(ErrorKind::Range, span, r.message.clone())
                        .origin(origin)
                        .label("this value is out of range")
                        .help(format!("the spec requires `{}`{with}", printer::expr(&r.cond))));
                }
            }
            Item::Output(e) => {
                if let Some((_, prev)) = output {
                    return Err(Diag::new(ErrorKind::Structure, e.span, "a spec has one output pipeline")
                        .label("a second output")
                        .help(format!(
                            "the output already starts at byte {}; use `let` for intermediate values",
                            prev.start
                        )));
                }
                match lw.eval(e)? {
                    Value::Tensor(id) => output = Some((id, e.span)),
                    other => {
                        return Err(Diag::new(ErrorKind::Type, e.span, "the output must be a tensor")
                            .label(format!("this is {}", other.describe()))
                            .help("the output is a pipeline starting at the input, e.g. `audio |> frames(...) |> ...`"))
                    }
                }
            }
            _ => {}
        }
    }
    let (out, _) = output.ok_or_else(|| {
        Diag::new(ErrorKind::Structure, spec.name.span, "the spec has no output pipeline")
            .label("in this spec")
            .help("end the spec with a pipeline such as `audio |> frames(length: 400, hop: 160) |> ...`")
    })?;
    let graph = Graph {
        name: spec.name.name.clone(),
        nodes: lw.nodes,
        output: out,
        dtype,
        accepts,
        finite_only: decl.finite,
        rate: lw.rate,
        schedule: None,
    };
    if let Err(e) = verify(&graph) {
        return Err(Diag::new(
            ErrorKind::Structure,
            spec.name.span,
            format!("internal error: invalid graph: {e}"),
        )
        .help("this is a bug in specc; please report it with the spec"));
    }
    Ok(Lowered { graph, params })
}

impl<'a> Lowerer<'a> {
    fn params(&mut self, spec: &Spec, overrides: &[Override]) -> Result<Vec<ParamInfo>, Diag> {
        let decls: Vec<&ParamDecl> =
            spec.items.iter().filter_map(|i| if let Item::Param(p) = i { Some(p) } else { None }).collect();
        let mut by_name: HashMap<&str, &Override> = HashMap::new();
        self.param_names = decls.iter().map(|d| d.name.name.clone()).collect();
        for o in overrides {
            if !decls.iter().any(|d| d.name.name == o.name) {
                return Err(unknown_param(spec, &o.name, o.name_span).origin(Origin::Set(o.index)));
            }
            if by_name.insert(o.name.as_str(), o).is_some() {
                return Err(Diag::new(
                    ErrorKind::DuplicateArgument,
                    o.name_span,
                    format!("`{}` is set twice", o.name),
                )
                .origin(Origin::Set(o.index))
                .label("set again here")
                .help("give each param one `--set`"));
            }
        }
        let mut out = Vec::new();
        for d in decls {
            if self.env.contains_key(&d.name.name) {
                return Err(Diag::new(
                    ErrorKind::Duplicate,
                    d.name.span,
                    format!("param `{}` is declared twice", d.name),
                )
                .label("declared again")
                .help("remove one of the declarations"));
            }
            let ty = param_type(&d.ty)?;
            let is_word = |w: &str| match &ty {
                ParamType::Enum(alts) | ParamType::FloatOr(alts) => alts.iter().any(|a| a == w),
                ParamType::Window => WindowKind::from_name(w).is_some(),
                _ => false,
            };
            let (value, overridden) = match by_name.get(d.name.name.as_str()) {
                Some(o) => {
                    let v = self.eval_word(&o.value, &is_word).map_err(|e| e.origin(Origin::Set(o.index)))?;
                    let v = coerce(v, &ty, d.ty.optional).map_err(|msg| {
                        Diag::new(ErrorKind::Type, o.value.span, format!("bad value for `{}`", d.name))
                            .origin(Origin::Set(o.index))
                            .label(msg)
                            .help(accepted_spellings(d))
                    })?;
                    self.set_origin.insert(d.name.name.clone(), (o.index, o.value.span));
                    (v, true)
                }
                None => {
                    let v = self.eval_word(&d.default, &is_word)?;
                    let v = coerce(v, &ty, d.ty.optional).map_err(|msg| {
                        Diag::new(ErrorKind::Type, d.default.span, format!("bad default for `{}`", d.name))
                            .label(msg)
                            .help(format!("`{}` is declared `{}`", d.name, type_text(&d.ty)))
                    })?;
                    (v, false)
                }
            };
            self.env.insert(d.name.name.clone(), value.clone());
            out.push(ParamInfo {
                name: d.name.name.clone(),
                ty,
                optional: d.ty.optional,
                default_text: printer::expr(&d.default),
                value,
                overridden,
            });
        }
        Ok(out)
    }

    fn input(&mut self, d: &InputDecl) -> Result<DTypeRule, Diag> {
        let dt = match self.env.get(&d.dtype.name) {
            Some(Value::Sym(s)) => s.clone(),
            Some(other) => {
                return Err(Diag::new(
                    ErrorKind::Type,
                    d.dtype.span,
                    "the input's dtype must name a float type",
                )
                .label(format!("this is {}", other.describe()))
                .help("use f32, f64, float (the input's own float type), or a param holding one"))
            }
            None => d.dtype.name.clone(),
        };
        let dtype = match dt.as_str() {
            "f32" | "float32" => DTypeRule::Fixed(Precision::F32),
            "f64" | "float64" => DTypeRule::Fixed(Precision::F64),
            "float" => DTypeRule::FollowInput,
            other => return Err(Diag::new(
                ErrorKind::Type,
                d.dtype.span,
                format!("unknown dtype `{other}`"),
            )
            .label("not a dtype")
            .help("use f32, f64, float (the input's own float type), or a param holding float32/float64")),
        };
        if let Some(r) = &d.rate {
            match self.eval(r)? {
                Value::Freq(f) if f > 0.0 && f.is_finite() => self.rate = Some(f),
                Value::Int(i) if i > 0 => self.rate = Some(i as f64),
                Value::Float(f) if f > 0.0 && f.is_finite() => self.rate = Some(f),
                v => {
                    let (origin, span) = self.origin_of(r);
                    return Err(Diag::new(
                        ErrorKind::Range,
                        span,
                        "the sample rate must be a positive frequency",
                    )
                    .origin(origin)
                    .label(format!("this is {}", v.describe()))
                    .help(match self.sources(r).as_slice() {
                        [] => String::from("e.g. `at 16000 Hz`, or a param holding the rate"),
                        from => format!("{} must be positive, e.g. 16000", or_list(from)),
                    }));
                }
            }
        }
        let mut user_axes = Vec::new();
        let mut axes = Vec::new();
        let mut samples = false;
        for (i, a) in d.axes.iter().enumerate() {
            match a {
                AxisDecl::Ellipsis(sp) => {
                    if i != 0 {
                        return Err(Diag::new(ErrorKind::Structure, *sp, "`...` must be the first axis")
                            .label("here")
                            .help("write the leading axes as `[..., samples]`"));
                    }
                    user_axes.push(String::from("..."));
                    axes.push(Axis::new("...", Size::Ellipsis));
                }
                AxisDecl::Named(n) => {
                    if user_axes.contains(&n.name) {
                        return Err(Diag::new(
                            ErrorKind::Duplicate,
                            n.span,
                            format!("axis `{}` appears twice", n.name),
                        )
                        .label("again here")
                        .help("name each axis once"));
                    }
                    user_axes.push(n.name.clone());
                    match n.name.as_str() {
                        "samples" => samples = true,
                        "batch" | "channels" => axes.push(Axis::new(&n.name, Size::Lead(n.name.clone()))),
                        _ => {
                            return Err(Diag::new(
                                ErrorKind::Structure,
                                n.span,
                                format!("unknown input axis `{}`", n.name),
                            )
                            .label("not an input axis")
                            .help("input axes are `...`, `batch`, `channels` and `samples`"))
                        }
                    }
                }
            }
        }
        if !samples {
            return Err(Diag::new(ErrorKind::Structure, d.span, "the input has no `samples` axis")
                .label("in this declaration")
                .help("name the time axis `samples`, e.g. `[..., samples]`"));
        }
        axes.push(Axis::new("samples", Size::Samples));
        let ty = Type { elem: Elem::Real, axes };
        self.nodes.push(Node {
            op: Op::Input { user_axes: user_axes.clone() },
            inputs: vec![],
            ty,
            origin: format!("{}: {}[{}]", d.name, d.dtype, user_axes.join(", ")),
        });
        self.input_name = Some(d.name.name.clone());
        self.env.insert(d.name.name.clone(), Value::Tensor(0));
        Ok(dtype)
    }

    /// Where a value written as `e` really came from: the `--set` text for a param given on the
    /// command line, else the spec.
    fn origin_of(&self, e: &Expr) -> (Origin, Span) {
        if let ExprKind::Ident(n) = &e.kind {
            if let Some((i, sp)) = self.set_origin.get(n) {
                return (Origin::Set(*i), *sp);
            }
        }
        (Origin::Spec, e.span)
    }

    /// The first param set on the command line that `e` mentions, else `e` itself.
    fn blame(&self, e: &Expr) -> (Origin, Span) {
        fn idents<'e>(e: &'e Expr, lets: &HashMap<String, &'e Expr>, out: &mut Vec<&'e Expr>, depth: usize) {
            match &e.kind {
                ExprKind::Ident(n) => match lets.get(n) {
                    Some(l) if depth < 16 => idents(l, lets, out, depth + 1),
                    _ => out.push(e),
                },
                ExprKind::Unary(_, x) => idents(x, lets, out, depth),
                ExprKind::Binary(_, a, b) => {
                    idents(a, lets, out, depth);
                    idents(b, lets, out, depth);
                }
                ExprKind::Call(c) => c.args.iter().for_each(|a| idents(&a.value, lets, out, depth)),
                _ => {}
            }
        }
        let mut ids = Vec::new();
        idents(e, &self.lets, &mut ids, 0);
        ids.iter()
            .map(|i| self.origin_of(i))
            .find(|(o, _)| *o != Origin::Spec)
            .unwrap_or((Origin::Spec, e.span))
    }

    /// The params a value written as `e` came from, in order: through `let`s, the taken side
    /// of `??` and of `if` on a bool param, every operand otherwise. Hints name these, so a
    /// preset's error speaks its library's argument names.
    fn sources(&self, e: &Expr) -> Vec<String> {
        fn walk(lw: &Lowerer<'_>, e: &Expr, out: &mut Vec<String>, depth: usize) {
            if depth > 16 {
                return;
            }
            let is_none =
                |x: &Expr| matches!(&x.kind, ExprKind::Ident(n) if lw.env.get(n) == Some(&Value::None));
            match &e.kind {
                ExprKind::Ident(n) => {
                    if let Some(l) = lw.lets.get(n) {
                        walk(lw, l, out, depth + 1);
                    } else if lw.param_names.contains(n) && !out.contains(n) {
                        out.push(n.clone());
                    }
                }
                ExprKind::Binary(BinOp::Coalesce, a, b) => {
                    walk(lw, if is_none(a) { b } else { a }, out, depth)
                }
                ExprKind::Binary(_, a, b) => {
                    walk(lw, a, out, depth);
                    walk(lw, b, out, depth);
                }
                ExprKind::Unary(_, x) => walk(lw, x, out, depth),
                ExprKind::Call(c) => c.args.iter().for_each(|a| walk(lw, &a.value, out, depth)),
                ExprKind::If(c, t, f) => match &c.kind {
                    ExprKind::Ident(n) if lw.env.get(n) == Some(&Value::Bool(true)) => {
                        walk(lw, t, out, depth)
                    }
                    ExprKind::Ident(n) if lw.env.get(n) == Some(&Value::Bool(false)) => {
                        walk(lw, f, out, depth)
                    }
                    _ => {
                        walk(lw, t, out, depth);
                        walk(lw, f, out, depth);
                    }
                },
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(self, e, &mut out, 0);
        out
    }

    /// The params the frame length of node `id` came from (its `frames` stage's `length`).
    fn frame_sources(&self, mut id: NodeId) -> Vec<String> {
        loop {
            if let Some(s) = self.frame_from.get(&id) {
                return s.clone();
            }
            match self.nodes[id].inputs.first() {
                Some(&i) => id = i,
                None => return Vec::new(),
            }
        }
    }

    fn bool_of(&mut self, e: &Expr) -> Result<bool, Diag> {
        match self.eval(e)? {
            Value::Bool(b) => Ok(b),
            // A bare word here is a name nobody declared: say so, with "did you mean".
            v @ Value::Sym(_) if matches!(e.kind, ExprKind::Ident(_)) => {
                Err(self.type_error(e, &v, "a bool"))
            }
            v => Err(Diag::new(ErrorKind::Type, e.span, "a condition must be a bool")
                .label(format!("this is {}", v.describe()))
                .help("compare it, e.g. `mode == psd`, or use a bool param")),
        }
    }

    /// Evaluates `e` where a word from a fixed set is expected: a bare name that is one of the
    /// words means the word, even if a param has the same name (`placement: center` with a
    /// `center` param in scope).
    fn eval_word(&mut self, e: &Expr, is_word: &dyn Fn(&str) -> bool) -> Result<Value, Diag> {
        if let ExprKind::Ident(n) = &e.kind {
            if is_word(n) {
                return Ok(Value::Sym(n.clone()));
            }
        }
        self.eval(e)
    }

    /// Evaluates `e`, holding every result to one rule: an integer fits 64 bits and a number
    /// (plain, Hz or seconds) is finite. An operation whose exact result falls outside (integer
    /// overflow, a float overflowing to inf, a NaN, a division by zero, a literal like `1e400`)
    /// is an error at that operation, never wrapped, saturated or carried on as inf/NaN.
    fn eval(&mut self, e: &Expr) -> Result<Value, Diag> {
        let v = self.eval_unchecked(e)?;
        match v {
            Value::Float(x) | Value::Freq(x) | Value::Time(x) if !x.is_finite() => Err(out_of_range(
                e.span,
                if x.is_nan() { "not a number (NaN)" } else { "overflows to infinity" },
                "results must be finite 64-bit floats",
            )),
            v => Ok(v),
        }
    }

    fn eval_unchecked(&mut self, e: &Expr) -> Result<Value, Diag> {
        Ok(match &e.kind {
            ExprKind::Number { value, is_int, int, unit } => {
                let v = *value;
                if !v.is_finite() {
                    return Err(Diag::new(ErrorKind::Range, e.span, "number out of range")
                        .label("too large")
                        .help("numbers must fit a 64-bit float"));
                }
                if *is_int && int.is_none() && matches!(unit, None | Some(Unit::Samples)) {
                    return Err(Diag::new(ErrorKind::Range, e.span, "integer out of range")
                        .label("too large")
                        .help("integers must fit 64 bits (at most 9223372036854775807)"));
                }
                match unit {
                    None => match int {
                        Some(i) => Value::Int(*i),
                        Option::None => Value::Float(v),
                    },
                    Some(Unit::Hz) => Value::Freq(v),
                    Some(Unit::KHz) => Value::Freq(v * 1000.0),
                    Some(Unit::Ms) => Value::Time(v / 1000.0),
                    Some(Unit::S) => Value::Time(v),
                    Some(Unit::Samples) => match int {
                        Some(i) => Value::Int(*i),
                        Option::None => match float_to_int(v) {
                            Some(i) if v.fract() == 0.0 => Value::Int(i),
                            Some(_) => {
                                return Err(Diag::new(
                                    ErrorKind::Type,
                                    e.span,
                                    "a sample count must be whole",
                                )
                                .label("not a whole number")
                                .help("write a whole number of samples"))
                            }
                            Option::None => {
                                return Err(out_of_range(e.span, "too large", "integers must fit 64 bits"))
                            }
                        },
                    },
                }
            }
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::None => Value::None,
            ExprKind::Str(w) => Value::Sym(w.clone()),
            ExprKind::Ellipsis => Value::Ellipsis,
            ExprKind::Ident(n) => self.env.get(n).cloned().unwrap_or_else(|| Value::Sym(n.clone())),
            ExprKind::Unary(op, x) => {
                let v = self.eval(x)?;
                match (op, v) {
                    (UnOp::Neg, Value::Int(i)) => Value::Int(i.checked_neg().ok_or_else(|| {
                        out_of_range(e.span, "-(-2^63) does not fit 64 bits", "integers must fit 64 bits")
                    })?),
                    (UnOp::Neg, Value::Float(f)) => Value::Float(-f),
                    (UnOp::Neg, Value::Freq(f)) => Value::Freq(-f),
                    (UnOp::Neg, Value::Time(f)) => Value::Time(-f),
                    (UnOp::Not, Value::Bool(b)) => Value::Bool(!b),
                    (op, v) => {
                        return Err(self.type_error(
                            x,
                            &v,
                            if *op == UnOp::Neg { "a number" } else { "a bool" },
                        ))
                    }
                }
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, e.span)?,
            ExprKind::Call(c) => self.function(c)?,
            ExprKind::Pipe(head, stages) => {
                let mut v = self.eval(head)?;
                for st in stages {
                    let id = match v {
                        Value::Tensor(id) => id,
                        other => {
                            return Err(Diag::new(
                                ErrorKind::Type,
                                head.span,
                                "only tensors can be piped into stages",
                            )
                            .label(format!("this is {}", other.describe()))
                            .help(format!(
                                "start the pipeline at the input{}",
                                self.input_name.as_ref().map(|n| format!(" `{n}`")).unwrap_or_default()
                            )))
                        }
                    };
                    v = Value::Tensor(self.stage(id, st)?);
                }
                v
            }
            ExprKind::If(c, t, f) => {
                if self.bool_of(c)? {
                    self.eval(t)?
                } else {
                    self.eval(f)?
                }
            }
            ExprKind::Match(s, arms) => {
                let v = self.eval(s)?;
                match arms.iter().find(|a| a.patterns.iter().any(|p| pattern_matches(p, &v))) {
                    Some(a) => self.eval(&a.body)?,
                    None => return Err(no_arm(s, &v)),
                }
            }
        })
    }

    fn type_error(&self, e: &Expr, v: &Value, want: &str) -> Diag {
        if let (Value::Sym(s), ExprKind::Ident(_)) = (v, &e.kind) {
            let names: Vec<&str> = self.env.keys().map(|k| k.as_str()).collect();
            let help = match closest(s, names.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => String::from("declare it with `param` or `let`"),
            };
            let (origin, span) = self.origin_of(e);
            return Diag::new(ErrorKind::UnknownName, span, format!("unknown name `{s}`"))
                .origin(origin)
                .label(format!("expected {want}; no param, let or input has this name"))
                .help(help);
        }
        let (origin, span) = self.origin_of(e);
        Diag::new(ErrorKind::Type, span, format!("expected {want}, found {}", v.describe()))
            .origin(origin)
            .label(format!("expected {want}"))
            .help(String::from("check the value's type and unit"))
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, span: Span) -> Result<Value, Diag> {
        use Value::*;
        if op == BinOp::Coalesce {
            let l = self.eval(a)?;
            return if l == None { self.eval(b) } else { Ok(l) };
        }
        if matches!(op, BinOp::And | BinOp::Or) {
            let l = self.bool_of(a)?;
            if (op == BinOp::And && !l) || (op == BinOp::Or && l) {
                return Ok(Bool(l));
            }
            return Ok(Bool(self.bool_of(b)?));
        }
        let l = self.eval(a)?;
        let r = self.eval(b)?;
        if matches!(op, BinOp::Eq | BinOp::Ne) {
            let eq = match (&l, &r) {
                (Sym(x), Sym(y)) => x == y,
                (Bool(x), Bool(y)) => x == y,
                (None, None) => true,
                (None, _) | (_, None) => false,
                (Sym(_), Bool(_)) | (Bool(_), Sym(_)) => false,
                _ => match (num(&l), num(&r)) {
                    (Some((x, dx)), Some((y, dy))) if dx == dy => x == y,
                    _ => {
                        return Err(Diag::new(ErrorKind::Type, span, "these values cannot be compared")
                            .label(format!("{} vs {}", l.describe(), r.describe()))
                            .help("compare values of the same kind"))
                    }
                },
            };
            return Ok(Bool(if op == BinOp::Eq { eq } else { !eq }));
        }
        let (x, dx) = num(&l).ok_or_else(|| self.type_error(a, &l, "a number"))?;
        let (y, dy) = num(&r).ok_or_else(|| self.type_error(b, &r, "a number"))?;
        if matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) {
            if dx != dy {
                return Err(Diag::new(ErrorKind::Type, span, "these values cannot be compared")
                    .label(format!("{} vs {}", l.describe(), r.describe()))
                    .help("compare values with the same unit"));
            }
            return Ok(Bool(match op {
                BinOp::Lt => x < y,
                BinOp::Le => x <= y,
                BinOp::Gt => x > y,
                _ => x >= y,
            }));
        }
        if matches!(op, BinOp::Div | BinOp::FloorDiv | BinOp::Rem) && y == 0.0 {
            // Python raises ZeroDivisionError for ints and floats alike; so does specc.
            return Err(Diag::new(ErrorKind::Range, b.span, "division by zero")
                .label("this is 0")
                .help("the divisor must not be zero"));
        }
        // Integer arithmetic stays integral; `/` is true division.
        if let (Int(i), Int(j)) = (&l, &r) {
            let (i, j) = (*i, *j);
            let res = match op {
                BinOp::Add => i.checked_add(j),
                BinOp::Sub => i.checked_sub(j),
                BinOp::Mul => i.checked_mul(j),
                BinOp::FloorDiv => floor_div(i, j),
                BinOp::Rem => Some(floor_rem(i, j)),
                _ => Option::None,
            };
            if let Some(v) = res {
                return Ok(Int(v));
            }
            if op != BinOp::Div {
                return Err(out_of_range(
                    span,
                    "the result does not fit 64 bits",
                    "integers must fit 64 bits",
                ));
            }
        }
        let v = match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            BinOp::FloorDiv => py_divmod(x, y).0,
            BinOp::Rem => py_divmod(x, y).1,
            _ => unreachable!("handled above"),
        };
        let dim = match op {
            BinOp::Add | BinOp::Sub => {
                if dx != dy {
                    return Err(Diag::new(ErrorKind::Type, span, "cannot add values with different units")
                        .label(format!("{} and {}", l.describe(), r.describe()))
                        .help("give both sides the same unit"));
                }
                dx
            }
            BinOp::Mul => match (dx, dy) {
                (Dim::One, d) | (d, Dim::One) => d,
                (Dim::Freq, Dim::Time) | (Dim::Time, Dim::Freq) => Dim::One,
                _ => {
                    return Err(Diag::new(ErrorKind::Type, span, "this product has no unit specc knows")
                        .label(format!("{} times {}", l.describe(), r.describe()))
                        .help("multiply a quantity by a plain number, or a duration by a rate"))
                }
            },
            _ => match (dx, dy) {
                (d, Dim::One) => d,
                (a, b2) if a == b2 => Dim::One,
                _ => {
                    return Err(Diag::new(ErrorKind::Type, span, "this quotient has no unit specc knows")
                        .label(format!("{} over {}", l.describe(), r.describe()))
                        .help("divide a quantity by a plain number or by the same kind of quantity"))
                }
            },
        };
        Ok(match dim {
            Dim::One => Float(v),
            Dim::Freq => Freq(v),
            Dim::Time => Time(v),
        })
    }

    /// A value-level function call (`floor(x)`, `max(a, b)`, `next_pow2(n)`).
    fn function(&mut self, c: &Call) -> Result<Value, Diag> {
        let name = c.name.name.as_str();
        if let Some(a) = c.args.iter().find(|a| a.name.is_some()) {
            let n = a.name.as_ref().map(|n| n.span).unwrap_or(c.span);
            return Err(Diag::new(
                ErrorKind::UnknownArgument,
                n,
                format!("`{name}` takes no named arguments"),
            )
            .label("named argument")
            .help("pass the values positionally"));
        }
        let arity = match name {
            "floor" | "ceil" | "round" | "int" | "float" | "abs" | "sqrt" | "next_pow2" => 1,
            "min" | "max" => 2,
            _ => {
                let help = if op_sig(name).is_some() {
                    format!("`{name}` is an op: apply it to a tensor with `|> {name}(...)`")
                } else {
                    let all = FUNCTIONS.iter().copied().chain(OPS.iter().map(|o| o.name));
                    match closest(name, all) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("functions are {}", FUNCTIONS.join(", ")),
                    }
                };
                return Err(Diag::new(
                    ErrorKind::UnknownOp,
                    c.name.span,
                    format!("unknown function `{name}`"),
                )
                .label("not a function")
                .help(help));
            }
        };
        if c.args.len() != arity {
            return Err(Diag::new(
                ErrorKind::MissingArgument,
                c.span,
                format!("`{name}` takes {arity} argument(s), got {}", c.args.len()),
            )
            .label("wrong number of arguments")
            .help(format!("call it as `{name}({})`", if arity == 1 { "x" } else { "a, b" })));
        }
        let mut vals = Vec::new();
        for a in &c.args {
            let v = self.eval(&a.value)?;
            let n = num(&v).ok_or_else(|| self.type_error(&a.value, &v, "a number"))?;
            vals.push((v, n));
        }
        let (v0, (x, d)) = vals[0].clone();
        let wrap = |r: f64, d: Dim| match d {
            Dim::One => Value::Float(r),
            Dim::Freq => Value::Freq(r),
            Dim::Time => Value::Time(r),
        };
        Ok(match name {
            // An integer is already whole: going through f64 would round it past 2^53.
            "floor" | "ceil" | "round" | "int" if matches!(v0, Value::Int(_)) => v0,
            "floor" | "ceil" | "round" | "int" => {
                let r = match name {
                    "floor" => x.floor(),
                    "ceil" => x.ceil(),
                    "round" => x.round_ties_even(),
                    _ => x.trunc(),
                };
                if d == Dim::One {
                    Value::Int(float_to_int(r).ok_or_else(|| {
                        out_of_range(
                            c.span,
                            &format!("{r:?} does not fit 64 bits"),
                            "integers must fit 64 bits",
                        )
                    })?)
                } else {
                    wrap(r, d)
                }
            }
            "float" => wrap(x, d),
            "abs" => match v0 {
                Value::Int(i) => Value::Int(i.checked_abs().ok_or_else(|| {
                    out_of_range(c.span, "abs(-2^63) does not fit 64 bits", "integers must fit 64 bits")
                })?),
                _ => wrap(x.abs(), d),
            },
            "sqrt" => wrap(x.sqrt(), d),
            "next_pow2" => {
                if x > (1u64 << 62) as f64 {
                    return Err(Diag::new(ErrorKind::Range, c.span, "next_pow2 out of range")
                        .label("too large")
                        .help("the argument must be below 2^62"));
                }
                let n = x.ceil().max(1.0) as u64;
                Value::Int(n.next_power_of_two() as i64)
            }
            _ => {
                let (v1, (y, d2)) = vals[1].clone();
                if d != d2 {
                    return Err(Diag::new(
                        ErrorKind::Type,
                        c.span,
                        format!("`{name}` needs values with the same unit"),
                    )
                    .label("different units")
                    .help("give both arguments the same unit"));
                }
                let pick_first = if name == "min" { x <= y } else { x >= y };
                if pick_first {
                    v0
                } else {
                    v1
                }
            }
        })
    }

    fn stages(&mut self, mut id: NodeId, ss: &[Stage]) -> Result<NodeId, Diag> {
        for s in ss {
            id = self.stage(id, s)?;
        }
        Ok(id)
    }

    fn stage(&mut self, id: NodeId, s: &Stage) -> Result<NodeId, Diag> {
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

    fn push(&mut self, op: Op, input: NodeId, c: &Call) -> Result<NodeId, Diag> {
        self.push_all(op, vec![input], c)
    }

    fn push_all(&mut self, op: Op, inputs: Vec<NodeId>, c: &Call) -> Result<NodeId, Diag> {
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

    fn op(&mut self, input: NodeId, c: &Call) -> Result<NodeId, Diag> {
        let sig = op_sig(&c.name.name).expect("checked statically");
        let args = bind(sig, c)?;
        let mut a = Args { lw: self, args, call: c };
        let ty = a.lw.nodes[input].ty.clone();
        let frame_len = || ty.last().size.as_const().unwrap_or(0) as usize;
        let op = match sig.name {
            "pad" => {
                let left = a.count("left", 0)?;
                let right = match a.get("right")? {
                    Some(_) => a.count("right", 0)?,
                    None => left,
                };
                let mode =
                    a.word("mode", "constant", &["constant", "reflect", "edge", "replicate", "symmetric"])?;
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
                Op::Pad { amount: PadAmount::Fixed(left, right), mode }
            }
            "pad_same" => {
                let length = a.count("length", 1)?;
                let hop = a.count("hop", 1)?;
                Op::Pad { amount: PadAmount::Same { length, hop }, mode: PadMode::Constant(0.0) }
            }
            "pad_centered" => {
                let length = a.count("length", 1)?;
                let hop = a.count("hop", 1)?;
                let mode = match a
                    .word("mode", "symmetric", &["symmetric", "reflect", "edge", "constant"])?
                    .as_str()
                {
                    "constant" => PadMode::Constant(0.0),
                    "reflect" => PadMode::Reflect,
                    "edge" => PadMode::Edge,
                    _ => PadMode::Symmetric,
                };
                Op::Pad { amount: PadAmount::Centered { length, hop }, mode }
            }
            "min_samples" => {
                let count = a.count("count", 0)?;
                let why = match a.get("why")? {
                    Some(Value::Sym(s)) => s,
                    None => format!("this spec needs at least {count} samples"),
                    Some(v) => return Err(a.bad("why", &format!("a quoted message, found {}", v.describe()))),
                };
                if count == 0 {
                    return Ok(input);
                }
                Op::MinSamples { count, why }
            }
            "select" => {
                let axis = a.word("axis", "channels", &["channels", "batch"])?;
                let index = a.count("index", 0)?;
                Op::Select { axis, index }
            }
            "pad_right" => {
                let n = a.count("amount", 0)?;
                if n == 0 {
                    return Ok(input);
                }
                Op::PadRight(n)
            }
            "frames" => {
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
                return Ok(id);
            }
            "window" => {
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
                let frame = frame_len();
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
                Op::Window {
                    window: WindowSpec { kind, length, periodic, placement, frame, blackman },
                    scaling,
                }
            }
            "log_energy" => {
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
                Op::LogEnergy { min, floor }
            }
            "concat" => {
                let other = match a.get("column")? {
                    Some(Value::Tensor(id)) => id,
                    Some(v) => {
                        return Err(a.bad("column", &format!("a per-frame tensor, found {}", v.describe())))
                    }
                    None => return Err(a.bad("column", "a per-frame tensor")),
                };
                let at_end = a.bool_or("last", false)?;
                return a.lw.push_all(Op::Concat { at_end }, vec![input, other], c);
            }
            "subtract_mean" => Op::SubtractMean,
            "remove_dc" => Op::RemoveDc,
            "preemphasis" => Op::Preemphasis(a.float("coeff")?),
            "rfft" => {
                let n = a.count("n", 1)?;
                let frame = frame_len();
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
                Op::Rfft { n, period, basis }
            }
            "power" => Op::Power,
            "magnitude" => Op::Magnitude,
            "real" => Op::Real,
            "imag" => Op::Imag,
            "angle" => Op::Angle,
            "concat_re_im" => Op::ConcatReIm,
            "sqrt" => Op::Unary(Unary::Sqrt),
            "ln" | "log" => Op::Unary(Unary::Ln),
            "log10" => Op::Unary(Unary::Log10),
            "pow" => Op::Unary(Unary::Pow(a.float("exponent")?)),
            "clamp" => Op::Unary(Unary::ClampMin(a.float("min")?)),
            "scale" => Op::Scale(a.float("factor")?),
            "affine" => Op::Unary(Unary::Affine(a.float_or("scale", 1.0)?, a.float_or("offset", 0.0)?)),
            "double_interior" => Op::DoubleInterior { last: a.bool_or("last", false)? },
            "mel" => {
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
                        &format!(
                            "the lowest frequency ({fmin:?} Hz) must be below the highest ({fmax:?} Hz)"
                        ),
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
                let table = match a.word("table", "f64", &["f32", "f64"])?.as_str() {
                    "f32" => Precision::F32,
                    _ => Precision::F64,
                };
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
                Op::Mel(MelSpec {
                    bands,
                    rate,
                    n_fft,
                    fmin,
                    fmax,
                    scale,
                    triangles,
                    grid,
                    norm,
                    zero_dc,
                    table,
                })
            }
            "db" => {
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
                        v => DbRef::Value(v.as_f64().ok_or_else(|| {
                            a.bad("ref", &format!("a number or `max`, found {}", v.describe()))
                        })?),
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
                let scope =
                    match a.expr("over").map(|e| matches!(&e.kind, ExprKind::Ident(n) if n == "tensor")) {
                        Some(true) => Some(Value::Sym(String::from("tensor"))),
                        _ => a.get("over")?,
                    };
                let scope = match scope {
                    None => Scope::Tensor,
                    Some(Value::Int(k)) if k >= 1 => Scope::Trailing(k as usize),
                    Some(Value::Sym(s)) if s == "tensor" => Scope::Tensor,
                    Some(_) => return Err(a.bad("over", "`tensor` or a positive number of trailing axes")),
                };
                let nan = match a.word("nan", "propagate", &["propagate", "skip"])?.as_str() {
                    "skip" => NanMax::Skip,
                    _ => NanMax::Propagate,
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
                    if nan == NanMax::Skip {
                        return Err(a.range(
                            "nan",
                            "`ref: max` takes the maximum as numpy does, NaN propagating",
                            "drop `nan: skip` or give a fixed `ref`",
                        ));
                    }
                }
                Op::Db { mult, amin, reference, top_db, scope, nan }
            }
            "layout" => Op::Layout(a.layout(&ty)?),
            other => unreachable!("op {other} has a signature but no lowering"),
        };
        a.lw.push(op, input, c)
    }
}

const MAX_FFT: usize = 1 << 24;
const MAX_BANDS: usize = 1 << 16;
/// The largest mel filterbank, in weights (1 GiB as the dense f64 table it is folded from).
const MAX_MEL_WEIGHTS: usize = 1 << 27;

fn upstream_fft(nodes: &[Node], mut id: NodeId) -> Option<usize> {
    loop {
        match &nodes[id].op {
            Op::Rfft { n, .. } => return Some(*n),
            Op::Input { .. } => return None,
            _ => id = nodes[id].inputs[0],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dim {
    One,
    Freq,
    Time,
}

/// The error for a value outside what the constant evaluator represents (see `eval`).
fn out_of_range(span: Span, label: &str, help: &str) -> Diag {
    Diag::new(ErrorKind::Range, span, "value out of range").label(label).help(help)
}

/// `x` as an i64 when it is whole-or-not but within i64's range (NaN and ±inf are not); the
/// fraction is truncated, so callers pass whole numbers.
fn float_to_int(x: f64) -> Option<i64> {
    // -2^63 is exact in f64; 2^63 is the first value past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (-LIMIT..LIMIT).contains(&x).then_some(x as i64)
}

/// Python's `i // j` (rounds toward negative infinity); `None` only for `-2^63 // -1`, whose
/// result 2^63 does not fit. `j` is not zero.
fn floor_div(i: i64, j: i64) -> Option<i64> {
    let q = i.checked_div(j)?;
    Some(if i % j != 0 && ((i < 0) != (j < 0)) { q - 1 } else { q })
}

/// Python's `i % j` (takes the divisor's sign); always fits (`-2^63 % -1` is 0). `j` is not zero.
fn floor_rem(i: i64, j: i64) -> i64 {
    let r = i.wrapping_rem(j);
    if r != 0 && ((r < 0) != (j < 0)) {
        r + j
    } else {
        r
    }
}

/// Python's `divmod(x, y)` for floats, as CPython's `float_divmod` computes it (so `//` and `%`
/// agree with Python to the last bit, signed zeros included). `y` is not zero.
fn py_divmod(x: f64, y: f64) -> (f64, f64) {
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(y);
    }
    let floordiv = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 {
            f + 1.0
        } else {
            f
        }
    } else {
        0.0f64.copysign(x / y)
    };
    (floordiv, m)
}

fn num(v: &Value) -> Option<(f64, Dim)> {
    match v {
        Value::Int(i) => Some((*i as f64, Dim::One)),
        Value::Float(x) => Some((*x, Dim::One)),
        Value::Freq(x) => Some((*x, Dim::Freq)),
        Value::Time(x) => Some((*x, Dim::Time)),
        _ => None,
    }
}

fn pattern_matches(p: &Pattern, v: &Value) -> bool {
    match (p, v) {
        (Pattern::Wildcard(_), _) => true,
        (Pattern::Sym(i), Value::Sym(s)) => &i.name == s,
        (Pattern::Bool(b, _), Value::Bool(x)) => b == x,
        (Pattern::None(_), Value::None) => true,
        _ => false,
    }
}

fn no_arm(s: &Expr, v: &Value) -> Diag {
    Diag::new(ErrorKind::Range, s.span, format!("no arm of this match covers {}", v.describe()))
        .label("matched here")
        .help("add an arm for it, or a `_ =>` arm")
}

fn type_text(t: &TypeExpr) -> String {
    let base = match &t.kind {
        TypeKind::Named(n) => n.name.clone(),
        TypeKind::Enum(v) if t.optional || v.len() == 1 => {
            format!("({})", v.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(" | "))
        }
        TypeKind::Enum(v) => v.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(" | "),
    };
    if t.optional {
        format!("{base}?")
    } else {
        base
    }
}

fn param_type(t: &TypeExpr) -> Result<ParamType, Diag> {
    Ok(match &t.kind {
        // `float | max`: a number or a word.
        TypeKind::Enum(v) if v.iter().any(|i| i.name == "float") => {
            ParamType::FloatOr(v.iter().filter(|i| i.name != "float").map(|i| i.name.clone()).collect())
        }
        TypeKind::Enum(v) => ParamType::Enum(v.iter().map(|i| i.name.clone()).collect()),
        TypeKind::Named(n) => {
            match n.name.as_str() {
                "int" => ParamType::Int,
                "float" => ParamType::Float,
                "bool" => ParamType::Bool,
                "Hz" => ParamType::Hz,
                "window" => ParamType::Window,
                other => {
                    let all = ["int", "float", "bool", "Hz", "window"];
                    let help = match closest(other, all) {
                    Some(c) => format!("did you mean `{c}`? (or an enumeration such as `valid | same`)"),
                    None => String::from("types are int, float, bool, Hz, window, or an enumeration such as `valid | same`"),
                };
                    return Err(Diag::new(ErrorKind::Type, n.span, format!("unknown type `{other}`"))
                        .label("not a type")
                        .help(help));
                }
            }
        }
    })
}

fn coerce(v: Value, ty: &ParamType, optional: bool) -> Result<Value, String> {
    if v == Value::None {
        return if optional {
            Ok(v)
        } else {
            Err(format!("this param cannot be none; expected {}", ty.describe()))
        };
    }
    let fail = |v: &Value| Err(format!("expected {}, found {}", ty.describe(), v.describe()));
    match (ty, &v) {
        (ParamType::Int, Value::Int(_)) => Ok(v),
        (ParamType::Float, Value::Int(i)) => Ok(Value::Float(*i as f64)),
        (ParamType::Float, Value::Float(_)) => Ok(v),
        (ParamType::Bool, Value::Bool(_)) => Ok(v),
        (ParamType::Hz, Value::Int(i)) => Ok(Value::Freq(*i as f64)),
        (ParamType::Hz, Value::Float(x)) => Ok(Value::Freq(*x)),
        (ParamType::Hz, Value::Freq(_)) => Ok(v),
        (ParamType::Window, Value::Sym(s)) => {
            if WindowKind::from_name(s).is_some() {
                Ok(v)
            } else {
                let names: Vec<&str> = WindowKind::NAMES.iter().map(|(n, _)| *n).collect();
                Err(format!("unknown window `{s}`; windows are {}", names.join(", ")))
            }
        }
        (ParamType::Enum(alts), Value::Sym(s)) => {
            if alts.contains(s) {
                Ok(v)
            } else {
                Err(format!("`{s}` is not one of {}", alts.join(", ")))
            }
        }
        (ParamType::FloatOr(_), Value::Int(i)) => Ok(Value::Float(*i as f64)),
        (ParamType::FloatOr(_), Value::Float(_)) => Ok(v),
        (ParamType::FloatOr(alts), Value::Sym(s)) => {
            if alts.contains(s) {
                Ok(v)
            } else {
                Err(format!("`{s}` is neither a number nor one of {}", alts.join(", ")))
            }
        }
        _ => fail(&v),
    }
}

/// Checks every op name and argument name in the spec, in every branch, before any value is
/// computed: a typo in a branch the current params skip is still an error.
fn check_static(spec: &Spec) -> Result<(), Diag> {
    fn stages(ss: &[Stage]) -> Result<(), Diag> {
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
    fn expr(e: &Expr) -> Result<(), Diag> {
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

fn unknown_op(c: &Call) -> Diag {
    let help = match closest(&c.name.name, OPS.iter().map(|o| o.name)) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("ops are: {}", OPS.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")),
    };
    Diag::new(ErrorKind::UnknownOp, c.name.span, format!("unknown op `{}`", c.name))
        .label("no such op")
        .help(help)
}

const FUNCTIONS: &[&str] =
    &["floor", "ceil", "round", "int", "float", "abs", "sqrt", "next_pow2", "min", "max"];

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
}

/// Every op the language has.
pub const OPS: &[OpSig] = &[
    OpSig { name: "pad", params: &["left", "right", "mode", "value", "strict"], required: 1,
        doc: "pad(left, right: left, mode: constant|reflect|edge|symmetric, value: 0, strict: false) pads samples; strict reflect needs pad < signal, as torch; symmetric repeats the edge sample" },
    OpSig { name: "pad_centered", params: &["length", "hop", "mode"], required: 2,
        doc: "pad_centered(length, hop, mode: symmetric) pads for frames centred on t*hop + hop/2: (N + hop/2) // hop frames, left length/2 - hop/2 (negative trims), as Kaldi's snip_edges=false" },
    OpSig { name: "min_samples", params: &["count", "why"], required: 1,
        doc: "min_samples(count, why: \"message\") passes samples through; fewer than count samples is an error saying why" },
    OpSig { name: "pad_same", params: &["length", "hop"], required: 2,
        doc: "pad_same(length, hop) zero-pads by TF's SAME rule (odd sample on the right)" },
    OpSig { name: "pad_right", params: &["amount"], required: 1, doc: "pad_right(amount) appends zeros" },
    OpSig { name: "select", params: &["axis", "index"], required: 2,
        doc: "select(channels|batch, index) keeps one index of a leading input axis" },
    OpSig { name: "frames", params: &["length", "hop", "drop_last"], required: 2,
        doc: "frames(length, hop, drop_last: false) slices samples into frames x taps" },
    OpSig { name: "window", params: &["name", "length", "periodic", "placement", "scaling", "coeff"], required: 1,
        doc: "window(name|none, length: frame, periodic: true, placement: center|left, scaling: none|density|spectrum, coeff: 0.42 (Blackman's a))" },
    OpSig { name: "remove_dc", params: &[], required: 0, doc: "remove_dc() subtracts each frame's mean" },
    OpSig { name: "preemphasis", params: &["coeff"], required: 1,
        doc: "preemphasis(coeff) per frame y[i] = x[i] - coeff * x[i-1], x[-1] = x[0] (Kaldi)" },
    OpSig { name: "log_energy", params: &["min", "floor"], required: 0,
        doc: "log_energy(min: 0, floor: none) per frame ln(max(sum x^2, min)), then max with ln(floor) (Kaldi's energy)" },
    OpSig { name: "concat", params: &["column", "last"], required: 1,
        doc: "concat(column, last: false) adds a per-frame tensor as the first value of each frame (the last with last: true)" },
    OpSig { name: "subtract_mean", params: &[], required: 0,
        doc: "subtract_mean() subtracts each column's mean over frames, per signal (Kaldi's subtract_mean)" },
    OpSig { name: "rfft", params: &["n", "period", "basis"], required: 1,
        doc: "rfft(n, period: n, basis: f64|f32) real DFT of frames zero-padded to n; bins n/2+1" },
    OpSig { name: "power", params: &[], required: 0, doc: "power() = re^2 + im^2" },
    OpSig { name: "magnitude", params: &[], required: 0, doc: "magnitude() = sqrt(re^2 + im^2)" },
    OpSig { name: "real", params: &[], required: 0, doc: "real() real part" },
    OpSig { name: "imag", params: &[], required: 0, doc: "imag() imaginary part" },
    OpSig { name: "angle", params: &[], required: 0, doc: "angle() = atan2(im, re)" },
    OpSig { name: "concat_re_im", params: &[], required: 0, doc: "concat_re_im() real parts then imaginary parts along bins" },
    OpSig { name: "sqrt", params: &[], required: 0, doc: "sqrt()" },
    OpSig { name: "ln", params: &[], required: 0, doc: "ln() natural log" },
    OpSig { name: "log", params: &[], required: 0, doc: "log() natural log (alias of ln)" },
    OpSig { name: "log10", params: &[], required: 0, doc: "log10()" },
    OpSig { name: "pow", params: &["exponent"], required: 1, doc: "pow(exponent)" },
    OpSig { name: "clamp", params: &["min"], required: 1, doc: "clamp(min) = max(x, min)" },
    OpSig { name: "scale", params: &["factor"], required: 1, doc: "scale(factor) multiplies" },
    OpSig { name: "affine", params: &["scale", "offset"], required: 0, doc: "affine(scale: 1, offset: 0) = x * scale + offset" },
    OpSig { name: "double_interior", params: &["last"], required: 0,
        doc: "double_interior(last: false) doubles bins 1..F-1 (one-sided PSD)" },
    OpSig { name: "mel", params: &["bands", "rate", "fmin", "fmax", "scale", "triangles", "grid", "top", "norm", "zero_dc", "n_fft", "table"], required: 4,
        doc: "mel(bands, rate, fmin, fmax, scale: htk|slaney, triangles: mel|hz, grid: linspace|rfftfreq, top: rate/2, norm: none|slaney, zero_dc: false)" },
    OpSig { name: "db", params: &["amin", "ref", "top_db", "mult", "over", "nan"], required: 0,
        doc: "db(amin: 1e-10, ref: 1, top_db: none, mult: 10, over: tensor|K trailing axes, nan: propagate|skip)" },
    OpSig { name: "layout", params: &[], required: 0,
        doc: "layout(axis, ...) orders output axes; `a * b` merges; e.g. layout(..., mel, frames)" },
];

/// The signature of op `name`.
pub fn op_sig(name: &str) -> Option<&'static OpSig> {
    OPS.iter().find(|o| o.name == name)
}

/// Arguments bound to parameter names (layout keeps its positional list).
struct Bound {
    named: Vec<(&'static str, usize)>,
}

fn bind(sig: &'static OpSig, c: &Call) -> Result<Bound, Diag> {
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
struct Args<'l, 'a, 'c> {
    lw: &'l mut Lowerer<'a>,
    args: Bound,
    call: &'c Call,
}

impl Args<'_, '_, '_> {
    fn expr(&self, name: &str) -> Option<&Expr> {
        self.args.named.iter().find(|(p, _)| *p == name).map(|(_, i)| &self.call.args[*i].value)
    }
    fn get(&mut self, name: &str) -> Result<Option<Value>, Diag> {
        match self.expr(name) {
            Some(e) => {
                let e = e.clone();
                self.lw.eval(&e).map(Some)
            }
            None => Ok(None),
        }
    }
    /// The params argument `name`'s value came from (see [`Lowerer::sources`]).
    fn sources(&self, name: &str) -> Vec<String> {
        self.expr(name).map(|e| self.lw.sources(e)).unwrap_or_default()
    }
    fn sig(&self) -> &'static OpSig {
        op_sig(&self.call.name.name).expect("known op")
    }
    fn at(&self, name: &str) -> (Origin, Span) {
        match self.expr(name) {
            Some(e) => self.lw.origin_of(e),
            None => (Origin::Spec, self.call.span),
        }
    }
    fn bad(&self, name: &str, want: &str) -> Diag {
        let (origin, span) = self.at(name);
        Diag::new(ErrorKind::Type, span, format!("bad `{name}` for `{}`", self.call.name))
            .origin(origin)
            .label(format!("expected {want}"))
            .help(self.sig().doc)
    }
    fn range(&self, name: &str, label: &str, help: &str) -> Diag {
        let (origin, span) = self.at(name);
        Diag::new(ErrorKind::Range, span, format!("`{}`: {label}", self.call.name))
            .origin(origin)
            .label(label.to_string())
            .help(help.to_string())
    }
    fn bad_window(&self, name: &str, s: &str) -> Diag {
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
    fn typed(&mut self, name: &str, want: &str) -> Result<Value, Diag> {
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
    fn count(&mut self, name: &str, min: usize) -> Result<usize, Diag> {
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
    fn float(&mut self, name: &str) -> Result<f64, Diag> {
        let v = self.typed(name, "a number")?;
        v.as_f64().ok_or_else(|| self.bad(name, &format!("a number, found {}", v.describe())))
    }
    fn float_or(&mut self, name: &str, d: f64) -> Result<f64, Diag> {
        if self.expr(name).is_none() {
            return Ok(d);
        }
        self.float(name)
    }
    fn freq(&mut self, name: &str) -> Result<f64, Diag> {
        let v = self.typed(name, "a frequency")?;
        match v {
            Value::Freq(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            Value::Float(f) => Ok(f),
            v => Err(self.bad(name, &format!("a frequency, found {}", v.describe()))),
        }
    }
    fn bool_or(&mut self, name: &str, d: bool) -> Result<bool, Diag> {
        if self.expr(name).is_none() {
            return Ok(d);
        }
        match self.typed(name, "a bool")? {
            Value::Bool(b) => Ok(b),
            v => Err(self.bad(name, &format!("true or false, found {}", v.describe()))),
        }
    }
    fn word(&mut self, name: &str, d: &str, choices: &[&str]) -> Result<String, Diag> {
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
    fn layout(&mut self, ty: &Type) -> Result<Vec<OutAxis>, Diag> {
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

fn axes_list(ty: &Type) -> String {
    ty.axes.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn collect_axes(e: &Expr, out: &mut Vec<(String, Span)>) -> Result<(), Span> {
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

/// `--set NAME=...` where the spec has no param `NAME`.
fn unknown_param(spec: &Spec, name: &str, name_span: Span) -> Diag {
    let names: Vec<&str> = spec.params().map(|d| d.name.name.as_str()).collect();
    let help = match closest(name, names.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("this spec's params are: {}", names.join(", ")),
    };
    Diag::new(ErrorKind::UnknownParam, name_span, format!("`{name}` is not a param of spec `{}`", spec.name))
        .label("unknown param")
        .help(help)
}

/// Parses the value of `--set name=value`, given as `text` with `name=` blanked out (so spans
/// are offsets into the whole argument). Besides the language's own values it takes what users
/// paste from Python code: `None`, `True`, `False`, quoted words (`'hann'`), and the callables
/// libraries take where the spec has a word for them (`np.max` for librosa's `ref=np.max`,
/// `torch.hann_window` for torchaudio's `window_fn`). Anything else that is not a value is
/// refused with the spellings the param accepts.
pub fn parse_set_value(spec: &Spec, name: &str, name_span: Span, text: &str) -> Result<Expr, Diag> {
    let Some(decl) = spec.params().find(|d| d.name.name == name) else {
        return Err(unknown_param(spec, name, name_span));
    };
    let start = text.len() - text.trim_start().len();
    let v = text.trim();
    let span = Span::new(start, (start + v.len()).max(start + 1));
    let expr = |kind| Ok(Expr { kind, span });
    match v {
        "None" => return expr(ExprKind::None),
        "True" => return expr(ExprKind::Bool(true)),
        "False" => return expr(ExprKind::Bool(false)),
        _ => {}
    }
    if let Some(w) = v.strip_prefix('\'').and_then(|w| w.strip_suffix('\'')) {
        if !w.is_empty() && !w.contains(['\'', '"']) {
            return expr(ExprKind::Str(w.to_string()));
        }
    }
    let not_accepted = |label: String| {
        Diag::new(ErrorKind::Type, span, format!("`{v}` is not a value of `{name}`"))
            .label(label)
            .help(accepted_spellings(decl))
    };
    let dotted = v.contains('.')
        && v.split('.').all(|p| p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if dotted {
        let (module, word) = v.rsplit_once('.').expect("dotted");
        let words = param_words(decl);
        let known = words.iter().any(|w| w == word);
        return match module {
            "np" | "numpy" if word == "max" && known => expr(ExprKind::Str(word.to_string())),
            "torch" if known && word.ends_with("_window") => expr(ExprKind::Str(word.to_string())),
            "scipy.signal.windows" | "scipy.signal" if known => Err(not_accepted(String::from(
                "a window function: called with the length alone it is scipy's symmetric window",
            ))
            .help(format!(
                "the library builds the periodic window from the name: write `{word}` (or `'{word}'`); {}",
                accepted_spellings(decl)
            ))),
            _ => Err(not_accepted(String::from("not a spelling this param accepts"))),
        };
    }
    crate::syntax::parse_value(text).map_err(|e| match e.kind {
        // Too deep to read is its own error, with its own hint; the accepted spellings would
        // not help.
        ErrorKind::Nesting => e,
        _ => Diag { kind: ErrorKind::Syntax, ..not_accepted(String::from("not a value specc can read")) },
    })
}

/// The words a param accepts (enumeration members, window names).
fn param_words(decl: &ParamDecl) -> Vec<String> {
    match param_type(&decl.ty) {
        Ok(ParamType::Enum(w)) | Ok(ParamType::FloatOr(w)) => w,
        Ok(ParamType::Window) => WindowKind::NAMES.iter().map(|(n, _)| n.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// [`param_words`] for hints: a window param lists each window once, by its canonical name.
fn hint_words(decl: &ParamDecl) -> Vec<String> {
    match param_type(&decl.ty) {
        Ok(ParamType::Window) => {
            let mut names: Vec<String> = Vec::new();
            for (_, k) in WindowKind::NAMES {
                let n = k.as_str().to_string();
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            names
        }
        _ => param_words(decl),
    }
}

/// How a param's values may be written on the command line, for hints.
fn accepted_spellings(decl: &ParamDecl) -> String {
    let mut parts: Vec<String> = Vec::new();
    let ty = param_type(&decl.ty);
    match &ty {
        Ok(ParamType::Int) => parts.push(String::from("an integer (e.g. `512`)")),
        Ok(ParamType::Float) | Ok(ParamType::FloatOr(_)) => {
            parts.push(String::from("a number (e.g. `1.0`, `1e-10`)"))
        }
        Ok(ParamType::Bool) => parts.push(String::from("`true`/`false` (or `True`/`False`)")),
        Ok(ParamType::Hz) => parts.push(String::from("a frequency (`8000`, `8000 Hz`, `8 kHz`)")),
        _ => {}
    }
    let words = hint_words(decl);
    for w in &words {
        parts.push(format!("`{w}`"));
        if w == "max" && matches!(ty, Ok(ParamType::FloatOr(_))) {
            parts.push(String::from("`np.max`"));
            parts.push(String::from("`numpy.max`"));
        }
        if w.ends_with("_window") {
            parts.push(format!("`torch.{w}`"));
        }
    }
    if decl.ty.optional {
        parts.push(String::from("`none` (or `None`)"));
    }
    let list = match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => parts.concat(),
    };
    let quoted = if words.is_empty() { "" } else { "; words may be quoted, e.g. `'" };
    let quoted = if quoted.is_empty() { String::new() } else { format!("{quoted}{}'`", words[0]) };
    format!("`{}` accepts {list}{quoted}", decl.name)
}

/// `` `a` or `b` `` for a hint.
fn or_list(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")
}

/// A hint relating two values by the params they came from (`` `win_length` must not exceed
/// `n_fft` ``), or `neutral` when either came from no param.
fn relation_hint(left: &[String], relation: &str, right: &[String], neutral: &str) -> String {
    if left.is_empty() || right.is_empty() {
        return neutral.to_string();
    }
    format!("{} {relation} {}", or_list(left), or_list(right))
}

/// The `let`s an expression names directly, in order, with their expressions.
fn collect_lets<'e>(e: &Expr, lets: &HashMap<String, &'e Expr>, out: &mut Vec<(String, &'e Expr)>) {
    match &e.kind {
        ExprKind::Ident(n) => {
            if let Some(l) = lets.get(n) {
                if !out.iter().any(|(m, _)| m == n) {
                    out.push((n.clone(), l));
                }
            }
        }
        ExprKind::Unary(_, x) => collect_lets(x, lets, out),
        ExprKind::Binary(_, a, b) => {
            collect_lets(a, lets, out);
            collect_lets(b, lets, out);
        }
        ExprKind::Call(c) => c.args.iter().for_each(|a| collect_lets(&a.value, lets, out)),
        ExprKind::If(c, t, f) => {
            collect_lets(c, lets, out);
            collect_lets(t, lets, out);
            collect_lets(f, lets, out);
        }
        _ => {}
    }
}
