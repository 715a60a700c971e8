"""specc: audio feature pipelines compiled to machine code, with the library's own numbers.

>>> import specc, numpy as np
>>> mel = specc.preset("keras_mel", num_mel_bins=64, sampling_rate=8000)
>>> mel(np.zeros((2, 8000), np.float32)).shape
(2, 64, 16)

Keyword arguments are the reproduced library's own argument names and Python values (``None``,
``True``, ``np.max``, ``torch.hann_window``). See ``specc.keras``, ``specc.librosa``,
``specc.torchaudio``, ``specc.whisper`` and ``specc.kaldi`` for the libraries' call shapes, and
``specc.Featurizer`` for Ray Data, Hugging Face ``datasets`` and Spark.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from . import _specc
from ._specc import SpecError, decode_audio, presets

__all__ = [
    "Featurizer",
    "Pipeline",
    "SpecError",
    "Stream",
    "compile",
    "decode_audio",
    "load",
    "load_audio",
    "preset",
    "presets",
    "resolve_threads",
    "keras",
    "librosa",
    "torchaudio",
    "whisper",
    "kaldi",
]

__version__ = "0.1.0"

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def resolve_threads(threads: Optional[int] = None) -> int:
    """The thread count a pipeline uses: ``threads`` if given, else ``SPECC_NUM_THREADS``, else
    ``OMP_NUM_THREADS`` (Ray sets it per worker to the worker's CPUs), else one per core.
    Counts above the core count are capped to it."""
    if threads is None:
        for var in ("SPECC_NUM_THREADS", "OMP_NUM_THREADS"):
            text = os.environ.get(var, "").strip()
            if text:
                try:
                    threads = int(text)
                except ValueError:
                    raise ValueError(f"{var}={text!r} is not a thread count") from None
                break
    if threads is None:
        threads = 0
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be a count >= 0 (0: one per core), got {threads!r}")
    return _specc.threads(threads)


def _set_text(value: Any) -> str:
    """A Python value as the ``--set`` text the Rust side parses (``None``, ``True``,
    ``'hann'``, ``np.max``, ``torch.hann_window``, numbers)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return repr(bool(value)) if value is not None else "None"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        # A dotted name (`"np.max"`, `"torch.hann_window"`) is passed as written, for the Rust
        # side to read as the callable it names; any other word quoted, so it is always a
        # string value (as the library takes it).
        if _DOTTED.fullmatch(value) or not value or "'" in value or '"' in value:
            return value
        return f"'{value}'"
    if callable(value):
        name = getattr(value, "__name__", None)
        module = getattr(value, "__module__", None) or ""
        if name is None:
            return repr(value)
        root = module.split(".")[0]
        if root == "numpy":
            return f"np.{name}"
        if root == "torch":
            return f"torch.{name}"
        if module.startswith("scipy.signal"):
            # The Rust side refuses scipy's window functions with the reason.
            return f"scipy.signal.windows.{name}"
        return f"{module}.{name}" if module else name
    return repr(value)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _as_numpy(x: Any) -> np.ndarray:
    """``x`` as a numpy array without a copy where it can be: numpy arrays (any strides) as
    they are, CPU torch tensors through ``.numpy()``, JAX and other DLPack producers on the CPU
    through ``np.from_dlpack``; anything else (a list, a GPU array) through ``np.asarray``,
    which copies."""
    if isinstance(x, np.ndarray):
        return x
    if _is_torch(x):
        t = x.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        return t.numpy()
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (BufferError, RuntimeError, TypeError, ValueError):
            # Not on the CPU, or a dtype numpy cannot view: np.asarray copies it over.
            pass
    return np.asarray(x)


class Pipeline:
    """A compiled pipeline. Call it on an array; reusable and thread-safe (one pipeline may
    run in many threads at once; the GIL is released while it runs).

    Made by :func:`preset`, :func:`compile` or :func:`load`. Pickles as its spec text and
    params (recompiled when unpickled), so ``spawn`` pools and Ray can ship it.
    """

    def __init__(self, name: str, text: str, params: Optional[Dict[str, Any]] = None,
                 threads: Optional[int] = None, engine: str = "jit") -> None:
        params = dict(params or {})
        names = _param_names(text, name)
        unknown = [k for k in params if k not in names]
        if unknown:
            raise TypeError(
                f"{name.removesuffix('.spec')}: unexpected keyword argument"
                f"{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)}; "
                f"valid: {', '.join(names)}"
            )
        self._given = params
        self._threads_arg = threads
        self._engine = engine
        sets = [f"{k}={_set_text(v)}" for k, v in params.items()]
        self._core = _specc.Pipeline(name, text, sets, resolve_threads(threads), engine)

    # -- running -------------------------------------------------------------------------

    def __call__(self, x: Any, out: Optional[np.ndarray] = None) -> Any:
        """Runs on ``x``: a numpy array (float32, float64 or int16 as the spec accepts; any
        strides), a torch tensor (returns a torch tensor) or anything ``np.asarray`` takes.
        With ``out=``, writes into that array (of the planned shape and dtype) and returns it."""
        a = _as_numpy(x)
        if out is not None:
            target = _as_numpy(out)
            self._core.run_into(a, target)
            return out
        y = self._core.run(a)
        if _is_torch(x):
            import torch

            return torch.from_numpy(y)
        return y

    def run_many(self, xs: Iterable[Any]) -> List[Any]:
        """Runs on several arrays in parallel (one thread each); one output per input."""
        xs = list(xs)
        ys = self._core.run_many([_as_numpy(x) for x in xs])
        if any(_is_torch(x) for x in xs):
            import torch

            return [torch.from_numpy(y) if _is_torch(x) else y for x, y in zip(xs, ys)]
        return ys

    def stream(self, deferred: bool = False, clip: Optional[str] = None, group: Any = 1) -> "Stream":
        """A stream: ``st.push(chunk)`` returns the frames each chunk completes, ``st.finish()``
        the rest; concatenated along ``st.time_axis`` they equal ``self(x)`` bit for bit. Raises
        :class:`SpecError` at the op when the spec needs the whole signal (a ``top_db`` clip).
        For such a clip, ``clip="deferred"`` (or ``deferred=True``) streams the values before
        it and clips them all in ``st.apply_clip`` (the offline result exactly);
        ``clip="running"`` clips each push's frames against the maximum so far (for live use:
        a frame differs from the offline one wherever a later frame raised the maximum).
        ``group=n`` returns frames in multiples of ``n`` (``"block"``: the frames the kernels
        compute per call), for throughput at up to ``n - 1`` hops of extra latency; the values
        do not change."""
        if deferred:
            if clip not in (None, "deferred"):
                raise ValueError(f"deferred=True and clip={clip!r} disagree")
            clip = "deferred"
        st = Stream(self._core.stream(clip or "exact"))
        st.group = st.block_frames if group == "block" else group
        return st

    def plan(self, shape: Sequence[int], dtype: Any = "float32") -> Dict[str, Any]:
        """Output ``shape``, ``frames`` per signal, output ``dtype`` and working ``memory``
        (bytes) for an input of ``shape`` and ``dtype``, without running."""
        return self._core.plan([int(n) for n in shape], np.dtype(dtype).name)

    def compile_object(
        self, name: Optional[str] = None, target: Optional[str] = None, cpu: str = "baseline"
    ) -> Dict[str, Any]:
        """Compiles the pipeline ahead of time, for C programs that run it with no JIT (see the
        README's "Ahead of time"; ``specc aot`` also bundles the C runtime into a static
        library). Returns ``object`` (the object file's bytes), ``header`` (the C header's
        text), ``symbols`` (what the object exports) and ``triple``. ``name`` (default: the
        spec's name) prefixes the C symbols; ``target`` is a triple such as
        ``"aarch64-apple-ios"`` (default: this machine's); ``cpu`` is ``"baseline"``,
        ``"x86-64-v3"`` or ``"native"``."""
        return self._core.compile_object(name, target, cpu)

    # -- inspecting ----------------------------------------------------------------------

    @property
    def params(self) -> Dict[str, Any]:
        """The params in force, name -> value as the spec writes it (``'none'``, ``'max'``,
        numbers as text)."""
        return {p["name"]: p["value"] for p in self._core.params()}

    def param_info(self) -> List[Dict[str, Any]]:
        """One dict per param: name, type, optional, default, value, overridden."""
        return self._core.params()

    def graph(self, after: Optional[str] = None) -> str:
        """The op graph as text: as lowered (``after=None``), after every pass (``"all"``), or
        after the passes up to and including the one named."""
        return self._core.graph(after)

    @property
    def name(self) -> str:
        """The spec's name (``keras_mel``)."""
        return self._core.name.removesuffix(".spec")

    @property
    def text(self) -> str:
        """The spec's text."""
        return self._core.text

    @property
    def threads(self) -> int:
        """The thread count runs use."""
        return self._core.threads

    @property
    def rate_param(self) -> Optional[str]:
        """The param that sets the input's sample rate (``sr`` for librosa_mel), if any."""
        return self._core.rate_param

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self._given.items())
        return f"specc.Pipeline({self.name!r}{', ' if given else ''}{given})"

    # -- pickling: spec text and params, recompiled on load --------------------------------

    def __reduce__(self):
        return (_rebuild, (self._core.name, self._core.text, self._given, self._threads_arg, self._engine))


class Stream:
    """Audio in chunks of any size, frames out as soon as their samples have arrived (made by
    :meth:`Pipeline.stream`). Chunks are arrays in the spec's input layout (numpy, torch or
    anything ``np.asarray`` takes); the first fixes the leading axes and dtype."""

    def __init__(self, core: Any) -> None:
        self._core = core

    def push(self, chunk: Any) -> np.ndarray:
        """Appends ``chunk`` and returns the frames it completed (possibly none)."""
        return self._core.push(_as_numpy(chunk))

    def finish(self) -> np.ndarray:
        """Ends the signal: the remaining frames. The stream then starts over."""
        return self._core.finish()

    def reset(self) -> None:
        """Forgets every sample pushed."""
        self._core.reset()

    def apply_clip(self, frames: np.ndarray) -> np.ndarray:
        """Deferred clip mode, after :meth:`finish`: every frame of the signal (concatenated
        along :attr:`time_axis`) clipped as the offline run clips them."""
        return self._core.apply_clip(_as_numpy(frames))

    @property
    def group(self) -> int:
        """Frames per emission: pushes return multiples of it (``finish`` the rest)."""
        return self._core.group

    @group.setter
    def group(self, frames: int) -> None:
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
            raise ValueError(f"group={frames!r}: a number of frames (1 or more) or \"block\"")
        self._core.group = frames

    @property
    def block_frames(self) -> int:
        """Frames the kernels compute per call (4 on the 128-bit path, 8 on the wide one)."""
        return self._core.block_frames

    @property
    def latency(self) -> int:
        """Look-ahead in samples: frame ``t`` comes out once sample ``t * hop + latency`` arrived."""
        return self._core.latency

    @property
    def warmup(self) -> int:
        """Samples the first frames wait for, to mirror the signal's start."""
        return self._core.warmup

    @property
    def time_axis(self) -> Optional[int]:
        """The output axis frames grow along (``None`` before the first push)."""
        return self._core.time_axis


def _rebuild(name: str, text: str, params: Dict[str, Any], threads: Optional[int], engine: str) -> Pipeline:
    return Pipeline(name, text, params, threads, engine)


@functools.lru_cache(maxsize=256)
def _names_of(text: str, name: str) -> Tuple[str, ...]:
    return tuple(p["name"] for p in _specc.Pipeline(name, text, [], 1).params())


def _param_names(text: str, name: str) -> List[str]:
    """The spec's param names, from a compile without overrides; the last 256 texts are kept,
    so a program that generates many specs does not grow without bound."""
    return list(_names_of(text, name))


def preset(name: str, *, threads: Optional[int] = None, engine: str = "jit", **params: Any) -> Pipeline:
    """A shipped spec by name (``specc.presets()``), with the library's keyword arguments:
    ``specc.preset("librosa_mel", sr=16000, ref=np.max)``."""
    text = _specc.preset_text(name)
    if text is None:
        # The Rust side words the error (with a "did you mean").
        _specc.spec_text(name)
        raise ValueError(f"no preset named {name!r}")
    return Pipeline(f"{name}.spec", text, params, threads, engine)


def compile(text: str, *, name: str = "<spec>", threads: Optional[int] = None, engine: str = "jit",
            **params: Any) -> Pipeline:
    """A pipeline from spec text."""
    return Pipeline(name, text, params, threads, engine)


def load(path: "os.PathLike[str] | str", *, threads: Optional[int] = None, engine: str = "jit",
         **params: Any) -> Pipeline:
    """A pipeline from a spec file (or a preset by name when no such file exists)."""
    name, text = _specc.spec_text(os.fspath(path))
    return Pipeline(name, text, params, threads, engine)


def load_audio(path: "os.PathLike[str] | str", sr: Optional[int] = None, mono: bool = True):
    """Decodes an audio file (WAV, FLAC, MP3, Ogg Vorbis) as ``librosa.load`` does: returns
    ``(y, sr)``, float32 ``y`` of shape ``(samples,)`` mixed to mono (``mono=True``) or
    ``(channels, samples)``; resampled to ``sr`` when given (``None``: the file's rate)."""
    return _specc.load_audio(os.fspath(path), sr, mono)


class Featurizer:
    """A batch function for data pipelines: compiles ``spec`` once (per Ray actor, per
    process) and maps the column ``column`` of each batch to features in column ``out``.

    Works as a Ray Data ``map_batches`` UDF (``ds.map_batches(specc.Featurizer, fn_constructor_kwargs=...,
    concurrency=2)`` or an instance), a Hugging Face ``datasets.map(batched=True)`` function, and
    a Spark ``mapInPandas`` body (``df.mapInPandas(f.map_in_pandas, schema)``). Each row of
    the column is one clip, whatever the batch: an array with a row per clip, or a list/object
    array of clips of any lengths. The clips run in parallel, each on its own, so a row's
    features never depend on the rows batched with it (Keras, librosa ``ref=np.max`` and
    Whisper take a maximum over the whole tensor they are given: a batch of equal-length clips
    run as one tensor would share it).
    """

    def __init__(self, spec: str, column: str = "audio", out: str = "features", *,
                 threads: Optional[int] = None, **params: Any) -> None:
        self.spec = spec
        self.column = column
        self.out = out
        self.pipeline = (preset(spec, threads=threads, **params) if _specc.preset_text(spec) is not None
                         else load(spec, threads=threads, **params))

    def features(self, clips: Any) -> Any:
        """Features of one batch column, one clip per row (each computed alone, as a direct
        call on that clip): an array (stacked) when all outputs share a shape, else a list."""
        if isinstance(clips, np.ndarray) and clips.dtype != object:
            rows = list(clips)  # views of the rows, no copies
        else:
            rows = [np.asarray(c, dtype=np.float32) if isinstance(c, list) else c for c in clips]
        ys = self.pipeline.run_many(rows)
        if ys and all(y.shape == ys[0].shape for y in ys):
            return np.stack(ys)
        return ys

    def __call__(self, batch: Any) -> Any:
        """``batch`` is a dict of columns (Ray's numpy format, ``datasets``) or a pandas
        DataFrame; the result is the same kind with column ``out`` added."""
        if type(batch).__module__.split(".")[0] == "pandas":
            batch = batch.copy()
            ys = self.features(list(batch[self.column]))
            batch[self.out] = list(ys)
            return batch
        batch = dict(batch)
        ys = self.features(batch[self.column])
        batch[self.out] = ys if isinstance(ys, np.ndarray) else list(ys)
        return batch

    def map_in_pandas(self, frames: Iterable[Any]) -> Iterator[Any]:
        """Spark's ``mapInPandas`` body: each DataFrame with column ``out`` added."""
        for df in frames:
            yield self(df)

    def __repr__(self) -> str:
        return f"specc.Featurizer({self.spec!r}, column={self.column!r}, out={self.out!r})"


from . import kaldi, keras, librosa, torchaudio, whisper  # noqa: E402  (they use the above)
