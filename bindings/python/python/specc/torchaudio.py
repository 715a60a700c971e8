"""torchaudio's transforms: ``specc.torchaudio.MelSpectrogram(**kw)(x)`` equals
``torchaudio.transforms.MelSpectrogram(**kw)(x)`` (torchaudio 2.11); a torch tensor in gives a
torch tensor out. ``AmplitudeToDB`` is folded in with ``amplitude_to_db=True`` (and ``stype``,
``top_db``)."""

from __future__ import annotations

from typing import Any

from . import Pipeline, preset


def MelSpectrogram(**kwargs: Any) -> Pipeline:  # noqa: N802  (the transform's name)
    """``torchaudio.transforms.MelSpectrogram``: sample_rate, n_fft, win_length, hop_length,
    f_min, f_max, pad, n_mels, window_fn (``torch.hann_window`` or its name), power,
    normalized, center, pad_mode, norm, mel_scale. The power mel, as torchaudio returns; with
    ``amplitude_to_db=True`` (``stype``, ``top_db``) it is ``AmplitudeToDB(...)`` of it."""
    kwargs.setdefault("amplitude_to_db", False)
    return preset("torchaudio_mel", **kwargs)
