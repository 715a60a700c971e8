//! Stand-alone complex FFT kernels (test-only) and the FFT emitters' tests against the plan
//! executor and a naive DFT.

use super::*;
use crate::codegen::jit::{CodeModule, JitFn};
use cranelift_codegen::ir::AbiParam;
use cranelift_module::FuncId;

/// A compiled stand-alone complex FFT in a [`CodeModule`]; redeem it with [`FftKernelId::get`]
/// after [`CodeModule::finalize`].
#[derive(Clone, Debug)]
pub struct FftKernelId {
    func: FuncId,
    module: u64,
    n: usize,
    vk: Vk,
    scratch_points: usize,
}

impl FftKernelId {
    /// The callable kernel, once `jit` has been finalized.
    pub fn get<'m>(&self, jit: &'m CodeModule) -> Result<FftKernel<'m>, JitError> {
        if jit.uid() != self.module {
            return Err(JitError::ForeignFunction);
        }
        Ok(FftKernel {
            f: jit.function(self.func)?,
            n: self.n,
            vk: self.vk,
            scratch_points: self.scratch_points,
        })
    }
}

/// A complex FFT of one vector of frames, safe to call from any thread while its module is
/// borrowed.
#[derive(Clone, Debug)]
pub struct FftKernel<'m> {
    f: JitFn<'m>,
    n: usize,
    vk: Vk,
    scratch_points: usize,
}

impl FftKernel<'_> {
    /// The transform length.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Forward, unnormalised DFT of four `f32` frames: point j of frame `lane` is at index
    /// `j*4 + lane` of each slice.
    ///
    /// # Panics
    /// If the kernel was compiled for `f64`, or any slice's length is not `4·n`.
    pub fn run(&self, input_re: &[f32], input_im: &[f32], out_re: &mut [f32], out_im: &mut [f32]) {
        assert_eq!(self.vk, Vk::F32X4, "an f32 kernel");
        let len = 4 * self.n;
        assert!(
            input_re.len() == len && input_im.len() == len && out_re.len() == len && out_im.len() == len,
            "FFT kernel of length {}: every slice must hold 4·n = {len} floats",
            self.n
        );
        let mut scratch = vec![0f32; 8 * self.scratch_points.max(1)];
        // SAFETY: `FftKernel` is only built by `FftKernelId::get` from a function that
        // `compile_complex` compiled with exactly this C signature, in the module `JitFn<'m>`
        // borrows, so the code and its data objects are alive. The kernel reads `n` vectors
        // (4·n floats) from each input, writes as many to each output (checked above; the
        // outputs are `&mut`, so they do not alias the inputs) and uses `2·scratch_points`
        // vectors of scratch, all with unaligned-safe accesses.
        unsafe {
            let f: extern "C" fn(*const f32, *const f32, *mut f32, *mut f32, *mut f32) =
                std::mem::transmute(self.f.as_ptr());
            f(
                input_re.as_ptr(),
                input_im.as_ptr(),
                out_re.as_mut_ptr(),
                out_im.as_mut_ptr(),
                scratch.as_mut_ptr(),
            );
        }
    }
}

/// Compiles a stand-alone forward complex FFT of one vector of frames for `plan` (codelet
/// chains and Bluestein around one): `extern "C" fn(in_re, in_im, out_re, out_im, scratch)`.
pub fn compile_complex(
    jit: &mut CodeModule,
    name: &str,
    plan: &ComplexPlan,
    vk: Vk,
) -> Result<FftKernelId, FftError> {
    let mut data = DataSet::default();
    let inner = Inner::new(plan, vk, &mut data)?;
    let ids = data.register(jit, name)?;
    let ptr = jit.target().pointer_type;
    let mut sig = jit.make_signature();
    sig.params.extend([AbiParam::new(ptr); 5]);
    let n = inner.len();
    let scratch_points = inner.scratch_points();
    let func = jit.define_with_data(name, sig, &ids, |b, t, gvs| {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let addrs = Addrs::new(gvs);
        let mut e = Emit { b, t, ptr, vk };
        let io = Io { in_re: p[0], in_im: Some(p[1]), in_stride: POINT, out_re: p[2], out_im: p[3] };
        inner.emit(&mut e, &addrs, io, p[4]);
        e.b.ins().return_(&[]);
    })?;
    Ok(FftKernelId { func, module: jit.uid(), n, vk, scratch_points })
}

mod accuracy {
    use super::*;
    use crate::codegen::jit::IsaChoice;
    use crate::graph::fft_plan::{execute_complex, plan_complex};
    use num_complex::{Complex32, Complex64};
    use std::time::Instant;

    const ISAS: [IsaChoice; 2] = [IsaChoice::Native, IsaChoice::Baseline];

    /// A 64-bit LCG (Knuth's MMIX constants), top bits mapped to [-1, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 40) as f64 / (1u64 << 23) as f64 - 1.0) as f32
        }
    }

    /// Max abs error over the 4 frames vs the f64 reference, and max |x| of the input.
    fn check(kernel: &FftKernel<'_>, n: usize, seed: u64) -> (f64, f64) {
        let mut rng = Lcg(seed);
        let re: Vec<f32> = (0..4 * n).map(|_| rng.next()).collect();
        let im: Vec<f32> = (0..4 * n).map(|_| rng.next()).collect();
        let (mut ore, mut oim) = (vec![0f32; 4 * n], vec![0f32; 4 * n]);
        kernel.run(&re, &im, &mut ore, &mut oim);
        let plan = plan_complex(n);
        let mut max_err = 0f64;
        let mut max_x = 0f64;
        for lane in 0..4 {
            let mut z: Vec<Complex64> = (0..n)
                .map(|j| Complex64::new(f64::from(re[j * 4 + lane]), f64::from(im[j * 4 + lane])))
                .collect();
            max_x = z.iter().fold(max_x, |m, v| m.max(v.norm()));
            execute_complex(&plan, &mut z);
            for (j, want) in z.iter().enumerate() {
                let got = Complex64::new(f64::from(ore[j * 4 + lane]), f64::from(oim[j * 4 + lane]));
                max_err = max_err.max((got - want).norm());
            }
        }
        (max_err, max_x)
    }

    fn test_lengths() -> Vec<usize> {
        let mut v: Vec<usize> = (1..=64).collect();
        v.extend([80, 97, 100, 128, 200, 256, 400, 509, 512, 1000, 1024]);
        v
    }

    /// Bound: max abs error ≤ 1e-5 · √n · max|x| (f32 rounding grows like ε·log n·√n·rms).
    #[test]
    fn codegen_fft_matches_reference() {
        for isa in ISAS {
            let mut jit = CodeModule::new(isa).unwrap();
            let lengths = test_lengths();
            let ids: Vec<FftKernelId> = lengths
                .iter()
                .map(|&n| compile_complex(&mut jit, &format!("fft{n}"), &plan_complex(n), Vk::F32X4).unwrap())
                .collect();
            jit.finalize().unwrap();
            let mut worst = 0f64;
            for (&n, id) in lengths.iter().zip(&ids) {
                let k = id.get(&jit).unwrap();
                assert_eq!(k.len(), n);
                let (err, max_x) = check(&k, n, 0x5eed + n as u64);
                let rel = err / ((n as f64).sqrt() * max_x);
                worst = worst.max(rel);
                assert!(
                    rel <= 1e-5,
                    "{isa:?} n={n} ({}): err {err:e}, err/(√n·max|x|) = {rel:e}",
                    plan_complex(n)
                );
            }
            println!("{isa:?}: {} lengths, worst err/(√n·max|x|) = {worst:.3e}", lengths.len());
        }
    }

    /// A stand-alone real FFT: `fn(x, y_re, y_im, scratch)`, x natural order (one vector per tap).
    fn compile_real(jit: &mut CodeModule, n: usize, vk: Vk) -> (FuncId, RealFft) {
        let mut data = DataSet::default();
        let plan = crate::graph::fft_plan::plan_real(n);
        let fft = RealFft::new(&plan, vk, &mut data).unwrap();
        let ids = data.register(jit, &format!("r{n}{vk:?}")).unwrap();
        let ptr = jit.target().pointer_type;
        let mut sig = jit.make_signature();
        sig.params.extend([AbiParam::new(ptr); 4]);
        let id = jit
            .define_with_data(&format!("real{n}{:?}", vk.precision), sig, &ids, |b, t, gvs| {
                let entry = b.create_block();
                b.append_block_params_for_function_params(entry);
                b.switch_to_block(entry);
                let p = b.block_params(entry).to_vec();
                let addrs = Addrs::new(gvs);
                let mut e = Emit { b, t, ptr, vk };
                fft.emit(&mut e, &addrs, p[0], p[1], p[2], p[3], None);
                e.b.ins().return_(&[]);
            })
            .unwrap();
        (id, fft)
    }

    /// Every real length 1..=512 and larger ones (2-smooth, 3/5/7-smooth, primes through
    /// Bluestein), four f32 frames and two f64 frames at once, against a naive f64 DFT.
    #[test]
    fn codegen_real_fft_matches_naive_dft() {
        let mut lengths: Vec<usize> = (1..=512).collect();
        lengths.extend([600, 1000, 1021, 1024, 2039, 2048, 2205, 4096]);
        for (vk, bound) in [(Vk::F32X4, 2e-6), (Vk::F64X2, 1e-14)] {
            let lanes = vk.lanes();
            let mut jit = CodeModule::new(IsaChoice::Native).unwrap();
            let kernels: Vec<(usize, FuncId, RealFft)> = lengths
                .iter()
                .filter(|&&n| vk == Vk::F32X4 || n <= 64 || n % 97 == 0 || n > 512)
                .map(|&n| {
                    let (id, f) = compile_real(&mut jit, n, vk);
                    (n, id, f)
                })
                .collect();
            jit.finalize().unwrap();
            let mut worst = 0f64;
            let mut rng = Lcg(0xdf7);
            for (n, id, fft) in &kernels {
                let n = *n;
                let x: Vec<f64> = (0..n * lanes).map(|_| f64::from(rng.next())).collect();
                let sp = fft.spectrum_points();
                let f = jit.function(*id).unwrap();
                let (re, im) = if vk == Vk::F32X4 {
                    let xs: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                    let mut yr = vec![0f32; sp * 4];
                    let mut yi = vec![0f32; sp * 4];
                    let mut scratch = vec![0f32; 8 * fft.scratch_points().max(1)];
                    // SAFETY: compiled above with this signature; buffers hold n, sp, sp and
                    // 2·scratch_points vectors.
                    unsafe {
                        let k: extern "C" fn(*const f32, *mut f32, *mut f32, *mut f32) =
                            std::mem::transmute(f.as_ptr());
                        k(xs.as_ptr(), yr.as_mut_ptr(), yi.as_mut_ptr(), scratch.as_mut_ptr());
                    }
                    (
                        yr.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                        yi.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                    )
                } else {
                    let mut yr = vec![0f64; sp * 2];
                    let mut yi = vec![0f64; sp * 2];
                    let mut scratch = vec![0f64; 4 * fft.scratch_points().max(1)];
                    // SAFETY: as above, f64 lanes.
                    unsafe {
                        let k: extern "C" fn(*const f64, *mut f64, *mut f64, *mut f64) =
                            std::mem::transmute(f.as_ptr());
                        k(x.as_ptr(), yr.as_mut_ptr(), yi.as_mut_ptr(), scratch.as_mut_ptr());
                    }
                    (yr, yi)
                };
                for lane in 0..lanes {
                    let max_x = (0..n).fold(0f64, |m, t| m.max(x[t * lanes + lane].abs()));
                    for k in 0..=n / 2 {
                        let mut want = Complex64::new(0.0, 0.0);
                        for t in 0..n {
                            let a = -2.0 * std::f64::consts::PI * ((t * k) % n) as f64 / n as f64;
                            want += Complex64::from_polar(x[t * lanes + lane], a);
                        }
                        let got = Complex64::new(re[k * lanes + lane], im[k * lanes + lane]);
                        let rel = (got - want).norm() / ((n as f64).sqrt() * max_x.max(1e-300));
                        worst = worst.max(rel);
                        assert!(rel <= bound, "{vk:?} n={n} bin {k} lane {lane}: {got} vs {want} ({rel:e})");
                    }
                }
            }
            println!("{vk:?}: {} lengths, worst err/(√n·max|x|) = {worst:.3e}", kernels.len());
        }
    }

    #[test]
    fn codegen_fft_unsupported_plans_are_errors() {
        let mut jit = CodeModule::new(IsaChoice::Native).unwrap();
        let rader = ComplexPlan::Rader { n: 11, inner: Box::new(plan_complex(10)) };
        assert!(matches!(compile_complex(&mut jit, "r11", &rader, Vk::F32X4), Err(FftError::Unsupported(_))));
        assert!(matches!(
            compile_complex(&mut jit, "c9", &ComplexPlan::Codelet(9), Vk::F32X4),
            Err(FftError::Unsupported(_))
        ));
    }

    fn median_ns(mut f: impl FnMut(), iters: usize) -> f64 {
        for _ in 0..iters / 10 + 1 {
            f();
        }
        let mut t: Vec<f64> = (0..iters)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_nanos() as f64
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[iters / 2]
    }

    /// Timing print, not an assertion (the machine is noisy). Under `cargo test`'s profile
    /// rustfft runs ~2.2× slower than in `--release`, so compare with `--release`: there
    /// (2 cores, 2026-11) n=1024 took 1.85 µs/frame JIT vs 1.19 µs rustfft, n=200 0.29 vs 0.28 µs.
    #[test]
    fn codegen_fft_timing() {
        let c = |v: &[usize]| ComplexPlan::MixedRadix {
            factors: v.iter().map(|&r| ComplexPlan::Codelet(r)).collect(),
        };
        let alt = std::env::var("FFT_ALT").ok();
        for n in [1024usize, 200] {
            for isa in ISAS {
                let mut jit = CodeModule::new(isa).unwrap();
                let plan = match (n, alt.as_deref()) {
                    (1024, Some("8844")) => c(&[8, 8, 4, 4]),
                    (1024, Some("4888")) => c(&[4, 8, 8, 4]),
                    (1024, Some("888_2")) => c(&[8, 8, 8, 2]),
                    _ => plan_complex(n),
                };
                let t0 = Instant::now();
                let id = compile_complex(&mut jit, "fft", &plan, Vk::F32X4).unwrap();
                jit.finalize().unwrap();
                let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
                let k = id.get(&jit).unwrap();
                let mut rng = Lcg(7);
                let re: Vec<f32> = (0..4 * n).map(|_| rng.next()).collect();
                let im: Vec<f32> = (0..4 * n).map(|_| rng.next()).collect();
                let (mut ore, mut oim) = (vec![0f32; 4 * n], vec![0f32; 4 * n]);
                let jit_ns = median_ns(|| k.run(&re, &im, &mut ore, &mut oim), 2000) / 4.0;

                let fft = rustfft::FftPlanner::<f32>::new().plan_fft_forward(n);
                let mut input: Vec<Complex32> =
                    re.iter().zip(&im).map(|(&a, &b)| Complex32::new(a, b)).collect();
                let mut output = vec![Complex32::default(); 4 * n];
                let mut scratch = vec![Complex32::default(); fft.get_outofplace_scratch_len()];
                let rust_ns = median_ns(
                    || fft.process_outofplace_with_scratch(&mut input, &mut output, &mut scratch),
                    2000,
                ) / 4.0;
                let gflops = |ns: f64| 5.0 * n as f64 * (n as f64).log2() / ns;
                println!(
                    "fft n={n} {plan} {isa:?}: JIT {jit_ns:.0} ns/frame ({:.1} GF/s), rustfft {rust_ns:.0} ns/frame \
                     ({:.1} GF/s), JIT/rustfft time {:.2}; compile {compile_ms:.2} ms",
                    gflops(jit_ns),
                    gflops(rust_ns),
                    jit_ns / rust_ns
                );
            }
        }
    }
}

mod vcode_dump {
    use super::*;
    use crate::codegen::jit::IsaChoice;
    #[test]
    #[ignore]
    fn dump_fft_vcode() {
        let mut jit = CodeModule::new(IsaChoice::Native).unwrap();
        jit.set_capture_vcode(true);
        let n = std::env::var("FFT_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
        compile_complex(&mut jit, "f", &crate::graph::fft_plan::plan_complex(n), Vk::F32X4).unwrap();
        println!("{}", jit.last_vcode().unwrap());
    }

    /// The real FFT with a power sink (`FFT_N`, default 2048), as the fft stage emits it.
    #[test]
    #[ignore]
    fn dump_real_fft_vcode() {
        let n = std::env::var("FFT_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
        let mut jit = CodeModule::new(IsaChoice::Native).unwrap();
        jit.set_capture_vcode(true);
        let vk = Vk::F32X4;
        let mut data = DataSet::default();
        let fft = RealFft::new(&crate::graph::fft_plan::plan_real(n), vk, &mut data).unwrap();
        let ids = data.register(&mut jit, "r").unwrap();
        let ptr = jit.target().pointer_type;
        let mut sig = jit.make_signature();
        sig.params.extend([AbiParam::new(ptr); 5]);
        jit.define_with_data("real", sig, &ids, |b, t, gvs| {
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let p = b.block_params(entry).to_vec();
            let addrs = Addrs::new(gvs);
            let mut e = Emit { b, t, ptr, vk };
            let f = |e: &mut Emit<'_, '_>, re: Value, im: Value| {
                let rr = e.b.ins().fmul(re, re);
                e.mul_add(im, im, rr)
            };
            let sink = PowerSink { p: p[4], sum: p[1], f: &f };
            fft.emit(&mut e, &addrs, p[0], p[1], p[2], p[3], Some(&sink));
            e.b.ins().return_(&[]);
        })
        .unwrap();
        println!("{}", jit.last_vcode().unwrap());
    }
}
