"""librosa's feature functions with librosa's argument names (librosa 0.11)::

    specc.librosa.melspectrogram(y=y, sr=16000)            # librosa.feature.melspectrogram
    specc.librosa.melspectrogram_db(y=y, sr=16000, ref=np.max)
    #   == librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=16000), ref=np.max)
    specc.librosa.stft_db(y, n_fft=512)
    #   == librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=512)))

librosa rejects integer audio; so do these.
"""

from __future__ import annotations

from typing import Any

from ._wrap import cached


def melspectrogram(*, y: Any, sr: float = 22050, **kwargs: Any) -> Any:
    """``librosa.feature.melspectrogram(y=y, sr=sr, **kwargs)``: n_fft, hop_length,
    win_length, window, center, pad_mode, power, n_mels, fmin, fmax, htk, norm."""
    kwargs.setdefault("power_to_db", False)
    return cached("librosa_mel", dict(sr=sr, **kwargs))(y)


def melspectrogram_db(*, y: Any, sr: float = 22050, ref: Any = 1.0, amin: float = 1e-10,
                      top_db: Any = 80.0, **kwargs: Any) -> Any:
    """``librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, **kwargs), ref=ref,
    amin=amin, top_db=top_db)``; ``ref=np.max`` is the largest value of the whole array."""
    return cached("librosa_mel", dict(sr=sr, ref=ref, amin=amin, top_db=top_db, **kwargs))(y)


def stft_db(y: Any, *, power: float = 1.0, ref: Any = 1.0, amin: Any = None, top_db: Any = 80.0,
            **kwargs: Any) -> Any:
    """``librosa.amplitude_to_db(np.abs(librosa.stft(y, **kwargs)), ref=ref, top_db=top_db)``;
    with ``power=2``, ``librosa.power_to_db(np.abs(D) ** 2, ...)``. stft args: n_fft,
    hop_length, win_length, window, center, pad_mode."""
    return cached("librosa_stft", dict(power=power, ref=ref, amin=amin, top_db=top_db, **kwargs))(y)
