//! plan: each FFT becomes an explicit plan, printed in the graph text.

use super::Rewriter;
use crate::graph::fft_plan::plan_real;
use crate::graph::*;

/// Replaces `rfft` by `fft` with a plan for its period.
pub fn run(g: Graph) -> Graph {
    let mut rw = Rewriter::new(g.nodes.len());
    for (id, n) in g.nodes.iter().enumerate() {
        let op = match &n.op {
            Op::Rfft { n: len, period, basis } => {
                Op::Fft { n: *len, period: *period, basis: *basis, plan: plan_real(*period) }
            }
            other => other.clone(),
        };
        rw.emit(id, Node { op, ..n.clone() });
    }
    rw.finish(g)
}
