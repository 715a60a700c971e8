//! Spectrogram rasters: values → colormapped RGB pixels → PNG file. These are the colored
//! pixels inside a figure's plot area; [`crate::figure`] draws the figure around them (axes,
//! colorbar, title, panels).
//!
//! A spectrogram is read by eye, so the picture follows the conventions people expect: time runs
//! left to right, low frequencies sit at the BOTTOM, colors come from a perceptual colormap, and
//! the mapping from value to color is set by an explicit range so that two pictures rendered
//! with the same range can be compared.
//!
//! Design choices, fixed here so callers need not guess:
//! - **Orientation.** Input rows are frequency bins with row 0 the lowest frequency; input
//!   columns are time. The lowest bin is drawn in the bottom pixel row.
//! - **Resizing.** Values (not colors) are resampled, then colormapped, so no colors that are
//!   absent from the colormap appear. Each axis is resampled on its own: when shrinking, every
//!   pixel is the area-weighted mean of the values it covers (a box filter, so long recordings
//!   shrink without aliasing); when enlarging, every pixel takes the value of the cell its centre
//!   falls in, so each value is a flat block as `librosa.display.specshow` (a `pcolormesh`) draws
//!   it: what is shown is what was computed, with no in-between values invented.
//! - **Special values.** NaN is drawn [`NAN_COLOR`] (mid-gray; note that with
//!   [`Colormap::Gray`] it is indistinguishable from a value in the middle of the range); +inf
//!   is the top color and -inf the bottom color; finite values outside the range clamp to the
//!   nearest end. Values are clamped into the range *before* resampling, so a resized pixel shows
//!   the mean of what the eye would see rather than being dragged by one extreme outlier; a NaN
//!   contributing to a resized pixel makes that pixel NaN, so missing data stays visible.
//! - **Degenerate range.** When `lo == hi` every finite value is drawn with the middle color, so
//!   a constant input renders as a uniform, mid-scale picture rather than an arbitrary end.

use ndarray::ArrayView2;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Largest width or height, in pixels, that [`render`] will produce: beyond this an image is
/// almost certainly a mistake (a missing `width` on an hour of audio) and would cost gigabytes.
pub const MAX_SIDE: u32 = 16384;

/// The color drawn for NaN values: neutral mid-gray, so missing data neither looks loud nor
/// silent in the perceptual colormaps.
pub const NAN_COLOR: [u8; 3] = [128, 128, 128];

/// How values are turned into colors.
///
/// The perceptual maps are the default because their brightness rises steadily with the value,
/// so loudness reads correctly even in grayscale print or for color-blind readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Black → purple → orange → pale yellow; matplotlib's magma, librosa's default for
    /// spectrograms.
    #[default]
    Magma,
    /// Dark blue → green → yellow; matplotlib's default colormap.
    Viridis,
    /// Black → purple → orange → pale yellow, with a hotter middle than magma.
    Inferno,
    /// Black → white; for printing or further processing as an intensity image.
    Gray,
}

impl Colormap {
    /// Every colormap, in the order their names are listed to users.
    pub const ALL: [Colormap; 4] = [Colormap::Magma, Colormap::Viridis, Colormap::Inferno, Colormap::Gray];

    /// The lowercase name accepted by [`FromStr`], for command-line help and messages.
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Magma => "magma",
            Colormap::Viridis => "viridis",
            Colormap::Inferno => "inferno",
            Colormap::Gray => "gray",
        }
    }

    /// The color at position `t` along the map (0 = bottom, 1 = top; outside values clamp), so
    /// callers can draw legends or check pixels with exactly the colors [`render`] uses.
    pub fn color(self, t: f32) -> [u8; 3] {
        let t = if t.is_nan() { 0.5 } else { t.clamp(0.0, 1.0) };
        let g = match self {
            Colormap::Magma => colorous::MAGMA,
            Colormap::Viridis => colorous::VIRIDIS,
            Colormap::Inferno => colorous::INFERNO,
            Colormap::Gray => {
                let v = (t * 255.0).round() as u8;
                return [v, v, v];
            }
        };
        let c = g.eval_continuous(t as f64);
        [c.r, c.g, c.b]
    }
}

impl fmt::Display for Colormap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Colormap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Colormap::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Colormap::ALL.iter().map(|c| c.name()).collect();
            format!("unknown colormap `{s}`; colormaps: {}", names.join(", "))
        })
    }
}

/// How a picture is sized and colored.
///
/// The default (one pixel per value, magma) shows every value exactly; set `width`/`height`
/// when the data is too large or too small to look at one-to-one.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct PngOptions {
    /// Image width in pixels; `None` = one pixel per time step.
    pub width: Option<u32>,
    /// Image height in pixels; `None` = one pixel per frequency bin.
    pub height: Option<u32>,
    /// The colormap.
    pub colormap: Colormap,
}

/// An 8-bit RGB picture, kept apart from the PNG encoder so rendering can be tested (and reused
/// for other outputs) without touching files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` RGB triples, row-major, top row first.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// The pixel at column `x`, row `y` (row 0 at the top); panics outside the image, like
    /// slice indexing.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        assert!(x < self.width && y < self.height, "pixel ({x}, {y}) outside {}x{}", self.width, self.height);
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

/// Why a picture could not be made or saved. File errors name the file and carry the OS error,
/// so a user can act on the message alone.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The output file (or its temporary sibling) could not be created.
    #[error("cannot create {}: {source}", .path.display())]
    Create {
        /// The file asked for.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The output file could not be written or moved into place.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file asked for.
        path: PathBuf,
        /// The OS error (or the encoder's, wrapped).
        source: std::io::Error,
    },
    /// There is nothing to draw.
    #[error("cannot draw an empty spectrogram ({rows} frequency rows x {cols} time columns)")]
    Empty {
        /// Number of input rows.
        rows: usize,
        /// Number of input columns.
        cols: usize,
    },
    /// The picture would be absurdly large.
    #[error("the image would be {width}x{height} pixels; at most {MAX_SIDE} pixels per side are allowed (choose a smaller width/height)")]
    TooLarge {
        /// Requested or implied width.
        width: u64,
        /// Requested or implied height.
        height: u64,
    },
    /// The requested size leaves no room for the data.
    #[error("the image cannot be {width}x{height} pixels: {why}")]
    TooSmall {
        /// Requested or implied width.
        width: u64,
        /// Requested or implied height.
        height: u64,
        /// What is missing.
        why: String,
    },
    /// The figure's description does not fit the array, or drawing failed.
    #[error("cannot draw the figure: {0}")]
    Figure(String),
    /// The value range is unusable.
    #[error("invalid value range [{lo}, {hi}]: the ends must be finite with low <= high")]
    BadRange {
        /// Low end.
        lo: f32,
        /// High end.
        hi: f32,
    },
    /// No value is finite, so no range can be derived from the data.
    #[error("the spectrogram has no finite values (all NaN or infinite), so no color range can be chosen")]
    NoFiniteValues,
    /// The pixel buffer does not match the stated size.
    #[error("image buffer holds {len} bytes, but {width}x{height} RGB needs {}", *.width as u64 * *.height as u64 * 3)]
    BadBuffer {
        /// Stated width.
        width: u32,
        /// Stated height.
        height: u32,
        /// Actual buffer length.
        len: usize,
    },
}

/// The smallest and largest finite value, or `None` when there is none, for choosing a color
/// range from the data itself (NaN and infinities would make every other value one color).
pub fn finite_range(values: impl IntoIterator<Item = f32>) -> Option<(f32, f32)> {
    values.into_iter().filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// [`finite_range`] as a `Result`, for callers that must have a range to render at all.
pub fn auto_range(values: ArrayView2<'_, f32>) -> Result<(f32, f32), ImageError> {
    finite_range(values.iter().copied()).ok_or(ImageError::NoFiniteValues)
}

/// Draws one spectrogram. `values`: rows = frequency (row 0 = LOWEST frequency, drawn at the
/// bottom), columns = time. `range` = (value drawn with the bottom color, value drawn with the
/// top color). See the module docs for resizing and special values.
pub fn render(
    values: ArrayView2<'_, f32>,
    range: (f32, f32),
    opts: &PngOptions,
) -> Result<RgbImage, ImageError> {
    let (rows, cols) = values.dim();
    if rows == 0 || cols == 0 {
        return Err(ImageError::Empty { rows, cols });
    }
    let (lo, hi) = range;
    if !lo.is_finite() || !hi.is_finite() || lo > hi {
        return Err(ImageError::BadRange { lo, hi });
    }
    let width = opts.width.map_or(cols as u64, u64::from);
    let height = opts.height.map_or(rows as u64, u64::from);
    if width > MAX_SIDE as u64 || height > MAX_SIDE as u64 {
        return Err(ImageError::TooLarge { width, height });
    }
    if width == 0 || height == 0 {
        let why = String::from("width and height must be at least 1");
        return Err(ImageError::TooSmall { width, height, why });
    }
    let (w, h) = (width as usize, height as usize);
    let t: Vec<f32> = values.iter().map(|&v| position(v, lo, hi)).collect();
    let img = resample(&t, rows, cols, h, w);
    let mut pixels = Vec::with_capacity(w * h * 3);
    // Row 0 is the lowest frequency: emit it last so it lands at the bottom.
    for y in (0..h).rev() {
        for &t in &img[y * w..(y + 1) * w] {
            let c = if t.is_nan() { NAN_COLOR } else { opts.colormap.color(t) };
            pixels.extend_from_slice(&c);
        }
    }
    Ok(RgbImage { width: width as u32, height: height as u32, pixels })
}

/// Where `v` falls in `[lo, hi]`, as a colormap position in [0, 1] (NaN stays NaN).
fn position(v: f32, lo: f32, hi: f32) -> f32 {
    if v.is_nan() {
        f32::NAN
    } else if v == f32::INFINITY {
        1.0
    } else if v == f32::NEG_INFINITY {
        0.0
    } else if lo == hi {
        0.5
    } else {
        // f64: `hi - lo` may overflow f32 for extreme ranges.
        (((v as f64 - lo as f64) / (hi as f64 - lo as f64)).clamp(0.0, 1.0)) as f32
    }
}

/// For each of `m` output cells along an axis of `n` input cells, the input cells it draws from
/// and their weights (summing to 1): a box filter when shrinking, the cell under the pixel's
/// centre when enlarging.
fn axis_weights(n: usize, m: usize) -> Vec<Vec<(usize, f32)>> {
    if n == m {
        return (0..n).map(|i| vec![(i, 1.0)]).collect();
    }
    let scale = n as f64 / m as f64;
    (0..m)
        .map(|o| {
            if m < n {
                let (start, end) = (o as f64 * scale, (o + 1) as f64 * scale);
                let first = start.floor() as usize;
                let last = (end.ceil() as usize).min(n);
                (first..last)
                    .filter_map(|i| {
                        let cover = end.min(i as f64 + 1.0) - start.max(i as f64);
                        (cover > 1e-9).then_some((i, (cover / scale) as f32))
                    })
                    .collect()
            } else {
                let i = (((o as f64 + 0.5) * scale).floor() as usize).min(n - 1);
                vec![(i, 1.0)]
            }
        })
        .collect()
}

/// Resamples a row-major `rows x cols` grid to `h x w`, one axis at a time. The axis order is
/// chosen so the intermediate grid is never larger than the input or the output.
fn resample(src: &[f32], rows: usize, cols: usize, h: usize, w: usize) -> Vec<f32> {
    if rows == h && cols == w {
        return src.to_vec();
    }
    let rw = axis_weights(rows, h);
    let cw = axis_weights(cols, w);
    let by_cols = |src: &[f32], nrows: usize| -> Vec<f32> {
        let mut out = Vec::with_capacity(nrows * w);
        for r in 0..nrows {
            let row = &src[r * cols..(r + 1) * cols];
            out.extend(cw.iter().map(|ws| ws.iter().map(|&(i, wt)| wt * row[i]).sum::<f32>()));
        }
        out
    };
    let by_rows = |src: &[f32], ncols: usize| -> Vec<f32> {
        let mut out = vec![0.0f32; h * ncols];
        for (y, ws) in rw.iter().enumerate() {
            let dst = &mut out[y * ncols..(y + 1) * ncols];
            for &(i, wt) in ws {
                for (d, &s) in dst.iter_mut().zip(&src[i * ncols..(i + 1) * ncols]) {
                    *d += wt * s;
                }
            }
        }
        out
    };
    if w <= cols {
        by_rows(&by_cols(src, rows), w)
    } else {
        by_cols(&by_rows(src, cols), h)
    }
}

/// Saves `img` as an 8-bit RGB PNG. The data goes to a temporary file in the same directory that
/// is renamed into place only when complete, and removed on any error, so `path` either keeps
/// its old content or gets the whole new picture — never a truncated one that a viewer would
/// show as half an image.
pub fn write_png(path: &Path, img: &RgbImage) -> Result<(), ImageError> {
    check_buffer(img)?;
    crate::atomic::write(path, |buf| encode(buf, img)).map_err(|e| atomic_error(path, e))
}

/// `img` as the bytes of an 8-bit RGB PNG file (to embed in another document, e.g. an SVG).
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, ImageError> {
    check_buffer(img)?;
    let mut out = Vec::new();
    encode(&mut out, img).map_err(|source| ImageError::Write { path: PathBuf::from("<memory>"), source })?;
    Ok(out)
}

fn check_buffer(img: &RgbImage) -> Result<(), ImageError> {
    let need = img.width as u64 * img.height as u64 * 3;
    if img.width == 0 || img.height == 0 || img.pixels.len() as u64 != need {
        return Err(ImageError::BadBuffer { width: img.width, height: img.height, len: img.pixels.len() });
    }
    Ok(())
}

fn encode(out: impl std::io::Write, img: &RgbImage) -> std::io::Result<()> {
    let mut enc = png::Encoder::new(out, img.width, img.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(encoding_io)?;
    writer.write_image_data(&img.pixels).map_err(encoding_io)?;
    writer.finish().map_err(encoding_io)
}

/// An atomic write's failure as the error naming `path`.
pub(crate) fn atomic_error(path: &Path, e: crate::atomic::AtomicError) -> ImageError {
    match e {
        crate::atomic::AtomicError::Create(source) => ImageError::Create { path: path.to_path_buf(), source },
        crate::atomic::AtomicError::Write(source) => ImageError::Write { path: path.to_path_buf(), source },
    }
}

/// The encoder's error as an I/O error, keeping the OS error when there is one.
fn encoding_io(e: png::EncodingError) -> std::io::Error {
    match e {
        png::EncodingError::IoError(e) => e,
        other => std::io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A fresh, empty directory for one test.
    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("specc-image-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn entries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn ramp_is_drawn_low_frequency_at_bottom() {
        // 3 frequency rows x 4 time columns; value = row * 4 + col, range 0..11.
        let v = Array2::from_shape_fn((3, 4), |(r, c)| (r * 4 + c) as f32);
        let img = render(v.view(), (0.0, 11.0), &PngOptions::default()).unwrap();
        assert_eq!((img.width, img.height), (4, 3));
        assert_eq!(img.pixels.len(), 4 * 3 * 3);
        let m = Colormap::Magma;
        // Bottom-left is the lowest frequency at the first time step: value 0 = lo.
        assert_eq!(img.pixel(0, 2), m.color(0.0));
        // Top-right is the highest frequency at the last time step: value 11 = hi.
        assert_eq!(img.pixel(3, 0), m.color(1.0));
        for r in 0..3 {
            for c in 0..4 {
                let t = (r * 4 + c) as f32 / 11.0;
                assert_eq!(img.pixel(c as u32, 2 - r as u32), m.color(t), "row {r} col {c}");
            }
        }
        assert_ne!(m.color(0.0), m.color(1.0));
    }

    #[test]
    fn colormaps_parse_and_differ() {
        for c in Colormap::ALL {
            assert_eq!(c.name().parse::<Colormap>().unwrap(), c);
            assert_eq!(c.to_string(), c.name());
        }
        assert!("jet".parse::<Colormap>().unwrap_err().contains("magma"));
        assert_eq!(Colormap::default(), Colormap::Magma);
        assert_eq!(Colormap::Gray.color(0.0), [0, 0, 0]);
        assert_eq!(Colormap::Gray.color(1.0), [255, 255, 255]);
        let mids: Vec<_> = Colormap::ALL.iter().map(|c| c.color(0.5)).collect();
        for i in 0..mids.len() {
            for j in i + 1..mids.len() {
                assert_ne!(mids[i], mids[j]);
            }
        }
        // The chosen colormap is the one used.
        let v = Array2::from_elem((1, 1), 1.0f32);
        let opts = PngOptions { colormap: Colormap::Viridis, ..Default::default() };
        assert_eq!(render(v.view(), (0.0, 1.0), &opts).unwrap().pixel(0, 0), Colormap::Viridis.color(1.0));
    }

    #[test]
    fn resize_gives_requested_size_and_keeps_structure() {
        let v = Array2::from_shape_fn((3, 4), |(r, c)| (r * 4 + c) as f32);
        let opts = PngOptions { width: Some(200), height: Some(100), ..Default::default() };
        let img = render(v.view(), (0.0, 11.0), &opts).unwrap();
        assert_eq!((img.width, img.height), (200, 100));
        assert_eq!(img.pixels.len(), 200 * 100 * 3);
        let first = img.pixel(0, 0);
        assert!((0..100).any(|y| (0..200).any(|x| img.pixel(x, y) != first)));
        // Still low at the bottom-left, high at the top-right.
        assert_eq!(img.pixel(0, 99), Colormap::Magma.color(0.0));
        assert_eq!(img.pixel(199, 0), Colormap::Magma.color(1.0));
        // Shrinking averages: 2x2 blocks of a checkerboard become the middle value.
        let check = Array2::from_shape_fn((4, 6), |(r, c)| ((r + c) % 2) as f32);
        let opts = PngOptions { width: Some(3), height: Some(2), colormap: Colormap::Gray };
        let img = render(check.view(), (0.0, 1.0), &opts).unwrap();
        assert_eq!((img.width, img.height), (3, 2));
        assert!(img.pixels.chunks(3).all(|p| p == Colormap::Gray.color(0.5)));
        // Long input shrunk along time only; constant input stays uniform.
        let long = Array2::from_elem((5, 10_000), 2.0f32);
        let opts = PngOptions { width: Some(777), ..Default::default() };
        let img = render(long.view(), (0.0, 4.0), &opts).unwrap();
        assert_eq!((img.width, img.height), (777, 5));
        assert!(img.pixels.chunks(3).all(|p| p == Colormap::Magma.color(0.5)));
    }

    #[test]
    fn nan_and_infinities() {
        let v = Array2::from_shape_vec((1, 5), vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -50.0, 50.0])
            .unwrap();
        let img = render(v.view(), (0.0, 1.0), &PngOptions::default()).unwrap();
        let m = Colormap::Magma;
        assert_eq!(img.pixel(0, 0), NAN_COLOR);
        assert_eq!(img.pixel(1, 0), m.color(1.0));
        assert_eq!(img.pixel(2, 0), m.color(0.0));
        assert_eq!(img.pixel(3, 0), m.color(0.0), "below range clamps");
        assert_eq!(img.pixel(4, 0), m.color(1.0), "above range clamps");
        // A NaN stays visible after resizing; infinities do not poison their neighbours.
        let opts = PngOptions { width: Some(50), height: Some(3), ..Default::default() };
        let img = render(v.view(), (0.0, 1.0), &opts).unwrap();
        assert_eq!(img.pixel(0, 1), NAN_COLOR);
        assert_eq!(img.pixel(49, 1), m.color(1.0));
        assert!((0..50).filter(|&x| img.pixel(x, 1) == NAN_COLOR).count() < 50);
        assert_eq!(finite_range(v.iter().copied()), Some((-50.0, 50.0)));
        assert_eq!(finite_range([f32::NAN, f32::INFINITY]), None);
        assert_eq!(finite_range(std::iter::empty()), None);
        let bad = Array2::from_elem((2, 2), f32::NAN);
        assert!(matches!(auto_range(bad.view()), Err(ImageError::NoFiniteValues)));
    }

    #[test]
    fn degenerate_range_is_middle_color() {
        let v = Array2::from_shape_fn((2, 3), |(r, c)| (r + c) as f32);
        let img = render(v.view(), (1.0, 1.0), &PngOptions::default()).unwrap();
        assert!(img.pixels.chunks(3).all(|p| p == Colormap::Magma.color(0.5)));
        let c = Array2::from_elem((2, 3), 7.0f32);
        let (lo, hi) = auto_range(c.view()).unwrap();
        let img = render(c.view(), (lo, hi), &PngOptions::default()).unwrap();
        assert!(img.pixels.chunks(3).all(|p| p == Colormap::Magma.color(0.5)));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let o = PngOptions::default();
        let empty = Array2::<f32>::zeros((0, 5));
        assert!(matches!(render(empty.view(), (0.0, 1.0), &o), Err(ImageError::Empty { rows: 0, cols: 5 })));
        let empty = Array2::<f32>::zeros((3, 0));
        assert!(matches!(render(empty.view(), (0.0, 1.0), &o), Err(ImageError::Empty { rows: 3, cols: 0 })));
        let v = Array2::<f32>::zeros((2, 20_000));
        let e = render(v.view(), (0.0, 1.0), &o).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge { width: 20_000, height: 2 }), "{e}");
        assert!(e.to_string().contains("16384"));
        // The same data fits when a width is given.
        let w = PngOptions { width: Some(1000), ..o };
        assert_eq!(render(v.view(), (0.0, 1.0), &w).unwrap().width, 1000);
        let v = Array2::<f32>::zeros((2, 2));
        let big = PngOptions { height: Some(MAX_SIDE + 1), ..o };
        assert!(matches!(render(v.view(), (0.0, 1.0), &big), Err(ImageError::TooLarge { .. })));
        let zero = PngOptions { width: Some(0), ..o };
        assert!(matches!(render(v.view(), (0.0, 1.0), &zero), Err(ImageError::TooSmall { .. })));
        for r in [(1.0, 0.0), (f32::NAN, 1.0), (0.0, f32::INFINITY)] {
            assert!(matches!(render(v.view(), r, &o), Err(ImageError::BadRange { .. })));
        }
    }

    #[test]
    fn png_round_trip() {
        let dir = scratch("roundtrip");
        let v = Array2::from_shape_fn((3, 4), |(r, c)| (r * 4 + c) as f32);
        let img = render(v.view(), (0.0, 11.0), &PngOptions::default()).unwrap();
        let path = dir.join("out.png");
        write_png(&path, &img).unwrap();
        // Overwriting an existing file works too.
        write_png(&path, &img).unwrap();
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (4, 3));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        assert_eq!(&buf[..info.buffer_size()], &img.pixels[..]);
        assert_eq!(entries(&dir), vec![String::from("out.png")], "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_writes_leave_nothing() {
        let dir = scratch("fail");
        let img = RgbImage { width: 1, height: 1, pixels: vec![1, 2, 3] };
        let missing = dir.join("no-such-dir").join("out.png");
        let e = write_png(&missing, &img).unwrap_err();
        assert!(matches!(e, ImageError::Create { .. }), "{e}");
        assert!(e.to_string().contains("out.png"), "{e}");
        assert!(entries(&dir).is_empty());
        // A folder is refused before anything is written (never replaced, never a temporary).
        let target = dir.join("taken");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), b"x").unwrap();
        let e = write_png(&target, &img).unwrap_err();
        assert!(matches!(e, ImageError::Create { .. }), "{e}");
        assert!(e.to_string().contains("Is a directory"), "{e}");
        assert_eq!(entries(&dir), vec![String::from("taken")]);
        // A malformed buffer is refused before any file is touched.
        let bad = RgbImage { width: 2, height: 2, pixels: vec![0; 5] };
        assert!(matches!(write_png(&dir.join("b.png"), &bad), Err(ImageError::BadBuffer { .. })));
        assert_eq!(entries(&dir), vec![String::from("taken")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
