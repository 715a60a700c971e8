//! criterion benches: the JIT against the interpreter for every shipped spec, each stage of
//! keras_mel and whisper on its own, and compile time of each shipped spec.
//!
//! `cargo bench --bench jit` (all), `cargo bench --bench jit -- stage` (stages only: `stage/…`
//! the 128-bit program's on a block of 4 frames, `stage_wide/…` the wide program's on a block of
//! 8, its load and tail as two 4-frame halves), `cargo bench --bench jit -- fft_per_frame` (the
//! JIT FFT stage, the wide AVX2 kernel and realfft per frame). The workloads: one 10 s clip at
//! 16 kHz for JIT-vs-interpreter (the interpreter takes ~0.1 s per clip, the JIT runs the
//! process default: wide on AVX2 CPUs unless `SPECC_ISA=sse`), and one block for stages.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use specc::{Engine, Input, Pipeline, PRESETS};
use specc_compiler::codegen::jit::IsaChoice;
use specc_compiler::codegen::program::{compile, BlockArgs};
use specc_compiler::graph::fft_plan::plan_real;
use specc_compiler::graph::Precision;
use specc_compiler::wide::{Avx2, WideFft, LANES};
use std::hint::black_box;

fn signal(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..len)
        .map(|i| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            0.3 * ((i as f32) * 0.0571).sin() + 0.1 * ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        })
        .collect()
}

/// An input shaped for `preset` holding `samples` per signal.
fn input_for(preset: &str, samples: usize) -> ndarray::ArrayD<f32> {
    let shape: Vec<usize> = match preset {
        "keras_stft" => vec![1, samples, 1],
        "kaldi_fbank" => vec![1, samples],
        _ => vec![samples],
    };
    ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), signal(samples, 7)).expect("shape")
}

fn engines(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    for (name, _) in PRESETS {
        let x = input_for(name, 160_000);
        for engine in [Engine::Jit, Engine::Interp] {
            let p = Pipeline::preset(name, &[]).expect("preset").with_engine(engine).with_threads(1);
            let view = Input::F32(x.view());
            p.run(&view).expect("runs");
            g.bench_with_input(BenchmarkId::new(*name, engine.as_str()), &view, |b, v| {
                b.iter(|| black_box(p.run(v).expect("runs")))
            });
        }
    }
    g.finish();
}

fn compile_times(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    for (name, _) in PRESETS {
        g.bench_function(*name, |b| {
            b.iter(|| {
                let p = Pipeline::preset(name, &[]).expect("preset");
                black_box(compile(p.optimized(), Precision::F32, IsaChoice::Native).expect("compiles"))
            })
        });
    }
    g.finish();
}

/// A compiled f32 program with the buffers one block of frames needs: a signal long enough
/// for `lanes` frames, 16-byte aligned scratch and a `bands × lanes` output.
struct Block {
    prog: specc_compiler::codegen::program::Program,
    signal: Vec<f32>,
    scratch: Vec<u128>,
    out: Vec<f32>,
}

impl Block {
    fn new(name: &str, sets: &[&str]) -> Block {
        Block::on(name, sets, IsaChoice::Native)
    }

    fn on(name: &str, sets: &[&str], isa: IsaChoice) -> Block {
        let p = Pipeline::preset(name, sets).expect("preset");
        let prog = compile(p.optimized(), Precision::F32, isa).expect("compiles");
        let info = prog.info().clone();
        Block {
            signal: signal(info.length + info.lanes * info.hop, 3),
            // One word more, to start the scratch 32-byte aligned as the runtime does.
            scratch: vec![0u128; info.scratch_bytes.div_ceil(16) + 1],
            out: vec![0f32; info.bands * info.lanes],
            prog,
        }
    }

    /// The argument block over these buffers (time-contiguous output, 4-byte elements).
    fn args(&mut self) -> BlockArgs {
        self.half(0)
    }

    /// The arguments of half `h` of a block (see `ProgramInfo::halves`; 0 is the whole block of
    /// a 4-lane program).
    fn half(&mut self, h: usize) -> BlockArgs {
        let info = self.prog.info();
        let (lanes, hl, hop) = (info.lanes, info.lanes / info.halves, info.hop);
        let scratch: *mut u8 = self.scratch.as_mut_ptr().cast();
        let scratch = scratch.wrapping_add(scratch.align_offset(32));
        BlockArgs {
            src: self.signal.as_ptr().wrapping_add(h * hl * hop).cast(),
            scratch: scratch.wrapping_add(16 * h),
            out: self.out.as_mut_ptr().wrapping_add(h * hl).cast(),
            out_band: (lanes * 4) as isize,
            out_time: 4,
        }
    }
}

fn stages(c: &mut Criterion) {
    for (name, sets) in [("keras_mel", vec![]), ("whisper", vec!["n_mels=80"])] {
        let mut blk = Block::new(name, &sets);
        let args = blk.args();
        let (prog, info) = (&blk.prog, blk.prog.info().clone());
        // SAFETY: `blk` holds (lanes-1)·hop + length samples, the program's scratch and
        // bands × lanes outputs at the strides given; it outlives the calls.
        unsafe {
            prog.load(&args);
            prog.fft(&args);
            prog.tail(&args);
        }
        let mut g = c.benchmark_group(format!("stage/{name}"));
        // SAFETY (each closure): as above; the stages only touch those buffers.
        g.bench_function("framing+window", |b| b.iter(|| unsafe { prog.load(black_box(&args)) }));
        g.bench_function("fft", |b| b.iter(|| unsafe { prog.fft(black_box(&args)) }));
        g.bench_function("power+mel+log", |b| b.iter(|| unsafe { prog.tail(black_box(&args)) }));
        let mut whole = vec![-20f32; info.bands * 1024];
        g.bench_function("clip (1024 frames)", |b| {
            b.iter(|| prog.clip_f32(black_box(&mut whole), -80.0, 0.0))
        });
        g.finish();
    }
    // The same stages of the wide program (8 frames per block: load and tail as two 4-lane
    // halves, the FFT on the AVX2 kernels), where the CPU has them.
    if specc_compiler::wide::Avx2::detect().is_none() {
        println!("note: this CPU lacks AVX2+FMA; stage_wide not run");
        return;
    }
    for (name, sets) in [("keras_mel", vec![]), ("whisper", vec!["n_mels=80"])] {
        let mut blk = Block::on(name, &sets, IsaChoice::Avx2);
        assert_eq!(blk.prog.info().halves, 2, "{name} runs wide");
        let halves = [blk.half(0), blk.half(1)];
        let prog = &blk.prog;
        // SAFETY: as above, for 8 frames: each half's arguments address its 4 frames' samples,
        // its lanes of the (32-byte aligned) scratch and its 4 output columns.
        unsafe {
            for a in &halves {
                prog.load(a);
            }
            prog.fft(&halves[0]);
            for a in &halves {
                prog.tail(a);
            }
        }
        let mut g = c.benchmark_group(format!("stage_wide/{name}"));
        // SAFETY (each closure): as above.
        g.bench_function("framing+window (2 halves)", |b| {
            b.iter(|| unsafe {
                prog.load(black_box(&halves[0]));
                prog.load(black_box(&halves[1]));
            })
        });
        g.bench_function("fft (8 frames)", |b| b.iter(|| unsafe { prog.fft(black_box(&halves[0])) }));
        g.bench_function("power+mel+log (2 halves)", |b| {
            b.iter(|| unsafe {
                prog.tail(black_box(&halves[0]));
                prog.tail(black_box(&halves[1]));
            })
        });
        g.finish();
    }
}

/// The JIT's real FFT against realfft (rustfft inside), per frame, at Keras's and Whisper's
/// lengths: the JIT stage transforms a block of `lanes` frames, realfft one frame.
fn fft_vs_realfft(c: &mut Criterion) {
    for (name, sets, n) in [("keras_mel", vec![], 2048usize), ("whisper", vec!["n_mels=80"], 400)] {
        let mut blk = Block::new(name, &sets);
        let args = blk.args();
        let (prog, info) = (&blk.prog, blk.prog.info().clone());
        // SAFETY: as in `stages`.
        unsafe { prog.load(&args) };
        let mut g = c.benchmark_group(format!("fft_per_frame/{n}"));
        g.bench_function("jit (4 frames / 4)", |b| {
            b.iter_custom(|iters| {
                let t = std::time::Instant::now();
                for _ in 0..iters {
                    // SAFETY: as in `stages`.
                    unsafe { prog.fft(black_box(&args)) };
                }
                t.elapsed() / info.lanes as u32
            })
        });
        // The wide AVX2+FMA kernel (issue 17, not wired into the runtime yet) on the same
        // plan: 8 frames per call, power and sum out like the JIT stage's power sink.
        if let Some(cpu) = Avx2::detect() {
            let fft = WideFft::new(&plan_real(n)).expect("the planner's plan runs on the wide kernels");
            let x = signal(n * LANES, 11);
            let mut p = vec![0f32; fft.bins() * LANES];
            let mut sum = [0f32; LANES];
            let mut scratch = vec![0f32; fft.scratch_len()];
            g.bench_function("wide avx2 (8 frames / 8)", |b| {
                b.iter_custom(|iters| {
                    let t = std::time::Instant::now();
                    for _ in 0..iters {
                        fft.power(cpu, black_box(&x), &mut p, &mut sum, &mut scratch);
                        black_box(&sum);
                    }
                    t.elapsed() / LANES as u32
                })
            });
        } else {
            println!("note: this CPU lacks AVX2+FMA; fft_per_frame/{n}/wide not run");
        }
        let mut planner = realfft::RealFftPlanner::<f32>::new();
        let r2c = planner.plan_fft_forward(n);
        let mut input = signal(n, 5);
        let mut output = r2c.make_output_vec();
        let mut scratch_c = r2c.make_scratch_vec();
        g.bench_function("realfft", |b| {
            b.iter(|| {
                r2c.process_with_scratch(black_box(&mut input), &mut output, &mut scratch_c).expect("sizes")
            })
        });
        g.finish();
    }
}

criterion_group!(benches, fft_vs_realfft, stages, compile_times, engines);
criterion_main!(benches);
