//! Text to syntax tree, with pest.

use super::ast::*;
use crate::diag::{Diag, ErrorKind};
use pest::iterators::Pair;
use pest::Parser;

/// pest's generated parser and its `Rule` enum (one variant per grammar rule).
mod generated {
    #![allow(missing_docs)]
    #[derive(pest_derive::Parser)]
    #[grammar = "syntax/grammar.pest"]
    pub struct SpecParser;
}
use generated::{Rule, SpecParser};

type P<'a> = Pair<'a, Rule>;

/// How deeply spec text may nest: parentheses, call arguments, blocks, `if`/`match`, and chains
/// of operators (`1 + 1 + 1` nests two deep; `- - x` too). Every recursive walk over the syntax
/// tree (the parser's, lowering's, the printer's) is bounded by it, so deep text is an error
/// ([`ErrorKind::Nesting`]) and never exhausts the stack. Python's old parser had the same kind
/// of limit (200 nested parentheses); real specs nest under 10.
pub const MAX_NESTING: usize = 100;

/// Stack the recursive walks may use before [`with_stack`] moves them to a fresh stack:
/// [`MAX_NESTING`] levels of the parser take under 1 MiB in the test profile, so this leaves
/// room for unoptimised and AddressSanitizer builds (a main thread's 8 MiB runs in place; a
/// 2 MiB worker thread moves).
const RED_ZONE: usize = 4 << 20;
/// The size of the fresh stack [`with_stack`] allocates (mapped lazily: untouched pages cost
/// nothing).
const NEW_STACK: usize = 32 << 20;

/// Runs `f` (a parse, a lowering, a print) with at least [`RED_ZONE`] bytes of stack: on the
/// caller's stack when it has that much left, else on a fresh one. With [`MAX_NESTING`], this is
/// what makes compiling safe on any thread, a 256 KiB one included.
pub fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, NEW_STACK, f)
}

/// Parses a whole spec file.
pub fn parse_spec(text: &str) -> Result<Spec, Diag> {
    check_nesting(text)?;
    with_stack(|| {
        let mut pairs = SpecParser::parse(Rule::file, text).map_err(syntax_error)?;
        let file = pairs.next().expect("file rule");
        let mut inner = file.into_inner();
        let spec_decl = inner.next().expect("spec decl");
        let name = ident(spec_decl.into_inner().next().expect("spec name"));
        let mut items = Vec::new();
        for p in inner {
            match p.as_rule() {
                Rule::param_decl => items.push(Item::Param(param_decl(p)?)),
                Rule::input_decl => items.push(Item::Input(input_decl(p)?)),
                Rule::let_decl => {
                    let mut i = p.into_inner();
                    let name = ident(i.next().expect("let name"));
                    let value = top(i.next().expect("let value"))?;
                    items.push(Item::Let(LetDecl { name, value }));
                }
                Rule::require => {
                    let mut i = p.into_inner();
                    let cond = top(i.next().expect("require cond"))?;
                    let message = string(i.next().expect("require message"));
                    items.push(Item::Require(Require { cond, message }));
                }
                Rule::output => items.push(Item::Output(top(p.into_inner().next().expect("expr"))?)),
                Rule::EOI => {}
                r => unreachable!("unexpected item {r:?}"),
            }
        }
        Ok(Spec { name, items })
    })
}

/// Parses one `--set` value (an expression on its own).
pub fn parse_value(text: &str) -> Result<Expr, Diag> {
    check_nesting(text)?;
    with_stack(|| {
        let mut pairs = SpecParser::parse(Rule::set_value, text).map_err(syntax_error)?;
        let first = pairs.next().expect("set_value");
        top(first.into_inner().next().expect("expr"))
    })
}

/// The error for text nested deeper than [`MAX_NESTING`], at `span`.
fn too_deep(span: Span) -> Diag {
    Diag::new(ErrorKind::Nesting, span, "nested too deeply")
        .label(format!("more than {MAX_NESTING} levels deep here"))
        .help(format!(
            "specc reads at most {MAX_NESTING} levels of parentheses, blocks, `if`/`match` and \
             chained operators; split the expression with `let` bindings"
        ))
}

/// Refuses text whose nesting could take pest's recursive descent deeper than [`MAX_NESTING`]
/// levels, before pest sees it, by a linear scan that over-approximates the depth.
///
/// pest recurses (expr -> ... -> primary -> expr) only through a bracket (`(` of a group or
/// call, `{` of a block) or an `if`/`match` keyword that is still open. The scan keeps one frame
/// per open bracket, each counting the keywords seen in it since the last `,` or `|>` at its
/// level (an `if` or `match` always ends before either), and at the top level since the last
/// item keyword. The depth at any point is the open brackets plus those keyword counts, an
/// upper bound on pest's. Words are counted by every `if`/`match` they contain, since pest's
/// `"if"` literal also matches the start of `iffy` and `elseif`.
fn check_nesting(text: &str) -> Result<(), Diag> {
    let b = text.as_bytes();
    // frames[k]: keywords pending at bracket level k; frames.len() - 1 brackets are open.
    let mut frames: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // pest's string: up to the next quote on the same line (else it fails there).
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'{' | b'[' => {
                frames.push(0);
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_deep(Span::new(i, i + 1)));
                }
            }
            b')' | b'}' | b']' if frames.len() > 1 => depth -= frames.pop().unwrap_or(0) + 1,
            b',' => depth -= std::mem::take(frames.last_mut().expect("a frame")),
            b'|' if b.get(i + 1) == Some(&b'>') => {
                depth -= std::mem::take(frames.last_mut().expect("a frame"))
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &text[start..i];
                let item = matches!(word, "spec" | "param" | "input" | "let" | "require");
                let level = frames.len();
                let top = frames.last_mut().expect("a frame");
                if item && level == 1 {
                    // A new top-level item: whatever the previous one opened is closed.
                    depth -= std::mem::take(top);
                }
                let k = word.matches("if").count() + word.matches("match").count();
                *top += k;
                depth += k;
                if depth > MAX_NESTING {
                    return Err(too_deep(Span::new(start, i)));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}
fn syntax_error(e: pest::error::Error<Rule>) -> Diag {
    use pest::error::{ErrorVariant, InputLocation};
    let span = match e.location {
        InputLocation::Pos(p) => Span::new(p, p + 1),
        InputLocation::Span((a, b)) => Span::new(a, b.max(a + 1)),
    };
    let (label, help) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<String> = positives.iter().filter_map(|r| rule_name(*r)).collect();
            names.sort();
            names.dedup();
            let label = if names.is_empty() {
                String::from("unexpected text")
            } else {
                format!("expected {}", names.join(", "))
            };
            (label, None)
        }
        ErrorVariant::CustomError { message } => (message.clone(), None),
    };
    let help = help.unwrap_or_else(|| {
        String::from(
            "a spec is `spec NAME`, then `param`, `input` and `let` lines and one pipeline \
             such as `audio |> frames(length: 400, hop: 160) |> ...`",
        )
    });
    Diag::new(ErrorKind::Syntax, span, "syntax error").label(label).help(help)
}

fn rule_name(r: Rule) -> Option<String> {
    let s = match r {
        Rule::EOI => "end of input",
        Rule::ident | Rule::callee => "a name",
        Rule::expr | Rule::or_expr => "an expression",
        Rule::quantity | Rule::number => "a number",
        Rule::param_decl => "`param`",
        Rule::input_decl => "`input`",
        Rule::let_decl => "`let`",
        Rule::require => "`require`",
        Rule::string => "a quoted word",
        Rule::output => "a pipeline",
        Rule::type_expr | Rule::named_type | Rule::enum_type => "a type",
        Rule::stage | Rule::call | Rule::if_stage | Rule::match_stage => "a stage",
        Rule::arg => "an argument",
        Rule::cmp_op | Rule::sum_op | Rule::product_op | Rule::coalesce_op => "an operator",
        Rule::or_op | Rule::and_op => "an operator",
        Rule::axis | Rule::ellipsis => "an axis",
        Rule::pattern | Rule::patterns | Rule::wildcard => "a pattern",
        Rule::unit => "a unit",
        Rule::optional => "`?`",
        Rule::at_rate => "`at`",
        Rule::when => "`when`",
        Rule::accepts => "`accepts`",
        Rule::finite => "`finite`",
        Rule::block => "`{`",
        _ => return None,
    };
    Some(s.to_string())
}

fn span(p: &P) -> Span {
    let s = p.as_span();
    Span::new(s.start(), s.end())
}

fn ident(p: P) -> Ident {
    Ident { name: p.as_str().to_string(), span: span(&p) }
}

fn param_decl(p: P) -> Result<ParamDecl, Diag> {
    let sp = span(&p);
    let mut i = p.into_inner();
    let name = ident(i.next().expect("param name"));
    let ty_pair = i.next().expect("param type");
    let ty_span = span(&ty_pair);
    let mut ti = ty_pair.into_inner();
    let base = ti.next().expect("type base");
    let kind = match base.as_rule() {
        Rule::enum_type | Rule::paren_enum => TypeKind::Enum(base.into_inner().map(ident).collect()),
        Rule::named_type => TypeKind::Named(ident(base.into_inner().next().expect("type name"))),
        r => unreachable!("type {r:?}"),
    };
    let optional = ti.next().is_some();
    let ty = TypeExpr { kind, optional, span: ty_span };
    let default = top(i.next().expect("param default"))?;
    Ok(ParamDecl { name, ty, default, span: sp })
}

fn input_decl(p: P) -> Result<InputDecl, Diag> {
    let sp = span(&p);
    let mut i = p.into_inner();
    let name = ident(i.next().expect("input name"));
    let dtype = ident(i.next().expect("input dtype"));
    let mut axes = Vec::new();
    let mut rate = None;
    let mut when = None;
    let mut accepts = Vec::new();
    let mut finite = false;
    for q in i {
        match q.as_rule() {
            Rule::axis => {
                let a = q.into_inner().next().expect("axis");
                axes.push(match a.as_rule() {
                    Rule::ellipsis => AxisDecl::Ellipsis(span(&a)),
                    _ => AxisDecl::Named(ident(a)),
                });
            }
            Rule::finite => finite = true,
            Rule::accepts => accepts = q.into_inner().map(ident).collect(),
            Rule::at_rate => rate = Some(top(q.into_inner().next().expect("rate"))?),
            Rule::when => when = Some(top(q.into_inner().next().expect("cond"))?),
            r => unreachable!("input part {r:?}"),
        }
    }
    Ok(InputDecl { name, dtype, axes, accepts, finite, rate, when, span: sp })
}

/// A tree with its depth (1 for a leaf), which the builders keep at most [`MAX_NESTING`].
type Deep<T> = Result<(T, usize), Diag>;

/// `depth`, or the nesting error at `sp` when it exceeds [`MAX_NESTING`]. Checked as each node
/// is built, so a chain of 100 000 `not` is refused after 100 of them, before a deep tree exists
/// (whose recursive drop alone could exhaust the stack).
fn bounded(depth: usize, sp: Span) -> Result<usize, Diag> {
    if depth > MAX_NESTING {
        Err(too_deep(sp))
    } else {
        Ok(depth)
    }
}

/// An expression where its depth is not needed (an item's top level).
fn top(p: P) -> Result<Expr, Diag> {
    expr(p).map(|(e, _)| e)
}

fn expr(p: P) -> Deep<Expr> {
    Ok(match p.as_rule() {
        Rule::expr => {
            let mut i = p.into_inner();
            let (head, mut d) = expr(i.next().expect("head"))?;
            let mut stages = Vec::new();
            for q in i {
                let (st, sd) = stage(q)?;
                d = d.max(sd);
                stages.push(st);
            }
            if stages.is_empty() {
                (head, d)
            } else {
                let sp = stages.iter().fold(head.span, |s, st| s.to(stage_span(st)));
                let d = bounded(d + 1, sp)?;
                (Expr { kind: ExprKind::Pipe(Box::new(head), stages), span: sp }, d)
            }
        }
        Rule::or_expr | Rule::and_expr | Rule::cmp_expr | Rule::coalesce | Rule::sum | Rule::product => {
            let mut i = p.into_inner();
            let (mut acc, mut d) = expr(i.next().expect("operand"))?;
            while let Some(op) = i.next() {
                let (rhs, rd) = expr(i.next().expect("rhs"))?;
                let op = match op.as_str().trim() {
                    "or" => BinOp::Or,
                    "and" => BinOp::And,
                    "==" => BinOp::Eq,
                    "!=" => BinOp::Ne,
                    "<" => BinOp::Lt,
                    "<=" => BinOp::Le,
                    ">" => BinOp::Gt,
                    ">=" => BinOp::Ge,
                    "??" => BinOp::Coalesce,
                    "+" => BinOp::Add,
                    "-" => BinOp::Sub,
                    "*" => BinOp::Mul,
                    "/" => BinOp::Div,
                    "//" => BinOp::FloorDiv,
                    "%" => BinOp::Rem,
                    o => unreachable!("operator {o}"),
                };
                let sp = acc.span.to(rhs.span);
                d = bounded(d.max(rd) + 1, sp)?;
                acc = Expr { kind: ExprKind::Binary(op, Box::new(acc), Box::new(rhs)), span: sp };
            }
            (acc, d)
        }
        Rule::unary => {
            let parts: Vec<P> = p.into_inner().collect();
            let (ops, prim) = parts.split_at(parts.len() - 1);
            let (mut e, mut d) = expr(prim[0].clone())?;
            if let Some(first) = ops.first().filter(|_| d + ops.len() > MAX_NESTING) {
                // At the chain's first operator, not its 101st from the end (which may be
                // 400 000 columns to the right).
                return Err(too_deep(span(first)));
            }
            for op in ops.iter().rev() {
                let o = if op.as_str() == "-" { UnOp::Neg } else { UnOp::Not };
                let s = Span::new(span(op).start, e.span.end);
                d = bounded(d + 1, s)?;
                e = Expr { kind: ExprKind::Unary(o, Box::new(e)), span: s };
            }
            (e, d)
        }
        Rule::paren => expr(p.into_inner().next().expect("inner"))?,
        Rule::quantity => {
            let sp = span(&p);
            let mut i = p.into_inner();
            let num = i.next().expect("number");
            let text = num.as_str();
            let is_int = !text.contains(['.', 'e', 'E']);
            // Digits only: the exact integer when it fits 64 bits (an f64 would round it).
            let int = if is_int { text.parse::<i64>().ok() } else { None };
            let value: f64 = text.parse().unwrap_or(f64::INFINITY);
            let unit = i.next().map(|u| match u.as_str() {
                "Hz" => Unit::Hz,
                "kHz" => Unit::KHz,
                "ms" => Unit::Ms,
                "s" => Unit::S,
                _ => Unit::Samples,
            });
            (Expr { kind: ExprKind::Number { value, is_int, int, unit }, span: sp }, 1)
        }
        Rule::boolean => (Expr { kind: ExprKind::Bool(p.as_str() == "true"), span: span(&p) }, 1),
        Rule::none => (Expr { kind: ExprKind::None, span: span(&p) }, 1),
        Rule::string => (Expr { span: span(&p), kind: ExprKind::Str(string(p)) }, 1),
        Rule::ellipsis => (Expr { kind: ExprKind::Ellipsis, span: span(&p) }, 1),
        Rule::ident => (Expr { kind: ExprKind::Ident(p.as_str().to_string()), span: span(&p) }, 1),
        Rule::call => {
            let (c, d) = call(p)?;
            (Expr { span: c.span, kind: ExprKind::Call(c) }, d)
        }
        Rule::if_value => {
            let sp = span(&p);
            let mut i = p.into_inner();
            let (c, cd) = expr(i.next().expect("cond"))?;
            let (t, td) = expr(i.next().expect("then"))?;
            let (e, ed) = expr(i.next().expect("else"))?;
            let d = bounded(cd.max(td).max(ed) + 1, sp)?;
            (Expr { kind: ExprKind::If(Box::new(c), Box::new(t), Box::new(e)), span: sp }, d)
        }
        Rule::match_value => {
            let sp = span(&p);
            let mut i = p.into_inner();
            let (s, mut d) = expr(i.next().expect("scrutinee"))?;
            let mut arms = Vec::new();
            for a in i {
                let mut ai = a.into_inner();
                let patterns = patterns(ai.next().expect("patterns"));
                let (body, bd) = expr(ai.next().expect("arm body"))?;
                d = d.max(bd);
                arms.push(Arm { patterns, body });
            }
            let d = bounded(d + 1, sp)?;
            (Expr { kind: ExprKind::Match(Box::new(s), arms), span: sp }, d)
        }
        r => unreachable!("expr rule {r:?}"),
    })
}

fn string(p: P) -> String {
    p.into_inner().next().map(|i| i.as_str().to_string()).unwrap_or_default()
}

fn call(p: P) -> Deep<Call> {
    let sp = span(&p);
    let mut i = p.into_inner();
    let name = ident(i.next().expect("callee"));
    let mut d = 0;
    let mut args = Vec::new();
    for a in i {
        let parts: Vec<P> = a.into_inner().collect();
        let (arg, ad) = if parts.len() == 2 {
            let (value, ad) = expr(parts[1].clone())?;
            (Arg { name: Some(ident(parts[0].clone())), value }, ad)
        } else {
            let (value, ad) = expr(parts[0].clone())?;
            (Arg { name: None, value }, ad)
        };
        d = d.max(ad);
        args.push(arg);
    }
    let d = bounded(d + 1, sp)?;
    Ok((Call { name, args, span: sp }, d))
}

fn patterns(p: P) -> Vec<Pattern> {
    p.into_inner()
        .map(|q| {
            let inner = q.into_inner().next().expect("pattern");
            let sp = span(&inner);
            match inner.as_rule() {
                Rule::wildcard => Pattern::Wildcard(sp),
                Rule::boolean => Pattern::Bool(inner.as_str() == "true", sp),
                Rule::none => Pattern::None(sp),
                _ => Pattern::Sym(ident(inner)),
            }
        })
        .collect()
}

fn stages(p: P) -> Deep<Vec<Stage>> {
    let mut d = 0;
    let mut out = Vec::new();
    for q in p.into_inner() {
        let (st, sd) = stage(q)?;
        d = d.max(sd);
        out.push(st);
    }
    Ok((out, d))
}

fn block(p: P) -> Deep<Vec<Stage>> {
    match p.into_inner().next() {
        Some(s) => stages(s),
        None => Ok((Vec::new(), 0)),
    }
}

fn stage(p: P) -> Deep<Stage> {
    let sp = span(&p);
    let (st, d) = match p.as_rule() {
        Rule::call => {
            let (c, d) = call(p)?;
            (Stage::Call(c), d)
        }
        Rule::if_stage => {
            let mut i = p.into_inner();
            let (cond, cd) = expr(i.next().expect("cond"))?;
            let (then, td) = block(i.next().expect("then"))?;
            let (otherwise, od) = match i.next() {
                Some(e) if e.as_rule() == Rule::if_stage => {
                    let (s, d) = stage(e)?;
                    (Some(vec![s]), d)
                }
                Some(e) => {
                    let (b, d) = block(e)?;
                    (Some(b), d)
                }
                None => (None, 0),
            };
            (Stage::If { cond, then, otherwise, span: sp }, cd.max(td).max(od) + 1)
        }
        Rule::match_stage => {
            let mut i = p.into_inner();
            let (scrutinee, mut d) = expr(i.next().expect("scrutinee"))?;
            let mut arms = Vec::new();
            for a in i {
                let mut ai = a.into_inner();
                let patterns = patterns(ai.next().expect("patterns"));
                let b = ai.next().expect("arm body");
                let (body, bd) = match b.as_rule() {
                    Rule::block => block(b)?,
                    _ => stages(b)?,
                };
                d = d.max(bd);
                arms.push(Arm { patterns, body });
            }
            (Stage::Match { scrutinee, arms, span: sp }, d + 1)
        }
        r => unreachable!("stage rule {r:?}"),
    };
    Ok((st, bounded(d, sp)?))
}

/// The span of a stage.
pub fn stage_span(s: &Stage) -> Span {
    match s {
        Stage::Call(c) => c.span,
        Stage::If { span, .. } | Stage::Match { span, .. } => *span,
    }
}
