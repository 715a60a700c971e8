//! schedule: the optimized graph becomes a [`KernelPlan`], the contract the back end lowers:
//! stages run per block of frames, split into phases where a whole-scope reduction must
//! complete first (Keras's top_db needs the maximum over the whole batch before any value can
//! be clipped; torchaudio's, the maximum per item), where a product needs the clipped values (a
//! `dct` after the clip: the blocks stage their values, a phase over frames writes the output)
//! or where an op needs every frame of a signal (Kaldi's `subtract_mean`, `deltas`). A graph no
//! plan can express gets the reason instead.

use crate::graph::*;
use crate::kernel::{
    Buf, ClipStage, Column, CrossFrame, Dense, FrameOp, KernelPlan, Load, Over, PerBand, Phase, Schedule,
    Stage, StageKind, Store, Transform, Unsupported,
};

/// Attaches the kernel plan, or why there is none.
pub fn run(mut g: Graph) -> Graph {
    g.schedule = Some(match plan_of(&g) {
        Ok(p) => Schedule::Plan(p),
        Err(u) => Schedule::Unsupported(u),
    });
    g
}

fn stage(node: NodeId, kind: StageKind, reads: Buf, writes: Buf) -> Stage {
    Stage { node, kind, reads, writes }
}

/// The kernel plan of an optimized graph: the chain from the input to the output, read op by
/// op into stages.
pub fn plan_of(g: &Graph) -> Result<KernelPlan, Unsupported> {
    // The main chain from the output back to the input; a `concat` adds a per-frame column
    // computed from a node of the chain (Kaldi's energy).
    let mut ids = vec![g.output];
    let mut column: Option<(NodeId, NodeId, bool)> = None;
    loop {
        let at = *ids.last().expect("non-empty");
        let n = &g.nodes[at];
        match (&n.op, n.inputs.as_slice()) {
            (_, []) => break,
            (Op::Concat { at_end }, [main, col]) if column.is_none() => {
                column = Some((at, *col, *at_end));
                ids.push(*main);
            }
            (_, [one]) => ids.push(*one),
            _ => return Err(Unsupported::new(at, "a node with several operands")),
        }
    }
    ids.reverse();
    let mut it = ids.iter().map(|&i| (i, &g.nodes[i].op)).peekable();
    let Some((_, Op::Input { .. })) = it.next() else {
        return Err(Unsupported::new(ids[0], "the chain does not start at the input"));
    };
    // Length checks (`min_samples`) are the runtime's plan's; the kernels skip them.
    let mut select = None;
    while let Some(&(_, op)) = it.peek() {
        match op {
            Op::Select { axis, index } if select.is_none() => select = Some((axis.clone(), *index)),
            Op::MinSamples { .. } => {}
            _ => break,
        }
        it.next();
    }
    let (load_id, Op::FramedLoad { pads, length, hop, drop_last, window }) =
        it.next().ok_or_else(|| Unsupported::new(g.output, "no framed load"))?
    else {
        let at = ids.get(1).copied().unwrap_or(0);
        return Err(Unsupported::new(at, "expected a framed load after the input (run the optimizer first)"));
    };
    let mut blocks = vec![stage(
        load_id,
        StageKind::Load(Load {
            select,
            pads: pads.clone(),
            length: *length,
            hop: *hop,
            drop_last: *drop_last,
            window: window.clone(),
        }),
        Buf::Signal,
        Buf::Frame,
    )];
    // The energy column reads the frame after the node it names: the load or a per-frame op.
    let energy = match column {
        None => None,
        Some((concat, col, last)) => {
            let Op::LogEnergy { min, floor } = g.nodes[col].op else {
                return Err(Unsupported::new(col, "a concatenated column other than a per-frame log energy"));
            };
            Some((concat, g.nodes[col].inputs[0], Column { min, floor, last }))
        }
    };
    let mut energy_placed = false;
    let mut place_energy = |blocks: &mut Vec<Stage>, after: NodeId| {
        if let Some((concat, src, c)) = energy {
            if src == after {
                blocks.push(stage(concat, StageKind::Column(c), Buf::Frame, Buf::Column));
                energy_placed = true;
            }
        }
    };
    place_energy(&mut blocks, load_id);
    while let Some(&(id, op)) = it.peek() {
        let f = match op {
            Op::RemoveDc => FrameOp::RemoveDc,
            Op::Preemphasis(k) => FrameOp::Preemphasis(*k),
            Op::WindowTable(t) => FrameOp::Window(t.clone()),
            _ => break,
        };
        blocks.push(stage(id, StageKind::PerFrame(f), Buf::Frame, Buf::Frame));
        place_energy(&mut blocks, id);
        it.next();
    }
    if let (Some((concat, ..)), false) = (energy, energy_placed) {
        return Err(Unsupported::new(
            concat,
            "a log energy not taken from the framed load or a per-frame op",
        ));
    }
    let (fft_id, n, period, basis, plan) = match it.next() {
        Some((id, Op::Fft { n, period, basis, plan })) => (id, n, period, basis, plan),
        Some((id, op)) => {
            let why = format!("expected an FFT after the framed load and per-frame ops, found {}", op.name());
            return Err(Unsupported::new(id, why));
        }
        None => return Err(Unsupported::new(load_id, "expected an FFT after the framed load")),
    };
    let bins = n / 2 + 1;
    let mut transform =
        Transform { n: *n, period: *period, basis: *basis, plan: plan.clone(), power: None, wide: None };
    let mut per_band: Option<(NodeId, PerBand)> = None;
    let mut epilogue: Option<(NodeId, Epilogue)> = None;
    if let Some(&(id, Op::PowerMel { power, matrix })) = it.peek() {
        transform.power = Some(*power);
        per_band = Some((id, PerBand::Filterbank { matrix: matrix.clone(), steps: Vec::new(), dense: None }));
        it.next();
    }
    match it.peek() {
        Some(&(id, Op::Epilogue(e))) => {
            epilogue = Some((id, e.clone()));
            it.next();
        }
        Some(&(id, Op::ConcatReIm)) if per_band.is_none() => {
            per_band = Some((id, PerBand::ReIm));
            it.next();
        }
        _ => {}
    }
    // A DCT of the filterbank's bands (and a lifter after it): a dense product per frame.
    let mut dense: Option<(NodeId, Dense)> = None;
    if let (Some(&(id, Op::Cepstral(Cepstral::Dct(d)))), Some((_, PerBand::Filterbank { matrix, .. }))) =
        (it.peek(), &per_band)
    {
        let cols = matrix.rows.len();
        let mut weights = d.matrix(cols);
        it.next();
        let mut ops = String::from("dct");
        if let Some(&(_, Op::Cepstral(Cepstral::Lifter(l)))) = it.peek() {
            let lw = l.weights(d.n);
            for (row, w) in weights.chunks_mut(cols).zip(&lw) {
                row.iter_mut().for_each(|x| *x *= w);
            }
            it.next();
            ops.push_str(" · lifter");
        }
        dense = Some((id, Dense { rows: d.n, cols, weights, ops }));
    }
    if let Some(&(_, Op::Concat { .. })) = it.peek() {
        it.next();
    }
    // Ops across each signal's frames, over the finished output, in graph order.
    let mut cross = Vec::new();
    while let Some(&(id, op)) = it.peek() {
        match op {
            Op::SubtractMean => cross.push((id, CrossFrame::SubtractMean)),
            Op::Cepstral(Cepstral::Deltas(d)) => cross.push((id, CrossFrame::Deltas(*d))),
            _ => break,
        }
        it.next();
    }
    let subtract_mean = cross.iter().any(|(_, c)| *c == CrossFrame::SubtractMean);
    let (layout_id, layout) = match it.next() {
        Some((id, Op::Layout(out))) => (id, out.clone()),
        Some((id, op @ Op::Cepstral(Cepstral::Dct(_) | Cepstral::Lifter(_)))) => {
            let why = format!("no stage for `{}` here: a dct must follow the filterbank's steps", op.name());
            return Err(Unsupported::new(id, why));
        }
        Some((id, op)) => {
            return Err(Unsupported::new(id, format!("expected the layout, found {}", op.name())))
        }
        None => return Err(Unsupported::new(g.output, "no layout")),
    };
    if let Some((id, _)) = it.next() {
        return Err(Unsupported::new(id, "ops after the layout"));
    }
    let (mut clip, mut post) = (None, Vec::new());
    if let Some((id, e)) = epilogue {
        if e.post.iter().any(|s| matches!(s, Step::DoubleInterior { .. })) {
            return Err(Unsupported::new(id, "bin-dependent steps after a clip"));
        }
        if e.clip.is_none() && !e.post.is_empty() {
            return Err(Unsupported::new(id, "steps after a missing clip"));
        }
        if let Some(c) = e.clip {
            if energy.is_some() || subtract_mean {
                return Err(Unsupported::new(id, "an energy column or mean subtraction with a top_db clip"));
            }
            clip = Some((id, c));
        }
        post = e.post;
        per_band = Some(match (per_band, e.from) {
            (Some((pid, PerBand::Filterbank { matrix, .. })), None) => {
                (pid, PerBand::Filterbank { matrix, steps: e.pre, dense: None })
            }
            (Some((pid, _)), Some(_)) => {
                return Err(Unsupported::new(pid, "a complex-to-real step after the filterbank"));
            }
            (None, Some(from)) => (id, PerBand::Bins { from, steps: e.pre }),
            (None, None) => {
                return Err(Unsupported::new(id, "a complex spectrum without a complex-to-real step"))
            }
            (Some((pid, PerBand::ReIm | PerBand::Bins { .. })), None) => {
                return Err(Unsupported::new(pid, "steps after re | im"));
            }
        });
    }
    let Some((band_id, mut per_band)) = per_band else {
        return Err(Unsupported::new(fft_id, "a complex spectrum without a complex-to-real step"));
    };
    // A dct after a clip reads values the clip can only finish once the whole scope is
    // stored: the blocks stage the values, and the product runs per frame after the clip.
    let mut late_dense = None;
    if let Some((id, d)) = dense {
        if clip.is_some() {
            late_dense = Some((id, d));
        } else if let PerBand::Filterbank { dense, .. } = &mut per_band {
            *dense = Some(d);
        }
    }
    let (spectrum, bands) = match &per_band {
        PerBand::Filterbank { dense: Some(d), .. } => (Buf::Power, d.rows),
        PerBand::Filterbank { matrix, .. } => (Buf::Power, matrix.rows.len()),
        PerBand::Bins { .. } => (Buf::Spectrum, bins),
        PerBand::ReIm => (Buf::Spectrum, 2 * bins),
    };
    transform.wide = crate::target::Target::default().wide_for(&transform, *length).ok();
    blocks.push(stage(fft_id, StageKind::Transform(transform), Buf::Frame, spectrum));
    blocks.push(stage(band_id, StageKind::PerBand(per_band), spectrum, Buf::Bands));
    if let Some((id, c)) = clip {
        blocks.push(stage(id, StageKind::Reduce(c), Buf::Bands, Buf::Max));
    }
    let (store_layout, stored) = if late_dense.is_some() {
        // The staged values: the graph's axes before the dct, row-major, frames outermost.
        let band_axis = g.nodes[band_id].ty.last().name.clone();
        let axes = ["...", "frames", band_axis.as_str()];
        (axes.iter().map(|a| OutAxis { parts: vec![a.to_string()] }).collect(), Buf::Staged)
    } else {
        (layout, Buf::Output)
    };
    blocks.push(stage(
        layout_id,
        StageKind::Store(Store { layout: store_layout, bands }),
        Buf::Bands,
        stored,
    ));

    let mut buffers = vec![
        (Buf::Signal, String::from("[..., samples]")),
        (Buf::Frame, format!("[lanes, {} taps]", length.max(period))),
    ];
    if energy.is_some() {
        buffers.push((Buf::Column, String::from("[lanes]")));
    }
    buffers.push(match spectrum {
        Buf::Power => (Buf::Power, format!("[lanes, {bins} bins] + sum")),
        _ => (Buf::Spectrum, format!("[lanes, {bins} bins] re | im")),
    });
    buffers.push((Buf::Bands, format!("[lanes, {bands}]")));
    if clip.is_some() {
        buffers.push((Buf::Max, String::from("[lanes] max, NaN seen")));
    }
    if stored == Buf::Staged {
        let ty = print::type_text(&g.nodes[band_id].ty);
        buffers.push((Buf::Staged, format!("{ty} ({bands} values per frame)")));
    }

    let mut phases = vec![Phase { over: Over::Blocks, stages: blocks }];
    if let Some((id, c)) = clip {
        let kind = StageKind::Clip(ClipStage { clip: c, post });
        phases.push(Phase { over: Over::Output, stages: vec![stage(id, kind, stored, stored)] });
    }
    if let Some((id, d)) = late_dense {
        phases.push(Phase {
            over: Over::Frames,
            stages: vec![stage(id, StageKind::Dense(d), stored, Buf::Output)],
        });
    }
    for (id, c) in cross {
        phases.push(Phase {
            over: Over::Signals,
            stages: vec![stage(id, StageKind::CrossFrame(c), Buf::Output, Buf::Output)],
        });
    }
    let plan = KernelPlan { buffers, phases };
    let out_values = plan.output_values();
    let mut plan = plan;
    plan.buffers.push((
        Buf::Output,
        format!("{} ({out_values} values per frame)", print::type_text(g.output_type())),
    ));
    Ok(plan)
}
