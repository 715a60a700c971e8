//! specc's compiler: spec text -> syntax tree -> op graph -> (passes) -> machine code, and the
//! reference interpreter that is the oracle for every later stage.
#![warn(missing_docs)]

pub mod codegen;
pub mod diag;
pub mod interp;
pub mod lower;
pub mod passes;
pub mod syntax;

// The representations the compiler produces and the back end and runtime read live in a crate
// of their own, without Cranelift; re-exported so `crate::graph` and `specc_compiler::graph`
// paths stay as they were.
pub use specc_ir::{consts, graph, kernel, target, wide};

#[cfg(test)]
mod check_tests;

/// A shipped spec (`specs/NAME.spec`) with `--set` values, compiled and optimized: the graph the
/// crate's unit tests start from.
#[cfg(test)]
pub(crate) fn shipped_optimized(spec: &str, sets: &[&str]) -> Graph {
    let text =
        std::fs::read_to_string(format!("{}/../specs/{spec}.spec", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let c = compile(spec, &text, &sets).unwrap();
    passes::optimize(c.graph).unwrap()
}

use diag::{Diag, ErrorKind, Origin, Source, SpecError};
use std::sync::Arc;
use syntax::ast::Span;

pub use graph::Graph;
pub use lower::{Lowered, ParamInfo, Value};

/// A compiled spec: its syntax tree, the params in force, and the op graph.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The parsed spec.
    pub spec: syntax::ast::Spec,
    /// Params in declaration order, with the values in force.
    pub params: Vec<ParamInfo>,
    /// The op graph.
    pub graph: Graph,
}

/// Compiles spec text (named `name` in diagnostics) with `--set name=value` overrides.
pub fn compile(name: &str, text: &str, sets: &[String]) -> Result<Compiled, Box<SpecError>> {
    let src = Source {
        name: name.to_string(),
        text: Arc::from(text),
        sets: sets.iter().map(|s| Arc::from(s.as_str())).collect(),
    };
    compile_source(&src).map_err(|d| Box::new(d.into_error(&src)))
}

fn compile_source(src: &Source) -> Result<Compiled, Diag> {
    // Lowering recurses over the (depth-bounded) tree: give it the stack that bound needs.
    syntax::with_stack(|| compile_on_stack(src))
}

fn compile_on_stack(src: &Source) -> Result<Compiled, Diag> {
    let spec = syntax::parse_spec(&src.text)?;
    let mut overrides = Vec::new();
    for (i, s) in src.sets.iter().enumerate() {
        let Some(eq) = s.find('=') else {
            return Err(Diag::new(
                ErrorKind::Syntax,
                Span::new(0, s.len().max(1)),
                "a --set needs `name=value`",
            )
            .origin(Origin::Set(i))
            .label("no `=` here")
            .help(match spec.params().next() {
                // The spec's own first param, so the example is one this spec takes.
                Some(p) => format!("write e.g. `--set {}={}`", p.name, syntax::printer::expr(&p.default)),
                None => String::from("this spec has no params to set"),
            }));
        };
        let raw = &s[..eq];
        let start = raw.len() - raw.trim_start().len();
        let name = raw.trim().to_string();
        let name_span = Span::new(start, start + name.len().max(1));
        // Blank out `name=` so the value's spans are offsets into the whole argument.
        let padded = format!("{}{}", " ".repeat(eq + 1), &s[eq + 1..]);
        let value =
            lower::parse_set_value(&spec, &name, name_span, &padded).map_err(|d| d.origin(Origin::Set(i)))?;
        overrides.push(lower::Override { name, value, name_span, index: i });
    }
    let lowered = lower::lower(&spec, &overrides)?;
    Ok(Compiled { spec, params: lowered.params, graph: lowered.graph })
}
