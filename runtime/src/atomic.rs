//! Output files are written to a temporary sibling and renamed into place, so a failed or
//! interrupted write never leaves a partial file where a user (or a viewer) would find it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporaries of parallel writes within one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Why an atomic write failed.
#[derive(Debug)]
pub(crate) enum AtomicError {
    /// The temporary file could not be created (missing folder, permissions).
    Create(io::Error),
    /// Writing, syncing or renaming failed; the temporary file was removed.
    Write(io::Error),
}

/// Runs `body` on a buffered temporary file next to `path`, then syncs it and renames it to
/// `path`. On any error the temporary is removed and `path` is left as it was.
pub(crate) fn write(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), AtomicError> {
    let name = path
        .file_name()
        .ok_or_else(|| AtomicError::Create(io::Error::new(io::ErrorKind::InvalidInput, "not a file path")))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let file =
        std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(AtomicError::Create)?;
    let res = (|| -> io::Result<()> {
        let mut buf = BufWriter::new(file);
        body(&mut buf)?;
        buf.flush()?;
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(AtomicError::Write(e));
    }
    Ok(())
}
