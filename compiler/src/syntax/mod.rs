//! The spec language: grammar, syntax tree, parser and canonical printer.

pub mod ast;
pub mod parser;
pub mod printer;

pub use parser::{parse_spec, parse_value, with_stack, MAX_NESTING};
pub use printer::print_spec;
