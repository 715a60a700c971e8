//! What the CLI tests share: running the built `specc` as a user would.

use std::process::{Command, Output};

/// Runs `specc` with `args` from the repository root, colours off.
pub fn specc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs specc")
}

/// A run's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
