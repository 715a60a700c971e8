//! `.npy` reading and writing through ndarray-npy, for every dtype the runtime accepts.

use crate::{Input, Output};
use ndarray::ArrayD;
use ndarray_npy::npy::header::{Header, ReadHeaderError};
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;

/// An array read from a file, owning its data.
#[derive(Clone, Debug)]
pub enum Array {
    /// float32
    F32(ArrayD<f32>),
    /// float64
    F64(ArrayD<f64>),
    /// int16
    I16(ArrayD<i16>),
}

impl Array {
    /// A borrowed view for [`crate::run`].
    pub fn view(&self) -> Input<'_> {
        match self {
            Array::F32(a) => Input::F32(a.view()),
            Array::F64(a) => Input::F64(a.view()),
            Array::I16(a) => Input::I16(a.view()),
        }
    }
}

/// Why a `.npy` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file's dtype is not one specc reads.
    #[error("{path}: unsupported dtype {descr}; specc reads float32, float64 and int16 arrays")]
    DType {
        /// The file.
        path: String,
        /// The dtype descriptor found.
        descr: String,
    },
    /// The file is not a valid `.npy`.
    #[error("{path} is not a valid .npy file: {why}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A stream (a pipe, a device) is longer than the memory limit.
    #[error("{path} is too large: {why}")]
    TooLarge {
        /// The file.
        path: String,
        /// The sizes involved.
        why: String,
    },
    /// Writing failed.
    #[error("cannot write {path}: {why}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
}

/// What a `.npy` header says, read without touching the data, so a caller can check an input
/// against its program (and the memory limit) before allocating for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// numpy's name of the element type: `float32`, `float64` or `int16`.
    pub dtype: &'static str,
    /// Whether the data is stored in Fortran (column-major) order.
    pub fortran: bool,
}

/// Why the header's reader stopped, in words for the user: a file that ends inside its header is
/// malformed, not an I/O failure.
fn header_error(e: ReadHeaderError, p: &str) -> NpyError {
    match e {
        ReadHeaderError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => NpyError::Malformed {
            path: p.to_string(),
            why: String::from("the file ends inside its header (truncated, or not a .npy file)"),
        },
        ReadHeaderError::Io(source) => NpyError::Io { path: p.to_string(), source },
        ReadHeaderError::Parse(e) => {
            NpyError::Malformed { path: p.to_string(), why: format!("bad header: {e}") }
        }
    }
}

/// The longest header read: numpy writes headers of a few hundred bytes.
const MAX_HEADER: u64 = 1 << 20;

/// The deepest bracket nesting a header may have. numpy's own headers nest 2 deep (the dict and
/// its shape tuple), a structured dtype's 4; the reader specc uses (ndarray-npy's Python-literal
/// parser) backtracks exponentially in the depth of unclosed brackets, so deeper or unbalanced
/// text is refused before it is parsed: a 128-byte file with 14 `{` took it minutes (a fuzz
/// finding).
const MAX_HEADER_DEPTH: usize = 4;

/// Checks that a header's text has balanced brackets, at most [`MAX_HEADER_DEPTH`] deep,
/// outside its quoted strings.
fn check_literal(text: &[u8]) -> Result<(), String> {
    let mut open = Vec::new();
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for &b in text {
        if let Some(q) = quote {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                _ if b == q => quote = None,
                _ => {}
            }
            continue;
        }
        match b {
            b'\'' | b'"' => quote = Some(b),
            b'{' | b'[' | b'(' => {
                open.push(b);
                if open.len() > MAX_HEADER_DEPTH {
                    return Err(format!(
                        "the header nests brackets more than {MAX_HEADER_DEPTH} deep (not a header numpy writes)"
                    ));
                }
            }
            b'}' | b']' | b')' => {
                let want = match b {
                    b'}' => b'{',
                    b']' => b'[',
                    _ => b'(',
                };
                if open.pop() != Some(want) {
                    return Err(String::from(
                        "the header's brackets do not match (not a header numpy writes)",
                    ));
                }
            }
            _ => {}
        }
    }
    match (open.is_empty(), quote) {
        (true, None) => Ok(()),
        _ => Err(String::from("the header has an unclosed bracket or string (not a header numpy writes)")),
    }
}

/// Parses the header at the reader's start and checks it against the `len` bytes the source holds:
/// a supported dtype, an element count that fits in memory, and exactly as many data bytes as the
/// shape needs. Nothing is allocated for the data, so a header that declares a huge shape over a
/// small file is an error, not an attempt to allocate it.
fn header<R: Read + Seek>(r: &mut R, len: u64, p: &str) -> Result<Info, NpyError> {
    // The header's own length field (2 bytes in version 1, 4 in versions 2 and 3) is checked
    // against the file first: ndarray-npy allocates that many bytes before reading them.
    let mut pre = Vec::with_capacity(12);
    r.by_ref()
        .take(12)
        .read_to_end(&mut pre)
        .map_err(|source| NpyError::Io { path: p.to_string(), source })?;
    let declared = match (pre.len(), pre.get(6)) {
        (10.., Some(1)) => Some(10 + u16::from_le_bytes([pre[8], pre[9]]) as u64),
        (12.., Some(2 | 3)) => Some(12 + u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as u64),
        _ => None,
    };
    if let Some(end) = declared.filter(|&end| end > len && pre.starts_with(b"\x93NUMPY")) {
        return Err(NpyError::Malformed {
            path: p.to_string(),
            why: format!(
                "the header declares {end} bytes but the file holds {len} (truncated, or not a .npy file)"
            ),
        });
    }
    if let Some(end) = declared.filter(|_| pre.starts_with(b"\x93NUMPY")) {
        let malformed = |why: String| NpyError::Malformed { path: p.to_string(), why };
        if end > MAX_HEADER {
            return Err(malformed(format!(
                "the header declares {end} bytes, more than any .npy header needs"
            )));
        }
        // The 12 bytes read hold a version-1 header's first 2 (or all of a shorter one).
        let prelude = if pre[6] == 1 { 10 } else { 12 };
        if end <= prelude as u64 {
            return Err(malformed(String::from("the header's length field says 0 bytes (no header dict)")));
        }
        let mut text = pre[prelude..(end as usize).min(pre.len())].to_vec();
        r.by_ref()
            .take(end.saturating_sub(pre.len() as u64))
            .read_to_end(&mut text)
            .map_err(|source| NpyError::Io { path: p.to_string(), source })?;
        check_literal(&text).map_err(malformed)?;
    }
    r.rewind().map_err(|source| NpyError::Io { path: p.to_string(), source })?;
    let h = Header::from_reader(r).map_err(|e| header_error(e, p))?;
    let descr = h.type_descriptor.as_string().map_or("", String::as_str);
    let (dtype, size) = match descr {
        "<f4" | ">f4" => ("float32", 4usize),
        "<f8" | ">f8" => ("float64", 8),
        "<i2" | ">i2" => ("int16", 2),
        _ => return Err(NpyError::DType { path: p.to_string(), descr: h.type_descriptor.to_string() }),
    };
    let start = r.stream_position().map_err(|source| NpyError::Io { path: p.to_string(), source })?;
    // ndarray refuses (by panicking inside ndarray-npy) a shape whose non-zero axes multiply past
    // isize::MAX even when another axis is 0, so the product is checked without the zeros too.
    let fits = |dims: &mut dyn Iterator<Item = usize>| {
        let mut n = 1usize;
        for d in dims {
            n = n.checked_mul(d)?;
        }
        n.checked_mul(size).filter(|&b| b <= isize::MAX as usize)
    };
    let nonzero = fits(&mut h.shape.iter().copied().filter(|&d| d != 0));
    let bytes = nonzero.and(fits(&mut h.shape.iter().copied())).ok_or_else(|| NpyError::Malformed {
        path: p.to_string(),
        why: format!("the shape {:?} has more elements than any file or memory can hold", h.shape),
    })?;
    let have = len.saturating_sub(start);
    if have != bytes as u64 {
        let what = if have < bytes as u64 { "truncated" } else { "trailing bytes" };
        return Err(NpyError::Malformed {
            path: p.to_string(),
            why: format!(
                "the header declares shape {:?} of {dtype}, {bytes} bytes of data, but the file holds {have} ({what})",
                h.shape
            ),
        });
    }
    Ok(Info { shape: h.shape, dtype, fortran: h.layout.is_fortran() })
}

fn read_from<R: Read + Seek>(mut r: R, len: u64, p: &str) -> Result<Array, NpyError> {
    let info = header(&mut r, len, p)?;
    r.rewind().map_err(|source| NpyError::Io { path: p.to_string(), source })?;
    let failed = |e: ReadNpyError| match e {
        ReadNpyError::Io(source) => NpyError::Io { path: p.to_string(), source },
        ReadNpyError::WrongDescriptor(d) => NpyError::DType { path: p.to_string(), descr: d.to_string() },
        other => NpyError::Malformed { path: p.to_string(), why: other.to_string() },
    };
    Ok(match info.dtype {
        "float32" => Array::F32(ArrayD::<f32>::read_npy(r).map_err(failed)?),
        "float64" => Array::F64(ArrayD::<f64>::read_npy(r).map_err(failed)?),
        _ => Array::I16(ArrayD::<i16>::read_npy(r).map_err(failed)?),
    })
}

/// A source of `.npy` bytes and its length.
trait Source: Read + Seek {}
impl<T: Read + Seek> Source for T {}

/// Opens `path`: a regular file is read as it is; anything else (a pipe, `/dev/stdin`,
/// `/dev/zero`) has no length to check the header against, so it is read into memory first,
/// at most `max_bytes` of it.
fn open(path: &Path, max_bytes: u64) -> Result<(Box<dyn Source>, u64), NpyError> {
    let p = path.display().to_string();
    let io = |source| NpyError::Io { path: p.clone(), source };
    let f = File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(io(io::Error::other("it is a directory")));
    }
    if meta.is_file() {
        return Ok((Box::new(BufReader::new(f)), meta.len()));
    }
    let bytes = stream_bytes(&p, f, max_bytes)?;
    let len = bytes.len() as u64;
    Ok((Box::new(io::Cursor::new(bytes)), len))
}

/// The bytes of a `.npy` read from a stream, header first: the magic string, then the header's
/// declared data size is checked against `max_bytes` before the data is read, so `/dev/zero` or
/// an endless pipe is refused after a few bytes, and a stream is never read past the array it
/// declares (plus one byte, to find trailing data).
pub fn stream_bytes(name: &str, mut r: impl Read, max_bytes: u64) -> Result<Vec<u8>, NpyError> {
    let io = |source| NpyError::Io { path: name.to_string(), source };
    let malformed = |why: String| NpyError::Malformed { path: name.to_string(), why };
    let mut bytes = Vec::new();
    r.by_ref().take(12).read_to_end(&mut bytes).map_err(io)?;
    if !bytes.starts_with(b"\x93NUMPY") {
        return Err(malformed(String::from("it does not start with the .npy magic string \\x93NUMPY")));
    }
    let end = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as u64,
        Some(2 | 3) if bytes.len() >= 12 => {
            12 + u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as u64
        }
        _ => {
            return Err(malformed(String::from(
                "the file ends inside its header (truncated, or not a .npy file)",
            )))
        }
    };
    if end > MAX_HEADER {
        return Err(malformed(format!("the header declares {end} bytes, more than any .npy header needs")));
    }
    r.by_ref().take(end - bytes.len() as u64).read_to_end(&mut bytes).map_err(io)?;
    if (bytes.len() as u64) < end {
        return Err(malformed(format!(
            "the header declares {end} bytes but the file holds {} (truncated, or not a .npy file)",
            bytes.len()
        )));
    }
    let prelude = if bytes[6] == 1 { 10 } else { 12 };
    check_literal(&bytes[prelude..]).map_err(malformed)?;
    let h = Header::from_reader(&mut io::Cursor::new(&bytes)).map_err(|e| header_error(e, name))?;
    let size: u64 = match h.type_descriptor.as_string().map_or("", String::as_str) {
        "<f4" | ">f4" => 4,
        "<f8" | ">f8" => 8,
        "<i2" | ">i2" => 2,
        _ => return Err(NpyError::DType { path: name.to_string(), descr: h.type_descriptor.to_string() }),
    };
    let data = h.shape.iter().try_fold(size, |n, &d| n.checked_mul(d as u64)).unwrap_or(u64::MAX);
    if data > max_bytes {
        return Err(NpyError::TooLarge {
            path: name.to_string(),
            why: format!(
                "its header declares shape {:?}, {} MiB of data, over the memory limit of {} MiB",
                h.shape,
                data.div_ceil(1 << 20),
                max_bytes >> 20
            ),
        });
    }
    r.take(data + 1).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// Reads a `.npy` of float32, float64 or int16, any shape, either byte order, C or Fortran
/// order.
pub fn read(path: &Path) -> Result<Array, NpyError> {
    read_within(path, crate::Limits::default().max_bytes)
}

/// [`read`], reading at most `max_bytes` from a source that is not a regular file (a regular
/// file's header is checked against its size instead).
pub fn read_within(path: &Path, max_bytes: u64) -> Result<Array, NpyError> {
    let (r, len) = open(path, max_bytes)?;
    read_from(r, len, &path.display().to_string())
}

/// Reads only the header of a `.npy` file (see [`Info`]), checking it as [`read`] does.
pub fn read_header(path: &Path) -> Result<Info, NpyError> {
    let (mut r, len) = open(path, crate::Limits::default().max_bytes)?;
    header(&mut r, len, &path.display().to_string())
}

/// Reads a `.npy` held in memory; `name` stands for the file in errors.
pub fn read_bytes(name: &str, bytes: &[u8]) -> Result<Array, NpyError> {
    read_from(io::Cursor::new(bytes), bytes.len() as u64, name)
}

/// Writes `out` to `path` through a temporary file renamed into place, so a failed write never
/// leaves a partial file (a FIFO or character device is streamed into; see `atomic`).
pub fn write(path: &Path, out: &Output) -> Result<(), NpyError> {
    crate::atomic::write(path, |w| match out {
        Output::F32(a) => a.write_npy(w).map_err(io::Error::other),
        Output::F64(a) => a.write_npy(w).map_err(io::Error::other),
    })
    .map_err(|e| write_error(path, e))
}

fn write_error(path: &Path, e: crate::atomic::AtomicError) -> NpyError {
    let why = match e {
        crate::atomic::AtomicError::Create(e) | crate::atomic::AtomicError::Write(e) => e.to_string(),
    };
    NpyError::Write { path: path.display().to_string(), why }
}

/// Writes several arrays into one `.npz` (uncompressed), named as given. The archive is built in
/// memory and then written as [`write()`] writes (a temporary renamed into place, or streamed into
/// a FIFO or device): a zip archive needs to seek, and a disk that fills up gives one clean
/// error rather than the zip writer's own complaints.
pub fn write_npz(path: &Path, arrays: &[(String, Output)]) -> Result<(), NpyError> {
    crate::atomic::write_encoded(path, |w| {
        let mut npz = ndarray_npy::NpzWriter::new(w);
        for (n, a) in arrays {
            match a {
                Output::F32(x) => npz.add_array(n.as_str(), x).map_err(io::Error::other)?,
                Output::F64(x) => npz.add_array(n.as_str(), x).map_err(io::Error::other)?,
            }
        }
        npz.finish().map(|_| ()).map_err(io::Error::other)
    })
    .map_err(|e| write_error(path, e))
}
