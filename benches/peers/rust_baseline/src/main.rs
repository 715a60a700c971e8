//! The hand-written Rust baseline of the peer comparison (benches/peers): the two workloads written
//! the straightforward fast way, in f32, with realfft.
//!
//! * `K` — `keras.layers.MelSpectrogram()` defaults: reflect pad 1024, frames 2048 hop 512,
//!   periodic hann, real FFT 2048, power, sparse HTK mel filterbank (128 bands, 20..8000 Hz,
//!   triangles linear in mel, `linspace(0, sr/2)` bin grid, DC weights zero — Keras's
//!   `linear_to_mel_weight_matrix`), `10·log10(max(x, 1e-10))`, top_db 80 below the maximum of the
//!   WHOLE batch. Output `(batch, 128, frames)`.
//! * `W` — `whisper.audio.log_mel_spectrogram(x, n_mels=80)`: reflect pad 200, frames 400 hop 160,
//!   periodic hann, real FFT 400, power, sparse Slaney mel (80 bands, 0..8000 Hz, Slaney area
//!   norm — `librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)`), last frame dropped,
//!   `log10(max(x, 1e-10))`, `max(x, max − 8)` over the whole batch, `(x + 4) / 4`.
//!   Output `(batch, 80, frames − 1)`.
//!
//! Usage: `rust_baseline K|W INPUT.npy [--runs R] [--threads N] [--out OUT.npy]`
//! Input: float32 `(batch, samples)` or `(samples,)`. Prints one JSON line with the median and
//! minimum of R timed runs (after one warm-up). FFT plans and filterbanks are made once, before
//! timing (as specc compiles once); each run allocates its output, as a library call does.
//! `--threads N > 1` splits the clips over N rayon threads (feature `rayon`, on by default).

use ndarray::{Array2, Array3};
use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    K,
    W,
}

/// One mel band: its first FFT bin and its non-zero weights.
struct Band {
    start: usize,
    weights: Vec<f32>,
}

/// Everything made once: window, filterbank, FFT plan, geometry.
struct Pipeline {
    kind: Workload,
    n_fft: usize,
    hop: usize,
    pad: usize,
    window: Vec<f32>,
    bands: Vec<Band>,
    fft: Arc<dyn RealToComplex<f32>>,
    samples: usize,
    /// Frames per clip in the output (whisper's last frame already dropped).
    frames: usize,
}

/// Per-thread buffers.
struct Scratch {
    padded: Vec<f32>,
    frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    fft_scratch: Vec<Complex32>,
    power: Vec<f32>,
}

fn hann_periodic(n: usize) -> Vec<f32> {
    (0..n).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32).collect()
}

/// Keras `linear_to_mel_weight_matrix`: HTK mel (1127 ln(1 + f/700)), band edges evenly spaced in
/// mel, triangles linear in mel, bins at `linspace(0, sr/2, n_bins)`, the DC bin zeroed — computed
/// in float32 with the same operations as Keras (JAX's float32 `linspace`). The float32 rounding
/// matters: a band edge next to a pure tone has a weight of ~1e-3 whose float32 value differs from
/// the float64 one by ~0.3 %, enough to move that band by ~5e-3 dB.
fn keras_mel_bands(n_mels: usize, n_bins: usize, sr: f32, fmin: f32, fmax: f32) -> Vec<Band> {
    // jnp.linspace in float32: start * (1 - i/div) + stop * (i/div), the last point exactly stop.
    let linspace = |a: f32, b: f32, n: usize| -> Vec<f32> {
        let div = (n - 1) as f32;
        (0..n)
            .map(|i| {
                if i == n - 1 {
                    b
                } else {
                    let t = i as f32 / div;
                    a * (1.0 - t) + b * t
                }
            })
            .collect()
    };
    let hz_to_mel = |f: f32| 1127.0f32 * (1.0f32 + f / 700.0f32).ln();
    let edges = linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2);
    let bin_mel: Vec<f32> = linspace(0.0, sr / 2.0, n_bins).into_iter().map(hz_to_mel).collect();
    (0..n_mels)
        .map(|m| {
            let (l, c, u) = (edges[m], edges[m + 1], edges[m + 2]);
            let w: Vec<f32> = (0..n_bins)
                .map(|k| {
                    if k == 0 {
                        return 0.0; // bands_to_zero = 1
                    }
                    let x = bin_mel[k];
                    ((x - l) / (c - l)).min((u - x) / (u - c)).max(0.0)
                })
                .collect();
            sparse(w)
        })
        .collect()
}

/// `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)` with the defaults whisper uses: Slaney
/// mel scale, triangles linear in Hz at `rfftfreq` bins, Slaney area normalisation.
fn slaney_mel_bands(n_mels: usize, n_fft: usize, sr: f64, fmin: f64, fmax: f64) -> Vec<Band> {
    let f_sp = 200.0 / 3.0;
    let (min_log_hz, min_log_mel) = (1000.0, 1000.0 / f_sp);
    let logstep = (6.4f64).ln() / 27.0;
    let hz_to_mel =
        |f: f64| if f >= min_log_hz { min_log_mel + (f / min_log_hz).ln() / logstep } else { f / f_sp };
    let mel_to_hz =
        |m: f64| if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { f_sp * m };
    let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let mel_f: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)).collect();
    let n_bins = n_fft / 2 + 1;
    let freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * sr / n_fft as f64).collect();
    (0..n_mels)
        .map(|m| {
            let (d0, d1) = (mel_f[m + 1] - mel_f[m], mel_f[m + 2] - mel_f[m + 1]);
            let enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
            let w: Vec<f32> = freqs
                .iter()
                .map(|&f| {
                    let lower = (f - mel_f[m]) / d0;
                    let upper = (mel_f[m + 2] - f) / d1;
                    (lower.min(upper).max(0.0) * enorm) as f32
                })
                .collect();
            sparse(w)
        })
        .collect()
}

fn sparse(w: Vec<f32>) -> Band {
    let start = w.iter().position(|&v| v != 0.0).unwrap_or(0);
    let end = w.iter().rposition(|&v| v != 0.0).map_or(start, |e| e + 1);
    Band { start, weights: w[start..end].to_vec() }
}

impl Pipeline {
    fn new(kind: Workload, samples: usize) -> Pipeline {
        let sr = 16000.0;
        let (n_fft, hop) = match kind {
            Workload::K => (2048, 512),
            Workload::W => (400, 160),
        };
        let pad = n_fft / 2;
        assert!(samples > pad, "reflect padding needs more than {pad} samples");
        let all_frames = 1 + (samples + 2 * pad - n_fft) / hop;
        let (bands, frames) = match kind {
            Workload::K => (keras_mel_bands(128, n_fft / 2 + 1, sr as f32, 20.0, 8000.0), all_frames),
            Workload::W => (slaney_mel_bands(80, n_fft, sr, 0.0, 8000.0), all_frames - 1),
        };
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        Pipeline { kind, n_fft, hop, pad, window: hann_periodic(n_fft), bands, fft, samples, frames }
    }

    fn scratch(&self) -> Scratch {
        Scratch {
            padded: vec![0.0; self.samples + 2 * self.pad],
            frame: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            fft_scratch: self.fft.make_scratch_vec(),
            power: vec![0.0; self.n_fft / 2 + 1],
        }
    }

    /// One clip into `out` (`bands × frames`, row-major): the log values before the top_db clip.
    /// Returns the clip's maximum.
    fn clip(&self, x: &[f32], out: &mut [f32], s: &mut Scratch) -> f32 {
        let (n, p, t_out) = (x.len(), self.pad, self.frames);
        // numpy 'reflect' (edge sample not repeated)
        s.padded[p..p + n].copy_from_slice(x);
        for i in 0..p {
            s.padded[p - 1 - i] = x[i + 1];
            s.padded[p + n + i] = x[n - 2 - i];
        }
        for t in 0..t_out {
            let src = &s.padded[t * self.hop..t * self.hop + self.n_fft];
            for ((d, &a), &w) in s.frame.iter_mut().zip(src).zip(&self.window) {
                *d = a * w;
            }
            self.fft.process_with_scratch(&mut s.frame, &mut s.spectrum, &mut s.fft_scratch).unwrap();
            for (pw, c) in s.power.iter_mut().zip(&s.spectrum) {
                *pw = c.re * c.re + c.im * c.im;
            }
            for (m, b) in self.bands.iter().enumerate() {
                let acc: f32 = b.weights.iter().zip(&s.power[b.start..]).map(|(w, v)| w * v).sum();
                out[m * t_out + t] = acc;
            }
        }
        let mut mx = f32::NEG_INFINITY;
        for v in out.iter_mut() {
            *v = match self.kind {
                Workload::K => 10.0 * v.max(1e-10).log10(),
                Workload::W => v.max(1e-10).log10(),
            };
            mx = mx.max(*v);
        }
        mx
    }

    /// The top_db clip (and whisper's affine) against the maximum of the whole batch.
    fn finish(&self, out: &mut [f32], mx: f32) {
        match self.kind {
            Workload::K => {
                let floor = mx - 80.0;
                out.iter_mut().for_each(|v| *v = v.max(floor));
            }
            Workload::W => {
                let floor = mx - 8.0;
                out.iter_mut().for_each(|v| *v = (v.max(floor) + 4.0) / 4.0);
            }
        }
    }

    fn clip_len(&self) -> usize {
        self.bands.len() * self.frames
    }

    fn run_serial(&self, x: &Array2<f32>, s: &mut Scratch) -> Vec<f32> {
        let len = self.clip_len();
        let mut out = vec![0.0f32; x.nrows() * len];
        let mut mx = f32::NEG_INFINITY;
        for (row, o) in x.rows().into_iter().zip(out.chunks_mut(len)) {
            mx = mx.max(self.clip(row.as_slice().unwrap(), o, s));
        }
        self.finish(&mut out, mx);
        out
    }

    #[cfg(feature = "rayon")]
    fn run_parallel(
        &self,
        x: &Array2<f32>,
        pool: &rayon::ThreadPool,
        scratches: &[std::sync::Mutex<Scratch>],
    ) -> Vec<f32> {
        use rayon::prelude::*;
        let len = self.clip_len();
        let mut out = vec![0.0f32; x.nrows() * len];
        let rows: Vec<&[f32]> = x.rows().into_iter().map(|r| r.to_slice().unwrap()).collect();
        pool.install(|| {
            let mx = out
                .par_chunks_mut(len)
                .zip(rows.par_iter())
                .map(|(o, row)| {
                    let i = rayon::current_thread_index().unwrap_or(0);
                    let mut s = scratches[i].lock().unwrap();
                    self.clip(row, o, &mut s)
                })
                .reduce(|| f32::NEG_INFINITY, f32::max);
            let chunk = out.len().div_ceil(pool.current_num_threads().max(1));
            out.par_chunks_mut(chunk.max(1)).for_each(|c| self.finish(c, mx));
        });
        out
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("rust_baseline: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: rust_baseline K|W INPUT.npy [--runs R] [--threads N] [--out OUT.npy]";
    if args.len() < 2 {
        return Err(usage.into());
    }
    let kind = match args[0].as_str() {
        "K" | "k" | "keras_mel" => Workload::K,
        "W" | "w" | "whisper" => Workload::W,
        other => return Err(format!("unknown workload {other:?}; {usage}")),
    };
    let input = &args[1];
    let (mut runs, mut threads, mut out_path) = (10usize, 1usize, None::<String>);
    let mut i = 2;
    while i < args.len() {
        let val = args.get(i + 1).ok_or_else(|| format!("{} needs a value", args[i]))?;
        match args[i].as_str() {
            "--runs" => runs = val.parse().map_err(|e| format!("--runs: {e}"))?,
            "--threads" => threads = val.parse().map_err(|e| format!("--threads: {e}"))?,
            "--out" => out_path = Some(val.clone()),
            other => return Err(format!("unknown option {other}; {usage}")),
        }
        i += 2;
    }
    let x: ndarray::ArrayD<f32> =
        ndarray_npy::read_npy(input).map_err(|e| format!("{input}: {e} (float32 .npy expected)"))?;
    let x: Array2<f32> = match x.ndim() {
        1 => x.insert_axis(ndarray::Axis(0)).into_dimensionality().unwrap(),
        2 => x.into_dimensionality().unwrap(),
        d => return Err(format!("input must be (samples,) or (batch, samples), got rank {d}")),
    };
    let x = x.as_standard_layout().to_owned();
    let p = Pipeline::new(kind, x.ncols());
    let threads = threads.max(1);

    #[cfg(feature = "rayon")]
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| e.to_string())?;
    #[cfg(feature = "rayon")]
    let scratches: Vec<std::sync::Mutex<Scratch>> =
        (0..threads).map(|_| std::sync::Mutex::new(p.scratch())).collect();
    #[cfg(not(feature = "rayon"))]
    if threads > 1 {
        return Err("built without the `rayon` feature: --threads must be 1".into());
    }
    let mut serial = p.scratch();
    let mut once = || -> Vec<f32> {
        #[cfg(feature = "rayon")]
        if threads > 1 {
            return p.run_parallel(&x, &pool, &scratches);
        }
        p.run_serial(&x, &mut serial)
    };

    let first = once(); // warm-up (and the output written with --out)
    let mut times = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let y = once();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(&y);
    }
    if let Some(path) = &out_path {
        let y = Array3::from_shape_vec((x.nrows(), p.bands.len(), p.frames), first).unwrap();
        ndarray_npy::write_npy(path, &y).map_err(|e| format!("{path}: {e}"))?;
    }
    let med = median(times.clone());
    let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let list: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
    println!(
        "{{\"peer\": \"rust_baseline\", \"workload\": \"{}\", \"input_shape\": [{}, {}], \"output_shape\": [{}, {}, {}], \
         \"threads\": {threads}, \"runs\": {}, \"median_ms\": {med:.3}, \"min_ms\": {min:.3}, \"times_ms\": [{}]}}",
        if kind == Workload::K { "K" } else { "W" },
        x.nrows(),
        x.ncols(),
        x.nrows(),
        p.bands.len(),
        p.frames,
        times.len(),
        list.join(", ")
    );
    Ok(())
}
