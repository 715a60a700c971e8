//! fold: windows, mel filterbanks and dB reference offsets become constants, computed in f64.

use super::Rewriter;
use crate::consts::{mel, window};
use crate::graph::*;
use std::sync::Arc;

/// Replaces described constants by tables.
pub fn run(g: Graph) -> Graph {
    let mut rw = Rewriter::new(g.nodes.len());
    for (id, n) in g.nodes.iter().enumerate() {
        let op = match &n.op {
            Op::Window { window: w, scaling } => {
                let v = window::frame_vector(w, *scaling);
                Op::WindowTable(Table { rows: 1, cols: v.len(), data: Arc::new(v) })
            }
            Op::Mel(spec) => {
                let fb = mel::filterbank(spec);
                let cols = spec.n_fft / 2 + 1;
                Op::MelTable(Table { rows: fb.len(), cols, data: Arc::new(fb.concat()) })
            }
            Op::Db { mult, amin, reference, top_db, scope, nan } => {
                // A fixed reference folds into the offset; `max` is the clip's shift: the
                // maximum of `mult * log10(max(x, amin))` is that of x, through the log (mult > 0).
                let offset = match reference {
                    DbRef::Value(r) => {
                        let r = r.abs();
                        // NaN-propagating max, as the interpreter's db.
                        let floor = if r.is_nan() { r } else { r.max(*amin) };
                        mult * floor.log10()
                    }
                    DbRef::Max => 0.0,
                };
                Op::DbFolded {
                    mult: *mult,
                    amin: *amin,
                    offset,
                    clip: Clip::of_db(*reference, *top_db, *scope, *nan),
                }
            }
            Op::Unary(Unary::Pow(p)) if *p == 1.0 => {
                rw.alias(id, n.inputs[0]);
                continue;
            }
            Op::Scale(k) if *k == 1.0 => {
                rw.alias(id, n.inputs[0]);
                continue;
            }
            other => other.clone(),
        };
        rw.emit(id, Node { op, ..n.clone() });
    }
    rw.finish(g)
}
