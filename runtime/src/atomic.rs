//! Every output file goes through [`write`], which decides once, for all formats, how a path is
//! written:
//!
//! - a regular file (or a new name) is written to a temporary sibling with a short random name
//!   (`tempfile`, so a name of up to 255 bytes still has room) and renamed into place, so a failed
//!   or interrupted write never leaves a partial file where a user (or a viewer) would find it;
//! - a symbolic link is written through: its target is replaced as above and the link stays
//!   (a link to nothing is refused);
//! - a character device (`/dev/null`, a terminal) or a FIFO is streamed into, never replaced;
//! - a folder, a block device or a socket is refused.
//!
//! Temporaries are listed in a process-wide registry while they exist, so a signal handler can
//! remove them before the process exits ([`remove_temporaries`]).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Why a write failed.
#[derive(Debug)]
pub(crate) enum AtomicError {
    /// The output cannot be created (missing folder, permissions, a kind of file specc does not
    /// write into).
    Create(io::Error),
    /// Writing, syncing or renaming failed; the temporary file was removed.
    Write(io::Error),
}

/// The temporaries being written, and whether the process is shutting down (then no new one may
/// be created, so none can appear after [`remove_temporaries`] ran).
struct Registry {
    temps: Vec<PathBuf>,
    closed: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { temps: Vec::new(), closed: false });

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves a list that is still right: use it.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every temporary output file this process has open and refuses new ones from then on;
/// returns how many were removed. For a signal handler that is about to end the process: an
/// interrupted run then leaves no `.specc-*` file behind.
pub fn remove_temporaries() -> usize {
    remove_registered(true, |_| true)
}

/// Removes the registered temporaries `which` selects (all, for a signal; one test's, in tests
/// that run beside others).
fn remove_registered(close: bool, which: impl Fn(&Path) -> bool) -> usize {
    let mut r = registry();
    r.closed |= close;
    let (gone, kept): (Vec<PathBuf>, Vec<PathBuf>) =
        std::mem::take(&mut r.temps).into_iter().partition(|t| which(t));
    r.temps = kept;
    gone.iter().filter(|t| std::fs::remove_file(t).is_ok()).count()
}

/// Unregisters its temporary when the write is over, whatever the outcome.
struct Registered(PathBuf);

impl Registered {
    fn new(path: &Path) -> io::Result<Registered> {
        let mut r = registry();
        if r.closed {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "the process is being interrupted"));
        }
        r.temps.push(path.to_path_buf());
        Ok(Registered(path.to_path_buf()))
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut r = registry();
        if let Some(i) = r.temps.iter().position(|t| *t == self.0) {
            r.temps.swap_remove(i);
        }
    }
}

/// How `path` is to be written.
#[derive(Debug, PartialEq)]
enum How {
    /// Through a temporary renamed onto this (regular or new) file.
    Replace(PathBuf),
    /// Opened and written in place: a character device or a FIFO.
    Stream(PathBuf),
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> Option<(&'static str, bool)> {
    use std::os::unix::fs::FileTypeExt;
    if t.is_char_device() {
        Some(("a character device", true))
    } else if t.is_fifo() {
        Some(("a FIFO", true))
    } else if t.is_block_device() {
        Some(("a block device", false))
    } else if t.is_socket() {
        Some(("a socket", false))
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> Option<(&'static str, bool)> {
    None
}

fn refuse(why: String) -> AtomicError {
    AtomicError::Create(io::Error::new(io::ErrorKind::InvalidInput, why))
}

/// Decides how `path` is written (see the module doc).
fn how(path: &Path) -> Result<How, AtomicError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(How::Replace(path.to_path_buf())),
        Err(e) => return Err(AtomicError::Create(e)),
    };
    let (target, meta) = if meta.file_type().is_symlink() {
        let target = std::fs::canonicalize(path).map_err(|e| {
            refuse(format!("it is a symbolic link whose target cannot be reached ({e}); specc writes through links to existing files only"))
        })?;
        let meta = std::fs::metadata(&target).map_err(AtomicError::Create)?;
        (target, meta)
    } else {
        (path.to_path_buf(), meta)
    };
    let t = meta.file_type();
    if t.is_file() {
        return Ok(How::Replace(target));
    }
    if t.is_dir() {
        // The OS's own words (EISDIR, "Is a directory").
        return Err(match std::fs::OpenOptions::new().write(true).open(&target) {
            Err(e) => AtomicError::Create(e),
            Ok(_) => refuse(String::from("it is a folder")),
        });
    }
    match special_kind(&t) {
        Some((_, true)) => Ok(How::Stream(target)),
        Some((what, false)) => {
            Err(refuse(format!("it is {what}; specc writes regular files, character devices and FIFOs")))
        }
        None => Err(refuse(String::from("it is not a regular file"))),
    }
}

/// Writes `path` with `body` as the module doc says. On any error a temporary is removed and a
/// regular `path` is left as it was.
pub(crate) fn write(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), AtomicError> {
    let target = match how(path)? {
        How::Stream(target) => {
            let file = std::fs::OpenOptions::new().write(true).open(&target).map_err(AtomicError::Create)?;
            let mut buf = BufWriter::new(file);
            return body(&mut buf).and_then(|()| buf.flush()).map_err(AtomicError::Write);
        }
        How::Replace(target) => target,
    };
    if target.file_name().is_none() {
        return Err(refuse(String::from("not a file path")));
    }
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // tempfile creates its files 0600; an output is as readable as any file the user creates.
    #[cfg(unix)]
    let perms = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o666)
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".specc-").suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(perms);
    let tmp = builder.tempfile_in(dir).map_err(AtomicError::Create)?;
    // Dropping `tmp` (on any error below) deletes it; the registry lets a signal handler do so.
    let _registered = Registered::new(tmp.path()).map_err(AtomicError::Create)?;
    let res = (|| -> io::Result<()> {
        let mut buf = BufWriter::new(tmp.as_file().try_clone()?);
        body(&mut buf)?;
        buf.flush()?;
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        // A file replaced keeps its permissions.
        if let Ok(old) = std::fs::metadata(&target) {
            file.set_permissions(old.permissions())?;
        }
        Ok(())
    })();
    res.map_err(AtomicError::Write)?;
    tmp.persist(&target).map_err(|e| AtomicError::Write(e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` as [`write`] does (for outputs other than arrays: object files,
/// headers, archives); the error says which path and why.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write(path, |w| w.write_all(bytes)).map_err(|e| {
        let (AtomicError::Create(e) | AtomicError::Write(e)) = e;
        format!("cannot write {}: {e}", path.display())
    })
}

/// Encodes into memory with `body`, then writes the bytes with [`write`]: for encoders that
/// need to seek (a zip archive cannot be streamed into a FIFO) or that report their own
/// failures badly when the disk fills up mid-way.
pub(crate) fn write_encoded(
    path: &Path,
    body: impl FnOnce(&mut io::Cursor<Vec<u8>>) -> io::Result<()>,
) -> Result<(), AtomicError> {
    let mut bytes = io::Cursor::new(Vec::new());
    body(&mut bytes).map_err(AtomicError::Write)?;
    write(path, |w| w.write_all(bytes.get_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("specc-atomic-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn listing(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_name_of_255_bytes_is_written_and_no_temporary_stays() {
        let d = tmpdir("long");
        let name = format!("{}.npy", "x".repeat(251));
        assert_eq!(name.len(), 255);
        write(&d.join(&name), |w| w.write_all(b"data")).expect("long name");
        assert_eq!(std::fs::read(d.join(&name)).expect("read"), b"data");
        assert_eq!(listing(&d), [name]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_written_through_and_a_dangling_one_refused() {
        let d = tmpdir("links");
        std::fs::write(d.join("target.npy"), b"old").expect("write");
        std::os::unix::fs::symlink("target.npy", d.join("link.npy")).expect("link");
        write(&d.join("link.npy"), |w| w.write_all(b"new")).expect("through the link");
        assert!(std::fs::symlink_metadata(d.join("link.npy")).expect("meta").file_type().is_symlink());
        assert_eq!(std::fs::read(d.join("target.npy")).expect("read"), b"new");
        std::os::unix::fs::symlink("nothing.npy", d.join("dangling.npy")).expect("link");
        assert!(matches!(write(&d.join("dangling.npy"), |w| w.write_all(b"x")), Err(AtomicError::Create(_))));
        assert_eq!(listing(&d), ["dangling.npy", "link.npy", "target.npy"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[cfg(unix)]
    #[test]
    fn dev_null_is_streamed_into_not_replaced() {
        write(Path::new("/dev/null"), |w| w.write_all(b"data")).expect("/dev/null");
        let meta = std::fs::metadata("/dev/null").expect("meta");
        use std::os::unix::fs::FileTypeExt;
        assert!(meta.file_type().is_char_device());
    }

    #[test]
    fn a_temporary_being_written_is_removed_by_the_registry() {
        let d = tmpdir("registry");
        std::fs::write(d.join("a.npy"), b"old").expect("write");
        let (started, wait) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let writer = {
            let path = d.join("a.npy");
            std::thread::spawn(move || {
                write(&path, |w| {
                    w.write_all(b"partial")?;
                    w.flush()?;
                    started.0.send(()).expect("send");
                    // As a signal arrives here, mid-write.
                    wait.1.recv().map_err(io::Error::other)
                })
            })
        };
        started.1.recv().expect("the write started");
        assert_eq!(listing(&d).len(), 2, "the temporary exists: {:?}", listing(&d));
        // What the signal handler does, without closing the registry for the other tests.
        assert_eq!(remove_registered(false, |t| t.starts_with(&d)), 1);
        assert_eq!(listing(&d), ["a.npy"]);
        wait.0.send(()).expect("send");
        assert!(writer.join().expect("join").is_err(), "the rename of a removed temporary fails");
        assert_eq!(std::fs::read(d.join("a.npy")).expect("read"), b"old");
        assert_eq!(listing(&d), ["a.npy"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_body_leaves_the_old_file_and_no_temporary() {
        let d = tmpdir("fail");
        std::fs::write(d.join("a.npy"), b"old").expect("write");
        let e = write(&d.join("a.npy"), |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        });
        assert!(matches!(e, Err(AtomicError::Write(_))));
        assert_eq!(std::fs::read(d.join("a.npy")).expect("read"), b"old");
        assert_eq!(listing(&d), ["a.npy"]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
