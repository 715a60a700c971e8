//! Expression text with deep nesting, as a `--set` value and inside a spec, through
//! [`specc::Pipeline::compile`] (parse, lower with the constant evaluator, passes), the error
//! rendered as the CLI renders it. Nothing may panic, overflow the stack, wrap an integer or take
//! unbounded time or memory, however deep the text nests.
//!
//! libFuzzer's byte mutations alone rarely build 700 nested parentheses, so the input describes
//! the nesting: two bytes give a repeat count `n` (the first byte, times 157 when the second is
//! odd), a third picks the parameter, the rest is UTF-8 (lossy) split on NUL bytes into `open`,
//! `core`, `close` and an optional parameter name. The expression is
//! `open` × n, `core`, `close` × n: `(`/`1`/`)` nests parentheses, `-`/`1`/`` stacks unary
//! minus, `1+`/`1`/`` makes a long chain, `if true {`/`1`/`} else {2}` nests blocks.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// A small spec with a param of each type, so that each input costs a parse and a lowering
/// rather than a preset's mel tables: the expression is set to one of them, and is also the
/// default of `p` in a copy of the spec.
const SPEC: &str = "spec fuzz
param i: int = 4
param f: float = 0.5
param h: Hz? = none
param w: window? = hann
param b: bool = true
param m: a | b = a
input audio: f32[..., samples] at 16 kHz
let n = if b { i } else { 2 * i }
audio |> frames(length: max(n, 1), hop: 2) |> window(w) |> scale(f)
";

const PARAMS: &[&str] = &["i", "f", "h", "w", "b", "m"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    // Half the inputs nest up to 255 deep (past the bound of 100, cheap to run); the other
    // half repeat up to 40035 times, long texts that show whether anything is slower than
    // linear (pest and AddressSanitizer take about 10 µs a byte).
    let n = usize::from(data[0]) * if data[1] & 1 == 1 { 157 } else { 1 };
    let which = usize::from(data[2]) % PARAMS.len();
    let text = String::from_utf8_lossy(&data[3..]);
    let mut parts = text.split('\0');
    let open = parts.next().unwrap_or_default();
    let core = parts.next().unwrap_or_default();
    let close = parts.next().unwrap_or_default();
    // Keep the text within what a command line or a spec file plausibly holds (a few MB).
    if (open.len() + close.len()).saturating_mul(n) + core.len() > 4 << 20 {
        return;
    }
    let expr = format!("{}{core}{}", open.repeat(n), close.repeat(n));
    let name = parts.next().filter(|s| !s.is_empty()).unwrap_or(PARAMS[which]);
    let set = format!("{name}={expr}");
    check(specc::Pipeline::compile("fuzz.spec", SPEC, &[&set]));
    let decl = SPEC.find(&format!("param {}:", PARAMS[which])).expect("param line");
    let at = decl + SPEC[decl..].find('=').expect("default") + 1;
    let end = at + SPEC[at..].find('\n').expect("line end");
    let spec = format!("{} {expr}{}", &SPEC[..at], &SPEC[end..]);
    check(specc::Pipeline::compile("fuzz.spec", &spec, &[]));
});

fn check(r: Result<specc::Pipeline, specc::Error>) {
    match r {
        Ok(p) => {
            let _ = p.graph().to_string();
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = format!("{:?}", miette::Report::new(e));
        }
    }
}
