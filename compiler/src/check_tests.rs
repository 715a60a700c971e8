//! The target check (`kernel::check`, in specc-ir) on the kernel plans of compiled specs: these
//! tests need the compiler, which specc-ir does not depend on.

use crate::graph::Graph;
use crate::graph::Precision;
use crate::kernel::check::*;
use crate::kernel::*;
use crate::shipped_optimized as scheduled;
use crate::target::Target;

fn plan(g: &Graph) -> KernelPlan {
    g.schedule.as_ref().expect("scheduled").plan().expect("a plan").clone()
}

#[test]
fn every_shipped_spec_passes_the_cranelift_target() {
    // Every file in specs/, so a new preset is covered without touching this test.
    let dir = format!("{}/../specs", env!("CARGO_MANIFEST_DIR"));
    let mut specs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".spec").map(str::to_string))
        .collect();
    specs.sort();
    assert!(specs.len() >= 10, "{specs:?}");
    for spec in &specs {
        let p = plan(&scheduled(spec, &[]));
        for prec in [Precision::F32, Precision::F64] {
            assert_eq!(check(&p, &Target::CRANELIFT, prec), Ok(()), "{spec} {prec:?}");
        }
    }
}

#[test]
fn a_missing_codelet_names_the_fft_node() {
    let g = scheduled("whisper", &[]);
    let p = plan(&g);
    // Whisper's 400-point FFT is half 200 = 8 x 5 x 5: without a 5-codelet it cannot lower.
    let fft = crate::target::FftTarget { codelets: &[2, 4, 8, 16], ..Target::CRANELIFT.fft };
    let t = Target { fft, ..Target::CRANELIFT };
    let err = check(&p, &t, Precision::F32).unwrap_err();
    assert!(matches!(g.nodes[err.node].op, crate::graph::Op::Fft { .. }), "{err}");
    assert!(err.reason.contains("codelet of length 5"), "{err}");
}

#[test]
fn a_missing_stage_kind_or_width_is_unsupported() {
    let g = scheduled("whisper", &[]);
    let p = plan(&g);
    const BLOCKS_ONLY: &[(Over, &[&str])] =
        &[(Over::Blocks, &["load", "per_frame", "column", "transform", "per_band", "reduce", "store"])];
    let t = Target { stages: BLOCKS_ONLY, ..Target::CRANELIFT };
    let err = check(&p, &t, Precision::F32).unwrap_err();
    assert!(err.reason.contains("no `clip` stage"), "{err}");
    let t = Target { lanes: [(Precision::F32, 4), (Precision::F64, 0)], ..Target::CRANELIFT };
    assert!(check(&p, &t, Precision::F64).unwrap_err().reason.contains("no f64 vectors"));
    assert_eq!(check(&p, &t, Precision::F32), Ok(()));
    let t = Target { max_weights: 16, ..Target::CRANELIFT };
    let err = check(&p, &t, Precision::F32).unwrap_err();
    assert!(matches!(g.nodes[err.node].op, crate::graph::Op::PowerMel { .. }), "{err}");
}

#[test]
fn a_wide_transform_needs_the_targets_wide_kernels() {
    let g = scheduled("whisper", &[]);
    let p = plan(&g);
    let wide = block_stages(&p.phases[0]).unwrap().transform.wide;
    assert_eq!(wide, Some(crate::kernel::Wide { isa: "avx2", lanes: 8 }), "whisper's 8 x 5 x 5 runs wide");
    let t = Target { wide_fft: None, ..Target::CRANELIFT };
    let err = check(&p, &t, Precision::F32).unwrap_err();
    assert!(matches!(g.nodes[err.node].op, crate::graph::Op::Fft { .. }), "{err}");
    assert!(err.reason.contains("no wide FFT kernels"), "{err}");
    // Radices the wide kernels lack, and a Bluestein plan, keep the transform on the JIT.
    let no5 = crate::target::WideFftTarget { isa: "avx2", lanes: 8, radices: &[1, 2, 4, 8] };
    let t = Target { wide_fft: Some(no5), ..Target::CRANELIFT };
    assert!(check(&p, &t, Precision::F32).unwrap_err().reason.contains("do not run"));
    let odd = plan(&scheduled("keras_mel", &["fft_length=509"]));
    assert_eq!(block_stages(&odd.phases[0]).unwrap().transform.wide, None);
}

#[test]
fn staged_values_must_be_read_back_by_a_dense_stage_of_their_width() {
    let g = scheduled("librosa_mfcc", &["deltas=1"]);
    let p = plan(&g);
    assert_eq!(check(&p, &Target::CRANELIFT, Precision::F32), Ok(()));
    // A dense stage over 127 of the 128 staged mel values.
    let mut bad = p.clone();
    for s in bad.phases.iter_mut().flat_map(|ph| ph.stages.iter_mut()) {
        if let StageKind::Dense(d) = &mut s.kind {
            d.cols -= 1;
        }
    }
    let err = check(&bad, &Target::CRANELIFT, Precision::F32).unwrap_err();
    assert!(err.reason.contains("must read the 128 staged values"), "{err}");
    // Without the dense stage nothing writes the staged values to the output.
    let mut bad = p.clone();
    bad.phases.retain(|ph| ph.over != Over::Frames);
    let err = check(&bad, &Target::CRANELIFT, Precision::F32).unwrap_err();
    assert!(err.reason.contains("no later stage writes"), "{err}");
    // A dense stage is offered only in a phase over frames.
    let t = Target { stages: &Target::CRANELIFT.stages[..2], ..Target::CRANELIFT };
    let err = check(&p, &t, Precision::F32).unwrap_err();
    assert!(err.reason.contains("no `dense` stage"), "{err}");
}

#[test]
fn stages_out_of_order_are_unsupported() {
    let mut p = plan(&scheduled("keras_mel", &[]));
    p.phases[0].stages.swap(1, 2);
    let err = check(&p, &Target::CRANELIFT, Precision::F32).unwrap_err();
    assert!(err.reason.contains("expected a `transform` stage"), "{err}");
}
