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
                let r = reference.abs();
                // NaN-propagating max, as the interpreter's db.
                let floor = if r.is_nan() { r } else { r.max(*amin) };
                Op::DbFolded {
                    mult: *mult,
                    amin: *amin,
                    offset: mult * floor.log10(),
                    clip: top_db.map(|top| Clip { top, scope: *scope, nan: *nan }),
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
