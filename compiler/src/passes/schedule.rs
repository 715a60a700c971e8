//! schedule: groups nodes into kernels that run per block of frames, and phases separated by
//! whole-scope reductions (Keras's top_db needs the maximum over the whole batch before any
//! value can be clipped; torchaudio's, the maximum per item).

use crate::graph::*;

/// Attaches a schedule.
pub fn run(mut g: Graph) -> Graph {
    let mut phases = Vec::new();
    let mut cur = Phase { nodes: Vec::new(), reduce: None };
    for (id, n) in g.nodes.iter().enumerate().skip(1) {
        let clip = match &n.op {
            Op::Epilogue(e) => e.clip,
            Op::DbFolded { clip, .. } => *clip,
            Op::Db { reference, top_db, scope, nan, .. } => Clip::of_db(*reference, *top_db, *scope, *nan),
            _ => None,
        };
        match clip {
            Some(c) => {
                cur.nodes.push((id, Part::BeforeClip));
                cur.reduce = Some(c.scope);
                phases.push(std::mem::replace(
                    &mut cur,
                    Phase { nodes: vec![(id, Part::AfterClip)], reduce: None },
                ));
            }
            None => cur.nodes.push((id, Part::Whole)),
        }
    }
    phases.push(cur);
    g.schedule = Some(Schedule { phases });
    g
}
