//! Ahead-of-time compilation: a pipeline as an object file, a C header and, bundled with the
//! C runtime (`specc-capi`), a static library that C programs link without any JIT.
//!
//! ```no_run
//! use specc::aot::{Cpu, ObjectTarget};
//! let p = specc::Pipeline::preset("whisper", &[])?;
//! let out = specc::aot::compile(&p, "whisper", &ObjectTarget { triple: None, cpu: Cpu::Baseline }, "")?;
//! std::fs::write("whisper.o", &out.object).unwrap();
//! std::fs::write("whisper.h", &out.header).unwrap();
//! let runtime = std::fs::read(specc::aot::find_runtime(None)?).unwrap();
//! std::fs::write("libwhisper.a", specc::aot::bundle(&out.object, "whisper.o", &runtime)?).unwrap();
//! # Ok::<(), specc::Error>(())
//! ```

use std::path::{Path, PathBuf};

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol};
pub use specc_compiler::codegen::aot::{check_name, AotOutput};
pub use specc_compiler::codegen::jit::{Cpu, ObjectTarget};
use specc_compiler::codegen::program::CodegenError;
use specc_compiler::codegen::JitError;

use crate::{Error, Pipeline};

/// The C runtime's static library, as cargo names it.
pub const RUNTIME_LIB: &str = "libspecc_capi.a";

/// Compiles `p`'s optimized graph into an object for `target` whose symbols start with
/// `specc_<name>_`, and its header (which quotes `command`, how it was made).
pub fn compile(p: &Pipeline, name: &str, target: &ObjectTarget, command: &str) -> Result<AotOutput, Error> {
    check_name(name).map_err(Error::Usage)?;
    specc_compiler::codegen::aot::compile_object(p.optimized(), name, target, command).map_err(|e| match e {
        CodegenError::Jit(JitError::Target(why)) => Error::Usage(why),
        CodegenError::Unsupported(why) => Error::Aot(format!(
            "this spec cannot be compiled ahead of time (the JIT runs it on the interpreter): {why}"
        )),
        other => Error::Aot(format!("compiling ahead of time failed: {other}")),
    })
}

/// The name a spec's symbols get by default: its file stem or preset name with every character
/// that cannot be in a C identifier made `_` (and a leading `_` before a digit).
pub fn default_name(spec: &str) -> String {
    let stem =
        Path::new(spec).file_stem().map_or_else(|| spec.to_string(), |s| s.to_string_lossy().into_owned());
    let mut name: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name.truncate(64);
    name
}

/// The C runtime's static library: `explicit`, else `$SPECC_RUNTIME_LIB`, else
/// [`RUNTIME_LIB`] next to the running executable (where `cargo build -p specc-capi` puts it
/// beside `specc`), else the newest `deps/libspecc_capi-*.a` there (what building specc
/// itself leaves: the runtime is one of its dependencies).
pub fn find_runtime(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::Usage(format!("--runtime {}: no such file", p.display())))
        };
    }
    if let Some(p) = std::env::var_os("SPECC_RUNTIME_LIB") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::Usage(format!("SPECC_RUNTIME_LIB={}: no such file", p.display())))
        };
    }
    let dir = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf));
    let beside = dir.as_ref().map(|d| d.join(RUNTIME_LIB));
    let in_deps = || {
        let entries = std::fs::read_dir(dir.as_ref()?.join("deps")).ok()?;
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("libspecc_capi-") && n.ends_with(".a")
            })
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .max()
            .map(|(_, p)| p)
    };
    match beside {
        Some(p) if p.is_file() => Ok(p),
        _ => in_deps().ok_or_else(|| Error::Aot(format!(
            "the specc C runtime ({RUNTIME_LIB}) is not beside this specc{}: build it with `cargo build --release -p specc-capi` (or for another target, with `--target TRIPLE`) and pass it with --runtime PATH or SPECC_RUNTIME_LIB",
            beside.map(|p| format!(" ({})", p.display())).unwrap_or_default()
        ))),
    }
}

/// A static library holding `object` (named `member` in it) and every member of the runtime
/// library `runtime`, with a symbol table, so `cc app.c lib<name>.a` links. The runtime must be
/// built for the object's architecture and format.
pub fn bundle(object: &[u8], member: &str, runtime: &[u8]) -> Result<Vec<u8>, Error> {
    use ar_archive_writer::{write_archive_to_stream, ArchiveKind, NewArchiveMember, DEFAULT_OBJECT_READER};
    let obj = object::File::parse(object)
        .map_err(|e| Error::Internal(format!("the object does not parse: {e}")))?;
    let archive = ArchiveFile::parse(runtime)
        .map_err(|e| Error::Aot(format!("the runtime library is not a static library: {e}")))?;
    let mut members = Vec::new();
    let mut matched = false;
    for m in archive.members() {
        let m = m.map_err(|e| Error::Aot(format!("the runtime library is corrupt: {e}")))?;
        let data = m.data(runtime).map_err(|e| Error::Aot(format!("the runtime library is corrupt: {e}")))?;
        let name = String::from_utf8_lossy(m.name()).into_owned();
        if let Ok(f) = object::File::parse(data) {
            if f.architecture() != obj.architecture() || f.format() != obj.format() {
                return Err(Error::Usage(format!(
                    "the runtime library is for {:?} ({:?}), the object for {:?} ({:?}): build specc-capi for the object's target (cargo build --release -p specc-capi --target TRIPLE) and pass it with --runtime",
                    f.architecture(),
                    f.format(),
                    obj.architecture(),
                    obj.format()
                )));
            }
            matched = true;
        }
        members.push(NewArchiveMember::new(data, &DEFAULT_OBJECT_READER, name));
    }
    if !matched {
        return Err(Error::Aot(String::from("the runtime library holds no object files")));
    }
    if !obj.symbols().any(|s| s.is_global() && s.name().is_ok_and(|n| n.ends_with("_program"))) {
        return Err(Error::Internal(String::from("the object exports no program descriptor")));
    }
    members.push(NewArchiveMember::new(object, &DEFAULT_OBJECT_READER, member.to_string()));
    let kind =
        if obj.format() == object::BinaryFormat::MachO { ArchiveKind::Darwin64 } else { ArchiveKind::Gnu };
    let mut out = std::io::Cursor::new(Vec::new());
    write_archive_to_stream(&mut out, &members, kind, false, None)
        .map_err(|e| Error::Aot(format!("could not write the static library: {e}")))?;
    Ok(out.into_inner())
}
