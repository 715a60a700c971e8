//! The constant evaluator: params, `let`s, arithmetic with units, conditionals, functions.

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn bool_of(&mut self, e: &Expr) -> Result<bool, Diag> {
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
    pub(super) fn eval_word(&mut self, e: &Expr, is_word: &dyn Fn(&str) -> bool) -> Result<Value, Diag> {
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
    pub(super) fn eval(&mut self, e: &Expr) -> Result<Value, Diag> {
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

    pub(super) fn eval_unchecked(&mut self, e: &Expr) -> Result<Value, Diag> {
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

    pub(super) fn type_error(&self, e: &Expr, v: &Value, want: &str) -> Diag {
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

    pub(super) fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, span: Span) -> Result<Value, Diag> {
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
    pub(super) fn function(&mut self, c: &Call) -> Result<Value, Diag> {
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dim {
    One,
    Freq,
    Time,
}

/// The error for a value outside what the constant evaluator represents (see `eval`).
pub(super) fn out_of_range(span: Span, label: &str, help: &str) -> Diag {
    Diag::new(ErrorKind::Range, span, "value out of range").label(label).help(help)
}

/// `x` as an i64 when it is whole-or-not but within i64's range (NaN and ±inf are not); the
/// fraction is truncated, so callers pass whole numbers.
pub(super) fn float_to_int(x: f64) -> Option<i64> {
    // -2^63 is exact in f64; 2^63 is the first value past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (-LIMIT..LIMIT).contains(&x).then_some(x as i64)
}

/// Python's `i // j` (rounds toward negative infinity); `None` only for `-2^63 // -1`, whose
/// result 2^63 does not fit. `j` is not zero.
pub(super) fn floor_div(i: i64, j: i64) -> Option<i64> {
    let q = i.checked_div(j)?;
    Some(if i % j != 0 && ((i < 0) != (j < 0)) { q - 1 } else { q })
}

/// Python's `i % j` (takes the divisor's sign); always fits (`-2^63 % -1` is 0). `j` is not zero.
pub(super) fn floor_rem(i: i64, j: i64) -> i64 {
    let r = i.wrapping_rem(j);
    if r != 0 && ((r < 0) != (j < 0)) {
        r + j
    } else {
        r
    }
}

/// Python's `divmod(x, y)` for floats, as CPython's `float_divmod` computes it (so `//` and `%`
/// agree with Python to the last bit, signed zeros included). `y` is not zero.
pub(super) fn py_divmod(x: f64, y: f64) -> (f64, f64) {
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

pub(super) fn num(v: &Value) -> Option<(f64, Dim)> {
    match v {
        Value::Int(i) => Some((*i as f64, Dim::One)),
        Value::Float(x) => Some((*x, Dim::One)),
        Value::Freq(x) => Some((*x, Dim::Freq)),
        Value::Time(x) => Some((*x, Dim::Time)),
        _ => None,
    }
}

pub(super) fn pattern_matches(p: &Pattern, v: &Value) -> bool {
    match (p, v) {
        (Pattern::Wildcard(_), _) => true,
        (Pattern::Sym(i), Value::Sym(s)) => &i.name == s,
        (Pattern::Bool(b, _), Value::Bool(x)) => b == x,
        (Pattern::None(_), Value::None) => true,
        _ => false,
    }
}

pub(super) fn no_arm(s: &Expr, v: &Value) -> Diag {
    Diag::new(ErrorKind::Range, s.span, format!("no arm of this match covers {}", v.describe()))
        .label("matched here")
        .help("add an arm for it, or a `_ =>` arm")
}

pub(super) const FUNCTIONS: &[&str] =
    &["floor", "ceil", "round", "int", "float", "abs", "sqrt", "next_pow2", "min", "max"];
