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

/// Parses a whole spec file.
pub fn parse_spec(text: &str) -> Result<Spec, Diag> {
    let mut pairs = SpecParser::parse(Rule::file, text).map_err(syntax_error)?;
    let file = pairs.next().expect("file rule");
    let mut inner = file.into_inner();
    let spec_decl = inner.next().expect("spec decl");
    let name = ident(spec_decl.into_inner().next().expect("spec name"));
    let mut items = Vec::new();
    for p in inner {
        match p.as_rule() {
            Rule::param_decl => items.push(Item::Param(param_decl(p))),
            Rule::input_decl => items.push(Item::Input(input_decl(p))),
            Rule::let_decl => {
                let mut i = p.into_inner();
                let name = ident(i.next().expect("let name"));
                let value = expr(i.next().expect("let value"));
                items.push(Item::Let(LetDecl { name, value }));
            }
            Rule::require => {
                let mut i = p.into_inner();
                let cond = expr(i.next().expect("require cond"));
                let message = string(i.next().expect("require message"));
                items.push(Item::Require(Require { cond, message }));
            }
            Rule::output => items.push(Item::Output(expr(p.into_inner().next().expect("expr")))),
            Rule::EOI => {}
            r => unreachable!("unexpected item {r:?}"),
        }
    }
    Ok(Spec { name, items })
}

/// Parses one `--set` value (an expression on its own).
pub fn parse_value(text: &str) -> Result<Expr, Diag> {
    let mut pairs = SpecParser::parse(Rule::set_value, text).map_err(syntax_error)?;
    let top = pairs.next().expect("set_value");
    Ok(expr(top.into_inner().next().expect("expr")))
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

fn param_decl(p: P) -> ParamDecl {
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
    let default = expr(i.next().expect("param default"));
    ParamDecl { name, ty, default, span: sp }
}

fn input_decl(p: P) -> InputDecl {
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
            Rule::at_rate => rate = Some(expr(q.into_inner().next().expect("rate"))),
            Rule::when => when = Some(expr(q.into_inner().next().expect("cond"))),
            r => unreachable!("input part {r:?}"),
        }
    }
    InputDecl { name, dtype, axes, accepts, finite, rate, when, span: sp }
}

fn expr(p: P) -> Expr {
    match p.as_rule() {
        Rule::expr => {
            let mut i = p.into_inner();
            let head = expr(i.next().expect("head"));
            let stages: Vec<Stage> = i.map(stage).collect();
            if stages.is_empty() {
                head
            } else {
                let sp = stages.iter().fold(head.span, |s, st| s.to(stage_span(st)));
                Expr { kind: ExprKind::Pipe(Box::new(head), stages), span: sp }
            }
        }
        Rule::or_expr | Rule::and_expr | Rule::cmp_expr | Rule::coalesce | Rule::sum | Rule::product => {
            let mut i = p.into_inner();
            let mut acc = expr(i.next().expect("operand"));
            while let Some(op) = i.next() {
                let rhs = expr(i.next().expect("rhs"));
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
                acc = Expr { kind: ExprKind::Binary(op, Box::new(acc), Box::new(rhs)), span: sp };
            }
            acc
        }
        Rule::unary => {
            let sp = span(&p);
            let parts: Vec<P> = p.into_inner().collect();
            let (ops, prim) = parts.split_at(parts.len() - 1);
            let mut e = expr(prim[0].clone());
            for op in ops.iter().rev() {
                let o = if op.as_str() == "-" { UnOp::Neg } else { UnOp::Not };
                let s = Span::new(span(op).start, e.span.end);
                e = Expr { kind: ExprKind::Unary(o, Box::new(e)), span: s };
            }
            let _ = sp;
            e
        }
        Rule::paren => expr(p.into_inner().next().expect("inner")),
        Rule::quantity => {
            let sp = span(&p);
            let mut i = p.into_inner();
            let num = i.next().expect("number");
            let text = num.as_str();
            let is_int = !text.contains(['.', 'e', 'E']);
            let value: f64 = text.parse().unwrap_or(f64::INFINITY);
            let unit = i.next().map(|u| match u.as_str() {
                "Hz" => Unit::Hz,
                "kHz" => Unit::KHz,
                "ms" => Unit::Ms,
                "s" => Unit::S,
                _ => Unit::Samples,
            });
            Expr { kind: ExprKind::Number { value, is_int, unit }, span: sp }
        }
        Rule::boolean => Expr { kind: ExprKind::Bool(p.as_str() == "true"), span: span(&p) },
        Rule::none => Expr { kind: ExprKind::None, span: span(&p) },
        Rule::string => Expr { span: span(&p), kind: ExprKind::Str(string(p)) },
        Rule::ellipsis => Expr { kind: ExprKind::Ellipsis, span: span(&p) },
        Rule::ident => Expr { kind: ExprKind::Ident(p.as_str().to_string()), span: span(&p) },
        Rule::call => {
            let c = call(p);
            Expr { span: c.span, kind: ExprKind::Call(c) }
        }
        Rule::if_value => {
            let sp = span(&p);
            let mut i = p.into_inner();
            let c = expr(i.next().expect("cond"));
            let t = expr(i.next().expect("then"));
            let e = expr(i.next().expect("else"));
            Expr { kind: ExprKind::If(Box::new(c), Box::new(t), Box::new(e)), span: sp }
        }
        Rule::match_value => {
            let sp = span(&p);
            let mut i = p.into_inner();
            let s = expr(i.next().expect("scrutinee"));
            let arms = i
                .map(|a| {
                    let mut ai = a.into_inner();
                    let patterns = patterns(ai.next().expect("patterns"));
                    let body = expr(ai.next().expect("arm body"));
                    Arm { patterns, body }
                })
                .collect();
            Expr { kind: ExprKind::Match(Box::new(s), arms), span: sp }
        }
        r => unreachable!("expr rule {r:?}"),
    }
}

fn string(p: P) -> String {
    p.into_inner().next().map(|i| i.as_str().to_string()).unwrap_or_default()
}

fn call(p: P) -> Call {
    let sp = span(&p);
    let mut i = p.into_inner();
    let name = ident(i.next().expect("callee"));
    let args = i
        .map(|a| {
            let parts: Vec<P> = a.into_inner().collect();
            if parts.len() == 2 {
                Arg { name: Some(ident(parts[0].clone())), value: expr(parts[1].clone()) }
            } else {
                Arg { name: None, value: expr(parts[0].clone()) }
            }
        })
        .collect();
    Call { name, args, span: sp }
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

fn stages(p: P) -> Vec<Stage> {
    p.into_inner().map(stage).collect()
}

fn block(p: P) -> Vec<Stage> {
    match p.into_inner().next() {
        Some(s) => stages(s),
        None => Vec::new(),
    }
}

fn stage(p: P) -> Stage {
    match p.as_rule() {
        Rule::call => Stage::Call(call(p)),
        Rule::if_stage => {
            let sp = span(&p);
            let mut i = p.into_inner();
            let cond = expr(i.next().expect("cond"));
            let then = block(i.next().expect("then"));
            let otherwise = i.next().map(|e| match e.as_rule() {
                Rule::if_stage => vec![stage(e)],
                _ => block(e),
            });
            Stage::If { cond, then, otherwise, span: sp }
        }
        Rule::match_stage => {
            let sp = span(&p);
            let mut i = p.into_inner();
            let scrutinee = expr(i.next().expect("scrutinee"));
            let arms = i
                .map(|a| {
                    let mut ai = a.into_inner();
                    let patterns = patterns(ai.next().expect("patterns"));
                    let b = ai.next().expect("arm body");
                    let body = match b.as_rule() {
                        Rule::block => block(b),
                        _ => stages(b),
                    };
                    Arm { patterns, body }
                })
                .collect();
            Stage::Match { scrutinee, arms, span: sp }
        }
        r => unreachable!("stage rule {r:?}"),
    }
}

/// The span of a stage.
pub fn stage_span(s: &Stage) -> Span {
    match s {
        Stage::Call(c) => c.span,
        Stage::If { span, .. } | Stage::Match { span, .. } => *span,
    }
}
