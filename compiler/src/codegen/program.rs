//! A whole kernel plan compiled into kernels that each process one vector of frames
//! (`lanes` = 4 for f32, 2 for f64; lane k is frame t+k of one signal).
//!
//! [`compile`] takes the plan the `schedule` pass attached to the graph, checks it against the
//! target description ([`Target::CRANELIFT`]: a plan that passes lowers, else a typed
//! [`Unsupported`]), lays out the block scratch, and lowers the plan stage by stage with the
//! emitters of [`super::stage`]: the phase over blocks becomes the `load`, `fft`, `dft` and
//! `tail` kernels, the later phases' stages the `clip`, `dense` and cross-frame kernels. A
//! [`Program`] (`specc_ir::program`, re-exported here) holds them behind one `#[repr(C)]`
//! argument block, owns the JIT module, and carries the plan, whose phases the runtime runs in
//! order.
//!
//! Kernels never check bounds: the runtime validates every pointer and stride against its
//! buffers before calling (see the `# Safety` sections). Windows, twiddles and filterbanks are
//! read-only data objects of the module.

use cranelift_module::FuncId;

use super::emit::DataSet;
use super::fft::FftError;
use super::jit::{CodeModule, IsaChoice, JitError};
use super::stage::{self, Scratch};
use super::vec::Vk;
use crate::graph::*;
use crate::kernel::check::{block_stages, check};
use crate::kernel::{KernelPlan, Over, StageKind, Unsupported};
use crate::target::Target;
use specc_ir::aot::Layout;
pub use specc_ir::program::{
    BlockArgs, ClipFn, CrossFn, DeltasFn, DenseFn, EnergyColumn, Kernels, MeanFn, Program, ProgramInfo,
    StageFn, WideStage,
};

/// Why a graph could not be compiled to machine code.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The graph's kernel plan has a stage, or a size, the target does not offer (or the graph
    /// has no kernel plan): found before any code is emitted.
    #[error("the JIT does not support this graph: {0}")]
    Unsupported(#[from] Unsupported),
    /// FFT planning failed.
    #[error(transparent)]
    Fft(#[from] FftError),
    /// Cranelift failed.
    #[error(transparent)]
    Jit(#[from] JitError),
}

/// The kernel plan of an optimized graph: the one the schedule pass attached, else one built
/// now (for graphs optimized without the schedule pass).
pub fn plan_of(g: &Graph) -> Result<KernelPlan, Unsupported> {
    match &g.schedule {
        Some(s) => s.plan().cloned().map_err(Unsupported::clone),
        None => crate::passes::schedule::plan_of(g),
    }
}

/// Compiles an optimized graph's kernel plan for `precision` on `isa`.
pub fn compile(g: &Graph, precision: Precision, isa: IsaChoice) -> Result<Program, CodegenError> {
    lower(plan_of(g)?, precision, isa)
}

/// Lowers a kernel plan into JIT code, after checking it against the target.
pub fn lower(plan: KernelPlan, precision: Precision, isa: IsaChoice) -> Result<Program, CodegenError> {
    let mut jit = CodeModule::new(isa)?;
    #[cfg(test)]
    jit.set_capture_vcode(std::env::var_os("SPECC_DUMP_STAGE").is_some());
    let e = emit(&plan, precision, isa == IsaChoice::Avx2, &mut jit)?;
    jit.finalize()?;
    let get = |id: FuncId| -> Result<*const u8, JitError> { Ok(jit.function(id)?.as_ptr()) };
    let entries = e.ids.iter().map(|&id| get(id)).collect::<Result<Vec<_>, _>>()?;
    // SAFETY: each entry is the finalized code of the kernel its slot names, defined by `emit`
    // with the signature the slot's type has (one pointer argument for block kernels; pointer,
    // usize, pointer for the clip, dense and deltas kernels; pointer, usize, usize for
    // subtract_mean, the signatures `stage::cross_frame` gives each kind), and the module that
    // owns the code moves into the same `Program`.
    let fns = unsafe { e.layout.kernels(&entries) }.expect("one finalized entry per slot");
    // SAFETY: the kernels are the finalized code of the functions `emit` defined, owned by
    // `jit`, which the program keeps; `info` and `wide` describe the layout they were emitted
    // for.
    Ok(unsafe { Program::new(Box::new(jit), fns, e.wide, e.info) })
}

/// A kernel plan emitted into a module: its kernels' ids in the order of its layout's slots
/// ([`Layout::slots`]), and what the runtime needs to know to run them.
pub(crate) struct Emitted {
    /// Which kernels there are.
    pub layout: Layout,
    /// Their ids, in slot order.
    pub ids: Vec<FuncId>,
    /// The scratch layout, lanes and plan.
    pub info: ProgramInfo,
    /// The FFT stage on the wide kernels, if any.
    pub wide: Option<WideStage>,
}

/// Checks `plan` against the target and emits its kernels into `module` (on the wide FFT
/// kernels where `wide_allowed`, the plan offers them, the precision is f32 and this CPU has
/// them).
pub(crate) fn emit(
    plan: &KernelPlan,
    precision: Precision,
    wide_allowed: bool,
    jit: &mut CodeModule,
) -> Result<Emitted, CodegenError> {
    check(plan, &Target::CRANELIFT, precision)?;
    let b = block_stages(&plan.phases[0])?;
    let vk = Vk::of(precision);
    let mut tables = DataSet::default();
    let t = b.transform;
    let taps = b.load.length;
    // The wide FFT kernels: asked for, offered by the plan, f32, and the CPU has them.
    let wide = match (wide_allowed, t.wide, crate::wide::Avx2::detect()) {
        (true, Some(w), Some(cpu)) if precision == Precision::F32 => {
            let fft = crate::wide::WideFft::new(&t.plan).map_err(|e| FftError::Unsupported(e.to_string()))?;
            Some((w, cpu, fft))
        }
        _ => None,
    };
    // Frames per block, kernel calls per block, bytes between a region's vectors.
    let (lanes, halves, pitch) = match &wide {
        Some((w, ..)) => (w.lanes, w.lanes / vk.lanes(), Vk::BYTES * (w.lanes / vk.lanes()) as i64),
        None => (vk.lanes(), 1, Vk::BYTES),
    };
    let transform = stage::transform::prepare(t, taps, vk, &mut tables, wide.is_none())?;
    let bins = t.n / 2 + 1;

    // Scratch layout (bytes, each region 16-aligned): x | xw (wrapped) | y_re | y_im | fft
    // scratch | p (power per bin) | m (band sums) | flag | energy | max. With a power
    // transform, point 0 of y_re holds the power sum, and y is workspace for odd n only (y_im
    // is not allocated for even n).
    let fused = t.power.is_some();
    // The wide kernels write bins only (their workspace is the `fft` region).
    let even = wide.is_some() || transform.spectrum_points() == bins;
    let v = pitch as usize;
    let mut off = 0usize;
    let mut region = |points: usize| {
        let o = off;
        off += points * v;
        o
    };
    // The frame the transform reads: the load's taps (zero-padded to the period), or the taps
    // folded onto the period when they are longer (Keras's odd-length basis).
    let x_points = taps.max(t.period).next_multiple_of(vk.lanes());
    let x = region(x_points);
    let xw = if taps > t.period { region(t.period) } else { x };
    let spec_points = transform.spectrum_points().max(bins);
    let y_re = region(spec_points);
    let y_im = if fused && even { y_re } else { region(spec_points) };
    let fft = match &wide {
        Some((_, _, f)) => region((f.scratch_len() * 4).div_ceil(v)),
        None => region(2 * transform.scratch_points()),
    };
    let p = region(bins + 4);
    let m = region(match b.per_band {
        crate::kernel::PerBand::Filterbank { matrix, .. } => matrix.rows.len(),
        _ => 0,
    });
    let flag = region(1);
    let energy = b.column.map(|_| region(1));
    let max = b.reduce.map(|_| region(2));
    let s = Scratch {
        x,
        xw,
        y_re,
        y_im,
        fft,
        p,
        m,
        flag,
        energy,
        max,
        bytes: off.max(v),
        taps,
        x_points,
        bins,
        pitch,
    };

    let load_tables = stage::load::tables(b.load, &b.frame.iter().collect::<Vec<_>>(), vk, &mut tables);
    let band_tables = stage::per_band::tables(b.per_band, vk, &mut tables);
    let mut ids = tables.register(jit, "p")?;
    // The tail's constant pool: filled while the tail is built, defined right after it.
    let pool_id = jit.declare_data("p.pool")?;
    ids.push(pool_id);
    let pool_table = ids.len() - 1;
    let mut pool = stage::steps::Pool::default();
    let time_contiguous = b.store.frames_innermost();
    let frame: Vec<&crate::kernel::Stage> = b.frame.iter().collect();

    let load = stage::define_block_kernel(jit, "load", &ids, vk, |e, addrs, args| {
        stage::load::emit(e, addrs, args, b.load, &frame, &load_tables, &s)
    })?;
    let fft_fn = match wide {
        Some(_) => None,
        None => Some(stage::define_block_kernel(jit, "fft", &ids, vk, |e, addrs, args| {
            stage::transform::emit_fft(e, addrs, args, t, &transform, &s)
        })?),
    };
    let dft_fn = stage::define_block_kernel(jit, "dft", &ids, vk, |e, addrs, args| {
        stage::transform::emit_dft(e, addrs, args, t, &transform, &s)
    })?;
    let tail = stage::define_block_kernel(jit, "tail", &ids, vk, |e, addrs, args| {
        let bt = band_tables.as_ref();
        stage::per_band::emit(e, addrs, args, b.per_band, bt, &s, time_contiguous, &mut pool, pool_table)
    })?;
    jit.define_declared_data("p.pool", pool_id, pool.bytes(), 16)?;
    // Later phases: a kernel per clip, dense and cross-frame stage.
    let clip_stage = plan.phases[1..].iter().flat_map(|ph| &ph.stages).find_map(|st| match &st.kind {
        StageKind::Clip(c) => Some(c),
        _ => None,
    });
    let clip_fn = clip_stage.map(|c| stage::clip::define(jit, c, vk)).transpose()?;
    let dense_stage = plan.phases[1..].iter().flat_map(|ph| &ph.stages).find_map(|st| match &st.kind {
        StageKind::Dense(d) => Some(d),
        _ => None,
    });
    let dense_fn = dense_stage.map(|d| stage::dense::define(jit, d, precision)).transpose()?;
    let mut cross_fns = Vec::new();
    for st in plan.phases[1..].iter().flat_map(|ph| &ph.stages) {
        if let StageKind::CrossFrame(c) = &st.kind {
            if !cross_fns.iter().any(|(k, _)| k == c) {
                cross_fns.push((*c, stage::cross_frame::define(jit, c, cross_fns.len(), precision)?));
            }
        }
    }
    let mut ids = vec![load];
    ids.extend(fft_fn);
    ids.extend([dft_fn, tail]);
    ids.extend(clip_fn);
    ids.extend(dense_fn);
    ids.extend(cross_fns.iter().map(|&(_, id)| id));
    let layout = Layout {
        fft: fft_fn.is_some(),
        // The clip kernel works on one 128-bit vector at a time, whatever the block's frames
        // (8 in a wide program).
        clip: clip_fn.map(|_| Vk::BYTES as usize),
        dense: dense_stage.map(|d| (d.rows, d.cols)),
        cross: cross_fns.iter().map(|&(c, _)| c).collect(),
    };
    let bands = b.store.bands;
    let description = format!(
        "{} x{lanes}{}: load {taps} taps, fft {}{}, tail {bands} values{}{}",
        precision.as_str(),
        if halves > 1 { format!(" (kernels x{} twice)", vk.lanes()) } else { String::new() },
        t.plan,
        match &wide {
            Some((w, ..)) => format!(" on the wide {} kernels", w.isa),
            None => String::new(),
        },
        if clip_stage.is_some() { ", clip" } else { "" },
        dense_stage.map_or(String::new(), |d| format!(", dense {}x{}", d.rows, d.cols))
    );
    let wide_stage = wide.as_ref().map(|(_, cpu, f)| WideStage {
        cpu: *cpu,
        fft: f.clone(),
        x: s.x,
        re: if fused { s.p } else { s.y_re },
        im: if fused { s.y_re } else { s.y_im },
        work: s.fft,
        power: fused,
    });
    let info = ProgramInfo {
        precision,
        lanes,
        halves,
        wide: wide.as_ref().map(|(w, ..)| *w),
        length: b.load.length,
        hop: b.load.hop,
        pads: b.load.pads.clone(),
        drop_last: b.load.drop_last,
        select: b.load.select.clone(),
        bands,
        time_contiguous,
        scratch_bytes: s.bytes,
        flag_offset: s.flag,
        max_offset: s.max,
        spectrum_offsets: if fused { (s.p, s.y_re) } else { (s.y_re, s.y_im) },
        bins,
        energy: b.column.zip(s.energy).map(|(c, offset)| EnergyColumn {
            offset,
            min: c.min,
            floor: c.floor,
            last: c.last,
        }),
        description,
        plan: plan.clone(),
    };
    debug_assert!(plan.phases.iter().skip(1).all(|p| p.over != Over::Blocks));
    debug_assert_eq!(ids.len(), layout.slots().len());
    Ok(Emitted { layout, ids, info, wide: wide_stage })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::CrossFrame;
    use crate::shipped_optimized as graph;

    /// `SPECC_DUMP_STAGE=tail cargo test -p specc-compiler --release --lib dump_stage_vcode --
    /// --ignored --nocapture` prints the tail kernel (or `load`, `fft`, `dft`) of keras_mel
    /// (`SPEC` picks another spec).
    #[test]
    #[ignore]
    fn dump_stage_vcode() {
        let spec = std::env::var("SPEC").unwrap_or_else(|_| String::from("keras_mel"));
        compile(&graph(&spec, &[]), Precision::F32, IsaChoice::Native).unwrap();
    }

    /// Values for the later-phase kernel tests: a spread of magnitudes and signs, with zeros of
    /// both signs, NaN and infinities when `special`.
    fn column(len: usize, seed: u64, special: bool) -> Vec<f64> {
        let mut x = seed;
        (0..len)
            .map(|i| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let v = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 10f64.powi((x % 7) as i32 - 3);
                match (special, i % 11) {
                    (true, 3) => f64::NAN,
                    (true, 5) => f64::INFINITY,
                    (true, 7) => -0.0,
                    (_, 9) => 0.0,
                    _ => v,
                }
            })
            .collect()
    }

    /// Equal bits, or both NaN: which NaN an operation on two NaNs returns (and so its sign)
    /// depends on the operand order the register allocator picks for a commutative `fadd`.
    fn same_bits(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// The cross-frame kernels (deltas in both modes over f64 columns, subtract_mean in place
    /// over a strided f32 column) give the formulas' bits (NaN as NaN), each sum in order with
    /// no fused multiply-add, on every ISA choice: what the interpreter computes (the runtime's
    /// runners before these kernels, written out).
    #[test]
    fn cross_frame_kernels_equal_the_formulas_bit_for_bit() {
        let cases: [(&str, &[&str]); 4] = [
            ("librosa_mfcc", &["deltas=3", "delta_width=5"]),
            ("librosa_mfcc", &["deltas=1", "delta_width=9"]),
            ("torchaudio_mfcc", &["deltas=2", "delta_win_length=4"]),
            ("kaldi_fbank", &["subtract_mean=true"]),
        ];
        for (spec, sets) in cases {
            let g = graph(spec, sets);
            for isa in [IsaChoice::Native, IsaChoice::Baseline, IsaChoice::Avx2] {
                let prog = compile(&g, Precision::F32, isa).unwrap();
                let stages: Vec<CrossFrame> = prog
                    .info()
                    .plan
                    .stages()
                    .filter_map(|s| match &s.kind {
                        StageKind::CrossFrame(c) => Some(*c),
                        _ => None,
                    })
                    .collect();
                assert!(!stages.is_empty(), "{spec} {sets:?}: a cross-frame stage");
                for c in stages {
                    for t in [0usize, 1, 2, 5, 9, 10, 31] {
                        if let CrossFrame::Deltas(d) = c {
                            if d.mode == DeltaMode::Interp && t < d.width {
                                continue;
                            }
                        }
                        for special in [false, true] {
                            let x = column(t, t as u64 * 31 + 7, special);
                            let (got, want) = match c {
                                CrossFrame::Deltas(_) => {
                                    let want = reference(&c, &x);
                                    let mut got = vec![0.0; want.len()];
                                    assert!(prog.deltas(&c, &x, &mut got));
                                    (got, want)
                                }
                                // In place over a strided f32 column (every third value).
                                CrossFrame::SubtractMean => {
                                    let x: Vec<f64> = x.iter().map(|&v| f64::from(v as f32)).collect();
                                    let want: Vec<f64> =
                                        reference(&c, &x).iter().map(|&v| f64::from(v as f32)).collect();
                                    let mut data = vec![7f32; 3 * t + 1];
                                    for (i, &v) in x.iter().enumerate() {
                                        data[1 + 3 * i] = v as f32;
                                    }
                                    assert!(prog.subtract_mean_f32(&mut data, 1, 3, t));
                                    let got = (0..t).map(|i| f64::from(data[1 + 3 * i])).collect();
                                    assert!(data.iter().step_by(3).all(|&v| v == 7.0), "values between");
                                    (got, want)
                                }
                            };
                            let same = got.iter().zip(&want).all(|(a, b)| same_bits(*a, *b));
                            assert!(same, "{spec} {sets:?} {isa:?} {c:?} t={t}: {got:?} vs {want:?}");
                        }
                    }
                }
            }
        }
    }

    /// The formulas of `cross_frame` in plain Rust (`Iterator::sum` of f64 starts at -0.0,
    /// which is what starting from the first term gives).
    fn reference(c: &CrossFrame, x: &[f64]) -> Vec<f64> {
        let t = x.len();
        match c {
            CrossFrame::SubtractMean => {
                let mean = x.iter().sum::<f64>() / t as f64;
                x.iter().map(|v| v - mean).collect()
            }
            CrossFrame::Deltas(d) => {
                let (w, h) = (d.width, d.width / 2);
                let n = (w.saturating_sub(1) / 2) as i64;
                let denom = (n * (n + 1) * (2 * n + 1)) as f64 / 3.0;
                let mut out = Vec::new();
                let mut cur = x.to_vec();
                for o in 1..=d.order {
                    let next: Vec<f64> = (0..t)
                        .map(|i| match d.mode {
                            DeltaMode::Interp => {
                                let (start, pos) = if i < h {
                                    (0, i)
                                } else if i + h >= t {
                                    (t - w, i + w - t)
                                } else {
                                    (i - h, h)
                                };
                                let wt = crate::graph::cepstral::savgol_weights(w, o, o, pos);
                                wt.iter().zip(&x[start..start + w]).map(|(a, b)| a * b).sum()
                            }
                            DeltaMode::Replicate => {
                                let at = |j: i64| cur[j.clamp(0, t as i64 - 1) as usize];
                                (-n..=n).map(|j| j as f64 * at(i as i64 + j)).sum::<f64>() / denom
                            }
                        })
                        .collect();
                    out.extend_from_slice(&next);
                    cur = next;
                }
                out
            }
        }
    }

    /// The dense kernel gives `sum_j w[i][j] x[j]` in f64 in column order, rounded once, for
    /// matrices wider than one group of accumulators and an odd number of rows.
    #[test]
    fn dense_kernel_equals_the_formula_bit_for_bit() {
        for sets in [&["n_mfcc=20"][..], &["n_mfcc=37", "n_mels=64", "lifter=22"]] {
            let g = graph("librosa_mfcc", sets);
            for isa in [IsaChoice::Native, IsaChoice::Baseline, IsaChoice::Avx2] {
                let prog = compile(&g, Precision::F32, isa).unwrap();
                let Some(d) = prog.info().plan.stages().find_map(|s| match &s.kind {
                    StageKind::Dense(d) => Some(d.clone()),
                    _ => None,
                }) else {
                    panic!("{sets:?}: a dense stage")
                };
                for frames in [0usize, 1, 3, 257] {
                    for special in [false, true] {
                        let x: Vec<f32> = column(frames * d.cols, frames as u64 + 3, special)
                            .iter()
                            .map(|&v| v as f32)
                            .collect();
                        let mut got = vec![0f32; frames * d.rows];
                        assert!(prog.dense_f32(&x, &mut got));
                        for (f, y) in got.chunks(d.rows).enumerate() {
                            for (i, &v) in y.iter().enumerate() {
                                let row = &d.weights[i * d.cols..][..d.cols];
                                let xs = &x[f * d.cols..][..d.cols];
                                let want =
                                    row.iter().zip(xs).fold(0.0f64, |a, (w, &v)| a + w * v as f64) as f32;
                                let same = same_bits(f64::from(v), f64::from(want));
                                assert!(same, "{sets:?} {isa:?} frame {f} row {i}: {v} vs {want}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every shipped spec compiles for both precisions on every ISA choice the JIT offers, and
    /// its program carries the plan's phases.
    #[test]
    fn program_compiles_every_preset_on_both_isas() {
        let dir = format!("{}/../specs", env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Some(spec) = path.file_stem().and_then(|s| s.to_str()) else { continue };
            let g = graph(spec, &[]);
            for isa in [IsaChoice::Native, IsaChoice::Baseline, IsaChoice::Avx2] {
                for p in [Precision::F32, Precision::F64] {
                    let r = compile(&g, p, isa);
                    assert!(r.is_ok(), "{spec} {p:?} {isa:?}: {:?}", r.err());
                    let plan = plan_of(&g).unwrap();
                    let info = r.unwrap().info().clone();
                    assert_eq!(info.plan, plan, "{spec}");
                    // The wide kernels run exactly where asked for, offered by the plan, f32,
                    // and the CPU has them; then as two 4-lane halves of an 8-frame block.
                    let offered = crate::kernel::check::block_stages(&plan.phases[0]).unwrap().transform.wide;
                    let cpu = crate::wide::Avx2::detect().is_some();
                    let wide = isa == IsaChoice::Avx2 && p == Precision::F32 && offered.is_some() && cpu;
                    assert_eq!(info.wide.is_some(), wide, "{spec} {p:?} {isa:?}");
                    let (lanes, halves) = match (wide, p) {
                        (true, _) => (8, 2),
                        (false, Precision::F32) => (4, 1),
                        (false, Precision::F64) => (2, 1),
                    };
                    assert_eq!((info.lanes, info.halves), (lanes, halves), "{spec} {p:?} {isa:?}");
                }
            }
            n += 1;
        }
        assert!(n >= 10, "only {n} specs");
    }

    /// The clip kernel's vectors are 128 bits whatever the block's frames: every length, the
    /// partial last vector included, is clipped exactly, on the wide program too (whose blocks
    /// are 8 frames; its tail once overran the 16-byte staging vector).
    #[test]
    fn clip_handles_every_tail_length_on_every_isa() {
        let g = graph("librosa_stft", &["n_fft=512", "ref=max"]);
        for isa in [IsaChoice::Native, IsaChoice::Baseline, IsaChoice::Avx2] {
            let prog = compile(&g, Precision::F32, isa).unwrap();
            let (thr, shift) = (-3.5f32, 2.0f32);
            for len in 0..40 {
                let x: Vec<f32> = (0..len).map(|i| i as f32 * 0.37 - 4.0).collect();
                let mut y = x.clone();
                assert!(prog.clip_f32(&mut y, thr, shift), "{isa:?}: a clip stage");
                for (i, (a, b)) in x.iter().zip(&y).enumerate() {
                    assert_eq!((a - shift).max(thr), *b, "{isa:?} len {len} index {i}");
                }
            }
            let prog = compile(&g, Precision::F64, isa).unwrap();
            for len in 0..9 {
                let x: Vec<f64> = (0..len).map(|i| i as f64 * 0.37 - 4.0).collect();
                let mut y = x.clone();
                assert!(prog.clip_f64(&mut y, -3.5, 2.0));
                for (a, b) in x.iter().zip(&y) {
                    assert_eq!((a - 2.0).max(-3.5), *b, "{isa:?} f64 len {len}");
                }
            }
        }
    }

    #[test]
    fn a_graph_without_a_plan_is_a_typed_error() {
        let mut g = graph("keras_mel", &[]);
        g.schedule = Some(crate::kernel::Schedule::Unsupported(Unsupported::new(3, "for the test")));
        match compile(&g, Precision::F32, IsaChoice::Native) {
            Err(CodegenError::Unsupported(u)) => assert_eq!((u.node, u.reason.as_str()), (3, "for the test")),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
