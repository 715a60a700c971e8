//! The canonical printer: one layout for every spec, so `parse(print(spec)) == spec`.

use super::ast::*;
use std::fmt::Write;

/// Prints a spec in canonical form. Comments are not part of the tree and are not printed.
pub fn print_spec(spec: &Spec) -> String {
    super::parser::with_stack(|| print_items(spec))
}

fn print_items(spec: &Spec) -> String {
    let mut out = format!("spec {}\n", spec.name);
    let mut prev: Option<&str> = None;
    for item in &spec.items {
        let kind = match item {
            Item::Param(_) => "param",
            Item::Input(_) => "input",
            Item::Let(_) => "let",
            Item::Require(_) => "require",
            Item::Output(_) => "output",
        };
        if prev != Some(kind) || kind == "output" {
            out.push('\n');
        }
        prev = Some(kind);
        match item {
            Item::Param(p) => {
                let _ = writeln!(out, "param {}: {} = {}", p.name, type_expr(&p.ty), expr(&p.default));
            }
            Item::Input(i) => {
                let axes: Vec<String> = i
                    .axes
                    .iter()
                    .map(|a| match a {
                        AxisDecl::Ellipsis(_) => String::from("..."),
                        AxisDecl::Named(n) => n.name.clone(),
                    })
                    .collect();
                let _ = write!(out, "input {}: {}[{}]", i.name, i.dtype, axes.join(", "));
                if !i.accepts.is_empty() {
                    let a: Vec<&str> = i.accepts.iter().map(|x| x.name.as_str()).collect();
                    let _ = write!(out, " accepts {}", a.join(" | "));
                }
                if i.finite {
                    out.push_str(" finite");
                }
                if let Some(r) = &i.rate {
                    let _ = write!(out, " at {}", expr_prec(r, 1));
                }
                if let Some(w) = &i.when {
                    let _ = write!(out, " when {}", expr_prec(w, 1));
                }
                out.push('\n');
            }
            Item::Let(l) => {
                let _ = writeln!(out, "let {} = {}", l.name, expr(&l.value));
            }
            Item::Require(r) => {
                let _ = writeln!(out, "require {}, \"{}\"", expr_prec(&r.cond, 1), r.message);
            }
            Item::Output(e) => {
                out.push_str(&expr(e));
                out.push('\n');
            }
        }
    }
    out
}

fn type_expr(t: &TypeExpr) -> String {
    let base = match &t.kind {
        TypeKind::Named(n) => n.name.clone(),
        TypeKind::Enum(alts) => {
            let s: Vec<&str> = alts.iter().map(|a| a.name.as_str()).collect();
            if t.optional || s.len() == 1 {
                format!("({})", s.join(" | "))
            } else {
                s.join(" | ")
            }
        }
    };
    if t.optional {
        base + "?"
    } else {
        base
    }
}

/// Prints an expression in canonical form.
pub fn expr(e: &Expr) -> String {
    super::parser::with_stack(|| expr_prec(e, 0))
}

fn number(value: f64, is_int: bool, int: Option<i64>) -> String {
    if let Some(i) = int {
        i.to_string()
    } else if is_int && value.is_finite() {
        format!("{value:.0}")
    } else {
        format!("{value:?}")
    }
}

/// `prec` is the binding strength of the context: 0 = anywhere, pipes need 0.
fn expr_prec(e: &Expr, prec: u8) -> String {
    match &e.kind {
        ExprKind::Number { value, is_int, int, unit } => match unit {
            Some(u) => format!("{} {}", number(*value, *is_int, *int), u.as_str()),
            None => number(*value, *is_int, *int),
        },
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::None => String::from("none"),
        ExprKind::Str(w) => format!("\"{w}\""),
        ExprKind::Ellipsis => String::from("..."),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Unary(op, x) => {
            let s = match op {
                UnOp::Neg => format!("-{}", expr_prec(x, 7)),
                UnOp::Not => format!("not {}", expr_prec(x, 7)),
            };
            if prec > 7 {
                format!("({s})")
            } else {
                s
            }
        }
        ExprKind::Binary(op, a, b) => {
            let p = op.precedence();
            // Comparisons do not chain, so both sides bind tighter; others are left-associative.
            let left = if p == 3 { p + 1 } else { p };
            let s = format!("{} {} {}", expr_prec(a, left), op.as_str(), expr_prec(b, p + 1));
            if prec > p {
                format!("({s})")
            } else {
                s
            }
        }
        ExprKind::Call(c) => call(c),
        ExprKind::Pipe(head, stages) => {
            let mut s = expr_prec(head, 1);
            for st in stages {
                s.push_str("\n  |> ");
                s.push_str(&indent(&stage(st), 5));
            }
            if prec > 0 {
                format!("({s})")
            } else {
                s
            }
        }
        ExprKind::If(c, t, f) => {
            let s = format!("if {} {{ {} }} else {}", expr_prec(c, 1), expr(t), else_value(f));
            if prec > 0 {
                format!("({s})")
            } else {
                s
            }
        }
        ExprKind::Match(s, arms) => {
            let mut out = format!("match {} {{", expr_prec(s, 1));
            for (i, a) in arms.iter().enumerate() {
                let comma = if i + 1 < arms.len() { "," } else { "" };
                let _ = write!(out, "\n  {} => {}{comma}", patterns(&a.patterns), indent(&expr(&a.body), 2));
            }
            out.push_str("\n}");
            if prec > 0 {
                format!("({out})")
            } else {
                out
            }
        }
    }
}

fn else_value(e: &Expr) -> String {
    match &e.kind {
        ExprKind::If(..) => expr(e),
        _ => format!("{{ {} }}", expr(e)),
    }
}

fn call(c: &Call) -> String {
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| match &a.name {
            Some(n) => format!("{}: {}", n, expr(&a.value)),
            None => expr(&a.value),
        })
        .collect();
    format!("{}({})", c.name, args.join(", "))
}

fn patterns(ps: &[Pattern]) -> String {
    let v: Vec<String> = ps
        .iter()
        .map(|p| match p {
            Pattern::Wildcard(_) => String::from("_"),
            Pattern::Sym(i) => i.name.clone(),
            Pattern::Bool(b, _) => b.to_string(),
            Pattern::None(_) => String::from("none"),
        })
        .collect();
    v.join(" | ")
}

fn stages(ss: &[Stage]) -> String {
    let v: Vec<String> = ss.iter().map(stage).collect();
    v.join(" |> ")
}

fn block(ss: &[Stage]) -> String {
    if ss.is_empty() {
        String::from("{ }")
    } else {
        format!("{{ {} }}", stages(ss))
    }
}

fn stage(s: &Stage) -> String {
    match s {
        Stage::Call(c) => call(c),
        Stage::If { cond, then, otherwise, .. } => {
            let mut out = format!("if {} {}", expr_prec(cond, 1), block(then));
            if let Some(o) = otherwise {
                match o.as_slice() {
                    [st @ Stage::If { .. }] => {
                        out.push_str(" else ");
                        out.push_str(&stage(st));
                    }
                    _ => {
                        out.push_str(" else ");
                        out.push_str(&block(o));
                    }
                }
            }
            out
        }
        Stage::Match { scrutinee, arms, .. } => {
            let mut out = format!("match {} {{", expr_prec(scrutinee, 1));
            for a in arms {
                let _ = write!(out, "\n  {} => {}", patterns(&a.patterns), stages(&a.body));
            }
            out.push_str("\n}");
            out
        }
    }
}

fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    s.replace('\n', &format!("\n{pad}"))
}
