//! Target descriptions: what a back end can execute, as plain data.
//!
//! The passes choose *from* a target description instead of a code generator deciding on its
//! own: the `plan` pass picks each FFT's decomposition (radix order included) from
//! [`Target::fft`], and the chosen plan is the one printed in graph snapshots, run by the
//! reference interpreter and emitted by the JIT. Before code generation,
//! [`crate::kernel::check::check`] proves a whole kernel plan stays within the same description
//! (stage kinds per phase, vector lanes, table sizes, [`FftTarget::check`] for each FFT), so the
//! back end either lowers it or a typed `Unsupported` names the node and the reason.

use crate::graph::fft_plan::{ComplexPlan, RealPlan};
use crate::graph::{Precision, SpectrumPower};
use crate::kernel::{Over, Transform, Wide};

/// What a back end offers the optimizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// A short name for messages (`cranelift-128`).
    pub name: &'static str,
    /// Width of the kernels' vectors in bits (Cranelift 0.135 lowers at most 128 on x86-64).
    pub vector_bits: u32,
    /// Vector registers the kernels can keep live without spilling (16 xmm on x86-64 without
    /// AVX-512, 32 on aarch64); the FFT rules below are derived from it.
    pub vector_registers: u32,
    /// The FFT capabilities and the measured cost rules of the planner.
    pub fft: FftTarget,
    /// Stage kinds (`StageKind::name`) the back end lowers, per phase domain.
    pub stages: &'static [(Over, &'static [&'static str])],
    /// Frames per vector for f32 and f64 kernels (0: that precision is not offered).
    pub lanes: [(Precision, usize); 2],
    /// Largest Keras float32 DFT basis (taps × bins entries) built for the direct sum.
    pub max_f32_basis: usize,
    /// Largest filterbank (weights, padded per band to 4) stored (once per lane).
    pub max_weights: usize,
    /// Precompiled wide FFT kernels the back end can run a `transform` stage on instead of its
    /// own, where the CPU running the program has their instruction set (chosen at run time).
    pub wide_fft: Option<WideFftTarget>,
}

/// Precompiled wide FFT kernels (`crate::wide`): Rust `std::arch` code, not generated, over
/// blocks of [`WideFftTarget::lanes`] frames, driven by the planner's plan and tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WideFftTarget {
    /// The instruction set they need (`avx2`: AVX2 and FMA), as `SPECC_ISA` spells it.
    pub isa: &'static str,
    /// f32 frames per vector (and per block where they run).
    pub lanes: usize,
    /// Radices of their butterflies: every factor of a plan they run is one of these (a lone
    /// codelet of 16 runs as 4·4).
    pub radices: &'static [usize],
}

/// The FFT part of a [`Target`]: which codelets exist and which chains run fastest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FftTarget {
    /// Lengths with a straight-line codelet; every factor of a plan is one of these (or a
    /// Bluestein sub-plan of them at the top).
    pub codelets: &'static [usize],
    /// Largest radix run as one pass of a multi-pass chain. A lone codelet of any listed length
    /// still runs as itself; inside a chain, a larger power-of-two radix is split into radix-4
    /// passes.
    pub max_pass_radix: usize,
    /// Measured radix orders that replace the rule-based chain of a whole power-of-two
    /// transform of that length: `(length, radices outermost first)`.
    pub chain_orders: &'static [(usize, &'static [usize])],
}

impl Target {
    /// The Cranelift JIT of this crate on x86-64 (both ISA choices lower the same way; only
    /// instruction selection differs): 128-bit vectors (`F32X4`/`F64X2`), 16 vector registers.
    ///
    /// Its FFT rules, and the measurements behind them (`specc bench`, alternating processes;
    /// BENCHMARKS.md "What was tried"):
    /// * `max_pass_radix: 8`: the 32 live vectors of a radix-16 butterfly plus its twiddles
    ///   spill on 16 xmm registers; as two radix-4 passes the 1024-point chain ran faster and
    ///   compiled 4× quicker (session 2). Radix-8 passes run as two radix-4 halves with
    ///   barriers (17 stack accesses per butterfly, session 3).
    /// * `1024 = 8·4·4·8`: radix 8 innermost (no twiddles) and outermost; keras_mel
    ///   14.7–15.0 → 13.9–14.2 ms against 4·4·4·4·4 (AMD EPYC, session 3; orders 4·8·8·4,
    ///   4·4·8·8, 8·4·8·4, 8·8·4·4, 4·8·4·8, 8·8·16 were slower). The same shape was even for 256
    ///   points (8·4·8) and 1.5× slower for 4096 (8·4·4·4·8), so it is an entry for 1024 only.
    pub const CRANELIFT: Target = Target {
        name: "cranelift-128",
        vector_bits: 128,
        vector_registers: 16,
        fft: FftTarget {
            codelets: &[1, 2, 3, 4, 5, 7, 8, 16],
            max_pass_radix: 8,
            chain_orders: &[(1024, &[8, 4, 4, 8])],
        },
        stages: &[
            (Over::Blocks, &["load", "per_frame", "column", "transform", "per_band", "reduce", "store"]),
            (Over::Output, &["clip"]),
            (Over::Frames, &["dense"]),
            (Over::Signals, &["cross_frame"]),
        ],
        lanes: [(Precision::F32, 4), (Precision::F64, 2)],
        max_f32_basis: 1 << 22,
        max_weights: 1 << 22,
        wide_fft: Some(WideFftTarget {
            isa: "avx2",
            lanes: crate::wide::LANES,
            radices: crate::wide::RADICES,
        }),
    };

    /// The wide FFT kernels `t` can run on (f32 programs, on CPUs with [`WideFftTarget::isa`]),
    /// or why not: a plan of the target's radices (no Rader, no Bluestein), frames no longer
    /// than the DFT period (no folding), and the spectrum or `re² + im²` as its output.
    pub fn wide_for(&self, t: &Transform, taps: usize) -> Result<Wide, String> {
        let w = self.wide_fft.as_ref().ok_or_else(|| format!("{} has no wide FFT kernels", self.name))?;
        if taps > t.period {
            return Err(format!("frames of {taps} taps fold onto a period of {}", t.period));
        }
        match t.power {
            None | Some(SpectrumPower::Power) => {}
            Some(SpectrumPower::MagnitudePow(2.0)) => {}
            Some(SpectrumPower::MagnitudePow(p)) => return Err(format!("the power |x|^{p:?}")),
        }
        let c = match &t.plan {
            RealPlan::HalfComplex { half, .. } => half,
            RealPlan::Full { plan, .. } => plan,
        };
        let ok = |r: &usize| w.radices.contains(r);
        match c {
            ComplexPlan::Codelet(16) => {}
            ComplexPlan::Codelet(r) if ok(r) => {}
            ComplexPlan::MixedRadix { factors }
                if factors.iter().all(|f| matches!(f, ComplexPlan::Codelet(r) if ok(r))) => {}
            other => return Err(format!("the wide kernels do not run {}", kind(other))),
        }
        Ok(Wide { isa: w.isa, lanes: w.lanes })
    }

    /// Frames per vector for `p`, when the target computes in it.
    pub fn lanes_for(&self, p: Precision) -> Option<usize> {
        self.lanes.iter().find(|(q, n)| *q == p && *n > 0).map(|(_, n)| *n)
    }
}

impl Default for Target {
    /// The back end this crate compiles for: [`Target::CRANELIFT`].
    fn default() -> Self {
        Target::CRANELIFT
    }
}

impl FftTarget {
    /// The largest codelet length (the planner's widest power-of-two digit).
    pub fn max_codelet(&self) -> usize {
        self.codelets.iter().copied().max().unwrap_or(1)
    }

    /// Checks that `plan` uses only what this target offers: listed codelets, chain passes no
    /// wider than [`FftTarget::max_pass_radix`], Bluestein only at the top over a chain, no
    /// Rader. Returns the reason otherwise (a back end reports it as unsupported).
    pub fn check(&self, plan: &ComplexPlan) -> Result<(), String> {
        match plan {
            ComplexPlan::Bluestein { n, inner, .. } => match **inner {
                ComplexPlan::Bluestein { .. } | ComplexPlan::Rader { .. } => {
                    Err(format!("Bluestein({n}) over a {} is not emitted", kind(inner)))
                }
                _ => self.check_chain(inner),
            },
            other => self.check_chain(other),
        }
    }

    fn check_chain(&self, plan: &ComplexPlan) -> Result<(), String> {
        match plan {
            ComplexPlan::Codelet(r) if self.codelets.contains(r) => Ok(()),
            ComplexPlan::Codelet(r) => Err(format!("no codelet of length {r}")),
            ComplexPlan::MixedRadix { factors } => factors.iter().try_for_each(|f| match f {
                ComplexPlan::Codelet(r) if *r > self.max_pass_radix => {
                    Err(format!("a radix-{r} pass inside a chain (widest pass: {})", self.max_pass_radix))
                }
                ComplexPlan::Codelet(_) => self.check_chain(f),
                other => Err(format!("a {} nested inside a chain is not emitted", kind(other))),
            }),
            other => Err(format!("{} is not emitted", kind(other))),
        }
    }
}

fn kind(plan: &ComplexPlan) -> String {
    match plan {
        ComplexPlan::Codelet(r) => format!("codelet {r}"),
        ComplexPlan::MixedRadix { .. } => String::from("mixed-radix chain"),
        ComplexPlan::Rader { n, .. } => format!("Rader({n})"),
        ComplexPlan::Bluestein { n, .. } => format!("Bluestein({n})"),
    }
}
