//! Wide FFT microkernels: precompiled AVX2+FMA code (Rust `std::arch`) that runs the planner's
//! FFT plans over blocks of 8 frames, one frame per lane of a 256-bit vector (issue 17).
//!
//! Cranelift 0.135 lowers no vector wider than 128 bits on x86-64, so the JIT's FFT stage does
//! four frames per instruction. These kernels are compiled with the crate, not generated: they
//! are table-driven by the same [`ComplexPlan`]/[`RealPlan`] the `plan` pass prints (the radix
//! order and the decimation are the plan's; nothing here re-plans), with twiddle tables built
//! once per plan ([`WideFft::new`]). They run depth-first (each sub-transform finishes all its
//! passes before the next starts), so for n = 2048 (half 1024, 64 KB per block of 8 frames) the
//! working set of the inner passes stays in the 32 KiB L1d of a Zen 4 core.
//!
//! Layout: split complex, frames in lanes. Point `j` of a buffer is the 8 floats at `j·8` (one
//! per frame); a real frame block of length `n` is `n·8` floats, its spectrum `bins·8` floats of
//! re and as many of im (or of power).
//!
//! Which path runs is decided once per process ([`selected`]): the CPU's features
//! (`is_x86_feature_detected!("avx2")` and `"fma"`) and the override `SPECC_ISA`:
//! * `SPECC_ISA=sse`: never use the wide kernels (today's 128-bit JIT path);
//! * `SPECC_ISA=avx2`: use them (falls back to `sse`, with a note on stderr, when the CPU lacks
//!   AVX2 or FMA: the override can never select code the CPU cannot run);
//! * unset: `avx2` when the CPU has AVX2 and FMA, else `sse`.
//!
//! Calling a kernel needs an [`Avx2`] token, which only exists when the CPU has the features;
//! that is what makes the safe wrappers here sound. The `unsafe` code is confined to the
//! intrinsics layer (`avx2.rs`, x86-64 only) and the one call into it per wrapper.
//!
//! Wiring: the target description offers these kernels (`Target::wide_fft`); the `schedule`
//! pass marks each `transform` stage they can run (`; wide avx2 x8 …` in the printed plan);
//! a program compiled for `IsaChoice::Avx2` (the process default on AVX2+FMA CPUs) runs such a
//! stage here over blocks of 8 frames, its load, direct-DFT and tail kernels as two 4-lane
//! halves over the 8-lane scratch layout (`ProgramInfo::halves`, `codegen/program.rs`).

use std::fmt;
use std::sync::OnceLock;

use crate::graph::fft_plan::{twiddle, ComplexPlan, RealPlan};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(test)]
mod tests;

/// Frames per block: lanes of one 256-bit `f32` vector.
pub const LANES: usize = 8;

/// Points of padding between the outermost blocks of a scratch spectrum (and between its re and
/// im arrays): 2 points = 64 bytes, one cache line.
const PAD: usize = 2;

/// Radices the kernels have butterflies for (a lone codelet of 16 runs as 4·4).
pub const RADICES: &[usize] = &[1, 2, 3, 4, 5, 7, 8];

/// The instruction-set path for the FFT stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Today's path: the Cranelift JIT's 128-bit FFT stage, 4 frames per block.
    Sse,
    /// The AVX2+FMA wide kernels, 8 frames per block.
    Avx2,
}

impl Isa {
    /// The override's spelling (`sse`, `avx2`).
    pub fn as_str(self) -> &'static str {
        match self {
            Isa::Sse => "sse",
            Isa::Avx2 => "avx2",
        }
    }
}

/// Proof that the CPU running this process has AVX2 and FMA. Only [`Avx2::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct Avx2 {
    _proof: (),
}

impl Avx2 {
    /// The token when the CPU has AVX2 and FMA (ignores `SPECC_ISA`; see [`selected`]).
    pub fn detect() -> Option<Avx2> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Some(Avx2 { _proof: () });
            }
        }
        None
    }
}

/// The path chosen from the override's value and whether the CPU has AVX2+FMA: `Err` carries a
/// note when the override asked for something unavailable or unknown (the path is then the
/// detected one, or `sse`).
pub fn choose(override_value: Option<&str>, has_avx2: bool) -> (Isa, Option<String>) {
    let detected = if has_avx2 { Isa::Avx2 } else { Isa::Sse };
    match override_value.map(str::trim) {
        None | Some("") => (detected, None),
        Some("sse") => (Isa::Sse, None),
        Some("avx2") if has_avx2 => (Isa::Avx2, None),
        Some("avx2") => (Isa::Sse, Some("SPECC_ISA=avx2: this CPU lacks AVX2 or FMA; using sse".into())),
        Some(other) => {
            (detected, Some(format!("SPECC_ISA={other}: unknown (sse, avx2); using {}", detected.as_str())))
        }
    }
}

/// The process's FFT path, decided once (see the module docs for `SPECC_ISA`).
pub fn selected() -> Isa {
    static CHOICE: OnceLock<Isa> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        let var = std::env::var("SPECC_ISA").ok();
        let (isa, note) = choose(var.as_deref(), Avx2::detect().is_some());
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        isa
    })
}

/// The token when the selected path is [`Isa::Avx2`].
pub fn selected_avx2() -> Option<Avx2> {
    match selected() {
        Isa::Avx2 => Avx2::detect(),
        Isa::Sse => None,
    }
}

/// A plan the wide kernels do not run (Rader or Bluestein: those stay on the 128-bit path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the wide FFT kernels do not run {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

/// One level of a decimation-in-time chain: radix `r` over `r·m` points, `m` the product of the
/// inner radices; `tw[(k·(r-1) + s-1)·2 ..][..2]` = `W_{r·m}^{s·k}` (re, im), `k < m`, `1 ≤ s < r`.
#[derive(Clone, Debug)]
struct Level {
    radix: usize,
    m: usize,
    tw: Vec<f32>,
}

/// A complex chain ready to run: its levels, outermost first.
#[derive(Clone, Debug)]
struct Chain {
    n: usize,
    levels: Vec<Level>,
}

impl Chain {
    /// Points per block of the outermost level (`n` for a lone codelet).
    fn m0(&self) -> usize {
        match self.levels.as_slice() {
            [] | [_] => self.n,
            [first, ..] => first.m,
        }
    }

    /// The outermost block stride for a scratch spectrum: `m₀` padded by [`PAD`] points for
    /// chains, so the `r₀` points of an outer butterfly do not share one L1 set when `m₀·32`
    /// bytes is a multiple of 4 KiB (n = 2048: 128 points, 4 KiB).
    fn padded_bs(&self) -> usize {
        self.m0() + if self.levels.len() >= 2 { PAD } else { 0 }
    }

    /// Floats of one padded scratch spectrum (re or im) and the gap before the next.
    fn padded_floats(&self) -> usize {
        ((self.n / self.m0() - 1) * self.padded_bs() + self.m0() + PAD) * LANES
    }

    fn new(plan: &ComplexPlan) -> Result<Chain, Unsupported> {
        let radices: Vec<usize> = match plan {
            // The planner's lone 16-point codelet: the same DFT as a 4·4 chain.
            ComplexPlan::Codelet(16) => vec![4, 4],
            ComplexPlan::Codelet(r) => vec![*r],
            ComplexPlan::MixedRadix { factors } => factors
                .iter()
                .map(|f| match f {
                    ComplexPlan::Codelet(r) => Ok(*r),
                    other => Err(Unsupported(format!("{other} inside a chain"))),
                })
                .collect::<Result<_, _>>()?,
            other => return Err(Unsupported(other.to_string())),
        };
        if let Some(r) = radices.iter().find(|r| !RADICES.contains(r)) {
            return Err(Unsupported(format!("radix {r} ({plan})")));
        }
        let n = plan.size();
        let mut levels = Vec::with_capacity(radices.len());
        let mut m = n;
        for &r in &radices {
            m /= r;
            let mut tw = Vec::with_capacity(2 * m * r.saturating_sub(1));
            for k in 0..m {
                for s in 1..r {
                    let w = twiddle(s * k, r * m);
                    tw.extend([w.re as f32, w.im as f32]);
                }
            }
            levels.push(Level { radix: r, m, tw });
        }
        Ok(Chain { n, levels })
    }
}

/// A complex FFT of 8 frames per call, for a [`ComplexPlan`] (codelets and mixed-radix chains).
#[derive(Clone, Debug)]
pub struct WideComplexFft {
    chain: Chain,
}

impl WideComplexFft {
    /// The kernel tables for `plan`.
    pub fn new(plan: &ComplexPlan) -> Result<Self, Unsupported> {
        Ok(WideComplexFft { chain: Chain::new(plan)? })
    }

    /// The transform length.
    pub fn len(&self) -> usize {
        self.chain.n
    }

    /// Always false (plans have a length ≥ 1).
    pub fn is_empty(&self) -> bool {
        self.chain.n == 0
    }

    /// Forward, unnormalised DFT of 8 frames: point `j` of frame `lane` at index `j·8 + lane`.
    ///
    /// # Panics
    /// If any slice's length is not `8·n`.
    pub fn run(&self, cpu: Avx2, in_re: &[f32], in_im: &[f32], out_re: &mut [f32], out_im: &mut [f32]) {
        let len = LANES * self.chain.n;
        assert!(
            [in_re.len(), in_im.len(), out_re.len(), out_im.len()].iter().all(|&l| l == len),
            "wide FFT of length {}: every slice must hold 8·n = {len} floats",
            self.chain.n
        );
        run_chain(cpu, &self.chain, in_re, in_im, LANES, out_re, out_im, self.chain.m0());
    }
}

/// Runs `chain` over input points at `stride` floats (`in_*` hold every point read) into the
/// output, its outermost blocks of `m₀` points `bs` points apart (`bs = m₀`: contiguous).
#[allow(clippy::too_many_arguments)]
fn run_chain(
    cpu: Avx2,
    chain: &Chain,
    in_re: &[f32],
    in_im: &[f32],
    stride: usize,
    out_re: &mut [f32],
    out_im: &mut [f32],
    bs: usize,
) {
    let _ = cpu;
    let need_in = (chain.n - 1) * stride + LANES;
    assert!(in_re.len() >= need_in && in_im.len() >= need_in, "wide FFT input too short");
    let m0 = chain.m0();
    assert!(bs >= m0, "wide FFT block stride below the block");
    let need_out = (chain.n / m0 - 1) * bs * LANES + m0 * LANES;
    assert!(out_re.len() >= need_out && out_im.len() >= need_out, "wide FFT output too short");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `cpu` proves AVX2 and FMA; the input holds points `0..n` at `stride` and the
    // outputs `(r₀-1)·bs + m₀` points (checked above); the outputs are `&mut`, so they do not
    // alias the inputs; each level's table was built by `Chain::new` with `2·m·(r-1)` floats.
    unsafe {
        avx2::chain(
            &chain.levels,
            in_re.as_ptr(),
            in_im.as_ptr(),
            stride,
            out_re.as_mut_ptr(),
            out_im.as_mut_ptr(),
            bs,
        );
    }
}

/// The real-input FFT of a [`RealPlan`] over blocks of 8 frames: bins `0..=n/2`.
#[derive(Clone, Debug)]
pub struct WideFft {
    n: usize,
    chain: Chain,
    /// Even n: `(½cos, ½sin)` of `W_n^k` for `1 ≤ k ≤ h/2` (h = n/2); odd n: none (the full
    /// complex transform of the real input).
    post: Option<Vec<f32>>,
}

impl WideFft {
    /// The kernel tables for `plan`; Rader and Bluestein plans are [`Unsupported`].
    pub fn new(plan: &RealPlan) -> Result<Self, Unsupported> {
        match plan {
            RealPlan::HalfComplex { n, half } => {
                let h = n / 2;
                let post = (1..=h / 2)
                    .flat_map(|k| {
                        let w = twiddle(k, *n);
                        [(0.5 * w.re) as f32, (0.5 * w.im) as f32]
                    })
                    .collect();
                Ok(WideFft { n: *n, chain: Chain::new(half)?, post: Some(post) })
            }
            RealPlan::Full { n, plan } => Ok(WideFft { n: *n, chain: Chain::new(plan)?, post: None }),
        }
    }

    /// The real length.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Bins produced: `n/2 + 1`.
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// Floats of scratch [`WideFft::spectrum`] and [`WideFft::power`] need.
    pub fn scratch_len(&self) -> usize {
        let c = self.chain.n * LANES;
        match self.post {
            Some(_) => 2 * self.chain.padded_floats(),
            // A zero imaginary input, then the full complex output.
            None => 3 * c,
        }
    }

    fn check(&self, x: &[f32], out: usize, scratch: &[f32]) {
        assert_eq!(x.len(), self.n * LANES, "wide real FFT: the input must hold 8·n floats");
        assert_eq!(out, self.bins() * LANES, "wide real FFT: outputs must hold 8·(n/2 + 1) floats");
        assert!(scratch.len() >= self.scratch_len(), "wide real FFT: scratch too short");
    }

    /// Bins `0..=n/2` of 8 real frames (`x[t·8 + lane]` = tap `t` of frame `lane`) into split
    /// complex `re`/`im` (bin `k` of frame `lane` at `k·8 + lane`).
    ///
    /// # Panics
    /// If `x` is not `8·n` floats, `re`/`im` not `8·bins()`, or `scratch` shorter than
    /// [`WideFft::scratch_len`].
    pub fn spectrum(&self, cpu: Avx2, x: &[f32], re: &mut [f32], im: &mut [f32], scratch: &mut [f32]) {
        self.check(x, re.len(), scratch);
        assert_eq!(im.len(), re.len(), "wide real FFT: re and im must have one length");
        self.run(cpu, x, scratch, Out::Bins(re, im));
    }

    /// `re² + im²` of bins `0..=n/2` of 8 real frames into `p` (bin `k` of frame `lane` at
    /// `k·8 + lane`), and the sum of each frame's values into `sum[lane]` (finite iff every value
    /// is and the sum does not overflow): the JIT FFT stage's power sink.
    ///
    /// # Panics
    /// As [`WideFft::spectrum`].
    pub fn power(&self, cpu: Avx2, x: &[f32], p: &mut [f32], sum: &mut [f32; LANES], scratch: &mut [f32]) {
        self.check(x, p.len(), scratch);
        self.run(cpu, x, scratch, Out::Power(p, sum));
    }

    fn run(&self, cpu: Avx2, x: &[f32], scratch: &mut [f32], out: Out<'_>) {
        let c = self.chain.n * LANES;
        match &self.post {
            Some(post) => {
                let h = self.chain.n;
                let (m0, bs) = (self.chain.m0(), self.chain.padded_bs());
                let (z_re, z_im) = scratch.split_at_mut(self.chain.padded_floats());
                // z_j = x_{2j} + i·x_{2j+1}: the real taps at stride 2 points, the imaginary
                // ones one point later.
                let _ = cpu;
                let need_z = (h / m0 - 1) * bs * LANES + m0 * LANES;
                assert!(z_re.len() >= need_z && z_im.len() >= need_z, "wide FFT scratch too short");
                #[cfg(target_arch = "x86_64")]
                {
                    let sink = match out {
                        Out::Bins(re, im) => avx2::Sink::Bins { re: re.as_mut_ptr(), im: im.as_mut_ptr() },
                        Out::Power(p, sum) => avx2::Sink::Power { p: p.as_mut_ptr(), sum: sum.as_mut_ptr() },
                    };
                    // SAFETY: `cpu` proves AVX2 and FMA; `x` holds n = 2h points (checked in
                    // `check`), read as h packed points at stride 2; z holds h points placed
                    // with blocks of m0 at stride bs (checked above); `post` holds 2·(h/2)
                    // floats and each level's table 2·m·(r-1) (built in `new`); the outputs
                    // hold 8·(h + 1) floats and `sum` 8 (checked in `check`; `bins() = h + 1`);
                    // all are distinct borrows.
                    unsafe {
                        avx2::real(
                            &self.chain.levels,
                            x.as_ptr(),
                            2 * LANES,
                            z_re.as_mut_ptr(),
                            z_im.as_mut_ptr(),
                            bs,
                            post.as_ptr(),
                            &sink,
                        )
                    };
                }
            }
            None => {
                let (zeros, rest) = scratch.split_at_mut(c);
                zeros.fill(0.0);
                let (y_re, rest) = rest.split_at_mut(c);
                let y_im = &mut rest[..c];
                run_chain(cpu, &self.chain, x, zeros, LANES, y_re, y_im, self.chain.m0());
                let b = self.bins() * LANES;
                match out {
                    Out::Bins(re, im) => {
                        re.copy_from_slice(&y_re[..b]);
                        im.copy_from_slice(&y_im[..b]);
                    }
                    Out::Power(p, sum) => {
                        sum.fill(0.0);
                        for (i, (pv, (r, m))) in p.iter_mut().zip(y_re.iter().zip(y_im.iter())).enumerate() {
                            *pv = r.mul_add(*r, m * m);
                            sum[i % LANES] += *pv;
                        }
                    }
                }
            }
        }
    }
}

enum Out<'a> {
    Bins(&'a mut [f32], &'a mut [f32]),
    Power(&'a mut [f32], &'a mut [f32; LANES]),
}
