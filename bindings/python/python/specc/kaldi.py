"""Kaldi's filterbank features: ``specc.kaldi.fbank(waveform, **kw)`` equals
``torchaudio.compliance.kaldi.fbank(waveform, **kw)`` (``compute-fbank-feats``)."""

from __future__ import annotations

from typing import Any

from ._wrap import cached


def fbank(waveform: Any, **kwargs: Any) -> Any:
    """``waveform`` is ``(channels, samples)``; output ``(frames, num_mel_bins)`` (plus an
    energy column with ``use_energy=True``). Args: channel, sample_frequency, frame_length,
    frame_shift, round_to_power_of_two, snip_edges, min_duration, remove_dc_offset,
    preemphasis_coefficient, window_type, blackman_coeff, num_mel_bins, low_freq, high_freq,
    use_power, use_log_fbank, use_energy, raw_energy, energy_floor, htk_compat, subtract_mean
    (``dither`` other than 0 is refused: it adds random noise)."""
    return cached("kaldi_fbank", kwargs)(waveform)
