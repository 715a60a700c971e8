//! The input declaration: which one applies, its dtype, rate and axes.

use super::*;

impl<'a> Lowerer<'a> {
    /// The one input declaration whose `when` holds, its dtype rule and the array dtypes it
    /// accepts.
    pub(super) fn input_decl<'s>(
        &mut self,
        spec: &'s Spec,
    ) -> Result<(&'s InputDecl, DTypeRule, Vec<String>), Diag> {
        // The input: exactly one declaration must apply.
        let mut active: Option<&InputDecl> = None;
        let mut any_input = None;
        for item in &spec.items {
            if let Item::Input(d) = item {
                any_input = Some(d);
                let applies = match &d.when {
                    None => true,
                    Some(c) => self.bool_of(c)?,
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
        let dtype = self.input(decl)?;
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
        Ok((decl, dtype, accepts))
    }

    pub(super) fn input(&mut self, d: &InputDecl) -> Result<DTypeRule, Diag> {
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
}
