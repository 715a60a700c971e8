"""Keras's audio layers: ``specc.keras.MelSpectrogram(**kw)(x)`` equals
``keras.layers.MelSpectrogram(**kw)(x)`` (Keras 3.15), with the layer's argument names."""

from __future__ import annotations

from typing import Any

from . import Pipeline, preset


def MelSpectrogram(**kwargs: Any) -> Pipeline:  # noqa: N802  (the layer's name)
    """``keras.layers.MelSpectrogram``: fft_length, sequence_stride, sequence_length, window,
    sampling_rate, num_mel_bins, min_freq, max_freq, power_to_db, top_db, mag_exp, min_power,
    ref_power, dtype. Input ``(..., samples)``; output ``(..., num_mel_bins, frames)``."""
    return preset("keras_mel", **kwargs)


def STFTSpectrogram(**kwargs: Any) -> Pipeline:  # noqa: N802
    """``keras.layers.STFTSpectrogram``: mode, frame_length, frame_step, fft_length, window,
    periodic, scaling, padding, expand_dims, data_format, dtype. Input ``(batch, samples,
    channels)`` (or channels first)."""
    return preset("keras_stft", **kwargs)
