//! Figures a person reads: an output drawn as `librosa.display.specshow` draws a spectrogram,
//! with a colorbar, a title, axes in seconds and Hz, and one labeled panel per channel or batch
//! item. PNG through plotters' bitmap backend, SVG through its SVG backend.
//!
//! The renderer knows nothing about specs or graphs: the caller says what each axis of the
//! array means ([`FigureInfo`], which `specc::Pipeline::figure_info` derives from the graph)
//! and the renderer only draws.
//!
//! Design choices, fixed here so callers need not guess:
//! - **Orientation.** Time runs left to right; the frequency axis (or the axis of rows when no
//!   frequency is known) runs bottom to top with row 0 at the bottom, whatever the array's axis
//!   order (a Kaldi `(frames, mel)` output is drawn transposed). Every other axis becomes one
//!   panel per index, panel 0 on top, sharing the time axis and the color scale.
//! - **Mel axes.** Mel bands are drawn evenly, one band per row as they are computed, so the tick
//!   labels (in Hz) are spaced as the mel scale spaces them, as specshow's `y_axis="mel"` does.
//! - **Display scale.** Linear power or amplitude is mostly near zero, so by default it is shown
//!   in dB ([`ValueScale::Db`]: `10·log10` for power, `20·log10` for amplitude, clipped to
//!   [`DB_RANGE`] below the maximum). This changes the picture only, never the data.
//! - **Special values.** NaN is drawn [`NAN_COLOR`] and listed under the colorbar; infinities
//!   take the ends of the colormap.
//! - **Text.** A subset of DejaVu Sans is compiled in, so no system font or fontconfig is needed
//!   and a figure looks the same on every machine (the SVG names `sans-serif`, which a viewer
//!   may render with its own font).

use crate::image::{self, Colormap, ImageError, PngOptions, RgbImage, NAN_COLOR};
use base64::Engine as _;
use ndarray::{Array2, ArrayViewD, IxDyn};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

/// DejaVu Sans, cut to Latin, Greek, punctuation and math symbols (license:
/// runtime/fonts/LICENSE-DejaVu.txt).
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The family name the font is registered under for plotters.
const FAMILY: &str = "sans-serif";

/// How far below the maximum a dB display reaches, as librosa's `top_db=80` default.
pub const DB_RANGE: f64 = 80.0;

/// Plot-area size of a default figure with one panel.
pub const DEFAULT_PLOT: (u32, u32) = (1000, 400);

/// What an axis of the array means, and so how it is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisKind {
    /// Time, drawn horizontally: index `i` is at `first + i * step` in the unit the axis label
    /// names (seconds when the sample rate is known, frames otherwise). Exactly one axis of a
    /// figure is time.
    Time {
        /// Where index 0 sits (a frame's centre).
        first: f64,
        /// Distance between neighbouring indices (the hop).
        step: f64,
    },
    /// Frequency, drawn vertically with row 0 at the bottom; `hz[i]` is row `i`'s (centre)
    /// frequency in Hz, increasing. Rows are drawn with equal heights, so with `mel` (rows are
    /// mel bands) the Hz ticks are spaced as the mel scale spaces them.
    Frequency {
        /// Each row's frequency, Hz.
        hz: Vec<f64>,
        /// The rows are mel bands (ticks at round frequencies, placed on the mel spacing).
        mel: bool,
    },
    /// Drawn vertically with row 0 at the bottom and ticks at row indices, when the rows have no
    /// frequency (FFT bins of a spec without a sample rate, real parts then imaginary parts).
    Rows,
    /// One panel per index, labeled `"{label} {index}"` (channels, batch items).
    Panels,
}

/// One axis of the array: its meaning and the words that label it.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureAxis {
    /// Axis label (`time (s)`, `frequency (Hz)`), or the panel word (`channel`, `item`).
    pub label: String,
    /// How it is drawn.
    pub kind: AxisKind,
}

/// What the values are, for the colorbar.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueInfo {
    /// The colorbar label when values are shown as they are (`mel power`, `dB`,
    /// `ln(mel power)`).
    pub label: String,
    /// For values on a linear power or amplitude scale: the factor that turns them into dB
    /// (10 for power, 20 for amplitude), used by [`ValueScale::Db`]; `None` for values that
    /// are already logarithmic or are signed (real parts, phases).
    pub db_mult: Option<f64>,
}

/// Everything the renderer needs to know about an array besides its values: a title, one
/// [`FigureAxis`] per array axis (in the array's order) and the value's meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureInfo {
    /// The title drawn on top (`speech.wav — librosa_mel (n_mels=64)`).
    pub title: String,
    /// One entry per axis of the array.
    pub axes: Vec<FigureAxis>,
    /// The values' meaning.
    pub value: ValueInfo,
}

/// How linear power or amplitude values are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ValueScale {
    /// In dB, `10·log10` for power and `20·log10` for amplitude, down to [`DB_RANGE`] below the
    /// maximum; values already in dB or logarithmic are shown as they are.
    #[default]
    Db,
    /// As they are.
    Linear,
}

impl FromStr for ValueScale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "db" => Ok(ValueScale::Db),
            "linear" => Ok(ValueScale::Linear),
            other => Err(format!("unknown scale `{other}`; scales: db, linear")),
        }
    }
}

impl fmt::Display for ValueScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueScale::Db => "db",
            ValueScale::Linear => "linear",
        })
    }
}

/// How a figure is sized, colored and scaled.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct FigureOptions {
    /// Whole-figure width in pixels, margins included; `None`: a [`DEFAULT_PLOT`]-wide plot
    /// plus margins.
    pub width: Option<u32>,
    /// Whole-figure height in pixels; `None`: [`DEFAULT_PLOT`]'s height shared by the panels
    /// (at least 150 pixels each) plus margins.
    pub height: Option<u32>,
    /// The colormap.
    pub colormap: Colormap,
    /// How linear values are shown.
    pub scale: ValueScale,
}

// Margins, in pixels, around the plot areas.
const LEFT: u32 = 104;
/// Blank border outside the axis labels (rotated text sits a little outside its label area).
const EDGE: u32 = 14;
const TITLE: u32 = 44;
const BOTTOM: u32 = 56;
const PANEL_LABEL: u32 = 22;
const PANEL_GAP: u32 = 10;
const BAR_GAP: u32 = 22;
const BAR_W: u32 = 20;
const BAR_LABELS: u32 = 86;
const RIGHT: u32 = BAR_GAP + BAR_W + BAR_LABELS + EDGE;
const TICK_FONT: f64 = 13.0;
const LABEL_FONT: f64 = 15.0;
const TITLE_FONT: f64 = 18.0;

/// The array laid out for drawing, and where everything goes.
struct Prepared {
    /// The title.
    title: String,
    /// Display values per panel: rows (lowest first) by time.
    panels: Vec<Array2<f32>>,
    /// Panel captions, empty for a single panel.
    captions: Vec<String>,
    /// Color range.
    range: (f32, f32),
    /// Colorbar label.
    bar_label: String,
    /// Whether any value is NaN.
    has_nan: bool,
    /// Time axis: label, first, step, count.
    time: (String, f64, f64, usize),
    /// Vertical axis.
    rows: FigureAxis,
    /// Figure size.
    size: (u32, u32),
    /// Plot width and each panel's height.
    plot: (u32, u32),
}

impl Prepared {
    /// Top pixel row of panel `i`'s plot area.
    fn panel_top(&self, i: usize) -> u32 {
        let label = if self.panels.len() > 1 { PANEL_LABEL } else { 0 };
        TITLE + i as u32 * (self.plot.1 + label + PANEL_GAP) + label
    }
    fn stack_bottom(&self) -> u32 {
        self.panel_top(self.panels.len() - 1) + self.plot.1
    }
    /// The pictures under the drawing: one per panel, and the colorbar, with the rectangle each
    /// covers (x, y, width, height). With `compact`, a picture has at most one pixel per value
    /// (a viewer stretches it over its rectangle); otherwise one pixel per figure pixel.
    fn rasters(&self, colormap: Colormap, compact: bool) -> Result<Vec<([u32; 4], RgbImage)>, ImageError> {
        let fit = |n: usize, px: u32| if compact { (n as u32).clamp(1, px) } else { px };
        let mut out = Vec::new();
        for (i, p) in self.panels.iter().enumerate() {
            let (w, h) = (fit(p.ncols(), self.plot.0), fit(p.nrows(), self.plot.1));
            let opts = PngOptions { width: Some(w), height: Some(h), colormap };
            out.push((
                [LEFT, self.panel_top(i), self.plot.0, self.plot.1],
                image::render(p.view(), self.range, &opts)?,
            ));
        }
        let top = self.panel_top(0);
        let h = self.stack_bottom() - top;
        let steps = 256;
        let ramp = Array2::from_shape_fn((steps, 1), |(r, _)| {
            let t = (r as f64 + 0.5) / steps as f64;
            (self.range.0 as f64 + t * (self.range.1 as f64 - self.range.0 as f64)) as f32
        });
        let opts = PngOptions { width: Some(fit(1, BAR_W)), height: Some(fit(steps, h)), colormap };
        let bar = image::render(ramp.view(), self.range, &opts)?;
        out.push(([LEFT + self.plot.0 + BAR_GAP, top, BAR_W, h], bar));
        Ok(out)
    }
}

fn axes_error(why: impl Into<String>) -> ImageError {
    ImageError::Figure(why.into())
}

/// Lays the values out as panels of rows x time, converts them for display and sizes the
/// figure.
fn prepare(
    values: ArrayViewD<'_, f32>,
    info: &FigureInfo,
    opts: &FigureOptions,
) -> Result<Prepared, ImageError> {
    let shape = values.shape().to_vec();
    if info.axes.len() != shape.len() {
        return Err(axes_error(format!(
            "the figure describes {} axes but the array has {} ({shape:?})",
            info.axes.len(),
            shape.len()
        )));
    }
    let t_ax = info
        .axes
        .iter()
        .position(|a| matches!(a.kind, AxisKind::Time { .. }))
        .ok_or_else(|| axes_error("the array has no time axis to draw along"))?;
    let f_ax = info
        .axes
        .iter()
        .position(|a| matches!(a.kind, AxisKind::Frequency { .. } | AxisKind::Rows))
        .ok_or_else(|| axes_error("the array has no frequency (or row) axis to draw"))?;
    for (i, a) in info.axes.iter().enumerate() {
        if i != t_ax && i != f_ax && !matches!(a.kind, AxisKind::Panels) {
            return Err(axes_error(format!("axis {i} ({}) is a second time or frequency axis", a.label)));
        }
    }
    if let AxisKind::Frequency { hz, .. } = &info.axes[f_ax].kind {
        if hz.len() != shape[f_ax] {
            return Err(axes_error(format!(
                "{} frequencies given for a frequency axis of {} rows",
                hz.len(),
                shape[f_ax]
            )));
        }
    }
    let (rows, cols) = (shape[f_ax], shape[t_ax]);
    if rows == 0 || cols == 0 {
        return Err(ImageError::Empty { rows, cols });
    }
    let lead: Vec<usize> = (0..shape.len()).filter(|&i| i != t_ax && i != f_ax).collect();
    let mut perm = lead.clone();
    perm.extend([f_ax, t_ax]);
    let arr = values.permuted_axes(IxDyn(&perm));
    let n_panels: usize = lead.iter().map(|&i| shape[i]).product();
    if n_panels == 0 {
        return Err(ImageError::Empty { rows: 0, cols });
    }
    let db = match (opts.scale, info.value.db_mult) {
        (ValueScale::Db, Some(m)) => Some(m),
        _ => None,
    };
    let show = |v: f32| -> f32 {
        match db {
            Some(m) if v > 0.0 => (m * (v as f64).log10()) as f32,
            Some(_) if v.is_nan() => v,
            Some(_) => f32::NEG_INFINITY,
            None => v,
        }
    };
    let flat: Vec<f32> = arr.iter().map(|&v| show(v)).collect();
    let has_nan = flat.iter().any(|v| v.is_nan());
    let range = match (image::finite_range(flat.iter().copied()), db) {
        (Some((_, hi)), Some(_)) => ((hi as f64 - DB_RANGE) as f32, hi),
        (Some(r), None) => r,
        // Nothing finite: every pixel is NaN gray or an end of the colormap; any range will do.
        (None, _) => (0.0, 1.0),
    };
    let per = rows * cols;
    let panels: Vec<Array2<f32>> = (0..n_panels)
        .map(|p| Array2::from_shape_vec((rows, cols), flat[p * per..(p + 1) * per].to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| axes_error(e.to_string()))?;
    let captions = if n_panels > 1 {
        (0..n_panels)
            .map(|mut p| {
                let mut parts = Vec::new();
                for &i in lead.iter().rev() {
                    parts.push(format!("{} {}", info.axes[i].label, p % shape[i]));
                    p /= shape[i];
                }
                parts.reverse();
                parts.join(", ")
            })
            .collect()
    } else {
        Vec::new()
    };
    let bar_label = match db {
        Some(m) => format!("{}·log10({}) [dB]", num(m), info.value.label),
        None => info.value.label.clone(),
    };
    let (first, step) = match info.axes[t_ax].kind {
        AxisKind::Time { first, step } => (first, step),
        _ => unreachable!("t_ax is the time axis"),
    };
    if !(first.is_finite() && step.is_finite() && step > 0.0) {
        return Err(axes_error(format!(
            "the time axis needs a finite start and a positive step, not {first}, {step}"
        )));
    }
    let label = if n_panels > 1 { PANEL_LABEL } else { 0 };
    let fixed_h = TITLE + BOTTOM + n_panels as u32 * label + (n_panels as u32 - 1) * PANEL_GAP;
    let plot_w = match opts.width {
        None => DEFAULT_PLOT.0,
        Some(w) => w.saturating_sub(LEFT + RIGHT),
    };
    let panel_h = match opts.height {
        None if n_panels == 1 => DEFAULT_PLOT.1,
        None => (DEFAULT_PLOT.1 / n_panels as u32).max(150),
        Some(h) => h.saturating_sub(fixed_h) / n_panels as u32,
    };
    let size = (
        opts.width.unwrap_or(plot_w + LEFT + RIGHT),
        opts.height.unwrap_or(fixed_h + panel_h * n_panels as u32),
    );
    if size.0 > image::MAX_SIDE || size.1 > image::MAX_SIDE {
        return Err(ImageError::TooLarge { width: size.0 as u64, height: size.1 as u64 });
    }
    if plot_w < 40 || panel_h < 20 {
        let (min_w, min_h) = (LEFT + RIGHT + 40, fixed_h + 20 * n_panels as u32);
        return Err(ImageError::TooSmall {
            width: size.0 as u64,
            height: size.1 as u64,
            why: format!("{n_panels} panel(s) with axes and a colorbar need at least {min_w}x{min_h}"),
        });
    }
    Ok(Prepared {
        title: info.title.clone(),
        panels,
        captions,
        range,
        bar_label,
        has_nan,
        time: (info.axes[t_ax].label.clone(), first, step, cols),
        rows: info.axes[f_ax].clone(),
        size,
        plot: (plot_w, panel_h),
    })
}

/// A number as people write it on an axis: no trailing zeros, no `-0`.
fn num(v: f64) -> String {
    let s = format!("{:.6}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        String::from("0")
    } else {
        s.to_string()
    }
}

/// Tick values at round multiples (1, 2, 2.5, 5 x 10^k) in `[lo, hi]`, at most about `max_n`.
fn nice_ticks(lo: f64, hi: f64, max_n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) || max_n == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / max_n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut k = (lo / step).ceil();
    while k * step <= hi + step * 1e-9 {
        out.push(k * step);
        k += 1.0;
    }
    out
}

/// A tick label for value `v` among ticks `step` apart.
fn tick_text(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { ((-step.log10()).ceil() as usize + 1).min(6) };
    num(format!("{v:.decimals$}").parse().unwrap_or(v))
}

/// The row position (row `i` spans `[i, i + 1)`) of frequency `f` on rows with frequencies
/// `hz`, interpolating between row centres and extending the end spacing beyond them.
fn hz_position(hz: &[f64], f: f64) -> f64 {
    let n = hz.len();
    if n == 1 {
        return 0.5;
    }
    let i = hz.partition_point(|&h| h < f).clamp(1, n - 1);
    let (a, b) = (hz[i - 1], hz[i]);
    if b == a {
        return i as f64;
    }
    (i - 1) as f64 + 0.5 + (f - a) / (b - a)
}

/// Vertical ticks: (row position, label), at least `min_px` apart on a `px`-tall panel.
fn row_ticks(axis: &AxisKind, rows: usize, px: u32) -> Vec<(f64, String)> {
    let min_px = 26.0;
    let per_row = px as f64 / rows as f64;
    let mut chosen: Vec<(f64, String)> = Vec::new();
    let take = |pos: f64, text: String, chosen: &mut Vec<(f64, String)>| {
        if (-1e-9..=rows as f64 + 1e-9).contains(&pos)
            && chosen.iter().all(|(p, _)| ((p - pos) * per_row).abs() >= min_px)
        {
            chosen.push((pos, text));
        }
    };
    let max_n = ((px as f64 / 40.0) as usize).max(2);
    match axis {
        // One row: its own frequency (there is no spacing to place round values on).
        AxisKind::Frequency { hz, .. } if hz.len() == 1 => take(0.5, num(hz[0].round()), &mut chosen),
        AxisKind::Frequency { hz, mel: true } => {
            // Round frequencies, most important first; each kept if it leaves room.
            const ORDER: [f64; 24] = [
                0.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 500.0, 250.0, 3000.0, 6000.0, 12000.0, 100.0,
                5000.0, 10000.0, 1500.0, 750.0, 20000.0, 24000.0, 7000.0, 14000.0, 200.0, 300.0, 400.0, 50.0,
            ];
            for f in ORDER {
                take(hz_position(hz, f), num(f), &mut chosen);
            }
        }
        AxisKind::Frequency { hz, mel: false } => {
            let lo = hz[0] - (hz.get(1).unwrap_or(&hz[0]) - hz[0]) / 2.0;
            let hi = hz[hz.len() - 1] + (hz[hz.len() - 1] - hz[hz.len().saturating_sub(2)]) / 2.0;
            let ticks = nice_ticks(lo.max(0.0), hi, max_n);
            let step = ticks.get(1).map_or(1.0, |b| b - ticks[0]);
            for f in ticks {
                take(hz_position(hz, f), tick_text(f, step), &mut chosen);
            }
        }
        _ => {
            let ticks = nice_ticks(0.0, (rows - 1) as f64, max_n);
            for r in ticks {
                take(r.round() + 0.5, num(r.round()), &mut chosen);
            }
        }
    }
    chosen.sort_by(|a, b| a.0.total_cmp(&b.0));
    chosen
}

/// A linear axis with ticks exactly where we put them (plotters' own key-point wrapper loses the
/// label formatter on f64 axes).
struct Ticked {
    range: Range<f64>,
    keys: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.range.start) / (self.range.end - self.range.start);
        let len = (limit.1 - limit.0) as f64;
        limit.0 + (len * t + 1e-3 * len.signum()).floor() as i32
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }
    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&BLACK)
}

fn register_font() -> Result<(), ImageError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(axes_error("the embedded font could not be loaded"))
    }
}

/// Draws the axes, ticks, labels, title and colorbar frame over the rasters (which the backend
/// already shows or which are layered under it).
fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Prepared) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (w, _) = p.size;
    // Title, shrunk and then cut to fit the width.
    let mut title_size = TITLE_FONT;
    let mut title = p.title.clone();
    let fits = |t: &str, s: f64| root.estimate_text_size(t, &font(s)).map(|(tw, _)| tw + 16 <= w);
    while !fits(&title, title_size).map_err(e)? {
        if title_size > 12.0 {
            title_size -= 1.0;
        } else {
            title.pop();
            title.pop();
            title.push('…');
        }
    }
    let pos = Pos::new(HPos::Center, VPos::Center);
    let at = (w as i32 / 2, (TITLE / 2) as i32);
    root.draw(&Text::new(title, at, font(title_size).pos(pos))).map_err(e)?;

    let (t_label, first, step, n) = &p.time;
    let x0 = first - step / 2.0;
    let x1 = first + (*n as f64 - 0.5) * step;
    let x_ticks: Vec<f64> = nice_ticks(x0, x1, (p.plot.0 / 90).max(2) as usize);
    let x_step = x_ticks.get(1).map_or(1.0, |b| b - x_ticks[0]);
    let rows = p.panels[0].nrows();
    let y_ticks = row_ticks(&p.rows.kind, rows, p.plot.1);
    let y_points: Vec<f64> = y_ticks.iter().map(|t| t.0).collect();
    let y_text = |v: &f64| {
        y_ticks
            .iter()
            .min_by(|a, b| (a.0 - v).abs().total_cmp(&(b.0 - v).abs()))
            .map_or(String::new(), |t| t.1.clone())
    };
    let x_text = |v: &f64| tick_text(*v, x_step);
    let last = p.panels.len() - 1;
    for i in 0..p.panels.len() {
        let top = p.panel_top(i);
        let bottom = if i == last { p.size.1 } else { top + p.plot.1 };
        let area = root.clone().shrink((EDGE, top), (LEFT - EDGE + p.plot.0, bottom - top));
        let mut chart = ChartBuilder::on(&area)
            .y_label_area_size(LEFT - EDGE)
            .x_label_area_size(if i == last { BOTTOM } else { 0 })
            .build_cartesian_2d(
                Ticked { range: x0..x1, keys: x_ticks.clone() },
                Ticked { range: 0.0..rows as f64, keys: y_points.clone() },
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&x_text)
            .y_label_formatter(&y_text)
            .label_style(font(TICK_FONT))
            .axis_desc_style(font(LABEL_FONT))
            .x_desc(t_label.as_str())
            .y_desc(p.rows.label.as_str())
            .set_all_tick_mark_size(5)
            .draw()
            .map_err(e)?;
        let (px, py) = chart.plotting_area().get_pixel_range();
        debug_assert_eq!((px.start, py.start), (LEFT as i32, top as i32), "rasters and axes disagree");
        area.draw(&Rectangle::new(
            [((LEFT - EDGE) as i32, 0), ((LEFT - EDGE + p.plot.0) as i32, p.plot.1 as i32)],
            BLACK.stroke_width(1),
        ))
        .map_err(e)?;
        if let Some(c) = p.captions.get(i) {
            let pos = Pos::new(HPos::Left, VPos::Bottom);
            root.draw(&Text::new(c.clone(), (LEFT as i32, top as i32 - 4), font(LABEL_FONT).pos(pos)))
                .map_err(e)?;
        }
    }

    // Colorbar: its own chart, ticks and label on the right.
    let top = p.panel_top(0);
    let bar_x = LEFT + p.plot.0 + BAR_GAP;
    let area = root.clone().shrink((bar_x, top), (BAR_W + BAR_LABELS, p.stack_bottom() - top));
    let (lo, hi) = (p.range.0 as f64, p.range.1 as f64);
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 0.5, hi + 0.5) };
    let bar_ticks = nice_ticks(lo, hi, ((p.stack_bottom() - top) / 45).max(2) as usize);
    let bar_step = bar_ticks.get(1).map_or(1.0, |b| b - bar_ticks[0]);
    let bar_text = |v: &f64| tick_text(*v, bar_step);
    let mut chart = ChartBuilder::on(&area)
        .set_label_area_size(LabelAreaPosition::Right, BAR_LABELS)
        .build_cartesian_2d(0.0..1.0, Ticked { range: lo..hi, keys: bar_ticks })
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_label_formatter(&bar_text)
        .label_style(font(TICK_FONT))
        .axis_desc_style(font(LABEL_FONT))
        .y_desc(p.bar_label.as_str())
        .set_all_tick_mark_size(4)
        .draw()
        .map_err(e)?;
    area.draw(&Rectangle::new(
        [(0, 0), (BAR_W as i32, (p.stack_bottom() - top) as i32)],
        BLACK.stroke_width(1),
    ))
    .map_err(e)?;
    if p.has_nan {
        let y = (p.stack_bottom() + 10) as i32;
        let x = bar_x as i32;
        root.draw(&Rectangle::new(
            [(x, y), (x + 12, y + 12)],
            RGBColor(NAN_COLOR[0], NAN_COLOR[1], NAN_COLOR[2]).filled(),
        ))
        .map_err(e)?;
        let pos = Pos::new(HPos::Left, VPos::Center);
        root.draw(&Text::new("NaN", (x + 17, y + 6), font(TICK_FONT).pos(pos))).map_err(e)?;
    }
    root.present().map_err(e)
}

/// Draws `values` as a figure: see the module docs. `info.axes` describes the array's axes in
/// order; the result is `opts.width x opts.height` pixels (or the default size).
pub fn render_png(
    values: ArrayViewD<'_, f32>,
    info: &FigureInfo,
    opts: &FigureOptions,
) -> Result<RgbImage, ImageError> {
    register_font()?;
    let p = prepare(values, info, opts)?;
    let (w, h) = p.size;
    let mut pixels = vec![255u8; w as usize * h as usize * 3];
    for ([x, y, ..], img) in p.rasters(opts.colormap, false)? {
        for row in 0..img.height as usize {
            let src = &img.pixels[row * img.width as usize * 3..(row + 1) * img.width as usize * 3];
            let at = ((y as usize + row) * w as usize + x as usize) * 3;
            pixels[at..at + src.len()].copy_from_slice(src);
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        draw(&root, &p).map_err(ImageError::Figure)?;
    }
    Ok(RgbImage { width: w, height: h, pixels })
}

/// Draws `values` as an SVG document (see [`render_png`]): text, axes and ticks as vector
/// shapes, each panel's colors and the colorbar as embedded PNG images with at most one pixel
/// per value, which the viewer stretches over the plot without smoothing (flat cells, as in
/// the PNG).
pub fn render_svg(
    values: ArrayViewD<'_, f32>,
    info: &FigureInfo,
    opts: &FigureOptions,
) -> Result<String, ImageError> {
    register_font()?;
    let p = prepare(values, info, opts)?;
    let (w, h) = p.size;
    let mut svg = format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n"
    );
    for ([x, y, width, height], img) in p.rasters(opts.colormap, true)? {
        let png = image::encode_png(&img).map_err(|e| ImageError::Figure(e.to_string()))?;
        svg.push_str(&format!(
            "<image x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{height}\" preserveAspectRatio=\"none\" \
             image-rendering=\"optimizeSpeed\" style=\"image-rendering:pixelated\" xlink:href=\"data:image/png;base64,{}\"/>\n",
            base64::engine::general_purpose::STANDARD.encode(png)
        ));
    }
    // plotters draws the vector layer as a complete document, nested over the images.
    let mut layer = String::new();
    {
        let root = SVGBackend::with_string(&mut layer, (w, h)).into_drawing_area();
        draw(&root, &p).map_err(ImageError::Figure)?;
    }
    svg.push_str(&layer);
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// Saves an SVG document written by [`render_svg`], atomically as [`image::write_png`] saves
/// a PNG.
pub fn write_svg(path: &Path, svg: &str) -> Result<(), ImageError> {
    use std::io::Write;
    crate::atomic::write(path, |buf| buf.write_all(svg.as_bytes())).map_err(|e| image::atomic_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ArrayD};

    /// A (rows, frames) figure description: time 0.0, 0.01, ...; rows at `hz`.
    fn info(hz: Vec<f64>, mel: bool, value: ValueInfo) -> FigureInfo {
        FigureInfo {
            title: String::from("tone.wav — test_spec (n=3)"),
            axes: vec![
                FigureAxis { label: String::from("frequency (Hz)"), kind: AxisKind::Frequency { hz, mel } },
                FigureAxis {
                    label: String::from("time (s)"),
                    kind: AxisKind::Time { first: 0.0, step: 0.01 },
                },
            ],
            value,
        }
    }

    fn power() -> ValueInfo {
        ValueInfo { label: String::from("power"), db_mult: Some(10.0) }
    }

    /// Rows get louder upwards: row r has power 10^(r - rows).
    fn ramp(rows: usize, cols: usize) -> ArrayD<f32> {
        Array2::from_shape_fn((rows, cols), |(r, _)| 10f32.powi(r as i32 - rows as i32)).into_dyn()
    }

    fn linear_hz(n: usize) -> Vec<f64> {
        (0..n).map(|k| k as f64 * 100.0).collect()
    }

    fn plot_pixel(img: &RgbImage, fx: f64, fy: f64) -> [u8; 3] {
        img.pixel(LEFT + (fx * DEFAULT_PLOT.0 as f64) as u32, TITLE + (fy * DEFAULT_PLOT.1 as f64) as u32)
    }

    #[test]
    fn default_size_plot_area_and_orientation() {
        // 10 rows from -100 dB to -10 dB: the lowest rows are more than 80 dB down.
        let img =
            render_png(ramp(10, 50).view(), &info(linear_hz(10), false, power()), &FigureOptions::default())
                .unwrap();
        let v = ramp(8, 50);
        assert_eq!((img.width, img.height), (DEFAULT_PLOT.0 + LEFT + RIGHT, DEFAULT_PLOT.1 + TITLE + BOTTOM));
        // The plot area is colored, top (loud) bright and bottom (quiet) dark.
        let m = Colormap::Magma;
        assert_eq!(plot_pixel(&img, 0.5, 0.01), m.color(1.0));
        assert_eq!(plot_pixel(&img, 0.5, 0.99), m.color(0.0), "80 dB below the top is the bottom color");
        let distinct: std::collections::HashSet<[u8; 3]> =
            (0..40).map(|i| plot_pixel(&img, 0.5, i as f64 / 40.0)).collect();
        assert!(distinct.len() > 5, "{distinct:?}");
        // The margins carry text and lines: some dark pixels left of and below the plot.
        let dark = |x0: u32, x1: u32, y0: u32, y1: u32| {
            (x0..x1)
                .flat_map(|x| (y0..y1).map(move |y| (x, y)))
                .filter(|&(x, y)| img.pixel(x, y)[0] < 100)
                .count()
        };
        assert!(dark(0, LEFT - 2, TITLE, TITLE + 400) > 50, "y ticks and label");
        assert!(dark(LEFT, LEFT + 1000, TITLE + 402, img.height) > 50, "x ticks and label");
        assert!(dark(0, img.width, 0, TITLE - 2) > 50, "title");
        // A requested size is the whole figure's.
        let opts = FigureOptions { width: Some(640), height: Some(360), ..Default::default() };
        let img = render_png(v.view(), &info(linear_hz(8), false, power()), &opts).unwrap();
        assert_eq!((img.width, img.height), (640, 360));
        let opts = FigureOptions { width: Some(100), height: Some(100), ..Default::default() };
        let e = render_png(v.view(), &info(linear_hz(8), false, power()), &opts).unwrap_err();
        assert!(matches!(e, ImageError::TooSmall { .. }), "{e}");
    }

    #[test]
    fn time_by_frequency_layout_is_drawn_transposed() {
        // (frames, rows) as Kaldi lays it out: the same picture as (rows, frames).
        let v = ramp(8, 50);
        let mut t = info(linear_hz(8), false, power());
        t.axes.reverse();
        let a = render_png(v.view(), &info(linear_hz(8), false, power()), &FigureOptions::default()).unwrap();
        let b = render_png(v.t().into_dyn(), &t, &FigureOptions::default()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn db_and_linear_display() {
        let v = ramp(8, 50);
        let lin = FigureOptions { scale: ValueScale::Linear, ..Default::default() };
        let db =
            render_svg(v.view(), &info(linear_hz(8), false, power()), &FigureOptions::default()).unwrap();
        assert!(db.contains("10·log10(power) [dB]"), "dB colorbar label");
        let svg = render_svg(v.view(), &info(linear_hz(8), false, power()), &lin).unwrap();
        assert!(!svg.contains("[dB]") && svg.contains("power"));
        // Linear: everything but the top row is near 0, so the bottom color fills most of it.
        let img = render_png(v.view(), &info(linear_hz(8), false, power()), &lin).unwrap();
        let m = Colormap::Magma;
        assert_eq!(plot_pixel(&img, 0.5, 0.5), m.color(0.0));
        assert_eq!(plot_pixel(&img, 0.5, 0.01), m.color(1.0));
        // Values already in dB are drawn as they are, whatever the scale.
        let already = ValueInfo { label: String::from("mel power [dB]"), db_mult: None };
        let svg =
            render_svg(v.view(), &info(linear_hz(8), false, already), &FigureOptions::default()).unwrap();
        assert!(svg.contains("mel power [dB]") && !svg.contains("log10"));
    }

    #[test]
    fn svg_has_the_words_and_the_pictures() {
        let v = ramp(8, 50);
        let svg =
            render_svg(v.view(), &info(linear_hz(8), false, power()), &FigureOptions::default()).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for text in ["tone.wav — test_spec (n=3)", "time (s)", "frequency (Hz)", "[dB]", "0.2", "500"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert_eq!(svg.matches("<image").count(), 2, "one panel and the colorbar");
        assert!(svg.contains("data:image/png;base64,iVBOR"), "embedded PNG");
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn nan_is_gray_and_named() {
        let mut v = ramp(8, 50);
        for c in 0..25 {
            v[[3, c]] = f32::NAN;
            v[[4, c]] = f32::NAN;
        }
        let img =
            render_png(v.view(), &info(linear_hz(8), false, power()), &FigureOptions::default()).unwrap();
        assert_eq!(plot_pixel(&img, 0.2, 0.5), NAN_COLOR);
        assert_ne!(plot_pixel(&img, 0.8, 0.5), NAN_COLOR);
        let svg =
            render_svg(v.view(), &info(linear_hz(8), false, power()), &FigureOptions::default()).unwrap();
        assert!(svg.contains("NaN"));
        // All NaN still draws (all gray) rather than failing.
        let all = ArrayD::from_elem(vec![8, 50], f32::NAN);
        let img =
            render_png(all.view(), &info(linear_hz(8), false, power()), &FigureOptions::default()).unwrap();
        assert_eq!(plot_pixel(&img, 0.5, 0.5), NAN_COLOR);
    }

    #[test]
    fn panels_are_labeled() {
        let v = ndarray::Array3::from_shape_fn((2, 8, 50), |(p, r, _)| (p * 8 + r) as f32).into_dyn();
        let mut fi = info(linear_hz(8), false, ValueInfo { label: String::from("ln(power)"), db_mult: None });
        fi.axes.insert(0, FigureAxis { label: String::from("channel"), kind: AxisKind::Panels });
        let svg = render_svg(v.view(), &fi, &FigureOptions::default()).unwrap();
        assert!(svg.contains("channel 0") && svg.contains("channel 1"));
        assert_eq!(svg.matches("<image").count(), 3);
        let img = render_png(v.view(), &fi, &FigureOptions::default()).unwrap();
        // Channel 1 (larger values) is the lower panel and brighter.
        let m = Colormap::Magma;
        let p = Prepared::panel_top;
        let prep = prepare(v.view(), &fi, &FigureOptions::default()).unwrap();
        let (y0, y1) = (p(&prep, 0) + 2, p(&prep, 1) + 2);
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2);
        assert!(close(img.pixel(LEFT + 500, y0), m.color(7.0 / 15.0)));
        assert!(close(img.pixel(LEFT + 500, y1), m.color(1.0)));
        // A mismatched description is an error, not a wrong picture.
        fi.axes.pop();
        assert!(matches!(render_png(v.view(), &fi, &FigureOptions::default()), Err(ImageError::Figure(_))));
    }

    #[test]
    fn mel_ticks_are_round_hz_on_the_mel_spacing() {
        // 40 HTK-like bands from 0 to 8 kHz.
        let mel = |f: f64| 1127.0 * (1.0 + f / 700.0).ln();
        let hz_of = |m: f64| 700.0 * ((m / 1127.0).exp() - 1.0);
        let top = mel(8000.0);
        let hz: Vec<f64> = (1..=40).map(|i| hz_of(top * i as f64 / 41.0)).collect();
        let ticks = row_ticks(&AxisKind::Frequency { hz: hz.clone(), mel: true }, 40, 400);
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        for want in ["500", "1000", "2000", "4000"] {
            assert!(labels.contains(&want), "{labels:?}");
        }
        // Positions increase with frequency and keep their distance.
        for w in ticks.windows(2) {
            assert!((w[1].0 - w[0].0) * 10.0 >= 26.0, "{ticks:?}");
        }
        // 1000 Hz sits between the rows whose centres surround it.
        let pos = ticks.iter().find(|t| t.1 == "1000").unwrap().0;
        let i = hz.partition_point(|&h| h < 1000.0);
        assert!(pos > (i - 1) as f64 + 0.5 && pos < i as f64 + 0.5, "{pos} {i}");
        // Linear bins get evenly spaced round ticks.
        let ticks = row_ticks(&AxisKind::Frequency { hz: linear_hz(81), mel: false }, 81, 400);
        assert_eq!(ticks[0].1, "0");
        assert!(ticks.iter().any(|t| t.1 == "4000"), "{ticks:?}");
        assert_eq!(nice_ticks(0.0, 2.6, 6), vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        assert_eq!(tick_text(0.25, 0.25), "0.25");
        assert_eq!(tick_text(2000.0, 500.0), "2000");
        // A single band is labeled with its own frequency.
        let one = row_ticks(&AxisKind::Frequency { hz: vec![1234.4], mel: true }, 1, 400);
        assert_eq!(one, vec![(0.5, String::from("1234"))]);
    }
}
