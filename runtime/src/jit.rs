//! The JIT engine: [`Programs`], the programs of one graph compiled by Cranelift on first use.
//! The driver that runs them is `specc_rt::driver` (re-exported here), shared with any runtime
//! that gets its kernels elsewhere.

use std::sync::{Arc, OnceLock};

use specc_compiler::codegen::jit::IsaChoice;
use specc_compiler::codegen::program::{compile, CodegenError, Program};
use specc_compiler::graph::{Graph, Precision};

pub use specc_rt::driver::*;

/// Compiled programs of one graph, one per precision, built on first use.
#[derive(Debug)]
pub struct Programs {
    isa: IsaChoice,
    slots: [OnceLock<Result<Arc<Program>, String>>; 2],
}

impl Programs {
    /// An empty cache that compiles for `isa`.
    pub fn new(isa: IsaChoice) -> Self {
        Programs { isa, slots: [OnceLock::new(), OnceLock::new()] }
    }

    /// The program for `precision`, compiled now if it was not yet. `Err` says why the JIT
    /// cannot run this graph.
    pub fn get(&self, g: &Graph, precision: Precision) -> Result<Arc<Program>, String> {
        let slot = &self.slots[usize::from(precision == Precision::F64)];
        slot.get_or_init(|| match compile(g, precision, self.isa) {
            Ok(p) => Ok(Arc::new(p)),
            Err(CodegenError::Unsupported(why)) => Err(why.to_string()),
            Err(e) => Err(e.to_string()),
        })
        .clone()
    }
}
