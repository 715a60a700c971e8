//! Real audio in, pictures and arrays out, as a user runs it: every format, folders with bad
//! files in them, sample-rate mismatches, channels, PNG and NPZ outputs.

mod common;

use common::{specc, stderr as err};
use std::path::Path;
use std::process::Command;

fn tmpdir(name: &str) -> common::TmpDir {
    common::TmpDir::new(&format!("audio-{name}"))
}

fn read_f32(p: &Path) -> ndarray::ArrayD<f32> {
    match specc::npy::read(p).expect("npy") {
        specc::npy::Array::F32(a) => a,
        _ => panic!("float32 expected"),
    }
}

#[test]
fn every_audio_format_gives_the_keras_mel_of_the_recording() {
    let d = tmpdir("formats");
    let reference = d.join("npy.npy");
    let o = specc(&["run", "keras_mel", "examples/speech.npy", "-o", reference.to_str().unwrap_or("")]);
    assert!(o.status.success(), "{}", err(&o));
    let want = read_f32(&reference);
    for ext in ["wav", "flac", "mp3", "ogg"] {
        let out = d.join(format!("{ext}.npy"));
        let input = format!("examples/speech.{ext}");
        let o = specc(&["run", "keras_mel", &input, "-o", out.to_str().unwrap_or("")]);
        assert!(o.status.success(), "{ext}: {}", err(&o));
        let got = read_f32(&out);
        assert_eq!(got.shape()[0], 128, "{ext}");
        if ext == "wav" || ext == "flac" {
            // Lossless: the same samples as the .npy, so the same spectrogram.
            assert_eq!(got, want, "{ext} differs from the .npy path");
        } else {
            // Lossy: same length within an encoder's padding, and close in dB where there is
            // speech energy (within 30 dB of the peak).
            let frames = got.shape()[1].min(want.shape()[1]);
            assert!((got.shape()[1] as i64 - want.shape()[1] as i64).abs() <= 4, "{ext}: {:?}", got.shape());
            let peak = want.iter().cloned().fold(f32::MIN, f32::max);
            let mut sum = 0.0;
            let mut n = 0;
            for m in 0..128 {
                for t in 0..frames {
                    let w = want[[m, t]];
                    if w > peak - 30.0 {
                        sum += (got[[m, t]] - w).abs();
                        n += 1;
                    }
                }
            }
            let mean = sum / n.max(1) as f32;
            assert!(n > 100 && mean < 3.0, "{ext}: mean |dB error| {mean} over {n} loud cells");
        }
    }
}

#[test]
fn png_of_a_speech_mp3_looks_like_a_spectrogram() {
    let d = tmpdir("png");
    let out = d.join("speech.png");
    let o = specc(&["run", "keras_mel", "examples/speech.mp3", "-o", out.to_str().unwrap_or("")]);
    assert!(o.status.success(), "{}", err(&o));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).expect("png")));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    // The default figure: a 1000x400 plot with axes, title and colorbar around it.
    assert_eq!((info.width, info.height), (1246, 500));
    let px = &buf[..info.buffer_size()];
    let w = info.width as usize * 3;
    // The plot area is at x 104..1104, y 44..444.
    let plot_row = |y: usize| &px[y * w + 104 * 3..y * w + 1104 * 3];
    let distinct: std::collections::HashSet<&[u8]> = (44..444).flat_map(|y| plot_row(y).chunks(3)).collect();
    assert!(distinct.len() > 50, "a speech spectrogram has many colours, got {}", distinct.len());
    // Low frequencies at the bottom: speech has more energy there, so the bottom rows are
    // brighter (magma: brighter = larger sum of RGB) than the top rows.
    let row_brightness = |y: usize| -> u64 { plot_row(y).iter().map(|&v| v as u64).sum() };
    let bottom: u64 = (344..444).map(row_brightness).sum();
    let top: u64 = (44..144).map(row_brightness).sum();
    assert!(bottom > top, "bottom {bottom} should be brighter than top {top}");

    let sized = d.join("sized.png");
    let o = specc(&[
        "run",
        "keras_mel",
        "examples/speech.wav",
        "-o",
        sized.to_str().unwrap_or(""),
        "--png-size",
        "400x200",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&sized).expect("png")))
        .read_info()
        .expect("header");
    assert_eq!((reader.info().width, reader.info().height), (400, 200));
}

#[test]
fn a_folder_of_mixed_files_runs_every_good_file_and_reports_the_bad_ones() {
    let src = tmpdir("folder-in");
    std::fs::copy("examples/speech.wav", src.join("a.wav")).expect("copy");
    std::fs::create_dir_all(src.join("sub")).expect("sub");
    std::fs::copy("examples/speech.flac", src.join("sub/b.flac")).expect("copy");
    std::fs::write(src.join("notes.txt"), "not audio").expect("write");
    std::fs::write(src.join("broken.wav"), b"RIFF\x10\x00\x00\x00WAVEjunk").expect("write");
    let out = tmpdir("folder-out");
    let o = specc(&["run", "keras_mel", src.to_str().unwrap_or(""), "-o", out.to_str().unwrap_or("")]);
    let e = err(&o);
    assert!(!o.status.success(), "a failed file makes the exit code non-zero:\n{e}");
    assert!(e.contains("skipping") && e.contains("notes.txt"), "{e}");
    assert!(e.contains("broken.wav"), "{e}");
    assert!(e.contains("3 files: 2 done, 1 failed"), "{e}");
    assert!(e.contains("real time"), "{e}");
    assert!(out.join("a.npy").exists() && out.join("sub_b.npy").exists());
    assert!(!out.join("broken.npy").exists(), "no output for a failed input");
    let leftovers: Vec<_> = std::fs::read_dir(&out).expect("dir").flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[test]
fn sample_rate_mismatch_stops_unless_resampling() {
    let d = tmpdir("rate");
    let out = d.join("x.npy");
    let o = specc(&[
        "run",
        "keras_mel",
        "examples/speech.wav",
        "-o",
        out.to_str().unwrap_or(""),
        "--set",
        "sampling_rate=22050",
    ]);
    let e = err(&o);
    assert!(!o.status.success());
    assert!(e.contains("16000 Hz") && e.contains("22050 Hz") && e.contains("--resample"), "{e}");
    let o = specc(&[
        "run",
        "keras_mel",
        "examples/speech.wav",
        "-o",
        out.to_str().unwrap_or(""),
        "--set",
        "sampling_rate=22050",
        "--resample",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    // 41955 samples at 16 kHz are 57813 at 22.05 kHz: 1 + 57813 // 512 = 113 frames.
    assert_eq!(read_f32(&out).shape(), &[128, 113]);
}

fn stereo_wav(path: &Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    for i in 0..8000 {
        let t = i as f64 / 16000.0;
        let l = (2.0 * std::f64::consts::PI * 440.0 * t).sin() * 0.5;
        let r = (2.0 * std::f64::consts::PI * 1500.0 * t).sin() * 0.25;
        w.write_sample((l * 32767.0) as i16).expect("sample");
        w.write_sample((r * 32767.0) as i16).expect("sample");
    }
    w.finalize().expect("finalize");
}

#[test]
fn channels_mix_first_all() {
    let d = tmpdir("channels");
    let wav = d.join("stereo.wav");
    stereo_wav(&wav);
    let run = |spec: &str, mode: &str, extra: &[&str]| {
        let out = d.join(format!("{spec}-{mode}-{}.npy", extra.len()));
        let mut args = vec![
            "run",
            spec,
            wav.to_str().unwrap_or(""),
            "-o",
            out.to_str().unwrap_or(""),
            "--channels",
            mode,
        ];
        args.extend_from_slice(extra);
        let o = specc(&args);
        assert!(o.status.success(), "{spec} {mode}: {}", err(&o));
        read_f32(&out)
    };
    assert_eq!(run("keras_mel", "mix", &[]).shape(), &[128, 16]);
    assert_eq!(run("keras_mel", "first", &[]).shape(), &[128, 16]);
    assert_eq!(run("keras_mel", "all", &[]).shape(), &[2, 128, 16]);
    // Channel 0 of `all` is `first` (Keras's top_db maximum spans both channels, so compare
    // the power_to_db=false spectra).
    let lin = ["--set", "power_to_db=false"];
    let all = run("keras_mel", "all", &lin);
    assert_eq!(all.index_axis(ndarray::Axis(0), 0), run("keras_mel", "first", &lin));
    // STFT presets take (batch, samples, channels): a stereo file is a batch of one.
    assert_eq!(run("keras_stft", "all", &[]).shape(), &[1, 61, 2 * 129]);
}

#[test]
fn npz_holds_one_array_per_input() {
    let d = tmpdir("npz");
    let out = d.join("all.npz");
    let o = specc(&[
        "run",
        "whisper",
        "examples/speech.wav",
        "examples/speech.flac",
        "-o",
        out.to_str().unwrap_or(""),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&out).expect("npz")).expect("reads");
    let mut names = npz.names().expect("names");
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    for n in names {
        let a: ndarray::ArrayD<f32> = npz.by_name(&n).expect("array");
        assert_eq!(a.shape(), &[80, 262], "{n}");
    }
}

#[test]
fn embed_example_runs() {
    // Built by `cargo test` with the other examples.
    let exe = Path::new(env!("CARGO_BIN_EXE_specc")).with_file_name("examples").join("embed");
    if !exe.exists() {
        panic!("examples/embed was not built at {}", exe.display());
    }
    let o = Command::new(&exe)
        .arg("examples/speech.wav")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", err(&o));
    assert!(text.contains("mel spectrogram [128, 82]"), "{text}");
}
