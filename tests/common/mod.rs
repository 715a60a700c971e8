//! What the test crates share: running the built `specc` as a user would, and reading the
//! golden manifest. Each test crate uses a part of it.
#![allow(dead_code)]

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

/// `tests/golden/manifest.json`.
#[derive(Deserialize)]
pub struct Manifest {
    /// The cases.
    pub cases: Vec<Case>,
}

/// One golden case: a spec, its `--set`s, an input, and the library's output or error.
#[derive(Deserialize, Clone)]
pub struct Case {
    /// Case name.
    pub name: String,
    /// Preset name.
    pub spec: String,
    /// `--set` values.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Input file, relative to the fixtures.
    pub input: String,
    /// Expected output file.
    pub expected: Option<String>,
    /// How to compare.
    pub compare: Option<String>,
    /// The library's error, when it rejects the case.
    pub error: Option<String>,
    /// The library's output shape.
    #[serde(default)]
    pub shape: Option<Vec<usize>>,
}

impl Case {
    /// The case's `--set` arguments.
    pub fn sets(&self) -> Vec<String> {
        self.set.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fixtures")
}

/// All golden cases.
pub fn golden_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest");
    let m: Manifest = serde_json::from_str(&text).expect("manifest parses");
    m.cases
}

/// A scratch folder for one test, removed when dropped (also when the test fails), so test
/// runs leave nothing in the system's temporary folder.
pub struct TmpDir(tempfile::TempDir);

impl TmpDir {
    /// A new empty folder whose name starts with `specc-<prefix>-`.
    pub fn new(prefix: &str) -> TmpDir {
        TmpDir(tempfile::Builder::new().prefix(&format!("specc-{prefix}-")).tempdir().expect("temp dir"))
    }
}

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for TmpDir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}
