//! Embedding specc: Keras `MelSpectrogram` of a WAV file from a Rust program.
//!
//! ```sh
//! cargo run --example embed -- examples/speech.wav            # default Keras arguments
//! cargo run --example embed -- examples/speech.wav 64 8000    # num_mel_bins, sampling_rate
//! ```

use specc::audio::{self, ChannelMode};
use specc::{Input, Output, Pipeline};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map(String::as_str).unwrap_or("examples/speech.wav");

    // Decode (integer PCM scaled as soundfile/librosa do), mix to mono.
    let clip = audio::decode(Path::new(path))?.select(ChannelMode::Mix);

    // keras.layers.MelSpectrogram(num_mel_bins=..., sampling_rate=<the file's rate>)
    let bins = args.get(1).cloned().unwrap_or_else(|| String::from("128"));
    let rate = args.get(2).cloned().unwrap_or_else(|| clip.rate().to_string());
    let sets = [format!("num_mel_bins={bins}"), format!("sampling_rate={rate}")];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let pipeline = Pipeline::preset("keras_mel", &sets)?;

    // The output shape is known before running.
    let (frames, clip_rate) = (clip.frames(), clip.rate());
    let samples = ndarray::ArrayD::from_shape_vec(vec![frames], clip.into_data())?;
    let plan = pipeline.plan(samples.shape(), "float32")?;
    println!("{path}: {} samples at {} Hz -> mel spectrogram {:?}", frames, clip_rate, plan.output_shape);

    let Output::F32(mel) = pipeline.run(&Input::F32(samples.view()))? else {
        unreachable!("keras_mel computes in float32 by default")
    };
    let peak = mel.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let floor = mel.iter().cloned().fold(f32::INFINITY, f32::min);
    println!("dB range: {floor:.1} .. {peak:.1}");
    Ok(())
}
