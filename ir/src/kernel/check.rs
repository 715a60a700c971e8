//! The plan verifier: [`check`] proves a [`KernelPlan`] uses only what a back end's
//! [`Target`] offers (stage kinds, FFT codelets and pass widths, vector lanes, table sizes)
//! before code generation starts. Code generation assumes a checked plan: every
//! limit it has is stated here, so a graph it cannot run is reported as a typed
//! [`Unsupported`] at compile time instead of failing halfway through emission.

use super::{
    Buf, Column, CrossFrame, KernelPlan, Load, Over, PerBand, Phase, Stage, StageKind, Store, Transform,
    Unsupported,
};
use crate::graph::fft_plan::RealPlan;
use crate::graph::Precision;
use crate::graph::{Clip, DeltaMode};
use crate::target::Target;

/// Checks `plan` against `target` for kernels computing in `precision`.
pub fn check(plan: &KernelPlan, target: &Target, precision: Precision) -> Result<(), Unsupported> {
    let first = plan.stages().next().map_or(0, |s| s.node);
    if target.lanes_for(precision).is_none() {
        return Err(Unsupported::new(
            first,
            format!("{} has no {} vectors", target.name, precision.as_str()),
        ));
    }
    if plan.phases.first().is_none_or(|p| p.over != Over::Blocks) {
        return Err(Unsupported::new(first, "the plan does not start with a phase over blocks of frames"));
    }
    let blocks = block_stages(&plan.phases[0])?;
    if let Some(p) = plan.phases[1..].iter().find(|p| p.over == Over::Blocks) {
        let at = p.stages.first().map_or(first, |s| s.node);
        return Err(Unsupported::new(at, "a second phase over blocks of frames"));
    }
    let clips: Vec<_> = plan.stages().filter(|s| matches!(s.kind, StageKind::Clip(_))).collect();
    if clips.len() > 1 {
        return Err(Unsupported::new(clips[1].node, "more than one clip stage"));
    }
    if let (Some(c), None) = (clips.first(), blocks.reduce) {
        return Err(Unsupported::new(c.node, "a clip without the reduce stage that computes its maximum"));
    }
    // Staged values exist only when the store writes them, and must be read back.
    let staged_by_store = plan.store().is_some_and(|s| s.writes == Buf::Staged);
    if let Some(s) = plan.stages().skip(1).find(|s| s.reads == Buf::Staged && !staged_by_store) {
        return Err(Unsupported::new(s.node, "a stage reads staged values the store does not write"));
    }
    if staged_by_store && !plan.stages().any(|s| s.reads == Buf::Staged && s.writes == Buf::Output) {
        let at = plan.store().map_or(first, |s| s.node);
        return Err(Unsupported::new(at, "the store stages values no later stage writes to the output"));
    }
    let mut taps = 0;
    for phase in &plan.phases {
        let offered = target.stages.iter().find(|(o, _)| *o == phase.over).map_or(&[][..], |(_, s)| *s);
        for s in &phase.stages {
            let name = s.kind.name();
            if !offered.contains(&name) {
                return Err(Unsupported::new(
                    s.node,
                    format!("{} has no `{name}` stage in a phase {:?}", target.name, phase.over),
                ));
            }
            match &s.kind {
                StageKind::Load(l) => taps = l.length,
                StageKind::Transform(t) => {
                    let bins = t.n / 2 + 1;
                    if t.basis == Precision::F32 && taps * bins > target.max_f32_basis {
                        return Err(Unsupported::new(
                            s.node,
                            format!(
                                "a float32 DFT basis of {taps}x{bins} entries (largest: {})",
                                target.max_f32_basis
                            ),
                        ));
                    }
                    let c = match &t.plan {
                        RealPlan::HalfComplex { half, .. } => half,
                        RealPlan::Full { plan, .. } => plan,
                    };
                    target.fft.check(c).map_err(|why| Unsupported::new(s.node, why))?;
                    if let Some(w) = t.wide {
                        match target.wide_for(t, taps) {
                            Ok(offered) if offered == w => {}
                            Ok(offered) => {
                                return Err(Unsupported::new(
                                    s.node,
                                    format!(
                                        "wide FFT kernels {} x{} (offered: {} x{})",
                                        w.isa, w.lanes, offered.isa, offered.lanes
                                    ),
                                ))
                            }
                            Err(why) => return Err(Unsupported::new(s.node, why)),
                        }
                    }
                }
                StageKind::PerBand(PerBand::Filterbank { matrix, dense, .. }) => {
                    let total: usize =
                        matrix.rows.iter().map(|(_, w)| w.len().next_multiple_of(4)).sum::<usize>()
                            + dense.as_ref().map_or(0, |d| d.weights.len());
                    if total > target.max_weights {
                        return Err(Unsupported::new(
                            s.node,
                            format!("a filterbank of {total} weights (largest: {})", target.max_weights),
                        ));
                    }
                }
                // An interp `deltas` kernel reads a table of Savitzky-Golay weights per order and
                // window position.
                StageKind::CrossFrame(CrossFrame::Deltas(d))
                    if d.mode == DeltaMode::Interp && d.order * d.width * d.width > target.max_weights =>
                {
                    return Err(Unsupported::new(
                        s.node,
                        format!(
                            "deltas of width {} and order {}: {} Savitzky-Golay weights (largest: {})",
                            d.width,
                            d.order,
                            d.order * d.width * d.width,
                            target.max_weights
                        ),
                    ));
                }
                StageKind::Dense(d)
                    if s.reads != Buf::Staged
                        || d.cols != blocks.store.bands
                        || d.weights.len() != d.rows * d.cols =>
                {
                    return Err(Unsupported::new(
                        s.node,
                        format!(
                            "a dense {}x{} stage must read the {} staged values per frame",
                            d.rows, d.cols, blocks.store.bands
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The stages of a phase over blocks, grouped as the block kernels run them: the load, then
/// per-frame and column stages, the transform, the per-band stage, an optional reduce, and
/// the store.
#[derive(Clone, Copy, Debug)]
pub struct BlockStages<'a> {
    /// The load.
    pub load: &'a Load,
    /// Per-frame and column stages, in order.
    pub frame: &'a [Stage],
    /// The transform.
    pub transform: &'a Transform,
    /// The per-band stage.
    pub per_band: &'a PerBand,
    /// The clip whose maximum the reduce stage keeps.
    pub reduce: Option<&'a Clip>,
    /// The store.
    pub store: &'a Store,
    /// The energy column, if a column stage is among `frame`.
    pub column: Option<&'a Column>,
}

/// Groups a block phase's stages, or says which stage is out of the order the block kernels
/// run.
pub fn block_stages(phase: &Phase) -> Result<BlockStages<'_>, Unsupported> {
    let st = &phase.stages;
    let node = |i: usize| st.get(i).or(st.last()).map_or(0, |s| s.node);
    let bad = |i: usize, want: &str| {
        Unsupported::new(node(i), format!("expected a `{want}` stage here in the phase over blocks"))
    };
    let Some(StageKind::Load(load)) = st.first().map(|s| &s.kind) else { return Err(bad(0, "load")) };
    let mut i = 1;
    let mut column = None;
    while let Some(s) = st.get(i) {
        match &s.kind {
            StageKind::PerFrame(_) => {}
            StageKind::Column(c) if column.is_none() => column = Some(c),
            _ => break,
        }
        i += 1;
    }
    let frame = &st[1..i];
    let Some(StageKind::Transform(transform)) = st.get(i).map(|s| &s.kind) else {
        return Err(bad(i, "transform"));
    };
    let Some(StageKind::PerBand(per_band)) = st.get(i + 1).map(|s| &s.kind) else {
        return Err(bad(i + 1, "per_band"));
    };
    let mut j = i + 2;
    let reduce = match st.get(j).map(|s| &s.kind) {
        Some(StageKind::Reduce(c)) => {
            j += 1;
            Some(c)
        }
        _ => None,
    };
    let Some(StageKind::Store(store)) = st.get(j).map(|s| &s.kind) else { return Err(bad(j, "store")) };
    if j + 1 != st.len() {
        return Err(Unsupported::new(node(j + 1), "stages after the store in the phase over blocks"));
    }
    if matches!(per_band, PerBand::Filterbank { .. }) != transform.power.is_some() {
        return Err(Unsupported::new(node(i), "a power transform must feed a filterbank, and only it"));
    }
    Ok(BlockStages { load, frame, transform, per_band, reduce, store, column })
}
