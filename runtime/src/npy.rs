//! `.npy` reading and writing through ndarray-npy, for every dtype the runtime accepts.

use crate::{Input, Output};
use ndarray::ArrayD;
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
    /// Writing failed.
    #[error("cannot write {path}: {why}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
}

fn try_read<T: ndarray_npy::ReadableElement, R: Read + Seek>(r: &mut R) -> Result<ArrayD<T>, ReadNpyError> {
    r.rewind().map_err(ReadNpyError::Io)?;
    ArrayD::<T>::read_npy(&mut *r)
}

/// Reads a `.npy` of float32, float64 or int16, any shape, either byte order, C or Fortran
/// order.
pub fn read(path: &Path) -> Result<Array, NpyError> {
    let p = path.display().to_string();
    let f = File::open(path).map_err(|source| NpyError::Io { path: p.clone(), source })?;
    let mut r = BufReader::new(f);
    let malformed = |e: ReadNpyError, p: &str| match e {
        ReadNpyError::Io(source) => NpyError::Io { path: p.to_string(), source },
        ReadNpyError::WrongDescriptor(d) => NpyError::DType { path: p.to_string(), descr: d.to_string() },
        other => NpyError::Malformed { path: p.to_string(), why: other.to_string() },
    };
    match try_read::<f32, _>(&mut r) {
        Ok(a) => return Ok(Array::F32(a)),
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(malformed(e, &p)),
    }
    match try_read::<f64, _>(&mut r) {
        Ok(a) => return Ok(Array::F64(a)),
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(malformed(e, &p)),
    }
    try_read::<i16, _>(&mut r).map(Array::I16).map_err(|e| malformed(e, &p))
}

/// Writes `out` to `path` through a temporary file renamed into place, so a failed write never
/// leaves a partial file.
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

/// Writes several arrays into one `.npz` (uncompressed), named as given, through a temporary
/// file renamed into place.
pub fn write_npz(path: &Path, arrays: &[(String, Output)]) -> Result<(), NpyError> {
    crate::atomic::write(path, |w| {
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
