//! The syntax tree of a spec, with byte spans into the source for diagnostics.

use std::fmt;

/// A byte range into the spec source.
///
/// Spans are metadata: two spans always compare equal, so two trees are equal exactly when they
/// say the same thing, wherever it was written. That is what the printer round-trip test needs.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A name with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where.
    pub span: Span,
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A whole spec file.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// `spec NAME`.
    pub name: Ident,
    /// Items in source order.
    pub items: Vec<Item>,
}

impl Spec {
    /// The param declarations, in order.
    pub fn params(&self) -> impl Iterator<Item = &ParamDecl> {
        self.items.iter().filter_map(|i| if let Item::Param(p) = i { Some(p) } else { None })
    }
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `param name: type = default`
    Param(ParamDecl),
    /// `input name: dtype[axes] at rate when cond`
    Input(InputDecl),
    /// `let name = expr`
    Let(LetDecl),
    /// `require cond, "message"`
    Require(Require),
    /// The output expression.
    Output(Expr),
}

/// `require cond, "message"`: fails compilation with the message when `cond` is false.
#[derive(Clone, Debug, PartialEq)]
pub struct Require {
    /// Must hold.
    pub cond: Expr,
    /// Said when it does not.
    pub message: String,
}

/// `param name: type = default`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDecl {
    /// Name, as the reproduced library spells its argument.
    pub name: Ident,
    /// Declared type.
    pub ty: TypeExpr,
    /// Default value.
    pub default: Expr,
    /// The whole declaration.
    pub span: Span,
}

/// A param type: a named type (`int`, `float`, `bool`, `Hz`, `window`, ...) or an enumeration
/// (`valid | same`), optionally `?` (accepts `none`).
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// The base type.
    pub kind: TypeKind,
    /// Whether `none` is allowed.
    pub optional: bool,
    /// Where.
    pub span: Span,
}

/// The base of a [`TypeExpr`].
#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// A builtin type name.
    Named(Ident),
    /// One of these symbols.
    Enum(Vec<Ident>),
}

/// `input name: dtype[axes] (at rate)? (when cond)?`.
#[derive(Clone, Debug, PartialEq)]
pub struct InputDecl {
    /// The signal's name.
    pub name: Ident,
    /// Element type: `f32`, `f64`, `float` (whatever float the input has) or a param naming one.
    pub dtype: Ident,
    /// Axis names in the order the caller's array has them; one must be `samples`.
    pub axes: Vec<AxisDecl>,
    /// Array dtypes callers may pass; empty means the default for the dtype.
    pub accepts: Vec<Ident>,
    /// Reject NaN and inf samples.
    pub finite: bool,
    /// The sample rate that resolves time units.
    pub rate: Option<Expr>,
    /// The declaration applies only when this holds.
    pub when: Option<Expr>,
    /// The whole declaration.
    pub span: Span,
}

/// One axis of an input declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisDecl {
    /// `...`: any number of leading axes.
    Ellipsis(Span),
    /// A named axis.
    Named(Ident),
}

/// `let name = expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct LetDecl {
    /// Bound name.
    pub name: Ident,
    /// Value.
    pub value: Expr,
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Units a number may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Hertz.
    Hz,
    /// Kilohertz.
    KHz,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
    /// Samples.
    Samples,
}

impl Unit {
    /// The unit as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Hz => "Hz",
            Unit::KHz => "kHz",
            Unit::Ms => "ms",
            Unit::S => "s",
            Unit::Samples => "samples",
        }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (true division)
    Div,
    /// `//` (floor division)
    FloorDiv,
    /// `%`
    Rem,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `and`
    And,
    /// `or`
    Or,
    /// `??`: the left side unless it is `none`.
    Coalesce,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Rem => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Coalesce => "??",
        }
    }
    /// Binding strength; larger binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Coalesce => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::FloorDiv | BinOp::Rem => 6,
        }
    }
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number, maybe with a unit. `is_int` when written without `.` or exponent.
    Number {
        /// Its value.
        value: f64,
        /// Written as an integer.
        is_int: bool,
        /// The exact value of an integer literal that fits 64 bits (`value` rounds past 2^53);
        /// `None` for a larger one, which lowering refuses.
        int: Option<i64>,
        /// Its unit.
        unit: Option<Unit>,
    },
    /// `true` / `false`
    Bool(bool),
    /// `none`
    None,
    /// `...` (in layouts)
    Ellipsis,
    /// A quoted word: always a symbol.
    Str(String),
    /// A name: a param, a let binding, the input, or else a symbol (`hann`, `reflect`).
    Ident(String),
    /// `-x`, `not x`
    Unary(UnOp, Box<Expr>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(args)`
    Call(Call),
    /// `x |> stage |> stage`
    Pipe(Box<Expr>, Vec<Stage>),
    /// `if c { a } else { b }`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `match x { p => e, ... }`
    Match(Box<Expr>, Vec<Arm<Expr>>),
}

/// A call: an op applied to arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// Op name.
    pub name: Ident,
    /// Arguments in order.
    pub args: Vec<Arg>,
    /// The whole call.
    pub span: Span,
}

/// A positional or named argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// `name:` when named.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// A pipeline stage: applied to the value piped into it.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// `op(args)`
    Call(Call),
    /// `if c { stages } else { stages }`; a missing branch passes the value through.
    If {
        /// Condition.
        cond: Expr,
        /// Stages when true.
        then: Vec<Stage>,
        /// Stages when false (`else if` nests one `If` here).
        otherwise: Option<Vec<Stage>>,
        /// Where.
        span: Span,
    },
    /// `match x { pat => stages }`
    Match {
        /// The value matched.
        scrutinee: Expr,
        /// Arms in order; the first that matches applies.
        arms: Vec<Arm<Vec<Stage>>>,
        /// Where.
        span: Span,
    },
}

/// One arm of a `match`.
#[derive(Clone, Debug, PartialEq)]
pub struct Arm<T> {
    /// Alternatives; the arm applies when any matches.
    pub patterns: Vec<Pattern>,
    /// What the arm gives.
    pub body: T,
}

/// A match pattern.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// `_`
    Wildcard(Span),
    /// A symbol such as `psd`.
    Sym(Ident),
    /// `true` / `false`
    Bool(bool, Span),
    /// `none`
    None(Span),
}

impl Pattern {
    /// Where the pattern was written.
    pub fn span(&self) -> Span {
        match self {
            Pattern::Wildcard(s) | Pattern::Bool(_, s) | Pattern::None(s) => *s,
            Pattern::Sym(i) => i.span,
        }
    }
}
