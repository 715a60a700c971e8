//! plan: each FFT becomes an explicit plan, printed in the graph text.
//!
//! The plan is chosen here, once, from the back end's target description
//! ([`crate::target::Target`]): the JIT emits exactly the printed factors and the interpreter
//! runs the same plan, so the graph a reviewer reads is the program that runs.

use super::Rewriter;
use crate::graph::fft_plan::plan_real_for;
use crate::graph::*;
use crate::target::Target;

/// Replaces `rfft` by `fft` with a plan for its period, for the crate's back end.
pub fn run(g: Graph) -> Graph {
    run_for(g, &Target::default())
}

/// Replaces `rfft` by `fft` with a plan for its period chosen from `target`.
pub fn run_for(g: Graph, target: &Target) -> Graph {
    let mut rw = Rewriter::new(g.nodes.len());
    for (id, n) in g.nodes.iter().enumerate() {
        let op = match &n.op {
            Op::Rfft { n: len, period, basis } => {
                Op::Fft { n: *len, period: *period, basis: *basis, plan: plan_real_for(*period, &target.fft) }
            }
            other => other.clone(),
        };
        rw.emit(id, Node { op, ..n.clone() });
    }
    rw.finish(g)
}
