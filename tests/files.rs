//! Files, memory and threads (issue 13, items 6-17): no input is ever overwritten, special files
//! are never replaced, an interrupted run leaves no temporary, and what a header, a stream or a
//! thread count says cannot take the machine's memory or threads.

mod common;

use common::stderr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("specc-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

/// Runs `specc` in `dir`.
fn specc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_specc")).args(args).current_dir(dir).output().expect("runs specc")
}

/// A float32 `.npy` of seeded noise.
fn noise_npy(path: &Path, n: usize, seed: u64) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    let a = ndarray::Array1::from(v);
    ndarray_npy::write_npy(path, &a).expect("write npy");
}

/// Every entry of `dir` (recursively, sorted) with its bytes: what "byte-identical and nothing
/// added" is checked against.
fn snapshot(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            let meta = std::fs::symlink_metadata(&p).expect("meta");
            let name = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            if meta.is_dir() {
                stack.push(p);
                out.push((name, None));
            } else if meta.is_file() {
                out.push((name, Some(std::fs::read(&p).expect("read"))));
            } else {
                out.push((name, std::fs::read_link(&p).ok().map(|t| t.display().to_string().into_bytes())));
            }
        }
    }
    out.sort();
    out
}

fn no_temporaries(dir: &Path) {
    let left: Vec<String> = snapshot(dir)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.contains(".specc-") || n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporaries left behind: {left:?}");
}

#[test]
fn an_output_that_resolves_to_an_input_is_refused_before_anything_is_written() {
    let d = scratch("clobber");
    noise_npy(&d.join("x.npy"), 16000, 1);
    std::os::unix::fs::symlink("x.npy", d.join("link.npy")).expect("symlink");
    std::fs::hard_link(d.join("x.npy"), d.join("hard.npy")).expect("hard link");
    std::fs::create_dir(d.join("folder")).expect("folder");
    noise_npy(&d.join("folder/y.npy"), 16000, 2);
    let before = snapshot(&d);
    let absolute = d.join("folder/../x.npy").display().to_string();
    for args in [
        &["run", "keras_mel", "x.npy", "-o", "."][..],
        &["run", "keras_mel", "x.npy", "-o", "./x.npy"],
        &["run", "keras_mel", "x.npy", "-o", "link.npy"],
        &["run", "keras_mel", "x.npy", "-o", "hard.npy"],
        &["run", "keras_mel", "x.npy", "-o", &absolute],
        &["run", "keras_mel", "folder", "-o", "folder/"],
        &["run", "keras_mel", "folder/", "-o", "./folder"],
    ] {
        let o = specc_in(&d, args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("refusing to write") && err.contains("(the same file)"), "{args:?}: {err}");
        assert_eq!(snapshot(&d), before, "{args:?} changed the folder");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn special_files_are_streamed_into_and_symlinks_written_through() {
    let d = scratch("special");
    noise_npy(&d.join("x.npy"), 16000, 3);
    // A character device: streamed into, still a device afterwards.
    let o = specc_in(&d, &["run", "keras_mel", "x.npy", "-o", "/dev/null", "--format", "npy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null").expect("meta").file_type().is_char_device());
    // A FIFO: a reader gets the whole .npy, and the FIFO stays a FIFO.
    let fifo = d.join("out.npy");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read fifo"))
    };
    let o = specc_in(&d, &["run", "keras_mel", "x.npy", "-o", "out.npy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = reader.join().expect("reader");
    let y = specc::npy::read_bytes("fifo", &bytes).expect("a whole .npy came through the FIFO");
    assert_eq!(y.view().shape(), &[128, 32]);
    assert!(std::fs::symlink_metadata(&fifo).expect("meta").file_type().is_fifo());
    // A symlink to a file: the target gets the output, the link stays a link.
    std::fs::write(d.join("target.npy"), b"old").expect("write");
    std::os::unix::fs::symlink("target.npy", d.join("link.npy")).expect("symlink");
    let o = specc_in(&d, &["run", "keras_mel", "x.npy", "-o", "link.npy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(d.join("link.npy")).expect("meta").file_type().is_symlink());
    assert!(specc::npy::read(&d.join("target.npy")).is_ok());
    // A symlink to nothing: refused, nothing created.
    std::os::unix::fs::symlink("nowhere.npy", d.join("dangling.npy")).expect("symlink");
    let before = snapshot(&d);
    let o = specc_in(&d, &["run", "keras_mel", "x.npy", "-o", "dangling.npy"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(snapshot(&d), before);
    // A full disk (/dev/full) gives the OS's words, not the zip writer's debug text.
    let o = specc_in(&d, &["run", "keras_mel", "x.npy", "-o", "/dev/full", "--format", "npz"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("No space left on device") && !err.contains("ZipWriter"), "{err}");
    no_temporaries(&d);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn an_existing_npz_is_replaced_only_when_every_input_succeeded() {
    let d = scratch("npz");
    noise_npy(&d.join("a.npy"), 16000, 4);
    noise_npy(&d.join("good.npy"), 16000, 5);
    ndarray_npy::write_npy(d.join("bad.npy"), &ndarray::Array1::<f32>::zeros(0)).expect("write");
    let o = specc_in(&d, &["run", "keras_mel", "a.npy", "good.npy", "-o", "all.npz"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(d.join("all.npz")).expect("npz");
    let o = specc_in(&d, &["run", "keras_mel", "bad.npy", "good.npy", "-o", "all.npz"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("all.npz was not replaced"), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("all.npz")).expect("npz"), before, "the old archive lost arrays");
    // A new archive holds what succeeded, and the summary says which.
    let o = specc_in(&d, &["run", "keras_mel", "bad.npy", "good.npy", "-o", "new.npz"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("new.npz holds 1 of 2 arrays (good)"), "{}", stderr(&o));
    let mut npz =
        ndarray_npy::NpzReader::new(std::fs::File::open(d.join("new.npz")).expect("open")).expect("npz");
    assert_eq!(npz.names().expect("names"), ["good"]);
    no_temporaries(&d);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn output_names_of_255_bytes_are_written() {
    let d = scratch("long");
    noise_npy(&d.join("x.npy"), 16000, 6);
    let name = format!("{}.npy", "n".repeat(251));
    let o = specc_in(&d, &["run", "keras_mel", "x.npy", "-o", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(specc::npy::read(&d.join(&name)).is_ok());
    no_temporaries(&d);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sigint_during_a_multi_file_run_removes_temporaries_and_counts_complete_outputs() {
    let d = scratch("sigint");
    std::fs::create_dir(d.join("in")).expect("in");
    for i in 0..40 {
        noise_npy(&d.join(format!("in/c{i:02}.npy")), 160_000, 100 + i);
    }
    // The interpreter on one job: slow enough to be interrupted part-way.
    let child = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["run", "keras_mel", "in/", "-o", "out/", "--engine", "interp", "--jobs", "1"])
        .current_dir(&d)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let first = d.join("out/c00.npy");
    let t = std::time::Instant::now();
    while !first.exists() && t.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let o = child.wait_with_output().expect("wait");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    let line =
        err.lines().find(|l| l.starts_with("interrupted by SIGINT: ")).unwrap_or_else(|| panic!("{err}"));
    let done: usize = line["interrupted by SIGINT: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(line.contains(" of 40 output(s) written completely"), "{line}");
    no_temporaries(&d);
    let written: Vec<_> =
        std::fs::read_dir(d.join("out")).expect("out").map(|e| e.expect("entry").path()).collect();
    assert_eq!(written.len(), done, "{line}: {written:?}");
    for p in &written {
        assert!(specc::npy::read(p).is_ok(), "{} is not a complete .npy", p.display());
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// A mono 16-bit WAV header whose data chunk declares `data_bytes`, followed by `pcm`.
fn wav_bytes(rate: u32, data_bytes: u32, pcm: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&36u32.saturating_add(data_bytes).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_bytes.to_le_bytes());
    b.extend_from_slice(pcm);
    b
}

#[test]
fn audio_headers_do_not_size_allocations_and_audio_counts_against_the_memory_limit() {
    let d = scratch("audio-mem");
    // 844 bytes that claim 2 GiB of samples: refused from the file size, nothing allocated.
    std::fs::write(d.join("claims.wav"), wav_bytes(16000, 1 << 31, &[1u8; 800])).expect("write");
    assert_eq!(std::fs::metadata(d.join("claims.wav")).expect("meta").len(), 844);
    let o = specc_in(&d, &["run", "keras_mel", "claims.wav", "-o", "c.npy", "--set", "sampling_rate=16000"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("declares 1073741824 samples but the file holds 400"), "{}", stderr(&o));
    // Ten seconds of real audio: over a 100 KiB limit by its header alone...
    let pcm: Vec<u8> =
        (0..160_000u32).flat_map(|i| (((i * 7919) % 20000) as i16 - 10000).to_le_bytes()).collect();
    std::fs::write(d.join("ten.wav"), wav_bytes(16000, pcm.len() as u32, &pcm)).expect("write");
    let o = specc_in(
        &d,
        &[
            "run",
            "keras_mel",
            "ten.wav",
            "-o",
            "t.npy",
            "--set",
            "sampling_rate=16000",
            "--max-memory",
            "100K",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ten.wav is too large: its header declares 160000 samples"),
        "{}",
        stderr(&o)
    );
    // ... and within 2 MiB decoded, but its spectrogram (or its 4x resampling) is not: refused
    // before decoding, from the header.
    for extra in [&["--set", "sampling_rate=16000"][..], &["--set", "sampling_rate=64000", "--resample"]] {
        let mut args = vec!["run", "keras_mel", "ten.wav", "-o", "t.npy", "--max-memory", "2M"];
        args.extend_from_slice(extra);
        let o = specc_in(&d, &args);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("ten.wav is too large: input too large"), "{extra:?}: {}", stderr(&o));
    }
    let o = specc_in(&d, &["run", "keras_mel", "ten.wav", "-o", "t.npy", "--set", "sampling_rate=16000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The resampler checks its output size before allocating it.
    let a = specc::audio::Audio::new(1000, 1, vec![0.0; 1000]).expect("audio");
    let e = a.resample_within(64_000, 1 << 16).expect_err("64000 samples of f32 exceed 64 KiB");
    assert!(e.to_string().contains("over the memory limit"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn streams_and_devices_are_read_within_bounds() {
    let d = scratch("streams");
    for args in [
        &["run", "keras_mel", "/dev/zero", "-o", "z.npy"][..],
        &["check", "/dev/zero"],
        &["run", "/dev/zero", "/dev/zero", "-o", "z.npy"],
    ] {
        let o = specc_in(&d, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    }
    // An endless pipe on /dev/stdin and on `-`.
    for input in ["/dev/stdin", "-"] {
        let mut cat = Command::new("cat").arg("/dev/zero").stdout(Stdio::piped()).spawn().expect("cat");
        let o = Command::new(env!("CARGO_BIN_EXE_specc"))
            .args(["run", "keras_mel", input, "-o", "z.npy"])
            .current_dir(&d)
            .stdin(cat.stdout.take().expect("pipe"))
            .output()
            .expect("specc");
        let _ = cat.kill();
        let _ = cat.wait();
        assert_eq!(o.status.code(), Some(1), "{input}: {}", stderr(&o));
    }
    // A .npy header on a pipe declaring more than the limit: refused before its data is read.
    let mut big = Vec::new();
    ndarray_npy::WriteNpyExt::write_npy(&ndarray::Array1::<f32>::zeros(1 << 20), &mut big).expect("npy");
    let mut child = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["run", "keras_mel", "-", "-o", "z.npy", "--max-memory", "1M"])
        .current_dir(&d)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(&big[..4096]);
    }
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("over the memory limit of 1 MiB"), "{}", stderr(&o));
    // A FIFO holding a WAV is read as the stream it is.
    let fifo = d.join("speech.wav");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/speech.wav");
    let writer = std::thread::spawn(move || std::fs::write(&fifo, std::fs::read(src).expect("speech")));
    let o = specc_in(&d, &["run", "keras_mel", "speech.wav", "-o", "s.npy", "--set", "sampling_rate=16000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    writer.join().expect("writer").expect("wrote the FIFO");
    assert!(specc::npy::read(&d.join("s.npy")).is_ok());
    assert!(!d.join("z.npy").exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn folder_scans_do_not_follow_folder_links_and_run_each_file_once() {
    let d = scratch("scan");
    std::fs::create_dir(d.join("in")).expect("in");
    noise_npy(&d.join("in/a.npy"), 16000, 7);
    for link in ["x", "y", "self"] {
        std::os::unix::fs::symlink(".", d.join("in").join(link)).expect("symlink");
    }
    std::os::unix::fs::symlink("a.npy", d.join("in/b.npy")).expect("file link");
    let o = specc_in(&d, &["run", "keras_mel", "in/", "-o", "out/"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let outs: Vec<String> = std::fs::read_dir(d.join("out"))
        .expect("out")
        .map(|e| e.expect("e").file_name().to_string_lossy().into())
        .collect();
    assert_eq!(outs, ["a.npy"], "{err}");
    assert!(err.contains("a link to a folder (links to folders are not followed)"), "{err}");
    assert!(err.contains("the same file as"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn thread_counts_are_capped_at_the_cores_and_inputs() {
    let d = scratch("threads");
    for i in 0..3 {
        noise_npy(&d.join(format!("c{i}.npy")), 8000, 200 + i);
    }
    for jobs in ["1000000000", "10000"] {
        let o =
            specc_in(&d, &["run", "keras_mel", "c0.npy", "c1.npy", "c2.npy", "-o", "out/", "--jobs", jobs]);
        assert!(o.status.success(), "--jobs {jobs}: {}", stderr(&o));
    }
    let o = specc_in(
        &d,
        &[
            "bench",
            "keras_mel",
            "--threads",
            "1000000",
            "--batch",
            "2",
            "--seconds",
            "1",
            "--runs",
            "1",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let json = String::from_utf8_lossy(&o.stdout);
    assert!(json.contains(&format!("\"threads\": {cores},")), "{json}");
    assert_eq!(specc::pool::threads(1_000_000), cores);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_pool_used_before_fork_is_never_used_in_the_child() {
    let p = specc::Pipeline::preset("keras_mel", &[]).expect("preset").with_threads(2);
    let x = ndarray::ArrayD::<f32>::from_shape_fn(vec![4, 16000], |i| (i[1] as f32 * 0.01).sin());
    let want = p.run(&specc::Input::F32(x.view())).expect("parent run");
    // SAFETY: fork(2); the child only runs the pipeline, then leaves with _exit (no unwinding,
    // no destructors of the parent's state); SIGALRM ends it if it hangs.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: alarm(2) and _exit(2) are async-signal-safe calls without memory arguments.
        unsafe { libc::alarm(20) };
        let ok = p.run(&specc::Input::F32(x.view())).is_ok_and(|y| y == want);
        // SAFETY: as above.
        unsafe { libc::_exit(if ok { 0 } else { 3 }) };
    }
    let mut status = 0;
    // SAFETY: waitpid(2) on our child, with a valid pointer to a local.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "the child was killed (signal {}): it hung", libc::WTERMSIG(status));
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child's result differs");
}

/// Runs `specc args` in `dir` and returns its peak RSS in bytes. The measuring process must be
/// small: a child's `ru_maxrss` starts from the memory of the process it was spawned from, so
/// this test binary re-runs itself as a one-test helper (see `peak_rss_helper`) to spawn specc.
fn peak_rss(dir: &Path, args: &[&str]) -> u64 {
    let o = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "peak_rss_helper", "--nocapture", "--test-threads", "1"])
        .env("SPECC_PEAK_DIR", dir)
        .env("SPECC_PEAK_ARGS", args.join("\u{1f}"))
        .output()
        .expect("helper");
    let text = String::from_utf8_lossy(&o.stdout);
    text.lines()
        .find_map(|l| l.split_once("PEAK ").and_then(|(_, v)| v.split_whitespace().next()?.parse().ok()))
        .unwrap_or_else(|| panic!("no peak reported: {text} {}", stderr(&o)))
}

/// Not a test of its own: when `SPECC_PEAK_ARGS` is set, spawns specc with them and prints
/// `PEAK <bytes>` (its `ru_maxrss` from wait4); otherwise does nothing.
#[test]
fn peak_rss_helper() {
    let (Ok(dir), Ok(args)) = (std::env::var("SPECC_PEAK_DIR"), std::env::var("SPECC_PEAK_ARGS")) else {
        return;
    };
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which also gives its rusage
    let child = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(args.split('\u{1f}'))
        .current_dir(dir)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // SAFETY: rusage is plain integers and timevals, for which all-zero bytes are valid.
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: wait4(2) on our own child with valid pointers to locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "specc failed");
    // ru_maxrss is in KiB on Linux.
    println!("PEAK {}", usage.ru_maxrss as u64 * 1024);
}

#[test]
fn the_planned_memory_bounds_the_peak_of_both_engines() {
    let d = scratch("peak");
    // Two minutes at 16 kHz: long enough that the interpreter's copies of the input (which the
    // graph's values alone undercounted by ~30 MiB here) outweigh the process's own memory.
    let n = 1_920_000;
    noise_npy(&d.join("long.npy"), n, 9);
    let p = specc::Pipeline::preset("keras_mel", &[]).expect("preset");
    let planned = p.plan(&[n], "float32").expect("plan").memory;
    for engine in ["jit", "interp"] {
        let peak = peak_rss(&d, &["run", "keras_mel", "long.npy", "-o", "y.npy", "--engine", engine]);
        // The process itself (code, allocator, the test helper it was spawned from, the JIT's
        // compiler) takes up to ~16 MiB.
        let base = 16 << 20;
        assert!(
            peak <= planned + base,
            "{engine}: peak {} MiB over the plan's {} MiB",
            peak >> 20,
            planned >> 20
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn audio_fields_are_checked_at_construction() {
    use specc::audio::{Audio, ChannelMode};
    assert!(Audio::new(16000, 0, vec![]).is_err());
    assert!(Audio::new(0, 1, vec![0.0; 4]).is_err());
    assert!(Audio::new(16000, 2, vec![0.0; 5]).is_err());
    let a = Audio::new(8000, 2, vec![0.5, -1.0, 0.25, 0.25, 1.0, -0.25]).expect("stereo");
    assert_eq!((a.rate(), a.channels(), a.frames()), (8000, 2, 3));
    assert_eq!(a.clone().select(ChannelMode::Mix).data(), [0.375, 0.0, 0.0]);
    let b = a.resample(16000).expect("resample");
    assert_eq!((b.channels(), b.frames(), b.data().len()), (2, 6, 12));
}
