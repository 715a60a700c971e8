//! `specc stream`: raw PCM (or a WAV) on stdin through [`specc::Stream`], each completed frame
//! to stdout as little-endian f32 as soon as it is computed, or all of them to a `.npy` at the
//! end.
//!
//! Samples become the spec's input exactly as `specc run` makes them from a file: 16-bit
//! samples as `i16 as f32 / 32768`, channels mixed by their f32 mean (or the first, or all
//! kept), `--audio-scale int16` multiplying by 32768 afterwards; so streaming a recording
//! gives `specc run`'s output bit for bit.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ndarray::{ArrayD, Axis, IxDyn};
use specc::{Error, Input, Output, Pipeline};
use specc_runtime::audio::ChannelMode;

use crate::files::{audio_layout, AudioScale};

/// A raw sample encoding on stdin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PcmFormat {
    /// Signed 16-bit little-endian integers (`arecord -f S16_LE`, `sox -e signed -b 16`).
    S16le,
    /// 32-bit little-endian IEEE floats.
    F32le,
}

impl PcmFormat {
    fn bytes(self) -> usize {
        match self {
            PcmFormat::S16le => 2,
            PcmFormat::F32le => 4,
        }
    }
}

/// What `specc stream` was asked to do.
pub struct StreamOptions {
    /// The stream's sample rate (raw PCM; a WAV says its own).
    pub rate: Option<f64>,
    /// The sample encoding (raw PCM; a WAV says its own).
    pub format: Option<PcmFormat>,
    /// Interleaved channels (raw PCM; a WAV says its own).
    pub channels: Option<usize>,
    /// How several channels become the spec's input.
    pub mode: ChannelMode,
    /// Sample scale, as `specc run --audio-scale`.
    pub scale: AudioScale,
    /// `.npy` written at the end instead of frames on stdout.
    pub output: Option<PathBuf>,
    /// How a clip at a maximum streams: refused, deferred (needs `output`: frames computed as
    /// they arrive, clipped against the signal's maximum when it ends) or running.
    pub clip: specc::ClipMode,
    /// Frames per emission.
    pub group: Group,
}

/// `--group`: frames per emission, or the kernels' block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// This many frames (at least 1).
    Frames(usize),
    /// [`specc::Stream::block_frames`].
    Block,
}

impl std::str::FromStr for Group {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "block" => Ok(Group::Block),
            t => t.parse().ok().filter(|n: &usize| *n >= 1).map(Group::Frames).ok_or_else(|| {
                format!("`{s}` is not a group; give a number of frames (1 or more) or `block`")
            }),
        }
    }
}

impl Group {
    /// Applies the group to `st`.
    pub fn apply(self, st: &mut specc::Stream) {
        let n = match self {
            Group::Frames(n) => n,
            Group::Block => st.block_frames(),
        };
        st.set_group(n);
    }
}

/// The encoding of the samples on stdin, from the options or a WAV header.
struct Pcm {
    format: PcmFormat,
    channels: usize,
    rate: Option<f64>,
    /// Bytes of audio still to read (a WAV's data chunk), `None` for up to the end.
    left: Option<u64>,
}

/// Reads into `buf` until it holds `n` bytes or stdin ends; how many it holds.
fn fill(r: &mut impl Read, buf: &mut Vec<u8>, n: usize) -> Result<usize, Error> {
    let mut tmp = [0u8; 4096];
    while buf.len() < n {
        let want = (n - buf.len()).min(tmp.len());
        match r.read(&mut tmp[..want]) {
            Ok(0) => break,
            Ok(k) => buf.extend_from_slice(&tmp[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Io(format!("cannot read stdin: {e}"))),
        }
    }
    Ok(buf.len())
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Parses a WAV header from stdin (after the `RIFF` already in `head`), up to its data chunk.
fn wav_header(r: &mut impl Read, head: &mut Vec<u8>) -> Result<Pcm, Error> {
    let bad = |why: &str| Error::Io(format!("stdin is not a WAV file specc can stream: {why}"));
    if fill(r, head, 12)? < 12 || &head[8..12] != b"WAVE" {
        return Err(bad("no WAVE header after RIFF"));
    }
    head.clear();
    let mut fmt: Option<(PcmFormat, usize, f64)> = None;
    loop {
        head.clear();
        if fill(r, head, 8)? < 8 {
            return Err(bad("it ends before its data chunk"));
        }
        let (id, size) = ([head[0], head[1], head[2], head[3]], u32_at(head, 4) as u64);
        if &id == b"data" {
            let (format, channels, rate) = fmt.ok_or_else(|| bad("the data chunk comes before fmt"))?;
            head.clear();
            // Writers to a pipe cannot seek back to fill in the size: 0 and the maximum mean
            // "up to the end".
            let left = (size != 0 && size != u32::MAX as u64).then_some(size);
            return Ok(Pcm { format, channels, rate: Some(rate), left });
        }
        head.clear();
        // Chunks are padded to an even size; skipped chunks are read, not sought (a pipe).
        let skip = size + (size & 1);
        if skip > 1 << 20 {
            return Err(bad("a header chunk is larger than 1 MiB"));
        }
        if (fill(r, head, skip as usize)? as u64) < skip {
            return Err(bad("it ends inside a header chunk"));
        }
        if &id == b"fmt " {
            if head.len() < 16 {
                return Err(bad("its fmt chunk is too short"));
            }
            let mut tag = u16_at(head, 0);
            let channels = u16_at(head, 2) as usize;
            let rate = u32_at(head, 4) as f64;
            let bits = u16_at(head, 14);
            if tag == 0xFFFE && head.len() >= 26 {
                tag = u16_at(head, 24); // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
            }
            let format = match (tag, bits) {
                (1, 16) => PcmFormat::S16le,
                (3, 32) => PcmFormat::F32le,
                _ => {
                    return Err(bad(&format!(
                        "format {tag} with {bits}-bit samples; stream 16-bit PCM or 32-bit float (sox ... -e signed -b 16)"
                    )))
                }
            };
            if channels == 0 {
                return Err(bad("it has no channels"));
            }
            fmt = Some((format, channels, rate));
        }
    }
}

/// Runs `specc stream`: returns the count of frames written.
pub fn run(p: &Pipeline, opts: &StreamOptions) -> Result<usize, Error> {
    if opts.clip == specc::ClipMode::Deferred && opts.output.is_none() {
        return Err(Error::Usage(String::from(
            "--defer-clip needs -o: the frames are clipped once the signal has ended",
        )));
    }
    let mut st = p.stream_with(opts.clip)?;
    opts.group.apply(&mut st);
    let stdin = std::io::stdin();
    let mut r = stdin.lock();
    let mut head = Vec::new();
    fill(&mut r, &mut head, 4)?;
    let pcm = if head.starts_with(b"RIFF") {
        let pcm = wav_header(&mut r, &mut head)?;
        if let Some(c) = opts.channels.filter(|&c| c != pcm.channels) {
            return Err(Error::Usage(format!("--channels {c}, but the WAV on stdin has {}", pcm.channels)));
        }
        if let Some(f) = opts.format.filter(|&f| f != pcm.format) {
            return Err(Error::Usage(format!("--format {f:?}, but the WAV on stdin holds {:?}", pcm.format)));
        }
        if let (Some(a), Some(b)) = (opts.rate, pcm.rate) {
            if a != b {
                return Err(Error::Usage(format!("--rate {a}, but the WAV on stdin is sampled at {b} Hz")));
            }
        }
        pcm
    } else {
        let format = opts.format.ok_or_else(|| {
            Error::Usage(String::from("raw PCM on stdin needs --format (s16le or f32le); or pipe a WAV"))
        })?;
        let rate = opts.rate.ok_or_else(|| {
            Error::Usage(String::from("raw PCM on stdin needs --rate (its sample rate in Hz); or pipe a WAV"))
        })?;
        Pcm { format, channels: opts.channels.unwrap_or(1), rate: Some(rate), left: None }
    };
    if pcm.channels == 0 {
        return Err(Error::Usage(String::from("--channels must be at least 1")));
    }
    if let (Some(want), Some(have)) = (p.graph().rate, pcm.rate) {
        if (want - have).abs() > 1e-9 {
            let fix = match p.rate_param() {
                Some(param) => format!("; compute at the stream's rate with --set {param}={have}"),
                None => format!(" (this spec runs at {want} Hz only; resample before piping)"),
            };
            return Err(Error::Usage(format!(
                "the stream is sampled at {have} Hz but the spec expects {want} Hz{fix}"
            )));
        }
    }
    let user_axes = p.graph().user_axes().to_vec();
    // Ctrl-C or SIGTERM (or the writer ending) ends the signal: the stream is finished, so the
    // output holds every frame of the samples read.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Error::Io(format!("cannot handle signals: {e}")))?;
    }
    let frame_bytes = pcm.format.bytes() * pcm.channels;
    let mut pending = std::mem::take(&mut head);
    let mut left = pcm.left;
    let mut collected: Vec<Output> = Vec::new();
    let mut written = 0usize;
    let mut buf = vec![0u8; 1 << 14];
    let mut ended = false;
    loop {
        // Whole sample frames of what has arrived; the rest waits for the next read.
        let mut usable = pending.len() - pending.len() % frame_bytes;
        if let Some(l) = left {
            usable = usable.min((l as usize) - (l as usize) % frame_bytes);
        }
        if usable > 0 || ended {
            let chunk = decode(&pending[..usable], &pcm, opts, &user_axes)?;
            pending.drain(..usable);
            if let Some(l) = left.as_mut() {
                *l -= usable as u64;
            }
            let out = st.push(&Input::F32(chunk.view()))?;
            written += emit(out, st.time_axis(), opts, &mut collected)?;
        }
        if ended || stop.load(Ordering::Relaxed) || left == Some(0) {
            break;
        }
        match r.read(&mut buf) {
            Ok(0) => ended = true,
            Ok(k) => pending.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(format!("cannot read stdin: {e}"))),
        }
    }
    let axis = st.time_axis();
    let out = st.finish()?;
    written += emit(out, axis, opts, &mut collected)?;
    if let Some(path) = &opts.output {
        let axis = axis.unwrap_or(0);
        let mut all = concat(&collected, axis)?;
        if opts.clip == specc::ClipMode::Deferred {
            st.apply_clip(&mut all)?;
        }
        specc::npy::write(path, &all)?;
    }
    Ok(written)
}

/// Decodes whole sample frames into the spec's input layout, as `specc run` decodes a file.
fn decode(bytes: &[u8], pcm: &Pcm, opts: &StreamOptions, user_axes: &[String]) -> Result<ArrayD<f32>, Error> {
    let c = pcm.channels;
    let t = bytes.len() / (pcm.format.bytes() * c);
    let sample = |i: usize| -> f32 {
        match pcm.format {
            PcmFormat::S16le => i16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]) as f32 / 32768.0,
            PcmFormat::F32le => {
                f32::from_le_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]])
            }
        }
    };
    // Channel-major, as the decoded audio `specc run` lays out.
    let (kept, mut data): (usize, Vec<f32>) = match (opts.mode, c) {
        (_, 1) | (ChannelMode::All, _) => (
            c,
            (0..c).flat_map(|ch| (0..t).map(move |i| (ch, i))).map(|(ch, i)| sample(i * c + ch)).collect(),
        ),
        (ChannelMode::First, _) => (1, (0..t).map(|i| sample(i * c)).collect()),
        (ChannelMode::Mix, _) => {
            // The same f32 sum in channel order, then the division, as audio::Audio::select.
            let n = c as f32;
            (1, (0..t).map(|i| (1..c).fold(sample(i * c), |s, ch| s + sample(i * c + ch)) / n).collect())
        }
    };
    if opts.scale == AudioScale::Int16 {
        data.iter_mut().for_each(|v| *v *= 32768.0);
    }
    let (shape, interleave) = audio_layout(user_axes, kept, t, opts.mode).map_err(Error::Usage)?;
    if interleave {
        let mut d = vec![0.0; kept * t];
        for ch in 0..kept {
            for i in 0..t {
                d[i * kept + ch] = data[ch * t + i];
            }
        }
        data = d;
    }
    ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| Error::Internal(e.to_string()))
}

/// Writes each frame of `out` to stdout as little-endian f32 and flushes, or keeps `out` for
/// the `.npy`; returns the frames.
fn emit(
    out: Output,
    axis: Option<usize>,
    opts: &StreamOptions,
    keep: &mut Vec<Output>,
) -> Result<usize, Error> {
    let Some(axis) = axis else { return Ok(0) };
    let frames = out.shape().get(axis).copied().unwrap_or(0);
    if frames == 0 {
        return Ok(0);
    }
    if opts.output.is_some() {
        keep.push(out);
        return Ok(frames);
    }
    let mut bytes = Vec::new();
    for t in 0..frames {
        match &out {
            Output::F32(a) => a.index_axis(Axis(axis), t).iter().for_each(|v| bytes.extend(v.to_le_bytes())),
            Output::F64(a) => {
                a.index_axis(Axis(axis), t).iter().for_each(|v| bytes.extend((*v as f32).to_le_bytes()))
            }
        }
    }
    crate::out::stdout_bytes(&bytes).map_err(Error::Io)?;
    Ok(frames)
}

/// `a` in C order: `concatenate` lays out a join along an inner axis column-major, and `run`
/// writes C order; a join along the outermost axis is already, and is not copied again.
fn c_order<T: Clone>(a: ndarray::ArrayD<T>) -> ndarray::ArrayD<T> {
    if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    }
}

/// `parts` (a stream's outputs) joined along `axis`, in C order (as `run` writes).
pub(crate) fn concat(parts: &[Output], axis: usize) -> Result<Output, Error> {
    let err = |e: ndarray::ShapeError| Error::Internal(format!("cannot join the streamed frames: {e}"));
    match parts.first() {
        None => Err(Error::Internal(String::from("no frames to write"))),
        Some(Output::F32(_)) => {
            let v: Vec<_> = parts
                .iter()
                .filter_map(|o| if let Output::F32(a) = o { Some(a.view()) } else { None })
                .collect();
            Ok(Output::F32(c_order(ndarray::concatenate(Axis(axis), &v).map_err(err)?)))
        }
        Some(Output::F64(_)) => {
            let v: Vec<_> = parts
                .iter()
                .filter_map(|o| if let Output::F64(a) = o { Some(a.view()) } else { None })
                .collect();
            Ok(Output::F64(c_order(ndarray::concatenate(Axis(axis), &v).map_err(err)?)))
        }
    }
}
