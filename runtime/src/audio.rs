//! Audio files in: decoding to f32 samples, channel selection and resampling, so a spec can run on
//! a recording instead of a prepared `.npy`.
//!
//! # Why the scaling matters
//!
//! The libraries specc reproduces are fed by `librosa.load`, which reads through soundfile
//! (libsndfile). A spectrogram of the same file must see the same numbers, so integer PCM is scaled
//! exactly as soundfile scales it to float32, by the power of two of the sample's container width:
//!
//! | stored as              | value             |
//! |------------------------|-------------------|
//! | unsigned 8-bit         | `(x - 128) / 128` |
//! | signed 16-bit          | `x / 32768`       |
//! | signed 24-bit          | `x / 8388608`     |
//! | signed 32-bit          | `x / 2147483648`  |
//! | 32-bit float           | `x`, as stored    |
//! | 64-bit float           | `x` rounded to f32|
//!
//! Scaling by a power of two is exact, so every integer format up to 24 bits comes out bit-exact,
//! and 32-bit integers are rounded to f32 once, as soundfile rounds them. Full-scale negative is
//! -1.0 and full-scale positive is just below 1.0: nothing is clipped or renormalised.
//!
//! # Decoders
//!
//! WAV (`.wav`, `.wave`) is read with hound: 8-bit unsigned, 16-, 24- and 32-bit integer PCM and
//! 32-bit float, plain or `WAVE_FORMAT_EXTENSIBLE`. A WAV hound cannot read (64-bit float, A-law,
//! µ-law, integers narrower than their container) goes to symphonia, which reads the whole container
//! word as libsndfile does. FLAC, MP3 and Ogg Vorbis (`.flac`, `.mp3`, `.ogg`, `.oga`) are read with
//! symphonia, gapless: the encoder delay and padding that the stream declares (the LAME tag, Ogg
//! granule positions) are trimmed. Symphonia's own conversion to f32 divides signed integers by the
//! same powers of two as the table above (`i16 / 32768`, `i24 / 8388608`, `i32 / 2^31` through f64,
//! `u8 / 128 - 1`); FLAC arrives as left-justified `i32`, so it too is bit-exact.
//!
//! A damaged file is an error, never a shorter or patched signal: a WAV whose data ends early, a
//! FLAC or Ogg stream whose reader had to skip damaged frames or pages (a jump in packet
//! timestamps), a stream that decodes to fewer samples than its header declares, or a FLAC whose
//! MD5 checksum does not match. MP3 frames carry no checksum, so damage inside a frame cannot be
//! seen; only lost frames are, when the file has an exact length (LAME's Info tag).
//!
//! # Memory
//!
//! A header's length is a claim, not a size to allocate: a WAV's data chunk is checked against
//! the bytes the file holds, and every declared length, as float32 samples, against a memory
//! budget ([`decode_checked`], the CLI's `--max-memory`) before any sample buffer exists; a
//! stream without a declared length is checked as it decodes, and buffers grow with what is
//! actually decoded. Non-regular files (FIFOs, devices, stdin) are read as streams, refused at
//! once unless their first bytes look like audio ([`read_stream`]).
//!
//! # Resampling
//!
//! [`Audio::resample`] uses rubato's windowed-sinc resampler with settings chosen for accuracy
//! over speed (see its doc), and removes the resampler's delay so sample `m` of the output is the
//! signal at time `m / to` seconds, as `librosa.resample` output is.

use rubato::{Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::Timestamp;

/// The file extensions specc decodes as audio (lower case), so the CLI can tell audio from `.npy`
/// and name the accepted ones in its errors.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "mp3", "ogg", "oga"];

/// Decoded audio: `channels` channels of `frames` samples each, channel-major
/// (`data[c * frames + i]`), f32 in [-1, 1).
///
/// Channel-major is the layout the specs' `[channels, samples]` inputs want, so a channel is one
/// contiguous slice and needs no copy to be fed to a program. The fields are private and
/// [`Audio::new`] checks them, so `data.len() == channels * frames` always holds and no method
/// can meet inconsistent fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    rate: u32,
    channels: usize,
    frames: usize,
    data: Vec<f32>,
}

/// What an audio header declares, before any sample is decoded: given to the check of
/// [`decode_checked`] so a caller can refuse a recording too large for what it will do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declared {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Number of channels.
    pub channels: usize,
    /// Samples per channel.
    pub frames: u64,
}

/// How a multi-channel recording becomes the spec's input, since most specs take one signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ChannelMode {
    /// The mean over channels per sample, as `librosa.load(mono=True)` (`librosa.to_mono`) does:
    /// the default, so a stereo file gives what librosa would give.
    #[default]
    Mix,
    /// Channel 0 only, for recordings whose other channels are not the signal of interest.
    First,
    /// Every channel kept, for specs with a channel or batch axis.
    All,
}

impl std::str::FromStr for ChannelMode {
    type Err = String;
    /// Parses the CLI's `--channels` value, so a typo names the accepted values.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mix" => Ok(ChannelMode::Mix),
            "first" => Ok(ChannelMode::First),
            "all" => Ok(ChannelMode::All),
            other => Err(format!("unknown channel mode `{other}`; modes: mix, first, all")),
        }
    }
}

/// Why an audio file could not be turned into samples; each names the file and the cause, since the
/// CLI may be reading a whole folder and the user must find the bad file.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read (missing, a directory, no permission, I/O failure).
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The file is not in an audio format specc reads: wrong extension, or contents that are not
    /// audio of that kind, or a codec that is not built in.
    #[error("{} is not audio that specc reads: {why}", path.display())]
    NotAudio {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        why: String,
    },
    /// The stream is damaged or cut short; `why` holds the decoder's words.
    #[error("{} is corrupt or truncated: {why}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        why: String,
    },
    /// The container holds no audio track (for example an Ogg file with only a video or text
    /// stream).
    #[error("{} has no audio track", path.display())]
    NoTrack {
        /// The file.
        path: PathBuf,
    },
    /// The file decodes to zero samples, which no spectrogram can be made of.
    #[error("{} holds no audio samples (zero-length audio)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The samples are stored in a way specc does not decode (an unusual bit depth, a stream whose
    /// channel count or rate changes part-way).
    #[error("{} has an unsupported sample format: {why}", path.display())]
    SampleFormat {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        why: String,
    },
    /// Decoding or resampling the file would need more memory than the limit allows (see
    /// [`decode_checked`]), or a stream is longer than the limit.
    #[error("{} is too large: {why}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The sizes involved.
        why: String,
    },
    /// [`Audio::new`] was given fields that do not describe audio.
    #[error("inconsistent audio: {0}")]
    Inconsistent(String),
    /// Resampling failed (a rate of zero, a ratio beyond what the filter is designed for, or the
    /// resampler's own error). `path` is set once the audio is known to come from a file (see
    /// [`AudioError::in_file`] and [`load`]).
    #[error("{}cannot resample from {from} Hz to {to} Hz: {why}", path_prefix(path.as_deref()))]
    Resample {
        /// The file the audio came from, when known.
        path: Option<PathBuf>,
        /// The audio's rate.
        from: u32,
        /// The requested rate.
        to: u32,
        /// What went wrong.
        why: String,
    },
}

fn path_prefix(p: Option<&Path>) -> String {
    p.map(|p| format!("{}: ", p.display())).unwrap_or_default()
}

impl AudioError {
    /// The file the error is about, so callers can group or report errors by file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            AudioError::Read { path, .. }
            | AudioError::NotAudio { path, .. }
            | AudioError::Corrupt { path, .. }
            | AudioError::NoTrack { path }
            | AudioError::Empty { path }
            | AudioError::SampleFormat { path, .. }
            | AudioError::TooLarge { path, .. } => Some(path),
            AudioError::Resample { path, .. } => path.as_deref(),
            AudioError::Inconsistent(_) => None,
        }
    }

    /// Names `path` in a resampling error (which [`Audio::resample`] cannot know), so every error
    /// the CLI prints says which file it is about. Other errors already name their file.
    pub fn in_file(self, file: &Path) -> Self {
        match self {
            AudioError::Resample { path: None, from, to, why } => {
                AudioError::Resample { path: Some(file.to_path_buf()), from, to, why }
            }
            other => other,
        }
    }
}

/// Whether `path` is an audio file by its extension (case-insensitive), so folders can be scanned
/// without opening every file.
pub fn is_audio_path(path: &Path) -> bool {
    extension(path).is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.as_str()))
}

fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

/// Decodes an audio file to f32 samples at its own rate, every channel kept, scaled as soundfile
/// scales (see the module doc), so the CLI can take recordings directly. The decoded samples may
/// take at most the default memory limit ([`crate::Limits`]); see [`decode_checked`].
pub fn decode(path: &Path) -> Result<Audio, AudioError> {
    decode_checked(path, crate::Limits::default().max_bytes, &|_| Ok(()))
}

/// A check of what a header declares; `Err` says why the audio is refused.
pub type DeclaredCheck<'a> = &'a dyn Fn(Declared) -> Result<(), String>;

/// [`decode`] within a memory budget: the decoded samples (4 bytes each) may take at most
/// `max_bytes`, checked against the length the header declares before anything is allocated for
/// the samples, and again while decoding a stream that declares none. `check` sees the declared
/// rate, channels and length first (when the header has a length) and can refuse them, e.g.
/// because the spectrogram of that much audio would not fit.
///
/// A file that is not a regular file (a FIFO, a character device, `/dev/stdin`) is read as a
/// stream of at most `max_bytes` bytes and decoded from memory.
pub fn decode_checked(path: &Path, max_bytes: u64, check: DeclaredCheck<'_>) -> Result<Audio, AudioError> {
    let read_err = |error| AudioError::Read { path: path.to_path_buf(), error };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(std::io::Error::other("it is a directory")));
    }
    let ext = extension(path).unwrap_or_default();
    if !AUDIO_EXTENSIONS.contains(&ext.as_str()) {
        let what = if ext.is_empty() { String::from("no extension") } else { format!("extension `.{ext}`") };
        return Err(AudioError::NotAudio {
            path: path.to_path_buf(),
            why: format!("{what}; audio files are .{}", AUDIO_EXTENSIONS.join(", .")),
        });
    }
    if !meta.is_file() {
        let file = File::open(path).map_err(read_err)?;
        let bytes = read_stream(path, file, max_bytes)?;
        return decode_bytes(path, &ext, &bytes, max_bytes, check);
    }
    if meta.len() == 0 {
        return Err(AudioError::Empty { path: path.to_path_buf() });
    }
    decode_source(path, Source::File(path), &ext, max_bytes, check)
}

/// What the first bytes of a file say it holds: `npy`, or the extension of the audio decoder
/// that reads it (`wav`, `flac`, `ogg`, `mp3`); `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |m: &[u8]| bytes.starts_with(m);
    if starts(b"\x93NUMPY") {
        Some("npy")
    } else if (starts(b"RIFF") || starts(b"RF64")) && bytes.get(8..12) == Some(b"WAVE") {
        Some("wav")
    } else if starts(b"fLaC") {
        Some("flac")
    } else if starts(b"OggS") {
        Some("ogg")
    } else if starts(b"ID3") || (bytes.len() > 1 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) {
        Some("mp3")
    } else {
        None
    }
}

/// Reads an audio stream (a pipe, a device) whole: its first bytes must look like audio (so
/// `/dev/zero` is refused at once), and it may be at most `max_bytes` long.
pub fn read_stream(path: &Path, mut r: impl Read, max_bytes: u64) -> Result<Vec<u8>, AudioError> {
    let read_err = |error| AudioError::Read { path: path.to_path_buf(), error };
    let mut bytes = Vec::new();
    r.by_ref().take(12).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.is_empty() {
        return Err(AudioError::Empty { path: path.to_path_buf() });
    }
    if !matches!(sniff(&bytes), Some(ext) if ext != "npy") {
        return Err(AudioError::NotAudio {
            path: path.to_path_buf(),
            why: String::from("the stream does not start as WAV, FLAC, MP3 or OGG audio does"),
        });
    }
    r.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > max_bytes {
        return Err(AudioError::TooLarge {
            path: path.to_path_buf(),
            why: format!("the stream is longer than the memory limit of {} MiB", max_bytes >> 20),
        });
    }
    Ok(bytes)
}

/// Decodes audio held in memory (`ext` says which decoder; `name` stands for it in errors),
/// within a memory budget as [`decode_checked`].
pub fn decode_bytes(
    name: &Path,
    ext: &str,
    bytes: &[u8],
    max_bytes: u64,
    check: DeclaredCheck<'_>,
) -> Result<Audio, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty { path: name.to_path_buf() });
    }
    decode_source(name, Source::Memory(bytes), ext, max_bytes, check)
}

/// Where encoded audio is read from: a file (opened as often as the decoders need) or memory.
#[derive(Clone, Copy)]
enum Source<'a> {
    File(&'a Path),
    Memory(&'a [u8]),
}

impl<'a> Source<'a> {
    fn open(self) -> std::io::Result<Box<dyn MediaSource + 'a>> {
        Ok(match self {
            Source::File(p) => Box::new(File::open(p)?),
            Source::Memory(b) => Box::new(std::io::Cursor::new(b)),
        })
    }
}

/// Refuses a length the budget cannot hold, then lets the caller's check see it.
fn check_declared(
    path: &Path,
    d: Declared,
    max_bytes: u64,
    check: DeclaredCheck<'_>,
) -> Result<(), AudioError> {
    let bytes = d.frames.saturating_mul(d.channels as u64).saturating_mul(4);
    let too_large = |why| AudioError::TooLarge { path: path.to_path_buf(), why };
    if bytes > max_bytes {
        return Err(too_large(format!(
            "its header declares {} samples x {} channel(s), {} MiB as float32, over the memory limit of {} MiB",
            d.frames,
            d.channels,
            bytes.div_ceil(1 << 20),
            max_bytes >> 20
        )));
    }
    check(d).map_err(too_large)
}

fn decode_source(
    path: &Path,
    src: Source<'_>,
    ext: &str,
    max_bytes: u64,
    check: DeclaredCheck<'_>,
) -> Result<Audio, AudioError> {
    let audio = if ext == "wav" || ext == "wave" {
        decode_wav(path, src, max_bytes, check)?
    } else {
        decode_symphonia(path, src, ext, max_bytes, check)?
    };
    if audio.frames == 0 || audio.channels == 0 {
        return Err(AudioError::Empty { path: path.to_path_buf() });
    }
    if audio.rate == 0 {
        return Err(AudioError::SampleFormat {
            path: path.to_path_buf(),
            why: String::from("sample rate is 0 Hz"),
        });
    }
    Ok(audio)
}

/// Decodes `path`, applies `mode`, and resamples to `rate` if given and different, so a caller
/// that needs the spec's input gets it in one step with every error naming the file.
pub fn load(path: &Path, mode: ChannelMode, rate: Option<u32>) -> Result<Audio, AudioError> {
    let a = decode(path)?.select(mode);
    match rate {
        Some(r) if r != a.rate => a.resample(r).map_err(|e| e.in_file(path)),
        _ => Ok(a),
    }
}

/// What a WAV's `fmt ` chunk declares.
#[derive(Clone, Copy, Debug)]
struct WavFmt {
    channels: u16,
    block_align: u16,
    bits: u16,
}

impl WavFmt {
    /// The container bytes per sample, so integers narrower than their container (which hound
    /// right-justifies, unlike libsndfile) go to symphonia.
    fn container_bytes(self) -> Option<u16> {
        (self.channels > 0).then(|| self.block_align / self.channels)
    }
}

/// Reads the RIFF chunk list up to `fmt ` and returns what it declares (`Some(None)` when there
/// is no complete `fmt ` chunk). `Ok(None)` means the file is not RIFF/WAVE at all.
fn wav_fmt(src: Source<'_>) -> Result<Option<Option<WavFmt>>, std::io::Error> {
    let mut f = BufReader::new(src.open()?);
    let mut head = [0u8; 12];
    if f.read_exact(&mut head).is_err()
        || !(&head[0..4] == b"RIFF" || &head[0..4] == b"RF64")
        || &head[8..12] != b"WAVE"
    {
        return Ok(None);
    }
    for _ in 0..64 {
        let mut ch = [0u8; 8];
        if f.read_exact(&mut ch).is_err() {
            return Ok(Some(None));
        }
        let size = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]) as u64;
        if &ch[0..4] == b"fmt " {
            let mut fmt = [0u8; 16];
            if f.read_exact(&mut fmt).is_err() {
                return Ok(Some(None));
            }
            let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
            return Ok(Some(Some(WavFmt { channels: u16_at(2), block_align: u16_at(12), bits: u16_at(14) })));
        }
        f.seek(SeekFrom::Current((size + (size & 1)) as i64))?;
    }
    Ok(Some(None))
}

fn decode_wav(
    path: &Path,
    src: Source<'_>,
    max_bytes: u64,
    check: DeclaredCheck<'_>,
) -> Result<Audio, AudioError> {
    let p = || path.to_path_buf();
    let container = match wav_fmt(src) {
        Ok(None) => {
            return Err(AudioError::NotAudio {
                path: p(),
                why: String::from("not a WAV file (no RIFF/WAVE header)"),
            })
        }
        Ok(Some(fmt)) => fmt.and_then(WavFmt::container_bytes),
        Err(error) => return Err(AudioError::Read { path: p(), error }),
    };
    let file = src.open().map_err(|error| AudioError::Read { path: p(), error })?;
    let reader = match hound::WavReader::new(BufReader::new(file)) {
        Ok(r) => r,
        Err(hound::Error::IoError(e)) if e.raw_os_error().is_some() => {
            return Err(AudioError::Read { path: p(), error: e })
        }
        // hound rejects it (a codec it lacks, or a header it finds malformed): symphonia may still
        // read it; if not, hound's words say what is wrong.
        Err(e) => return wav_fallback(path, src, &e, max_bytes, check),
    };
    let spec = reader.spec();
    let bits = spec.bits_per_sample;
    let fits = container.is_none_or(|c| c as u32 * 8 == bits as u32);
    let channels = spec.channels as usize;
    if !fits || channels == 0 {
        return wav_fallback(path, src, &hound::Error::Unsupported, max_bytes, check);
    }
    let total = reader.len() as usize;
    let frames = total / channels;
    let supported = matches!(
        (spec.sample_format, bits),
        (hound::SampleFormat::Float, 32) | (hound::SampleFormat::Int, 8 | 16 | 24 | 32)
    );
    if !supported {
        return wav_fallback(path, src, &hound::Error::Unsupported, max_bytes, check);
    }
    let mut inner = reader.into_inner();
    // The data chunk's declared length sizes nothing until the file is known to hold it.
    let start = inner.stream_position().map_err(|error| AudioError::Read { path: p(), error })?;
    let end = inner.seek(SeekFrom::End(0)).map_err(|error| AudioError::Read { path: p(), error })?;
    inner.seek(SeekFrom::Start(start)).map_err(|error| AudioError::Read { path: p(), error })?;
    let held = end.saturating_sub(start) / (bits as u64 / 8);
    if (total as u64) > held {
        return Err(AudioError::Corrupt {
            path: p(),
            why: format!("the data chunk declares {total} samples but the file holds {held} (truncated)"),
        });
    }
    check_declared(
        path,
        Declared { rate: spec.sample_rate, channels, frames: frames as u64 },
        max_bytes,
        check,
    )?;
    let data = match bits {
        _ if spec.sample_format == hound::SampleFormat::Float => {
            read_planar(path, inner, channels, frames, f32::from_le_bytes)?
        }
        // 8-bit WAV is unsigned with 128 as zero. Dividing by a power of two is exact: these
        // are soundfile's values.
        8 => read_planar(path, inner, channels, frames, |[b]: [u8; 1]| (b as i32 - 128) as f32 / 128.0)?,
        16 => read_planar(path, inner, channels, frames, |b| i16::from_le_bytes(b) as f32 / 32768.0)?,
        24 => read_planar(path, inner, channels, frames, |[a, b, c]: [u8; 3]| {
            (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 / 8388608.0
        })?,
        _ => read_planar(path, inner, channels, frames, |b| i32::from_le_bytes(b) as f32 / 2147483648.0)?,
    };
    Ok(Audio { rate: spec.sample_rate, channels, frames, data })
}

/// Reads `frames` interleaved frames of `channels` little-endian samples of `W` bytes from
/// `r` (positioned at the first sample: hound has read the header) into channel-major `f32`s.
/// Bulk reads and a plain conversion loop (vectorized for mono): hound's per-sample iterator
/// cost more than the spectrogram itself on long recordings, and this never holds an
/// interleaved copy.
fn read_planar<R: Read, const W: usize>(
    path: &Path,
    mut r: R,
    channels: usize,
    frames: usize,
    convert: impl Fn([u8; W]) -> f32,
) -> Result<Vec<f32>, AudioError> {
    let width = W;
    const CHUNK_BYTES: usize = 1 << 16;
    let frame_bytes = channels * width;
    let chunk_frames = (CHUNK_BYTES / frame_bytes).max(1);
    let mut data = vec![0.0f32; channels * frames];
    let mut buf = vec![0u8; chunk_frames * frame_bytes];
    let mut done = 0;
    while done < frames {
        let take = (frames - done).min(chunk_frames);
        let bytes = &mut buf[..take * frame_bytes];
        let mut filled = 0;
        while filled < bytes.len() {
            match r.read(&mut bytes[filled..]) {
                Ok(0) => {
                    return Err(AudioError::Corrupt {
                        path: path.to_path_buf(),
                        why: format!(
                            "the data chunk declares {} samples but the file ends after {}",
                            frames * channels,
                            done * channels + filled / width
                        ),
                    })
                }
                Ok(k) => filled += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(AudioError::Read { path: path.to_path_buf(), error }),
            }
        }
        let word = |b: &[u8]| convert(b.try_into().expect("chunks of W bytes"));
        if channels == 1 {
            for (d, b) in data[done..done + take].iter_mut().zip(bytes.chunks_exact(W)) {
                *d = word(b);
            }
        } else {
            for (i, frame) in bytes.chunks_exact(frame_bytes).enumerate() {
                for (c, sample) in frame.chunks_exact(W).enumerate() {
                    data[c * frames + done + i] = word(sample);
                }
            }
        }
        done += take;
    }
    Ok(data)
}

/// A WAV that hound refused: symphonia's reading if it has one, else an error in hound's words.
fn wav_fallback(
    path: &Path,
    src: Source<'_>,
    hound_err: &hound::Error,
    max_bytes: u64,
    check: DeclaredCheck<'_>,
) -> Result<Audio, AudioError> {
    // symphonia 0.6 computes a frame's size as channels x bytes per sample in 16 bits before it
    // validates either (an overflow panic in builds with overflow checks; a fuzz finding): such a
    // frame is refused here first.
    if let Ok(Some(Some(fmt))) = wav_fmt(src) {
        if fmt.channels as u32 * (fmt.bits as u32 / 8) > u16::MAX as u32 {
            return Err(AudioError::SampleFormat {
                path: path.to_path_buf(),
                why: format!(
                    "{} channels of {}-bit samples make a frame larger than a WAV can describe",
                    fmt.channels, fmt.bits
                ),
            });
        }
    }
    match decode_symphonia(path, src, "wav", max_bytes, check) {
        Ok(a) => Ok(a),
        Err(sym) => {
            let p = path.to_path_buf();
            let both = |s: &str| format!("{hound_err} (hound); {s} (symphonia)");
            Err(match (hound_err, sym) {
                (
                    _,
                    e @ (AudioError::Read { .. } | AudioError::Empty { .. } | AudioError::TooLarge { .. }),
                ) => e,
                (
                    hound::Error::Unsupported,
                    AudioError::NotAudio { why, .. } | AudioError::SampleFormat { why, .. },
                ) => AudioError::SampleFormat { path: p, why: both(&why) },
                (
                    _,
                    AudioError::Corrupt { why, .. }
                    | AudioError::NotAudio { why, .. }
                    | AudioError::SampleFormat { why, .. },
                ) => AudioError::Corrupt { path: p, why: both(&why) },
                (_, other) => other,
            })
        }
    }
}

/// Maps a symphonia error met while opening or decoding the stream.
fn symphonia_error(path: &Path, e: SymphoniaError) -> AudioError {
    let p = path.to_path_buf();
    match e {
        SymphoniaError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Corrupt { path: p, why: format!("the stream ends unexpectedly ({io})") }
        }
        SymphoniaError::IoError(error) => AudioError::Read { path: p, error },
        SymphoniaError::Unsupported(what) => {
            AudioError::NotAudio { path: p, why: format!("unsupported: {what}") }
        }
        SymphoniaError::ResetRequired => AudioError::SampleFormat {
            path: p,
            why: String::from("the stream changes its parameters part-way (a chained stream)"),
        },
        other => AudioError::Corrupt { path: p, why: other.to_string() },
    }
}

/// Decodes with symphonia, turning a panic inside the decoder (a bug in its handling of some
/// malformed stream) into [`AudioError::Corrupt`], so one bad file never takes down a run over
/// many. Known cases are refused before they reach it (see [`wav_fallback`]).
fn decode_symphonia(
    path: &Path,
    src: Source<'_>,
    ext: &str,
    max_bytes: u64,
    check: DeclaredCheck<'_>,
) -> Result<Audio, AudioError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_symphonia_unguarded(path, src, ext, max_bytes, check)
    }))
    .unwrap_or_else(|_| {
        Err(AudioError::Corrupt {
            path: path.to_path_buf(),
            why: String::from("the decoder failed on malformed data"),
        })
    })
}

fn decode_symphonia_unguarded(
    path: &Path,
    src: Source<'_>,
    ext: &str,
    max_bytes: u64,
    check: DeclaredCheck<'_>,
) -> Result<Audio, AudioError> {
    let p = || path.to_path_buf();
    let file = src.open().map_err(|error| AudioError::Read { path: p(), error })?;
    let mss = MediaSourceStream::new(file, Default::default());
    let mut hint = Hint::new();
    hint.with_extension(ext);
    let mut format = symphonia::default::get_probe()
        .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| match symphonia_error(path, e) {
            AudioError::NotAudio { path, .. } => AudioError::NotAudio {
                path,
                why: format!("no {} stream found in it", ext.to_ascii_uppercase()),
            },
            other => other,
        })?;
    let track = format.default_track(TrackType::Audio).ok_or_else(|| AudioError::NoTrack { path: p() })?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|c| c.audio())
        .ok_or_else(|| AudioError::NoTrack { path: p() })?;
    let mut rate = params.sample_rate.unwrap_or(0);
    // The length the container declares exactly (FLAC's STREAMINFO, Ogg's last granule position, a
    // WAV data chunk, an MP3 Info tag written with LAME's encoder delay), checked after decoding:
    // symphonia skips damaged FLAC frames and Ogg pages silently, and a shorter signal must not
    // pass for the recording. An MP3 without that tag only has a length estimated from its bit
    // rate, and MP3s play past damage by design, so no check is made for it.
    let declared = if ext == "mp3" && track.delay.is_none() { None } else { track.num_frames };
    if let (Some(frames), Some(channels)) = (declared, params.channels.as_ref().map(|c| c.count())) {
        check_declared(path, Declared { rate, channels, frames }, max_bytes, check)?;
    }
    // Grown as samples arrive: a header's length is a claim, not a size to allocate.
    let capacity = track.num_frames.unwrap_or(0).min(1 << 20) as usize;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default().verify(true))
        .map_err(|e| match symphonia_error(path, e) {
            AudioError::NotAudio { path, why } => AudioError::NotAudio { path, why: format!("codec {why}") },
            other => other,
        })?;
    let mut planes: Vec<Vec<f32>> = Vec::new();
    let mut block: Vec<Vec<f32>> = Vec::new();
    let mut next_pts: Option<Timestamp> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) => return Err(symphonia_error(path, e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        // A packet that starts after the previous one ends means the reader skipped damaged data
        // (symphonia resynchronises silently); the samples before 0 are encoder delay.
        if let Some(end) = next_pts.filter(|&end| packet.pts > end) {
            return Err(AudioError::Corrupt {
                path: p(),
                why: format!(
                    "the stream jumps from timestamp {} to {}: damaged data was skipped",
                    end.get(),
                    packet.pts.get()
                ),
            });
        }
        next_pts = Some(packet.pts.saturating_add(packet.dur).max(Timestamp::new(0)));
        let buf = decoder.decode(&packet).map_err(|e| symphonia_error(path, e))?;
        let spec = buf.spec();
        let channels = spec.channels().count();
        if planes.is_empty() {
            planes = vec![Vec::with_capacity(capacity); channels];
            rate = spec.rate();
        } else if channels != planes.len() || spec.rate() != rate {
            return Err(AudioError::SampleFormat {
                path: p(),
                why: format!(
                    "the stream changes from {} channels at {rate} Hz to {channels} at {} Hz part-way",
                    planes.len(),
                    spec.rate()
                ),
            });
        }
        // Symphonia's f32 conversion is the soundfile scaling (see the module doc).
        buf.copy_to_vecs_planar::<f32>(&mut block);
        for (plane, b) in planes.iter_mut().zip(&block) {
            plane.extend_from_slice(b);
        }
        let bytes = (planes[0].len() as u64).saturating_mul(channels as u64 * 4);
        if bytes > max_bytes {
            return Err(AudioError::TooLarge {
                path: p(),
                why: format!("it decodes to more than the memory limit of {} MiB", max_bytes >> 20),
            });
        }
    }
    let channels = planes.len();
    let frames = planes.first().map_or(0, Vec::len);
    if let Some(n) = declared.filter(|&n| n > 0 && n != frames as u64) {
        return Err(AudioError::Corrupt {
            path: p(),
            why: format!(
                "decoded {frames} samples per channel but the stream declares {n}; parts are damaged"
            ),
        });
    }
    if decoder.finalize().verify_ok == Some(false) {
        return Err(AudioError::Corrupt {
            path: p(),
            why: String::from("the decoded samples do not match the stream's MD5 checksum"),
        });
    }
    // The first plane becomes the buffer (no copy for mono).
    let mut planes = planes.into_iter();
    let mut data = planes.next().unwrap_or_default();
    data.reserve_exact(frames * channels.saturating_sub(1));
    planes.for_each(|plane| data.extend_from_slice(&plane));
    Ok(Audio { rate, channels, frames, data })
}

/// Sinc length in output-rate periods (taps when upsampling); see [`Audio::resample`].
const SINC_LEN: usize = 256;
/// Sub-sample phases precomputed per tap; see [`Audio::resample`].
const OVERSAMPLING: usize = 256;
/// The furthest a single resampling may go either way, so the filter stays within its design.
const MAX_RATIO: f64 = 64.0;

impl Audio {
    /// Audio of `channels` channels at `rate` Hz from channel-major samples (`data[c * frames +
    /// i]`); an error unless `rate > 0`, `channels > 0` and `data` holds a whole number of
    /// frames.
    pub fn new(rate: u32, channels: usize, data: Vec<f32>) -> Result<Audio, AudioError> {
        let bad = |why: String| Err(AudioError::Inconsistent(why));
        if rate == 0 {
            return bad(String::from("the sample rate is 0 Hz"));
        }
        if channels == 0 {
            return bad(String::from("no channels"));
        }
        if !data.len().is_multiple_of(channels) {
            return bad(format!("{} samples do not divide into {channels} channels", data.len()));
        }
        Ok(Audio { rate, channels, frames: data.len() / channels, data })
    }

    /// Sample rate in Hz; the spec's `rate` must match it (or the audio is resampled).
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Samples per channel.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The samples, `channels * frames` of them, one channel after another.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The samples, to change in place (their number cannot change).
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The samples, moved out (a long recording is not copied).
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Length in seconds, for progress reports and sanity checks on what was decoded.
    pub fn duration_seconds(&self) -> f64 {
        if self.rate == 0 {
            0.0
        } else {
            self.frames as f64 / self.rate as f64
        }
    }

    /// Channel `c`'s samples, contiguous because the layout is channel-major. Panics if
    /// `c >= channels`, as slice indexing does.
    pub fn channel(&self, c: usize) -> &[f32] {
        assert!(c < self.channels, "channel {c} of {}-channel audio", self.channels);
        &self.data[c * self.frames..(c + 1) * self.frames]
    }

    /// Reduces the channels as `mode` says, so a stereo file can feed a mono spec the way librosa
    /// would. `Mix` computes numpy's float32 mean over the channel axis: the channels summed in
    /// order in f32, then divided by their count, which is what `librosa.to_mono` returns.
    pub fn select(self, mode: ChannelMode) -> Audio {
        if self.channels <= 1 {
            return self;
        }
        match mode {
            ChannelMode::All => self,
            ChannelMode::First => {
                let mut data = self.data;
                data.truncate(self.frames);
                Audio { rate: self.rate, channels: 1, frames: self.frames, data }
            }
            ChannelMode::Mix => {
                let n = self.channels as f32;
                let mut sum = self.channel(0).to_vec();
                for c in 1..self.channels {
                    for (s, &v) in sum.iter_mut().zip(self.channel(c)) {
                        *s += v;
                    }
                }
                for s in &mut sum {
                    *s /= n;
                }
                Audio { rate: self.rate, channels: 1, frames: self.frames, data: sum }
            }
        }
    }

    /// Resamples every channel to `to` Hz, for specs whose rate differs from the file's.
    ///
    /// rubato's `SincFixedIn` (asynchronous windowed sinc), in f64, with:
    /// - sinc length: 256 periods of the lower of the two rates — 256 taps when upsampling,
    ///   `256 · rate / to` taps (rounded up to a multiple of 8) when downsampling, so the
    ///   anti-aliasing filter is as sharp relative to the new Nyquist frequency whatever the ratio;
    /// - cutoff: 0.947 of the lower Nyquist frequency (rubato's `calculate_cutoff` for a 256-period
    ///   Blackman-Harris² sinc: the highest cutoff whose transition band still ends at Nyquist);
    /// - oversampling: 256 sub-sample phases of the sinc, with cubic interpolation between them;
    /// - window: Blackman-Harris squared (rubato's `BlackmanHarris2`).
    ///
    /// The ratio `to / rate` must lie within 1/64 ..= 64.
    ///
    /// The output has exactly `round(frames * to / rate)` samples and is time-aligned: output
    /// sample `m` is the signal at `m / to` seconds. rubato 0.16's sinc resampler places output `n`
    /// at input time `n / ratio + (1 / ratio - 1 + 1 / 256)` (measured; its `output_delay()` does
    /// not describe this), so the input is preceded by a number of zeros chosen to make that offset
    /// a whole number of output samples (to within `1 / (2 q)` output samples plus `ratio / 256`,
    /// where `to / rate = p / q` in lowest terms, a few thousandths of a sample at most for common
    /// rates), those leading outputs are dropped, and the tail is flushed with zeros and trimmed.
    /// Past both ends the signal is taken as silence, as `librosa.resample` takes it.
    pub fn resample(&self, to: u32) -> Result<Audio, AudioError> {
        self.resample_within(to, crate::Limits::default().max_bytes)
    }

    /// The number of samples per channel [`Audio::resample`] gives at `to` Hz:
    /// `round(frames * to / rate)`.
    pub fn resampled_frames(&self, to: u32) -> usize {
        resampled_len(self.frames as u64, self.rate, to)
    }

    /// [`Audio::resample`], refusing (before allocating) a result larger than `max_bytes`.
    pub fn resample_within(&self, to: u32, max_bytes: u64) -> Result<Audio, AudioError> {
        let fail = |why: String| AudioError::Resample { path: None, from: self.rate, to, why };
        if self.rate == 0 || to == 0 {
            return Err(fail(String::from("sample rates must be positive")));
        }
        if to == self.rate {
            return Ok(self.clone());
        }
        let g = gcd(self.rate as u64, to as u64);
        let (p, q) = (to as u64 / g, self.rate as u64 / g);
        let ratio = to as f64 / self.rate as f64;
        if !(1.0 / MAX_RATIO..=MAX_RATIO).contains(&ratio) {
            return Err(fail(format!(
                "the ratio {ratio} is outside 1/{MAX_RATIO} ..= {MAX_RATIO}; resample in two steps"
            )));
        }
        let out_len = self.resampled_frames(to);
        let bytes = (out_len as u64).saturating_mul(self.channels as u64 * 4);
        if bytes > max_bytes {
            return Err(fail(format!(
                "{out_len} samples x {} channel(s) would take {} MiB, over the memory limit of {} MiB",
                self.channels,
                bytes.div_ceil(1 << 20),
                max_bytes >> 20
            )));
        }
        if self.frames == 0 || self.channels == 0 {
            return Ok(Audio { rate: to, channels: self.channels, frames: 0, data: Vec::new() });
        }
        let (lead, skip) = alignment(p, q);

        let sinc_len = ((SINC_LEN as f64 / ratio.min(1.0)).ceil() as usize).div_ceil(8) * 8;
        let params = SincInterpolationParameters {
            sinc_len,
            f_cutoff: rubato::calculate_cutoff(SINC_LEN, WindowFunction::BlackmanHarris2),
            oversampling_factor: OVERSAMPLING,
            interpolation: SincInterpolationType::Cubic,
            window: WindowFunction::BlackmanHarris2,
        };
        let chunk = (2 * sinc_len).max(4096);
        let mut r = SincFixedIn::<f64>::new(ratio, 1.0, params, chunk, self.channels)
            .map_err(|e| fail(e.to_string()))?;
        let need = skip + out_len;
        // Each output sample goes straight to its place in the channel-major result.
        let mut data = vec![0.0f32; self.channels * out_len];
        let mut made = 0usize;
        let mut input = vec![vec![0.0f64; chunk]; self.channels];
        let mut output = r.output_buffer_allocate(true);
        let end = lead + self.frames;
        // Every chunk yields about chunk * ratio samples; far past this something is wrong.
        let limit = end + (need as f64 / ratio) as usize + 4 * chunk + 4 * sinc_len;
        let mut pos = 0;
        while made < need {
            if pos > limit {
                return Err(fail(String::from("the resampler stopped producing samples")));
            }
            for (c, buf) in input.iter_mut().enumerate() {
                let src = self.channel(c);
                for (k, v) in buf.iter_mut().enumerate() {
                    let t = pos + k;
                    *v = if t >= lead && t < end { src[t - lead] as f64 } else { 0.0 };
                }
            }
            let (_, n) = r.process_into_buffer(&input, &mut output, None).map_err(|e| fail(e.to_string()))?;
            // Outputs made..made+n; those in skip..need are kept.
            let (from, to_) = (made.max(skip), (made + n).min(need));
            if from < to_ {
                for (c, buf) in output.iter().enumerate() {
                    let dst = &mut data[c * out_len + from - skip..c * out_len + to_ - skip];
                    for (d, &v) in dst.iter_mut().zip(&buf[from - made..to_ - made]) {
                        *d = v as f32;
                    }
                }
            }
            made += n;
            pos += chunk;
        }
        Ok(Audio { rate: to, channels: self.channels, frames: out_len, data })
    }
}

/// `round(frames * to / rate)`, exactly, in integers.
fn resampled_len(frames: u64, rate: u32, to: u32) -> usize {
    if rate == 0 {
        return 0;
    }
    let n = (2 * frames as u128 * to as u128 + rate as u128) / (2 * rate as u128);
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Leading zeros to feed and leading outputs to drop so output `m` lands at input time `m / ratio`,
/// for `ratio = p / q`. With `lead` zeros, rubato's output `n` sits at original time
/// `(n + s) / ratio` where `s = e0 - lead * ratio` and `e0 = 1 - ratio + ratio / OVERSAMPLING`;
/// the best `lead` makes `s` closest to a whole number `k <= 0`, and `-k` outputs are dropped.
fn alignment(p: u64, q: u64) -> (usize, usize) {
    let ratio = p as f64 / q as f64;
    let e0 = 1.0 - ratio + ratio / OVERSAMPLING as f64;
    let mut best = (0usize, 0usize, f64::INFINITY);
    for lead in 0..(q + 2).min(8192) {
        let s = e0 - lead as f64 * ratio;
        let k = s.round();
        if k > 0.0 {
            continue;
        }
        let err = (s - k).abs();
        if err < best.2 - 1e-12 {
            best = (lead as usize, (-k) as usize, err);
        }
    }
    (best.0, best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("specc-audio-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
    }

    fn write_wav<S: hound::Sample + Copy>(path: &Path, spec: hound::WavSpec, interleaved: &[S]) {
        let mut w = hound::WavWriter::create(path, spec).expect("create wav");
        for &s in interleaved {
            w.write_sample(s).expect("write sample");
        }
        w.finalize().expect("finalize wav");
    }

    fn spec(channels: u16, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: 22050,
            bits_per_sample: bits,
            sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
        }
    }

    /// Writes `ints` (interleaved) at `bits`, mono and stereo, and checks the decoded values.
    fn int_round_trip(bits: u16, ints: &[i32], want: &[f32]) {
        let d = tmpdir(&format!("int{bits}"));
        // Mono. (hound writes more than 16 bits as WAVE_FORMAT_EXTENSIBLE, so 24 and 32 bits test
        // that header too.)
        let f = d.join("mono.wav");
        match bits {
            8 => write_wav(&f, spec(1, 8, false), &ints.iter().map(|&v| v as i8).collect::<Vec<_>>()),
            16 => write_wav(&f, spec(1, 16, false), &ints.iter().map(|&v| v as i16).collect::<Vec<_>>()),
            _ => write_wav(&f, spec(1, bits, false), ints),
        }
        let a = decode(&f).expect("decode mono");
        assert_eq!((a.rate, a.channels, a.frames), (22050, 1, ints.len()));
        assert_eq!(a.data, want, "{bits}-bit mono");
        // Stereo: channel 1 is channel 0 reversed.
        let f = d.join("stereo.wav");
        let inter: Vec<i32> = ints.iter().zip(ints.iter().rev()).flat_map(|(&l, &r)| [l, r]).collect();
        match bits {
            8 => write_wav(&f, spec(2, 8, false), &inter.iter().map(|&v| v as i8).collect::<Vec<_>>()),
            16 => write_wav(&f, spec(2, 16, false), &inter.iter().map(|&v| v as i16).collect::<Vec<_>>()),
            _ => write_wav(&f, spec(2, bits, false), &inter),
        }
        let a = decode(&f).expect("decode stereo");
        assert_eq!((a.channels, a.frames), (2, ints.len()));
        assert_eq!(a.channel(0), want, "{bits}-bit stereo left");
        let rev: Vec<f32> = want.iter().rev().copied().collect();
        assert_eq!(a.channel(1), rev.as_slice(), "{bits}-bit stereo right");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn wav_longer_than_one_read_chunk_decodes_every_sample() {
        // Three 24-bit channels, 40000 frames: 360 KB, several bulk reads with frames split
        // across none of them (the chunk is a whole number of frames).
        let d = tmpdir("long24");
        let f = d.join("long.wav");
        let frames = 40_000i32;
        let inter: Vec<i32> =
            (0..frames).flat_map(|i| [i * 97 - 3_000_000, -i, (i * 7919) % 8_388_607]).collect();
        write_wav(&f, spec(3, 24, false), &inter);
        let a = decode(&f).expect("decode");
        assert_eq!((a.channels, a.frames), (3, frames as usize));
        let scale = 1.0 / 8_388_608.0f32;
        for c in 0..3 {
            let want: Vec<f32> = inter.iter().skip(c).step_by(3).map(|&v| v as f32 * scale).collect();
            assert_eq!(a.channel(c), want.as_slice(), "channel {c}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn wav_8_bit_unsigned_is_scaled_as_soundfile() {
        // hound takes signed values and stores x + 128: stored 0 -> -1.0, 128 -> 0.0, 255 -> 127/128.
        int_round_trip(8, &[-128, -64, 0, 1, 127], &[-1.0, -0.5, 0.0, 1.0 / 128.0, 127.0 / 128.0]);
    }

    #[test]
    fn wav_16_bit_is_scaled_as_soundfile() {
        int_round_trip(
            16,
            &[-32768, -16384, 0, 1, 16384, 32767],
            &[-1.0, -0.5, 0.0, 1.0 / 32768.0, 0.5, 32767.0 / 32768.0],
        );
    }

    #[test]
    fn wav_24_bit_is_scaled_as_soundfile() {
        int_round_trip(
            24,
            &[-8388608, -4194304, 0, 1, 4194304, 8388607],
            &[-1.0, -0.5, 0.0, 1.0 / 8388608.0, 0.5, 8388607.0 / 8388608.0],
        );
    }

    #[test]
    fn wav_32_bit_is_scaled_as_soundfile() {
        // 2^31 - 1 rounds to 1.0 in f32, as soundfile's float32 read gives.
        let odd = 123_456_789i32;
        int_round_trip(
            32,
            &[i32::MIN, -(1 << 30), 0, 1, 1 << 30, odd, i32::MAX],
            &[-1.0, -0.5, 0.0, 2f32.powi(-31), 0.5, (odd as f64 / 2147483648.0) as f32, 1.0],
        );
    }

    #[test]
    fn wav_32_bit_float_is_taken_as_is() {
        let d = tmpdir("f32");
        let vals = [-1.0f32, -0.25, 0.0, 1e-7, 0.3, 0.999, 1.5];
        let f = d.join("mono.wav");
        write_wav(&f, spec(1, 32, true), &vals);
        assert_eq!(decode(&f).expect("mono").data, vals);
        let f = d.join("stereo.wav");
        let inter: Vec<f32> = vals.iter().flat_map(|&v| [v, -v]).collect();
        write_wav(&f, spec(2, 32, true), &inter);
        let a = decode(&f).expect("stereo");
        assert_eq!(a.channel(0), vals);
        assert_eq!(a.channel(1), vals.map(|v| -v));
        let _ = std::fs::remove_dir_all(&d);
    }

    fn read(name: &str) -> Audio {
        decode(&example(name)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn flac_decodes_to_the_wav_samples_exactly() {
        let wav = read("speech.wav");
        let flac = read("speech.flac");
        assert_eq!((wav.rate, wav.channels), (16000, 1));
        assert_eq!(flac, wav);
        assert!(wav.frames > 16000);
    }

    /// The best normalized correlation of `b` against `a` over lags within `max_lag`.
    fn best_correlation(a: &[f32], b: &[f32], max_lag: isize) -> (f64, isize) {
        let mut best = (f64::MIN, 0);
        for lag in -max_lag..=max_lag {
            let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
            for (i, &x) in a.iter().enumerate() {
                let j = i as isize + lag;
                if j < 0 || j >= b.len() as isize {
                    continue;
                }
                let y = b[j as usize] as f64;
                ab += x as f64 * y;
                aa += x as f64 * x as f64;
                bb += y * y;
            }
            let c = ab / (aa * bb).sqrt().max(1e-30);
            if c > best.0 {
                best = (c, lag);
            }
        }
        best
    }

    /// Allowance for lossy encodings: one MPEG-2 layer III granule pair (1152 samples, 72 ms at
    /// 16 kHz), more than the LAME encoder delay plus decoder delay (576 + 529) and Vorbis's
    /// block overlap, should a decoder not trim them.
    const ENCODER_DELAY: usize = 1152;

    fn check_lossy(name: &str) {
        let wav = read("speech.wav");
        let lossy = read(name);
        assert_eq!((lossy.rate, lossy.channels), (wav.rate, wav.channels), "{name}");
        assert!(
            lossy.frames.abs_diff(wav.frames) <= ENCODER_DELAY,
            "{name}: {} vs {} frames",
            lossy.frames,
            wav.frames
        );
        let (c, lag) = best_correlation(&wav.data, &lossy.data, ENCODER_DELAY as isize);
        assert!(c > 0.9, "{name}: correlation {c} at lag {lag}");
    }

    #[test]
    fn mp3_decodes_close_to_the_wav() {
        check_lossy("speech.mp3");
    }

    #[test]
    fn ogg_decodes_close_to_the_wav() {
        check_lossy("speech.ogg");
    }

    fn stereo() -> Audio {
        Audio { rate: 8000, channels: 2, frames: 3, data: vec![0.5, -1.0, 0.25, 0.25, 1.0, -0.25] }
    }

    #[test]
    fn select_mixes_picks_or_keeps_channels() {
        let mix = stereo().select(ChannelMode::Mix);
        assert_eq!((mix.channels, mix.frames, mix.rate), (1, 3, 8000));
        assert_eq!(mix.data, [0.375, 0.0, 0.0]);
        let first = stereo().select(ChannelMode::First);
        assert_eq!((first.channels, first.frames), (1, 3));
        assert_eq!(first.data, [0.5, -1.0, 0.25]);
        assert_eq!(stereo().select(ChannelMode::All), stereo());
        let mono = stereo().select(ChannelMode::First);
        assert_eq!(mono.clone().select(ChannelMode::Mix), mono);
        assert_eq!("mix".parse::<ChannelMode>(), Ok(ChannelMode::Mix));
        assert_eq!("first".parse::<ChannelMode>(), Ok(ChannelMode::First));
        assert_eq!("all".parse::<ChannelMode>(), Ok(ChannelMode::All));
        assert!("left".parse::<ChannelMode>().is_err());
        assert_eq!(ChannelMode::default(), ChannelMode::Mix);
    }

    fn sine(rate: u32, freq: f64, frames: usize, amp: f64) -> Audio {
        let data = (0..frames)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32)
            .collect();
        Audio { rate, channels: 1, frames, data }
    }

    /// Checks that the middle of `a` (away from the edges, where silence is assumed outside the
    /// signal) is the sine `amp * sin(2 pi f m / rate)` itself: same frequency, amplitude and phase,
    /// which shows the resampler's delay is compensated.
    fn assert_is_sine(a: &Audio, freq: f64, amp: f64, tol: f64) {
        let edge = a.rate as usize / 10;
        let mut worst = 0.0f64;
        let mut peak = 0.0f64;
        for (m, &v) in a.data.iter().enumerate().take(a.frames - edge).skip(edge) {
            let want = amp * (2.0 * std::f64::consts::PI * freq * m as f64 / a.rate as f64).sin();
            worst = worst.max((v as f64 - want).abs());
            peak = peak.max((v as f64).abs());
        }
        assert!((peak / amp - 1.0).abs() < 0.01, "amplitude {peak} vs {amp}");
        assert!(worst < tol * amp, "largest deviation from the aligned sine: {worst}");
    }

    /// The frequency of the largest DFT bin of `x` at `rate`, searched 1 Hz apart.
    fn dft_peak(x: &[f32], rate: u32) -> f64 {
        let mut best = (0.0, 0.0);
        for f in 100..2000 {
            let w = 2.0 * std::f64::consts::PI * f as f64 / rate as f64;
            let (mut re, mut im) = (0.0, 0.0);
            for (i, &v) in x.iter().enumerate() {
                re += v as f64 * (w * i as f64).cos();
                im += v as f64 * (w * i as f64).sin();
            }
            let p = re * re + im * im;
            if p > best.1 {
                best = (f as f64, p);
            }
        }
        best.0
    }

    #[test]
    fn resample_halves_length_and_keeps_a_440_hz_sine() {
        let a = sine(16000, 440.0, 16000, 0.5);
        let b = a.resample(8000).expect("resample");
        assert_eq!((b.rate, b.frames, b.channels), (8000, 8000, 1));
        assert_eq!(dft_peak(&b.data, 8000), 440.0);
        let crossings = b.data[800..7200].windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
        // 0.8 s of 440 Hz crosses zero 704 times.
        assert!((703..=705).contains(&crossings), "{crossings} zero crossings");
        assert_is_sine(&b, 440.0, 0.5, 2e-3);
    }

    #[test]
    fn resample_44100_to_16000_rounds_the_length_and_stays_aligned() {
        for frames in [44100usize, 44101, 12345, 7] {
            let a = sine(44100, 440.0, frames, 0.5);
            let b = a.resample(16000).expect("resample");
            let want = (frames as f64 * 16000.0 / 44100.0).round() as usize;
            assert_eq!(b.frames, want, "{frames} frames");
            assert_eq!(b.data.len(), want);
        }
        let b = sine(44100, 440.0, 44100, 0.5).resample(16000).expect("resample");
        assert_is_sine(&b, 440.0, 0.5, 2e-3);
    }

    #[test]
    fn resample_upsamples_aligned_and_keeps_channels() {
        // Two channels, the second a scaled copy: both resampled alike.
        let a = sine(8000, 440.0, 8000, 0.5);
        let mut data = a.data.clone();
        data.extend(a.data.iter().map(|v| v * 0.5));
        let a = Audio { rate: 8000, channels: 2, frames: 8000, data };
        let b = a.resample(22050).expect("resample");
        assert_eq!((b.rate, b.channels, b.frames), (22050, 2, 22050));
        let left = Audio { rate: 22050, channels: 1, frames: 22050, data: b.channel(0).to_vec() };
        let right = Audio { rate: 22050, channels: 1, frames: 22050, data: b.channel(1).to_vec() };
        assert_is_sine(&left, 440.0, 0.5, 2e-3);
        assert_is_sine(&right, 440.0, 0.25, 2e-3);
    }

    #[test]
    fn resample_to_the_same_rate_is_the_identity_and_bad_rates_are_errors() {
        let a = sine(16000, 440.0, 100, 0.5);
        assert_eq!(a.resample(16000).expect("same rate"), a);
        assert!(matches!(a.resample(0), Err(AudioError::Resample { .. })));
        assert!(matches!(a.resample(16000 * 100), Err(AudioError::Resample { .. })));
        let e = a.resample(0).map_err(|e| e.in_file(Path::new("x.wav"))).expect_err("0 Hz");
        assert!(e.to_string().starts_with("x.wav: cannot resample from 16000 Hz to 0 Hz"), "{e}");
    }

    #[test]
    fn every_delay_offset_is_compensated_within_a_hundredth_of_a_sample() {
        for (from, to) in [
            (16000u64, 8000u64),
            (44100, 16000),
            (8000, 16000),
            (48000, 22050),
            (22050, 16000),
            (16000, 44100),
        ] {
            let g = gcd(from, to);
            let (p, q) = (to / g, from / g);
            let (lead, skip) = alignment(p, q);
            let ratio = p as f64 / q as f64;
            let s = 1.0 - ratio + ratio / OVERSAMPLING as f64 - lead as f64 * ratio;
            assert!((s + skip as f64).abs() < 0.01, "{from}->{to}: residual {}", s + skip as f64);
        }
    }

    #[test]
    fn load_decodes_selects_and_resamples() {
        let a = load(&example("speech.wav"), ChannelMode::Mix, Some(8000)).expect("load");
        let wav = read("speech.wav");
        assert_eq!((a.rate, a.channels), (8000, 1));
        assert_eq!(a.frames, (wav.frames as f64 / 2.0).round() as usize);
        assert!((a.duration_seconds() - wav.duration_seconds()).abs() < 1e-3);
        assert_eq!(load(&example("speech.wav"), ChannelMode::First, None).expect("load"), wav);
    }

    #[test]
    fn audio_paths_are_known_by_extension() {
        for p in ["a.wav", "a.WAV", "b.Wave", "c.flac", "d.mp3", "e.OGG", "f.oga", "dir/g.Flac"] {
            assert!(is_audio_path(Path::new(p)), "{p}");
        }
        for p in ["a.npy", "a", "wav", "a.wav.txt", "a.m4a", ".wav"] {
            assert!(!is_audio_path(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn bad_files_give_named_errors() {
        let d = tmpdir("errors");
        let missing = d.join("missing.wav");
        let e = decode(&missing).expect_err("missing");
        assert!(matches!(e, AudioError::Read { .. }), "{e:?}");
        assert!(e.to_string().contains("missing.wav"), "{e}");

        let text = d.join("x.wav");
        std::fs::write(&text, "this is not audio\n").expect("write");
        let e = decode(&text).expect_err("text");
        assert!(matches!(e, AudioError::NotAudio { .. }), "{e:?}");
        assert!(e.to_string().contains("x.wav"), "{e}");

        let text_flac = d.join("x.flac");
        std::fs::write(&text_flac, "this is not audio either, but it is long enough to probe\n")
            .expect("write");
        let e = decode(&text_flac).expect_err("text flac");
        assert!(matches!(e, AudioError::NotAudio { .. } | AudioError::Corrupt { .. }), "{e:?}");

        let npy = d.join("x.npy");
        std::fs::write(&npy, "x").expect("write");
        assert!(matches!(decode(&npy), Err(AudioError::NotAudio { .. })));

        let cut = d.join("cut.flac");
        let bytes = std::fs::read(example("speech.flac")).expect("flac");
        std::fs::write(&cut, &bytes[..100]).expect("write");
        let e = decode(&cut).expect_err("truncated flac");
        assert!(matches!(e, AudioError::Corrupt { .. }), "{e:?}");
        assert!(e.to_string().contains("cut.flac"), "{e}");

        // Damage in the middle: symphonia would skip the broken FLAC frame or Ogg page and return
        // a shorter signal; that must be an error instead.
        for name in ["speech.flac", "speech.ogg"] {
            let mut bytes = std::fs::read(example(name)).expect("example");
            let mid = bytes.len() / 2;
            for b in &mut bytes[mid..mid + 200] {
                *b ^= 0x5a;
            }
            let f = d.join(format!("garbled-{name}"));
            std::fs::write(&f, &bytes).expect("write");
            let e = decode(&f).expect_err("garbled");
            assert!(matches!(e, AudioError::Corrupt { .. }), "{name}: {e:?}");
        }

        let empty = d.join("empty.wav");
        write_wav::<i16>(&empty, spec(1, 16, false), &[]);
        let e = decode(&empty).expect_err("zero-length wav");
        assert!(matches!(e, AudioError::Empty { .. }), "{e:?}");
        assert!(e.to_string().contains("empty.wav"), "{e}");

        let zero = d.join("zero.mp3");
        std::fs::write(&zero, []).expect("write");
        assert!(matches!(decode(&zero), Err(AudioError::Empty { .. })));

        // A WAV whose data chunk is cut short.
        let short = d.join("short.wav");
        write_wav::<i16>(&short, spec(1, 16, false), &[1000; 1000]);
        let bytes = std::fs::read(&short).expect("wav");
        std::fs::write(&short, &bytes[..bytes.len() - 501]).expect("write");
        let e = decode(&short).expect_err("truncated wav");
        assert!(matches!(e, AudioError::Corrupt { .. }), "{e:?}");

        for e in [decode(&missing), decode(&text), decode(&cut), decode(&empty)] {
            let e = e.expect_err("error");
            assert!(e.path().is_some());
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_wav_hound_refuses_falls_back_to_symphonia() {
        // 64-bit float: hound cannot read it; symphonia can, rounding to f32.
        let d = tmpdir("f64");
        let vals = [0.5f64, -0.25, 0.1];
        let mut bytes = Vec::new();
        let data_len = (vals.len() * 8) as u32;
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&3u16.to_le_bytes()); // WAVE_FORMAT_IEEE_FLOAT
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&64000u32.to_le_bytes());
        bytes.extend_from_slice(&8u16.to_le_bytes());
        bytes.extend_from_slice(&64u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&data_len.to_le_bytes());
        for v in vals {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let f = d.join("f64.wav");
        std::fs::write(&f, &bytes).expect("write");
        let a = decode(&f).expect("f64 wav");
        assert_eq!((a.rate, a.channels, a.frames), (8000, 1, 3));
        assert_eq!(a.data, vals.map(|v| v as f32));
        let _ = std::fs::remove_dir_all(&d);
    }
}
