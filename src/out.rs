//! Every byte the CLI prints goes through here, so that a closed or full stream never panics.
//!
//! `println!` panics when stdout is a closed pipe (`specc presets | head -1`) and `eprintln!`
//! when stderr is full (`2>/dev/full`): the process ends with status 101 and a panic message.
//! Here, as a well-mannered Unix tool does (and as ripgrep does):
//! - stdout closed by the reader (EPIPE): the reader has what it wanted; exit at once with
//!   status 0, printing nothing more;
//! - stdout failing otherwise (a full disk): say so on stderr and exit with status 1;
//! - stderr failing: there is nowhere left to report it; the message is dropped and the
//!   command carries on to its normal exit status.

use std::fmt;
use std::io::{self, Write};

/// Writes formatted text to stdout (see the module doc for errors).
pub fn stdout_fmt(args: fmt::Arguments<'_>) {
    let mut o = io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.flush()) {
        stdout_failed(&e);
    }
}

/// Writes bytes to stdout: `Ok` when written, an error message for anything but a closed pipe
/// (which exits quietly, as for text).
pub fn stdout_bytes(bytes: &[u8]) -> Result<(), String> {
    let mut o = io::stdout().lock();
    o.write_all(bytes).and_then(|()| o.flush()).map_err(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            closed();
        }
        format!("cannot write stdout: {e}")
    })
}

/// Writes formatted text to stderr, dropping it if stderr cannot take it.
pub fn stderr_fmt(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

fn stdout_failed(e: &io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        closed();
    }
    stderr_fmt(format_args!("error: cannot write stdout: {e}\n"));
    std::process::exit(1)
}

/// The reader of stdout went away: nothing left to do.
fn closed() -> ! {
    std::process::exit(0)
}

/// `println!` through [`stdout_fmt`].
macro_rules! outln {
    () => { $crate::out::stdout_fmt(format_args!("\n")) };
    ($($t:tt)*) => { $crate::out::stdout_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!` through [`stdout_fmt`].
macro_rules! out {
    ($($t:tt)*) => { $crate::out::stdout_fmt(format_args!($($t)*)) };
}

/// `eprintln!` through [`stderr_fmt`].
macro_rules! errln {
    ($($t:tt)*) => { $crate::out::stderr_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

pub(crate) use {errln, out, outln};
