"""Whisper's front end: ``specc.whisper.log_mel_spectrogram(audio)`` equals
``whisper.audio.log_mel_spectrogram(audio)`` (openai-whisper)."""

from __future__ import annotations

import os
from typing import Any

from ._wrap import cached


def log_mel_spectrogram(audio: Any, n_mels: int = 80, padding: int = 0) -> Any:
    """Log-mel features, shape ``(..., n_mels, frames)``. ``audio`` is float32 samples at
    16 kHz (a numpy array or torch tensor), or a path to an audio file, decoded and resampled
    to 16 kHz as Whisper's ``load_audio`` does."""
    if isinstance(audio, (str, os.PathLike)):
        from . import load_audio

        audio, _ = load_audio(audio, sr=16000)
    return cached("whisper", dict(n_mels=n_mels, padding=padding))(audio)
