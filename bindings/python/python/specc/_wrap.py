"""What the library-shaped wrappers share: a cache of compiled pipelines, so a function called
in a loop (``specc.librosa.melspectrogram(y=..., sr=...)``) compiles once per configuration."""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Tuple

from . import Pipeline, preset

_CACHE: Dict[Tuple[str, str], Pipeline] = {}
_LOCK = threading.Lock()
_MAX = 64


def _after_fork_in_child() -> None:
    # A thread of the parent may have held the lock at the fork; in the child that thread does
    # not exist, so the lock would never be released. The cached pipelines stay valid.
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def cached(name: str, params: Dict[str, Any]) -> Pipeline:
    """``specc.preset(name, **params)``, compiled once per (name, params)."""
    key = (name, repr(sorted(params.items(), key=lambda kv: kv[0])))
    with _LOCK:
        p = _CACHE.get(key)
    if p is None:
        p = preset(name, **params)
        with _LOCK:
            if len(_CACHE) >= _MAX:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = p
    return p
