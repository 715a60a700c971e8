"""Whisper log-mel features for a folder of audio files, with Ray Data and specc on every worker.

    python bindings/python/examples/ray_features.py AUDIO_DIR OUT_DIR [--workers 2] [--address auto]

Reads every file under AUDIO_DIR as bytes (WAV, FLAC, MP3, Ogg), decodes and resamples it to
16 kHz, pads or trims it to 30 s as Whisper does before its encoder, computes
`whisper.audio.log_mel_spectrogram` with specc (compiled once per actor) and writes `.npy`
shards of shape (clips, 80, 3000) plus a Parquet table of (path, features) to OUT_DIR.

On a multi-node cluster the same script runs unchanged: start Ray on the nodes (`ray start
--head` on one, `ray start --address=HEAD:6379` on the others), put the audio on storage every
node reads (a shared filesystem, or `s3://...` as the folder), and pass `--address auto` (or the
head's address); Ray spreads the `map_batches` actors over the nodes' CPUs, and each actor's
specc uses the CPUs Ray gives it (Ray sets OMP_NUM_THREADS, which specc reads).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import ray

import specc

SAMPLES = 30 * 16000  # Whisper's N_SAMPLES: 30 s at 16 kHz


def decode(batch: dict) -> dict:
    """Bytes of audio files -> float32 clips at 16 kHz, padded or trimmed to 30 s."""
    clips = []
    for data, path in zip(batch["bytes"], batch["path"]):
        ext = os.path.splitext(path)[1].lstrip(".").lower()
        y, _ = specc.decode_audio(bytes(data), ext, sr=16000, name=path)
        clip = np.zeros(SAMPLES, np.float32)
        clip[: min(y.size, SAMPLES)] = y[:SAMPLES]
        clips.append(clip)
    return {"path": batch["path"], "audio": np.stack(clips)}


class WhisperFeatures(specc.Featurizer):
    """Decoding and features in one actor stage: every CPU Ray has goes to the actors (a
    separate decoding stage would need CPUs of its own besides them)."""

    def __call__(self, batch: dict) -> dict:
        out = super().__call__(decode(batch))
        del out["audio"]
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("audio_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--workers", type=int, default=2, help="specc actors (each one CPU)")
    ap.add_argument("--address", default=None, help="a running cluster (`auto`); default: a local Ray")
    ap.add_argument("--n-mels", type=int, default=80)
    args = ap.parse_args()

    if args.address:
        ray.init(address=args.address)
    else:
        # One CPU per actor, and one for reading the files and writing the shards.
        ray.init(num_cpus=args.workers + 1, include_dashboard=False)
    ds = ray.data.read_binary_files(args.audio_dir, include_paths=True, file_extensions=["wav", "flac", "mp3", "ogg"])
    feats = ds.map_batches(
        WhisperFeatures,
        fn_constructor_kwargs={"spec": "whisper", "column": "audio", "out": "features", "n_mels": args.n_mels},
        batch_size=8,
        batch_format="numpy",
        concurrency=args.workers,
        num_cpus=1,
    )
    feats = feats.materialize()
    os.makedirs(args.out_dir, exist_ok=True)
    feats.write_numpy(os.path.join(args.out_dir, "npy"), column="features")
    feats.write_parquet(os.path.join(args.out_dir, "parquet"))
    print(f"{feats.count()} clips -> {args.out_dir} (npy/ and parquet/)")
    ray.shutdown()


if __name__ == "__main__":
    main()
