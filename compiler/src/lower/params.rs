//! Params: declarations, defaults, `--set` overrides and their parsing.

use super::*;

impl<'a> Lowerer<'a> {
    pub(super) fn params(&mut self, spec: &Spec, overrides: &[Override]) -> Result<Vec<ParamInfo>, Diag> {
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
}

pub(super) fn type_text(t: &TypeExpr) -> String {
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

pub(super) fn param_type(t: &TypeExpr) -> Result<ParamType, Diag> {
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

pub(super) fn coerce(v: Value, ty: &ParamType, optional: bool) -> Result<Value, String> {
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

/// `--set NAME=...` where the spec has no param `NAME`.
pub(super) fn unknown_param(spec: &Spec, name: &str, name_span: Span) -> Diag {
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
pub(super) fn param_words(decl: &ParamDecl) -> Vec<String> {
    match param_type(&decl.ty) {
        Ok(ParamType::Enum(w)) | Ok(ParamType::FloatOr(w)) => w,
        Ok(ParamType::Window) => WindowKind::NAMES.iter().map(|(n, _)| n.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// [`param_words`] for hints: a window param lists each window once, by its canonical name.
pub(super) fn hint_words(decl: &ParamDecl) -> Vec<String> {
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
pub(super) fn accepted_spellings(decl: &ParamDecl) -> String {
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
