//! Syntax tree -> graph: resolves params (defaults and `--set` overrides), units, conditionals
//! and `let`s, binds op arguments, validates ranges, and infers every node's type.

use crate::diag::{closest, Diag, ErrorKind, Origin};
use crate::graph::*;
use crate::syntax::ast::*;
use crate::syntax::printer;
use std::collections::HashMap;

mod bind;
mod eval;
mod input;
mod ops;
mod params;

pub use ops::{op_sig, OpSig, OPS};
pub use params::parse_set_value;
// Each concern's helpers are visible to the others (`use super::*`).
use bind::*;
use eval::*;
use ops::*;

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

    let (decl, dtype, accepts) = lw.input_decl(spec)?;

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
