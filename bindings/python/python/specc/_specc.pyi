"""Type stubs of the native module ``specc._specc`` (pyo3 + rust-numpy). Use the ``specc``
package's API (``specc.preset``, ``specc.Pipeline``); this module is what it is built on."""

from os import PathLike
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

class SpecError(ValueError):
    """A spec or parameter value is wrong. The message is the diagnostic ``specc run`` prints:
    line and column with a caret under the culprit, and a hint."""

class Stream:
    """A pipeline's stream over numpy chunks (see ``specc.Stream``)."""

    def push(self, x: Any) -> Any:
        """Appends chunk ``x``; the frames it completed."""
    def finish(self) -> Any:
        """Ends the signal: the remaining frames."""
    def reset(self) -> None:
        """Forgets every sample pushed."""
    def apply_clip(self, frames: Any) -> Any:
        """Deferred clip mode, after finish: ``frames`` clipped as offline."""
    @property
    def latency(self) -> int:
        """Look-ahead in samples."""
    @property
    def warmup(self) -> int:
        """Samples the first frames wait for."""
    @property
    def time_axis(self) -> Optional[int]:
        """The output axis frames grow along."""
    @property
    def group(self) -> int:
        """Frames per emission."""
    @group.setter
    def group(self, frames: int) -> None: ...
    @property
    def block_frames(self) -> int:
        """Frames the kernels compute per call."""

class Pipeline:
    """A compiled pipeline over numpy arrays. Runs release the GIL; one pipeline may run in
    many threads at once."""

    def __init__(self, name: str, text: str, sets: List[str], threads: int = 0, engine: str = "jit") -> None:
        """Compiles spec ``text`` (``name`` in diagnostics) with ``name=value`` overrides (the
        CLI's ``--set`` spellings); runs use ``threads`` threads (0: one per core) on
        ``engine`` (``"jit"`` or ``"interp"``). Raises :class:`SpecError`."""
    @property
    def name(self) -> str:
        """The spec's name as diagnostics show it (``keras_mel.spec``)."""
    @property
    def text(self) -> str:
        """The spec's text."""
    @property
    def sets(self) -> List[str]:
        """The ``name=value`` overrides it was compiled with."""
    @property
    def threads(self) -> int:
        """The thread count asked for (0: one per core)."""
    @property
    def rate_param(self) -> Optional[str]:
        """The param that sets the input's sample rate, if any."""
    @property
    def accepts(self) -> List[str]:
        """The input dtypes the spec accepts, as numpy names."""
    def params(self) -> List[Dict[str, Any]]:
        """One dict per param: name, type, optional, default, value, overridden."""
    def stream(self, clip: str = "exact") -> Stream:
        """A stream of this pipeline, its clip at a maximum "exact" (refused), "deferred" or
        "running"; raises SpecError when the spec needs the whole signal."""
    def graph(self, after: Optional[str] = None) -> str:
        """The op graph as text: as lowered (None), after every pass ("all"), or after the
        passes up to and including the one named."""
    def compile_object(
        self, name: Optional[str] = None, target: Optional[str] = None, cpu: str = "baseline"
    ) -> Dict[str, Any]:
        """The object file (bytes), C header, exported symbols and triple of the pipeline
        compiled ahead of time."""
    def plan(self, shape: List[int], dtype: str) -> Dict[str, Any]:
        """``shape`` (tuple), ``frames``, ``dtype`` and ``memory`` (bytes) of the output for an
        input of ``shape`` and ``dtype``, without running."""
    def run(self, x: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]]:
        """Runs on ``x`` (float32, float64 or int16 as the spec accepts; any strides).
        TypeError for another dtype, ValueError for a shape that does not fit."""
    def run_into(self, x: npt.NDArray[Any], out: npt.NDArray[np.floating[Any]]) -> None:
        """Runs on ``x`` into ``out``, which must have the planned shape and dtype."""
    def run_many(self, xs: List[npt.NDArray[Any]]) -> List[npt.NDArray[np.floating[Any]]]:
        """Runs on several arrays in parallel; the first failing one raises, naming its index."""

    def time_runs(self, x: npt.NDArray[Any], runs: int) -> List[float]:
        """Seconds of each of ``runs`` runs on ``x`` timed in Rust (after one warm-up), as
        ``specc bench`` times them; for measuring the Python call's overhead."""

def preset_text(name: str) -> Optional[str]:
    """The text of a shipped spec, or None."""

def presets() -> List[str]:
    """The shipped specs' names."""

def spec_text(spec: str) -> Tuple[str, str]:
    """(name, text) of a spec file, or of a preset by name when no such file exists; OSError
    (with a "did you mean") otherwise."""

def load_audio(path: Union[str, "PathLike[str]"], sr: Optional[int] = None, mono: bool = True) -> Tuple[npt.NDArray[np.float32], int]:
    """Decodes an audio file (WAV, FLAC, MP3, Ogg Vorbis); mono mixes channels (as librosa);
    ``sr`` resamples. Returns (samples or (channels, samples), rate)."""

def decode_audio(data: bytes, ext: str, sr: Optional[int] = None, mono: bool = True, name: str = "<bytes>") -> Tuple[npt.NDArray[np.float32], int]:
    """Decodes audio file bytes of type ``ext`` (wav, flac, mp3, ogg), as :func:`load_audio`."""

def threads(requested: int) -> int:
    """The thread count a run uses when ``requested`` are asked for (0: one per core; capped
    at the core count)."""
