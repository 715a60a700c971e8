//! fuse: pads + frames + window become one framed load; |X|^p or power + mel becomes one sparse
//! power-filterbank; chains of elementwise ops (complex-to-real, pow, clamp, log, the dB clip,
//! affine, PSD doubling) become one epilogue. Only single-use intermediates are fused, so a
//! value a `let` shares is still computed once.

use super::{uses, Rewriter};
use crate::graph::*;

/// A fused group: its nodes (in order, the last one is the group's result), the node feeding
/// it, and the op that replaces it.
struct Group {
    members: Vec<NodeId>,
    source: NodeId,
    op: Op,
}

fn rewrite(g: Graph, groups: Vec<Group>) -> Graph {
    let mut head = vec![None; g.nodes.len()];
    let mut member = vec![false; g.nodes.len()];
    for (gi, gr) in groups.iter().enumerate() {
        for &m in &gr.members {
            member[m] = true;
        }
        head[*gr.members.last().expect("groups are not empty")] = Some(gi);
    }
    let mut rw = Rewriter::new(g.nodes.len());
    for (id, n) in g.nodes.iter().enumerate() {
        match head[id] {
            Some(gi) => {
                let gr = &groups[gi];
                let origin: Vec<&str> = gr.members.iter().map(|&m| g.nodes[m].origin.as_str()).collect();
                let node = Node {
                    op: gr.op.clone(),
                    inputs: vec![gr.source],
                    ty: n.ty.clone(),
                    origin: origin.join(" |> "),
                };
                rw.emit(id, node);
            }
            None if member[id] => {}
            None => rw.emit(id, n.clone()),
        }
    }
    rw.finish(g)
}

/// Runs the three fusions in turn.
pub fn run(g: Graph) -> Graph {
    let g = framed_loads(g);
    let g = power_mel(g);
    epilogues(g)
}

fn framed_loads(g: Graph) -> Graph {
    let u = uses(&g);
    let mut groups = Vec::new();
    for (id, n) in g.nodes.iter().enumerate() {
        let Op::Frames { length, hop, drop_last } = n.op else { continue };
        let mut members = vec![id];
        let mut pads = Vec::new();
        let mut src = n.inputs[0];
        loop {
            let p = &g.nodes[src];
            let step = match p.op {
                Op::Pad { amount, mode } => PadStep { amount, mode },
                Op::PadRight(k) => PadStep { amount: PadAmount::Fixed(0, k), mode: PadMode::Constant(0.0) },
                _ => break,
            };
            if u[src] != 1 {
                break;
            }
            pads.push(step);
            members.insert(0, src);
            src = p.inputs[0];
        }
        pads.reverse();
        // The window, when it is the frames' only user.
        let mut window = None;
        if u[id] == 1 {
            if let Some((wid, w)) = g
                .nodes
                .iter()
                .enumerate()
                .find(|(_, m)| m.inputs.first() == Some(&id) && matches!(m.op, Op::WindowTable(_)))
            {
                if let Op::WindowTable(t) = &w.op {
                    window = Some(t.clone());
                    members.push(wid);
                }
            }
        }
        groups.push(Group {
            members,
            source: src,
            op: Op::FramedLoad { pads, length, hop, drop_last, window },
        });
    }
    rewrite(g, groups)
}

/// Each row's non-zero range: triangular filters touch a few bins each.
fn sparse(t: &Table) -> SparseRows {
    let rows = t
        .data
        .chunks(t.cols.max(1))
        .map(|row| {
            let first = row.iter().position(|v| *v != 0.0);
            match first {
                None => (0, Vec::new()),
                Some(a) => {
                    let b = row.iter().rposition(|v| *v != 0.0).unwrap_or(a);
                    (a, row[a..=b].to_vec())
                }
            }
        })
        .collect();
    SparseRows { cols: t.cols, rows }
}

fn power_mel(g: Graph) -> Graph {
    let u = uses(&g);
    let mut groups = Vec::new();
    for (id, n) in g.nodes.iter().enumerate() {
        let Op::MelTable(t) = &n.op else { continue };
        let i = n.inputs[0];
        if u[i] != 1 {
            continue;
        }
        let (power, members, source) = match &g.nodes[i].op {
            Op::Power => (SpectrumPower::Power, vec![i, id], g.nodes[i].inputs[0]),
            Op::Magnitude => (SpectrumPower::MagnitudePow(1.0), vec![i, id], g.nodes[i].inputs[0]),
            Op::Unary(Unary::Pow(p)) => {
                let j = g.nodes[i].inputs[0];
                if u[j] != 1 || g.nodes[j].op != Op::Magnitude {
                    continue;
                }
                // (sqrt P)^2 is P to within an ulp: compute P.
                let power = if *p == 2.0 { SpectrumPower::Power } else { SpectrumPower::MagnitudePow(*p) };
                (power, vec![j, i, id], g.nodes[j].inputs[0])
            }
            _ => continue,
        };
        groups.push(Group { members, source, op: Op::PowerMel { power, matrix: sparse(t) } });
    }
    rewrite(g, groups)
}

/// What an elementwise node contributes to an epilogue.
enum Piece {
    From(FromComplex),
    Step(Step),
    Clipped(Step, Option<Clip>),
}

fn piece(g: &Graph, n: &Node) -> Option<Piece> {
    let input_real = g.nodes[n.inputs[0]].ty.elem == Elem::Real;
    Some(match &n.op {
        Op::Power => Piece::From(FromComplex::Power),
        Op::Magnitude => Piece::From(FromComplex::Magnitude),
        Op::Real => Piece::From(FromComplex::Real),
        Op::Imag => Piece::From(FromComplex::Imag),
        Op::Angle => Piece::From(FromComplex::Angle),
        Op::Unary(u) => Piece::Step(Step::Unary(*u)),
        Op::Scale(k) if input_real => Piece::Step(Step::Scale(*k)),
        Op::DoubleInterior { last } => Piece::Step(Step::DoubleInterior { last: *last }),
        Op::DbFolded { mult, amin, offset, clip } => {
            Piece::Clipped(Step::Log { mult: *mult, amin: *amin, offset: *offset }, *clip)
        }
        _ => return None,
    })
}

fn epilogues(g: Graph) -> Graph {
    let u = uses(&g);
    let mut groups: Vec<Group> = Vec::new();
    // The open group ending at node `tail`, if any.
    let mut open: Option<(NodeId, usize)> = None;
    for (id, n) in g.nodes.iter().enumerate().skip(1) {
        let Some(p) = piece(&g, n) else {
            open = None;
            continue;
        };
        let extend = match open {
            Some((tail, gi)) if n.inputs[0] == tail && u[tail] == 1 => {
                let Op::Epilogue(e) = &mut groups[gi].op else { unreachable!("epilogue groups") };
                match p {
                    Piece::From(_) => false,
                    Piece::Step(s) => {
                        if e.clip.is_some() {
                            e.post.push(s)
                        } else {
                            e.pre.push(s)
                        }
                        true
                    }
                    Piece::Clipped(s, c) => {
                        if e.clip.is_some() && c.is_some() {
                            false
                        } else if e.clip.is_some() {
                            e.post.push(s);
                            true
                        } else {
                            e.pre.push(s);
                            e.clip = c;
                            true
                        }
                    }
                }
            }
            _ => false,
        };
        if extend {
            let gi = open.expect("extending an open group").1;
            groups[gi].members.push(id);
            open = Some((id, gi));
            continue;
        }
        let mut e = Epilogue { from: None, pre: Vec::new(), clip: None, post: Vec::new() };
        match p {
            Piece::From(f) => e.from = Some(f),
            Piece::Step(s) => e.pre.push(s),
            Piece::Clipped(s, c) => {
                e.pre.push(s);
                e.clip = c;
            }
        }
        groups.push(Group { members: vec![id], source: n.inputs[0], op: Op::Epilogue(e) });
        open = Some((id, groups.len() - 1));
    }
    rewrite(g, groups)
}
