//! The optimizer: an ordered list of passes, each a function from graph to graph, with the
//! verifier run after each. `specc graph SPEC --after PASS` prints the graph after any of them.

pub mod dce_cse;
pub mod fold;
pub mod fuse;
pub mod plan;
pub mod schedule;

use crate::graph::{verify, Graph, Node, NodeId};

/// A pass: a name for `--after`, what it does, and the rewrite.
pub struct Pass {
    /// Name as given to `--after`.
    pub name: &'static str,
    /// One line for `--passes`.
    pub doc: &'static str,
    /// The rewrite.
    pub run: fn(Graph) -> Graph,
}

/// The passes, in order.
pub const PASSES: &[Pass] = &[
    Pass {
        name: "fold",
        doc: "windows, mel filterbanks and dB reference offsets become constants (f64)",
        run: fold::run,
    },
    Pass {
        name: "fuse",
        doc: "pad+frames+window -> framed load; power+mel -> sparse power_mel; elementwise tails -> epilogue",
        run: fuse::run,
    },
    Pass {
        name: "plan",
        doc: "each FFT gets an explicit plan (radices, half-length real trick, Rader, Bluestein)",
        run: plan::run,
    },
    Pass { name: "dce", doc: "dead nodes removed, identical nodes merged", run: dce_cse::run },
    Pass {
        name: "schedule",
        doc: "the kernel plan: typed stages (load, per_frame, transform, per_band, reduce, store, clip, ...) in phases",
        run: schedule::run,
    },
];

/// Runs the passes up to and including `last` (all when `None`), verifying after each.
pub fn run_until(mut g: Graph, last: Option<&str>) -> Result<Graph, String> {
    if let Some(name) = last {
        if !PASSES.iter().any(|p| p.name == name) {
            let names: Vec<&str> = PASSES.iter().map(|p| p.name).collect();
            return Err(format!("no pass named `{name}`; passes: {}", names.join(", ")));
        }
    }
    for p in PASSES {
        g = (p.run)(g);
        verify(&g).map_err(|e| format!("internal error: the graph after `{}` is invalid: {e}", p.name))?;
        if Some(p.name) == last {
            break;
        }
    }
    Ok(g)
}

/// Runs every pass.
pub fn optimize(g: Graph) -> Result<Graph, String> {
    run_until(g, None)
}

/// How many nodes use each node (the output counts as a use).
pub(crate) fn uses(g: &Graph) -> Vec<usize> {
    let mut u = vec![0; g.nodes.len()];
    for n in &g.nodes {
        for &i in &n.inputs {
            u[i] += 1;
        }
    }
    u[g.output] += 1;
    u
}

/// Builds a new node list from an old one, node by node, remapping inputs to new ids.
pub(crate) struct Rewriter {
    pub(crate) nodes: Vec<Node>,
    map: Vec<Option<NodeId>>,
}

impl Rewriter {
    pub(crate) fn new(len: usize) -> Self {
        Rewriter { nodes: Vec::new(), map: vec![None; len] }
    }
    /// Adds `node` (inputs in old ids) as the new form of old node `old`.
    pub(crate) fn emit(&mut self, old: NodeId, mut node: Node) {
        for i in node.inputs.iter_mut() {
            *i = self.map[*i].expect("inputs are emitted before their users");
        }
        self.nodes.push(node);
        self.map[old] = Some(self.nodes.len() - 1);
    }
    /// Old node `old` is now computed by whatever old node `by` became.
    pub(crate) fn alias(&mut self, old: NodeId, by: NodeId) {
        self.map[old] = self.map[by];
    }
    /// The new graph; its schedule, if any, must be rebuilt.
    pub(crate) fn finish(self, g: Graph) -> Graph {
        let output = self.map[g.output].expect("the output survives");
        Graph { nodes: self.nodes, output, schedule: None, ..g }
    }
}
