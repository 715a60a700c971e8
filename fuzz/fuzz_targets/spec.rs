//! Arbitrary spec text and `--set` strings through what `specc check`/`run` do before running:
//! parse, lower, optimize ([`specc::Pipeline::compile`]), render the error as the CLI does, print
//! the graphs, and plan a few input shapes. None of it may panic, and none of it may take
//! unbounded time or memory (libFuzzer's -timeout and -rss_limit_mb report those).
//!
//! Input: UTF-8 (lossy) split on NUL bytes: the first part is the spec text, or the name of a
//! shipped preset (then its text is used); the following parts (at most 16) are `name=value`
//! overrides, as `--set` passes them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let head = parts.next().unwrap_or_default();
    let sets: Vec<&str> = parts.take(16).collect();
    let spec = specc::preset_text(head.trim()).unwrap_or(head);
    match specc::Pipeline::compile("fuzz.spec", spec, &sets) {
        Ok(p) => {
            let _ = p.graph().to_string();
            let _ = p.optimized().to_string();
            for shape in [&[1usize][..], &[16000], &[2, 4000], &[1, 4000, 1], &[3, 1, 1 << 20]] {
                for dtype in ["float32", "float64", "int16"] {
                    let _ = p.plan(shape, dtype).map_err(|e| e.to_string());
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = format!("{:?}", miette::Report::new(e));
        }
    }
});
