//! Arbitrary bytes through the audio decoder ([`specc::audio::decode`]: hound for WAV,
//! symphonia for FLAC, MP3, Ogg Vorbis and the WAVs hound refuses), then the channel mix.
//!
//! Input: the first byte picks the extension (so the hint and the WAV path are both reached), the
//! rest is the file. The decoder reads files by path, so the bytes are written to one scratch file
//! per process (in /dev/shm when there is one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use specc::audio::{self, ChannelMode};
use std::path::PathBuf;

const EXTS: &[&str] = &["wav", "flac", "mp3", "ogg"];

fn scratch(ext: &str) -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    dir.join(format!("specc-fuzz-audio-{}.{ext}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let path = scratch(EXTS[pick as usize % EXTS.len()]);
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    match audio::decode(&path) {
        Ok(a) => {
            let _ = a.duration_seconds();
            let m = a.select(ChannelMode::Mix);
            assert_eq!(m.data().len(), m.channels() * m.frames());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let _ = std::fs::remove_file(&path);
});
