//! dce / cse: nodes the output does not need are removed; identical nodes (same op, same
//! inputs) are merged. It runs before `schedule`, so there is no kernel plan to renumber.

use super::Rewriter;
use crate::graph::*;

/// Removes dead nodes and merges duplicates.
pub fn run(g: Graph) -> Graph {
    let mut live = vec![false; g.nodes.len()];
    live[0] = true;
    live[g.output] = true;
    for id in (0..g.nodes.len()).rev() {
        if live[id] {
            for &i in &g.nodes[id].inputs {
                live[i] = true;
            }
        }
    }
    let mut rw = Rewriter::new(g.nodes.len());
    let mut seen: Vec<(NodeId, Op, Vec<NodeId>)> = Vec::new();
    let mut new_id = vec![None; g.nodes.len()];
    for (id, n) in g.nodes.iter().enumerate() {
        if !live[id] {
            continue;
        }
        let inputs: Vec<NodeId> = n.inputs.iter().map(|&i| new_id[i].expect("live inputs")).collect();
        if let Some((first, ..)) = seen.iter().find(|(_, op, ins)| *op == n.op && *ins == inputs) {
            let first = *first;
            rw.alias(id, first);
            new_id[id] = new_id[first];
            continue;
        }
        seen.push((id, n.op.clone(), inputs));
        rw.emit(id, n.clone());
        new_id[id] = Some(rw.nodes.len() - 1);
    }
    rw.finish(g)
}
